//! `items enrich / add-alternate / promote-alternate / remove-alternate`, and the tutorial flows
//! that combine them with `asset-lock relocate`.

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch, StructArray};
use serde_json::json;
use stacpkg_test::{TestContext, concat, read_ipc};

use crate::ctx;
use crate::stores::{item, valid_lines, write_items};

fn batch_of(stdout: &[u8]) -> RecordBatch {
    let (schema, batches) = read_ipc(stdout);
    concat(&schema, &batches)
}

/// The struct at `path` inside asset `asset` (`path` of member names), if the schema has it.
fn member<'a>(batch: &'a RecordBatch, asset: &str, path: &[&str]) -> Option<&'a dyn Array> {
    let assets = batch.column_by_name("assets")?.as_struct();
    let mut current: &dyn Array = assets.column_by_name(asset)?.as_ref();
    for name in path {
        let s: &StructArray = current.as_struct_opt()?;
        current = s.column_by_name(name)?.as_ref();
    }
    Some(current)
}

/// A string member at `path` in row `row`.
fn text(batch: &RecordBatch, row: usize, asset: &str, path: &[&str]) -> Option<String> {
    let array = member(batch, asset, path)?;
    let strings = array.as_string::<i32>();
    strings
        .is_valid(row)
        .then(|| strings.value(row).to_string())
}

fn extensions(batch: &RecordBatch, row: usize) -> Vec<String> {
    let list = batch
        .column_by_name("stac_extensions")
        .unwrap()
        .as_list::<i32>();
    let values = list.value(row);
    let values = values.as_string::<i32>();
    (0..values.len())
        .map(|i| values.value(i).to_string())
        .collect()
}

const ALTERNATE_EXT: &str = "https://stac-extensions.github.io/alternate-assets/v1.2.0/schema.json";
const FILE_EXT: &str = "https://stac-extensions.github.io/file/v2.1.0/schema.json";

fn remote_items(ctx: &TestContext) {
    write_items(
        ctx,
        &[
            item(
                "item-a",
                json!({
                    "visual": {"href": "https://data.example.com/aerial/item-a/visual.tif", "file:checksum": "1220ab"},
                    "thumbnail": {"href": "https://data.example.com/aerial/item-a/thumb.png"},
                }),
            ),
            item(
                "item-b",
                json!({"visual": {"href": "https://elsewhere.example.org/b/visual.tif"}}),
            ),
        ],
    );
}

#[test]
fn tutorial_s3_alternate_flow_adds_s3_hrefs_next_to_the_originals() {
    let ctx = ctx();
    remote_items(&ctx);
    let run = ctx
        .sh(
            "$STACPKG items from-json items.json > items.arrow \
             && $STACPKG asset-lock derive --no-probe-metadata < items.arrow \
             | $STACPKG asset-lock relocate --dry-run --source-prefix https://data.example.com/aerial \
                 --store-type s3 --store-container my-bucket --store-endpoint-url http://minio:9000 --layout source-key \
             > s3.arrow \
             && $STACPKG items enrich --asset-lock s3.arrow --alternate-key s3 < items.arrow",
        )
        .success();
    let batch = batch_of(&run.stdout);
    assert_eq!(
        text(&batch, 0, "visual", &["alternate", "s3", "href"]).as_deref(),
        Some("s3://my-bucket/aerial/item-a/visual.tif")
    );
    assert_eq!(
        text(
            &batch,
            0,
            "visual",
            &["alternate", "s3", "store_endpoint_url"]
        )
        .as_deref(),
        Some("http://minio:9000")
    );
    // The primary is untouched; file:checksum no longer holds for the matched asset.
    assert_eq!(
        text(&batch, 0, "visual", &["href"]).as_deref(),
        Some("https://data.example.com/aerial/item-a/visual.tif")
    );
    assert_eq!(text(&batch, 0, "visual", &["file:checksum"]), None);
    // Outside the source prefix, the lock row passes through unchanged, so its alternate is
    // its own location.
    assert_eq!(
        text(&batch, 1, "visual", &["alternate", "s3", "href"]).as_deref(),
        Some("https://elsewhere.example.org/b/visual.tif")
    );
    // enrich writes no alternate:name.
    assert!(member(&batch, "visual", &["alternate", "s3", "alternate:name"]).is_none());
    // No sizes in an unprobed lock: only the alternate-assets extension is added.
    assert_eq!(extensions(&batch, 0), [ALTERNATE_EXT.to_string()]);
}

#[test]
fn enrich_sets_sizes_and_accepts_the_key_alias() {
    let ctx = ctx();
    ctx.write("a.tif", [0u8; 321]);
    write_items(
        &ctx,
        &[item("item-a", json!({"visual": {"href": "a.tif"}}))],
    );
    let run = ctx
        .sh("$STACPKG items from-json items.json > items.arrow \
             && $STACPKG asset-lock derive < items.arrow > lock.arrow \
             && $STACPKG items enrich --asset-lock lock.arrow --key local < items.arrow")
        .success();
    let batch = batch_of(&run.stdout);
    let size = member(&batch, "visual", &["file:size"]).unwrap();
    assert_eq!(size.as_primitive::<Int64Type>().value(0), 321);
    assert_eq!(
        extensions(&batch, 0),
        [FILE_EXT, ALTERNATE_EXT].map(String::from)
    );
    assert_eq!(
        text(&batch, 0, "visual", &["alternate", "local", "href"]).as_deref(),
        Some("a.tif")
    );
    let run = ctx.sh("$STACPKG items enrich --asset-lock - < items.arrow");
    assert_eq!(
        run.error_line(2),
        "stacpkg: error: invalid value '-' for '--asset-lock <PATH>': --asset-lock expects a path to an Arrow IPC stream, not stdin"
    );
}

