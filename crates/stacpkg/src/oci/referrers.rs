//! Referrers (OCI image and distribution 1.1): artifacts — signatures, validation reports — that
//! point at a package's manifest through their `subject`, attached and discovered as
//! `oras attach` / `oras discover` do.
//!
//! A registry that answers `GET /v2/<name>/referrers/<digest>` with an image index lists them
//! itself. Otherwise (Debian's docker-registry 2.8, the distribution reference registry) the
//! spec's referrers tag schema is used: the tag `sha256-<hex of the subject digest>` holds an
//! image index of the referrers, which [`attach`] updates. The registry has no compare-and-swap,
//! so an update is read, merged, written, and read back after a short random pause; when
//! another attach raced and its write dropped ours, ours is merged in again (up to
//! [`FALLBACK_ATTEMPTS`] times). An OCI image layout lists referrers by scanning the manifests
//! of its `index.json`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::blob::{Descriptor, Progress, digest_of};
use super::layout::ImageLayout;
use super::manifest::artifact_manifest_json;
use super::media_type::{EMPTY_BLOB, INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
use super::reference::ArtifactRef;
use super::registry::{Registry, RegistryOptions};
use super::target::OciTarget;
use crate::error::{Error, Result};
use crate::runtime::{Runtime, Threads};

/// The media type of a file attached without one (as `oras attach` types files).
pub const DEFAULT_FILE_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

/// Times an attach merges its entry into a fallback tag's index before it gives up.
pub const FALLBACK_ATTEMPTS: usize = 8;

/// A file to attach and its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachFile {
    /// The file (its name becomes the layer's title).
    pub path: PathBuf,
    /// The layer's media type.
    pub media_type: String,
}

impl std::str::FromStr for AttachFile {
    type Err = String;

    /// `FILE[:MEDIATYPE]`: the part after the last `:` is a media type when it has a `/`.
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let (path, media_type) = match text.rsplit_once(':') {
            Some((path, media_type)) if media_type.contains('/') && !path.is_empty() => {
                (path, media_type)
            }
            _ => (text, DEFAULT_FILE_MEDIA_TYPE),
        };
        if path.is_empty() {
            return Err("no file given".into());
        }
        Ok(AttachFile {
            path: PathBuf::from(path),
            media_type: media_type.to_string(),
        })
    }
}

/// How to attach.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// How to reach a registry (ignored for layouts).
    pub registry: RegistryOptions,
    /// Where the transfer runs.
    pub runtime: Runtime,
    /// The artifact's `artifactType` (required, like `oras attach --artifact-type`).
    pub artifact_type: String,
    /// The manifest's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// How the referrers of a subject are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ReferrersVia {
    /// The registry's referrers API.
    Api,
    /// The referrers tag schema (`sha256-<hex>`).
    FallbackTag,
    /// A scan of an OCI image layout.
    Layout,
}

/// What an attach did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachReport {
    /// The attached artifact's manifest digest.
    pub digest: String,
    /// The subject's manifest digest.
    pub subject: String,
    /// How its referrers are listed.
    pub via: ReferrersVia,
    /// What the registry said that the caller should be told (a resumed or an ignored upload,
    /// a refused chunked upload).
    pub notes: Vec<String>,
}

/// One referrer of a subject: the descriptor of its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Referrer {
    /// The referrer's manifest digest.
    pub digest: String,
    /// The manifest's media type.
    pub media_type: String,
    /// The artifact type, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifest's size in bytes.
    pub size: u64,
    /// The manifest's annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// Attach `files` to the manifest `subject` (a registry reference or an OCI image layout, by
/// tag or digest).
pub fn attach(
    subject: &ArtifactRef,
    files: &[AttachFile],
    options: &AttachOptions,
) -> Result<AttachReport> {
    match subject {
        ArtifactRef::Registry(reference) => {
            let registry = Registry::new(reference, &options.registry, true)?;
            let mut report = attach_to(&registry, &reference.reference, files, options)?;
            report.notes = registry.take_notes();
            Ok(report)
        }
        ArtifactRef::Layout { path, reference } => {
            let layout = ImageLayout::open(path, false)?;
            attach_to(&layout, reference, files, options)
        }
    }
}

/// Attach `files` to the manifest at `subject` (a tag or digest) in `target`.
pub fn attach_to(
    target: &impl OciTarget,
    subject: &str,
    files: &[AttachFile],
    options: &AttachOptions,
) -> Result<AttachReport> {
    let layers = file_layers(files)?;
    options.runtime.block_on(Threads::All, async {
        let subject = subject_descriptor(target, subject).await?;
        let progress = Progress::default();
        for (layer, path) in &layers {
            if !target.has_blob(layer).await? {
                target.push_blob(layer, path, &progress).await?;
            }
        }
        let config = Descriptor::empty_config();
        if !target.has_blob(&config).await? {
            target.push_blob_bytes(&config, EMPTY_BLOB).await?;
        }
        let descriptors: Vec<Descriptor> = layers.iter().map(|(d, _)| d.clone()).collect();
        let manifest = artifact_manifest_json(
            &options.artifact_type,
            &descriptors,
            Some(&subject),
            &options.annotations,
        );
        let digest = digest_of(&manifest);
        target.push_manifest(&digest, &manifest).await?;
        let referrer = Referrer {
            digest: digest.clone(),
            media_type: MANIFEST_MEDIA_TYPE.into(),
            artifact_type: Some(options.artifact_type.clone()),
            size: manifest.len() as u64,
            annotations: options.annotations.clone(),
        };
        let via = register(target, &subject.digest, &referrer).await?;
        Ok(AttachReport {
            digest,
            subject: subject.digest,
            via,
            notes: Vec::new(),
        })
    })?
}

