//! Resumable uploads of large blobs (OCI distribution: chunked upload). The blob goes up in
//! `PATCH` requests with `Content-Range` (at least the registry's `OCI-Chunk-Min-Length` each);
//! after every accepted chunk the upload's location is kept in a small state file, so a push
//! that was killed resumes from the offset the registry reports (`GET` on the location) instead
//! of from the start. A registry that refuses chunks gets the blob in one `PUT`.
//!
//! The state file holds the registry host, repository, digest, size and upload location — the
//! location's query is the registry's own session state (docker-registry signs it), never a
//! credential or token of the user's; it is written with the user's permissions only. A state
//! file that is unreadable, names another upload, or whose upload the registry has forgotten is
//! ignored (and removed) with a note.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION, RANGE};
use serde::{Deserialize, Serialize};

use super::Registry;
use crate::error::{Error, Result};
use crate::oci::blob::{Descriptor, Progress};

/// Blobs larger than this are uploaded in chunks by default.
pub const DEFAULT_CHUNK_THRESHOLD: u64 = 64 * 1024 * 1024;
/// Bytes per chunk by default.
pub const DEFAULT_CHUNK_SIZE: u64 = 32 * 1024 * 1024;
/// Bytes read from the file per body piece (memory per chunk in flight).
const READ_BYTES: usize = 256 * 1024;

/// How large blobs are uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedUploads {
    /// Blobs larger than this go up in chunks (`u64::MAX`: never).
    pub threshold: u64,
    /// Bytes per chunk (raised to the registry's `OCI-Chunk-Min-Length`).
    pub chunk_size: u64,
    /// Where upload state files are kept, so that a re-run resumes (`None`: no resuming).
    pub state_dir: Option<PathBuf>,
}

