//! `push` and `pull`: a package directory to and from any [`OciTarget`].
//!
//! Layers move [`LAYERS_IN_FLIGHT`] at a time; blobs the target already has are skipped; every
//! pulled blob is size- and digest-checked before the package appears. A pull is written into a
//! staging directory next to the output and renamed into place, so a failed pull leaves
//! nothing. Memory: one buffer or network chunk per layer in flight, whatever the blob sizes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use arrow_array::BooleanArray;
use arrow_array::cast::AsArray;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};

use super::blob::{Descriptor, Progress, digest_of};
use super::content::{Placement, package_layers, placements};
use super::layout::ImageLayout;
use super::manifest::{Manifest, manifest_json};
use super::media_type::{
    ARTIFACT_TYPE, ASSET_LOCK_MEDIA_TYPE, ASSET_MEDIA_TYPE, ASSET_ZIP_MEDIA_TYPE, EMPTY_BLOB,
    ITEMS_MEDIA_TYPE,
};
use super::reference::ArtifactRef;
use super::registry::{ChunkedUploads, Registry, RegistryOptions};
use super::target::OciTarget;
use crate::batch::BatchReader;
use crate::error::{Error, Result};
use crate::items::ItemFilter;
use crate::package::media_type::MediaTypes;
use crate::package::{ITEMS_FILE, LOCK_FILE, Package, Staging};
use crate::runtime::{Runtime, Threads};

/// Layers transferred at the same time.
pub const LAYERS_IN_FLIGHT: usize = 4;

/// How to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// How to reach a registry target (ignored for other targets).
    pub registry: RegistryOptions,
    /// Where the transfer runs.
    pub runtime: Runtime,
    /// Media types of top-level files (default: the host's, like the original's).
    pub media_types: MediaTypes,
    /// Where directories are zipped before they are pushed (default: the system's temporary
    /// directory).
    pub scratch: PathBuf,
    /// How large blobs go to a registry: in resumable chunks (state files in the system's
    /// temporary directory by default).
    pub chunked: ChunkedUploads,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            registry: RegistryOptions::default(),
            runtime: Runtime::Own,
            media_types: MediaTypes::host(),
            scratch: std::env::temp_dir(),
            chunked: ChunkedUploads {
                state_dir: Some(std::env::temp_dir()),
                ..ChunkedUploads::default()
            },
        }
    }
}

/// How to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// How to reach a registry source (ignored for other sources).
    pub registry: RegistryOptions,
    /// Where the transfer runs.
    pub runtime: Runtime,
    /// Replace an existing package at the output directory.
    pub force: bool,
    /// Pull only part of the package (empty: all of it).
    pub selection: Selection,
    /// Fetch the two tables only (filtered by `selection`), no asset or content layer.
    pub tables_only: bool,
}

/// The part of a package a selective pull fetches: the tables are written filtered to it (the
/// bytes `build` writes for the same selection) and only the asset layers its lock rows point
/// at are fetched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Which items (ids, collections, providers; every filter given must match).
    pub items: ItemFilter,
    /// Which assets of those items, by key (empty: all).
    pub asset_keys: HashSet<String>,
}

impl Selection {
    /// True when nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.asset_keys.is_empty()
    }
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
    /// What the caller should be told: uploads resumed, upload states ignored.
    pub notes: Vec<String>,
}

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullReport {
    /// The manifest's digest.
    pub digest: String,
    /// Layers fetched.
    pub layers: usize,
    /// Layers left at the source (a selection or `tables_only` did not need them).
    pub layers_left: usize,
    /// Of those, asset layers.
    pub asset_layers_left: usize,
    /// An existing package was replaced.
    pub replaced: bool,
    /// What the caller should be told: downloads resumed.
    pub notes: Vec<String>,
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(8))
}

/// Push the package at `package_dir` to `target`: a registry reference or an OCI image layout
/// (created when missing).
pub fn push(
    package_dir: &Path,
    target: &ArtifactRef,
    options: &PushOptions,
    progress: &Progress,
) -> Result<PushReport> {
    match target {
        ArtifactRef::Registry(reference) => {
            let registry = Registry::new(reference, &options.registry, true)?
                .with_uploads(options.chunked.clone());
            let report = push_to(
                &registry,
                &reference.reference,
                package_dir,
                options,
                progress,
            );
            report.map(|report| PushReport {
                notes: registry.take_notes(),
                ..report
            })
        }
        ArtifactRef::Layout { path, reference } => {
            let layout = ImageLayout::open(path, true)?;
            push_to(&layout, reference, package_dir, options, progress)
        }
    }
}

