//! STAC JSON documents and NDJSON lines → a sequence of item objects.
//!
//! A JSON document's `features` array is visited one feature at a time, so an ItemCollection of
//! any size is read with memory bounded by its largest feature (plus the collection's other
//! members). An NDJSON line may be an Item or a whole collection; memory is bounded by the
//! longest line.

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::io::{BufRead, Read};
use std::rc::Rc;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// An item object and where it came from.
#[derive(Debug)]
pub(crate) struct RawItem {
    pub(crate) item: Map<String, Value>,
    /// 1-based position in the input after collections are expanded.
    pub(crate) index: u64,
    /// 1-based physical line (NDJSON only).
    pub(crate) line: Option<u64>,
    /// Approximate bytes of input this item took, for byte-bounded batches.
    pub(crate) bytes: u64,
}

fn type_of(doc: &Map<String, Value>) -> Option<&str> {
    doc.get("type").and_then(Value::as_str)
}

fn describe(doc: &Value) -> String {
    match doc {
        Value::Object(map) => match type_of(map) {
            Some("Feature") => "a Feature without `assets`".into(),
            Some(t) => format!("an object of type `{t}`"),
            None => "an object without `type`".into(),
        },
        Value::Array(_) => "a list".into(),
        Value::String(_) => "a string".into(),
        Value::Number(_) => "a number".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Null => "null".into(),
    }
}

fn is_item(doc: &Map<String, Value>) -> bool {
    type_of(doc) == Some("Feature") && doc.contains_key("assets")
}

fn is_collection(doc: &Map<String, Value>) -> bool {
    matches!(type_of(doc), Some("FeatureCollection" | "ItemCollection"))
}

/// Pulls items from NDJSON: one per Item line, all features of a collection line.
pub(crate) struct NdjsonItems<R> {
    reader: R,
    input: String,
    line: u64,
    index: u64,
    buffer: Vec<u8>,
    pending: VecDeque<(Map<String, Value>, u64)>,
}

impl<R: BufRead> NdjsonItems<R> {
    pub(crate) fn new(reader: R, input: &str) -> Self {
        NdjsonItems {
            reader,
            input: input.to_string(),
            line: 0,
            index: 0,
            buffer: Vec::with_capacity(64 * 1024),
            pending: VecDeque::new(),
        }
    }

    fn next_item(&mut self) -> Result<Option<RawItem>> {
        loop {
            if let Some((item, bytes)) = self.pending.pop_front() {
                self.index += 1;
                return Ok(Some(RawItem {
                    item,
                    index: self.index,
                    line: Some(self.line),
                    bytes,
                }));
            }
            self.buffer.clear();
            let read = self
                .reader
                .read_until(b'\n', &mut self.buffer)
                .map_err(|e| Error::io("failed to read", &self.input, e))?;
            if read == 0 {
                return Ok(None);
            }
            self.line += 1;
            let text = self.buffer.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let doc: Value = serde_json::from_slice(text).map_err(|e| Error::Ndjson {
                input: self.input.clone(),
                line: self.line,
                message: strip_position(&e.to_string()),
            })?;
            let bytes = read as u64;
            match doc {
                Value::Object(map) if is_item(&map) => {
                    self.pending.push_back((map, bytes));
                }
                Value::Object(mut map) if is_collection(&map) => {
                    let features = match map.remove("features") {
                        None | Some(Value::Null) => Vec::new(),
                        Some(Value::Array(features)) => features,
                        Some(other) => {
                            return Err(Error::NotStac {
                                location: format!("`{}` on line {}", self.input, self.line),
                                found: format!(
                                    "a collection whose `features` is {}",
                                    describe(&other)
                                ),
                            });
                        }
                    };
                    let share = bytes / features.len().max(1) as u64;
                    for feature in features {
                        match feature {
                            Value::Object(item) => self.pending.push_back((item, share)),
                            other => {
                                return Err(Error::NotStac {
                                    location: format!("`{}` on line {}", self.input, self.line),
                                    found: format!("a feature that is {}", describe(&other)),
                                });
                            }
                        }
                    }
                }
                other => {
                    return Err(Error::NotStac {
                        location: format!("`{}` on line {}", self.input, self.line),
                        found: describe(&other),
                    });
                }
            }
        }
    }
}

impl<R: BufRead> Iterator for NdjsonItems<R> {
    type Item = Result<RawItem>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_item().transpose()
    }
}

/// serde_json's NDJSON messages say `line 1`, meaning the line within the slice; the real line
/// is reported separately, so keep only the column.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => {
            let tail = &message[at + " at line ".len()..];
            match tail.find(" column ") {
                Some(col) => format!(
                    "{} at column {}",
                    &message[..at],
                    &tail[col + " column ".len()..]
                ),
                None => message[..at].to_string(),
            }
        }
        None => message.to_string(),
    }
}

/// Counts bytes handed to the JSON parser, for byte-bounded batches.
struct CountingReader<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

type ItemSink<'a> = dyn FnMut(RawItem) -> Result<()> + 'a;

struct Walk<'a, 'f> {
    sink: &'a mut ItemSink<'f>,
    failure: &'a mut Option<Error>,
    count: Rc<Cell<u64>>,
    last: u64,
    index: u64,
    input: &'a str,
}

impl Walk<'_, '_> {
    fn emit(&mut self, item: Map<String, Value>) -> Result<()> {
        self.index += 1;
        let now = self.count.get();
        let bytes = now.saturating_sub(self.last);
        self.last = now;
        (self.sink)(RawItem {
            item,
            index: self.index,
            line: None,
            bytes,
        })
    }
}

struct DocSeed<'w, 'a, 'f>(&'w mut Walk<'a, 'f>);