#[test]
fn relocate_assets_flow_makes_local_copies_primary_and_keeps_the_originals() {
    let ctx = ctx();
    ctx.write("remote/item-a/visual.tif", b"visual bytes");
    ctx.write("remote/item-a/thumb.png", b"png");
    let remote = ctx.path("remote");
    write_items(
        &ctx,
        &[item(
            "item-a",
            json!({
                "visual": {"href": format!("file://{}/item-a/visual.tif", remote.display())},
                "thumbnail": {"href": format!("file://{}/item-a/thumb.png", remote.display())},
            }),
        )],
    );
    let run = ctx
        .sh(
            "set -e
             $STACPKG items from-json items.json > items.arrow
             $STACPKG asset-lock derive < items.arrow > remote.arrow
             $STACPKG asset-lock relocate --store-type file --key local < remote.arrow > local.arrow
             $STACPKG items add-alternate --asset-lock local.arrow --alternate-key local < items.arrow \
               | $STACPKG items promote-alternate --key local --mode switch > switched.arrow
             $STACPKG asset-lock derive < switched.arrow | $STACPKG asset-lock validate",
        )
        .success();
    assert_eq!(valid_lines(&run.stdout), 2);
    let batch = batch_of(&std::fs::read(ctx.path("switched.arrow")).unwrap());
    assert_eq!(
        text(&batch, 0, "visual", &["href"]).as_deref(),
        Some("local/item-a/visual.tif")
    );
    assert_eq!(
        text(&batch, 0, "visual", &["alternate:name"]).as_deref(),
        Some("local")
    );
    assert_eq!(
        text(&batch, 0, "visual", &["alternate", "local", "href"]),
        Some(format!("file://{}/item-a/visual.tif", remote.display()))
    );
    assert_eq!(
        text(
            &batch,
            0,
            "visual",
            &["alternate", "local", "alternate:name"]
        )
        .as_deref(),
        Some("original")
    );
    // add-alternate adds the alternate-assets extension too (SPEC §7).
    assert!(extensions(&batch, 0).contains(&ALTERNATE_EXT.to_string()));

    // Switching twice restores the primary; remove-alternate drops the emptied map.
    let run = ctx
        .sh(
            "$STACPKG items promote-alternate --key local --mode switch < switched.arrow \
             | $STACPKG items remove-alternate --key local",
        )
        .success();
    let batch = batch_of(&run.stdout);
    assert_eq!(
        text(&batch, 0, "visual", &["href"]),
        Some(format!("file://{}/item-a/visual.tif", remote.display()))
    );
    assert!(member(&batch, "visual", &["alternate"]).is_none());
}

#[test]
fn promote_replace_infers_s3_endpoints_and_can_drop_the_alternates() {
    let ctx = ctx();
    write_items(
        &ctx,
        &[item(
            "item-a",
            json!({
                "virtual": {
                    "href": "https://bkt.s3.eu-central-1.example.com/k/a.tif",
                    "alternate": {"s3": {"href": "s3://bkt/k/a.tif"}},
                },
                "path": {
                    "href": "http://minio.local:9000/bkt/k/b.tif",
                    "alternate": {"s3": {"href": "s3://bkt/k/b.tif", "alternate:name": "S3 copy"}},
                },
                "plain": {"href": "https://h/c.tif"},
            }),
        )],
    );
    let run = ctx
        .sh("$STACPKG items from-json items.json | $STACPKG items promote-alternate --alternate-key s3 --drop-alternates")
        .success();
    let batch = batch_of(&run.stdout);
    assert_eq!(
        text(&batch, 0, "virtual", &["store_endpoint_url"]).as_deref(),
        Some("https://s3.eu-central-1.example.com")
    );
    assert_eq!(
        text(&batch, 0, "path", &["store_endpoint_url"]).as_deref(),
        Some("http://minio.local:9000")
    );
    assert_eq!(
        text(&batch, 0, "path", &["alternate:name"]).as_deref(),
        Some("S3 copy")
    );
    assert_eq!(
        text(&batch, 0, "virtual", &["alternate:name"]).as_deref(),
        Some("s3")
    );
    assert_eq!(
        text(&batch, 0, "plain", &["href"]).as_deref(),
        Some("https://h/c.tif")
    );
    assert!(member(&batch, "virtual", &["alternate"]).is_none());

    let run = ctx.sh(
        "$STACPKG items from-json items.json | $STACPKG items promote-alternate --key s3 --mode switch --drop-alternates",
    );
    assert_eq!(
        run.error_line(2),
        "stacpkg: error: --drop-alternates is only used with --mode replace"
    );
}

#[test]
fn promoting_a_key_no_asset_has_leaves_the_stream_as_it_was() {
    let ctx = ctx();
    remote_items(&ctx);
    let before = ctx
        .sh("$STACPKG items from-json items.json")
        .success()
        .stdout;
    let after = ctx
        .sh("$STACPKG items from-json items.json | $STACPKG items promote-alternate --key nowhere")
        .success()
        .stdout;
    let (before, after) = (batch_of(&before), batch_of(&after));
    assert_eq!(before.schema(), after.schema());
    assert_eq!(before, after);
}
