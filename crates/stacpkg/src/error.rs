//! The library's one error type.
//!
//! Messages are lowercase, name the offending input (file, line, item, field) and never carry the
//! underlying cause in their own text: the cause sits in `#[source]` and the CLI joins the chain
//! into the single `stacpkg: error: …` line of SPEC §2.

use std::fmt;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where an item came from, for error messages: `item 3 (`S2B_…`) on line 7 of `x.ndjson``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemLocation {
    /// Display name of the input (`path` or `stdin`).
    pub input: String,
    /// 1-based position of the item in the input, after collections are expanded.
    pub index: u64,
    /// 1-based physical line for NDJSON input.
    pub line: Option<u64>,
    /// The item's `id`, when it has a string one.
    pub id: Option<String>,
}

impl fmt::Display for ItemLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: item {}", self.input, self.index)?;
        if let Some(id) = &self.id {
            write!(f, " (`{id}`)")?;
        }
        if let Some(line) = self.line {
            write!(f, " on line {line}")?;
        }
        Ok(())
    }
}

/// The kind of table an Arrow stream or file holds (`stacpkg:schema-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// A STAC items table.
    Items,
    /// An asset-lock table.
    AssetLock,
}

impl StreamKind {
    /// The value written as `stacpkg:schema-kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Items => "items",
            StreamKind::AssetLock => "asset-lock",
        }
    }

    /// The commands that produce a stream of this kind, for hints.
    pub fn producers(self) -> &'static str {
        match self {
            StreamKind::Items => "`stacpkg items from-json`, `from-ndjson` or `from-parquet`",
            StreamKind::AssetLock => "`stacpkg asset-lock derive` or `asset-lock from-parquet`",
        }
    }
}

impl fmt::Display for StreamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Two lock rows whose different sources would be relocated to one destination.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "item `{item_id}` asset `{asset_key}` (`{source_href}`) and item `{other_item_id}` asset `{other_asset_key}` (`{other_href}`) would both be relocated to `{destination}`"
)]
pub struct Collision {
    /// The later row's item.
    pub item_id: String,
    /// The later row's asset.
    pub asset_key: String,
    /// The later row's source, without any query string.
    pub source_href: String,
    /// The earlier row's item.
    pub other_item_id: String,
    /// The earlier row's asset.
    pub other_asset_key: String,
    /// The earlier row's source.
    pub other_href: String,
    /// Where both would go.
    pub destination: String,
}

