//! STAC items: JSON / NDJSON / GeoParquet in, items RecordBatch streams out (ref §3, SPEC §3).
//!
//! [`read_stac`] is the entry point of `items from-json` and `items from-ndjson`;
//! [`geoparquet::read`] and [`geoparquet::write`] are `items from-parquet` and `items to-parquet`.
//!
//! ## Whole-input schema
//! By default the input is read twice: a first pass folds every selected item into an
//! [`ItemSchema`](schema) (memory: the schema only), a second converts against it. Standard input
//! is first spooled to an anonymous temporary file (disk, not memory). With
//! [`ReadOptions::stream`] the first batch fixes the schema and a later item that does not fit is
//! an error naming the item and the field, never a silent drop.
//!
//! ## Memory
//! NDJSON is cut into chunks of whole lines, and an ItemCollection document into chunks of whole
//! features (at most `batch_size` items and 8 MiB either way), that are
//! converted on one thread per core; at most two chunks more than there are threads are read
//! ahead or wait for their turn. A batch closes at `batch_size` rows or [`MAX_BATCH_INPUT_BYTES`]
//! of input JSON, whichever comes first, and at most [`BATCHES_IN_FLIGHT`] finished batches wait
//! for the consumer. Memory is therefore a few chunks and batches whatever the input size
//! (measured: under 240 MB for a million 12.6 KB items, see BENCHMARKS.md).

mod builder;
mod collection;
mod datetime;
pub mod feature;
mod filter;
mod geometry;
pub mod geoparquet;
pub mod href;
mod json;
pub mod project;
pub mod schema;
mod token_scan;
mod value;
mod workers;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

pub use filter::ItemFilter;

use crate::batch::BatchReader;
use crate::error::{Error, ItemLocation, Result};
use builder::BatchBuilder;
use collection::{FeatureChunk, FeatureCutter};
use json::{Chunk, Chunks, RawItem};
use schema::{FoldError, ItemParts, ItemSchema, Mismatch, Mode};

/// Default rows per batch (the original's `--batch-size` default).
pub const DEFAULT_BATCH_SIZE: usize = 64_000;

/// A batch also closes once its items took this many bytes of input JSON, so wide items (tens of
/// KB each) cannot make a 64,000-row batch hold gigabytes. Batches become Parquet row groups
/// downstream, and a row group costs the writer a fixed amount per leaf column (hundreds for STAC
/// assets), so batches should not be much smaller either.
pub const MAX_BATCH_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// NDJSON is converted in chunks of at most `batch_size` lines and this many bytes, several at a
/// time; consecutive chunks are then joined into batches of up to [`MAX_BATCH_INPUT_BYTES`].
const CHUNK_BYTES: u64 = 8 * 1024 * 1024;

/// Chunks in the worker pool beyond one per thread: queued, being converted, or converted and
/// waiting for their turn.
const EXTRA_CHUNKS_IN_FLIGHT: usize = 2;

/// Finished batches that may wait between the converting thread and the consumer.
pub const BATCHES_IN_FLIGHT: usize = 1;

/// What a STAC input holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON document: an Item, ItemCollection or FeatureCollection.
    Json,
    /// One JSON document per line, each an Item or a collection.
    Ndjson,
}

/// Where a STAC input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file.
    Path(PathBuf),
    /// Standard input.
    Stdin,
    /// A document held in memory, named in messages as given.
    Bytes {
        /// The name used in messages.
        name: String,
        /// The document (JSON) or lines (NDJSON).
        bytes: bytes::Bytes,
    },
}

impl Input {
    /// The name used in messages: the path, `stdin`, or the given name.
    pub fn display_name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "stdin".into(),
            Input::Bytes { name, .. } => name.clone(),
        }
    }
}

/// Options of [`read_stac`].
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Maximum rows per batch (≥ 1).
    pub batch_size: usize,
    /// Which items to keep.
    pub filter: ItemFilter,
    /// Fix the schema from the first batch instead of scanning the whole input (NDJSON only).
    pub stream: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            batch_size: DEFAULT_BATCH_SIZE,
            filter: ItemFilter::default(),
            stream: false,
        }
    }
}

