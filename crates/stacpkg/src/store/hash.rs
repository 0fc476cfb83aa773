//! Reading an object to its end to hash it: the evidence of `derive --checksum calculate-*` and
//! `validate --checksum verify`.
//!
//! Memory: one read buffer of [`FILE_BUFFER`] per local file being hashed, or the network's
//! own chunks (tens of KiB) for remote objects; nothing else is held, whatever the object's
//! size.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use object_store::ObjectStoreExt;

use super::facts::{ObjectFacts, StoreError, short_reason};
use super::{ObjectRef, Stores};
use crate::checksum::Evidence;

/// Read size for local files: large enough that a read costs far less than hashing it.
const FILE_BUFFER: usize = 256 * 1024;
/// Bytes of a local file hashed per trip to a blocking thread.
const SEGMENT: u64 = 8 * 1024 * 1024;

/// What reading an object gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    /// The object's facts, from the response that carried its bytes (a local file's from its
    /// metadata), with `checksum` the SHA-256 multihash of the bytes read.
    pub facts: ObjectFacts,
    /// Bytes read.
    pub bytes: u64,
}

impl Stores {
    /// Read the object at `target` to its end and hash it (SHA-256), with one request that also
    /// gives its facts (no HEAD besides). When `expected` is a checksum, the bytes must match it
    /// (in its own algorithm), else the read ends with [`StoreError::ChecksumMismatch`].
    /// `progress` counts the bytes read.
    pub async fn hash(
        &self,
        target: &ObjectRef,
        expected: Option<&str>,
        progress: &AtomicU64,
    ) -> Result<Hashed, StoreError> {
        let mut evidence = Evidence::new(expected);
        if let Some(path) = self.local_file(target)? {
            let facts = self.head(target).await?;
            let (checksum, bytes) = hash_file(path, evidence, progress).await?;
            return Ok(with_checksum(facts, checksum, bytes));
        }
        let mut size = 0u64;
        let mut take = |bytes: &[u8]| {
            evidence.update(bytes);
            size += bytes.len() as u64;
            progress.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        };
        let facts;
        if let Some(url) = self.http_url(target)? {
            let mut response = self.send_http(reqwest::Method::GET, &url, &[]).await?;
            facts = super::http_facts(response.headers());
            while let Some(bytes) = response
                .chunk()
                .await
                .map_err(|e| StoreError::Failed(short_reason(&e)))?
            {
                take(&bytes);
            }
        } else {
            let (store, path) = self.object_store(&target.location, target.endpoint.as_deref())?;
            let got = store
                .get(&path)
                .await
                .map_err(|e| StoreError::from_object_store(&e))?;
            facts = super::meta_facts(got.meta.clone(), &target.location);
            let mut body = got.into_stream();
            while let Some(bytes) = body.next().await {
                take(&bytes.map_err(|e| StoreError::from_object_store(&e))?);
            }
        }
        let checksum = evidence.finish().map_err(StoreError::from)?;
        Ok(with_checksum(facts, checksum, size))
    }
}

fn with_checksum(mut facts: ObjectFacts, checksum: String, bytes: u64) -> Hashed {
    facts.checksum = Some(checksum);
    // A response without a length (chunked) still tells the size by its bytes.
    facts.size = facts.size.or(i64::try_from(bytes).ok());
    Hashed { facts, bytes }
}

/// Hash a local file on blocking threads, a segment at a time (so progress moves), in large
/// reads: cheap next to the hashing, and off the runtime's threads, so several files hash on
/// several cores.
async fn hash_file(
    path: std::path::PathBuf,
    evidence: Evidence,
    progress: &AtomicU64,
) -> Result<(String, u64), StoreError> {
    let mut file = std::fs::File::open(&path).map_err(|e| io_error(&e))?;
    let mut state = (evidence, 0u64);
    loop {
        let (file_back, state_back, n) = tokio::task::spawn_blocking(move || {
            let (mut evidence, size) = state;
            let mut buffer = vec![0u8; FILE_BUFFER];
            let mut n = 0u64;
            while n < SEGMENT {
                match file.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(read) => {
                        evidence.update(&buffer[..read]);
                        n += read as u64;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io_error(&e)),
                }
            }
            Ok((file, (evidence, size + n), n))
        })
        .await
        .map_err(|e| StoreError::Failed(format!("the hashing thread failed: {e}")))??;
        progress.fetch_add(n, Ordering::Relaxed);
        (file, state) = (file_back, state_back);
        if n < SEGMENT {
            let checksum = state.0.finish().map_err(StoreError::from)?;
            return Ok((checksum, state.1));
        }
    }
}

fn io_error(error: &std::io::Error) -> StoreError {
    if error.kind() == std::io::ErrorKind::NotFound {
        StoreError::NotFound
    } else {
        StoreError::Failed(error.to_string())
    }
}
