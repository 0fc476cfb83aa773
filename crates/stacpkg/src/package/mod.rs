//! Packages: a directory with `items.parquet`, `assets.lock.parquet` and optional content
//! (included files and directories, copied asset bytes under `assets/`) (ref §7–§8, seed 003).
//!
//! [`build()`] makes one from an items stream, reproducibly and atomically; [`inspect()`]
//! summarises one.

mod build;
mod inspect;
pub mod media_type;
mod mime_table;

pub use build::{BuildOptions, BuildReport, MALFORMED_LISTED, build};
pub(crate) use inspect::summarise;
pub use inspect::{FileSummary, Summary, inspect};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};

/// The items table of a package.
pub const ITEMS_FILE: &str = "items.parquet";
/// The asset lock of a package.
pub const LOCK_FILE: &str = "assets.lock.parquet";
/// Where copied asset bytes live in a package.
pub const ASSETS_DIR: &str = "assets";

/// Name prefix of the scratch directories next to a package output.
const SCRATCH_PREFIX: &str = ".stacpkg-scratch-";

/// A directory that holds both package tables.
#[derive(Debug, Clone)]
pub struct Package {
    dir: PathBuf,
}

impl Package {
    /// Open `dir` as a package: it must be a directory holding `items.parquet` and
    /// `assets.lock.parquet`.
    pub fn open(dir: &Path) -> Result<Package> {
        let name = dir.display().to_string();
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(Error::NotADirectory { path: name }),
            Err(e) => return Err(Error::io("cannot open package directory", name, e)),
        }
        let missing: Vec<&'static str> = [ITEMS_FILE, LOCK_FILE]
            .into_iter()
            .filter(|file| !dir.join(file).is_file())
            .collect();
        if !missing.is_empty() {
            return Err(Error::NotPackage {
                path: name,
                missing,
            });
        }
        Ok(Package {
            dir: dir.to_path_buf(),
        })
    }

    /// The package directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The items table.
    pub fn items_path(&self) -> PathBuf {
        self.dir.join(ITEMS_FILE)
    }

    /// The asset lock.
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    /// Fail unless `path` (a file of this package) is inside the package once symbolic links
    /// are resolved: a link to a file elsewhere would put that file into an artifact.
    pub fn check_inside(&self, path: &Path) -> Result<()> {
        let root = self
            .dir
            .canonicalize()
            .map_err(|e| Error::io("failed to open", self.dir.display().to_string(), e))?;
        let real = path
            .canonicalize()
            .map_err(|e| Error::io("failed to open", path.display().to_string(), e))?;
        if real.starts_with(&root) {
            return Ok(());
        }
        Err(Error::UnsafeLink {
            path: path.display().to_string(),
            target: real.display().to_string(),
            root: self.dir.display().to_string(),
        })
    }

    /// Every regular file below `dir/sub` (components start with `sub`), sorted like [`files`](Self::files).
    pub fn files_under(&self, sub: &str) -> Result<Vec<PackageFile>> {
        let mut files = Vec::new();
        walk(&self.dir.join(sub), &mut vec![sub.to_string()], &mut files)?;
        files.sort_by(|a, b| a.components.cmp(&b.components));
        Ok(files)
    }

    /// Every regular file below the package (symlinked files included, symlinked directories
    /// not entered, as Python's `rglob`), sorted by path components.
    pub fn files(&self) -> Result<Vec<PackageFile>> {
        let mut files = Vec::new();
        walk(&self.dir, &mut Vec::new(), &mut files)?;
        files.sort_by(|a, b| a.components.cmp(&b.components));
        Ok(files)
    }
}

/// The directory an output is made in (`.` for a bare name) and the output's name (hidden
/// siblings are named after it).
pub(crate) fn output_parts(output: &Path) -> Result<(PathBuf, String)> {
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = output
        .file_name()
        .ok_or_else(|| Error::OutputUnnamed {
            path: output.display().to_string(),
        })?
        .to_string_lossy()
        .into_owned();
    Ok((parent, name))
}

