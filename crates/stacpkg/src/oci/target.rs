//! The one interface every OCI target implements — a registry ([`Registry`](super::Registry)),
//! an OCI image layout ([`ImageLayout`](super::ImageLayout)), memory ([`MemoryTarget`]) — so
//! that push and pull are written once, and a new target is one more implementation.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use super::blob::{Descriptor, Progress, Verifier, digest_of};
use super::media_type::MANIFEST_MEDIA_TYPE;
use crate::error::{Error, Result};

/// Where a target is, for messages and for naming its artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Place {
    /// A repository on a registry.
    Registry {
        /// The registry as the user named it (`docker.io`, `127.0.0.1:5000`).
        registry: String,
        /// The host connected to.
        host: String,
        /// The repository.
        repository: String,
    },
    /// An OCI image layout directory.
    Layout {
        /// The directory.
        root: PathBuf,
    },
    /// A target in memory.
    Memory,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Registry { host, .. } => write!(f, "registry {host}"),
            Place::Layout { root } => write!(f, "the OCI layout `{}`", root.display()),
            Place::Memory => f.write_str("the memory target"),
        }
    }
}

impl Place {
    /// The artifact at `reference` here, as the user would write it (`HOST/REPO:TAG`,
    /// `oci-layout:PATH:TAG`).
    pub fn artifact(&self, reference: &str) -> String {
        let sep = if reference.contains(':') { '@' } else { ':' };
        match self {
            Place::Registry {
                registry,
                repository,
                ..
            } => format!("{registry}/{repository}{sep}{reference}"),
            Place::Layout { root } => format!("oci-layout:{}{sep}{reference}", root.display()),
            Place::Memory => format!("memory{sep}{reference}"),
        }
    }

    /// ` in `REPO`` for registries (after "has no manifest `TAG`").
    pub(crate) fn repository_suffix(&self) -> String {
        match self {
            Place::Registry { repository, .. } => format!(" in `{repository}`"),
            _ => String::new(),
        }
    }

    /// The message for a manifest whose bytes are not those of the digest it was asked by.
    pub(crate) fn manifest_mismatch(&self, reference: &str) -> String {
        match self {
            Place::Registry { host, .. } => {
                format!("registry {host}: the manifest does not match its digest `{reference}`")
            }
            Place::Layout { root } => format!(
                "the manifest `{reference}` in `{}` does not match its digest",
                root.display()
            ),
            Place::Memory => format!("the manifest `{reference}` does not match its digest"),
        }
    }
}

/// What push and pull need of a target. Blobs travel between files and the target; every
/// implementation checks each blob against its descriptor (size and digest) as it moves, and
/// never keeps a blob that does not match.
pub trait OciTarget: Send + Sync {
    /// Where the target is (messages, artifact names).
    fn place(&self) -> Place;

    /// Whether the target holds the blob.
    fn has_blob(&self, descriptor: &Descriptor) -> impl Future<Output = Result<bool>> + Send;

