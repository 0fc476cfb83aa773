//! Table files named by a local path or by an object-store URL (`s3://`, `az://`, `gs://`,
//! `file://`, and `http(s)://` for reading), so that workers on different machines share inputs
//! and outputs without a shared filesystem. Objects are reached through [`Stores`], with their
//! credential rules; any path segment of a pattern may hold `*` and `?` ([`expand`]).
//!
//! Memory: a remote Parquet file is read a row group's pages at a time with one decoded batch
//! queued; an upload holds at most [`UPLOAD_PART`] bytes being filled, [`QUEUED_CHUNKS`] chunks
//! of [`CHUNK`] bytes queued, and [`PARTS_IN_FLIGHT`] parts being sent.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};
use bytes::Bytes;
use futures::FutureExt;
use futures::StreamExt;
use futures::future::BoxFuture;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use crate::error::{Error, Result};
use crate::output::AtomicFile;
use crate::runtime::{Runtime, Threads};
use crate::store::{ObjectRef, StoreError, Stores};

/// Bytes per part of an upload (S3 needs at least 5 MiB).
pub const UPLOAD_PART: usize = 8 * 1024 * 1024;
/// Parts of an upload sent at once.
pub const PARTS_IN_FLIGHT: usize = 2;
/// Bytes handed from the writer to the uploader at a time.
pub const CHUNK: usize = 1024 * 1024;
/// Chunks queued between the writer and the uploader.
pub const QUEUED_CHUNKS: usize = 2;

/// A table file: a local path, or an object named by URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRef {
    /// A local file (a plain path, or a `file://` URL).
    Local(PathBuf),
    /// An object in a store.
    Object(ObjectRef),
}

impl FileRef {
    /// A path, or a URL with a scheme the stores know. A URL's query string is refused (a
    /// signed URL's signature would end up in messages).
    pub fn parse(text: &str) -> Result<Self> {
        if !text.contains("://") {
            return Ok(FileRef::Local(PathBuf::from(text)));
        }
        let (target, located) = ObjectRef::from_href(text, None);
        let shown = crate::store::redact(text);
        if located.query_dropped || located.userinfo_dropped {
            return Err(Error::Object {
                action: "cannot use",
                href: shown,
                source: StoreError::BadLocation(
                    "table URLs take no query string or credentials; give credentials through the store settings".into(),
                ),
            });
        }
        match target.location.store_type.as_deref() {
            Some("file") => Ok(FileRef::Local(PathBuf::from(
                target.location.key.clone().unwrap_or_default(),
            ))),
            Some(_)
                if target
                    .location
                    .key
                    .as_deref()
                    .is_some_and(|k| !k.is_empty()) =>
            {
                Ok(FileRef::Object(target))
            }
            _ => Err(Error::Object {
                action: "cannot use",
                href: shown,
                source: StoreError::BadLocation(
                    "not a path or an s3://, az://, gs://, file:// or http(s):// URL of a file"
                        .into(),
                ),
            }),
        }
    }

    /// How messages name it (never with credentials).
    pub fn name(&self) -> String {
        match self {
            FileRef::Local(path) => path.display().to_string(),
            FileRef::Object(target) => target.display(),
        }
    }
}

