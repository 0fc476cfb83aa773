//! Package directory ↔ OCI layers (ref §9.1, §9.2).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::blob::Descriptor;
use super::media_type::{
    ASSET_LOCK_MEDIA_TYPE, ASSET_MEDIA_TYPE, ASSET_ZIP_MEDIA_TYPE, FILES_ZIP_MEDIA_TYPE,
    ITEMS_MEDIA_TYPE,
};
use super::title::safe_relative_path;
use crate::error::{Error, Result};
use crate::package::media_type::MediaTypes;
use crate::package::{ASSETS_DIR, ITEMS_FILE, LOCK_FILE, Package, sha256_digests};

/// A top-level entry the original never pushes.
const SKIPPED: &str = "manifest.json";

/// A layer to push: its descriptor and the file holding its bytes.
#[derive(Debug, Clone)]
pub(super) struct Layer {
    /// The descriptor (digest and size of `path`).
    pub descriptor: Descriptor,
    /// The bytes: a package file, or a ZIP written into the scratch directory.
    pub path: PathBuf,
}

/// The layers of `package`, in the original's order: items, lock, then the other top-level
/// entries by name (`assets/` one layer per file, other directories one ZIP each, written into
/// `scratch`, files one layer each). Digests are computed on `threads` threads.
pub(super) fn package_layers(
    package: &Package,
    scratch: &Path,
    media_types: &MediaTypes,
    threads: usize,
) -> Result<Vec<Layer>> {
    let mut planned: Vec<(String, String, PathBuf)> = vec![
        (
            ITEMS_MEDIA_TYPE.into(),
            ITEMS_FILE.into(),
            package.items_path(),
        ),
        (
            ASSET_LOCK_MEDIA_TYPE.into(),
            LOCK_FILE.into(),
            package.lock_path(),
        ),
    ];
    let dir = package.dir();
    let shown = dir.display().to_string();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io("failed to list", &shown, e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io("failed to list", &shown, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if [ITEMS_FILE, LOCK_FILE, SKIPPED].contains(&name.as_str()) {
            continue;
        }
        let path = entry.path();
        // Links are followed, as the original's `is_dir` / `is_file` do.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() && name == ASSETS_DIR {
            for file in package.files_under(ASSETS_DIR)? {
                package.check_inside(&file.full_path)?;
                planned.push((ASSET_MEDIA_TYPE.into(), file.path(), file.full_path));
            }
        } else if meta.is_dir() {
            let title = safe_relative_path(&name)?;
            let archive = scratch.join(format!("{}.zip", planned.len()));
            let files = package.files_under(&name)?;
            for file in &files {
                package.check_inside(&file.full_path)?;
            }
            super::zip::write(&files, &archive)?;
            planned.push((FILES_ZIP_MEDIA_TYPE.into(), title, archive));
        } else if meta.is_file() {
            planned.push((media_types.of_layer(&name), name, path));
        }
    }
    // The tables too: a link to a table elsewhere would push that table.
    for (media_type, _, path) in &planned {
        if media_type != FILES_ZIP_MEDIA_TYPE {
            package.check_inside(path)?;
        }
    }
    for (_, title, _) in &mut planned {
        *title = safe_relative_path(title)?;
    }
    let paths: Vec<PathBuf> = planned.iter().map(|(_, _, p)| p.clone()).collect();
    let digests = sha256_digests(&paths, threads)?;
    planned
        .into_iter()
        .zip(digests)
        .map(|((media_type, title, path), digest)| {
            let size = std::fs::metadata(&path)
                .map_err(|e| Error::io("failed to read", path.display().to_string(), e))?
                .len();
            Ok(Layer {
                descriptor: Descriptor {
                    media_type,
                    digest,
                    size,
                    title: Some(title),
                },
                path,
            })
        })
        .collect()
}

/// Where a pulled layer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Placement {
    /// Written as this package-relative file.
    File(String),
    /// A ZIP whose members are extracted into the package.
    Zip,
}

/// Where each layer of a manifest goes; every title is checked before anything is fetched, and
/// two layers may not write the same file.
pub(super) fn placements(layers: &[Descriptor]) -> Result<Vec<Placement>> {
    let mut seen = HashSet::new();
    layers
        .iter()
        .enumerate()
        .map(|(index, layer)| {
            let placement = match layer.media_type.as_str() {
                ITEMS_MEDIA_TYPE => Placement::File(ITEMS_FILE.into()),
                ASSET_LOCK_MEDIA_TYPE => Placement::File(LOCK_FILE.into()),
                FILES_ZIP_MEDIA_TYPE | ASSET_ZIP_MEDIA_TYPE => Placement::Zip,
                other => match &layer.title {
                    Some(title) => Placement::File(safe_relative_path(title)?),
                    None if other == ASSET_MEDIA_TYPE => {
                        return Err(Error::UntitledLayer { index });
                    }
                    None => {
                        return Err(Error::UnsupportedLayer {
                            media_type: other.to_string(),
                        });
                    }
                },
            };
            if let Placement::File(path) = &placement
                && !seen.insert(path.clone())
            {
                return Err(Error::LayerConflict {
                    index,
                    path: path.clone(),
                });
            }
            Ok(placement)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(media_type: &str, title: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest: crate::oci::media_type::EMPTY_DIGEST.into(),
            size: 2,
            title: title.map(Into::into),
        }
    }

    #[test]
    fn layers_are_placed_by_media_type_then_title() {
        let placed = placements(&[
            layer(ITEMS_MEDIA_TYPE, Some("ignored.parquet")),
            layer(ASSET_LOCK_MEDIA_TYPE, None),
            layer(FILES_ZIP_MEDIA_TYPE, Some("docs")),
            layer(ASSET_MEDIA_TYPE, Some("assets/a/b.tif")),
            layer("text/markdown", Some("README.md")),
        ])
        .unwrap();
        assert_eq!(
            placed,
            [
                Placement::File("items.parquet".into()),
                Placement::File("assets.lock.parquet".into()),
                Placement::Zip,
                Placement::File("assets/a/b.tif".into()),
                Placement::File("README.md".into()),
            ]
        );
        let err = |layers: &[Descriptor]| placements(layers).unwrap_err().to_string();
        assert_eq!(
            err(&[layer(ASSET_MEDIA_TYPE, None)]),
            "OCI layer 0 is missing org.opencontainers.image.title"
        );
        assert_eq!(
            err(&[layer("text/x-odd", None)]),
            "unsupported OCI package layer media type: text/x-odd"
        );
        assert_eq!(
            err(&[layer("text/plain", Some("../x"))]),
            "unsafe package path: ../x"
        );
        assert!(
            err(&[
                layer(ITEMS_MEDIA_TYPE, None),
                layer("x/y", Some("items.parquet"))
            ])
            .contains("already writes")
        );
    }
}
