//! `stacpkg asset-lock …` arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::items::ParquetBatchArgs;

/// Asset-lock table commands.
#[derive(Debug, Subcommand)]
pub(crate) enum AssetLockCommand {
    #[command(
        about = "Derive asset-lock rows from items streams.",
        after_help = "Library method: stacpkg::asset_lock::derive"
    )]
    Derive(DeriveArgs),
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
    #[command(
        about = "Validate asset-lock rows against live objects.",
        after_help = "Library method: stacpkg::asset_lock::validate"
    )]
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DeriveArgs {
    /// probe each object (HEAD) for its size, ETag and last-modified time (the default)
    #[arg(long, overrides_with = "no_probe_metadata")]
    pub(crate) probe_metadata: bool,
    /// do not probe objects; sizes come from `file:size`
    #[arg(long, overrides_with = "probe_metadata")]
    pub(crate) no_probe_metadata: bool,
    /// item id to include; repeat for multiple item ids
    #[arg(long, value_name = "ITEM_ID")]
    pub(crate) item_ids: Vec<String>,
    /// provider name to include; repeat for multiple provider names
    #[arg(long, value_name = "PROVIDER")]
    pub(crate) providers: Vec<String>,
    /// asset key to include; repeat for multiple asset keys
    #[arg(long, value_name = "ASSET_KEY")]
    pub(crate) asset_keys: Vec<String>,
    /// include `metadata` assets
    #[arg(long)]
    pub(crate) include_metadata_assets: bool,
    /// keep rows whose probe fails (unprobed), report each on stderr, and exit 1 at the end
    #[arg(long)]
    pub(crate) keep_going: bool,
    /// concurrent probes
    #[arg(long, value_name = "MAX_WORKERS", default_value_t = stacpkg::asset_lock::DEFAULT_MAX_WORKERS, value_parser = max_workers)]
    pub(crate) max_workers: usize,
}

impl DeriveArgs {
    /// `--probe-metadata` unless the last of the pair said `--no-probe-metadata`.
    pub(crate) fn probe(&self) -> bool {
        !self.no_probe_metadata
    }
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// item id to validate; repeat for multiple item ids
    #[arg(long, value_name = "ITEM_ID")]
    pub(crate) item_ids: Vec<String>,
    /// asset key to validate; repeat for multiple asset keys
    #[arg(long, value_name = "ASSET_KEY")]
    pub(crate) asset_keys: Vec<String>,
    /// turn failed probes into invalid results (reported on stderr) instead of stopping
    #[arg(long)]
    pub(crate) keep_going: bool,
    /// concurrent probes
    #[arg(long, value_name = "MAX_WORKERS", default_value_t = stacpkg::asset_lock::DEFAULT_MAX_WORKERS, value_parser = max_workers)]
    pub(crate) max_workers: usize,
}

/// `--max-workers`: an integer ≥ 1 (the original clamped smaller values silently; SPEC §1).
pub(crate) fn max_workers(text: &str) -> Result<usize, String> {
    let value: i64 = text
        .trim()
        .parse()
        .map_err(|_| format!("invalid int value: '{text}'"))?;
    if value < 1 {
        return Err("value must be at least 1".into());
    }
    usize::try_from(value).map_err(|_| format!("invalid int value: '{text}'"))
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
