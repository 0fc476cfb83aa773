//! `build`: a package directory from an items stream (ref §7, SPEC §8).
//!
//! Departures from the original, on purpose:
//! - Atomic: everything is written into a hidden temporary directory next to `OUTPUT_DIR` and
//!   renamed into place at the end; a failure leaves nothing behind and does not touch an
//!   existing directory.
//! - Reproducible: the tables are written from fixed-size batches (see [`crate::batch::rebatch`]),
//!   so the same items give byte-identical files however the input stream was batched; copied
//!   assets keep their source's size and last-modified time (the file gets that mtime) and no
//!   local-file ETag, which would differ per build and per machine.
//! - Checked first: includes must exist and may not replace the tables or `assets/`, and an
//!   existing non-empty `OUTPUT_DIR` is only replaced with `force` — and only when it is a
//!   package — before anything is read or written.
//!
//! Memory: the items and lock streams pass through batch by batch; asset copies are bounded
//! by the relocation engine's budget. With an explicit lock and an item filter, the ids of the
//! selected items are kept to filter the lock rows (tens of bytes per item).

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::{BooleanArray, RecordBatch};

use super::{ASSETS_DIR, ITEMS_FILE, LOCK_FILE, Staging, parse_time};
use crate::asset_lock::shard::{Positions, ShardTag};
use crate::asset_lock::{
    self, CHUNK_ROWS, DeriveEvent, DeriveOptions, Destination, LockRow, RelocateOptions,
    RelocateReport, from_batch, to_batch,
};
use crate::asset_lock::{KeyLayout, PlanOptions};
use crate::batch::BatchReader;
use crate::error::{Error, IncludeProblem, Result};
use crate::items::ItemFilter;
use crate::items::schema::ID;
use crate::store::{CopyOptions, Stores, href_of, iso_time};
use crate::{StreamKind, items};

/// Name of the pre-copy lock inside the build directory (removed before the rename).
const SOURCE_LOCK: &str = ".stacpkg-source.lock.parquet";
/// Name of the selected items as given (signed hrefs and all), spooled inside the build
/// directory for probing when the lock is derived (removed before the rename).
const SOURCE_ITEMS: &str = ".stacpkg-source.items.arrow";

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Files and directories to copy into the package under their own names (`--includes`).
    pub includes: Vec<PathBuf>,
    /// Copy asset bytes into `assets/<item>/<asset><ext>` (`--include-assets`).
    pub include_assets: bool,
    /// How a derived lock is made (`probe`, `include_metadata_assets`, `max_workers`); its
    /// `filter` selects the items of the package (`--item-ids`, `--providers`).
    pub derive: DeriveOptions,
    /// How asset bytes are copied (relocation defaults unless changed).
    pub copy: CopyOptions,
    /// Parallel asset copies.
    pub copy_workers: usize,
    /// Cap on buffered asset bytes across all copies.
    pub memory_limit: u64,
    /// Replace an existing package at `OUTPUT_DIR`.
    pub force: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            includes: Vec::new(),
            include_assets: false,
            derive: DeriveOptions::default(),
            copy: CopyOptions::default(),
            copy_workers: asset_lock::DEFAULT_COPY_WORKERS,
            memory_limit: asset_lock::DEFAULT_MEMORY_LIMIT,
            force: false,
        }
    }
}

/// What a build wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildReport {
    /// Rows of `items.parquet`.
    pub items: u64,
    /// Rows of `assets.lock.parquet`.
    pub assets: u64,
    /// Asset objects copied into `assets/`.
    pub copied_assets: u64,
    /// Query strings (possible signatures) left out of lock locations.
    pub queries_dropped: u64,
    /// Credentials (`user:password@`) left out of lock locations and endpoints.
    pub credentials_dropped: u64,
    /// Asset hrefs of `items.parquet` whose query string or credentials were left out.
    pub item_hrefs_stripped: u64,
    /// The existing package that was replaced (`force`).
    pub replaced: bool,
    /// Assets whose `file:checksum` was in no accepted form (their rows got no checksum from
    /// it): how many, and the first [`MALFORMED_LISTED`] as (item id, asset key, value).
    pub malformed_checksums: u64,
    /// See `malformed_checksums`.
    pub malformed_checksum_examples: Vec<(String, String, String)>,
}

