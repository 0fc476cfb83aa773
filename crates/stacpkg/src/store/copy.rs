//! Streaming object copies: GET → PUT (one request up to one chunk, multipart above), with a
//! memory budget that is a real cap on buffered bytes across all copies.
//!
//! A copy reserves its worst case from the [`Budget`] before it buffers anything: the object's
//! size when it fits one part, else `part × (put_max_concurrency + 1)` (the parts in flight plus
//! the one being filled — exactly what `WriteMultipart` holds when it is asked to wait for
//! capacity before every write). The part is the chunk size, or 1 MiB for local files. So the sum of all copy buffers never exceeds the limit, and
//! copies wait for budget instead of allocating past it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use futures::future::Either;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::facts::{ObjectFacts, StoreError};
use super::{ObjectRef, Stores};
use crate::checksum::Evidence;

/// S3's smallest multipart part (all but the last).
pub const S3_MIN_PART: usize = 5 * 1024 * 1024;

/// Part size for local-file destinations (at most the chunk size). Measured on 100 × 8 MiB
/// http → file: whole-object buffering took 1.1–1.75 s against rclone's 0.7–0.9 s; 1 MiB parts
/// 0.9–1.1 s against 0.9–1.1 s (BENCHMARKS.md).
const LOCAL_PART: usize = 1024 * 1024;

/// Objects streamed to local files at a time (larger than one part), whatever `--max-workers`
/// says: parallel writers of large files slow each other down on one disk. Measured on
/// 10 × 256 MiB http → file: 8 at a time 4.2–6.6 s, 4 at a time 3.2–3.8 s, rclone (4 transfers)
/// 3.1–3.4 s. Small objects, where request latency dominates, still use every worker.
const LOCAL_STREAMS: usize = 4;

/// Budget accounting unit: permits are KiB so a `u32` permit count covers 4 TiB.
const UNIT: u64 = 1024;

/// How objects are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyOptions {
    /// Part size of multipart uploads; objects up to this size go in one PUT.
    pub chunk_size: usize,
    /// Parts of one object uploaded at a time.
    pub put_max_concurrency: usize,
    /// Replace existing destinations; otherwise an existing destination of the source's size is
    /// kept (and reported) and any other existing destination is an error.
    pub overwrite: bool,
}

/// Default part size of multipart uploads: 8 MiB.
pub const DEFAULT_CHUNK_SIZE: u64 = 8 * 1024 * 1024;

impl Default for CopyOptions {
    /// The command line's defaults: 8 MiB parts, one at a time, overwriting.
    fn default() -> Self {
        CopyOptions {
            chunk_size: DEFAULT_CHUNK_SIZE as usize,
            put_max_concurrency: 1,
            overwrite: true,
        }
    }
}

impl CopyOptions {
    /// The most one copy can buffer.
    pub fn per_copy_bytes(&self) -> u64 {
        self.chunk_size as u64 * (self.put_max_concurrency as u64 + 1)
    }
}

/// The shared cap on buffered bytes.
#[derive(Debug, Clone)]
pub struct Budget {
    permits: Arc<Semaphore>,
    limit: u64,
    local_streams: Arc<Semaphore>,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        let units = (limit / UNIT).clamp(1, u64::from(u32::MAX));
        Budget {
            permits: Arc::new(Semaphore::new(units as usize)),
            limit,
            local_streams: Arc::new(Semaphore::new(LOCAL_STREAMS)),
        }
    }

    /// The limit in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    async fn reserve(&self, bytes: u64) -> OwnedSemaphorePermit {
        let units = bytes.div_ceil(UNIT).clamp(1, u64::from(u32::MAX)) as u32;
        Arc::clone(&self.permits)
            .acquire_many_owned(units)
            .await
            .expect("the budget semaphore is never closed")
    }
}

/// Bytes written so far, across all copies (for progress reports).
#[derive(Debug, Default)]
pub struct CopyProgress {
    /// Bytes written to destinations.
    pub bytes: AtomicU64,
}

