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

    /// Under `--stream`, an item does not fit the schema fixed by the first batch.
    #[error(
        "{location}: field `{field}` {problem} the schema fixed by the first batch (--stream); run without --stream to scan the whole input first"
    )]
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

    /// An asset-lock row breaks the lock schema (for example, it has no `item_id`).
    #[error("asset lock row {row} {problem}")]
    InvalidLock {
        /// 1-based row in the stream.
        row: u64,
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

    /// A relocation cannot be planned or run as asked (colliding destinations, a memory limit
    /// below one copy's budget).
    #[error("{0}")]
    Relocate(String),

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

    /// A path is not a stacpkg package (or not a directory at all).
    #[error("{0}")]
    NotPackage(String),

    /// A package could not be built as asked (includes, output directory, packaged assets).
    #[error("{0}")]
    Build(String),

    /// Pushing or pulling a package failed (registry answers, unsafe paths, digest mismatches).
    #[error("{0}")]
    Oci(String),

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
