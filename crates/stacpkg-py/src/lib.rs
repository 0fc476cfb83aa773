//! `stacpkg_rs`: the stacpkg library for Python.
//!
//! Tables cross the boundary through the Arrow C data and stream interfaces (no copy of column
//! buffers): inputs are any object with `__arrow_c_stream__` or `__arrow_c_array__` (pyarrow,
//! polars, DuckDB) or a path; outputs are pyarrow Tables, or RecordBatchReaders for the
//! `*_stream` functions, so pipelines of any length stay flat in memory. Work runs with the GIL
//! released and stops on Ctrl-C. Stores and registry credentials follow the command line's
//! environment rules unless given in code (`stores=`, `credentials=`).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::ffi_stream::RecordBatchStreamReader;
use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_pyarrow::{FromPyArrow, IntoPyArrow, Table};
use arrow_schema::{ArrowError, SchemaRef};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use stacpkg::asset_lock::{self, DeriveOptions, ValidateEvent, ValidateOptions};
use stacpkg::checksum::Strategy;
use stacpkg::files::FileRef;
use stacpkg::items::{self, Format, Input, ItemFilter, ReadOptions, geoparquet, project};
use stacpkg::oci;
use stacpkg::package::{self, media_type::MediaTypes};
use stacpkg::store::{LocationOptions, Stores};
use stacpkg::{BatchReader, Error, StreamKind};

/// mimalloc, as the command line has: converting items moves hundreds of MB of short-lived
/// values through the allocator on every core, and glibc's allocator made the pipeline a third
/// slower (BENCHMARKS.md). Only this module's own allocations use it; Arrow buffers handed to
/// pyarrow are released through their release callback, which frees them here too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

create_exception!(
    stacpkg_rs,
    StacpkgError,
    PyException,
    "Any failure of stacpkg; `str(e)` is the command line's one-line message."
);
create_exception!(
    stacpkg_rs,
    InvalidInputError,
    StacpkgError,
    "An input (STAC JSON, an Arrow stream, a lock) is malformed or of the wrong kind."
);
create_exception!(
    stacpkg_rs,
    StoreError,
    StacpkgError,
    "An object store refused, failed, or does not hold an object."
);
create_exception!(
    stacpkg_rs,
    StoreNotFoundError,
    StoreError,
    "An object named by an href or a lock row does not exist."
);
create_exception!(
    stacpkg_rs,
    DigestMismatchError,
    StacpkgError,
    "Bytes do not match the digest or checksum recorded for them."
);
create_exception!(
    stacpkg_rs,
    NotAPackageError,
    StacpkgError,
    "A directory or artifact is not a stacpkg package."
);
create_exception!(
    stacpkg_rs,
    RegistryError,
    StacpkgError,
    "An OCI registry refused or failed a request."
);

/// The command line's one-line message: the error and its causes, each said once, redacted.
fn one_line(error: &Error) -> String {
    let mut line = String::new();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        let text = current.to_string();
        if !text.is_empty() && !line.ends_with(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        cause = current.source();
    }
    stacpkg::store::redact(&line)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn not_found(error: &Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if matches!(
            current.downcast_ref::<stacpkg::store::StoreError>(),
            Some(stacpkg::store::StoreError::NotFound)
        ) {
            return true;
        }
        cause = current.source();
    }
    false
}

/// The Python exception for a library error, by kind (a pending Ctrl-C first).
fn py_error(error: Error) -> PyErr {
    if let Some(interrupt) = PENDING.with(|pending| pending.borrow_mut().take()) {
        return interrupt;
    }
    let message = one_line(&error);
    match &error {
        Error::DigestMismatch { .. }
        | Error::ManifestDigestMismatch { .. }
        | Error::BadDigest { .. } => DigestMismatchError::new_err(message),
        Error::NotPackage { .. } | Error::NotAPackage { .. } | Error::NotADirectory { .. } => {
            NotAPackageError::new_err(message)
        }
        Error::Probe { .. } | Error::Copy { .. } if not_found(&error) => {
            StoreNotFoundError::new_err(message)
        }
        Error::Probe { .. } | Error::Copy { .. } | Error::StoreSettings(..) => {
            StoreError::new_err(message)
        }
        Error::RegistryDenied { .. }
        | Error::CredentialsNeeded { .. }
        | Error::NoChallenge { .. }
        | Error::TokenDenied { .. }
        | Error::TokenService { .. }
        | Error::RegistryRequest { .. }
        | Error::RegistryUnavailable { .. }
        | Error::RegistryProtocol { .. }
        | Error::ManifestNotFound { .. } => RegistryError::new_err(message),
        Error::Json { .. }
        | Error::Ndjson { .. }
        | Error::NotStac { .. }
        | Error::InvalidItem { .. }
        | Error::TypeConflict { .. }
        | Error::StreamMisfit { .. }
        | Error::EmptyStream { .. }
        | Error::NotIpc { .. }
        | Error::WrongStreamKind { .. }
        | Error::UnknownStreamKind { .. }
        | Error::InvalidLock { .. }
        | Error::TruncatedStream { .. }
        | Error::InvalidShard { .. }
        | Error::ShardSet { .. }
        | Error::Arrow { .. } => InvalidInputError::new_err(message),
        Error::Object { .. } if not_found(&error) => StoreNotFoundError::new_err(message),
        Error::Object { .. } => StoreError::new_err(message),
        _ => StacpkgError::new_err(message),
    }
}

/// Library errors become Python exceptions; Python errors (Ctrl-C) pass through.
enum Failure {
    Library(Error),
    Python(PyErr),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Library(error)
    }
}

impl From<PyErr> for Failure {
    fn from(error: PyErr) -> Self {
        Failure::Python(error)
    }
}

impl From<Failure> for PyErr {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Library(error) => py_error(error),
            Failure::Python(error) => error,
        }
    }
}

/// Ctrl-C while the GIL is released: Python's signal handler only sets a flag, which this checks.
fn interrupted() -> PyResult<()> {
    Python::attach(|py| py.check_signals())
}

thread_local! {
    /// A Ctrl-C seen while the library was reading one of our inputs: the library fails with
    /// an input error and cleans up (temporary files, uploads), and the caller then gets the
    /// `KeyboardInterrupt` instead of that error. Signals are only seen on the main thread,
    /// which is also the thread that turns the library's error into an exception.
    static PENDING: std::cell::RefCell<Option<PyErr>> = const { std::cell::RefCell::new(None) };
}

/// `reader`, checking for Ctrl-C before each batch it hands to the library.
fn interruptible(reader: BatchReader, name: &str) -> BatchReader {
    let schema = reader.schema();
    let name = name.to_string();
    let mut reader = reader;
    BatchReader::new(
        schema,
        std::iter::from_fn(move || {
            if let Err(e) = interrupted() {
                PENDING.with(|pending| *pending.borrow_mut() = Some(e));
                return Some(Err(Error::Io {
                    action: "interrupted while reading",
                    path: name.clone(),
                    source: std::io::Error::from(std::io::ErrorKind::Interrupted),
                }));
            }
            reader.next()
        }),
    )
}

/// Counters shown to a progress callback.
type Counters = Vec<(&'static str, u64)>;

/// Run `work` while a thread of its own calls `progress` with a dict of `counters()` every half
/// second, and once more when the work ends. A callback that raises is not called again; its
/// exception is raised once the work is over (it does not stop it), unless the work failed.
fn with_progress<T: Send>(
    progress: Option<&Py<PyAny>>,
    counters: impl Fn() -> Counters + Sync,
    work: impl FnOnce() -> Result<T, Failure> + Send,
) -> Result<T, Failure> {
    let Some(progress) = progress else {
        return work();
    };
    let call = |failed: &mut Option<PyErr>| {
        if failed.is_some() {
            return;
        }
        Python::attach(|py| {
            let snapshot = PyDict::new(py);
            let result = counters()
                .into_iter()
                .try_for_each(|(name, value)| snapshot.set_item(name, value))
                .and_then(|()| progress.call1(py, (snapshot,)).map(drop));
            if let Err(e) = result {
                *failed = Some(e);
            }
        });
    };
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let ticker = scope.spawn(move || {
            let mut failed = None;
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(std::time::Duration::from_millis(500))
            {
                call(&mut failed);
            }
            call(&mut failed);
            failed
        });
        let out = work();
        drop(stop);
        let failed = ticker.join().unwrap_or_else(|_| {
            Some(StacpkgError::new_err(
                "the progress callback's thread panicked",
            ))
        });
        match (out, failed) {
            (Ok(_), Some(e)) => Err(Failure::Python(e)),
            (out, _) => out,
        }
    })
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(std::sync::atomic::Ordering::Relaxed)
}

/// Read every batch, checking for Ctrl-C between batches; dropping the reader stops its work.
fn collect(reader: BatchReader) -> Result<(SchemaRef, Vec<RecordBatch>), Failure> {
    let schema = reader.schema();
    let mut batches = Vec::new();
    for batch in reader {
        interrupted()?;
        // The stream's schema carries the table metadata (`geo`, `stacpkg:schema-kind`); a
        // pyarrow Table wants every batch to have exactly it.
        let batch = batch?;
        let batch = batch
            .with_schema(schema.clone())
            .map_err(|source| Error::Arrow {
                context: "failed to assemble the table".into(),
                source,
            })?;
        batches.push(batch);
    }
    Ok((schema, batches))
}

fn to_table(py: Python<'_>, schema: SchemaRef, batches: Vec<RecordBatch>) -> PyResult<Py<PyAny>> {
    let table = Table::try_new(batches, schema).map_err(|e| py_arrow_error(&e))?;
    Ok(table.into_pyarrow(py)?.unbind())
}

fn py_arrow_error(error: &ArrowError) -> PyErr {
    InvalidInputError::new_err(error.to_string())
}

/// A library batch stream as an Arrow reader for Python to pull from.
struct Batches(BatchReader);

