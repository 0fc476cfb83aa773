//! Output files that appear atomically: written under a temporary name next to the destination
//! and renamed into place only when complete, so a failure leaves no partial file and never
//! touches an existing one (SPEC §0).

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

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
        let mut builder = tempfile::Builder::new();
        builder.prefix(".stacpkg-").suffix(".tmp");
        // Temp files are private (0600) by default; the finished file should get the same mode
        // as any file the user creates, so ask for 0666 and let the umask apply.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let temp = builder
            .tempfile_in(&dir)
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
