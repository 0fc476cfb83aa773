//! The asset lock (`assets.lock.parquet`): one row per STAC asset, with a structured location
//! and observed object facts (ref §5, SPEC §4, seed 004).
//!
//! | command | library function |
//! |---|---|
//! | `asset-lock derive` | [`derive()`] |
//! | `asset-lock validate` | [`validate`] |
//! | `asset-lock relocate` | [`relocate`] (planned by [`PlanOptions`], copies by [`crate::store::Stores::copy`]) |
//! | `asset-lock from-parquet` | [`read_parquet`]; a file on a store: [`read_parquet_at`]; several, or a shard merge: [`read_parquet_files`] |
//! | `asset-lock to-parquet` | [`crate::ipc::read_stream`] + [`write_parquet`] (or [`write_parquet_to`]) |
//! | `--shard` | [`Shard`] in [`DeriveOptions`], [`ValidateOptions`], [`RelocateOptions`]; see [`shard`] |
//!
//! Every producer writes exactly the v1 schema ([`schema`]); [`normalize`] brings any lock-shaped
//! batch to it (aliases, legacy `href`, `size`), batch by batch.

mod derive;
mod engine;
mod plan;
mod relocate;
pub mod shard;
mod validate;

use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::batch::BatchReader;
use crate::error::{Error, Result, StreamKind};
use crate::files::{FileRef, Sink};
use crate::items::schema::{META_KIND, META_VERSION, SCHEMA_VERSION};
use crate::runtime::Runtime;
pub use derive::{
    ASSET_STORE_ENDPOINT, DEFAULT_MAX_WORKERS, DeriveEvent, DeriveOptions, DeriveReport, FILE_SIZE,
    METADATA_ASSET, derive,
};
pub(crate) use engine::CHUNK_ROWS;
pub use plan::{KeyLayout, PlanOptions};
pub use relocate::{
    DEFAULT_COPY_WORKERS, DEFAULT_MEMORY_LIMIT, Destination, RelocateEvent, RelocateOptions,
    RelocateReport, relocate,
};
pub use shard::{Shard, ShardTag};
pub use validate::{ValidateEvent, ValidateOptions, ValidateReport, Validation, validate};

use crate::store::{
    Location, Stores, has_userinfo, href_of, locate, normalize_endpoint, normalize_store_type,
};

/// STAC Item id (required).
pub const ITEM_ID: &str = "item_id";
/// STAC Asset key inside the item (required).
pub const ASSET_KEY: &str = "asset_key";
/// `file`, `s3`, `gs`, `az`, `http` or `https`.
pub const STORE_TYPE: &str = "store_type";
/// Bucket, container, or HTTP origin.
pub const STORE_CONTAINER: &str = "store_container";
/// Object-store endpoint, when the container alone is ambiguous.
pub const STORE_ENDPOINT_URL: &str = "store_endpoint_url";
/// Object key or path.
pub const KEY: &str = "key";
/// Object size in bytes.
pub const SIZE_BYTES: &str = "size_bytes";
/// Backend validator, verbatim (quotes kept).
pub const ETAG: &str = "etag";
/// Backend last-modified time, ISO-8601 text.
pub const LAST_MODIFIED: &str = "last_modified";
/// Content checksum, a lowercase multihash in hex ([`crate::checksum`]); optional on input.
pub const FILE_CHECKSUM: &str = "file_checksum";
/// Accepted on input as an alias of `size_bytes`.
pub const LEGACY_SIZE: &str = "size";
/// Accepted on input: a plain href, turned into a location when the row has none.
pub const LEGACY_HREF: &str = "href";

/// The columns of the v1 lock, in order. Locks without the last one (`file_checksum`, the
/// Python original's nine columns) are read with a null checksum.
pub const COLUMNS: [&str; 10] = [
    ITEM_ID,
    ASSET_KEY,
    STORE_TYPE,
    STORE_CONTAINER,
    STORE_ENDPOINT_URL,
    KEY,
    SIZE_BYTES,
    ETAG,
    LAST_MODIFIED,
    FILE_CHECKSUM,
];

