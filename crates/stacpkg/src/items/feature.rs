//! STAC Items back out: an items stream as NDJSON (one Item per line) or as one ItemCollection
//! (`items to-ndjson`, `items to-json`).
//!
//! Every row becomes a GeoJSON Feature: `type`, `stac_version`, `stac_extensions`, `id`,
//! `geometry` (GeoJSON from the WKB, Z kept), `bbox` (4 or 6 numbers, as stored), `properties`
//! (the property columns; timestamps as RFC 3339 with `Z`, as precise as stored), `links`,
//! `assets`, `collection`, and foreign top-level members where the table marks them
//! ([`super::schema::META_TOP_LEVEL`]). A value that is null in the table is
//! left out, except `properties.datetime` and `geometry`, which STAC requires and which stay
//! `null`. Numbers are written in their shortest form that parses back to the same bits.
//!
//! Memory: rows are encoded in slices of 256 rows on one thread per core, and at
//! most a few encoded slices wait for the writer, whatever the input size.

use std::io::Write;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float32Type, Float64Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt64Type,
};
use arrow_array::{Array, ArrayRef, PrimitiveArray, RecordBatch};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, TimeUnit};

use super::geometry;
use super::schema::{
    ASSETS, BBOX, COLLECTION, DATETIME, GEOMETRY, ID, LINKS, META_TOP_LEVEL, STAC_EXTENSIONS,
    STAC_VERSION,
};
use super::workers;
use crate::batch::BatchReader;
use crate::error::{Error, ItemLocation, Result};

/// Rows encoded per job: small enough that a few encoded jobs in flight stay a few MB.
const ROWS_PER_JOB: usize = 256;

/// How items are laid out in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonShape {
    /// One Item per line (NDJSON).
    Lines,
    /// One ItemCollection document (`{"type":"FeatureCollection","features":[…]}`).
    Collection,
}

/// What [`write()`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonWriteReport {
    /// Items written.
    pub items: u64,
    /// Asset hrefs written that carry a signed URL's query string or credentials (they are
    /// written as given; see [`super::href`]).
    pub secret_hrefs: u64,
}

/// Write an items stream as STAC Items to the file at `path`, atomically (a temporary file next
/// to it, renamed into place when complete; parent directories are created).
pub fn write_file(
    reader: BatchReader,
    path: &std::path::Path,
    shape: JsonShape,
) -> Result<JsonWriteReport> {
    let output = crate::output::AtomicFile::create(path)?;
    let summary = write(reader, output.file()?, shape, output.name())?;
    output.commit()?;
    Ok(summary)
}

