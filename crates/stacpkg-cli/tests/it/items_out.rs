//! `items to-ndjson` and `items to-json`: STAC Items back out of an items stream.
//!
//! The guarantee (issue 11): NDJSON → `from-ndjson` → `to-parquet` → `from-parquet` →
//! `to-ndjson` gives every item back as the same JSON value, up to what the README states:
//! datetime fields compare as instants (written in UTC with `Z`), explicit `null`s of optional
//! members may come back absent, and items without `stac_extensions` or `links` get empty lists.
//! Checked in Python against the demo, generated Sentinel-2-like items and a file of tricky
//! values, with pystac, stac-geoparquet and geopandas reading what we write.

use std::process::Command;

use serde_json::{Value, json};
use stacpkg_test::{TestContext, demo, python};

use crate::ctx;

/// Items with values that are easy to get wrong, as NDJSON.
fn tricky_items() -> String {
    let items = [
        json!({
            "type": "Feature", "stac_version": "1.1.0",
            "stac_extensions": ["https://stac-extensions.github.io/eo/v1.1.0/schema.json"],
            "id": "tricky-1 ünïcødé 🙂",
            "geometry": {"type": "GeometryCollection", "geometries": [
                {"type": "Point", "coordinates": [1.5, -0.0, 12.25]},
                {"type": "Polygon", "coordinates": [
                    [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
                    [[2, 2], [3, 2], [3, 3], [2, 2]]]}]},
            "bbox": [0, -0.0, 1, 10, 10, 12.25],
            "properties": {
                "datetime": "2024-02-29T23:59:59.999999Z",
                "created": "2024-03-01T01:00:00+01:00",
                "title": "quotes \" backslash \\ newline \n tab \t bell \u{7} end",
                "empty_list": [],
                "nested": {"a": {"b": [{"c": null, "d": "x"}, {"d": "y"}]}, "n": 121.62421300000001},
                "ints": [9007199254740993i64, -1, 0],
                "mixed_null_list": [1.5, null, 2.5],
                "flag": false,
                "date_like_title": "20240101",
            },
            "links": [
                {"href": "https://example.com/a?b=c&d=e", "rel": "self", "type": "application/geo+json"},
                {"href": "./x.json", "rel": "license", "method": "GET", "headers": {"Accept": "*/*"}}],
            "assets": {
                "data": {"href": "s3://bucket/key with spaces/x.tif", "roles": ["data"],
                         "raster:bands": [{"nodata": 0, "scale": 0.0001, "histogram": {"buckets": [1, 2, 3]}}],
                         "empty": []},
                "thumb": {"href": "./thumb.png", "title": "Ω"}},
            "collection": "c1",
            "foreign": {"kept": "at the top level"},
        }),
        json!({
            "type": "Feature", "stac_version": "1.1.0", "stac_extensions": [],
            "id": "tricky-2",
            "geometry": {"type": "MultiPolygon", "coordinates": [
                [[[0, 0], [1, 0], [1, 1], [0, 0]]],
                [[[5, 5], [6, 5], [6, 6], [5, 5]], [[5.2, 5.1], [5.3, 5.1], [5.3, 5.2], [5.2, 5.1]]]]},
            "bbox": [0, 0, 6, 6],
            "properties": {
                "datetime": null,
                "start_datetime": "2024-01-01T00:00:00Z",
                "end_datetime": "2024-12-31T23:59:59Z",
                "nested": {"a": {"b": []}, "n": 5e-324},
                "ints": [],
                "mixed_null_list": [],
                "flag": true,
            },
            "links": [],
            "assets": {"data": {"href": "https://h/x.tif", "roles": ["data", "overview"]}},
            "collection": "c1",
        }),
        json!({
            "type": "Feature", "stac_version": "1.1.0", "stac_extensions": [],
            "id": "tricky-3",
            "geometry": null,
            "properties": {"datetime": "1969-12-31T23:59:59.5Z"},
            "links": [],
            "assets": {},
        }),
        json!({
            "type": "Feature", "stac_version": "1.1.0", "stac_extensions": [],
            "id": "tricky-4",
            "geometry": {"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]},
            "bbox": [1, 2, 3, 4],
            "properties": {"datetime": "2030-01-01T00:00:00Z", "nested": {"n": 1e300}},
            "links": [],
            "assets": {"thumb": {"href": "t.png"}},
            "collection": "c2",
        }),
    ];
    items.iter().map(|i| format!("{i}\n")).collect()
}

/// The Python check of the round-trip guarantee: `source` and `result` are NDJSON files.
const SAME_ITEMS: &str = r#"
import json, sys
from datetime import datetime
import pystac

DATETIME_FIELDS = {"datetime", "start_datetime", "end_datetime", "created", "updated",
                   "expires", "published", "unpublished"}

def instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))

