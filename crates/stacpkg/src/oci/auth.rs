//! Registry credentials and authentication challenges.
//!
//! Credentials are values the caller hands over as a [`CredentialSource`]:
//! [`EnvCredentials`] follows the rules of the command line (`ORAS_USER`/`ORAS_PASS`, then the
//! Docker config — `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json` — with its
//! `credHelpers`, `auths`, then `credsStore`), [`StaticCredentials`] gives fixed Basic
//! credentials or a bearer token, [`NoCredentials`] none. They are never printed:
//! [`Credentials`]' `Debug` hides them and no message includes them.

use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine;
use serde::Deserialize;

/// What a registry is shown: a user name and password (or token) for Basic authentication and
/// token services, or a bearer token sent as it is.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// HTTP Basic credentials (also what a token service is shown).
    Basic {
        /// User name.
        username: String,
        /// Password or token.
        password: String,
    },
    /// A bearer token, sent with every request.
    Bearer(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<hidden>)")
    }
}

/// Where credentials were found (for messages; never the credentials themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialOrigin {
    /// `ORAS_USER` / `ORAS_PASS`.
    Environment,
    /// The Docker config file at this path.
    DockerConfig(PathBuf),
    /// A Docker credential helper (`docker-credential-NAME`).
    Helper(String),
    /// Given by the program (a [`StaticCredentials`]).
    Given,
}

impl std::fmt::Display for CredentialOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialOrigin::Environment => f.write_str("ORAS_USER/ORAS_PASS"),
            CredentialOrigin::DockerConfig(path) => write!(f, "`{}`", path.display()),
            CredentialOrigin::Helper(name) => write!(f, "docker-credential-{name}"),
            CredentialOrigin::Given => f.write_str("the program"),
        }
    }
}

/// `the credentials from X` or `anonymous access (no credentials found)`, for refusals.
pub(crate) fn with_credentials(origin: &Option<CredentialOrigin>) -> String {
    match origin {
        Some(origin) => format!("the credentials from {origin}"),
        None => "anonymous access (no credentials found)".into(),
    }
}

/// ` with the credentials from X` or ` without credentials`, for token service refusals.
pub(crate) fn token_credentials(origin: &Option<CredentialOrigin>) -> String {
    match origin {
        Some(origin) => format!(" with the credentials from {origin}"),
        None => " without credentials".into(),
    }
}

/// Why credentials could not be looked up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// Only one of `ORAS_USER` and `ORAS_PASS` is set.
    #[error("ORAS_USER and ORAS_PASS must be set together")]
    Incomplete,
    /// The Docker config exists but cannot be read.
    #[error("cannot read `{}`", .path.display())]
    UnreadableConfig {
        /// The config file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The Docker config is not what Docker writes.
    #[error("`{}`{}", .path.display(), .problem)]
    InvalidConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong (`: an `auth` entry is not base64`, ` is not a valid Docker config: …`).
        problem: String,
    },
    /// A Docker credential helper failed.
    #[error("{problem}")]
    Helper {
        /// The helper program.
        program: String,
        /// What went wrong, naming the helper (never its output, which may hold secrets).
        problem: String,
    },
}

/// Where a registry client gets its credentials from.
pub trait CredentialSource: Send + Sync + std::fmt::Debug {
    /// Credentials for `registry` (`host[:port]` as the user typed it; `docker.io` for Docker
    /// Hub) and where they came from, or `None` for anonymous access.
    fn credentials(
        &self,
        registry: &str,
    ) -> Result<Option<(Credentials, CredentialOrigin)>, CredentialError>;
}

/// No credentials: anonymous access.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCredentials;

impl CredentialSource for NoCredentials {
    fn credentials(
        &self,
        _: &str,
    ) -> Result<Option<(Credentials, CredentialOrigin)>, CredentialError> {
        Ok(None)
    }
}

/// Fixed credentials for every registry (or only for those named).
#[derive(Debug, Clone)]
pub struct StaticCredentials {
    credentials: Credentials,
    registries: Vec<String>,
}

