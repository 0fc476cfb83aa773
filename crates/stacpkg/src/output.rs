//! Output files that appear atomically: written under a temporary name next to the destination
//! and renamed into place only when complete, so a failure leaves no partial file and never
//! touches an existing one (SPEC §0).
//!
//! A process that is killed cannot remove its temporary files and directories. Each one is held
//! under an exclusive advisory lock (`flock`) by the process that made it, and whoever makes a
//! new one next to it first removes the old ones no live process holds ([`sweep`]), so a killed
//! run's leftovers disappear on the next run. A sweep can catch a new entry in the moment
//! between its creation and its lock; the maker then sees its entry gone (or locked) and makes
//! another.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Remove the entries of `dir` named `prefix…suffix` that no live process holds (see the module
/// docs), once per directory and name pattern in a process: a run's own entries are live, and
/// writers of many files into one directory (blobs of an image layout) should not list it for
/// each. Best effort: an entry that cannot be opened, locked or removed is left alone.
pub(crate) fn sweep(dir: &Path, prefix: &str, suffix: &str) {
    static SWEPT: std::sync::Mutex<Vec<(PathBuf, String, String)>> =
        std::sync::Mutex::new(Vec::new());
    {
        let mut swept = SWEPT.lock().unwrap_or_else(|p| p.into_inner());
        let key = (dir.to_path_buf(), prefix.to_string(), suffix.to_string());
        if swept.contains(&key) {
            return;
        }
        swept.push(key);
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if !name.starts_with(prefix) || !name.ends_with(suffix) || name.len() <= prefix.len() {
            continue;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_symlink() {
            continue;
        }
        let Ok(handle) = File::open(&path) else {
            continue;
        };
        if handle.try_lock().is_err() {
            continue; // a live run holds it
        }
        let _ = if kind.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// A new temporary file in `dir` named `prefix…suffix`, held by this process (see the module
/// docs), after removing the ones of dead runs.
pub(crate) fn temp_file(
    dir: &Path,
    prefix: &str,
    suffix: &str,
    permissions: Option<std::fs::Permissions>,
) -> std::io::Result<tempfile::NamedTempFile> {
    sweep(dir, prefix, suffix);
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix).suffix(suffix);
    if let Some(permissions) = permissions {
        builder.permissions(permissions);
    }
    let mut attempts = 0;
    loop {
        let temp = builder.tempfile_in(dir)?;
        if held(temp.as_file(), temp.path()) {
            return Ok(temp);
        }
        attempts += 1;
        if attempts == HOLD_ATTEMPTS {
            return Err(std::io::Error::other(
                "another process keeps removing new temporary files",
            ));
        }
    }
}

/// [`temp_dir`] without special permissions, failing with the library's error naming `parent`.
pub(crate) fn scratch_dir(
    parent: &Path,
    prefix: &str,
) -> crate::error::Result<(tempfile::TempDir, File)> {
    temp_dir(parent, prefix, None).map_err(|e| {
        crate::error::Error::io(
            "failed to create a temporary directory in",
            parent.display().to_string(),
            e,
        )
    })
}

/// A new temporary directory in `parent` named `prefix…`, held by this process through the
/// returned handle (see the module docs), after removing the ones of dead runs.
pub(crate) fn temp_dir(
    parent: &Path,
    prefix: &str,
    permissions: Option<std::fs::Permissions>,
) -> std::io::Result<(tempfile::TempDir, File)> {
    sweep(parent, prefix, "");
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    if let Some(permissions) = permissions {
        builder.permissions(permissions);
    }
    let mut attempts = 0;
    loop {
        let dir = builder.tempdir_in(parent)?;
        let handle = File::open(dir.path())?;
        if held(&handle, dir.path()) {
            return Ok((dir, handle));
        }
        attempts += 1;
        if attempts == HOLD_ATTEMPTS {
            return Err(std::io::Error::other(
                "another process keeps removing new temporary directories",
            ));
        }
    }
}

/// New entries made before one is held (each lost to a sweep in the moment before its lock).
const HOLD_ATTEMPTS: usize = 8;

/// Lock `handle` (just opened at `path`); true when it is locked and still the entry at `path`
/// (not removed by another process's sweep in the meantime).
fn held(handle: &File, path: &Path) -> bool {
    if handle.try_lock().is_err() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (handle.metadata(), std::fs::symlink_metadata(path)) {
            (Ok(ours), Ok(there)) => ours.dev() == there.dev() && ours.ino() == there.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        path.exists()
    }
}

/// A file being written; dropped without [`commit`](Self::commit), it disappears.
#[derive(Debug)]
pub(crate) struct AtomicFile {
    temp: tempfile::NamedTempFile,
    path: PathBuf,
    name: String,
}

impl AtomicFile {
    /// Start writing `path` (parent directories are created).
    pub(crate) fn create(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io("failed to create directory for", &name, e))?;
        // Temp files are private (0600) by default; the finished file should get the same mode
        // as any file the user creates, so ask for 0666 and let the umask apply.
        let temp = temp_file(&dir, ".stacpkg-", ".tmp", Some(user_file_mode()))
            .map_err(|e| Error::io("failed to create a temporary file next to", &name, e))?;
        Ok(AtomicFile {
            temp,
            path: path.to_path_buf(),
            name,
        })
    }

    /// The destination's display name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// A handle to write through.
    pub(crate) fn file(&self) -> Result<File> {
        self.temp
            .as_file()
            .try_clone()
            .map_err(|e| Error::io("failed to open", &self.name, e))
    }

    /// Move the finished file into place.
    pub(crate) fn commit(self) -> Result<()> {
        self.temp.persist(&self.path).map(drop).map_err(|e| {
            Error::io(
                "failed to move the finished file into place at",
                &self.name,
                e.error,
            )
        })
    }
}

/// The mode any file the user creates gets (0666 less the umask); temp files are 0600 otherwise.
pub(crate) fn user_file_mode() -> std::fs::Permissions {
    #[cfg(unix)]
    {
        std::os::unix::fs::PermissionsExt::from_mode(0o666)
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(".")
            .map(|m| m.permissions())
            .expect("metadata of .")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeping_removes_what_no_live_run_holds() {
        let dir = tempfile::tempdir().unwrap();
        // A dead run's leftovers: nobody holds them.
        std::fs::create_dir(dir.path().join(".out.stacpkg-dead")).unwrap();
        std::fs::write(dir.path().join(".out.stacpkg-dead/x"), b"x").unwrap();
        std::fs::write(dir.path().join(".stacpkg-dead.tmp"), b"x").unwrap();
        // A live run's directory, and a file that only looks similar.
        let (live, _held) = temp_dir(dir.path(), ".out.stacpkg-", None).unwrap();
        std::fs::write(dir.path().join(".out.stacpkg-"), b"not a temp").unwrap();
        let (_fresh, _handle) = temp_dir(dir.path(), ".out.stacpkg-", None).unwrap();
        assert!(!dir.path().join(".out.stacpkg-dead").exists());
        assert!(live.path().exists());
        assert!(dir.path().join(".out.stacpkg-").exists());
        let _temp = temp_file(dir.path(), ".stacpkg-", ".tmp", None).unwrap();
        assert!(!dir.path().join(".stacpkg-dead.tmp").exists());
    }
}
