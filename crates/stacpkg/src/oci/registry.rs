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
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use tokio::io::AsyncWriteExt;

use super::auth::{self, Challenge, Credentials, Source};
use super::transfer::{Progress, TransportOptions};
use super::{Descriptor, INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, Reference, Verifier, digest_of};
use crate::error::{Error, Result};

/// Manifests larger than this are refused (they are a few KB; the cap keeps memory bounded).
const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const READ_TIMEOUT: Duration = Duration::from_secs(300);
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

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
    host: String,
    repository: String,
    credentials: Option<(Credentials, Source)>,
    actions: &'static str,
    auth: tokio::sync::RwLock<AuthState>,
    max_retries: u32,
}

/// Why a request failed: worth another try, or final.
enum Failure {
    Transient(String),
    Final(Error),
}

impl Registry {
    /// A client for `reference`'s repository; `push` asks for push rights when authenticating.
    pub fn new(reference: &Reference, options: &TransportOptions, push: bool) -> Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::builder()
            .user_agent(concat!("stacpkg/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .tls_danger_accept_invalid_certs(options.insecure)
            .build()
            .map_err(|e| Error::Oci(format!("cannot set up HTTP: {e}")))?;
        let host = reference.api_host().to_string();
        let scheme = if options.plain_http { "http" } else { "https" };
        let credentials = auth::lookup(&reference.registry).map_err(Error::Oci)?;
        let initial = if options.basic_auth && credentials.is_some() {
            AuthState::Basic
        } else {
            AuthState::None
        };
        Ok(Registry {
            client,
            base: format!("{scheme}://{host}"),
            host,
            repository: reference.repository.clone(),
            credentials,
            actions: if push { "pull,push" } else { "pull" },
            auth: tokio::sync::RwLock::new(initial),
            max_retries: options.max_retries,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base, self.repository)
    }

    async fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        match &*self.auth.read().await {
            AuthState::None => request,
            AuthState::Basic => match &self.credentials {
                Some((c, _)) => request.basic_auth(&c.username, Some(&c.password)),
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
            .ok_or_else(|| {
                Error::Oci(format!(
                    "registry {} refused access to `{}` without saying how to authenticate",
                    self.host, self.repository
                ))
            })?;
        let state = match challenge {
            Challenge::Basic => {
                if self.credentials.is_none() {
                    return Err(Error::Oci(format!(
                        "registry {} needs credentials: set ORAS_USER and ORAS_PASS, or log in with `docker login {}`",
                        self.host, self.host
                    )));
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
        let mut url = reqwest::Url::parse(realm).map_err(|_| {
            Error::Oci(format!(
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
        if let Some((c, _)) = &self.credentials {
            request = request.basic_auth(&c.username, Some(&c.password));
        }
        let response = request.send().await.map_err(|e| {
            Error::Oci(format!(
                "cannot get a token for {} from {realm_shown}: {}",
                self.host,
                reason(&e)
            ))
        })?;
        let status = response.status();
        if !status.is_success() {
            let denied = if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                match &self.credentials {
                    Some((_, source)) => format!(" with the credentials from {source}"),
                    None => " without credentials (set ORAS_USER and ORAS_PASS)".into(),
                }
            } else {
                String::new()
            };
            return Err(Error::Oci(format!(
                "the token service {realm_shown} refused access to `{}`{denied} ({status})",
                self.repository
            )));
        }
        let body = response.bytes().await.map_err(|e| {
            Error::Oci(format!(
                "the token service {realm_shown} gave no token: {}",
                reason(&e)
            ))
        })?;
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|_| Error::Oci(format!("the token service {realm_shown} gave no token")))?;
        answer
            .token
            .or(answer.access_token)
            .ok_or_else(|| Error::Oci(format!("the token service {realm_shown} gave no token")))
    }

    /// Send a request built by `make` (called again for every attempt), authenticating on a 401
    /// and retrying transient failures. Returns the response whatever its status otherwise.
    async fn send(
        &self,
        what: &str,
        make: impl Fn() -> Result<RequestBuilder>,
    ) -> Result<Response> {
        let mut authenticated = false;
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
                Ok(response) if is_transient(response.status()) => {
                    Failure::Transient(format!("{}", response.status()))
                }
                Ok(response) => return Ok(response),
                Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                    Failure::Transient(reason(&e))
                }
                Err(e) => Failure::Final(Error::Oci(format!(
                    "registry {}: {what} failed: {}",
                    self.host,
                    reason(&e)
                ))),
            };
            match failure {
                Failure::Transient(_) if attempt < self.max_retries => {
                    attempt += 1;
                    tokio::time::sleep(FIRST_BACKOFF * 2u32.pow(attempt - 1)).await;
                }
                Failure::Transient(why) => {
                    // A TLS client talking to a plain-HTTP server reads garbage records.
                    let hint =
                        if self.base.starts_with("https:") && why.contains("InvalidContentType") {
                            " (the registry may speak plain HTTP: try --plain-http)"
                        } else {
                            ""
                        };
                    return Err(Error::Oci(format!(
                        "registry {}: {what} failed: {why}{hint}",
                        self.host
                    )));
                }
                Failure::Final(e) => return Err(e),
            }
        }
    }

    fn refused(&self, what: &str) -> Error {
        let with = match &self.credentials {
            Some((_, source)) => format!("the credentials from {source}"),
            None => "anonymous access (no credentials found)".into(),
        };
        Error::Oci(format!(
            "registry {} refused {what} for `{}` with {with}",
            self.host, self.repository
        ))
    }

    /// Whether the repository already has the blob.
    pub async fn has_blob(&self, descriptor: &Descriptor) -> Result<bool> {
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

    /// Upload a blob from a file (POST, then one PUT streaming the file).
    pub async fn push_blob(
        &self,
        descriptor: &Descriptor,
        path: &Path,
        progress: &Progress,
    ) -> Result<()> {
        let shown = path.display().to_string();
        let mut attempt = 0;
        loop {
            let location = self.start_upload().await?;
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
                        || is_transient(response.status()) =>
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
            if attempt >= self.max_retries {
                return Err(Error::Oci(format!(
                    "registry {}: uploading `{}` failed: {failed}",
                    self.host,
                    descriptor.title.as_deref().unwrap_or(&descriptor.digest)
                )));
            }
            attempt += 1;
            tokio::time::sleep(FIRST_BACKOFF * 2u32.pow(attempt - 1)).await;
        }
    }

    /// Upload a small blob held in memory.
    pub async fn push_blob_bytes(
        &self,
        descriptor: &Descriptor,
        bytes: &'static [u8],
    ) -> Result<()> {
        let location = self.start_upload().await?;
        let url = put_url(&location, &descriptor.digest);
        let response = self
            .send("uploading a blob", || {
                Ok(self
                    .client
                    .put(&url)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(bytes))
            })
            .await?;
        self.successful("uploading a blob", response)
            .await
            .map(drop)
    }

    /// Open an upload session; its URL (which may carry session state in its query).
    async fn start_upload(&self) -> Result<String> {
        let url = self.url("blobs/uploads/");
        let response = self
            .send("starting an upload", || {
                Ok(self.client.post(&url).header(CONTENT_LENGTH, 0))
            })
            .await?;
        let response = self.successful("starting an upload", response).await?;
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Error::Oci(format!(
                    "registry {} started an upload without a Location",
                    self.host
                ))
            })?;
        Ok(if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_string()
        })
    }

    /// Store `bytes` as the manifest tagged `reference`.
    pub async fn push_manifest(&self, reference: &str, bytes: &[u8]) -> Result<()> {
        let url = self.url(&format!("manifests/{reference}"));
        let body = bytes.to_vec();
        let response = self
            .send("uploading the manifest", || {
                Ok(self
                    .client
                    .put(&url)
                    .header(CONTENT_TYPE, MANIFEST_MEDIA_TYPE)
                    .body(body.clone()))
            })
            .await?;
        self.successful("uploading the manifest", response)
            .await
            .map(drop)
    }

    /// The manifest at `reference` (a tag or digest) and its media type.
    pub async fn fetch_manifest(&self, reference: &str) -> Result<(Vec<u8>, Option<String>)> {
        let url = self.url(&format!("manifests/{reference}"));
        let accept = format!(
            "{MANIFEST_MEDIA_TYPE}, {INDEX_MEDIA_TYPE}, application/vnd.docker.distribution.manifest.v2+json"
        );
        let response = self
            .send("fetching the manifest", || {
                Ok(self.client.get(&url).header(ACCEPT, &accept))
            })
            .await?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Err(Error::Oci(format!(
                "registry {} has no manifest `{reference}` in `{}`",
                self.host, self.repository
            )));
        }
        let response = self.successful("fetching the manifest", response).await?;
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        if response
            .content_length()
            .is_some_and(|n| n > MAX_MANIFEST_BYTES as u64)
        {
            return Err(Error::Oci(format!(
                "registry {}: the manifest `{reference}` is larger than {MAX_MANIFEST_BYTES} bytes",
                self.host
            )));
        }
        let mut bytes = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                Error::Oci(format!(
                    "registry {}: fetching the manifest failed: {}",
                    self.host,
                    reason(&e)
                ))
            })?;
            if bytes.len() + chunk.len() > MAX_MANIFEST_BYTES {
                return Err(Error::Oci(format!(
                    "registry {}: the manifest `{reference}` is larger than {MAX_MANIFEST_BYTES} bytes",
                    self.host
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        if reference.starts_with("sha256:") && digest_of(&bytes) != reference {
            return Err(Error::Oci(format!(
                "registry {}: the manifest does not match its digest `{reference}`",
                self.host
            )));
        }
        Ok((bytes, media_type))
    }

    /// Download a blob into `to`, checking its size and digest as it streams.
    pub async fn fetch_blob(
        &self,
        descriptor: &Descriptor,
        to: &Path,
        progress: &Progress,
    ) -> Result<()> {
        let url = self.url(&format!("blobs/{}", descriptor.digest));
        let what = format!(
            "`{}`",
            descriptor.title.as_deref().unwrap_or(&descriptor.digest)
        );
        let mut attempt = 0;
        loop {
            let response = self
                .send("fetching a blob", || Ok(self.client.get(&url)))
                .await?;
            let response = self.successful("fetching a blob", response).await?;
            let stream = response
                .bytes_stream()
                .map(|chunk| chunk.map_err(|e| std::io::Error::other(reason(&e))));
            match write_checked(stream, descriptor, to, progress).await {
                Ok(()) => return Ok(()),
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Transient(why)) if attempt >= self.max_retries => {
                    return Err(Error::Oci(format!(
                        "registry {}: fetching {what} failed: {why}",
                        self.host
                    )));
                }
                Err(Failure::Transient(_)) => {
                    attempt += 1;
                    tokio::time::sleep(FIRST_BACKOFF * 2u32.pow(attempt - 1)).await;
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
        Err(Error::Oci(format!(
            "registry {}: {what} in `{}` failed: {status}{}",
            self.host,
            self.repository,
            detail.map(|d| format!(" ({d})")).unwrap_or_default()
        )))
    }
}

/// Write a byte stream to `to` while hashing it; a wrong size or digest is final, a broken
/// connection is worth another try.
async fn write_checked(
    mut stream: impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin,
    descriptor: &Descriptor,
    to: &Path,
    progress: &Progress,
) -> std::result::Result<(), Failure> {
    let shown = to.display().to_string();
    let mut file = tokio::fs::File::create(to)
        .await
        .map_err(|e| Failure::Final(Error::io("failed to create", &shown, e)))?;
    let mut verifier = Verifier::new(descriptor);
    let result = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Failure::Transient(e.to_string()))?;
            verifier.update(&chunk).map_err(Failure::Final)?;
            file.write_all(&chunk)
                .await
                .map_err(|e| Failure::Final(Error::io("failed to write", &shown, e)))?;
            progress
                .done
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        file.flush()
            .await
            .map_err(|e| Failure::Final(Error::io("failed to write", &shown, e)))?;
        Ok(())
    }
    .await;
    let seen = verifier.seen();
    let result = result.and_then(|()| {
        // A short body is a broken connection (worth another try); wrong bytes are final.
        if seen < descriptor.size {
            return Err(Failure::Transient(format!(
                "got {seen} of {} bytes",
                descriptor.size
            )));
        }
        verifier.finish().map_err(Failure::Final)
    });
    if result.is_err() {
        progress.done.fetch_sub(seen, Ordering::Relaxed);
    }
    result
}

/// The PUT URL that completes an upload: the session URL plus `digest=`.
fn put_url(location: &str, digest: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

fn is_transient(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// The innermost reason of a transport error, without URLs' query strings (an upload session's
/// state, a signed redirect).
fn reason(error: &reqwest::Error) -> String {
    crate::store::redact(&crate::store::facts::short_reason(error))
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
