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
use super::{LockRow, schema, to_batch};
use crate::batch::BatchReader;
use crate::error::{Error, Result};
use crate::items::ItemFilter;
use crate::items::schema::{ASSETS, ID, LINKS};
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
    /// Where the probes run.
    pub runtime: Runtime,
}

impl Default for DeriveOptions {
    fn default() -> Self {
        DeriveOptions {
            probe: true,
            filter: ItemFilter::default(),
            asset_keys: HashSet::new(),
            include_metadata_assets: false,
            keep_going: false,
            max_workers: DEFAULT_MAX_WORKERS,
            runtime: Runtime::Own,
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
}

/// A planned lock row.
#[derive(Debug)]
struct Planned {
    item_id: String,
    asset_key: String,
    target: ObjectRef,
    size: Option<i64>,
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
            out.push(Planned {
                item_id: item_id.to_string(),
                asset_key: column.key.clone(),
                target,
                size: column
                    .size
                    .as_ref()
                    .and_then(|s| s.is_valid(row).then(|| s.value(row))),
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

fn lock_batch(rows: &[(Planned, Option<ObjectFacts>)]) -> Result<RecordBatch> {
    let rows: Vec<LockRow> = rows
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
                },
            }
        })
        .collect();
    to_batch(&rows)
}

/// Derive a lock from an items stream: the returned reader yields lock batches (v1 schema) as
/// they are ready, in input order, while the items are still being read. Objects are probed
/// through `stores` (unless `options.probe` is off). `on_failure` hears of every row whose probe
/// failed under `keep_going`; without it, the first failure ends the stream with that error.
pub fn derive(
    items: BatchReader,
    stores: &Stores,
    options: DeriveOptions,
    mut on_failure: impl FnMut(&Error) + Send + 'static,
) -> Result<(BatchReader, Arc<DeriveReport>)> {
    let stores = options.probe.then(|| stores.clone());
    let report = Arc::new(DeriveReport::default());
    let thread_report = Arc::clone(&report);
    let run = move |tx: &SyncSender<Result<RecordBatch>>| -> Result<()> {
        let options = Arc::new(options);
        let plan_options = Arc::clone(&options);
        let plan_report = Arc::clone(&thread_report);
        let filter = options.filter.clone();
        let chunks = Chunker::new(
            items.map(move |b| b.and_then(|b| prepare(b, &filter))),
            move |batch: &Prepared, cursor: &mut Cursor, limit, out: &mut Vec<Planned>| {
                plan_rows(batch, cursor, limit, out, &plan_options, &plan_report)
            },
        );
        let send = |rows: &[(Planned, Option<ObjectFacts>)]| -> Result<()> {
            let batch = lock_batch(rows)?;
            thread_report
                .rows
                .fetch_add(rows.len() as u64, Ordering::Relaxed);
            tx.send(Ok(batch)).map_err(|_| Error::OutputClosed)
        };
        let Some(stores) = stores else {
            for chunk in chunks {
                let rows: Vec<_> = chunk?.into_iter().map(|p| (p, None)).collect();
                send(&rows)?;
            }
            return Ok(());
        };
        let mut done = Vec::with_capacity(engine::CHUNK_ROWS);
        engine::run_ordered(
            chunks,
            &options.runtime,
            Threads::One,
            options.max_workers,
            None,
            |planned: Planned| {
                let stores = stores.clone();
                async move {
                    let facts = stores.head(&planned.target).await;
                    (planned, facts)
                }
            },
            |event| {
                match event {
                    Event::Row((planned, Ok(facts))) => done.push((planned, Some(facts))),
                    Event::Row((planned, Err(source))) => {
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
                        on_failure(&error);
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
    Ok((engine::spawn_batches("derive", schema(), run)?, report))
}
