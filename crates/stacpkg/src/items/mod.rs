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
//! A batch closes at `batch_size` rows or [`MAX_BATCH_INPUT_BYTES`] of input JSON, whichever comes
//! first, and at most [`BATCHES_IN_FLIGHT`] finished batches wait in the channel to the consumer,
//! so memory is bounded by a few batches whatever the input size.

mod builder;
mod datetime;
pub mod filter;
pub mod geometry;
pub mod geoparquet;
mod json;
pub mod schema;

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

pub use filter::ItemFilter;

use crate::batch::BatchReader;
use crate::error::{Error, ItemLocation, Result};
use builder::BatchBuilder;
use json::{NdjsonItems, RawItem};
use schema::{FoldError, ItemParts, ItemSchema, Mismatch, Mode};

/// Default rows per batch (the original's `--batch-size` default).
pub const DEFAULT_BATCH_SIZE: usize = 64_000;

/// A batch also closes once its items took this many bytes of input JSON, so wide items (tens of
/// KB each) cannot make a 64,000-row batch hold gigabytes.
pub const MAX_BATCH_INPUT_BYTES: u64 = 32 * 1024 * 1024;

/// Finished batches that may wait between the converting thread and the consumer.
pub const BATCHES_IN_FLIGHT: usize = 2;

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
pub enum Source {
    /// A file.
    Path(PathBuf),
    /// Standard input.
    Stdin,
}