/// The files that `patterns` name, in order. A pattern with `*` (any run of characters but `/`)
/// or `?` (one character) in any of its path segments is every file (or object) whose path
/// matches it segment by segment, sorted by path; one that matches nothing is an error. Other
/// patterns are taken as they are.
pub fn expand(patterns: &[String], stores: &Stores, runtime: &Runtime) -> Result<Vec<FileRef>> {
    let mut files = Vec::new();
    for pattern in patterns {
        let file = FileRef::parse(pattern)?;
        let mut matched: Vec<(String, FileRef)> = match &file {
            FileRef::Local(path) => {
                let text = path.to_string_lossy().into_owned();
                if !has_wildcard(&text) {
                    files.push(file);
                    continue;
                }
                local_matches(&text)?
            }
            FileRef::Object(target) => {
                let key = target.location.key.clone().unwrap_or_default();
                if !has_wildcard(&key) {
                    files.push(file);
                    continue;
                }
                object_matches(target, &key, stores, runtime)?
            }
        };
        if matched.is_empty() {
            return Err(Error::io(
                "no file matches",
                file.name(),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        matched.sort_by(|a, b| a.0.cmp(&b.0));
        files.extend(matched.into_iter().map(|(_, f)| f));
    }
    Ok(files)
}

fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?'])
}

/// Local files matching `pattern`, walked segment by segment from its literal beginning.
fn local_matches(pattern: &str) -> Result<Vec<(String, FileRef)>> {
    let absolute = pattern.starts_with('/');
    let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let mut found = Vec::new();
    let start = if absolute {
        "/".to_string()
    } else {
        String::new()
    };
    walk(&start, &segments, &mut found)?;
    Ok(found
        .into_iter()
        .map(|path| (path.clone(), FileRef::Local(PathBuf::from(path))))
        .collect())
}

fn walk(base: &str, segments: &[&str], found: &mut Vec<String>) -> Result<()> {
    let Some((segment, rest)) = segments.split_first() else {
        return Ok(());
    };
    let join = |name: &str| {
        if base.is_empty() {
            name.to_string()
        } else if base.ends_with('/') {
            format!("{base}{name}")
        } else {
            format!("{base}/{name}")
        }
    };
    let is_file = |path: &str| std::fs::metadata(path).is_ok_and(|m| m.is_file());
    if !has_wildcard(segment) {
        let next = join(segment);
        if rest.is_empty() {
            if is_file(&next) {
                found.push(next);
            }
            return Ok(());
        }
        return walk(&next, rest, found);
    }
    let dir = if base.is_empty() { "." } else { base };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // A directory that is not there holds no match.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("failed to list", dir.to_string(), e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("failed to list", dir.to_string(), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !matches(segment, &name) {
            continue;
        }
        let next = join(&name);
        if rest.is_empty() {
            if is_file(&next) {
                found.push(next);
            }
        } else {
            walk(&next, rest, found)?;
        }
    }
    Ok(())
}

