//! What [`Stores`](super::Stores) are built from: per-location options given in code, stores
//! registered for a location, an environment (a snapshot of variables, only when the caller
//! asks for one), the working directory for relative file keys, and the retry policy.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;

use super::facts::StoreError;
use super::href::{locate, normalize_store_type};
use crate::net::RetryPolicy;

/// Settings for one location — a bucket (`s3://bucket`, `gs://bucket`), an Azure container
/// (`az://container`) — given in code instead of taken from the environment.
///
/// For Azure, `access_key_id` is the storage account and `secret_access_key` its key.
/// [`config`](Self::config) passes any other option of the backend by its object_store name
/// (`aws_unsigned_payload`, `google_service_account_key`, `azure_storage_token`, …).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct LocationOptions {
    /// Endpoint URL (an S3-compatible server, an emulator).
    pub endpoint: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Access key id (S3), account name (Azure).
    pub access_key_id: Option<String>,
    /// Secret access key (S3), account key (Azure).
    pub secret_access_key: Option<String>,
    /// Session token (S3).
    pub session_token: Option<String>,
    /// Send requests unsigned (public buckets).
    pub anonymous: bool,
    /// Allow plain `http://` endpoints.
    pub allow_http: bool,
    /// Other backend options, by their object_store configuration names.
    pub config: Vec<(String, String)>,
}

