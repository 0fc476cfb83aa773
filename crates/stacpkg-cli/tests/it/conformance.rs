//! The store conformance suite (`stacpkg_test::conformance`): in memory and on local disk
//! always, and against the real S3, Azure and HTTP servers when the services run. The stores are
//! configured in code here (no environment), as a program embedding the library would.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::memory::InMemory;
use stacpkg::store::{LocationOptions, Stores};
use stacpkg_test::conformance::{self, Backend};
use stacpkg_test::services::{S3, Services};

#[test]
fn the_store_suite_passes_in_memory_and_on_local_disk() {
    let dir = tempfile::tempdir().unwrap();
    let stores = Stores::builder()
        .register(
            "s3://conformance",
            Arc::new(InMemory::new()) as Arc<dyn ObjectStore>,
        )
        .unwrap()
        .working_dir(dir.path())
        .build()
        .unwrap();
    let memory = Backend {
        name: "memory".into(),
        stores: stores.clone(),
        base: "s3://conformance/run".into(),
        writable: true,
        put: None,
    };
    let local_dir = dir.path().join("local");
    let local = Backend {
        name: "local".into(),
        stores,
        base: local_dir.display().to_string(),
        writable: true,
        put: None,
    };
    conformance::run(&memory, &memory);
    conformance::run(&memory, &local);
    conformance::run(&local, &local);
    conformance::staging_cleanup(&memory, &local_dir, &local);
}

#[test]
fn the_store_suite_passes_against_s3_azure_and_http_servers() {
    let Some(svc) = Services::get("conformance") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bucket = svc.bucket(S3::A).to_string();
    let container = svc.var("AZURE_CONTAINER").to_string();
    let s3 = LocationOptions {
        endpoint: Some(svc.var("S3A_URL").into()),
        access_key_id: Some(svc.var("S3A_ACCESS_KEY").into()),
        secret_access_key: Some(svc.var("S3A_SECRET_KEY").into()),
        allow_http: true,
        ..LocationOptions::default()
    };
    // Azurite's well-known development account, given in code.
    let azure = LocationOptions {
        endpoint: Some(format!("{}/devstoreaccount1", svc.var("AZURE_URL"))),
        access_key_id: Some("devstoreaccount1".into()),
        secret_access_key: Some(
            "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
                .into(),
        ),
        allow_http: true,
        ..LocationOptions::default()
    };
    let stores = Stores::builder()
        .location(&format!("s3://{bucket}"), s3)
        .unwrap()
        .location(&format!("az://{container}"), azure)
        .unwrap()
        .working_dir(dir.path())
        .build()
        .unwrap();
    let prefix = svc.prefix().to_string();
    let local_dir = dir.path().join("local");
    let local = Backend {
        name: "local".into(),
        stores: stores.clone(),
        base: local_dir.display().to_string(),
        writable: true,
        put: None,
    };
    let s3 = Backend {
        name: "s3s-fs".into(),
        stores: stores.clone(),
        base: format!("s3://{bucket}/{prefix}"),
        writable: true,
        put: None,
    };
    let azure = Backend {
        name: "Azurite".into(),
        stores: stores.clone(),
        base: format!("az://{container}/{prefix}"),
        writable: true,
        put: None,
    };
    // nginx serves a directory: objects are put there, and it is only ever a source.
    let http_base = svc.http_href("suite");
    let root = svc.http_path("suite");
    let base = http_base.clone();
    let http = Backend {
        name: "nginx".into(),
        stores,
        base: http_base,
        writable: false,
        put: Some(Box::new(move |href: &str, bytes: &[u8]| {
            let key = href
                .strip_prefix(&format!("{base}/"))
                .expect("an href below the base");
            let path = root.join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        })),
    };
    conformance::run(&s3, &s3);
    conformance::run(&azure, &azure);
    conformance::run(&http, &local);
    conformance::run(&s3, &local);
    conformance::staging_cleanup(&s3, &local_dir, &local);
}