/// Write an items stream as STAC Items to `out`.
///
/// `output` names the destination in messages. A value with no JSON form (a NaN or infinite
/// number, a binary property) is an error naming the item and the column.
pub fn write(
    reader: BatchReader,
    out: impl Write,
    shape: JsonShape,
    output: &str,
) -> Result<JsonWriteReport> {
    let schema = reader.schema();
    let plan = Plan::new(schema.fields())?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    let written = |e| Error::write_failed(output, e);
    if shape == JsonShape::Collection {
        out.write_all(br#"{"type":"FeatureCollection","features":["#)
            .map_err(written)?;
    }
    let mut items = 0u64;
    let mut secret_hrefs = 0u64;
    let mut batches = reader;
    let mut current: Option<(RecordBatch, usize)> = None;
    let threads = workers::threads();
    // Jobs are row slices of the incoming batches (zero-copy), numbered from the first item.
    let next_job = || -> Result<Option<(RecordBatch, u64)>> {
        loop {
            if let Some((batch, offset)) = &mut current
                && *offset < batch.num_rows()
            {
                let length = ROWS_PER_JOB.min(batch.num_rows() - *offset);
                let slice = batch.slice(*offset, length);
                *offset += length;
                let first = items;
                items += length as u64;
                return Ok(Some((slice, first)));
            }
            match batches.next() {
                None => return Ok(None),
                Some(batch) => {
                    let batch = batch?;
                    secret_hrefs += super::href::count_secrets(&batch);
                    current = Some((batch, 0));
                }
            }
        }
    };
    let mut first = true;
    workers::ordered(
        next_job,
        threads,
        threads + 2,
        |(slice, first_item): (RecordBatch, u64)| plan.encode(&slice, first_item, shape),
        |encoded| {
            let encoded = encoded?;
            if encoded.is_empty() {
                return Ok(());
            }
            if shape == JsonShape::Collection && !first {
                out.write_all(b",").map_err(written)?;
            }
            first = false;
            out.write_all(&encoded).map_err(written)
        },
    )?;
    if shape == JsonShape::Collection {
        out.write_all(b"]}\n").map_err(written)?;
    }
    out.flush().map_err(written)?;
    Ok(JsonWriteReport {
        items,
        secret_hrefs,
    })
}

/// Where each column of the table goes in an Item.
#[derive(Debug)]
struct Plan {
    stac_version: Option<usize>,
    stac_extensions: Option<usize>,
    id: Option<usize>,
    geometry: Option<usize>,
    bbox: Option<usize>,
    datetime: Option<usize>,
    links: Option<usize>,
    assets: Option<usize>,
    collection: Option<usize>,
    /// Property columns: index and the pre-escaped `"name":`.
    properties: Vec<(usize, Vec<u8>)>,
    /// Foreign top-level member columns, likewise.
    top_level: Vec<(usize, Vec<u8>)>,
    /// Column names, for messages.
    names: Vec<String>,
}

impl Plan {
    fn new(fields: &[Arc<Field>]) -> Result<Plan> {
        let mut plan = Plan {
            stac_version: None,
            stac_extensions: None,
            id: None,
            geometry: None,
            bbox: None,
            datetime: None,
            links: None,
            assets: None,
            collection: None,
            properties: Vec::new(),
            top_level: Vec::new(),
            names: fields.iter().map(|f| f.name().clone()).collect(),
        };
        for (index, field) in fields.iter().enumerate() {
            let slot = match field.name().as_str() {
                STAC_VERSION => &mut plan.stac_version,
                STAC_EXTENSIONS => &mut plan.stac_extensions,
                ID => &mut plan.id,
                GEOMETRY => &mut plan.geometry,
                BBOX => &mut plan.bbox,
                DATETIME => &mut plan.datetime,
                LINKS => &mut plan.links,
                ASSETS => &mut plan.assets,
                COLLECTION => &mut plan.collection,
                // stac-geoparquet keeps the GeoJSON `type` as a column; every Item is a Feature.
                "type" => continue,
                name => {
                    let mut key = Vec::new();
                    write_key(&mut key, name);
                    if field.metadata().get(META_TOP_LEVEL).map(String::as_str) == Some("true") {
                        plan.top_level.push((index, key));
                    } else {
                        plan.properties.push((index, key));
                    }
                    continue;
                }
            };
            *slot = Some(index);
        }
        if plan.id.is_none() {
            return Err(Error::UnknownStreamKind {
                input: "the items stream".into(),
                expected: crate::StreamKind::Items,
                producers: crate::StreamKind::Items.producers(),
            });
        }
        Ok(plan)
    }

    /// Encode rows of `batch` (item numbers from `first_item` + 1) as Items.
    fn encode(&self, batch: &RecordBatch, first_item: u64, shape: JsonShape) -> Result<Vec<u8>> {
        let columns: Vec<Encoder> = batch
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                Encoder::new(c).map_err(|problem| self.column_error(i, first_item + 1, problem))
            })
            .collect::<Result<_>>()?;
        let ids = self.id.map(|i| batch.column(i).as_string_opt::<i32>());
        let mut out = Vec::with_capacity(batch.num_rows() * 4096);
        for row in 0..batch.num_rows() {
            if shape == JsonShape::Collection && row > 0 {
                out.push(b',');
            }
            self.encode_row(batch, &columns, row, &mut out)
                .map_err(|(column, problem)| Error::InvalidItem {
                    location: Box::new(ItemLocation {
                        input: "the items stream".into(),
                        index: first_item + row as u64 + 1,
                        line: None,
                        id: ids
                            .flatten()
                            .filter(|ids| ids.is_valid(row))
                            .map(|ids| ids.value(row).to_string()),
                    }),
                    problem: format!("column `{}`: {problem}", self.names[column]),
                })?;
            if shape == JsonShape::Lines {
                out.push(b'\n');
            }
        }
        Ok(out)
    }

    /// A column that cannot be written at all, reported at the first item it would be written
    /// for.
    fn column_error(&self, column: usize, item: u64, problem: String) -> Error {
        Error::InvalidItem {
            location: Box::new(ItemLocation {
                input: "the items stream".into(),
                index: item,
                line: None,
                id: None,
            }),
            problem: format!("column `{}`: {problem}", self.names[column]),
        }
    }

    fn encode_row(
        &self,
        batch: &RecordBatch,
        columns: &[Encoder],
        row: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), (usize, String)> {
        let valid = |i: usize| batch.column(i).is_valid(row);
        let member = |out: &mut Vec<u8>, key: &str, column: Option<usize>| {
            if let Some(i) = column.filter(|i| valid(*i)) {
                out.push(b',');
                write_key(out, key);
                columns[i].write(row, out).map_err(|e| (i, e))?;
            }
            Ok::<(), (usize, String)>(())
        };
        out.extend_from_slice(br#"{"type":"Feature""#);
        member(out, STAC_VERSION, self.stac_version)?;
        member(out, STAC_EXTENSIONS, self.stac_extensions)?;
        member(out, ID, self.id)?;
        // GeoJSON requires `geometry`; null says the item has none.
        out.extend_from_slice(br#","geometry":"#);
        match self.geometry.filter(|i| valid(*i)) {
            Some(i) => {
                let wkb = match &columns[i] {
                    Encoder::Binary(values) => values.value(row),
                    Encoder::LargeBinary(values) => values.value(row),
                    _ => return Err((i, "expected WKB (binary) geometries".into())),
                };
                geometry::write_geojson(wkb, out).map_err(|e| (i, e))?;
            }
            None => out.extend_from_slice(b"null"),
        }
        if let Some(i) = self.bbox.filter(|i| valid(*i)) {
            out.extend_from_slice(br#","bbox":"#);
            write_bbox(&columns[i], row, out).map_err(|e| (i, e))?;
        }
        out.extend_from_slice(br#","properties":{"datetime":"#);
        match self.datetime.filter(|i| valid(*i)) {
            Some(i) => columns[i].write(row, out).map_err(|e| (i, e))?,
            None => out.extend_from_slice(b"null"),
        }
        let keyed = |out: &mut Vec<u8>, keyed: &[(usize, Vec<u8>)]| {
            for (i, key) in keyed {
                if valid(*i) {
                    out.push(b',');
                    out.extend_from_slice(key);
                    columns[*i].write(row, out).map_err(|e| (*i, e))?;
                }
            }
            Ok::<(), (usize, String)>(())
        };
        keyed(out, &self.properties)?;
        out.push(b'}');
        member(out, LINKS, self.links)?;
        member(out, ASSETS, self.assets)?;
        member(out, COLLECTION, self.collection)?;
        keyed(out, &self.top_level)?;
        out.push(b'}');
        Ok(())
    }
}

/// `bbox` as GeoJSON wants it: `[xmin, ymin, xmax, ymax]`, or with z
/// `[xmin, ymin, zmin, xmax, ymax, zmax]` when the row has both z values. A list column (some
/// writers store the GeoJSON array as it is) is written as it is.
fn write_bbox(column: &Encoder, row: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let Encoder::Struct {
        names, children, ..
    } = column
    else {
        return column.write(row, out);
    };
    let member = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .map(|i| &children[i])
            .filter(|c| !c.is_null(row))
    };
    let (Some(xmin), Some(ymin), Some(xmax), Some(ymax)) = (
        member("xmin"),
        member("ymin"),
        member("xmax"),
        member("ymax"),
    ) else {
        return Err("a bbox needs xmin, ymin, xmax and ymax".into());
    };
    // A 2D bbox in a table of 3D ones has NaN (or null) z extents.
    let z = |name: &str| member(name).filter(|e| !e.is_nan(row));
    let order: Vec<&Encoder> = match (z("zmin"), z("zmax")) {
        (Some(zmin), Some(zmax)) => vec![xmin, ymin, zmin, xmax, ymax, zmax],
        _ => vec![xmin, ymin, xmax, ymax],
    };
    out.push(b'[');
    for (n, value) in order.into_iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        value.write(row, out)?;
    }
    out.push(b']');
    Ok(())
}

/// One column of a batch, typed once per batch so that values are written without lookups.
enum Encoder {
    Null,
    Bool(arrow_array::BooleanArray),
    Int(PrimitiveArray<Int64Type>),
    UInt(PrimitiveArray<UInt64Type>),
    Float(PrimitiveArray<Float64Type>),
    Float32(PrimitiveArray<Float32Type>),
    Str(arrow_array::StringArray),
    LargeStr(arrow_array::LargeStringArray),
    /// Timestamps of any unit, as that unit's count since the epoch.
    Time(PrimitiveArray<Int64Type>, TimeUnit),
    Date32(PrimitiveArray<Date32Type>),
    Date64(PrimitiveArray<Date64Type>),
    Binary(arrow_array::BinaryArray),
    LargeBinary(arrow_array::LargeBinaryArray),
    List {
        offsets: Offsets,
        nulls: Option<NullBuffer>,
        child: Box<Encoder>,
    },
    Struct {
        names: Vec<String>,
        /// `"name":`, escaped.
        keys: Vec<Vec<u8>>,
        children: Vec<Encoder>,
        nulls: Option<NullBuffer>,
    },
}

impl Encoder {
    fn new(array: &ArrayRef) -> Result<Encoder, String> {
        let cast = |to: &DataType| {
            arrow_cast::cast(array, to)
                .map_err(|e| format!("cannot read {}: {e}", array.data_type()))
        };
        Ok(match array.data_type() {
            DataType::Null => Encoder::Null,
            DataType::Boolean => Encoder::Bool(array.as_boolean().clone()),
            DataType::Int64 => Encoder::Int(array.as_primitive::<Int64Type>().clone()),
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32 => {
                Encoder::Int(cast(&DataType::Int64)?.as_primitive::<Int64Type>().clone())
            }
            DataType::UInt64 => Encoder::UInt(array.as_primitive::<UInt64Type>().clone()),
            DataType::Float64 => Encoder::Float(array.as_primitive::<Float64Type>().clone()),
            DataType::Float32 => Encoder::Float32(array.as_primitive::<Float32Type>().clone()),
            DataType::Float16 => Encoder::Float32(
                cast(&DataType::Float32)?
                    .as_primitive::<Float32Type>()
                    .clone(),
            ),
            DataType::Utf8 => Encoder::Str(array.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Encoder::LargeStr(array.as_string::<i64>().clone()),
            DataType::Utf8View => {
                Encoder::LargeStr(cast(&DataType::LargeUtf8)?.as_string::<i64>().clone())
            }
            DataType::Timestamp(unit, _) => {
                let values = match unit {
                    TimeUnit::Second => array
                        .as_primitive::<TimestampSecondType>()
                        .reinterpret_cast(),
                    TimeUnit::Millisecond => array
                        .as_primitive::<TimestampMillisecondType>()
                        .reinterpret_cast(),
                    TimeUnit::Microsecond => array
                        .as_primitive::<TimestampMicrosecondType>()
                        .reinterpret_cast(),
                    TimeUnit::Nanosecond => array
                        .as_primitive::<TimestampNanosecondType>()
                        .reinterpret_cast(),
                };
                Encoder::Time(values, *unit)
            }
            DataType::Date32 => Encoder::Date32(array.as_primitive::<Date32Type>().clone()),
            DataType::Date64 => Encoder::Date64(array.as_primitive::<Date64Type>().clone()),
            DataType::Binary => Encoder::Binary(array.as_binary::<i32>().clone()),
            DataType::LargeBinary => Encoder::LargeBinary(array.as_binary::<i64>().clone()),
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                Encoder::List {
                    offsets: Offsets::Small(list.offsets().clone()),
                    nulls: list.nulls().cloned(),
                    child: Box::new(Encoder::new(list.values())?),
                }
            }
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                Encoder::List {
                    offsets: Offsets::Large(list.offsets().clone()),
                    nulls: list.nulls().cloned(),
                    child: Box::new(Encoder::new(list.values())?),
                }
            }
            DataType::FixedSizeList(item, _)
            | DataType::ListView(item)
            | DataType::LargeListView(item) => {
                Encoder::new(&cast(&DataType::LargeList(item.clone()))?)?
            }
            DataType::Dictionary(_, values) => Encoder::new(&cast(values)?)?,
            DataType::Struct(fields) => {
                let array = array.as_struct();
                Encoder::Struct {
                    names: fields.iter().map(|f| f.name().clone()).collect(),
                    keys: fields
                        .iter()
                        .map(|f| {
                            let mut key = Vec::new();
                            write_key(&mut key, f.name());
                            key
                        })
                        .collect(),
                    children: array
                        .columns()
                        .iter()
                        .map(Encoder::new)
                        .collect::<Result<_, _>>()?,
                    nulls: array.nulls().cloned(),
                }
            }
            other => return Err(format!("Arrow type {other} has no JSON form")),
        })
    }

    fn is_null(&self, row: usize) -> bool {
        match self {
            Encoder::Null => true,
            Encoder::Bool(a) => a.is_null(row),
            Encoder::Int(a) | Encoder::Time(a, _) => a.is_null(row),
            Encoder::UInt(a) => a.is_null(row),
            Encoder::Float(a) => a.is_null(row),
            Encoder::Float32(a) => a.is_null(row),
            Encoder::Str(a) => a.is_null(row),
            Encoder::LargeStr(a) => a.is_null(row),
            Encoder::Date32(a) => a.is_null(row),
            Encoder::Date64(a) => a.is_null(row),
            Encoder::Binary(a) => a.is_null(row),
            Encoder::LargeBinary(a) => a.is_null(row),
            Encoder::List { nulls, .. } | Encoder::Struct { nulls, .. } => {
                nulls.as_ref().is_some_and(|n| n.is_null(row))
            }
        }
    }

    /// Whether the value at `row` is a floating-point NaN.
    fn is_nan(&self, row: usize) -> bool {
        match self {
            Encoder::Float(a) => a.value(row).is_nan(),
            Encoder::Float32(a) => a.value(row).is_nan(),
            _ => false,
        }
    }

    /// Write the value at `row`, which the caller checked is not null (a null inside a list is
    /// written as `null`; members of an object that are null are left out).
    fn write(&self, row: usize, out: &mut Vec<u8>) -> Result<(), String> {
        match self {
            Encoder::Null => out.extend_from_slice(b"null"),
            Encoder::Bool(a) => {
                out.extend_from_slice(if a.value(row) { b"true" } else { b"false" })
            }
            Encoder::Int(a) => {
                out.extend_from_slice(itoa::Buffer::new().format(a.value(row)).as_bytes())
            }
            Encoder::UInt(a) => {
                out.extend_from_slice(itoa::Buffer::new().format(a.value(row)).as_bytes())
            }
            Encoder::Float(a) => write_f64(a.value(row), out)?,
            Encoder::Float32(a) => {
                let value = a.value(row);
                if !value.is_finite() {
                    return Err(format!("{value} has no JSON form"));
                }
                out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
            }
            Encoder::Str(a) => write_str(out, a.value(row)),
            Encoder::LargeStr(a) => write_str(out, a.value(row)),
            Encoder::Time(a, unit) => write_time(a.value(row), *unit, out)?,
            Encoder::Date32(a) => {
                let days = i64::from(a.value(row));
                write_date(days.checked_mul(86_400_000_000), out)?;
            }
            Encoder::Date64(a) => write_date(a.value(row).checked_mul(1000), out)?,
            Encoder::Binary(_) | Encoder::LargeBinary(_) => {
                return Err("binary values have no JSON form".into());
            }
            Encoder::List { offsets, child, .. } => {
                out.push(b'[');
                for (n, i) in offsets.range(row).enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    if child.is_null(i) {
                        out.extend_from_slice(b"null");
                    } else {
                        child.write(i, out)?;
                    }
                }
                out.push(b']');
            }
            Encoder::Struct { keys, children, .. } => {
                out.push(b'{');
                let mut first = true;
                for (key, child) in keys.iter().zip(children) {
                    if child.is_null(row) {
                        continue;
                    }
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    out.extend_from_slice(key);
                    child.write(row, out)?;
                }
                out.push(b'}');
            }
        }
        Ok(())
    }
}

