//! The only module that talks to OCI registries (distribution API v2): blob HEAD / upload /
//! download and manifest PUT / GET over one HTTP client, with the auth scheme negotiated from
//! the registry's `WWW-Authenticate` (anonymous, Basic, bearer token).
//!
//! Uploads are monolithic (POST, then one PUT streaming the file), the same requests `curl`
//! would make; downloads stream to disk while the digest is computed and are refused on a size
//! or digest mismatch. Neither buffers a blob: memory is one network chunk per transfer.
//! Credentials, tokens and upload-session query strings never appear in messages.

// The OCI boundary builds its own HTTP client (clippy.toml keeps the rest of the crate from it).
#![allow(clippy::disallowed_types)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use tokio::io::AsyncWriteExt;

use super::auth::{
    self, Challenge, CredentialOrigin, CredentialSource, Credentials, NoCredentials,
};
use super::blob::{Descriptor, Progress, Verifier, digest_of};
use super::media_type::{DOCKER_MANIFEST_MEDIA_TYPE, INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
use super::reference::Reference;
use super::target::{OciTarget, Place};

mod chunked;
use crate::error::{Error, Result};
use crate::net::{RetryPolicy, Timeouts};
pub use chunked::{ChunkedUploads, DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_THRESHOLD};

/// Manifests larger than this are refused (they are a few KB; the cap keeps memory bounded).
const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Pages of a referrers listing followed (each at most [`MAX_MANIFEST_BYTES`]).
const MAX_REFERRER_PAGES: usize = 64;

/// How to reach a registry, and with which credentials.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Plain HTTP instead of HTTPS.
    pub plain_http: bool,
    /// Do not verify TLS certificates.
    pub insecure: bool,
    /// Send Basic credentials from the start instead of waiting for the registry's challenge.
    pub basic_auth: bool,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// Where credentials come from (default: none, anonymous access).
    pub credentials: Arc<dyn CredentialSource>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            plain_http: false,
            insecure: false,
            basic_auth: false,
            retry: RetryPolicy::default(),
            credentials: Arc::new(NoCredentials),
        }
    }
}

#[derive(Debug, Clone)]
enum AuthState {
    /// Nothing sent yet (or the registry wants nothing).
    None,
    /// Basic credentials on every request.
    Basic,
    /// A bearer token.
    Bearer(String),
}

/// A repository on a registry.
#[derive(Debug)]
pub struct Registry {
    client: Client,
    base: String,
    registry: String,
    host: String,
    repository: String,
    credentials: Option<(Credentials, CredentialOrigin)>,
    actions: &'static str,
    auth: tokio::sync::RwLock<AuthState>,
    retry: RetryPolicy,
    uploads: ChunkedUploads,
    /// What the caller should be told (resumed uploads, ignored state files).
    notes: std::sync::Mutex<Vec<String>>,
}

/// Why a request failed: worth another try, or final (boxed: errors are large, and most
/// attempts succeed).
enum Failure {
    Transient(String),
    Final(Box<Error>),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Final(Box::new(error))
    }
}

