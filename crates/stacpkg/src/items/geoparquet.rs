//! STAC GeoParquet files: streaming read (`items from-parquet`) and batch-by-batch write
//! (`items to-parquet`).
//!
//! The writer never splits a batch, and starts a new row group once it holds [`ROW_GROUP_BYTES`]
//! for the current one, so a large batch is one row group and small batches share one. Row groups per file — and with them the footer, which a Parquet writer must hold in memory
//! until it closes the file (about 700 bytes per column chunk here, and STAC assets make hundreds
//! of leaf columns) — then grow with the data, not with how finely the stream was cut. It computes
//! the GeoParquet 1.1 `geo` metadata (geometry types, bbox) from the rows it writes, at close: the
//! footer is the one place a streaming writer can put whole-file facts.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::{ARROW_SCHEMA_META_KEY, ArrowWriter, encode_arrow_schema};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::filter::ItemFilter;
use super::geometry::{GeoStats, inspect_wkb};
use super::schema::{
    ASSETS, BBOX, BBOX_2D, EXTENSION_METADATA, EXTENSION_NAME, GEOARROW_WKB, GEOMETRY, ID, LINKS,
    META_GEO, META_STAC_GEOPARQUET,
};
use crate::batch::BatchReader;
use crate::error::{Error, Result, StreamKind};
use crate::files::{FileRef, Sink};
use crate::ipc::check_kind;
use crate::runtime::Runtime;
use crate::store::Stores;

/// Read a (STAC Geo)Parquet file as a batch stream of at most `batch_size` rows per batch.
///
/// The file's own Arrow schema is streamed unchanged. A file holding an asset lock is rejected.
pub fn read(path: &Path, batch_size: usize, filter: ItemFilter) -> Result<BatchReader> {
    read_kind(path, batch_size, filter, StreamKind::Items)
}

pub(crate) fn read_kind(
    path: &Path,
    batch_size: usize,
    filter: ItemFilter,
    expected: StreamKind,
) -> Result<BatchReader> {
    let file = crate::files::open_local(path, batch_size)?;
    stream_kind(file, &path.display().to_string(), filter, expected)
}

/// Read the (STAC Geo)Parquet files `files` (local or in stores) as one batch stream, one file
/// after another; every file must have the first one's columns. The first file's schema is
/// streamed. Files are opened as they are reached.
pub fn read_files(
    files: &[FileRef],
    batch_size: usize,
    filter: ItemFilter,
    stores: &Stores,
    runtime: &Runtime,
) -> Result<BatchReader> {
    read_files_kind(
        files,
        batch_size,
        filter,
        StreamKind::Items,
        stores,
        runtime,
    )
}

pub(crate) fn read_files_kind(
    files: &[FileRef],
    batch_size: usize,
    filter: ItemFilter,
    expected: StreamKind,
    stores: &Stores,
    runtime: &Runtime,
) -> Result<BatchReader> {
    let open = {
        let (stores, runtime) = (stores.clone(), runtime.clone());
        move |file: &FileRef| {
            let opened = crate::files::open_parquet(file, batch_size, &stores, &runtime)?;
            stream_kind(opened, &file.name(), filter.clone(), expected)
        }
    };
    let Some((first, rest)) = files.split_first() else {
        return Err(Error::Internal("no files to read"));
    };
    let head = open(first)?;
    if rest.is_empty() {
        return Ok(head);
    }
    // Owned: the stream outlives the caller's slice; each file is opened when it is reached.
    let rest: Vec<FileRef> = rest.to_vec();
    let rest = rest
        .into_iter()
        .map(move |file| open(&file).map(|reader| (file.name(), reader)));
    Ok(crate::batch::concat((first.name(), head), rest))
}