/// The exact v1 schema: strings except `size_bytes` (int64); `item_id`, `asset_key` not null.
pub fn schema() -> SchemaRef {
    let fields = COLUMNS.iter().map(|name| {
        let data_type = if *name == SIZE_BYTES {
            DataType::Int64
        } else {
            DataType::Utf8
        };
        Field::new(*name, data_type, !matches!(*name, ITEM_ID | ASSET_KEY))
    });
    Arc::new(
        Schema::new(fields.collect::<Vec<_>>()).with_metadata(
            [
                (
                    META_KIND.to_string(),
                    StreamKind::AssetLock.as_str().to_string(),
                ),
                (META_VERSION.to_string(), SCHEMA_VERSION.to_string()),
            ]
            .into_iter()
            .collect::<std::collections::HashMap<_, _>>(),
        ),
    )
}

/// A lock batch in the v1 schema, and how many query strings were left out of its locations.
#[derive(Debug)]
pub struct Normalized {
    /// The batch, exactly [`schema`].
    pub batch: RecordBatch,
    /// Rows whose href or container carried a query string (a possible signature) that the lock
    /// does not keep.
    pub queries_dropped: usize,
    /// Rows whose href, container or endpoint carried credentials (`user:password@`) that the
    /// lock does not keep.
    pub credentials_dropped: usize,
}

fn text_column(batch: &RecordBatch, name: &str) -> Result<Option<StringArray>> {
    let Some(column) = batch.column_by_name(name) else {
        return Ok(None);
    };
    let cast = arrow_cast::cast(column, &DataType::Utf8)
        .map_err(|e| Error::arrow(format!("asset lock column `{name}` is not text"), e))?;
    Ok(Some(cast.as_string::<i32>().clone()))
}

fn value(column: &Option<StringArray>, row: usize) -> Option<&str> {
    column
        .as_ref()
        .filter(|c| c.is_valid(row))
        .map(|c| c.value(row))
}

/// Bring a lock-shaped batch to the v1 schema (ref §5.1): missing columns become nulls, unknown
/// ones are dropped, store-type aliases normalised (unknown types become null), endpoints
/// normalised, `size` accepted for `size_bytes`, `file_checksum` normalised to a lowercase
/// multihash (a value in no accepted form is an error naming the row), and a legacy `href`
/// located when the row has no `store_type` and no `key`. http(s) locations never keep a query string (SPEC §4), and no
/// location or endpoint keeps credentials.
pub fn normalize(batch: &RecordBatch) -> Result<Normalized> {
    let rows = batch.num_rows();
    let item_id = text_column(batch, ITEM_ID)?;
    let asset_key = text_column(batch, ASSET_KEY)?;
    for (name, column) in [(ITEM_ID, &item_id), (ASSET_KEY, &asset_key)] {
        let missing = match column {
            None if rows > 0 => Some(0),
            None => None,
            Some(c) => (0..rows).find(|r| c.is_null(*r)),
        };
        if let Some(row) = missing {
            return Err(Error::InvalidLock {
                row: row as u64 + 1,
                problem: format!("has no `{name}`"),
            });
        }
    }
    let store_type = text_column(batch, STORE_TYPE)?;
    let container = text_column(batch, STORE_CONTAINER)?;
    let endpoint = text_column(batch, STORE_ENDPOINT_URL)?;
    let key = text_column(batch, KEY)?;
    let etag = text_column(batch, ETAG)?;
    let last_modified = text_column(batch, LAST_MODIFIED)?;
    let checksums = match text_column(batch, FILE_CHECKSUM)? {
        Some(column) => Some(normalize_checksums(&column)?),
        None => None,
    };
    let href = text_column(batch, LEGACY_HREF)?;
    let size = match batch
        .column_by_name(SIZE_BYTES)
        .or_else(|| batch.column_by_name(LEGACY_SIZE))
    {
        Some(column) => Some(
            arrow_cast::cast(column, &DataType::Int64)
                .map_err(|e| Error::arrow("asset lock column `size_bytes` is not an integer", e))?,
        ),
        None => None,
    };

    let mut types = StringBuilder::new();
    let mut containers = StringBuilder::new();
    let mut endpoints = StringBuilder::new();
    let mut keys = StringBuilder::new();
    let mut queries_dropped = 0;
    let mut credentials_dropped = 0;
    for row in 0..rows {
        let mut location = Location {
            store_type: value(&store_type, row)
                .and_then(normalize_store_type)
                .map(str::to_string),
            store_container: value(&container, row).map(str::to_string),
            key: value(&key, row).map(str::to_string),
        };
        let blank = |s: &Option<String>| s.as_deref().is_none_or(str::is_empty);
        if blank(&location.store_type)
            && blank(&location.key)
            && let Some(href) = value(&href, row).filter(|h| !h.is_empty())
        {
            let located = locate(href);
            queries_dropped += usize::from(located.query_dropped);
            credentials_dropped += usize::from(located.userinfo_dropped);
            location = located.location;
            location.store_type = location
                .store_type
                .as_deref()
                .and_then(normalize_store_type)
                .map(str::to_string);
        }
        if matches!(location.store_type.as_deref(), Some("http" | "https"))
            && location
                .store_container
                .as_deref()
                .is_some_and(|c| c.contains('?') || has_userinfo(c))
        {
            // A signed URL stored whole as the container (as the original did), or an origin
            // with credentials: keep only where it points.
            let signed = href_of(&location).unwrap_or_default();
            let located = locate(&signed);
            queries_dropped += usize::from(located.query_dropped);
            credentials_dropped += usize::from(located.userinfo_dropped);
            location = located.location;
        }
        let row_endpoint = value(&endpoint, row);
        credentials_dropped += usize::from(row_endpoint.is_some_and(has_userinfo));
        types.append_option(location.store_type);
        containers.append_option(location.store_container);
        endpoints.append_option(row_endpoint.and_then(normalize_endpoint));
        keys.append_option(location.key);
    }
    let strings = |column: Option<StringArray>| -> ArrayRef {
        Arc::new(column.unwrap_or_else(|| StringArray::new_null(rows)))
    };
    let size: ArrayRef = match size {
        Some(column) => column,
        None => Arc::new(Int64Array::new_null(rows)),
    };
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            strings(item_id),
            strings(asset_key),
            Arc::new(types.finish()),
            Arc::new(containers.finish()),
            Arc::new(endpoints.finish()),
            Arc::new(keys.finish()),
            size,
            strings(etag),
            strings(last_modified),
            strings(checksums),
        ],
    )
    .map_err(|e| Error::arrow("failed to build asset lock rows", e))?;
    Ok(Normalized {
        batch,
        queries_dropped,
        credentials_dropped,
    })
}

