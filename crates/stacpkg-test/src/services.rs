//! The real servers of `scripts/services.sh` (nginx, two s3s-fs, Azurite), found through
//! `STACPKG_TEST_SERVICES`, plus ways to put objects on them.
//!
//! Objects reach nginx and s3s-fs by writing into the directories they serve (both serve a plain
//! directory tree), and Azurite through its REST API (`scripts/azurite.py`). Every test works
//! under its own prefix, so tests run in parallel.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The running services.
#[derive(Debug)]
pub struct Services {
    vars: HashMap<String, String>,
    prefix: String,
}

/// One of the two S3 servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3 {
    /// Bucket `stacpkg-a`, its own credentials.
    A,
    /// Bucket `stacpkg.b-2`, other credentials.
    B,
}

impl S3 {
    fn tag(self) -> &'static str {
        match self {
            S3::A => "S3A",
            S3::B => "S3B",
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Services {
    /// The services, or `None` (with a loud message) when they are not running locally. Under
    /// CI (`CI=true`) missing services fail the test: `.ci/run` starts them.
    #[allow(clippy::print_stderr)] // the skip must be loud in the test output
    pub fn get(test: &str) -> Option<Services> {
        let Some(file) = std::env::var_os("STACPKG_TEST_SERVICES") else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("STACPKG_TEST_SERVICES is not set under CI: scripts/test.sh starts them");
            }
            eprintln!("SKIPPED {test}: run scripts/test.sh (it starts nginx, s3s-fs, Azurite)");
            return None;
        };
        let text = std::fs::read_to_string(&file).expect("read the services file");
        let vars = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Some(Services {
            vars,
            prefix: format!("{test}-{}-{n}", std::process::id()),
        })
    }

    /// A variable of the services file (`HTTP_URL`, `S3A_BUCKET`, …).
    pub fn var(&self, name: &str) -> &str {
        self.vars
            .get(name)
            .unwrap_or_else(|| panic!("services file has no {name}"))
    }

    /// This test's key prefix (no slashes).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The nginx URL of `key` under this test's prefix.
    pub fn http_href(&self, key: &str) -> String {
        format!("{}/{}/{key}", self.var("HTTP_URL"), self.prefix)
    }

    /// The nginx https URL of `key` under this test's prefix (certificate from the test CA at
    /// `HTTPS_CA`).
    pub fn https_href(&self, key: &str) -> String {
        format!("{}/{}/{key}", self.var("HTTPS_URL"), self.prefix)
    }

    /// The file nginx serves for `key` under this test's prefix.
    pub fn http_path(&self, key: &str) -> PathBuf {
        Path::new(self.var("HTTP_ROOT"))
            .join(&self.prefix)
            .join(key)
    }

    /// Put an object on nginx.
    pub fn put_http(&self, key: &str, bytes: &[u8]) -> String {
        write_file(&self.http_path(key), bytes);
        self.http_href(key)
    }

    /// The bucket of an S3 server.
    pub fn bucket(&self, s3: S3) -> &str {
        self.var(&format!("{}_BUCKET", s3.tag()))
    }

    /// Put an object on an S3 server; returns its `s3://` href.
    pub fn put_s3(&self, s3: S3, key: &str, bytes: &[u8]) -> String {
        let path = self.s3_path(s3, key);
        write_file(&path, bytes);
        format!("s3://{}/{}/{key}", self.bucket(s3), self.prefix)
    }

    /// Put an object on an S3 server through its API, with `x-amz-checksum-sha256` (the server
    /// checks it and keeps it); returns its `s3://` href.
    #[allow(clippy::disallowed_types)] // an uploader standing in for another S3 client, not stacpkg
    pub fn put_s3_with_sha256(&self, s3: S3, key: &str, bytes: &[u8]) -> String {
        use object_store::ObjectStoreExt;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(self.var(&format!("{}_URL", s3.tag())))
            .with_allow_http(true)
            .with_bucket_name(self.bucket(s3))
            .with_region("us-east-1")
            .with_access_key_id(self.var(&format!("{}_ACCESS_KEY", s3.tag())))
            .with_secret_access_key(self.var(&format!("{}_SECRET_KEY", s3.tag())))
            .with_checksum_algorithm(object_store::aws::Checksum::SHA256)
            .build()
            .expect("an S3 client");
        let path = object_store::path::Path::from(format!("{}/{key}", self.prefix));
        let payload = object_store::PutPayload::from(bytes.to_vec());
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(store.put(&path, payload))
            .expect("an S3 put with a checksum");
        format!("s3://{}/{}/{key}", self.bucket(s3), self.prefix)
    }

    /// The file s3s-fs keeps for an object.
    pub fn s3_path(&self, s3: S3, key: &str) -> PathBuf {
        Path::new(self.var(&format!("{}_ROOT", s3.tag())))
            .join(self.bucket(s3))
            .join(&self.prefix)
            .join(key)
    }

    /// Shell assignments that point each bucket at its server with its own credentials: bucket A
    /// through `STACPKG_S3_ENDPOINT_<BUCKET>`, bucket B through `STACPKG_S3_ENDPOINTS_JSON`.
    pub fn s3_env(&self) -> String {
        format!(
            "STACPKG_S3_ENDPOINT_STACPKG_A={a_url} STACPKG_S3_ACCESS_KEY_ID_STACPKG_A={a_key} \
             STACPKG_S3_SECRET_ACCESS_KEY_STACPKG_A={a_secret} \
             STACPKG_S3_ENDPOINTS_JSON='{{\"{b_bucket}\": \"{b_url}\"}}' \
             STACPKG_S3_ACCESS_KEY_ID_STACPKG_B_2={b_key} \
             STACPKG_S3_SECRET_ACCESS_KEY_STACPKG_B_2={b_secret} AWS_EC2_METADATA_DISABLED=true",
            a_url = self.var("S3A_URL"),
            a_key = self.var("S3A_ACCESS_KEY"),
            a_secret = self.var("S3A_SECRET_KEY"),
            b_bucket = self.bucket(S3::B),
            b_url = self.var("S3B_URL"),
            b_key = self.var("S3B_ACCESS_KEY"),
            b_secret = self.var("S3B_SECRET_KEY"),
        )
    }

    /// Put a blob on Azurite; returns its `az://` href.
    pub fn put_azure(&self, key: &str, bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("blob");
        std::fs::write(&file, bytes).expect("write blob");
        let blob = format!("{}/{key}", self.prefix);
        let container = self.var("AZURE_CONTAINER");
        let status = Command::new("python3")
            .arg(self.var("AZURE_CLIENT"))
            .args([self.var("AZURE_URL"), "put", container, &blob])
            .arg(&file)
            .status()
            .expect("run azurite.py");
        assert!(status.success(), "uploading {blob} to Azurite failed");
        format!("az://{container}/{blob}")
    }

    /// Shell assignments for the Azure emulator.
    pub fn azure_env(&self) -> String {
        format!(
            "AZURE_STORAGE_USE_EMULATOR=true AZURITE_BLOB_STORAGE_URL={}",
            self.var("AZURE_URL")
        )
    }
}

fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("object path has a parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write object");
}
