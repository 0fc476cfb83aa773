//! The items table: column names, metadata keys, and the schema inferred from STAC JSON.
//!
//! The layout matches the Python original (ref §3.2) so that IPC streams and Parquet files
//! interoperate both ways: `stac_version`, `stac_extensions`, `id`, `links`, `assets`,
//! `collection`, `datetime`, `bbox`, `geometry`, then property columns sorted by name.
//!
//! Unlike the original, the schema covers the *whole* input (SPEC §3): the schema is folded
//! over every item before any batch is built, so a property first seen in item 1,000,000 is kept.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::value::{FieldHash, Json, Object};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use indexmap::IndexMap;

use super::datetime;
use super::geometry::{self, GeoStats};

/// `stac_version` column.
pub const STAC_VERSION: &str = "stac_version";
/// `stac_extensions` column: list of extension schema URLs.
pub const STAC_EXTENSIONS: &str = "stac_extensions";
/// `id` column.
pub const ID: &str = "id";
/// `links` column: list of link structs.
pub const LINKS: &str = "links";
/// `assets` column: struct with one field per asset key.
pub const ASSETS: &str = "assets";
/// Asset member with a checksum of the asset's bytes (File Info extension): a multihash in hex.
pub const FILE_CHECKSUM: &str = "file:checksum";
/// `collection` column.
pub const COLLECTION: &str = "collection";
/// `datetime` column: timestamp[us, UTC].
pub const DATETIME: &str = "datetime";
/// `bbox` column: struct of xmin, ymin, xmax, ymax (and zmin, zmax for 3D items).
pub const BBOX: &str = "bbox";
/// `geometry` column: ISO WKB.
pub const GEOMETRY: &str = "geometry";
/// GeoJSON member holding the properties (not a column; its members become columns).
pub const PROPERTIES: &str = "properties";

/// Members of a `bbox` struct, in column order.
pub const BBOX_2D: [&str; 4] = ["xmin", "ymin", "xmax", "ymax"];
/// Extra members of a 3D `bbox` struct.
pub const BBOX_Z: [&str; 2] = ["zmin", "zmax"];

/// Link members always present, in this order, so link structs match the original's layout.
pub const LINK_MEMBERS: [&str; 4] = ["href", "rel", "type", "title"];

/// Property names that are STAC datetime fields; only these become timestamps (SPEC §3).
pub const DATETIME_FIELDS: [&str; 8] = [
    "datetime",
    "start_datetime",
    "end_datetime",
    "created",
    "updated",
    "expires",
    "published",
    "unpublished",
];

/// Top-level names a property may not take, because a fixed column already has them.
const RESERVED: [&str; 11] = [
    "type",
    STAC_VERSION,
    STAC_EXTENSIONS,
    ID,
    LINKS,
    ASSETS,
    COLLECTION,
    DATETIME,
    BBOX,
    GEOMETRY,
    PROPERTIES,
];

/// Schema metadata: kind of table.
pub const META_KIND: &str = "stacpkg:schema-kind";
/// Schema metadata: version of the table layout.
pub const META_VERSION: &str = "stacpkg:schema-version";
/// Schema metadata: stac-geoparquet version (flat key).
pub const META_STAC_GEOPARQUET_VERSION: &str = "stac_geoparquet:version";
/// Schema metadata: stac-geoparquet JSON.
pub const META_STAC_GEOPARQUET: &str = "stac-geoparquet";
/// Schema metadata: GeoParquet `geo` JSON.
pub const META_GEO: &str = "geo";
/// Field metadata key naming the Arrow extension type.
pub const EXTENSION_NAME: &str = "ARROW:extension:name";
/// Field metadata of a column that holds a foreign top-level member of the items (`"true"`),
/// not a property: `items to-ndjson` writes it back at the top level.
pub const META_TOP_LEVEL: &str = "stacpkg:top-level-member";
/// Field metadata key holding the extension type's parameters (geoarrow: `{"crs": …}`).
pub const EXTENSION_METADATA: &str = "ARROW:extension:metadata";
/// Extension type of the geometry column.
pub const GEOARROW_WKB: &str = "geoarrow.wkb";

