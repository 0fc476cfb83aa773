//! S3 endpoint and credential resolution per bucket (ref §5.4), kept apart from store building so
//! the precedence rules are plain functions over an environment lookup.
//!
//! Endpoint: the row's `store_endpoint_url`, else `STACPKG_S3_ENDPOINT_<BUCKET>`, else the
//! bucket's entry in `STACPKG_S3_ENDPOINTS_JSON`, else `AWS_ENDPOINT_URL`, else `AWS_ENDPOINT`.
//! Credentials: `STACPKG_S3_{ACCESS_KEY_ID,SECRET_ACCESS_KEY,SESSION_TOKEN,REGION,DEFAULT_REGION}
//! _<BUCKET>`; otherwise the standard `AWS_*` environment applies unchanged.

/// Per-bucket endpoint override.
pub const S3_ENDPOINT_PREFIX: &str = "STACPKG_S3_ENDPOINT_";
/// JSON object mapping bucket names to endpoints.
pub const S3_ENDPOINTS_JSON: &str = "STACPKG_S3_ENDPOINTS_JSON";
/// Per-bucket access key id.
pub const S3_ACCESS_KEY_ID_PREFIX: &str = "STACPKG_S3_ACCESS_KEY_ID_";
/// Per-bucket secret access key.
pub const S3_SECRET_ACCESS_KEY_PREFIX: &str = "STACPKG_S3_SECRET_ACCESS_KEY_";
/// Per-bucket session token.
pub const S3_SESSION_TOKEN_PREFIX: &str = "STACPKG_S3_SESSION_TOKEN_";
/// Per-bucket region.
pub const S3_REGION_PREFIX: &str = "STACPKG_S3_REGION_";
/// Per-bucket region, read when the `REGION` one is not set.
pub const S3_DEFAULT_REGION_PREFIX: &str = "STACPKG_S3_DEFAULT_REGION_";
/// Standard endpoint variables, in the order they are consulted.
pub const AWS_ENDPOINT_VARS: [&str; 2] = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT"];

/// What the environment says about one bucket, beyond the standard `AWS_*` variables.
#[derive(Default, Clone, PartialEq, Eq)]
pub(crate) struct S3Bucket {
    pub(crate) endpoint: Option<String>,
    pub(crate) access_key_id: Option<String>,
    pub(crate) secret_access_key: Option<String>,
    pub(crate) session_token: Option<String>,
    pub(crate) region: Option<String>,
}

impl std::fmt::Debug for S3Bucket {
    // Credentials never reach Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Bucket")
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id.as_ref().map(|_| "…"))
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// The environment-variable suffix for a bucket: every run of non-alphanumerics becomes `_`,
/// leading and trailing `_` are trimmed, and the result is upper-cased (`src.bucket-2` →
/// `SRC_BUCKET_2`).
pub fn bucket_env_suffix(bucket: &str) -> String {
    let mut out = String::with_capacity(bucket.len());
    let mut gap = false;
    for c in bucket.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c.to_ascii_uppercase());
        } else {
            gap = true;
        }
    }
    out
}

