//! One test per defect, named for its issue: each failed on the code before its fix.
//!
//! Issue 11 ("Trust: nothing silently changed, nothing written outside the destination, no
//! secret in a package"): defects 1–12, in its order.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::json;
use stacpkg_test::services::{S3, Services};
use stacpkg_test::{TestContext, python, read_parquet};

use crate::ctx;
use crate::stores::{item, lock_rows, valid_lines, write_items};

/// Every file below `dir`, relative, sorted (symbolic links listed, not followed).
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Every byte below `dir` (files only), for "nothing here mentions the secret" checks.
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for file in files(dir) {
        if let Ok(content) = std::fs::read(dir.join(file)) {
            bytes.extend(content);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

// 1. Relocation never writes outside the destination prefix.
#[test]
fn issue_11_source_key_relocation_cannot_climb_out_of_the_destination() {
    let ctx = ctx();
    ctx.write("proj/shared/x.tif", "shared bytes");
    ctx.write("proj/work/shared/x.tif", "the user's own file");
    write_items(
        &ctx,
        &[item("i", json!({"data": {"href": "../shared/x.tif"}}))],
    );
    std::fs::rename(ctx.path("items.json"), ctx.path("proj/work/items.json")).unwrap();
    let work = "cd proj/work";
    ctx.sh(&format!(
        "{work} && $STACPKG items from-json items.json | $STACPKG asset-lock derive > lock.arrow"
    ))
    .success();
    for dry in ["", "--dry-run"] {
        let run = ctx.sh(&format!(
            "{work} && $STACPKG asset-lock relocate --store-type file --key mirror/ --layout source-key {dry} < lock.arrow > out.arrow"
        ));
        assert_eq!(
            run.error_line(1),
            "stacpkg: error: item `i` asset `data`: source key `../shared/x.tif` would leave the destination prefix `mirror/`; the item-asset layout keeps every asset inside it",
            "{dry}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(ctx.path("proj/work/shared/x.tif")).unwrap(),
        "the user's own file"
    );
    assert!(!ctx.path("proj/work/mirror").exists());
    // Hand-made locks: a relative key that climbs, an absolute one that climbs to the root.
    ctx.write("proj/payload.txt", "payload");
    for key in [
        "../payload.txt",
        "/../../../../../../tmp/stacpkg-escape.txt",
    ] {
        ctx.write("proj/work/hand.arrow", lock_stream(key));
        let run = ctx.sh(&format!(
            "{work} && $STACPKG asset-lock relocate --store-type file --key mirror --layout source-key < hand.arrow"
        ));
        let line = run.error_line(1);
        assert!(
            line.contains("would leave the destination prefix"),
            "{key}: {line}"
        );
    }
    assert!(!ctx.path("proj/work/mirror").exists());
    assert!(!Path::new("/tmp/stacpkg-escape.txt").exists());
}

/// An asset-lock IPC stream of one row with this file key.
fn lock_stream(key: &str) -> Vec<u8> {
    use arrow_array::{RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let schema = Arc::new(Schema::new(vec![
        Field::new("item_id", DataType::Utf8, false),
        Field::new("asset_key", DataType::Utf8, false),
        Field::new("store_type", DataType::Utf8, true),
        Field::new("key", DataType::Utf8, true),
    ]));
    let text = |v: &str| Arc::new(StringArray::from(vec![v])) as arrow_array::ArrayRef;
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![text("i"), text("a"), text("file"), text(key)],
    )
    .unwrap();
    stacpkg_test::write_ipc(&schema, &[batch])
}

/// A local HTTP server (Python) whose objects `/objNN.bin` are 6 MiB, sent in about 1.5 s
/// (`/objNN-fast.bin` at once); `/objNN-broken.bin` stops after 2.25 MiB and closes the
/// connection. Killed when dropped.
struct FlakyServer {
    child: Child,
    url: String,
}

impl FlakyServer {
    fn start() -> FlakyServer {
        let script = r#"
import http.server, socketserver, sys, time
SIZE = 6 * 1024 * 1024
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def head(self):
        self.send_response(200)
        self.send_header("Content-Length", str(SIZE))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
    def do_HEAD(self): self.head()
    def do_GET(self):
        self.head()
        broken = "-broken" in self.path
        chunk = bytes(range(256)) * 512
        sent = 0
        try:
            while sent < SIZE:
                if broken and sent >= 3 * SIZE // 8:
                    self.connection.shutdown(2)
                    self.connection.close()
                    return
                self.wfile.write(chunk)
                self.wfile.flush()
                sent += len(chunk)
                if "-fast" not in self.path:
                    time.sleep(0.03)
        except OSError:
            pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
        let mut child = Command::new("python3")
            .args(["-c", script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the Python HTTP server");
        let mut port = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut port,
        )
        .unwrap();
        FlakyServer {
            child,
            url: format!("http://127.0.0.1:{}", port.trim()),
        }
    }

    /// Items whose assets are `obj00`…`obj07`: the first one fast, the second one broken, so
    /// that the failure comes while the copies after it are half done.
    fn items(&self, ctx: &TestContext) {
        let mut assets = serde_json::Map::new();
        for i in 0..8 {
            let suffix = match i {
                0 => "-fast",
                1 => "-broken",
                _ => "",
            };
            assets.insert(
                format!("a{i:02}"),
                json!({"href": format!("{}/obj{i:02}{suffix}.bin", self.url)}),
            );
        }
        write_items(ctx, &[item("it", serde_json::Value::Object(assets))]);
    }
}

impl Drop for FlakyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// 2. A relocation that fails mid-way leaves no staging file; stale ones go on the next run.
#[test]
fn issue_11_a_failed_relocation_leaves_no_staging_files() {
    let server = FlakyServer::start();
    let ctx = ctx();
    server.items(&ctx);
    ctx.sh("$STACPKG items from-json items.json | $STACPKG asset-lock derive > src.arrow")
        .success();
    let run = ctx.sh(
        "$STACPKG asset-lock relocate --store-type file --key dst --max-workers 4 < src.arrow > out.arrow",
    );
    let line = run.error_line(1);
    assert!(line.contains("item `it` asset `a01`"), "{line}");
    // Whatever was written is whole: finished objects only, no `NAME#N` staging files.
    let left = files(&ctx.path("dst"));
    assert!(
        left.iter().all(|f| !f.contains('#')),
        "staging files left: {left:?}"
    );
    for file in &left {
        assert_eq!(
            std::fs::metadata(ctx.path("dst").join(file)).unwrap().len(),
            6 * 1024 * 1024,
            "{file}"
        );
    }
    // A killed run's staging file goes when the next run writes that object.
    ctx.write("dst/it/a00.bin#3", "half an object");
    ctx.sh(
        "$STACPKG items from-json items.json | $STACPKG asset-lock derive --asset-keys a00 \
         | $STACPKG asset-lock relocate --store-type file --key dst > /dev/null",
    )
    .success();
    assert!(!files(&ctx.path("dst/it")).contains(&"a00.bin#3".to_string()));
}

// 2. …and an S3 destination keeps no incomplete multipart upload of the failed run.
#[test]
fn issue_11_a_failed_relocation_to_s3_aborts_its_multipart_uploads() {
    let Some(svc) = Services::get("issue-11-s3-abort") else {
        return;
    };
    let server = FlakyServer::start();
    let ctx = ctx();
    server.items(&ctx);
    ctx.sh("$STACPKG items from-json items.json | $STACPKG asset-lock derive > src.arrow")
        .success();
    let bucket = svc.bucket(S3::A);
    let prefix = svc.prefix();
    let run = ctx.sh(&format!(
        "export {}; $STACPKG asset-lock relocate --store-type s3 --store-container {bucket} --key {prefix} \
         --chunk-size-bytes 5MiB --max-workers 4 --layout item-asset < src.arrow > out.arrow",
        svc.s3_env()
    ));
    run.error_line(1);
    // s3s-fs keeps one `.bucket-B.object-K.upload-ID.metadata.json` per open upload of key K.
    let open_uploads: Vec<String> = (0..8)
        .map(|i| format!("{prefix}/it/a{i:02}.bin"))
        .filter_map(|key| {
            let encoded = Command::new("python3")
                .args([
                    "-c",
                    "import base64, sys; print(base64.urlsafe_b64encode(sys.argv[1].encode()).decode().rstrip('='))",
                    &key,
                ])
                .output()
                .unwrap();
            let encoded = String::from_utf8(encoded.stdout).unwrap();
            let marker = format!(".object-{}.upload-", encoded.trim());
            let root = svc.var("S3A_ROOT");
            std::fs::read_dir(root)
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().contains(&marker))
                .then_some(key)
        })
        .collect();
    assert_eq!(open_uploads, Vec::<String>::new());
}

// 2. Temporary directories of killed builds are removed by the next build next to them.
#[test]
fn issue_11_a_killed_builds_staging_directory_is_removed_by_the_next_build() {
    let ctx = ctx();
    ctx.write("pkgs/.out.stacpkg-dead1/items.parquet", "half a table");
    ctx.write("pkgs/.stacpkg-scratch-dead2/0.zip", "half a zip");
    ctx.write("pkgs/.stacpkg-dead3.tmp", "half a file");
    let demo = stacpkg_test::demo("items.json");
    ctx.sh(&format!(
        "$STACPKG items from-json {} | $STACPKG build pkgs/out --no-probe-metadata && \
         $STACPKG items from-json {} | $STACPKG items to-parquet pkgs/items.parquet",
        demo.display(),
        demo.display()
    ))
    .success();
    let left: Vec<String> = std::fs::read_dir(ctx.path("pkgs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert_eq!(left, Vec::<String>::new());
}

// 3. A package keeps no signed URL: not in its items, not in its lock, not in what is pushed.
#[test]
fn issue_11_a_package_keeps_no_signed_url_anywhere() {
    let Some(svc) = Services::get("issue-11-signed") else {
        return;
    };
    let ctx = ctx();
    let href = svc.put_http("s/x.tif", b"signed bytes");
    let signed = format!("{href}?X-Amz-Signature=TOPSECRET&sig=SIGSECRET&token=TOKSECRET");
    write_items(&ctx, &[item("i", json!({"data": {"href": signed}}))]);
    let run = ctx
        .sh(
            "set -e; $STACPKG items from-json items.json | $STACPKG build pkg; \
             $STACPKG push pkg oci-layout:layout:v1",
        )
        .success();
    assert!(!run.stderr.contains("SECRET"), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "left the query strings or credentials of 1 asset hrefs out of `pkg/items.parquet`"
        ),
        "{}",
        run.stderr
    );
    for dir in ["pkg", "layout"] {
        assert!(!contains(&all_bytes(&ctx.path(dir)), "SECRET"), "{dir}");
    }
    // The probe used the signed URL (nginx ignores the query), so the lock has the facts.
    let (_, batches, _) = read_parquet(&ctx.path("pkg/assets.lock.parquet"));
    assert_eq!(batches[0].num_rows(), 1);
    let run = ctx
        .sh("$STACPKG asset-lock from-parquet pkg/assets.lock.parquet | $STACPKG asset-lock validate")
        .success();
    assert_eq!(valid_lines(&run.stdout), 1);
    // The package's items point at the unsigned location.
    let run = ctx
        .sh("$STACPKG items from-parquet pkg/items.parquet | $STACPKG items to-ndjson")
        .success();
    let line: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(line["assets"]["data"]["href"], json!(href));
    // A plain item stream stays as the user gave it, and says so.
    let run = ctx
        .sh("$STACPKG items from-json items.json | $STACPKG items to-parquet plain.parquet")
        .success();
    assert_eq!(
        run.stderr,
        "stacpkg: warning: 1 asset hrefs written to `plain.parquet` carry a signed URL's query string or credentials; they are kept as given (packages leave them out)\n"
    );
    let run = ctx
        .sh("$STACPKG items from-parquet plain.parquet | $STACPKG items to-ndjson")
        .success();
    assert!(contains(&run.stdout, "TOPSECRET"));
}

// 4. Credentials in URLs reach no lock, package, output or message.
#[test]
fn issue_11_credentials_in_urls_reach_no_lock_output_or_message() {
    let Some(svc) = Services::get("issue-11-userinfo") else {
        return;
    };
    let ctx = ctx();
    let href = svc.put_http("u/x.bin", b"bytes behind a password");
    let with_password = href.replacen("http://", "http://alice:PASSWORD@", 1);
    write_items(&ctx, &[item("i", json!({"data": {"href": with_password}}))]);
    // derive: the lock and stderr (nginx ignores the Basic credentials, so the probe works).
    let run = ctx
        .sh("$STACPKG items from-json items.json | $STACPKG asset-lock derive > lock.arrow")
        .success();
    assert_eq!(
        run.stderr,
        "stacpkg: warning: left the credentials (user:password@) of 1 hrefs or endpoints out of the lock\n"
    );
    let lock = std::fs::read(ctx.path("lock.arrow")).unwrap();
    assert!(!contains(&lock, "PASSWORD"));
    let rows = lock_rows(&lock);
    assert_eq!(rows[0].3.as_deref(), Some(svc.var("HTTP_URL")));
    // A failed probe's message, and a package built from these items.
    let unreachable = "http://bob:PASSWORD@127.0.0.1:9/x.bin";
    ctx.write(
        "bad.json",
        json!({"type": "FeatureCollection", "features": [item("j", json!({"d": {"href": unreachable}}))]})
            .to_string(),
    );
    let run = ctx.sh("$STACPKG items from-json bad.json | $STACPKG asset-lock derive > /dev/null");
    let line = run.error_line(1);
    assert!(
        !line.contains("PASSWORD") && line.contains("127.0.0.1:9"),
        "{line}"
    );
    let run = ctx
        .sh("$STACPKG items from-json items.json | $STACPKG build pkg")
        .success();
    assert!(!run.stderr.contains("PASSWORD"), "{}", run.stderr);
    assert!(!contains(&all_bytes(&ctx.path("pkg")), "PASSWORD"));
    // validate: a lock made elsewhere with credentials in its container (stdout and stderr).
    let container = svc
        .var("HTTP_URL")
        .replacen("http://", "http://carol:PASSWORD@", 1);
    ctx.write(
        "legacy.arrow",
        lock_of(&[(
            "i",
            "data",
            "http",
            &container,
            &format!("{}/u/x.bin", svc.prefix()),
        )]),
    );
    let run = ctx.sh("$STACPKG asset-lock validate < legacy.arrow");
    assert!(!contains(&run.stdout, "PASSWORD"));
    assert!(!run.stderr.contains("PASSWORD"), "{}", run.stderr);
    // relocate: a destination endpoint with credentials, and the source rows above.
    let run = ctx
        .sh(
            "$STACPKG asset-lock relocate --dry-run --store-type s3 --store-container b \
             --store-endpoint-url http://ak:PASSWORD@127.0.0.1:9000 < lock.arrow > planned.arrow",
        )
        .success();
    assert!(!run.stderr.contains("PASSWORD"), "{}", run.stderr);
    assert!(
        run.stderr.contains("left the credentials"),
        "{}",
        run.stderr
    );
    let planned = std::fs::read(ctx.path("planned.arrow")).unwrap();
    assert!(!contains(&planned, "PASSWORD"));
    // push: a reference with credentials is refused without showing them.
    let run = ctx.sh("$STACPKG push pkg 'user:PASSWORD@127.0.0.1:5000/r:t'");
    let line = run.error_line(2);
    assert!(!line.contains("PASSWORD"), "{line}");
}

/// An asset-lock IPC stream of (item_id, asset_key, store_type, store_container, key) rows.
fn lock_of(rows: &[(&str, &str, &str, &str, &str)]) -> Vec<u8> {
    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let names = [
        "item_id",
        "asset_key",
        "store_type",
        "store_container",
        "key",
    ];
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let column = |i: usize| -> ArrayRef {
        let values: Vec<&str> = rows.iter().map(|r| [r.0, r.1, r.2, r.3, r.4][i]).collect();
        Arc::new(StringArray::from(values))
    };
    let batch = RecordBatch::try_new(schema.clone(), (0..5).map(column).collect()).unwrap();
    stacpkg_test::write_ipc(&schema, &[batch])
}

// 5. Links that resolve outside the package (or the include) are refused.
#[test]
fn issue_11_links_out_of_a_package_or_an_include_are_refused() {
    let ctx = ctx();
    ctx.write("outside/secret.txt", "not for the registry");
    ctx.write("docs/readme.txt", "docs");
    let demo = stacpkg_test::demo("items.json");
    ctx.sh(&format!(
        "$STACPKG items from-json {} | $STACPKG build pkg --no-probe-metadata",
        demo.display()
    ))
    .success();
    // A link inside the package to a file inside it is content like any other.
    std::fs::create_dir_all(ctx.path("pkg/extra")).unwrap();
    std::fs::write(ctx.path("pkg/extra/a.txt"), "a").unwrap();
    std::os::unix::fs::symlink("a.txt", ctx.path("pkg/extra/b.txt")).unwrap();
    ctx.sh("$STACPKG push pkg oci-layout:inside:v1").success();
    // A link to a file outside is refused, and nothing is pushed.
    std::fs::create_dir_all(ctx.path("pkg/assets/i")).unwrap();
    let outside = ctx.path("outside/secret.txt");
    std::os::unix::fs::symlink(&outside, ctx.path("pkg/assets/i/x.bin")).unwrap();
    let run = ctx.sh("$STACPKG push pkg oci-layout:layout:v1");
    let line = run.error_line(1);
    assert!(
        line.contains("pkg/assets/i/x.bin` is a symbolic link to")
            && line.contains("outside `pkg`"),
        "{line}"
    );
    assert!(!contains(
        &all_bytes(&ctx.path("layout")),
        "not for the registry"
    ));
    std::fs::remove_file(ctx.path("pkg/assets/i/x.bin")).unwrap();
    std::os::unix::fs::symlink(&outside, ctx.path("pkg/extra/c.txt")).unwrap();
    let run = ctx.sh("$STACPKG push pkg oci-layout:layout:v1");
    assert!(
        run.error_line(1).contains("is a symbolic link to"),
        "{}",
        run.stderr
    );
    // build --includes: the same rule below an included directory.
    std::os::unix::fs::symlink(&outside, ctx.path("docs/leak.txt")).unwrap();
    let run = ctx.sh(&format!(
        "$STACPKG items from-json {} | $STACPKG build out --no-probe-metadata --includes docs",
        demo.display()
    ));
    let line = run.error_line(1);
    assert!(
        line.contains("docs/leak.txt` is a symbolic link to"),
        "{line}"
    );
    assert!(!ctx.path("out").exists());
    std::fs::remove_file(ctx.path("docs/leak.txt")).unwrap();
    std::os::unix::fs::symlink("readme.txt", ctx.path("docs/again.txt")).unwrap();
    ctx.sh(&format!(
        "$STACPKG items from-json {} | $STACPKG build out --no-probe-metadata --includes docs",
        demo.display()
    ))
    .success();
    assert_eq!(
        std::fs::read_to_string(ctx.path("out/docs/again.txt")).unwrap(),
        "docs"
    );
}

/// Numbers that parsers get wrong: 17 significant digits, subnormals, the extremes, negative
/// zero, values one ULP apart.
const HARD_NUMBERS: [&str; 14] = [
    "121.62421300000001",
    "121.624213",
    "-0.0",
    "5e-324",
    "4.9406564584124654e-324",
    "2.2250738585072011e-308",
    "2.2250738585072014e-308",
    "1.7976931348623157e308",
    "0.30000000000000004",
    "0.1",
    "0.10000000000000002",
    "9007199254740993.0",
    "1e23",
    "-1.0000000000000002",
];

/// Items whose properties, asset members, bbox and geometry hold [`HARD_NUMBERS`], as NDJSON
/// text (the numbers written exactly as above).
fn hard_items() -> String {
    let mut lines = String::new();
    for (i, n) in HARD_NUMBERS.iter().enumerate() {
        let other = HARD_NUMBERS[(i + 1) % HARD_NUMBERS.len()];
        lines.push_str(&format!(
            r#"{{"type": "Feature", "stac_version": "1.0.0", "stac_extensions": [], "id": "n{i}", "geometry": {{"type": "LineString", "coordinates": [[{n}, {other}], [{other}, {n}, {n}]]}}, "bbox": [{n}, {other}, {n}, {other}], "properties": {{"datetime": "2024-01-01T00:00:00Z", "value": {n}, "values": [{n}, {other}]}}, "links": [], "assets": {{"a": {{"href": "a.tif", "scale": {n}}}}}}}"#
        ));
        lines.push('\n');
    }
    lines
}

/// The values of a float64 column of a Parquet file, as bits.
fn float_bits(path: &Path, column: &str) -> Vec<u64> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;
    let (schema, batches, _) = read_parquet(path);
    let batch = stacpkg_test::concat(&schema, &batches);
    batch
        .column_by_name(column)
        .unwrap()
        .as_primitive::<Float64Type>()
        .values()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

// 6. Every number reads bit-exactly: JSON, NDJSON, Parquet and IPC readers alike.
#[test]
fn issue_11_every_number_survives_every_reader_bit_exactly() {
    let ctx = ctx();
    let ndjson = hard_items();
    ctx.write("hard.ndjson", &ndjson);
    // The same items as one ItemCollection document, numbers written as above.
    ctx.write(
        "hard.json",
        format!(
            "{{\"type\": \"FeatureCollection\", \"features\": [{}]}}",
            ndjson.trim_end().replace('\n', ", ")
        ),
    );
    ctx.sh(
        "set -e; $STACPKG items from-json hard.json | $STACPKG items to-parquet json.parquet; \
         $STACPKG items from-ndjson hard.ndjson | $STACPKG items to-parquet ndjson.parquet; \
         $STACPKG items from-parquet ndjson.parquet | $STACPKG items to-parquet again.parquet",
    )
    .success();
    let expected: Vec<u64> = HARD_NUMBERS
        .iter()
        .map(|n| n.parse::<f64>().unwrap().to_bits())
        .collect();
    for file in ["json.parquet", "ndjson.parquet", "again.parquet"] {
        assert_eq!(float_bits(&ctx.path(file), "value"), expected, "{file}");
    }
    // And back out as JSON, every number (properties, asset members, bbox, geometry) is the
    // source's, bit for bit.
    let run = ctx
        .sh("$STACPKG items from-parquet again.parquet | $STACPKG items to-ndjson")
        .success();
    let out: Vec<serde_json::Value> = String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let source: Vec<serde_json::Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(out.len(), source.len());
    for (got, want) in out.iter().zip(&source) {
        assert!(same_json(got, want), "{got}\n{want}");
    }
}

/// JSON equality with numbers compared by their bits (`-0.0` is not `0.0`), integers and
/// floats of the same value equal (a float column gives `1.0` for a source's `1`).
pub(crate) fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

// 7. A null datetime stays null next to its range.
#[test]
fn issue_11_a_null_datetime_stays_null() {
    let ctx = ctx();
    ctx.write(
        "range.ndjson",
        r#"{"type": "Feature", "id": "r", "geometry": null, "properties": {"datetime": null, "start_datetime": "2024-06-01T00:00:00Z", "end_datetime": "2024-06-30T00:00:00Z"}, "links": [], "assets": {}}
"#,
    );
    ctx.sh("$STACPKG items from-ndjson range.ndjson | $STACPKG items to-parquet r.parquet")
        .success();
    let (schema, batches, _) = read_parquet(&ctx.path("r.parquet"));
    let batch = stacpkg_test::concat(&schema, &batches);
    assert!(arrow_array::Array::is_null(
        batch.column_by_name("datetime").unwrap().as_ref(),
        0
    ));
}

// 8. Parquet lists are written with the compliant element name, and pyarrow can read a dataset
// of our file and one of its own.
#[test]
fn issue_11_parquet_lists_are_compliant_and_unify_with_pyarrows() {
    let Some(python) = python() else { return };
    let ctx = ctx();
    let demo = stacpkg_test::demo("items.json");
    ctx.sh(&format!(
        "$STACPKG items from-json {} | $STACPKG items to-parquet ours.parquet",
        demo.display()
    ))
    .success();
    let script = r#"
import sys, pyarrow.parquet as pq, pyarrow.dataset as ds
ours = pq.read_table("ours.parquet")
assert str(ours.schema.field("stac_extensions").type) == "list<element: string>", ours.schema.field("stac_extensions").type
assert "element" in str(pq.ParquetFile("ours.parquet").schema), pq.ParquetFile("ours.parquet").schema
pq.write_table(ours, "theirs.parquet")
table = ds.dataset(["ours.parquet", "theirs.parquet"]).to_table()
assert table.num_rows == 6
print("ok")
"#;
    let out = Command::new(python)
        .args(["-c", script])
        .current_dir(ctx.dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// 9. A declared CRS survives from-parquet | to-parquet, in `geo` and in the field's metadata.
#[test]
fn issue_11_a_declared_crs_is_kept() {
    let Some(python) = python() else { return };
    let ctx = ctx();
    ctx.write("hard.ndjson", hard_items());
    // stac-geoparquet writes an explicit EPSG:4326 PROJJSON.
    let script = r#"
import json, sys, pyarrow.parquet as pq
import stac_geoparquet.arrow as sga
items = [json.loads(l) for l in open(sys.argv[1])]
for item in items:
    item["geometry"]["coordinates"] = [p[:2] for p in item["geometry"]["coordinates"]]
sga.to_parquet(sga.parse_stac_items_to_arrow(items), "sg.parquet")
print(json.dumps(json.loads(pq.read_schema("sg.parquet").metadata[b"geo"])["columns"]["geometry"]["crs"]))
"#;
    let out = Command::new(&python)
        .args(["-c", script, "hard.ndjson"])
        .current_dir(ctx.dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let crs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(crs["id"]["code"], json!(4326));
    ctx.sh("$STACPKG items from-parquet sg.parquet | $STACPKG items to-parquet ours.parquet")
        .success();
    let (schema, _, _) = read_parquet(&ctx.path("ours.parquet"));
    let geo: serde_json::Value = serde_json::from_str(&schema.metadata()["geo"]).unwrap();
    assert_eq!(geo["columns"]["geometry"]["crs"], crs);
    let field = schema.field_with_name("geometry").unwrap();
    let extension: serde_json::Value =
        serde_json::from_str(&field.metadata()["ARROW:extension:metadata"]).unwrap();
    assert_eq!(extension["crs"], crs);
}

// 10. Items whose assets are all `{}` convert, write and read back as `{}`.
#[test]
fn issue_11_items_with_empty_assets_convert_and_read_back() {
    let ctx = ctx();
    ctx.write(
        "empty.ndjson",
        r#"{"type": "Feature", "stac_version": "1.0.0", "id": "a", "geometry": null, "properties": {"datetime": "2024-01-01T00:00:00Z"}, "links": [], "assets": {}}
{"type": "Feature", "stac_version": "1.0.0", "id": "b", "geometry": null, "properties": {"datetime": "2024-01-02T00:00:00Z"}, "links": [], "assets": {}}
"#,
    );
    let run = ctx
        .sh("set -e; $STACPKG items from-ndjson empty.ndjson | $STACPKG items to-parquet e.parquet; \
             $STACPKG items from-parquet e.parquet | $STACPKG items to-ndjson")
        .success();
    let items: Vec<serde_json::Value> = String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i["assets"] == json!({})), "{items:?}");
}

// 11. items to-parquet refuses a stream that is not items.
#[test]
fn issue_11_to_parquet_refuses_a_stream_that_is_not_items() {
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let ctx = ctx();
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1])) as ArrayRef,
            Arc::new(StringArray::from(vec!["x"])),
        ],
    )
    .unwrap();
    let run = ctx.run(
        &["items", "to-parquet", "out.parquet"],
        &stacpkg_test::write_ipc(&schema, &[batch]),
    );
    assert_eq!(
        run.error_line(1),
        "stacpkg: error: stdin is not an items stream: it has no `stacpkg:schema-kind` metadata and not the items columns; make one with `stacpkg items from-json`, `from-ndjson` or `from-parquet`"
    );
    assert!(!ctx.path("out.parquet").exists());
}