/// The items table layout version written as `stacpkg:schema-version`.
pub const SCHEMA_VERSION: &str = "v1";
/// The stac-geoparquet version the layout follows.
pub const STAC_GEOPARQUET_VERSION: &str = "1.0.0";

/// The name of the list child field; arrow-rs and pyarrow both use `item` for IPC.
pub(crate) const LIST_ITEM: &str = "item";

/// Struct members of an inferred type, in column order.
pub(crate) type TyFields = IndexMap<String, Ty, FieldHash>;

/// A column type inferred from JSON values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ty {
    /// Only nulls seen so far.
    Null,
    Bool,
    Int,
    Float,
    Str,
    /// A STAC datetime field whose every value parsed as a datetime.
    Timestamp,
    List(Box<Ty>),
    /// Members in first-seen order (each object's keys are visited sorted, like the original).
    Struct(TyFields),
}

impl Ty {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Ty::Null => "null",
            Ty::Bool => "boolean",
            Ty::Int => "integer",
            Ty::Float => "float",
            Ty::Str => "string",
            Ty::Timestamp => "timestamp",
            Ty::List(_) => "list",
            Ty::Struct(_) => "object",
        }
    }

    pub(crate) fn data_type(&self) -> DataType {
        match self {
            Ty::Null => DataType::Null,
            Ty::Bool => DataType::Boolean,
            Ty::Int => DataType::Int64,
            Ty::Float => DataType::Float64,
            Ty::Str => DataType::Utf8,
            Ty::Timestamp => timestamp_type(),
            Ty::List(child) => {
                DataType::List(Arc::new(Field::new(LIST_ITEM, child.data_type(), true)))
            }
            Ty::Struct(fields) => DataType::Struct(
                fields
                    .iter()
                    .map(|(name, ty)| Field::new(name, ty.data_type(), true))
                    .collect::<Fields>(),
            ),
        }
    }
}

/// The `datetime` column type: timestamp[us, UTC].
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// A dotted field path, built on the stack and rendered only when an error needs it.
#[derive(Clone, Copy)]
pub(crate) enum FieldPath<'a> {
    Root(&'a str),
    Member(&'a FieldPath<'a>, &'a str),
    Element(&'a FieldPath<'a>),
}

impl FieldPath<'_> {
    pub(crate) fn render(&self) -> String {
        match self {
            FieldPath::Root(name) => (*name).to_string(),
            FieldPath::Member(parent, name) => format!("{}.{name}", parent.render()),
            FieldPath::Element(parent) => format!("{}[]", parent.render()),
        }
    }
}

/// How a value failed to merge into (or fit) a type.
#[derive(Debug)]
pub(crate) enum Mismatch {
    /// Incompatible types; `found` in this item, `expected` from earlier items.
    Conflict {
        field: String,
        found: &'static str,
        expected: &'static str,
    },
    /// `--stream`: the value would change the fixed schema.
    Misfit { field: String, problem: String },
    /// A value no column type can hold.
    Invalid { field: String, problem: String },
}

/// Whether a merge may widen the type (`Scan`) or must leave it unchanged (`Fit`, `--stream`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Scan,
    Fit,
}

