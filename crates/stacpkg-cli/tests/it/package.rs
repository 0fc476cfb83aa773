//! `build` and `inspect`: reproducible and atomic builds, includes, packaged assets, filtered
//! builds, explicit vs derived locks, inspect output in every format (snapshots checked against
//! the Python original), and bad inputs that must leave nothing behind.

use std::path::Path;

use arrow_array::cast::AsArray;
use serde_json::json;
use stacpkg_test::services::Services;
use stacpkg_test::{TestContext, demo};

use crate::ctx;
use crate::stores::{Row, item, nginx_facts, parquet_lock_rows, valid_lines, write_items};

/// The bundled example copied into the test directory (its hrefs are relative to it).
pub(crate) fn with_demo() -> TestContext {
    let ctx = ctx();
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", demo("").display()))
        .arg(ctx.dir())
        .status()
        .unwrap();
    assert!(copied.success());
    ctx
}

pub(crate) fn read(ctx: &TestContext, name: &str) -> Vec<u8> {
    std::fs::read(ctx.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every regular file below `dir`, relative, sorted.
pub(crate) fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// What is left in the test directory besides the inputs: names starting with `pkg` or `.pkg`.
pub(crate) fn leftovers(ctx: &TestContext) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(ctx.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pkg") || n.starts_with(".pkg"))
        .collect();
    names.sort();
    names
}

pub(crate) fn includes(ctx: &TestContext) {
    ctx.write("inc/README.md", "# Demo package\n");
    ctx.write("inc/docs/note.txt", "note\n");
    ctx.write("inc/docs/deeper/more.txt", "more\n");
    ctx.write("inc/provenance.json", "{\"source\": \"demo\"}\n");
}

pub(crate) const INCLUDES: &str =
    "--includes inc/README.md --includes inc/docs --includes inc/provenance.json";

#[test]
fn two_builds_of_the_same_items_are_byte_identical_however_the_stream_was_batched() {
    let ctx = with_demo();
    includes(&ctx);
    ctx.sh(&format!(
        "set -e
         $STACPKG items from-json items.json | $STACPKG build pkg-a {INCLUDES}
         $STACPKG items from-ndjson items.ndjson --batch-size 1 | $STACPKG build pkg-b {INCLUDES}"
    ))
    .success();
    let files = tree(&ctx.path("pkg-a"));
    assert_eq!(
        files,
        [
            "README.md",
            "assets.lock.parquet",
            "docs/deeper/more.txt",
            "docs/note.txt",
            "items.parquet",
            "provenance.json"
        ]
    );
    assert_eq!(tree(&ctx.path("pkg-b")), files);
    for file in &files {
        assert_eq!(
            read(&ctx, &format!("pkg-a/{file}")),
            read(&ctx, &format!("pkg-b/{file}")),
            "{file} differs between the builds"
        );
    }
    // Includes keep their bytes.
    assert_eq!(read(&ctx, "pkg-a/docs/deeper/more.txt"), b"more\n");
    assert_eq!(
        read(&ctx, "pkg-a/provenance.json"),
        read(&ctx, "inc/provenance.json")
    );
    // The package's items are the items stream's, and the lock is what derive writes.
    let again = ctx
        .sh(
            "set -e; $STACPKG items from-json items.json | $STACPKG items to-parquet items.parquet
             $STACPKG items from-json items.json | $STACPKG asset-lock derive \
               | $STACPKG asset-lock to-parquet lock.parquet",
        )
        .success();
    assert_eq!(again.stderr, "");
    assert_eq!(
        read(&ctx, "items.parquet"),
        read(&ctx, "pkg-a/items.parquet")
    );
    assert_eq!(
        read(&ctx, "lock.parquet"),
        read(&ctx, "pkg-a/assets.lock.parquet")
    );
    assert_eq!(leftovers(&ctx), ["pkg-a", "pkg-b"]);
}

#[test]
fn an_explicit_lock_is_packaged_as_given_and_equals_the_derived_one() {
    let ctx = with_demo();
    ctx.sh("set -e
         $STACPKG items from-json items.json | $STACPKG asset-lock derive > lock.arrow
         $STACPKG items from-json items.json | $STACPKG build pkg-derived
         $STACPKG items from-json items.json | $STACPKG build pkg-given --asset-lock lock.arrow
         $STACPKG items from-json items.json | $STACPKG build pkg-fifo \
           --asset-lock <($STACPKG asset-lock from-parquet pkg-derived/assets.lock.parquet)")
        .success();
    let derived = read(&ctx, "pkg-derived/assets.lock.parquet");
    assert_eq!(read(&ctx, "pkg-given/assets.lock.parquet"), derived);
    assert_eq!(read(&ctx, "pkg-fifo/assets.lock.parquet"), derived);
    let rows = parquet_lock_rows(&ctx.path("pkg-derived/assets.lock.parquet"));
    // Metadata assets are left out by default; probed facts are present.
    assert_eq!(rows.len(), 6);
    assert!(
        rows.iter()
            .all(|r| r.1 != "metadata" && r.5.is_some() && r.6.is_some())
    );

    // A given lock is taken as it is, not re-probed.
    ctx.sh(
        "set -e; $STACPKG items from-json items.json | $STACPKG asset-lock derive --no-probe-metadata > bare.arrow
         $STACPKG items from-json items.json | $STACPKG build pkg-bare --asset-lock bare.arrow",
    )
    .success();
    let bare = parquet_lock_rows(&ctx.path("pkg-bare/assets.lock.parquet"));
    assert_eq!(bare.len(), 6);
    assert!(bare.iter().all(|r| r.5.is_none() && r.6.is_none()));
    ctx.sh("set -e; $STACPKG items from-json items.json \
           | $STACPKG build pkg-meta --include-metadata-assets --no-probe-metadata")
        .success();
    let meta = parquet_lock_rows(&ctx.path("pkg-meta/assets.lock.parquet"));
    assert_eq!(meta.len(), 9);
    assert!(meta.iter().any(|r| r.1 == "metadata"));
    // Without probing there are no observed facts (the example has no file:size).
    assert!(
        meta.iter()
            .all(|r| r.5.is_none() && r.6.is_none() && r.7.is_none())
    );
}

#[test]
fn filtered_builds_keep_the_selected_items_and_only_their_lock_rows() {
    let ctx = with_demo();
    ctx.sh(
        "set -e
         $STACPKG items from-json items.json | $STACPKG asset-lock derive --no-probe-metadata > all.arrow
         $STACPKG items from-json items.json | $STACPKG build pkg-ids --item-ids item-a --item-ids item-c --no-probe-metadata
         $STACPKG items from-json items.json | $STACPKG build pkg-given --item-ids item-b --asset-lock all.arrow
         $STACPKG items from-json items.json | $STACPKG build pkg-all --asset-lock all.arrow",
    )
    .success();
    let items = |pkg: &str| -> Vec<String> {
        let (_, batches, _) =
            stacpkg_test::read_parquet(&ctx.path(&format!("{pkg}/items.parquet")));
        batches
            .iter()
            .flat_map(|b| {
                let ids = b.column_by_name("id").unwrap().as_string::<i32>();
                ids.iter()
                    .map(|v| v.unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let item_ids = |rows: Vec<Row>| -> Vec<String> { rows.into_iter().map(|r| r.0).collect() };
    assert_eq!(items("pkg-ids"), ["item-a", "item-c"]);
    assert_eq!(
        item_ids(parquet_lock_rows(&ctx.path("pkg-ids/assets.lock.parquet"))),
        ["item-a", "item-a", "item-c", "item-c"]
    );
    assert_eq!(items("pkg-given"), ["item-b"]);
    assert_eq!(
        item_ids(parquet_lock_rows(
            &ctx.path("pkg-given/assets.lock.parquet")
        )),
        ["item-b", "item-b"]
    );
    // Without a filter, an explicit lock is kept whole.
    assert_eq!(
        parquet_lock_rows(&ctx.path("pkg-all/assets.lock.parquet")).len(),
        6
    );

    // Providers select too (one example item names `Provider A` in `providers[].name`).
    ctx.sh(
        "set -e; $STACPKG items from-json items.json | $STACPKG build pkg-provider --providers 'Provider A' --asset-lock all.arrow
         $STACPKG items from-json items.json | $STACPKG build pkg-none --providers 'Nobody At All' --no-probe-metadata",
    )
    .success();
    let provider_items = items("pkg-provider");
    assert_eq!(provider_items.len(), 1);
    let provider_rows = item_ids(parquet_lock_rows(
        &ctx.path("pkg-provider/assets.lock.parquet"),
    ));
    assert_eq!(
        provider_rows,
        [provider_items[0].clone(), provider_items[0].clone()]
    );
    assert!(items("pkg-none").is_empty());
    assert!(parquet_lock_rows(&ctx.path("pkg-none/assets.lock.parquet")).is_empty());
}

#[test]
fn include_assets_copies_local_bytes_and_the_package_validates_in_place() {
    let ctx = with_demo();
    ctx.sh("set -e
         $STACPKG items from-json items.json | $STACPKG build pkg-a --include-assets
         $STACPKG items from-json items.json | $STACPKG build pkg-b --include-assets")
        .success();
    let files = tree(&ctx.path("pkg-a"));
    assert_eq!(
        files,
        [
            "assets.lock.parquet",
            "assets/item-a/thumbnail.png",
            "assets/item-a/visual.tif",
            "assets/item-b/thumbnail.png",
            "assets/item-b/visual.tif",
            "assets/item-c/thumbnail.png",
            "assets/item-c/visual.tif",
            "items.parquet"
        ]
    );
    for file in &files {
        assert_eq!(
            read(&ctx, &format!("pkg-a/{file}")),
            read(&ctx, &format!("pkg-b/{file}")),
            "{file} differs between the builds"
        );
    }
    assert_eq!(
        read(&ctx, "pkg-a/assets/item-b/visual.tif"),
        read(&ctx, "item-b/visual.tif")
    );
    let rows = parquet_lock_rows(&ctx.path("pkg-a/assets.lock.parquet"));
    assert_eq!(rows.len(), 6);
    for row in &rows {
        let key = row.4.clone().unwrap();
        assert!(key.starts_with(&format!("assets/{}/", row.0)), "{key}");
        assert_eq!((row.2.as_deref(), row.3.as_deref()), (Some("file"), None));
        let len = std::fs::metadata(ctx.path(&format!("pkg-a/{key}")))
            .unwrap()
            .len();
        assert_eq!(row.5, Some(len as i64), "{key}");
        // No local-file ETag (machine-specific); the source's last-modified time is kept.
        assert_eq!(row.6, None);
        assert!(row.7.is_some());
    }
    // The packaged lock validates against the package's own files, from inside the package.
    let valid = ctx
        .sh("cd pkg-a && $STACPKG asset-lock from-parquet assets.lock.parquet | $STACPKG asset-lock validate")
        .success();
    assert_eq!(valid_lines(&valid.stdout), 6);
    assert_eq!(leftovers(&ctx), ["pkg-a", "pkg-b"]);
}

#[test]
fn include_assets_over_http_keeps_the_source_facts_and_item_hrefs() {
    let Some(svc) = Services::get("package-http") else {
        return;
    };
    let ctx = ctx();
    let visual: Vec<u8> = (0..3_000_000u32).map(|i| (i * 13 % 253) as u8).collect();
    let visual_href = svc.put_http("pkg/visual.tif", &visual);
    let thumb_href = svc.put_http("pkg/thumb.png", b"thumbnail bytes");
    write_items(
        &ctx,
        &[item(
            "scene/1",
            json!({"visual": {"href": visual_href}, "thumbnail": {"href": thumb_href}}),
        )],
    );
    ctx.sh("set -e; $STACPKG items from-json items.json | $STACPKG build pkg --include-assets")
        .success();
    assert_eq!(read(&ctx, "pkg/assets/scene_1/visual.tif"), visual);
    assert_eq!(
        read(&ctx, "pkg/assets/scene_1/thumbnail.png"),
        b"thumbnail bytes"
    );
    let rows = parquet_lock_rows(&ctx.path("pkg/assets.lock.parquet"));
    let visual_row = rows.iter().find(|r| r.1 == "visual").unwrap();
    let (_, last_modified) = nginx_facts(&svc.http_path("pkg/visual.tif"));
    assert_eq!(visual_row.4.as_deref(), Some("assets/scene_1/visual.tif"));
    assert_eq!(visual_row.5, Some(3_000_000));
    assert_eq!(visual_row.7.as_deref(), Some(last_modified.as_str()));
    // The items still point at the original objects.
    let (_, batches, _) = stacpkg_test::read_parquet(&ctx.path("pkg/items.parquet"));
    let assets = batches[0].column_by_name("assets").unwrap().as_struct();
    let visual_asset = assets.column_by_name("visual").unwrap().as_struct();
    let href = visual_asset
        .column_by_name("href")
        .unwrap()
        .as_string::<i32>();
    assert_eq!(href.value(0), visual_href);
    let valid = ctx
        .sh("cd pkg && $STACPKG asset-lock from-parquet assets.lock.parquet | $STACPKG asset-lock validate")
        .success();
    assert_eq!(valid_lines(&valid.stdout), 2);
}

/// The snapshot with the table files' sizes and digests (which follow the Parquet writer's
/// version) filled in from the package.
fn expected(ctx: &TestContext, snapshot: &str) -> String {
    let mut text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/it/snapshots/{snapshot}")),
    )
    .unwrap();
    for table in ["items.parquet", "assets.lock.parquet"] {
        let path = ctx.path(&format!("pkg/{table}"));
        let sum = ctx.sh(&format!("sha256sum {}", path.display())).success();
        let digest = String::from_utf8_lossy(&sum.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        let size = std::fs::metadata(&path).unwrap().len();
        text = text
            .replace(&format!("{{{table} size}}"), &size.to_string())
            .replace(&format!("{{{table} digest}}"), &digest);
    }
    text
}

#[test]
fn inspect_prints_yaml_json_and_markdown_as_the_original_does() {
    let ctx = with_demo();
    includes(&ctx);
    ctx.sh(&format!(
        "set -e; $STACPKG items from-json items.json | $STACPKG build pkg {INCLUDES}"
    ))
    .success();
    let run = |args: &[&str]| -> String {
        let out = ctx.run(args, b"").success();
        assert_eq!(out.stderr, "");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(run(&["inspect", "pkg"]), expected(&ctx, "inspect.yaml"));
    assert_eq!(
        run(&["inspect", "pkg/", "--format", "yaml"]),
        expected(&ctx, "inspect.yaml")
    );
    assert_eq!(
        run(&["inspect", "pkg", "--format", "json"]),
        expected(&ctx, "inspect.json")
    );
    let markdown = expected(&ctx, "inspect.md");
    assert_eq!(run(&["inspect", "pkg", "--format", "markdown"]), markdown);
    assert_eq!(run(&["inspect", "./pkg", "--format", "md"]), markdown);
}

#[test]
fn a_non_empty_output_is_refused_unless_forced_and_force_only_replaces_packages() {
    let ctx = with_demo();
    ctx.write("pkg/keep.txt", "mine");
    let run =
        ctx.sh("$STACPKG items from-json items.json | $STACPKG build pkg --no-probe-metadata");
    let line = run.error_line(1);
    assert!(line.contains("`pkg` exists and is not empty"), "{line}");
    assert!(line.contains("--force"), "{line}");
    assert_eq!(tree(&ctx.path("pkg")), ["keep.txt"]);
    // --force does not delete a directory that is not a package.
    let run = ctx
        .sh("$STACPKG items from-json items.json | $STACPKG build pkg --force --no-probe-metadata");
    let line = run.error_line(1);
    assert!(
        line.contains("refusing to replace `pkg`: it is not a stacpkg package"),
        "{line}"
    );
    assert_eq!(tree(&ctx.path("pkg")), ["keep.txt"]);

    // An empty directory is simply used; an existing package is replaced with --force.
    std::fs::remove_file(ctx.path("pkg/keep.txt")).unwrap();
    ctx.sh("set -e; $STACPKG items from-json items.json | $STACPKG build pkg --no-probe-metadata --item-ids item-a")
        .success();
    ctx.write("pkg/stale.txt", "from an earlier build");
    ctx.sh("set -e; $STACPKG items from-json items.json | $STACPKG build pkg --force --no-probe-metadata")
        .success();
    assert_eq!(
        tree(&ctx.path("pkg")),
        ["assets.lock.parquet", "items.parquet"]
    );
    assert_eq!(
        parquet_lock_rows(&ctx.path("pkg/assets.lock.parquet")).len(),
        6
    );
    assert_eq!(leftovers(&ctx), ["pkg"]);
}

#[test]
fn bad_includes_fail_before_anything_is_written() {
    let ctx = with_demo();
    ctx.write("elsewhere/items.parquet", "not the table");
    ctx.write("elsewhere/assets/x.tif", "x");
    ctx.write("a/notes.txt", "a");
    ctx.write("b/notes.txt", "b");
    for (includes, message) in [
        (
            "--includes elsewhere/items.parquet",
            "cannot include `elsewhere/items.parquet`: it would replace the package's `items.parquet`",
        ),
        (
            "--includes elsewhere/assets",
            "cannot include `elsewhere/assets`: it would replace the package's `assets`",
        ),
        (
            "--includes missing.txt",
            "cannot include `missing.txt`: No such file or directory",
        ),
        (
            "--includes a/notes.txt --includes b/notes.txt",
            "cannot include both `a/notes.txt` and `b/notes.txt`: both would become `notes.txt` in the package",
        ),
    ] {
        let run = ctx.sh(&format!(
            "$STACPKG items from-json items.json | $STACPKG build pkg --no-probe-metadata {includes}"
        ));
        let line = run.error_line(1);
        assert!(line.contains(message), "{line}");
        assert_eq!(leftovers(&ctx), Vec::<String>::new(), "{includes}");
    }
}

#[test]
fn a_build_that_fails_midway_leaves_no_package_and_no_temporary_directory() {
    let ctx = with_demo();
    std::fs::remove_file(ctx.path("item-c/visual.tif")).unwrap();
    let run = ctx.sh("$STACPKG items from-json items.json | $STACPKG build pkg");
    let line = run.error_line(1);
    assert!(line.contains("item `item-c` asset `visual`"), "{line}");
    assert_eq!(leftovers(&ctx), Vec::<String>::new());
    // Same for a packaged-asset copy that cannot read its source.
    let run = ctx.sh("$STACPKG items from-json items.json | $STACPKG build pkg --include-assets --no-probe-metadata");
    let line = run.error_line(1);
    assert!(line.contains("item-c/visual.tif"), "{line}");
    assert_eq!(leftovers(&ctx), Vec::<String>::new());
}

#[test]
fn stdin_must_be_an_items_stream() {
    let ctx = with_demo();
    let run = ctx.sh("$STACPKG items from-json items.json | $STACPKG asset-lock derive --no-probe-metadata | $STACPKG build pkg");
    let line = run.error_line(1);
    assert!(line.contains("asset-lock"), "{line}");
    let run = ctx.sh("$STACPKG build pkg < items.json");
    let line = run.error_line(1);
    assert!(line.contains("not an Arrow IPC stream"), "{line}");
    let run = ctx.sh("$STACPKG build pkg < /dev/null");
    run.error_line(1);
    // An --asset-lock that is an items stream is refused before anything is written.
    let run = ctx.sh("$STACPKG items from-json items.json > items.arrow; $STACPKG build pkg --asset-lock items.arrow < items.arrow");
    let line = run.error_line(1);
    assert!(line.contains("`items.arrow`"), "{line}");
    assert_eq!(leftovers(&ctx), Vec::<String>::new());
}

#[test]
fn inspect_refuses_what_is_not_a_package() {
    let ctx = with_demo();
    ctx.write("half/items.parquet", "x");
    for (path, message) in [
        (
            "nowhere",
            "cannot open package directory `nowhere`: No such file or directory",
        ),
        ("items.json", "`items.json` is not a directory"),
        (
            "item-a",
            "not a stacpkg package directory: item-a missing items.parquet, assets.lock.parquet",
        ),
        (
            "half",
            "not a stacpkg package directory: half missing assets.lock.parquet",
        ),
    ] {
        let run = ctx.run(&["inspect", path], b"");
        let line = run.error_line(1);
        assert!(line.contains(message), "{line}");
        assert!(run.stdout.is_empty());
    }
}
