//! The OCI image layout target (`oci-layout:PATH[:TAG]`): `PATH/oci-layout`, `PATH/index.json`
//! and `PATH/blobs/sha256/<hex>`, as the image-layout spec describes and ORAS reads. Tags are
//! `org.opencontainers.image.ref.name` annotations in `index.json`.
//!
//! Blobs are copied in streams (one 1 MiB buffer) and hashed as they are copied, both ways: a
//! blob whose bytes do not match its digest is never written into the layout or the package.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::blob::{Descriptor, Progress, Verifier, digest_of, sha256_hex};
use super::media_type::{ARTIFACT_TYPE, INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
use super::target::{OciTarget, Place};
use crate::error::{Error, Result};
use crate::output::user_file_mode;

const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_VERSION: &str = "{\"imageLayoutVersion\": \"1.0.0\"}";
const INDEX_FILE: &str = "index.json";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct ImageLayout {
    root: PathBuf,
}

impl ImageLayout {
    /// The layout at `root`; with `create` (for pushing) it is created when missing.
    pub fn open(root: &Path, create: bool) -> Result<ImageLayout> {
        let shown = root.display().to_string();
        if create {
            std::fs::create_dir_all(root.join("blobs/sha256"))
                .map_err(|e| Error::io("failed to create", &shown, e))?;
            let marker = root.join(LAYOUT_FILE);
            if !marker.exists() {
                write_atomically(&marker, LAYOUT_VERSION.as_bytes())?;
            }
        } else if !root.join(LAYOUT_FILE).is_file() {
            return Err(Error::NotImageLayout { path: shown });
        }
        Ok(ImageLayout {
            root: root.to_path_buf(),
        })
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.root.join("blobs/sha256").join(sha256_hex(digest)?))
    }

    fn index_error(&self, problem: String) -> Error {
        Error::BadLayoutIndex {
            path: self.root.join(INDEX_FILE).display().to_string(),
            problem,
        }
    }

    /// Store the manifest and tag it `reference` in `index.json` (replacing the tag's earlier
    /// manifest, keeping every other entry).
    fn store_manifest(&self, reference: &str, bytes: &[u8]) -> Result<()> {
        let digest = digest_of(bytes);
        write_atomically(&self.blob_path(&digest)?, bytes)?;
        // Writers of `index.json` take turns (two attaches at once must not lose an entry): an
        // advisory lock on the marker file, which is never replaced.
        let marker = self.root.join(LAYOUT_FILE);
        let held = File::open(&marker)
            .map_err(|e| Error::io("failed to open", marker.display().to_string(), e))?;
        held.lock()
            .map_err(|e| Error::io("failed to lock", marker.display().to_string(), e))?;
        let index_path = self.root.join(INDEX_FILE);
        let mut index = match std::fs::read(&index_path) {
            Ok(text) => serde_json::from_slice::<serde_json::Value>(&text)
                .map_err(|e| self.index_error(format!("is not valid JSON: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({
                "schemaVersion": 2,
                "mediaType": INDEX_MEDIA_TYPE,
                "manifests": [],
            }),
            Err(e) => {
                return Err(Error::io(
                    "failed to read",
                    index_path.display().to_string(),
                    e,
                ));
            }
        };
        let manifests = index
            .get_mut("manifests")
            .and_then(|m| m.as_array_mut())
            .ok_or_else(|| self.index_error("has no manifests list".into()))?;
        if reference.starts_with("sha256:") {
            if manifests
                .iter()
                .any(|m| m["digest"].as_str() == Some(&digest))
            {
                return Ok(());
            }
        } else {
            manifests.retain(|m| m["annotations"][REF_NAME].as_str() != Some(reference));
        }
        let document: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
        let mut entry = serde_json::json!({
            "mediaType": document["mediaType"].as_str().unwrap_or(MANIFEST_MEDIA_TYPE),
            "digest": digest,
            "size": bytes.len(),
            "artifactType": document["artifactType"].as_str().unwrap_or(ARTIFACT_TYPE),
        });
        if !reference.starts_with("sha256:") {
            entry["annotations"] = serde_json::json!({ REF_NAME: reference });
        }
        manifests.push(entry);
        let text = serde_json::to_vec(&index).expect("an index serialises");
        write_atomically(&index_path, &text)
    }

    /// The manifest tagged `reference` (or with that digest), checked against its digest.
    fn load_manifest(&self, reference: &str) -> Result<(Vec<u8>, Option<String>)> {
        let index_path = self.root.join(INDEX_FILE);
        let text = std::fs::read(&index_path)
            .map_err(|e| Error::io("failed to read", index_path.display().to_string(), e))?;
        let index: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| self.index_error(format!("is not valid JSON: {e}")))?;
        let entry = index["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .rev()
            .find(|m| {
                if reference.starts_with("sha256:") {
                    m["digest"].as_str() == Some(reference)
                } else {
                    m["annotations"][REF_NAME].as_str() == Some(reference)
                }
            })
            .ok_or_else(|| Error::ManifestNotFound {
                place: self.place(),
                reference: reference.to_string(),
            })?;
        let digest = entry["digest"].as_str().unwrap_or_default().to_string();
        let path = self.blob_path(&digest)?;
        let bytes = std::fs::read(&path)
            .map_err(|e| Error::io("failed to read", path.display().to_string(), e))?;
        if digest_of(&bytes) != digest {
            return Err(Error::ManifestDigestMismatch {
                place: self.place(),
                reference: reference.to_string(),
            });
        }
        Ok((bytes, entry["mediaType"].as_str().map(str::to_string)))
    }
}

impl ImageLayout {
    /// The manifests of the layout whose `subject` is `digest`, as an image index.
    fn scan_referrers(&self, digest: &str) -> Result<Vec<u8>> {
        let index_path = self.root.join(INDEX_FILE);
        let entries: Vec<serde_json::Value> = match std::fs::read(&index_path) {
            Ok(text) => serde_json::from_slice::<serde_json::Value>(&text)
                .map_err(|e| self.index_error(format!("is not valid JSON: {e}")))?["manifests"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(Error::io(
                    "failed to read",
                    index_path.display().to_string(),
                    e,
                ));
            }
        };
        let mut seen = std::collections::HashSet::new();
        let mut referrers = Vec::new();
        for entry in entries {
            let Some(entry_digest) = entry["digest"].as_str() else {
                continue;
            };
            if entry["mediaType"].as_str() != Some(MANIFEST_MEDIA_TYPE)
                || !seen.insert(entry_digest.to_string())
            {
                continue;
            }
            let path = self.blob_path(entry_digest)?;
            let bytes = std::fs::read(&path)
                .map_err(|e| Error::io("failed to read", path.display().to_string(), e))?;
            let Ok(manifest) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                continue;
            };
            if manifest["subject"]["digest"].as_str() != Some(digest) {
                continue;
            }
            let mut descriptor = serde_json::json!({
                "mediaType": MANIFEST_MEDIA_TYPE,
                "digest": entry_digest,
                "size": bytes.len(),
            });
            let artifact_type = manifest["artifactType"]
                .as_str()
                .or(manifest["config"]["mediaType"].as_str());
            if let Some(artifact_type) = artifact_type {
                descriptor["artifactType"] = artifact_type.into();
            }
            if let Some(annotations) = manifest.get("annotations") {
                descriptor["annotations"] = annotations.clone();
            }
            referrers.push(descriptor);
        }
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "manifests": referrers,
        });
        Ok(serde_json::to_vec(&index).expect("an index serialises"))
    }
}

