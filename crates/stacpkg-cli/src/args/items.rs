//! `stacpkg items …` arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Items table commands.
#[derive(Debug, Subcommand)]
pub(crate) enum ItemsCommand {
    #[command(
        about = "Convert STAC JSON into items Arrow streams.",
        after_help = "Library method: stacpkg::items::read_stac"
    )]
    FromJson(FromJsonArgs),
    #[command(
        about = "Convert STAC NDJSON into items Arrow streams.",
        after_help = "Library method: stacpkg::items::read_stac"
    )]
    FromNdjson(FromNdjsonArgs),
    #[command(
        about = "Read STAC GeoParquet as Arrow IPC.",
        after_help = "Library method: stacpkg::items::geoparquet::read"
    )]
    FromParquet(FromParquetArgs),
    #[command(
        about = "Write items streams as STAC GeoParquet.",
        after_help = "Library methods: stacpkg::ipc::read_stream, stacpkg::items::geoparquet::write"
    )]
    ToParquet(ToParquetArgs),
    #[command(
        about = "Write items streams as STAC Items, one per line (NDJSON).",
        after_help = "Library methods: stacpkg::ipc::read_stream, stacpkg::items::feature::write_file"
    )]
    ToNdjson(ToJsonArgs),
    #[command(
        about = "Write items streams as one STAC ItemCollection (JSON).",
        after_help = "Library methods: stacpkg::ipc::read_stream, stacpkg::items::feature::write_file"
    )]
    ToJson(ToJsonArgs),
    #[command(
        about = "Promote an alternate asset href to the primary href.",
        after_help = "Library method: stacpkg::items::project::promote_alternate"
    )]
    PromoteAlternate(PromoteAlternateArgs),
    #[command(
        about = "Remove an alternate from every asset.",
        after_help = "Library method: stacpkg::items::project::remove_alternate"
    )]
    RemoveAlternate(RemoveAlternateArgs),
    #[command(
        about = "Add asset-lock locations as alternate asset hrefs.",
        after_help = "Library methods: stacpkg::items::project::LockIndex::read, stacpkg::items::project::add_alternate"
    )]
    AddAlternate(AddAlternateArgs),
    #[command(
        about = "Enrich items with asset-lock sizes and, optionally, alternate hrefs.",
        after_help = "Library methods: stacpkg::items::project::LockIndex::read, stacpkg::items::project::enrich"
    )]
    Enrich(EnrichArgs),
}

/// `--asset-lock PATH`: an Arrow IPC stream path (file, FIFO, `<(...)`), never stdin.
pub(crate) fn asset_lock_path(text: &str) -> Result<PathBuf, String> {
    if text == "-" {
        return Err("--asset-lock expects a path to an Arrow IPC stream, not stdin".into());
    }
    Ok(PathBuf::from(text))
}

/// `promote-alternate --mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ModeArg {
    Replace,
    Switch,
}