/// Merge one JSON value into `ty`. In [`Mode::Fit`] the type may not change: anything that would
/// change it is a [`Mismatch::Misfit`]. `is_datetime` marks a STAC datetime field (top level only).
pub(crate) fn merge_value(
    ty: &mut Ty,
    value: &Json<'_>,
    is_datetime: bool,
    path: &FieldPath<'_>,
    mode: Mode,
) -> Result<(), Mismatch> {
    let target = match value {
        Json::Null => return Ok(()),
        Json::Bool(_) => Ty::Bool,
        Json::Int(_) => Ty::Int,
        Json::Float(_) => Ty::Float,
        Json::BigUint(n) => {
            return Err(Mismatch::Invalid {
                field: path.render(),
                problem: format!("integer {n} does not fit in a signed 64-bit integer"),
            });
        }
        Json::Str(s) => {
            if is_datetime && datetime::parse_micros(s).is_some() {
                Ty::Timestamp
            } else {
                Ty::Str
            }
        }
        Json::Array(items) => {
            if matches!(ty, Ty::Null) {
                widen(ty, Ty::List(Box::new(Ty::Null)), path, mode)?;
            }
            let Ty::List(child) = ty else {
                return Err(conflict(path, value, ty));
            };
            let element = FieldPath::Element(path);
            for item in items {
                merge_value(child, item, false, &element, mode)?;
            }
            return Ok(());
        }
        Json::Object(members) => {
            if matches!(ty, Ty::Null) {
                widen(ty, Ty::Struct(TyFields::default()), path, mode)?;
            }
            let Ty::Struct(fields) = ty else {
                return Err(conflict(path, value, ty));
            };
            return merge_members(fields, members, path, mode);
        }
    };
    match join_scalar(ty, target) {
        Join::Keep => Ok(()),
        Join::Widen(to) => widen(ty, to, path, mode),
        Join::Conflict => Err(conflict(path, value, ty)),
    }
}

/// What a column of some type does with a scalar value of type `target`.
pub(crate) enum Join {
    Keep,
    Widen(Ty),
    Conflict,
}

/// The scalar rules of [`merge_value`], shared with the schema scan that reads tokens.
pub(crate) fn join_scalar(ty: &Ty, target: Ty) -> Join {
    match (ty, target) {
        (a, b) if *a == b => Join::Keep,
        (Ty::Null, target) => Join::Widen(target),
        // An integer is a valid value of a float column; the reverse widens the column.
        (Ty::Float, Ty::Int) => Join::Keep,
        (Ty::Int, Ty::Float) => Join::Widen(Ty::Float),
        // A datetime field keeps the original text when any value is not a datetime.
        (Ty::Str, Ty::Timestamp) => Join::Keep,
        (Ty::Timestamp, Ty::Str) => Join::Widen(Ty::Str),
        _ => Join::Conflict,
    }
}