/// Whether `name` matches `pattern` (`*`: any run of characters, `?`: one character).
fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                backtrack = Some((pi, ni));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match backtrack {
                Some((star, at)) => {
                    pi = star + 1;
                    ni = at + 1;
                    backtrack = Some((star, at + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Objects whose keys match `key_pattern` segment by segment, listed under its literal
/// beginning.
fn object_matches(
    target: &ObjectRef,
    key_pattern: &str,
    stores: &Stores,
    runtime: &Runtime,
) -> Result<Vec<(String, FileRef)>> {
    let failed = |source| Error::Object {
        action: "failed to list",
        href: target.display(),
        source,
    };
    let pattern: Vec<&str> = key_pattern.split('/').filter(|s| !s.is_empty()).collect();
    let literal = pattern.iter().take_while(|s| !has_wildcard(s)).count();
    let prefix = pattern[..literal].join("/");
    // The store and the path of the prefix, through the one place that builds stores.
    let mut probe = target.location.clone();
    probe.key = Some(if prefix.is_empty() {
        "x".to_string()
    } else {
        format!("{prefix}/x")
    });
    let (store, probe_path) = stores
        .own_object_store(&probe, target.endpoint.as_deref())
        .map_err(failed)?;
    let parts: Vec<_> = probe_path.parts().collect();
    let list_prefix =
        (parts.len() > 1).then(|| ObjectPath::from_iter(parts[..parts.len() - 1].iter().cloned()));
    let listed: Vec<object_store::ObjectMeta> = runtime
        .block_on(Threads::One, async move {
            let stream = store.list(list_prefix.as_ref());
            futures::TryStreamExt::try_collect::<Vec<_>>(stream).await
        })?
        .map_err(|e| failed(StoreError::from_object_store(&e)))?;
    let skip = list_prefix_len(&probe_path);
    Ok(listed
        .into_iter()
        .filter_map(|meta| {
            let parts: Vec<String> = meta
                .location
                .parts()
                .map(|p| p.as_ref().to_string())
                .collect();
            let rest = parts.get(skip..)?;
            let wanted = &pattern[literal..];
            (rest.len() == wanted.len() && rest.iter().zip(wanted).all(|(n, p)| matches(p, n)))
                .then(|| {
                    let key = meta.location.to_string();
                    let mut location = target.location.clone();
                    location.key = Some(key.clone());
                    (
                        key,
                        FileRef::Object(ObjectRef::new(location, target.endpoint.clone())),
                    )
                })
        })
        .collect())
}

/// How many path parts the listing prefix of `probe` (a path ending in a placeholder) has.
fn list_prefix_len(probe: &ObjectPath) -> usize {
    probe.parts().count().saturating_sub(1)
}

/// A Parquet file opened for reading: its Arrow schema, row count and batches.
pub(crate) struct ParquetFile {
    pub(crate) schema: SchemaRef,
    pub(crate) rows: i64,
    pub(crate) batches:
        Box<dyn Iterator<Item = std::result::Result<RecordBatch, ArrowError>> + Send>,
}

/// Open `file` as Parquet with batches of at most `batch_size` rows.
pub(crate) fn open_parquet(
    file: &FileRef,
    batch_size: usize,
    stores: &Stores,
    runtime: &Runtime,
) -> Result<ParquetFile> {
    match file {
        FileRef::Local(path) => open_local(path, batch_size),
        FileRef::Object(target) => open_remote(target, batch_size, stores, runtime),
    }
}

/// Open the local file `path` as Parquet with batches of at most `batch_size` rows.
pub(crate) fn open_local(path: &std::path::Path, batch_size: usize) -> Result<ParquetFile> {
    let name = path.display().to_string();
    let handle = std::fs::File::open(path).map_err(|e| Error::io("failed to open", &name, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(handle)
        .map_err(|e| Error::parquet(format!("`{name}` is not a readable Parquet file"), e))?;
    let schema = builder.schema().clone();
    let rows = builder.metadata().file_metadata().num_rows();
    let reader = builder
        .with_batch_size(batch_size.max(1))
        .build()
        .map_err(|e| Error::parquet(format!("failed to read `{name}`"), e))?;
    Ok(ParquetFile {
        schema,
        rows,
        batches: Box::new(reader),
    })
}

type Opened = std::result::Result<(SchemaRef, i64), Error>;

fn open_remote(
    target: &ObjectRef,
    batch_size: usize,
    stores: &Stores,
    runtime: &Runtime,
) -> Result<ParquetFile> {
    let name = target.display();
    let read_failed = |source| Error::Object {
        action: "failed to read",
        href: name.clone(),
        source,
    };
    let (store, path) = stores
        .own_object_store(&target.location, target.endpoint.as_deref())
        .map_err(read_failed)?;
    let (opened_tx, opened_rx) = sync_channel::<Opened>(1);
    // One decoded batch waits for the consumer.
    let (tx, rx) = sync_channel::<std::result::Result<RecordBatch, ArrowError>>(1);
    let runtime = runtime.clone();
    let thread_name = name.clone();
    let failed_tx = opened_tx.clone();
    std::thread::Builder::new()
        .name("stacpkg-read".into())
        .spawn(move || {
            let work = async move {
                let opened = async {
                    let size = store
                        .head(&path)
                        .await
                        .map_err(|e| Error::Object {
                            action: "failed to read",
                            href: thread_name.clone(),
                            source: StoreError::from_object_store(&e),
                        })?
                        .size;
                    let reader = StoreReader {
                        store: Arc::clone(&store),
                        path: path.clone(),
                        size,
                    };
                    ParquetRecordBatchStreamBuilder::new(reader)
                        .await
                        .map_err(|e| {
                            Error::parquet(
                                format!("`{thread_name}` is not a readable Parquet file"),
                                e,
                            )
                        })
                };
                let builder = match opened.await {
                    Ok(builder) => builder,
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                let rows = builder.metadata().file_metadata().num_rows();
                let schema = builder.schema().clone();
                let stream = match builder.with_batch_size(batch_size.max(1)).build() {
                    Ok(stream) => stream,
                    Err(e) => {
                        let _ = opened_tx.send(Err(Error::parquet(
                            format!("failed to read `{thread_name}`"),
                            e,
                        )));
                        return;
                    }
                };
                if opened_tx.send(Ok((schema, rows))).is_err() {
                    return;
                }
                let mut stream = std::pin::pin!(stream);
                while let Some(batch) = stream.next().await {
                    let batch = batch.map_err(|e| ArrowError::ExternalError(Box::new(e)));
                    // Blocking here is fine: this runtime serves this read only.
                    if tx.send(batch).is_err() {
                        return;
                    }
                }
            };
            if let Err(e) = runtime.block_on(Threads::One, work) {
                let _ = failed_tx.send(Err(e));
            }
        })
        .map_err(|e| Error::io("failed to start", "the reader of", e))?;
    let (schema, rows) = opened_rx
        .recv()
        .map_err(|_| Error::Internal("the remote Parquet reader stopped"))??;
    Ok(ParquetFile {
        schema,
        rows,
        batches: Box::new(rx.into_iter()),
    })
}

/// Ranges of one object, for the async Parquet reader.
struct StoreReader {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    size: u64,
}

impl AsyncFileReader for StoreReader {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            ParquetMetaDataReader::new()
                .with_metadata_options(options.map(|o| o.metadata_options().clone()))
                // The footer and, usually, the whole metadata in one request.
                .with_prefetch_hint(Some(64 * 1024))
                .load_and_finish(self, size)
                .await
                .map(Arc::new)
        }
        .boxed()
    }
}

/// Write `file` with `write` (given the sink and the file's name for messages), and make it the
/// file only when `write` succeeds.
pub(crate) fn write_with<T>(
    file: &FileRef,
    stores: &Stores,
    runtime: &Runtime,
    write: impl FnOnce(&mut Sink, &str) -> Result<T>,
) -> Result<T> {
    let mut sink = Sink::create(file, stores, runtime)?;
    let written = write(&mut sink, &file.name())?;
    sink.commit()?;
    Ok(written)
}

/// [`write_with`] for the local file `path`.
pub(crate) fn write_local_with<T>(
    path: &std::path::Path,
    write: impl FnOnce(&mut Sink, &str) -> Result<T>,
) -> Result<T> {
    let mut sink = Sink::local(path)?;
    let written = write(&mut sink, &path.display().to_string())?;
    sink.commit()?;
    Ok(written)
}

/// Where a table file is written: a local file that appears atomically, or an object uploaded
/// in parts and completed only at [`Sink::commit`] (an upload that is not committed is
/// aborted, so a failed write leaves no object and never replaces one).
pub(crate) enum Sink {
    Local(AtomicFile, std::fs::File),
    Upload(Upload),
}

impl Sink {
    /// Start writing `file`.
    pub(crate) fn create(file: &FileRef, stores: &Stores, runtime: &Runtime) -> Result<Sink> {
        match file {
            FileRef::Local(path) => Sink::local(path),
            FileRef::Object(target) => Ok(Sink::Upload(Upload::start(target, stores, runtime)?)),
        }
    }

    /// Start writing the local file `path`.
    pub(crate) fn local(path: &std::path::Path) -> Result<Sink> {
        let output = AtomicFile::create(path)?;
        let handle = output.file()?;
        Ok(Sink::Local(output, handle))
    }

    /// Make the written bytes the file.
    pub(crate) fn commit(self) -> Result<()> {
        match self {
            Sink::Local(output, handle) => {
                drop(handle);
                output.commit()
            }
            Sink::Upload(upload) => upload.commit(),
        }
    }
}

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Local(_, handle) => handle.write(buf),
            Sink::Upload(upload) => upload.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Local(_, handle) => handle.flush(),
            Sink::Upload(upload) => upload.flush(),
        }
    }
}

enum Chunk {
    Bytes(Vec<u8>),
    Done,
}

/// An object written through a multipart upload on a thread of its own.
pub(crate) struct Upload {
    name: String,
    pending: Vec<u8>,
    tx: Option<SyncSender<Chunk>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl Upload {
    fn start(target: &ObjectRef, stores: &Stores, runtime: &Runtime) -> Result<Upload> {
        let name = target.display();
        let failed = |source| Error::Object {
            action: "failed to write",
            href: name.clone(),
            source,
        };
        if matches!(
            target.location.store_type.as_deref(),
            Some("http" | "https")
        ) {
            return Err(failed(StoreError::BadLocation(
                "http(s) URLs are read only; write to s3://, az://, gs:// or a path".into(),
            )));
        }
        let (store, path) = stores
            .own_object_store(&target.location, target.endpoint.as_deref())
            .map_err(failed)?;
        let (tx, rx) = sync_channel::<Chunk>(QUEUED_CHUNKS);
        let runtime = runtime.clone();
        let thread_name = name.clone();
        let thread = std::thread::Builder::new()
            .name("stacpkg-upload".into())
            .spawn(move || {
                runtime
                    .block_on(Threads::All, upload(store, path, rx))?
                    .map_err(|source| Error::Object {
                        action: "failed to write",
                        href: thread_name,
                        source,
                    })
            })
            .map_err(|e| Error::io("failed to start", "the upload of", e))?;
        Ok(Upload {
            name,
            pending: Vec::with_capacity(CHUNK),
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    fn send(&mut self, chunk: Chunk) -> std::io::Result<()> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(chunk).is_ok());
        if sent {
            return Ok(());
        }
        // The uploader stopped: its error is the cause worth telling.
        self.tx = None;
        let cause = match self.join() {
            Err(e) => crate::store::short_reason(&e),
            Ok(()) => format!("the upload of `{}` stopped", self.name),
        };
        Err(std::io::Error::other(cause))
    }

    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= CHUNK {
            let full = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
            self.send(Chunk::Bytes(full))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }

    fn commit(mut self) -> Result<()> {
        let rest = std::mem::take(&mut self.pending);
        let sent = self
            .send(Chunk::Bytes(rest))
            .and_then(|()| self.send(Chunk::Done));
        self.tx = None;
        let outcome = self.join();
        match (sent, outcome) {
            (_, Err(e)) => Err(e),
            (Err(e), Ok(())) => Err(Error::write_failed(self.name.clone(), e)),
            (Ok(()), Ok(())) => Ok(()),
        }
    }

    fn join(&mut self) -> Result<()> {
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => Ok(()),
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // Not committed: the uploader sees the channel close without `Done` and aborts.
        self.tx = None;
        let _ = self.join();
    }
}

async fn upload(
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    rx: Receiver<Chunk>,
) -> std::result::Result<(), StoreError> {
    let failed = |e: object_store::Error| StoreError::from_object_store(&e);
    let multipart = store.put_multipart(&path).await.map_err(failed)?;
    let mut writer = WriteMultipart::new_with_chunk_size(multipart, UPLOAD_PART);
    loop {
        // Blocking here is fine: the parts are sent by the runtime's workers meanwhile.
        match rx.recv() {
            Ok(Chunk::Bytes(bytes)) => {
                if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                    return Err(failed(e));
                }
                writer.write(&bytes);
            }
            Ok(Chunk::Done) => return writer.finish().await.map(drop).map_err(failed),
            Err(_) => {
                let _ = writer.abort().await;
                return Err(StoreError::Cancelled);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_whole_names() {
        assert!(matches("shard-*.parquet", "shard-0.parquet"));
        assert!(matches("shard-*.parquet", "shard-.parquet"));
        assert!(matches("s?-*", "s1-x"));
        assert!(!matches("shard-*.parquet", "shard-0.parquet.tmp"));
        assert!(!matches("s?", "s12"));
        assert!(matches("*a*b", "xxaxxb"));
    }

    #[test]
    fn paths_and_urls_are_told_apart() {
        assert_eq!(
            FileRef::parse("a/b.parquet").unwrap(),
            FileRef::Local(PathBuf::from("a/b.parquet"))
        );
        assert_eq!(
            FileRef::parse("file:///tmp/x.parquet").unwrap(),
            FileRef::Local(PathBuf::from("/tmp/x.parquet"))
        );
        assert!(matches!(
            FileRef::parse("s3://bucket/locks/0.parquet").unwrap(),
            FileRef::Object(_)
        ));
        let signed = FileRef::parse("https://h.example/x.parquet?X-Amz-Signature=secret")
            .unwrap_err()
            .to_string();
        assert!(!signed.contains("secret"), "{signed}");
    }
}
