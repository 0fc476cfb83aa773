//! `asset-lock derive`: one lock row per selected STAC asset, with observed object facts
//! (ref §5.4, SPEC §4).
//!
//! Rows follow item order, then the order of the `assets` struct's fields. Departures from the
//! original, on purpose: relative hrefs resolve against the item's `self` link when it has an
//! absolute one (else they stay relative, and probing resolves them against the working
//! directory); a signed URL is probed whole but stored without its query; failures under
//! `--keep-going` are reported, not swallowed.
//!
//! Memory: one input batch, [`engine::CHUNKS_IN_FLIGHT`] + 1 chunks of at most
//! [`engine::CHUNK_ROWS`] rows, `max_workers` probes, and one output batch queued for the
//! consumer — whatever the input size.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_schema::DataType;

use super::engine::{self, Chunker, Cursor, Event};
use super::shard::{Shard, ShardTag};
use super::{LockRow, schema, to_batch};
use crate::batch::BatchReader;
use crate::checksum::{self, Strategy};
use crate::error::{Error, Result};
use crate::items::ItemFilter;
use crate::items::schema::{ASSETS, FILE_CHECKSUM, ID, LINKS};
use crate::runtime::{Runtime, Threads};
use crate::store::{
    ObjectFacts, ObjectRef, Stores, has_userinfo, normalize_endpoint, resolve_href,
};

/// Asset member holding the object's size.
pub const FILE_SIZE: &str = "file:size";
/// Asset member naming the store endpoint (written by `items promote-alternate`).
pub const ASSET_STORE_ENDPOINT: &str = "store_endpoint_url";
/// Asset key skipped unless asked for.
pub const METADATA_ASSET: &str = "metadata";
/// Default concurrent probes (SPEC §1; the original used 4).
pub const DEFAULT_MAX_WORKERS: usize = 32;

/// What `derive` selects and whether it probes.
#[derive(Debug, Clone)]
pub struct DeriveOptions {
    /// HEAD every object for its facts (`--probe-metadata`, the default).
    pub probe: bool,
    /// Items to keep (`--item-ids`, `--providers`).
    pub filter: ItemFilter,
    /// Only these asset keys, when not empty (`--asset-keys`); then `metadata` counts only
    /// when listed.
    pub asset_keys: HashSet<String>,
    /// Keep `metadata` assets (`--include-metadata-assets`).
    pub include_metadata_assets: bool,
    /// A failed probe keeps the row unprobed and is reported, instead of stopping the command.
    pub keep_going: bool,
    /// Concurrent probes, at least 1.
    pub max_workers: usize,
    /// Where each row's `file_checksum` comes from. The `calculate-*` strategies read objects,
    /// so they need `probe`.
    pub checksum: Strategy,
    /// Where the probes run.
    pub runtime: Runtime,
    /// Derive only this shard's rows, each with its position in the unsharded lock
    /// ([`super::shard`]).
    pub shard: Option<Shard>,
}

impl Default for DeriveOptions {
    fn default() -> Self {
        DeriveOptions {
            checksum: Strategy::Metadata,
            probe: true,
            filter: ItemFilter::default(),
            asset_keys: HashSet::new(),
            include_metadata_assets: false,
            keep_going: false,
            max_workers: DEFAULT_MAX_WORKERS,
            runtime: Runtime::Own,
            shard: None,
        }
    }
}

/// Live counts of a derive run (like [`RelocateReport`](super::RelocateReport)'s), final once
/// its output reader is exhausted.
#[derive(Debug, Default)]
pub struct DeriveReport {
    /// Rows written.
    pub rows: AtomicU64,
    /// Rows whose probe failed (only under `keep_going`).
    pub failed: AtomicU64,
    /// Hrefs whose query string (a possible signature) was left out of the lock.
    pub queries_dropped: AtomicU64,
    /// Hrefs and endpoints whose credentials (`user:password@`) were left out of the lock.
    pub credentials_dropped: AtomicU64,
    /// Rows written with a `file_checksum`.
    pub checksums: AtomicU64,
    /// Assets whose `file:checksum` was in no accepted form (their rows have none from it).
    pub malformed_checksums: AtomicU64,
    /// Objects read to their end and hashed (`calculate-*`), so far.
    pub hashed: AtomicU64,
    /// Rows that will be hashed, planned so far (`calculate-*`).
    pub to_hash: AtomicU64,
    /// Bytes read for hashing, so far.
    pub bytes_hashed: AtomicU64,
}