/// Convert STAC JSON or NDJSON into an items batch stream.
///
/// Errors in the input (invalid JSON, a document that is not STAC, an item without `id`, type
/// conflicts) are found by the first pass, before the schema is returned, so nothing is emitted
/// for a bad input. Under `stream`, errors in later batches arrive in the stream.
///
/// ```no_run
/// use stacpkg::items::{read_stac, Format, Input, ReadOptions};
/// let reader = read_stac(Input::Path("items.ndjson".into()), Format::Ndjson, ReadOptions::default())?;
/// for batch in reader {
///     println!("{} rows", batch?.num_rows());
/// }
/// # Ok::<(), stacpkg::Error>(())
/// ```
pub fn read_stac(source: Input, format: Format, options: ReadOptions) -> Result<BatchReader> {
    let (tx, rx) = sync_channel::<Result<Message>>(BATCHES_IN_FLIGHT);
    std::thread::Builder::new()
        .name("stacpkg-items".into())
        .spawn(move || {
            let result = match (&source, format, options.stream) {
                (Input::Stdin, Format::Ndjson, true) => {
                    stream_ndjson(std::io::stdin().lock(), "stdin", &options, &tx)
                }
                (Input::Path(path), Format::Ndjson, true) => {
                    let name = source.display_name();
                    open(path, &name).and_then(|file| stream_ndjson(file, &name, &options, &tx))
                }
                (Input::Bytes { name, bytes }, Format::Ndjson, true) => {
                    stream_ndjson(std::io::Cursor::new(bytes.clone()), name, &options, &tx)
                }
                (_, Format::Ndjson, false) => Rereadable::prepare(&source)
                    .and_then(|input| ndjson_two_pass(&input, &options, &tx)),
                (_, Format::Json, _) => Rereadable::prepare(&source)
                    .and_then(|input| json_two_pass(&input, &options, &tx)),
            };
            match result {
                Ok(()) | Err(Error::OutputClosed) => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        })
        .map_err(|e| Error::io("failed to start a thread for", "the conversion", e))?;

    match rx.recv() {
        Ok(Ok(Message::Schema(schema))) => Ok(BatchReader::new(schema, Batches(rx))),
        Ok(Ok(Message::Batch(_))) => unreachable!("the schema is always sent first"),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::OutputClosed),
    }
}

enum Message {
    Schema(SchemaRef),
    Batch(RecordBatch),
}

struct Batches(Receiver<Result<Message>>);