/// How a copy ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Copied {
    /// The object was written; the destination's facts.
    Written(ObjectFacts),
    /// The destination already held an object of the source's size (`overwrite` off); its facts.
    Kept(ObjectFacts),
}

/// `work`, unless `stop` is cancelled first (then [`StoreError::Cancelled`]; `work` is dropped).
async fn unless_stopped<T>(
    stop: &CancellationToken,
    work: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let work = std::pin::pin!(work);
    let stopped = std::pin::pin!(stop.cancelled());
    match futures::future::select(work, stopped).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(StoreError::Cancelled),
    }
}

impl Stores {
    /// Copy one object from `source` to `destination`, then HEAD the destination. The bytes are
    /// hashed as they pass (SHA-256, recorded as the destination's `checksum`); when
    /// `expected_checksum` is given they must match it, or the copy fails with
    /// [`StoreError::ChecksumMismatch`] before the destination object is committed. A kept
    /// destination (`overwrite` off) is read and hashed the same way.
    ///
    /// When `stop` is cancelled the copy ends early with [`StoreError::Cancelled`], and leaves
    /// nothing it started behind: a multipart upload is aborted (a local file's staging file is
    /// removed, an S3 upload's parts are discarded).
    #[allow(clippy::too_many_arguments)] // one object's copy: what, where, how, with what limits
    pub async fn copy(
        &self,
        source: &ObjectRef,
        destination: &ObjectRef,
        expected_checksum: Option<&str>,
        options: &CopyOptions,
        budget: &Budget,
        progress: &CopyProgress,
        stop: &CancellationToken,
    ) -> Result<Copied, StoreError> {
        let (src_store, src_path) =
            self.object_store(&source.location, source.endpoint.as_deref())?;
        let (dst_store, dst_path) =
            self.object_store(&destination.location, destination.endpoint.as_deref())?;
        let store_error = |e: object_store::Error| StoreError::from_object_store(&e);
        if !options.overwrite {
            match self.head(destination).await {
                Ok(mut existing) => {
                    let source_size = self.head(source).await?.size;
                    return if existing.size == source_size {
                        // Kept only as proven: its bytes must match the source's checksum.
                        let read = AtomicU64::new(0);
                        let hashed = unless_stopped(
                            stop,
                            self.hash(destination, expected_checksum, &read),
                        )
                        .await
                        .map_err(|e| match e {
                            StoreError::ChecksumMismatch(m) => StoreError::Exists(format!(
                                "the destination exists with the source's size but other content ({m})"
                            )),
                            other => other,
                        })?;
                        existing.checksum = hashed.facts.checksum;
                        self.remove_stale_staging(destination);
                        Ok(Copied::Kept(existing))
                    } else {
                        Err(StoreError::Exists(format!(
                            "the destination exists with {} bytes, the source has {}",
                            existing.size.map_or("unknown".into(), |s| s.to_string()),
                            source_size.map_or("unknown".into(), |s| s.to_string()),
                        )))
                    };
                }
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        let got = unless_stopped(stop, async {
            src_store.get(&src_path).await.map_err(store_error)
        })
        .await?;
        let size = got.meta.size;
        let mut evidence = Evidence::new(expected_checksum);
        let to_file = destination.location.store_type.as_deref() == Some("file");
        // Local files stream in small parts, so reading and writing one object overlap (the
        // file's ETag does not depend on how it was written); other stores get one PUT per
        // object up to a chunk (plain-MD5 ETags on S3).
        let part = if to_file {
            options.chunk_size.min(LOCAL_PART)
        } else {
            options.chunk_size
        };
        let checksum = if size <= part as u64 {
            let _permit = unless_stopped(stop, async { Ok(budget.reserve(size).await) }).await?;
            let bytes =
                unless_stopped(stop, async { got.bytes().await.map_err(store_error) }).await?;
            // Checked before the PUT: bytes that do not match are never written.
            evidence.update(&bytes);
            let checksum = evidence.finish().map_err(StoreError::from)?;
            // Without overwrite the destination was checked above; for local files, Create also
            // guards the race with another writer. Remote stores get a plain PUT: conditional
            // writes are not supported by every S3-compatible server.
            let mode = if options.overwrite || !to_file {
                PutMode::Overwrite
            } else {
                PutMode::Create
            };
            let length = bytes.len() as u64;
            dst_store
                .put_opts(
                    &dst_path,
                    PutPayload::from_bytes(bytes),
                    PutOptions {
                        mode,
                        ..PutOptions::default()
                    },
                )
                .await
                .map_err(store_error)?;
            progress.bytes.fetch_add(length, Ordering::Relaxed);
            checksum
        } else {
            if destination.location.store_type.as_deref() == Some("s3")
                && options.chunk_size < S3_MIN_PART
            {
                return Err(StoreError::PartTooSmall {
                    minimum: S3_MIN_PART,
                });
            }
            let _stream = if to_file {
                Some(
                    unless_stopped(stop, async {
                        Ok(Arc::clone(&budget.local_streams)
                            .acquire_owned()
                            .await
                            .expect("the stream semaphore is never closed"))
                    })
                    .await?,
                )
            } else {
                None
            };
            let _permit = unless_stopped(stop, async {
                Ok(budget
                    .reserve(part as u64 * (options.put_max_concurrency as u64 + 1))
                    .await)
            })
            .await?;
            let upload = dst_store
                .put_multipart(&dst_path)
                .await
                .map_err(store_error)?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, part);
            let mut body = got.into_stream();
            let copied = unless_stopped(stop, async {
                while let Some(bytes) = body.next().await {
                    let bytes = bytes.map_err(store_error)?;
                    // At most `put_max_concurrency` parts in flight while the next one fills:
                    // (put_max_concurrency + 1) parts, the reservation above. A put that
                    // completes a part starts it with an empty buffer, so the bound holds.
                    writer
                        .wait_for_capacity(options.put_max_concurrency)
                        .await
                        .map_err(store_error)?;
                    let length = bytes.len() as u64;
                    evidence.update(&bytes);
                    // The network buffers become the part as they are. Copying them into one
                    // buffer per part (fewer write calls) measured slower: fresh part buffers
                    // cost page faults, and `write` copies into small blocks anyway.
                    writer.put(bytes);
                    progress.bytes.fetch_add(length, Ordering::Relaxed);
                }
                Ok(())
            })
            .await;
            // Checked before the upload completes: bytes that do not match are never committed.
            let copied = copied.and_then(|()| evidence.finish().map_err(StoreError::from));
            match copied {
                Ok(checksum) => {
                    writer.finish().await.map_err(store_error)?;
                    checksum
                }
                Err(e) => {
                    // Leave no half-written object behind: the staging file of a local
                    // destination, the uploaded parts of an S3 one.
                    let _ = writer.abort().await;
                    return Err(e);
                }
            }
        };
        self.remove_stale_staging(destination);
        let mut facts = self.head(destination).await?;
        facts.checksum = Some(checksum);
        Ok(Copied::Written(facts))
    }

    /// Local files are written to a staging name (`NAME#N`, object_store's) and renamed. A copy
    /// killed before the rename leaves its staging file; once the destination is complete, any
    /// such leftovers beside it are removed, so a resumed run leaves no partial file behind.
    fn remove_stale_staging(&self, destination: &ObjectRef) {
        if destination.location.store_type.as_deref() != Some("file") {
            return;
        }
        let Some(key) = destination.location.key.as_deref() else {
            return;
        };
        let path = self.file_path(key);
        let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
        else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let prefix = format!("{name}#");
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(other) = file_name.to_str() else {
                continue;
            };
            if other
                .strip_prefix(&prefix)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}
