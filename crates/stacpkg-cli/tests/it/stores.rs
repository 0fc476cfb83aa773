//! `asset-lock derive / validate` against real servers (nginx, two s3s-fs, Azurite) and local
//! files: facts, exact validate lines, tampering, missing objects, credentials, signed URLs.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use stacpkg_test::services::{S3, Services};
use stacpkg_test::{TestContext, concat, read_ipc};

use crate::ctx;

/// A STAC item with the given assets (`key` → asset object).
pub(crate) fn item(id: &str, assets: Value) -> Value {
    json!({
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": id,
        "geometry": null,
        "properties": {"datetime": "2024-01-01T00:00:00Z"},
        "links": [],
        "assets": assets,
    })
}

pub(crate) fn write_items(ctx: &TestContext, items: &[Value]) {
    let collection = json!({"type": "FeatureCollection", "features": items});
    ctx.write("items.json", collection.to_string());
}

/// The lock rows as (item_id, asset_key, store_type, container, key, size, etag, last_modified).
pub(crate) type Row = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

fn rows(batch: &RecordBatch) -> Vec<Row> {
    let text = |name: &str, row: usize| {
        let c = batch.column_by_name(name).unwrap().as_string::<i32>();
        c.is_valid(row).then(|| c.value(row).to_string())
    };
    let size = batch
        .column_by_name("size_bytes")
        .unwrap()
        .as_primitive::<Int64Type>();
    (0..batch.num_rows())
        .map(|r| {
            (
                text("item_id", r).unwrap(),
                text("asset_key", r).unwrap(),
                text("store_type", r),
                text("store_container", r),
                text("key", r),
                size.is_valid(r).then(|| size.value(r)),
                text("etag", r),
                text("last_modified", r),
            )
        })
        .collect()
}

/// The rows of an asset-lock Parquet file.
pub(crate) fn parquet_lock_rows(path: &Path) -> Vec<Row> {
    let (schema, batches, _) = stacpkg_test::read_parquet(path);
    rows(&concat(&schema, &batches))
}

pub(crate) fn lock_rows(stdout: &[u8]) -> Vec<Row> {
    let (schema, batches) = read_ipc(stdout);
    rows(&concat(&schema, &batches))
}

