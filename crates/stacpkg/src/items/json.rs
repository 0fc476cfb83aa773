//! STAC JSON documents and NDJSON lines → a sequence of item objects.
//!
//! A JSON document's `features` array is visited one feature at a time, so an ItemCollection of
//! any size is read with memory bounded by its largest feature (plus the collection's other
//! members). NDJSON is read in [`Chunk`]s of whole lines, so chunks can be converted on several
//! threads; a line may be an Item or a whole collection, and memory is bounded by the chunk.

use std::cell::Cell;
use std::fmt;
use std::io::Read;
use std::rc::Rc;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::value::{Json, Object};
use crate::error::{Error, Result};

/// An item object and where it came from.
#[derive(Debug)]
pub(crate) struct RawItem<'a> {
    pub(crate) item: Object<'a>,
    /// 1-based position in the input (or in the chunk, for chunked NDJSON) after collections
    /// are expanded.
    pub(crate) index: u64,
    /// 1-based physical line (NDJSON only).
    pub(crate) line: Option<u64>,
    /// Approximate bytes of input this item took, for byte-bounded batches.
    pub(crate) bytes: u64,
}

fn type_of<'o>(doc: &'o Object<'_>) -> Option<&'o str> {
    doc.get("type").and_then(Json::as_str)
}

fn describe(doc: &Json<'_>) -> String {
    match doc {
        Json::Object(map) => match type_of(map) {
            Some("Feature") => "a Feature without `assets`".into(),
            Some(t) => format!("an object of type `{t}`"),
            None => "an object without `type`".into(),
        },
        Json::Array(_) => "a list".into(),
        Json::Str(_) => "a string".into(),
        Json::Int(_) | Json::BigUint(_) | Json::Float(_) => "a number".into(),
        Json::Bool(_) => "a boolean".into(),
        Json::Null => "null".into(),
    }
}

fn is_item(doc: &Object<'_>) -> bool {
    type_of(doc) == Some("Feature") && doc.contains_key("assets")
}

fn is_collection(doc: &Object<'_>) -> bool {
    matches!(type_of(doc), Some("FeatureCollection" | "ItemCollection"))
}

/// Whole NDJSON lines, and the 1-based number of the first one. Its buffer goes back to the
/// pool it came from when it is dropped, so steady-state reading allocates nothing.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) data: Vec<u8>,
    pub(crate) first_line: u64,
    pub(crate) lines: u64,
    pool: Option<Pool>,
}

impl Chunk {
    /// A chunk not drawn from a pool.
    #[cfg(test)]
    pub(crate) fn new(data: Vec<u8>, first_line: u64, lines: u64) -> Self {
        Chunk {
            data,
            first_line,
            lines,
            pool: None,
        }
    }

    /// Append the lines of the next chunk.
    pub(crate) fn extend(&mut self, next: &Chunk) {
        self.data.extend_from_slice(&next.data);
        self.lines += next.lines;
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        if let Some(pool) = &self.pool {
            give_back(pool, &mut self.data);
        }
    }
}

/// Return a chunk's buffer to its pool.
pub(crate) fn give_back(pool: &Pool, data: &mut Vec<u8>) {
    let mut buffers = pool.lock().expect("buffer pool lock");
    if buffers.len() < MAX_POOLED_BUFFERS {
        buffers.push(std::mem::take(data));
    }
}

/// A buffer from the pool, emptied, or a new one.
pub(crate) fn take_buffer(pool: &Pool) -> Vec<u8> {
    let mut data = pool
        .lock()
        .expect("buffer pool lock")
        .pop()
        .unwrap_or_default();
    data.clear();
    data
}

pub(crate) type Pool = std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>;

/// Buffers kept for reuse; more than the chunks in flight at once would only hold memory.
const MAX_POOLED_BUFFERS: usize = 8;

fn newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// Cuts NDJSON input into chunks of whole lines: at most `max_lines` lines and about
/// `max_bytes` bytes (more only when a single line is longer).
pub(crate) struct Chunks<R> {
    reader: R,
    input: String,
    next_line: u64,
    max_lines: u64,
    max_bytes: usize,
    carry: Vec<u8>,
    eof: bool,
    pool: Pool,
}

