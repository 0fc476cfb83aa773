//! Relocation planning (ref §5.6, SPEC §6): where each source row goes under `--store-type`.
//!
//! Pure string work over lock rows. Departures from the original, on purpose: two different
//! sources that map to one destination are an error naming both, instead of a silent overwrite;
//! and every destination stays under the destination prefix. The path below the prefix is
//! normalised (empty and `.` segments dropped, `a/../b` is `b`, a leading `/` is dropped), and a
//! path whose `..` would climb above the prefix (`../shared/x.tif`, `/../../etc/x`) is an error
//! naming the row — for plans, dry runs and copies alike, since all of them are planned here.

use std::collections::HashMap;

use crate::error::{Collision, Error, Result};
use crate::store::{Location, href_of, normalize_endpoint};

/// How destination keys are laid out under the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyLayout {
    /// `<item_id>/<asset_key><suffix>` (the default).
    #[default]
    ItemAsset,
    /// The source key (or the source URL's path).
    SourceKey,
}

/// The destination base of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// `file`, `s3`, `gs`, `az`, `http` or `https`.
    pub store_type: String,
    /// Bucket, container or origin (required except for `file`).
    pub store_container: Option<String>,
    /// Endpoint of the destination store.
    pub store_endpoint_url: Option<String>,
    /// Key prefix (`--key`), possibly empty.
    pub key_prefix: String,
    /// Only rows whose href is this prefix or below it are relocated.
    pub source_prefix: Option<String>,
    /// Key layout.
    pub layout: KeyLayout,
}

impl PlanOptions {
    /// Local files under the directory `prefix`, item-asset layout.
    pub fn local(prefix: impl Into<String>) -> Self {
        PlanOptions {
            store_type: "file".into(),
            store_container: None,
            store_endpoint_url: None,
            key_prefix: prefix.into(),
            source_prefix: None,
            layout: KeyLayout::ItemAsset,
        }
    }

    /// Objects in the bucket or container of `store_type` (`s3`, `gs`, `az`) under `prefix`,
    /// item-asset layout.
    pub fn bucket(store_type: &str, container: &str, prefix: impl Into<String>) -> Self {
        PlanOptions {
            store_type: store_type.into(),
            store_container: Some(container.into()),
            store_endpoint_url: None,
            key_prefix: prefix.into(),
            source_prefix: None,
            layout: KeyLayout::ItemAsset,
        }
    }

    /// The reference's checks, made before any input is read: a container for every store type
    /// but `file`, a key prefix for `file`.
    pub fn check(&self) -> Result<()> {
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        let missing = |field| Error::IncompleteDestination {
            field,
            store_type: self.store_type.clone(),
        };
        if self.store_type != "file" && blank(&self.store_container) {
            return Err(missing("store_container"));
        }
        if self.store_type == "file" && self.key_prefix.trim().is_empty() {
            return Err(missing("key"));
        }
        Ok(())
    }
}

/// One source row as planning sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SourceRow<'a> {
    /// Item id.
    pub item_id: &'a str,
    /// Asset key.
    pub asset_key: &'a str,
    /// Where the object is now.
    pub location: &'a Location,
}

/// Replace every run of characters outside `[A-Za-z0-9._=-]` with `_`, then strip leading and
/// trailing `.`, `_` and `/`.
pub(super) fn sanitize(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    let mut in_run = false;
    for c in component.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '=' | '-') {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out.trim_matches(|c| matches!(c, '.' | '_' | '/'))
        .to_string()
}

/// The path of an href: the URL path for URLs (query and fragment ignored), the href itself for
/// plain paths.
fn href_path(href: &str) -> &str {
    let path = match href.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => href,
    };
    &path[..path.find(['?', '#']).unwrap_or(path.len())]
}

/// Python's `PurePosixPath(path).suffix`: the last `.ext` of the last segment, not for dot files.
fn suffix(path: &str) -> &str {
    let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if name.ends_with('.') {
        return "";
    }
    match name.rfind('.') {
        Some(i) if i > 0 => &name[i..],
        _ => "",
    }
}

fn item_asset_path(row: &SourceRow<'_>, source_href: &str) -> String {
    let item = Some(sanitize(row.item_id))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "item".into());
    let mut asset = Some(sanitize(row.asset_key))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "asset".into());
    let ext = suffix(href_path(source_href));
    if !asset.ends_with(ext) {
        asset.push_str(ext);
    }
    format!("{item}/{asset}")
}