/// Run blocking file work on tokio's blocking pool: blobs may be gigabytes.
async fn blocking(work: impl FnOnce() -> Result<()> + Send + 'static) -> Result<()> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(Error::Task)?
}

impl OciTarget for ImageLayout {
    fn place(&self) -> Place {
        Place::Layout {
            root: self.root.clone(),
        }
    }

    async fn has_blob(&self, descriptor: &Descriptor) -> Result<bool> {
        let path = self.blob_path(&descriptor.digest)?;
        Ok(std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == descriptor.size))
    }

    async fn push_blob(
        &self,
        descriptor: &Descriptor,
        from: &Path,
        progress: &Progress,
    ) -> Result<()> {
        let to = self.blob_path(&descriptor.digest)?;
        let (descriptor, from, progress) =
            (descriptor.clone(), from.to_path_buf(), progress.clone());
        blocking(move || copy_verified(&from, &to, &descriptor, &progress)).await
    }

    async fn push_blob_bytes(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<()> {
        write_atomically(&self.blob_path(&descriptor.digest)?, bytes)
    }

    async fn push_manifest(&self, reference: &str, bytes: &[u8]) -> Result<()> {
        self.store_manifest(reference, bytes)
    }

    async fn fetch_manifest(&self, reference: &str) -> Result<(Vec<u8>, Option<String>)> {
        self.load_manifest(reference)
    }

    async fn fetch_referrers(&self, digest: &str) -> Result<Option<Vec<u8>>> {
        self.scan_referrers(digest).map(Some)
    }

    async fn fetch_blob(
        &self,
        descriptor: &Descriptor,
        to: &Path,
        progress: &Progress,
    ) -> Result<()> {
        let from = self.blob_path(&descriptor.digest)?;
        let (descriptor, to, progress) = (descriptor.clone(), to.to_path_buf(), progress.clone());
        blocking(move || copy_verified(&from, &to, &descriptor, &progress)).await
    }
}

