//! The object-store boundary: the one module that turns hrefs into locations and locations into
//! object stores (ARCHITECTURE §2.3). Nothing else in the crate names a backend builder.
//!
//! * [`locate`] / [`href_of`]: href ↔ [`Location`], pure string work (ref §5.2, §5.3).
//! * [`config`]: S3 endpoint and credential precedence per bucket (ref §5.4).
//! * [`Stores`]: builds and caches one store per (type, container, endpoint) and probes objects.
//!   file, s3, gs and az go through the object_store crate. http(s) objects are probed with a
//!   plain HEAD on one shared connection pool, because the probe must keep the server's headers
//!   as they are (object_store's HTTP store turns a missing Last-Modified into 1970-01-01) and
//!   must be able to send a signed URL's query, which an object_store path cannot carry.
//!
//! ## Where settings come from
//! The caller decides, when it builds [`Stores`]: [`Stores::from_env`] applies the command
//! line's environment rules (read once, then), [`Stores::builder`] takes everything in code —
//! per-location [`LocationOptions`] (endpoint, region, credentials, anonymous access, plain
//! HTTP) and whole object stores registered for a location (an in-memory store in tests) — and
//! reads nothing from the environment. A store registered for a location wins over options for
//! it, and options win over the environment.
//!
//! TLS is rustls with the *ring* provider (no OpenSSL, no aws-lc C build).

#![allow(clippy::disallowed_types)] // this is the module the boundary lints point to

pub mod config;
mod copy;
mod facts;
mod hash;
mod href;
mod settings;

use std::collections::HashMap;
use std::path::{Component, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use object_store::ClientOptions;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::net::{RetryPolicy, Timeouts};
use settings::{Environment, Settings};
pub use settings::{LocationOptions, StoresBuilder};

pub(crate) use copy::Budget;
pub use copy::{Copied, CopyOptions, CopyProgress, DEFAULT_CHUNK_SIZE, S3_MIN_PART};
pub(crate) use facts::short_reason;
pub use facts::{ObjectFacts, StoreError, iso_time, redact};
pub use hash::Hashed;
pub use href::{
    Located, Location, STORE_TYPES, has_userinfo, href_of, locate, normalize_endpoint,
    normalize_store_type, resolve_href, strip_secrets,
};

/// The request header that makes S3 report an object's checksums.
const S3_CHECKSUM_MODE: &str = "x-amz-checksum-mode";
/// S3's SHA-256 of the object (base64), when it was uploaded with one.
const S3_CHECKSUM_SHA256: &str = "x-amz-checksum-sha256";
/// `FULL_OBJECT` or `COMPOSITE` (a checksum of part checksums).
const S3_CHECKSUM_TYPE: &str = "x-amz-checksum-type";
/// How long a signed HEAD stays valid: it is sent at once, and retried within the retry budget.
const SIGNED_HEAD_VALIDITY: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Retries of a failed request, read by [`Stores::from_env`] (default
/// [`RetryPolicy::default`]'s 3).
pub const MAX_RETRIES_VAR: &str = "STACPKG_MAX_RETRIES";

/// What to probe: a location (plus the endpoint its row names) and, for an http(s) href that
/// carried a query string or credentials, the full URL to send. The full URL never appears in
/// Debug output, in [`ObjectRef::display`] or in errors.
#[derive(Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// Where the object lives.
    pub location: Location,
    /// The row's `store_endpoint_url`, normalised.
    pub endpoint: Option<String>,
    signed_url: Option<String>,
}

impl std::fmt::Debug for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectRef")
            .field("location", &self.location)
            .field("endpoint", &self.endpoint)
            .field("signed", &self.signed_url.is_some())
            .finish()
    }
}

