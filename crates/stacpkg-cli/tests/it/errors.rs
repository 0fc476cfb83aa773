//! Every error class of SPEC §2: exit code, exactly one `stacpkg: error:` line naming the input,
//! and no output (no stdout bytes, no partial file).

use std::sync::Arc;

use arrow_array::{RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use stacpkg_test::write_ipc;

use crate::ctx;

const ITEM_A: &str = r#"{"type":"Feature","id":"a","assets":{},"properties":{"gsd":1}}"#;

#[test]
fn malformed_json_names_file_line_and_column() {
    let ctx = ctx();
    ctx.write(
        "bad.json",
        "{\n  \"type\": \"FeatureCollection\",\n  \"features\": [,]\n}\n",
    );
    let run = ctx.run(&["items", "from-json", "bad.json"], b"");
    assert_eq!(
        run.error_line(1),
        "stacpkg: error: invalid JSON in `bad.json`: expected value at line 3 column 16"
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn malformed_ndjson_names_the_line() {
    let ctx = ctx();
    ctx.write(
        "bad.ndjson",
        format!("{ITEM_A}\n\n{{\"type\": \"Feature\",\n"),
    );
    let run = ctx.run(&["items", "from-ndjson", "bad.ndjson"], b"");
    let line = run.error_line(1);
    assert!(
        line.starts_with("stacpkg: error: invalid STAC NDJSON in `bad.ndjson` on line 3: "),
        "{line}"
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn wrong_document_type_says_what_was_found() {
    let ctx = ctx();
    ctx.write(
        "catalog.json",
        r#"{"type": "Catalog", "id": "c", "links": []}"#,
    );
    let run = ctx.run(&["items", "from-json", "catalog.json"], b"");
    assert_eq!(
        run.error_line(1),
        "stacpkg: error: `catalog.json`: expected a STAC Item, STAC ItemCollection, or GeoJSON FeatureCollection, found an object of type `Catalog`"
    );
    let run = ctx.run(&["items", "from-json"], b"[1, 2]");
    assert!(run.error_line(1).ends_with("found a list"));
}

#[test]
fn feature_without_id_names_the_item() {
    let ctx = ctx();
    ctx.write(
        "noid.ndjson",
        format!("{ITEM_A}\n{{\"type\":\"Feature\",\"assets\":{{}},\"properties\":{{}}}}\n"),
    );
    let run = ctx.run(&["items", "from-ndjson", "noid.ndjson"], b"");
    assert_eq!(
        run.error_line(1),
        "stacpkg: error: `noid.ndjson`: item 2 on line 2: missing `id`"
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn missing_file_names_the_path() {
    let ctx = ctx();
    for command in ["from-json", "from-ndjson", "from-parquet"] {
        let run = ctx.run(&["items", command, "nope.file"], b"");
        assert_eq!(
            run.error_line(1),
            "stacpkg: error: failed to open `nope.file`: No such file or directory (os error 2)",
            "{command}"
        );
    }
}

#[test]
fn empty_stdin_is_named_for_stream_and_json_readers() {
    let ctx = ctx();
    let run = ctx.run(&["items", "to-parquet", "out.parquet"], b"");
    assert_eq!(
        run.error_line(1),
        "stacpkg: error: stdin is empty: expected an Arrow IPC stream from `stacpkg items from-json`, `from-ndjson` or `from-parquet`"
    );
    assert!(!ctx.path("out.parquet").exists());
    let run = ctx.run(&["items", "from-json"], b"");
    assert_eq!(
        run.error_line(1),
        "stacpkg: error: invalid JSON in `stdin`: EOF while parsing a value at line 1 column 0"
    );
    // Empty NDJSON is zero items, like the original: a valid empty stream.
    let run = ctx.run(&["items", "from-ndjson"], b"").success();
    assert!(run.ipc().1.is_empty());
}

#[test]
fn non_ipc_stdin_is_rejected() {
    let ctx = ctx();
    let run = ctx.run(&["items", "to-parquet", "out.parquet"], ITEM_A.as_bytes());
    let line = run.error_line(1);
    assert!(
        line.starts_with("stacpkg: error: stdin is not an Arrow IPC stream: "),
        "{line}"
    );
    assert!(!ctx.path("out.parquet").exists());
}

fn lock_batch(with_kind: bool) -> (Arc<Schema>, RecordBatch) {
    let mut schema = Schema::new(vec![
        Field::new("item_id", DataType::Utf8, false),
        Field::new("asset_key", DataType::Utf8, false),
    ]);
    if with_kind {
        schema = schema.with_metadata(
            [
                ("stacpkg:schema-kind".to_string(), "asset-lock".to_string()),
                ("stacpkg:schema-version".to_string(), "v1".to_string()),
            ]
            .into_iter()
            .collect::<std::collections::HashMap<_, _>>(),
        );
    }
    let schema = Arc::new(schema);
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["item-a"])),
            Arc::new(StringArray::from(vec!["visual"])),
        ],
    )
    .unwrap();
    (schema, batch)
}

#[test]
fn a_lock_stream_fed_to_an_items_command_is_named_with_the_fix() {
    let ctx = ctx();
    for with_kind in [true, false] {
        let (schema, batch) = lock_batch(with_kind);
        let run = ctx.run(
            &["items", "to-parquet", "out.parquet"],
            &write_ipc(&schema, &[batch]),
        );
        assert_eq!(
            run.error_line(1),
            "stacpkg: error: stdin is an asset-lock stream, but this command needs an items stream; make one with `stacpkg items from-json`, `from-ndjson` or `from-parquet`"
        );
        assert!(!ctx.path("out.parquet").exists());
    }
}

#[test]
fn type_conflict_names_item_field_and_both_types() {
    let ctx = ctx();
    ctx.write(
        "conflict.ndjson",
        format!(
            "{ITEM_A}\n{}\n",
            r#"{"type":"Feature","id":"b","assets":{},"properties":{"gsd":"abc"}}"#
        ),
    );
    let run = ctx.run(&["items", "from-ndjson", "conflict.ndjson"], b"");
    assert_eq!(
        run.error_line(1),
        "stacpkg: error: `conflict.ndjson`: item 2 (`b`) on line 2: field `properties.gsd` is string here but integer in earlier items"
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn a_failed_write_keeps_the_existing_file_and_leaves_no_temp_file() {
    let ctx = ctx();
    let out = ctx.write("items.parquet", "previous contents");
    let run = ctx.run(&["items", "to-parquet", "items.parquet"], b"not arrow");
    run.error_line(1);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous contents");
    let leftovers: Vec<_> = std::fs::read_dir(ctx.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(leftovers, vec!["items.parquet"]);
}

#[test]
fn a_lock_parquet_file_is_not_an_items_file() {
    let ctx = ctx();
    let (schema, batch) = lock_batch(true);
    let lock = ctx.path("assets.lock.parquet");
    let file = std::fs::File::create(&lock).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let run = ctx.run(&["items", "from-parquet", "assets.lock.parquet"], b"");
    assert_eq!(
        run.error_line(1),
        "stacpkg: error: `assets.lock.parquet` is an asset-lock stream, but this command needs an items stream; make one with `stacpkg items from-json`, `from-ndjson` or `from-parquet`"
    );
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let ctx = ctx();
    let cases: [(&[&str], &str); 4] = [
        (
            &["items", "from-ndjson", "--batch-size", "0"],
            "value must be at least 1",
        ),
        (&["items", "from-json", "--bogus"], "--bogus"),
        (&["items"], "requires a subcommand"),
        (&[], "requires a subcommand"),
    ];
    for (args, needle) in cases {
        let run = ctx.run(args, b"");
        let line = run.error_line(2);
        assert!(line.contains(needle), "{args:?}: {line}");
    }
}

#[test]
fn version_and_help_succeed() {
    let ctx = ctx();
    let run = ctx.run(&["--version"], b"").success();
    assert_eq!(
        String::from_utf8(run.stdout).unwrap(),
        format!("stacpkg {}\n", env!("CARGO_PKG_VERSION"))
    );
    let run = ctx.run(&["items", "from-ndjson", "--help"], b"").success();
    let help = String::from_utf8(run.stdout).unwrap();
    assert!(help.contains("Convert STAC NDJSON into items Arrow streams."));
    assert!(help.contains("Library method: stacpkg::items::read_stac"));
}

#[test]
fn an_object_column_without_members_is_named_where_parquet_cannot_store_it() {
    let ctx = ctx();
    // Inside another column, and at the top level next to items that lack it.
    for (items, column) in [
        (
            r#"{"type":"Feature","id":"a","assets":{"x":{"href":"h"}},"properties":{"extra":{"inner":{}}}}"#,
            "extra.inner",
        ),
        (
            r#"{"type":"Feature","id":"a","assets":{"x":{"href":"h"}},"properties":{"extra":{}}}
{"type":"Feature","id":"b","assets":{"x":{"href":"h"}},"properties":{}}"#,
            "extra",
        ),
    ] {
        ctx.write("in.ndjson", items);
        let run =
            ctx.sh("$STACPKG items from-ndjson in.ndjson | $STACPKG items to-parquet out.parquet");
        assert_eq!(
            run.error_line(1),
            format!(
                "stacpkg: error: cannot write `out.parquet`: column `{column}` is an object without members in every item, which Parquet can only store as a top-level column that no item leaves out"
            )
        );
        assert!(!ctx.path("out.parquet").exists());
    }
}
