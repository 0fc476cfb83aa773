//! `inspect` of a pushed package without pulling it (seed 003, ADR-002: "inspect an OCI
//! artifact before pulling all content"): the manifest and the two table layers are fetched —
//! digest-checked, into a scratch directory that is removed afterwards — and never an asset or
//! content layer. The files section comes from the layer descriptors.

use std::path::PathBuf;

use super::blob::{Descriptor, Progress};
use super::layout::ImageLayout;
use super::manifest::Manifest;
use super::media_type::{ASSET_LOCK_MEDIA_TYPE, ITEMS_MEDIA_TYPE};
use super::reference::ArtifactRef;
use super::registry::{Registry, RegistryOptions};
use super::target::OciTarget;
use crate::error::{Error, Result};
use crate::package::{FileSummary, ITEMS_FILE, LOCK_FILE, Summary};
use crate::runtime::{Runtime, Threads};

/// How to inspect a pushed package.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    /// How to reach a registry source (ignored for other sources).
    pub registry: RegistryOptions,
    /// Where the transfer runs.
    pub runtime: Runtime,
    /// Where the two tables are fetched to while they are read (default: the system's
    /// temporary directory); removed afterwards.
    pub scratch: PathBuf,
}

impl Default for InspectOptions {
    fn default() -> Self {
        InspectOptions {
            registry: RegistryOptions::default(),
            runtime: Runtime::Own,
            scratch: std::env::temp_dir(),
        }
    }
}

/// Summarise the package at `source` (a registry reference or an OCI image layout) from its
/// manifest and its two tables.
pub fn inspect(source: &ArtifactRef, options: &InspectOptions) -> Result<Summary> {
    let shown = source.to_string();
    match source {
        ArtifactRef::Registry(reference) => {
            let registry = Registry::new(reference, &options.registry, false)?;
            inspect_from(&registry, &reference.reference, &shown, options)
        }
        ArtifactRef::Layout { path, reference } => {
            let layout = ImageLayout::open(path, false)?;
            inspect_from(&layout, reference, &shown, options)
        }
    }
}

/// Summarise the package tagged (or with the digest) `reference` in `source`; the summary's
/// `package` is `shown`.
pub fn inspect_from(
    source: &impl OciTarget,
    reference: &str,
    shown: &str,
    options: &InspectOptions,
) -> Result<Summary> {
    let artifact = source.place().artifact(reference);
    let runtime = &options.runtime;
    let (bytes, media_type) =
        runtime.block_on(Threads::All, source.fetch_manifest(reference))??;
    let manifest = Manifest::parse(&bytes, media_type.as_deref(), &artifact)?;
    // The summary prints titles and media types: they pass pull's checks first (safe paths, no
    // control characters, no two layers with one path).
    super::content::placements(&manifest.layers)?;
    if let Some(layer) = manifest
        .layers
        .iter()
        .find(|l| l.media_type.chars().any(char::is_control))
    {
        return Err(Error::UnsupportedLayer {
            media_type: layer.media_type.escape_debug().to_string(),
        });
    }
    let (scratch, _held) = crate::output::scratch_dir(&options.scratch, "stacpkg-inspect-")?;
    let table = |media_type: &str, name: &'static str| {
        manifest
            .layers
            .iter()
            .find(|l| l.media_type == media_type)
            .ok_or_else(|| Error::IncompleteArtifact {
                artifact: artifact.clone(),
                table: name,
            })
    };
    let tables = [
        (table(ITEMS_MEDIA_TYPE, ITEMS_FILE)?, ITEMS_FILE),
        (table(ASSET_LOCK_MEDIA_TYPE, LOCK_FILE)?, LOCK_FILE),
    ];
    let progress = Progress::default();
    runtime.block_on(Threads::All, async {
        futures::future::try_join_all(tables.iter().map(|(layer, name)| {
            fetch_table(
                source,
                &artifact,
                &manifest,
                layer,
                scratch.path().join(name),
                &progress,
            )
        }))
        .await
    })??;
    let files = manifest
        .layers
        .iter()
        .map(|layer| FileSummary {
            path: layer.title.clone().unwrap_or_else(|| {
                match layer.media_type.as_str() {
                    ITEMS_MEDIA_TYPE => ITEMS_FILE,
                    ASSET_LOCK_MEDIA_TYPE => LOCK_FILE,
                    _ => "",
                }
                .to_string()
            }),
            media_type: layer.media_type.clone(),
            size: layer.size,
            digest: layer.digest.clone(),
        })
        .collect();
    crate::package::summarise(
        shown.to_string(),
        files,
        &scratch.path().join(ITEMS_FILE),
        &scratch.path().join(LOCK_FILE),
    )
}

async fn fetch_table(
    source: &impl OciTarget,
    artifact: &str,
    manifest: &Manifest,
    layer: &Descriptor,
    to: PathBuf,
    progress: &Progress,
) -> Result<()> {
    let index = manifest
        .layers
        .iter()
        .position(|l| std::ptr::eq(l, layer))
        .unwrap_or_default();
    source
        .fetch_blob(layer, &to, progress)
        .await
        .map_err(|e| Error::Layer {
            index,
            artifact: artifact.to_string(),
            source: Box::new(e),
        })
}
