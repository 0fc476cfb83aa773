//! `stacpkg build` and `stacpkg inspect`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::items::{FilterArgs, asset_lock_path};

/// `build OUTPUT_DIR`
#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// package directory to create
    pub(crate) output_dir: PathBuf,
    /// asset-lock Arrow IPC stream path (otherwise the lock is derived from the items)
    #[arg(long, value_name = "PATH", value_parser = asset_lock_path)]
    pub(crate) asset_lock: Option<PathBuf>,
    /// file or directory to include; repeat for multiple paths
    #[arg(long, value_name = "PATH")]
    pub(crate) includes: Vec<PathBuf>,
    /// copy referenced asset bytes into the package directory (assets/<item>/<asset><ext>)
    #[arg(long)]
    pub(crate) include_assets: bool,
    /// include assets whose asset key is metadata
    #[arg(long)]
    pub(crate) include_metadata_assets: bool,
    /// item id to package; repeat for multiple item ids
    #[arg(long, value_name = "ITEM_ID")]
    pub(crate) item_ids: Vec<String>,
    /// provider name to package; repeat for multiple provider names
    #[arg(long, value_name = "PROVIDER")]
    pub(crate) providers: Vec<String>,
    /// query referenced objects for current metadata when deriving package rows (the default)
    #[arg(long, overrides_with = "no_probe_metadata")]
    pub(crate) probe_metadata: bool,
    /// do not probe objects when deriving; sizes come from `file:size`
    #[arg(long, overrides_with = "probe_metadata")]
    pub(crate) no_probe_metadata: bool,
    /// where a derived lock's file_checksum comes from (see `asset-lock derive --checksum`);
    /// assets copied with --include-assets always get the SHA-256 of their bytes
    #[arg(long, value_name = "STRATEGY", default_value = "metadata", value_parser = super::asset_lock::checksum_strategy)]
    pub(crate) checksum: stacpkg::checksum::Strategy,
    /// replace an existing package in OUTPUT_DIR
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) shard: super::ShardArgs,
}

impl BuildArgs {
    /// `--probe-metadata` unless the last of the pair said `--no-probe-metadata`.
    pub(crate) fn probe(&self) -> bool {
        !self.no_probe_metadata
    }
}

/// `inspect PACKAGE`
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// package directory, OCI registry reference (HOST[:PORT]/REPOSITORY[:TAG|@DIGEST]) or
    /// oci-layout:PATH[:TAG|@DIGEST] to inspect; a pushed package is summarised from its manifest
    /// and its two tables, without fetching assets
    pub(crate) package: String,
    /// summary output format
    #[arg(long, value_enum, default_value_t = InspectFormat::Yaml)]
    pub(crate) format: InspectFormat,
    #[command(flatten)]
    pub(crate) transport: TransportArgs,
}

/// `--format` of `inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum InspectFormat {
    Yaml,
    Json,
    Markdown,
    Md,
}

/// Registry transport options shared by `push` and `pull`.
#[derive(Debug, Args)]
pub(crate) struct TransportArgs {
    /// how to authenticate first: `token` waits for the registry's challenge (Basic or bearer
    /// token, negotiated), `basic` sends Basic credentials from the start
    #[arg(long, value_enum, default_value_t = AuthBackend::Token, value_name = "NAME")]
    pub(crate) auth_backend: AuthBackend,
    /// use plain HTTP for the registry
    #[arg(long)]
    pub(crate) plain_http: bool,
    /// do not verify the registry's TLS certificate
    #[arg(long)]
    pub(crate) insecure: bool,
}

/// `--auth-backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuthBackend {
    Token,
    Basic,
}

/// `push PACKAGE TARGET`
#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// package directory to push
    pub(crate) package: PathBuf,
    /// OCI registry target reference (HOST[:PORT]/REPOSITORY[:TAG]) or oci-layout:PATH[:TAG]
    pub(crate) target: String,
    /// blobs larger than this go to a registry in resumable chunks of this size (bytes, or with
    /// KiB/MiB/GiB); an interrupted push resumes them
    #[arg(long, value_name = "BYTES", default_value = "32MiB", value_parser = chunk_size)]
    pub(crate) chunk_size: u64,
    #[command(flatten)]
    pub(crate) transport: TransportArgs,
}