/// A package directory being written: a hidden temporary directory next to the output, renamed
/// into place by [`commit`](Self::commit) (a dropped staging directory disappears).
#[derive(Debug)]
pub struct Staging {
    dir: tempfile::TempDir,
    /// Held while the directory is in use, so a later run can tell a killed run's directory
    /// from a live one (see [`crate::output::sweep`]).
    _held: std::fs::File,
    output: PathBuf,
    replace: bool,
}

/// Scratch space next to a package output: a hidden directory, removed when dropped.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
    _held: std::fs::File,
}

impl Scratch {
    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Staging {
    /// Check `output` (absent, an empty directory, or — with `force` — a package) and create the
    /// staging directory next to it.
    pub fn new(output: &Path, force: bool) -> Result<Staging> {
        let replace = check_output(output, force)?;
        let (parent, name) = output_parts(output)?;
        std::fs::create_dir_all(&parent)
            .map_err(|e| Error::io("failed to create", parent.display().to_string(), e))?;
        let parent = parent
            .canonicalize()
            .map_err(|e| Error::io("failed to open", parent.display().to_string(), e))?;
        let prefix = format!(".{name}.stacpkg-");
        // The finished directory should get the mode any directory the user makes gets.
        #[cfg(unix)]
        let mode = Some(std::os::unix::fs::PermissionsExt::from_mode(0o777));
        #[cfg(not(unix))]
        let mode = None;
        // Killed builds and pulls of this output left their staging and scratch directories.
        crate::output::sweep(&parent, SCRATCH_PREFIX, "");
        let (dir, held) = crate::output::temp_dir(&parent, &prefix, mode).map_err(|e| {
            Error::io(
                "failed to create a temporary directory in",
                parent.display().to_string(),
                e,
            )
        })?;
        Ok(Staging {
            dir,
            _held: held,
            output: output.to_path_buf(),
            replace,
        })
    }

    /// The staging directory (absolute).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Scratch space next to the output (same filesystem), removed when dropped.
    pub fn scratch(&self) -> Result<Scratch> {
        let parent = self.dir.path().parent().unwrap_or(Path::new("."));
        let (dir, held) = crate::output::temp_dir(parent, SCRATCH_PREFIX, None).map_err(|e| {
            Error::io(
                "failed to create a temporary directory in",
                parent.display().to_string(),
                e,
            )
        })?;
        Ok(Scratch { dir, _held: held })
    }

    /// Move the finished directory into place (true when it replaced one): an empty directory is replaced by a rename; an existing
    /// package is moved aside first and removed once the new one is in place.
    pub fn commit(self) -> Result<bool> {
        let (staging, output, replace) = (self.dir, self.output.as_path(), self.replace);
        let _held = self._held;
        let shown = output.display().to_string();
        let aside = if replace
            && std::fs::read_dir(output)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false)
        {
            let parent = staging.path().parent().unwrap_or(Path::new("."));
            let aside = tempfile::Builder::new()
                .prefix(".stacpkg-replaced-")
                .tempdir_in(parent)
                .map_err(|e| Error::io("failed to prepare replacing", &shown, e))?
                .keep();
            // `rename` onto an empty directory replaces it, so the placeholder goes first.
            std::fs::remove_dir(&aside)
                .map_err(|e| Error::io("failed to prepare replacing", &shown, e))?;
            std::fs::rename(output, &aside)
                .map_err(|e| Error::io("failed to move aside", &shown, e))?;
            Some(aside)
        } else {
            None
        };
        let path = staging.keep();
        if let Err(e) = std::fs::rename(&path, output) {
            let _ = std::fs::remove_dir_all(&path);
            if let Some(aside) = &aside {
                let _ = std::fs::rename(aside, output);
            }
            return Err(Error::io(
                "failed to move the finished package into place at",
                shown,
                e,
            ));
        }
        if let Some(aside) = aside {
            std::fs::remove_dir_all(&aside).map_err(|e| {
                Error::io(
                    "failed to remove the replaced package at",
                    aside.display().to_string(),
                    e,
                )
            })?;
        }
        Ok(replace)
    }
}