/// Push the package at `package_dir` to `target`, tagged `reference`.
pub fn push_to(
    target: &impl OciTarget,
    reference: &str,
    package_dir: &Path,
    options: &PushOptions,
    progress: &Progress,
) -> Result<PushReport> {
    let package = Package::open(package_dir)?;
    let (scratch, _held) = crate::output::scratch_dir(&options.scratch, "stacpkg-push-")?;
    let layers = package_layers(&package, scratch.path(), &options.media_types, threads())?;
    progress.total.store(
        layers.iter().map(|l| l.descriptor.size).sum(),
        Ordering::Relaxed,
    );
    let descriptors: Vec<Descriptor> = layers.iter().map(|l| l.descriptor.clone()).collect();
    let manifest = manifest_json(&descriptors);
    // The futures are made before they are streamed: a closure inside the stream would have to
    // be `Send` for every lifetime, which these borrowing futures are not.
    let uploads: Vec<BoxFuture<'_, Result<bool>>> = layers
        .iter()
        .map(|layer| {
            async move {
                if target.has_blob(&layer.descriptor).await? {
                    progress
                        .done
                        .fetch_add(layer.descriptor.size, Ordering::Relaxed);
                    return Ok(true);
                }
                target
                    .push_blob(&layer.descriptor, &layer.path, progress)
                    .await?;
                Ok(false)
            }
            .boxed()
        })
        .collect();
    let skipped = options.runtime.block_on(Threads::All, async {
        let skipped: Vec<bool> = progress
            .unless_cancelled(
                futures::stream::iter(uploads)
                    .buffer_unordered(LAYERS_IN_FLIGHT)
                    .try_collect(),
            )
            .await?;
        let config = Descriptor::empty_config();
        if !target.has_blob(&config).await? {
            target.push_blob_bytes(&config, EMPTY_BLOB).await?;
        }
        target.push_manifest(reference, &manifest).await?;
        Ok::<_, Error>(skipped.into_iter().filter(|s| *s).count())
    })??;
    Ok(PushReport {
        digest: digest_of(&manifest),
        layers: layers.len(),
        skipped,
        notes: Vec::new(),
    })
}

/// Pull the package at `source` (a registry reference or an OCI image layout) into
/// `output_dir`.
pub fn pull(
    source: &ArtifactRef,
    output_dir: &Path,
    options: &PullOptions,
    progress: &Progress,
) -> Result<PullReport> {
    match source {
        ArtifactRef::Registry(reference) => {
            let registry = Registry::new(reference, &options.registry, false)?;
            let report = pull_from(
                &registry,
                &reference.reference,
                output_dir,
                options,
                progress,
            );
            report.map(|report| PullReport {
                notes: registry.take_notes(),
                ..report
            })
        }
        ArtifactRef::Layout { path, reference } => {
            let layout = ImageLayout::open(path, false)?;
            pull_from(&layout, reference, output_dir, options, progress)
        }
    }
}

/// Pull the package tagged (or with the digest) `reference` from `source` into `output_dir`.
pub fn pull_from(
    source: &impl OciTarget,
    reference: &str,
    output_dir: &Path,
    options: &PullOptions,
    progress: &Progress,
) -> Result<PullReport> {
    let staging = Staging::new(output_dir, options.force)?;
    let fetched = Partial::open(output_dir)?;
    let result = pull_staged(source, reference, staging, &fetched, options, progress);
    // What was fetched is kept for the next run only when the source could not be reached or
    // the caller cancelled; any other failure (a wrong blob, an unsafe title, a bad selection) starts over.
    let reachable_again = matches!(
        &result,
        Err(Error::Layer { source, .. }) if matches!(**source, Error::RegistryUnavailable { .. })
    ) || matches!(
        &result,
        Err(Error::RegistryUnavailable { .. } | Error::Cancelled)
    );
    if !reachable_again {
        fetched.remove();
    }
    result
}

