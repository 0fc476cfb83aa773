//! Test support for stacpkg: run the built binary, read and write Arrow IPC / Parquet, find the
//! bundled example data, and reach the optional interop tools (Python with pyarrow and DuckDB).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

pub mod conformance;
pub mod services;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("crate sits in crates/")
        .to_path_buf()
}

/// A file of the bundled example (`examples/demo/...`).
pub fn demo(path: &str) -> PathBuf {
    repo_root().join("examples/demo").join(path)
}

/// A temporary working directory plus the binary under test.
#[derive(Debug)]
pub struct TestContext {
    bin: PathBuf,
    dir: tempfile::TempDir,
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Raw stdout.
    pub stdout: Vec<u8>,
    /// stderr as text.
    pub stderr: String,
}

impl Run {
    /// Decode stdout as an Arrow IPC stream.
    pub fn ipc(&self) -> (SchemaRef, Vec<RecordBatch>) {
        read_ipc(&self.stdout)
    }

    /// Assert a clean success and return self.
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, Some(0), "stderr: {}", self.stderr);
        self
    }

    /// Assert failure with `code` and exactly one stderr line starting `stacpkg: error: `.
    #[track_caller]
    pub fn error_line(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "stderr: {}", self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one stderr line, got: {:?}",
            self.stderr
        );
        assert!(
            lines[0].starts_with("stacpkg: error: "),
            "unexpected stderr: {}",
            self.stderr
        );
        lines[0]
    }
}

impl TestContext {
    /// A context for the binary at `bin` (pass `env!("CARGO_BIN_EXE_stacpkg")`).
    pub fn new(bin: &str) -> Self {
        TestContext {
            bin: PathBuf::from(bin),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write a file into the temporary directory.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create test directories");
        }
        std::fs::write(&path, contents).expect("write test file");
        path
    }

    /// The binary as a command, run in the temporary directory.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.current_dir(self.dir.path());
        cmd
    }

    /// Path of the binary.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Run with `args`, feeding `stdin`, capturing stdout and stderr.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut child = self
            .cmd()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn stacpkg");
        let mut input = child.stdin.take().expect("stdin");
        let data = stdin.to_vec();
        let feeder = std::thread::spawn(move || {
            // The command may exit before reading everything; that is its business.
            let _ = input.write_all(&data);
        });
        let output = child.wait_with_output().expect("wait for stacpkg");
        feeder.join().expect("stdin feeder");
        run_of(output)
    }

    /// Run a shell command line (`sh -c`) in the temporary directory, `$STACPKG` being the binary.
    pub fn sh(&self, line: &str) -> Run {
        let output = Command::new("bash")
            .args(["-o", "pipefail", "-c", line])
            .env("STACPKG", &self.bin)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run bash");
        run_of(output)
    }

    /// Run a shell command line under a pseudo-terminal (`script`), so stdin and stdout are a
    /// TTY. Returns the exit code and everything the terminal showed (CRLF normalised).
    pub fn tty(&self, line: &str, columns: usize) -> Run {
        let output = Command::new("script")
            .args(["-qec", line, "/dev/null"])
            .env("STACPKG", &self.bin)
            .env("COLUMNS", columns.to_string())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run script(1) from util-linux");
        let mut run = run_of(output);
        run.stdout = String::from_utf8_lossy(&run.stdout)
            .replace("\r\n", "\n")
            .into_bytes();
        run
    }
}

fn run_of(output: Output) -> Run {
    Run {
        code: output.status.code(),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Decode an Arrow IPC stream.
pub fn read_ipc(bytes: &[u8]) -> (SchemaRef, Vec<RecordBatch>) {
    let reader = StreamReader::try_new(bytes, None).expect("stdout is an Arrow IPC stream");
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>().expect("IPC batches");
    (schema, batches)
}

/// Encode batches as an Arrow IPC stream.
pub fn write_ipc(schema: &SchemaRef, batches: &[RecordBatch]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new(&mut out, schema).expect("IPC writer");
    for batch in batches {
        writer.write(batch).expect("write batch");
    }
    writer.finish().expect("finish IPC");
    drop(writer);
    out
}

/// Read a whole Parquet file (tests only; small files).
pub fn read_parquet(path: &Path) -> (SchemaRef, Vec<RecordBatch>, usize) {
    let file = std::fs::File::open(path).expect("open parquet");
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet metadata");
    let schema = builder.schema().clone();
    let row_groups = builder.metadata().num_row_groups();
    let batches = builder
        .build()
        .expect("parquet reader")
        .collect::<Result<Vec<_>, _>>()
        .expect("parquet batches");
    (schema, batches, row_groups)
}

/// The columns of `batch` cast to the types of `like` (same names and order), so that two tables
/// that differ only in how list elements are named (`item` in streams, `element` in Parquet)
/// compare by value.
pub fn columns_as(batch: &RecordBatch, like: &SchemaRef) -> Vec<arrow_array::ArrayRef> {
    batch
        .columns()
        .iter()
        .zip(like.fields())
        .map(|(column, field)| {
            arrow_cast::cast(column, field.data_type()).expect("same values, other list names")
        })
        .collect()
}

/// All rows of `batches` as one batch.
pub fn concat(schema: &SchemaRef, batches: &[RecordBatch]) -> RecordBatch {
    arrow_select_concat(schema, batches)
}

fn arrow_select_concat(schema: &SchemaRef, batches: &[RecordBatch]) -> RecordBatch {
    if batches.is_empty() {
        return RecordBatch::new_empty(Arc::clone(schema));
    }
    let columns = (0..schema.fields().len())
        .map(|i| {
            let arrays: Vec<&dyn arrow_array::Array> =
                batches.iter().map(|b| b.column(i).as_ref()).collect();
            arrow_select::concat::concat(&arrays).expect("concat")
        })
        .collect();
    RecordBatch::try_new(Arc::clone(schema), columns).expect("concat batch")
}

/// A Python interpreter that has pyarrow, duckdb and oras (oras-py), from `STACPKG_TEST_PYTHON`.
///
/// Locally, without it, interop tests return early with a loud message; under CI (`CI=true`)
/// a missing interpreter fails the test, because `.ci/run` installs it.
#[allow(clippy::print_stderr)] // the skip must be loud in the test output
pub fn python() -> Option<PathBuf> {
    match std::env::var_os("STACPKG_TEST_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "STACPKG_TEST_PYTHON is not set under CI: .ci/run must install pyarrow, duckdb and oras"
            )
        }
        None => {
            eprintln!("SKIPPED: set STACPKG_TEST_PYTHON to a Python with pyarrow, duckdb and oras");
            None
        }
    }
}

/// The Python original's `stacpkg` (0.1.4), from `STACPKG_TEST_ORIGINAL` (`scripts/test.sh`
/// installs it). Locally, without it, interop tests return early with a loud message; under CI
/// (`CI=true`) a missing original fails the test.
#[allow(clippy::print_stderr)] // the skip must be loud in the test output
pub fn python_original() -> Option<PathBuf> {
    match std::env::var_os("STACPKG_TEST_ORIGINAL") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("STACPKG_TEST_ORIGINAL is not set under CI: scripts/test.sh installs it")
        }
        None => {
            eprintln!(
                "SKIPPED: set STACPKG_TEST_ORIGINAL to the Python original's stacpkg (0.1.4)"
            );
            None
        }
    }
}