/// A key as a path below a prefix: a leading `/`, empty and `.` segments dropped and `..`
/// resolved; `None` when a `..` would climb above the prefix.
fn below_prefix(key: &str) -> Option<String> {
    let mut segments: Vec<&str> = Vec::new();
    for segment in key.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            other => segments.push(other),
        }
    }
    Some(segments.join("/"))
}

/// Plans destinations row by row and remembers where each went, to refuse collisions.
#[derive(Debug)]
pub(super) struct Planner {
    options: PlanOptions,
    /// Destination href → the source that claimed it (item, asset, source href). Memory: one
    /// entry per relocated row (tens of bytes each).
    claimed: HashMap<String, (String, String, String)>,
}

/// What planning decided for one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Planned {
    /// Outside `--source-prefix`: the row passes through unchanged.
    Unmapped,
    /// Relocated to this location (with the plan's endpoint).
    To(Location),
}

impl Planner {
    /// A planner for `options` (already [`PlanOptions::check`]ed).
    pub(super) fn new(mut options: PlanOptions) -> Self {
        options.store_endpoint_url = options
            .store_endpoint_url
            .as_deref()
            .and_then(normalize_endpoint);
        Planner {
            options,
            claimed: HashMap::new(),
        }
    }

    /// The destination endpoint (normalised).
    pub(super) fn endpoint(&self) -> Option<&str> {
        self.options.store_endpoint_url.as_deref()
    }

