//! `push` and `pull`: a package directory to and from a registry or an OCI image layout.
//!
//! Layers move [`LAYERS_IN_FLIGHT`] at a time; blobs the target already has are skipped; every
//! pulled blob is size- and digest-checked before the package appears. A pull is written into a
//! staging directory next to the output and renamed into place, so a failed pull leaves
//! nothing. Memory: one buffer or network chunk per layer in flight, whatever the blob sizes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{StreamExt, TryStreamExt};

use super::content::{Layer, Placement, package_layers, placements};
use super::layout::Layout;
use super::registry::Registry;
use super::{Descriptor, EMPTY_BLOB, INDEX_MEDIA_TYPE, Manifest, Target, digest_of, manifest_json};
use crate::error::{Error, Result};
use crate::package::media_type::MediaTypes;
use crate::package::{ITEMS_FILE, LOCK_FILE, Package, Staging};

/// Layers transferred at the same time.
pub const LAYERS_IN_FLIGHT: usize = 4;

/// How to reach a registry.
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// Plain HTTP instead of HTTPS (`--plain-http`).
    pub plain_http: bool,
    /// Do not verify TLS certificates (`--insecure`).
    pub insecure: bool,
    /// Send Basic credentials from the start (`--auth-backend basic`) instead of waiting for the
    /// registry's challenge.
    pub basic_auth: bool,
    /// Retries of a failed request.
    pub max_retries: u32,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            plain_http: false,
            insecure: false,
            basic_auth: false,
            max_retries: 3,
        }
    }
}

/// How to push.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Transport.
    pub transport: TransportOptions,
}

/// How to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Transport.
    pub transport: TransportOptions,
    /// Replace an existing package at the output directory.
    pub force: bool,
}

/// Bytes moved so far and in total, for progress bars (shared with the caller).
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Bytes of all blobs to move (known once the layers are).
    pub total: Arc<AtomicU64>,
    /// Bytes moved or found present.
    pub done: Arc<AtomicU64>,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// The manifest's digest.
    pub digest: String,
    /// Layers in the manifest.
    pub layers: usize,
    /// Blobs (layers and config) the target already had.
    pub skipped: usize,
}

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullReport {
    /// The manifest's digest.
    pub digest: String,
    /// Layers fetched.
    pub layers: usize,
    /// An existing package was replaced.
    pub replaced: bool,
}

/// The other end of a transfer.
enum Endpoint {
    Registry(Box<Registry>),
    Layout(Layout),
}

impl Endpoint {
    fn new(target: &Target, transport: &TransportOptions, push: bool) -> Result<(Self, String)> {
        Ok(match target {
            Target::Registry(reference) => (
                Endpoint::Registry(Box::new(Registry::new(reference, transport, push)?)),
                reference.reference.clone(),
            ),
            Target::Layout { path, reference } => (
                Endpoint::Layout(Layout::open(path, push)?),
                reference.clone(),
            ),
        })
    }

    async fn has_blob(&self, descriptor: &Descriptor) -> Result<bool> {
        match self {
            Endpoint::Registry(r) => r.has_blob(descriptor).await,
            Endpoint::Layout(l) => l.has_blob(descriptor),
        }
    }

    async fn push_blob(&self, layer: &Layer, progress: &Progress) -> Result<()> {
        match self {
            Endpoint::Registry(r) => r.push_blob(&layer.descriptor, &layer.path, progress).await,
            Endpoint::Layout(l) => {
                let (l, layer, progress) = (l.clone(), layer.clone(), progress.clone());
                blocking(move || l.push_blob(&layer.descriptor, &layer.path, &progress)).await
            }
        }
    }

    async fn push_config(&self) -> Result<()> {
        let config = Descriptor::empty_config();
        if self.has_blob(&config).await? {
            return Ok(());
        }
        match self {
            Endpoint::Registry(r) => r.push_blob_bytes(&config, EMPTY_BLOB).await,
            Endpoint::Layout(l) => l.push_blob_bytes(&config, EMPTY_BLOB),
        }
    }

    async fn push_manifest(&self, reference: &str, bytes: &[u8]) -> Result<()> {
        match self {
            Endpoint::Registry(r) => r.push_manifest(reference, bytes).await,
            Endpoint::Layout(l) => l.push_manifest(reference, bytes),
        }
    }

    async fn fetch_manifest(&self, reference: &str) -> Result<(Vec<u8>, Option<String>)> {
        match self {
            Endpoint::Registry(r) => r.fetch_manifest(reference).await,
            Endpoint::Layout(l) => l.fetch_manifest(reference),
        }
    }

    async fn fetch_blob(
        &self,
        descriptor: &Descriptor,
        to: &Path,
        progress: &Progress,
    ) -> Result<()> {
        match self {
            Endpoint::Registry(r) => r.fetch_blob(descriptor, to, progress).await,
            Endpoint::Layout(l) => {
                let (l, d, to, p) = (
                    l.clone(),
                    descriptor.clone(),
                    to.to_path_buf(),
                    progress.clone(),
                );
                blocking(move || l.fetch_blob(&d, &to, &p)).await
            }
        }
    }
}

async fn blocking(work: impl FnOnce() -> Result<()> + Send + 'static) -> Result<()> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Oci(format!("a transfer thread failed: {e}")))?
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("failed to start the transfer runtime", "stacpkg", e))
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(8))
}

