//! Deterministic ZIP archives of package directories (ref §9.1) and their checked extraction.
//!
//! Written entries follow the original's rules: only files (no directory entries), sorted by
//! path components, named by their package-relative POSIX path, dated 1980-01-01 00:00:00,
//! DEFLATE, external attributes = the file's mode << 16. Files stream through (memory does not
//! follow file sizes); ZIP64 is used only for files that need it.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use super::title::safe_relative_path;
use crate::error::{Error, Result};
use crate::package::PackageFile;

/// Entries at or above this size are written as ZIP64 (DEFLATE may grow incompressible data
/// slightly, so the cut is below 4 GiB).
const ZIP64_FROM: u64 = 0xF000_0000;

/// Write `files` (package files below one directory, already sorted) into a new ZIP at `archive`.
pub(super) fn write(files: &[PackageFile], archive: &Path) -> Result<()> {
    let shown = archive.display().to_string();
    let failed = |source| Error::Zip {
        context: format!("failed to write `{shown}`"),
        source,
    };
    let out = File::create(archive).map_err(|e| Error::io("failed to create", &shown, e))?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(1 << 20, out));
    for file in files {
        let name = safe_relative_path(&file.path())?;
        let meta = std::fs::metadata(&file.full_path)
            .map_err(|e| Error::io("failed to read", file.full_path.display().to_string(), e))?;
        #[cfg(unix)]
        let mode = std::os::unix::fs::MetadataExt::mode(&meta);
        #[cfg(not(unix))]
        let mode = 0o100644;
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(DateTime::default())
            .external_attributes((mode & 0xFFFF) << 16)
            .large_file(meta.len() >= ZIP64_FROM);
        zip.start_file(name, options).map_err(failed)?;
        let source = File::open(&file.full_path)
            .map_err(|e| Error::io("failed to open", file.full_path.display().to_string(), e))?;
        std::io::copy(&mut BufReader::with_capacity(1 << 20, source), &mut zip)
            .map_err(|e| Error::io("failed to write", &shown, e))?;
    }
    let out = zip.finish().map_err(failed)?;
    out.into_inner()
        .map_err(|e| Error::io("failed to write", &shown, e.into_error()))?;
    Ok(())
}

/// The member paths of a ZIP, each checked safe, in archive order (nothing is extracted).
pub(super) fn members(archive: &Path, layer: &str) -> Result<Vec<(String, bool)>> {
    let mut zip = open(archive, layer)?;
    let mut names = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let unreadable = |source| Error::Zip {
            context: format!("{layer} is not a readable ZIP"),
            source,
        };
        let entry = zip.by_index_raw(i).map_err(unreadable)?;
        let name = entry.name().map_err(unreadable)?.into_owned();
        let is_dir = entry.is_dir();
        let checked = safe_relative_path(name.trim_end_matches('/'))?;
        names.push((checked, is_dir));
    }
    Ok(names)
}

/// Extract the members of `archive` that `keep` marks below `dir`; `members` is what
/// [`members`] returned for it. An existing file is never overwritten.
pub(super) fn extract(
    archive: &Path,
    layer: &str,
    members: &[(String, bool)],
    keep: &[bool],
    dir: &Path,
) -> Result<()> {
    let mut zip = open(archive, layer)?;
    for (i, (name, is_dir)) in members.iter().enumerate() {
        if !keep.get(i).copied().unwrap_or(true) {
            continue;
        }
        let target = dir.join(name);
        if *is_dir {
            std::fs::create_dir_all(&target)
                .map_err(|e| Error::io("failed to create", target.display().to_string(), e))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io("failed to create", parent.display().to_string(), e))?;
        }
        let mut out = File::options()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::ZipMemberConflict {
                        layer: layer.to_string(),
                        member: name.clone(),
                    }
                } else {
                    Error::io("failed to create", target.display().to_string(), e)
                }
            })?;
        let mut entry = zip.by_index(i).map_err(|source| Error::Zip {
            context: format!("{layer}: cannot read ZIP member `{name}`"),
            source,
        })?;
        std::io::copy(&mut entry, &mut out)
            .map_err(|e| Error::io("cannot extract", format!("{layer}: ZIP member `{name}`"), e))?;
    }
    Ok(())
}

fn open(archive: &Path, layer: &str) -> Result<ZipArchive<BufReader<File>>> {
    let file = File::open(archive)
        .map_err(|e| Error::io("failed to open", archive.display().to_string(), e))?;
    ZipArchive::new(BufReader::new(file)).map_err(|source| Error::Zip {
        context: format!("{layer} is not a readable ZIP"),
        source,
    })
}