impl Iterator for Batches {
    type Item = Result<RecordBatch, ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|batch| {
            batch.map_err(|e| ArrowError::ExternalError(Box::new(Message(one_line(&e)))))
        })
    }
}

impl RecordBatchReader for Batches {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }
}

/// An error text carried through Arrow's error type to Python.
#[derive(Debug)]
struct Message(String);

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

fn to_reader(py: Python<'_>, reader: BatchReader) -> PyResult<Py<PyAny>> {
    let reader: Box<dyn RecordBatchReader + Send> = Box::new(Batches(reader));
    Ok(reader.into_pyarrow(py)?.unbind())
}

/// Where a table argument comes from.
enum TableArg {
    Stream(RecordBatchStreamReader),
    Batch(RecordBatch),
    Path(PathBuf),
}

fn table_arg(value: &Bound<'_, PyAny>, parameter: &str) -> PyResult<TableArg> {
    if value.hasattr("__arrow_c_stream__")? {
        return Ok(TableArg::Stream(
            RecordBatchStreamReader::from_pyarrow_bound(value)?,
        ));
    }
    // One batch (a struct array whose fields are the columns), as nanoarrow and others export.
    if value.hasattr("__arrow_c_array__")? {
        return Ok(TableArg::Batch(RecordBatch::from_pyarrow_bound(value)?));
    }
    if let Ok(path) = value.extract::<PathBuf>() {
        return Ok(TableArg::Path(path));
    }
    Err(PyTypeError::new_err(format!(
        "argument '{parameter}': expected an Arrow table, stream or batch (an object with __arrow_c_stream__ or __arrow_c_array__) or a path, got {}",
        value.get_type().name()?
    )))
}

/// Whether a file is Parquet (`PAR1` first), else taken for an Arrow IPC stream.
fn is_parquet(path: &std::path::Path) -> stacpkg::Result<bool> {
    use std::io::Read;
    let input = path.display().to_string();
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).map_err(|source| Error::Io {
        action: "failed to open",
        path: input.clone(),
        source,
    })?;
    let read = file.read(&mut magic).map_err(|source| Error::Io {
        action: "failed to read",
        path: input,
        source,
    })?;
    Ok(read == 4 && &magic == b"PAR1")
}

impl TableArg {
    /// As a library batch stream of the `kind` of table; a stream of the other kind fails as
    /// it does on the command line. A path is a Parquet file (`items.parquet`,
    /// `assets.lock.parquet`) or an Arrow IPC stream (what the original's `*_stream`
    /// functions and the command line's pipes carry).
    fn into_batches(self, name: &str, kind: StreamKind) -> stacpkg::Result<BatchReader> {
        // A Ctrl-C left from an earlier call that ended without an error is stale.
        PENDING.with(|pending| pending.borrow_mut().take());
        Ok(interruptible(self.open(name, kind)?, name))
    }

    fn open(self, name: &str, kind: StreamKind) -> stacpkg::Result<BatchReader> {
        match self {
            TableArg::Path(path) if is_parquet(&path)? => match kind {
                StreamKind::Items => {
                    geoparquet::read(&path, items::DEFAULT_BATCH_SIZE, ItemFilter::default())
                }
                StreamKind::AssetLock => asset_lock::read_parquet(&path, items::DEFAULT_BATCH_SIZE),
            },
            TableArg::Path(path) => {
                let input = path.display().to_string();
                let file = std::fs::File::open(&path).map_err(|source| Error::Io {
                    action: "failed to open",
                    path: input.clone(),
                    source,
                })?;
                stacpkg::ipc::read_stream(file, &input, kind)
            }
            TableArg::Batch(batch) => {
                let schema = batch.schema();
                stacpkg::ipc::check_kind(&schema, name, kind)?;
                Ok(BatchReader::new(schema, std::iter::once(Ok(batch))))
            }
            TableArg::Stream(stream) => {
                let schema = stream.schema();
                stacpkg::ipc::check_kind(&schema, name, kind)?;
                let name = name.to_string();
                Ok(BatchReader::new(
                    schema,
                    stream.map(move |batch| {
                        batch.map_err(|source| Error::Arrow {
                            context: format!("failed to read the Arrow stream `{name}`"),
                            source,
                        })
                    }),
                ))
            }
        }
    }
}

/// Names from any iterable of strings (a set, list or tuple); a lone string is refused, since
/// iterating it would select single characters.
fn names(value: Option<&Bound<'_, PyAny>>, parameter: &str) -> PyResult<HashSet<String>> {
    let Some(value) = value else {
        return Ok(HashSet::new());
    };
    if value.is_none() {
        return Ok(HashSet::new());
    }
    let refuse = || {
        PyTypeError::new_err(format!(
            "argument '{parameter}': expected an iterable of strings such as a set, got {}",
            value
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    };
    if value.is_instance_of::<PyString>() {
        return Err(refuse());
    }
    let mut out = HashSet::new();
    for name in value.try_iter().map_err(|_| refuse())? {
        out.insert(name?.extract::<String>().map_err(|_| refuse())?);
    }
    Ok(out)
}

/// Store settings given in code: location prefix (`s3://bucket`, `az://container`,
/// `gs://bucket`) to options. They replace what the environment says about those locations;
/// the environment still configures the others, as on the command line.
type StoreSettings = Vec<(String, LocationOptions)>;

fn store_settings(value: Option<&Bound<'_, PyDict>>) -> PyResult<StoreSettings> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (prefix, options) in value.iter() {
        let prefix: String = prefix.extract().map_err(|_| {
            PyTypeError::new_err(
                "argument 'stores': keys must be location prefixes such as 's3://bucket'",
            )
        })?;
        let options = options.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err(format!(
                "argument 'stores': the options of `{prefix}` must be a dict"
            ))
        })?;
        out.push((prefix.clone(), location_options(&prefix, options)?));
    }
    Ok(out)
}

/// One location's options; names as obstore's (`aws_` prefixes optional), anything else passed
/// to the backend by its object_store configuration name.
fn location_options(prefix: &str, options: &Bound<'_, PyDict>) -> PyResult<LocationOptions> {
    let mut out = LocationOptions::default();
    for (key, value) in options.iter() {
        let key: String = key.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "argument 'stores': `{prefix}` has a key that is not a string"
            ))
        })?;
        let text = || -> PyResult<String> {
            value.extract::<String>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "argument 'stores': `{prefix}` option `{key}` must be a string"
                ))
            })
        };
        let flag = || -> PyResult<bool> {
            value.extract::<bool>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "argument 'stores': `{prefix}` option `{key}` must be a bool"
                ))
            })
        };
        match key.strip_prefix("aws_").unwrap_or(&key) {
            "endpoint" | "endpoint_url" => out.endpoint = Some(text()?),
            "region" => out.region = Some(text()?),
            "access_key_id" | "account_name" => out.access_key_id = Some(text()?),
            "secret_access_key" | "account_key" => out.secret_access_key = Some(text()?),
            "session_token" | "token" => out.session_token = Some(text()?),
            "skip_signature" | "anonymous" => out.anonymous = flag()?,
            "allow_http" => out.allow_http = flag()?,
            _ => {
                let value = match value.extract::<bool>() {
                    Ok(b) => b.to_string(),
                    Err(_) => text()?,
                };
                out.config.push((key.clone(), value));
            }
        }
    }
    Ok(out)
}

/// The stores of a call: the environment's rules (as `Stores::from_env`), with the locations
/// given in code replacing theirs.
fn make_stores(settings: StoreSettings) -> Result<Stores, Failure> {
    let failed = |e| Failure::Library(Error::StoreSettings(e));
    if settings.is_empty() {
        return Stores::from_env().map_err(failed);
    }
    let retries = stacpkg::store::max_retries_from_env().map_err(failed)?;
    let cwd = std::env::current_dir().map_err(|e| {
        failed(stacpkg::store::StoreError::Config(format!(
            "cannot read the working directory: {e}"
        )))
    })?;
    let mut builder = Stores::builder()
        .environment_vars(std::env::vars())
        .working_dir(cwd)
        .retry(stacpkg::net::RetryPolicy {
            max_retries: u32::try_from(retries).unwrap_or(u32::MAX),
            ..stacpkg::net::RetryPolicy::default()
        });
    for (prefix, options) in settings {
        builder = builder.location(&prefix, options).map_err(failed)?;
    }
    builder.build().map_err(failed)
}

fn read_options(
    item_ids: Option<&Bound<'_, PyAny>>,
    collections: Option<&Bound<'_, PyAny>>,
    providers: Option<&Bound<'_, PyAny>>,
    batch_size: Option<usize>,
) -> PyResult<ReadOptions> {
    let mut options = ReadOptions {
        filter: ItemFilter {
            item_ids: names(item_ids, "item_ids")?,
            collections: names(collections, "collections")?,
            providers: names(providers, "providers")?,
        },
        ..ReadOptions::default()
    };
    if let Some(size) = batch_size {
        if size == 0 {
            return Err(PyValueError::new_err(
                "argument 'batch_size': must be at least 1",
            ));
        }
        options.batch_size = size;
    }
    Ok(options)
}

/// Read STAC JSON (an Item, ItemCollection or FeatureCollection) into an items table.
#[pyfunction]
#[pyo3(signature = (path, *, item_ids=None, collections=None, providers=None, batch_size=None))]
fn read_stac_json(
    py: Python<'_>,
    path: PathBuf,
    item_ids: Option<&Bound<'_, PyAny>>,
    collections: Option<&Bound<'_, PyAny>>,
    providers: Option<&Bound<'_, PyAny>>,
    batch_size: Option<usize>,
) -> PyResult<Py<PyAny>> {
    let options = read_options(item_ids, collections, providers, batch_size)?;
    let (schema, batches) =
        py.detach(|| collect(items::read_stac(Input::Path(path), Format::Json, options)?))?;
    to_table(py, schema, batches)
}

