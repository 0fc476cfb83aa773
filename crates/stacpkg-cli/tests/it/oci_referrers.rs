//! Referrers (issue 14): `attach` and `discover` against a registry with the OCI 1.1 referrers
//! API (ferro-oci-server) and one without it (Debian's docker-registry 2.8, where the referrers
//! tag schema is used), and in an OCI image layout; a referrer pulled back as files.

use serde_json::Value;
use stacpkg_test::TestContext;
use stacpkg_test::services::Services;

use crate::package::with_demo;

const REPORT_TYPE: &str = "application/vnd.stacpkg.validation.v1+jsonl";

/// The demo package built and pushed to `HOST/PREFIX/NAME:v1`, and its lock's validation
/// report in `report.jsonl`; returns the reference.
fn pushed_with_report(ctx: &TestContext, host: &str, svc: &Services, name: &str) -> String {
    let reference = format!("{host}/{}/{name}:v1", svc.prefix());
    ctx.sh(&format!(
        "set -e; $STACPKG items from-json items.json | $STACPKG build pkg --include-assets
         (cd pkg && $STACPKG asset-lock from-parquet assets.lock.parquet | $STACPKG asset-lock validate) > report.jsonl
         $STACPKG push pkg {reference} --plain-http"
    ))
    .success();
    reference
}