/// How many `validate` result lines on stdout say `"valid": true`.
pub(crate) fn valid_lines(stdout: &[u8]) -> usize {
    String::from_utf8_lossy(stdout)
        .matches(r#""valid": true"#)
        .count()
}

/// nginx's ETag and Last-Modified for a file it serves, from the file itself.
pub(crate) fn nginx_facts(path: &Path) -> (String, String) {
    let meta = std::fs::metadata(path).unwrap();
    let mtime = meta.mtime();
    (
        format!("\"{mtime:x}-{:x}\"", meta.len()),
        Utc.timestamp_opt(mtime, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S+00:00")
            .to_string(),
    )
}

fn set_mtime(path: &Path, unix: i64) {
    let status = std::process::Command::new("touch")
        .arg("-d")
        .arg(format!("@{unix}"))
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn tutorial_flow_derive_to_parquet_from_parquet_validate_over_http() {
    let Some(svc) = Services::get("tutorial") else {
        return;
    };
    let ctx = ctx();
    let visual = svc.put_http("item-a/visual.tif", &[7u8; 1000]);
    let thumb = svc.put_http("item-a/thumbnail.png", b"png");
    let other = svc.put_http("item-b/visual.tif", &[1u8; 12]);
    // Like OpenAerialMap items: a metadata asset too, which derive skips by default.
    let metadata = svc.put_http("item-a/metadata.json", b"{}");
    write_items(
        &ctx,
        &[
            item(
                "item-a",
                json!({
                    "visual": {"href": visual},
                    "thumbnail": {"href": thumb},
                    "metadata": {"href": metadata},
                }),
            ),
            item("item-b", json!({"visual": {"href": other}})),
        ],
    );
    // The tutorial's commands (seed 001): items to Parquet, derive from it, lock to Parquet,
    // validate from it.
    let run = ctx.sh(
        "$STACPKG items from-json items.json | $STACPKG items to-parquet items.parquet \
         && $STACPKG items from-parquet items.parquet | $STACPKG asset-lock derive \
         | $STACPKG asset-lock to-parquet assets.lock.parquet \
         && $STACPKG asset-lock from-parquet assets.lock.parquet | $STACPKG asset-lock validate",
    );
    let run = run.success();
    assert_eq!(run.stderr, "");
    let lines: Vec<&str> = std::str::from_utf8(&run.stdout).unwrap().lines().collect();
    let container = svc.var("HTTP_URL");
    let prefix = svc.prefix();
    assert_eq!(
        lines,
        [
            format!(
                r#"{{"asset_key": "thumbnail", "errors": [], "item_id": "item-a", "key": "{prefix}/item-a/thumbnail.png", "store_container": "{container}", "store_type": "http", "valid": true}}"#
            ),
            format!(
                r#"{{"asset_key": "visual", "errors": [], "item_id": "item-a", "key": "{prefix}/item-a/visual.tif", "store_container": "{container}", "store_type": "http", "valid": true}}"#
            ),
            format!(
                r#"{{"asset_key": "visual", "errors": [], "item_id": "item-b", "key": "{prefix}/item-b/visual.tif", "store_container": "{container}", "store_type": "http", "valid": true}}"#
            ),
        ]
    );
    // The lock holds what nginx says about each object, verbatim.
    let lock = ctx
        .sh("$STACPKG asset-lock from-parquet assets.lock.parquet")
        .success();
    let rows = lock_rows(&lock.stdout);
    let (etag, modified) = nginx_facts(&svc.http_path("item-a/visual.tif"));
    assert_eq!(
        rows[1],
        (
            "item-a".into(),
            "visual".into(),
            Some("http".into()),
            Some(container.into()),
            Some(format!("{prefix}/item-a/visual.tif")),
            Some(1000),
            Some(etag),
            Some(modified),
        )
    );
}

#[test]
fn tampered_size_etag_and_last_modified_are_reported_exactly() {
    let Some(svc) = Services::get("tamper") else {
        return;
    };
    let ctx = ctx();
    let href = svc.put_http("a.tif", &[0u8; 100]);
    let path = svc.http_path("a.tif");
    set_mtime(&path, 1_700_000_000);
    write_items(&ctx, &[item("item-a", json!({"visual": {"href": href}}))]);
    ctx.sh("$STACPKG items from-json items.json | $STACPKG asset-lock derive > lock.arrow")
        .success();
    let (old_etag, old_modified) = nginx_facts(&path);

    std::fs::write(&path, [1u8; 120]).unwrap();
    set_mtime(&path, 1_700_000_100);
    let (new_etag, new_modified) = nginx_facts(&path);
    let run = ctx.sh("$STACPKG asset-lock validate < lock.arrow");
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.stderr, "");
    let line: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        line["errors"],
        json!([
            "size mismatch: expected 100, actual 120",
            format!("etag mismatch: expected {old_etag}, actual {new_etag}"),
            format!("last_modified mismatch: expected {old_modified}, actual {new_modified}"),
        ])
    );
    assert_eq!(line["valid"], json!(false));
    // The exact bytes of the original's format: escaped quotes, `", "` separators.
    let text = String::from_utf8(run.stdout).unwrap();
    assert!(
        text.contains(&format!(
            r#""errors": ["size mismatch: expected 100, actual 120", "etag mismatch: expected \"{}\", actual \"{}\""#,
            old_etag.trim_matches('"'),
            new_etag.trim_matches('"')
        )),
        "{text}"
    );
}

#[test]
fn missing_object_stops_validate_after_earlier_results_and_keep_going_reports_it() {
    let Some(svc) = Services::get("missing") else {
        return;
    };
    let ctx = ctx();
    let present = svc.put_http("present.tif", b"here");
    let gone = svc.put_http("gone.tif", b"soon gone");
    write_items(
        &ctx,
        &[
            item("item-a", json!({"visual": {"href": present}})),
            item("item-b", json!({"visual": {"href": gone}})),
        ],
    );
    ctx.sh("$STACPKG items from-json items.json | $STACPKG asset-lock derive > lock.arrow")
        .success();
    std::fs::remove_file(svc.http_path("gone.tif")).unwrap();
    let gone_href = svc.http_href("gone.tif");

    let run = ctx.sh("$STACPKG asset-lock validate < lock.arrow");
    let line = run.error_line(1);
    assert_eq!(
        line,
        format!(
            "stacpkg: error: item `item-b` asset `visual`: cannot probe `{gone_href}`: not found"
        )
    );
    let stdout = String::from_utf8(run.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "the valid result comes first");
    assert!(stdout.contains(r#""item_id": "item-a""#) && stdout.contains(r#""valid": true"#));

    let run = ctx.sh("$STACPKG asset-lock validate --keep-going < lock.arrow");
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr,
        format!(
            "stacpkg: warning: item `item-b` asset `visual`: cannot probe `{gone_href}`: not found\n\
             stacpkg: warning: 1 of 2 assets could not be probed\n"
        )
    );
    let stdout = String::from_utf8(run.stdout).unwrap();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[1]["errors"],
        json!([format!("cannot probe `{gone_href}`: not found")])
    );

    // derive: without --keep-going nothing after the failure; with it, every row and a report.
    let run =
        ctx.sh("$STACPKG items from-json items.json | $STACPKG asset-lock derive > /dev/null");
    assert_eq!(
        run.error_line(1),
        format!(
            "stacpkg: error: item `item-b` asset `visual`: cannot probe `{gone_href}`: not found"
        )
    );
    let run = ctx.sh(
        "$STACPKG items from-json items.json | $STACPKG asset-lock derive --keep-going > kept.arrow",
    );
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr,
        format!(
            "stacpkg: warning: item `item-b` asset `visual`: cannot probe `{gone_href}`: not found\n\
             stacpkg: warning: 1 of 2 assets could not be probed; their rows carry no observed facts\n"
        )
    );
    let rows = lock_rows(&std::fs::read(ctx.path("kept.arrow")).unwrap());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].5, Some(4));
    assert_eq!((rows[1].5, &rows[1].6, &rows[1].7), (None, &None, &None));
}