impl StaticCredentials {
    /// Basic credentials.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        StaticCredentials {
            credentials: Credentials::Basic {
                username: username.into(),
                password: password.into(),
            },
            registries: Vec::new(),
        }
    }

    /// A bearer token.
    pub fn bearer(token: impl Into<String>) -> Self {
        StaticCredentials {
            credentials: Credentials::Bearer(token.into()),
            registries: Vec::new(),
        }
    }

    /// Only for this registry (`host[:port]`); may be given several times.
    pub fn for_registry(mut self, registry: impl Into<String>) -> Self {
        self.registries.push(registry.into());
        self
    }
}

impl CredentialSource for StaticCredentials {
    fn credentials(
        &self,
        registry: &str,
    ) -> Result<Option<(Credentials, CredentialOrigin)>, CredentialError> {
        let applies = self.registries.is_empty() || self.registries.iter().any(|r| r == registry);
        Ok(applies.then(|| (self.credentials.clone(), CredentialOrigin::Given)))
    }
}

/// The command line's credentials: `ORAS_USER`/`ORAS_PASS`, then the Docker config. The
/// variables are read once, by [`EnvCredentials::from_env`]; the Docker config file and its
/// helpers are consulted per registry.
#[derive(Clone, Default)]
pub struct EnvCredentials {
    user: Option<String>,
    pass: Option<String>,
    docker_config: Option<PathBuf>,
}

impl std::fmt::Debug for EnvCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvCredentials")
            .field("oras_user", &self.user.is_some())
            .field("docker_config", &self.docker_config)
            .finish()
    }
}

impl EnvCredentials {
    /// Read `ORAS_USER`, `ORAS_PASS`, `DOCKER_CONFIG` and `HOME` now.
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        let docker_config = match var("DOCKER_CONFIG") {
            Some(dir) => Some(PathBuf::from(dir).join("config.json")),
            None => var("HOME").map(|home| PathBuf::from(home).join(".docker/config.json")),
        };
        EnvCredentials {
            user: var("ORAS_USER"),
            pass: var("ORAS_PASS"),
            docker_config,
        }
    }

    /// The Docker config file these credentials use.
    pub fn docker_config_path(&self) -> Option<&std::path::Path> {
        self.docker_config.as_deref()
    }
}

impl CredentialSource for EnvCredentials {
    fn credentials(
        &self,
        registry: &str,
    ) -> Result<Option<(Credentials, CredentialOrigin)>, CredentialError> {
        match (&self.user, &self.pass) {
            (Some(username), Some(password)) => {
                return Ok(Some((
                    Credentials::Basic {
                        username: username.clone(),
                        password: password.clone(),
                    },
                    CredentialOrigin::Environment,
                )));
            }
            (Some(_), None) | (None, Some(_)) => return Err(CredentialError::Incomplete),
            (None, None) => {}
        }
        let Some(path) = &self.docker_config else {
            return Ok(None);
        };
        lookup_docker_config(path, registry)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, DockerAuth>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct DockerAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

/// The registry host of an `auths` key (`https://host:port/v1/` → `host:port`).
fn auths_host(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    key.split('/').next().unwrap_or(key)
}

/// Credentials for `registry` from the Docker config at `path`: `credHelpers`, `auths`, then
/// `credsStore`.
fn lookup_docker_config(
    path: &std::path::Path,
    registry: &str,
) -> Result<Option<(Credentials, CredentialOrigin)>, CredentialError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CredentialError::UnreadableConfig {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let config: DockerConfig =
        serde_json::from_str(&text).map_err(|e| CredentialError::InvalidConfig {
            path: path.to_path_buf(),
            problem: format!(" is not a valid Docker config: {e}"),
        })?;
    // Docker Hub's credentials are stored under its v1 index address.
    let hosts: &[&str] = if registry == "docker.io" {
        &["docker.io", "index.docker.io", "registry-1.docker.io"]
    } else {
        &[registry]
    };
    let wanted = |key: &str| hosts.contains(&auths_host(key));
    if let Some((_, helper)) = config.cred_helpers.iter().find(|(key, _)| wanted(key)) {
        return helper_get(helper, registry);
    }
    if let Some((_, auth)) = config.auths.iter().find(|(key, _)| wanted(key)) {
        let found = decode_auth(auth).map_err(|why| CredentialError::InvalidConfig {
            path: path.to_path_buf(),
            problem: format!(": {why}"),
        })?;
        if let Some(credentials) = found {
            return Ok(Some((
                credentials,
                CredentialOrigin::DockerConfig(path.to_path_buf()),
            )));
        }
    }
    match &config.creds_store {
        Some(store) if !store.is_empty() => helper_get(store, registry),
        _ => Ok(None),
    }
}

fn decode_auth(auth: &DockerAuth) -> Result<Option<Credentials>, String> {
    if let Some(token) = auth.identitytoken.as_ref().filter(|t| !t.is_empty()) {
        // Docker's convention for OAuth2 refresh tokens.
        return Ok(Some(Credentials::Basic {
            username: "<token>".into(),
            password: token.clone(),
        }));
    }
    if let Some(encoded) = auth.auth.as_ref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| "an `auth` entry is not base64".to_string())?;
        let text = String::from_utf8(decoded)
            .map_err(|_| "an `auth` entry is not UTF-8 `user:password`".to_string())?;
        let (username, password) = text
            .split_once(':')
            .ok_or_else(|| "an `auth` entry is not `user:password`".to_string())?;
        return Ok(Some(Credentials::Basic {
            username: username.into(),
            password: password.into(),
        }));
    }
    match (&auth.username, &auth.password) {
        (Some(username), Some(password)) => Ok(Some(Credentials::Basic {
            username: username.clone(),
            password: password.clone(),
        })),
        _ => Ok(None),
    }
}

