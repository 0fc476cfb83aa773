//! `asset-lock validate`: check live objects against the lock (ref §5.5, SPEC §4).
//!
//! Results come out in input order as soon as they are known; the JSON line of each is the
//! original's byte for byte. Departures, on purpose: without `keep_going` a failed probe still
//! lets every earlier result out first; with it, the error in the result is one short line.
//!
//! Memory: as `derive` (one input batch, a few chunks of rows, `max_workers` probes).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::engine::{self, Event};
use super::{
    ASSET_KEY, FILE_CHECKSUM, ITEM_ID, KEY, LockRow, STORE_CONTAINER, STORE_TYPE, from_batch,
    normalized, row_chunks,
};
use crate::batch::BatchReader;
use crate::error::{Error, Result};
use crate::pyjson::string;
use crate::runtime::{Runtime, Threads};
use crate::store::{ObjectFacts, ObjectRef, StoreError, Stores};

/// Which rows to check and how.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// Only rows of these items, when not empty.
    pub item_ids: HashSet<String>,
    /// Only rows of these asset keys, when not empty.
    pub asset_keys: HashSet<String>,
    /// A failed probe becomes an invalid result instead of stopping the command.
    pub keep_going: bool,
    /// Concurrent probes, at least 1.
    pub max_workers: usize,
    /// Read the objects of rows with a `file_checksum` and check their bytes against it (rows
    /// without one are counted in [`ValidateReport::unverifiable`]).
    pub verify_checksums: bool,
    /// Where the probes run.
    pub runtime: Runtime,
    /// Validate only this shard's rows ([`super::shard`]); a shard stream's own shard is
    /// validated whole.
    pub shard: Option<super::Shard>,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions {
            verify_checksums: false,
            item_ids: HashSet::new(),
            asset_keys: HashSet::new(),
            keep_going: false,
            max_workers: super::DEFAULT_MAX_WORKERS,
            runtime: Runtime::Own,
            shard: None,
        }
    }
}

/// The result for one lock row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// The row's item.
    pub item_id: String,
    /// The row's asset.
    pub asset_key: String,
    /// Normalised store type (`None` when unknown).
    pub store_type: Option<String>,
    /// Bucket, container or origin.
    pub store_container: Option<String>,
    /// Endpoint, when the row names one.
    pub store_endpoint_url: Option<String>,
    /// Object key.
    pub key: Option<String>,
    /// What is wrong; empty when valid.
    pub errors: Vec<String>,
}

impl Validation {
    /// True when nothing is wrong.
    pub fn valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// The result as the original printed it: Python's `json.dumps(sort_keys=True)` (`", "` and
    /// `": "` separators, non-ASCII escaped), without the newline. `store_endpoint_url` appears
    /// only when the row has one.
    pub fn to_json_line(&self) -> String {
        let mut out = String::with_capacity(256);
        let optional = |out: &mut String, value: &Option<String>| match value {
            Some(text) => string(text, out),
            None => out.push_str("null"),
        };
        out.push_str("{\"asset_key\": ");
        string(&self.asset_key, &mut out);
        out.push_str(", \"errors\": [");
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            string(error, &mut out);
        }
        out.push_str("], \"item_id\": ");
        string(&self.item_id, &mut out);
        out.push_str(", \"key\": ");
        optional(&mut out, &self.key);
        out.push_str(", \"store_container\": ");
        optional(&mut out, &self.store_container);
        if self.store_endpoint_url.is_some() {
            out.push_str(", \"store_endpoint_url\": ");
            optional(&mut out, &self.store_endpoint_url);
        }
        out.push_str(", \"store_type\": ");
        optional(&mut out, &self.store_type);
        out.push_str(", \"valid\": ");
        out.push_str(if self.valid() { "true" } else { "false" });
        out.push('}');
        out
    }
}

/// What `validate` tells its caller, in order.
#[derive(Debug)]
pub enum ValidateEvent<'a> {
    /// The next result.
    Result(&'a Validation),
    /// A probe failed under `keep_going` (its result, invalid, follows).
    ProbeFailed(&'a Error),
    /// The next result is not ready yet: flush what was written.
    Idle,
}

/// Counts of a validate run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidateReport {
    /// Results emitted.
    pub results: u64,
    /// Results that were not valid.
    pub invalid: u64,
    /// Probes that failed (under `keep_going`).
    pub failed: u64,
    /// Query strings (possible signatures) left out of legacy signed-URL locations.
    pub queries_dropped: u64,
    /// Credentials (`user:password@`) left out of locations and endpoints.
    pub credentials_dropped: u64,
    /// Rows whose bytes were read and checked against their `file_checksum`.
    pub verified: u64,
    /// Rows that could not be verified because they have no `file_checksum` (when verifying).
    pub unverifiable: u64,
}

struct Check {
    result: Validation,
    /// Expected facts; `None` when a required field is missing (no probe).
    expected: Option<ObjectFacts>,
    target: ObjectRef,
    /// Read the bytes and check them against the expected checksum.
    verify: bool,
}