#[test]
fn https_assets_are_probed_over_verified_tls() {
    let Some(svc) = Services::get("https") else {
        return;
    };
    let ctx = ctx();
    svc.put_http("tls.tif", &[3u8; 2048]);
    let href = svc.https_href("tls.tif");
    write_items(&ctx, &[item("item-a", json!({"visual": {"href": href}}))]);
    let ca = svc.var("HTTPS_CA");
    let run = ctx
        .sh(&format!(
            "export SSL_CERT_FILE={ca}; $STACPKG items from-json items.json \
             | $STACPKG asset-lock derive | tee lock.arrow | $STACPKG asset-lock validate"
        ))
        .success();
    assert!(
        String::from_utf8(run.stdout)
            .unwrap()
            .contains(r#""store_type": "https", "valid": true"#)
    );
    let rows = lock_rows(&std::fs::read(ctx.path("lock.arrow")).unwrap());
    assert_eq!(rows[0].3.as_deref(), Some(svc.var("HTTPS_URL")));
    assert_eq!(rows[0].5, Some(2048));
    assert_eq!(rows[0].6, Some(nginx_facts(&svc.http_path("tls.tif")).0));
    // Without the test CA the server is not trusted: one line, no retries of a TLS failure.
    let run = ctx.sh("SSL_CERT_FILE=/dev/null $STACPKG asset-lock validate < lock.arrow");
    let line = run.error_line(1);
    assert!(
        line.starts_with(&format!(
            "stacpkg: error: item `item-a` asset `visual`: cannot probe `{href}`: "
        )),
        "{line}"
    );
}

#[test]
fn s3_buckets_use_their_own_endpoints_and_credentials() {
    let Some(svc) = Services::get("s3") else {
        return;
    };
    let ctx = ctx();
    let a = svc.put_s3(S3::A, "x/a.bin", b"bucket a bytes");
    let b = svc.put_s3(S3::B, "y/b.bin", b"bucket b");
    write_items(
        &ctx,
        &[item("item-a", json!({"a": {"href": a}, "b": {"href": b}}))],
    );
    let env = svc.s3_env();
    let run = ctx
        .sh(&format!(
            "export {env}; $STACPKG items from-json items.json | $STACPKG asset-lock derive > lock.arrow \
             && $STACPKG asset-lock validate < lock.arrow"
        ))
        .success();
    let rows = lock_rows(&std::fs::read(ctx.path("lock.arrow")).unwrap());
    let md5 = |bytes: &[u8]| {
        let out = std::process::Command::new("md5sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(bytes)?;
                child.wait_with_output()
            })
            .unwrap();
        format!("\"{}\"", &String::from_utf8(out.stdout).unwrap()[..32])
    };
    assert_eq!(rows[0].3.as_deref(), Some(svc.bucket(S3::A)));
    assert_eq!(rows[0].5, Some(14));
    assert_eq!(rows[0].6, Some(md5(b"bucket a bytes")));
    assert_eq!(rows[1].3.as_deref(), Some("stacpkg.b-2"));
    assert_eq!(rows[1].6, Some(md5(b"bucket b")));
    // Endpoints from the environment never reach the lock.
    let (schema, batches) = read_ipc(&std::fs::read(ctx.path("lock.arrow")).unwrap());
    let lock = concat(&schema, &batches);
    assert_eq!(
        lock.column_by_name("store_endpoint_url")
            .unwrap()
            .null_count(),
        2
    );
    assert_eq!(valid_lines(&run.stdout), 2);

    // Bucket B's secret against bucket A's server: the server refuses (SigV4 is checked).
    let wrong = env.replace(
        &format!("SECRET_ACCESS_KEY_STACPKG_A={}", svc.var("S3A_SECRET_KEY")),
        &format!("SECRET_ACCESS_KEY_STACPKG_A={}", svc.var("S3B_SECRET_KEY")),
    );
    let run = ctx.sh(&format!(
        "export {wrong}; $STACPKG asset-lock validate < lock.arrow"
    ));
    assert_eq!(
        run.error_line(1),
        format!(
            "stacpkg: error: item `item-a` asset `a`: cannot probe `{a}`: access denied (HTTP 403)"
        )
    );

    // Half of a credential pair is an error naming both variables.
    let half = env.replace("STACPKG_S3_SECRET_ACCESS_KEY_STACPKG_A", "UNUSED_A");
    let run = ctx.sh(&format!(
        "export {half}; $STACPKG asset-lock validate --asset-keys a < lock.arrow"
    ));
    assert_eq!(
        run.error_line(1),
        format!(
            "stacpkg: error: item `item-a` asset `a`: cannot probe `{a}`: bucket-scoped S3 credentials for 'stacpkg-a' require both STACPKG_S3_ACCESS_KEY_ID_STACPKG_A and STACPKG_S3_SECRET_ACCESS_KEY_STACPKG_A"
        )
    );

    // A malformed endpoint map is named.
    let run = ctx.sh(&format!(
        "export {env}; STACPKG_S3_ENDPOINTS_JSON='[1]' $STACPKG asset-lock validate --asset-keys b < lock.arrow"
    ));
    assert!(
        run.error_line(1)
            .ends_with("STACPKG_S3_ENDPOINTS_JSON must be a JSON object"),
        "{}",
        run.stderr
    );

    // Tampering with an S3 object changes its size and MD5 ETag.
    std::fs::write(svc.s3_path(S3::B, "y/b.bin"), b"bucket b, changed").unwrap();
    let run = ctx.sh(&format!(
        "export {env}; $STACPKG asset-lock validate --asset-keys b < lock.arrow"
    ));
    assert_eq!(run.code, Some(1));
    let line: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        line["errors"][0],
        json!("size mismatch: expected 8, actual 17")
    );
    assert_eq!(
        line["errors"][1],
        json!(format!(
            "etag mismatch: expected {}, actual {}",
            md5(b"bucket b"),
            md5(b"bucket b, changed")
        ))
    );
}