    /// Where `row` goes; an error names both rows when another source already maps to the same
    /// destination.
    pub(super) fn plan(&mut self, row: &SourceRow<'_>) -> Result<Planned> {
        let source_href = href_of(row.location).unwrap_or_default();
        if let Some(prefix) = &self.options.source_prefix {
            let prefix = prefix.trim_end_matches('/');
            let below = source_href
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            if !below {
                return Ok(Planned::Unmapped);
            }
        }
        let path = match self.options.layout {
            KeyLayout::ItemAsset => item_asset_path(row, &source_href),
            KeyLayout::SourceKey => {
                let key = row.location.key.as_deref().unwrap_or("");
                let key = if key.trim_start_matches('/').is_empty() {
                    href_path(&source_href)
                } else {
                    key
                };
                match below_prefix(key) {
                    Some(path) if path.is_empty() => item_asset_path(row, &source_href),
                    Some(path) => path,
                    None => {
                        return Err(Error::KeyEscapesPrefix {
                            item_id: row.item_id.to_string(),
                            asset_key: row.asset_key.to_string(),
                            key: crate::store::redact(key),
                            prefix: self.options.key_prefix.clone(),
                        });
                    }
                }
            }
        };
        let prefix = self.options.key_prefix.trim_end_matches('/');
        let key = if prefix.is_empty() {
            path
        } else {
            format!("{prefix}/{path}")
        };
        let location = Location {
            store_type: Some(self.options.store_type.clone()),
            store_container: self.options.store_container.clone(),
            key: Some(key),
        };
        let destination = href_of(&location).unwrap_or_default();
        match self.claimed.get(&destination) {
            Some((item, asset, earlier)) if *earlier != source_href => {
                return Err(Error::DestinationCollision(Box::new(Collision {
                    item_id: row.item_id.to_string(),
                    asset_key: row.asset_key.to_string(),
                    source_href: crate::store::redact(&source_href),
                    other_item_id: item.clone(),
                    other_asset_key: asset.clone(),
                    other_href: earlier.clone(),
                    destination,
                })));
            }
            Some(_) => {}
            None => {
                self.claimed.insert(
                    destination,
                    (
                        row.item_id.to_string(),
                        row.asset_key.to_string(),
                        source_href,
                    ),
                );
            }
        }
        Ok(Planned::To(location))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(t: &str, c: Option<&str>, k: &str) -> Location {
        Location {
            store_type: Some(t.into()),
            store_container: c.map(Into::into),
            key: Some(k.into()),
        }
    }

    fn options(store_type: &str, container: Option<&str>, prefix: &str) -> PlanOptions {
        PlanOptions {
            store_type: store_type.into(),
            store_container: container.map(Into::into),
            store_endpoint_url: None,
            key_prefix: prefix.into(),
            source_prefix: None,
            layout: KeyLayout::ItemAsset,
        }
    }

    fn key(planned: Planned) -> String {
        match planned {
            Planned::To(l) => l.key.unwrap(),
            Planned::Unmapped => panic!("unmapped"),
        }
    }

    #[test]
    fn item_asset_keys_are_sanitised_and_keep_the_source_suffix() {
        assert_eq!(sanitize("S2B tile/01:A"), "S2B_tile_01_A");
        assert_eq!(sanitize("..__x__.."), "x");
        let mut planner = Planner::new(options("s3", Some("dst"), "mirror/"));
        let source = loc("https", Some("https://h"), "a/b/visual.TIF?x=1");
        let row = SourceRow {
            item_id: "item a",
            asset_key: "visual",
            location: &source,
        };
        assert_eq!(key(planner.plan(&row).unwrap()), "mirror/item_a/visual.TIF");
        let source = loc("s3", Some("b"), "x/archive.tar.gz");
        let row = SourceRow {
            item_id: "i",
            asset_key: "data.gz",
            location: &source,
        };
        assert_eq!(key(planner.plan(&row).unwrap()), "mirror/i/data.gz");
        let source = loc("file", None, "/x/.hidden");
        let row = SourceRow {
            item_id: "",
            asset_key: "??",
            location: &source,
        };
        assert_eq!(key(planner.plan(&row).unwrap()), "mirror/item/asset");
    }

    #[test]
    fn source_prefix_selects_rows_and_source_key_layout_keeps_keys() {
        let mut opts = options("s3", Some("dst"), "");
        opts.source_prefix = Some("https://h/data/".into());
        opts.layout = KeyLayout::SourceKey;
        let mut planner = Planner::new(opts);
        let inside = loc("https", Some("https://h"), "data/x/a.tif");
        let outside = loc("https", Some("https://h"), "database/a.tif");
        let row = |l| SourceRow {
            item_id: "i",
            asset_key: "a",
            location: l,
        };
        assert_eq!(key(planner.plan(&row(&inside)).unwrap()), "data/x/a.tif");
        assert_eq!(planner.plan(&row(&outside)).unwrap(), Planned::Unmapped);
    }

    #[test]
    fn source_keys_stay_below_the_prefix_or_are_refused() {
        let mut opts = options("file", None, "mirror/");
        opts.layout = KeyLayout::SourceKey;
        let mut planner = Planner::new(opts);
        fn row(location: &Location) -> SourceRow<'_> {
            SourceRow {
                item_id: "i",
                asset_key: "a",
                location,
            }
        }
        let inside = loc("file", None, "/data/./x/../y.tif");
        assert_eq!(
            key(planner.plan(&row(&inside)).unwrap()),
            "mirror/data/y.tif"
        );
        for escaping in ["../shared/x.tif", "/../../etc/x", "a/../../b"] {
            let source = loc("file", None, escaping);
            let err = planner.plan(&row(&source)).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "item `i` asset `a`: source key `{escaping}` would leave the destination prefix `mirror/`; the item-asset layout keeps every asset inside it"
                )
            );
        }
        let url = loc("https", Some("https://h"), "");
        assert_eq!(
            key(planner.plan(&row(&url)).unwrap()),
            "mirror/i/a",
            "no key and no path: the item-asset path"
        );
    }

    #[test]
    fn two_sources_on_one_destination_are_refused_naming_both() {
        let mut opts = options("file", None, "/mirror");
        opts.layout = KeyLayout::SourceKey;
        let mut planner = Planner::new(opts);
        let a = loc("s3", Some("one"), "item-b/data.tif");
        let b = loc("az", Some("two"), "item-b/data.tif");
        planner
            .plan(&SourceRow {
                item_id: "x",
                asset_key: "a",
                location: &a,
            })
            .unwrap();
        let err = planner
            .plan(&SourceRow {
                item_id: "y",
                asset_key: "b",
                location: &b,
            })
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "item `y` asset `b` (`az://two/item-b/data.tif`) and item `x` asset `a` (`s3://one/item-b/data.tif`) would both be relocated to `file:///mirror/item-b/data.tif`"
        );
    }

    #[test]
    fn destination_options_are_checked_like_the_original() {
        assert_eq!(
            options("s3", None, "").check().unwrap_err().to_string(),
            "store_container is required when store_type is s3"
        );
        assert_eq!(
            options("file", None, " ").check().unwrap_err().to_string(),
            "key is required when store_type is file"
        );
        assert!(options("file", None, "out").check().is_ok());
    }
}