/// A Parquet file's batches as a stream of `expected` kind: empty-object members restored
/// (items), the kind checked, `filter` applied.
fn stream_kind(
    file: crate::files::ParquetFile,
    name: &str,
    filter: ItemFilter,
    expected: StreamKind,
) -> Result<BatchReader> {
    let name = name.to_string();
    let file_schema = file.schema;
    let restore = match expected {
        StreamKind::Items => EmptyObjects::of_file(&file_schema),
        StreamKind::AssetLock => EmptyObjects::default(),
    };
    let schema = restore.schema(&file_schema);
    check_kind(&schema, &format!("`{name}`"), expected)?;
    let rows = file.rows;
    let unfiltered = filter.is_empty();
    let restored_schema = schema.clone();
    let batches = file.batches.filter_map(move |batch| {
        let batch = match batch.and_then(|b| restore.batch(&restored_schema, b)) {
            Ok(batch) => batch,
            Err(e) => return Some(Err(Error::arrow(format!("failed to read `{name}`"), e))),
        };
        match filter.apply(batch) {
            Ok(batch) if batch.num_rows() == 0 && !unfiltered => None,
            Ok(batch) => Some(Ok(batch)),
            Err(e) => Some(Err(Error::arrow(format!("failed to filter `{name}`"), e))),
        }
    });
    let reader = BatchReader::new(schema, batches);
    Ok(if unfiltered {
        reader.with_known_rows(u64::try_from(rows).unwrap_or(0))
    } else {
        reader
    })
}

/// A row group is closed once the writer holds this many bytes for it (encoded pages and
/// dictionaries, kept in memory until the row group is flushed).
/// Measured on Sentinel-2-like items: about 5,000 rows per row group, and a writer that peaks
/// below 270 MB for a million items (footers grow by about 50 KB per row group).
pub const ROW_GROUP_BYTES: usize = 16 * 1024 * 1024;

/// What [`write()`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ParquetWriteReport {
    /// Rows written.
    pub rows: u64,
    /// Row groups written.
    pub row_groups: usize,
    /// Asset hrefs written that carry a signed URL's query string or credentials (they are
    /// written as given; see [`super::href`]).
    pub secret_hrefs: u64,
}

/// Write an items batch stream to a STAC GeoParquet file, atomically.
///
/// The file is written under a temporary name in the destination directory (created if needed)
/// and renamed into place only when complete, so a failure leaves no partial file and does not
/// touch an existing one.
pub fn write(reader: BatchReader, path: &Path) -> Result<ParquetWriteReport> {
    write_with_row_groups(reader, path, WRITE_ROWS, ROW_GROUP_BYTES)
}

/// [`write()`] to `file`, a local path or an object in `stores`; an object is uploaded in parts
/// and appears only when complete (a failure leaves none and replaces none).
pub fn write_to(
    reader: BatchReader,
    file: &FileRef,
    stores: &Stores,
    runtime: &Runtime,
) -> Result<ParquetWriteReport> {
    crate::files::write_with(file, stores, runtime, |sink, name| {
        write_into(reader, sink, name, WRITE_ROWS, ROW_GROUP_BYTES)
    })
}

/// Rows per writer call: the stream is re-cut to this size first, so that the file's bytes
/// (page and row-group boundaries) depend on the rows only, not on upstream batching. 1024 is
/// the writer's own mini-batch size.
pub(crate) const WRITE_ROWS: usize = 1024;

pub(crate) fn write_with_row_groups(
    reader: BatchReader,
    path: &Path,
    write_rows: usize,
    row_group_bytes: usize,
) -> Result<ParquetWriteReport> {
    crate::files::write_local_with(path, |sink, name| {
        write_into(reader, sink, name, write_rows, row_group_bytes)
    })
}