#[test]
fn azure_blobs_derive_and_validate_against_azurite() {
    let Some(svc) = Services::get("azure") else {
        return;
    };
    let ctx = ctx();
    let href = svc.put_azure("p/blob.bin", &[5u8; 321]);
    let missing = format!(
        "az://{}/{}/nope.bin",
        svc.var("AZURE_CONTAINER"),
        svc.prefix()
    );
    write_items(
        &ctx,
        &[item(
            "item-a",
            json!({"data": {"href": href}, "gone": {"href": missing}}),
        )],
    );
    let env = svc.azure_env();
    let run = ctx.sh(&format!(
        "export {env}; $STACPKG items from-json items.json | $STACPKG asset-lock derive --keep-going > lock.arrow"
    ));
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.starts_with(&format!(
            "stacpkg: warning: item `item-a` asset `gone`: cannot probe `{missing}`: not found\n"
        )),
        "{}",
        run.stderr
    );
    let rows = lock_rows(&std::fs::read(ctx.path("lock.arrow")).unwrap());
    assert_eq!(rows[0].2.as_deref(), Some("az"));
    assert_eq!(rows[0].3.as_deref(), Some(svc.var("AZURE_CONTAINER")));
    assert_eq!(rows[0].5, Some(321));
    assert!(rows[0].6.as_deref().is_some_and(|e| e.starts_with("\"0x")));
    let run = ctx.sh(&format!(
        "export {env}; $STACPKG asset-lock validate --asset-keys data < lock.arrow"
    ));
    let run = run.success();
    assert!(
        String::from_utf8(run.stdout)
            .unwrap()
            .contains(r#""valid": true"#)
    );
}

