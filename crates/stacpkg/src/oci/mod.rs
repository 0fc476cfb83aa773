//! OCI distribution: a package travels as one OCI artifact with typed layers (ref §9, SPEC §9,
//! seed 003) to any [`OciTarget`]: a registry ([`Registry`]), an OCI image layout directory
//! ([`ImageLayout`]), or memory ([`MemoryTarget`]).
//!
//! - [`push`] / [`pull`] (and [`push_to`] / [`pull_from`] for any target) stream blobs between
//!   disk and the target, several layers at a time, checking every moved blob's size and digest.
//!   A pull can take a [`Selection`] (items, asset keys) or only the tables.
//! - [`attach`] / [`discover`]: OCI 1.1 referrers (signatures, validation reports) of a
//!   package, through the registry's referrers API or the referrers tag schema.
//! - [`copy`]: an artifact (and with it, its referrers) between registries and layouts, the
//!   same manifest digest at both ends.
//! - [`inspect`] summarises a pushed package from its manifest and its two tables, without
//!   fetching any asset or content layer.
//! - Registries get their credentials from a [`CredentialSource`] the caller hands over in
//!   [`RegistryOptions`]: [`EnvCredentials`] (the command line's rules), [`StaticCredentials`],
//!   or none.
//! - [`ArtifactRef`] parses `HOST[:PORT]/REPOSITORY[:TAG|@DIGEST]` and
//!   `oci-layout:PATH[:TAG|@DIGEST]`.
//!
//! Only [`Registry`] talks to registries over HTTP.

mod auth;
mod blob;
mod content;
mod copy;
mod inspect;
mod layout;
mod manifest;
pub mod media_type;
mod reference;
mod referrers;
mod registry;
mod target;
mod title;
mod transfer;
mod zip;

pub use auth::{
    CredentialError, CredentialOrigin, CredentialSource, Credentials, EnvCredentials,
    NoCredentials, StaticCredentials,
};
pub(crate) use auth::{token_credentials, with_credentials};
pub use blob::{Descriptor, Progress, digest_of, sha256_hex};
pub use copy::{CopyOptions, CopyReport, MAX_REFERRER_DEPTH, copy, copy_between};
pub use inspect::{InspectOptions, inspect, inspect_from};
pub use layout::ImageLayout;
pub use manifest::{Manifest, ManifestProblem, manifest_json};
pub use reference::{ArtifactRef, Reference};
pub use referrers::{
    AttachFile, AttachOptions, AttachReport, DEFAULT_FILE_MEDIA_TYPE, FALLBACK_ATTEMPTS, Referrer,
    ReferrersVia, attach, attach_to, discover, discover_in, fallback_tag, referrers_json,
};
pub(crate) use registry::status_text;
pub use registry::{
    ChunkedUploads, DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_THRESHOLD, Registry, RegistryOptions,
};
pub use target::{MemoryTarget, OciTarget, Place};
pub use transfer::{
    LAYERS_IN_FLIGHT, PullOptions, PullReport, PushOptions, PushReport, Selection, pull, pull_from,
    push, push_to,
};