fn pull_staged(
    source: &impl OciTarget,
    reference: &str,
    staging: Staging,
    fetched: &Partial,
    options: &PullOptions,
    progress: &Progress,
) -> Result<PullReport> {
    let artifact = source.place().artifact(reference);
    let zips = staging.scratch()?;
    let runtime = &options.runtime;
    let (bytes, media_type) =
        runtime.block_on(Threads::All, source.fetch_manifest(reference))??;
    let digest = digest_of(&bytes);
    let manifest = Manifest::parse(&bytes, media_type.as_deref(), &artifact)?;
    let placed = placements(&manifest.layers)?;
    let root = staging.path().to_path_buf();
    let partial = !options.selection.is_empty() || options.tables_only;
    // A package says so or has a table layer; anything else — a referrer such as a signature
    // or a validation report — is pulled as its titled files, with the same path checks.
    let package = manifest.artifact_type.as_deref() == Some(ARTIFACT_TYPE)
        || manifest
            .layers
            .iter()
            .any(|l| [ITEMS_MEDIA_TYPE, ASSET_LOCK_MEDIA_TYPE].contains(&l.media_type.as_str()));
    if partial && !package {
        return Err(Error::NotAPackage {
            artifact: artifact.clone(),
        });
    }
    // A partial pull fetches the tables first: they say which asset layers are needed.
    let (wanted, needed) = if partial {
        let needed = pull_tables(
            source,
            &artifact,
            &manifest.layers,
            &placed,
            zips.path(),
            &root,
            fetched,
            options,
            progress,
        )?;
        let wanted: Vec<bool> = manifest
            .layers
            .iter()
            .zip(&placed)
            .map(|(layer, placement)| match placement {
                Placement::File(path) if is_table(path) => false,
                _ if options.tables_only => false,
                Placement::File(path) if layer.media_type == ASSET_MEDIA_TYPE => {
                    needed.contains(path)
                }
                Placement::Zip if layer.media_type == ASSET_ZIP_MEDIA_TYPE => !needed.is_empty(),
                _ => true,
            })
            .collect();
        (wanted, Some(needed))
    } else {
        (vec![true; manifest.layers.len()], None)
    };
    progress.total.fetch_add(
        manifest
            .layers
            .iter()
            .zip(&wanted)
            .filter(|(_, w)| **w)
            .map(|(l, _)| l.size)
            .sum(),
        Ordering::Relaxed,
    );
    let jobs: Vec<(usize, &Descriptor, PathBuf)> = manifest
        .layers
        .iter()
        .zip(&placed)
        .enumerate()
        .filter(|(index, _)| wanted[*index])
        .map(|(index, (layer, placement))| match placement {
            Placement::File(path) => (index, layer, root.join(path)),
            Placement::Zip => (index, layer, zips.path().join(format!("{index}.zip"))),
        })
        .collect();
    fetch_layers(source, &artifact, &jobs, fetched, runtime, progress)?;
    // Every member of every ZIP is checked before any is extracted.
    let mut archives = Vec::new();
    for (index, layer, path) in &jobs {
        if placed[*index] == Placement::Zip {
            let name = format!("OCI layer {index} (`{}`)", layer.name());
            let members = super::zip::members(path, &name)?;
            // Zipped assets of a selection: only the members its lock rows point at.
            let keep: Vec<bool> = members
                .iter()
                .map(
                    |(member, is_dir)| match (&needed, layer.media_type.as_str()) {
                        (Some(needed), ASSET_ZIP_MEDIA_TYPE) => !is_dir && needed.contains(member),
                        _ => true,
                    },
                )
                .collect();
            archives.push((name, path, members, keep));
        }
    }
    for (name, path, members, keep) in &archives {
        super::zip::extract(path, name, members, keep, &root)?;
    }
    drop(zips);
    if package {
        for table in [ITEMS_FILE, LOCK_FILE] {
            if !root.join(table).is_file() {
                return Err(Error::IncompleteArtifact {
                    artifact: artifact.clone(),
                    table,
                });
            }
        }
        // Blobs carry no file times; the lock records those of the packaged assets.
        crate::package::set_recorded_times(&root)?;
    }
    let replaced = staging.commit()?;
    let left: Vec<&Descriptor> = manifest
        .layers
        .iter()
        .zip(&wanted)
        .zip(&placed)
        .filter(|((_, w), placement)| {
            !**w && !matches!(placement, Placement::File(path) if is_table(path))
        })
        .map(|((l, _), _)| l)
        .collect();
    Ok(PullReport {
        digest,
        layers: manifest.layers.len() - left.len(),
        layers_left: left.len(),
        asset_layers_left: left
            .iter()
            .filter(|l| [ASSET_MEDIA_TYPE, ASSET_ZIP_MEDIA_TYPE].contains(&l.media_type.as_str()))
            .count(),
        replaced,
        notes: Vec::new(),
    })
}