/// Read STAC NDJSON (one Item or collection per line) into an items table.
#[pyfunction]
#[pyo3(signature = (path, *, item_ids=None, collections=None, providers=None, stream=false, batch_size=None))]
fn read_stac_ndjson(
    py: Python<'_>,
    path: PathBuf,
    item_ids: Option<&Bound<'_, PyAny>>,
    collections: Option<&Bound<'_, PyAny>>,
    providers: Option<&Bound<'_, PyAny>>,
    stream: bool,
    batch_size: Option<usize>,
) -> PyResult<Py<PyAny>> {
    let mut options = read_options(item_ids, collections, providers, batch_size)?;
    options.stream = stream;
    let (schema, batches) = py.detach(|| {
        collect(items::read_stac(
            Input::Path(path),
            Format::Ndjson,
            options,
        )?)
    })?;
    to_table(py, schema, batches)
}

/// As `read_stac_json`, as a RecordBatchReader: batches are made as they are read.
#[pyfunction]
#[pyo3(signature = (path, *, item_ids=None, collections=None, providers=None, batch_size=None))]
fn read_stac_json_stream(
    py: Python<'_>,
    path: PathBuf,
    item_ids: Option<&Bound<'_, PyAny>>,
    collections: Option<&Bound<'_, PyAny>>,
    providers: Option<&Bound<'_, PyAny>>,
    batch_size: Option<usize>,
) -> PyResult<Py<PyAny>> {
    let options = read_options(item_ids, collections, providers, batch_size)?;
    let reader = py
        .detach(|| items::read_stac(Input::Path(path), Format::Json, options))
        .map_err(py_error)?;
    to_reader(py, reader)
}

/// As `read_stac_ndjson`, as a RecordBatchReader: batches are made as they are read.
#[pyfunction]
#[pyo3(signature = (path, *, item_ids=None, collections=None, providers=None, stream=false, batch_size=None))]
fn read_stac_ndjson_stream(
    py: Python<'_>,
    path: PathBuf,
    item_ids: Option<&Bound<'_, PyAny>>,
    collections: Option<&Bound<'_, PyAny>>,
    providers: Option<&Bound<'_, PyAny>>,
    stream: bool,
    batch_size: Option<usize>,
) -> PyResult<Py<PyAny>> {
    let mut options = read_options(item_ids, collections, providers, batch_size)?;
    options.stream = stream;
    let reader = py
        .detach(|| items::read_stac(Input::Path(path), Format::Ndjson, options))
        .map_err(py_error)?;
    to_reader(py, reader)
}

/// Read an items GeoParquet file (as `items from-parquet`).
#[pyfunction]
#[pyo3(signature = (path, *, item_ids=None, collections=None, providers=None))]
fn read_items_geoparquet(
    py: Python<'_>,
    path: PathBuf,
    item_ids: Option<&Bound<'_, PyAny>>,
    collections: Option<&Bound<'_, PyAny>>,
    providers: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let filter = read_options(item_ids, collections, providers, None)?.filter;
    let (schema, batches) =
        py.detach(|| collect(geoparquet::read(&path, items::DEFAULT_BATCH_SIZE, filter)?))?;
    to_table(py, schema, batches)
}

/// Write an items table or stream as STAC GeoParquet, atomically; returns what was written.
#[pyfunction]
fn write_items_geoparquet_stream<'py>(
    py: Python<'py>,
    source: &Bound<'py, PyAny>,
    output_path: PathBuf,
) -> PyResult<Bound<'py, PyDict>> {
    let source = table_arg(source, "source")?;
    let report = py
        .detach(|| {
            let reader = source.into_batches("source", StreamKind::Items)?;
            geoparquet::write(reader, &output_path)
        })
        .map_err(py_error)?;
    let out = PyDict::new(py);
    out.set_item("rows", report.rows)?;
    out.set_item("row_groups", report.row_groups)?;
    out.set_item("secret_hrefs", report.secret_hrefs)?;
    Ok(out)
}

/// Write items (a table, a stream, or a path) back out as STAC: one Item per line
/// (`shape="lines"`, `items to-ndjson`) or one ItemCollection (`shape="collection"`,
/// `items to-json`), atomically; every value as it was read.
#[pyfunction]
#[pyo3(signature = (items, output_path, *, shape="lines"))]
fn write_items_stac_json<'py>(
    py: Python<'py>,
    items: &Bound<'py, PyAny>,
    output_path: PathBuf,
    shape: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let items = table_arg(items, "items")?;
    let shape = match shape {
        "lines" => items::feature::JsonShape::Lines,
        "collection" => items::feature::JsonShape::Collection,
        other => {
            return Err(PyValueError::new_err(format!(
                "argument 'shape': expected 'lines' or 'collection', got {other:?}"
            )));
        }
    };
    let report = py
        .detach(|| {
            let reader = items.into_batches("items", StreamKind::Items)?;
            items::feature::write_file(reader, &output_path, shape)
        })
        .map_err(py_error)?;
    let out = PyDict::new(py);
    out.set_item("items", report.items)?;
    out.set_item("secret_hrefs", report.secret_hrefs)?;
    Ok(out)
}

fn strategy(text: &str) -> PyResult<Strategy> {
    text.parse()
        .map_err(|e| PyValueError::new_err(format!("argument 'checksum': {e}")))
}

/// `shard=`: `"K/N"`, or `"auto"` from the scheduler's environment variables (Slurm arrays,
/// Kubernetes Indexed Jobs, AWS Batch arrays), as `--shard` reads them.
fn shard_arg(shard: Option<&str>) -> PyResult<Option<asset_lock::Shard>> {
    let Some(text) = shard else {
        return Ok(None);
    };
    let shard = if text == "auto" {
        asset_lock::Shard::from_scheduler(|name| std::env::var(name).ok())
    } else {
        asset_lock::Shard::parse(text)
    };
    shard
        .map(Some)
        .map_err(|e| PyValueError::new_err(format!("argument 'shard': {e}")))
}

/// The derive options of `derive_asset_lock` and `derive_asset_lock_stream`.
#[allow(clippy::too_many_arguments)]
fn derive_options(
    probe_metadata: bool,
    item_ids: Option<&Bound<'_, PyAny>>,
    providers: Option<&Bound<'_, PyAny>>,
    asset_keys: Option<&Bound<'_, PyAny>>,
    include_metadata_assets: bool,
    keep_going: bool,
    max_workers: Option<usize>,
    checksum: &str,
    shard: Option<&str>,
) -> PyResult<DeriveOptions> {
    let mut options = DeriveOptions {
        probe: probe_metadata,
        filter: ItemFilter {
            item_ids: names(item_ids, "item_ids")?,
            providers: names(providers, "providers")?,
            ..ItemFilter::default()
        },
        asset_keys: names(asset_keys, "asset_keys")?,
        include_metadata_assets,
        keep_going,
        checksum: strategy(checksum)?,
        shard: shard_arg(shard)?,
        ..DeriveOptions::default()
    };
    if let Some(workers) = max_workers {
        options.max_workers = workers.max(1);
    }
    Ok(options)
}

/// As `derive_asset_lock`, as a RecordBatchReader: items are read and objects probed as the
/// lock is read, so a pipeline of any length stays flat in memory. Probing stops when the
/// reader is closed or dropped.
#[pyfunction]
#[pyo3(signature = (items, *, probe_metadata=true, item_ids=None, providers=None, asset_keys=None, include_metadata_assets=false, keep_going=false, max_workers=None, checksum="metadata", stores=None, shard=None))]
#[allow(clippy::too_many_arguments)]
fn derive_asset_lock_stream(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    probe_metadata: bool,
    item_ids: Option<&Bound<'_, PyAny>>,
    providers: Option<&Bound<'_, PyAny>>,
    asset_keys: Option<&Bound<'_, PyAny>>,
    include_metadata_assets: bool,
    keep_going: bool,
    max_workers: Option<usize>,
    checksum: &str,
    stores: Option<&Bound<'_, PyDict>>,
    shard: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let settings = store_settings(stores)?;
    let items = table_arg(items, "items")?;
    let options = derive_options(
        probe_metadata,
        item_ids,
        providers,
        asset_keys,
        include_metadata_assets,
        keep_going,
        max_workers,
        checksum,
        shard,
    )?;
    let lock = py.detach(|| -> Result<_, Failure> {
        let stores = make_stores(settings)?;
        // Read lazily on the library's threads, where no Ctrl-C can be seen: not wrapped.
        let items = items.open("items", StreamKind::Items)?;
        Ok(asset_lock::derive(items, &stores, options, |_| {})?.0)
    })?;
    to_reader(py, lock)
}

/// Derive an asset lock (one row per asset) from items, probing each object unless
/// `probe_metadata` is false. With `shard="K/N"` (or `"auto"`), only shard K's rows, each with
/// its position in the whole lock: `read_asset_lock_parquet` merges the shards' files.
#[pyfunction]
#[pyo3(signature = (items, *, probe_metadata=true, item_ids=None, providers=None, asset_keys=None, include_metadata_assets=false, keep_going=false, max_workers=None, checksum="metadata", stores=None, progress=None, shard=None))]
#[allow(clippy::too_many_arguments)]
fn derive_asset_lock(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    probe_metadata: bool,
    item_ids: Option<&Bound<'_, PyAny>>,
    providers: Option<&Bound<'_, PyAny>>,
    asset_keys: Option<&Bound<'_, PyAny>>,
    include_metadata_assets: bool,
    keep_going: bool,
    max_workers: Option<usize>,
    checksum: &str,
    stores: Option<&Bound<'_, PyDict>>,
    progress: Option<&Bound<'_, PyAny>>,
    shard: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let settings = store_settings(stores)?;
    let items = table_arg(items, "items")?;
    let options = derive_options(
        probe_metadata,
        item_ids,
        providers,
        asset_keys,
        include_metadata_assets,
        keep_going,
        max_workers,
        checksum,
        shard,
    )?;
    let progress = progress.map(|p| p.clone().unbind());
    let (schema, batches) = py.detach(|| -> Result<_, Failure> {
        let stores = make_stores(settings)?;
        let items = items.into_batches("items", StreamKind::Items)?;
        let (lock, report) = asset_lock::derive(items, &stores, options, |_| {})?;
        let counters = || {
            vec![
                ("rows", load(&report.rows)),
                ("failed", load(&report.failed)),
                ("hashed", load(&report.hashed)),
                ("to_hash", load(&report.to_hash)),
                ("bytes_hashed", load(&report.bytes_hashed)),
            ]
        };
        with_progress(progress.as_ref(), counters, || collect(lock))
    })?;
    to_table(py, schema, batches)
}

