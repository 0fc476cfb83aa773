//! Content-addressed blobs: descriptors, `sha256:` digests, the streaming check every moved
//! blob passes, and the shared progress counters of a transfer.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Deserialize;

use super::media_type::{EMPTY_BLOB, EMPTY_DIGEST, EMPTY_MEDIA_TYPE, TITLE_ANNOTATION};
use crate::error::{Error, Result};
use crate::pyjson;

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// The title annotation (the only one stacpkg writes or reads).
    #[serde(default, deserialize_with = "title_of")]
    #[serde(rename = "annotations")]
    pub title: Option<String>,
}

fn title_of<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let annotations: Option<std::collections::HashMap<String, String>> = Option::deserialize(d)?;
    Ok(annotations.and_then(|mut a| a.remove(TITLE_ANNOTATION)))
}

impl Descriptor {
    /// The descriptor of the empty config.
    pub fn empty_config() -> Self {
        Descriptor {
            media_type: EMPTY_MEDIA_TYPE.into(),
            digest: EMPTY_DIGEST.into(),
            size: EMPTY_BLOB.len() as u64,
            title: None,
        }
    }

    /// The descriptor of bytes held in memory.
    pub fn of_bytes(media_type: &str, bytes: &[u8], title: Option<&str>) -> Self {
        Descriptor {
            media_type: media_type.into(),
            digest: digest_of(bytes),
            size: bytes.len() as u64,
            title: title.map(str::to_string),
        }
    }

    /// The hex part of a `sha256:` digest (an error for other algorithms or malformed digests,
    /// which also keeps digests safe to use as file names).
    pub fn sha256_hex(&self) -> Result<&str> {
        sha256_hex(&self.digest)
    }

    /// The blob's name in messages: its title, else its digest.
    pub fn name(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.digest)
    }

    pub(crate) fn json(&self, out: &mut String) {
        out.push_str("{\"mediaType\": ");
        pyjson::string(&self.media_type, out);
        out.push_str(", \"digest\": ");
        pyjson::string(&self.digest, out);
        let _ = write!(out, ", \"size\": {}", self.size);
        if let Some(title) = &self.title {
            out.push_str(", \"annotations\": {");
            pyjson::string(TITLE_ANNOTATION, out);
            out.push_str(": ");
            pyjson::string(title, out);
            out.push('}');
        }
        out.push('}');
    }
}

/// The hex of a `sha256:<64 lowercase hex>` digest.
pub fn sha256_hex(digest: &str) -> Result<&str> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| Error::BadDigest {
            digest: digest.to_string(),
            unsupported: true,
        })?;
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(Error::BadDigest {
            digest: digest.to_string(),
            unsupported: false,
        });
    }
    Ok(hex)
}

/// `sha256:<hex>` of bytes in memory.
pub fn digest_of(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        crate::package::hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
    )
}

/// Checks bytes against a descriptor as they stream: more bytes than the descriptor's size fail
/// at once, the digest and exact size when [`finish`](Self::finish)ed.
pub(crate) struct Verifier<'a> {
    descriptor: &'a Descriptor,
    context: ring::digest::Context,
    seen: u64,
}

impl<'a> Verifier<'a> {
    pub(crate) fn new(descriptor: &'a Descriptor) -> Self {
        Verifier {
            descriptor,
            context: ring::digest::Context::new(&ring::digest::SHA256),
            seen: 0,
        }
    }

    /// Take the next bytes.
    pub(crate) fn update(&mut self, bytes: &[u8]) -> Result<()> {
        self.seen += bytes.len() as u64;
        if self.seen > self.descriptor.size {
            return Err(Error::BlobTooLarge {
                what: self.descriptor.name().to_string(),
                size: self.descriptor.size,
            });
        }
        self.context.update(bytes);
        Ok(())
    }

    /// Bytes taken so far.
    /// The size the blob must have.
    pub(crate) fn size(&self) -> u64 {
        self.descriptor.size
    }

    pub(crate) fn seen(&self) -> u64 {
        self.seen
    }

