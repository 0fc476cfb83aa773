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
pub(crate) fn stores(needs: bool) -> anyhow::Result<stacpkg::store::Stores> {
    let stores = if needs {
        stacpkg::store::Stores::from_env()
    } else {
        stacpkg::store::Stores::builder().build()
    };
    Ok(stores.map_err(stacpkg::Error::StoreSettings)?)
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