/// Check every lock row's object against the lock; returns one dict per row, as the original.
#[pyfunction]
#[pyo3(signature = (assets, *, item_ids=None, asset_keys=None, keep_going=false, max_workers=None, verify_checksums=false, stores=None, shard=None))]
#[allow(clippy::too_many_arguments)]
fn validate_assets<'py>(
    py: Python<'py>,
    assets: &Bound<'py, PyAny>,
    item_ids: Option<&Bound<'py, PyAny>>,
    asset_keys: Option<&Bound<'py, PyAny>>,
    keep_going: bool,
    max_workers: Option<usize>,
    verify_checksums: bool,
    stores: Option<&Bound<'py, PyDict>>,
    shard: Option<&str>,
) -> PyResult<Bound<'py, PyList>> {
    let settings = store_settings(stores)?;
    let assets = table_arg(assets, "assets")?;
    let mut options = ValidateOptions {
        item_ids: names(item_ids, "item_ids")?,
        asset_keys: names(asset_keys, "asset_keys")?,
        keep_going,
        verify_checksums,
        shard: shard_arg(shard)?,
        ..ValidateOptions::default()
    };
    if let Some(workers) = max_workers {
        options.max_workers = workers.max(1);
    }
    let results = py.detach(|| -> Result<Vec<asset_lock::Validation>, Failure> {
        let stores = make_stores(settings)?;
        let lock = assets.into_batches("assets", StreamKind::AssetLock)?;
        let mut results = Vec::new();
        let mut python_error = None;
        let outcome = asset_lock::validate(lock, &stores, options, |event| {
            if let Err(e) = interrupted() {
                python_error = Some(e);
                return Err(Error::OutputClosed);
            }
            if let ValidateEvent::Result(result) = event {
                results.push(result.clone());
            }
            Ok(())
        });
        if let Some(e) = python_error {
            return Err(Failure::Python(e));
        }
        outcome?;
        Ok(results)
    })?;
    let out = PyList::empty(py);
    for result in results {
        let row = PyDict::new(py);
        row.set_item("item_id", &result.item_id)?;
        row.set_item("asset_key", &result.asset_key)?;
        row.set_item("store_type", &result.store_type)?;
        row.set_item("store_container", &result.store_container)?;
        if result.store_endpoint_url.is_some() {
            row.set_item("store_endpoint_url", &result.store_endpoint_url)?;
        }
        row.set_item("key", &result.key)?;
        row.set_item("valid", result.valid())?;
        row.set_item("errors", &result.errors)?;
        out.append(row)?;
    }
    Ok(out)
}

/// Write an asset lock table or stream as `assets.lock.parquet`, atomically: to a path, or to
/// an `s3://`, `az://`, `gs://` or `file://` URL through `stores` (an upload that fails leaves
/// no object). A shard's table keeps its positions, so that the shard files can be merged.
#[pyfunction]
#[pyo3(signature = (source, output_path, *, stores=None))]
fn write_asset_lock_parquet_stream<'py>(
    py: Python<'py>,
    source: &Bound<'py, PyAny>,
    output_path: PathBuf,
    stores: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let source = table_arg(source, "source")?;
    let settings = store_settings(stores)?;
    let output = FileRef::parse(&output_path.to_string_lossy()).map_err(py_error)?;
    let report = py.detach(|| -> Result<_, Failure> {
        let stores = match &output {
            FileRef::Object(_) => make_stores(settings)?,
            FileRef::Local(_) => Stores::builder().build().map_err(Error::StoreSettings)?,
        };
        let reader = source.into_batches("source", StreamKind::AssetLock)?;
        Ok(asset_lock::write_parquet_to(
            reader,
            &output,
            &stores,
            &stacpkg::runtime::Runtime::Own,
        )?)
    })?;
    let out = PyDict::new(py);
    out.set_item("rows", report.rows)?;
    out.set_item("queries_dropped", report.queries_dropped)?;
    out.set_item("credentials_dropped", report.credentials_dropped)?;
    Ok(out)
}

/// Read asset-lock Parquet files (paths, URLs, or patterns with `*` and `?`) as one lock table,
/// as `asset-lock from-parquet` does: the shard files of a sharded run are merged into its whole
/// lock in the unsharded order (a set that is not all the shards of one run is refused), and
/// one file named alone is read as it is (a shard file stays that shard).
#[pyfunction]
#[pyo3(signature = (paths, *, stores=None))]
fn read_asset_lock_parquet(
    py: Python<'_>,
    paths: &Bound<'_, PyAny>,
    stores: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let patterns: Vec<String> = if let Ok(one) = paths.extract::<PathBuf>() {
        vec![one.to_string_lossy().into_owned()]
    } else {
        paths
            .extract::<Vec<PathBuf>>()
            .map_err(|_| {
                PyTypeError::new_err("argument 'paths': expected a path, a URL, or a list of them")
            })?
            .into_iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect()
    };
    if patterns.is_empty() {
        return Err(PyValueError::new_err("argument 'paths': no files given"));
    }
    let settings = store_settings(stores)?;
    let (schema, batches) = py.detach(|| -> Result<_, Failure> {
        let stores = if patterns.iter().any(|p| p.contains("://")) {
            make_stores(settings)?
        } else {
            Stores::builder().build().map_err(Error::StoreSettings)?
        };
        let runtime = stacpkg::runtime::Runtime::Own;
        let files = stacpkg::files::expand(&patterns, &stores, &runtime)?;
        let one = matches!(patterns.as_slice(), [p] if !p.contains(['*', '?']));
        let reader = match files.as_slice() {
            [file] if one => {
                asset_lock::read_parquet_at(file, items::DEFAULT_BATCH_SIZE, &stores, &runtime)?
            }
            _ => asset_lock::read_parquet_files(
                &files,
                items::DEFAULT_BATCH_SIZE,
                &stores,
                &runtime,
            )?,
        };
        collect(reader)
    })?;
    to_table(py, schema, batches)
}

/// Apply an items-to-items projection, with the GIL released, and return the table.
fn project_items(
    py: Python<'_>,
    lazy: bool,
    items: TableArg,
    project: impl FnOnce(BatchReader) -> stacpkg::Result<BatchReader> + Send,
) -> PyResult<Py<PyAny>> {
    if lazy {
        // Batches are made as Python reads them, on threads where no Ctrl-C can be seen: the
        // input is not wrapped.
        let reader = py
            .detach(|| project(items.open("items", StreamKind::Items)?))
            .map_err(py_error)?;
        return to_reader(py, reader);
    }
    let (schema, batches) = py.detach(|| {
        let items = items.into_batches("items", StreamKind::Items)?;
        collect(project(items)?)
    })?;
    to_table(py, schema, batches)
}

fn lock_index(asset_lock: TableArg) -> stacpkg::Result<project::LockIndex> {
    project::LockIndex::from_lock(asset_lock.into_batches("asset_lock", StreamKind::AssetLock)?)
}

/// Keep the items with one of the `item_ids`, in one of the `collections`, with a provider
/// among `providers` (every selection given must match), as `--item-ids`/`--collections`/
/// `--providers` do; column buffers of kept rows are shared, not copied, where Arrow can.
#[pyfunction]
#[pyo3(signature = (items, *, item_ids=None, collections=None, providers=None))]
fn filter_items(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    item_ids: Option<&Bound<'_, PyAny>>,
    collections: Option<&Bound<'_, PyAny>>,
    providers: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    filter_items_impl(py, items, item_ids, collections, providers, false)
}

/// As `filter_items`, as a RecordBatchReader: batches are made as they are read.
#[pyfunction]
#[pyo3(signature = (items, *, item_ids=None, collections=None, providers=None))]
fn filter_items_stream(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    item_ids: Option<&Bound<'_, PyAny>>,
    collections: Option<&Bound<'_, PyAny>>,
    providers: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    filter_items_impl(py, items, item_ids, collections, providers, true)
}

fn filter_items_impl(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    item_ids: Option<&Bound<'_, PyAny>>,
    collections: Option<&Bound<'_, PyAny>>,
    providers: Option<&Bound<'_, PyAny>>,
    lazy: bool,
) -> PyResult<Py<PyAny>> {
    let items = table_arg(items, "items")?;
    let filter = read_options(item_ids, collections, providers, None)?.filter;
    project_items(py, lazy, items, move |items| {
        let schema = items.schema();
        Ok(BatchReader::new(
            schema,
            items.map(move |batch| {
                filter.apply(batch?).map_err(|source| Error::Arrow {
                    context: "failed to select items".into(),
                    source,
                })
            }),
        ))
    })
}

/// The original converted the JSON-text table of its `read_stac_json` here. Every items table
/// of this module already has the STAC GeoParquet shape: it is checked and returned as it is.
#[pyfunction]
fn items_table_to_geoparquet_table(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    if let Ok(names) = items.getattr("column_names")
        && names.contains("assets_json")?
    {
        return Err(InvalidInputError::new_err(
            "argument 'items': a table of JSON-text columns (`assets_json`, from the original's read_stac_json); read the STAC with stacpkg_rs.read_stac_json or read_stac_ndjson, which return the GeoParquet shape",
        ));
    }
    let items = table_arg(items, "items")?;
    project_items(py, false, items, Ok)
}