/// A `file_checksum` column with every value as a lowercase multihash; a value in no accepted
/// form is an error naming its row (1-based within the batch).
fn normalize_checksums(column: &StringArray) -> Result<StringArray> {
    let mut out = StringBuilder::with_capacity(column.len(), column.len() * 68);
    for row in 0..column.len() {
        let text = column.is_valid(row).then(|| column.value(row));
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            out.append_null();
            continue;
        };
        match crate::checksum::normalize(text) {
            Some(multihash) => out.append_value(multihash),
            None => {
                return Err(Error::InvalidLock {
                    row: row as u64 + 1,
                    problem: format!(
                        "has a `{FILE_CHECKSUM}` that is no multihash or `ALGORITHM:HEX` checksum: `{}`",
                        text.escape_debug()
                    ),
                });
            }
        }
    }
    Ok(out.finish())
}

/// One lock row, owned: what relocation and derive work with between batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRow {
    /// Item id.
    pub item_id: String,
    /// Asset key.
    pub asset_key: String,
    /// Where the object lives.
    pub location: Location,
    /// `store_endpoint_url`.
    pub endpoint: Option<String>,
    /// `size_bytes`, `etag`, `last_modified`, `file_checksum`.
    pub facts: crate::store::ObjectFacts,
}

/// The rows of a batch already in the v1 schema (see [`normalize`]).
pub fn from_batch(batch: &RecordBatch) -> Vec<LockRow> {
    let text = |name: &str| batch.column_by_name(name).map(|c| c.as_string::<i32>());
    let get = |column: Option<&StringArray>, row: usize| {
        column
            .filter(|c| c.is_valid(row))
            .map(|c| c.value(row).to_string())
    };
    let (item_id, asset_key, store_type, container, endpoint, key) = (
        text(ITEM_ID),
        text(ASSET_KEY),
        text(STORE_TYPE),
        text(STORE_CONTAINER),
        text(STORE_ENDPOINT_URL),
        text(KEY),
    );
    let (etag, modified, checksum) = (text(ETAG), text(LAST_MODIFIED), text(FILE_CHECKSUM));
    let size = batch
        .column_by_name(SIZE_BYTES)
        .map(|c| c.as_primitive::<arrow_array::types::Int64Type>());
    (0..batch.num_rows())
        .map(|row| LockRow {
            item_id: get(item_id, row).unwrap_or_default(),
            asset_key: get(asset_key, row).unwrap_or_default(),
            location: Location {
                store_type: get(store_type, row),
                store_container: get(container, row),
                key: get(key, row),
            },
            endpoint: get(endpoint, row),
            facts: crate::store::ObjectFacts {
                size: size.and_then(|s| s.is_valid(row).then(|| s.value(row))),
                etag: get(etag, row),
                last_modified: get(modified, row),
                checksum: get(checksum, row),
            },
        })
        .collect()
}