#[test]
fn signed_url_queries_never_reach_the_lock_stdout_or_stderr() {
    let Some(svc) = Services::get("signed") else {
        return;
    };
    let ctx = ctx();
    let href = svc.put_http("s.tif", b"signed bytes");
    let signed = format!("{href}?se=2030-01-01&sig=TOPSECRET");
    let missing = format!("{}?sig=TOPSECRET", svc.http_href("missing.tif"));
    write_items(
        &ctx,
        &[item(
            "item-a",
            json!({"visual": {"href": signed}, "gone": {"href": missing}}),
        )],
    );
    let run = ctx.sh(
        "$STACPKG items from-json items.json | $STACPKG asset-lock derive --keep-going \
         | tee lock.arrow | $STACPKG asset-lock to-parquet lock.parquet; \
         $STACPKG asset-lock validate --keep-going < lock.arrow",
    );
    for place in [
        run.stderr.as_bytes(),
        &run.stdout,
        &std::fs::read(ctx.path("lock.arrow")).unwrap(),
        &std::fs::read(ctx.path("lock.parquet")).unwrap(),
    ] {
        assert!(
            !String::from_utf8_lossy(place).contains("TOPSECRET"),
            "{}",
            String::from_utf8_lossy(place)
        );
    }
    assert!(
        run.stderr.contains(
            "stacpkg: warning: left the query strings of 2 signed or parameterised hrefs out of the lock"
        ),
        "{}",
        run.stderr
    );
    // The signed URL itself was probed (nginx ignores the query): the facts are there.
    let rows = lock_rows(&std::fs::read(ctx.path("lock.arrow")).unwrap());
    let visual = rows.iter().find(|r| r.1 == "visual").unwrap();
    assert_eq!(
        visual.4.as_deref(),
        Some(format!("{}/s.tif", svc.prefix()).as_str())
    );
    assert_eq!(visual.5, Some(12));
}

#[test]
fn no_probe_metadata_takes_file_size_and_touches_no_server() {
    let ctx = ctx();
    write_items(
        &ctx,
        &[item(
            "item-a",
            json!({
                "visual": {"href": "http://127.0.0.1:1/never/probed.tif", "file:size": 4096},
                "metadata": {"href": "http://127.0.0.1:1/meta.xml", "file:size": 10},
            }),
        )],
    );
    let run = ctx
        .sh("$STACPKG items from-json items.json | $STACPKG asset-lock derive --no-probe-metadata")
        .success();
    let rows = lock_rows(&run.stdout);
    assert_eq!(
        rows.len(),
        1,
        "metadata assets are skipped unless asked for"
    );
    assert_eq!(rows[0].1, "visual");
    assert_eq!(
        (rows[0].5, &rows[0].6, &rows[0].7),
        (Some(4096), &None, &None)
    );

    let run = ctx
        .sh("$STACPKG items from-json items.json \
             | $STACPKG asset-lock derive --no-probe-metadata --include-metadata-assets")
        .success();
    let keys: Vec<String> = lock_rows(&run.stdout).into_iter().map(|r| r.1).collect();
    assert_eq!(keys, ["metadata", "visual"]);
    // Listing asset keys selects exactly those, `metadata` included when listed.
    let run = ctx
        .sh("$STACPKG items from-json items.json \
             | $STACPKG asset-lock derive --no-probe --asset-keys metadata")
        .success();
    let keys: Vec<String> = lock_rows(&run.stdout).into_iter().map(|r| r.1).collect();
    assert_eq!(keys, ["metadata"]);
}