/// Write each asset's lock facts into the items: `file:size` and `file:checksum`, and with
/// `alternate_key` the lock's location as that alternate href.
#[pyfunction]
#[pyo3(signature = (items, asset_lock, *, alternate_key=None))]
fn enrich_items(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    asset_lock: &Bound<'_, PyAny>,
    alternate_key: Option<String>,
) -> PyResult<Py<PyAny>> {
    enrich_items_impl(py, items, asset_lock, alternate_key, false)
}

/// As `enrich_items`, as a RecordBatchReader: batches are made as they are read.
#[pyfunction]
#[pyo3(signature = (items, asset_lock, *, alternate_key=None))]
fn enrich_items_stream(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    asset_lock: &Bound<'_, PyAny>,
    alternate_key: Option<String>,
) -> PyResult<Py<PyAny>> {
    enrich_items_impl(py, items, asset_lock, alternate_key, true)
}

fn enrich_items_impl(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    asset_lock: &Bound<'_, PyAny>,
    alternate_key: Option<String>,
    lazy: bool,
) -> PyResult<Py<PyAny>> {
    let items = table_arg(items, "items")?;
    let asset_lock = table_arg(asset_lock, "asset_lock")?;
    project_items(py, lazy, items, move |items| {
        project::enrich(items, lock_index(asset_lock)?, alternate_key)
    })
}

/// Add each asset's lock location as an alternate href (`alternate.<alternate_key>`).
#[pyfunction]
#[pyo3(signature = (items, asset_lock, *, alternate_key, alternate_name=None))]
fn add_alternate_asset_hrefs(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    asset_lock: &Bound<'_, PyAny>,
    alternate_key: String,
    alternate_name: Option<String>,
) -> PyResult<Py<PyAny>> {
    add_alternate_asset_hrefs_impl(py, items, asset_lock, alternate_key, alternate_name, false)
}

/// As `add_alternate_asset_hrefs`, as a RecordBatchReader: batches are made as they are read.
#[pyfunction]
#[pyo3(signature = (items, asset_lock, *, alternate_key, alternate_name=None))]
fn add_alternate_asset_hrefs_stream(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    asset_lock: &Bound<'_, PyAny>,
    alternate_key: String,
    alternate_name: Option<String>,
) -> PyResult<Py<PyAny>> {
    add_alternate_asset_hrefs_impl(py, items, asset_lock, alternate_key, alternate_name, true)
}

fn add_alternate_asset_hrefs_impl(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    asset_lock: &Bound<'_, PyAny>,
    alternate_key: String,
    alternate_name: Option<String>,
    lazy: bool,
) -> PyResult<Py<PyAny>> {
    let items = table_arg(items, "items")?;
    let asset_lock = table_arg(asset_lock, "asset_lock")?;
    project_items(py, lazy, items, move |items| {
        project::add_alternate(
            items,
            lock_index(asset_lock)?,
            alternate_key,
            alternate_name,
        )
    })
}

/// Make an alternate href the primary one: `mode="replace"` keeps the alternates (all dropped
/// with `drop_alternates`), `mode="switch"` swaps primary and alternate.
#[pyfunction]
#[pyo3(signature = (items, *, alternate_key, mode="replace", drop_alternates=false, switched_alternate_name=project::DEFAULT_SWITCHED_NAME.to_string()))]
fn promote_alternate_asset_hrefs(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    alternate_key: String,
    mode: &str,
    drop_alternates: bool,
    switched_alternate_name: String,
) -> PyResult<Py<PyAny>> {
    promote_alternate_asset_hrefs_impl(
        py,
        items,
        alternate_key,
        mode,
        drop_alternates,
        switched_alternate_name,
        false,
    )
}

/// As `promote_alternate_asset_hrefs`, as a RecordBatchReader: batches are made as they are read.
#[pyfunction]
#[pyo3(signature = (items, *, alternate_key, mode="replace", drop_alternates=false, switched_alternate_name=project::DEFAULT_SWITCHED_NAME.to_string()))]
fn promote_alternate_asset_hrefs_stream(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    alternate_key: String,
    mode: &str,
    drop_alternates: bool,
    switched_alternate_name: String,
) -> PyResult<Py<PyAny>> {
    promote_alternate_asset_hrefs_impl(
        py,
        items,
        alternate_key,
        mode,
        drop_alternates,
        switched_alternate_name,
        true,
    )
}

fn promote_alternate_asset_hrefs_impl(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    alternate_key: String,
    mode: &str,
    drop_alternates: bool,
    switched_alternate_name: String,
    lazy: bool,
) -> PyResult<Py<PyAny>> {
    let items = table_arg(items, "items")?;
    let mode = match mode {
        "replace" => project::PromoteMode::Replace,
        "switch" => project::PromoteMode::Switch,
        other => {
            return Err(PyValueError::new_err(format!(
                "argument 'mode': expected 'replace' or 'switch', got {other:?}"
            )));
        }
    };
    let options = project::PromoteOptions {
        key: alternate_key,
        mode,
        switched_name: switched_alternate_name,
        drop_alternates,
    };
    project_items(py, lazy, items, move |items| {
        project::promote_alternate(items, options)
    })
}

/// Remove the alternate href `alternate_key` from every asset.
#[pyfunction]
#[pyo3(signature = (items, *, alternate_key))]
fn remove_alternate_asset_hrefs(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    alternate_key: String,
) -> PyResult<Py<PyAny>> {
    remove_alternate_asset_hrefs_impl(py, items, alternate_key, false)
}

/// As `remove_alternate_asset_hrefs`, as a RecordBatchReader: batches are made as they are read.
#[pyfunction]
#[pyo3(signature = (items, *, alternate_key))]
fn remove_alternate_asset_hrefs_stream(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    alternate_key: String,
) -> PyResult<Py<PyAny>> {
    remove_alternate_asset_hrefs_impl(py, items, alternate_key, true)
}

fn remove_alternate_asset_hrefs_impl(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    alternate_key: String,
    lazy: bool,
) -> PyResult<Py<PyAny>> {
    let items = table_arg(items, "items")?;
    project_items(py, lazy, items, move |items| {
        project::remove_alternate(items, alternate_key)
    })
}

/// The destination of a relocation under a store, as `asset-lock relocate --store-type` plans it.
fn plan(
    store_type: String,
    store_container: Option<String>,
    store_endpoint_url: Option<String>,
    key: Option<String>,
    source_prefix: Option<String>,
    layout: &str,
) -> PyResult<asset_lock::Destination> {
    let layout = match layout {
        "item-asset" => asset_lock::KeyLayout::ItemAsset,
        "source-key" => asset_lock::KeyLayout::SourceKey,
        other => {
            return Err(PyValueError::new_err(format!(
                "argument 'layout': expected 'item-asset' or 'source-key', got {other:?}"
            )));
        }
    };
    let plan = asset_lock::PlanOptions {
        store_type,
        store_container,
        store_endpoint_url,
        key_prefix: key.unwrap_or_default(),
        source_prefix,
        layout,
    };
    plan.check()
        .map_err(|e| PyValueError::new_err(one_line(&e)))?;
    Ok(asset_lock::Destination::Plan(plan))
}

/// How objects are copied: the command line's defaults unless given.
struct CopySettings {
    /// Plan only: nothing is copied.
    dry_run: bool,
    overwrite: bool,
    keep_going: bool,
    max_workers: Option<usize>,
    memory_limit_bytes: Option<u64>,
    chunk_size_bytes: Option<usize>,
    put_max_concurrency: Option<usize>,
    shard: Option<asset_lock::Shard>,
}

/// Relocate (or with `dry_run` only plan) the rows of `source`; returns the destination lock.
fn relocation(
    py: Python<'_>,
    source: TableArg,
    destination: asset_lock::Destination,
    settings: CopySettings,
    stores: StoreSettings,
    progress: Option<Py<PyAny>>,
    before: impl FnOnce() -> stacpkg::Result<()> + Send,
) -> PyResult<Py<PyAny>> {
    let options = relocate_options(destination, settings);
    let (schema, batches) = py.detach(|| -> Result<_, Failure> {
        before()?;
        let stores = make_stores(stores)?;
        let lock = source.into_batches("asset_lock", StreamKind::AssetLock)?;
        let (relocated, report) = asset_lock::relocate(lock, &stores, options, |_| {})?;
        let counters = || {
            vec![
                ("rows", load(&report.rows)),
                ("to_copy", load(&report.to_copy)),
                ("bytes_to_copy", load(&report.bytes_to_copy)),
                ("copied", load(&report.copied)),
                ("kept", load(&report.kept)),
                ("failed", load(&report.failed)),
                ("bytes", load(&report.progress.bytes)),
            ]
        };
        with_progress(progress.as_ref(), counters, || collect(relocated))
    })?;
    to_table(py, schema, batches)
}

fn relocate_options(
    destination: asset_lock::Destination,
    settings: CopySettings,
) -> asset_lock::RelocateOptions {
    let mut options = asset_lock::RelocateOptions::to(destination);
    options.dry_run = settings.dry_run;
    options.keep_going = settings.keep_going;
    options.copy.overwrite = settings.overwrite;
    if let Some(workers) = settings.max_workers {
        options.max_workers = workers.max(1);
    }
    if let Some(limit) = settings.memory_limit_bytes {
        options.memory_limit = limit;
    }
    if let Some(size) = settings.chunk_size_bytes {
        options.copy.chunk_size = size;
    }
    if let Some(parts) = settings.put_max_concurrency {
        options.copy.put_max_concurrency = parts.max(1);
    }
    options.shard = settings.shard;
    options
}