impl Registry {
    /// A client for `reference`'s repository; `push` asks for push rights when authenticating.
    pub fn new(reference: &Reference, options: &RegistryOptions, push: bool) -> Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::builder()
            .user_agent(concat!("stacpkg/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Timeouts::REGISTRIES.connect)
            .read_timeout(Timeouts::REGISTRIES.read)
            .tls_danger_accept_invalid_certs(options.insecure)
            .build()
            .map_err(Error::HttpClient)?;
        let host = reference.api_host().to_string();
        let scheme = if options.plain_http { "http" } else { "https" };
        let credentials = options.credentials.credentials(&reference.registry)?;
        let initial = match &credentials {
            Some((Credentials::Bearer(token), _)) => AuthState::Bearer(token.clone()),
            Some((Credentials::Basic { .. }, _)) if options.basic_auth => AuthState::Basic,
            _ => AuthState::None,
        };
        Ok(Registry {
            client,
            base: format!("{scheme}://{host}"),
            registry: reference.registry.clone(),
            host,
            repository: reference.repository.clone(),
            credentials,
            actions: if push { "pull,push" } else { "pull" },
            auth: tokio::sync::RwLock::new(initial),
            retry: options.retry,
            uploads: ChunkedUploads::default(),
            notes: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// How large blobs are uploaded (default: [`ChunkedUploads::default`], no resuming).
    pub fn with_uploads(mut self, uploads: ChunkedUploads) -> Self {
        self.uploads = uploads;
        self
    }

    /// What happened that the caller should be told (a resumed upload, an ignored upload
    /// state), once.
    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn origin(&self) -> Option<CredentialOrigin> {
        self.credentials.as_ref().map(|(_, origin)| origin.clone())
    }

    fn basic(&self) -> Option<(&str, &str)> {
        match &self.credentials {
            Some((Credentials::Basic { username, password }, _)) => Some((username, password)),
            _ => None,
        }
    }

    fn unavailable(&self, what: impl Into<String>, reason: String) -> Error {
        Error::RegistryUnavailable {
            host: self.host.clone(),
            what: what.into(),
            // A TLS client talking to a plain-HTTP server reads garbage records.
            plain_http_likely: self.base.starts_with("https:")
                && reason.contains("InvalidContentType"),
            reason,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base, self.repository)
    }

    async fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        match &*self.auth.read().await {
            AuthState::None => request,
            AuthState::Basic => match self.basic() {
                Some((username, password)) => request.basic_auth(username, Some(password)),
                None => request,
            },
            AuthState::Bearer(token) => request.bearer_auth(token),
        }
    }

    /// Answer a 401: pick the scheme the registry asked for and get what it needs.
    async fn authenticate(&self, response: &Response) -> Result<()> {
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(auth::parse_challenge)
            .ok_or_else(|| Error::NoChallenge {
                host: self.host.clone(),
                repository: self.repository.clone(),
            })?;
        let state = match challenge {
            Challenge::Basic => {
                if self.basic().is_none() {
                    return Err(Error::CredentialsNeeded {
                        host: self.host.clone(),
                    });
                }
                AuthState::Basic
            }
            Challenge::Bearer { realm, service, .. } => {
                AuthState::Bearer(self.token(&realm, service.as_deref()).await?)
            }
        };
        *self.auth.write().await = state;
        Ok(())
    }

    /// A bearer token for this repository from the token service at `realm`.
    async fn token(&self, realm: &str, service: Option<&str>) -> Result<String> {
        #[derive(serde::Deserialize)]
        struct Answer {
            token: Option<String>,
            access_token: Option<String>,
        }
        let scope = format!("repository:{}:{}", self.repository, self.actions);
        let realm_shown = crate::store::redact(realm);
        let failed = |problem: String| Error::TokenService { problem };
        let mut url = reqwest::Url::parse(realm).map_err(|_| {
            failed(format!(
                "registry {} named an invalid token service `{realm_shown}`",
                self.host
            ))
        })?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("scope", &scope);
            if let Some(service) = service {
                query.append_pair("service", service);
            }
        }
        let mut request = self.client.get(url);
        if let Some((username, password)) = self.basic() {
            request = request.basic_auth(username, Some(password));
        }
        let response = request.send().await.map_err(|e| {
            failed(format!(
                "cannot get a token for {} from {realm_shown}: {}",
                self.host,
                reason(&e)
            ))
        })?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(Error::TokenDenied {
                realm: realm_shown,
                repository: self.repository.clone(),
                origin: self.origin(),
                status: status.to_string(),
            });
        }
        if !status.is_success() {
            return Err(failed(format!(
                "the token service {realm_shown} refused access to `{}` ({status})",
                self.repository
            )));
        }
        let body = response.bytes().await.map_err(|e| {
            failed(format!(
                "the token service {realm_shown} gave no token: {}",
                reason(&e)
            ))
        })?;
        let no_token = || failed(format!("the token service {realm_shown} gave no token"));
        let answer: Answer = serde_json::from_slice(&body).map_err(|_| no_token())?;
        answer.token.or(answer.access_token).ok_or_else(no_token)
    }

    /// Send a request built by `make` (called again for every attempt), authenticating on a 401
    /// and retrying transient failures. Returns the response whatever its status otherwise.
    async fn send(
        &self,
        what: &str,
        make: impl Fn() -> Result<RequestBuilder>,
    ) -> Result<Response> {
        let mut authenticated = false;
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let request = self.authorize(make()?).await;
            let failure = match request.send().await {
                Ok(response) if response.status() == StatusCode::UNAUTHORIZED => {
                    if authenticated {
                        return Err(self.refused(what));
                    }
                    self.authenticate(&response).await?;
                    authenticated = true;
                    continue;
                }
                Ok(response) if RetryPolicy::is_transient_status(response.status().as_u16()) => {
                    Failure::Transient(format!("{}", response.status()))
                }
                Ok(response) => return Ok(response),
                Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                    Failure::Transient(reason(&e))
                }
                Err(e) => self.unavailable(what, reason(&e)).into(),
            };
            match failure {
                Failure::Transient(_) if self.retry.may_retry(true, attempt, started) => {
                    tokio::time::sleep(self.retry.backoff(attempt)).await;
                    attempt += 1;
                }
                Failure::Transient(why) => return Err(self.unavailable(what, why)),
                Failure::Final(e) => return Err(*e),
            }
        }
    }

    fn refused(&self, what: &str) -> Error {
        Error::RegistryDenied {
            host: self.host.clone(),
            what: what.to_string(),
            repository: self.repository.clone(),
            origin: self.origin(),
        }
    }

    /// Whether the repository already has the blob.
    async fn blob_present(&self, descriptor: &Descriptor) -> Result<bool> {
        let url = self.url(&format!("blobs/{}", descriptor.digest));
        let response = self
            .send("checking a blob", || Ok(self.client.head(&url)))
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        self.successful("checking a blob", response)
            .await
            .map(|_| true)
    }

    /// Upload a blob from a file: in resumable chunks when it is large, else (or when the
    /// registry refuses chunks) in one request.
    async fn upload_file(
        &self,
        descriptor: &Descriptor,
        path: &Path,
        progress: &Progress,
    ) -> Result<()> {
        if descriptor.size > self.uploads.threshold {
            match self.upload_chunked(descriptor, path, progress).await? {
                chunked::Outcome::Done => return Ok(()),
                chunked::Outcome::Monolithic => self.note(format!(
                    "registry {} refused a chunked upload: `{}` went up in one request",
                    self.host,
                    descriptor.name()
                )),
            }
        }
        self.upload_monolithic(descriptor, path, progress).await
    }

    /// Upload a blob from a file (POST, then one PUT streaming the file).
    async fn upload_monolithic(
        &self,
        descriptor: &Descriptor,
        path: &Path,
        progress: &Progress,
    ) -> Result<()> {
        let shown = path.display().to_string();
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let location = self.open_upload().await?.0;
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| Error::io("failed to open", &shown, e))?;
            let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let counter = std::sync::Arc::clone(&sent);
            let done = progress.done.clone();
            let stream =
                tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).map(move |chunk| {
                    if let Ok(chunk) = &chunk {
                        counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                        done.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    }
                    chunk
                });
            let request = self
                .client
                .put(put_url(&location, &descriptor.digest))
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, descriptor.size)
                .body(reqwest::Body::wrap_stream(stream));
            let result = self.authorize(request).await.send().await;
            let failed = match result {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response)
                    if response.status() == StatusCode::UNAUTHORIZED
                        || RetryPolicy::is_transient_status(response.status().as_u16()) =>
                {
                    // An expired token or a passing failure: start a new upload session.
                    if response.status() == StatusCode::UNAUTHORIZED {
                        *self.auth.write().await = AuthState::None;
                    }
                    format!("{}", response.status())
                }
                Ok(response) => {
                    return self
                        .successful("uploading a blob", response)
                        .await
                        .map(drop);
                }
                Err(e) => reason(&e),
            };
            progress
                .done
                .fetch_sub(sent.load(Ordering::Relaxed), Ordering::Relaxed);
            if !self.retry.may_retry(true, attempt, started) {
                return Err(self.unavailable(format!("uploading `{}`", descriptor.name()), failed));
            }
            tokio::time::sleep(self.retry.backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// Upload a small blob held in memory.
    async fn upload_bytes(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<()> {
        let location = self.open_upload().await?.0;
        let url = put_url(&location, &descriptor.digest);
        let body = bytes::Bytes::copy_from_slice(bytes);
        let response = self
            .send("uploading a blob", || {
                Ok(self
                    .client
                    .put(&url)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(body.clone()))
            })
            .await?;
        self.successful("uploading a blob", response)
            .await
            .map(drop)
    }

    /// Mount `descriptor` from another repository of this registry (no bytes move). The
    /// registry answers 201 when it mounted the blob; anything else — it started an upload
    /// instead (202, cancelled here), it refused — means the blob must be copied.
    async fn mount(&self, descriptor: &Descriptor, from_repository: &str) -> Result<bool> {
        let url = self.url(&format!(
            "blobs/uploads/?mount={}&from={from_repository}",
            descriptor.digest
        ));
        let response = self
            .send("mounting a blob", || {
                Ok(self.client.post(&url).header(CONTENT_LENGTH, 0))
            })
            .await?;
        if response.status() == StatusCode::CREATED {
            return Ok(true);
        }
        if response.status() == StatusCode::ACCEPTED
            && let Some(location) = self.location_of(&response)
        {
            // The unused upload session is cancelled; a registry that keeps it expires it.
            let _ = self
                .send("cancelling an upload", || Ok(self.client.delete(&location)))
                .await;
        }
        Ok(false)
    }

    /// Store `bytes` as the manifest tagged `reference`, sent as the media type the document
    /// names (an image manifest, or an image index for a referrers fallback tag).
    async fn put_manifest(&self, reference: &str, bytes: &[u8]) -> Result<()> {
        let url = self.url(&format!("manifests/{reference}"));
        let body = bytes.to_vec();
        let content_type = super::manifest::media_type_of(bytes).unwrap_or(MANIFEST_MEDIA_TYPE);
        let response = self
            .send("uploading the manifest", || {
                Ok(self
                    .client
                    .put(&url)
                    .header(CONTENT_TYPE, content_type)
                    .body(body.clone()))
            })
            .await?;
        self.successful("uploading the manifest", response)
            .await
            .map(drop)
    }

    /// The manifest at `reference` (a tag or digest) and its media type.
    async fn get_manifest(&self, reference: &str) -> Result<(Vec<u8>, Option<String>)> {
        let url = self.url(&format!("manifests/{reference}"));
        let accept =
            format!("{MANIFEST_MEDIA_TYPE}, {INDEX_MEDIA_TYPE}, {DOCKER_MANIFEST_MEDIA_TYPE}");
        let response = self
            .send("fetching the manifest", || {
                Ok(self.client.get(&url).header(ACCEPT, &accept))
            })
            .await?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Err(Error::ManifestNotFound {
                place: self.place(),
                reference: reference.to_string(),
            });
        }
        let response = self.successful("fetching the manifest", response).await?;
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let bytes = self
            .read_document(response, reference, "fetching the manifest")
            .await?;
        if reference.starts_with("sha256:") && digest_of(&bytes) != reference {
            return Err(Error::ManifestDigestMismatch {
                place: self.place(),
                reference: reference.to_string(),
            });
        }
        Ok((bytes, media_type))
    }

    /// A manifest or index body, at most [`MAX_MANIFEST_BYTES`] (a larger one is refused, not
    /// buffered).
    async fn read_document(
        &self,
        response: Response,
        reference: &str,
        what: &str,
    ) -> Result<Vec<u8>> {
        let too_large = || Error::ManifestTooLarge {
            place: self.place(),
            reference: reference.to_string(),
            limit: MAX_MANIFEST_BYTES,
        };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_MANIFEST_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.unavailable(what, reason(&e)))?;
            if bytes.len() + chunk.len() > MAX_MANIFEST_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// The referrers API (OCI distribution 1.1): the referrers of `digest` as one image index
    /// (pages followed through `Link` headers, at most [`MAX_REFERRER_PAGES`]), or `None` when
    /// the registry has no such API (404).
    async fn referrers(&self, digest: &str) -> Result<Option<Vec<u8>>> {
        const WHAT: &str = "listing referrers";
        let mut url = self.url(&format!("referrers/{digest}"));
        let mut manifests = Vec::new();
        for page in 0..MAX_REFERRER_PAGES {
            let response = self
                .send(WHAT, || {
                    Ok(self.client.get(&url).header(ACCEPT, INDEX_MEDIA_TYPE))
                })
                .await?;
            if page == 0 && response.status() == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let response = self.successful(WHAT, response).await?;
            let next = response
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let bytes = self.read_document(response, digest, WHAT).await?;
            let not_index = || Error::NotAnIndex {
                what: format!("the referrers of `{digest}` from registry {}", self.host),
            };
            let index: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|_| not_index())?;
            let page_manifests = index
                .get("manifests")
                .and_then(|m| m.as_array())
                .ok_or_else(not_index)?;
            manifests.extend(page_manifests.iter().cloned());
            // Only pages on this registry: its credentials go with every request.
            match next {
                Some(next) if next.starts_with('/') => {
                    url = format!("{}{next}", self.base);
                }
                Some(next)
                    if next
                        .strip_prefix(self.base.as_str())
                        .is_some_and(|rest| rest.starts_with('/')) =>
                {
                    url = next;
                }
                _ => break,
            }
        }
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "manifests": manifests,
        });
        Ok(Some(
            serde_json::to_vec(&index).expect("an index serialises"),
        ))
    }

    /// Download a blob into `to`, checking its size and digest as it streams. When `to` holds
    /// the start of the blob (an interrupted pull's), only the rest is fetched (`Range`), and
    /// the digest is still checked over the whole blob; a complete `to` is checked, not fetched.
    async fn download(
        &self,
        descriptor: &Descriptor,
        to: &Path,
        progress: &Progress,
    ) -> Result<()> {
        let url = self.url(&format!("blobs/{}", descriptor.digest));
        let what = format!("fetching `{}`", descriptor.name());
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let have = match tokio::fs::metadata(to).await {
                Ok(meta) if meta.len() <= descriptor.size => meta.len(),
                _ => 0,
            };
            let (verifier, have) = match prefix_verifier(descriptor, to, have).await {
                Ok(Some(verifier)) => (verifier, have),
                // A complete file with the right digest: nothing to fetch.
                Ok(None) => {
                    progress.done.fetch_add(descriptor.size, Ordering::Relaxed);
                    return Ok(());
                }
                Err(_) => (Verifier::new(descriptor), 0),
            };
            let response = self
                .send("fetching a blob", || {
                    let request = self.client.get(&url);
                    Ok(if have > 0 {
                        request.header(reqwest::header::RANGE, format!("bytes={have}-"))
                    } else {
                        request
                    })
                })
                .await?;
            let response = self.successful("fetching a blob", response).await?;
            // A registry that ignores the range sends the whole blob: start over.
            let (verifier, have) = if have > 0 && response.status() != StatusCode::PARTIAL_CONTENT {
                (Verifier::new(descriptor), 0)
            } else {
                (verifier, have)
            };
            if have > 0 {
                self.note(format!(
                    "resumed the download of `{}` at {have} of {} bytes",
                    descriptor.name(),
                    descriptor.size
                ));
            }
            let stream = response
                .bytes_stream()
                .map(|chunk| chunk.map_err(|e| std::io::Error::other(reason(&e))));
            match write_checked(stream, verifier, have, to, progress).await {
                Ok(()) => return Ok(()),
                Err(Failure::Final(e)) => return Err(*e),
                Err(Failure::Transient(why)) if !self.retry.may_retry(true, attempt, started) => {
                    return Err(self.unavailable(what, why));
                }
                Err(Failure::Transient(_)) => {
                    tokio::time::sleep(self.retry.backoff(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// `response` when it succeeded; otherwise the failure of `what`, with the registry's own
    /// error code and message when it sent one.
    async fn successful(&self, what: &str, response: Response) -> Result<Response> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status == StatusCode::FORBIDDEN {
            return Err(self.refused(what));
        }
        let detail = registry_message(response).await;
        Err(Error::RegistryRequest {
            host: self.host.clone(),
            what: what.to_string(),
            repository: self.repository.clone(),
            status: status.as_u16(),
            detail,
        })
    }
}

impl OciTarget for Registry {
    fn place(&self) -> Place {
        Place::Registry {
            registry: self.registry.clone(),
            host: self.host.clone(),
            repository: self.repository.clone(),
        }
    }

    async fn has_blob(&self, descriptor: &Descriptor) -> Result<bool> {
        self.blob_present(descriptor).await
    }

    async fn push_blob(
        &self,
        descriptor: &Descriptor,
        from: &Path,
        progress: &Progress,
    ) -> Result<()> {
        self.upload_file(descriptor, from, progress).await
    }

    async fn push_blob_bytes(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<()> {
        self.upload_bytes(descriptor, bytes).await
    }

    async fn push_manifest(&self, reference: &str, bytes: &[u8]) -> Result<()> {
        self.put_manifest(reference, bytes).await
    }

    async fn fetch_manifest(&self, reference: &str) -> Result<(Vec<u8>, Option<String>)> {
        self.get_manifest(reference).await
    }

    async fn fetch_referrers(&self, digest: &str) -> Result<Option<Vec<u8>>> {
        self.referrers(digest).await
    }

    async fn mount_blob(&self, descriptor: &Descriptor, from: &Place) -> Result<bool> {
        match from {
            Place::Registry {
                registry,
                repository,
                ..
            } if *registry == self.registry && *repository != self.repository => {
                self.mount(descriptor, repository).await
            }
            _ => Ok(false),
        }
    }

    async fn fetch_blob(
        &self,
        descriptor: &Descriptor,
        to: &Path,
        progress: &Progress,
    ) -> Result<()> {
        self.download(descriptor, to, progress).await
    }
}

/// Write a byte stream to `to` while hashing it; a wrong size or digest is final, a broken
/// connection is worth another try.
/// A verifier that has seen the first `have` bytes of `path` (`Some`), or `None` when `path`
/// is the whole blob and matches it. A prefix is only trusted after this re-read.
async fn prefix_verifier<'a>(
    descriptor: &'a Descriptor,
    path: &Path,
    have: u64,
) -> Result<Option<Verifier<'a>>> {
    let mut verifier = Verifier::new(descriptor);
    if have == 0 {
        return Ok(Some(verifier));
    }
    let shown = path.display().to_string();
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io("failed to open", &shown, e))?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut left = have;
    while left > 0 {
        let n = tokio::io::AsyncReadExt::read(&mut file, &mut buf)
            .await
            .map_err(|e| Error::io("failed to read", &shown, e))?;
        if n == 0 {
            break;
        }
        let n = n.min(usize::try_from(left).unwrap_or(usize::MAX));
        verifier.update(&buf[..n])?;
        left -= n as u64;
    }
    if have == descriptor.size {
        return match verifier.finish() {
            Ok(()) => Ok(None),
            // Complete but wrong: fetch it again from the start.
            Err(e) => Err(e),
        };
    }
    Ok(Some(verifier))
}

/// Write `stream` into `to` after its first `have` bytes (which `verifier` has seen), checking
/// the whole blob as it goes.
async fn write_checked(
    mut stream: impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin,
    mut verifier: Verifier<'_>,
    have: u64,
    to: &Path,
    progress: &Progress,
) -> std::result::Result<(), Failure> {
    let shown = to.display().to_string();
    let mut file = if have > 0 {
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(to)
            .await
            .map_err(|e| Failure::from(Error::io("failed to open", &shown, e)))?;
        file.set_len(have)
            .await
            .map_err(|e| Failure::from(Error::io("failed to write", &shown, e)))?;
        tokio::io::AsyncSeekExt::seek(&mut file, std::io::SeekFrom::Start(have))
            .await
            .map_err(|e| Failure::from(Error::io("failed to write", &shown, e)))?;
        file
    } else {
        tokio::fs::File::create(to)
            .await
            .map_err(|e| Failure::from(Error::io("failed to create", &shown, e)))?
    };
    progress.done.fetch_add(have, Ordering::Relaxed);
    let size = verifier.size();
    let result = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Failure::Transient(e.to_string()))?;
            verifier.update(&chunk).map_err(Failure::from)?;
            file.write_all(&chunk)
                .await
                .map_err(|e| Failure::from(Error::io("failed to write", &shown, e)))?;
            progress
                .done
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        file.flush()
            .await
            .map_err(|e| Failure::from(Error::io("failed to write", &shown, e)))?;
        Ok(())
    }
    .await;
    let seen = verifier.seen();
    let result = result.and_then(|()| {
        // A short body is a broken connection (worth another try, from where it broke); wrong
        // bytes are final.
        if seen < size {
            return Err(Failure::Transient(format!("got {seen} of {size} bytes")));
        }
        verifier.finish().map_err(Failure::from)
    });
    if result.is_err() {
        progress.done.fetch_sub(seen, Ordering::Relaxed);
    }
    // Wrong bytes must not be resumed from.
    if let Err(Failure::Final(_)) = &result {
        let _ = tokio::fs::remove_file(to).await;
    }
    result
}

/// An HTTP status as `404 Not Found`.
pub(crate) fn status_text(status: u16) -> String {
    StatusCode::from_u16(status).map_or_else(|_| status.to_string(), |s| s.to_string())
}

/// The PUT URL that completes an upload: the session URL plus `digest=`.
/// The target of a `Link: <URL>; rel="next"` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (target, params) = link.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"")
            .then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

fn put_url(location: &str, digest: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

/// The innermost reason of a transport error, without URLs' query strings (an upload session's
/// state, a signed redirect).
fn reason(error: &reqwest::Error) -> String {
    crate::store::redact(&crate::store::short_reason(error))
}

/// `CODE: message` from a registry's JSON error body, if it has one.
async fn registry_message(response: Response) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        code: Option<String>,
        message: Option<String>,
    }
    let bytes = response.bytes().await.ok()?;
    let body: Body = serde_json::from_slice(&bytes[..bytes.len().min(64 * 1024)]).ok()?;
    let entry = body.errors.into_iter().next()?;
    Some(match (entry.code, entry.message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        (None, Some(message)) => message,
        (None, None) => return None,
    })
}
