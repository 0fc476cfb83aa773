//! Registry credentials and authentication challenges.
//!
//! Credentials come from the environment only: `ORAS_USER`/`ORAS_PASS`, then the Docker config
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`): `credHelpers`, `auths`, then
//! `credsStore`. They are never printed: [`Credentials`]' `Debug` hides them and no message
//! includes them.

use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine;
use serde::Deserialize;

/// A user name and password (or token).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<hidden>)")
    }
}

/// Where credentials were found (for messages; never the credentials themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `ORAS_USER` / `ORAS_PASS`.
    Environment,
    /// The Docker config file at this path.
    DockerConfig(PathBuf),
    /// A Docker credential helper (`docker-credential-NAME`).
    Helper(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Environment => f.write_str("ORAS_USER/ORAS_PASS"),
            Source::DockerConfig(path) => write!(f, "`{}`", path.display()),
            Source::Helper(name) => write!(f, "docker-credential-{name}"),
        }
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

/// The Docker config file this process would use.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
}

/// Credentials for `registry` (`host[:port]`), if any are configured.
pub fn lookup(registry: &str) -> Result<Option<(Credentials, Source)>, String> {
    let user = std::env::var("ORAS_USER").ok().filter(|v| !v.is_empty());
    let pass = std::env::var("ORAS_PASS").ok().filter(|v| !v.is_empty());
    match (user, pass) {
        (Some(username), Some(password)) => {
            return Ok(Some((
                Credentials { username, password },
                Source::Environment,
            )));
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err("ORAS_USER and ORAS_PASS must be set together".into());
        }
        (None, None) => {}
    }
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
    };
    let config: DockerConfig = serde_json::from_str(&text)
        .map_err(|e| format!("`{}` is not a valid Docker config: {e}", path.display()))?;
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
        let found = decode_auth(auth).map_err(|why| format!("`{}`: {why}", path.display()))?;
        if let Some(credentials) = found {
            return Ok(Some((credentials, Source::DockerConfig(path))));
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
        return Ok(Some(Credentials {
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
        return Ok(Some(Credentials {
            username: username.into(),
            password: password.into(),
        }));
    }
    match (&auth.username, &auth.password) {
        (Some(username), Some(password)) => Ok(Some(Credentials {
            username: username.clone(),
            password: password.clone(),
        })),
        _ => Ok(None),
    }
}

/// Ask `docker-credential-NAME get` for the registry's credentials.
fn helper_get(name: &str, registry: &str) -> Result<Option<(Credentials, Source)>, String> {
    use std::io::Write;
    let program = format!("docker-credential-{name}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run the credential helper `{program}`: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("the credential helper `{program}` failed: {e}"))?;
    if !output.status.success() {
        // Helpers answer "credentials not found" with a failure; anything else is an error, but
        // its text may echo secrets, so it is not repeated.
        let text = String::from_utf8_lossy(&output.stdout).to_lowercase();
        if text.contains("not found") {
            return Ok(None);
        }
        return Err(format!(
            "the credential helper `{program}` failed for {registry} ({})",
            output.status
        ));
    }
    let answer: HelperAnswer = serde_json::from_slice(&output.stdout)
        .map_err(|_| format!("the credential helper `{program}` gave an unreadable answer"))?;
    Ok(Some((
        Credentials {
            username: answer.username,
            password: answer.secret,
        },
        Source::Helper(name.to_string()),
    )))
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
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
pub fn parse_challenge(header: &str) -> Option<Challenge> {
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
            (credentials.username.as_str(), credentials.password.as_str()),
            ("user", "pa:ss")
        );
        assert_eq!(format!("{credentials:?}"), "Credentials(<hidden>)");
        assert_eq!(auths_host("https://index.docker.io/v1/"), "index.docker.io");
        assert_eq!(auths_host("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}