fn is_table(path: &str) -> bool {
    path == ITEMS_FILE || path == LOCK_FILE
}

/// Fetch `jobs` (layer index, descriptor, file) from `source`, [`LAYERS_IN_FLIGHT`] at a time.
/// Each blob is fetched once (layers may share one) into the `partial` directory, where an
/// interrupted pull left what it had, and moved to its files when complete and checked.
fn fetch_layers(
    source: &impl OciTarget,
    artifact: &str,
    jobs: &[(usize, &Descriptor, PathBuf)],
    partial: &Partial,
    runtime: &Runtime,
    progress: &Progress,
) -> Result<()> {
    let mut blobs: Vec<(usize, &Descriptor, Vec<&Path>)> = Vec::new();
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (index, layer, to) in jobs {
        match seen.get(layer.digest.as_str()) {
            Some(&at) => blobs[at].2.push(to),
            None => {
                seen.insert(&layer.digest, blobs.len());
                blobs.push((*index, layer, vec![to.as_path()]));
            }
        }
    }
    let downloads: Vec<BoxFuture<'_, Result<()>>> = blobs
        .iter()
        .map(|(index, layer, _)| {
            async move {
                let fetched = partial.blob(layer)?;
                source
                    .fetch_blob(layer, &fetched, progress)
                    .await
                    .map_err(|e| Error::Layer {
                        index: *index,
                        artifact: artifact.to_string(),
                        source: Box::new(e),
                    })
            }
            .boxed()
        })
        .collect();
    runtime.block_on(Threads::All, async {
        progress
            .unless_cancelled(
                futures::stream::iter(downloads)
                    .buffer_unordered(LAYERS_IN_FLIGHT)
                    .try_collect::<Vec<()>>(),
            )
            .await
    })??;
    // Placed only once every blob is in, and here rather than in the tasks: a failed pull's
    // unfinished file operations (tokio runs them on threads that outlive the futures) then
    // never touch the staging directory while it is being removed.
    for (_, layer, targets) in &blobs {
        let fetched = partial.blob(layer)?;
        for (i, to) in targets.iter().enumerate() {
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::io("failed to create", parent.display().to_string(), e))?;
            }
            // A link keeps the finished blob for a re-run until the pull succeeds; more files
            // with the same bytes get copies (no two package files share an inode).
            let placed = match i {
                0 => std::fs::hard_link(&fetched, to)
                    .or_else(|_| std::fs::copy(&fetched, to).map(drop)),
                _ => std::fs::copy(&fetched, to).map(drop),
            };
            placed.map_err(|e| Error::io("failed to write", to.display().to_string(), e))?;
        }
    }
    Ok(())
}

/// Blobs of a pull into `OUTPUT`, kept in `.OUTPUT.partial.stacpkg` next to it until they are
/// complete, so that a killed pull's next run continues them (a registry fetches the rest with
/// `Range`). Held under an advisory lock; removed when the pull succeeds.
struct Partial {
    dir: PathBuf,
    _held: std::fs::File,
}

