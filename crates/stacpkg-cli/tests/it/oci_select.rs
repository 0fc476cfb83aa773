//! Inspect before pull and selective pull (issue 14) against Debian's docker-registry: what is
//! fetched is counted from the registry's own access log, and what is written is compared with
//! what `build` writes for the same selection.

use serde_json::Value;
use stacpkg_test::TestContext;
use stacpkg_test::services::Services;

use crate::package::{INCLUDES, includes, tree, with_demo};

/// The demo package with every kind of layer, pushed to `HOST/REPO:v1`; returns the
/// reference.
fn pushed(ctx: &TestContext, svc: &Services, name: &str) -> String {
    includes(ctx);
    let reference = format!("{}/{}/{name}:v1", svc.var("OCI_HOST"), svc.prefix());
    ctx.sh(&format!(
        "set -e; $STACPKG items from-json items.json | $STACPKG build pkg --include-assets {INCLUDES}
         $STACPKG push pkg {reference} --plain-http"
    ))
    .success();
    reference
}

/// The blob digests the registry served (`GET /v2/REPO/blobs/…` in its access log) for
/// `repository` after the first `mark` lines of the log.
fn blob_gets(svc: &Services, repository: &str, mark: usize) -> Vec<String> {
    let log = std::fs::read_to_string(svc.var("OCI_LOG")).unwrap();
    let prefix = format!("\"GET /v2/{repository}/blobs/");
    let mut digests: Vec<String> = log
        .lines()
        .skip(mark)
        .filter_map(|line| {
            let rest = &line[line.find(&prefix)? + prefix.len()..];
            Some(rest.split(' ').next()?.to_string())
        })
        .collect();
    digests.sort();
    digests
}

fn log_mark(svc: &Services) -> usize {
    std::fs::read_to_string(svc.var("OCI_LOG"))
        .unwrap()
        .lines()
        .count()
}

fn repository(reference: &str) -> String {
    let (_, path) = reference.split_once('/').unwrap();
    path.rsplit_once(':').unwrap().0.to_string()
}