/// Where each lock row would go under a store (the original's planning function): the
/// destination lock, nothing copied (`asset-lock relocate --dry-run`).
#[pyfunction]
#[pyo3(signature = (asset_lock, *, store_type, store_container=None, store_endpoint_url=None, key=None, source_prefix=None, layout="item-asset", stores=None, progress=None))]
#[allow(clippy::too_many_arguments)]
fn relocate_asset_locations(
    py: Python<'_>,
    asset_lock: &Bound<'_, PyAny>,
    store_type: String,
    store_container: Option<String>,
    store_endpoint_url: Option<String>,
    key: Option<String>,
    source_prefix: Option<String>,
    layout: &str,
    stores: Option<&Bound<'_, PyDict>>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let source = table_arg(asset_lock, "asset_lock")?;
    let destination = plan(
        store_type,
        store_container,
        store_endpoint_url,
        key,
        source_prefix,
        layout,
    )?;
    let settings = CopySettings {
        dry_run: true,
        overwrite: true,
        keep_going: false,
        max_workers: None,
        memory_limit_bytes: None,
        chunk_size_bytes: None,
        put_max_concurrency: None,
        shard: None,
    };
    relocation(
        py,
        source,
        destination,
        settings,
        store_settings(stores)?,
        progress.map(|p| p.clone().unbind()),
        || Ok(()),
    )
}

/// Copy every lock row's object to a store and return the destination lock with the facts of
/// the copies (`asset-lock relocate`); bytes are hashed on the way and checked against the
/// source's checksum. With `shard="K/N"` (or `"auto"`), only shard K's rows are copied and
/// returned, each with its position in the whole lock.
#[pyfunction]
#[pyo3(signature = (asset_lock, *, store_type, store_container=None, store_endpoint_url=None, key=None, source_prefix=None, layout="item-asset", overwrite=true, keep_going=false, max_workers=None, memory_limit_bytes=None, chunk_size_bytes=None, put_max_concurrency=None, stores=None, progress=None, shard=None))]
#[allow(clippy::too_many_arguments)]
fn relocate_assets(
    py: Python<'_>,
    asset_lock: &Bound<'_, PyAny>,
    store_type: String,
    store_container: Option<String>,
    store_endpoint_url: Option<String>,
    key: Option<String>,
    source_prefix: Option<String>,
    layout: &str,
    overwrite: bool,
    keep_going: bool,
    max_workers: Option<usize>,
    memory_limit_bytes: Option<u64>,
    chunk_size_bytes: Option<usize>,
    put_max_concurrency: Option<usize>,
    stores: Option<&Bound<'_, PyDict>>,
    progress: Option<&Bound<'_, PyAny>>,
    shard: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let source = table_arg(asset_lock, "asset_lock")?;
    let destination = plan(
        store_type,
        store_container,
        store_endpoint_url,
        key,
        source_prefix,
        layout,
    )?;
    let settings = CopySettings {
        dry_run: false,
        overwrite,
        keep_going,
        max_workers,
        memory_limit_bytes,
        chunk_size_bytes,
        put_max_concurrency,
        shard: shard_arg(shard)?,
    };
    relocation(
        py,
        source,
        destination,
        settings,
        store_settings(stores)?,
        progress.map(|p| p.clone().unbind()),
        || Ok(()),
    )
}

/// As `relocate_assets`, as a RecordBatchReader: objects are copied as the destination lock is
/// read (a few batches ahead), so a lock of any length relocates in flat memory; copying stops
/// when the reader is closed or dropped.
#[pyfunction]
#[pyo3(signature = (asset_lock, *, store_type, store_container=None, store_endpoint_url=None, key=None, source_prefix=None, layout="item-asset", overwrite=true, keep_going=false, max_workers=None, memory_limit_bytes=None, chunk_size_bytes=None, put_max_concurrency=None, stores=None, shard=None))]
#[allow(clippy::too_many_arguments)]
fn relocate_assets_stream(
    py: Python<'_>,
    asset_lock: &Bound<'_, PyAny>,
    store_type: String,
    store_container: Option<String>,
    store_endpoint_url: Option<String>,
    key: Option<String>,
    source_prefix: Option<String>,
    layout: &str,
    overwrite: bool,
    keep_going: bool,
    max_workers: Option<usize>,
    memory_limit_bytes: Option<u64>,
    chunk_size_bytes: Option<usize>,
    put_max_concurrency: Option<usize>,
    stores: Option<&Bound<'_, PyDict>>,
    shard: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let source = table_arg(asset_lock, "asset_lock")?;
    let settings = store_settings(stores)?;
    let destination = plan(
        store_type,
        store_container,
        store_endpoint_url,
        key,
        source_prefix,
        layout,
    )?;
    let options = relocate_options(
        destination,
        CopySettings {
            dry_run: false,
            overwrite,
            keep_going,
            max_workers,
            memory_limit_bytes,
            chunk_size_bytes,
            put_max_concurrency,
            shard: shard_arg(shard)?,
        },
    );
    let relocated = py.detach(|| -> Result<_, Failure> {
        let stores = make_stores(settings)?;
        // Read lazily on the library's threads, where no Ctrl-C can be seen: not wrapped.
        let lock = source.open("asset_lock", StreamKind::AssetLock)?;
        Ok(asset_lock::relocate(lock, &stores, options, |_| {})?.0)
    })?;
    to_reader(py, relocated)
}

/// Copy the objects of `source_assets` to the locations of `target_assets` (rows matched by
/// item and asset) and return the target lock with the facts of the copies
/// (`asset-lock relocate --destination-lock`).
#[pyfunction]
#[pyo3(signature = (source_assets, target_assets, *, overwrite=true, keep_going=false, max_workers=None, memory_limit_bytes=None, chunk_size_bytes=None, put_max_concurrency=None, stores=None, progress=None, shard=None))]
#[allow(clippy::too_many_arguments)]
fn copy_assets(
    py: Python<'_>,
    source_assets: &Bound<'_, PyAny>,
    target_assets: &Bound<'_, PyAny>,
    overwrite: bool,
    keep_going: bool,
    max_workers: Option<usize>,
    memory_limit_bytes: Option<u64>,
    chunk_size_bytes: Option<usize>,
    put_max_concurrency: Option<usize>,
    stores: Option<&Bound<'_, PyDict>>,
    progress: Option<&Bound<'_, PyAny>>,
    shard: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let source = table_arg(source_assets, "source_assets")?;
    let target = table_arg(target_assets, "target_assets")?;
    // The library reads destination rows from a lock file: a table goes through a private
    // temporary one, removed when the copy returns.
    let scratch = tempfile::tempdir()
        .map_err(|e| StacpkgError::new_err(format!("cannot make a temporary directory: {e}")))?;
    let target_file = match &target {
        TableArg::Path(path) => path.clone(),
        TableArg::Stream(_) | TableArg::Batch(_) => scratch.path().join("target.lock.parquet"),
    };
    let destination = asset_lock::Destination::Lock(target_file.clone());
    let settings = CopySettings {
        dry_run: false,
        overwrite,
        keep_going,
        max_workers,
        memory_limit_bytes,
        chunk_size_bytes,
        put_max_concurrency,
        shard: shard_arg(shard)?,
    };
    relocation(
        py,
        source,
        destination,
        settings,
        store_settings(stores)?,
        progress.map(|p| p.clone().unbind()),
        move || {
            if !matches!(target, TableArg::Path(_)) {
                let rows = target.into_batches("target_assets", StreamKind::AssetLock)?;
                asset_lock::write_parquet(rows, &target_file)?;
            }
            Ok(())
        },
    )
}

/// Registry settings as the command line's transport flags give them; credentials from the
/// `credentials` argument, else from the environment (`ORAS_USER`/`ORAS_PASS`, Docker config).
fn registry_options(
    plain_http: bool,
    insecure: bool,
    auth_backend: &str,
    credentials: Option<&Bound<'_, PyDict>>,
) -> PyResult<oci::RegistryOptions> {
    let basic_auth = match auth_backend {
        "token" => false,
        "basic" => true,
        other => {
            return Err(PyValueError::new_err(format!(
                "argument 'auth_backend': expected 'token' or 'basic', got {other:?}"
            )));
        }
    };
    let credentials: Arc<dyn oci::CredentialSource> = match credentials {
        None => Arc::new(oci::EnvCredentials::from_env()),
        Some(given) => static_credentials(given)?,
    };
    let max_retries =
        stacpkg::store::max_retries_from_env().map_err(|e| py_error(Error::StoreSettings(e)))?;
    Ok(oci::RegistryOptions {
        plain_http,
        insecure,
        basic_auth,
        retry: stacpkg::net::RetryPolicy {
            max_retries: u32::try_from(max_retries).unwrap_or(u32::MAX),
            ..stacpkg::net::RetryPolicy::default()
        },
        credentials,
    })
}

/// `{"username": …, "password": …}`, `{"token": …}`, or `{}` for none.
fn static_credentials(given: &Bound<'_, PyDict>) -> PyResult<Arc<dyn oci::CredentialSource>> {
    let expected = "give `username` and `password`, or `token`";
    let mut fields: [Option<String>; 3] = [None, None, None];
    for (key, value) in given.iter() {
        let key: String = key
            .extract()
            .map_err(|_| PyTypeError::new_err("argument 'credentials': keys must be strings"))?;
        let slot = match key.as_str() {
            "username" => 0,
            "password" => 1,
            "token" => 2,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "argument 'credentials': unknown key `{key}` ({expected})"
                )));
            }
        };
        fields[slot] = Some(value.extract().map_err(|_| {
            PyTypeError::new_err(format!("argument 'credentials': `{key}` must be a string"))
        })?);
    }
    match fields {
        [Some(user), Some(password), None] => {
            Ok(Arc::new(oci::StaticCredentials::basic(user, password)))
        }
        [None, None, Some(token)] => Ok(Arc::new(oci::StaticCredentials::bearer(token))),
        // `{}`: anonymous, whatever the environment holds.
        [None, None, None] => Ok(Arc::new(oci::NoCredentials)),
        _ => Err(PyValueError::new_err(format!(
            "argument 'credentials': {expected}"
        ))),
    }
}