impl std::fmt::Debug for LocationOptions {
    // Credentials never reach Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocationOptions")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("credentials", &self.access_key_id.is_some())
            .field("anonymous", &self.anonymous)
            .field("allow_http", &self.allow_http)
            .field(
                "config",
                &self.config.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A snapshot of environment variables (or any set of variables standing in for them).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Environment {
    vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for Environment {
    // Values may be secrets: only the names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl Environment {
    /// The process environment, now.
    pub(crate) fn capture() -> Self {
        Environment {
            vars: std::env::vars().collect(),
        }
    }

    /// A variable's value; empty values count as unset.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The variables whose names start with `prefix`.
    pub(crate) fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.vars
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Where a setting applies: a store type and a container (bucket, Azure container, or
/// `scheme://host[:port]` for HTTP; empty for local files).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    kind: &'static str,
    container: String,
}

impl Place {
    /// The place a prefix names: `s3://bucket`, `az://container`, `https://host:8443`, `file://`.
    fn parse(prefix: &str) -> Result<Place, StoreError> {
        let bad = || {
            StoreError::BadLocation(format!(
                "`{prefix}` names no store: expected `s3://BUCKET`, `gs://BUCKET`, `az://CONTAINER`, `http(s)://HOST` or `file://`"
            ))
        };
        if prefix.trim_end_matches('/') == "file:" {
            return Ok(Place {
                kind: "file",
                container: String::new(),
            });
        }
        if !prefix.contains("://") {
            return Err(bad());
        }
        let location = locate(prefix).location;
        let kind = location
            .store_type
            .as_deref()
            .and_then(normalize_store_type)
            .ok_or_else(bad)?;
        let container = match kind {
            "file" => String::new(),
            _ => location
                .store_container
                .filter(|c| !c.is_empty())
                .ok_or_else(bad)?,
        };
        Ok(Place { kind, container })
    }

    fn matches(&self, kind: &str, container: &str) -> bool {
        self.kind == kind && self.container == container
    }
}

/// Everything [`Stores`](super::Stores) are built from.
#[derive(Clone, Default)]
pub(crate) struct Settings {
    pub(crate) environment: Option<Environment>,
    pub(crate) working_dir: PathBuf,
    pub(crate) retry: RetryPolicy,
    locations: Vec<(Place, LocationOptions)>,
    registered: Vec<(Place, Arc<dyn ObjectStore>)>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("environment", &self.environment)
            .field("working_dir", &self.working_dir)
            .field("retry", &self.retry)
            .field("locations", &self.locations)
            .field(
                "registered",
                &self.registered.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Settings {
    pub(crate) fn location(&self, kind: &str, container: &str) -> Option<&LocationOptions> {
        self.locations
            .iter()
            .rev()
            .find(|(place, _)| place.matches(kind, container))
            .map(|(_, options)| options)
    }

    /// These settings without the stores registered for a store type.
    pub(crate) fn without_registered(&self, kind: &str) -> Settings {
        let mut settings = self.clone();
        settings.registered.retain(|(place, _)| place.kind != kind);
        settings
    }

    pub(crate) fn registered(&self, kind: &str, container: &str) -> Option<Arc<dyn ObjectStore>> {
        self.registered
            .iter()
            .rev()
            .find(|(place, _)| place.matches(kind, container))
            .map(|(_, store)| Arc::clone(store))
    }
}

/// Builds [`Stores`](super::Stores) from settings given in code. Nothing is read from the
/// process environment unless [`environment_vars`](Self::environment_vars) gives some.
///
/// ```
/// use std::sync::Arc;
/// use stacpkg::store::{LocationOptions, Stores};
///
/// let stores = Stores::builder()
///     // Every `s3://archive/…` object lives in memory (tests, examples).
///     .register("s3://archive", Arc::new(object_store::memory::InMemory::new()))?
///     // `s3://public-data/…` is an S3-compatible server read without credentials.
///     .location(
///         "s3://public-data",
///         LocationOptions {
///             endpoint: Some("http://127.0.0.1:9000".into()),
///             anonymous: true,
///             ..LocationOptions::default()
///         },
///     )?
///     .working_dir("/data")
///     .build()?;
/// # let _ = stores;
/// # Ok::<(), stacpkg::store::StoreError>(())
/// ```
#[derive(Debug, Default)]
pub struct StoresBuilder {
    settings: Settings,
}

impl StoresBuilder {
    /// Use `store` for every object at `prefix` (`s3://bucket`, `gs://bucket`, `az://container`,
    /// `http(s)://host[:port]`, or `file://` for local files). Objects keep the paths they would
    /// have on the real store: the key for buckets and containers, the absolute path for files.
    pub fn register(
        mut self,
        prefix: &str,
        store: Arc<dyn ObjectStore>,
    ) -> Result<Self, StoreError> {
        let place = Place::parse(prefix)?;
        self.settings.registered.push((place, store));
        Ok(self)
    }

    /// Options for the bucket or container at `prefix` (`s3://bucket`, `gs://bucket`,
    /// `az://container`); they replace what the environment would say about it. A lock row's
    /// own `store_endpoint_url` still wins over `options.endpoint`.
    pub fn location(mut self, prefix: &str, options: LocationOptions) -> Result<Self, StoreError> {
        let place = Place::parse(prefix)?;
        self.settings.locations.push((place, options));
        Ok(self)
    }

    /// Take the environment rules (`STACPKG_S3_*` per bucket, `AWS_*`, `GOOGLE_*`, `AZURE_*`)
    /// from these variables, for locations without options of their own.
    pub fn environment_vars(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.settings.environment = Some(Environment {
            vars: vars.into_iter().collect(),
        });
        self
    }

    pub(crate) fn environment(mut self, environment: Environment) -> Self {
        self.settings.environment = Some(environment);
        self
    }

    /// The directory relative file keys (`./item-a/visual.tif`) resolve against. Without one,
    /// a relative file key is an error naming it.
    pub fn working_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.settings.working_dir = dir.into();
        self
    }

    /// How failed requests are retried (default [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.settings.retry = policy;
        self
    }

    /// The stores.
    pub fn build(self) -> Result<super::Stores, StoreError> {
        super::Stores::from_settings(self.settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_name_a_store_type_and_container() {
        let place = Place::parse("s3://bucket/ignored/path").unwrap();
        assert!(place.matches("s3", "bucket"));
        assert!(
            Place::parse("s3a://bucket")
                .unwrap()
                .matches("s3", "bucket")
        );
        assert!(
            Place::parse("https://h:8443")
                .unwrap()
                .matches("https", "https://h:8443")
        );
        assert!(Place::parse("file://").unwrap().matches("file", ""));
        assert!(Place::parse("bucket").is_err());
        assert!(Place::parse("s3://").is_err());
    }

    #[test]
    fn environment_snapshots_hide_values_and_select_by_prefix() {
        let env = Environment {
            vars: [
                ("AWS_REGION".to_string(), "eu".to_string()),
                ("AWS_SECRET_ACCESS_KEY".to_string(), "SECRET".to_string()),
                ("AZURE_X".to_string(), String::new()),
                ("HOME".to_string(), "/root".to_string()),
            ]
            .into(),
        };
        let aws: Vec<&str> = env.with_prefix("AWS_").map(|(k, _)| k).collect();
        assert_eq!(aws, ["AWS_REGION", "AWS_SECRET_ACCESS_KEY"]);
        assert_eq!(env.get("AZURE_X"), None);
        assert!(!format!("{env:?}").contains("SECRET\""));
        assert!(!format!("{env:?}").contains("eu"));
    }
}