/// A v1 lock batch from rows.
pub fn to_batch(rows: &[LockRow]) -> Result<RecordBatch> {
    let mut text: Vec<StringBuilder> = (0..9).map(|_| StringBuilder::new()).collect();
    let mut sizes = arrow_array::builder::Int64Builder::with_capacity(rows.len());
    for row in rows {
        text[0].append_value(&row.item_id);
        text[1].append_value(&row.asset_key);
        text[2].append_option(row.location.store_type.as_deref());
        text[3].append_option(row.location.store_container.as_deref());
        text[4].append_option(row.endpoint.as_deref());
        text[5].append_option(row.location.key.as_deref());
        sizes.append_option(row.facts.size);
        text[6].append_option(row.facts.etag.as_deref());
        text[7].append_option(row.facts.last_modified.as_deref());
        text[8].append_option(row.facts.checksum.as_deref());
    }
    let mut columns: Vec<ArrayRef> = text
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    columns.insert(6, Arc::new(sizes.finish()));
    RecordBatch::try_new(schema(), columns)
        .map_err(|e| Error::arrow("failed to build asset lock rows", e))
}

/// [`normalize`] a batch that follows `rows_before` rows of its stream: row numbers in errors
/// count across the whole stream, not within the batch.
pub(crate) fn normalize_at(batch: &RecordBatch, rows_before: u64) -> Result<Normalized> {
    normalize(batch).map_err(|e| match e {
        Error::InvalidLock { row, problem } => Error::InvalidLock {
            row: row + rows_before,
            problem,
        },
        other => other,
    })
}

/// Normalise a lock stream batch by batch ([`normalize_at`]).
pub(crate) fn normalized(
    reader: impl Iterator<Item = Result<RecordBatch>>,
) -> impl Iterator<Item = Result<Normalized>> {
    let mut seen = 0u64;
    reader.map(move |batch| {
        let normalized = normalize_at(&batch?, seen)?;
        seen += normalized.batch.num_rows() as u64;
        Ok(normalized)
    })
}

/// Work items made from rows (lock rows, or lock rows with their positions), one per row that
/// `work_of` keeps, in chunks of at most [`CHUNK_ROWS`] (one input batch of rows held at a time).
pub(crate) fn row_chunks<R, J>(
    rows: impl Iterator<Item = Result<Vec<R>>> + Send + 'static,
    mut work_of: impl FnMut(&R) -> Result<Option<J>> + Send + 'static,
) -> impl Iterator<Item = Result<Vec<J>>> + Send + 'static
where
    R: Send + 'static,
    J: Send + 'static,
{
    engine::Chunker::new(
        rows,
        move |rows: &Vec<R>, cursor: &mut engine::Cursor, limit, out: &mut Vec<J>| {
            let mut added = 0;
            while cursor.row < rows.len() && added < limit {
                if let Some(job) = work_of(&rows[cursor.row])? {
                    out.push(job);
                    added += 1;
                }
                cursor.row += 1;
            }
            cursor.done = cursor.row >= rows.len();
            Ok(())
        },
    )
}

/// Read an asset-lock Parquet file as a batch stream of at most `batch_size` rows per batch;
/// the file's schema is streamed unchanged (ref §5.1). A file holding items is rejected.
pub fn read_parquet(path: &std::path::Path, batch_size: usize) -> Result<BatchReader> {
    crate::items::geoparquet::read_kind(
        path,
        batch_size,
        crate::items::ItemFilter::default(),
        StreamKind::AssetLock,
    )
}