/// Resolve one bucket's endpoint and scoped credentials. `row_endpoint` is the lock row's
/// `store_endpoint_url`; `env` looks a variable up (empty values count as unset).
pub(crate) fn s3_bucket(
    bucket: &str,
    row_endpoint: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<S3Bucket, String> {
    let suffix = bucket_env_suffix(bucket);
    let var = |prefix: &str| env(&format!("{prefix}{suffix}")).filter(|v| !v.is_empty());
    let endpoint = match row_endpoint.filter(|e| !e.is_empty()) {
        Some(e) => Some(e.to_string()),
        None => match var(S3_ENDPOINT_PREFIX) {
            Some(e) => Some(e),
            None => match json_endpoint(bucket, env)? {
                Some(e) => Some(e),
                None => AWS_ENDPOINT_VARS
                    .iter()
                    .find_map(|name| env(name).filter(|v| !v.is_empty())),
            },
        },
    };
    let access_key_id = var(S3_ACCESS_KEY_ID_PREFIX);
    let secret_access_key = var(S3_SECRET_ACCESS_KEY_PREFIX);
    if access_key_id.is_some() != secret_access_key.is_some() {
        return Err(format!(
            "bucket-scoped S3 credentials for '{bucket}' require both {S3_ACCESS_KEY_ID_PREFIX}{suffix} and {S3_SECRET_ACCESS_KEY_PREFIX}{suffix}"
        ));
    }
    Ok(S3Bucket {
        endpoint: endpoint.and_then(|e| super::normalize_endpoint(&e)),
        access_key_id,
        secret_access_key,
        session_token: var(S3_SESSION_TOKEN_PREFIX),
        region: var(S3_REGION_PREFIX).or_else(|| var(S3_DEFAULT_REGION_PREFIX)),
    })
}

fn json_endpoint(
    bucket: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    let Some(text) = env(S3_ENDPOINTS_JSON).filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let not_object = || format!("{S3_ENDPOINTS_JSON} must be a JSON object");
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|_| not_object())?;
    let map = value.as_object().ok_or_else(not_object)?;
    match map.get(bucket) {
        None => Ok(None),
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(format!(
            "S3 endpoint for bucket '{bucket}' must be a non-empty string"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn bucket_names_mangle_like_the_original() {
        assert_eq!(bucket_env_suffix("src.bucket-2"), "SRC_BUCKET_2");
        assert_eq!(bucket_env_suffix("--a..b__c--"), "A_B_C");
        assert_eq!(bucket_env_suffix("plain"), "PLAIN");
    }

    #[test]
    fn endpoints_follow_the_reference_precedence() {
        let all = [
            ("STACPKG_S3_ENDPOINT_B", "http://scoped:1"),
            ("STACPKG_S3_ENDPOINTS_JSON", r#"{"b": "http://json:2"}"#),
            ("AWS_ENDPOINT_URL", "http://url:3"),
            ("AWS_ENDPOINT", "http://plain:4"),
        ];
        let resolve = |vars: &[(&str, &str)], row: Option<&str>| {
            s3_bucket("b", row, &env(vars)).unwrap().endpoint
        };
        assert_eq!(
            resolve(&all, Some("http://row:0/")).as_deref(),
            Some("http://row:0")
        );
        assert_eq!(resolve(&all, None).as_deref(), Some("http://scoped:1"));
        assert_eq!(resolve(&all[1..], None).as_deref(), Some("http://json:2"));
        assert_eq!(resolve(&all[2..], None).as_deref(), Some("http://url:3"));
        assert_eq!(resolve(&all[3..], None).as_deref(), Some("http://plain:4"));
        assert_eq!(resolve(&[], None), None);
    }

    #[test]
    fn bad_endpoint_json_and_half_credentials_are_errors() {
        let err = s3_bucket("b", None, &env(&[(S3_ENDPOINTS_JSON, "[1]")])).unwrap_err();
        assert_eq!(err, "STACPKG_S3_ENDPOINTS_JSON must be a JSON object");
        let err = s3_bucket("b", None, &env(&[(S3_ENDPOINTS_JSON, r#"{"b": ""}"#)])).unwrap_err();
        assert_eq!(err, "S3 endpoint for bucket 'b' must be a non-empty string");
        let err = s3_bucket(
            "src.b",
            None,
            &env(&[("STACPKG_S3_ACCESS_KEY_ID_SRC_B", "AK")]),
        )
        .unwrap_err();
        assert_eq!(
            err,
            "bucket-scoped S3 credentials for 'src.b' require both STACPKG_S3_ACCESS_KEY_ID_SRC_B and STACPKG_S3_SECRET_ACCESS_KEY_SRC_B"
        );
    }

    #[test]
    fn scoped_credentials_and_region_are_read_and_hidden_from_debug() {
        let bucket = s3_bucket(
            "b",
            None,
            &env(&[
                ("STACPKG_S3_ACCESS_KEY_ID_B", "AKID"),
                ("STACPKG_S3_SECRET_ACCESS_KEY_B", "SECRET"),
                ("STACPKG_S3_DEFAULT_REGION_B", "eu-west-1"),
            ]),
        )
        .unwrap();
        assert_eq!(bucket.secret_access_key.as_deref(), Some("SECRET"));
        assert_eq!(bucket.region.as_deref(), Some("eu-west-1"));
        let debug = format!("{bucket:?}");
        assert!(
            !debug.contains("SECRET") && !debug.contains("AKID"),
            "{debug}"
        );
    }
}