/// Layer digests of the pushed manifest by title.
fn layer_digests(ctx: &TestContext, svc: &Services, reference: &str) -> Vec<(String, String)> {
    let repo = repository(reference);
    let run = ctx
        .sh(&format!(
            "curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' http://{}/v2/{repo}/manifests/v1",
            svc.var("OCI_HOST")
        ))
        .success();
    let manifest: Value = serde_json::from_slice(&run.stdout).unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["annotations"]["org.opencontainers.image.title"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                l["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn digests_of(layers: &[(String, String)], titles: &[&str]) -> Vec<String> {
    let mut digests: Vec<String> = layers
        .iter()
        .filter(|(title, _)| titles.contains(&title.as_str()))
        .map(|(_, d)| d.clone())
        .collect();
    digests.sort();
    digests
}

#[test]
fn inspect_of_a_pushed_package_fetches_the_manifest_and_the_two_tables_only() {
    let Some(svc) = Services::get("oci-inspect") else {
        return;
    };
    let ctx = with_demo();
    let reference = pushed(&ctx, &svc, "inspect");
    let layers = layer_digests(&ctx, &svc, &reference);
    let mark = log_mark(&svc);
    let remote = ctx
        .sh(&format!(
            "$STACPKG inspect {reference} --plain-http --format json"
        ))
        .success();
    assert_eq!(
        blob_gets(&svc, &repository(&reference), mark),
        digests_of(&layers, &["items.parquet", "assets.lock.parquet"])
    );
    let remote: Value = serde_json::from_slice(&remote.stdout).unwrap();
    let local: Value = serde_json::from_slice(
        &ctx.sh("$STACPKG inspect pkg --format json")
            .success()
            .stdout,
    )
    .unwrap();
    // The tables' counts are those of the directory.
    assert_eq!(remote["items"], local["items"]);
    assert_eq!(remote["assets"], local["assets"]);
    assert_eq!(remote["package"], reference.as_str());
    // The files are the layers: title, media type, size, digest.
    let files = remote["files"].as_array().unwrap();
    assert_eq!(files.len(), layers.len());
    for (file, (title, digest)) in files.iter().zip(&layers) {
        assert_eq!(file["path"], title.as_str());
        assert_eq!(file["digest"], digest.as_str());
    }
    let zip = files.iter().find(|f| f["path"] == "docs").unwrap();
    assert_eq!(zip["mediaType"], "application/vnd.stacpkg.files.v1+zip");
    let readme = files.iter().find(|f| f["path"] == "README.md").unwrap();
    assert_eq!(readme["size"], 15);

    // An OCI layout and Markdown too; a directory argument as before.
    ctx.sh("$STACPKG push pkg oci-layout:layout:v1").success();
    let markdown = ctx
        .sh("$STACPKG inspect oci-layout:layout:v1 --format markdown")
        .success();
    let markdown = String::from_utf8(markdown.stdout).unwrap();
    assert!(
        markdown.contains("- Package: `oci-layout:layout:v1`\n- Items: 3\n"),
        "{markdown}"
    );
    assert!(
        markdown.contains("- `assets/item-a/visual.tif` (application/vnd.stacpkg.asset.v1, "),
        "{markdown}"
    );

    // A reference without a package: one line naming it.
    let missing = ctx.sh(&format!(
        "$STACPKG inspect {}/{}/nothing:v1 --plain-http",
        svc.var("OCI_HOST"),
        svc.prefix()
    ));
    assert_eq!(missing.code, Some(1));
    assert_eq!(missing.stderr.lines().count(), 1, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("has no manifest `v1`"),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_selective_pull_fetches_only_what_the_selection_needs_and_writes_what_build_writes() {
    let Some(svc) = Services::get("oci-select") else {
        return;
    };
    let ctx = with_demo();
    let reference = pushed(&ctx, &svc, "select");
    let repo = repository(&reference);
    let layers = layer_digests(&ctx, &svc, &reference);

    // One item by id: its two assets, the tables and the content layers.
    let mark = log_mark(&svc);
    let run = ctx
        .sh(&format!(
            "$STACPKG pull {reference} --plain-http --output-dir pulled --item-ids item-b"
        ))
        .success();
    assert_eq!(
        run.stderr,
        format!(
            "stacpkg: note: left 4 of the artifact's layers in {reference} (4 of them asset layers)\n"
        )
    );
    assert_eq!(
        blob_gets(&svc, &repo, mark),
        digests_of(
            &layers,
            &[
                "items.parquet",
                "assets.lock.parquet",
                "README.md",
                "assets/item-b/thumbnail.png",
                "assets/item-b/visual.tif",
                "docs",
                "provenance.json",
            ]
        )
    );
    // The same bytes as a package built for that selection, and it validates.
    ctx.sh(&format!(
        "set -e; $STACPKG items from-json items.json | $STACPKG build built --include-assets --item-ids item-b {INCLUDES}
         cmp built/items.parquet pulled/items.parquet
         cmp built/assets.lock.parquet pulled/assets.lock.parquet
         diff -r built pulled
         cd pulled && $STACPKG asset-lock from-parquet assets.lock.parquet | $STACPKG asset-lock validate"
    ))
    .success();
    assert_eq!(tree(&ctx.path("pulled")), tree(&ctx.path("built")));

    // A collection and an asset key (AND): one asset of one item.
    let mark = log_mark(&svc);
    ctx.sh(&format!(
        "set -e; $STACPKG pull {reference} --plain-http --output-dir dem --collections demo-dem --asset-keys visual
         $STACPKG asset-lock from-parquet dem/assets.lock.parquet | $STACPKG asset-lock to-parquet dem-lock.parquet"
    ))
    .success();
    let fetched = blob_gets(&svc, &repo, mark);
    assert!(fetched.contains(&digests_of(&layers, &["assets/item-c/visual.tif"])[0]));
    assert_eq!(fetched.len(), 6, "{fetched:?}");
    let files = tree(&ctx.path("dem"));
    assert!(
        files.contains(&"assets/item-c/visual.tif".to_string()),
        "{files:?}"
    );
    assert_eq!(
        files.iter().filter(|f| f.starts_with("assets/")).count(),
        1,
        "{files:?}"
    );
    if let Some(python) = stacpkg_test::python() {
        let rows = ctx
            .sh(&format!(
                "{} -c \"import pyarrow.parquet as pq; t = pq.read_table('dem/assets.lock.parquet'); \
                 print(t.column('item_id').to_pylist(), t.column('asset_key').to_pylist(), pq.read_table('dem/items.parquet').column('id').to_pylist())\"",
                python.display()
            ))
            .success();
        assert_eq!(
            String::from_utf8_lossy(&rows.stdout),
            "['item-c'] ['visual'] ['item-c']\n"
        );
    }

    // The tables only: two blobs, and stderr says what was left.
    let mark = log_mark(&svc);
    let run = ctx
        .sh(&format!(
            "$STACPKG pull {reference} --plain-http --output-dir tables --tables-only"
        ))
        .success();
    assert_eq!(
        blob_gets(&svc, &repo, mark),
        digests_of(&layers, &["items.parquet", "assets.lock.parquet"])
    );
    assert_eq!(
        run.stderr,
        format!(
            "stacpkg: note: left 9 of the artifact's layers in {reference} (6 of them asset layers)\n"
        )
    );
    assert_eq!(
        tree(&ctx.path("tables")),
        ["assets.lock.parquet", "items.parquet"]
    );
    ctx.sh("cmp tables/items.parquet pkg/items.parquet && cmp tables/assets.lock.parquet pkg/assets.lock.parquet")
        .success();
}

#[test]
fn a_selection_that_matches_nothing_is_an_error_and_writes_nothing() {
    let Some(svc) = Services::get("oci-select-none") else {
        return;
    };
    let ctx = with_demo();
    let reference = pushed(&ctx, &svc, "none");
    for (flags, what) in [
        ("--item-ids nope", "item"),
        ("--collections demo-dem --item-ids item-a", "item"),
        ("--item-ids item-a --asset-keys nope", "asset"),
    ] {
        let run = ctx.sh(&format!(
            "$STACPKG pull {reference} --plain-http --output-dir out {flags}"
        ));
        assert_eq!(run.code, Some(1), "{flags}: {}", run.stderr);
        assert_eq!(
            run.stderr,
            format!("stacpkg: error: the selection matches no {what} of {reference}\n"),
            "{flags}"
        );
        assert!(!ctx.path("out").exists(), "{flags}");
        let hidden: Vec<_> = std::fs::read_dir(ctx.dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".out"))
            .collect();
        assert!(hidden.is_empty(), "{flags}: {hidden:?}");
    }
}