/// Push the package at `package_dir` to `target`.
pub fn push(
    package_dir: &Path,
    target: &Target,
    options: &PushOptions,
    progress: &Progress,
) -> Result<PushReport> {
    let package = Package::open(package_dir)?;
    let (scratch, _held) = crate::output::temp_dir(&std::env::temp_dir(), "stacpkg-push-", None)
        .map_err(|e| {
            Error::io(
                "failed to create a temporary directory in",
                "the system temp directory",
                e,
            )
        })?;
    let layers = package_layers(&package, scratch.path(), &MediaTypes::host(), threads())?;
    progress.total.store(
        layers.iter().map(|l| l.descriptor.size).sum(),
        Ordering::Relaxed,
    );
    let descriptors: Vec<Descriptor> = layers.iter().map(|l| l.descriptor.clone()).collect();
    let manifest = manifest_json(&descriptors);
    let (endpoint, reference) = Endpoint::new(target, &options.transport, true)?;
    let skipped = runtime()?.block_on(async {
        let endpoint = &endpoint;
        let skipped: Vec<bool> = futures::stream::iter(layers.iter())
            .map(|layer| async move {
                if endpoint.has_blob(&layer.descriptor).await? {
                    progress
                        .done
                        .fetch_add(layer.descriptor.size, Ordering::Relaxed);
                    return Ok(true);
                }
                endpoint.push_blob(layer, progress).await?;
                Ok::<_, Error>(false)
            })
            .buffer_unordered(LAYERS_IN_FLIGHT)
            .try_collect()
            .await?;
        endpoint.push_config().await?;
        endpoint.push_manifest(&reference, &manifest).await?;
        Ok::<_, Error>(skipped.into_iter().filter(|s| *s).count())
    })?;
    Ok(PushReport {
        digest: digest_of(&manifest),
        layers: layers.len(),
        skipped,
    })
}

/// Pull the package at `source` into `output_dir`.
pub fn pull(
    source: &Target,
    output_dir: &Path,
    options: &PullOptions,
    progress: &Progress,
) -> Result<PullReport> {
    let staging = Staging::new(output_dir, options.force)?;
    let zips = staging.scratch()?;
    let (endpoint, reference) = Endpoint::new(source, &options.transport, false)?;
    let runtime = runtime()?;
    let (bytes, media_type) = runtime.block_on(endpoint.fetch_manifest(&reference))?;
    let digest = digest_of(&bytes);
    let manifest = parse_manifest(&bytes, media_type.as_deref(), source)?;
    let placed = placements(&manifest.layers)?;
    progress.total.store(
        manifest.layers.iter().map(|l| l.size).sum(),
        Ordering::Relaxed,
    );
    let root = staging.path().to_path_buf();
    let jobs: Vec<(usize, &Descriptor, PathBuf)> = manifest
        .layers
        .iter()
        .zip(&placed)
        .enumerate()
        .map(|(index, (layer, placement))| match placement {
            Placement::File(path) => (index, layer, root.join(path)),
            Placement::Zip => (index, layer, zips.path().join(format!("{index}.zip"))),
        })
        .collect();
    runtime.block_on(async {
        let endpoint = &endpoint;
        futures::stream::iter(jobs.iter())
            .map(|(index, layer, to)| async move {
                if let Some(parent) = to.parent() {
                    tokio::fs::create_dir_all(parent).await.map_err(|e| {
                        Error::io("failed to create", parent.display().to_string(), e)
                    })?;
                }
                endpoint
                    .fetch_blob(layer, to, progress)
                    .await
                    .map_err(|e| Error::Oci(format!("OCI layer {index} from {source}: {e}")))
            })
            .buffer_unordered(LAYERS_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await
    })?;
    drop(runtime);
    // Every member of every ZIP is checked before any is extracted.
    let mut archives = Vec::new();
    for (index, layer, path) in &jobs {
        if placed[*index] == Placement::Zip {
            let name = format!(
                "OCI layer {index} (`{}`)",
                layer.title.as_deref().unwrap_or(&layer.digest)
            );
            let members = super::zip::members(path, &name)?;
            archives.push((name, path, members));
        }
    }
    for (name, path, members) in &archives {
        super::zip::extract(path, name, members, &root)?;
    }
    drop(zips);
    for table in [ITEMS_FILE, LOCK_FILE] {
        if !root.join(table).is_file() {
            return Err(Error::Oci(format!(
                "OCI artifact {source} did not contain {table}"
            )));
        }
    }
    // Blobs carry no file times; the lock records those of the packaged assets.
    crate::package::set_recorded_times(&root)?;
    let replaced = staging.commit()?;
    Ok(PullReport {
        digest,
        layers: manifest.layers.len(),
        replaced,
    })
}

fn parse_manifest(bytes: &[u8], media_type: Option<&str>, source: &Target) -> Result<Manifest> {
    let manifest: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::Oci(format!("the manifest of {source} is not valid JSON: {e}")))?;
    let kind = manifest["mediaType"]
        .as_str()
        .or(media_type)
        .unwrap_or_default();
    if kind == INDEX_MEDIA_TYPE || manifest.get("manifests").is_some() {
        return Err(Error::Oci(format!(
            "{source} is an image index, not a package manifest"
        )));
    }
    serde_json::from_value(manifest).map_err(|e| {
        Error::Oci(format!(
            "the manifest of {source} is not an OCI image manifest: {e}"
        ))
    })
}
