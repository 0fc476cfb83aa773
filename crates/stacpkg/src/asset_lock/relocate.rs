//! `asset-lock relocate`: copy asset bytes to another store and write the destination lock
//! (ref §5.6, SPEC §6).
//!
//! With `--store-type`, destinations are planned row by row ([`super::plan`]) and rows stream
//! out in source order as their copies finish. With `--destination-lock`, the source stream is
//! read into a map by `(item_id, asset_key)` (about 200 bytes per row: the only part of this
//! command whose memory follows the input) and the destination rows stream out in their order.
//!
//! Memory: buffered object bytes are capped by the copy [`Budget`]; rows as in `derive`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;

use arrow_array::RecordBatch;
use tokio_util::sync::CancellationToken;

use super::engine::{self, Event};
use super::plan::{PlanOptions, Planned, Planner, SourceRow};
use super::shard::{Positions, Shard, ShardTag};
use super::{LockRow, from_batch, normalize_at, read_parquet, row_chunks, schema, to_batch};
use crate::batch::BatchReader;
use crate::error::{Error, Result};
use crate::runtime::{Runtime, Threads};
use crate::store::{
    Budget, Copied, CopyOptions, CopyProgress, ObjectFacts, ObjectRef, StoreError, Stores, href_of,
};

/// Default parallel copies (SPEC §1; the original used 4).
pub const DEFAULT_COPY_WORKERS: usize = 8;
/// Default `--memory-limit-bytes`: 2 GiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 2 * 1024 * 1024 * 1024;

/// Where rows go.
#[derive(Debug, Clone)]
pub enum Destination {
    /// Plan destinations under a store (`--store-type …`).
    Plan(PlanOptions),
    /// Take destination rows from an asset-lock Parquet file (`--destination-lock`).
    Lock(PathBuf),
}

/// Everything `relocate` needs to know.
#[derive(Debug, Clone)]
pub struct RelocateOptions {
    /// Where rows go.
    pub destination: Destination,
    /// Write the planned rows without copying anything.
    pub dry_run: bool,
    /// How objects are written.
    pub copy: CopyOptions,
    /// Cap on buffered object bytes across all copies.
    pub memory_limit: u64,
    /// Parallel copies.
    pub max_workers: usize,
    /// A failed copy keeps its planned row (no facts) and is reported instead of stopping.
    pub keep_going: bool,
    /// Where the copies run.
    pub runtime: Runtime,
    /// Relocate only this shard's rows, each with its position in the unsharded lock
    /// ([`super::shard`]); a shard stream stays its own shard, with its positions.
    pub shard: Option<Shard>,
}

impl RelocateOptions {
    /// Options for `destination`, everything else the command line's defaults: copies that
    /// overwrite, 8 MiB parts one at a time, a 2 GiB memory limit, 8 copies at once.
    pub fn to(destination: Destination) -> Self {
        RelocateOptions {
            destination,
            dry_run: false,
            copy: CopyOptions::default(),
            memory_limit: DEFAULT_MEMORY_LIMIT,
            max_workers: DEFAULT_COPY_WORKERS,
            keep_going: false,
            runtime: Runtime::Own,
            shard: None,
        }
    }

    /// What a shard of this relocation is a shard of: where it copies to (no credentials).
    fn run(&self) -> String {
        match &self.destination {
            Destination::Plan(plan) => {
                let prefix = href_of(&crate::store::Location {
                    store_type: Some(plan.store_type.clone()),
                    store_container: plan.store_container.clone(),
                    key: Some(plan.key_prefix.clone()),
                })
                .unwrap_or_default();
                format!("relocate to {}", crate::store::redact(&prefix))
            }
            Destination::Lock(path) => format!(
                "relocate to the rows of {}",
                path.file_name().unwrap_or_default().to_string_lossy()
            ),
        }
    }
}

