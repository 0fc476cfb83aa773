//! Where a package is pushed to or pulled from: a registry reference
//! `HOST[:PORT]/REPOSITORY[:TAG][@DIGEST]` or an OCI image layout `oci-layout:PATH[:TAG|@DIGEST]`.

use std::path::PathBuf;

/// Where a package artifact is: a registry reference or an OCI image layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactRef {
    /// A registry repository.
    Registry(Reference),
    /// An OCI image layout directory.
    Layout {
        /// The layout directory.
        path: PathBuf,
        /// Tag or digest.
        reference: String,
    },
}

impl ArtifactRef {
    /// Whether `text`, given where a package directory or a pushed package may be named (as
    /// `inspect` takes either), names a pushed package: not an existing path, and either
    /// `oci-layout:…` or a reference whose first component is a host (`HOST:PORT`, a dotted
    /// name, `localhost`) — so a mistyped directory is never looked up on Docker Hub.
    pub fn names_pushed_package(text: &str) -> bool {
        if std::path::Path::new(text).exists() {
            return false;
        }
        if text.starts_with("oci-layout:") {
            return true;
        }
        let Some((host, _)) = text.split_once('/') else {
            return false;
        };
        !matches!(host, "." | "..")
            && (host == "localhost" || host.contains(':') || host.contains('.'))
    }
}

/// A registry reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]` as typed (`docker.io` means Docker Hub).
    pub registry: String,
    /// Repository path.
    pub repository: String,
    /// Tag or `sha256:` digest (`latest` when neither was given).
    pub reference: String,
}

impl Reference {
    /// The host to connect to (`docker.io` is served by `registry-1.docker.io`).
    pub fn api_host(&self) -> &str {
        if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sep = if self.reference.contains(':') {
            '@'
        } else {
            ':'
        };
        write!(
            f,
            "{}/{}{sep}{}",
            self.registry, self.repository, self.reference
        )
    }
}

impl std::fmt::Display for ArtifactRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArtifactRef::Registry(r) => r.fmt(f),
            ArtifactRef::Layout { path, reference } => {
                let sep = if reference.contains(':') { '@' } else { ':' };
                write!(f, "oci-layout:{}{sep}{reference}", path.display())
            }
        }
    }
}

const LAYOUT_PREFIX: &str = "oci-layout:";

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn valid_repository(repository: &str) -> bool {
    !repository.is_empty()
        && repository.split('/').all(|part| {
            !part.is_empty()
                && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        })
}

/// Split `NAME[:TAG][@DIGEST]`'s reference off: the digest wins over a tag.
fn split_reference(text: &str) -> Result<(&str, String), String> {
    if let Some((name, digest)) = text.rsplit_once('@') {
        super::blob::sha256_hex(digest).map_err(|e| e.to_string())?;
        let name = match name.rsplit_once(':') {
            Some((n, tag)) if !tag.contains('/') && valid_tag(tag) => n,
            _ => name,
        };
        return Ok((name, digest.to_string()));
    }
    match text.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => {
            if !valid_tag(tag) {
                return Err(format!("`{tag}` is not a valid tag"));
            }
            Ok((name, tag.to_string()))
        }
        _ => Ok((text, "latest".to_string())),
    }
}

impl std::str::FromStr for ArtifactRef {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |why: String| format!("invalid target `{text}`: {why}");
        // An `@` before the first `/` is userinfo (a digest `@sha256:…` follows the repository).
        let host = text.split_once('/').map_or("", |(host, _)| host);
        if !text.starts_with(LAYOUT_PREFIX) && host.contains('@') {
            // `user:password@registry/…`: the reference is not shown, it holds a password.
            let registry = &host[host.rfind('@').map_or(0, |i| i + 1)..];
            return Err(format!(
                "invalid target for registry `{registry}`: a reference cannot carry credentials; they come from ORAS_USER and ORAS_PASS or the Docker config"
            ));
        }
        if let Some(rest) = text.strip_prefix(LAYOUT_PREFIX) {
            let (path, reference) = split_reference(rest).map_err(bad)?;
            if path.is_empty() {
                return Err(bad("no layout directory given".into()));
            }
            return Ok(ArtifactRef::Layout {
                path: PathBuf::from(path),
                reference,
            });
        }
        let (name, reference) = split_reference(text).map_err(bad)?;
        let (first, rest) = name.split_once('/').unwrap_or(("", name));
        let is_host = first.contains('.') || first.contains(':') || first == "localhost";
        let (registry, repository) = if is_host {
            (first.to_string(), rest.to_string())
        } else if name.contains('/') {
            ("docker.io".to_string(), name.to_string())
        } else {
            ("docker.io".to_string(), format!("library/{name}"))
        };
        if !valid_repository(&repository) {
            return Err(bad(format!(
                "`{repository}` is not a valid repository name (lowercase letters, digits and `._-/`)"
            )));
        }
        Ok(ArtifactRef::Registry(Reference {
            registry,
            repository,
            reference,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_reference_are_refused_without_showing_them() {
        let err = "user:PASSWORD@127.0.0.1:5000/r:t"
            .parse::<ArtifactRef>()
            .unwrap_err();
        assert!(!err.contains("PASSWORD"), "{err}");
        assert!(err.contains("`127.0.0.1:5000`"), "{err}");
    }

    fn registry(text: &str) -> Reference {
        match text.parse::<ArtifactRef>().unwrap() {
            ArtifactRef::Registry(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn registry_references_name_host_repository_and_tag() {
        let r = registry("127.0.0.1:5000/demo/pkg:v1");
        assert_eq!(
            (
                r.registry.as_str(),
                r.repository.as_str(),
                r.reference.as_str()
            ),
            ("127.0.0.1:5000", "demo/pkg", "v1")
        );
        assert_eq!(registry("localhost/pkg").reference, "latest");
        let digest = format!("sha256:{}", "0".repeat(64));
        let r = registry(&format!("ghcr.io/a/b:tag@{digest}"));
        assert_eq!(
            (r.repository.as_str(), r.reference.as_str()),
            ("a/b", digest.as_str())
        );
        let hub = registry("user/pkg:1");
        assert_eq!(
            (hub.api_host(), hub.repository.as_str()),
            ("registry-1.docker.io", "user/pkg")
        );
        assert_eq!(registry("pkg").repository, "library/pkg");
        assert_eq!(
            registry("127.0.0.1:5000/demo/pkg:v1").to_string(),
            "127.0.0.1:5000/demo/pkg:v1"
        );
    }

    #[test]
    fn layout_targets_take_a_path_and_an_optional_tag() {
        assert_eq!(
            "oci-layout:out/layout:v2".parse::<ArtifactRef>().unwrap(),
            ArtifactRef::Layout {
                path: "out/layout".into(),
                reference: "v2".into()
            }
        );
        assert_eq!(
            "oci-layout:/tmp/x".parse::<ArtifactRef>().unwrap(),
            ArtifactRef::Layout {
                path: "/tmp/x".into(),
                reference: "latest".into()
            }
        );
    }

    #[test]
    fn bad_references_are_refused() {
        for bad in [
            "127.0.0.1:5000/Upper/pkg",
            "127.0.0.1:5000/pkg:bad tag",
            "127.0.0.1:5000/pkg@sha256:xyz",
            "oci-layout:",
            "127.0.0.1:5000/",
        ] {
            assert!(bad.parse::<ArtifactRef>().is_err(), "{bad}");
        }
    }
}
