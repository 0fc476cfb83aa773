//! `copy`: an artifact from one OCI target to another — registry to registry, registry to
//! layout and back — with the same manifest bytes (so the same digest) at the destination: the
//! air-gapped handover registry → layout directory → another registry.
//!
//! Blobs the destination has are skipped; on one registry, blobs are mounted across
//! repositories (no bytes move); otherwise each blob is fetched into a scratch file
//! (digest-checked) and pushed from it, [`LAYERS_IN_FLIGHT`] at a time — disk, not memory,
//! holds a blob in flight. With `referrers`, the referrers of the manifest (and theirs, to
//! [`MAX_REFERRER_DEPTH`] levels) are copied too and listed at the destination.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};

use super::blob::{Descriptor, Progress, digest_of};
use super::layout::ImageLayout;
use super::manifest::Manifest;
use super::reference::ArtifactRef;
use super::referrers::{list_referrers, register};
use super::registry::{Registry, RegistryOptions};
use super::target::OciTarget;
use super::transfer::LAYERS_IN_FLIGHT;
use crate::error::{Error, Result};
use crate::runtime::{Runtime, Threads};

/// Levels of referrers (referrers of referrers…) a copy follows.
pub const MAX_REFERRER_DEPTH: usize = 8;

/// How to copy.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// How to reach the source registry (ignored for layouts).
    pub source_registry: RegistryOptions,
    /// How to reach the destination registry (ignored for layouts).
    pub target_registry: RegistryOptions,
    /// Where the transfer runs.
    pub runtime: Runtime,
    /// Copy the referrers of the artifact too.
    pub referrers: bool,
    /// Where blobs in flight are held (default: the system's temporary directory).
    pub scratch: PathBuf,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            source_registry: RegistryOptions::default(),
            target_registry: RegistryOptions::default(),
            runtime: Runtime::Own,
            referrers: false,
            scratch: std::env::temp_dir(),
        }
    }
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// The manifest's digest (the same at both ends).
    pub digest: String,
    /// Blobs (configs and layers) of every copied manifest.
    pub blobs: usize,
    /// Of those, already at the destination.
    pub skipped: usize,
    /// Mounted from another repository of the same registry.
    pub mounted: usize,
    /// Fetched and pushed.
    pub copied: usize,
    /// Referrers copied.
    pub referrers: usize,
    /// What the registries said that the caller should be told (a resumed or an ignored
    /// upload, a refused chunked upload).
    pub notes: Vec<String>,
}

/// Copy the artifact at `source` to `target` (registry references or OCI image layouts; a
/// layout target is created when missing).
pub fn copy(
    source: &ArtifactRef,
    target: &ArtifactRef,
    options: &CopyOptions,
    progress: &Progress,
) -> Result<CopyReport> {
    let from_registry = |r| Registry::new(r, &options.source_registry, false);
    let to_registry = |r| Registry::new(r, &options.target_registry, true);
    // The notes of whichever ends are registries, source first.
    let with_notes = |report: Result<CopyReport>, registries: &[&Registry]| {
        report.map(|mut report| {
            report.notes = registries.iter().flat_map(|r| r.take_notes()).collect();
            report
        })
    };
    match (source, target) {
        (ArtifactRef::Registry(s), ArtifactRef::Registry(t)) => {
            let (from, to) = (from_registry(s)?, to_registry(t)?);
            let report = copy_between(&from, &s.reference, &to, &t.reference, options, progress);
            with_notes(report, &[&from, &to])
        }
        (ArtifactRef::Registry(s), ArtifactRef::Layout { path, reference }) => {
            let from = from_registry(s)?;
            let to = ImageLayout::open(path, true)?;
            let report = copy_between(&from, &s.reference, &to, reference, options, progress);
            with_notes(report, &[&from])
        }
        (ArtifactRef::Layout { path, reference }, ArtifactRef::Registry(t)) => {
            let from = ImageLayout::open(path, false)?;
            let to = to_registry(t)?;
            let report = copy_between(&from, reference, &to, &t.reference, options, progress);
            with_notes(report, &[&to])
        }
        (
            ArtifactRef::Layout { path, reference },
            ArtifactRef::Layout {
                path: to,
                reference: to_reference,
            },
        ) => copy_between(
            &ImageLayout::open(path, false)?,
            reference,
            &ImageLayout::open(to, true)?,
            to_reference,
            options,
            progress,
        ),
    }
}

