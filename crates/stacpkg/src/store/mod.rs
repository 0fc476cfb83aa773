//! The object-store boundary: the one module that turns hrefs into locations and locations into
//! object stores (ARCHITECTURE §2.3). Nothing else in the crate names a backend builder.
//!
//! * [`href`]: href ↔ [`Location`], pure string work (ref §5.2, §5.3).
//! * [`config`]: S3 endpoint and credential precedence per bucket (ref §5.4).
//! * [`Stores`]: builds and caches one store per (type, container, endpoint) and probes objects.
//!   file, s3, gs and az go through the object_store crate. http(s) objects are probed with a
//!   plain HEAD on one shared connection pool, because the probe must keep the server's headers
//!   as they are (object_store's HTTP store turns a missing Last-Modified into 1970-01-01) and
//!   must be able to send a signed URL's query, which an object_store path cannot carry.
//!
//! TLS is rustls with the *ring* provider (no OpenSSL, no aws-lc C build).

#![allow(clippy::disallowed_types)] // this is the module the boundary lints point to

pub mod config;
pub mod copy;
pub mod facts;
pub mod href;

use std::collections::HashMap;
use std::path::{Component, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, RetryConfig};
use object_store::{ObjectStore, ObjectStoreExt};

pub use copy::{Budget, Copied, CopyOptions, CopyProgress, S3_MIN_PART};
pub use facts::{ObjectFacts, StoreError, iso_time, redact};
pub use href::{
    Located, Location, has_userinfo, href_of, locate, normalize_endpoint, normalize_store_type,
    resolve_href, strip_secrets,
};

/// Retries after the first attempt of a request that failed transiently (connection errors,
/// timeouts, HTTP 408/429/5xx); override with this environment variable.
pub const MAX_RETRIES_VAR: &str = "STACPKG_MAX_RETRIES";
/// Default for [`MAX_RETRIES_VAR`].
pub const DEFAULT_MAX_RETRIES: usize = 3;
/// First backoff; doubles per retry up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// No retry starts after this long since the first attempt.
const RETRY_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A stalled response (no bytes for this long) fails the attempt; total time is not capped so
/// large objects can stream.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// What to probe: a location (plus the endpoint its row names) and, for an http(s) href that
/// carried a query string or credentials, the full URL to send. The full URL never appears in
/// Debug output, in [`Target::display`] or in errors.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// Where the object lives.
    pub location: Location,
    /// The row's `store_endpoint_url`, normalised.
    pub endpoint: Option<String>,
    signed_url: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("location", &self.location)
            .field("endpoint", &self.endpoint)
            .field("signed", &self.signed_url.is_some())
            .finish()
    }
}

impl Target {
    /// A target from a lock location.
    pub fn new(location: Location, endpoint: Option<String>) -> Self {
        Target {
            location,
            endpoint,
            signed_url: None,
        }
    }

    /// A target for an href: its location, and the full URL when it is an http(s) URL with a
    /// query string or credentials (probed as is, stored without them). Also says what
    /// [`locate`] left out of the location.
    pub fn from_href(href: &str, endpoint: Option<String>) -> (Self, Located) {
        let located = locate(href);
        let signed_url = ((located.query_dropped || located.userinfo_dropped)
            && matches!(
                located.location.store_type.as_deref(),
                Some("http" | "https")
            ))
        .then(|| href.to_string());
        (
            Target {
                location: located.location.clone(),
                endpoint,
                signed_url,
            },
            located,
        )
    }