/// How many malformed checksums a [`BuildReport`] lists by name (the rest are counted).
pub const MALFORMED_LISTED: usize = 20;

/// Build the package `output` from `items`; assets are probed (and with `include_assets`
/// copied) through `stores`. With `lock`, the package's lock is that stream (its rows of the
/// selected items) instead of one derived from the items.
pub fn build(
    items: BatchReader,
    lock: Option<BatchReader>,
    output: &Path,
    stores: &Stores,
    options: BuildOptions,
) -> Result<BuildReport> {
    let includes = check_includes(&options.includes)?;
    let staging = Staging::new(output, options.force)?;
    let explicit_lock = lock;

    let dir = staging.path();

    let mut report = BuildReport::default();
    let filter = options.derive.filter.clone();
    let selected = (explicit_lock.is_some() && !filter.is_empty())
        .then(|| Arc::new(Mutex::new(HashSet::new())));
    // Probes need the hrefs as given (a signed URL's signature opens the object), which the
    // package's items do not keep: the selected items are spooled as they are for the derive.
    let spool = (explicit_lock.is_none() && options.derive.probe).then(|| dir.join(SOURCE_ITEMS));
    let stripped = Arc::new(AtomicU64::new(0));
    let written = items::geoparquet::write(
        select_items(items, filter, selected.clone(), spool.as_deref(), &stripped)?,
        &dir.join(ITEMS_FILE),
    )?;
    report.items = written.rows;
    report.item_hrefs_stripped = stripped.load(Ordering::Relaxed);

    let mut derived = None;
    let malformed = Arc::new(Mutex::new(Vec::new()));
    let lock = match explicit_lock {
        Some(lock) => match selected {
            Some(ids) => lock_of_items(lock, ids),
            None => lock,
        },
        None => {
            let items = match &spool {
                Some(spool) => {
                    let file = File::open(spool)
                        .map_err(|e| Error::io("failed to open", spool.display().to_string(), e))?;
                    crate::ipc::read_stream(file, "the spooled items", StreamKind::Items)?
                }
                None => items::geoparquet::read(
                    &dir.join(ITEMS_FILE),
                    CHUNK_ROWS,
                    ItemFilter::default(),
                )?,
            };
            let derive = DeriveOptions {
                filter: ItemFilter::default(),
                asset_keys: HashSet::new(),
                keep_going: false,
                ..options.derive.clone()
            };
            let examples = Arc::clone(&malformed);
            let (lock, report) = asset_lock::derive(items, stores, derive, move |event| {
                if let DeriveEvent::MalformedChecksum {
                    item_id,
                    asset_key,
                    value,
                } = event
                {
                    let mut examples = examples.lock().unwrap_or_else(|p| p.into_inner());
                    if examples.len() < MALFORMED_LISTED {
                        examples.push((item_id.into(), asset_key.into(), value.into()));
                    }
                }
            })?;
            derived = Some(report);
            lock
        }
    };
    let lock_path = dir.join(LOCK_FILE);
    if options.include_assets {
        let source = dir.join(SOURCE_LOCK);
        let summary = asset_lock::write_parquet(lock, &source)?;
        report.queries_dropped += summary.queries_dropped as u64;
        report.credentials_dropped += summary.credentials_dropped as u64;
        let (packaged, copies) = package_assets(&source, dir, stores, &options)?;
        report.assets = asset_lock::write_parquet(packaged, &lock_path)?.rows;
        report.copied_assets = copies.copied.load(std::sync::atomic::Ordering::Relaxed);
        std::fs::remove_file(&source)
            .map_err(|e| Error::io("failed to remove", source.display().to_string(), e))?;
    } else {
        let summary = asset_lock::write_parquet(lock, &lock_path)?;
        report.assets = summary.rows;
        report.queries_dropped += summary.queries_dropped as u64;
        report.credentials_dropped += summary.credentials_dropped as u64;
    }

    if let Some(derived) = derived {
        report.queries_dropped += derived.queries_dropped.load(Ordering::Relaxed);
        report.credentials_dropped += derived.credentials_dropped.load(Ordering::Relaxed);
        report.malformed_checksums = derived.malformed_checksums.load(Ordering::Relaxed);
        report.malformed_checksum_examples =
            std::mem::take(&mut *malformed.lock().unwrap_or_else(|p| p.into_inner()));
    }
    if let Some(spool) = &spool {
        std::fs::remove_file(spool)
            .map_err(|e| Error::io("failed to remove", spool.display().to_string(), e))?;
    }

    for (include, name) in &includes {
        copy_include(include, &dir.join(name))?;
    }

    report.replaced = staging.commit()?;
    Ok(report)
}