/// List offsets of either width (shared with the array, not copied).
enum Offsets {
    Small(arrow_buffer::OffsetBuffer<i32>),
    Large(arrow_buffer::OffsetBuffer<i64>),
}

impl Offsets {
    /// Positions in the child array of the elements of `row`.
    fn range(&self, row: usize) -> std::ops::Range<usize> {
        match self {
            Offsets::Small(o) => o[row] as usize..o[row + 1] as usize,
            Offsets::Large(o) => o[row] as usize..o[row + 1] as usize,
        }
    }
}

/// A double in its shortest form that reads back to the same bits (`-0.0`, `5e-324`, …).
pub(crate) fn write_f64(value: f64, out: &mut Vec<u8>) -> Result<(), String> {
    if !value.is_finite() {
        return Err(format!("{value} has no JSON form"));
    }
    out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
    Ok(())
}

/// `"name":`, escaped.
fn write_key(out: &mut Vec<u8>, name: &str) {
    write_str(out, name);
    out.push(b':');
}

/// A JSON string: `"` and `\` escaped, control characters as `\n`, `\t`, … or `\u00XX`; other
/// characters (all of Unicode) written as UTF-8.
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// An RFC 3339 timestamp in UTC with `Z`: no fraction for whole seconds, else milli-, micro- or
/// nanoseconds, whichever shows every digit stored.
fn write_time(value: i64, unit: TimeUnit, out: &mut Vec<u8>) -> Result<(), String> {
    let (seconds, nanos) = match unit {
        TimeUnit::Second => (value, 0),
        TimeUnit::Millisecond => (value.div_euclid(1_000), value.rem_euclid(1_000) * 1_000_000),
        TimeUnit::Microsecond => (
            value.div_euclid(1_000_000),
            value.rem_euclid(1_000_000) * 1_000,
        ),
        TimeUnit::Nanosecond => (
            value.div_euclid(1_000_000_000),
            value.rem_euclid(1_000_000_000),
        ),
    };
    let time = chrono::DateTime::from_timestamp(seconds, nanos as u32)
        .ok_or_else(|| format!("timestamp {value} is out of range"))?;
    let text = time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    write_str(out, &text);
    Ok(())
}