fn missing_fields(row: &Validation) -> Vec<&'static str> {
    let filled = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    let mut missing = Vec::new();
    if row.item_id.is_empty() {
        missing.push(ITEM_ID);
    }
    if row.asset_key.is_empty() {
        missing.push(ASSET_KEY);
    }
    match row.store_type.as_deref() {
        Some("file") => {
            if !filled(&row.key) {
                missing.push(KEY);
            }
        }
        Some("s3" | "gs" | "az") => {
            if !filled(&row.store_container) {
                missing.push(STORE_CONTAINER);
            }
            if !filled(&row.key) {
                missing.push(KEY);
            }
        }
        Some("http" | "https") => {
            if !filled(&row.store_container) {
                missing.push(STORE_CONTAINER);
            }
            if row.key.is_none() {
                missing.push(KEY);
            }
        }
        _ => missing.push(STORE_TYPE),
    }
    missing
}

fn compare(expected: &ObjectFacts, actual: &ObjectFacts) -> Vec<String> {
    let mut errors = Vec::new();
    if let (Some(e), Some(a)) = (expected.size, actual.size)
        && e != a
    {
        errors.push(format!("size mismatch: expected {e}, actual {a}"));
    }
    let text = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    for (name, e, a) in [
        ("etag", &expected.etag, &actual.etag),
        (
            "last_modified",
            &expected.last_modified,
            &actual.last_modified,
        ),
    ] {
        if let (Some(e), Some(a)) = (text(e), text(a))
            && e != a
        {
            errors.push(format!("{name} mismatch: expected {e}, actual {a}"));
        }
    }
    errors
}

/// The check of one lock row, or `None` when the selection leaves it out.
fn check_of(row: &LockRow, options: &ValidateOptions) -> Option<Check> {
    if (!options.item_ids.is_empty() && !options.item_ids.contains(&row.item_id))
        || (!options.asset_keys.is_empty() && !options.asset_keys.contains(&row.asset_key))
    {
        return None;
    }
    let mut result = Validation {
        item_id: row.item_id.clone(),
        asset_key: row.asset_key.clone(),
        store_type: row.location.store_type.clone(),
        store_container: row.location.store_container.clone(),
        store_endpoint_url: row.endpoint.clone(),
        key: row.location.key.clone(),
        errors: Vec::new(),
    };
    let missing = missing_fields(&result);
    let expected = if missing.is_empty() {
        Some(row.facts.clone())
    } else {
        result
            .errors
            .push(format!("missing fields: {}", missing.join(",")));
        None
    };
    let verify = options.verify_checksums
        && expected
            .as_ref()
            .is_some_and(|facts| facts.checksum.is_some());
    Some(Check {
        result,
        expected,
        target: ObjectRef::new(row.location.clone(), row.endpoint.clone()),
        verify,
    })
}