    /// Store the file `from` as the blob `descriptor`, counting its bytes into `progress`.
    fn push_blob(
        &self,
        descriptor: &Descriptor,
        from: &Path,
        progress: &Progress,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Store a small blob held in memory.
    fn push_blob_bytes(
        &self,
        descriptor: &Descriptor,
        bytes: &[u8],
    ) -> impl Future<Output = Result<()>> + Send;

    /// Store `bytes` as the manifest at `reference` (a tag, or its digest).
    fn push_manifest(
        &self,
        reference: &str,
        bytes: &[u8],
    ) -> impl Future<Output = Result<()>> + Send;

    /// The manifest at `reference` (a tag or a digest, checked against it) and its media type
    /// when the target says.
    fn fetch_manifest(
        &self,
        reference: &str,
    ) -> impl Future<Output = Result<(Vec<u8>, Option<String>)>> + Send;

    /// The referrers of the manifest `digest` as an image index, when the target can list them
    /// (the OCI 1.1 referrers API of a registry, a scan of a layout); `None` when it cannot, and
    /// the referrers tag schema (`sha256-<hex>`) is used instead.
    fn fetch_referrers(
        &self,
        digest: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send {
        let _ = digest;
        async { Ok(None) }
    }

    /// Make the blob `descriptor` of `from` (another repository of the same registry) this
    /// target's without moving its bytes; `false` when the target cannot.
    fn mount_blob(
        &self,
        descriptor: &Descriptor,
        from: &Place,
    ) -> impl Future<Output = Result<bool>> + Send {
        let _ = (descriptor, from);
        async { Ok(false) }
    }

    /// Write the blob `descriptor` into the file `to`, checking it as it streams and counting
    /// its bytes into `progress`.
    fn fetch_blob(
        &self,
        descriptor: &Descriptor,
        to: &Path,
        progress: &Progress,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// A target in memory: blobs and tagged manifests in maps. For tests and programs that move
/// packages between their own parts; memory grows with what is pushed.
#[derive(Debug, Default)]
pub struct MemoryTarget {
    blobs: Mutex<HashMap<String, Vec<u8>>>,
    tags: Mutex<HashMap<String, String>>,
}

impl MemoryTarget {
    /// An empty target.
    pub fn new() -> Self {
        MemoryTarget::default()
    }

    /// The digests of the blobs held (manifests included), sorted.
    pub fn digests(&self) -> Vec<String> {
        let mut digests: Vec<String> = self.blobs().keys().cloned().collect();
        digests.sort();
        digests
    }

    /// Replace a blob's bytes without any check (tests of tampering).
    pub fn corrupt(&self, digest: &str, bytes: Vec<u8>) {
        self.blobs().insert(digest.to_string(), bytes);
    }

    fn blobs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        self.blobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn keep(&self, descriptor: &Descriptor, bytes: Vec<u8>) -> Result<()> {
        let mut verifier = Verifier::new(descriptor);
        verifier.update(&bytes)?;
        verifier.finish()?;
        self.blobs().insert(descriptor.digest.clone(), bytes);
        Ok(())
    }
}

impl OciTarget for MemoryTarget {
    fn place(&self) -> Place {
        Place::Memory
    }

    async fn has_blob(&self, descriptor: &Descriptor) -> Result<bool> {
        Ok(self
            .blobs()
            .get(&descriptor.digest)
            .is_some_and(|b| b.len() as u64 == descriptor.size))
    }

    async fn push_blob(
        &self,
        descriptor: &Descriptor,
        from: &Path,
        progress: &Progress,
    ) -> Result<()> {
        let bytes = std::fs::read(from)
            .map_err(|e| Error::io("failed to read", from.display().to_string(), e))?;
        let size = bytes.len() as u64;
        self.keep(descriptor, bytes)?;
        progress.done.fetch_add(size, Ordering::Relaxed);
        Ok(())
    }

    async fn push_blob_bytes(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<()> {
        self.keep(descriptor, bytes.to_vec())
    }

    async fn push_manifest(&self, reference: &str, bytes: &[u8]) -> Result<()> {
        let descriptor = Descriptor::of_bytes(MANIFEST_MEDIA_TYPE, bytes, None);
        self.keep(&descriptor, bytes.to_vec())?;
        if !reference.starts_with("sha256:") {
            self.tags
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(reference.to_string(), descriptor.digest);
        }
        Ok(())
    }

    async fn fetch_manifest(&self, reference: &str) -> Result<(Vec<u8>, Option<String>)> {
        let digest = if reference.starts_with("sha256:") {
            Some(reference.to_string())
        } else {
            self.tags
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(reference)
                .cloned()
        };
        let not_found = || Error::ManifestNotFound {
            place: Place::Memory,
            reference: reference.to_string(),
        };
        let digest = digest.ok_or_else(not_found)?;
        let bytes = self.blobs().get(&digest).cloned().ok_or_else(not_found)?;
        if digest_of(&bytes) != digest {
            return Err(Error::ManifestDigestMismatch {
                place: Place::Memory,
                reference: reference.to_string(),
            });
        }
        Ok((bytes, Some(MANIFEST_MEDIA_TYPE.to_string())))
    }

    async fn fetch_blob(
        &self,
        descriptor: &Descriptor,
        to: &Path,
        progress: &Progress,
    ) -> Result<()> {
        let bytes = self
            .blobs()
            .get(&descriptor.digest)
            .cloned()
            .ok_or_else(|| Error::BlobMissing {
                what: descriptor.name().to_string(),
                place: Place::Memory,
            })?;
        let mut verifier = Verifier::new(descriptor);
        verifier.update(&bytes)?;
        verifier.finish()?;
        std::fs::write(to, &bytes)
            .map_err(|e| Error::io("failed to write", to.display().to_string(), e))?;
        progress
            .done
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}
