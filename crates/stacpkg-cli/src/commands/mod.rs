//! One function per subcommand: resolve settings, call the library, decide the exit status.

mod asset_lock;
mod items;
mod package;

use stacpkg::items::feature::JsonShape;

use crate::args::{Command, asset_lock::AssetLockCommand, items::ItemsCommand};
pub(crate) use crate::exit::{ExitStatus, UsageError};

/// The object stores a command uses: from the environment when it `needs` them (as the README's
/// "Stores and credentials" says), else none at all, so that settings a command does not use
/// cannot fail it.
use stacpkg::asset_lock::Shard;
use stacpkg::files::FileRef;
use stacpkg::runtime::Runtime;
use stacpkg::store::Stores;

pub(crate) fn stores(needs: bool) -> anyhow::Result<stacpkg::store::Stores> {
    let stores = if needs {
        stacpkg::store::Stores::from_env()
    } else {
        stacpkg::store::Stores::builder().build()
    };
    Ok(stores.map_err(stacpkg::Error::StoreSettings)?)
}

/// `--shard`: `K/N`, or `auto` from the scheduler's variables; a bad value is a usage error.
pub(crate) fn shard(args: &crate::args::ShardArgs) -> anyhow::Result<Option<Shard>> {
    let Some(text) = &args.shard else {
        return Ok(None);
    };
    let shard = if text == "auto" {
        Shard::from_scheduler(|name| std::env::var(name).ok())
    } else {
        Shard::parse(text)
    };
    shard
        .map(Some)
        .map_err(|e| UsageError(format!("--shard: {e}")).into())
}

/// Table files named on the command line (paths, URLs, patterns), and the stores to reach them
/// (from the environment only when one of them is a URL).
pub(crate) fn table_files(patterns: &[String]) -> anyhow::Result<(Vec<FileRef>, Stores)> {
    let stores = stores(patterns.iter().any(|p| p.contains("://")))?;
    let files = stacpkg::files::expand(patterns, &stores, &Runtime::Own)?;
    Ok((files, stores))
}

/// Whether the command line named exactly one file, without a pattern.
pub(crate) fn one_file(patterns: &[String]) -> bool {
    matches!(patterns, [one] if !one.contains(['*', '?']))
}

pub(crate) fn dispatch(command: Command) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Build(args) => package::build(args),
        Command::Inspect(args) => package::inspect(args),
        Command::Push(args) => package::push(args),
        Command::Pull(args) => package::pull(args),
        Command::Attach(args) => package::attach(args),
        Command::Discover(args) => package::discover(args),
        Command::Copy(args) => package::copy(args),
        Command::Items { command } => match command {
            ItemsCommand::FromJson(args) => items::from_json(args),
            ItemsCommand::FromNdjson(args) => items::from_ndjson(args),
            ItemsCommand::FromParquet(args) => items::from_parquet(args),
            ItemsCommand::ToParquet(args) => items::to_parquet(args),
            ItemsCommand::ToNdjson(args) => items::to_json(args, JsonShape::Lines),
            ItemsCommand::ToJson(args) => items::to_json(args, JsonShape::Collection),
            ItemsCommand::PromoteAlternate(args) => items::promote_alternate(args),
            ItemsCommand::RemoveAlternate(args) => items::remove_alternate(args),
            ItemsCommand::AddAlternate(args) => items::add_alternate(args),
            ItemsCommand::Enrich(args) => items::enrich(args),
        },
        Command::AssetLock { command } => match command {
            AssetLockCommand::Derive(args) => asset_lock::derive(args),
            AssetLockCommand::Validate(args) => asset_lock::validate(args),
            AssetLockCommand::Relocate(args) => asset_lock::relocate(args),
            AssetLockCommand::FromParquet(args) => asset_lock::from_parquet(args),
            AssetLockCommand::ToParquet(args) => asset_lock::to_parquet(args),
        },
    }
}
