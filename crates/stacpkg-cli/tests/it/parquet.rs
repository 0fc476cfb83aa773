use std::process::Command;

use stacpkg_test::{columns_as, concat, demo, python, read_parquet};

use crate::{convert_demo, ctx};

fn demo_parquet(ctx: &stacpkg_test::TestContext, name: &str) -> std::path::PathBuf {
    let out = ctx.path(name);
    ctx.sh(&format!(
        "umask 022; $STACPKG items from-ndjson {} | $STACPKG items to-parquet {}",
        demo("items.ndjson").display(),
        out.display()
    ))
    .success();
    out
}

#[test]
fn to_parquet_joins_small_batches_into_one_row_group_with_geo_metadata() {
    let ctx = ctx();
    let out = ctx.path("nested/dir/items.parquet");
    ctx.sh(&format!(
        "$STACPKG items from-ndjson --batch-size 1 {} | $STACPKG items to-parquet {}",
        demo("items.ndjson").display(),
        out.display()
    ))
    .success();
    let (schema, batches, row_groups) = read_parquet(&out);
    // Three one-row batches are far below the row-group budget: one row group.
    assert_eq!(row_groups, 1);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    let geo: serde_json::Value = serde_json::from_str(&schema.metadata()["geo"]).unwrap();
    assert_eq!(geo["primary_column"], "geometry");
    assert_eq!(geo["columns"]["geometry"]["encoding"], "WKB");
    assert_eq!(
        geo["columns"]["geometry"]["covering"]["bbox"]["xmin"],
        serde_json::json!(["bbox", "xmin"])
    );
    assert!(geo["columns"]["geometry"].get("crs").is_none());
    assert_eq!(schema.metadata()["stacpkg:schema-kind"], "items");
}

#[cfg(unix)]
#[test]
fn written_files_get_the_usual_permissions_not_temp_file_ones() {
    use std::os::unix::fs::PermissionsExt;
    let ctx = ctx();
    let file = demo_parquet(&ctx, "items.parquet");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    // The test runs with the usual umask 022 (set explicitly so the check cannot drift).
    assert_eq!(mode, 0o644, "mode {mode:o}");
}

#[test]
fn from_parquet_to_parquet_round_trips_every_row_and_value() {
    let ctx = ctx();
    let first = demo_parquet(&ctx, "first.parquet");
    let second = ctx.path("second.parquet");
    ctx.sh(&format!(
        "$STACPKG items from-parquet --batch-size 2 {} | $STACPKG items to-parquet {}",
        first.display(),
        second.display()
    ))
    .success();
    let (s1, b1, _) = read_parquet(&first);
    let (s2, b2, groups) = read_parquet(&second);
    assert_eq!(groups, 1);
    assert_eq!(s1, s2, "schema and metadata survive the round trip");
    assert_eq!(concat(&s1, &b1), concat(&s2, &b2));
    // And the Parquet values equal the stream that made them.
    let stream = convert_demo(&ctx, "from-ndjson", "items.ndjson");
    let (ss, sb) = stream.ipc();
    assert_eq!(
        columns_as(&concat(&ss, &sb), &s2),
        concat(&s2, &b2).columns()
    );
}

#[test]
fn from_parquet_batches_are_bounded_by_batch_size() {
    let ctx = ctx();
    let file = demo_parquet(&ctx, "items.parquet");
    let run = ctx
        .run(
            &[
                "items",
                "from-parquet",
                file.to_str().unwrap(),
                "--batch-size",
                "1",
            ],
            b"",
        )
        .success();
    let (_, batches) = run.ipc();
    assert_eq!(
        batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
        vec![1, 1, 1]
    );
}

#[test]
fn pyarrow_and_duckdb_read_the_file_and_geo_is_geoparquet_1_1() {
    let Some(python) = python() else { return };
    let ctx = ctx();
    let file = demo_parquet(&ctx, "items.parquet");
    let script = r#"
import json, sys
import pyarrow.parquet as pq
import duckdb
path = sys.argv[1]
table = pq.read_table(path)
assert table.num_rows == 3, table.num_rows
rows = table.to_pylist()
assert [r["id"] for r in rows] == ["item-a", "item-b", "item-c"]
assert rows[1]["gsd"] == 0.5 and rows[0]["gsd"] == 10.0
assert rows[2]["bbox"]["zmax"] == 420.5
assert rows[1]["links"][2]["method"] == "GET"
assert str(table.schema.field("datetime").type) == "timestamp[us, tz=UTC]"
assert table.schema.field("geometry").metadata[b"ARROW:extension:name"] == b"geoarrow.wkb"
geo = json.loads(pq.read_schema(path).metadata[b"geo"])
col = geo["columns"]["geometry"]
# GeoParquet 1.1: required keys, allowed values, and a covering that names real columns.
assert geo["version"] == "1.1.0" and geo["primary_column"] == "geometry"
assert col["encoding"] == "WKB"
allowed = {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection"}
assert all(t.removesuffix(" Z") in allowed for t in col["geometry_types"]), col
assert col["geometry_types"] == ["Point Z", "Polygon"], col
assert len(col["bbox"]) == 4 and col["bbox"][0] <= col["bbox"][2] and col["bbox"][1] <= col["bbox"][3]
assert "crs" not in col
for axis in ("xmin", "ymin", "xmax", "ymax"):
    assert col["covering"]["bbox"][axis] == ["bbox", axis]
    assert axis in table.schema.field("bbox").type.names
con = duckdb.connect()
n, ids = con.execute(f"select count(*), string_agg(id, ',' order by id) from read_parquet('{path}')").fetchone()
assert n == 3 and ids == "item-a,item-b,item-c", (n, ids)
(xmax,) = con.execute(f"select max(bbox.xmax) from read_parquet('{path}')").fetchone()
assert xmax == 16.5, xmax
print("ok")
"#;
    let output = Command::new(python)
        .args(["-c", script, file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn from_parquet_reads_snappy_files_written_by_pyarrow() {
    let Some(python) = python() else { return };
    let ctx = ctx();
    let ours = demo_parquet(&ctx, "ours.parquet");
    let theirs = ctx.path("theirs.parquet");
    let status = Command::new(python)
        .args([
            "-c",
            "import sys, pyarrow.parquet as pq; pq.write_table(pq.read_table(sys.argv[1]), sys.argv[2], compression='snappy')",
            ours.to_str().unwrap(),
            theirs.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let run = ctx
        .run(&["items", "from-parquet", theirs.to_str().unwrap()], b"")
        .success();
    let (schema, batches) = run.ipc();
    let (s, b, _) = read_parquet(&ours);
    // pyarrow renames list children `item` → `element`; the values are the same.
    assert_eq!(concat(&schema, &batches).num_rows(), 3);
    for name in ["id", "datetime", "geometry", "gsd", "bbox"] {
        assert_eq!(
            concat(&schema, &batches)
                .column_by_name(name)
                .unwrap()
                .to_data(),
            concat(&s, &b).column_by_name(name).unwrap().to_data(),
            "{name}"
        );
    }
}