/// The referrers of the manifest `subject` (a registry reference or an OCI image layout, by tag
/// or digest), only those of `artifact_type` when given. A subject nobody attached to has none.
pub fn discover(
    subject: &ArtifactRef,
    artifact_type: Option<&str>,
    registry: &RegistryOptions,
    runtime: &Runtime,
) -> Result<(Vec<Referrer>, ReferrersVia)> {
    match subject {
        ArtifactRef::Registry(reference) => {
            let target = Registry::new(reference, registry, false)?;
            discover_in(&target, &reference.reference, artifact_type, runtime)
        }
        ArtifactRef::Layout { path, reference } => {
            let layout = ImageLayout::open(path, false)?;
            discover_in(&layout, reference, artifact_type, runtime)
        }
    }
}

/// The referrers of the manifest at `subject` (a tag or digest) in `target`.
pub fn discover_in(
    target: &impl OciTarget,
    subject: &str,
    artifact_type: Option<&str>,
    runtime: &Runtime,
) -> Result<(Vec<Referrer>, ReferrersVia)> {
    runtime.block_on(Threads::All, async {
        let subject = subject_descriptor(target, subject).await?;
        let (mut referrers, via) = list_referrers(target, &subject.digest).await?;
        if let Some(wanted) = artifact_type {
            referrers.retain(|r| r.artifact_type.as_deref() == Some(wanted));
        }
        Ok((referrers, via))
    })?
}

/// The referrers of the manifest `digest` in `target`: its own listing, else the fallback tag.
pub(super) async fn list_referrers(
    target: &impl OciTarget,
    digest: &str,
) -> Result<(Vec<Referrer>, ReferrersVia)> {
    let (index, via, what) = match target.fetch_referrers(digest).await? {
        Some(index) => (
            Some(index),
            own_listing(target),
            format!("the referrers of `{digest}`"),
        ),
        None => {
            let tag = fallback_tag(digest);
            let what = format!("the referrers tag `{tag}` of {}", target.place());
            let index = match target.fetch_manifest(&tag).await {
                Ok((bytes, _)) => Some(bytes),
                Err(Error::ManifestNotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            (index, ReferrersVia::FallbackTag, what)
        }
    };
    let referrers = match index {
        Some(bytes) => parse_index(&bytes, &what)?,
        None => Vec::new(),
    };
    Ok((referrers, via))
}

/// How a target that lists referrers itself does it: a layout by scanning, a registry by its API.
fn own_listing(target: &impl OciTarget) -> ReferrersVia {
    match target.place() {
        super::Place::Layout { .. } => ReferrersVia::Layout,
        _ => ReferrersVia::Api,
    }
}

/// Make `referrer` (already in `target`) listed as a referrer of `subject` there: nothing to do
/// where the target lists referrers itself, else an entry in the fallback tag.
pub(super) async fn register(
    target: &impl OciTarget,
    subject: &str,
    referrer: &Referrer,
) -> Result<ReferrersVia> {
    Ok(match target.fetch_referrers(subject).await? {
        Some(_) => own_listing(target),
        None => {
            add_to_fallback_tag(target, subject, referrer).await?;
            ReferrersVia::FallbackTag
        }
    })
}

/// Referrers as JSON: an array, keys sorted, two-space indent, a trailing newline.
pub fn referrers_json(referrers: &[Referrer]) -> String {
    // serde_json's map keeps keys sorted.
    let value = serde_json::to_value(referrers).expect("referrers serialise");
    serde_json::to_string_pretty(&value).expect("a value serialises") + "\n"
}

/// The tag of the referrers tag schema for a subject digest: `sha256-<hex>`.
pub fn fallback_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

/// The descriptor of the manifest at `reference` (fetched, so a missing subject fails here).
async fn subject_descriptor(target: &impl OciTarget, reference: &str) -> Result<Descriptor> {
    let (bytes, served_as) = target.fetch_manifest(reference).await?;
    let media_type = super::manifest::media_type_of(&bytes)
        .map(str::to_string)
        .or(served_as)
        .unwrap_or_else(|| MANIFEST_MEDIA_TYPE.to_string());
    Ok(Descriptor {
        media_type,
        digest: digest_of(&bytes),
        size: bytes.len() as u64,
        title: None,
    })
}

/// The layers of the attached files, titled with their file names (which must differ).
fn file_layers(files: &[AttachFile]) -> Result<Vec<(Descriptor, PathBuf)>> {
    let mut titles = std::collections::HashSet::new();
    let mut layers = Vec::with_capacity(files.len());
    for file in files {
        let shown = file.path.display().to_string();
        let meta =
            std::fs::metadata(&file.path).map_err(|e| Error::io("failed to read", &shown, e))?;
        if !meta.is_file() {
            return Err(Error::NotAttachable {
                path: shown,
                why: "is not a regular file",
            });
        }
        let title = file
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::NotAttachable {
                path: shown.clone(),
                why: "has no file name",
            })?;
        if !titles.insert(title.clone()) {
            return Err(Error::NotAttachable {
                path: shown,
                why: "has the same file name as another attached file",
            });
        }
        let digest = crate::package::sha256_file(&file.path)?;
        layers.push((
            Descriptor {
                media_type: file.media_type.clone(),
                digest,
                size: meta.len(),
                title: Some(title),
            },
            file.path.clone(),
        ));
    }
    Ok(layers)
}

/// The descriptors of an image index; `what` names it in the error when it is not one.
fn parse_index(bytes: &[u8], what: &str) -> Result<Vec<Referrer>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Index {
        media_type: Option<String>,
        manifests: Vec<Referrer>,
    }
    let not_index = || Error::NotAnIndex {
        what: what.to_string(),
    };
    let index: Index = serde_json::from_slice(bytes).map_err(|_| not_index())?;
    if index
        .media_type
        .as_deref()
        .is_some_and(|m| m != INDEX_MEDIA_TYPE)
    {
        return Err(not_index());
    }
    Ok(index.manifests)
}