/// Validate a lock stream: every selected row's object is probed through `stores` and compared
/// with the lock. `on_event` gets each result in input order as soon as it is known. Without
/// `keep_going`, the first failed probe ends the run with its error (after every earlier result
/// was delivered).
pub fn validate(
    lock: BatchReader,
    stores: &Stores,
    options: ValidateOptions,
    mut on_event: impl FnMut(ValidateEvent<'_>) -> Result<()> + Send,
) -> Result<ValidateReport> {
    let shard = super::shard::of_input(&lock.schema(), options.shard, || "validate".into())?
        .map(|tag| tag.shard);
    let stores = stores.clone();
    let dropped = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let batch_dropped = Arc::clone(&dropped);
    let rows = normalized(lock).map(move |normalized| {
        let normalized = normalized?;
        batch_dropped[0].fetch_add(normalized.queries_dropped as u64, Ordering::Relaxed);
        batch_dropped[1].fetch_add(normalized.credentials_dropped as u64, Ordering::Relaxed);
        Ok(from_batch(&normalized.batch))
    });
    let plan_options = options.clone();
    let chunks = row_chunks(rows, move |row: &LockRow| {
        if shard.is_some_and(|shard| !shard.owns(&row.item_id, &row.asset_key)) {
            return Ok(None);
        }
        Ok(check_of(row, &plan_options))
    });
    let mut summary = ValidateReport::default();
    let read_bytes = Arc::new(AtomicU64::new(0));
    engine::run_ordered(
        chunks,
        &options.runtime,
        // Hashing is CPU work: spread it over every core. Probes alone are many small requests,
        // cheaper on one thread.
        if options.verify_checksums {
            Threads::All
        } else {
            Threads::One
        },
        options.max_workers,
        None,
        |mut check: Check| {
            let stores = stores.clone();
            let read_bytes = Arc::clone(&read_bytes);
            async move {
                let Some(expected) = &check.expected else {
                    return (check, None);
                };
                let observed = match expected.checksum.as_deref().filter(|_| check.verify) {
                    Some(checksum) => {
                        match stores
                            .hash(&check.target, Some(checksum), &read_bytes)
                            .await
                        {
                            Ok(hashed) => Ok((hashed.facts, None)),
                            // The bytes differ: the other facts still count, from a HEAD.
                            Err(StoreError::ChecksumMismatch(mismatch)) => stores
                                .head(&check.target)
                                .await
                                .map(|facts| (facts, Some(mismatch))),
                            Err(e) => Err(e),
                        }
                    }
                    None => stores.head(&check.target).await.map(|facts| (facts, None)),
                };
                match observed {
                    Ok((actual, mismatch)) => {
                        check.result.errors = compare(expected, &actual);
                        if let Some(mismatch) = mismatch {
                            check.result.errors.push(format!(
                                "{FILE_CHECKSUM} mismatch: expected {}, actual {}",
                                mismatch.expected, mismatch.actual
                            ));
                        }
                        (check, None)
                    }
                    Err(source) => {
                        let error = Error::Probe {
                            item_id: check.result.item_id.clone(),
                            asset_key: check.result.asset_key.clone(),
                            href: check.target.display(),
                            source,
                        };
                        (check, Some(error))
                    }
                }
            }
        },
        |event| match event {
            Event::Row((mut check, failure)) => {
                let probe_failed = failure.is_some();
                if let Some(error) = failure {
                    if !options.keep_going {
                        return Err(error);
                    }
                    summary.failed += 1;
                    on_event(ValidateEvent::ProbeFailed(&error))?;
                    check.result.errors.push(format!(
                        "cannot probe `{}`: {}",
                        check.target.display(),
                        error_reason(&error)
                    ));
                }
                summary.results += 1;
                summary.invalid += u64::from(!check.result.valid());
                if check.verify && !probe_failed {
                    summary.verified += 1;
                }
                if options.verify_checksums
                    && check
                        .expected
                        .as_ref()
                        .is_some_and(|e| e.checksum.is_none())
                {
                    summary.unverifiable += 1;
                }
                on_event(ValidateEvent::Result(&check.result))
            }
            Event::Idle | Event::ChunkEnd => on_event(ValidateEvent::Idle),
        },
    )?;
    summary.queries_dropped = dropped[0].load(Ordering::Relaxed);
    summary.credentials_dropped = dropped[1].load(Ordering::Relaxed);
    Ok(summary)
}

fn error_reason(error: &Error) -> String {
    std::error::Error::source(error).map_or_else(String::new, ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(errors: &[&str], endpoint: Option<&str>) -> Validation {
        Validation {
            item_id: "item-a".into(),
            asset_key: "visual".into(),
            store_type: Some("http".into()),
            store_container: Some("http://127.0.0.1:18081".into()),
            store_endpoint_url: endpoint.map(Into::into),
            key: Some("item-a/visual.tif".into()),
            errors: errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn json_lines_match_the_original_byte_for_byte() {
        let line = result(
            &["etag mismatch: expected \"deadbeef\", actual \"65920080-3e9\""],
            None,
        )
        .to_json_line();
        assert_eq!(
            line,
            r#"{"asset_key": "visual", "errors": ["etag mismatch: expected \"deadbeef\", actual \"65920080-3e9\""], "item_id": "item-a", "key": "item-a/visual.tif", "store_container": "http://127.0.0.1:18081", "store_type": "http", "valid": false}"#
        );
        let line = result(&[], Some("http://e:1")).to_json_line();
        assert!(line.contains(r#""store_endpoint_url": "http://e:1", "store_type""#));
        assert!(line.ends_with(r#""valid": true}"#));
    }

    #[test]
    fn missing_fields_are_named_in_check_order() {
        let mut row = result(&[], None);
        row.item_id.clear();
        row.store_container = Some(String::new());
        row.key = None;
        assert_eq!(missing_fields(&row), vec![ITEM_ID, STORE_CONTAINER, KEY]);
        row.store_type = Some("s3".into());
        row.key = Some(String::new());
        assert_eq!(missing_fields(&row), vec![ITEM_ID, STORE_CONTAINER, KEY]);
        row.store_type = None;
        assert_eq!(missing_fields(&row), vec![ITEM_ID, STORE_TYPE]);
    }

    #[test]
    fn mismatches_read_exactly_and_absent_facts_are_skipped() {
        let expected = ObjectFacts {
            size: Some(10),
            etag: Some("\"a\"".into()),
            last_modified: None,
            checksum: None,
        };
        let actual = ObjectFacts {
            size: Some(11),
            etag: Some("\"b\"".into()),
            last_modified: Some("2024-01-01T00:00:00+00:00".into()),
            checksum: None,
        };
        assert_eq!(
            compare(&expected, &actual),
            vec![
                "size mismatch: expected 10, actual 11".to_string(),
                "etag mismatch: expected \"a\", actual \"b\"".to_string(),
            ]
        );
    }
}