/// Merge the members of a JSON object into struct fields.
pub(crate) fn merge_members(
    fields: &mut TyFields,
    members: &Object<'_>,
    path: &FieldPath<'_>,
    mode: Mode,
) -> Result<(), Mismatch> {
    let mut new: Vec<(&str, &Json<'_>)> = Vec::new();
    for (name, member) in members.iter() {
        match fields.get_mut(name) {
            Some(field) => merge_value(field, member, false, &FieldPath::Member(path, name), mode)?,
            // A new member that is null carries nothing to keep; under --stream it is not a
            // misfit, and while scanning it still earns its column.
            None if member.is_null() && mode == Mode::Fit => {}
            None => {
                if mode == Mode::Fit {
                    return Err(Mismatch::Misfit {
                        field: FieldPath::Member(path, name).render(),
                        problem: "is not in".into(),
                    });
                }
                new.push((name, member));
            }
        }
    }
    // New members join in name order, like the original's sorted-key rows.
    new.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for (name, member) in new {
        let mut field = Ty::Null;
        merge_value(
            &mut field,
            member,
            false,
            &FieldPath::Member(path, name),
            mode,
        )?;
        fields.insert(name.to_string(), field);
    }
    Ok(())
}

/// Join two inferred types, as if the items behind `other` were folded after those behind `ty`.
/// Conflicts carry no item; callers re-fold to find it.
fn merge_ty(ty: &mut Ty, other: &Ty) -> Result<(), ()> {
    match (&mut *ty, other) {
        (_, Ty::Null) => Ok(()),
        (Ty::Null, _) => {
            *ty = other.clone();
            Ok(())
        }
        (a, b) if *a == *b => Ok(()),
        (Ty::Float, Ty::Int) | (Ty::Str, Ty::Timestamp) => Ok(()),
        (Ty::Int, Ty::Float) => {
            *ty = Ty::Float;
            Ok(())
        }
        (Ty::Timestamp, Ty::Str) => {
            *ty = Ty::Str;
            Ok(())
        }
        (Ty::List(a), Ty::List(b)) => merge_ty(a, b),
        (Ty::Struct(a), Ty::Struct(b)) => merge_fields(a, b),
        _ => Err(()),
    }
}

fn merge_fields(fields: &mut TyFields, other: &TyFields) -> Result<(), ()> {
    for (name, ty) in other {
        match fields.get_mut(name) {
            Some(field) => merge_ty(field, ty)?,
            None => {
                fields.insert(name.clone(), ty.clone());
            }
        }
    }
    Ok(())
}

fn widen(ty: &mut Ty, to: Ty, path: &FieldPath<'_>, mode: Mode) -> Result<(), Mismatch> {
    if mode == Mode::Fit {
        return Err(Mismatch::Misfit {
            field: path.render(),
            problem: format!("is {} here but {} in", to.name(), ty.name()),
        });
    }
    *ty = to;
    Ok(())
}

fn conflict(path: &FieldPath<'_>, value: &Json<'_>, ty: &Ty) -> Mismatch {
    Mismatch::Conflict {
        field: path.render(),
        found: value.kind(),
        expected: ty.name(),
    }
}

/// The schema of an items table, folded over the items of an input.
#[derive(Debug, Clone)]
pub(crate) struct ItemSchema {
    /// Element type of `links`: href, rel, type, title first, then other members first-seen.
    pub(crate) link: TyFields,
    /// One field per asset key, each a struct of asset members.
    pub(crate) assets: TyFields,
    /// Whether any item has a 3D bbox.
    pub(crate) bbox_z: bool,
    /// Property columns (including foreign top-level members), sorted by name.
    pub(crate) properties: BTreeMap<String, Ty>,
    /// The columns of `properties` that hold foreign top-level members of the items (not
    /// properties), so that items written back out keep them at the top level.
    pub(crate) top_level: BTreeSet<String>,
    /// Geometry types and extent for the `geo` metadata.
    pub(crate) geo: GeoStats,
    /// Number of items folded in.
    pub(crate) rows: u64,
}

impl Default for ItemSchema {
    fn default() -> Self {
        ItemSchema {
            link: LINK_MEMBERS
                .iter()
                .map(|name| ((*name).to_string(), Ty::Str))
                .collect(),
            assets: TyFields::default(),
            bbox_z: false,
            properties: BTreeMap::new(),
            top_level: BTreeSet::new(),
            geo: GeoStats::default(),
            rows: 0,
        }
    }
}

/// A member of a STAC Item other than its properties, or a property, classified for conversion.
pub(crate) fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name)
}

/// True for STAC datetime field names.
pub(crate) fn is_datetime_field(name: &str) -> bool {
    DATETIME_FIELDS.contains(&name)
}

/// How one item's top-level members map to columns; shared by schema folding and conversion so
/// the two can never disagree.
pub(crate) struct ItemParts<'a> {
    pub(crate) id: &'a str,
    pub(crate) stac_version: Option<&'a str>,
    pub(crate) stac_extensions: Vec<&'a str>,
    pub(crate) links: Option<&'a Vec<Json<'a>>>,
    pub(crate) assets: &'a Object<'a>,
    pub(crate) collection: Option<&'a str>,
    /// Microseconds since the epoch of `properties.datetime`; null stays null.
    pub(crate) datetime: Option<i64>,
    pub(crate) bbox: Option<Vec<f64>>,
    pub(crate) geometry: Option<&'a Json<'a>>,
    /// Properties and foreign top-level members, each with its column name; sorted by name,
    /// each name once.
    pub(crate) properties: Vec<(&'a str, &'a Json<'a>)>,
    /// The names in `properties` that are foreign top-level members, sorted.
    pub(crate) foreign: Vec<&'a str>,
}