/// The items that go into the package, with signed URLs and credentials stripped from their
/// asset hrefs (counted in `stripped`); when `selected` is given, their ids are noted in it, and
/// when `spool` is, the selected items as given are written there as an Arrow IPC stream.
fn select_items(
    items: BatchReader,
    filter: ItemFilter,
    selected: Option<Arc<Mutex<HashSet<String>>>>,
    spool: Option<&Path>,
    stripped: &Arc<AtomicU64>,
) -> Result<BatchReader> {
    let schema = items.schema();
    let mut spool = match spool {
        Some(path) => {
            let shown = path.display().to_string();
            let file = File::create(path).map_err(|e| Error::io("failed to create", &shown, e))?;
            let writer = arrow_ipc::writer::StreamWriter::try_new(
                std::io::BufWriter::with_capacity(1 << 20, file),
                &schema,
            )
            .map_err(|e| Error::arrow(format!("failed to write `{shown}`"), e))?;
            Some((writer, shown))
        }
        None => None,
    };
    let stripped = Arc::clone(stripped);
    let mut batches = items;
    let selected_items = std::iter::from_fn(move || {
        let Some(batch) = batches.next() else {
            // The end of the input: the spool gets its end-of-stream marker.
            if let Some((mut writer, shown)) = spool.take()
                && let Err(e) = writer.finish()
            {
                return Some(Err(Error::arrow(format!("failed to write `{shown}`"), e)));
            }
            return None;
        };
        let select = || -> Result<RecordBatch> {
            let batch = filter
                .apply(batch?)
                .map_err(|e| Error::arrow("failed to filter the items stream", e))?;
            if let (Some(selected), Some(ids)) = (&selected, batch.column_by_name(ID)) {
                let ids = arrow_cast::cast(ids, &arrow_schema::DataType::Utf8)
                    .map_err(|e| Error::arrow("failed to read item ids", e))?;
                let mut selected = selected.lock().expect("selected ids");
                selected.extend(ids.as_string::<i32>().iter().flatten().map(str::to_string));
            }
            if let Some((writer, shown)) = &mut spool {
                writer
                    .write(&batch)
                    .map_err(|e| Error::arrow(format!("failed to write `{shown}`"), e))?;
            }
            let (batch, count) = items::href::strip_secrets(&batch)?;
            stripped.fetch_add(count, Ordering::Relaxed);
            Ok(batch)
        };
        Some(select())
    });
    Ok(BatchReader::new(schema, selected_items))
}

/// Lock rows of the selected items only, as the original does when items were filtered.
fn lock_of_items(lock: BatchReader, ids: Arc<Mutex<HashSet<String>>>) -> BatchReader {
    let schema = lock.schema();
    let batches = lock.map(move |batch| {
        let batch = batch?;
        let Some(column) = batch.column_by_name("item_id") else {
            return Ok(batch.slice(0, 0));
        };
        let column = arrow_cast::cast(column, &arrow_schema::DataType::Utf8)
            .map_err(|e| Error::arrow("failed to read the asset lock", e))?;
        let ids = ids.lock().expect("selected ids");
        let keep: BooleanArray = column
            .as_string::<i32>()
            .iter()
            .map(|id| Some(id.is_some_and(|id| ids.contains(id))))
            .collect();
        arrow_select::filter::filter_record_batch(&batch, &keep)
            .map_err(|e| Error::arrow("failed to filter the asset lock", e))
    });
    BatchReader::new(schema, batches)
}