impl<R: Read> Chunks<R> {
    pub(crate) fn new(reader: R, input: &str, max_lines: usize, max_bytes: u64) -> Self {
        Chunks {
            reader,
            input: input.to_string(),
            next_line: 1,
            max_lines: max_lines.max(1) as u64,
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX).max(1),
            carry: Vec::new(),
            eof: false,
            pool: Pool::default(),
        }
    }

    fn fill(&mut self, data: &mut Vec<u8>, want: usize) -> Result<()> {
        let read = (&mut self.reader)
            .take(want as u64)
            .read_to_end(data)
            .map_err(|e| Error::io("failed to read", &self.input, e))?;
        if read < want {
            self.eof = true;
        }
        Ok(())
    }

    /// The next chunk; `None` at the end of the input.
    pub(crate) fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        let mut data = take_buffer(&self.pool);
        data.append(&mut self.carry);
        if data.len() < self.max_bytes && !self.eof {
            let want = self.max_bytes - data.len();
            self.fill(&mut data, want)?;
        }
        // A line longer than the chunk: read on until it ends.
        while !self.eof && memchr::memchr(b'\n', &data).is_none() {
            let want = self.max_bytes;
            self.fill(&mut data, want)?;
        }
        if data.is_empty() {
            return Ok(None);
        }
        // Cut after the last line that ends within the byte budget, or after the first line
        // when that one alone is longer; an unterminated last line only exists at the end.
        let budget = self.max_bytes.min(data.len());
        let mut cut = match memchr::memrchr(b'\n', &data[..budget]) {
            Some(i) => i + 1,
            None => memchr::memchr(b'\n', &data[budget..]).map_or(data.len(), |i| budget + i + 1),
        };
        let unterminated = cut == data.len() && data.last() != Some(&b'\n');
        let mut lines = newlines(&data[..cut]) + u64::from(unterminated);
        if lines > self.max_lines {
            // Only with a small --batch-size: stop after the max_lines-th line.
            let nth = usize::try_from(self.max_lines - 1).unwrap_or(usize::MAX);
            cut = memchr::memchr_iter(b'\n', &data)
                .nth(nth)
                .map_or(cut, |i| i + 1);
            lines = self.max_lines;
        }
        self.carry.extend_from_slice(&data[cut..]);
        data.truncate(cut);
        if data.is_empty() {
            return Ok(None);
        }
        let chunk = Chunk {
            data,
            first_line: self.next_line,
            lines,
            pool: Some(self.pool.clone()),
        };
        self.next_line += lines;
        Ok(Some(chunk))
    }
}