/// `pull SOURCE --output-dir DIR`
#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    /// OCI registry source reference (HOST[:PORT]/REPOSITORY[:TAG|@DIGEST]) or oci-layout:PATH[:TAG]
    pub(crate) source: String,
    /// package directory to create
    #[arg(long, value_name = "PATH", required = true)]
    pub(crate) output_dir: PathBuf,
    /// replace an existing package in the output directory
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
    /// asset key to pull; repeat for multiple asset keys (with item filters: their assets with
    /// these keys)
    #[arg(long, value_name = "ASSET_KEY")]
    pub(crate) asset_keys: Vec<String>,
    /// fetch only items.parquet and assets.lock.parquet (filtered by any selection)
    #[arg(long)]
    pub(crate) tables_only: bool,
    #[command(flatten)]
    pub(crate) transport: TransportArgs,
}

/// `attach SUBJECT FILE[:MEDIATYPE]… --artifact-type TYPE`
#[derive(Debug, Args)]
pub(crate) struct AttachArgs {
    /// the manifest to attach to: HOST[:PORT]/REPOSITORY[:TAG|@DIGEST] or
    /// oci-layout:PATH[:TAG|@DIGEST]
    pub(crate) subject: String,
    /// files to attach, each FILE or FILE:MEDIATYPE (default media type
    /// application/vnd.oci.image.layer.v1.tar); each layer is titled with the file's name
    #[arg(required = true, value_name = "FILE[:MEDIATYPE]", value_parser = attach_file)]
    pub(crate) files: Vec<stacpkg::oci::AttachFile>,
    /// the artifact type of the attached artifact
    #[arg(long, required = true, value_name = "TYPE")]
    pub(crate) artifact_type: String,
    /// a manifest annotation; repeat for multiple annotations
    #[arg(long = "annotation", value_name = "KEY=VALUE", value_parser = annotation)]
    pub(crate) annotations: Vec<(String, String)>,
    #[command(flatten)]
    pub(crate) transport: TransportArgs,
}

fn attach_file(text: &str) -> Result<stacpkg::oci::AttachFile, String> {
    text.parse()
}

fn annotation(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err("expected KEY=VALUE".into()),
    }
}

/// `discover SUBJECT`
#[derive(Debug, Args)]
pub(crate) struct DiscoverArgs {
    /// the manifest whose referrers to list: HOST[:PORT]/REPOSITORY[:TAG|@DIGEST] or
    /// oci-layout:PATH[:TAG|@DIGEST]
    pub(crate) subject: String,
    /// list only referrers of this artifact type
    #[arg(long, value_name = "TYPE")]
    pub(crate) artifact_type: Option<String>,
    /// output format
    #[arg(long, value_enum, default_value_t = DiscoverFormat::Text)]
    pub(crate) format: DiscoverFormat,
    #[command(flatten)]
    pub(crate) transport: TransportArgs,
}

/// `--format` of `discover`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DiscoverFormat {
    Text,
    Json,
}

/// `copy SOURCE TARGET`
#[derive(Debug, Args)]
pub(crate) struct CopyArgs {
    /// the artifact to copy: HOST[:PORT]/REPOSITORY[:TAG|@DIGEST] or oci-layout:PATH[:TAG|@DIGEST]
    pub(crate) source: String,
    /// where to copy it: HOST[:PORT]/REPOSITORY[:TAG] or oci-layout:PATH[:TAG] (created when
    /// missing)
    pub(crate) target: String,
    /// copy the artifact's referrers too (and theirs)
    #[arg(long)]
    pub(crate) referrers: bool,
    #[command(flatten)]
    pub(crate) transport: TransportArgs,
}

fn chunk_size(text: &str) -> Result<u64, String> {
    match super::asset_lock::byte_size(text)? {
        0 => Err("value must be at least 1 byte".into()),
        size => Ok(size),
    }
}
