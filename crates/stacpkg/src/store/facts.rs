//! Observed object facts (size, ETag, last-modified, content checksum) and the errors a probe can end with.
//!
//! Facts are recorded the way the original recorded them (ref §5.4): ETags verbatim (HTTP and S3
//! keep their quotes), times as ISO-8601 with `+00:00` and microseconds only when non-zero.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// What a HEAD request says about an object. Absent facts are `None`, never a placeholder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectFacts {
    /// Size in bytes.
    pub size: Option<i64>,
    /// The backend's validator, verbatim.
    pub etag: Option<String>,
    /// Last modification, ISO-8601 (`2024-01-01T00:00:00+00:00`).
    pub last_modified: Option<String>,
    /// A checksum of the whole content, as a lowercase multihash ([`crate::checksum`]): one the
    /// store reports for the full object, or one computed from the bytes.
    pub checksum: Option<String>,
}

/// Format a time as the lock stores it: Python's `datetime.isoformat()` of a UTC time
/// (microseconds, truncated, only when non-zero).
pub fn iso_time(time: DateTime<Utc>) -> String {
    // Formatted by hand: strftime re-parses its pattern on every call, once per probed row.
    let micros = time.nanosecond() / 1_000 % 1_000_000;
    let (y, mo, d) = (time.year(), time.month(), time.day());
    let (h, mi, s) = (time.hour(), time.minute(), time.second());
    if micros == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+00:00")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{micros:06}+00:00")
    }
}

/// Why an object could not be probed or read. Kinds callers branch on are variants; the text of
/// every other failure is one short line with any URL query string removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The object does not exist.
    #[error("not found")]
    NotFound,
    /// The store refused the request (HTTP 401/403 and the like).
    #[error("access denied{}", detail(.0))]
    Denied(String),
    /// The store configuration from the environment is invalid.
    #[error("{0}")]
    Config(String),
    /// The location cannot name an object (for example, a file path with no key).
    #[error("{0}")]
    BadLocation(String),
    /// The destination exists and may not be replaced.
    #[error("{0}")]
    Exists(String),
    /// Multipart parts are smaller than the store accepts (S3: 5 MiB).
    #[error("S3 multipart parts must be at least {minimum} bytes (5 MiB)")]
    PartTooSmall {
        /// The smallest part the store accepts.
        minimum: usize,
    },
    /// The bytes read do not match the checksum they were expected to have.
    #[error(transparent)]
    ChecksumMismatch(Box<crate::checksum::Mismatch>),
    /// The work was stopped before it finished (another copy of the run failed).
    #[error("stopped")]
    Cancelled,
    /// Anything else, after retries.
    #[error("{0}")]
    Failed(String),
}

impl From<crate::checksum::Mismatch> for StoreError {
    fn from(mismatch: crate::checksum::Mismatch) -> Self {
        StoreError::ChecksumMismatch(Box::new(mismatch))
    }
}

fn detail(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(" ({text})")
    }
}

impl StoreError {
    /// Map an object_store error to a kind plus one short, secret-free line.
    pub(crate) fn from_object_store(error: &object_store::Error) -> Self {
        match error {
            object_store::Error::NotFound { .. } => StoreError::NotFound,
            object_store::Error::PermissionDenied { .. } => StoreError::Denied("HTTP 403".into()),
            object_store::Error::Unauthenticated { .. } => StoreError::Denied("HTTP 401".into()),
            object_store::Error::AlreadyExists { .. } => {
                StoreError::Exists("the destination already exists".into())
            }
            other => StoreError::Failed(short_reason(other)),
        }
    }
}

/// One line about a foreign error: the innermost cause (the outer layers repeat URLs, retry
/// counts and timings), stripped of URL queries and cut at the first line.
pub(crate) fn short_reason(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    let text = innermost.to_string();
    let line = text.lines().next().unwrap_or("").trim();
    let line = if line.is_empty() {
        error.to_string()
    } else {
        line.to_string()
    };
    let mut out = redact(&line);
    if out.len() > 300 {
        let mut cut = 300;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// Remove the credentials (`user:password@`), query string and fragment of every URL in a
/// text: signed URLs carry their signature in the query, and URLs may carry a password.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | ')' | '>'))
            .unwrap_or(after.len());
        let url = &after[..end];
        let url = &url[..url.find(['?', '#']).unwrap_or(url.len())];
        // `url` starts with `://`; the authority runs to the next `/`.
        let authority_end = url[3..].find('/').map_or(url.len(), |i| i + 3);
        match url[..authority_end].rfind('@') {
            Some(at_sign) => {
                out.push_str("://");
                out.push_str(&url[at_sign + 1..]);
            }
            None => out.push_str(url),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_format_like_python_isoformat() {
        let whole = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(iso_time(whole), "2024-01-01T00:00:00+00:00");
        let fine = Utc.timestamp_nanos(1_700_000_000_123_456_789);
        assert_eq!(iso_time(fine), "2023-11-14T22:13:20.123456+00:00");
    }

    #[test]
    fn redaction_drops_queries_of_every_url() {
        assert_eq!(
            redact("error for url (https://h/c/x.tif?sig=SECRET&se=1) and s3://b/k?x=y"),
            "error for url (https://h/c/x.tif) and s3://b/k"
        );
        assert_eq!(redact("no url here"), "no url here");
        assert_eq!(
            redact("cannot reach `http://alice:PASSWORD@h:1/x.bin?s=1`: refused"),
            "cannot reach `http://h:1/x.bin`: refused"
        );
        assert_eq!(redact("https://h/a@b"), "https://h/a@b");
    }

    #[test]
    fn denied_and_not_found_read_as_short_phrases() {
        assert_eq!(StoreError::NotFound.to_string(), "not found");
        assert_eq!(
            StoreError::Denied("HTTP 403".into()).to_string(),
            "access denied (HTTP 403)"
        );
    }
}