/// What [`write_parquet`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockWriteReport {
    /// Rows written.
    pub rows: u64,
    /// Query strings left out of locations (see [`Normalized`]).
    pub queries_dropped: usize,
    /// Credentials left out of locations and endpoints (see [`Normalized`]).
    pub credentials_dropped: usize,
}

/// Write a lock stream to Parquet in the v1 schema, batch by batch (each batch normalised), ZSTD,
/// atomically (temporary file, then rename). A shard stream ([`shard`]) keeps its positions and
/// its tag, so that its file can be merged.
pub fn write_parquet(reader: BatchReader, path: &std::path::Path) -> Result<LockWriteReport> {
    crate::files::write_local_with(path, |sink, name| write_parquet_into(reader, sink, name))
}

/// [`write_parquet`] to `file`, a local path or an object in `stores`; an object is uploaded in
/// parts and appears only when complete (a failure leaves none and replaces none).
pub fn write_parquet_to(
    reader: BatchReader,
    file: &FileRef,
    stores: &Stores,
    runtime: &Runtime,
) -> Result<LockWriteReport> {
    crate::files::write_with(file, stores, runtime, |sink, name| {
        write_parquet_into(reader, sink, name)
    })
}

/// Read one asset-lock Parquet file, local or in a store, as [`read_parquet`] does; a shard file
/// streams as its shard (positions and tag kept), for a later step of the same shard.
pub fn read_parquet_at(
    file: &FileRef,
    batch_size: usize,
    stores: &Stores,
    runtime: &Runtime,
) -> Result<BatchReader> {
    crate::items::geoparquet::read_files_kind(
        std::slice::from_ref(file),
        batch_size,
        crate::items::ItemFilter::default(),
        StreamKind::AssetLock,
        stores,
        runtime,
    )
}

/// Read the asset-lock Parquet files `files` (local or in stores) as one lock: shard files must
/// be all the shards of one sharded run, and are merged into the unsharded run's lock
/// ([`shard::merge`]); other files are streamed one after another and must have the same
/// columns.
///
/// Memory: one batch per file, of `batch_size / files` rows (at least 1024), and the output
/// batch.
pub fn read_parquet_files(
    files: &[FileRef],
    batch_size: usize,
    stores: &Stores,
    runtime: &Runtime,
) -> Result<BatchReader> {
    // Each input holds one batch at a time: together about one output batch's worth of rows.
    let per_file = (batch_size / files.len().max(1)).max(1024);
    let mut inputs = Vec::with_capacity(files.len());
    for file in files {
        inputs.push((
            file.name(),
            read_parquet_at(file, per_file, stores, runtime)?,
        ));
    }
    shard::merge(inputs, batch_size)
}