impl Partial {
    fn open(output: &Path) -> Result<Partial> {
        let (parent, name) = crate::package::output_parts(output)?;
        let dir = parent.join(format!(".{name}.partial.stacpkg"));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io("failed to create", dir.display().to_string(), e))?;
        let lock = dir.join("lock");
        let held = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(|e| Error::io("failed to create", lock.display().to_string(), e))?;
        if held.try_lock().is_err() {
            return Err(Error::OutputBusy {
                path: output.display().to_string(),
            });
        }
        Ok(Partial { dir, _held: held })
    }

    /// Where the blob is fetched to (named by its digest, which is checked to be one).
    fn blob(&self, descriptor: &Descriptor) -> Result<PathBuf> {
        Ok(self.dir.join(descriptor.sha256_hex()?))
    }

    fn remove(&self) {
        // A failed pull's last file operations may still be finishing on tokio's threads: try
        // again briefly when the directory gained an entry while it was being removed.
        for _ in 0..50 {
            if std::fs::remove_dir_all(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// The tables of a partial pull: fetched into `scratch`, then written into `root` filtered to
/// the selection (or moved there as they are without one). Returns the package-relative paths
/// the kept lock rows point at — the asset files the selection needs.
#[allow(clippy::too_many_arguments)]
fn pull_tables(
    source: &impl OciTarget,
    artifact: &str,
    layers: &[Descriptor],
    placed: &[Placement],
    scratch: &Path,
    root: &Path,
    partial: &Partial,
    options: &PullOptions,
    progress: &Progress,
) -> Result<HashSet<String>> {
    let mut jobs = Vec::new();
    for table in [ITEMS_FILE, LOCK_FILE] {
        let index = placed
            .iter()
            .position(|p| matches!(p, Placement::File(path) if path == table))
            .ok_or_else(|| Error::IncompleteArtifact {
                artifact: artifact.to_string(),
                table,
            })?;
        jobs.push((index, &layers[index], scratch.join(table)));
    }
    progress
        .total
        .fetch_add(jobs.iter().map(|(_, l, _)| l.size).sum(), Ordering::Relaxed);
    fetch_layers(source, artifact, &jobs, partial, &options.runtime, progress)?;
    let (items_from, lock_from) = (scratch.join(ITEMS_FILE), scratch.join(LOCK_FILE));
    let selection = &options.selection;
    let item_ids = if selection.items.is_empty() {
        move_file(&items_from, &root.join(ITEMS_FILE))?;
        None
    } else {
        let ids = Arc::new(Mutex::new(HashSet::new()));
        let items = crate::items::geoparquet::read(
            &items_from,
            crate::asset_lock::CHUNK_ROWS,
            selection.items.clone(),
        )?;
        let noted = Arc::clone(&ids);
        let schema = items.schema();
        let items = items.map(move |batch| {
            let batch = batch?;
            if let Some(column) = batch.column_by_name(crate::items::schema::ID) {
                let column = arrow_cast::cast(column, &arrow_schema::DataType::Utf8)
                    .map_err(|e| Error::arrow("failed to read item ids", e))?;
                let mut noted = noted.lock().unwrap_or_else(|p| p.into_inner());
                noted.extend(
                    column
                        .as_string::<i32>()
                        .iter()
                        .flatten()
                        .map(str::to_string),
                );
            }
            Ok(batch)
        });
        let written = crate::items::geoparquet::write(
            BatchReader::new(schema, items),
            &root.join(ITEMS_FILE),
        )?;
        if written.rows == 0 {
            return Err(Error::EmptySelection {
                artifact: artifact.to_string(),
                what: "item",
            });
        }
        Some(std::mem::take(
            &mut *ids.lock().unwrap_or_else(|p| p.into_inner()),
        ))
    };
    let needed = Arc::new(Mutex::new(HashSet::new()));
    let lock = crate::asset_lock::read_parquet(&lock_from, crate::asset_lock::CHUNK_ROWS)?;
    let schema = lock.schema();
    let asset_keys = selection.asset_keys.clone();
    let noted = Arc::clone(&needed);
    let lock = lock.map(move |batch| {
        let batch = batch?;
        let rows = crate::asset_lock::from_batch(&batch);
        let keep: Vec<bool> = rows
            .iter()
            .map(|row| {
                item_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&row.item_id))
                    && (asset_keys.is_empty() || asset_keys.contains(&row.asset_key))
            })
            .collect();
        let mut noted = noted.lock().unwrap_or_else(|p| p.into_inner());
        for (row, _) in rows.iter().zip(&keep).filter(|(_, k)| **k) {
            if row.location.store_type.as_deref() == Some("file")
                && let Some(key) = row.location.key.as_deref()
                && crate::package::package_relative(key).is_some()
            {
                noted.insert(key.to_string());
            }
        }
        arrow_select::filter::filter_record_batch(&batch, &BooleanArray::from(keep))
            .map_err(|e| Error::arrow("failed to filter the asset lock", e))
    });
    let written =
        crate::asset_lock::write_parquet(BatchReader::new(schema, lock), &root.join(LOCK_FILE))?;
    if written.rows == 0 && !selection.asset_keys.is_empty() {
        return Err(Error::EmptySelection {
            artifact: artifact.to_string(),
            what: "asset",
        });
    }
    std::fs::remove_file(&lock_from)
        .map_err(|e| Error::io("failed to remove", lock_from.display().to_string(), e))?;
    Ok(std::mem::take(
        &mut *needed.lock().unwrap_or_else(|p| p.into_inner()),
    ))
}

fn move_file(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to)
        .map_err(|e| Error::io("failed to move", from.display().to_string(), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::MemoryTarget;

    /// A package directory by hand: the two tables (any bytes do for transfer), an asset and a
    /// directory of documents.
    fn package(dir: &Path) -> PathBuf {
        let package = dir.join("pkg");
        for (path, bytes) in [
            (ITEMS_FILE, &b"items table"[..]),
            ("assets/i/a.tif", b"asset bytes"),
            ("docs/readme.txt", b"read me"),
        ] {
            let path = package.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        // A pull reads the lock (for the files' recorded times): an empty one.
        let lock = crate::BatchReader::new(crate::asset_lock::schema(), std::iter::empty());
        crate::asset_lock::write_parquet(lock, &package.join(LOCK_FILE)).unwrap();
        package
    }

    fn options(dir: &Path) -> PushOptions {
        PushOptions {
            media_types: MediaTypes::builtin(),
            scratch: dir.to_path_buf(),
            ..PushOptions::default()
        }
    }

    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(
                    files(&path)
                        .into_iter()
                        .map(|(p, b)| (format!("{}/{p}", entry.file_name().to_string_lossy()), b)),
                );
            } else {
                out.push((
                    entry.file_name().to_string_lossy().into_owned(),
                    std::fs::read(&path).unwrap(),
                ));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn a_package_round_trips_through_a_memory_target_and_a_second_push_skips_every_blob() {
        let dir = tempfile::tempdir().unwrap();
        let package = package(dir.path());
        let target = MemoryTarget::new();
        let first = push_to(
            &target,
            "v1",
            &package,
            &options(dir.path()),
            &Progress::default(),
        )
        .unwrap();
        assert_eq!((first.layers, first.skipped), (4, 0));
        let again = push_to(
            &target,
            "v1",
            &package,
            &options(dir.path()),
            &Progress::default(),
        )
        .unwrap();
        assert_eq!((again.digest, again.skipped), (first.digest.clone(), 4));
        let pulled = dir.path().join("pulled");
        let report = pull_from(
            &target,
            "v1",
            &pulled,
            &PullOptions::default(),
            &Progress::default(),
        )
        .unwrap();
        assert_eq!(report.digest, first.digest);
        assert_eq!(files(&package), files(&pulled));
    }

    #[test]
    fn a_tampered_blob_fails_the_pull_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let package = package(dir.path());
        let target = MemoryTarget::new();
        push_to(
            &target,
            "v1",
            &package,
            &options(dir.path()),
            &Progress::default(),
        )
        .unwrap();
        let asset = crate::oci::digest_of(b"asset bytes");
        target.corrupt(&asset, b"asset bytez".to_vec());
        let pulled = dir.path().join("pulled");
        let error = pull_from(
            &target,
            "v1",
            &pulled,
            &PullOptions::default(),
            &Progress::default(),
        )
        .unwrap_err();
        let Error::Layer { source, .. } = &error else {
            panic!("{error:?}")
        };
        assert!(
            matches!(**source, Error::DigestMismatch { .. }),
            "{source:?}"
        );
        assert!(!pulled.exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_missing_tag_is_a_typed_error_naming_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let error = pull_from(
            &MemoryTarget::new(),
            "nope",
            &dir.path().join("out"),
            &PullOptions::default(),
            &Progress::default(),
        )
        .unwrap_err();
        assert!(matches!(error, Error::ManifestNotFound { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            "the memory target has no manifest `nope`"
        );
    }
}