/// What `derive` tells its caller while it runs, in row order.
#[derive(Debug)]
#[non_exhaustive]
pub enum DeriveEvent<'a> {
    /// A probe failed under `keep_going`; the row is written without observed facts.
    ProbeFailed(&'a Error),
    /// An asset's `file:checksum` is in no accepted form; the row gets no checksum from it.
    MalformedChecksum {
        /// Item id.
        item_id: &'a str,
        /// Asset key.
        asset_key: &'a str,
        /// The value as the item has it.
        value: &'a str,
    },
}

/// A planned lock row.
#[derive(Debug)]
struct Planned {
    item_id: String,
    asset_key: String,
    target: ObjectRef,
    size: Option<i64>,
    /// The asset's `file:checksum`, normalised.
    checksum: Option<String>,
    /// The asset's `file:checksum` as given, when it is in no accepted form.
    malformed_checksum: Option<String>,
    /// Row number in the unsharded lock.
    position: u64,
}

/// One input batch, columns pulled out once.
struct Prepared {
    ids: StringArray,
    assets: Option<StructArray>,
    columns: Vec<AssetColumn>,
    self_hrefs: Vec<Option<String>>,
}

struct AssetColumn {
    key: String,
    href: StringArray,
    size: Option<Int64Array>,
    endpoint: Option<StringArray>,
    /// `file:checksum` as text; `Err` (the member as it is) when it cannot be text at all.
    checksum: Option<std::result::Result<StringArray, ArrayRef>>,
    present: Option<arrow_buffer::NullBuffer>,
}

fn utf8(column: &ArrayRef, what: &str) -> Result<StringArray> {
    let cast = arrow_cast::cast(column, &DataType::Utf8)
        .map_err(|e| Error::arrow(format!("items column `{what}` is not text"), e))?;
    Ok(cast.as_string::<i32>().clone())
}

fn prepare(batch: RecordBatch, filter: &ItemFilter) -> Result<Prepared> {
    let batch = filter
        .apply(batch)
        .map_err(|e| Error::arrow("failed to select items", e))?;
    let ids = match batch.column_by_name(ID) {
        Some(c) => utf8(c, ID)?,
        None if batch.num_rows() == 0 => StringArray::new_null(0),
        None => {
            return Err(Error::InvalidItem {
                location: Box::new(items_row(0)),
                problem: "the items stream has no `id` column".into(),
            });
        }
    };
    let assets = batch
        .column_by_name(ASSETS)
        .and_then(|c| c.as_struct_opt().cloned());
    let mut columns = Vec::new();
    if let Some(assets) = &assets {
        for (field, column) in assets.fields().iter().zip(assets.columns()) {
            let Some(asset) = column.as_struct_opt() else {
                continue;
            };
            let member = |name: &str| asset.column_by_name(name);
            let Some(href) = member("href") else {
                continue;
            };
            let path = format!("{ASSETS}.{}", field.name());
            let size = match member(FILE_SIZE) {
                // Any integer-convertible value; anything else is no size.
                Some(c) => arrow_cast::cast(c, &DataType::Int64)
                    .ok()
                    .map(|c| c.as_primitive::<arrow_array::types::Int64Type>().clone()),
                None => None,
            };
            columns.push(AssetColumn {
                key: field.name().clone(),
                href: utf8(href, &format!("{path}.href"))?,
                size,
                endpoint: member(ASSET_STORE_ENDPOINT)
                    .map(|c| utf8(c, &format!("{path}.{ASSET_STORE_ENDPOINT}")))
                    .transpose()?,
                checksum: member(FILE_CHECKSUM).map(|c| {
                    arrow_cast::cast(c, &DataType::Utf8)
                        .map(|text| text.as_string::<i32>().clone())
                        .map_err(|_| Arc::clone(c))
                }),
                present: asset.nulls().cloned(),
            });
        }
    }
    let self_hrefs = self_hrefs(&batch)?;
    Ok(Prepared {
        ids,
        assets,
        columns,
        self_hrefs,
    })
}

