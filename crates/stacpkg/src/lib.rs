//! stacpkg turns a selected set of STAC Items into a reproducible package and moves that package
//! and its assets safely between places.
//!
//! This crate is the library behind the `stacpkg` command; every subcommand is one public
//! function here, and the CLI only parses arguments and picks where bytes go.
//!
//! ```text
//!  STAC JSON / NDJSON ──► items::read_stac ──┐
//!  STAC GeoParquet ────► items::geoparquet::read ──► BatchReader (items schema) ──► ipc::write_stream ─► stdout
//!  stdin (Arrow IPC) ──► ipc::read_stream ───┘                                 └─► items::geoparquet::write
//! ```
//!
//! | command | library function |
//! |---|---|
//! | `items from-json`, `items from-ndjson` | [`items::read_stac`] |
//! | `items from-parquet` | [`items::geoparquet::read`] |
//! | `items to-parquet` | [`ipc::read_stream`] + [`items::geoparquet::write`] |
//! | `items enrich`, `add-alternate`, `promote-alternate`, `remove-alternate` | [`items::project`] |
//! | `asset-lock derive`, `validate`, `relocate`, `from-parquet`, `to-parquet` | [`asset_lock`] |
//!
//! The pipe format between subcommands is the Arrow IPC stream format ([`ipc`]); streams carry
//! `stacpkg:schema-kind` so a command fed the wrong kind of table fails fast.
//!
//! Memory stays flat in input size: every reader yields bounded batches and every writer
//! consumes them one at a time (see [`items`] for the bounds).

#![deny(clippy::print_stdout, clippy::print_stderr)]
#![warn(missing_docs)]

pub mod asset_lock;
pub mod batch;
mod error;
pub mod ipc;
pub mod items;
pub mod net;
pub mod oci;
mod output;
pub mod package;
pub mod preview;
mod pyjson;
pub mod runtime;
pub mod store;

pub use batch::BatchReader;
pub use error::{Collision, Error, IncludeProblem, ItemLocation, Result, StreamKind};