/// Visit the items of a chunk of NDJSON lines in order. Item indexes start at `first_index`.
pub(crate) fn for_each_ndjson_item<'a>(
    chunk: &'a Chunk,
    input: &str,
    first_index: u64,
    sink: &mut dyn FnMut(RawItem<'a>) -> Result<()>,
) -> Result<u64> {
    // Validating the chunk once lets the parser skip validating every string.
    let text = std::str::from_utf8(&chunk.data).map_err(|e| Error::Ndjson {
        input: input.to_string(),
        line: chunk.first_line + newlines(&chunk.data[..e.valid_up_to()]),
        message: "invalid UTF-8".into(),
    })?;
    let mut index = first_index;
    for (current, text) in (chunk.first_line..).zip(text.split_inclusive('\n')) {
        let bytes = text.len() as u64;
        let text = text.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let doc = Json::parse(text).map_err(|e| Error::Ndjson {
            input: input.to_string(),
            line: current,
            message: strip_position(&e.to_string()),
        })?;
        let not_stac = |found: String| Error::NotStac {
            location: format!("`{input}` on line {current}"),
            found,
        };
        match doc {
            Json::Object(map) if is_item(&map) => {
                index += 1;
                sink(RawItem {
                    item: map,
                    index,
                    line: Some(current),
                    bytes,
                })?;
            }
            Json::Object(mut map) if is_collection(&map) => {
                let features = match map.remove("features") {
                    None | Some(Json::Null) => Vec::new(),
                    Some(Json::Array(features)) => features,
                    Some(other) => {
                        return Err(not_stac(format!(
                            "a collection whose `features` is {}",
                            describe(&other)
                        )));
                    }
                };
                let share = bytes / features.len().max(1) as u64;
                for feature in features {
                    match feature {
                        Json::Object(item) => {
                            index += 1;
                            sink(RawItem {
                                item,
                                index,
                                line: Some(current),
                                bytes: share,
                            })?;
                        }
                        other => {
                            return Err(not_stac(format!(
                                "a feature that is {}",
                                describe(&other)
                            )));
                        }
                    }
                }
            }
            other => return Err(not_stac(describe(&other))),
        }
    }
    Ok(index - first_index)
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

type ItemSink<'a, 'j> = dyn FnMut(RawItem<'j>) -> Result<()> + 'a;

struct Walk<'a, 'f> {
    sink: &'a mut ItemSink<'f, 'static>,
    failure: &'a mut Option<Error>,
    count: Rc<Cell<u64>>,
    last: u64,
    index: u64,
    input: &'a str,
}

impl Walk<'_, '_> {
    fn emit(&mut self, item: Object<'static>) -> Result<()> {
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
        rest: Object<'static>,
        streamed: bool,
    },
    Other(&'static str),
}

impl DeserializeSeed<'static> for DocSeed<'_, '_, '_> {
    type Value = Doc;
    fn deserialize<D: serde::Deserializer<'static>>(self, d: D) -> Result<Doc, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'static> for DocSeed<'_, '_, '_> {
    type Value = Doc;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a STAC JSON document")
    }

    fn visit_map<A: MapAccess<'static>>(self, mut map: A) -> Result<Doc, A::Error> {
        let mut rest = Object::default();
        let mut streamed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "features" {
                map.next_value_seed(FeaturesSeed(&mut *self.0))?;
                streamed = true;
            } else {
                let value = map.next_value::<Json<'static>>()?;
                rest.0.push((key.into(), value));
            }
        }
        Ok(Doc::Object { rest, streamed })
    }

    fn visit_seq<A: SeqAccess<'static>>(self, mut seq: A) -> Result<Doc, A::Error> {
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

impl DeserializeSeed<'static> for FeaturesSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'static>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'static> for FeaturesSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of features")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'static>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(feature) = seq.next_element::<Json<'static>>()? {
            let result = match feature {
                Json::Object(item) => self.0.emit(item),
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
    sink: &mut ItemSink<'_, 'static>,
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
                Err(not_stac(describe(&Json::Object(rest))))
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
            ids.push(
                raw.item
                    .get("id")
                    .and_then(Json::as_str)
                    .unwrap_or("?")
                    .to_string(),
            );
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
        let mut chunks = Chunks::new(text.as_bytes(), "x.ndjson", 100, 1 << 20);
        let chunk = chunks.next_chunk().unwrap().unwrap();
        assert_eq!((chunk.first_line, chunk.lines), (1, 4));
        let mut seen = Vec::new();
        let err = for_each_ndjson_item(&chunk, "x.ndjson", 0, &mut |raw| {
            seen.push((raw.index, raw.line));
            Ok(())
        })
        .unwrap_err();
        assert_eq!(seen, vec![(1, Some(1)), (2, Some(3))]);
        assert!(
            err.to_string().starts_with(
                "invalid STAC NDJSON in `x.ndjson` on line 4: key must be a string at column 2"
            ),
            "{err}"
        );
        assert!(chunks.next_chunk().unwrap().is_none());
    }

    #[test]
    fn byte_bounded_chunks_cut_at_line_ends_and_keep_long_lines_whole() {
        let text = "aaaa\nbb\ncccccccccccc\nd\n";
        let mut chunks = Chunks::new(text.as_bytes(), "x", 100, 6);
        let got: Vec<(u64, u64, String)> = std::iter::from_fn(|| chunks.next_chunk().unwrap())
            .map(|c| {
                (
                    c.first_line,
                    c.lines,
                    String::from_utf8(c.data.clone()).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 1, "aaaa\n".to_string()),
                (2, 1, "bb\n".to_string()),
                (3, 1, "cccccccccccc\n".to_string()),
                (4, 1, "d\n".to_string()),
            ]
        );
    }

    #[test]
    fn chunks_reassemble_the_input_for_any_limits() {
        let inputs = [
            "",
            "\n",
            "a",
            "a\n",
            "a\n\nbbb\ncc",
            "xxxxxxxxxx\ny\nzz\n",
            "1\n22\n333\n4444\n55555\n666666\n",
        ];
        for input in inputs {
            for max_lines in 1..5 {
                for max_bytes in 1..12 {
                    let mut chunks = Chunks::new(input.as_bytes(), "x", max_lines, max_bytes);
                    let mut joined = Vec::new();
                    let mut next_line = 1;
                    while let Some(chunk) = chunks.next_chunk().unwrap() {
                        let text = String::from_utf8(chunk.data.clone()).unwrap();
                        let lines = text.split_inclusive('\n').count() as u64;
                        let case = format!("{input:?} lines={max_lines} bytes={max_bytes}");
                        assert_eq!(chunk.first_line, next_line, "{case}");
                        assert_eq!(chunk.lines, lines, "{case}");
                        assert!(chunk.lines <= max_lines as u64, "{case}");
                        // Over the byte budget only when it holds a single line.
                        assert!(
                            chunk.data.len() <= max_bytes as usize || lines == 1,
                            "{case}"
                        );
                        next_line += chunk.lines;
                        joined.extend_from_slice(&chunk.data);
                    }
                    assert_eq!(
                        joined,
                        input.as_bytes(),
                        "{input:?} {max_lines} {max_bytes}"
                    );
                }
            }
        }
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let chunk = Chunk::new(b"{}\n\xff\n".to_vec(), 7, 2);
        let err = for_each_ndjson_item(&chunk, "x", 0, &mut |_| Ok(())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid STAC NDJSON in `x` on line 8: invalid UTF-8"
        );
    }

    #[test]
    fn chunks_hold_whole_lines_and_number_them() {
        let text = "a\nb\nc\nd\ne";
        let mut chunks = Chunks::new(text.as_bytes(), "x", 2, 1 << 20);
        let firsts: Vec<(u64, u64, Vec<u8>)> = std::iter::from_fn(|| chunks.next_chunk().unwrap())
            .map(|c| (c.first_line, c.lines, c.data.clone()))
            .collect();
        assert_eq!(
            firsts,
            vec![
                (1, 2, b"a\nb\n".to_vec()),
                (3, 2, b"c\nd\n".to_vec()),
                (5, 1, b"e".to_vec())
            ]
        );
    }
}