#[test]
fn relative_hrefs_resolve_against_the_self_link_or_the_working_directory() {
    let ctx = ctx();
    std::fs::create_dir_all(ctx.path("cat/data")).unwrap();
    ctx.write("cat/data/a.tif", b"aaaa");
    ctx.write("b.tif", b"bb");
    let base = ctx.path("cat/items/item.json");
    let mut with_self = item("item-a", json!({"visual": {"href": "../data/a.tif"}}));
    with_self["links"] = json!([{"rel": "self", "href": format!("file://{}", base.display())}]);
    let without_self = item("item-b", json!({"visual": {"href": "./sub/../b.tif"}}));
    write_items(&ctx, &[with_self, without_self]);
    let run = ctx
        .sh("$STACPKG items from-json items.json | $STACPKG asset-lock derive | tee lock.arrow | $STACPKG asset-lock validate")
        .success();
    assert_eq!(valid_lines(&run.stdout), 2);
    let rows = lock_rows(&std::fs::read(ctx.path("lock.arrow")).unwrap());
    let resolved = ctx.path("cat/data/a.tif");
    assert_eq!(rows[0].4.as_deref(), Some(resolved.to_str().unwrap()));
    assert_eq!(rows[0].5, Some(4));
    // Without a self link the key stays as written and resolves against the working directory.
    assert_eq!(rows[1].4.as_deref(), Some("./sub/../b.tif"));
    assert_eq!(rows[1].5, Some(2));
    // Local facts use the original's unquoted `<inode>-<mtime µs>-<size>` ETag.
    let etag = rows[1].6.as_deref().unwrap();
    assert!(!etag.contains('"') && etag.ends_with("-2"), "{etag}");
}

#[test]
fn validate_reports_missing_fields_without_probing() {
    let ctx = ctx();
    let lock = json!([
        {"item_id": "item-a", "asset_key": "a", "store_type": "s3", "key": "k"},
        {"item_id": "item-a", "asset_key": "b", "store_type": "ftp", "key": "k"},
        {"item_id": "item-a", "asset_key": "c", "store_type": "http", "store_container": "http://h"},
    ]);
    // Rows with gaps, written straight as an IPC stream.
    let batch = lock_batch(&lock);
    let run = ctx.run(
        &["asset-lock", "validate"],
        &stacpkg_test::write_ipc(&batch.schema(), &[batch]),
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let stdout = String::from_utf8(run.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"asset_key": "a", "errors": ["missing fields: store_container"], "item_id": "item-a", "key": "k", "store_container": null, "store_type": "s3", "valid": false}"#,
            r#"{"asset_key": "b", "errors": ["missing fields: store_type"], "item_id": "item-a", "key": "k", "store_container": null, "store_type": null, "valid": false}"#,
            r#"{"asset_key": "c", "errors": ["missing fields: key"], "item_id": "item-a", "key": null, "store_container": "http://h", "store_type": "http", "valid": false}"#,
        ]
    );
}

/// A lock batch from JSON rows (string columns only).
fn lock_batch(rows: &Value) -> RecordBatch {
    use std::sync::Arc;
    let rows = rows.as_array().unwrap();
    let columns = [
        "item_id",
        "asset_key",
        "store_type",
        "store_container",
        "key",
    ];
    let arrays: Vec<(&str, Arc<dyn Array>)> = columns
        .iter()
        .map(|name| {
            let values: Vec<Option<&str>> = rows.iter().map(|r| r[*name].as_str()).collect();
            (
                *name,
                Arc::new(arrow_array::StringArray::from(values)) as Arc<dyn Array>,
            )
        })
        .collect();
    RecordBatch::try_from_iter(arrays).unwrap()
}

#[test]
fn max_workers_below_one_and_wrong_streams_are_refused() {
    let ctx = ctx();
    let run = ctx.run(&["asset-lock", "derive", "--max-workers", "0"], b"");
    assert_eq!(
        run.error_line(2),
        "stacpkg: error: invalid value '0' for '--max-workers <MAX_WORKERS>': value must be at least 1"
    );
    write_items(&ctx, &[item("item-a", json!({}))]);
    let run = ctx.sh("$STACPKG items from-json items.json | $STACPKG asset-lock validate");
    assert!(
        run.error_line(1)
            .contains("is an items stream, but this command needs an asset-lock stream"),
        "{}",
        run.stderr
    );
    let run = ctx.sh(
        "$STACPKG items from-json items.json | $STACPKG asset-lock derive --no-probe | $STACPKG asset-lock derive",
    );
    assert!(
        run.error_line(1)
            .contains("is an asset-lock stream, but this command needs an items stream"),
        "{}",
        run.stderr
    );
}