    /// The href to show: the location's href, never with a query string.
    pub fn display(&self) -> String {
        href_of(&self.location)
            .map(|h| redact(&h))
            .or_else(|| self.location.key.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct StoreKey {
    kind: &'static str,
    container: String,
    endpoint: Option<String>,
}

/// Builds, caches and uses object stores; cheap to share behind an `Arc` across tasks.
pub struct Stores {
    cache: Mutex<HashMap<StoreKey, Arc<dyn ObjectStore>>>,
    http: reqwest::Client,
    cwd: PathBuf,
    max_retries: usize,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("cwd", &self.cwd)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// Retries of a failed request: `STACPKG_MAX_RETRIES`, else [`DEFAULT_MAX_RETRIES`].
pub fn max_retries_from_env() -> Result<usize, StoreError> {
    match env_var(MAX_RETRIES_VAR) {
        None => Ok(DEFAULT_MAX_RETRIES),
        Some(text) => text.trim().parse().map_err(|_| {
            StoreError::Config(format!(
                "{MAX_RETRIES_VAR} must be a whole number, not `{text}`"
            ))
        }),
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Stores {
    /// Stores configured from the process environment; relative file keys resolve against the
    /// current working directory.
    pub fn from_env() -> Result<Self, StoreError> {
        // Several crates (reqwest, object_store) use the process-wide rustls provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let max_retries = max_retries_from_env()?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("stacpkg/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build()
            .map_err(|e| StoreError::Config(facts::short_reason(&e)))?;
        let cwd = std::env::current_dir()
            .map_err(|e| StoreError::Config(format!("cannot read the working directory: {e}")))?;
        Ok(Stores {
            cache: Mutex::new(HashMap::new()),
            http,
            cwd,
            max_retries,
        })
    }

    fn retry_config(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: FIRST_BACKOFF,
                max_backoff: MAX_BACKOFF,
                base: 2.0,
            },
            max_retries: self.max_retries,
            retry_timeout: RETRY_TIMEOUT,
        }
    }

    fn client_options(&self, allow_http: bool) -> ClientOptions {
        ClientOptions::new()
            .with_allow_http(allow_http)
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout_disabled()
            .with_read_timeout(READ_TIMEOUT)
    }

    /// Observe an object's facts with one HEAD request (retried when transient).
    pub async fn head(&self, target: &Target) -> Result<ObjectFacts, StoreError> {
        match target.location.store_type.as_deref() {
            Some("http" | "https") => {
                let url = match &target.signed_url {
                    Some(url) => url.clone(),
                    None => href_of(&target.location).ok_or_else(|| {
                        StoreError::BadLocation("an http(s) location needs a container".into())
                    })?,
                };
                self.head_http(&url).await
            }
            _ => {
                let (store, path) =
                    self.object_store(&target.location, target.endpoint.as_deref())?;
                let meta = store
                    .head(&path)
                    .await
                    .map_err(|e| StoreError::from_object_store(&e))?;
                let mut etag = meta.e_tag;
                if target.location.store_type.as_deref() == Some("file") {
                    // Locks written by the original carry local ETags unquoted
                    // (`<inode>-<mtime µs>-<size>`, hex); newer object_store quotes them.
                    etag = etag.map(|e| e.trim_matches('"').to_string());
                }
                Ok(ObjectFacts {
                    size: i64::try_from(meta.size).ok(),
                    etag,
                    last_modified: Some(iso_time(meta.last_modified)),
                })
            }
        }
    }

    async fn head_http(&self, url: &str) -> Result<ObjectFacts, StoreError> {
        let started = Instant::now();
        let mut attempt = 0usize;
        loop {
            let result = self.http.head(url).send().await;
            let transient = match &result {
                Ok(response) => {
                    let status = response.status().as_u16();
                    status >= 500 || status == 408 || status == 429
                }
                Err(e) => {
                    (e.is_connect() || e.is_timeout() || e.is_request()) && !is_tls_rejection(e)
                }
            };
            if transient && attempt < self.max_retries && started.elapsed() < RETRY_TIMEOUT {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            let response = result.map_err(|e| StoreError::Failed(facts::short_reason(&e)))?;
            let status = response.status();
            return match status.as_u16() {
                200..=299 => Ok(http_facts(response.headers())),
                404 | 410 => Err(StoreError::NotFound),
                401 | 403 => Err(StoreError::Denied(format!("HTTP {}", status.as_u16()))),
                _ => Err(StoreError::Failed(format!("HTTP {status}"))),
            };
        }
    }

    /// The object store and path for a location, building the store on first use. Stores are
    /// cached per (type, container, endpoint).
    pub fn object_store(
        &self,
        location: &Location,
        endpoint: Option<&str>,
    ) -> Result<(Arc<dyn ObjectStore>, ObjectPath), StoreError> {
        let kind = location
            .store_type
            .as_deref()
            .and_then(normalize_store_type)
            .ok_or_else(|| {
                StoreError::BadLocation(format!(
                    "unsupported store type `{}`",
                    location.store_type.as_deref().unwrap_or("")
                ))
            })?;
        let key = location.key.as_deref().unwrap_or("");
        let container = location.store_container.as_deref().unwrap_or("");
        if kind == "file" {
            if key.is_empty() {
                return Err(StoreError::BadLocation(
                    "a file location needs a key".into(),
                ));
            }
            let path = self.file_path(key);
            let path = ObjectPath::from_absolute_path(&path).map_err(|_| {
                StoreError::BadLocation(format!("`{}` is not a usable file path", path.display()))
            })?;
            return Ok((self.cached(kind, "", None, build_file)?, path));
        }
        if container.is_empty() {
            return Err(StoreError::BadLocation(format!(
                "a {kind} location needs a container"
            )));
        }
        let path = if matches!(kind, "http" | "https") {
            ObjectPath::parse(key)
        } else {
            ObjectPath::parse(key.trim_start_matches('/'))
        }
        .map_err(|_| StoreError::BadLocation(format!("`{key}` is not a usable object key")))?;
        let endpoint = endpoint.and_then(normalize_endpoint);
        let store = self.cached(
            kind,
            container,
            endpoint.as_deref(),
            |kind, container, ep| self.build(kind, container, ep),
        )?;
        Ok((store, path))
    }

    fn cached(
        &self,
        kind: &'static str,
        container: &str,
        endpoint: Option<&str>,
        build: impl FnOnce(&'static str, &str, Option<&str>) -> Result<Arc<dyn ObjectStore>, StoreError>,
    ) -> Result<Arc<dyn ObjectStore>, StoreError> {
        let key = StoreKey {
            kind,
            container: container.to_string(),
            endpoint: endpoint.map(str::to_string),
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(store) = cache.get(&key) {
            return Ok(Arc::clone(store));
        }
        let store = build(kind, container, endpoint)?;
        cache.insert(key, Arc::clone(&store));
        Ok(store)
    }

    fn build(
        &self,
        kind: &'static str,
        container: &str,
        endpoint: Option<&str>,
    ) -> Result<Arc<dyn ObjectStore>, StoreError> {
        let failed = |e: object_store::Error| StoreError::Config(facts::short_reason(&e));
        let store: Arc<dyn ObjectStore> = match kind {
            "s3" => {
                let bucket =
                    config::s3_bucket(container, endpoint, &env_var).map_err(StoreError::Config)?;
                let mut builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(container)
                    .with_retry(self.retry_config());
                let mut allow_http = false;
                if let Some(endpoint) = &bucket.endpoint {
                    allow_http = endpoint.starts_with("http://");
                    builder = builder.with_endpoint(endpoint).with_allow_http(allow_http);
                }
                if let (Some(id), Some(secret)) = (&bucket.access_key_id, &bucket.secret_access_key)
                {
                    builder = builder
                        .with_access_key_id(id)
                        .with_secret_access_key(secret);
                    if let Some(token) = &bucket.session_token {
                        builder = builder.with_token(token);
                    }
                }
                if let Some(region) = &bucket.region {
                    builder = builder.with_region(region);
                }
                let allow_http =
                    allow_http || env_var("AWS_ALLOW_HTTP").is_some_and(|v| truthy(&v));
                Arc::new(
                    builder
                        .with_client_options(self.client_options(allow_http))
                        .build()
                        .map_err(failed)?,
                )
            }
            "gs" => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(container)
                    .with_retry(self.retry_config())
                    .with_client_options(self.client_options(false))
                    .build()
                    .map_err(failed)?,
            ),
            "az" => {
                // `container@account.dfs.core.windows.net` (abfs URLs) names the account too.
                let (name, account) = match container.split_once('@') {
                    Some((name, host)) => (name, host.split('.').next()),
                    None => (container, None),
                };
                let mut builder = object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_container_name(name)
                    .with_retry(self.retry_config());
                if let Some(account) = account.filter(|a| !a.is_empty()) {
                    builder = builder.with_account(account);
                }
                let mut allow_http = env_var("AZURE_STORAGE_USE_EMULATOR")
                    .or_else(|| env_var("AZURE_ALLOW_HTTP"))
                    .is_some_and(|v| truthy(&v));
                if let Some(endpoint) = endpoint {
                    allow_http |= endpoint.starts_with("http://");
                    builder = builder.with_endpoint(endpoint.to_string());
                }
                Arc::new(
                    builder
                        .with_client_options(self.client_options(allow_http))
                        .build()
                        .map_err(failed)?,
                )
            }
            _ => Arc::new(
                object_store::http::HttpBuilder::new()
                    .with_url(container)
                    .with_retry(self.retry_config())
                    .with_client_options(self.client_options(container.starts_with("http://")))
                    .build()
                    .map_err(failed)?,
            ),
        };
        Ok(store)
    }

    /// A file key as an absolute path: relative keys resolve against the working directory,
    /// `.` and `..` segments are resolved lexically.
    fn file_path(&self, key: &str) -> PathBuf {
        let joined = self.cwd.join(key);
        let mut out = PathBuf::new();
        for component in joined.components() {
            match component {
                Component::CurDir => {}
                Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        out
    }
}

fn build_file(
    _: &'static str,
    _: &str,
    _: Option<&str>,
) -> Result<Arc<dyn ObjectStore>, StoreError> {
    Ok(Arc::new(object_store::local::LocalFileSystem::new()))
}

fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

fn backoff(attempt: usize) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_BACKOFF)
}

/// A TLS handshake the client refused (an untrusted or invalid certificate) fails the same way
/// every time; it is not retried.
fn is_tls_rejection(error: &reqwest::Error) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if e.is::<rustls::Error>() {
            return true;
        }
        // I/O errors wrap their cause where `source()` does not reach it.
        current = match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

fn http_facts(headers: &reqwest::header::HeaderMap) -> ObjectFacts {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    ObjectFacts {
        size: text(reqwest::header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok()),
        etag: text(reqwest::header::ETAG).map(str::to_string),
        last_modified: text(reqwest::header::LAST_MODIFIED)
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v.trim()).ok())
            .map(|t| iso_time(t.with_timezone(&chrono::Utc))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_targets_show_no_query() {
        let (target, dropped) = Target::from_href("https://h/c/x.tif?sig=SECRET", None);
        assert!(dropped.query_dropped);
        assert_eq!(target.display(), "https://h/c/x.tif");
        assert!(!format!("{target:?}").contains("SECRET"));
    }

    #[test]
    fn relative_file_keys_resolve_against_the_working_directory() {
        let stores = Stores::from_env().unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(stores.file_path("./a/../b/x.tif"), cwd.join("b/x.tif"));
        assert_eq!(stores.file_path("/abs/./x"), PathBuf::from("/abs/x"));
    }

    #[test]
    fn http_headers_become_facts_verbatim() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("content-length", "1000".parse().unwrap());
        headers.insert("etag", "\"65920080-3e8\"".parse().unwrap());
        headers.insert(
            "last-modified",
            "Mon, 01 Jan 2024 00:00:00 GMT".parse().unwrap(),
        );
        let facts = http_facts(&headers);
        assert_eq!(facts.size, Some(1000));
        assert_eq!(facts.etag.as_deref(), Some("\"65920080-3e8\""));
        assert_eq!(
            facts.last_modified.as_deref(),
            Some("2024-01-01T00:00:00+00:00")
        );
        headers.remove("last-modified");
        assert_eq!(http_facts(&headers).last_modified, None);
    }
}