/// Copy `from` to `to` (via a temporary file next to it) while hashing; the copy only appears
/// when its size and digest are the descriptor's.
fn copy_verified(
    from: &Path,
    to: &Path,
    descriptor: &Descriptor,
    progress: &Progress,
) -> Result<()> {
    let shown = from.display().to_string();
    let mut source = File::open(from).map_err(|e| Error::io("failed to open", &shown, e))?;
    let dir = to.parent().unwrap_or(Path::new("."));
    let mut temp = crate::output::temp_file(dir, ".stacpkg-blob-", "", Some(user_file_mode()))
        .map_err(|e| Error::io("failed to create a file in", dir.display().to_string(), e))?;
    let mut verifier = Verifier::new(descriptor);
    let mut buffer = vec![0u8; 1024 * 1024];
    let result = (|| {
        loop {
            let n = match source.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("failed to read", &shown, e)),
            };
            verifier.update(&buffer[..n])?;
            temp.write_all(&buffer[..n])
                .map_err(|e| Error::io("failed to write", to.display().to_string(), e))?;
            progress.done.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(())
    })();
    let seen = verifier.seen();
    if let Err(e) = result.and_then(|()| verifier.finish()) {
        progress.done.fetch_sub(seen, Ordering::Relaxed);
        return Err(e);
    }
    temp.persist(to)
        .map_err(|e| Error::io("failed to write", to.display().to_string(), e.error))?;
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = crate::output::temp_file(dir, ".stacpkg-", ".tmp", Some(user_file_mode()))
        .map_err(|e| Error::io("failed to create a file in", dir.display().to_string(), e))?;
    temp.write_all(bytes)
        .map_err(|e| Error::io("failed to write", path.display().to_string(), e))?;
    temp.persist(path)
        .map_err(|e| Error::io("failed to write", path.display().to_string(), e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::media_type::MANIFEST_MEDIA_TYPE;

    fn run<T>(work: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(work)
    }

    #[test]
    fn tags_point_at_their_latest_manifest_and_digests_at_theirs() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            ImageLayout::open(dir.path(), false),
            Err(Error::NotImageLayout { .. })
        ));
        let layout = ImageLayout::open(dir.path(), true).unwrap();
        let (one, two) = (br#"{"one": 1}"#, br#"{"two": 2}"#);
        run(layout.push_manifest("v1", one)).unwrap();
        run(layout.push_manifest("v1", two)).unwrap();
        let (bytes, media_type) = run(layout.fetch_manifest("v1")).unwrap();
        assert_eq!(bytes, two);
        assert_eq!(media_type.as_deref(), Some(MANIFEST_MEDIA_TYPE));
        let (bytes, _) = run(layout.fetch_manifest(&digest_of(two))).unwrap();
        assert_eq!(bytes, two);
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(INDEX_FILE)).unwrap()).unwrap();
        assert_eq!(index["manifests"].as_array().unwrap().len(), 1, "{index}");
        assert!(matches!(
            run(layout.fetch_manifest("v2")),
            Err(Error::ManifestNotFound { .. })
        ));
    }

    #[test]
    fn blobs_are_checked_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ImageLayout::open(&dir.path().join("oci"), true).unwrap();
        let file = dir.path().join("blob");
        std::fs::write(&file, b"blob bytes").unwrap();
        let good = Descriptor::of_bytes("x", b"blob bytes", Some("blob"));
        let wrong = Descriptor::of_bytes("x", b"other bytes", Some("blob"));
        let progress = Progress::default();
        assert!(matches!(
            run(layout.push_blob(&wrong, &file, &progress)),
            Err(Error::DigestMismatch { .. }) | Err(Error::BlobTooLarge { .. })
        ));
        assert!(!run(layout.has_blob(&wrong)).unwrap());
        run(layout.push_blob(&good, &file, &progress)).unwrap();
        assert!(run(layout.has_blob(&good)).unwrap());
        // Tampered in the layout: the fetch fails and writes nothing.
        std::fs::write(layout.blob_path(&good.digest).unwrap(), b"blob bytez").unwrap();
        let out = dir.path().join("out");
        assert!(run(layout.fetch_blob(&good, &out, &progress)).is_err());
        assert!(!out.exists());
    }
}