fn artifact(text: &str, parameter: &str) -> PyResult<oci::ArtifactRef> {
    text.parse()
        .map_err(|e: String| PyValueError::new_err(format!("argument '{parameter}': {e}")))
}

/// Opens the items of a build.
type ItemsSource = Box<dyn FnOnce() -> stacpkg::Result<BatchReader> + Send>;

/// Items for a build: STAC JSON or NDJSON by suffix (as the original's `read_items_input`
/// reads JSON), or any table argument.
fn build_items(items: &Bound<'_, PyAny>) -> PyResult<ItemsSource> {
    let items = table_arg(items, "items")?;
    if let TableArg::Path(path) = &items {
        let suffix = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let format = match suffix.as_deref() {
            Some("json" | "geojson") => Some(Format::Json),
            Some("ndjson" | "jsonl") => Some(Format::Ndjson),
            _ => None,
        };
        if let Some(format) = format {
            let path = path.clone();
            return Ok(Box::new(move || {
                let items = items::read_stac(Input::Path(path), format, ReadOptions::default())?;
                Ok(interruptible(items, "items"))
            }));
        }
    }
    Ok(Box::new(move || {
        items.into_batches("items", StreamKind::Items)
    }))
}

/// Build a package directory: `items.parquet`, `assets.lock.parquet` (derived unless
/// `asset_lock` is given), the `includes`, and with `include_assets` the asset bytes.
#[pyfunction]
#[pyo3(signature = (items, output_dir, *, asset_lock=None, includes=None, include_assets=false, skip=None, probe_metadata=true, include_metadata_assets=false, item_ids=None, providers=None, checksum="metadata", force=false, stores=None, shard=None))]
#[allow(clippy::too_many_arguments)]
fn build_package<'py>(
    py: Python<'py>,
    items: &Bound<'py, PyAny>,
    output_dir: PathBuf,
    asset_lock: Option<&Bound<'py, PyAny>>,
    includes: Option<Vec<PathBuf>>,
    include_assets: bool,
    skip: Option<Vec<String>>,
    probe_metadata: bool,
    include_metadata_assets: bool,
    item_ids: Option<&Bound<'py, PyAny>>,
    providers: Option<&Bound<'py, PyAny>>,
    checksum: &str,
    force: bool,
    stores: Option<&Bound<'py, PyDict>>,
    shard: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    let settings = store_settings(stores)?;
    let shard = shard_arg(shard)?;
    if shard.is_some() && asset_lock.is_some_and(|lock| !lock.is_none()) {
        return Err(PyValueError::new_err(
            "argument 'shard': a shard splits a derived lock; it cannot be used with asset_lock",
        ));
    }
    if let Some(part) = skip.unwrap_or_default().first() {
        return Err(PyValueError::new_err(if part == "assets-lock" {
            "assets.lock.parquet is mandatory for package builds".to_string()
        } else {
            format!("argument 'skip': nothing named {part:?} can be left out of a package")
        }));
    }
    let items = build_items(items)?;
    let lock = asset_lock
        .filter(|lock| !lock.is_none())
        .map(|lock| table_arg(lock, "asset_lock"))
        .transpose()?;
    let checksum = strategy(checksum)?;
    if !probe_metadata
        && matches!(
            checksum,
            Strategy::CalculateAlways | Strategy::CalculateIfNeeded
        )
    {
        return Err(PyValueError::new_err(format!(
            "argument 'checksum': {checksum} reads every object it hashes; it cannot be used with probe_metadata=False"
        )));
    }
    let options = package::BuildOptions {
        includes: includes.unwrap_or_default(),
        include_assets,
        derive: DeriveOptions {
            probe: probe_metadata,
            filter: ItemFilter {
                item_ids: names(item_ids, "item_ids")?,
                providers: names(providers, "providers")?,
                ..ItemFilter::default()
            },
            include_metadata_assets,
            checksum,
            shard,
            ..DeriveOptions::default()
        },
        force,
        ..package::BuildOptions::default()
    };
    let dir = output_dir.clone();
    let (report, summary) = py.detach(|| -> Result<_, Failure> {
        let stores = make_stores(settings)?;
        let lock = lock
            .map(|lock| lock.into_batches("asset_lock", StreamKind::AssetLock))
            .transpose()?;
        let report = package::build(items()?, lock, &dir, &stores, options)?;
        Ok((report, package::inspect(&dir, &MediaTypes::host())?))
    })?;
    let out = PyDict::new(py);
    out.set_item("package", output_dir.display().to_string())?;
    let summary = py
        .import("json")?
        .getattr("loads")?
        .call1((summary.to_json(),))?;
    out.set_item("files", summary.get_item("files")?)?;
    out.set_item("items", report.items)?;
    out.set_item("assets", report.assets)?;
    out.set_item("copied_assets", report.copied_assets)?;
    out.set_item("replaced", report.replaced)?;
    Ok(out)
}

/// Run a registry transfer on a thread of its own while this (main) thread watches for Ctrl-C:
/// on Ctrl-C the transfer is cancelled, its thread is waited for (it drops the blobs in flight
/// and cleans up), and the `KeyboardInterrupt` is returned.
fn cancellable<T: Send>(
    transfer: &oci::Progress,
    work: impl FnOnce() -> stacpkg::Result<T> + Send,
) -> Result<T, Failure> {
    std::thread::scope(|scope| {
        let handle = scope.spawn(work);
        let mut interrupt = None;
        while !handle.is_finished() {
            std::thread::sleep(std::time::Duration::from_millis(50));
            if interrupt.is_none()
                && let Err(e) = interrupted()
            {
                interrupt = Some(e);
                transfer.cancel();
            }
        }
        let result = handle.join().map_err(|_| {
            Failure::Python(StacpkgError::new_err("the transfer's thread panicked"))
        })?;
        match interrupt {
            Some(e) => Err(Failure::Python(e)),
            None => result.map_err(Failure::Library),
        }
    })
}

/// Push a package directory to a registry (`host/repo:tag`) or an OCI image layout
/// (`oci-layout:PATH[:TAG]`) as an OCI artifact with typed layers.
#[pyfunction]
#[pyo3(signature = (package_dir, target, *, plain_http=false, insecure=false, auth_backend="token", credentials=None, progress=None))]
#[allow(clippy::too_many_arguments)]
fn push_package<'py>(
    py: Python<'py>,
    package_dir: PathBuf,
    target: &str,
    plain_http: bool,
    insecure: bool,
    auth_backend: &str,
    credentials: Option<&Bound<'py, PyDict>>,
    progress: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let target = artifact(target, "target")?;
    let options = oci::PushOptions {
        registry: registry_options(plain_http, insecure, auth_backend, credentials)?,
        ..oci::PushOptions::default()
    };
    let progress = progress.map(|p| p.clone().unbind());
    let transfer = oci::Progress::default();
    let report = py.detach(|| {
        let counters = || {
            vec![
                ("done", load(&transfer.done)),
                ("total", load(&transfer.total)),
            ]
        };
        with_progress(progress.as_ref(), counters, || {
            cancellable(&transfer, || {
                oci::push(&package_dir, &target, &options, &transfer)
            })
        })
    })?;
    let out = PyDict::new(py);
    out.set_item("digest", &report.digest)?;
    out.set_item("layers", report.layers)?;
    out.set_item("skipped", report.skipped)?;
    out.set_item("notes", &report.notes)?;
    Ok(out)
}

/// Pull a package into `output_dir`, every blob digest-checked; with a selection, only the
/// tables (filtered) and the asset layers its rows point at.
#[pyfunction]
#[pyo3(signature = (source, output_dir, *, plain_http=false, insecure=false, auth_backend="token", credentials=None, force=false, item_ids=None, collections=None, providers=None, asset_keys=None, tables_only=false, progress=None))]
#[allow(clippy::too_many_arguments)]
fn pull_package<'py>(
    py: Python<'py>,
    source: &str,
    output_dir: PathBuf,
    plain_http: bool,
    insecure: bool,
    auth_backend: &str,
    credentials: Option<&Bound<'py, PyDict>>,
    force: bool,
    item_ids: Option<&Bound<'py, PyAny>>,
    collections: Option<&Bound<'py, PyAny>>,
    providers: Option<&Bound<'py, PyAny>>,
    asset_keys: Option<&Bound<'py, PyAny>>,
    tables_only: bool,
    progress: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let source = artifact(source, "source")?;
    let options = oci::PullOptions {
        registry: registry_options(plain_http, insecure, auth_backend, credentials)?,
        force,
        selection: oci::Selection {
            items: read_options(item_ids, collections, providers, None)?.filter,
            asset_keys: names(asset_keys, "asset_keys")?,
        },
        tables_only,
        ..oci::PullOptions::default()
    };
    let progress = progress.map(|p| p.clone().unbind());
    let transfer = oci::Progress::default();
    let report = py.detach(|| {
        let counters = || {
            vec![
                ("done", load(&transfer.done)),
                ("total", load(&transfer.total)),
            ]
        };
        with_progress(progress.as_ref(), counters, || {
            cancellable(&transfer, || {
                oci::pull(&source, &output_dir, &options, &transfer)
            })
        })
    })?;
    let out = PyDict::new(py);
    out.set_item("digest", &report.digest)?;
    out.set_item("layers", report.layers)?;
    out.set_item("layers_left", report.layers_left)?;
    out.set_item("asset_layers_left", report.asset_layers_left)?;
    out.set_item("replaced", report.replaced)?;
    out.set_item("notes", &report.notes)?;
    Ok(out)
}