/// Live counts of a relocation (for progress reports), final when its reader is exhausted.
#[derive(Debug, Default)]
pub struct RelocateReport {
    /// Rows written.
    pub rows: AtomicU64,
    /// Rows read from the input so far.
    pub rows_seen: AtomicU64,
    /// Rows that need a copy, seen so far.
    pub to_copy: AtomicU64,
    /// Bytes of the rows that need a copy (from the lock's sizes), seen so far.
    pub bytes_to_copy: AtomicU64,
    /// The input has been read to its end (the totals above are final).
    pub input_done: AtomicBool,
    /// Objects written.
    pub copied: AtomicU64,
    /// Destinations kept because they already held the object (`--no-overwrite`).
    pub kept: AtomicU64,
    /// Rows whose copy failed (under `keep_going`).
    pub failed: AtomicU64,
    /// Bytes written.
    pub progress: CopyProgress,
    /// Rows whose location carried a query string (a possible signature), left out.
    pub queries_dropped: AtomicU64,
    /// Rows whose location or endpoint carried credentials (`user:password@`), left out.
    pub credentials_dropped: AtomicU64,
}

/// What `relocate` reports while it runs.
#[derive(Debug)]
pub enum RelocateEvent<'a> {
    /// A copy failed under `keep_going`.
    Failed(&'a Error),
    /// An existing destination of the source's size was kept (`--no-overwrite`).
    Kept {
        /// Item id.
        item_id: &'a str,
        /// Asset key.
        asset_key: &'a str,
        /// The destination href.
        href: String,
    },
}

/// A row to produce: the output row, the copy it needs first, and the checksum the copied
/// bytes must have (the source row's, else the destination row's).
#[derive(Debug)]
struct Job {
    output: LockRow,
    /// Row number in the unsharded output.
    position: u64,
    copy: Option<(ObjectRef, ObjectRef)>,
    expected: Option<String>,
}

fn target(row: &LockRow) -> ObjectRef {
    ObjectRef::new(row.location.clone(), row.endpoint.clone())
}

/// The copy a destination row needs, if any: none when the source is unknown, either href is
/// empty, or both are the same object.
fn copy_of(source: Option<&LockRow>, destination: &LockRow) -> Option<(ObjectRef, ObjectRef)> {
    let source = source?;
    let from = href_of(&source.location).filter(|h| !h.is_empty())?;
    let to = href_of(&destination.location).filter(|h| !h.is_empty())?;
    (from != to || source.endpoint != destination.endpoint)
        .then(|| (target(source), target(destination)))
}

/// Rows of a lock stream with their positions ([`Positions`]); query strings and credentials
/// left out of their locations are counted in `report`.
fn normalized_rows(
    reader: impl Iterator<Item = Result<RecordBatch>> + Send + 'static,
    report: &Arc<RelocateReport>,
) -> impl Iterator<Item = Result<Vec<(LockRow, u64)>>> + Send + 'static {
    let report = Arc::clone(report);
    let mut positions = Positions::default();
    let mut seen = 0;
    reader.map(move |batch| {
        let batch = batch?;
        let at = positions.of(&batch);
        let n = normalize_at(&batch, seen)?;
        seen += batch.num_rows() as u64;
        report
            .queries_dropped
            .fetch_add(n.queries_dropped as u64, Ordering::Relaxed);
        report
            .credentials_dropped
            .fetch_add(n.credentials_dropped as u64, Ordering::Relaxed);
        Ok(from_batch(&n.batch).into_iter().zip(at).collect())
    })
}

/// `rows`, then a mark in the report that the input is read to its end (progress totals final).
fn until_done<R>(
    rows: impl Iterator<Item = Result<Vec<R>>> + Send + 'static,
    report: &Arc<RelocateReport>,
) -> impl Iterator<Item = Result<Vec<R>>> + Send + 'static {
    let report = Arc::clone(report);
    rows.chain(std::iter::from_fn(move || {
        report.input_done.store(true, Ordering::Relaxed);
        None
    }))
}