/// Copy the objects of the lock at `source` into `dir/assets/<item>/<asset><ext>` with the
/// relocation engine; the returned rows point at the package copies (package-relative keys).
fn package_assets(
    source: &Path,
    dir: &Path,
    stores: &Stores,
    options: &BuildOptions,
) -> Result<(BatchReader, Arc<RelocateReport>)> {
    let plan = PlanOptions {
        store_type: "file".into(),
        store_container: None,
        store_endpoint_url: None,
        key_prefix: dir.join(ASSETS_DIR).to_string_lossy().into_owned(),
        source_prefix: None,
        layout: KeyLayout::ItemAsset,
    };
    let relocate = RelocateOptions {
        destination: Destination::Plan(plan),
        dry_run: false,
        copy: options.copy,
        memory_limit: options.memory_limit,
        max_workers: options.copy_workers,
        keep_going: false,
        runtime: options.derive.runtime.clone(),
        // A sharded build's source lock is a shard stream, which relocation keeps as it is.
        shard: None,
    };
    // The package is a directory on disk, whatever store the caller gave for local files.
    let (copies, report) = asset_lock::relocate(
        asset_lock::read_parquet(source, CHUNK_ROWS)?,
        &stores.with_local_files().map_err(Error::StoreSettings)?,
        relocate,
        |_| {},
    )?;
    // Relocation keeps the source order, one row per row: the source lock (written by us in
    // the v1 schema) is read again alongside it for the facts the package keeps.
    let mut sources = asset_lock::read_parquet(source, CHUNK_ROWS)?.flat_map(|batch| match batch {
        Ok(batch) => from_batch(&batch).into_iter().map(Ok).collect::<Vec<_>>(),
        Err(e) => vec![Err(e)],
    });
    let root = dir.to_path_buf();
    // A sharded build's rows keep their positions, tagged as the build's (the copies' tag names
    // the staging directory, which differs from run to run).
    let tag = ShardTag::of(&copies.schema())?.map(|tag| ShardTag {
        run: "build".into(),
        ..tag
    });
    let out_schema = tag
        .as_ref()
        .map_or_else(asset_lock::schema, ShardTag::schema);
    let mut positions = Positions::default();
    let batches = copies.map(move |batch| {
        let batch = batch?;
        let at = positions.of(&batch);
        let mut rows = Vec::with_capacity(batch.num_rows());
        for copy in from_batch(&batch) {
            let source = sources
                .next()
                .ok_or(Error::Internal("the asset copies outnumber the lock rows"))??;
            rows.push(packaged_row(&root, source, copy)?);
        }
        let packaged = to_batch(&rows)?;
        match &tag {
            Some(tag) => tag.batch(&packaged, at),
            None => Ok(packaged),
        }
    });
    Ok((BatchReader::new(out_schema, batches), report))
}

/// The package's row for one copied asset.
fn packaged_row(root: &Path, source: LockRow, copy: LockRow) -> Result<LockRow> {
    if href_of(&source.location).is_none_or(|h| h.is_empty()) {
        return Err(Error::AssetWithoutLocation {
            item_id: source.item_id,
            asset_key: source.asset_key,
        });
    }
    let key = copy.location.key.clone().unwrap_or_default();
    let path = PathBuf::from(&key);
    let relative = path
        .strip_prefix(root)
        .ok()
        .filter(|p| {
            p.components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
        })
        .ok_or_else(|| Error::AssetEscapesPackage {
            item_id: source.item_id.clone(),
            asset_key: source.asset_key.clone(),
            key: key.clone(),
        })?;
    let meta = std::fs::metadata(&path).map_err(|e| Error::io("failed to read", &key, e))?;
    // The source's last-modified time stays the row's fact and becomes the copy's mtime, so
    // the row validates against the package's file on any machine and the build repeats.
    let modified = source
        .facts
        .last_modified
        .as_deref()
        .and_then(parse_time)
        .map(|time| -> Result<String> {
            let file = File::options()
                .write(true)
                .open(&path)
                .map_err(|e| Error::io("failed to open", &key, e))?;
            file.set_modified(SystemTime::from(time))
                .map_err(|e| Error::io("failed to set the modification time of", &key, e))?;
            Ok(iso_time(time))
        })
        .transpose()?;
    Ok(LockRow {
        item_id: source.item_id,
        asset_key: source.asset_key,
        location: crate::store::Location {
            store_type: Some("file".into()),
            store_container: None,
            key: Some(
                relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
            ),
        },
        endpoint: None,
        facts: crate::store::ObjectFacts {
            size: Some(i64::try_from(meta.len()).unwrap_or(i64::MAX)),
            etag: None,
            last_modified: modified,
            checksum: copy.facts.checksum,
        },
    })
}