fn write_date(micros: Option<i64>, out: &mut Vec<u8>) -> Result<(), String> {
    let date = micros
        .and_then(chrono::DateTime::from_timestamp_micros)
        .ok_or("date is out of range")?;
    write_str(out, &date.format("%Y-%m-%d").to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_in_their_shortest_exact_form() {
        for value in [
            0.0,
            -0.0,
            5e-324,
            1.7976931348623157e308,
            121.62421300000001,
            0.30000000000000004,
            2.225_073_858_507_201e-308,
            1.0,
        ] {
            let mut out = Vec::new();
            write_f64(value, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            let back: f64 = text.parse().unwrap();
            assert_eq!(back.to_bits(), value.to_bits(), "{text}");
        }
        assert!(write_f64(f64::NAN, &mut Vec::new()).is_err());
    }

    #[test]
    fn strings_escape_quotes_backslashes_and_control_characters() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\nd\u{1}é🙂");
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é🙂""#);
    }

    #[test]
    fn timestamps_show_every_stored_digit_and_no_more() {
        let text = |value, unit| {
            let mut out = Vec::new();
            write_time(value, unit, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(0, TimeUnit::Microsecond), r#""1970-01-01T00:00:00Z""#);
        assert_eq!(
            text(1_500_000, TimeUnit::Microsecond),
            r#""1970-01-01T00:00:01.500Z""#
        );
        assert_eq!(
            text(-1, TimeUnit::Microsecond),
            r#""1969-12-31T23:59:59.999999Z""#
        );
        assert_eq!(
            text(1, TimeUnit::Nanosecond),
            r#""1970-01-01T00:00:00.000000001Z""#
        );
    }
}