impl Iterator for Batches {
    type Item = Result<RecordBatch>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.0.recv().ok()? {
            Ok(Message::Batch(batch)) => Some(Ok(batch)),
            Ok(Message::Schema(_)) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

fn send(tx: &SyncSender<Result<Message>>, message: Message) -> Result<()> {
    tx.send(Ok(message)).map_err(|_| Error::OutputClosed)
}

fn open(path: &std::path::Path, name: &str) -> Result<File> {
    File::open(path).map_err(|e| Error::io("failed to open", name, e))
}

/// An input that can be read twice: a file, or stdin spooled to an anonymous temp file.
struct Rereadable {
    name: String,
    content: Content,
}

/// What a [`Rereadable`] reads from.
enum Content {
    File(File),
    Bytes(bytes::Bytes),
}

impl Rereadable {
    fn prepare(source: &Input) -> Result<Rereadable> {
        let name = source.display_name();
        let content = match source {
            Input::Path(path) => Content::File(open(path, &name)?),
            Input::Stdin => {
                let mut spool = tempfile::tempfile()
                    .map_err(|e| Error::io("failed to create a temporary file for", &name, e))?;
                std::io::copy(&mut std::io::stdin().lock(), &mut spool)
                    .map_err(|e| Error::io("failed to spool", &name, e))?;
                Content::File(spool)
            }
            Input::Bytes { bytes, .. } => Content::Bytes(bytes.clone()),
        };
        Ok(Rereadable { name, content })
    }

    fn rewind(&self) -> Result<Box<dyn Read + Send>> {
        match &self.content {
            Content::File(file) => {
                let mut file = file
                    .try_clone()
                    .map_err(|e| Error::io("failed to reopen", &self.name, e))?;
                file.seek(SeekFrom::Start(0))
                    .map_err(|e| Error::io("failed to rewind", &self.name, e))?;
                Ok(Box::new(file))
            }
            Content::Bytes(bytes) => Ok(Box::new(std::io::Cursor::new(bytes.clone()))),
        }
    }

    fn chunks(&self, batch_size: usize) -> Result<Chunks<Box<dyn Read + Send>>> {
        Ok(Chunks::new(
            self.rewind()?,
            &self.name,
            batch_size,
            CHUNK_BYTES,
        ))
    }
}

fn location(raw: &RawItem<'_>, input: &str) -> Box<ItemLocation> {
    Box::new(ItemLocation {
        input: input.to_string(),
        index: raw.index,
        line: raw.line,
        id: raw
            .item
            .get("id")
            .and_then(value::Json::as_str)
            .map(str::to_string),
    })
}

fn fold_error(raw: &RawItem<'_>, input: &str, err: FoldError) -> Error {
    let location = location(raw, input);
    match err {
        FoldError::Item(problem) => Error::InvalidItem { location, problem },
        FoldError::Mismatch(Mismatch::Conflict {
            field,
            found,
            expected,
        }) => Error::TypeConflict {
            location,
            field,
            found,
            expected,
        },
        FoldError::Mismatch(Mismatch::Misfit { field, problem }) => Error::StreamMisfit {
            location,
            field,
            problem,
        },
        FoldError::Mismatch(Mismatch::Invalid { field, problem }) => Error::InvalidItem {
            location,
            problem: format!("field `{field}`: {problem}"),
        },
    }
}

/// Fold an item into `schema` if the filter selects it.
fn fold_selected(
    schema: &mut ItemSchema,
    raw: &RawItem<'_>,
    name: &str,
    options: &ReadOptions,
) -> Result<()> {
    if !options.filter.matches_json(&raw.item) {
        return Ok(());
    }
    let parts = parts(raw, name)?;
    schema
        .fold(&parts, Mode::Scan)
        .map_err(|e| fold_error(raw, name, e))
}

/// Split an item into its parts, or say which item is wrong.
fn parts<'a>(raw: &'a RawItem<'a>, input: &str) -> Result<ItemParts<'a>> {
    ItemParts::from_item(&raw.item).map_err(|p| fold_error(raw, input, FoldError::Item(p)))
}

/// Appends items to a builder and hands out batches when they are full.
struct Batcher {
    builder: BatchBuilder,
    bytes: u64,
    batch_size: usize,
}

impl Batcher {
    fn new(schema: &ItemSchema, arrow: &SchemaRef, batch_size: usize) -> Self {
        Batcher {
            builder: BatchBuilder::new(schema, arrow.clone()),
            bytes: 0,
            batch_size: batch_size.max(1),
        }
    }

    /// Append an item; returns a batch when this item filled one.
    fn push(
        &mut self,
        raw: &RawItem<'_>,
        parts: &ItemParts<'_>,
        input: &str,
    ) -> Result<Option<RecordBatch>> {
        self.builder
            .append(parts)
            .map_err(|problem| Error::InvalidItem {
                location: location(raw, input),
                problem,
            })?;
        self.bytes += raw.bytes;
        if self.builder.len() >= self.batch_size || self.bytes >= MAX_BATCH_INPUT_BYTES {
            return self.finish(input);
        }
        Ok(None)
    }

    /// The rows appended since the last batch, if any.
    fn finish(&mut self, input: &str) -> Result<Option<RecordBatch>> {
        if self.builder.len() == 0 {
            return Ok(None);
        }
        self.bytes = 0;
        self.builder
            .finish()
            .map(Some)
            .map_err(|e| Error::arrow(format!("failed to build items from `{input}`"), e))
    }
}

/// Joins the batches of consecutive chunks into batches of up to `batch_size` rows and
/// [`MAX_BATCH_INPUT_BYTES`] of input, in order.
struct Coalescer<'a> {
    schema: SchemaRef,
    pending: Vec<RecordBatch>,
    rows: usize,
    bytes: u64,
    batch_size: usize,
    tx: &'a SyncSender<Result<Message>>,
}

impl<'a> Coalescer<'a> {
    fn new(schema: &SchemaRef, batch_size: usize, tx: &'a SyncSender<Result<Message>>) -> Self {
        Coalescer {
            schema: schema.clone(),
            pending: Vec::new(),
            rows: 0,
            bytes: 0,
            batch_size: batch_size.max(1),
            tx,
        }
    }

