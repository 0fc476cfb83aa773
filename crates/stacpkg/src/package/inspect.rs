//! `inspect`: what a package holds — its files with media types and SHA-256 digests, item and
//! asset counts, collections, asset keys and known sizes — as YAML, JSON or Markdown,
//! byte-compatible with the Python original (ref §8).
//!
//! Memory: the tables are read one column batch at a time (only `collection`, `asset_key` and
//! `size_bytes`); what is kept is the distinct collections and asset keys, and the file list.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::fs::File;
use std::path::Path;

use arrow_array::ArrayRef;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_schema::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::media_type::{self, MediaTypes};
use super::{Package, python_path_str, sha256_digests};
use crate::error::{Error, Result};
use crate::pyjson;

/// Rows per batch while reading the tables.
const BATCH_ROWS: usize = 64 * 1024;

/// One file of the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSummary {
    /// Package-relative POSIX path.
    pub path: String,
    /// Media type (ref §8 rules).
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// `sha256:<hex>`.
    pub digest: String,
}

/// What a package holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The package path as given (printed as Python's `pathlib` prints it).
    pub package: String,
    /// Every file, sorted by path components.
    pub files: Vec<FileSummary>,
    /// Rows of `items.parquet`.
    pub item_count: u64,
    /// Distinct non-null collections, sorted.
    pub collections: Vec<String>,
    /// Rows of `assets.lock.parquet`.
    pub asset_count: u64,
    /// Distinct asset keys, sorted.
    pub asset_keys: Vec<String>,
    /// Sum of the known sizes.
    pub known_size_bytes: i128,
    /// Rows with a known size.
    pub known_size_count: u64,
    /// Rows with a content checksum (`file_checksum`); not in the original's report, which
    /// had no checksums.
    pub checksum_count: u64,
}

/// Summarise the package at `dir`; media types come from `media_types` (usually
/// [`MediaTypes::host`]).
pub fn inspect(dir: &Path, media_types: &MediaTypes) -> Result<Summary> {
    let package = Package::open(dir)?;
    let files = package.files()?;
    let paths: Vec<_> = files.iter().map(|f| f.full_path.clone()).collect();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    let digests = sha256_digests(&paths, threads)?;
    let files = files
        .into_iter()
        .zip(digests)
        .map(|(file, digest)| FileSummary {
            media_type: media_type::of_path(media_types, &file.full_path),
            path: file.path(),
            size: file.size,
            digest,
        })
        .collect();

    summarise(
        python_path_str(dir),
        files,
        &package.items_path(),
        &package.lock_path(),
    )
}

/// A summary with `package` and `files` as given and the counts read from the two tables.
pub(crate) fn summarise(
    package: String,
    files: Vec<FileSummary>,
    items: &Path,
    lock: &Path,
) -> Result<Summary> {
    let mut collections = BTreeSet::new();
    let item_count = read_column(items, "collection", |column| {
        collect_strings(column, &mut collections)
    })?;
    let mut asset_keys = BTreeSet::new();
    let asset_count = read_column(lock, "asset_key", |column| {
        collect_strings(column, &mut asset_keys)
    })?;
    let mut known_size_bytes = 0i128;
    let mut known_size_count = 0u64;
    read_column(lock, "size_bytes", |column| {
        let sizes = arrow_cast::cast(column, &DataType::Int64)?;
        for size in sizes.as_primitive::<Int64Type>().iter().flatten() {
            known_size_bytes += i128::from(size);
            known_size_count += 1;
        }
        Ok(())
    })?;
    let mut checksum_count = 0u64;
    read_column(lock, crate::asset_lock::FILE_CHECKSUM, |column| {
        checksum_count += (column.len() - column.logical_null_count()) as u64;
        Ok(())
    })?;

    Ok(Summary {
        package,
        files,
        item_count,
        collections: collections.into_iter().collect(),
        asset_count,
        asset_keys: asset_keys.into_iter().collect(),
        known_size_bytes,
        known_size_count,
        checksum_count,
    })
}

fn collect_strings(
    column: &ArrayRef,
    into: &mut BTreeSet<String>,
) -> std::result::Result<(), arrow_schema::ArrowError> {
    let strings = arrow_cast::cast(column, &DataType::Utf8)?;
    for value in strings.as_string::<i32>().iter().flatten() {
        if !into.contains(value) {
            into.insert(value.to_string());
        }
    }
    Ok(())
}

