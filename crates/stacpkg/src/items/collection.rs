//! One STAC ItemCollection document cut into chunks of whole features, so that a single large
//! JSON document converts on every core as NDJSON does.
//!
//! The cutter only finds where each feature starts and ends (strings, escapes, nesting); the
//! workers parse the features. It takes the usual shape only — a top-level object whose
//! `features` member is an array of objects and whose `type` is `FeatureCollection` or
//! `ItemCollection` — and answers [`Irregular`] for anything else or anything it is unsure of
//! (a parse error, a non-object feature, deep nesting, a repeated `features`, invalid UTF-8).
//! The caller then reads the document with the sequential parser, which accepts exactly what it
//! always accepted and words every error as before. Irregular documents cost a second reading;
//! regular ones are never parsed more than the sequential reader would parse them.
//!
//! Memory: one feature in progress plus [`READ_BYTES`] in the read buffer, and the chunk being
//! filled (at most its byte budget plus one feature).

use std::io::Read;
use std::ops::Range;

use super::json::{Pool, RawItem, give_back, take_buffer};
use super::value::Json;

/// Bytes read from the input at a time.
const READ_BYTES: u64 = 1024 * 1024;

/// Deeper nesting (inside a feature, or a top-level member) goes to the sequential parser,
/// whose recursion limit (128, counting the document and the `features` array) then decides.
const MAX_DEPTH: usize = 100;

/// The document is not one the cutter takes (or the input could not be read): read it
/// sequentially instead.
#[derive(Debug)]
pub(crate) struct Irregular;

type Cut<T> = std::result::Result<T, Irregular>;

/// Bytes that matter outside strings: a string's opening quote and nesting.
const STRUCTURE: [bool; 256] = byte_set(b"\"{}[]");

const fn byte_set(bytes: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        set[bytes[i] as usize] = true;
        i += 1;
    }
    set
}

/// Whole features of the document: their bytes and where each one is.
#[derive(Debug)]
pub(crate) struct FeatureChunk {
    data: Vec<u8>,
    spans: Vec<Range<usize>>,
    /// Features before this chunk in the document.
    first_index: u64,
    /// Where `data` goes back to when the chunk is dropped, so reading allocates nothing in the
    /// steady state.
    pool: Pool,
}

impl Drop for FeatureChunk {
    fn drop(&mut self) {
        give_back(&self.pool, &mut self.data);
    }
}

impl FeatureChunk {
    pub(crate) fn bytes(&self) -> u64 {
        self.data.len() as u64
    }

    /// The text of each feature, in order; `None` if the chunk is not UTF-8.
    pub(crate) fn texts(&self) -> Option<impl Iterator<Item = &str>> {
        let text = std::str::from_utf8(&self.data).ok()?;
        Some(self.spans.iter().map(move |span| &text[span.clone()]))
    }

    /// Visit the chunk's features in order; item indexes count from the document's start.
    /// Returns the number of features.
    pub(crate) fn for_each_item<'a>(
        &'a self,
        sink: &mut dyn FnMut(RawItem<'a>) -> crate::error::Result<()>,
    ) -> Cut<crate::error::Result<u64>> {
        let text = std::str::from_utf8(&self.data).map_err(|_| Irregular)?;
        for (index, span) in (self.first_index + 1..).zip(&self.spans) {
            let Ok(Json::Object(item)) = Json::parse(&text[span.clone()]) else {
                return Err(Irregular);
            };
            let raw = RawItem {
                item,
                index,
                line: None,
                bytes: span.len() as u64,
            };
            if let Err(e) = sink(raw) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(self.spans.len() as u64))
    }
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Start,
    /// Before a member's key (`first`: or the closing brace).
    Member {
        first: bool,
    },
    /// Inside `features`, before a feature (`first`: or the closing bracket).
    Feature {
        first: bool,
    },
    /// After the closing brace: only whitespace may follow.
    End,
    Done,
}

