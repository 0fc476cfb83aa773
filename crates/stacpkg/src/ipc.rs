//! The pipe format between subcommands: the Arrow IPC *stream* format (schema message, record
//! batches, end-of-stream marker), in both directions, with the stream-kind check of SPEC §2.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow_ipc::MetadataVersion;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::{IpcWriteOptions, StreamWriter};
use arrow_schema::Schema;

use crate::batch::BatchReader;
use crate::error::{Error, Result, StreamKind};
use crate::items::schema::{ASSETS, ID, META_KIND};

/// Read an Arrow IPC stream, checking it holds the `expected` kind of table.
///
/// A stream that says (`stacpkg:schema-kind`) or looks (its columns) like the other kind fails
/// with a message naming both kinds and the commands that make the right one. Streams without
/// kind metadata are accepted when their columns fit.
pub fn read_stream<R: Read + Send + 'static>(
    reader: R,
    input: &str,
    expected: StreamKind,
) -> Result<BatchReader> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let empty = reader
        .fill_buf()
        .map_err(|e| Error::io("failed to read", input, e))?
        .is_empty();
    if empty {
        return Err(Error::EmptyStream {
            input: input.to_string(),
            producers: expected.producers(),
        });
    }
    let ended = Arc::new(AtomicBool::new(false));
    let tracked = EndTracker {
        inner: reader,
        ended: Arc::clone(&ended),
    };
    let stream = StreamReader::try_new(tracked, None).map_err(|source| Error::NotIpc {
        input: input.to_string(),
        source,
    })?;
    let schema = stream.schema();
    check_kind(&schema, input, expected)?;
    let name = input.to_string();
    let mut stream = stream.fuse();
    let mut checked = false;
    let batches = std::iter::from_fn(move || match stream.next() {
        Some(batch) => Some(batch.map_err(|e| {
            Error::arrow(
                format!("failed to read the Arrow IPC stream from {name}"),
                e,
            )
        })),
        // The reader stops at the end-of-stream marker, or quietly at the end of the input: a
        // stream cut short (its writer failed or was stopped) must not pass for a whole one.
        None if !checked && ended.load(Ordering::Relaxed) => {
            checked = true;
            Some(Err(Error::TruncatedStream {
                input: name.clone(),
            }))
        }
        None => None,
    });
    Ok(BatchReader::new(schema, batches))
}

/// A reader that notes when its input ran out under a read that wanted bytes: a stream reader
/// that then reports its end never saw the end-of-stream marker.
struct EndTracker<R> {
    inner: R,
    ended: Arc<AtomicBool>,
}

impl<R: Read> Read for EndTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.ended.store(true, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// The kind a schema declares, or failing that, the kind its columns suggest.
pub fn stream_kind(schema: &Schema) -> Option<StreamKind> {
    match schema.metadata().get(META_KIND).map(String::as_str) {
        Some("items") => return Some(StreamKind::Items),
        Some("asset-lock") => return Some(StreamKind::AssetLock),
        _ => {}
    }
    let has = |name: &str| schema.column_with_name(name).is_some();
    if has("item_id") && has("asset_key") && !has(ID) {
        Some(StreamKind::AssetLock)
    } else if has(ID) && has(ASSETS) {
        Some(StreamKind::Items)
    } else {
        None
    }
}

/// Fail unless the schema can be the `expected` kind of table.
///
/// A table without kind metadata passes as items only when it has the items core columns (`id`
/// and `assets`): a table of anything else would be written as if it were STAC. Lock tables
/// stay lenient, because their rows are normalised one by one (legacy `href` columns included).
pub fn check_kind(schema: &Schema, input: &str, expected: StreamKind) -> Result<()> {
    match stream_kind(schema) {
        Some(found) if found != expected => Err(Error::WrongStreamKind {
            input: input.to_string(),
            found,
            expected,
            producers: expected.producers(),
        }),
        None if expected == StreamKind::Items => Err(Error::UnknownStreamKind {
            input: input.to_string(),
            expected,
            producers: expected.producers(),
        }),
        _ => Ok(()),
    }
}

/// Write a batch stream as an Arrow IPC stream (metadata V5, 8-byte alignment, uncompressed,
/// like pyarrow's defaults). Returns the number of rows written.
pub fn write_stream<W: Write>(writer: W, reader: BatchReader, output: &str) -> Result<u64> {
    let context = || format!("failed to write the Arrow IPC stream to {output}");
    let options = IpcWriteOptions::try_new(8, false, MetadataVersion::V5)
        .map_err(|e| Error::arrow(context(), e))?;
    let schema = reader.schema();
    let mut writer = StreamWriter::try_new_with_options(writer, &schema, options)
        .map_err(|e| Error::arrow(context(), e))?;
    let mut rows = 0;
    for batch in reader {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        writer
            .write(&batch)
            .map_err(|e| Error::arrow(context(), e))?;
    }
    writer.finish().map_err(|e| Error::arrow(context(), e))?;
    writer
        .into_inner()
        .and_then(|mut w| w.flush().map_err(Into::into))
        .map_err(|e| Error::arrow(context(), e))?;
    Ok(rows)
}