/// Why an include cannot go into a package.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IncludeProblem {
    /// Its path names no file or directory (`/`, `..`).
    #[error("it names no file or directory")]
    Unnamed,
    /// Its name is one of the package's own (`items.parquet`, `assets.lock.parquet`,
    /// `assets`).
    #[error("it would replace the package's `{0}`")]
    ReplacesPackageFile(String),
    /// A link makes a directory contain itself.
    #[error("a link makes the directory contain itself")]
    Cycle,
}

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or stream could not be read or written.
    #[error("{action} `{path}`")]
    Io {
        /// What was being done (`failed to open`, `failed to read`, …).
        action: &'static str,
        /// The file or stream.
        path: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },

    /// A JSON document is not valid JSON (serde's message carries line and column).
    #[error("invalid JSON in `{input}`: {message}")]
    Json {
        /// The input.
        input: String,
        /// The parser's message, including `line L column C`.
        message: String,
    },

    /// A line of an NDJSON input is not valid JSON.
    #[error("invalid STAC NDJSON in `{input}` on line {line}: {message}")]
    Ndjson {
        /// The input.
        input: String,
        /// 1-based physical line number.
        line: u64,
        /// The parser's message.
        message: String,
    },

    /// A JSON document (or NDJSON line) is not a STAC Item or collection of items.
    #[error(
        "{location}: expected a STAC Item, STAC ItemCollection, or GeoJSON FeatureCollection, found {found}"
    )]
    NotStac {
        /// Input, plus the NDJSON line when there is one.
        location: String,
        /// What was found instead.
        found: String,
    },

    /// An item breaks a rule of the items table (missing `id`, bad geometry, …).
    #[error("{location}: {problem}")]
    InvalidItem {
        /// Which item.
        location: Box<ItemLocation>,
        /// What is wrong, naming the field.
        problem: String,
    },

    /// Two items disagree on a field's type.
    #[error("{location}: field `{field}` is {found} here but {expected} in earlier items")]
    TypeConflict {
        /// The item where the conflict was found.
        location: Box<ItemLocation>,
        /// Dotted path of the field (`properties.gsd`, `assets.B01.eo:bands[].name`).
        field: String,
        /// Type seen in this item.
        found: &'static str,
        /// Type established by earlier items.
        expected: &'static str,
    },

    /// In streaming mode ([`ReadOptions::stream`](crate::items::ReadOptions::stream)), an item
    /// does not fit the schema fixed by the first batch.
    #[error("{location}: field `{field}` {problem} the schema fixed by the first batch")]
    StreamMisfit {
        /// The item.
        location: Box<ItemLocation>,
        /// Dotted path of the field.
        field: String,
        /// How it does not fit (`is not in`, `is float here, integer in`, …).
        problem: String,
    },

    /// An input expected to be an Arrow IPC stream is empty.
    #[error("{input} is empty: expected an Arrow IPC stream from {producers}")]
    EmptyStream {
        /// The input (`stdin` or a path).
        input: String,
        /// Which commands make the right stream.
        producers: &'static str,
    },

    /// An input expected to be an Arrow IPC stream is not one.
    #[error("{input} is not an Arrow IPC stream")]
    NotIpc {
        /// The input.
        input: String,
        /// Arrow's reason.
        #[source]
        source: arrow_schema::ArrowError,
    },

    /// An Arrow stream or file holds the wrong kind of table.
    #[error(
        "{input} is an {found} stream, but this command needs an {expected} stream; make one with {producers}"
    )]
    WrongStreamKind {
        /// The input.
        input: String,
        /// The kind found.
        found: StreamKind,
        /// The kind needed.
        expected: StreamKind,
        /// Which commands make the right stream.
        producers: &'static str,
    },

    /// An Arrow stream or file says nothing of its kind and does not have the columns of the
    /// kind needed.
    #[error(
        "{input} is not an {expected} stream: it has no `stacpkg:schema-kind` metadata and not the {expected} columns; make one with {producers}"
    )]
    UnknownStreamKind {
        /// The input.
        input: String,
        /// The kind needed.
        expected: StreamKind,
        /// Which commands make the right stream.
        producers: &'static str,
    },

    /// Arrow failed while reading or building a table.
    #[error("{context}")]
    Arrow {
        /// What was being done, naming the input.
        context: String,
        /// Arrow's reason.
        #[source]
        source: arrow_schema::ArrowError,
    },

    /// The consumer of a batch stream went away before the producer finished; not a failure of
    /// the input, so callers usually stop quietly.
    #[error("the reader of the batch stream went away")]
    OutputClosed,

    /// The caller cancelled the push or pull ([`crate::oci::Progress::cancel`]).
    #[error("the transfer was cancelled")]
    Cancelled,

    /// An asset-lock row breaks the lock schema (for example, it has no `item_id`).
    #[error("asset lock row {row} {problem}")]
    InvalidLock {
        /// 1-based row in the stream.
        row: u64,
        /// What is wrong.
        problem: String,
    },

    /// An Arrow IPC stream ended without its end-of-stream marker: the command that wrote it
    /// failed or was stopped, and what arrived is only part of it.
    #[error(
        "{input} ended before its Arrow IPC stream did: the command that wrote it failed or was stopped"
    )]
    TruncatedStream {
        /// The input (`stdin`, a file).
        input: String,
    },

    /// A shard (`K/N`), or the scheduler variables that give one, is not usable.
    #[error("shard `{spec}`: {problem}")]
    InvalidShard {
        /// The shard as given (`auto` when it came from a scheduler's variables).
        spec: String,
        /// What is wrong.
        problem: String,
    },

    /// Files given to be merged are not the shard files of one run (or, when they are no
    /// shard files, do not have the same columns).
    #[error("{input} {problem}")]
    ShardSet {
        /// The file, or the run, at fault.
        input: String,
        /// What is wrong.
        problem: String,
    },

    /// An object could not be probed (HEAD) for an asset-lock row.
    #[error("item `{item_id}` asset `{asset_key}`: cannot probe `{href}`")]
    Probe {
        /// The row's item.
        item_id: String,
        /// The row's asset.
        asset_key: String,
        /// Where the object was looked for, without any query string.
        href: String,
        /// Why.
        #[source]
        source: crate::store::StoreError,
    },

    /// An object named by URL (a table read from or written to a store) could not be read,
    /// listed or written.
    #[error("{action} `{href}`")]
    Object {
        /// What was being done (`failed to read`, `failed to list`, `failed to write`).
        action: &'static str,
        /// The object or prefix, without any query string or credentials.
        href: String,
        /// Why.
        #[source]
        source: crate::store::StoreError,
    },

    /// An object could not be copied during relocation.
    #[error("{row}: cannot copy `{from}` to `{to}`")]
    Copy {
        /// Which row: `item `I` asset `A``.
        row: String,
        /// Source href, without any query string.
        from: String,
        /// Destination href.
        to: String,
        /// Why.
        #[source]
        source: crate::store::StoreError,
    },

    /// Two different sources would be relocated to one destination.
    #[error("{0}")]
    DestinationCollision(Box<Collision>),

    /// A source key would leave the destination prefix (`..` above it) under the source-key
    /// layout.
    #[error(
        "item `{item_id}` asset `{asset_key}`: source key `{key}` would leave the destination prefix `{prefix}`; the item-asset layout keeps every asset inside it"
    )]
    KeyEscapesPrefix {
        /// The row's item.
        item_id: String,
        /// The row's asset.
        asset_key: String,
        /// The source key.
        key: String,
        /// The destination prefix.
        prefix: String,
    },

    /// A relocation destination lacks what its store type needs.
    #[error("{field} is required when store_type is {store_type}")]
    IncompleteDestination {
        /// What is missing (`store_container`, `key`).
        field: &'static str,
        /// The destination store type.
        store_type: String,
    },

    /// The copy memory limit cannot hold even one copy.
    #[error("copy memory limit is smaller than one streaming copy budget ({limit} < {needed})")]
    MemoryLimitTooSmall {
        /// The limit in bytes.
        limit: u64,
        /// What one copy needs.
        needed: u64,
    },

    /// Multipart parts for S3 must be at least 5 MiB.
    #[error(
        "chunk size {chunk_size} is below S3's smallest multipart part ({minimum} bytes, 5 MiB)"
    )]
    ChunkTooSmall {
        /// The chunk size asked for.
        chunk_size: usize,
        /// S3's minimum.
        minimum: usize,
    },

    /// The object-store settings in the environment are unusable.
    #[error("invalid object store settings")]
    StoreSettings(#[source] crate::store::StoreError),

    /// A column is an object with no members in any row, where Parquet cannot store it: inside
    /// another column, or at the top level with some rows null (top-level columns of `{}` in
    /// every row are left out of the file and restored on read).
    #[error(
        "cannot write `{path}`: column `{column}` is an object without members in every item, which Parquet can only store as a top-level column that no item leaves out"
    )]
    EmptyStruct {
        /// The file that was to be written.
        path: String,
        /// Dotted path of the column.
        column: String,
    },

    /// A symbolic link inside a package or an included directory resolves outside it.
    #[error("`{path}` is a symbolic link to `{target}`, outside `{root}`")]
    UnsafeLink {
        /// The link.
        path: String,
        /// Where it resolves to.
        target: String,
        /// The directory it must stay inside.
        root: String,
    },

    /// A path is not a directory.
    #[error("`{path}` is not a directory")]
    NotADirectory {
        /// The path.
        path: String,
    },

    /// A directory is not a stacpkg package: it lacks one or both tables.
    #[error("not a stacpkg package directory: {path} missing {}", .missing.join(", "))]
    NotPackage {
        /// The directory.
        path: String,
        /// The tables it lacks.
        missing: Vec<&'static str>,
    },

    /// A package output exists as something other than a directory.
    #[error("output `{path}` exists and is not a directory")]
    OutputNotDirectory {
        /// The output.
        path: String,
    },

    /// A package output is a non-empty directory and replacing was not asked for.
    #[error("output directory `{path}` exists and is not empty")]
    OutputNotEmpty {
        /// The output.
        path: String,
    },

    /// A non-empty output directory was to be replaced, but it is not a package.
    #[error("refusing to replace `{path}`: it is not a stacpkg package")]
    NotPackageToReplace {
        /// The output.
        path: String,
    },

    /// An output path names no directory (`/`, `..`).
    #[error("`{path}` names no directory")]
    OutputUnnamed {
        /// The output.
        path: String,
    },

    /// An include cannot go into a package.
    #[error("cannot include `{include}`: {problem}")]
    Include {
        /// The include.
        include: String,
        /// Why.
        problem: IncludeProblem,
    },

    /// Two includes would get the same name in the package.
    #[error(
        "cannot include both `{first}` and `{second}`: both would become `{name}` in the package"
    )]
    IncludeCollision {
        /// The earlier include.
        first: String,
        /// The later include.
        second: String,
        /// The name both would take.
        name: String,
    },

    /// An asset to be copied into a package has no location.
    #[error("item `{item_id}` asset `{asset_key}` has no location to copy into the package")]
    AssetWithoutLocation {
        /// The item.
        item_id: String,
        /// The asset.
        asset_key: String,
    },

    /// A copied asset would land outside the package directory.
    #[error(
        "item `{item_id}` asset `{asset_key}`: packaged asset escapes package directory: {key}"
    )]
    AssetEscapesPackage {
        /// The item.
        item_id: String,
        /// The asset.
        asset_key: String,
        /// Where it would land.
        key: String,
    },

    /// A path from an artifact (a layer title, a ZIP member) could write outside the package.
    #[error("unsafe package path{}: {}", if *.control { " (control characters)" } else { "" }, .path)]
    UnsafePath {
        /// The path; escaped when it holds control characters (the raw ones could rewrite a
        /// terminal).
        path: String,
        /// It was refused for its control characters.
        control: bool,
    },

    /// Two layers of an artifact would write the same file.
    #[error("OCI layer {index} writes `{path}`, which an earlier layer already writes")]
    LayerConflict {
        /// The later layer's position.
        index: usize,
        /// The file.
        path: String,
    },

    /// A ZIP member would overwrite a file another layer wrote.
    #[error("{layer}: ZIP member `{member}` would overwrite a file another layer wrote")]
    ZipMemberConflict {
        /// The layer.
        layer: String,
        /// The member.
        member: String,
    },

    /// An asset layer has no title, so it names no file.
    #[error("OCI layer {index} is missing org.opencontainers.image.title")]
    UntitledLayer {
        /// The layer's position.
        index: usize,
    },

    /// A layer's media type is not one a package has.
    #[error("unsupported OCI package layer media type: {media_type}")]
    UnsupportedLayer {
        /// The media type.
        media_type: String,
    },

    /// A digest is not `sha256:` and 64 lowercase hex digits.
    #[error("{}", if *.unsupported { format!("unsupported digest `{}` (only sha256 is supported)", .digest) } else { format!("malformed digest `{}`", .digest) })]
    BadDigest {
        /// The digest.
        digest: String,
        /// Another algorithm than sha256 (else malformed).
        unsupported: bool,
    },

    /// A blob's bytes are not those of its descriptor.
    #[error(
        "`{what}` does not match its digest: expected {expected} ({expected_size} bytes), got {actual} ({actual_size} bytes)"
    )]
    DigestMismatch {
        /// The blob (its title or digest).
        what: String,
        /// The descriptor's digest.
        expected: String,
        /// The descriptor's size.
        expected_size: u64,
        /// The digest of the bytes.
        actual: String,
        /// The size of the bytes.
        actual_size: u64,
    },

    /// A blob has more bytes than its descriptor says (found while streaming).
    #[error("`{what}` is larger than its descriptor's {size} bytes")]
    BlobTooLarge {
        /// The blob.
        what: String,
        /// The descriptor's size.
        size: u64,
    },

    /// A manifest is not where its reference says.
    #[error("{} has no manifest `{reference}`{}", .place, .place.repository_suffix())]
    ManifestNotFound {
        /// The registry or layout.
        place: crate::oci::Place,
        /// Tag or digest.
        reference: String,
    },

    /// A manifest's bytes do not match the digest it was asked for by.
    #[error("{}", .place.manifest_mismatch(.reference))]
    ManifestDigestMismatch {
        /// The registry or layout.
        place: crate::oci::Place,
        /// The digest asked for.
        reference: String,
    },

    /// A manifest is larger than any package manifest can be.
    #[error("{}: the manifest `{reference}` is larger than {limit} bytes", .place)]
    ManifestTooLarge {
        /// The registry or layout.
        place: crate::oci::Place,
        /// Tag or digest.
        reference: String,
        /// The cap.
        limit: usize,
    },

    /// A manifest is not a package manifest stacpkg can read.
    #[error("{}", .problem.describe(.artifact))]
    UnsupportedManifest {
        /// The artifact.
        artifact: String,
        /// What is wrong.
        problem: crate::oci::ManifestProblem,
    },

    /// An artifact lacks one of the package tables.
    #[error("OCI artifact {artifact} did not contain {table}")]
    IncompleteArtifact {
        /// The artifact.
        artifact: String,
        /// The missing table.
        table: &'static str,
    },

    /// A file cannot be attached as a referrer's layer.
    #[error("cannot attach `{path}`: it {why}")]
    NotAttachable {
        /// The file.
        path: String,
        /// Why.
        why: &'static str,
    },

    /// Concurrent attaches kept replacing a referrers fallback tag.
    #[error(
        "the referrers tag `{tag}` kept changing under concurrent attaches: gave up after {attempts} attempts"
    )]
    ReferrersRace {
        /// The tag.
        tag: String,
        /// Attempts made.
        attempts: usize,
    },

    /// A referrers listing or a referrers fallback tag is not an image index.
    #[error("{what} is not an image index")]
    NotAnIndex {
        /// What was read.
        what: String,
    },

    /// Only a package can be pulled in part (a selection, the tables only).
    #[error("{artifact} is not a stacpkg package: only a package can be pulled in part")]
    NotAPackage {
        /// The artifact.
        artifact: String,
    },

    /// Another live process is pulling into the same output.
    #[error("another pull into `{path}` is running")]
    OutputBusy {
        /// The output directory.
        path: String,
    },

    /// A selective pull's selection matches nothing in the artifact's tables.
    #[error("the selection matches no {what} of {artifact}")]
    EmptySelection {
        /// The artifact.
        artifact: String,
        /// `item` or `asset`.
        what: &'static str,
    },

    /// Fetching one layer of an artifact failed.
    #[error("OCI layer {index} from {artifact}")]
    Layer {
        /// The layer's position.
        index: usize,
        /// The artifact.
        artifact: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },

    /// A target does not hold a blob its manifest lists.
    #[error("{place} has no blob `{what}`")]
    BlobMissing {
        /// The blob (its title or digest).
        what: String,
        /// The target.
        place: crate::oci::Place,
    },

    /// A directory is not an OCI image layout.
    #[error("`{path}` is not an OCI image layout (no `oci-layout` file)")]
    NotImageLayout {
        /// The directory.
        path: String,
    },

    /// An image layout's `index.json` cannot be used.
    #[error("`{path}` {problem}")]
    BadLayoutIndex {
        /// The index file.
        path: String,
        /// What is wrong (`is not valid JSON: …`, `has no manifests list`).
        problem: String,
    },

    /// A registry refused a request with the credentials it was given (or without any).
    #[error("registry {host} refused {what} for `{repository}` with {}", crate::oci::with_credentials(.origin))]
    RegistryDenied {
        /// The registry.
        host: String,
        /// What was asked (`checking a blob`, `uploading the manifest`, …).
        what: String,
        /// The repository.
        repository: String,
        /// Where the credentials came from; `None` for anonymous access.
        origin: Option<crate::oci::CredentialOrigin>,
    },

    /// A registry wants credentials and none were found.
    #[error("registry {host} needs credentials")]
    CredentialsNeeded {
        /// The registry.
        host: String,
    },

    /// A registry refused access without saying how to authenticate.
    #[error("registry {host} refused access to `{repository}` without saying how to authenticate")]
    NoChallenge {
        /// The registry.
        host: String,
        /// The repository.
        repository: String,
    },

    /// A registry's token service refused a token.
    #[error("the token service {realm} refused access to `{repository}`{} ({status})", crate::oci::token_credentials(.origin))]
    TokenDenied {
        /// The token service (without any query).
        realm: String,
        /// The repository.
        repository: String,
        /// Where the credentials came from; `None` for anonymous access.
        origin: Option<crate::oci::CredentialOrigin>,
        /// The HTTP status (`401 Unauthorized`).
        status: String,
    },

    /// A registry's token service could not be used.
    #[error("{problem}")]
    TokenService {
        /// What went wrong, naming the service (without any query).
        problem: String,
    },

    /// A registry request failed with an answer stacpkg cannot use.
    #[error("registry {host}: {what} in `{repository}` failed: {}{}", crate::oci::status_text(*.status), .detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    RegistryRequest {
        /// The registry.
        host: String,
        /// What was asked.
        what: String,
        /// The repository.
        repository: String,
        /// The HTTP status.
        status: u16,
        /// The registry's own error code and message, when it sent one.
        detail: Option<String>,
    },

    /// A registry request failed after every retry (or at once, when not transient).
    #[error("registry {host}: {what} failed: {reason}")]
    RegistryUnavailable {
        /// The registry.
        host: String,
        /// What was asked.
        what: String,
        /// The last failure.
        reason: String,
        /// The failure looks like a TLS client talking to a plain-HTTP server.
        plain_http_likely: bool,
    },

    /// A registry answered against the distribution protocol.
    #[error("registry {host} {problem}")]
    RegistryProtocol {
        /// The registry.
        host: String,
        /// What it did (`started an upload without a Location`).
        problem: &'static str,
    },

    /// Registry credentials could not be looked up.
    #[error(transparent)]
    Credentials(#[from] crate::oci::CredentialError),

    /// The HTTP client could not be set up.
    #[error("cannot set up HTTP")]
    HttpClient(#[source] reqwest::Error),

    /// A ZIP archive could not be read or written.
    #[error("{context}")]
    Zip {
        /// What was being done, naming the archive or layer.
        context: String,
        /// The ZIP library's reason.
        #[source]
        source: zip::result::ZipError,
    },

    /// Something the library relies on did not hold (a bug, reported instead of a panic).
    #[error("internal error: {0}")]
    Internal(&'static str),

    /// A checksum strategy that reads objects was asked for without probing them.
    #[error("checksum strategy `{strategy}` reads every object it hashes, but probing is off")]
    ChecksumNeedsProbe {
        /// The strategy.
        strategy: crate::checksum::Strategy,
    },

    /// The runtime handle given is a current-thread runtime's, which cannot drive work from a
    /// thread other than its own: the call would hang.
    #[error(
        "the tokio runtime given is a current-thread runtime, which cannot run work from another thread: give a multi-thread runtime's handle or let the call make its own runtime"
    )]
    CurrentThreadRuntime,

    /// A worker thread or task of the library failed.
    #[error("a transfer thread failed")]
    Task(#[source] tokio::task::JoinError),

    /// Parquet failed while reading or writing a file.
    #[error("{context}")]
    Parquet {
        /// What was being done, naming the file.
        context: String,
        /// Parquet's reason.
        #[source]
        source: parquet::errors::ParquetError,
    },
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<String>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Writing to an output (a file, `stdout`) failed.
    pub fn write_failed(output: impl Into<String>, source: std::io::Error) -> Self {
        Error::io("failed to write", output, source)
    }

    pub(crate) fn arrow(context: impl Into<String>, source: arrow_schema::ArrowError) -> Self {
        Error::Arrow {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn parquet(
        context: impl Into<String>,
        source: parquet::errors::ParquetError,
    ) -> Self {
        Error::Parquet {
            context: context.into(),
            source,
        }
    }

    /// Shift the item index of an item error by `offset` items: chunks of an input are numbered
    /// from 1 when converted in parallel, and placed in the whole input when reported.
    pub(crate) fn offset_items(mut self, offset: u64) -> Self {
        if let Error::InvalidItem { location, .. }
        | Error::TypeConflict { location, .. }
        | Error::StreamMisfit { location, .. } = &mut self
        {
            location.index += offset;
        }
        self
    }

    /// True when the error is a closed pipe on the output side (the reader went away), which
    /// the CLI treats as a quiet, successful end.
    pub fn is_broken_pipe(&self) -> bool {
        let mut current: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(err) = current {
            if let Some(io) = err.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::BrokenPipe
            {
                return true;
            }
            if let Some(arrow_schema::ArrowError::IoError(_, io)) =
                err.downcast_ref::<arrow_schema::ArrowError>()
                && io.kind() == std::io::ErrorKind::BrokenPipe
            {
                return true;
            }
            current = err.source();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_stay_small_enough_to_return_by_value() {
        // Large subjects go into boxes (`Collision`, `ItemLocation`); clippy's limit is 128.
        assert!(
            std::mem::size_of::<Error>() < 128,
            "{}",
            std::mem::size_of::<Error>()
        );
    }
}