#[derive(Debug, Args)]
pub(crate) struct PromoteAlternateArgs {
    /// alternate key whose href becomes the primary href
    #[arg(long, visible_alias = "key", value_name = "ALTERNATE_KEY")]
    pub(crate) alternate_key: String,
    /// replace: keep the alternates; switch: the old primary becomes the alternate
    #[arg(long, value_enum, default_value = "replace")]
    pub(crate) mode: ModeArg,
    /// alternate:name of the old primary under --mode switch
    #[arg(long, value_name = "NAME", default_value = stacpkg::items::project::DEFAULT_SWITCHED_NAME)]
    pub(crate) switched_alternate_name: String,
    /// remove all alternates after promoting (--mode replace only)
    #[arg(long)]
    pub(crate) drop_alternates: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RemoveAlternateArgs {
    /// alternate key to remove
    #[arg(long, visible_alias = "key", value_name = "ALTERNATE_KEY")]
    pub(crate) alternate_key: String,
}

#[derive(Debug, Args)]
pub(crate) struct AddAlternateArgs {
    /// asset-lock Arrow IPC stream path (a file, FIFO or process substitution; not stdin)
    #[arg(long, value_name = "PATH", value_parser = asset_lock_path)]
    pub(crate) asset_lock: PathBuf,
    /// alternate key to add
    #[arg(long, visible_alias = "key", value_name = "ALTERNATE_KEY")]
    pub(crate) alternate_key: String,
    /// alternate:name of the new alternates (defaults to the key)
    #[arg(long, visible_alias = "name", value_name = "NAME")]
    pub(crate) alternate_name: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct EnrichArgs {
    /// asset-lock Arrow IPC stream path (a file, FIFO or process substitution; not stdin)
    #[arg(long, value_name = "PATH", value_parser = asset_lock_path)]
    pub(crate) asset_lock: PathBuf,
    /// also add the lock locations as this alternate
    #[arg(long, visible_alias = "key", value_name = "ALTERNATE_KEY")]
    pub(crate) alternate_key: Option<String>,
}

/// Item selection shared by the three item sources.
#[derive(Debug, Args)]
pub(crate) struct FilterArgs {
    /// collection id to keep; repeat for multiple collection ids
    #[arg(long, value_name = "COLLECTION")]
    pub(crate) collections: Vec<String>,
    /// provider name to keep; repeat for multiple provider names
    #[arg(long, value_name = "PROVIDER")]
    pub(crate) providers: Vec<String>,
    /// item id to keep; repeat for multiple item ids
    #[arg(long, value_name = "ITEM_ID")]
    pub(crate) item_ids: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct FromJsonArgs {
    /// STAC JSON path; omit (or `-`) for stdin
    #[arg(value_name = "INPUT_FILE")]
    pub(crate) input_file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Debug, Args)]
pub(crate) struct FromNdjsonArgs {
    /// STAC NDJSON path; omit (or `-`) for stdin
    #[arg(value_name = "INPUT_FILE")]
    pub(crate) input_file: Option<PathBuf>,
    /// maximum rows per IPC batch while reading STAC items NDJSON
    #[arg(long, value_name = "BATCH_SIZE", default_value_t = stacpkg::items::DEFAULT_BATCH_SIZE, value_parser = batch_size)]
    pub(crate) batch_size: usize,
    /// fix the schema from the first batch and stream without scanning the input first; a later
    /// item that does not fit that schema is an error
    #[arg(long)]
    pub(crate) stream: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

#[derive(Debug, Args)]
pub(crate) struct FromParquetArgs {
    /// STAC GeoParquet input: a path or an s3://, az://, gs://, file:// or http(s):// URL; the
    /// file name may hold `*` and `?`. Several files are read one after another as one stream
    #[arg(value_name = "INPUT_FILE", required = true, num_args = 1..)]
    pub(crate) inputs: Vec<String>,
    #[command(flatten)]
    pub(crate) batches: ParquetBatchArgs,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

/// `--batch-size` of the Parquet readers (items and asset lock).
#[derive(Debug, Args)]
pub(crate) struct ParquetBatchArgs {
    /// maximum rows per IPC batch while reading Parquet
    #[arg(long, value_name = "BATCH_SIZE", default_value_t = stacpkg::items::DEFAULT_BATCH_SIZE, value_parser = batch_size)]
    pub(crate) batch_size: usize,
}

#[derive(Debug, Args)]
pub(crate) struct ToParquetArgs {
    /// STAC GeoParquet output: a path or an s3://, az://, gs:// or file:// URL, written
    /// atomically
    #[arg(value_name = "OUTPUT_FILE")]
    pub(crate) output_file: String,
}

#[derive(Debug, Args)]
pub(crate) struct ToJsonArgs {
    /// output path, written atomically; omit (or `-`) for stdout
    #[arg(value_name = "OUTPUT_FILE")]
    pub(crate) output_file: Option<PathBuf>,
}

/// `--batch-size`: an integer ≥ 1, with the original's messages.
fn batch_size(text: &str) -> Result<usize, String> {
    super::at_least_one(text, || format!("invalid integer: {text}"))
}