fn write_into(
    reader: BatchReader,
    sink: &mut Sink,
    name: &str,
    write_rows: usize,
    row_group_bytes: usize,
) -> Result<ParquetWriteReport> {
    let reader = crate::batch::rebatch(reader, write_rows);
    let plan = WritePlan::new(&reader.schema(), name)?;
    let schema = plan.schema.clone();
    let has_bbox = match schema.column_with_name(BBOX).map(|(_, f)| f.data_type()) {
        Some(DataType::Struct(fields)) => {
            BBOX_2D.iter().all(|n| fields.iter().any(|f| f.name() == n))
        }
        _ => false,
    };
    let geometry_index = schema.index_of(GEOMETRY).ok().filter(|i| {
        matches!(
            schema.field(*i).data_type(),
            DataType::Binary | DataType::LargeBinary
        )
    });

    // Parquet's compliant nested types (SPEC §3): list elements are named `element`, as
    // pyarrow, stac-geoparquet and the Python original write them, so datasets over files of
    // both unify.
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_coerce_types(true)
        .build();
    let failed = |e| Error::parquet(format!("failed to write `{name}`"), e);
    // The embedded Arrow schema is written at close instead of at open, so that it can carry the
    // `geo` metadata computed from the rows: pyarrow takes schema metadata from `ARROW:schema`.
    let options = ArrowWriterOptions::new()
        .with_properties(props)
        .with_skip_arrow_metadata(true);
    let mut writer =
        ArrowWriter::try_new_with_options(sink, schema.clone(), options).map_err(failed)?;
    let mut geo = GeoStats::default();
    let mut rows = 0u64;
    let mut secret_hrefs = 0u64;
    for batch in reader {
        let batch = plan.batch(&batch?, name)?;
        secret_hrefs += super::href::count_secrets(&batch);
        if batch.num_rows() == 0 {
            continue;
        }
        if let Some(index) = geometry_index {
            add_geometries(&mut geo, batch.column(index).as_ref(), rows).map_err(|problem| {
                Error::InvalidItem {
                    location: Box::new(crate::error::ItemLocation {
                        input: "the items stream".into(),
                        index: problem.0,
                        line: None,
                        id: None,
                    }),
                    problem: problem.1,
                }
            })?;
        }
        writer.write(&batch).map_err(failed)?;
        rows += batch.num_rows() as u64;
        // The writer's own buffered bytes (encoded pages, dictionaries) are what the row group
        // costs in memory; batch sizes say little (decoded batches share message buffers).
        if writer.in_progress_size() >= row_group_bytes {
            writer.flush().map_err(failed)?;
        }
    }
    if writer.in_progress_rows() > 0 {
        writer.flush().map_err(failed)?;
    }
    let row_groups = writer.flushed_row_groups().len();
    let mut final_metadata = schema.metadata().clone();
    if geometry_index.is_some() {
        final_metadata.insert(
            META_GEO.to_string(),
            geo.metadata_json(has_bbox, plan.crs.as_ref()),
        );
    }
    let final_schema = compliant_lists(&schema).with_metadata(final_metadata);
    // Repeated as plain key/values so that readers that do not decode `ARROW:schema` (GDAL,
    // DuckDB) see them too.
    let mut metadata: Vec<(String, String)> = final_schema
        .metadata()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    metadata.push((
        ARROW_SCHEMA_META_KEY.to_string(),
        encode_arrow_schema(&final_schema),
    ));
    metadata.sort();
    for (key, value) in metadata {
        writer.append_key_value_metadata(KeyValue::new(key, value));
    }
    writer.close().map_err(failed)?;
    Ok(ParquetWriteReport {
        rows,
        row_groups,
        secret_hrefs,
    })
}

/// Schema metadata naming the top-level columns that hold objects without members (`assets`
/// when every item has `"assets": {}`): Parquet cannot store a struct without fields, so these
/// columns are left out of the file and restored on read, as stac-geoparquet does for `assets`.
/// JSON: `[["assets", 4]]`, each column's name and position.
pub const META_EMPTY_OBJECTS: &str = "stacpkg:empty-object-columns";

/// How a stream is written: which columns go into the file, under which schema.
struct WritePlan {
    /// The schema given to the Parquet writer.
    schema: SchemaRef,
    /// Stream columns written, in order.
    keep: Vec<usize>,
    /// Stream columns left out because they are objects without members.
    empty: Vec<usize>,
    /// The CRS the input declared for its geometry (PROJJSON), kept in `geo`.
    crs: Option<serde_json::Value>,
}

impl WritePlan {
    /// The stream's schema, with the geometry column marked as geoarrow.wkb (and its CRS), top-
    /// level objects without members left out, and without `geo` (that is computed from the
    /// rows and written at close). A nested object without members cannot be written at all.
    fn new(stream: &SchemaRef, name: &str) -> Result<WritePlan> {
        let crs = declared_crs(stream);
        let mut keep = Vec::new();
        let mut empty = Vec::new();
        let mut fields = Vec::new();
        for (index, field) in stream.fields().iter().enumerate() {
            if matches!(field.data_type(), DataType::Struct(children) if children.is_empty()) {
                empty.push(index);
                continue;
            }
            if let Some(column) = empty_struct(field, "") {
                return Err(Error::EmptyStruct {
                    path: name.to_string(),
                    column,
                });
            }
            keep.push(index);
            if field.name() == GEOMETRY
                && matches!(field.data_type(), DataType::Binary | DataType::LargeBinary)
            {
                let mut metadata = field.metadata().clone();
                metadata.insert(EXTENSION_NAME.to_string(), GEOARROW_WKB.to_string());
                match &crs {
                    Some(crs) => {
                        metadata.insert(
                            EXTENSION_METADATA.to_string(),
                            serde_json::json!({ "crs": crs }).to_string(),
                        );
                    }
                    None => {
                        metadata.remove(EXTENSION_METADATA);
                    }
                }
                fields.push(field.as_ref().clone().with_metadata(metadata));
            } else {
                fields.push(field.as_ref().clone());
            }
        }
        let mut metadata = stream.metadata().clone();
        metadata.remove(META_GEO);
        metadata.remove(META_EMPTY_OBJECTS);
        if !empty.is_empty() {
            let columns: Vec<serde_json::Value> = empty
                .iter()
                .map(|&i| serde_json::json!([stream.field(i).name(), i]))
                .collect();
            metadata.insert(
                META_EMPTY_OBJECTS.to_string(),
                serde_json::Value::Array(columns).to_string(),
            );
        }
        Ok(WritePlan {
            schema: Arc::new(Schema::new(fields).with_metadata(metadata)),
            keep,
            empty,
            crs,
        })
    }