/// Includes by their package name; an include that is missing, has no name, would replace a
/// table or `assets/`, or shares its name with another include is refused.
fn check_includes(includes: &[PathBuf]) -> Result<Vec<(PathBuf, String)>> {
    let mut named: Vec<(PathBuf, String)> = Vec::new();
    for include in includes {
        let shown = include.display();
        std::fs::metadata(include)
            .map_err(|e| Error::io("cannot include", shown.to_string(), e))?;
        let name = include
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::Include {
                include: shown.to_string(),
                problem: IncludeProblem::Unnamed,
            })?;
        if [ITEMS_FILE, LOCK_FILE, ASSETS_DIR].contains(&name.as_str()) {
            return Err(Error::Include {
                include: shown.to_string(),
                problem: IncludeProblem::ReplacesPackageFile(name),
            });
        }
        if let Some((other, _)) = named.iter().find(|(_, n)| *n == name) {
            return Err(Error::IncludeCollision {
                first: other.display().to_string(),
                second: shown.to_string(),
                name,
            });
        }
        named.push((include.clone(), name));
    }
    Ok(named)
}

/// Copy an include: files with their permissions and mtime, directories recursively. Links
/// inside an included directory are followed (as the original's `copytree`) when they resolve
/// inside it; a link to anything outside would put a file the user did not name into the
/// package, and is refused, as is a directory that contains itself.
fn copy_include(from: &Path, to: &Path) -> Result<()> {
    let root = from
        .canonicalize()
        .map_err(|e| Error::io("cannot include", from.display().to_string(), e))?;
    let mut ancestors = Vec::new();
    copy_tree(from, to, &root, &mut ancestors)
}

fn copy_tree(from: &Path, to: &Path, root: &Path, ancestors: &mut Vec<PathBuf>) -> Result<()> {
    let shown = from.display().to_string();
    let link = std::fs::symlink_metadata(from)
        .map_err(|e| Error::io("cannot include", &shown, e))?
        .file_type()
        .is_symlink();
    if link && !ancestors.is_empty() {
        let target = from
            .canonicalize()
            .map_err(|e| Error::io("cannot include", &shown, e))?;
        if !target.starts_with(root) {
            return Err(Error::UnsafeLink {
                path: shown,
                target: target.display().to_string(),
                root: root.display().to_string(),
            });
        }
    }
    let meta = std::fs::metadata(from).map_err(|e| Error::io("cannot include", &shown, e))?;
    if !meta.is_dir() {
        std::fs::copy(from, to).map_err(|e| Error::io("failed to copy", &shown, e))?;
        if let Ok(modified) = meta.modified() {
            let file = File::options()
                .write(true)
                .open(to)
                .map_err(|e| Error::io("failed to open", to.display().to_string(), e))?;
            file.set_modified(modified).map_err(|e| {
                Error::io(
                    "failed to set the modification time of",
                    to.display().to_string(),
                    e,
                )
            })?;
        }
        return Ok(());
    }
    let real = from
        .canonicalize()
        .map_err(|e| Error::io("cannot include", &shown, e))?;
    if ancestors.contains(&real) {
        return Err(Error::Include {
            include: shown,
            problem: IncludeProblem::Cycle,
        });
    }
    std::fs::create_dir_all(to)
        .map_err(|e| Error::io("failed to create", to.display().to_string(), e))?;
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .map_err(|e| Error::io("failed to list", &shown, e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io("failed to list", &shown, e))?;
    entries.sort_by_key(|e| e.file_name());
    ancestors.push(real);
    for entry in entries {
        copy_tree(&entry.path(), &to.join(entry.file_name()), root, ancestors)?;
    }
    ancestors.pop();
    Ok(())
}