// 12. A package that carries its assets validates after a round trip through OCI.
#[test]
fn issue_11_a_pulled_package_validates_like_the_pushed_one() {
    let Some(svc) = Services::get("issue-11-pulled") else {
        return;
    };
    let ctx = ctx();
    let demo = stacpkg_test::demo("");
    let host = svc.var("OCI_HOST");
    let repo = format!("{}/pkg", svc.prefix());
    // The demo's hrefs are relative to its directory.
    let run = ctx.sh(&format!(
        "set -e; here=$PWD; (cd {demo} && $STACPKG items from-json items.json | $STACPKG build $here/pkg --include-assets)
         $STACPKG push pkg oci-layout:layout:v1
         $STACPKG push pkg {host}/{repo}:v1 --plain-http
         sleep 1.1
         $STACPKG pull oci-layout:layout:v1 --output-dir from-layout
         $STACPKG pull {host}/{repo}:v1 --plain-http --output-dir from-registry
         for p in pkg from-layout from-registry; do
           (cd $p && $STACPKG asset-lock from-parquet assets.lock.parquet | $STACPKG asset-lock validate)
         done",
        demo = demo.display()
    ));
    let run = run.success();
    assert_eq!(
        valid_lines(&run.stdout),
        3 * 6,
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
}

#[test]
fn issue_17_a_stream_cut_short_upstream_is_not_written_as_a_whole_table() {
    let ctx = ctx();
    ctx.sh(&format!(
        "set -e; $STACPKG items from-json {demo} > items.arrow
         $STACPKG asset-lock derive --no-probe-metadata < items.arrow > lock.arrow",
        demo = stacpkg_test::demo("items.json").display()
    ))
    .success();
    // What a reader sees when the command before it dies after its first message: the schema,
    // no end-of-stream marker. Before, this was written as an empty table.
    let whole = std::fs::read(ctx.path("lock.arrow")).unwrap();
    assert_eq!(
        whole[whole.len() - 8..],
        [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]
    );
    for (name, cut) in [("schema only", 0), ("without the marker", whole.len() - 8)] {
        let cut = if cut == 0 {
            schema_message_len(&whole)
        } else {
            cut
        };
        ctx.write("cut.arrow", &whole[..cut]);
        for command in ["asset-lock to-parquet out.parquet", "asset-lock validate"] {
            let run = ctx.sh(&format!("$STACPKG {command} < cut.arrow"));
            assert_eq!(
                run.error_line(1),
                "stacpkg: error: stdin ended before its Arrow IPC stream did: the command that wrote it failed or was stopped",
                "{name}: {command}"
            );
            assert!(!ctx.path("out.parquet").exists(), "{name}");
        }
    }
    // A whole stream still is one.
    ctx.sh("$STACPKG asset-lock to-parquet out.parquet < lock.arrow")
        .success();
}

/// The length of the first message (the schema) of an Arrow IPC stream.
fn schema_message_len(stream: &[u8]) -> usize {
    assert_eq!(stream[..4], [0xff; 4]);
    let meta = u32::from_le_bytes(stream[4..8].try_into().unwrap()) as usize;
    8 + meta
}

#[test]
fn issue_17_shard_files_read_at_once_from_s3_never_share_a_dead_connection() {
    let Some(svc) = Services::get("issue-17-connections") else {
        return;
    };
    let ctx = ctx();
    let items: Vec<serde_json::Value> = (0..60)
        .map(|i| {
            item(
                &format!("i-{i}"),
                json!({"a": {"href": format!("s3://x/{i}.tif")}}),
            )
        })
        .collect();
    write_items(&ctx, &items);
    let (a, prefix, env) = (svc.bucket(S3::A), svc.prefix(), svc.s3_env());
    ctx.sh(&format!(
        "set -e; export {env}; $STACPKG items from-json items.json > items.arrow
         $STACPKG asset-lock derive --no-probe-metadata < items.arrow | $STACPKG asset-lock to-parquet single.parquet
         for k in 0 1 2 3 4 5 6 7; do
           $STACPKG asset-lock derive --no-probe-metadata --shard $k/8 < items.arrow | $STACPKG asset-lock to-parquet s3://{a}/{prefix}/shard-$k.parquet
         done"
    ))
    .success();
    // Each file is read on a runtime of its own, which ends with the file. Sharing one client's
    // connections among them failed a request ("dispatch task is gone") in about one merge of
    // five, when a runtime ended under a request another reader had sent on its connection.
    for round in 0..20 {
        let run = ctx.sh(&format!(
            "export {env}; $STACPKG asset-lock from-parquet 's3://{a}/{prefix}/shard-*.parquet' | $STACPKG asset-lock to-parquet merged.parquet"
        ));
        assert_eq!(run.code, Some(0), "round {round}: {}", run.stderr);
        assert_eq!(
            std::fs::read(ctx.path("merged.parquet")).unwrap(),
            std::fs::read(ctx.path("single.parquet")).unwrap()
        );
    }
}
