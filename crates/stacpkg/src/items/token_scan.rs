//! The whole-input schema scan, read straight from the parser's tokens.
//!
//! Folding the schema is the first of the two passes over an input. Building a value tree for
//! every item only to read its types was ~40% of that pass, so this scan merges each token into
//! the schema as the parser meets it and keeps small values (ids, links, bbox, geometry) only
//! where the item rules need them whole.
//!
//! It gives up (returns `false`) on anything it does not reproduce exactly: errors of any kind,
//! repeated keys whose resolution depends on order, foreign top-level members, negative zeros,
//! deep nesting. Its caller then folds the same piece of input the value way
//! ([`super::schema::ItemSchema::fold`]), which is the reference: whatever the scan returns equals
//! what that fold gives, and every error and message still comes from it.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::datetime;
use super::geometry;
use super::schema::{
    self, ASSETS, BBOX, COLLECTION, DATETIME, FieldPath, GEOMETRY, ID, ItemSchema, Join, LINKS,
    Mode, PROPERTIES, STAC_EXTENSIONS, STAC_VERSION, Ty, TyFields,
};
use super::value::{FieldHash, Json, Key, has_negative_zero};

/// Deeper values are left to the value fold (and to its parser's limits).
const MAX_DEPTH: usize = 64;

/// Reused between the items of one piece of input.
#[derive(Default)]
pub(crate) struct Scratch<'t> {
    /// Property names of the current item: a repeated one keeps its last value, which only the
    /// value fold can tell.
    seen: HashSet<Cow<'t, str>, FieldHash>,
}

/// Fold one item's JSON text into `schema`. `feature` requires `"type": "Feature"` (an NDJSON
/// line; a collection's features are items whatever their type). `false`: the value fold must
/// decide, and `schema` is then in no defined state.
pub(crate) fn fold_item<'t>(
    schema: &mut ItemSchema,
    text: &'t str,
    feature: bool,
    scratch: &mut Scratch<'t>,
) -> bool {
    // sonic-rs reads `-0` as the integer 0; the value parser hands such texts to serde_json.
    if has_negative_zero(text.as_bytes()) {
        return false;
    }
    let mut de = sonic_rs::Deserializer::from_str(text);
    let seed = ItemSeed { schema, scratch };
    match seed.deserialize(&mut de) {
        Ok(shape) => de.end().is_ok() && (!feature || shape.is_feature),
        Err(_) => false,
    }
}

/// The schema of all the `items` (JSON texts) and their count, or `None` when the value fold
/// must decide (see [`fold_item`]).
pub(crate) fn fold_items<'t>(
    items: impl Iterator<Item = &'t str>,
    feature: bool,
) -> Option<(ItemSchema, u64)> {
    let mut schema = ItemSchema::default();
    let mut scratch = Scratch::default();
    for text in items {
        if !fold_item(&mut schema, text, feature, &mut scratch) {
            return None;
        }
    }
    let rows = schema.rows;
    Some((schema, rows))
}

/// What is learnt of an item at its end.
struct Shape {
    is_feature: bool,
}

struct ItemSeed<'s, 't> {
    schema: &'s mut ItemSchema,
    scratch: &'s mut Scratch<'t>,
}