/// A file to attach: a path (`application/octet-stream`), `"FILE:TYPE/SUBTYPE"` as on the
/// command line, or a `(path, media_type)` pair.
fn attach_file(value: &Bound<'_, PyAny>) -> PyResult<oci::AttachFile> {
    if let Ok((path, media_type)) = value.extract::<(PathBuf, String)>() {
        return Ok(oci::AttachFile { path, media_type });
    }
    if let Ok(text) = value.extract::<String>() {
        return text
            .parse()
            .map_err(|e: String| PyValueError::new_err(format!("argument 'files': {e}")));
    }
    if let Ok(path) = value.extract::<PathBuf>() {
        return Ok(oci::AttachFile {
            path,
            media_type: "application/octet-stream".into(),
        });
    }
    Err(PyTypeError::new_err(format!(
        "argument 'files': expected paths, \"FILE:MEDIATYPE\" strings or (path, media_type) pairs, got {}",
        value.get_type().name()?
    )))
}

/// Attach files to a pushed manifest as an OCI artifact whose `subject` is it (the referrers
/// API where the registry has one, else the tag schema `sha256-<hex>`).
#[pyfunction]
#[pyo3(signature = (subject, files, *, artifact_type, annotations=None, plain_http=false, insecure=false, auth_backend="token", credentials=None))]
#[allow(clippy::too_many_arguments)]
fn attach_artifact<'py>(
    py: Python<'py>,
    subject: &str,
    files: &Bound<'py, PyAny>,
    artifact_type: String,
    annotations: Option<std::collections::BTreeMap<String, String>>,
    plain_http: bool,
    insecure: bool,
    auth_backend: &str,
    credentials: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let subject = artifact(subject, "subject")?;
    if files.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "argument 'files': expected a list of files, got one string",
        ));
    }
    let files = files
        .try_iter()?
        .map(|file| attach_file(&file?))
        .collect::<PyResult<Vec<_>>>()?;
    let options = oci::AttachOptions {
        registry: registry_options(plain_http, insecure, auth_backend, credentials)?,
        artifact_type,
        annotations: annotations.unwrap_or_default(),
        ..oci::AttachOptions::default()
    };
    let report = py
        .detach(|| oci::attach(&subject, &files, &options))
        .map_err(py_error)?;
    let via = match report.via {
        oci::ReferrersVia::Api => "api",
        oci::ReferrersVia::FallbackTag => "fallback-tag",
        oci::ReferrersVia::Layout => "layout",
        _ => "other",
    };
    let out = PyDict::new(py);
    out.set_item("digest", &report.digest)?;
    out.set_item("subject", &report.subject)?;
    out.set_item("via", via)?;
    out.set_item("notes", &report.notes)?;
    Ok(out)
}

/// The referrers of a pushed manifest (only those of `artifact_type` when given), as
/// `discover --format json` lists them.
#[pyfunction]
#[pyo3(signature = (subject, *, artifact_type=None, plain_http=false, insecure=false, auth_backend="token", credentials=None))]
fn discover_referrers(
    py: Python<'_>,
    subject: &str,
    artifact_type: Option<String>,
    plain_http: bool,
    insecure: bool,
    auth_backend: &str,
    credentials: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let subject = artifact(subject, "subject")?;
    let registry = registry_options(plain_http, insecure, auth_backend, credentials)?;
    let (referrers, _) = py
        .detach(|| {
            oci::discover(
                &subject,
                artifact_type.as_deref(),
                &registry,
                &stacpkg::runtime::Runtime::Own,
            )
        })
        .map_err(py_error)?;
    let loads = py.import("json")?.getattr("loads")?;
    Ok(loads.call1((oci::referrers_json(&referrers),))?.unbind())
}

/// A package directory's summary, or a pushed package's (its manifest and two tables only).
fn inspect(
    py: Python<'_>,
    package: &Bound<'_, PyAny>,
    transport: (bool, bool, &str, Option<&Bound<'_, PyDict>>),
) -> PyResult<package::Summary> {
    let (plain_http, insecure, auth_backend, credentials) = transport;
    if let Ok(text) = package.extract::<String>()
        && oci::ArtifactRef::names_pushed_package(&text)
    {
        let source = artifact(&text, "package_dir")?;
        let options = oci::InspectOptions {
            registry: registry_options(plain_http, insecure, auth_backend, credentials)?,
            ..oci::InspectOptions::default()
        };
        return py
            .detach(|| oci::inspect(&source, &options))
            .map_err(py_error);
    }
    let dir: PathBuf = package.extract()?;
    py.detach(|| package::inspect(&dir, &MediaTypes::host()))
        .map_err(py_error)
}

/// A package's summary as a dict (`inspect --format json`): a directory, or a pushed package
/// (`host/repository:tag`, `oci-layout:PATH[:TAG]`), read without pulling its assets.
#[pyfunction]
#[pyo3(signature = (package_dir, *, plain_http=false, insecure=false, auth_backend="token", credentials=None))]
fn package_inspect_data(
    py: Python<'_>,
    package_dir: &Bound<'_, PyAny>,
    plain_http: bool,
    insecure: bool,
    auth_backend: &str,
    credentials: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let json = inspect(
        py,
        package_dir,
        (plain_http, insecure, auth_backend, credentials),
    )?
    .to_json();
    let loads = py.import("json")?.getattr("loads")?;
    Ok(loads.call1((json,))?.unbind())
}

/// A package's summary as YAML (`inspect`), of a directory or a pushed package.
#[pyfunction]
#[pyo3(signature = (package_dir, *, plain_http=false, insecure=false, auth_backend="token", credentials=None))]
fn package_inspect_yaml(
    py: Python<'_>,
    package_dir: &Bound<'_, PyAny>,
    plain_http: bool,
    insecure: bool,
    auth_backend: &str,
    credentials: Option<&Bound<'_, PyDict>>,
) -> PyResult<String> {
    Ok(inspect(
        py,
        package_dir,
        (plain_http, insecure, auth_backend, credentials),
    )?
    .to_yaml())
}

/// A package's summary as Markdown (`inspect --format markdown`), of a directory or a pushed
/// package.
#[pyfunction]
#[pyo3(signature = (package_dir, *, plain_http=false, insecure=false, auth_backend="token", credentials=None))]
fn package_inspect_markdown(
    py: Python<'_>,
    package_dir: &Bound<'_, PyAny>,
    plain_http: bool,
    insecure: bool,
    auth_backend: &str,
    credentials: Option<&Bound<'_, PyDict>>,
) -> PyResult<String> {
    Ok(inspect(
        py,
        package_dir,
        (plain_http, insecure, auth_backend, credentials),
    )?
    .to_markdown())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("StacpkgError", py.get_type::<StacpkgError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("StoreNotFoundError", py.get_type::<StoreNotFoundError>())?;
    m.add("DigestMismatchError", py.get_type::<DigestMismatchError>())?;
    m.add("NotAPackageError", py.get_type::<NotAPackageError>())?;
    m.add("RegistryError", py.get_type::<RegistryError>())?;
    m.add_function(wrap_pyfunction!(read_stac_json, m)?)?;
    m.add_function(wrap_pyfunction!(read_stac_ndjson, m)?)?;
    m.add_function(wrap_pyfunction!(read_stac_json_stream, m)?)?;
    m.add_function(wrap_pyfunction!(read_stac_ndjson_stream, m)?)?;
    m.add_function(wrap_pyfunction!(read_items_geoparquet, m)?)?;
    m.add_function(wrap_pyfunction!(write_items_geoparquet_stream, m)?)?;
    m.add_function(wrap_pyfunction!(write_items_stac_json, m)?)?;
    m.add_function(wrap_pyfunction!(derive_asset_lock, m)?)?;
    m.add_function(wrap_pyfunction!(read_asset_lock_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(derive_asset_lock_stream, m)?)?;
    m.add_function(wrap_pyfunction!(validate_assets, m)?)?;
    m.add_function(wrap_pyfunction!(write_asset_lock_parquet_stream, m)?)?;
    m.add_function(wrap_pyfunction!(filter_items, m)?)?;
    m.add_function(wrap_pyfunction!(items_table_to_geoparquet_table, m)?)?;
    m.add_function(wrap_pyfunction!(enrich_items, m)?)?;
    m.add_function(wrap_pyfunction!(filter_items_stream, m)?)?;
    m.add_function(wrap_pyfunction!(enrich_items_stream, m)?)?;
    m.add_function(wrap_pyfunction!(add_alternate_asset_hrefs_stream, m)?)?;
    m.add_function(wrap_pyfunction!(promote_alternate_asset_hrefs_stream, m)?)?;
    m.add_function(wrap_pyfunction!(remove_alternate_asset_hrefs_stream, m)?)?;
    m.add_function(wrap_pyfunction!(add_alternate_asset_hrefs, m)?)?;
    m.add_function(wrap_pyfunction!(promote_alternate_asset_hrefs, m)?)?;
    m.add_function(wrap_pyfunction!(remove_alternate_asset_hrefs, m)?)?;
    m.add_function(wrap_pyfunction!(relocate_asset_locations, m)?)?;
    m.add_function(wrap_pyfunction!(relocate_assets, m)?)?;
    m.add_function(wrap_pyfunction!(relocate_assets_stream, m)?)?;
    m.add_function(wrap_pyfunction!(copy_assets, m)?)?;
    m.add_function(wrap_pyfunction!(build_package, m)?)?;
    m.add_function(wrap_pyfunction!(push_package, m)?)?;
    m.add_function(wrap_pyfunction!(pull_package, m)?)?;
    m.add_function(wrap_pyfunction!(attach_artifact, m)?)?;
    m.add_function(wrap_pyfunction!(discover_referrers, m)?)?;
    m.add_function(wrap_pyfunction!(package_inspect_data, m)?)?;
    m.add_function(wrap_pyfunction!(package_inspect_yaml, m)?)?;
    m.add_function(wrap_pyfunction!(package_inspect_markdown, m)?)?;
    Ok(())
}
