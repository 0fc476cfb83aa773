use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use stacpkg_test::{concat, demo};

use crate::{convert_demo, ctx};

fn ids(batches: &[RecordBatch]) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let ids = b.column_by_name("id").unwrap().as_string::<i32>();
            ids.iter()
                .map(|v| v.unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn from_json_emits_the_items_layout_and_metadata() {
    let ctx = ctx();
    let run = convert_demo(&ctx, "from-json", "items.json");
    let (schema, batches) = run.ipc();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        &names[..9],
        &[
            "stac_version",
            "stac_extensions",
            "id",
            "links",
            "assets",
            "collection",
            "datetime",
            "bbox",
            "geometry"
        ]
    );
    let mut properties = names[9..].to_vec();
    properties.sort();
    assert_eq!(
        properties,
        names[9..],
        "property columns are sorted by name"
    );
    // Properties that first appear in the second and third items are kept (SPEC §3).
    for late in [
        "start_datetime",
        "end_datetime",
        "oam:producer_name",
        "provider",
        "title",
    ] {
        assert!(names.contains(&late), "{late} missing from {names:?}");
    }
    let meta = schema.metadata();
    assert_eq!(meta["stacpkg:schema-kind"], "items");
    assert_eq!(meta["stacpkg:schema-version"], "v1");
    assert_eq!(meta["stac_geoparquet:version"], "1.0.0");
    assert_eq!(meta["stac-geoparquet"], r#"{"version":"1.0.0"}"#);
    let geo: serde_json::Value = serde_json::from_str(&meta["geo"]).unwrap();
    assert_eq!(geo["version"], "1.1.0");
    assert_eq!(
        geo["columns"]["geometry"]["geometry_types"],
        serde_json::json!(["Point Z", "Polygon"])
    );
    assert_eq!(
        geo["columns"]["geometry"]["bbox"],
        serde_json::json!([16.3, 48.15, 16.45, 48.3])
    );
    let geometry = schema.field_with_name("geometry").unwrap();
    assert_eq!(geometry.data_type(), &DataType::Binary);
    assert_eq!(
        geometry
            .metadata()
            .get("ARROW:extension:name")
            .map(String::as_str),
        Some("geoarrow.wkb")
    );
    assert_eq!(
        schema.field_with_name("datetime").unwrap().data_type(),
        &DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_eq!(ids(&batches), vec!["item-a", "item-b", "item-c"]);
}

#[test]
fn values_follow_the_stac_rules() {
    let ctx = ctx();
    let run = convert_demo(&ctx, "from-json", "items.json");
    let (schema, batches) = run.ipc();
    let batch = concat(&schema, &batches);
    // A null datetime stays null next to its range (item-b): issue 11, defect 7.
    let datetime = batch
        .column_by_name("datetime")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    assert!(datetime.is_null(1));
    let start = batch
        .column_by_name("start_datetime")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    assert_eq!(start.value(1), 1_717_200_000_000_000);
    assert_eq!(datetime.value(2), 1_721_044_800_123_456);
    // Mixed integer and float gsd widens to float64 without losing values.
    let gsd = batch
        .column_by_name("gsd")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert_eq!((gsd.value(0), gsd.value(1), gsd.value(2)), (10.0, 0.5, 2.0));
    // Only STAC datetime fields become timestamps: a date-like title stays a string.
    assert_eq!(
        schema.field_with_name("title").unwrap().data_type(),
        &DataType::Utf8
    );
    assert!(matches!(
        schema.field_with_name("created").unwrap().data_type(),
        DataType::Timestamp(_, _)
    ));
    // Every link member is kept (`method` on item-b's license link).
    let links = batch.column_by_name("links").unwrap().as_list::<i32>();
    let link = links.value(1);
    let link = link.as_struct();
    let method = link
        .column_by_name("method")
        .expect("link member `method` kept");
    assert_eq!(method.as_string::<i32>().value(2), "GET");
    // Z is kept: item-c's point is ISO WKB Point Z with its elevation, and its bbox has z.
    let geometry = batch.column_by_name("geometry").unwrap().as_binary::<i32>();
    let wkb = geometry.value(2);
    assert_eq!(u32::from_le_bytes(wkb[1..5].try_into().unwrap()), 1001);
    assert_eq!(f64::from_le_bytes(wkb[21..29].try_into().unwrap()), 300.0);
    let bbox = batch.column_by_name("bbox").unwrap().as_struct();
    let zmax = bbox
        .column_by_name("zmax")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert_eq!(zmax.value(2), 420.5);
    // A 2D bbox among 3D ones has no z: NaN (as in WKB), which stac-geoparquet can read.
    assert!(zmax.is_valid(0) && zmax.value(0).is_nan());
    let xmax = bbox
        .column_by_name("xmax")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert_eq!(xmax.value(2), 16.5);
}

#[test]
fn from_json_and_from_ndjson_streams_are_byte_identical() {
    let ctx = ctx();
    let json = convert_demo(&ctx, "from-json", "items.json");
    let ndjson = convert_demo(&ctx, "from-ndjson", "items.ndjson");
    assert_eq!(json.stdout, ndjson.stdout);
    // Reading stdin (spooled to a temp file) gives the same stream as reading the file.
    let stdin = ctx
        .run(
            &["items", "from-ndjson", "-"],
            &std::fs::read(demo("items.ndjson")).unwrap(),
        )
        .success();
    assert_eq!(stdin.stdout, ndjson.stdout);
}

#[test]
fn filters_select_the_same_items_in_every_adapter() {
    let ctx = ctx();
    let parquet = ctx.path("items.parquet");
    ctx.sh(&format!(
        "$STACPKG items from-json {} | $STACPKG items to-parquet {}",
        demo("items.json").display(),
        parquet.display()
    ))
    .success();
    let cases: [(&[&str], &[&str]); 5] = [
        (&["--providers", "Provider C"], &["item-c"]),
        (
            &["--providers", "Provider A", "--providers", "Provider B"],
            &["item-a", "item-b"],
        ),
        (&["--collections", "demo-aerial"], &["item-a", "item-b"]),
        (
            &["--collections", "demo-aerial", "--item-ids", "item-b"],
            &["item-b"],
        ),
        (&["--item-ids", "nope"], &[]),
    ];
    for (filters, expected) in cases {
        let sources = [
            ("from-json", demo("items.json")),
            ("from-ndjson", demo("items.ndjson")),
            ("from-parquet", parquet.clone()),
        ];
        for (command, input) in sources {
            let mut args = vec!["items", command, input.to_str().unwrap()];
            args.extend_from_slice(filters);
            let (_, batches) = ctx.run(&args, b"").success().ipc();
            assert_eq!(ids(&batches), expected, "{command} {filters:?}");
        }
    }
}

#[test]
fn empty_selection_is_a_valid_items_stream_with_the_core_columns() {
    let ctx = ctx();
    let run = ctx
        .run(
            &[
                "items",
                "from-json",
                demo("items.json").to_str().unwrap(),
                "--item-ids",
                "none",
            ],
            b"",
        )
        .success();
    let (schema, batches) = run.ipc();
    assert!(batches.is_empty());
    assert_eq!(schema.fields().len(), 9);
    assert_eq!(schema.metadata()["stacpkg:schema-kind"], "items");
}

/// NDJSON of `n` small items; item `late` (1-based) first brings a property, an asset key and an
/// asset member.
fn ndjson_with_late_fields(n: usize, late: usize) -> String {
    let mut out = String::with_capacity(n * 200);
    for i in 1..=n {
        if i == late {
            writeln!(
                out,
                r#"{{"type":"Feature","stac_version":"1.0.0","id":"item-{i}","geometry":null,"properties":{{"datetime":"2024-01-01T00:00:00Z","late_property":"here"}},"links":[],"assets":{{"data":{{"href":"data/{i}.tif","late_member":42}},"late_asset":{{"href":"late/{i}.tif"}}}}}}"#
            )
            .unwrap();
        } else {
            writeln!(
                out,
                r#"{{"type":"Feature","stac_version":"1.0.0","id":"item-{i}","geometry":null,"properties":{{"datetime":"2024-01-01T00:00:00Z"}},"links":[],"assets":{{"data":{{"href":"data/{i}.tif"}}}}}}"#
            )
            .unwrap();
        }
    }
    out
}

#[test]
fn fields_first_seen_in_item_50001_are_kept_across_batches() {
    let ctx = ctx();
    let input = ctx.write("late.ndjson", ndjson_with_late_fields(50_001, 50_001));
    let run = ctx
        .run(
            &[
                "items",
                "from-ndjson",
                input.to_str().unwrap(),
                "--batch-size",
                "1000",
            ],
            b"",
        )
        .success();
    let (schema, batches) = run.ipc();
    assert_eq!(batches.len(), 51);
    assert!(batches.iter().all(|b| b.num_rows() <= 1000));
    let last = batches.last().unwrap();
    let row = last.num_rows() - 1;
    let late = last
        .column_by_name("late_property")
        .expect("new property kept");
    assert_eq!(late.as_string::<i32>().value(row), "here");
    assert!(
        batches[0]
            .column_by_name("late_property")
            .unwrap()
            .is_null(0)
    );
    let assets = last.column_by_name("assets").unwrap().as_struct();
    let late_asset = assets
        .column_by_name("late_asset")
        .expect("new asset key kept")
        .as_struct();
    assert_eq!(
        late_asset
            .column_by_name("href")
            .unwrap()
            .as_string::<i32>()
            .value(row),
        "late/50001.tif"
    );
    let data = assets.column_by_name("data").unwrap().as_struct();
    let member = data
        .column_by_name("late_member")
        .expect("new asset member kept");
    assert_eq!(
        member
            .as_primitive::<arrow_array::types::Int64Type>()
            .value(row),
        42
    );
    assert_eq!(
        schema.field_with_name("late_property").unwrap().data_type(),
        &DataType::Utf8
    );
}

#[test]
fn stream_mode_names_the_item_and_field_that_do_not_fit() {
    let ctx = ctx();
    let input = ctx.write("late.ndjson", ndjson_with_late_fields(50_001, 50_001));
    let run = ctx.run(
        &[
            "items",
            "from-ndjson",
            input.to_str().unwrap(),
            "--batch-size",
            "1000",
            "--stream",
        ],
        b"",
    );
    let line = run.error_line(1);
    assert!(
        line.contains("item 50001 (`item-50001`) on line 50001"),
        "{line}"
    );
    assert!(line.contains("field `assets.data.late_member`"), "{line}");
    assert!(line.contains("--stream"), "{line}");
}

#[test]
fn stream_mode_converts_fitting_input_like_the_default() {
    let ctx = ctx();
    let input = demo("items.ndjson");
    // All three items in the first batch: the stream schema equals the whole-input schema,
    // except that `geo` carries no statistics it cannot know up front.
    let whole = ctx
        .run(&["items", "from-ndjson", input.to_str().unwrap()], b"")
        .success();
    let stream = ctx
        .run(
            &["items", "from-ndjson", input.to_str().unwrap(), "--stream"],
            b"",
        )
        .success();
    let (ws, wb) = whole.ipc();
    let (ss, sb) = stream.ipc();
    assert_eq!(ws.fields(), ss.fields());
    assert_eq!(concat(&ws, &wb).columns(), concat(&ss, &sb).columns());
    let geo: serde_json::Value = serde_json::from_str(&ss.metadata()["geo"]).unwrap();
    assert_eq!(
        geo["columns"]["geometry"]["geometry_types"],
        serde_json::json!([])
    );
}

#[test]
fn geometry_collections_and_relative_datetimes_convert() {
    let ctx = ctx();
    let item = r#"{"type":"Feature","id":"gc","assets":{},
        "geometry":{"type":"GeometryCollection","geometries":[
            {"type":"Point","coordinates":[1,2]},
            {"type":"LineString","coordinates":[[0,0],[3,4]]}]},
        "properties":{"datetime":"2024-01-01T01:00:00+01:00"}}"#;
    let run = ctx.run(&["items", "from-json"], item.as_bytes()).success();
    let (schema, batches) = run.ipc();
    let geo: serde_json::Value = serde_json::from_str(&schema.metadata()["geo"]).unwrap();
    assert_eq!(
        geo["columns"]["geometry"]["geometry_types"],
        serde_json::json!(["GeometryCollection"])
    );
    let datetime = batches[0]
        .column_by_name("datetime")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    assert_eq!(datetime.value(0), 1_704_067_200_000_000);
}

#[test]
fn chunks_with_different_schemas_join_without_losing_values() {
    let ctx = ctx();
    // Each item alone in a chunk (--batch-size 1) has its own schema; the joined schema must
    // widen every chunk: int → float, null → object, a datetime field that is text elsewhere
    // keeps its original text (not a re-rendered timestamp), members first seen later.
    let lines = [
        r#"{"type":"Feature","id":"a","assets":{"x":{"href":"a"}},"properties":{"created":"2024-01-01T00:00:00+01:00","gsd":1,"foo":null}}"#,
        r#"{"type":"Feature","id":"b","assets":{"x":{"href":"b","size":3}},"properties":{"created":"yesterday","gsd":2.5,"foo":{"a":1}}}"#,
        r#"{"type":"Feature","id":"c","assets":{},"properties":{"updated":"2024-02-01T00:00:00Z"}}"#,
    ];
    let input = ctx.write("mixed.ndjson", lines.join("\n") + "\n");
    let one = ctx
        .run(
            &[
                "items",
                "from-ndjson",
                input.to_str().unwrap(),
                "--batch-size",
                "1",
            ],
            b"",
        )
        .success();
    let (schema, batches) = one.ipc();
    assert_eq!(batches.len(), 3);
    let batch = concat(&schema, &batches);
    let created = batch.column_by_name("created").unwrap().as_string::<i32>();
    assert_eq!(created.value(0), "2024-01-01T00:00:00+01:00");
    assert_eq!(created.value(1), "yesterday");
    let gsd = batch
        .column_by_name("gsd")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert_eq!((gsd.value(0), gsd.value(1)), (1.0, 2.5));
    assert!(gsd.is_null(2));
    let foo = batch.column_by_name("foo").unwrap().as_struct();
    assert!(foo.is_null(0));
    assert_eq!(
        foo.column_by_name("a")
            .unwrap()
            .as_primitive::<arrow_array::types::Int64Type>()
            .value(1),
        1
    );
    assert!(matches!(
        schema.field_with_name("updated").unwrap().data_type(),
        DataType::Timestamp(_, _)
    ));
    let x = batch
        .column_by_name("assets")
        .unwrap()
        .as_struct()
        .column_by_name("x")
        .unwrap();
    assert!(x.as_struct().column_by_name("size").unwrap().is_null(0));
    assert!(x.is_null(2));
    // Same values whatever the chunking, and the same as the JSON document reader.
    let whole = ctx
        .run(&["items", "from-ndjson", input.to_str().unwrap()], b"")
        .success();
    let (ws, wb) = whole.ipc();
    assert_eq!(ws, schema);
    assert_eq!(concat(&ws, &wb), batch);
    let doc = format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        lines.join(",")
    );
    let json = ctx.run(&["items", "from-json"], doc.as_bytes()).success();
    let (js, jb) = json.ipc();
    assert_eq!(concat(&js, &jb), batch);
}