fn tags(ctx: &TestContext, host: &str, repository: &str) -> Vec<String> {
    let run = ctx
        .sh(&format!(
            "curl -fsS http://{host}/v2/{repository}/tags/list"
        ))
        .success();
    let json: Value = serde_json::from_slice(&run.stdout).unwrap();
    json["tags"]
        .as_array()
        .map(|t| t.iter().map(|t| t.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Attach the report, discover it (text, JSON, filtered), pull it back; returns the attach's
/// stderr.
fn attach_discover_pull(ctx: &TestContext, reference: &str) -> String {
    let attached = ctx
        .sh(&format!(
            "$STACPKG attach {reference} report.jsonl:{REPORT_TYPE} --artifact-type {REPORT_TYPE} \
             --annotation org.opencontainers.image.description='lock validation' --plain-http"
        ))
        .success();
    let referrer = String::from_utf8(attached.stdout).unwrap();
    let referrer = referrer.trim_end();
    let (repository_ref, digest) = referrer.split_once('@').unwrap();
    assert_eq!(repository_ref, reference.rsplit_once(':').unwrap().0);

    let text = ctx
        .sh(&format!("$STACPKG discover {reference} --plain-http"))
        .success();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with(&format!("{digest} {REPORT_TYPE} ")),
        "{text}"
    );
    assert!(
        text.contains("\n  org.opencontainers.image.description=lock validation\n"),
        "{text}"
    );
    let json = ctx
        .sh(&format!(
            "$STACPKG discover {reference} --plain-http --format json --artifact-type {REPORT_TYPE}"
        ))
        .success();
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    let listed = json.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{json}");
    assert_eq!(listed[0]["digest"], digest);
    assert_eq!(listed[0]["artifactType"], REPORT_TYPE);
    assert_eq!(
        listed[0]["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        listed[0]["annotations"]["org.opencontainers.image.description"],
        "lock validation"
    );
    let other = ctx
        .sh(&format!(
            "$STACPKG discover {reference} --plain-http --format json --artifact-type application/x-other"
        ))
        .success();
    assert_eq!(String::from_utf8_lossy(&other.stdout), "[]\n");

    // The referrer pulls back as its files.
    ctx.sh(&format!(
        "set -e; $STACPKG pull {referrer} --plain-http --output-dir fetched
         cmp fetched/report.jsonl report.jsonl; test \"$(ls fetched)\" = report.jsonl"
    ))
    .success();
    attached.stderr
}

#[test]
fn attach_and_discover_use_the_referrers_api_where_the_registry_has_one() {
    let Some(svc) = Services::get("oci-referrers-api") else {
        return;
    };
    let ctx = with_demo();
    let host = svc.var("OCI_REFERRERS_HOST");
    let reference = pushed_with_report(&ctx, host, &svc, "api");
    let stderr = attach_discover_pull(&ctx, &reference);
    assert_eq!(stderr, "");
    // No fallback tag was written: the registry lists the referrers itself.
    let repository = reference
        .split_once('/')
        .unwrap()
        .1
        .rsplit_once(':')
        .unwrap()
        .0;
    assert_eq!(tags(&ctx, host, repository), ["v1"]);
}

#[test]
fn attach_and_discover_fall_back_to_the_referrers_tag_on_docker_registry() {
    let Some(svc) = Services::get("oci-referrers-tag") else {
        return;
    };
    let ctx = with_demo();
    let host = svc.var("OCI_HOST");
    let reference = pushed_with_report(&ctx, host, &svc, "tag");
    let stderr = attach_discover_pull(&ctx, &reference);
    let repository = reference
        .split_once('/')
        .unwrap()
        .1
        .rsplit_once(':')
        .unwrap()
        .0;
    let tags = tags(&ctx, host, repository);
    let fallback = tags.iter().find(|t| t.starts_with("sha256-")).unwrap();
    assert_eq!(
        stderr,
        format!(
            "stacpkg: note: the registry has no referrers API: listed in the tag `{fallback}`\n"
        )
    );
    // The tag names the package manifest's digest.
    let run = ctx
        .sh(&format!(
            "curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' http://{host}/v2/{repository}/manifests/v1 | sha256sum"
        ))
        .success();
    let digest = String::from_utf8_lossy(&run.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(fallback, &format!("sha256-{digest}"));
}

#[test]
fn concurrent_attaches_to_the_referrers_tag_all_end_up_listed() {
    let Some(svc) = Services::get("oci-referrers-race") else {
        return;
    };
    let ctx = with_demo();
    let reference = pushed_with_report(&ctx, svc.var("OCI_HOST"), &svc, "race");
    for i in 0..4 {
        ctx.write(&format!("sig-{i}.txt"), format!("signature {i}\n"));
    }
    ctx.sh(&format!(
        "set -e; for i in 0 1 2 3; do
           $STACPKG attach {reference} sig-$i.txt --artifact-type application/x-signature --plain-http > attached-$i 2>/dev/null &
         done; wait"
    ))
    .success();
    let json = ctx
        .sh(&format!(
            "$STACPKG discover {reference} --plain-http --format json"
        ))
        .success();
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    let mut listed: Vec<String> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["digest"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let mut attached: Vec<String> = (0..4)
        .map(|i| {
            let text = std::fs::read_to_string(ctx.path(&format!("attached-{i}"))).unwrap();
            text.trim_end().split_once('@').unwrap().1.to_string()
        })
        .collect();
    attached.sort();
    assert_eq!(listed, attached);
}

#[test]
fn an_oci_layout_lists_referrers_by_scanning_its_index() {
    let ctx = with_demo();
    ctx.write("report.jsonl", "{}\n");
    ctx.sh(&format!(
        "set -e; $STACPKG items from-json items.json | $STACPKG build pkg --no-probe-metadata
         $STACPKG push pkg oci-layout:layout:v1
         $STACPKG attach oci-layout:layout:v1 report.jsonl:{REPORT_TYPE} --artifact-type {REPORT_TYPE} > attached"
    ))
    .success();
    let attached = std::fs::read_to_string(ctx.path("attached")).unwrap();
    let digest = attached.trim_end().rsplit_once('@').unwrap().1.to_string();
    assert!(
        attached.starts_with("oci-layout:layout@sha256:"),
        "{attached}"
    );
    let listed = ctx
        .sh("$STACPKG discover oci-layout:layout:v1 --format json")
        .success();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["digest"], digest.as_str());
    assert_eq!(listed[0]["artifactType"], REPORT_TYPE);
    // Attaching the same file again changes nothing.
    ctx.sh(&format!(
        "$STACPKG attach oci-layout:layout:v1 report.jsonl:{REPORT_TYPE} --artifact-type {REPORT_TYPE}"
    ))
    .success();
    let index: Value =
        serde_json::from_slice(&std::fs::read(ctx.path("layout/index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2, "{index}");
    ctx.sh(&format!(
        "set -e; $STACPKG pull oci-layout:layout@{digest} --output-dir fetched && cmp fetched/report.jsonl report.jsonl"
    ))
    .success();
}

#[test]
fn referrer_bad_input_gets_one_line_and_nothing_partial() {
    let Some(svc) = Services::get("oci-referrers-bad") else {
        return;
    };
    let ctx = with_demo();
    let host = svc.var("OCI_HOST");
    let reference = pushed_with_report(&ctx, host, &svc, "bad");
    let one_line = |line: &str, code: i32, expected: &str| {
        let run = ctx.sh(line);
        assert_eq!(run.code, Some(code), "{line}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{line}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{line}: {}", run.stderr);
    };
    // A missing subject.
    let missing = format!("{host}/{}/bad:nope", svc.prefix());
    one_line(
        &format!("$STACPKG attach {missing} report.jsonl --artifact-type a/b --plain-http"),
        1,
        "has no manifest `nope`",
    );
    // Nothing attached yet: an empty list, on both kinds of registry.
    for subject in [reference.clone(), {
        let api = format!("{}/{}/bad:v1", svc.var("OCI_REFERRERS_HOST"), svc.prefix());
        ctx.sh(&format!("$STACPKG push pkg {api} --plain-http"))
            .success();
        api
    }] {
        let run = ctx
            .sh(&format!(
                "$STACPKG discover {subject} --plain-http --format json"
            ))
            .success();
        assert_eq!(String::from_utf8_lossy(&run.stdout), "[]\n");
        let run = ctx
            .sh(&format!("$STACPKG discover {subject} --plain-http"))
            .success();
        assert_eq!(run.stdout, b"");
    }
    // Files that cannot be attached; a usage error for a malformed annotation.
    one_line(
        &format!("$STACPKG attach {reference} pkg --artifact-type a/b --plain-http"),
        1,
        "cannot attach `pkg`: it is not a regular file",
    );
    one_line(
        &format!(
            "$STACPKG attach {reference} report.jsonl --artifact-type a/b --annotation novalue --plain-http"
        ),
        2,
        "expected KEY=VALUE",
    );
    // A fallback tag that is not an index: the package pushed under that tag.
    let hex = ctx
        .sh(&format!(
            "curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' http://{}/v2/{}/bad/manifests/v1 | sha256sum | cut -d' ' -f1",
            host,
            svc.prefix()
        ))
        .success();
    let hex = String::from_utf8(hex.stdout).unwrap();
    let tag = format!("sha256-{}", hex.trim());
    ctx.sh(&format!(
        "$STACPKG push pkg {host}/{}/bad:{tag} --plain-http",
        svc.prefix()
    ))
    .success();
    one_line(
        &format!("$STACPKG discover {reference} --plain-http"),
        1,
        &format!("the referrers tag `{tag}` of registry {host} is not an image index"),
    );
    // A selection of something that is not a package.
    ctx.write("note.txt", "n\n");
    ctx.sh("$STACPKG push pkg oci-layout:layout:v1").success();
    let attached = ctx
        .sh("$STACPKG attach oci-layout:layout:v1 note.txt --artifact-type a/b")
        .success();
    let referrer = String::from_utf8(attached.stdout).unwrap();
    let referrer = referrer.trim_end();
    one_line(
        &format!("$STACPKG pull {referrer} --output-dir sel --item-ids item-a"),
        1,
        "is not a stacpkg package: only a package can be pulled in part",
    );
    assert!(!ctx.path("sel").exists());
}

/// The digest of the manifest `reference` (`HOST/REPO:TAG`) as the registry serves it.
fn served_digest(ctx: &TestContext, reference: &str) -> String {
    let (host, rest) = reference.split_once('/').unwrap();
    let (repository, tag) = rest.rsplit_once(':').unwrap();
    let run = ctx
        .sh(&format!(
            "curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' http://{host}/v2/{repository}/manifests/{tag} | sha256sum"
        ))
        .success();
    format!(
        "sha256:{}",
        String::from_utf8_lossy(&run.stdout)
            .split_whitespace()
            .next()
            .unwrap()
    )
}

#[test]
fn copy_hands_a_package_and_its_referrers_over_from_registry_to_layout_to_another_registry() {
    let Some(svc) = Services::get("oci-copy-handover") else {
        return;
    };
    let ctx = with_demo();
    crate::package::includes(&ctx);
    let source = format!("{}/{}/handover:v1", svc.var("OCI_HOST"), svc.prefix());
    let target = format!(
        "{}/{}/received:v1",
        svc.var("OCI_REFERRERS_HOST"),
        svc.prefix()
    );
    ctx.sh(&format!(
        "set -e; $STACPKG items from-json items.json | $STACPKG build pkg --include-assets {}
         (cd pkg && $STACPKG asset-lock from-parquet assets.lock.parquet | $STACPKG asset-lock validate) > report.jsonl
         $STACPKG push pkg {source} --plain-http
         $STACPKG attach {source} report.jsonl:{REPORT_TYPE} --artifact-type {REPORT_TYPE} --plain-http > attached 2>/dev/null",
        crate::package::INCLUDES
    ))
    .success();
    let digest = served_digest(&ctx, &source);
    let report = std::fs::read_to_string(ctx.path("attached")).unwrap();
    let report = report.trim_end().split_once('@').unwrap().1.to_string();

    let to_layout = ctx
        .sh(&format!(
            "$STACPKG copy {source} oci-layout:handover:v1 --referrers --plain-http"
        ))
        .success();
    assert_eq!(
        to_layout.stderr,
        format!(
            "stacpkg: note: copied {source} to oci-layout:handover@{digest} (14 blobs: 13 copied, 0 mounted, 1 already there; 1 referrers)\n"
        )
    );
    let to_registry = ctx
        .sh(&format!(
            "$STACPKG copy oci-layout:handover:v1 {target} --referrers --plain-http"
        ))
        .success();
    assert!(
        to_registry
            .stderr
            .contains(&format!("@{digest} (14 blobs: ")),
        "{}",
        to_registry.stderr
    );
    // The same manifest at the end, its referrer listed there, and the package intact.
    assert_eq!(served_digest(&ctx, &target), digest);
    let listed = ctx
        .sh(&format!(
            "$STACPKG discover {target} --plain-http --format json"
        ))
        .success();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["digest"], report.as_str(), "{listed}");
    ctx.sh(&format!(
        "set -e; $STACPKG pull {target} --plain-http --output-dir received && diff -r pkg received"
    ))
    .success();
    // Again: nothing to move.
    let again = ctx
        .sh(&format!(
            "$STACPKG copy oci-layout:handover:v1 {target} --referrers --plain-http"
        ))
        .success();
    assert!(
        again
            .stderr
            .contains("(14 blobs: 0 copied, 0 mounted, 14 already there; 1 referrers)"),
        "{}",
        again.stderr
    );
}

#[test]
fn copy_within_one_registry_mounts_blobs_instead_of_moving_bytes() {
    let Some(svc) = Services::get("oci-copy-mount") else {
        return;
    };
    let ctx = with_demo();
    let host = svc.var("OCI_HOST");
    let source = format!("{host}/{}/mount-a:v1", svc.prefix());
    let target = format!("{host}/{}/mount-b:v1", svc.prefix());
    ctx.sh(&format!(
        "set -e; $STACPKG items from-json items.json | $STACPKG build pkg --include-assets
         $STACPKG push pkg {source} --plain-http"
    ))
    .success();
    let log = || std::fs::read_to_string(svc.var("OCI_LOG")).unwrap();
    let mark = log().lines().count();
    let run = ctx
        .sh(&format!("$STACPKG copy {source} {target} --plain-http"))
        .success();
    let after: Vec<String> = log().lines().skip(mark).map(str::to_string).collect();
    let source_repository = format!("{}/mount-a", svc.prefix());
    let target_repository = format!("{}/mount-b", svc.prefix());
    let blob_gets = after
        .iter()
        .filter(|l| l.contains(&format!("\"GET /v2/{source_repository}/blobs/")))
        .count();
    let mounts = after
        .iter()
        .filter(|l| {
            l.contains(&format!(
                "\"POST /v2/{target_repository}/blobs/uploads/?mount="
            )) && l.contains("\" 201 ")
        })
        .count();
    assert_eq!(blob_gets, 0, "{after:#?}");
    // Items, lock, six assets and the config.
    assert_eq!(mounts, 9, "{after:#?}");
    assert!(
        run.stderr
            .contains("(9 blobs: 0 copied, 9 mounted, 0 already there)"),
        "{}",
        run.stderr
    );
    assert_eq!(served_digest(&ctx, &target), served_digest(&ctx, &source));
    ctx.sh(&format!(
        "set -e; $STACPKG pull {target} --plain-http --output-dir copied && diff -r pkg copied"
    ))
    .success();
}

/// A registry whose referrers answer is not an image index. No real registry here sends one, so
/// this is a minimal HTTP server in Python (a mock, for this one bad answer): a manifest at
/// `repo:v1`, and a manifest where the referrers index should be.
#[test]
fn a_referrers_answer_that_is_not_an_index_is_one_clear_line() {
    let ctx = crate::ctx();
    ctx.write(
        "mock.py",
        r#"
import http.server, json, sys
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.empty.v1+json",
               "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
    "layers": []}).encode()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/v2/repo/manifests/"):
            body, kind = MANIFEST, "application/vnd.oci.image.manifest.v1+json"
        elif self.path.startswith("/v2/repo/referrers/"):
            body, kind = MANIFEST, "application/vnd.oci.image.manifest.v1+json"
        elif self.path == "/v2/":
            body, kind = b"{}", "application/json"
        else:
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#,
    );
    let mut server = std::process::Command::new("python3")
        .arg(ctx.path("mock.py"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.as_mut().unwrap()),
        &mut port,
    )
    .unwrap();
    let host = format!("127.0.0.1:{}", port.trim());
    let run = ctx.sh(&format!("$STACPKG discover {host}/repo:v1 --plain-http"));
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("from registry {host} is not an image index")),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, b"");
}