/// The first absolute `rel=self` link href of each row, when there is one.
fn self_hrefs(batch: &RecordBatch) -> Result<Vec<Option<String>>> {
    let rows = batch.num_rows();
    let Some(links) = batch
        .column_by_name(LINKS)
        .and_then(|c| c.as_list_opt::<i32>())
    else {
        return Ok(vec![None; rows]);
    };
    let Some(values) = links.values().as_struct_opt() else {
        return Ok(vec![None; rows]);
    };
    let (Some(href), Some(rel)) = (values.column_by_name("href"), values.column_by_name("rel"))
    else {
        return Ok(vec![None; rows]);
    };
    let href = utf8(href, "links.href")?;
    let rel = utf8(rel, "links.rel")?;
    Ok((0..rows)
        .map(|row| {
            if links.is_null(row) {
                return None;
            }
            let offsets = links.value_offsets();
            (offsets[row] as usize..offsets[row + 1] as usize)
                .find(|&i| rel.is_valid(i) && rel.value(i) == "self" && href.is_valid(i))
                .map(|i| href.value(i).to_string())
        })
        .collect())
}

fn items_row(row: usize) -> crate::error::ItemLocation {
    crate::error::ItemLocation {
        input: "items stream".into(),
        index: row as u64 + 1,
        line: None,
        id: None,
    }
}

fn value(column: &StringArray, row: usize) -> Option<&str> {
    column.is_valid(row).then(|| column.value(row))
}

/// Plan up to `limit` rows of `batch` from `cursor`.
fn plan_rows(
    batch: &Prepared,
    cursor: &mut Cursor,
    limit: usize,
    out: &mut Vec<Planned>,
    options: &DeriveOptions,
    report: &DeriveReport,
    next_position: &mut u64,
) -> Result<()> {
    let rows = batch.ids.len();
    let mut added = 0;
    while cursor.row < rows && added < limit {
        let row = cursor.row;
        let item_present = batch.assets.as_ref().is_some_and(|a| a.is_valid(row));
        while item_present && cursor.inner < batch.columns.len() && added < limit {
            let column = &batch.columns[cursor.inner];
            cursor.inner += 1;
            let wanted = if options.asset_keys.is_empty() {
                column.key != METADATA_ASSET || options.include_metadata_assets
            } else {
                options.asset_keys.contains(&column.key)
            };
            if !wanted || column.present.as_ref().is_some_and(|p| p.is_null(row)) {
                continue;
            }
            let Some(href) = value(&column.href, row).filter(|h| !h.is_empty()) else {
                continue;
            };
            let Some(item_id) = value(&batch.ids, row) else {
                return Err(Error::InvalidItem {
                    location: Box::new(items_row(row)),
                    problem: "has no `id`".into(),
                });
            };
            // Every row of the unsharded lock counts; a shard keeps its own.
            let position = *next_position;
            *next_position += 1;
            if options
                .shard
                .is_some_and(|shard| !shard.owns(item_id, &column.key))
            {
                continue;
            }
            let href = resolve_href(href, batch.self_hrefs[row].as_deref());
            let endpoint = column.endpoint.as_ref().and_then(|e| value(e, row));
            let endpoint_credentials = endpoint.is_some_and(has_userinfo);
            let (target, located) =
                ObjectRef::from_href(&href, endpoint.and_then(normalize_endpoint));
            if located.query_dropped {
                report.queries_dropped.fetch_add(1, Ordering::Relaxed);
            }
            if located.userinfo_dropped || endpoint_credentials {
                report.credentials_dropped.fetch_add(1, Ordering::Relaxed);
            }
            let (checksum, malformed_checksum) = match &column.checksum {
                None => (None, None),
                Some(Ok(text)) => match value(text, row) {
                    None => (None, None),
                    Some(given) => match checksum::normalize(given) {
                        Some(multihash) => (Some(multihash), None),
                        None => (None, Some(given.to_string())),
                    },
                },
                Some(Err(member)) if member.is_valid(row) => (None, Some("(not text)".to_string())),
                Some(Err(_)) => (None, None),
            };
            if options.checksum == Strategy::CalculateAlways
                || (options.checksum == Strategy::CalculateIfNeeded && checksum.is_none())
            {
                report.to_hash.fetch_add(1, Ordering::Relaxed);
            }
            out.push(Planned {
                item_id: item_id.to_string(),
                asset_key: column.key.clone(),
                target,
                size: column
                    .size
                    .as_ref()
                    .and_then(|s| s.is_valid(row).then(|| s.value(row))),
                checksum,
                malformed_checksum,
                position,
            });
            added += 1;
        }
        if !item_present || cursor.inner >= batch.columns.len() {
            cursor.row += 1;
            cursor.inner = 0;
        }
    }
    cursor.done = cursor.row >= rows;
    Ok(())
}