impl<'a> ItemParts<'a> {
    /// Split an item into its parts, checking the fixed members' types.
    pub(crate) fn from_item(item: &'a Object<'a>) -> Result<Self, String> {
        let id = match item.get(ID) {
            Some(Json::Str(id)) => id.as_ref(),
            Some(other) => return Err(format!("`id` is {}, expected a string", other.kind())),
            None => return Err("missing `id`".into()),
        };
        let stac_version = opt_str(item, STAC_VERSION)?;
        let stac_extensions = match item.get(STAC_EXTENSIONS) {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(urls)) => urls
                .iter()
                .map(|url| {
                    url.as_str().ok_or_else(|| {
                        format!("`stac_extensions` holds {}, expected strings", url.kind())
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(format!(
                    "`stac_extensions` is {}, expected a list",
                    other.kind()
                ));
            }
        };
        let links = match item.get(LINKS) {
            None | Some(Json::Null) => None,
            Some(Json::Array(links)) => {
                if let Some(bad) = links.iter().find(|l| !l.is_object() && !l.is_null()) {
                    return Err(format!("`links` holds {}, expected objects", bad.kind()));
                }
                Some(links)
            }
            Some(other) => {
                return Err(format!("`links` is {}, expected a list", other.kind()));
            }
        };
        let assets = match item.get(ASSETS) {
            Some(Json::Object(assets)) => {
                if let Some((key, bad)) =
                    assets.iter().find(|(_, a)| !a.is_object() && !a.is_null())
                {
                    return Err(format!(
                        "asset `{key}` is {}, expected an object",
                        bad.kind()
                    ));
                }
                assets
            }
            Some(other) => {
                return Err(format!("`assets` is {}, expected an object", other.kind()));
            }
            None => return Err("missing `assets`".into()),
        };
        let collection = opt_str(item, COLLECTION)?;
        let bbox = match item.get(BBOX) {
            None | Some(Json::Null) => None,
            Some(Json::Array(values)) if values.len() == 4 || values.len() == 6 => Some(
                values
                    .iter()
                    .map(|v| {
                        v.as_f64()
                            .ok_or("`bbox` holds a value that is not a number")
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => return Err("`bbox` must be a list of 4 or 6 numbers".into()),
        };
        let geometry = match item.get(GEOMETRY) {
            None | Some(Json::Null) => None,
            Some(geometry) => Some(geometry),
        };

        let mut properties = Vec::new();
        let mut datetime_value = None;
        match item.get(PROPERTIES) {
            None | Some(Json::Null) => {}
            Some(Json::Object(props)) => {
                for (name, value) in props.iter() {
                    if name == DATETIME {
                        datetime_value = Some(value);
                        continue;
                    }
                    if is_reserved(name) {
                        return Err(format!(
                            "property `{name}` collides with the top-level `{name}` column"
                        ));
                    }
                    properties.push((name, value));
                }
            }
            Some(other) => {
                return Err(format!(
                    "`properties` is {}, expected an object",
                    other.kind()
                ));
            }
        }
        // Sorted by name with a repeated key keeping its last value (as serde_json does); the
        // builder relies on the order.
        sort_last_wins(&mut properties);
        // Foreign top-level members are kept as columns too (nothing silently lost).
        let mut foreign = Vec::new();
        let mut foreign_names = Vec::new();
        for (name, value) in item.iter() {
            if is_reserved(name) {
                continue;
            }
            if properties.binary_search_by(|(p, _)| (*p).cmp(name)).is_ok() {
                return Err(format!(
                    "top-level member `{name}` collides with property `{name}`"
                ));
            }
            foreign.push((name, value));
            foreign_names.push(name);
        }
        foreign_names.sort_unstable();
        foreign_names.dedup();
        if !foreign.is_empty() {
            properties.extend(foreign);
            sort_last_wins(&mut properties);
        }

        // A null `datetime` stays null: a range item says so with `start_datetime` and
        // `end_datetime`, and filling `datetime` from them would turn it into an instant.
        let datetime = match datetime_value {
            None | Some(Json::Null) => None,
            Some(Json::Str(s)) => Some(datetime::parse_micros(s).ok_or_else(|| {
                format!("`properties.datetime` is not an RFC 3339 datetime: {s:?}")
            })?),
            Some(other) => {
                return Err(format!(
                    "`properties.datetime` is {}, expected a string",
                    other.kind()
                ));
            }
        };

        Ok(ItemParts {
            id,
            stac_version,
            stac_extensions,
            links,
            assets,
            collection,
            datetime,
            bbox,
            geometry,
            properties,
            foreign: foreign_names,
        })
    }
}

/// Sort name/value pairs by name, keeping the last of equal names.
fn sort_last_wins<T>(pairs: &mut Vec<(&str, T)>) {
    // Stable: equal names stay in document order, so the last one is the one to keep.
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut kept: Vec<(&str, T)> = Vec::with_capacity(pairs.len());
    for pair in pairs.drain(..) {
        match kept.last_mut() {
            Some(last) if last.0 == pair.0 => *last = pair,
            _ => kept.push(pair),
        }
    }
    *pairs = kept;
}

fn opt_str<'a>(item: &'a Object<'a>, name: &str) -> Result<Option<&'a str>, String> {
    match item.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Str(s)) => Ok(Some(s)),
        Some(other) => Err(format!("`{name}` is {}, expected a string", other.kind())),
    }
}

/// Why an item could not be folded into a schema.
#[derive(Debug)]
pub(crate) enum FoldError {
    Item(String),
    Mismatch(Mismatch),
}

impl ItemSchema {
    /// Fold one item in. In [`Mode::Fit`], fail instead of changing the schema.
    pub(crate) fn fold(&mut self, parts: &ItemParts<'_>, mode: Mode) -> Result<(), FoldError> {
        if let Some(links) = parts.links {
            let root = FieldPath::Root(LINKS);
            let element = FieldPath::Element(&root);
            for link in links {
                if let Json::Object(members) = link {
                    merge_members(&mut self.link, members, &element, mode)
                        .map_err(FoldError::Mismatch)?;
                }
            }
        }
        merge_members(
            &mut self.assets,
            parts.assets,
            &FieldPath::Root(ASSETS),
            mode,
        )
        .map_err(FoldError::Mismatch)?;
        if let Some(bbox) = &parts.bbox
            && bbox.len() == 6
            && !self.bbox_z
        {
            if mode == Mode::Fit {
                return Err(FoldError::Mismatch(Mismatch::Misfit {
                    field: BBOX.into(),
                    problem: "has z values (6 numbers), which are not in".into(),
                }));
            }
            self.bbox_z = true;
        }
        if let Some(geometry) = parts.geometry {
            let info = geometry::inspect(geometry).map_err(FoldError::Item)?;
            if mode == Mode::Scan {
                self.geo.add(&info);
            }
        }
        let properties_root = FieldPath::Root(PROPERTIES);
        for (name, value) in &parts.properties {
            let foreign = parts.foreign.binary_search(name).is_ok();
            let known = self.properties.contains_key(*name);
            if known && foreign != self.top_level.contains(*name) {
                // One column cannot be both: written back out, it would move the member.
                let (found, expected) = if foreign {
                    ("a top-level member", "a property")
                } else {
                    ("a property", "a top-level member")
                };
                return Err(FoldError::Mismatch(Mismatch::Conflict {
                    field: (*name).to_string(),
                    found,
                    expected,
                }));
            }
            if foreign && !known && mode == Mode::Scan {
                self.top_level.insert((*name).to_string());
            }
            let root = if foreign {
                FieldPath::Root(name)
            } else {
                FieldPath::Member(&properties_root, name)
            };
            match self.properties.get_mut(*name) {
                Some(ty) => merge_value(ty, value, is_datetime_field(name), &root, mode)
                    .map_err(FoldError::Mismatch)?,
                None if value.is_null() => {
                    if mode == Mode::Scan {
                        self.properties.insert((*name).to_string(), Ty::Null);
                    }
                }
                None => {
                    if mode == Mode::Fit {
                        return Err(FoldError::Mismatch(Mismatch::Misfit {
                            field: root.render(),
                            problem: "is not in".into(),
                        }));
                    }
                    let mut ty = Ty::Null;
                    merge_value(&mut ty, value, is_datetime_field(name), &root, mode)
                        .map_err(FoldError::Mismatch)?;
                    self.properties.insert((*name).to_string(), ty);
                }
            }
        }
        if mode == Mode::Scan {
            self.rows += 1;
        }
        Ok(())
    }

    /// Join the schema of a later part of the input. On a conflict `self` is left unchanged and
    /// the caller re-folds that part item by item to name the item.
    pub(crate) fn merge(&mut self, other: &ItemSchema) -> Result<(), ()> {
        let mut merged = self.clone();
        merge_fields(&mut merged.link, &other.link)?;
        merge_fields(&mut merged.assets, &other.assets)?;
        for (name, ty) in &other.properties {
            let foreign = other.top_level.contains(name);
            match merged.properties.get_mut(name) {
                Some(_) if foreign != merged.top_level.contains(name) => return Err(()),
                Some(field) => merge_ty(field, ty)?,
                None => {
                    merged.properties.insert(name.clone(), ty.clone());
                    if foreign {
                        merged.top_level.insert(name.clone());
                    }
                }
            }
        }
        merged.bbox_z |= other.bbox_z;
        merged.geo.merge(&other.geo);
        merged.rows += other.rows;
        *self = merged;
        Ok(())
    }

    /// The Arrow type of the `bbox` struct.
    pub(crate) fn bbox_type(&self) -> DataType {
        let mut names: Vec<&str> = BBOX_2D.to_vec();
        if self.bbox_z {
            names.extend(BBOX_Z);
        }
        DataType::Struct(
            names
                .into_iter()
                .map(|n| Field::new(n, DataType::Float64, true))
                .collect::<Fields>(),
        )
    }

    /// The Arrow schema of the table, with items metadata. `whole_input` says whether the
    /// geometry statistics cover every row (then `geo` lists real types and a bbox).
    pub(crate) fn arrow_schema(&self, whole_input: bool) -> SchemaRef {
        let mut fields = vec![
            Field::new(STAC_VERSION, DataType::Utf8, true),
            Field::new(
                STAC_EXTENSIONS,
                Ty::List(Box::new(Ty::Str)).data_type(),
                true,
            ),
            Field::new(ID, DataType::Utf8, true),
            Field::new(
                LINKS,
                Ty::List(Box::new(Ty::Struct(self.link.clone()))).data_type(),
                true,
            ),
            Field::new(ASSETS, Ty::Struct(self.assets.clone()).data_type(), true),
            Field::new(COLLECTION, DataType::Utf8, true),
            Field::new(DATETIME, timestamp_type(), true),
            Field::new(BBOX, self.bbox_type(), true),
            geometry_field(),
        ];
        fields.extend(self.properties.iter().map(|(name, ty)| {
            let field = Field::new(name, ty.data_type(), true);
            if self.top_level.contains(name) {
                field.with_metadata([(META_TOP_LEVEL, "true")])
            } else {
                field
            }
        }));
        let geo = if whole_input {
            self.geo.clone()
        } else {
            GeoStats::default()
        };
        Arc::new(Schema::new(fields).with_metadata(items_metadata(&geo, true)))
    }
}

/// The `geometry` field: binary with the geoarrow.wkb extension name.
pub fn geometry_field() -> Field {
    Field::new(GEOMETRY, DataType::Binary, true).with_metadata([(EXTENSION_NAME, GEOARROW_WKB)])
}

/// Schema metadata of an items table: kind, version, stac-geoparquet and GeoParquet 1.1 `geo`.
pub(crate) fn items_metadata(
    geo: &GeoStats,
    has_bbox_column: bool,
) -> std::collections::HashMap<String, String> {
    [
        (META_KIND, "items".to_string()),
        (META_VERSION, SCHEMA_VERSION.to_string()),
        (
            META_STAC_GEOPARQUET_VERSION,
            STAC_GEOPARQUET_VERSION.to_string(),
        ),
        (
            META_STAC_GEOPARQUET,
            format!(r#"{{"version":"{STAC_GEOPARQUET_VERSION}"}}"#),
        ),
        (META_GEO, geo.metadata_json(has_bbox_column, None)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::value::from_value;
    use serde_json::{Value, json};

    fn fold(items: &[Value]) -> Result<ItemSchema, FoldError> {
        let mut schema = ItemSchema::default();
        for item in items {
            let item = from_value(item.clone());
            let parts = ItemParts::from_item(item.as_object().unwrap()).map_err(FoldError::Item)?;
            schema.fold(&parts, Mode::Scan)?;
        }
        Ok(schema)
    }

    fn item(id: &str, props: Value) -> Value {
        json!({"type": "Feature", "id": id, "assets": {}, "properties": props})
    }

    #[test]
    fn later_properties_join_the_schema() {
        let schema = fold(&[item("a", json!({"x": 1})), item("b", json!({"y": "s"}))]).unwrap();
        assert_eq!(schema.properties.keys().collect::<Vec<_>>(), vec!["x", "y"]);
    }

    #[test]
    fn int_then_float_widens_to_float() {
        let schema = fold(&[
            item("a", json!({"gsd": 10})),
            item("b", json!({"gsd": 0.5})),
        ])
        .unwrap();
        assert_eq!(schema.properties["gsd"], Ty::Float);
    }

    #[test]
    fn int_then_string_is_a_conflict_naming_both_types() {
        let err = fold(&[
            item("a", json!({"gsd": 1})),
            item("b", json!({"gsd": "abc"})),
        ])
        .unwrap_err();
        match err {
            FoldError::Mismatch(Mismatch::Conflict {
                field,
                found,
                expected,
            }) => {
                assert_eq!(field, "properties.gsd");
                assert_eq!(found, "string");
                assert_eq!(expected, "integer");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn only_stac_datetime_fields_become_timestamps() {
        let schema = fold(&[item(
            "a",
            json!({"created": "2024-01-01T00:00:00Z", "title": "2024-01-01", "code": "20240101"}),
        )])
        .unwrap();
        assert_eq!(schema.properties["created"], Ty::Timestamp);
        assert_eq!(schema.properties["title"], Ty::Str);
        assert_eq!(schema.properties["code"], Ty::Str);
    }

    #[test]
    fn unparseable_datetime_field_keeps_strings() {
        let schema = fold(&[
            item("a", json!({"created": "2024-01-01T00:00:00Z"})),
            item("b", json!({"created": "yesterday"})),
        ])
        .unwrap();
        assert_eq!(schema.properties["created"], Ty::Str);
    }

    #[test]
    fn null_datetime_stays_null_next_to_a_range() {
        let value = item(
            "a",
            json!({"datetime": null, "start_datetime": "2024-01-02T00:00:00Z"}),
        );
        let value = from_value(value);
        let parts = ItemParts::from_item(value.as_object().unwrap()).unwrap();
        assert_eq!(parts.datetime, None);
        assert_eq!(parts.properties[0].0, "start_datetime");
    }

    #[test]
    fn fit_mode_rejects_new_members_but_accepts_nulls_and_ints_in_floats() {
        let mut schema = fold(&[item("a", json!({"gsd": 0.5}))]).unwrap();
        let ok = from_value(item("b", json!({"gsd": 3, "other": null})));
        let parts = ItemParts::from_item(ok.as_object().unwrap()).unwrap();
        schema.fold(&parts, Mode::Fit).unwrap();
        let bad = from_value(item("c", json!({"new": 1})));
        let parts = ItemParts::from_item(bad.as_object().unwrap()).unwrap();
        assert!(matches!(
            schema.fold(&parts, Mode::Fit),
            Err(FoldError::Mismatch(Mismatch::Misfit { .. }))
        ));
    }

    #[test]
    fn property_named_like_a_column_is_rejected() {
        let value = from_value(item("a", json!({"collection": "x"})));
        assert!(ItemParts::from_item(value.as_object().unwrap()).is_err());
    }
}
