//! Build items RecordBatches from STAC JSON against a fixed [`ItemSchema`].
//!
//! The schema is known before the first row is appended (folded over the whole input, or fixed by
//! the first batch under `--stream` and checked per item), so every value here is known to fit:
//! a value that does not is a bug, reported as an error rather than a panic.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{Array, ArrayRef, ListArray, NullArray, RecordBatch, StructArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, SchemaRef};

use super::datetime;
use super::geometry;
use super::schema::{BBOX_2D, BBOX_Z, ItemParts, ItemSchema, LIST_ITEM, Ty, is_datetime_field};
use super::value::{FieldHash, Json, Object};

/// A builder for one column of an inferred [`Ty`].
enum Col {
    Null(usize),
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Str(StringBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    List {
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
        child: Box<Col>,
    },
    Struct {
        names: Vec<String>,
        index: HashMap<String, usize, FieldHash>,
        children: Vec<Col>,
        /// Per-row scratch: which children got a value.
        seen: Vec<bool>,
        nulls: NullBufferBuilder,
        len: usize,
    },
}

impl Col {
    fn new(ty: &Ty) -> Col {
        match ty {
            Ty::Null => Col::Null(0),
            Ty::Bool => Col::Bool(BooleanBuilder::new()),
            Ty::Int => Col::Int(Int64Builder::new()),
            Ty::Float => Col::Float(Float64Builder::new()),
            Ty::Str => Col::Str(StringBuilder::new()),
            Ty::Timestamp => {
                Col::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            Ty::List(child) => Col::List {
                offsets: vec![0],
                nulls: NullBufferBuilder::new(0),
                child: Box::new(Col::new(child)),
            },
            Ty::Struct(fields) => Col::Struct {
                names: fields.keys().cloned().collect(),
                index: fields
                    .keys()
                    .enumerate()
                    .map(|(i, k)| (k.clone(), i))
                    .collect(),
                children: fields.values().map(Col::new).collect(),
                seen: vec![false; fields.len()],
                nulls: NullBufferBuilder::new(0),
                len: 0,
            },
        }
    }

    fn append_null(&mut self) {
        match self {
            Col::Null(n) => *n += 1,
            Col::Bool(b) => b.append_null(),
            Col::Int(b) => b.append_null(),
            Col::Float(b) => b.append_null(),
            Col::Str(b) => b.append_null(),
            Col::Timestamp(b) => b.append_null(),
            Col::List { offsets, nulls, .. } => {
                offsets.push(*offsets.last().expect("offsets start with 0"));
                nulls.append_null();
            }
            Col::Struct {
                children,
                nulls,
                len,
                ..
            } => {
                for child in children {
                    child.append_null();
                }
                nulls.append_null();
                *len += 1;
            }
        }
    }

    fn append(&mut self, value: &Json<'_>) -> Result<(), String> {
        if value.is_null() {
            self.append_null();
            return Ok(());
        }
        match (self, value) {
            (Col::Bool(b), Json::Bool(v)) => b.append_value(*v),
            (Col::Int(b), Json::Int(v)) => b.append_value(*v),
            (Col::Float(b), Json::Int(v)) => b.append_value(*v as f64),
            (Col::Float(b), Json::Float(v)) => b.append_value(*v),
            (Col::Str(b), Json::Str(s)) => b.append_value(s),
            (Col::Timestamp(b), Json::Str(s)) => match datetime::parse_micros(s) {
                Some(micros) => b.append_value(micros),
                None => return Err(format!("{s:?} is not a datetime")),
            },
            (
                Col::List {
                    offsets,
                    nulls,
                    child,
                },
                Json::Array(items),
            ) => {
                for item in items {
                    child.append(item)?;
                }
                let last = *offsets.last().expect("offsets start with 0");
                let next = i32::try_from(items.len())
                    .ok()
                    .and_then(|n| last.checked_add(n))
                    .ok_or("list column exceeds 2^31 values in one batch")?;
                offsets.push(next);
                nulls.append_non_null();
            }
            (col @ Col::Struct { .. }, Json::Object(members)) => col.append_members(members)?,
            (col, value) => {
                return Err(format!(
                    "{} value does not fit a {} column",
                    value.kind(),
                    col.kind()
                ));
            }
        }
        Ok(())
    }

    /// Append an object to a struct column: each member to its child, nulls to the rest.
    fn append_members(&mut self, members: &Object<'_>) -> Result<(), String> {
        let Col::Struct {
            index,
            children,
            seen,
            nulls,
            len,
            ..
        } = self
        else {
            unreachable!("append_members is only called on struct columns");
        };
        seen.fill(false);
        // Backwards, so that a repeated key keeps its last value, as `Object::get` and
        // serde_json do.
        for (name, member) in members.0.iter().rev().map(|(k, v)| (k.as_ref(), v)) {
            match index.get(name) {
                Some(&i) => {
                    if !seen[i] {
                        seen[i] = true;
                        children[i]
                            .append(member)
                            .map_err(|e| format!("`{name}`: {e}"))?;
                    }
                }
                None if member.is_null() => {}
                None => return Err(format!("member `{name}` is not in the schema")),
            }
        }
        for (child, seen) in children.iter_mut().zip(seen.iter()) {
            if !seen {
                child.append_null();
            }
        }
        nulls.append_non_null();
        *len += 1;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        match self {
            Col::Null(_) => "null",
            Col::Bool(_) => "boolean",
            Col::Int(_) => "integer",
            Col::Float(_) => "float",
            Col::Str(_) => "string",
            Col::Timestamp(_) => "timestamp",
            Col::List { .. } => "list",
            Col::Struct { .. } => "object",
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Col::Null(n) => {
                let array = Arc::new(NullArray::new(*n));
                *n = 0;
                array
            }
            Col::Bool(b) => Arc::new(b.finish()),
            Col::Int(b) => Arc::new(b.finish()),
            Col::Float(b) => Arc::new(b.finish()),
            Col::Str(b) => Arc::new(b.finish()),
            Col::Timestamp(b) => Arc::new(b.finish()),
            Col::List {
                offsets,
                nulls,
                child,
            } => {
                let values = child.finish();
                let field = Arc::new(Field::new(LIST_ITEM, values.data_type().clone(), true));
                let offsets = std::mem::replace(offsets, vec![0]);
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                Arc::new(ListArray::new(field, offsets, values, nulls.finish()))
            }
            Col::Struct {
                names,
                children,
                nulls,
                len,
                ..
            } => {
                let arrays: Vec<ArrayRef> = children.iter_mut().map(Col::finish).collect();
                let length = std::mem::take(len);
                if arrays.is_empty() {
                    return Arc::new(StructArray::new_empty_fields(length, nulls.finish()));
                }
                let fields = names
                    .iter()
                    .zip(&arrays)
                    .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
                    .collect();
                Arc::new(StructArray::new(fields, arrays, nulls.finish()))
            }
        }
    }
}

/// Builds items RecordBatches row by row.
pub(crate) struct BatchBuilder {
    schema: SchemaRef,
    stac_version: StringBuilder,
    stac_extensions: Col,
    id: StringBuilder,
    links: Col,
    assets: Col,
    collection: StringBuilder,
    datetime: TimestampMicrosecondBuilder,
    bbox: Vec<Float64Builder>,
    bbox_nulls: NullBufferBuilder,
    bbox_z: bool,
    geometry: BinaryBuilder,
    properties: Vec<(String, Col)>,
    rows: usize,
    scratch: Vec<u8>,
}

impl BatchBuilder {
    pub(crate) fn new(schema: &ItemSchema, arrow: SchemaRef) -> Self {
        BatchBuilder {
            schema: arrow,
            stac_version: StringBuilder::new(),
            stac_extensions: Col::new(&Ty::List(Box::new(Ty::Str))),
            id: StringBuilder::new(),
            links: Col::new(&Ty::List(Box::new(Ty::Struct(schema.link.clone())))),
            assets: Col::new(&Ty::Struct(schema.assets.clone())),
            collection: StringBuilder::new(),
            datetime: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            bbox: (0..if schema.bbox_z { 6 } else { 4 })
                .map(|_| Float64Builder::new())
                .collect(),
            bbox_nulls: NullBufferBuilder::new(0),
            bbox_z: schema.bbox_z,
            geometry: BinaryBuilder::new(),
            properties: schema
                .properties
                .iter()
                .map(|(name, ty)| (name.clone(), Col::new(ty)))
                .collect(),
            rows: 0,
            scratch: Vec::new(),
        }
    }

