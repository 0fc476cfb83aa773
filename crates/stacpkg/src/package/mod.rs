//! Packages: a directory with `items.parquet`, `assets.lock.parquet` and optional content
//! (included files and directories, copied asset bytes under `assets/`) (ref §7–§8, seed 003).
//!
//! [`build`](build::build) makes one from an items stream, reproducibly and atomically;
//! [`inspect`](inspect::inspect) summarises one.

pub mod build;
pub mod inspect;
pub mod media_type;
mod mime_table;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};

/// The items table of a package.
pub const ITEMS_FILE: &str = "items.parquet";
/// The asset lock of a package.
pub const LOCK_FILE: &str = "assets.lock.parquet";
/// Where copied asset bytes live in a package.
pub const ASSETS_DIR: &str = "assets";

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
            Ok(_) => return Err(Error::NotPackage(format!("`{name}` is not a directory"))),
            Err(e) => return Err(Error::io("cannot open package directory", name, e)),
        }
        let missing: Vec<&str> = [ITEMS_FILE, LOCK_FILE]
            .into_iter()
            .filter(|file| !dir.join(file).is_file())
            .collect();
        if !missing.is_empty() {
            return Err(Error::NotPackage(format!(
                "not a stacpkg package directory: {name} missing {}",
                missing.join(", ")
            )));
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

    /// Every regular file below the package (symlinked files included, symlinked directories
    /// not entered, as Python's `rglob`), sorted by path components.
    pub fn files(&self) -> Result<Vec<PackageFile>> {
        let mut files = Vec::new();
        walk(&self.dir, &mut Vec::new(), &mut files)?;
        files.sort_by(|a, b| a.components.cmp(&b.components));
        Ok(files)
    }
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