/// Whether an existing `output` is to be replaced; refuses what may not be.
fn check_output(output: &Path, force: bool) -> Result<bool> {
    let shown = output.display();
    let meta = match std::fs::symlink_metadata(output) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io("failed to open", shown.to_string(), e)),
    };
    if !meta.is_dir() {
        return Err(Error::OutputNotDirectory {
            path: shown.to_string(),
        });
    }
    let empty = std::fs::read_dir(output)
        .map_err(|e| Error::io("failed to list", shown.to_string(), e))?
        .next()
        .is_none();
    if empty {
        return Ok(true);
    }
    if !force {
        return Err(Error::OutputNotEmpty {
            path: shown.to_string(),
        });
    }
    if !output.join(ITEMS_FILE).is_file() && !output.join(LOCK_FILE).is_file() {
        return Err(Error::NotPackageToReplace {
            path: shown.to_string(),
        });
    }
    Ok(true)
}

/// Give every file of the package that a lock row points at (a `file` row with a
/// package-relative key) the modification time the row records, so that the lock validates
/// against the package's files as it did where the package was built (a pulled file gets the
/// time of the pull otherwise). Rows pointing elsewhere are left alone. Returns the files set.
pub fn set_recorded_times(dir: &Path) -> Result<u64> {
    let mut set = 0;
    for batch in
        crate::asset_lock::read_parquet(&dir.join(LOCK_FILE), crate::asset_lock::CHUNK_ROWS)?
    {
        for row in crate::asset_lock::from_batch(&batch?) {
            if row.location.store_type.as_deref() != Some("file") {
                continue;
            }
            let (Some(key), Some(time)) = (
                row.location.key.as_deref(),
                row.facts.last_modified.as_deref().and_then(parse_time),
            ) else {
                continue;
            };
            let Some(relative) = package_relative(key) else {
                continue;
            };
            let path = dir.join(relative);
            let Ok(file) = std::fs::File::options().write(true).open(&path) else {
                continue;
            };
            file.set_modified(std::time::SystemTime::from(time))
                .map_err(|e| Error::io("failed to set the modification time of", key, e))?;
            set += 1;
        }
    }
    Ok(set)
}

/// A key naming a file inside a package (relative, only normal components), as a path.
pub(crate) fn package_relative(key: &str) -> Option<PathBuf> {
    let path = Path::new(key);
    path.components()
        .all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
        .then(|| path.to_path_buf())
        .filter(|p| p.components().next().is_some())
}

/// A lock's last-modified text as a UTC time, truncated to microseconds (what the lock keeps).
pub(crate) fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let time = chrono::DateTime::parse_from_rfc3339(text)
        .ok()?
        .with_timezone(&chrono::Utc);
    let micros = time.timestamp_micros();
    chrono::DateTime::from_timestamp_micros(micros)
}

/// One file of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    /// Path components below the package directory.
    pub components: Vec<String>,
    /// Where it is on disk.
    pub full_path: PathBuf,
    /// Size in bytes.
    pub size: u64,
}

impl PackageFile {
    /// The package-relative POSIX path (`assets/item/visual.tif`).
    pub fn path(&self) -> String {
        self.components.join("/")
    }
}

