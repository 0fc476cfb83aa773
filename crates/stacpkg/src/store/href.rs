//! Asset hrefs ↔ structured lock locations (ref §5.2, §5.3, SPEC §4).
//!
//! Pure string work: no store is built here. Departures from the original, on purpose:
//! an http(s) href with a query string (a signed URL) locates as its origin and path, and
//! credentials in a URL (`user:password@host`) are left out of every location, and the caller is
//! told that either was dropped, so no signature or password reaches a lock; `scheme://` is what
//! makes an href a URL, so a relative path with a colon stays a file path.

/// Store types of the lock, as obstore names them.
pub const STORE_TYPES: [&str; 6] = ["file", "s3", "gs", "az", "http", "https"];

/// A structured location: where an object lives, without credentials or signatures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// `file`, `s3`, `gs`, `az`, `http`, `https` (or another scheme, which locks normalise away).
    pub store_type: Option<String>,
    /// Bucket, container, or `scheme://host[:port]` origin.
    pub store_container: Option<String>,
    /// Object key or file path.
    pub key: Option<String>,
}

/// What [`locate`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The location.
    pub location: Location,
    /// Whether a query string (for example a URL signature) was left out of the location.
    pub query_dropped: bool,
    /// Whether credentials (`user:password@`) were left out of the location.
    pub userinfo_dropped: bool,
}

/// Split `user:password@` off a URL authority (`netloc`); says whether there was one.
fn without_userinfo(netloc: &str) -> (&str, bool) {
    match netloc.rfind('@') {
        Some(at) => (&netloc[at + 1..], true),
        None => (netloc, false),
    }
}

/// Azure URLs name `container@account` where other URLs have credentials.
fn names_account(scheme: &str) -> bool {
    matches!(
        scheme.to_ascii_lowercase().as_str(),
        "az" | "abfs" | "abfss" | "wasb" | "wasbs"
    )
}

/// Whether a URL carries credentials in its authority (`scheme://user:password@host/…`).
pub fn has_userinfo(url: &str) -> bool {
    url.split_once("://")
        .filter(|(scheme, _)| is_scheme(scheme))
        .is_some_and(|(_, rest)| {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            rest[..end].contains('@')
        })
}

/// An href without what must not be stored: credentials of any URL (`user:password@`), and the
/// query string of an http(s) URL (a signed URL's signature). `None` when there is nothing to
/// remove. The fragment and everything else stay as they are.
pub fn strip_secrets(href: &str) -> Option<String> {
    // Both kinds of secret need one of these bytes; most hrefs have neither, and every href of
    // an items stream is looked at on its way to Parquet.
    memchr::memchr2(b'@', b'?', href.as_bytes())?;
    let (scheme, rest) = href.split_once("://").filter(|(s, _)| is_scheme(s))?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (netloc, tail) = rest.split_at(authority_end);
    let (host, userinfo) = if names_account(scheme) {
        (netloc, false)
    } else {
        without_userinfo(netloc)
    };
    let web = matches!(normalize_store_type(scheme), Some("http" | "https"));
    let (path, query, fragment) = match tail.find(['?', '#']) {
        Some(i) if tail.as_bytes()[i] == b'?' => {
            let after = &tail[i..];
            let hash = after.find('#').unwrap_or(after.len());
            (&tail[..i], &after[..hash], &after[hash..])
        }
        Some(i) => (&tail[..i], "", &tail[i..]),
        None => (tail, "", ""),
    };
    let drop_query = web && query.len() > 1;
    if !userinfo && !drop_query {
        return None;
    }
    let query = if drop_query { "" } else { query };
    Some(format!("{scheme}://{host}{path}{query}{fragment}"))
}

/// The store type for a scheme or store-type alias, lower-cased; `None` when unknown.
pub fn normalize_store_type(name: &str) -> Option<&'static str> {
    match name.trim().to_ascii_lowercase().as_str() {
        "file" | "local" => Some("file"),
        "s3" | "s3a" => Some("s3"),
        "gs" | "gcs" => Some("gs"),
        "az" | "abfs" | "abfss" => Some("az"),
        "http" => Some("http"),
        "https" => Some("https"),
        _ => None,
    }
}

