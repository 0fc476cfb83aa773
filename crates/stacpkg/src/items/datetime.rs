//! Parsing STAC datetime strings into microseconds since the Unix epoch (UTC).
//!
//! Accepted, like the Python original for these fields: RFC 3339 with `Z` or an offset (`T`,
//! `t` or a space between date and time), naive date-times (taken as UTC), and date-only
//! `YYYY-MM-DD` (midnight UTC). Fractions beyond microseconds are truncated. Unlike the original,
//! only STAC datetime fields are parsed at all (SPEC §3), so `"20240101"` in a `title` stays text.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// Parse a STAC datetime; `None` when the text is not one.
pub(crate) fn parse_micros(text: &str) -> Option<i64> {
    let text = text.trim();
    // The fixed-width shape check keeps arbitrary strings off chrono's slower paths.
    let bytes = text.as_bytes();
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    if bytes.len() == 10 {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros());
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.timestamp_micros());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(naive.and_utc().timestamp_micros());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::parse_micros;

    #[test]
    fn rfc3339_with_zone_converts_to_utc() {
        assert_eq!(parse_micros("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_micros("1970-01-01T00:00:00.000001Z"), Some(1));
    }

    #[test]
    fn naive_and_date_only_values_are_utc() {
        assert_eq!(parse_micros("1970-01-02T00:00:00"), Some(86_400_000_000));
        assert_eq!(parse_micros("1970-01-02"), Some(86_400_000_000));
    }

    #[test]
    fn nanoseconds_are_truncated_to_microseconds() {
        assert_eq!(parse_micros("1970-01-01T00:00:00.000001999Z"), Some(1));
    }

    #[test]
    fn non_datetimes_are_rejected() {
        for text in ["20240101", "2024-W01", "yesterday", "2024-13-01", ""] {
            assert_eq!(parse_micros(text), None, "{text}");
        }
    }
}
