//! `stacpkg asset-lock …` arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::items::ParquetBatchArgs;

/// Asset-lock table commands.
#[derive(Debug, Subcommand)]
pub(crate) enum AssetLockCommand {
    #[command(
        about = "Read asset-lock Parquet as Arrow IPC.",
        after_help = "Library method: stacpkg::asset_lock::read_parquet"
    )]
    FromParquet(FromParquetArgs),
    #[command(
        about = "Write asset-lock streams as Parquet.",
        after_help = "Library methods: stacpkg::ipc::read_stream, stacpkg::asset_lock::write_parquet"
    )]
    ToParquet(ToParquetArgs),
}

#[derive(Debug, Args)]
pub(crate) struct FromParquetArgs {
    /// asset-lock Parquet input path
    #[arg(value_name = "INPUT_FILE")]
    pub(crate) input_file: PathBuf,
    #[command(flatten)]
    pub(crate) batches: ParquetBatchArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ToParquetArgs {
    /// asset-lock Parquet output path
    #[arg(value_name = "OUTPUT_FILE")]
    pub(crate) output_file: PathBuf,
}