/// Any reason to leave the item to the value fold. Its message is never shown.
fn give_up<E: serde::de::Error>() -> E {
    E::custom("left to the value fold")
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_, 'de> {
    type Value = Shape;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Shape, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_, 'de> {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a STAC item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let schema = self.schema;
        // Each reserved member once: `get` keeps the last of repeated keys.
        let mut seen = [false; 11];
        let mut is_feature = false;
        let mut has_id = false;
        let mut has_assets = false;
        while let Some(Key(name)) = map.next_key()? {
            let slot = match name.as_ref() {
                "type" => 0,
                STAC_VERSION => 1,
                STAC_EXTENSIONS => 2,
                ID => 3,
                LINKS => 4,
                ASSETS => 5,
                COLLECTION => 6,
                DATETIME => 7,
                BBOX => 8,
                GEOMETRY => 9,
                PROPERTIES => 10,
                // A foreign member becomes a column beside the properties; left to the fold.
                _ => return Err(give_up()),
            };
            if std::mem::replace(&mut seen[slot], true) {
                return Err(give_up());
            }
            match slot {
                5 => {
                    map.next_value_seed(Members {
                        fields: &mut schema.assets,
                        depth: 1,
                        objects: true,
                    })?;
                    has_assets = true;
                }
                10 => map.next_value_seed(Properties {
                    schema: &mut *schema,
                    seen: &mut *self.scratch,
                })?,
                _ => {
                    let value: Json<'de> = map.next_value()?;
                    match slot {
                        0 => is_feature = value.as_str() == Some("Feature"),
                        1 | 6 if !matches!(value, Json::Null | Json::Str(_)) => {
                            return Err(give_up());
                        }
                        2 => match &value {
                            Json::Null => {}
                            Json::Array(urls) if urls.iter().all(|u| u.as_str().is_some()) => {}
                            _ => return Err(give_up()),
                        },
                        3 => {
                            has_id = value.as_str().is_some();
                            if !has_id {
                                return Err(give_up());
                            }
                        }
                        4 => fold_links(schema, &value)?,
                        8 => fold_bbox(schema, &value)?,
                        9 if !value.is_null() => {
                            let info = geometry::inspect(&value).map_err(|_| give_up())?;
                            schema.geo.add(&info);
                        }
                        // A valid `stac_version` or `collection`, a null geometry, and a
                        // top-level `datetime` (not a column: the property is) add nothing.
                        _ => {}
                    }
                }
            }
        }
        if !has_id || !has_assets {
            return Err(give_up());
        }
        schema.rows += 1;
        Ok(Shape { is_feature })
    }
}

fn fold_links<E: serde::de::Error>(schema: &mut ItemSchema, links: &Json<'_>) -> Result<(), E> {
    let links = match links {
        Json::Null => return Ok(()),
        Json::Array(links) => links,
        _ => return Err(give_up()),
    };
    let root = FieldPath::Root(LINKS);
    let element = FieldPath::Element(&root);
    for link in links {
        match link {
            Json::Null => {}
            Json::Object(members) => {
                schema::merge_members(&mut schema.link, members, &element, Mode::Scan)
                    .map_err(|_| give_up())?;
            }
            _ => return Err(give_up()),
        }
    }
    Ok(())
}

fn fold_bbox<E: serde::de::Error>(schema: &mut ItemSchema, bbox: &Json<'_>) -> Result<(), E> {
    match bbox {
        Json::Null => Ok(()),
        Json::Array(values)
            if (values.len() == 4 || values.len() == 6) && values.iter().all(Json::is_number) =>
        {
            schema.bbox_z |= values.len() == 6;
            Ok(())
        }
        _ => Err(give_up()),
    }
}

/// An item's `properties`: each one merged into its column, `datetime` checked.
struct Properties<'s, 't> {
    schema: &'s mut ItemSchema,
    seen: &'s mut Scratch<'t>,
}

impl<'de> DeserializeSeed<'de> for Properties<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Properties<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let seen = &mut self.seen.seen;
        seen.clear();
        while let Some(Key(name)) = map.next_key()? {
            if name == DATETIME {
                let value: Json<'de> = map.next_value()?;
                let valid = match &value {
                    Json::Null => true,
                    Json::Str(s) => datetime::parse_micros(s).is_some(),
                    _ => false,
                };
                if !valid || !seen.insert(name) {
                    return Err(give_up());
                }
                continue;
            }
            if schema::is_reserved(&name) {
                return Err(give_up());
            }
            let is_datetime = schema::is_datetime_field(&name);
            match self.schema.properties.get_mut(name.as_ref()) {
                Some(ty) => map.next_value_seed(Merge {
                    ty,
                    is_datetime,
                    depth: 1,
                    objects: false,
                })?,
                None => {
                    let mut ty = Ty::Null;
                    map.next_value_seed(Merge {
                        ty: &mut ty,
                        is_datetime,
                        depth: 1,
                        objects: false,
                    })?;
                    self.schema.properties.insert(name.to_string(), ty);
                }
            }
            // Only the last of repeated properties counts, and it has been merged by now.
            if !seen.insert(name) {
                return Err(give_up());
            }
        }
        Ok(())
    }
}

/// Merge one value into a column type, as `schema::merge_value` in [`Mode::Scan`] does.
struct Merge<'s> {
    ty: &'s mut Ty,
    /// A STAC datetime property: strings that parse become timestamps.
    is_datetime: bool,
    depth: usize,
    /// Only an object or null is valid here (an asset).
    objects: bool,
}

impl<'de> DeserializeSeed<'de> for Merge<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(give_up());
        }
        d.deserialize_any(self)
    }
}

