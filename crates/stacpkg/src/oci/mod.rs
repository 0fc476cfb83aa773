//! OCI distribution: a package travels as one OCI artifact with typed layers (ref §9, SPEC §9,
//! seed 003) to a registry or an OCI image layout directory.
//!
//! - [`content`]: package directory ↔ layers (per-file asset layers, deterministic ZIPs for other
//!   directories, path safety).
//! - [`reference`]: `HOST[:PORT]/REPOSITORY[:TAG|@DIGEST]` and `oci-layout:PATH[:TAG]`.
//! - [`registry`]: the only module that talks to registries (HTTP, auth negotiation).
//! - [`layout`]: the OCI image layout target.
//! - [`push`](transfer::push) / [`pull`](transfer::pull): both stream blobs between disk and the
//!   target, several layers at a time, checking every pulled blob's size and digest.

pub mod auth;
pub mod content;
pub mod layout;
pub mod reference;
pub mod registry;
pub mod transfer;
mod zip;

use std::fmt::Write;

use serde::Deserialize;

use crate::pyjson;

pub use reference::{Reference, Target};
pub use transfer::{
    Progress, PullOptions, PullReport, PushOptions, PushReport, TransportOptions, pull, push,
};

/// `artifactType` of a stacpkg package manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.stacpkg.package.v1+json";
/// OCI image manifest media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// The OCI empty config.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// Digest of the empty config blob `{}`.
pub const EMPTY_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
/// The empty config blob.
pub const EMPTY_BLOB: &[u8] = b"{}";
/// The items table layer.
pub const ITEMS_MEDIA_TYPE: &str = "application/vnd.stacpkg.items.v1.parquet";
/// The asset-lock layer.
pub const ASSET_LOCK_MEDIA_TYPE: &str = "application/vnd.stacpkg.asset-lock.v1.parquet";
/// A zipped directory of included files.
pub const FILES_ZIP_MEDIA_TYPE: &str = "application/vnd.stacpkg.files.v1+zip";
/// One copied asset file.
pub const ASSET_MEDIA_TYPE: &str = "application/vnd.stacpkg.asset.v1";
/// Zipped asset files (read, never written).
pub const ASSET_ZIP_MEDIA_TYPE: &str = "application/vnd.stacpkg.asset.v1+zip";
/// The annotation holding a layer's package-relative path.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";

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

    /// The hex part of a `sha256:` digest (an error for other algorithms or malformed digests,
    /// which also keeps digests safe to use as file names).
    pub fn sha256_hex(&self) -> Result<&str, String> {
        sha256_hex(&self.digest)
    }

    fn json(&self, out: &mut String) {
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
pub fn sha256_hex(digest: &str) -> Result<&str, String> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("unsupported digest `{digest}` (only sha256 is supported)"))?;
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!("malformed digest `{digest}`"));
    }
    Ok(hex)
}

/// An image manifest as stacpkg reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Media type (absent in some manifests; then the transport's content type says).
    #[serde(default)]
    pub media_type: Option<String>,
    /// `artifactType`.
    #[serde(default)]
    pub artifact_type: Option<String>,
    /// The config descriptor.
    pub config: Descriptor,
    /// Layers in order.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// The manifest bytes for a package: Python `json.dumps` layout, keys in the original's order,
/// no annotations (so the same package always has the same manifest digest).
pub fn manifest_json(layers: &[Descriptor]) -> Vec<u8> {
    let mut out = String::from("{\"schemaVersion\": 2, \"mediaType\": ");
    pyjson::string(MANIFEST_MEDIA_TYPE, &mut out);
    out.push_str(", \"artifactType\": ");
    pyjson::string(ARTIFACT_TYPE, &mut out);
    out.push_str(", \"config\": ");
    Descriptor::empty_config().json(&mut out);
    out.push_str(", \"layers\": [");
    for (i, layer) in layers.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        layer.json(&mut out);
    }
    out.push_str("]}");
    out.into_bytes()
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

    fn what(&self) -> &str {
        self.descriptor
            .title
            .as_deref()
            .unwrap_or(&self.descriptor.digest)
    }

    /// Take the next bytes.
    pub(crate) fn update(&mut self, bytes: &[u8]) -> crate::error::Result<()> {
        self.seen += bytes.len() as u64;
        if self.seen > self.descriptor.size {
            return Err(crate::error::Error::Oci(format!(
                "`{}` is larger than its descriptor's {} bytes",
                self.what(),
                self.descriptor.size
            )));
        }
        self.context.update(bytes);
        Ok(())
    }

    /// Bytes taken so far.
    pub(crate) fn seen(&self) -> u64 {
        self.seen
    }

    /// Check the size and digest of everything taken.
    pub(crate) fn finish(self) -> crate::error::Result<()> {
        let what = self.what().to_string();
        let digest = format!(
            "sha256:{}",
            crate::package::hex(self.context.finish().as_ref())
        );
        if self.seen != self.descriptor.size || digest != self.descriptor.digest {
            return Err(crate::error::Error::Oci(format!(
                "`{what}` does not match its digest: expected {} ({} bytes), got {digest} ({} bytes)",
                self.descriptor.digest, self.descriptor.size, self.seen
            )));
        }
        Ok(())
    }
}

/// `sha256:<hex>` of bytes in memory.
pub fn digest_of(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        crate::package::hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_config_digest_is_the_digest_of_its_blob() {
        assert_eq!(digest_of(EMPTY_BLOB), EMPTY_DIGEST);
    }

    #[test]
    fn manifests_are_written_as_the_original_writes_them_and_read_back() {
        let layers = [Descriptor {
            media_type: ITEMS_MEDIA_TYPE.into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            size: 12,
            title: Some("items.parquet".into()),
        }];
        let json = String::from_utf8(manifest_json(&layers)).unwrap();
        assert_eq!(
            json,
            format!(
                "{{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \
                 \"artifactType\": \"application/vnd.stacpkg.package.v1+json\", \"config\": \
                 {{\"mediaType\": \"application/vnd.oci.empty.v1+json\", \"digest\": \"{EMPTY_DIGEST}\", \
                 \"size\": 2}}, \"layers\": [{{\"mediaType\": \"application/vnd.stacpkg.items.v1.parquet\", \
                 \"digest\": \"sha256:{}\", \"size\": 12, \"annotations\": \
                 {{\"org.opencontainers.image.title\": \"items.parquet\"}}}}]}}",
                "a".repeat(64)
            )
        );
        let parsed: Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.layers, layers);
        assert_eq!(parsed.artifact_type.as_deref(), Some(ARTIFACT_TYPE));
    }

    #[test]
    fn only_well_formed_sha256_digests_are_accepted() {
        assert!(sha256_hex(EMPTY_DIGEST).is_ok());
        assert!(sha256_hex("sha512:00").is_err());
        assert!(sha256_hex("sha256:../../etc/passwd").is_err());
        assert!(sha256_hex(&format!("sha256:{}", "A".repeat(64))).is_err());
    }
}