/// Cuts the `features` array of a JSON document into [`FeatureChunk`]s of at most `max_items`
/// features and about `max_bytes` bytes.
pub(crate) struct FeatureCutter<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    phase: Phase,
    max_items: usize,
    max_bytes: usize,
    features: u64,
    seen_features: bool,
    /// The last top-level `type` member's string value (the one a JSON object keeps).
    doc_type: Option<String>,
    pool: Pool,
}

impl<R: Read> FeatureCutter<R> {
    pub(crate) fn new(reader: R, max_items: usize, max_bytes: u64) -> Self {
        FeatureCutter {
            reader,
            buf: Vec::new(),
            pos: 0,
            eof: false,
            phase: Phase::Start,
            max_items: max_items.max(1),
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX).max(1),
            features: 0,
            seen_features: false,
            doc_type: None,
            pool: Pool::default(),
        }
    }

    /// Read more input after what is buffered; false at the end of the input. Bytes before
    /// `pos` are dropped first, so the buffer holds one value in progress and one read.
    fn fill(&mut self) -> Cut<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let read = (&mut self.reader)
            .take(READ_BYTES)
            .read_to_end(&mut self.buf)
            .map_err(|_| Irregular)?;
        if read == 0 {
            self.eof = true;
        }
        Ok(read > 0)
    }

    /// The next byte that is not JSON whitespace, not consumed; `None` at the end of the input.
    fn peek(&mut self) -> Cut<Option<u8>> {
        loop {
            while let Some(&b) = self.buf.get(self.pos) {
                if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                    return Ok(Some(b));
                }
                self.pos += 1;
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    fn expect(&mut self, byte: u8) -> Cut<()> {
        if self.peek()? != Some(byte) {
            return Err(Irregular);
        }
        self.pos += 1;
        Ok(())
    }

    /// The extent of the JSON value at the next non-whitespace byte, consumed. Only its extent
    /// is checked here (strings, escapes, nesting); its content is checked by whoever parses it.
    fn value(&mut self) -> Cut<Range<usize>> {
        let Some(first) = self.peek()? else {
            return Err(Irregular);
        };
        // Offsets are relative to `pos`, which `fill` moves.
        let mut at = 0;
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        if !matches!(first, b'{' | b'[' | b'"') {
            // A number, `true`, `false` or `null`: up to the next delimiter.
            loop {
                let rest = &self.buf[self.pos + at..];
                match rest
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                {
                    Some(end) => return Ok(self.take(at + end)),
                    None => {
                        at += rest.len();
                        if !self.fill()? {
                            return Err(Irregular);
                        }
                    }
                }
            }
        }
        loop {
            let bytes = &self.buf[self.pos..];
            while at < bytes.len() {
                if in_string {
                    if escaped {
                        escaped = false;
                        at += 1;
                    }
                    let Some(i) = memchr::memchr2(b'"', b'\\', &bytes[at..]) else {
                        at = bytes.len();
                        break;
                    };
                    at += i;
                    let b = bytes[at];
                    at += 1;
                    if b == b'\\' {
                        escaped = true;
                    } else {
                        in_string = false;
                        if depth == 0 {
                            return Ok(self.take(at));
                        }
                    }
                    continue;
                }
                while at < bytes.len() && !STRUCTURE[usize::from(bytes[at])] {
                    at += 1;
                }
                let Some(&b) = bytes.get(at) else { break };
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            return Err(Irregular);
                        }
                    }
                    _ => {
                        depth = depth.checked_sub(1).ok_or(Irregular)?;
                        if depth == 0 {
                            return Ok(self.take(at + 1));
                        }
                    }
                }
                at += 1;
            }
            if !self.fill()? {
                return Err(Irregular);
            }
        }
    }

    /// Consume `len` bytes at `pos`; their range in the buffer.
    fn take(&mut self, len: usize) -> Range<usize> {
        let start = self.pos;
        self.pos += len;
        start..self.pos
    }

    /// After a member's value: a comma and another member, or the end of the object.
    fn after_member(&mut self) -> Cut<()> {
        match self.peek()? {
            Some(b',') => self.phase = Phase::Member { first: false },
            Some(b'}') => self.phase = Phase::End,
            _ => return Err(Irregular),
        }
        self.pos += 1;
        Ok(())
    }

    /// A member other than `features`: its value is parsed here (it is not an item), and a
    /// `type` is remembered.
    fn other_member(&mut self, key: &str) -> Cut<()> {
        let range = self.value()?;
        let text = std::str::from_utf8(&self.buf[range]).map_err(|_| Irregular)?;
        let value = Json::parse(text).map_err(|_| Irregular)?;
        if key == "type" {
            self.doc_type = value.as_str().map(str::to_string);
        }
        self.after_member()
    }

    /// The next chunk of features; `None` once the whole document was read and found regular.
    pub(crate) fn next_chunk(&mut self) -> Cut<Option<FeatureChunk>> {
        let mut chunk = FeatureChunk {
            data: take_buffer(&self.pool),
            spans: Vec::new(),
            first_index: self.features,
            pool: self.pool.clone(),
        };
        loop {
            match self.phase {
                Phase::Start => {
                    self.expect(b'{')?;
                    self.phase = Phase::Member { first: true };
                }
                Phase::Member { first } => {
                    if first && self.peek()? == Some(b'}') {
                        self.pos += 1;
                        self.phase = Phase::End;
                        continue;
                    }
                    let range = self.value()?;
                    if self.buf[range.start] != b'"' {
                        return Err(Irregular);
                    }
                    let key: String =
                        serde_json::from_slice(&self.buf[range]).map_err(|_| Irregular)?;
                    self.expect(b':')?;
                    if key != "features" {
                        self.other_member(&key)?;
                        continue;
                    }
                    if self.seen_features {
                        return Err(Irregular);
                    }
                    self.seen_features = true;
                    self.expect(b'[')?;
                    self.phase = Phase::Feature { first: true };
                }
                Phase::Feature { first } => {
                    if chunk.spans.len() >= self.max_items || chunk.data.len() >= self.max_bytes {
                        return Ok(Some(chunk));
                    }
                    if first && self.peek()? == Some(b']') {
                        self.pos += 1;
                        self.after_member()?;
                        continue;
                    }
                    let range = self.value()?;
                    if self.buf[range.start] != b'{' {
                        return Err(Irregular);
                    }
                    let start = chunk.data.len();
                    chunk.data.extend_from_slice(&self.buf[range]);
                    chunk.spans.push(start..chunk.data.len());
                    self.features += 1;
                    match self.peek()? {
                        Some(b',') => {
                            self.pos += 1;
                            self.phase = Phase::Feature { first: false };
                        }
                        Some(b']') => {
                            self.pos += 1;
                            self.after_member()?;
                        }
                        _ => return Err(Irregular),
                    }
                }
                Phase::End => {
                    if !chunk.spans.is_empty() {
                        return Ok(Some(chunk));
                    }
                    if self.peek()?.is_some() {
                        return Err(Irregular);
                    }
                    let collection = matches!(
                        self.doc_type.as_deref(),
                        Some("FeatureCollection" | "ItemCollection")
                    );
                    if !(self.seen_features && collection) {
                        return Err(Irregular);
                    }
                    self.phase = Phase::Done;
                }
                Phase::Done => {
                    return Ok((!chunk.spans.is_empty()).then_some(chunk));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The features' texts per chunk, or `None` when the document is irregular.
    fn cut(doc: &str, max_items: usize, max_bytes: u64) -> Option<Vec<Vec<String>>> {
        let mut cutter = FeatureCutter::new(doc.as_bytes(), max_items, max_bytes);
        let mut chunks = Vec::new();
        let mut index = 0;
        while let Some(chunk) = cutter.next_chunk().ok()? {
            assert_eq!(chunk.first_index, index);
            index += chunk.spans.len() as u64;
            chunks.push(
                chunk
                    .spans
                    .iter()
                    .map(|s| String::from_utf8(chunk.data[s.clone()].to_vec()).unwrap())
                    .collect(),
            );
        }
        Some(chunks)
    }

    #[test]
    fn features_are_cut_whole_in_order_whatever_the_limits() {
        let doc = r#" {"type": "FeatureCollection", "links": [{"rel": "self", "x": "]}"}],
            "features" : [ {"id": "a", "s": "q\"}]", "n": [1, {"b": null}]} ,{"id":"b"},
            {"id": "c\\"}], "numberReturned": 3 }
        "#;
        for max_items in 1..4 {
            for max_bytes in [1, 20, 1 << 20] {
                let chunks = cut(doc, max_items, max_bytes).expect("regular");
                let all: Vec<String> = chunks.concat();
                assert_eq!(
                    all,
                    vec![
                        r#"{"id": "a", "s": "q\"}]", "n": [1, {"b": null}]}"#,
                        r#"{"id":"b"}"#,
                        r#"{"id": "c\\"}"#
                    ]
                );
                assert!(chunks.iter().all(|c| c.len() <= max_items));
            }
        }
    }

    #[test]
    fn reads_across_small_and_large_buffers() {
        // Longer than one read, with a feature straddling read boundaries.
        let big = "x".repeat(3 * READ_BYTES as usize);
        let doc = format!(
            r#"{{"features":[{{"id":"a","big":"{big}"}},{{"id":"b"}}],"type":"ItemCollection"}}"#
        );
        let chunks = cut(&doc, 10, 1 << 20).expect("regular");
        assert_eq!(chunks.len(), 2, "the big feature fills its chunk");
        assert!(chunks[0][0].ends_with(r#""}"#));
        assert_eq!(chunks[1], vec![r#"{"id":"b"}"#.to_string()]);
    }

    #[test]
    fn anything_unusual_is_left_to_the_sequential_reader() {
        let irregular = [
            "",
            "[]",
            r#"{"type":"Feature","assets":{},"id":"x"}"#,
            r#"{"type":"Feature","features":[{"a":1}]}"#,
            r#"{"features":[{"a":1}]}"#,
            r#"{"type":"FeatureCollection","features":[1]}"#,
            r#"{"type":"FeatureCollection","features":[{"a":1},]}"#,
            r#"{"type":"FeatureCollection","features":[{"a":1}],}"#,
            r#"{"type":"FeatureCollection","features":[{"a":1}]} x"#,
            r#"{"type":"FeatureCollection","features":[{"a":1}]"#,
            r#"{"type":"FeatureCollection","features":[{"a":1}"#,
            r#"{"type":"FeatureCollection","features":[{"a":1}],"features":[]}"#,
            r#"{"type":"FeatureCollection","features":null}"#,
            r#"{"type":"FeatureCollection","x":tru,"features":[]}"#,
            r#"{"type":"FeatureCollection" "features":[]}"#,
            r#"{"type":"FeatureCollection","features":[{"a":1}{"b":2}]}"#,
        ];
        for doc in irregular {
            assert!(cut(doc, 10, 1 << 20).is_none(), "{doc}");
        }
        let deep = format!(
            r#"{{"type":"FeatureCollection","features":[{{"a":{}1{}}}]}}"#,
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert!(cut(&deep, 10, 1 << 20).is_none());
    }

    #[test]
    fn the_last_type_member_decides_and_escaped_keys_count() {
        let doc = r#"{"type":"Feature","features":[],"type":"FeatureCollection"}"#;
        assert_eq!(cut(doc, 10, 100), Some(vec![]));
        let doc = r#"{"type":"FeatureCollection","feat\u0075res":[{"a":1}]}"#;
        assert_eq!(
            cut(doc, 10, 100),
            Some(vec![vec![r#"{"a":1}"#.to_string()]])
        );
        let doc = r#"{"type":"FeatureCollection","features":[{"a":1}],"type":"Feature"}"#;
        assert_eq!(cut(doc, 10, 100), None);
    }

    #[test]
    fn features_that_do_not_parse_are_irregular() {
        let mut cutter = FeatureCutter::new(
            r#"{"type":"FeatureCollection","features":[{"a":tru}]}"#.as_bytes(),
            10,
            100,
        );
        let chunk = cutter.next_chunk().unwrap().unwrap();
        assert!(chunk.for_each_item(&mut |_| Ok(())).is_err());
    }
}