#[test]
fn a_type_conflict_in_a_later_chunk_names_the_exact_item() {
    let ctx = ctx();
    let mut text = String::new();
    for i in 1..=250 {
        let gsd = if i == 217 { r#""ten""# } else { "10" };
        text.push_str(&format!(
            "{{\"type\":\"Feature\",\"id\":\"i{i}\",\"assets\":{{}},\"properties\":{{\"gsd\":{gsd}}}}}\n"
        ));
    }
    ctx.write("conflict.ndjson", text);
    for batch_size in ["1", "7", "100", "64000"] {
        let run = ctx.run(
            &[
                "items",
                "from-ndjson",
                "conflict.ndjson",
                "--batch-size",
                batch_size,
            ],
            b"",
        );
        assert_eq!(
            run.error_line(1),
            "stacpkg: error: `conflict.ndjson`: item 217 (`i217`) on line 217: field `properties.gsd` is string here but integer in earlier items",
            "--batch-size {batch_size}"
        );
        assert!(run.stdout.is_empty());
    }
}

#[test]
fn a_repeated_json_key_keeps_its_last_value_everywhere() {
    let ctx = ctx();
    let item = r#"{"type":"Feature","id":"a","properties":{"gsd":1,"gsd":2},"assets":{"x":{"href":"first","href":"last"}}}"#;
    for command in ["from-json", "from-ndjson"] {
        let (schema, batches) = ctx
            .run(&["items", command], item.as_bytes())
            .success()
            .ipc();
        let batch = concat(&schema, &batches);
        let gsd = batch.column_by_name("gsd").unwrap();
        assert_eq!(
            gsd.as_primitive::<arrow_array::types::Int64Type>().value(0),
            2,
            "{command}"
        );
        let assets = batch.column_by_name("assets").unwrap().as_struct();
        let href = assets
            .column_by_name("x")
            .unwrap()
            .as_struct()
            .column_by_name("href")
            .unwrap();
        assert_eq!(href.as_string::<i32>().value(0), "last", "{command}");
    }
}

/// `n` items of about 4 KB as JSON texts: escapes, non-ASCII, nested values, negative zero, and
/// from item `late` (1-based) on, a property and an asset that earlier items lack.
fn collection_features(n: usize, late: usize) -> Vec<String> {
    let pad = "x".repeat(3500);
    (1..=n)
        .map(|i| {
            let (late, late_asset) = if i >= late {
                (
                    r#","late":{"v":[1,2.5,null]}"#,
                    r#","thumb":{"href":"t.png","roles":["thumbnail"]}"#,
                )
            } else {
                ("", "")
            };
            format!(
                r#"{{"type":"Feature","stac_version":"1.0.0","id":"it\"em-{i}","geometry":{{"type":"Point","coordinates":[{i}.5,-0.0]}},"bbox":[{i}.5,-0.0,{i}.5,-0.0],"properties":{{"datetime":"2024-01-01T00:00:00Z","title":"Sø \\ ]}} {{[ \u00e9 {pad}","n":{i}{late}}},"links":[],"assets":{{"data":{{"href":"data/{i}.tif","roles":["data"]}}{late_asset}}}}}"#
            )
        })
        .collect()
}

#[test]
fn a_large_item_collection_converts_exactly_like_the_same_items_as_ndjson() {
    let ctx = ctx();
    // About 10 MB: more than one chunk of features, with fields first seen in the last chunk.
    let features = collection_features(2_600, 2_500);
    let doc = format!(
        "{{ \"type\" : \"FeatureCollection\",\n \"links\": [{{\"rel\":\"next\",\"href\":\"x?a=]\"}}],\n \"features\" : [\n{}\n ],\n \"numberMatched\": 2600 }}\n",
        features.join(" ,\n")
    );
    assert!(doc.len() > 9 << 20, "{} bytes", doc.len());
    ctx.write("big.json", &doc);
    ctx.write("big.ndjson", features.join("\n") + "\n");
    let json = ctx.run(&["items", "from-json", "big.json"], b"").success();
    let ndjson = ctx
        .run(&["items", "from-ndjson", "big.ndjson"], b"")
        .success();
    assert_eq!(json.stdout, ndjson.stdout);
    let (schema, batches) = json.ipc();
    let batch = concat(&schema, &batches);
    assert_eq!(batch.num_rows(), 2_600);
    assert_eq!(ids(&batches)[2_599], "it\"em-2600");
    let late = batch.column_by_name("late").unwrap();
    assert_eq!(late.null_count(), 2_499);
    // Standard input (spooled) reads the same way.
    let stdin = ctx
        .run(&["items", "from-json", "-"], doc.as_bytes())
        .success();
    assert_eq!(stdin.stdout, json.stdout);
}

#[test]
fn errors_deep_in_a_large_item_collection_are_worded_as_by_the_sequential_reader() {
    let ctx = ctx();
    let features = collection_features(2_600, usize::MAX);
    let doc = |features: &[String]| {
        format!(
            "{{\"type\":\"FeatureCollection\",\"features\":[\n{}\n]}}",
            features.join(",\n")
        )
    };
    let with = |at: usize, feature: String| {
        let mut features = features.clone();
        features[at - 1] = feature;
        doc(&features)
    };
    let cases = [
        (
            "conflict.json",
            with(
                2_300,
                features[2_299].replace(r#""n":2300"#, r#""n":"ten""#),
            ),
            "stacpkg: error: `conflict.json`: item 2300 (`it\"em-2300`): field `properties.n` is string here but integer in earlier items",
        ),
        (
            "parse.json",
            with(
                2_300,
                features[2_299].replace(r#""n":2300"#, r#""n":2300."#),
            ),
            "stacpkg: error: invalid JSON in `parse.json`: invalid number at line 2301 column 3738",
        ),
        (
            "list.json",
            with(2_300, "[1]".into()),
            "stacpkg: error: `list.json`: expected a STAC Item, STAC ItemCollection, or GeoJSON FeatureCollection, found feature 2300 that is a list",
        ),
        (
            "trailing.json",
            doc(&features) + " x",
            "stacpkg: error: invalid JSON in `trailing.json`: trailing characters at line 2602 column 4",
        ),
        (
            "untyped.json",
            doc(&features).replacen(r#""type":"FeatureCollection","#, "", 1),
            "stacpkg: error: `untyped.json`: expected a STAC Item, STAC ItemCollection, or GeoJSON FeatureCollection, found an object without `type`",
        ),
    ];
    for (name, text, expected) in cases {
        ctx.write(name, &text);
        let run = ctx.run(&["items", "from-json", name], b"");
        assert_eq!(run.error_line(1), expected, "{name}");
        assert!(run.stdout.is_empty(), "{name}");
    }
}
