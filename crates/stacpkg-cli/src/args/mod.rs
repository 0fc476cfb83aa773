//! Command-line syntax only: what the user may type. Values are checked here where clap can do
//! it (ranges, required options); everything that needs the environment happens in commands.

pub(crate) mod asset_lock;
pub(crate) mod items;
pub(crate) mod package;

use clap::{Args, Parser, Subcommand};

/// Package STAC metadata and external asset references.
#[derive(Debug, Parser)]
#[command(
    name = "stacpkg",
    version,
    about = "Package STAC metadata and external asset references.",
    // The Python original (argparse) accepts unique prefixes of long options (`--coll`).
    infer_long_args = true,
    subcommand_required = true,
    arg_required_else_help = false
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    #[command(
        about = "Build a package directory from items.",
        after_help = "Library method: stacpkg::package::build"
    )]
    Build(package::BuildArgs),
    #[command(
        about = "Inspect package contents as YAML, JSON, or Markdown.",
        after_help = "Library method: stacpkg::package::inspect"
    )]
    Inspect(package::InspectArgs),
    #[command(
        about = "Push package artifacts to an OCI registry.",
        after_help = "Library method: stacpkg::oci::push"
    )]
    Push(package::PushArgs),
    #[command(
        about = "Pull package artifacts from an OCI registry.",
        after_help = "Library method: stacpkg::oci::pull"
    )]
    Pull(package::PullArgs),
    #[command(
        about = "Attach files to a pushed manifest as an OCI referrer.",
        after_help = "Library method: stacpkg::oci::attach"
    )]
    Attach(package::AttachArgs),
    #[command(
        about = "List the OCI referrers of a pushed manifest.",
        after_help = "Library method: stacpkg::oci::discover"
    )]
    Discover(package::DiscoverArgs),
    #[command(
        about = "Copy an OCI artifact between registries and OCI image layouts.",
        after_help = "Library method: stacpkg::oci::copy"
    )]
    Copy(package::CopyArgs),
    #[command(
        about = "Work with STAC items table commands.",
        subcommand_required = true
    )]
    Items {
        #[command(subcommand)]
        command: items::ItemsCommand,
    },
    #[command(
        about = "Work with asset-lock table commands.",
        subcommand_required = true
    )]
    AssetLock {
        #[command(subcommand)]
        command: asset_lock::AssetLockCommand,
    },
}

/// An integer ≥ 1 (`value must be at least 1` otherwise); `invalid` words the message for text
/// that is not an integer, as the original's option does.
fn at_least_one(text: &str, invalid: impl Fn() -> String) -> Result<usize, String> {
    let value: i64 = text.trim().parse().map_err(|_| invalid())?;
    if value < 1 {
        return Err("value must be at least 1".into());
    }
    usize::try_from(value).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn unique_long_option_prefixes_are_accepted() {
        let cli = Cli::try_parse_from(["stacpkg", "items", "from-json", "--coll", "demo"]).unwrap();
        let Command::Items {
            command: items::ItemsCommand::FromJson(args),
        } = cli.command
        else {
            panic!("parsed the wrong command");
        };
        assert_eq!(args.filters.collections, vec!["demo"]);
    }

    #[test]
    fn batch_size_below_one_is_a_usage_error() {
        let err = Cli::try_parse_from(["stacpkg", "items", "from-ndjson", "--batch-size", "0"])
            .unwrap_err();
        assert!(
            err.to_string().contains("value must be at least 1"),
            "{err}"
        );
        let err = Cli::try_parse_from(["stacpkg", "items", "from-ndjson", "--batch-size", "x"])
            .unwrap_err();
        assert!(err.to_string().contains("invalid integer: x"), "{err}");
    }

    #[test]
    fn filters_repeat_and_keep_commas() {
        let cli = Cli::try_parse_from([
            "stacpkg",
            "items",
            "from-parquet",
            "f.parquet",
            "--item-ids",
            "a,b",
            "--item-ids",
            "c",
        ])
        .unwrap();
        let Command::Items {
            command: items::ItemsCommand::FromParquet(args),
        } = cli.command
        else {
            panic!("parsed the wrong command");
        };
        assert_eq!(args.filters.item_ids, vec!["a,b", "c"]);
    }
}

/// `--shard` of the commands that split their rows among the tasks of a scheduler.
#[derive(Debug, Args)]
pub(crate) struct ShardArgs {
    /// work on shard K of N only (0 ≤ K < N): the rows whose (item_id, asset_key) hash to K;
    /// `auto` takes K and N from a Slurm, Kubernetes Indexed Job or AWS Batch array task
    #[arg(long, value_name = "K/N|auto")]
    pub(crate) shard: Option<String>,
}