/// Stream one top-level column of a Parquet file through `each` (nothing when the file has no
/// such column); returns the file's row count.
fn read_column(
    path: &Path,
    column: &str,
    mut each: impl FnMut(&ArrayRef) -> std::result::Result<(), arrow_schema::ArrowError>,
) -> Result<u64> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| Error::io("failed to open", &name, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| Error::parquet(format!("`{name}` is not a readable Parquet file"), e))?;
    let rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let Some(index) = builder
        .schema()
        .fields()
        .iter()
        .position(|f| f.name() == column)
    else {
        return Ok(rows);
    };
    let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| Error::parquet(format!("failed to read `{name}`"), e))?;
    for batch in reader {
        let batch = batch.map_err(|e| Error::arrow(format!("failed to read `{name}`"), e))?;
        each(batch.column(0)).map_err(|e| {
            Error::arrow(format!("failed to read column `{column}` of `{name}`"), e)
        })?;
    }
    Ok(rows)
}

/// A JSON-like value in the original's dict order.
enum Value {
    Str(String),
    Int(i128),
    List(Vec<Value>),
    Map(Vec<(&'static str, Value)>),
}

impl Summary {
    fn value(&self) -> Value {
        let strings = |v: &[String]| Value::List(v.iter().cloned().map(Value::Str).collect());
        Value::Map(vec![
            ("package", Value::Str(self.package.clone())),
            (
                "files",
                Value::List(
                    self.files
                        .iter()
                        .map(|f| {
                            Value::Map(vec![
                                ("path", Value::Str(f.path.clone())),
                                ("mediaType", Value::Str(f.media_type.clone())),
                                ("size", Value::Int(i128::from(f.size))),
                                ("digest", Value::Str(f.digest.clone())),
                            ])
                        })
                        .collect(),
                ),
            ),
            (
                "items",
                Value::Map(vec![
                    ("count", Value::Int(i128::from(self.item_count))),
                    ("collections", strings(&self.collections)),
                ]),
            ),
            (
                "assets",
                Value::Map(vec![
                    ("count", Value::Int(i128::from(self.asset_count))),
                    ("asset_keys", strings(&self.asset_keys)),
                    ("known_size_bytes", Value::Int(self.known_size_bytes)),
                    (
                        "known_size_count",
                        Value::Int(i128::from(self.known_size_count)),
                    ),
                    (
                        "checksum_count",
                        Value::Int(i128::from(self.checksum_count)),
                    ),
                ]),
            ),
        ])
    }

    /// The original's YAML: keys in its order, strings JSON-quoted, a trailing newline.
    pub fn to_yaml(&self) -> String {
        let mut lines = Vec::new();
        yaml_lines(&self.value(), 0, &mut lines);
        lines.join("\n") + "\n"
    }

    /// `json.dumps(indent=2, sort_keys=True)` plus a newline.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        json(&self.value(), 0, &mut out);
        out.push('\n');
        out
    }

    /// The original's Markdown report.
    pub fn to_markdown(&self) -> String {
        let or_none = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        let mut out = String::new();
        let _ = writeln!(out, "# stacpkg Inspect\n");
        let _ = writeln!(out, "- Package: `{}`", self.package);
        let _ = writeln!(out, "- Items: {}", self.item_count);
        let _ = writeln!(out, "- Collections: {}", or_none(&self.collections));
        let _ = writeln!(out, "- Assets: {}", self.asset_count);
        let _ = writeln!(out, "- Asset keys: {}", or_none(&self.asset_keys));
        let _ = writeln!(out, "- Known asset bytes: {}", self.known_size_bytes);
        let _ = writeln!(out, "- Assets with a checksum: {}", self.checksum_count);
        let _ = writeln!(out, "\n## Files\n");
        if self.files.is_empty() {
            out.push_str("No files recorded.\n");
        }
        for file in &self.files {
            let _ = writeln!(
                out,
                "- `{}` ({}, {} bytes)",
                file.path, file.media_type, file.size
            );
        }
        out
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Str(s) => {
            let mut out = String::new();
            pyjson::string(s, &mut out);
            out
        }
        Value::Int(i) => i.to_string(),
        Value::List(_) | Value::Map(_) => unreachable!("containers are not scalars"),
    }
}

fn yaml_lines(value: &Value, indent: usize, out: &mut Vec<String>) {
    let pad = " ".repeat(indent);
    match value {
        Value::Map(entries) if entries.is_empty() => out.push(format!("{pad}{{}}")),
        Value::Map(entries) => {
            for (key, item) in entries {
                if matches!(item, Value::Map(_) | Value::List(_)) {
                    out.push(format!("{pad}{key}:"));
                    yaml_lines(item, indent + 2, out);
                } else {
                    out.push(format!("{pad}{key}: {}", scalar(item)));
                }
            }
        }
        Value::List(items) if items.is_empty() => out.push(format!("{pad}[]")),
        Value::List(items) => {
            for item in items {
                if matches!(item, Value::Map(_) | Value::List(_)) {
                    out.push(format!("{pad}-"));
                    yaml_lines(item, indent + 2, out);
                } else {
                    out.push(format!("{pad}- {}", scalar(item)));
                }
            }
        }
        scalar_value => out.push(format!("{pad}{}", scalar(scalar_value))),
    }
}

fn json(value: &Value, indent: usize, out: &mut String) {
    let inner = " ".repeat(indent + 2);
    match value {
        Value::List(items) if items.is_empty() => out.push_str("[]"),
        Value::Map(entries) if entries.is_empty() => out.push_str("{}"),
        Value::List(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                out.push_str(&inner);
                json(item, indent + 2, out);
            }
            let _ = write!(out, "\n{}]", " ".repeat(indent));
        }
        Value::Map(entries) => {
            let mut sorted: Vec<_> = entries.iter().collect();
            sorted.sort_by_key(|(key, _)| *key);
            out.push_str("{\n");
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                out.push_str(&inner);
                pyjson::string(key, out);
                out.push_str(": ");
                json(item, indent + 2, out);
            }
            let _ = write!(out, "\n{}}}", " ".repeat(indent));
        }
        scalar_value => out.push_str(&scalar(scalar_value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(files: Vec<FileSummary>) -> Summary {
        Summary {
            package: "pkg".into(),
            files,
            item_count: 1,
            collections: vec![],
            asset_count: 2,
            asset_keys: vec!["thumbnail".into(), "visual".into()],
            known_size_bytes: 30,
            known_size_count: 2,
            checksum_count: 1,
        }
    }

    fn file(path: &str) -> FileSummary {
        FileSummary {
            path: path.into(),
            media_type: "text/plain".into(),
            size: 3,
            digest: "sha256:00".into(),
        }
    }

    #[test]
    fn yaml_nests_mappings_under_dashes_and_puts_empty_lists_on_their_own_line() {
        let text = summary(vec![file("a.txt")]).to_yaml();
        assert_eq!(
            text,
            "package: \"pkg\"\nfiles:\n  -\n    path: \"a.txt\"\n    mediaType: \"text/plain\"\n    \
             size: 3\n    digest: \"sha256:00\"\nitems:\n  count: 1\n  collections:\n    []\n\
             assets:\n  count: 2\n  asset_keys:\n    - \"thumbnail\"\n    - \"visual\"\n  \
             known_size_bytes: 30\n  known_size_count: 2\n  checksum_count: 1\n"
        );
    }

    #[test]
    fn json_sorts_keys_and_indents_by_two() {
        let text = summary(vec![]).to_json();
        assert_eq!(
            text,
            "{\n  \"assets\": {\n    \"asset_keys\": [\n      \"thumbnail\",\n      \"visual\"\n    ],\n    \
             \"checksum_count\": 1,\n    \"count\": 2,\n    \"known_size_bytes\": 30,\n    \"known_size_count\": 2\n  },\n  \
             \"files\": [],\n  \"items\": {\n    \"collections\": [],\n    \"count\": 1\n  },\n  \
             \"package\": \"pkg\"\n}\n"
        );
    }

    #[test]
    fn markdown_says_none_and_no_files() {
        let text = summary(vec![]).to_markdown();
        assert_eq!(
            text,
            "# stacpkg Inspect\n\n- Package: `pkg`\n- Items: 1\n- Collections: none\n- Assets: 2\n\
             - Asset keys: thumbnail, visual\n- Known asset bytes: 30\n- Assets with a checksum: 1\n\n## Files\n\nNo files recorded.\n"
        );
    }
}