/// [`write_parquet`] into `sink`, named `name` in messages; the caller commits the sink.
fn write_parquet_into(reader: BatchReader, sink: &mut Sink, name: &str) -> Result<LockWriteReport> {
    let failed = |e| Error::parquet(format!("failed to write `{name}`"), e);
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let tag = ShardTag::of(&reader.schema())?;
    let file_schema = tag.as_ref().map_or_else(schema, ShardTag::schema);
    let mut writer = ArrowWriter::try_new(sink, file_schema, Some(props)).map_err(failed)?;
    let mut summary = LockWriteReport {
        rows: 0,
        queries_dropped: 0,
        credentials_dropped: 0,
    };
    // Fixed-size writes: the same rows give the same bytes however the stream was batched.
    let reader = crate::batch::rebatch(reader, crate::items::geoparquet::WRITE_ROWS);
    let mut positions = shard::Positions::default();
    let mut seen = 0;
    for batch in reader {
        let batch = batch?;
        let normalized = normalize_at(&batch, seen)?;
        seen += batch.num_rows() as u64;
        summary.rows += normalized.batch.num_rows() as u64;
        summary.queries_dropped += normalized.queries_dropped;
        summary.credentials_dropped += normalized.credentials_dropped;
        let rows = match &tag {
            Some(tag) => tag.batch(&normalized.batch, positions.of(&batch))?,
            None => normalized.batch,
        };
        writer.write(&rows).map_err(failed)?;
        if writer.in_progress_size() >= crate::items::geoparquet::ROW_GROUP_BYTES {
            writer.flush().map_err(failed)?;
        }
    }
    writer.close().map_err(failed)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn strs(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    #[test]
    fn legacy_href_size_and_aliases_normalise_to_v1() {
        let input = batch(vec![
            (ITEM_ID, strs(&[Some("a"), Some("b")])),
            (ASSET_KEY, strs(&[Some("visual"), Some("data")])),
            (STORE_TYPE, strs(&[None, Some("S3A")])),
            (STORE_CONTAINER, strs(&[None, Some("bucket")])),
            (KEY, strs(&[None, Some("k/x.tif")])),
            (STORE_ENDPOINT_URL, strs(&[None, Some("minio.local:9000/")])),
            (
                LEGACY_HREF,
                strs(&[Some("https://h.example/p/v.tif"), None]),
            ),
            (
                LEGACY_SIZE,
                Arc::new(arrow_array::Int32Array::from(vec![12, 34])),
            ),
            (
                FILE_CHECKSUM,
                strs(&[
                    Some("SHA256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
                    None,
                ]),
            ),
        ]);
        let out = normalize(&input).unwrap();
        assert_eq!(out.batch.schema(), schema());
        let text = |name: &str, row: usize| {
            let c = out.batch.column_by_name(name).unwrap().as_string::<i32>();
            c.is_valid(row).then(|| c.value(row).to_string())
        };
        assert_eq!(text(STORE_TYPE, 0).as_deref(), Some("https"));
        assert_eq!(
            text(STORE_CONTAINER, 0).as_deref(),
            Some("https://h.example")
        );
        assert_eq!(text(KEY, 0).as_deref(), Some("p/v.tif"));
        assert_eq!(text(STORE_TYPE, 1).as_deref(), Some("s3"));
        assert_eq!(
            text(STORE_ENDPOINT_URL, 1).as_deref(),
            Some("https://minio.local:9000")
        );
        let size = out.batch.column_by_name(SIZE_BYTES).unwrap();
        let size = size.as_primitive::<arrow_array::types::Int64Type>();
        assert_eq!((size.value(0), size.value(1)), (12, 34));
        assert_eq!(out.queries_dropped, 0);
        assert_eq!(
            text(FILE_CHECKSUM, 0).as_deref(),
            Some("1220ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(text(FILE_CHECKSUM, 1), None);
    }

    #[test]
    fn a_checksum_in_no_accepted_form_is_an_error_naming_its_row() {
        let input = batch(vec![
            (ITEM_ID, strs(&[Some("a"), Some("b")])),
            (ASSET_KEY, strs(&[Some("x"), Some("y")])),
            (FILE_CHECKSUM, strs(&[None, Some("1220ab")])),
        ]);
        let err = normalize(&input).unwrap_err();
        assert_eq!(
            err.to_string(),
            "asset lock row 2 has a `file_checksum` that is no multihash or `ALGORITHM:HEX` checksum: `1220ab`"
        );
    }

    #[test]
    fn signed_containers_lose_their_query_and_are_counted() {
        let input = batch(vec![
            (ITEM_ID, strs(&[Some("a")])),
            (ASSET_KEY, strs(&[Some("x")])),
            (STORE_TYPE, strs(&[Some("https")])),
            (
                STORE_CONTAINER,
                strs(&[Some(
                    "https://acct.blob.core.windows.net/c/x.tif?sig=SECRET",
                )]),
            ),
            (KEY, strs(&[Some("")])),
        ]);
        let out = normalize(&input).unwrap();
        assert_eq!(out.queries_dropped, 1);
        let container = out.batch.column_by_name(STORE_CONTAINER).unwrap();
        assert_eq!(
            container.as_string::<i32>().value(0),
            "https://acct.blob.core.windows.net"
        );
        let key = out.batch.column_by_name(KEY).unwrap();
        assert_eq!(key.as_string::<i32>().value(0), "c/x.tif");
    }

    #[test]
    fn rows_without_item_id_are_rejected_with_their_number() {
        let input = batch(vec![
            (ITEM_ID, strs(&[Some("a"), None])),
            (ASSET_KEY, strs(&[Some("x"), Some("y")])),
        ]);
        let err = normalize(&input).unwrap_err();
        assert_eq!(err.to_string(), "asset lock row 2 has no `item_id`");
    }
}
