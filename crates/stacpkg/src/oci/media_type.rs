//! The media types and annotation of a stacpkg package artifact (ref §9.1, seed 003).

/// `artifactType` of a stacpkg package manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.stacpkg.package.v1+json";
/// OCI image manifest media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// Docker's image manifest media type (accepted when a registry offers it).
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
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