impl Merge<'_> {
    fn scalar<E: serde::de::Error>(self, target: Ty) -> Result<(), E> {
        if self.objects {
            return Err(give_up());
        }
        match schema::join_scalar(self.ty, target) {
            Join::Keep => Ok(()),
            Join::Widen(to) => {
                *self.ty = to;
                Ok(())
            }
            Join::Conflict => Err(give_up()),
        }
    }

    fn string<E: serde::de::Error>(self, s: &str) -> Result<(), E> {
        let target = if self.is_datetime && datetime::parse_micros(s).is_some() {
            Ty::Timestamp
        } else {
            Ty::Str
        };
        self.scalar(target)
    }
}

impl<'de> Visitor<'de> for Merge<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar(Ty::Bool)
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar(Ty::Int)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        // Beyond i64 is an error of the value fold.
        if i64::try_from(v).is_err() {
            return Err(give_up());
        }
        self.scalar(Ty::Int)
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar(Ty::Float)
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<(), E> {
        self.string(v)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.string(v)
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<(), E> {
        self.string(&v)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.objects {
            return Err(give_up());
        }
        if matches!(self.ty, Ty::Null) {
            *self.ty = Ty::List(Box::new(Ty::Null));
        }
        let Ty::List(child) = self.ty else {
            return Err(give_up());
        };
        while seq
            .next_element_seed(Merge {
                ty: child,
                is_datetime: false,
                depth: self.depth + 1,
                objects: false,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        if matches!(self.ty, Ty::Null) {
            *self.ty = Ty::Struct(TyFields::default());
        }
        let Ty::Struct(fields) = self.ty else {
            return Err(give_up());
        };
        merge_members(fields, map, self.depth + 1, false)
    }
}

/// The members of an object merged into struct fields (`assets`, whose members must be objects).
struct Members<'s> {
    fields: &'s mut TyFields,
    depth: usize,
    objects: bool,
}

impl<'de> DeserializeSeed<'de> for Members<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Members<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        merge_members(self.fields, map, self.depth, self.objects)
    }
}

