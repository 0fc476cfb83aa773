//! Package manifests: written exactly as the original writes them (so the same package always
//! has the same manifest digest), read from any registry or layout.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::blob::Descriptor;
use super::media_type::{ARTIFACT_TYPE, INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
use crate::error::{Error, Result};
use crate::pyjson;

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

/// Why a manifest cannot be read as a package manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManifestProblem {
    /// Not JSON at all (the parser's reason).
    NotJson(String),
    /// An image index, which points at manifests instead of being one.
    Index,
    /// JSON, but not an image manifest (the parser's reason).
    NotManifest(String),
}

impl ManifestProblem {
    /// The message for the manifest of `artifact`.
    pub(crate) fn describe(&self, artifact: &str) -> String {
        match self {
            ManifestProblem::NotJson(why) => {
                format!("the manifest of {artifact} is not valid JSON: {why}")
            }
            ManifestProblem::Index => {
                format!("{artifact} is an image index, not a package manifest")
            }
            ManifestProblem::NotManifest(why) => {
                format!("the manifest of {artifact} is not an OCI image manifest: {why}")
            }
        }
    }
}

impl Manifest {
    /// Read manifest `bytes` (served with `media_type`, when the transport said) of `artifact`.
    pub fn parse(bytes: &[u8], media_type: Option<&str>, artifact: &str) -> Result<Manifest> {
        let unsupported = |problem| Error::UnsupportedManifest {
            artifact: artifact.to_string(),
            problem,
        };
        let manifest: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| unsupported(ManifestProblem::NotJson(e.to_string())))?;
        let kind = manifest["mediaType"]
            .as_str()
            .or(media_type)
            .unwrap_or_default();
        if kind == INDEX_MEDIA_TYPE || manifest.get("manifests").is_some() {
            return Err(unsupported(ManifestProblem::Index));
        }
        serde_json::from_value(manifest)
            .map_err(|e| unsupported(ManifestProblem::NotManifest(e.to_string())))
    }
}

/// The `mediaType` a manifest or index document names, if it names one.
pub(crate) fn media_type_of(bytes: &[u8]) -> Option<&'static str> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Head {
        media_type: Option<String>,
    }
    let head: Head = serde_json::from_slice(bytes).ok()?;
    [MANIFEST_MEDIA_TYPE, INDEX_MEDIA_TYPE]
        .into_iter()
        .find(|known| head.media_type.as_deref() == Some(*known))
}

/// The manifest bytes for a package: Python `json.dumps` layout, keys in the original's order,
/// no annotations (so the same package always has the same manifest digest).
pub fn manifest_json(layers: &[Descriptor]) -> Vec<u8> {
    artifact_manifest_json(ARTIFACT_TYPE, layers, None, &BTreeMap::new())
}

/// An artifact manifest in the package manifest's layout: `artifactType`, the empty config,
/// `layers`, then `subject` and `annotations` (sorted) when given — the same inputs always give
/// the same bytes.
pub(crate) fn artifact_manifest_json(
    artifact_type: &str,
    layers: &[Descriptor],
    subject: Option<&Descriptor>,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut out = String::from("{\"schemaVersion\": 2, \"mediaType\": ");
    pyjson::string(MANIFEST_MEDIA_TYPE, &mut out);
    out.push_str(", \"artifactType\": ");
    pyjson::string(artifact_type, &mut out);
    out.push_str(", \"config\": ");
    Descriptor::empty_config().json(&mut out);
    out.push_str(", \"layers\": [");
    for (i, layer) in layers.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        layer.json(&mut out);
    }
    out.push(']');
    if let Some(subject) = subject {
        out.push_str(", \"subject\": ");
        subject.json(&mut out);
    }
    if !annotations.is_empty() {
        out.push_str(", \"annotations\": {");
        for (i, (key, value)) in annotations.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            pyjson::string(key, &mut out);
            out.push_str(": ");
            pyjson::string(value, &mut out);
        }
        out.push('}');
    }
    out.push('}');
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::media_type::{EMPTY_DIGEST, ITEMS_MEDIA_TYPE};

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
        let parsed = Manifest::parse(json.as_bytes(), None, "x").unwrap();
        assert_eq!(parsed.layers, layers);
        assert_eq!(parsed.artifact_type.as_deref(), Some(ARTIFACT_TYPE));
    }

    #[test]
    fn indexes_and_other_documents_are_not_package_manifests() {
        let index = br#"{"schemaVersion": 2, "manifests": []}"#;
        assert_eq!(
            Manifest::parse(index, None, "r:t").unwrap_err().to_string(),
            "r:t is an image index, not a package manifest"
        );
        assert!(matches!(
            Manifest::parse(b"{", None, "r:t"),
            Err(Error::UnsupportedManifest {
                problem: ManifestProblem::NotJson(_),
                ..
            })
        ));
    }
}