/// Merge `referrer` into the index at the subject's fallback tag, until a read after the write
/// shows it there.
async fn add_to_fallback_tag(
    target: &impl OciTarget,
    subject: &str,
    referrer: &Referrer,
) -> Result<()> {
    let tag = fallback_tag(subject);
    let what = format!("the referrers tag `{tag}` of {}", target.place());
    for attempt in 0..FALLBACK_ATTEMPTS {
        let mut referrers = match target.fetch_manifest(&tag).await {
            Ok((bytes, _)) => parse_index(&bytes, &what)?,
            Err(Error::ManifestNotFound { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        if referrers.iter().any(|r| r.digest == referrer.digest) {
            return Ok(());
        }
        referrers.push(referrer.clone());
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "manifests": referrers,
        });
        let bytes = serde_json::to_vec(&index).expect("an index serialises");
        target.push_manifest(&tag, &bytes).await?;
        // A racing attach may have read the index before our write and write after it: wait
        // a little (random, so two racers drift apart), then read again.
        let pause = 20 + (rand_u64() % 80) * (attempt as u64 + 1);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    Err(Error::ReferrersRace {
        tag,
        attempts: FALLBACK_ATTEMPTS,
    })
}

/// A little randomness for back-off, without a dependency.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_files_take_a_media_type_after_the_last_colon_when_it_has_a_slash() {
        let parse = |t: &str| t.parse::<AttachFile>().unwrap();
        assert_eq!(
            parse("report.jsonl:application/vnd.stacpkg.validation.v1+jsonl"),
            AttachFile {
                path: "report.jsonl".into(),
                media_type: "application/vnd.stacpkg.validation.v1+jsonl".into()
            }
        );
        assert_eq!(parse("a:b.txt").path, PathBuf::from("a:b.txt"));
        assert_eq!(parse("a:b.txt").media_type, DEFAULT_FILE_MEDIA_TYPE);
        assert!("".parse::<AttachFile>().is_err());
    }

    #[test]
    fn the_fallback_tag_is_the_digest_with_a_dash() {
        assert_eq!(fallback_tag("sha256:abc"), "sha256-abc");
    }

    #[test]
    fn an_index_that_is_not_one_is_named() {
        let err = parse_index(
            br#"{"mediaType": "application/vnd.oci.image.manifest.v1+json", "manifests": []}"#,
            "X",
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "X is not an image index");
        assert!(parse_index(b"{}", "X").is_err());
        assert_eq!(
            parse_index(br#"{"manifests": []}"#, "X").unwrap(),
            Vec::<Referrer>::new()
        );
    }

    #[test]
    fn the_same_attach_gives_the_same_manifest() {
        let subject = Descriptor::of_bytes(MANIFEST_MEDIA_TYPE, b"{}", None);
        let layer = Descriptor::of_bytes("text/plain", b"x", Some("r.txt"));
        let annotations =
            BTreeMap::from([("b".to_string(), "2".to_string()), ("a".into(), "1".into())]);
        let one = artifact_manifest_json(
            "t/x",
            std::slice::from_ref(&layer),
            Some(&subject),
            &annotations,
        );
        let two = artifact_manifest_json("t/x", &[layer], Some(&subject), &annotations);
        assert_eq!(one, two);
        let text = String::from_utf8(one).unwrap();
        assert!(
            text.contains(
                "\"subject\": {\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\""
            ),
            "{text}"
        );
        assert!(
            text.ends_with("\"annotations\": {\"a\": \"1\", \"b\": \"2\"}}"),
            "{text}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["artifactType"], "t/x");
    }
}