/// As `schema::merge_members`: known members merge in document order, new ones join after them
/// in name order.
fn merge_members<'de, A: MapAccess<'de>>(
    fields: &mut TyFields,
    mut map: A,
    depth: usize,
    objects: bool,
) -> Result<(), A::Error> {
    let mut new: Vec<(Cow<'de, str>, Ty)> = Vec::new();
    while let Some(Key(name)) = map.next_key()? {
        let merge = |ty| Merge {
            ty,
            is_datetime: false,
            depth,
            objects,
        };
        match fields.get_mut(name.as_ref()) {
            Some(ty) => map.next_value_seed(merge(ty))?,
            None => {
                let mut ty = Ty::Null;
                map.next_value_seed(merge(&mut ty))?;
                new.push((name, ty));
            }
        }
    }
    if new.is_empty() {
        return Ok(());
    }
    new.sort_by(|a, b| a.0.cmp(&b.0));
    // A new name twice: which one the value fold keeps is not defined by its sort.
    if new.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(give_up());
    }
    for (name, ty) in new {
        fields.insert(name.into_owned(), ty);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::schema::ItemParts;

    /// The value fold of the same items, or `None` where it fails.
    fn value_fold(lines: &[&str], feature: bool) -> Option<ItemSchema> {
        let mut schema = ItemSchema::default();
        for line in lines {
            let Ok(Json::Object(item)) = Json::parse(line) else {
                return None;
            };
            if feature && item.get("type").and_then(Json::as_str) != Some("Feature") {
                return None;
            }
            let parts = ItemParts::from_item(&item).ok()?;
            schema.fold(&parts, Mode::Scan).ok()?;
        }
        Some(schema)
    }

    fn token_fold(lines: &[&str], feature: bool) -> Option<ItemSchema> {
        fold_items(lines.iter().copied(), feature).map(|(schema, _)| schema)
    }

    fn same(a: &ItemSchema, b: &ItemSchema) -> bool {
        // Field order counts: it is the column order.
        let order = |f: &TyFields| format!("{f:?}");
        order(&a.link) == order(&b.link)
            && order(&a.assets) == order(&b.assets)
            && a.properties == b.properties
            && a.top_level == b.top_level
            && a.bbox_z == b.bbox_z
            && format!("{:?}", a.geo) == format!("{:?}", b.geo)
            && a.rows == b.rows
    }

    /// The token fold either gives up or agrees with the value fold, which must then succeed.
    fn check(lines: &[&str]) -> bool {
        let tokens = token_fold(lines, true);
        if let Some(tokens) = &tokens {
            let values = value_fold(lines, true).unwrap_or_else(|| {
                panic!("the token fold accepted what the value fold refuses: {lines:?}")
            });
            assert!(same(tokens, &values), "{lines:?}\n{tokens:?}\n{values:?}");
        }
        tokens.is_some()
    }

    const A: &str = r#"{"type":"Feature","stac_version":"1.1.0","id":"a","bbox":[0,1,2,3],"geometry":{"type":"Point","coordinates":[1,2]},"properties":{"datetime":"2020-01-01T00:00:00Z","platform":"s2","eo:cloud_cover":5,"start_datetime":"2020-01-01T00:00:00Z","tags":["x"],"n":null},"links":[{"href":"x","rel":"self","extra":1},null],"assets":{"b":{"href":"b.tif","roles":["data"],"raster:bands":[{"scale":1}]},"a":{"href":"a.tif"},"n":null}}"#;
    const B: &str = r#"{"type":"Feature","id":"b","bbox":[0,1,2,3,4,5],"geometry":null,"properties":{"datetime":null,"eo:cloud_cover":5.5,"start_datetime":"not a date","n":{"z":1,"y":[true]},"extra":"x"},"assets":{"c":{"href":"c","z":1,"a":2},"a":{"href":"a","title":"t"}}}"#;

    #[test]
    fn usual_items_fold_exactly_as_values_do() {
        assert!(check(&[A]));
        assert!(check(&[A, B]));
        assert!(check(&[B, A]));
        assert!(check(&[B, B, A, A]));
    }

    #[test]
    fn what_the_value_fold_must_decide_is_left_to_it() {
        let cases = [
            // foreign member, repeated keys, negative zero, big integer, conflicts, bad parts
            r#"{"type":"Feature","id":"a","assets":{},"foo":1}"#,
            r#"{"type":"Feature","id":"a","id":"b","assets":{}}"#,
            r#"{"type":"Feature","id":"a","assets":{},"properties":{"x":1,"x":"s"}}"#,
            r#"{"type":"Feature","id":"a","assets":{"k":{"x":1,"x":"s"}}}"#,
            r#"{"type":"Feature","id":"a","assets":{},"properties":{"x":-0}}"#,
            r#"{"type":"Feature","id":"a","assets":{},"properties":{"x":18446744073709551615}}"#,
            r#"{"type":"Feature","id":"a","assets":{},"properties":{"x":[1,"s"]}}"#,
            r#"{"type":"Feature","id":"a","assets":{"k":3}}"#,
            r#"{"type":"Feature","id":"a","assets":{},"properties":{"datetime":"soon"}}"#,
            r#"{"type":"Feature","id":"a","assets":{},"properties":{"id":"x"}}"#,
            r#"{"type":"Feature","id":"a","assets":{},"bbox":[1,2,3]}"#,
            r#"{"type":"Feature","id":"a","assets":{},"geometry":{"type":"Nope"}}"#,
            r#"{"type":"Feature","id":7,"assets":{}}"#,
            r#"{"type":"Feature","assets":{}}"#,
            r#"{"type":"Feature","id":"a"}"#,
            r#"{"type":"FeatureCollection","features":[]}"#,
            r#"{"type":"Feature","id":"a","assets":{}} x"#,
            r#"{"type":"Feature","id":"a","assets":{}"#,
        ];
        for case in cases {
            assert!(!check(&[case]), "{case}");
        }
        // Conflicts across items are the value fold's to name.
        assert!(!check(&[
            A,
            r#"{"type":"Feature","id":"c","assets":{"a":{"href":1}}}"#
        ]));
    }

    #[test]
    fn damaged_items_are_left_to_the_value_fold_or_fold_alike() {
        // Every single-byte deletion and a few substitutions at every position: the token fold
        // never accepts an item the value fold refuses, and never disagrees with it.
        let mut accepted = 0;
        for at in 0..B.len() {
            let deleted = format!("{}{}", &B[..at], &B[at + 1..]);
            accepted += usize::from(check(&[A, &deleted]));
            for byte in ["0", "\"", "{", "[", "n", ","] {
                let replaced = format!("{}{byte}{}", &B[..at], &B[at + 1..]);
                accepted += usize::from(check(&[A, &replaced]));
            }
        }
        assert!(accepted > 0);
    }
}