    /// Check the size and digest of everything taken.
    pub(crate) fn finish(self) -> Result<()> {
        let digest = format!(
            "sha256:{}",
            crate::package::hex(self.context.finish().as_ref())
        );
        if self.seen != self.descriptor.size || digest != self.descriptor.digest {
            return Err(Error::DigestMismatch {
                what: self.descriptor.name().to_string(),
                expected: self.descriptor.digest.clone(),
                expected_size: self.descriptor.size,
                actual: digest,
                actual_size: self.seen,
            });
        }
        Ok(())
    }
}

/// Bytes moved so far and in total, for progress bars, and a way to stop the transfer (shared
/// with the caller).
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Bytes of all blobs to move (known once the layers are).
    pub total: Arc<AtomicU64>,
    /// Bytes moved or found present.
    pub done: Arc<AtomicU64>,
    cancel: Arc<Cancel>,
}

#[derive(Debug, Default)]
struct Cancel {
    requested: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Progress {
    /// Stop the push or pull this progress belongs to, from any thread: the blobs in flight are
    /// dropped and the call returns [`Error::Cancelled`]. A pull keeps what it fetched for the
    /// next run, as when the source went away; a push's chunked uploads resume.
    pub fn cancel(&self) {
        self.cancel.requested.store(true, Ordering::SeqCst);
        self.cancel.notify.notify_waiters();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.requested.load(Ordering::SeqCst)
    }

    /// `work`, unless the transfer is cancelled first.
    pub(crate) async fn unless_cancelled<T>(
        &self,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let cancelled = async {
            loop {
                // Registered before the flag is read, so a cancel in between is not missed.
                let notified = self.cancel.notify.notified();
                let mut notified = std::pin::pin!(notified);
                notified.as_mut().enable();
                if self.is_cancelled() {
                    return;
                }
                notified.await;
            }
        };
        let work = std::pin::pin!(work);
        let cancelled = std::pin::pin!(cancelled);
        match futures::future::select(work, cancelled).await {
            futures::future::Either::Left((result, _)) => result,
            futures::future::Either::Right(((), _)) => Err(Error::Cancelled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_from_another_thread_ends_a_transfer_that_would_never_finish() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let progress = Progress::default();
        let canceller = progress.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            canceller.cancel();
        });
        let stalled = futures::future::pending::<Result<()>>();
        let result = runtime.block_on(progress.unless_cancelled(stalled));
        thread.join().unwrap();
        assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
        assert!(progress.is_cancelled());
        // Work that ends first wins; a cancel before the start stops it at once.
        let fresh = Progress::default();
        assert_eq!(
            runtime
                .block_on(fresh.unless_cancelled(async { Ok(7) }))
                .unwrap(),
            7
        );
        fresh.cancel();
        let result =
            runtime.block_on(fresh.unless_cancelled(futures::future::pending::<Result<()>>()));
        assert!(matches!(result, Err(Error::Cancelled)));
    }

    #[test]
    fn the_empty_config_digest_is_the_digest_of_its_blob() {
        assert_eq!(digest_of(EMPTY_BLOB), EMPTY_DIGEST);
    }

    #[test]
    fn only_well_formed_sha256_digests_are_accepted() {
        assert!(sha256_hex(EMPTY_DIGEST).is_ok());
        assert_eq!(
            sha256_hex("sha512:00").unwrap_err().to_string(),
            "unsupported digest `sha512:00` (only sha256 is supported)"
        );
        assert_eq!(
            sha256_hex("sha256:../../etc/passwd")
                .unwrap_err()
                .to_string(),
            "malformed digest `sha256:../../etc/passwd`"
        );
        assert!(sha256_hex(&format!("sha256:{}", "A".repeat(64))).is_err());
    }

    #[test]
    fn blobs_are_checked_for_size_and_digest_as_they_stream() {
        let descriptor = Descriptor::of_bytes("x", b"hello", Some("h.txt"));
        let mut verifier = Verifier::new(&descriptor);
        verifier.update(b"hel").unwrap();
        verifier.update(b"lo").unwrap();
        verifier.finish().unwrap();
        let mut verifier = Verifier::new(&descriptor);
        assert!(matches!(
            verifier.update(b"hello!"),
            Err(Error::BlobTooLarge { .. })
        ));
        let mut verifier = Verifier::new(&descriptor);
        verifier.update(b"jello").unwrap();
        assert!(
            verifier
                .finish()
                .unwrap_err()
                .to_string()
                .starts_with("`h.txt` does not match its digest")
        );
    }
}