    /// Take the batches of one chunk that held `bytes` of input.
    fn push(&mut self, batches: Vec<RecordBatch>, bytes: u64) -> Result<()> {
        let share = bytes / batches.len().max(1) as u64;
        for batch in batches {
            if self.rows + batch.num_rows() > self.batch_size {
                self.flush()?;
            }
            self.rows += batch.num_rows();
            self.bytes += share;
            self.pending.push(batch);
            if self.rows >= self.batch_size || self.bytes >= MAX_BATCH_INPUT_BYTES {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let batch = match self.pending.len() {
            0 => return Ok(()),
            1 => self.pending.pop().expect("one pending batch"),
            _ => arrow_select::concat::concat_batches(&self.schema, &self.pending)
                .map_err(|e| Error::arrow("failed to join item batches", e))?,
        };
        self.pending.clear();
        self.rows = 0;
        self.bytes = 0;
        send(self.tx, Message::Batch(batch))
    }
}

fn send_batch(tx: &SyncSender<Result<Message>>, batch: Option<RecordBatch>) -> Result<()> {
    match batch {
        Some(batch) => send(tx, Message::Batch(batch)),
        None => Ok(()),
    }
}

/// A piece of the input whose items can be visited in order, on any thread.
trait ItemSource: Send {
    /// Bytes of input it holds.
    fn bytes(&self) -> u64;
    /// Visit its items; returns how many there were.
    fn visit<'a>(
        &'a self,
        name: &str,
        sink: &mut dyn FnMut(RawItem<'a>) -> Result<()>,
    ) -> Result<u64>;
    /// The schema of all its items and their count, read from the tokens (see [`token_scan`]);
    /// `None` leaves the piece to the value fold.
    fn scan_tokens(&self) -> Option<(ItemSchema, u64)>;
}

impl ItemSource for Chunk {
    fn bytes(&self) -> u64 {
        self.data.len() as u64
    }
    fn visit<'a>(
        &'a self,
        name: &str,
        sink: &mut dyn FnMut(RawItem<'a>) -> Result<()>,
    ) -> Result<u64> {
        json::for_each_ndjson_item(self, name, 0, sink)
    }
    fn scan_tokens(&self) -> Option<(ItemSchema, u64)> {
        let text = std::str::from_utf8(&self.data).ok()?;
        let lines = text
            .split_inclusive('\n')
            .map(str::trim_ascii)
            .filter(|line| !line.is_empty());
        token_scan::fold_items(lines, true)
    }
}

impl ItemSource for FeatureChunk {
    fn bytes(&self) -> u64 {
        FeatureChunk::bytes(self)
    }
    fn visit<'a>(
        &'a self,
        name: &str,
        sink: &mut dyn FnMut(RawItem<'a>) -> Result<()>,
    ) -> Result<u64> {
        self.for_each_item(sink)
            .unwrap_or_else(|collection::Irregular| Err(changed(name)))
    }
    fn scan_tokens(&self) -> Option<(ItemSchema, u64)> {
        token_scan::fold_items(self.texts()?, false)
    }
}

/// A document that read as regular on the first pass and not on the second.
fn changed(name: &str) -> Error {
    Error::Json {
        input: name.to_string(),
        message: "the document changed between the two readings".into(),
    }
}

/// STAC JSON documents. An ItemCollection is cut into chunks of whole features that are scanned
/// and converted on every core like NDJSON chunks; any other document, or one the cutter is not
/// sure of, is read sequentially (twice), which also words every error.
fn json_two_pass(
    input: &Rereadable,
    options: &ReadOptions,
    tx: &SyncSender<Result<Message>>,
) -> Result<()> {
    let name = input.name.as_str();
    let Some(schema) = scan_features(input, options) else {
        return json_sequential(input, options, tx);
    };
    let mut cutter = FeatureCutter::new(input.rewind()?, options.batch_size, CHUNK_BYTES);
    convert_all(
        || {
            cutter
                .next_chunk()
                .map_err(|collection::Irregular| changed(name))
        },
        name,
        &schema,
        options,
        tx,
    )
}

/// The first pass over a cut ItemCollection, on every core. `None` when the document is not
/// one the cutter takes or anything at all fails: the sequential reader then reads it from the
/// start and reports (in its own words) whatever is wrong. Nothing has been sent yet.
fn scan_features(input: &Rereadable, options: &ReadOptions) -> Option<ItemSchema> {
    let name = input.name.as_str();
    let threads = workers::threads();
    let mut cutter = FeatureCutter::new(input.rewind().ok()?, options.batch_size, CHUNK_BYTES);
    let mut schema = ItemSchema::default();
    workers::ordered(
        || {
            cutter
                .next_chunk()
                .map_err(|collection::Irregular| changed(name))
        },
        threads,
        threads + EXTRA_CHUNKS_IN_FLIGHT,
        |chunk| scan_chunk(&chunk, name, options),
        |scanned| {
            let (part, _) = scanned?;
            schema.merge(&part).map_err(|_| changed(name))
        },
    )
    .ok()?;
    Some(schema)
}

/// Any STAC JSON document as one sequential stream of features, read twice.
fn json_sequential(
    input: &Rereadable,
    options: &ReadOptions,
    tx: &SyncSender<Result<Message>>,
) -> Result<()> {
    let name = input.name.as_str();
    let mut schema = ItemSchema::default();
    json::for_each_document_item(input.rewind()?, name, &mut |raw| {
        fold_selected(&mut schema, &raw, name, options)
    })?;
    let arrow = schema.arrow_schema(true);
    send(tx, Message::Schema(arrow.clone()))?;
    if schema.rows == 0 {
        return Ok(());
    }
    let mut batcher = Batcher::new(&schema, &arrow, options.batch_size);
    json::for_each_document_item(input.rewind()?, name, &mut |raw| {
        if !options.filter.matches_json(&raw.item) {
            return Ok(());
        }
        let parts = parts(&raw, name)?;
        send_batch(tx, batcher.push(&raw, &parts, name)?)
    })?;
    send_batch(tx, batcher.finish(name)?)
}

/// Fold the selected items of a chunk into a fresh schema; returns it and the chunk's item count.
fn scan_chunk(
    chunk: &impl ItemSource,
    name: &str,
    options: &ReadOptions,
) -> Result<(ItemSchema, u64)> {
    if options.filter.is_empty()
        && let Some(scanned) = chunk.scan_tokens()
    {
        return Ok(scanned);
    }
    let mut schema = ItemSchema::default();
    let count = chunk.visit(name, &mut |raw| {
        fold_selected(&mut schema, &raw, name, options)
    })?;
    Ok((schema, count))
}

/// Convert the selected items of a chunk against a fixed schema. With `fit`, each item is first
/// checked against the schema (`--stream`). Item indexes in errors count from the chunk start.
fn convert_chunk(
    chunk: &impl ItemSource,
    name: &str,
    schema: &ItemSchema,
    arrow: &SchemaRef,
    options: &ReadOptions,
    fit: bool,
) -> Result<(Vec<RecordBatch>, u64)> {
    let mut batcher = Batcher::new(schema, arrow, options.batch_size);
    let mut batches = Vec::new();
    let mut checked = fit.then(|| schema.clone());
    let count = chunk.visit(name, &mut |raw| {
        if !options.filter.matches_json(&raw.item) {
            return Ok(());
        }
        let parts = parts(&raw, name)?;
        if let Some(schema) = &mut checked {
            schema
                .fold(&parts, Mode::Fit)
                .map_err(|e| fold_error(&raw, name, e))?;
        }
        batches.extend(batcher.push(&raw, &parts, name)?);
        Ok(())
    })?;
    batches.extend(batcher.finish(name)?);
    Ok((batches, count))
}

/// Whole-input NDJSON: scan every chunk in parallel and join the schemas in input order, then
/// convert every chunk in parallel against the joined schema.
fn ndjson_two_pass(
    input: &Rereadable,
    options: &ReadOptions,
    tx: &SyncSender<Result<Message>>,
) -> Result<()> {
    let name = input.name.as_str();
    let threads = workers::threads();
    let in_flight = threads + EXTRA_CHUNKS_IN_FLIGHT;

    let mut schema = ItemSchema::default();
    let mut items_before = 0;
    let mut chunks = input.chunks(options.batch_size)?;
    workers::ordered(
        || chunks.next_chunk(),
        threads,
        in_flight,
        |chunk| {
            let scanned = scan_chunk(&chunk, name, options);
            (chunk, scanned)
        },
        |(chunk, scanned)| {
            let (part, count) = scanned.map_err(|e| e.offset_items(items_before))?;
            if schema.merge(&part).is_err() {
                // The chunk conflicts with earlier ones: fold it item by item onto the schema so
                // far, which fails at (and names) the first conflicting item.
                let mut probe = schema.clone();
                json::for_each_ndjson_item(&chunk, name, items_before, &mut |raw| {
                    fold_selected(&mut probe, &raw, name, options)
                })?;
                unreachable!("a chunk whose schema conflicts has an item that conflicts");
            }
            items_before += count;
            Ok(())
        },
    )?;

    let mut chunks = input.chunks(options.batch_size)?;
    convert_all(|| chunks.next_chunk(), name, &schema, options, tx)
}

/// The second pass: send the schema, then convert the pieces from `next` on every core against
/// it and send the batches in input order.
fn convert_all<C: ItemSource>(
    next: impl FnMut() -> Result<Option<C>>,
    name: &str,
    schema: &ItemSchema,
    options: &ReadOptions,
    tx: &SyncSender<Result<Message>>,
) -> Result<()> {
    let arrow = schema.arrow_schema(true);
    send(tx, Message::Schema(arrow.clone()))?;
    if schema.rows == 0 {
        return Ok(());
    }
    let threads = workers::threads();
    let mut out = Coalescer::new(&arrow, options.batch_size, tx);
    workers::ordered(
        next,
        threads,
        threads + EXTRA_CHUNKS_IN_FLIGHT,
        |chunk| {
            let bytes = chunk.bytes();
            convert_chunk(&chunk, name, schema, &arrow, options, false).map(|c| (c, bytes))
        },
        |converted| {
            let ((batches, _), bytes) = converted?;
            out.push(batches, bytes)
        },
    )?;
    out.flush()
}

fn count_selected(chunk: &Chunk, name: &str, options: &ReadOptions) -> Result<usize> {
    let mut selected = 0;
    json::for_each_ndjson_item(chunk, name, 0, &mut |raw| {
        selected += usize::from(options.filter.matches_json(&raw.item));
        Ok(())
    })?;
    Ok(selected)
}

/// `--stream`: the first `batch_size` selected items fix the schema; later chunks are checked
/// against it and converted in parallel.
fn stream_ndjson(
    reader: impl Read,
    name: &str,
    options: &ReadOptions,
    tx: &SyncSender<Result<Message>>,
) -> Result<()> {
    let batch_size = options.batch_size.max(1);
    let mut chunks = Chunks::new(reader, name, batch_size, CHUNK_BYTES);
    // The first batch fixes the schema: chunks until they hold `batch_size` selected items,
    // bounded in bytes like any batch.
    let Some(mut first) = chunks.next_chunk()? else {
        send(
            tx,
            Message::Schema(ItemSchema::default().arrow_schema(false)),
        )?;
        return Ok(());
    };
    let mut selected = count_selected(&first, name, options)?;
    while selected < batch_size && (first.data.len() as u64) < MAX_BATCH_INPUT_BYTES {
        let Some(next) = chunks.next_chunk()? else {
            break;
        };
        selected += count_selected(&next, name, options)?;
        first.extend(&next);
    }
    let (schema, count) = scan_chunk(&first, name, options)?;
    let arrow = schema.arrow_schema(false);
    send(tx, Message::Schema(arrow.clone()))?;
    let mut out = Coalescer::new(&arrow, batch_size, tx);
    let (batches, _) = convert_chunk(&first, name, &schema, &arrow, options, false)?;
    out.push(batches, first.data.len() as u64)?;
    drop(first);

    let threads = workers::threads();
    let mut items_before = count;
    workers::ordered(
        || chunks.next_chunk(),
        threads,
        threads + EXTRA_CHUNKS_IN_FLIGHT,
        |chunk| {
            let bytes = chunk.data.len() as u64;
            convert_chunk(&chunk, name, &schema, &arrow, options, true).map(|c| (c, bytes))
        },
        |converted| {
            let ((batches, count), bytes) = converted.map_err(|e| e.offset_items(items_before))?;
            items_before += count;
            out.push(batches, bytes)
        },
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rereadable(text: &str) -> Rereadable {
        Rereadable::prepare(&Input::Bytes {
            name: "doc.json".into(),
            bytes: bytes::Bytes::from(text.to_string()),
        })
        .unwrap()
    }

    /// The first pass of the sequential reader: the schema, or its error message.
    fn sequential_scan(text: &str) -> std::result::Result<String, String> {
        let options = ReadOptions::default();
        let mut schema = ItemSchema::default();
        json::for_each_document_item(text.as_bytes(), "doc.json", &mut |raw| {
            fold_selected(&mut schema, &raw, "doc.json", &options)
        })
        .map_err(|e| e.to_string())?;
        Ok(format!("{schema:?}"))
    }

    #[test]
    fn the_parallel_scan_agrees_with_the_sequential_one_on_damaged_documents() {
        let base = r#"{"type": "FeatureCollection", "links": [{"rel": "self", "href": "x?a=]}"}],
  "features": [
    {"type": "Feature", "id": "a\"b", "geometry": {"type": "Point", "coordinates": [1.5, -0.0]},
     "properties": {"datetime": "2024-01-01T00:00:00Z", "gsd": 10, "t": "}]\u00e9,"},
     "assets": {"x": {"href": "s3://b/k.tif", "roles": ["data"]}}},
    {"type": "Feature", "id": "c", "geometry": null, "bbox": [0, 0, 1, 1],
     "properties": {"datetime": null, "gsd": 2.5, "n": [[1], [2, 3]]},
     "assets": {}}
  ], "numberReturned": 2}"#;
        let options = ReadOptions::default();
        let bytes = base.as_bytes();
        // Every single-byte deletion, and a replacement of every byte by each of a few bytes
        // that change structure: whenever the parallel scan accepts a document, the sequential
        // one accepts it too, with the same schema; whenever the sequential one refuses it, the
        // parallel one hands it over.
        let mut variants = Vec::new();
        for at in 0..bytes.len() {
            let mut deleted = bytes.to_vec();
            deleted.remove(at);
            variants.push(deleted);
            for b in [b'"', b'\\', b'}', b']', b',', b'0'] {
                let mut replaced = bytes.to_vec();
                replaced[at] = b;
                variants.push(replaced);
            }
        }
        let mut accepted = 0;
        for variant in variants {
            let Ok(text) = String::from_utf8(variant) else {
                continue;
            };
            let fast = scan_features(&rereadable(&text), &options).map(|s| format!("{s:?}"));
            match (fast, sequential_scan(&text)) {
                (Some(fast), Ok(slow)) => {
                    assert_eq!(fast, slow, "{text}");
                    accepted += 1;
                }
                (Some(_), Err(e)) => panic!("parallel scan accepted what reads as `{e}`: {text}"),
                (None, _) => {}
            }
        }
        // Many damaged documents are still valid (a changed digit, a space): the parallel path
        // took some of them.
        assert!(accepted > 100, "{accepted}");
        assert!(scan_features(&rereadable(base), &options).is_some());
    }

    #[test]
    fn item_collections_take_the_parallel_path_and_other_documents_do_not() {
        let options = ReadOptions::default();
        let item =
            r#"{"type":"Feature","id":"a","assets":{"x":{"href":"a"}},"properties":{"gsd":1}}"#;
        let collection = format!(r#"{{"type":"FeatureCollection","features":[{item},{item}]}}"#);
        let schema = scan_features(&rereadable(&collection), &options).expect("parallel path");
        assert_eq!(schema.rows, 2);
        // A single Item, and a collection whose second feature conflicts with its first, are
        // read (and their errors worded) by the sequential reader.
        assert!(scan_features(&rereadable(item), &options).is_none());
        let conflict = collection.replacen(r#""gsd":1"#, r#""gsd":"one""#, 1);
        assert!(scan_features(&rereadable(&conflict), &options).is_none());
    }
}
