//! stacpkg turns a selected set of STAC Items into a reproducible package and moves that package
//! and its assets safely between places.
//!
//! This crate is the library behind the `stacpkg` command; every subcommand is one public
//! function here, and the command line only parses arguments, reads its settings from the
//! environment and picks where bytes go. A program that embeds the library decides all of that
//! itself.
//!
//! ```text
//!  STAC JSON / NDJSON ─► items::read_stac ─┐                  ┌─► items::geoparquet::write
//!  STAC GeoParquet ────► items::geoparquet::read ─► items ────┼─► items::feature::write (STAC again)
//!                                                    │        └─► package::build ─► oci::push / pull
//!                                          asset_lock::derive ─► lock ─► asset_lock::validate
//!                                                                 └───► asset_lock::relocate ─► lock
//! ```
//!
//! | command | library function |
//! |---|---|
//! | `items from-json`, `items from-ndjson` | [`items::read_stac`] |
//! | `items from-parquet`, `items to-parquet` | [`items::geoparquet::read`], [`items::geoparquet::write`] |
//! | `items to-ndjson`, `items to-json` | [`items::feature::write_file`] |
//! | `items enrich`, `add-alternate`, `promote-alternate`, `remove-alternate` | [`items::project`] |
//! | `asset-lock derive`, `validate`, `relocate` | [`asset_lock::derive()`], [`asset_lock::validate()`], [`asset_lock::relocate()`] |
//! | `asset-lock from-parquet`, `to-parquet` | [`asset_lock::read_parquet`], [`asset_lock::write_parquet`]; files on stores, patterns and shard merges: [`asset_lock::read_parquet_files`], [`asset_lock::write_parquet_to`], [`files`] |
//! | `--shard K/N\|auto` | [`asset_lock::Shard`] in the options of derive, validate, relocate and build; merge: [`asset_lock::shard::merge`] |
//! | `--checksum` strategies, multihashes, hashing | [`checksum`] (used by derive, validate and every copy) |
//! | `build`, `inspect` | [`package::build()`], [`package::inspect()`] |
//! | `attach`, `discover` | [`oci::attach()`], [`oci::discover()`] (any target: [`oci::attach_to`], [`oci::discover_in`]) |
//! | `copy` | [`oci::copy()`] (any targets: [`oci::copy_between`]) |
//! | `inspect REF` (a pushed package) | [`oci::inspect()`] (any target: [`oci::inspect_from`]) |
//! | `push`, `pull` | [`oci::push()`], [`oci::pull()`] (any target: [`oci::push_to`], [`oci::pull_from`]); selective pull: [`oci::Selection`] |
//!
//! Tables travel as [`BatchReader`]s (an Arrow schema and its record batches); between commands
//! they are Arrow IPC streams ([`ipc`]) that carry `stacpkg:schema-kind`, so a command fed the
//! wrong kind of table fails fast.
//!
//! # What the caller decides
//!
//! - **Stores** ([`store::Stores`]): [`Stores::from_env`](store::Stores::from_env) applies the
//!   command line's environment rules; [`Stores::builder`](store::Stores::builder) takes
//!   per-location options and whole object stores (in memory, in tests) in code, and reads no
//!   environment. Every operation that touches objects takes the stores.
//! - **Registry credentials** ([`oci::CredentialSource`]): [`oci::EnvCredentials`] (the
//!   command line's rules), [`oci::StaticCredentials`] (Basic or a bearer token), or none.
//! - **Runtime** ([`runtime::Runtime`]): the entry points are blocking functions, safe to call
//!   from any thread, a tokio task included (the work then runs on a thread of its own while
//!   the caller waits). Each call makes a runtime of its own by default; give
//!   [`Runtime::Handle`](runtime::Runtime::Handle) to use yours. There is no global runtime.
//! - **Retries and timeouts** ([`net::RetryPolicy`], [`net::Timeouts`]): one policy for probes,
//!   copies and registry calls.
//!
//! Errors are one [`Error`] type whose variants carry their subjects as fields (the item, the
//! href, the registry, the digest) and whose causes are sources; messages never contain a
//! credential or a signed URL's query, and never name a command-line flag.
//!
//! Memory stays flat in input size: every reader yields bounded batches and every writer
//! consumes them one at a time (see [`items`] and [`asset_lock`] for the bounds).
//!
//! # The pipeline, stage by stage
//!
//! Items from STAC JSON held in memory, written as GeoParquet and back out as STAC NDJSON:
//!
//! ```
//! use stacpkg::items::{feature, geoparquet, read_stac, Format, Input, ReadOptions};
//!
//! let json = r#"{"type": "Feature", "id": "a", "geometry": null, "links": [],
//!               "properties": {"datetime": "2024-01-01T00:00:00Z"},
//!               "assets": {"data": {"href": "s3://archive/a.tif"}}}"#;
//! let input = Input::Bytes { name: "item".into(), bytes: json.into() };
//! let dir = tempfile::tempdir()?;
//! let written = geoparquet::write(
//!     read_stac(input, Format::Json, ReadOptions::default())?,
//!     &dir.path().join("items.parquet"),
//! )?;
//! assert_eq!(written.rows, 1);
//! let items = geoparquet::read(&dir.path().join("items.parquet"), 1024, Default::default())?;
//! let mut ndjson = Vec::new();
//! feature::write(items, &mut ndjson, feature::JsonShape::Lines, "memory")?;
//! assert!(String::from_utf8(ndjson)?.starts_with(r#"{"type":"Feature""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! An asset lock derived by probing a bucket (here an in-memory store registered for it), then
//! validated:
//!
//! ```
//! # use std::sync::Arc;
//! # use object_store::{ObjectStore, ObjectStoreExt};
//! use stacpkg::asset_lock::{self, DeriveOptions, ValidateOptions};
//! use stacpkg::checksum::Strategy;
//! use stacpkg::items::{read_stac, Format, Input, ReadOptions};
//! use stacpkg::store::Stores;
//!
//! let bucket = Arc::new(object_store::memory::InMemory::new());
//! # tokio::runtime::Runtime::new()?.block_on(bucket.put(&"a.tif".into(), b"pixels".to_vec().into()))?;
//! let stores = Stores::builder().register("s3://archive", bucket as Arc<dyn ObjectStore>)?.build()?;
//! # let json = r#"{"type": "Feature", "id": "a", "geometry": null, "links": [],
//! #               "properties": {"datetime": null}, "assets": {"data": {"href": "s3://archive/a.tif"}}}"#;
//! # let items = read_stac(Input::Bytes { name: "item".into(), bytes: json.into() }, Format::Json, ReadOptions::default())?;
//! // Hash every object: the lock records its SHA-256 as a multihash (`1220…`).
//! let options = DeriveOptions { checksum: Strategy::CalculateAlways, ..DeriveOptions::default() };
//! let (lock, _) = asset_lock::derive(items, &stores, options, |_| {})?;
//! let rows: Vec<_> = lock.collect::<Result<_, _>>()?;
//! let facts = &asset_lock::from_batch(&rows[0])[0].facts;
//! assert_eq!(facts.size, Some(6));
//! assert!(facts.checksum.as_deref().is_some_and(|c| c.starts_with("1220")));
//! let lock = stacpkg::BatchReader::new(asset_lock::schema(), rows.into_iter().map(Ok));
//! let report = asset_lock::validate(lock, &stores, ValidateOptions::default(), |_| Ok(()))?;
//! assert_eq!((report.results, report.invalid), (1, 0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The lock's objects relocated to a local directory; the returned lock points at the copies:
//!
//! ```
//! # use std::sync::Arc;
//! # use object_store::{ObjectStore, ObjectStoreExt};
//! use stacpkg::asset_lock::{self, Destination, LockRow, PlanOptions, RelocateOptions};
//! use stacpkg::store::{Location, ObjectFacts, Stores};
//!
//! # let bucket = Arc::new(object_store::memory::InMemory::new());
//! # tokio::runtime::Runtime::new()?.block_on(bucket.put(&"a.tif".into(), b"pixels".to_vec().into()))?;
//! # let stores = Stores::builder().register("s3://archive", bucket as Arc<dyn ObjectStore>)?.build()?;
//! let row = LockRow {
//!     item_id: "a".into(),
//!     asset_key: "data".into(),
//!     location: Location { store_type: Some("s3".into()), store_container: Some("archive".into()), key: Some("a.tif".into()) },
//!     endpoint: None,
//!     facts: ObjectFacts::default(),
//! };
//! let lock = stacpkg::BatchReader::new(asset_lock::schema(), std::iter::once(asset_lock::to_batch(&[row])));
//! let dir = tempfile::tempdir()?;
//! let mirror = dir.path().join("mirror").display().to_string();
//! let options = RelocateOptions::to(Destination::Plan(PlanOptions::local(mirror)));
//! let (relocated, _) = asset_lock::relocate(lock, &stores, options, |_| {})?;
//! let rows: Vec<_> = relocated.collect::<Result<_, _>>()?;
//! assert_eq!(std::fs::read(dir.path().join("mirror/a/data.tif"))?, b"pixels");
//! // The copy was hashed on its way: the row carries the SHA-256 of the bytes written.
//! let copied = &asset_lock::from_batch(&rows[0])[0];
//! let mut sha256 = stacpkg::checksum::Hasher::new(stacpkg::checksum::Algorithm::Sha256);
//! sha256.update(b"pixels");
//! assert_eq!(copied.facts.checksum, Some(sha256.finish()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A package built from items (its lock derived without probing), inspected, pushed to a target
//! in memory and pulled back:
//!
//! ```
//! use stacpkg::asset_lock::DeriveOptions;
//! use stacpkg::items::{read_stac, Format, Input, ReadOptions};
//! use stacpkg::oci::{self, MemoryTarget, Progress, PullOptions, PushOptions};
//! use stacpkg::package::{self, media_type::MediaTypes, BuildOptions};
//! use stacpkg::store::Stores;
//!
//! # let json = r#"{"type": "Feature", "id": "a", "geometry": null, "links": [],
//! #               "properties": {"datetime": null}, "assets": {"data": {"href": "s3://archive/a.tif"}}}"#;
//! # let items = read_stac(Input::Bytes { name: "item".into(), bytes: json.into() }, Format::Json, ReadOptions::default())?;
//! let dir = tempfile::tempdir()?;
//! let pkg = dir.path().join("demo.pkg");
//! let options = BuildOptions {
//!     derive: DeriveOptions { probe: false, ..DeriveOptions::default() },
//!     ..BuildOptions::default()
//! };
//! let built = package::build(items, None, &pkg, &Stores::builder().build()?, options)?;
//! assert_eq!((built.items, built.assets), (1, 1));
//! let summary = package::inspect(&pkg, &MediaTypes::builtin())?;
//! assert!(summary.to_yaml().contains("items.parquet"));
//!
//! let target = MemoryTarget::new();
//! let push = PushOptions { scratch: dir.path().to_path_buf(), ..PushOptions::default() };
//! let pushed = oci::push_to(&target, "v1", &pkg, &push, &Progress::default())?;
//! let pulled = oci::pull_from(&target, "v1", &dir.path().join("pulled"), &PullOptions::default(), &Progress::default())?;
//! assert_eq!(pulled.digest, pushed.digest);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/embed.rs` runs the whole pipeline in one program, with no environment at all.
//!
//! # Seams
//!
//! Two boundaries are kept by the compiler's lints and the module layout: only [`store`] builds
//! object stores (and probes over HTTP), and only [`oci::Registry`] talks to registries. Every
//! OCI target implements [`oci::OciTarget`]; push and pull are written once over it. The
//! stages above call each other only downwards (items ← lock ← relocation ← package ← OCI), and
//! no module imports one that imports it back.

#![deny(clippy::print_stdout, clippy::print_stderr)]
#![warn(missing_docs)]

pub mod asset_lock;
pub mod batch;
pub mod checksum;
mod error;
pub mod files;
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