    /// A stream batch as the writer takes it. A left-out column must hold an object in every
    /// row: a null cannot be told from `{}` once the column is gone.
    fn batch(&self, batch: &RecordBatch, name: &str) -> Result<RecordBatch> {
        for &index in &self.empty {
            if batch.column(index).null_count() > 0 {
                return Err(Error::EmptyStruct {
                    path: name.to_string(),
                    column: batch.schema().field(index).name().clone(),
                });
            }
        }
        let columns = self.keep.iter().map(|&i| batch.column(i).clone()).collect();
        RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| Error::arrow(format!("failed to write `{name}`"), e))
    }
}

/// The CRS a stream declares for its geometry column: `geo` metadata first (GeoParquet), then
/// the column's geoarrow extension metadata. `null` (the original's "unknown") and an absent CRS
/// both mean the default, OGC:CRS84, and give `None`.
fn declared_crs(schema: &Schema) -> Option<serde_json::Value> {
    let from_geo = schema
        .metadata()
        .get(META_GEO)
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .and_then(|geo| geo.pointer("/columns/geometry/crs").cloned());
    let from_field = || {
        let field = schema.field_with_name(GEOMETRY).ok()?;
        let text = field.metadata().get(EXTENSION_METADATA)?;
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        value.get("crs").cloned()
    };
    from_geo.or_else(from_field).filter(|crs| !crs.is_null())
}