enum Doc {
    Object {
        rest: Map<String, Value>,
        streamed: bool,
    },
    Other(&'static str),
}

impl<'de> DeserializeSeed<'de> for DocSeed<'_, '_, '_> {
    type Value = Doc;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Doc, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_, '_, '_> {
    type Value = Doc;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a STAC JSON document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc, A::Error> {
        let mut rest = Map::new();
        let mut streamed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "features" {
                map.next_value_seed(FeaturesSeed(&mut *self.0))?;
                streamed = true;
            } else {
                let value: Value = map.next_value()?;
                rest.insert(key, value);
            }
        }
        Ok(Doc::Object { rest, streamed })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Doc::Other("a list"))
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Doc, E> {
        Ok(Doc::Other("a string"))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Doc, E> {
        Ok(Doc::Other("a boolean"))
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Doc, E> {
        Ok(Doc::Other("a number"))
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Doc, E> {
        Ok(Doc::Other("a number"))
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Doc, E> {
        Ok(Doc::Other("a number"))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Doc, E> {
        Ok(Doc::Other("null"))
    }
}

struct FeaturesSeed<'w, 'a, 'f>(&'w mut Walk<'a, 'f>);

impl<'de> DeserializeSeed<'de> for FeaturesSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FeaturesSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of features")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(feature) = seq.next_element::<Value>()? {
            let result = match feature {
                Value::Object(item) => self.0.emit(item),
                other => Err(Error::NotStac {
                    location: format!("`{}`", self.0.input),
                    found: format!("feature {} that is {}", self.0.index + 1, describe(&other)),
                }),
            };
            if let Err(e) = result {
                *self.0.failure = Some(e);
                return Err(A::Error::custom("item rejected"));
            }
        }
        Ok(())
    }
}

/// Visit every item of one STAC JSON document (Item, ItemCollection or FeatureCollection) in
/// order, streaming the `features` array.
pub(crate) fn for_each_document_item<R: Read>(
    reader: R,
    input: &str,
    sink: &mut ItemSink<'_>,
) -> Result<()> {
    let count = Rc::new(Cell::new(0));
    let reader = std::io::BufReader::with_capacity(
        256 * 1024,
        CountingReader {
            inner: reader,
            count: count.clone(),
        },
    );
    let mut failure = None;
    let mut walk = Walk {
        sink,
        failure: &mut failure,
        count,
        last: 0,
        index: 0,
        input,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let parsed = DocSeed(&mut walk).deserialize(&mut de).and_then(|doc| {
        de.end()?;
        Ok(doc)
    });
    let doc = match parsed {
        Ok(doc) => doc,
        Err(e) => {
            if let Some(failure) = walk.failure.take() {
                return Err(failure);
            }
            if e.is_io() {
                return Err(Error::io(
                    "failed to read",
                    input,
                    std::io::Error::other(e.to_string()),
                ));
            }
            return Err(Error::Json {
                input: input.to_string(),
                message: e.to_string(),
            });
        }
    };
    let not_stac = |found: String| Error::NotStac {
        location: format!("`{input}`"),
        found,
    };
    match doc {
        Doc::Other(what) => Err(not_stac(what.to_string())),
        Doc::Object { rest, streamed } => {
            if is_collection(&rest) {
                Ok(())
            } else if !streamed && is_item(&rest) {
                walk.emit(rest)
            } else {
                Err(not_stac(describe(&Value::Object(rest))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect_doc(text: &str) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for_each_document_item(text.as_bytes(), "doc.json", &mut |raw| {
            ids.push(raw.item["id"].as_str().unwrap_or("?").to_string());
            Ok(())
        })?;
        Ok(ids)
    }

    #[test]
    fn item_collection_features_are_visited_in_order() {
        let doc = r#"{"features": [{"type":"Feature","id":"a","assets":{}},
                                   {"type":"Feature","id":"b","assets":{}}],
                      "type": "FeatureCollection"}"#;
        assert_eq!(collect_doc(doc).unwrap(), vec!["a", "b"]);
    }

    #[test]
    fn single_item_document_is_one_item() {
        let doc = r#"{"type":"Feature","id":"a","assets":{},"properties":{}}"#;
        assert_eq!(collect_doc(doc).unwrap(), vec!["a"]);
    }

    #[test]
    fn feature_without_assets_and_arrays_are_not_stac() {
        let err = collect_doc(r#"{"type":"Feature","id":"a"}"#).unwrap_err();
        assert!(
            err.to_string().contains("a Feature without `assets`"),
            "{err}"
        );
        let err = collect_doc("[1, 2]").unwrap_err();
        assert!(err.to_string().contains("found a list"), "{err}");
    }

    #[test]
    fn malformed_json_reports_line_and_column() {
        let err = collect_doc("{\n  \"type\": ,\n}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid JSON in `doc.json`: expected value at line 2 column 11"
        );
    }

    #[test]
    fn ndjson_expands_collections_and_reports_lines() {
        let text = "{\"type\":\"Feature\",\"id\":\"a\",\"assets\":{}}\n\n\
                    {\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"id\":\"b\",\"assets\":{}}]}\n\
                    {oops\n";
        let mut items = NdjsonItems::new(text.as_bytes(), "x.ndjson");
        let a = items.next().unwrap().unwrap();
        assert_eq!((a.index, a.line), (1, Some(1)));
        let b = items.next().unwrap().unwrap();
        assert_eq!((b.index, b.line), (2, Some(3)));
        let err = items.next().unwrap().unwrap_err();
        assert!(
            err.to_string().starts_with(
                "invalid STAC NDJSON in `x.ndjson` on line 4: key must be a string at column 2"
            ),
            "{err}"
        );
    }
}