impl Source {
    /// The name used in messages: the path, or `stdin`.
    pub fn display_name(&self) -> String {
        match self {
            Source::Path(p) => p.display().to_string(),
            Source::Stdin => "stdin".into(),
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
/// use stacpkg::items::{read_stac, Format, ReadOptions, Source};
/// let reader = read_stac(Source::Path("items.ndjson".into()), Format::Ndjson, ReadOptions::default())?;
/// for batch in reader {
///     println!("{} rows", batch?.num_rows());
/// }
/// # Ok::<(), stacpkg::Error>(())
/// ```
pub fn read_stac(source: Source, format: Format, options: ReadOptions) -> Result<BatchReader> {
    let (tx, rx) = sync_channel::<Result<Message>>(BATCHES_IN_FLIGHT);
    std::thread::Builder::new()
        .name("stacpkg-items".into())
        .spawn(move || {
            let result = match (&source, format, options.stream) {
                (Source::Stdin, Format::Ndjson, true) => {
                    stream_ndjson(std::io::stdin().lock(), "stdin", &options, &tx)
                }
                (Source::Path(path), Format::Ndjson, true) => {
                    let name = source.display_name();
                    open(path, &name).and_then(|file| {
                        stream_ndjson(
                            BufReader::with_capacity(1 << 20, file),
                            &name,
                            &options,
                            &tx,
                        )
                    })
                }
                _ => Input::prepare(&source)
                    .and_then(|input| two_pass(&input, format, &options, &tx)),
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
struct Input {
    name: String,
    file: File,
}

impl Input {
    fn prepare(source: &Source) -> Result<Input> {
        let name = source.display_name();
        let file = match source {
            Source::Path(path) => open(path, &name)?,
            Source::Stdin => {
                let mut spool = tempfile::tempfile()
                    .map_err(|e| Error::io("failed to create a temporary file for", &name, e))?;
                std::io::copy(&mut std::io::stdin().lock(), &mut spool)
                    .map_err(|e| Error::io("failed to spool", &name, e))?;
                spool
            }
        };
        Ok(Input { name, file })
    }

    fn rewind(&self) -> Result<impl Read> {
        let mut file = self
            .file
            .try_clone()
            .map_err(|e| Error::io("failed to reopen", &self.name, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io("failed to rewind", &self.name, e))?;
        Ok(file)
    }

    fn for_each_item(
        &self,
        format: Format,
        sink: &mut dyn FnMut(RawItem) -> Result<()>,
    ) -> Result<()> {
        let reader = self.rewind()?;
        match format {
            Format::Json => json::for_each_document_item(reader, &self.name, sink),
            Format::Ndjson => {
                for raw in NdjsonItems::new(BufReader::with_capacity(1 << 20, reader), &self.name) {
                    sink(raw?)?;
                }
                Ok(())
            }
        }
    }
}

fn location(raw: &RawItem, input: &str) -> Box<ItemLocation> {
    Box::new(ItemLocation {
        input: input.to_string(),
        index: raw.index,
        line: raw.line,
        id: raw
            .item
            .get("id")
            .and_then(|v| v.as_str())
            .map(str::to_string),
    })
}

fn fold_error(raw: &RawItem, input: &str, err: FoldError) -> Error {
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

/// Appends items to a builder and ships batches when they are full.
struct Batcher<'a> {
    builder: BatchBuilder,
    bytes: u64,
    batch_size: usize,
    tx: &'a SyncSender<Result<Message>>,
    input: &'a str,
}

impl Batcher<'_> {
    fn push(&mut self, raw: &RawItem, parts: &ItemParts<'_>) -> Result<()> {
        self.builder
            .append(parts)
            .map_err(|problem| Error::InvalidItem {
                location: location(raw, self.input),
                problem,
            })?;
        self.bytes += raw.bytes;
        if self.builder.len() >= self.batch_size || self.bytes >= MAX_BATCH_INPUT_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.builder.len() == 0 {
            return Ok(());
        }
        self.bytes = 0;
        let batch = self
            .builder
            .finish()
            .map_err(|e| Error::arrow(format!("failed to build items from `{}`", self.input), e))?;
        send(self.tx, Message::Batch(batch))
    }
}

fn two_pass(
    input: &Input,
    format: Format,
    options: &ReadOptions,
    tx: &SyncSender<Result<Message>>,
) -> Result<()> {
    let name = input.name.as_str();
    let mut schema = ItemSchema::default();
    input.for_each_item(format, &mut |raw| {
        if !options.filter.matches_json(&raw.item) {
            return Ok(());
        }
        let parts = ItemParts::from_item(&raw.item)
            .map_err(|p| fold_error(&raw, name, FoldError::Item(p)))?;
        schema
            .fold(&parts, Mode::Scan)
            .map_err(|e| fold_error(&raw, name, e))
    })?;
    let arrow = schema.arrow_schema(true);
    send(tx, Message::Schema(arrow.clone()))?;
    if schema.rows == 0 {
        return Ok(());
    }
    let mut batcher = Batcher {
        builder: BatchBuilder::new(&schema, arrow),
        bytes: 0,
        batch_size: options.batch_size.max(1),
        tx,
        input: name,
    };
    input.for_each_item(format, &mut |raw| {
        if !options.filter.matches_json(&raw.item) {
            return Ok(());
        }
        let parts = ItemParts::from_item(&raw.item)
            .map_err(|p| fold_error(&raw, name, FoldError::Item(p)))?;
        batcher.push(&raw, &parts)
    })?;
    batcher.flush()
}

fn stream_ndjson(
    reader: impl std::io::BufRead,
    name: &str,
    options: &ReadOptions,
    tx: &SyncSender<Result<Message>>,
) -> Result<()> {
    let batch_size = options.batch_size.max(1);
    let mut items = NdjsonItems::new(reader, name);
    // The first batch is held as JSON until it is complete; it is bounded like any batch.
    let mut first = Vec::new();
    let mut bytes = 0;
    while first.len() < batch_size && bytes < MAX_BATCH_INPUT_BYTES {
        let Some(raw) = items.next() else { break };
        let raw = raw?;
        if options.filter.matches_json(&raw.item) {
            bytes += raw.bytes;
            first.push(raw);
        }
    }
    let mut schema = ItemSchema::default();
    for raw in &first {
        let parts = ItemParts::from_item(&raw.item)
            .map_err(|p| fold_error(raw, name, FoldError::Item(p)))?;
        schema
            .fold(&parts, Mode::Scan)
            .map_err(|e| fold_error(raw, name, e))?;
    }
    let arrow = schema.arrow_schema(false);
    send(tx, Message::Schema(arrow.clone()))?;
    let mut batcher = Batcher {
        builder: BatchBuilder::new(&schema, arrow),
        bytes: 0,
        batch_size,
        tx,
        input: name,
    };
    for raw in &first {
        let parts = ItemParts::from_item(&raw.item)
            .map_err(|p| fold_error(raw, name, FoldError::Item(p)))?;
        batcher.push(raw, &parts)?;
    }
    drop(first);
    for raw in items {
        let raw = raw?;
        if !options.filter.matches_json(&raw.item) {
            continue;
        }
        let parts = ItemParts::from_item(&raw.item)
            .map_err(|p| fold_error(&raw, name, FoldError::Item(p)))?;
        schema
            .fold(&parts, Mode::Fit)
            .map_err(|e| fold_error(&raw, name, e))?;
        batcher.push(&raw, &parts)?;
    }
    batcher.flush()
}