fn lock_batch(
    rows: &[(Planned, Option<ObjectFacts>)],
    tag: Option<&ShardTag>,
) -> Result<RecordBatch> {
    let lock_rows: Vec<LockRow> = rows
        .iter()
        .map(|(planned, facts)| {
            let facts = facts.as_ref();
            LockRow {
                item_id: planned.item_id.clone(),
                asset_key: planned.asset_key.clone(),
                location: planned.target.location.clone(),
                endpoint: planned.target.endpoint.clone(),
                // A probe that knows no size never clears the one from `file:size`.
                facts: ObjectFacts {
                    size: facts.and_then(|f| f.size).or(planned.size),
                    etag: facts.and_then(|f| f.etag.clone()),
                    last_modified: facts.and_then(|f| f.last_modified.clone()),
                    // Decided by the strategy when probed; the item's own otherwise.
                    checksum: match facts {
                        Some(f) => f.checksum.clone(),
                        None => planned.checksum.clone(),
                    },
                },
            }
        })
        .collect();
    let batch = to_batch(&lock_rows)?;
    match tag {
        Some(tag) => tag.batch(&batch, rows.iter().map(|(p, _)| p.position).collect()),
        None => Ok(batch),
    }
}

/// Derive a lock from an items stream: the returned reader yields lock batches (v1 schema) as
/// they are ready, in input order, while the items are still being read. Objects are probed
/// through `stores` (unless `options.probe` is off), and each row's checksum is found by
/// `options.checksum`. `on_event` hears, in row order, of every asset whose `file:checksum` is
/// malformed and of every row whose probe failed under `keep_going`; without it, the first
/// failure ends the stream with that error.
pub fn derive(
    items: BatchReader,
    stores: &Stores,
    options: DeriveOptions,
    mut on_event: impl FnMut(DeriveEvent<'_>) + Send + 'static,
) -> Result<(BatchReader, Arc<DeriveReport>)> {
    let reads = matches!(
        options.checksum,
        Strategy::CalculateAlways | Strategy::CalculateIfNeeded
    );
    if reads && !options.probe {
        return Err(Error::ChecksumNeedsProbe {
            strategy: options.checksum,
        });
    }
    let stores = options.probe.then(|| stores.clone());
    let report = Arc::new(DeriveReport::default());
    let thread_report = Arc::clone(&report);
    let tag = options.shard.map(|shard| ShardTag {
        shard,
        run: "derive".into(),
    });
    let output_schema = tag.as_ref().map_or_else(schema, ShardTag::schema);
    let run = move |tx: &SyncSender<Result<RecordBatch>>| -> Result<()> {
        let options = Arc::new(options);
        let plan_options = Arc::clone(&options);
        let plan_report = Arc::clone(&thread_report);
        let filter = options.filter.clone();
        let mut next_position = 0;
        let chunks = Chunker::new(
            items.map(move |b| b.and_then(|b| prepare(b, &filter))),
            move |batch: &Prepared, cursor: &mut Cursor, limit, out: &mut Vec<Planned>| {
                plan_rows(
                    batch,
                    cursor,
                    limit,
                    out,
                    &plan_options,
                    &plan_report,
                    &mut next_position,
                )
            },
        );
        let send = |rows: &[(Planned, Option<ObjectFacts>)]| -> Result<()> {
            let batch = lock_batch(rows, tag.as_ref())?;
            thread_report
                .rows
                .fetch_add(rows.len() as u64, Ordering::Relaxed);
            let with_checksum = rows
                .iter()
                .filter(|(planned, facts)| match facts {
                    Some(f) => f.checksum.is_some(),
                    None => planned.checksum.is_some(),
                })
                .count();
            thread_report
                .checksums
                .fetch_add(with_checksum as u64, Ordering::Relaxed);
            tx.send(Ok(batch)).map_err(|_| Error::OutputClosed)
        };
        let Some(stores) = stores else {
            for chunk in chunks {
                let rows: Vec<_> = chunk?.into_iter().map(|p| (p, None)).collect();
                rows.iter()
                    .for_each(|(planned, _)| malformed(planned, &thread_report, &mut on_event));
                send(&rows)?;
            }
            return Ok(());
        };
        let mut done = Vec::with_capacity(engine::CHUNK_ROWS);
        let strategy = options.checksum;
        engine::run_ordered(
            chunks,
            &options.runtime,
            // Hashing is CPU work: spread it over every core. Probes alone are many small
            // requests, cheaper on one thread.
            if reads { Threads::All } else { Threads::One },
            options.max_workers,
            None,
            |planned: Planned| {
                let stores = stores.clone();
                let report = Arc::clone(&thread_report);
                async move {
                    let facts = observe(&stores, &planned, strategy, &report).await;
                    (planned, facts)
                }
            },
            |event| {
                match event {
                    Event::Row((planned, Ok(facts))) => {
                        malformed(&planned, &thread_report, &mut on_event);
                        done.push((planned, Some(facts)));
                    }
                    Event::Row((planned, Err(source))) => {
                        malformed(&planned, &thread_report, &mut on_event);
                        let error = Error::Probe {
                            item_id: planned.item_id.clone(),
                            asset_key: planned.asset_key.clone(),
                            href: planned.target.display(),
                            source,
                        };
                        if !options.keep_going {
                            // Rows before this one are complete: hand them over first.
                            if !done.is_empty() {
                                send(&done)?;
                            }
                            return Err(error);
                        }
                        thread_report.failed.fetch_add(1, Ordering::Relaxed);
                        on_event(DeriveEvent::ProbeFailed(&error));
                        done.push((planned, None));
                    }
                    Event::ChunkEnd => {
                        send(&done)?;
                        done.clear();
                    }
                    Event::Idle => {}
                }
                Ok(())
            },
        )
    };
    Ok((engine::spawn_batches("derive", output_schema, run)?, report))
}

/// Tell of an asset whose `file:checksum` is malformed.
fn malformed(planned: &Planned, report: &DeriveReport, on_event: &mut impl FnMut(DeriveEvent<'_>)) {
    if let Some(value) = &planned.malformed_checksum {
        report.malformed_checksums.fetch_add(1, Ordering::Relaxed);
        on_event(DeriveEvent::MalformedChecksum {
            item_id: &planned.item_id,
            asset_key: &planned.asset_key,
            value,
        });
    }
}

/// One row's facts, its checksum found by `strategy`: the item's `file:checksum`, a full-object
/// checksum the store reports, an MD5 ETag, or the bytes' SHA-256 (read with one request that
/// also gives the facts). Under `calculate-always`, bytes that do not match the item's checksum
/// fail the row.
async fn observe(
    stores: &Stores,
    planned: &Planned,
    strategy: Strategy,
    report: &DeriveReport,
) -> std::result::Result<ObjectFacts, crate::store::StoreError> {
    let given = planned.checksum.as_deref();
    let read = match strategy {
        Strategy::CalculateAlways => true,
        // Straight to the bytes when no store checksum can come first: one request, not two.
        Strategy::CalculateIfNeeded => {
            given.is_none() && !stores.may_report_checksum(&planned.target)
        }
        Strategy::Metadata | Strategy::UseEtag => false,
    };
    if read {
        let hashed = stores
            .hash(&planned.target, given, &report.bytes_hashed)
            .await?;
        report.hashed.fetch_add(1, Ordering::Relaxed);
        return Ok(hashed.facts);
    }
    let mut facts = match given {
        Some(_) => stores.head(&planned.target).await?,
        None => stores.head_with_checksum(&planned.target).await?,
    };
    facts.checksum = given.map(str::to_string).or(facts.checksum);
    if strategy == Strategy::UseEtag && facts.checksum.is_none() {
        facts.checksum = facts.etag.as_deref().and_then(checksum::from_etag);
    }
    if strategy == Strategy::CalculateIfNeeded && facts.checksum.is_none() {
        let hashed = stores
            .hash(&planned.target, None, &report.bytes_hashed)
            .await?;
        report.hashed.fetch_add(1, Ordering::Relaxed);
        return Ok(hashed.facts);
    }
    Ok(facts)
}