/// The schema with every list element named `element` (Parquet's compliant nested types), as
/// the file's columns are: the embedded Arrow schema must say what the file holds.
fn compliant_lists(schema: &Schema) -> Schema {
    fn rename(data_type: &DataType) -> DataType {
        match data_type {
            DataType::List(item) => DataType::List(Arc::new(element(item))),
            DataType::LargeList(item) => DataType::LargeList(Arc::new(element(item))),
            DataType::Struct(fields) => DataType::Struct(
                fields
                    .iter()
                    .map(|f| f.as_ref().clone().with_data_type(rename(f.data_type())))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    fn element(item: &Field) -> Field {
        Field::new(LIST_ELEMENT, rename(item.data_type()), item.is_nullable())
            .with_metadata(item.metadata().clone())
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_data_type(rename(f.data_type())))
        .collect();
    Schema::new(fields).with_metadata(schema.metadata().clone())
}

/// Parquet's name for list elements.
const LIST_ELEMENT: &str = "element";

/// Top-level object columns without members that a file left out (see [`META_EMPTY_OBJECTS`]),
/// to put back on read: an object (`{}`) in every row.
#[derive(Debug, Default)]
struct EmptyObjects {
    /// Name and position in the restored schema, by position.
    columns: Vec<(String, usize)>,
}

impl EmptyObjects {
    /// The columns a file left out: those its metadata names, and `assets` for a STAC
    /// GeoParquet file without one (stac-geoparquet leaves an all-`{}` `assets` out too).
    fn of_file(schema: &Schema) -> EmptyObjects {
        let mut columns: Vec<(String, usize)> = schema
            .metadata()
            .get(META_EMPTY_OBJECTS)
            .and_then(|text| serde_json::from_str::<Vec<(String, usize)>>(text).ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|(name, _)| schema.column_with_name(name).is_none())
            .collect();
        let stac = schema.column_with_name(ID).is_some()
            && (schema.metadata().contains_key(META_STAC_GEOPARQUET)
                || schema.metadata().contains_key(META_GEO));
        if stac
            && schema.column_with_name(ASSETS).is_none()
            && !columns.iter().any(|(n, _)| n == ASSETS)
        {
            let at = schema
                .index_of(LINKS)
                .map_or(schema.fields().len(), |i| i + 1);
            columns.push((ASSETS.to_string(), at));
        }
        columns.sort_by_key(|(_, at)| *at);
        EmptyObjects { columns }
    }

    /// The file's schema with the columns put back.
    fn schema(&self, file: &SchemaRef) -> SchemaRef {
        if self.columns.is_empty() {
            return file.clone();
        }
        let mut fields: Vec<Arc<Field>> = file.fields().iter().cloned().collect();
        for (name, at) in &self.columns {
            let field = Field::new(name, DataType::Struct(Fields::empty()), true);
            fields.insert((*at).min(fields.len()), Arc::new(field));
        }
        let mut metadata = file.metadata().clone();
        metadata.remove(META_EMPTY_OBJECTS);
        Arc::new(Schema::new(fields).with_metadata(metadata))
    }

    /// A file batch with the columns put back, under the restored `schema`.
    fn batch(
        &self,
        schema: &SchemaRef,
        batch: RecordBatch,
    ) -> std::result::Result<RecordBatch, arrow_schema::ArrowError> {
        if self.columns.is_empty() {
            return Ok(batch);
        }
        let rows = batch.num_rows();
        let mut columns = batch.columns().to_vec();
        for (_, at) in &self.columns {
            let empty: ArrayRef = Arc::new(StructArray::new_empty_fields(rows, None));
            columns.insert((*at).min(columns.len()), empty);
        }
        RecordBatch::try_new(schema.clone(), columns)
    }
}

/// The dotted path of the first struct without fields in `field`, if any.
fn empty_struct(field: &Field, parent: &str) -> Option<String> {
    let path = if parent.is_empty() {
        field.name().clone()
    } else {
        format!("{parent}.{}", field.name())
    };
    match field.data_type() {
        DataType::Struct(fields) if fields.is_empty() => Some(path),
        DataType::Struct(fields) => fields.iter().find_map(|f| empty_struct(f, &path)),
        DataType::List(item) | DataType::LargeList(item) => empty_struct(item, &path),
        _ => None,
    }
}

fn add_geometries(
    geo: &mut GeoStats,
    column: &dyn Array,
    offset: u64,
) -> Result<(), (u64, String)> {
    let mut add = |row: usize, wkb: &[u8]| {
        inspect_wkb(wkb)
            .map(|info| geo.add(&info))
            .map_err(|e| (offset + row as u64 + 1, format!("`geometry`: {e}")))
    };
    match column.data_type() {
        DataType::Binary => {
            for (row, wkb) in column.as_binary::<i32>().iter().enumerate() {
                if let Some(wkb) = wkb {
                    add(row, wkb)?;
                }
            }
        }
        DataType::LargeBinary => {
            for (row, wkb) in column.as_binary::<i64>().iter().enumerate() {
                if let Some(wkb) = wkb {
                    add(row, wkb)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::{Format, Input, ReadOptions, read_stac};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::fs::File;

    fn demo_stream(batch_size: usize) -> BatchReader {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo/items.ndjson");
        let options = ReadOptions {
            batch_size,
            ..ReadOptions::default()
        };
        read_stac(Input::Path(path), Format::Ndjson, options).unwrap()
    }

    fn row_groups(path: &Path) -> Vec<i64> {
        let file = File::open(path).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        builder
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect()
    }

    #[test]
    fn small_batches_share_a_row_group_and_row_groups_follow_fixed_row_counts() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared.parquet");
        let summary = write(demo_stream(1), &shared).unwrap();
        assert_eq!((summary.rows, summary.row_groups), (3, 1));
        assert_eq!(row_groups(&shared), vec![3]);
        // With a budget below one write, every write of `write_rows` rows is a row group of its
        // own, whatever the input batches were.
        for input_batch in [1, 3] {
            let own = dir.path().join(format!("own-{input_batch}.parquet"));
            let summary = write_with_row_groups(demo_stream(input_batch), &own, 2, 1).unwrap();
            assert_eq!(summary.row_groups, 2);
            assert_eq!(row_groups(&own), vec![2, 1]);
        }
    }

    #[test]
    fn the_same_rows_give_the_same_bytes_however_they_were_batched() {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one.parquet");
        let three = dir.path().join("three.parquet");
        write(demo_stream(1), &one).unwrap();
        write(demo_stream(3), &three).unwrap();
        assert_eq!(std::fs::read(one).unwrap(), std::fs::read(three).unwrap());
    }
}