    /// Rows appended since the last [`finish`](Self::finish).
    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    /// Append one item. Errors name the field; the caller adds the item's location.
    pub(crate) fn append(&mut self, parts: &ItemParts<'_>) -> Result<(), String> {
        // Geometry first: it is the one part that can still be rejected after the schema fit,
        // and failing before any column grows keeps the builder's columns the same length.
        self.scratch.clear();
        if let Some(geometry) = parts.geometry {
            geometry::encode(geometry, &mut self.scratch)?;
        }

        self.stac_version.append_option(parts.stac_version);
        {
            let Col::List {
                offsets,
                nulls,
                child,
            } = &mut self.stac_extensions
            else {
                unreachable!("stac_extensions column is a list");
            };
            let Col::Str(urls) = child.as_mut() else {
                unreachable!("stac_extensions holds strings");
            };
            for url in &parts.stac_extensions {
                urls.append_value(url);
            }
            let last = *offsets.last().expect("offsets start with 0");
            offsets.push(
                last + i32::try_from(parts.stac_extensions.len())
                    .map_err(|_| "too many extensions")?,
            );
            nulls.append_non_null();
        }
        self.id.append_value(parts.id);
        match parts.links {
            Some(links) => {
                // Links are appended element by element to avoid cloning the list.
                let Col::List {
                    offsets,
                    nulls,
                    child,
                } = &mut self.links
                else {
                    unreachable!("links column is a list");
                };
                for link in links {
                    child.append(link).map_err(|e| format!("`links`: {e}"))?;
                }
                let last = *offsets.last().expect("offsets start with 0");
                offsets.push(last + i32::try_from(links.len()).map_err(|_| "too many links")?);
                nulls.append_non_null();
            }
            None => self
                .links
                .append(&Json::Array(Vec::new()))
                .map_err(|e| format!("`links`: {e}"))?,
        }
        self.assets
            .append_members(parts.assets)
            .map_err(|e| format!("asset {e}"))?;
        self.collection.append_option(parts.collection);
        self.datetime.append_option(parts.datetime);
        match &parts.bbox {
            Some(values) => {
                // GeoJSON order is xmin, ymin, [zmin,] xmax, ymax, [zmax]; columns are
                // xmin, ymin, xmax, ymax, [zmin, zmax].
                let (mins, maxs) = values.split_at(values.len() / 2);
                let ordered: [Option<f64>; 6] = if values.len() == 6 {
                    [
                        Some(mins[0]),
                        Some(mins[1]),
                        Some(maxs[0]),
                        Some(maxs[1]),
                        Some(mins[2]),
                        Some(maxs[2]),
                    ]
                } else {
                    // A 2D bbox in a table with 3D ones has no z: NaN, the "no value" of WKB
                    // coordinates too. Not null: stac-geoparquet cannot read null z extents.
                    [
                        Some(mins[0]),
                        Some(mins[1]),
                        Some(maxs[0]),
                        Some(maxs[1]),
                        Some(f64::NAN),
                        Some(f64::NAN),
                    ]
                };
                if values.len() == 6 && !self.bbox_z {
                    return Err("`bbox` has z values outside the schema".into());
                }
                for (builder, value) in self.bbox.iter_mut().zip(ordered) {
                    builder.append_option(value);
                }
                self.bbox_nulls.append_non_null();
            }
            None => {
                for builder in &mut self.bbox {
                    builder.append_null();
                }
                self.bbox_nulls.append_null();
            }
        }
        if parts.geometry.is_some() {
            self.geometry.append_value(&self.scratch);
        } else {
            self.geometry.append_null();
        }

        // Both lists are sorted by name (ItemParts sorts), so one merge walk pairs them.
        let mut given = parts.properties.iter().copied().peekable();
        for (name, col) in &mut self.properties {
            match given.peek() {
                Some((g, value)) if *g == name.as_str() => {
                    let value = *value;
                    given.next();
                    if is_datetime_field(name)
                        && let (Col::Str(b), Json::Str(s)) = (&mut *col, value)
                    {
                        b.append_value(s);
                        continue;
                    }
                    col.append(value)
                        .map_err(|e| format!("property `{name}`: {e}"))?;
                }
                _ => col.append_null(),
            }
        }
        if let Some((name, value)) = given.find(|(_, v)| !v.is_null()) {
            let _ = value;
            return Err(format!("property `{name}` is not in the schema"));
        }
        self.rows += 1;
        Ok(())
    }

    /// Finish the rows appended so far into a batch and start a new one.
    pub(crate) fn finish(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let rows = std::mem::take(&mut self.rows);
        let bbox_names: Vec<&str> = if self.bbox_z {
            BBOX_2D.iter().chain(BBOX_Z.iter()).copied().collect()
        } else {
            BBOX_2D.to_vec()
        };
        let bbox_arrays: Vec<ArrayRef> = self
            .bbox
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        let bbox = StructArray::new(
            bbox_names
                .iter()
                .map(|n| Field::new(*n, DataType::Float64, true))
                .collect(),
            bbox_arrays,
            self.bbox_nulls.finish(),
        );
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.stac_version.finish()),
            self.stac_extensions.finish(),
            Arc::new(self.id.finish()),
            self.links.finish(),
            self.assets.finish(),
            Arc::new(self.collection.finish()),
            Arc::new(self.datetime.finish()),
            Arc::new(bbox),
            Arc::new(self.geometry.finish()),
        ];
        columns.extend(self.properties.iter_mut().map(|(_, col)| col.finish()));
        debug_assert!(columns.iter().all(|c| c.len() == rows));
        RecordBatch::try_new(self.schema.clone(), columns)
    }
}