def norm(value, path=()):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            here = path + (k,)
            if v is None and here != ("properties", "datetime"):
                continue  # an explicit null of an optional member may come back absent
            if len(here) == 2 and here[0] == "properties" and k in DATETIME_FIELDS and isinstance(v, str):
                v = instant(v)
            out[k] = norm(v, here)
        return out
    if isinstance(value, list):
        return [norm(v, path + ("[]",)) for v in value]
    return value

source = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
result = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert len(source) == len(result), (len(source), len(result))
for want, got in zip(source, result):
    want = dict(want)
    want.setdefault("stac_extensions", [])
    want.setdefault("links", [])
    assert norm(got) == norm(want), f"\nwant {norm(want)}\ngot  {norm(got)}"
    assert got["type"] == "Feature"
    item = pystac.Item.from_dict(got)
    assert item.id == want["id"]
print(len(result))
"#;

fn run_python(python: &std::path::Path, ctx: &TestContext, script: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .current_dir(ctx.dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// NDJSON → items → GeoParquet → items → NDJSON, then the Python check.
fn round_trip(python: &std::path::Path, ctx: &TestContext, source: &str) -> usize {
    ctx.sh(&format!(
        "set -e; $STACPKG items from-ndjson {source} | $STACPKG items to-parquet rt.parquet; \
         $STACPKG items from-parquet rt.parquet | $STACPKG items to-ndjson rt.ndjson"
    ))
    .success();
    run_python(python, ctx, SAME_ITEMS, &[source, "rt.ndjson"])
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn ndjson_round_trips_the_demo_generated_and_tricky_items_as_the_same_json() {
    let Some(python) = python() else { return };
    let ctx = ctx();
    std::fs::copy(demo("items.ndjson"), ctx.path("demo.ndjson")).unwrap();
    assert_eq!(round_trip(&python, &ctx, "demo.ndjson"), 3);
    let generator = stacpkg_test::repo_root().join("bench/gen_items.py");
    let status = Command::new("python3")
        .arg(&generator)
        .arg("300")
        .stdout(std::fs::File::create(ctx.path("gen.ndjson")).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(round_trip(&python, &ctx, "gen.ndjson"), 300);
    ctx.write("tricky.ndjson", tricky_items());
    assert_eq!(round_trip(&python, &ctx, "tricky.ndjson"), 4);
    // The foreign top-level member came back at the top level, not in properties.
    let out = std::fs::read_to_string(ctx.path("rt.ndjson")).unwrap();
    let first: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["foreign"], json!({"kept": "at the top level"}));
    assert!(first["properties"].get("foreign").is_none());
}

#[test]
fn to_json_writes_one_item_collection_of_the_same_items() {
    let ctx = ctx();
    ctx.write("tricky.ndjson", tricky_items());
    let run = ctx
        .sh(
            "set -e; $STACPKG items from-ndjson tricky.ndjson > items.arrow; \
             $STACPKG items to-ndjson < items.arrow > lines.ndjson; \
             $STACPKG items to-json out/collection.json < items.arrow",
        )
        .success();
    assert_eq!(run.stderr, "");
    let collection: Value =
        serde_json::from_str(&std::fs::read_to_string(ctx.path("out/collection.json")).unwrap())
            .unwrap();
    assert_eq!(collection["type"], "FeatureCollection");
    let lines: Vec<Value> = std::fs::read_to_string(ctx.path("lines.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(collection["features"].as_array().unwrap(), &lines);
    // An empty stream is an empty collection.
    let run = ctx
        .sh("$STACPKG items from-ndjson tricky.ndjson --item-ids none | $STACPKG items to-json")
        .success();
    let empty: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(empty, json!({"type": "FeatureCollection", "features": []}));
}

#[test]
fn a_value_without_a_json_form_fails_naming_the_item_and_leaves_no_file() {
    use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray, StructArray};
    use arrow_schema::{DataType, Field, Fields, Schema};
    use std::sync::Arc;
    let ctx = ctx();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("assets", DataType::Struct(Fields::empty()), true),
        Field::new("cloud_cover", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["fine", "bad"])) as ArrayRef,
            Arc::new(StructArray::new_empty_fields(2, None)),
            Arc::new(Float64Array::from(vec![1.0, f64::NAN])),
        ],
    )
    .unwrap();
    ctx.write("out.ndjson", "existing");
    let run = ctx.run(
        &["items", "to-ndjson", "out.ndjson"],
        &stacpkg_test::write_ipc(&schema, &[batch]),
    );
    assert_eq!(
        run.error_line(1),
        "stacpkg: error: `the items stream`: item 2 (`bad`): column `cloud_cover`: NaN has no JSON form"
    );
    assert_eq!(
        std::fs::read_to_string(ctx.path("out.ndjson")).unwrap(),
        "existing"
    );
    let leftovers = std::fs::read_dir(ctx.dir()).unwrap().count();
    assert_eq!(leftovers, 1, "a temporary file was left behind");
}

#[test]
fn stac_geoparquet_pystac_and_geopandas_read_what_we_write() {
    let Some(python) = python() else { return };
    let ctx = ctx();
    std::fs::copy(demo("items.ndjson"), ctx.path("demo.ndjson")).unwrap();
    let generator = stacpkg_test::repo_root().join("bench/gen_items.py");
    let status = Command::new("python3")
        .arg(&generator)
        .arg("200")
        .stdout(std::fs::File::create(ctx.path("gen.ndjson")).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    ctx.sh("set -e; for f in demo gen; do \
           $STACPKG items from-ndjson $f.ndjson | $STACPKG items to-parquet $f.parquet; done; \
         $STACPKG items from-ndjson demo.ndjson | $STACPKG build pkg --no-probe-metadata")
        .success();
    let script = r#"
import json, sys
import pyarrow.parquet as pq
import stac_geoparquet.arrow as sga
import geopandas, shapely.geometry
for name, parquet in [("demo", "pkg/items.parquet"), ("gen", "gen.parquet"), ("demo", "demo.parquet")]:
    source = [json.loads(l) for l in open(f"{name}.ndjson") if l.strip()]
    items = list(sga.stac_table_to_items(pq.read_table(parquet)))
    assert [i["id"] for i in items] == [s["id"] for s in source], parquet
    frame = geopandas.read_parquet(parquet)
    assert list(frame["id"]) == [s["id"] for s in source]
    for geometry, item in zip(frame.geometry, source):
        if item["geometry"] is None:
            assert geometry is None, (parquet, item["id"])
            continue
        want = shapely.geometry.shape(item["geometry"])
        assert geometry.equals_exact(want, tolerance=0), (parquet, item["id"], geometry.wkt, want.wkt)
        assert geometry.has_z == want.has_z, (parquet, item["id"])
print("ok")
"#;
    assert_eq!(run_python(&python, &ctx, script, &[]).trim(), "ok");
}