impl Default for ChunkedUploads {
    fn default() -> Self {
        ChunkedUploads {
            threshold: DEFAULT_CHUNK_THRESHOLD,
            chunk_size: DEFAULT_CHUNK_SIZE,
            state_dir: None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct State {
    registry: String,
    repository: String,
    digest: String,
    size: u64,
    location: String,
    /// Bytes the registry had accepted when the state was written (the registry's own answer
    /// is what a resume trusts).
    #[serde(default)]
    accepted: u64,
}

/// Why a chunked upload did not finish.
pub(super) enum Outcome {
    Done,
    /// The registry refused chunks: upload the blob in one request.
    Monolithic,
}

impl Registry {
    fn state_path(&self, descriptor: &Descriptor) -> Option<PathBuf> {
        let dir = self.uploads.state_dir.as_ref()?;
        let key = crate::oci::blob::digest_of(
            format!("{}\n{}\n{}", self.host, self.repository, descriptor.digest).as_bytes(),
        );
        Some(dir.join(format!("stacpkg-upload-{}.json", &key[7..39])))
    }

    pub(super) fn note(&self, text: String) {
        self.notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(text);
    }

    /// The upload to continue from a state file, when there is one the registry still knows:
    /// its location and the bytes it has.
    async fn resumable(&self, descriptor: &Descriptor, path: &Path) -> Option<(String, u64)> {
        let text = std::fs::read(path).ok()?;
        let forget = |why: &str| {
            let _ = std::fs::remove_file(path);
            self.note(format!(
                "ignored the upload state `{}`: {why}",
                path.display()
            ));
        };
        let state: State = match serde_json::from_slice(&text) {
            Ok(state) => state,
            Err(_) => {
                forget("it is not an upload state");
                return None;
            }
        };
        // The location must be this registry's: a state file planted in a shared temporary
        // directory must not send this registry's credentials anywhere else.
        let on_registry = state
            .location
            .strip_prefix(self.base.as_str())
            .is_some_and(|rest| rest.starts_with('/'));
        if state.registry != self.host
            || state.repository != self.repository
            || state.digest != descriptor.digest
            || state.size != descriptor.size
            || !on_registry
        {
            forget("it is for another upload");
            return None;
        }
        match self.upload_status(&state.location).await {
            Ok(Some((location, offset))) if offset > 0 && offset <= descriptor.size => {
                Some((location, offset))
            }
            _ => {
                forget("the registry no longer has that upload");
                None
            }
        }
    }

    /// Where an upload stands: its (new) location and the bytes the registry has; `None` when
    /// the registry does not know it.
    async fn upload_status(&self, location: &str) -> Result<Option<(String, u64)>> {
        let response = self
            .send("checking an upload", || Ok(self.client.get(location)))
            .await?;
        if !response.status().is_success() {
            return Ok(None);
        }
        let location = self
            .location_of(&response)
            .unwrap_or_else(|| location.to_string());
        // `Range: 0-LAST`; an upload with no bytes says `0-0`, so one byte is not told from
        // none — states are only written after a whole chunk.
        let offset = response
            .headers()
            .get(RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once('-'))
            .and_then(|(_, last)| last.parse::<u64>().ok())
            .map_or(0, |last| if last == 0 { 0 } else { last + 1 });
        Ok(Some((location, offset)))
    }

    pub(super) fn location_of(&self, response: &reqwest::Response) -> Option<String> {
        let location = response.headers().get(LOCATION)?.to_str().ok()?;
        Some(if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_string()
        })
    }

    fn save_state(
        &self,
        path: &Path,
        descriptor: &Descriptor,
        location: &str,
        accepted: u64,
    ) -> Result<()> {
        let state = State {
            registry: self.host.clone(),
            repository: self.repository.clone(),
            digest: descriptor.digest.clone(),
            size: descriptor.size,
            location: location.to_string(),
            accepted,
        };
        let bytes = serde_json::to_vec(&state).expect("a state serialises");
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut temp = tempfile::Builder::new()
            .prefix(".stacpkg-upload-")
            .tempfile_in(dir)
            .map_err(|e| Error::io("failed to write", path.display().to_string(), e))?;
        std::io::Write::write_all(&mut temp, &bytes)
            .map_err(|e| Error::io("failed to write", path.display().to_string(), e))?;
        temp.persist(path)
            .map_err(|e| Error::io("failed to write", path.display().to_string(), e.error))?;
        Ok(())
    }

    /// Upload `from` as `descriptor` in chunks, resuming a recorded upload.
    pub(super) async fn upload_chunked(
        &self,
        descriptor: &Descriptor,
        from: &Path,
        progress: &Progress,
    ) -> Result<Outcome> {
        let state_path = self.state_path(descriptor);
        let resumed = match &state_path {
            Some(path) if path.exists() => self.resumable(descriptor, path).await,
            _ => None,
        };
        let (mut location, mut offset, min_chunk) = match resumed {
            Some((location, offset)) => {
                self.note(format!(
                    "resumed the upload of `{}` at {offset} of {} bytes",
                    descriptor.name(),
                    descriptor.size
                ));
                (location, offset, 0)
            }
            None => {
                let (location, min) = self.open_upload().await?;
                (location, 0, min)
            }
        };
        let first = offset;
        progress.done.fetch_add(offset, Ordering::Relaxed);
        let chunk = self.uploads.chunk_size.max(min_chunk).max(1);
        let shown = from.display().to_string();
        while offset < descriptor.size {
            let end = (offset + chunk).min(descriptor.size);
            let len = end - offset;
            let url = location.clone();
            let response = self
                .send("uploading a chunk", || {
                    let mut file = std::fs::File::open(from)
                        .map_err(|e| Error::io("failed to open", &shown, e))?;
                    file.seek(SeekFrom::Start(offset))
                        .map_err(|e| Error::io("failed to read", &shown, e))?;
                    Ok(self
                        .client
                        .patch(&url)
                        .header(CONTENT_TYPE, "application/octet-stream")
                        .header("Content-Range", format!("{offset}-{}", end - 1))
                        .header(CONTENT_LENGTH, len)
                        .body(reqwest::Body::wrap_stream(file_stream(file, len))))
                })
                .await?;
            let status = response.status();
            if offset == first
                && first == 0
                && matches!(
                    status,
                    StatusCode::RANGE_NOT_SATISFIABLE
                        | StatusCode::BAD_REQUEST
                        | StatusCode::METHOD_NOT_ALLOWED
                        | StatusCode::NOT_IMPLEMENTED
                )
            {
                return Ok(Outcome::Monolithic);
            }
            let response = self.successful("uploading a chunk", response).await?;
            location = self.location_of(&response).unwrap_or(location);
            offset = end;
            progress.done.fetch_add(len, Ordering::Relaxed);
            if let Some(path) = &state_path {
                self.save_state(path, descriptor, &location, offset)?;
            }
        }
        let url = super::put_url(&location, &descriptor.digest);
        let response = self
            .send("finishing an upload", || {
                Ok(self.client.put(&url).header(CONTENT_LENGTH, 0))
            })
            .await?;
        self.successful("finishing an upload", response).await?;
        if let Some(path) = &state_path {
            let _ = std::fs::remove_file(path);
        }
        Ok(Outcome::Done)
    }

    /// Open an upload session: its location and the registry's minimum chunk length.
    pub(super) async fn open_upload(&self) -> Result<(String, u64)> {
        let url = self.url("blobs/uploads/");
        let response = self
            .send("starting an upload", || {
                Ok(self.client.post(&url).header(CONTENT_LENGTH, 0))
            })
            .await?;
        let response = self.successful("starting an upload", response).await?;
        let min = response
            .headers()
            .get("OCI-Chunk-Min-Length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let location = self
            .location_of(&response)
            .ok_or_else(|| Error::RegistryProtocol {
                host: self.host.clone(),
                problem: "started an upload without a Location",
            })?;
        Ok((location, min))
    }
}

/// `len` bytes of `file` from its position, as a body stream of [`READ_BYTES`] pieces.
fn file_stream(
    file: std::fs::File,
    len: u64,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    let reader = file.take(len);
    futures::stream::unfold(Some(reader), |reader| async move {
        let mut reader = reader?;
        // Blocking reads of a local file, 256 KiB at a time, as the upload consumes them.
        let result = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; READ_BYTES];
            let n = reader.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((buf, reader))
        })
        .await
        .map_err(std::io::Error::other);
        match result {
            Ok(Ok((buf, _))) if buf.is_empty() => None,
            Ok(Ok((buf, reader))) => Some((Ok(bytes::Bytes::from(buf)), Some(reader))),
            Ok(Err(e)) | Err(e) => Some((Err(e), None)),
        }
    })
}