fn walk(dir: &Path, prefix: &mut Vec<String>, out: &mut Vec<PackageFile>) -> Result<()> {
    let name = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("failed to list", &name, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("failed to list", &name, e))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| Error::io("failed to read", path.display().to_string(), e))?;
        let component = entry.file_name().to_string_lossy().into_owned();
        if kind.is_dir() {
            prefix.push(component);
            walk(&path, prefix, out)?;
            prefix.pop();
            continue;
        }
        // Files and symlinks to files count; broken links and links to directories do not.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_file() {
            let mut components = prefix.clone();
            components.push(component);
            out.push(PackageFile {
                components,
                full_path: path,
                size: meta.len(),
            });
        }
    }
    Ok(())
}

/// `sha256:<hex>` of each file, hashed on up to `threads` threads (each streams its file
/// through one 1 MiB buffer, so memory does not follow file sizes).
pub fn sha256_digests(paths: &[PathBuf], threads: usize) -> Result<Vec<String>> {
    let next = AtomicUsize::new(0);
    let done: Vec<Vec<(usize, Result<String>)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.clamp(1, paths.len().max(1)))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(i) else { break };
                        mine.push((i, sha256_file(path)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a hashing thread panicked"))
            .collect()
    });
    let mut digests = vec![String::new(); paths.len()];
    for (i, digest) in done.into_iter().flatten() {
        digests[i] = digest?;
    }
    Ok(digests)
}

/// `sha256:<hex>` of one file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let name = path.display().to_string();
    let mut file = std::fs::File::open(path).map_err(|e| Error::io("failed to open", &name, e))?;
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buffer = vec![0u8; 1024 * 1024];
    loop {
        let n = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("failed to read", name, e)),
        };
        context.update(&buffer[..n]);
    }
    Ok(format!("sha256:{}", hex(context.finish().as_ref())))
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A path as Python's `pathlib.PurePosixPath` prints it: empty and `.` components dropped,
/// repeated and trailing slashes collapsed (a leading `//` kept, as POSIX allows), `..` kept,
/// `.` when nothing is left.
pub fn python_path_str(path: &Path) -> String {
    let text = path.to_string_lossy();
    let root = if text.starts_with("//") && !text.starts_with("///") {
        "//"
    } else if text.starts_with('/') {
        "/"
    } else {
        ""
    };
    let parts: Vec<&str> = text
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if root.is_empty() && parts.is_empty() {
        return ".".into();
    }
    format!("{root}{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_like_python_pathlib() {
        for (input, expected) in [
            ("pkg/", "pkg"),
            ("./pkg", "pkg"),
            ("a//b/./c/", "a/b/c"),
            ("../pkg", "../pkg"),
            ("/tmp/x/", "/tmp/x"),
            ("//net/x", "//net/x"),
            ("///x", "/x"),
            (".", "."),
            ("./", "."),
            ("", "."),
            ("/", "/"),
        ] {
            assert_eq!(python_path_str(Path::new(input)), expected, "{input}");
        }
    }

    #[test]
    fn files_are_sorted_by_components_and_skip_linked_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for path in ["a-b/x", "a/x", "B", "a/y/z", ".hidden"] {
            let full = root.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, path).unwrap();
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("a"), root.join("linked-dir")).unwrap();
            std::os::unix::fs::symlink(root.join("B"), root.join("linked-file")).unwrap();
            std::os::unix::fs::symlink(root.join("gone"), root.join("broken")).unwrap();
        }
        let package = Package {
            dir: root.to_path_buf(),
        };
        let paths: Vec<String> = package.files().unwrap().iter().map(|f| f.path()).collect();
        let mut expected = vec![".hidden", "B", "a/x", "a/y/z", "a-b/x"];
        if cfg!(unix) {
            expected.push("linked-file");
        }
        assert_eq!(paths, expected);
    }

    #[test]
    fn digests_are_sha256_of_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        let abc = dir.path().join("abc");
        std::fs::write(&empty, b"").unwrap();
        std::fs::write(&abc, b"abc").unwrap();
        let digests = sha256_digests(&[empty, abc], 4).unwrap();
        assert_eq!(
            digests,
            [
                "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            ]
        );
    }
}
