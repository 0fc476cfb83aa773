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
    #[command(
        about = "Relocate asset-lock rows to another store and write the destination lock.",
        after_help = "Library method: stacpkg::asset_lock::relocate"
    )]
    Relocate(RelocateArgs),
}

/// Store types a relocation can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StoreTypeArg {
    File,
    S3,
    Gs,
    Az,
    Http,
    Https,
}

impl StoreTypeArg {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StoreTypeArg::File => "file",
            StoreTypeArg::S3 => "s3",
            StoreTypeArg::Gs => "gs",
            StoreTypeArg::Az => "az",
            StoreTypeArg::Http => "http",
            StoreTypeArg::Https => "https",
        }
    }
}

/// Destination key layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LayoutArg {
    ItemAsset,
    SourceKey,
}

#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("destination")
        .required(true)
        .args(["destination_lock", "store_type"])
))]
pub(crate) struct RelocateArgs {
    /// asset-lock Parquet file whose rows are the destinations (matched by item_id, asset_key)
    #[arg(long, value_name = "PATH")]
    pub(crate) destination_lock: Option<PathBuf>,
    /// store type of the planned destinations
    #[arg(long, value_enum, value_name = "STORE_TYPE")]
    pub(crate) store_type: Option<StoreTypeArg>,
    /// bucket, container or origin of the destinations (required unless --store-type file)
    #[arg(long, value_name = "STORE_CONTAINER")]
    pub(crate) store_container: Option<String>,
    /// endpoint of the destination store
    #[arg(long, value_name = "STORE_ENDPOINT_URL")]
    pub(crate) store_endpoint_url: Option<String>,
    /// key prefix of the destinations (required for --store-type file); empty by default
    #[arg(long, value_name = "KEY")]
    pub(crate) key: Option<String>,
    /// relocate only rows whose href is this prefix or below it; others pass through unchanged
    #[arg(long, value_name = "SOURCE_PREFIX")]
    pub(crate) source_prefix: Option<String>,
    /// destination key layout: <item_id>/<asset_key><suffix>, or the source key
    #[arg(long, value_enum, default_value = "item-asset")]
    pub(crate) layout: LayoutArg,
    /// write the planned destination rows without copying anything
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// replace existing destination objects (the default)
    #[arg(long, overrides_with = "no_overwrite")]
    pub(crate) overwrite: bool,
    /// keep an existing destination of the source's size (reported); any other existing
    /// destination is an error
    #[arg(long, overrides_with = "overwrite")]
    pub(crate) no_overwrite: bool,
    /// keep rows whose copy fails (without facts), report each on stderr, and exit 1 at the end
    #[arg(long)]
    pub(crate) keep_going: bool,
    /// parallel copies
    #[arg(long, value_name = "MAX_WORKERS", default_value_t = stacpkg::asset_lock::DEFAULT_COPY_WORKERS, value_parser = max_workers)]
    pub(crate) max_workers: usize,
    /// cap on object bytes buffered across all copies (e.g. 2GiB, 512MiB)
    #[arg(long, value_name = "SIZE", default_value = "2147483648", value_parser = byte_size)]
    pub(crate) memory_limit_bytes: u64,
    /// multipart part size; objects up to this size are written with one PUT
    #[arg(long, value_name = "SIZE", default_value = "8388608", value_parser = byte_size)]
    pub(crate) chunk_size_bytes: u64,
    /// parts of one object uploaded at a time
    #[arg(long, value_name = "PUT_MAX_CONCURRENCY", default_value_t = 1, value_parser = max_workers)]
    pub(crate) put_max_concurrency: usize,
    #[command(flatten)]
    pub(crate) shard: super::ShardArgs,
}

/// SIZE: an optional decimal number (fractions truncated) and an optional case-insensitive unit,
/// `b`, `kb`, `mb`, `gb`, `tb` (powers of 1000) or `kib`, `mib`, `gib`, `tib` (powers of 1024).
pub(crate) fn byte_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("size must not be empty".into());
    }
    let invalid = || format!("invalid byte size: {text}");
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: f64 = if number.is_empty() {
        1.0
    } else {
        number.parse().map_err(|_| invalid())?
    };
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000u64.pow(2),
        "gb" => 1000u64.pow(3),
        "tb" => 1000u64.pow(4),
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(invalid()),
    };
    let bytes = (number * multiplier as f64).trunc();
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(invalid());
    }
    if bytes < 1.0 {
        return Err("size must be at least 1 byte".into());
    }
    Ok(bytes as u64)
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
    /// where file_checksum comes from: metadata (the asset's file:checksum, else a full-object
    /// checksum the store reports), use-etag (then an MD5 from a single-part S3 ETag),
    /// calculate-if-needed (then the bytes' SHA-256), calculate-always (hash every object)
    #[arg(long, value_name = "STRATEGY", default_value = "metadata", value_parser = checksum_strategy)]
    pub(crate) checksum: stacpkg::checksum::Strategy,
    #[command(flatten)]
    pub(crate) shard: super::ShardArgs,
}

/// `--checksum` of `derive` and `build`: a strategy, `_` accepted for `-`.
pub(crate) fn checksum_strategy(text: &str) -> Result<stacpkg::checksum::Strategy, String> {
    text.parse()
        .map_err(|e: stacpkg::checksum::UnknownStrategy| e.to_string())
}

/// `--checksum` of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ChecksumCheck {
    /// compare size, ETag and last-modified only
    Skip,
    /// also read the objects of rows with a file_checksum and check their bytes
    Verify,
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
    /// verify: read every object whose row has a file_checksum and check its bytes against it
    /// (rows without one are counted as not verifiable); skip: do not read objects
    #[arg(long, value_enum, value_name = "MODE", default_value_t = ChecksumCheck::Skip)]
    pub(crate) checksum: ChecksumCheck,
    #[command(flatten)]
    pub(crate) shard: super::ShardArgs,
}

#[cfg(test)]
mod tests {
    use super::byte_size;

    #[test]
    fn sizes_parse_like_the_original() {
        assert_eq!(byte_size("512MiB"), Ok(512 << 20));
        assert_eq!(byte_size("2GB"), Ok(2_000_000_000));
        assert_eq!(byte_size(" 1.5 kib "), Ok(1536));
        assert_eq!(byte_size("8388608"), Ok(8_388_608));
        assert_eq!(byte_size(""), Err("size must not be empty".into()));
        assert_eq!(byte_size("0.1"), Err("size must be at least 1 byte".into()));
        assert_eq!(
            byte_size("12 parsecs"),
            Err("invalid byte size: 12 parsecs".into())
        );
    }
}

/// `--max-workers`: an integer ≥ 1 (the original clamped smaller values silently; SPEC §1).
pub(crate) fn max_workers(text: &str) -> Result<usize, String> {
    super::at_least_one(text, || format!("invalid int value: '{text}'"))
}

#[derive(Debug, Args)]
pub(crate) struct FromParquetArgs {
    /// asset-lock Parquet input: a path or an s3://, az://, gs://, file:// or http(s):// URL;
    /// the file name may hold `*` and `?`. Several files are read as one lock: the shard files of
    /// a sharded run are merged into its whole lock, in the unsharded order
    #[arg(value_name = "INPUT_FILE", required = true, num_args = 1..)]
    pub(crate) inputs: Vec<String>,
    #[command(flatten)]
    pub(crate) batches: ParquetBatchArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ToParquetArgs {
    /// asset-lock Parquet output: a path or an s3://, az://, gs:// or file:// URL, written
    /// atomically
    #[arg(value_name = "OUTPUT_FILE")]
    pub(crate) output_file: String,
}