/// Normalise an endpoint URL: trimmed, no trailing `/`, `https://` added when there is no
/// scheme — including for bare `host:port`, which the original left as it was — and credentials
/// (`user:password@`) left out ([`has_userinfo`] tells whether there were any). Empty → `None`.
pub fn normalize_endpoint(endpoint: &str) -> Option<String> {
    let trimmed = endpoint.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return None;
    }
    let url = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("https://{trimmed}")
    };
    Some(strip_userinfo(&url))
}

/// A URL without `user:password@` in its authority.
fn strip_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (host, _) = without_userinfo(&rest[..end]);
            format!("{scheme}://{host}{}", &rest[end..])
        }
        None => url.to_string(),
    }
}

/// Where an href points (ref §5.2).
pub fn locate(href: &str) -> Located {
    let none = Located {
        location: Location::default(),
        query_dropped: false,
        userinfo_dropped: false,
    };
    if href.is_empty() {
        return none;
    }
    let Some((scheme, rest)) = href.split_once("://").filter(|(s, _)| is_scheme(s)) else {
        return Located {
            location: Location {
                store_type: Some("file".into()),
                store_container: None,
                key: Some(href.to_string()),
            },
            query_dropped: false,
            userinfo_dropped: false,
        };
    };
    let (netloc, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (netloc, userinfo_dropped) = if names_account(scheme) {
        (netloc, false)
    } else {
        without_userinfo(netloc)
    };
    let scheme_lower = scheme.to_ascii_lowercase();
    match normalize_store_type(&scheme_lower) {
        Some("file") => Located {
            location: Location {
                store_type: Some("file".into()),
                store_container: None,
                key: Some(strip_query_fragment(path).0.to_string()),
            },
            query_dropped: false,
            userinfo_dropped,
        },
        Some(kind @ ("http" | "https")) => {
            let (netloc, _) = strip_query_fragment(netloc);
            let (path, query) = strip_query_fragment(path);
            Located {
                location: Location {
                    store_type: Some(kind.into()),
                    store_container: Some(format!("{scheme_lower}://{netloc}")),
                    key: Some(path.trim_start_matches('/').to_string()),
                },
                query_dropped: query,
                userinfo_dropped,
            }
        }
        Some(kind) => Located {
            location: Location {
                store_type: Some(kind.into()),
                store_container: (!netloc.is_empty()).then(|| netloc.to_string()),
                key: Some(path.trim_start_matches('/').to_string()),
            },
            query_dropped: false,
            userinfo_dropped,
        },
        None => Located {
            location: Location {
                store_type: Some(scheme_lower),
                store_container: (!netloc.is_empty()).then(|| netloc.to_string()),
                key: Some(strip_secrets(href).unwrap_or_else(|| href.to_string())),
            },
            query_dropped: false,
            userinfo_dropped,
        },
    }
}

/// Resolve a relative href against the href of the document it came from (STAC semantics):
/// `./` and `..` segments are resolved, a `file://` base gives a plain path. Absolute hrefs
/// (with a scheme, or a path starting with `/`) and hrefs without a usable base (none, or itself
/// relative) come back unchanged; the caller resolves those against the working directory.
pub fn resolve_href(href: &str, base: Option<&str>) -> String {
    let has_scheme = |h: &str| h.split_once("://").is_some_and(|(s, _)| is_scheme(s));
    if href.is_empty() || href.starts_with('/') || has_scheme(href) {
        return href.to_string();
    }
    let Some(base) = base.map(str::trim).filter(|b| !b.is_empty()) else {
        return href.to_string();
    };
    let (prefix, base_path) = match base.split_once("://").filter(|(s, _)| is_scheme(s)) {
        Some((scheme, rest)) => {
            let (netloc, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            let path = strip_query_fragment(path).0;
            if scheme.eq_ignore_ascii_case("file") {
                (String::new(), path)
            } else {
                (format!("{scheme}://{netloc}"), path)
            }
        }
        None if base.starts_with('/') => (String::new(), base),
        None => return href.to_string(),
    };
    let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
    let (href_path, suffix) = match href.find(['?', '#']) {
        Some(i) => href.split_at(i),
        None => (href, ""),
    };
    let mut segments: Vec<&str> = Vec::new();
    for segment in dir.split('/').chain(href_path.split('/')) {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let trailing = if href_path.ends_with('/') { "/" } else { "" };
    format!("{prefix}/{}{trailing}{suffix}", segments.join("/"))
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Split off `?query` and `#fragment`; says whether there was a non-empty query.
fn strip_query_fragment(text: &str) -> (&str, bool) {
    let end = text.find(['?', '#']).unwrap_or(text.len());
    let query = text[end..].starts_with('?') && text.len() > end + 1;
    (&text[..end], query)
}

/// The href of a location (ref §5.3); `None` when the location is incomplete or of an unknown
/// store type.
pub fn href_of(location: &Location) -> Option<String> {
    let key = location.key.as_deref().unwrap_or("");
    let container = location
        .store_container
        .as_deref()
        .filter(|c| !c.is_empty());
    match location
        .store_type
        .as_deref()
        .and_then(normalize_store_type)?
    {
        "file" => {
            if key.is_empty() {
                None
            } else if key.starts_with('/') {
                Some(format!("file://{}", percent_encode_path(key)))
            } else {
                Some(key.to_string())
            }
        }
        kind @ ("s3" | "gs" | "az") => Some(format!(
            "{kind}://{}/{}",
            container?,
            key.trim_start_matches('/')
        )),
        _ => {
            let container = container?;
            if key.is_empty() {
                Some(container.to_string())
            } else {
                Some(format!(
                    "{}/{}",
                    container.trim_end_matches('/'),
                    key.trim_start_matches('/')
                ))
            }
        }
    }
}

/// Percent-encode a file path like Python's `pathlib.Path.as_uri` (RFC 3986 unreserved and `/`
/// stay as they are).
fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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

    #[test]
    fn hrefs_locate_as_in_the_original() {
        let cases = [
            ("./a/b.tif", loc("file", None, "./a/b.tif")),
            ("/abs/x", loc("file", None, "/abs/x")),
            ("file:///p/x", loc("file", None, "/p/x")),
            ("file://host/p/x", loc("file", None, "/p/x")),
            ("s3://b/k/x.tif", loc("s3", Some("b"), "k/x.tif")),
            ("s3a://b/k", loc("s3", Some("b"), "k")),
            ("gcs://b/k", loc("gs", Some("b"), "k")),
            (
                "abfss://c@acct.dfs.core.windows.net/p/x",
                loc("az", Some("c@acct.dfs.core.windows.net"), "p/x"),
            ),
            (
                "http://127.0.0.1:8080/a/b.tif",
                loc("http", Some("http://127.0.0.1:8080"), "a/b.tif"),
            ),
            ("https://h/a#frag", loc("https", Some("https://h"), "a")),
            ("x://n/p", loc("x", Some("n"), "x://n/p")),
        ];
        for (href, expected) in cases {
            let located = locate(href);
            assert_eq!(located.location, expected, "{href}");
            assert!(!located.query_dropped, "{href}");
        }
    }

    #[test]
    fn credentials_never_reach_a_location() {
        let located = locate("http://alice:PASSWORD@h:8080/x.bin");
        assert_eq!(
            located.location,
            loc("http", Some("http://h:8080"), "x.bin")
        );
        assert!(located.userinfo_dropped);
        assert!(!located.query_dropped);
        let located = locate("s3://key:SECRET@bucket/k");
        assert_eq!(located.location, loc("s3", Some("bucket"), "k"));
        assert!(located.userinfo_dropped);
        assert_eq!(
            normalize_endpoint("http://ak:PASSWORD@127.0.0.1:9000/").as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert!(has_userinfo("http://ak:PASSWORD@127.0.0.1:9000"));
        assert!(!has_userinfo("http://127.0.0.1:9000/a@b"));
    }

    #[test]
    fn secrets_are_stripped_from_hrefs_and_nothing_else() {
        assert_eq!(
            strip_secrets("https://u:p@h/a/b.tif?sig=S&se=1#frag").as_deref(),
            Some("https://h/a/b.tif#frag")
        );
        assert_eq!(
            strip_secrets("https://h/a.tif?X-Amz-Signature=S").as_deref(),
            Some("https://h/a.tif")
        );
        assert_eq!(
            strip_secrets("s3://u:p@b/k?versionId=3").as_deref(),
            Some("s3://b/k?versionId=3")
        );
        assert_eq!(strip_secrets("https://h/a.tif"), None);
        assert_eq!(strip_secrets("s3://b/k?versionId=3"), None);
        assert_eq!(strip_secrets("./a@b.tif"), None);
        assert_eq!(strip_secrets("abfss://c@acct.dfs.core.windows.net/x"), None);
    }

    #[test]
    fn signed_urls_locate_without_their_query() {
        let located = locate("https://acct.blob.core.windows.net/c/x.tif?sv=2024&sig=SECRET");
        assert_eq!(
            located.location,
            loc(
                "https",
                Some("https://acct.blob.core.windows.net"),
                "c/x.tif"
            )
        );
        assert!(located.query_dropped);
        let text = format!("{:?}", located.location);
        assert!(!text.contains("SECRET"));
    }

    #[test]
    fn locations_turn_back_into_hrefs() {
        assert_eq!(
            href_of(&loc("s3", Some("b"), "/k/x")).as_deref(),
            Some("s3://b/k/x")
        );
        assert_eq!(
            href_of(&loc("http", Some("http://h:1"), "a/b")).as_deref(),
            Some("http://h:1/a/b")
        );
        assert_eq!(
            href_of(&loc("file", None, "/p/a b.tif")).as_deref(),
            Some("file:///p/a%20b.tif")
        );
        assert_eq!(
            href_of(&loc("file", None, "rel/x")).as_deref(),
            Some("rel/x")
        );
        assert_eq!(href_of(&loc("s3", None, "k")), None);
        assert_eq!(href_of(&loc("ftp", Some("h"), "k")), None);
    }

    #[test]
    fn endpoints_normalise_including_bare_host_port() {
        assert_eq!(
            normalize_endpoint(" http://127.0.0.1:9000/ ").as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(
            normalize_endpoint("minio.local:9000").as_deref(),
            Some("https://minio.local:9000")
        );
        assert_eq!(
            normalize_endpoint("s3.amazonaws.com").as_deref(),
            Some("https://s3.amazonaws.com")
        );
        assert_eq!(normalize_endpoint("  "), None);
    }

    #[test]
    fn relative_hrefs_resolve_against_their_document() {
        let base = Some("https://h.example/cat/items/a.json");
        assert_eq!(
            resolve_href("./b.tif", base),
            "https://h.example/cat/items/b.tif"
        );
        assert_eq!(
            resolve_href("../assets/b.tif?x=1", base),
            "https://h.example/cat/assets/b.tif?x=1"
        );
        assert_eq!(
            resolve_href("b.tif", Some("file:///data/cat/item.json")),
            "/data/cat/b.tif"
        );
        assert_eq!(
            resolve_href("../b.tif", Some("/data/cat/item.json")),
            "/data/b.tif"
        );
        assert_eq!(resolve_href("./b.tif", Some("item.json")), "./b.tif");
        assert_eq!(resolve_href("./b.tif", None), "./b.tif");
        assert_eq!(resolve_href("s3://b/k", base), "s3://b/k");
        assert_eq!(resolve_href("/abs/k", base), "/abs/k");
    }

    #[test]
    fn store_type_aliases_normalise() {
        for (alias, kind) in [
            ("LOCAL", "file"),
            ("s3a", "s3"),
            ("gcs", "gs"),
            ("abfss", "az"),
        ] {
            assert_eq!(normalize_store_type(alias), Some(kind));
        }
        assert_eq!(normalize_store_type("ftp"), None);
    }
}