/// Ask `docker-credential-NAME get` for the registry's credentials.
fn helper_get(
    name: &str,
    registry: &str,
) -> Result<Option<(Credentials, CredentialOrigin)>, CredentialError> {
    use std::io::Write;
    let program = format!("docker-credential-{name}");
    let failed = |problem: String| CredentialError::Helper {
        program: program.clone(),
        problem,
    };
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot run the credential helper `{program}`: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| failed(format!("the credential helper `{program}` failed: {e}")))?;
    if !output.status.success() {
        // Helpers answer "credentials not found" with a failure; anything else is an error, but
        // its text may echo secrets, so it is not repeated.
        let text = String::from_utf8_lossy(&output.stdout).to_lowercase();
        if text.contains("not found") {
            return Ok(None);
        }
        return Err(failed(format!(
            "the credential helper `{program}` failed for {registry} ({})",
            output.status
        )));
    }
    let answer: HelperAnswer = serde_json::from_slice(&output.stdout).map_err(|_| {
        failed(format!(
            "the credential helper `{program}` gave an unreadable answer"
        ))
    })?;
    Ok(Some((
        Credentials::Basic {
            username: answer.username,
            password: answer.secret,
        },
        CredentialOrigin::Helper(name.to_string()),
    )))
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// `Basic realm=…`.
    Basic,
    /// `Bearer realm=…,service=…,scope=…`.
    Bearer {
        /// Token endpoint.
        realm: String,
        /// `service` parameter, if given.
        service: Option<String>,
        /// `scope` parameter, if given.
        scope: Option<String>,
    },
}

/// Parse a `WWW-Authenticate` header value.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        }),
        _ => None,
    }
}

fn parse_params(text: &str) -> HashMap<String, String> {
    let mut params = HashMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ','))
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            continue;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_string();
        }
        params.insert(key, value);
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_parsed_with_quoted_commas() {
        assert_eq!(parse_challenge("Basic realm=\"R\""), Some(Challenge::Basic));
        assert_eq!(
            parse_challenge(
                "Bearer realm=\"http://127.0.0.1:1/token\",service=\"reg\",scope=\"repository:a/b:pull,push\""
            ),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/token".into(),
                service: Some("reg".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(
            parse_challenge("bearer realm=https://auth.example/token"),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: None,
                scope: None
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn docker_auth_entries_decode_and_hosts_match_with_or_without_scheme() {
        let auth = DockerAuth {
            auth: Some("dXNlcjpwYTpzcw==".into()),
            ..DockerAuth::default()
        };
        let credentials = decode_auth(&auth).unwrap().unwrap();
        assert_eq!(
            credentials,
            Credentials::Basic {
                username: "user".into(),
                password: "pa:ss".into()
            }
        );
        assert_eq!(format!("{credentials:?}"), "Credentials(<hidden>)");
        assert_eq!(auths_host("https://index.docker.io/v1/"), "index.docker.io");
        assert_eq!(auths_host("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}