/// Relocate the objects of a lock stream through `stores`; the returned reader yields the
/// destination lock in batches as copies finish. `on_event` hears of failures under
/// `keep_going` and of kept destinations.
pub fn relocate(
    source: BatchReader,
    stores: &Stores,
    options: RelocateOptions,
    mut on_event: impl FnMut(RelocateEvent<'_>) + Send + 'static,
) -> Result<(BatchReader, Arc<RelocateReport>)> {
    if !options.dry_run && options.copy.per_copy_bytes() > options.memory_limit {
        return Err(Error::MemoryLimitTooSmall {
            limit: options.memory_limit,
            needed: options.copy.per_copy_bytes(),
        });
    }
    if let Destination::Plan(plan) = &options.destination
        && plan.store_type == "s3"
        && !options.dry_run
        && options.copy.chunk_size < crate::store::S3_MIN_PART
    {
        return Err(Error::ChunkTooSmall {
            chunk_size: options.copy.chunk_size,
            minimum: crate::store::S3_MIN_PART,
        });
    }
    let tag = super::shard::of_input(&source.schema(), options.shard, || options.run())?;
    let output_schema = tag.as_ref().map_or_else(schema, ShardTag::schema);
    let stores = (!options.dry_run).then(|| stores.clone());
    let report = Arc::new(RelocateReport::default());
    let thread_report = Arc::clone(&report);
    let run = move |tx: &SyncSender<Result<RecordBatch>>| -> Result<()> {
        let owned = tag.as_ref().map(|tag| tag.shard);
        let jobs = jobs(source, &options, owned, Arc::clone(&thread_report))?;
        let mut positions: Vec<u64> = Vec::with_capacity(engine::CHUNK_ROWS);
        let send = |rows: &[LockRow], positions: &mut Vec<u64>| -> Result<()> {
            let batch = to_batch(rows)?;
            let batch = match &tag {
                Some(tag) => tag.batch(&batch, std::mem::take(positions))?,
                None => batch,
            };
            positions.clear();
            thread_report
                .rows
                .fetch_add(rows.len() as u64, Ordering::Relaxed);
            tx.send(Ok(batch)).map_err(|_| Error::OutputClosed)
        };
        let budget = Budget::new(options.memory_limit);
        let copy_options = options.copy;
        // A failure stops the copies in flight, which remove what they had started.
        let stop = CancellationToken::new();
        let mut done: Vec<LockRow> = Vec::with_capacity(engine::CHUNK_ROWS);
        engine::run_ordered(
            jobs,
            &options.runtime,
            Threads::All,
            options.max_workers,
            Some(&stop),
            |job: Job| {
                let stores = stores.clone();
                let budget = budget.clone();
                let report = Arc::clone(&thread_report);
                let stop = stop.clone();
                let keep_going = options.keep_going;
                async move {
                    let (Some(stores), Some((from, to))) = (stores, &job.copy) else {
                        return (job, Ok(None));
                    };
                    let copied = stores
                        .copy(
                            from,
                            to,
                            job.expected.as_deref(),
                            &copy_options,
                            &budget,
                            &report.progress,
                            &stop,
                        )
                        .await;
                    if !keep_going && matches!(&copied, Err(e) if *e != StoreError::Cancelled) {
                        // The run ends with this failure: the copies in flight stop now, not
                        // when the rows before this one are done.
                        stop.cancel();
                    }
                    (job, copied.map(Some))
                }
            },
            |event| {
                match event {
                    Event::Row((mut job, result)) => match result {
                        Ok(None) => {
                            positions.push(job.position);
                            done.push(job.output);
                        }
                        Ok(Some(Copied::Written(facts))) => {
                            thread_report.copied.fetch_add(1, Ordering::Relaxed);
                            job.output.facts = facts;
                            positions.push(job.position);
                            done.push(job.output);
                        }
                        Ok(Some(Copied::Kept(facts))) => {
                            thread_report.kept.fetch_add(1, Ordering::Relaxed);
                            on_event(RelocateEvent::Kept {
                                item_id: &job.output.item_id,
                                asset_key: &job.output.asset_key,
                                href: job
                                    .copy
                                    .as_ref()
                                    .map(|(_, to)| to.display())
                                    .unwrap_or_default(),
                            });
                            job.output.facts = facts;
                            positions.push(job.position);
                            done.push(job.output);
                        }
                        // Stopped because another copy failed; that failure ends the run.
                        Err(StoreError::Cancelled) => {}
                        Err(source) => {
                            let (from, to) = job.copy.as_ref().expect("only copies fail");
                            let error = Error::Copy {
                                row: format!(
                                    "item `{}` asset `{}`",
                                    job.output.item_id, job.output.asset_key
                                ),
                                from: from.display(),
                                to: to.display(),
                                source,
                            };
                            if !options.keep_going {
                                if !done.is_empty() {
                                    send(&done, &mut positions)?;
                                }
                                return Err(error);
                            }
                            thread_report.failed.fetch_add(1, Ordering::Relaxed);
                            on_event(RelocateEvent::Failed(&error));
                            job.output.facts.etag = None;
                            job.output.facts.last_modified = None;
                            positions.push(job.position);
                            done.push(job.output);
                        }
                    },
                    Event::ChunkEnd => {
                        send(&done, &mut positions)?;
                        done.clear();
                    }
                    Event::Idle => {}
                }
                Ok(())
            },
        )
    };
    Ok((
        engine::spawn_batches("relocate", output_schema, run)?,
        report,
    ))
}

/// The jobs of a run, in output order, in chunks.
fn jobs(
    source: BatchReader,
    options: &RelocateOptions,
    shard: Option<Shard>,
    report: Arc<RelocateReport>,
) -> Result<Box<dyn Iterator<Item = Result<Vec<Job>>> + Send>> {
    let owns = move |row: &LockRow| shard.is_none_or(|s| s.owns(&row.item_id, &row.asset_key));
    let count = move |report: &RelocateReport, job: &Job, source_size: Option<i64>| {
        report.rows_seen.fetch_add(1, Ordering::Relaxed);
        if job.copy.is_some() {
            report.to_copy.fetch_add(1, Ordering::Relaxed);
            let size = source_size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
            report.bytes_to_copy.fetch_add(size, Ordering::Relaxed);
        }
    };
    let dry_run = options.dry_run;
    match &options.destination {
        Destination::Plan(plan) => {
            let mut planner = Planner::new(plan.clone());
            let endpoint = planner.endpoint().map(str::to_string);
            let rows = until_done(normalized_rows(source, &report), &report);
            Ok(Box::new(row_chunks(rows, move |(row, position)| {
                // Every row is planned, so that a shard refuses the collisions the unsharded run
                // would; only its own rows become jobs.
                let planned = planner.plan(&SourceRow {
                    item_id: &row.item_id,
                    asset_key: &row.asset_key,
                    location: &row.location,
                })?;
                if !owns(row) {
                    return Ok(None);
                }
                let position = *position;
                let job = match planned {
                    Planned::Unmapped => Job {
                        output: row.clone(),
                        position,
                        copy: None,
                        expected: None,
                    },
                    Planned::To(location) => {
                        let output = LockRow {
                            item_id: row.item_id.clone(),
                            asset_key: row.asset_key.clone(),
                            location,
                            endpoint: endpoint.clone(),
                            // Size and checksum describe the content, which the copy keeps
                            // (a dry run's plan says what the destination should hold); the
                            // store's own facts are the destination's to tell.
                            facts: ObjectFacts {
                                size: row.facts.size,
                                etag: None,
                                last_modified: None,
                                checksum: row.facts.checksum.clone(),
                            },
                        };
                        let copy = if dry_run {
                            None
                        } else {
                            copy_of(Some(row), &output)
                        };
                        Job {
                            output,
                            position,
                            copy,
                            expected: row.facts.checksum.clone(),
                        }
                    }
                };
                count(&report, &job, row.facts.size);
                Ok(Some(job))
            })))
        }
        Destination::Lock(path) => {
            let mut sources: HashMap<(String, String), LockRow> = HashMap::new();
            for rows in normalized_rows(source, &report) {
                for (row, _) in rows? {
                    // The last duplicate wins, as in the original.
                    sources.insert((row.item_id.clone(), row.asset_key.clone()), row);
                }
            }
            let destinations = read_parquet(path, engine::CHUNK_ROWS)?;
            let rows = until_done(normalized_rows(destinations, &report), &report);
            Ok(Box::new(row_chunks(rows, move |(row, position)| {
                if !owns(row) {
                    return Ok(None);
                }
                let source = sources.get(&(row.item_id.clone(), row.asset_key.clone()));
                let copy = if dry_run { None } else { copy_of(source, row) };
                let expected = source
                    .and_then(|s| s.facts.checksum.clone())
                    .or_else(|| row.facts.checksum.clone());
                let job = Job {
                    output: row.clone(),
                    position: *position,
                    copy,
                    expected,
                };
                count(&report, &job, source.and_then(|s| s.facts.size));
                Ok(Some(job))
            })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asset_lock::plan::KeyLayout;
    use crate::store::Location;
    use object_store::memory::InMemory;
    use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

    fn run<T>(work: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(work)
    }

    /// Two in-memory buckets, `s3://src` holding `a.bin` and `b.bin`, and `s3://dst`.
    fn buckets() -> (Stores, Arc<InMemory>) {
        let source = Arc::new(InMemory::new());
        let destination = Arc::new(InMemory::new());
        for (name, len) in [("a.bin", 10usize), ("b.bin", 6 * 1024 * 1024)] {
            let path = object_store::path::Path::from(name);
            run(source.put(&path, PutPayload::from(vec![7u8; len]))).unwrap();
        }
        let stores = Stores::builder()
            .register("s3://src", source as Arc<dyn ObjectStore>)
            .unwrap()
            .register("s3://dst", destination.clone() as Arc<dyn ObjectStore>)
            .unwrap()
            .build()
            .unwrap();
        (stores, destination)
    }

    fn lock() -> BatchReader {
        let rows: Vec<LockRow> = ["a.bin", "b.bin"]
            .iter()
            .map(|key| LockRow {
                item_id: "item".into(),
                asset_key: key.trim_end_matches(".bin").into(),
                location: Location {
                    store_type: Some("s3".into()),
                    store_container: Some("src".into()),
                    key: Some((*key).into()),
                },
                endpoint: None,
                facts: ObjectFacts::default(),
            })
            .collect();
        BatchReader::new(schema(), std::iter::once(to_batch(&rows)))
    }

    fn relocated(reader: BatchReader) -> Vec<LockRow> {
        reader.flat_map(|b| from_batch(&b.unwrap())).collect()
    }

    #[test]
    fn objects_are_copied_between_stores_and_the_lock_points_at_the_copies() {
        let (stores, destination) = buckets();
        let mut options = RelocateOptions::to(Destination::Plan(PlanOptions::bucket(
            "s3", "dst", "mirror",
        )));
        options.copy.chunk_size = crate::store::S3_MIN_PART;
        let (rows, report) = relocate(lock(), &stores, options, |_| {}).unwrap();
        let rows = relocated(rows);
        assert_eq!(report.copied.load(Ordering::Relaxed), 2);
        assert_eq!(
            rows.iter()
                .map(|r| r.location.key.clone().unwrap())
                .collect::<Vec<_>>(),
            ["mirror/item/a.bin", "mirror/item/b.bin"]
        );
        assert_eq!(rows[1].facts.size, Some(6 * 1024 * 1024));
        let copy = run(destination.get(&"mirror/item/b.bin".into())).unwrap();
        assert_eq!(run(copy.bytes()).unwrap().len(), 6 * 1024 * 1024);
    }

    #[test]
    fn a_dry_run_plans_without_copying() {
        let (stores, destination) = buckets();
        let mut plan = PlanOptions::bucket("s3", "dst", "mirror");
        plan.layout = KeyLayout::SourceKey;
        let options = RelocateOptions {
            dry_run: true,
            ..RelocateOptions::to(Destination::Plan(plan))
        };
        let (rows, report) = relocate(lock(), &stores, options, |_| {}).unwrap();
        let rows = relocated(rows);
        assert_eq!(rows[0].location.key.as_deref(), Some("mirror/a.bin"));
        assert_eq!(report.copied.load(Ordering::Relaxed), 0);
        assert!(run(destination.head(&"mirror/a.bin".into())).is_err());
    }
}