impl ObjectRef {
    /// A target from a lock location.
    pub fn new(location: Location, endpoint: Option<String>) -> Self {
        ObjectRef {
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
            ObjectRef {
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

/// Access to object stores: builds, caches and uses one store per (type, container, endpoint),
/// from settings the caller gives (see [`StoresBuilder`]) or the environment
/// ([`Stores::from_env`]). Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct Stores {
    inner: Arc<Inner>,
}

/// A store as built, and for S3 stores that sign their requests, the same store as a signer
/// (for the HEAD that asks for checksums, which object_store does not send).
#[derive(Clone)]
struct Built {
    store: Arc<dyn ObjectStore>,
    signer: Option<Arc<object_store::aws::AmazonS3>>,
}

impl Built {
    fn plain(store: Arc<dyn ObjectStore>) -> Self {
        Built {
            store,
            signer: None,
        }
    }
}

struct Inner {
    cache: Mutex<HashMap<StoreKey, Built>>,
    settings: Settings,
    http: reqwest::Client,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// Retries of a failed request: `STACPKG_MAX_RETRIES`, else [`RetryPolicy::default`]'s.
pub fn max_retries_from_env() -> Result<usize, StoreError> {
    max_retries(&Environment::capture())
}

fn max_retries(env: &Environment) -> Result<usize, StoreError> {
    match env.get(MAX_RETRIES_VAR) {
        None => Ok(RetryPolicy::default().max_retries as usize),
        Some(text) => text.trim().parse().map_err(|_| {
            StoreError::Config(format!(
                "{MAX_RETRIES_VAR} must be a whole number, not `{text}`"
            ))
        }),
    }
}

impl Stores {
    /// Stores configured by the process environment, by the rules of the README ("Stores and
    /// credentials"): `STACPKG_S3_*` per bucket, the standard `AWS_*`, `GOOGLE_*` and `AZURE_*`
    /// variables, `STACPKG_MAX_RETRIES`; relative file keys resolve against the working
    /// directory. The environment is read once, here.
    pub fn from_env() -> Result<Self, StoreError> {
        let env = Environment::capture();
        let retries = max_retries(&env)?;
        let cwd = std::env::current_dir()
            .map_err(|e| StoreError::Config(format!("cannot read the working directory: {e}")))?;
        Stores::builder()
            .environment(env)
            .working_dir(cwd)
            .retry(RetryPolicy {
                max_retries: u32::try_from(retries).unwrap_or(u32::MAX),
                ..RetryPolicy::default()
            })
            .build()
    }

    /// Stores configured in code only: nothing is read from the environment.
    pub fn builder() -> StoresBuilder {
        StoresBuilder::default()
    }

    pub(crate) fn from_settings(settings: Settings) -> Result<Self, StoreError> {
        // Several crates (reqwest, object_store) use the process-wide rustls provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("stacpkg/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Timeouts::STORES.connect)
            .read_timeout(Timeouts::STORES.read)
            .build()
            .map_err(|e| StoreError::Config(facts::short_reason(&e)))?;
        Ok(Stores {
            inner: Arc::new(Inner {
                cache: Mutex::new(HashMap::new()),
                settings,
                http,
            }),
        })
    }

    fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Stores like these, but with local files on disk even where a store was registered for
    /// them (a package directory is a directory).
    pub(crate) fn with_local_files(&self) -> Result<Stores, StoreError> {
        Stores::from_settings(self.settings().without_registered("file"))
    }

    fn client_options(&self, allow_http: bool) -> ClientOptions {
        ClientOptions::new()
            .with_allow_http(allow_http)
            .with_connect_timeout(Timeouts::STORES.connect)
            .with_timeout_disabled()
            .with_read_timeout(Timeouts::STORES.read)
    }

    /// Observe an object's facts with one HEAD request (retried when transient). No checksum:
    /// see [`Stores::head_with_checksum`].
    pub async fn head(&self, target: &ObjectRef) -> Result<ObjectFacts, StoreError> {
        match self.http_url(target)? {
            Some(url) => self
                .send_http(reqwest::Method::HEAD, &url, &[])
                .await
                .map(|response| http_facts(response.headers())),
            None => {
                let (store, path) =
                    self.object_store(&target.location, target.endpoint.as_deref())?;
                let meta = store
                    .head(&path)
                    .await
                    .map_err(|e| StoreError::from_object_store(&e))?;
                Ok(meta_facts(meta, &target.location))
            }
        }
    }

    /// As [`Stores::head`], plus the full-object checksum the store reports, when it reports
    /// one: S3's `x-amz-checksum-sha256` of an object whose checksum covers all its bytes (asked
    /// for with `x-amz-checksum-mode: ENABLED`, on the same single request). Other stores, a
    /// store registered by the caller and anonymous S3 access report none.
    pub async fn head_with_checksum(&self, target: &ObjectRef) -> Result<ObjectFacts, StoreError> {
        let Some((signer, path)) = self.s3_signer(target)? else {
            return self.head(target).await;
        };
        let mode = (
            reqwest::header::HeaderName::from_static(S3_CHECKSUM_MODE),
            reqwest::header::HeaderValue::from_static("ENABLED"),
        );
        let options = object_store::signer::SignedUrlOptions::default()
            .with_signed_header(mode.0.clone(), mode.1.clone());
        let url = object_store::signer::Signer::signed_url_opts(
            signer.as_ref(),
            reqwest::Method::HEAD,
            &path,
            SIGNED_HEAD_VALIDITY,
            &options,
        )
        .await
        .map_err(|e| StoreError::from_object_store(&e))?;
        let response = self
            .send_http(reqwest::Method::HEAD, url.as_str(), &[mode])
            .await?;
        let headers = response.headers();
        let mut facts = http_facts(headers);
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        facts.checksum = text(S3_CHECKSUM_SHA256)
            .and_then(|value| crate::checksum::from_s3_sha256(value, text(S3_CHECKSUM_TYPE)));
        Ok(facts)
    }

    /// Whether [`Stores::head_with_checksum`] may find a checksum for `target` (an S3 object
    /// reached through a store that signs its requests).
    pub fn may_report_checksum(&self, target: &ObjectRef) -> bool {
        matches!(self.s3_signer(target), Ok(Some(_)))
    }

    /// The URL to send an http(s) request to for `target`, when it is an http(s) location with
    /// no store registered for it (those go through the plain client, not object_store).
    fn http_url(&self, target: &ObjectRef) -> Result<Option<String>, StoreError> {
        if !matches!(
            target.location.store_type.as_deref(),
            Some("http" | "https")
        ) || self.registered(&target.location).is_some()
        {
            return Ok(None);
        }
        match &target.signed_url {
            Some(url) => Ok(Some(url.clone())),
            None => href_of(&target.location).map(Some).ok_or_else(|| {
                StoreError::BadLocation("an http(s) location needs a container".into())
            }),
        }
    }

    /// The path of `target` on this machine's disk, when it is a local file with no store
    /// registered for it.
    fn local_file(&self, target: &ObjectRef) -> Result<Option<PathBuf>, StoreError> {
        if target
            .location
            .store_type
            .as_deref()
            .and_then(normalize_store_type)
            != Some("file")
            || self.registered(&target.location).is_some()
        {
            return Ok(None);
        }
        // The same checks as for the store's own access (a key, an absolute path).
        self.object_store(&target.location, target.endpoint.as_deref())?;
        Ok(Some(
            self.file_path(target.location.key.as_deref().unwrap_or("")),
        ))
    }

    /// Send one request on the shared client, retried when transient, and map the status: a
    /// 2xx response is returned, anything else is an error.
    async fn send_http(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(reqwest::header::HeaderName, reqwest::header::HeaderValue)],
    ) -> Result<reqwest::Response, StoreError> {
        let policy = self.settings().retry;
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let mut request = self.inner.http.request(method.clone(), url);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let result = request.send().await;
            let transient = match &result {
                Ok(response) => RetryPolicy::is_transient_status(response.status().as_u16()),
                Err(e) => {
                    (e.is_connect() || e.is_timeout() || e.is_request()) && !is_tls_rejection(e)
                }
            };
            if policy.may_retry(transient, attempt, started) {
                tokio::time::sleep(policy.backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            let response = result.map_err(|e| StoreError::Failed(facts::short_reason(&e)))?;
            let status = response.status();
            return match status.as_u16() {
                200..=299 => Ok(response),
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
        self.object_store_for(location, endpoint, true)
    }

    /// As [`Stores::object_store`], but a store built for this caller alone (a registered one
    /// is still the registered one): its client, and the connections it keeps, belong to the one
    /// runtime that uses it. A pooled connection lives on the runtime that opened it, so a client
    /// shared by work on runtimes that end at different times fails requests ("dispatch task is
    /// gone") when one of them ends.
    pub(crate) fn own_object_store(
        &self,
        location: &Location,
        endpoint: Option<&str>,
    ) -> Result<(Arc<dyn ObjectStore>, ObjectPath), StoreError> {
        self.object_store_for(location, endpoint, false)
    }

    fn object_store_for(
        &self,
        location: &Location,
        endpoint: Option<&str>,
        shared: bool,
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
            if path.is_relative() {
                return Err(StoreError::BadLocation(format!(
                    "`{key}` is a relative file key and no working directory is set"
                )));
            }
            let path = ObjectPath::from_absolute_path(&path).map_err(|_| {
                StoreError::BadLocation(format!("`{}` is not a usable file path", path.display()))
            })?;
            if let Some(store) = self.registered(location) {
                return Ok((store, path));
            }
            return Ok((self.cached(shared, kind, "", None, build_file)?.store, path));
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
        if let Some(store) = self.registered(location) {
            return Ok((store, path));
        }
        let endpoint = endpoint.and_then(normalize_endpoint);
        let built = self.cached(
            shared,
            kind,
            container,
            endpoint.as_deref(),
            |kind, container, ep| self.build(kind, container, ep),
        )?;
        Ok((built.store, path))
    }

    /// The S3 store of a location as a request signer, when the location is in S3, no store is
    /// registered for it, and the store signs its requests.
    fn s3_signer(
        &self,
        target: &ObjectRef,
    ) -> Result<Option<(Arc<object_store::aws::AmazonS3>, ObjectPath)>, StoreError> {
        if target
            .location
            .store_type
            .as_deref()
            .and_then(normalize_store_type)
            != Some("s3")
            || self.registered(&target.location).is_some()
        {
            return Ok(None);
        }
        let (_, path) = self.object_store(&target.location, target.endpoint.as_deref())?;
        let container = target.location.store_container.as_deref().unwrap_or("");
        let endpoint = target.endpoint.as_deref().and_then(normalize_endpoint);
        let built = self.cached(
            true,
            "s3",
            container,
            endpoint.as_deref(),
            |kind, container, ep| self.build(kind, container, ep),
        )?;
        Ok(built.signer.map(|signer| (signer, path)))
    }

    /// The store built for (type, container, endpoint): cached when `shared`, else made anew.
    fn cached(
        &self,
        shared: bool,
        kind: &'static str,
        container: &str,
        endpoint: Option<&str>,
        build: impl FnOnce(&'static str, &str, Option<&str>) -> Result<Built, StoreError>,
    ) -> Result<Built, StoreError> {
        if !shared {
            return build(kind, container, endpoint);
        }
        let key = StoreKey {
            kind,
            container: container.to_string(),
            endpoint: endpoint.map(str::to_string),
        };
        let mut cache = self.inner.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(built) = cache.get(&key) {
            return Ok(built.clone());
        }
        let built = build(kind, container, endpoint)?;
        cache.insert(key, built.clone());
        Ok(built)
    }

    /// The store registered for a location's type and container, if any.
    fn registered(&self, location: &Location) -> Option<Arc<dyn ObjectStore>> {
        let kind = location
            .store_type
            .as_deref()
            .and_then(normalize_store_type)?;
        let container = location.store_container.as_deref().unwrap_or("");
        self.settings().registered(kind, container)
    }

    fn build(
        &self,
        kind: &'static str,
        container: &str,
        endpoint: Option<&str>,
    ) -> Result<Built, StoreError> {
        let settings = self.settings();
        let failed = |e: object_store::Error| StoreError::Config(facts::short_reason(&e));
        let explicit = settings.location(kind, container);
        let env = settings.environment.as_ref();
        let retry = settings.retry.object_store();
        let store: Arc<dyn ObjectStore> = match kind {
            "s3" => {
                let mut builder = object_store::aws::AmazonS3Builder::new();
                if let Some(env) = env {
                    for (key, value) in env.with_prefix("AWS_") {
                        if let Ok(config) = key.to_ascii_lowercase().parse() {
                            builder = builder.with_config(config, value);
                        }
                    }
                }
                builder = builder.with_bucket_name(container).with_retry(retry);
                let bucket = match explicit {
                    Some(options) => config::S3Bucket {
                        endpoint: endpoint
                            .map(str::to_string)
                            .or_else(|| options.endpoint.clone())
                            .and_then(|e| normalize_endpoint(&e)),
                        access_key_id: options.access_key_id.clone(),
                        secret_access_key: options.secret_access_key.clone(),
                        session_token: options.session_token.clone(),
                        region: options.region.clone(),
                    },
                    None => config::s3_bucket(container, endpoint, &|name| {
                        env.and_then(|env| env.get(name).map(str::to_string))
                    })
                    .map_err(StoreError::Config)?,
                };
                let mut allow_http = explicit.is_some_and(|o| o.allow_http);
                if let Some(endpoint) = &bucket.endpoint {
                    allow_http |= endpoint.starts_with("http://");
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
                if let Some(options) = explicit {
                    builder = builder.with_skip_signature(options.anonymous);
                    for (key, value) in &options.config {
                        let key = key.parse().map_err(failed)?;
                        builder = builder.with_config(key, value);
                    }
                }
                let allow_http = allow_http
                    || env
                        .and_then(|env| env.get("AWS_ALLOW_HTTP"))
                        .is_some_and(truthy);
                let anonymous = builder
                    .get_config_value(&object_store::aws::AmazonS3ConfigKey::SkipSignature)
                    .is_some_and(|v| truthy(&v));
                let s3 = Arc::new(
                    builder
                        .with_client_options(self.client_options(allow_http))
                        .build()
                        .map_err(failed)?,
                );
                return Ok(Built {
                    store: Arc::clone(&s3) as Arc<dyn ObjectStore>,
                    signer: (!anonymous).then_some(s3),
                });
            }
            "gs" => {
                let mut builder = object_store::gcp::GoogleCloudStorageBuilder::new();
                if let Some(env) = env {
                    if let Some(path) = env.get("SERVICE_ACCOUNT") {
                        builder = builder.with_service_account_path(path);
                    }
                    for (key, value) in env.with_prefix("GOOGLE_") {
                        if let Ok(config) = key.to_ascii_lowercase().parse() {
                            builder = builder.with_config(config, value);
                        }
                    }
                }
                let mut allow_http = false;
                if let Some(options) = explicit {
                    allow_http = options.allow_http;
                    if options.anonymous {
                        builder = builder.with_skip_signature(true);
                    }
                    if let Some(endpoint) = &options.endpoint {
                        builder = builder.with_url(endpoint.clone());
                    }
                    for (key, value) in &options.config {
                        let key = key.parse().map_err(failed)?;
                        builder = builder.with_config(key, value);
                    }
                }
                Arc::new(
                    builder
                        .with_bucket_name(container)
                        .with_retry(retry)
                        .with_client_options(self.client_options(allow_http))
                        .build()
                        .map_err(failed)?,
                )
            }
            "az" => {
                // `container@account.dfs.core.windows.net` (abfs URLs) names the account too.
                let (name, account) = match container.split_once('@') {
                    Some((name, host)) => (name, host.split('.').next()),
                    None => (container, None),
                };
                let mut builder = object_store::azure::MicrosoftAzureBuilder::new();
                let mut allow_http = false;
                if let Some(env) = env {
                    for (key, value) in env.with_prefix("AZURE_") {
                        if let Ok(config) = key.to_ascii_lowercase().parse() {
                            builder = builder.with_config(config, value);
                        }
                    }
                    if let Some(msi) = env.get("MSI_ENDPOINT") {
                        builder = builder.with_msi_endpoint(msi);
                    }
                    allow_http = env
                        .get("AZURE_STORAGE_USE_EMULATOR")
                        .or_else(|| env.get("AZURE_ALLOW_HTTP"))
                        .is_some_and(truthy);
                }
                builder = builder.with_container_name(name).with_retry(retry);
                if let Some(account) = account.filter(|a| !a.is_empty()) {
                    builder = builder.with_account(account);
                }
                let endpoint = endpoint
                    .map(str::to_string)
                    .or_else(|| explicit.and_then(|o| o.endpoint.clone()));
                if let Some(options) = explicit {
                    allow_http |= options.allow_http;
                    if let Some(account) = &options.access_key_id {
                        builder = builder.with_account(account);
                    }
                    if let Some(key) = &options.secret_access_key {
                        builder = builder.with_access_key(key);
                    }
                    if options.anonymous {
                        builder = builder.with_skip_signature(true);
                    }
                    for (key, value) in &options.config {
                        let key = key.parse().map_err(failed)?;
                        builder = builder.with_config(key, value);
                    }
                }
                if let Some(endpoint) = endpoint {
                    allow_http |= endpoint.starts_with("http://");
                    builder = builder.with_endpoint(endpoint);
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
                    .with_retry(retry)
                    .with_client_options(self.client_options(container.starts_with("http://")))
                    .build()
                    .map_err(failed)?,
            ),
        };
        Ok(Built::plain(store))
    }

    /// A file key as an absolute path: relative keys resolve against the working directory,
    /// `.` and `..` segments are resolved lexically.
    fn file_path(&self, key: &str) -> PathBuf {
        let joined = self.settings().working_dir.join(key);
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

fn build_file(_: &'static str, _: &str, _: Option<&str>) -> Result<Built, StoreError> {
    Ok(Built::plain(Arc::new(
        object_store::local::LocalFileSystem::new(),
    )))
}

fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
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

/// The facts object_store reports for an object (no checksum).
fn meta_facts(meta: object_store::ObjectMeta, location: &Location) -> ObjectFacts {
    let mut etag = meta.e_tag;
    if location.store_type.as_deref() == Some("file") {
        // Locks written by the original carry local ETags unquoted (`<inode>-<mtime µs>-<size>`,
        // hex); newer object_store quotes them.
        etag = etag.map(|e| e.trim_matches('"').to_string());
    }
    ObjectFacts {
        size: i64::try_from(meta.size).ok(),
        etag,
        last_modified: Some(iso_time(meta.last_modified)),
        checksum: None,
    }
}

fn http_facts(headers: &reqwest::header::HeaderMap) -> ObjectFacts {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    ObjectFacts {
        size: text(reqwest::header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok()),
        etag: text(reqwest::header::ETAG).map(str::to_string),
        last_modified: text(reqwest::header::LAST_MODIFIED)
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v.trim()).ok())
            .map(|t| iso_time(t.with_timezone(&chrono::Utc))),
        checksum: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_targets_show_no_query() {
        let (target, dropped) = ObjectRef::from_href("https://h/c/x.tif?sig=SECRET", None);
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