/// Copy the manifest at `source_reference` in `source` (with its blobs, and its referrers when
/// asked) to `target`, as `target_reference` (a tag, or its digest).
pub fn copy_between(
    source: &impl OciTarget,
    source_reference: &str,
    target: &impl OciTarget,
    target_reference: &str,
    options: &CopyOptions,
    progress: &Progress,
) -> Result<CopyReport> {
    let (scratch, _held) = crate::output::scratch_dir(&options.scratch, "stacpkg-copy-")?;
    let counts = Counts::default();
    let spool = Spool {
        dir: scratch.path().to_path_buf(),
        next: AtomicUsize::new(0),
    };
    options.runtime.block_on(Threads::All, async {
        let (bytes, media_type) = source.fetch_manifest(source_reference).await?;
        let digest = digest_of(&bytes);
        let artifact = source.place().artifact(source_reference);
        copy_manifest(
            source,
            target,
            &bytes,
            media_type.as_deref(),
            &artifact,
            target_reference,
            &spool,
            &counts,
            progress,
        )
        .await?;
        let mut report = CopyReport {
            digest: digest.clone(),
            ..CopyReport::default()
        };
        if options.referrers {
            let mut subjects = vec![digest];
            let mut seen = HashSet::new();
            for _ in 0..MAX_REFERRER_DEPTH {
                let mut next = Vec::new();
                for subject in &subjects {
                    let (referrers, _) = list_referrers(source, subject).await?;
                    for referrer in referrers {
                        if !seen.insert(referrer.digest.clone()) {
                            continue;
                        }
                        let (bytes, media_type) = source.fetch_manifest(&referrer.digest).await?;
                        let artifact = source.place().artifact(&referrer.digest);
                        copy_manifest(
                            source,
                            target,
                            &bytes,
                            media_type.as_deref(),
                            &artifact,
                            &referrer.digest,
                            &spool,
                            &counts,
                            progress,
                        )
                        .await?;
                        register(target, subject, &referrer).await?;
                        report.referrers += 1;
                        next.push(referrer.digest);
                    }
                }
                if next.is_empty() {
                    break;
                }
                subjects = next;
            }
        }
        report.blobs = counts.blobs.load(Ordering::Relaxed);
        report.skipped = counts.skipped.load(Ordering::Relaxed);
        report.mounted = counts.mounted.load(Ordering::Relaxed);
        report.copied = counts.copied.load(Ordering::Relaxed);
        Ok(report)
    })?
}

#[derive(Default)]
struct Counts {
    blobs: AtomicUsize,
    skipped: AtomicUsize,
    mounted: AtomicUsize,
    copied: AtomicUsize,
}

/// Scratch files for blobs in flight, one name per blob.
struct Spool {
    dir: PathBuf,
    next: AtomicUsize,
}

impl Spool {
    fn file(&self) -> PathBuf {
        self.dir.join(format!(
            "{}.blob",
            self.next.fetch_add(1, Ordering::Relaxed)
        ))
    }
}

/// Copy one manifest's blobs, then the manifest (the same bytes) as `reference`.
#[allow(clippy::too_many_arguments)]
async fn copy_manifest(
    source: &impl OciTarget,
    target: &impl OciTarget,
    bytes: &[u8],
    media_type: Option<&str>,
    artifact: &str,
    reference: &str,
    spool: &Spool,
    counts: &Counts,
    progress: &Progress,
) -> Result<()> {
    let manifest = Manifest::parse(bytes, media_type, artifact)?;
    let mut blobs: Vec<&Descriptor> = vec![&manifest.config];
    blobs.extend(&manifest.layers);
    progress
        .total
        .fetch_add(blobs.iter().map(|b| b.size).sum(), Ordering::Relaxed);
    let place = source.place();
    let place = &place;
    // The futures are made before they are streamed (a closure inside the stream would have to
    // be `Send` for every lifetime).
    let jobs: Vec<BoxFuture<'_, Result<()>>> = blobs
        .into_iter()
        .map(|blob| {
            async move {
                counts.blobs.fetch_add(1, Ordering::Relaxed);
                if target.has_blob(blob).await? {
                    counts.skipped.fetch_add(1, Ordering::Relaxed);
                    progress.done.fetch_add(blob.size, Ordering::Relaxed);
                    return Ok(());
                }
                // A mount that fails (refused, not supported) is not an error: the bytes are copied.
                if target.mount_blob(blob, place).await.unwrap_or(false) {
                    counts.mounted.fetch_add(1, Ordering::Relaxed);
                    progress.done.fetch_add(blob.size, Ordering::Relaxed);
                    return Ok(());
                }
                let file = spool.file();
                source.fetch_blob(blob, &file, progress).await?;
                let pushed = target.push_blob(blob, &file, &Progress::default()).await;
                let _ = tokio::fs::remove_file(&file).await;
                pushed?;
                counts.copied.fetch_add(1, Ordering::Relaxed);
                Ok::<_, Error>(())
            }
            .boxed()
        })
        .collect();
    futures::stream::iter(jobs)
        .buffer_unordered(LAYERS_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    target.push_manifest(reference, bytes).await
}
