//! `asset-lock from-parquet / to-parquet`: the v1 schema, input normalisation, stream kinds.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use stacpkg_test::{concat, demo, read_parquet, write_ipc};

use crate::{convert_demo, ctx};

fn legacy_stream() -> Vec<u8> {
    let strs = |v: &[Option<&str>]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
    let batch = RecordBatch::try_from_iter(vec![
        (
            "item_id",
            strs(&[Some("item-a"), Some("item-b"), Some("item-c")]),
        ),
        (
            "asset_key",
            strs(&[Some("visual"), Some("data"), Some("signed")]),
        ),
        (
            "href",
            strs(&[
                Some("s3://bucket/item-a/visual.tif"),
                Some("./item-b/data.tif"),
                Some("https://acct.blob.core.windows.net/c/x.tif?sv=1&sig=SECRET"),
            ]),
        ),
        (
            "size",
            Arc::new(Int32Array::from(vec![Some(10), None, Some(30)])) as ArrayRef,
        ),
        // The original's checksum helpers accept `ALGORITHM:HEX` as well as multihashes.
        (
            "file_checksum",
            strs(&[
                Some("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
                None,
                Some("1114a9993e364706816aba3e25717850c26c9cd0d89d"),
            ]),
        ),
    ])
    .unwrap();
    write_ipc(&batch.schema(), &[batch])
}

#[test]
fn to_parquet_writes_the_v1_schema_from_legacy_rows() {
    let ctx = ctx();
    let run = ctx.run(
        &["asset-lock", "to-parquet", "assets.lock.parquet"],
        &legacy_stream(),
    );
    let run = run.success();
    // The signed URL's query never reaches the lock, stdout or stderr; stderr says how many.
    assert!(!run.stderr.contains("SECRET"));
    assert_eq!(
        run.stderr,
        "stacpkg: warning: left the query strings of 1 signed or parameterised hrefs out of `assets.lock.parquet`; only their unsigned locations are kept\n"
    );
    let (schema, batches, _) = read_parquet(&ctx.path("assets.lock.parquet"));
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "item_id",
            "asset_key",
            "store_type",
            "store_container",
            "store_endpoint_url",
            "key",
            "size_bytes",
            "etag",
            "last_modified",
            "file_checksum"
        ]
    );
    assert!(!schema.field(0).is_nullable() && !schema.field(1).is_nullable());
    assert!(schema.fields()[2..].iter().all(|f| f.is_nullable()));
    assert_eq!(schema.field(6).data_type(), &DataType::Int64);
    assert_eq!(schema.metadata()["stacpkg:schema-kind"], "asset-lock");
    assert_eq!(schema.metadata()["stacpkg:schema-version"], "v1");
    let batch = concat(&schema, &batches);
    let text = |name: &str| -> Vec<Option<String>> {
        batch
            .column_by_name(name)
            .unwrap()
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    };
    assert_eq!(
        text("store_type"),
        [Some("s3".into()), Some("file".into()), Some("https".into())]
    );
    assert_eq!(
        text("store_container"),
        [
            Some("bucket".into()),
            None,
            Some("https://acct.blob.core.windows.net".into())
        ]
    );
    assert_eq!(
        text("key"),
        [
            Some("item-a/visual.tif".into()),
            Some("./item-b/data.tif".into()),
            Some("c/x.tif".into())
        ]
    );
    let size = batch
        .column_by_name("size_bytes")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert_eq!(size.iter().collect::<Vec<_>>(), [Some(10), None, Some(30)]);
    assert_eq!(
        text("file_checksum"),
        [
            Some("1220ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into()),
            None,
            Some("1114a9993e364706816aba3e25717850c26c9cd0d89d".into())
        ]
    );
    let bytes = std::fs::read(ctx.path("assets.lock.parquet")).unwrap();
    assert!(!bytes.windows(6).any(|w| w == b"SECRET"));
}

#[test]
fn from_parquet_round_trips_and_bounds_batches() {
    let ctx = ctx();
    ctx.run(
        &["asset-lock", "to-parquet", "lock.parquet"],
        &legacy_stream(),
    )
    .success();
    let run = ctx
        .run(
            &[
                "asset-lock",
                "from-parquet",
                "lock.parquet",
                "--batch-size",
                "1",
            ],
            b"",
        )
        .success();
    let (schema, batches) = run.ipc();
    assert_eq!(
        batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
        [1, 1, 1]
    );
    assert_eq!(schema.metadata()["stacpkg:schema-kind"], "asset-lock");
    // And back: the same file, byte for byte in values.
    let again = ctx.run(&["asset-lock", "to-parquet", "again.parquet"], &run.stdout);
    again.success();
    let (s1, b1, _) = read_parquet(&ctx.path("lock.parquet"));
    let (s2, b2, _) = read_parquet(&ctx.path("again.parquet"));
    assert_eq!(concat(&s1, &b1), concat(&s2, &b2));
}

#[test]
fn items_and_locks_do_not_mix() {
    let ctx = ctx();
    let items = convert_demo(&ctx, "from-json", "items.json");
    let run = ctx.run(&["asset-lock", "to-parquet", "lock.parquet"], &items.stdout);
    assert_eq!(
        run.error_line(1),
        "stacpkg: error: stdin is an items stream, but this command needs an asset-lock stream; make one with `stacpkg asset-lock derive` or `asset-lock from-parquet`"
    );
    assert!(!ctx.path("lock.parquet").exists());
    ctx.sh(&format!(
        "$STACPKG items from-json {} | $STACPKG items to-parquet items.parquet",
        demo("items.json").display()
    ))
    .success();
    let run = ctx.run(&["asset-lock", "from-parquet", "items.parquet"], b"");
    assert!(run.error_line(1).starts_with(
        "stacpkg: error: `items.parquet` is an items stream, but this command needs an asset-lock stream"
    ));
}

#[test]
fn a_row_without_item_id_is_named_and_nothing_is_written() {
    let ctx = ctx();
    let strs = |v: &[Option<&str>]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
    let batch = RecordBatch::try_from_iter(vec![
        ("item_id", strs(&[Some("a"), None])),
        ("asset_key", strs(&[Some("x"), Some("y")])),
    ])
    .unwrap();
    let run = ctx.run(
        &["asset-lock", "to-parquet", "lock.parquet"],
        &write_ipc(&batch.schema(), &[batch]),
    );
    assert_eq!(
        run.error_line(1),
        "stacpkg: error: asset lock row 2 has no `item_id`"
    );
    assert!(!ctx.path("lock.parquet").exists());
}

#[test]
fn a_lock_checksum_in_no_accepted_form_is_refused_naming_its_row_and_nothing_is_written() {
    let ctx = ctx();
    let strs = |v: &[Option<&str>]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
    let batch = RecordBatch::try_from_iter(vec![
        ("item_id", strs(&[Some("a"), Some("b")])),
        ("asset_key", strs(&[Some("x"), Some("y")])),
        ("file_checksum", strs(&[None, Some("crc32:1234abcd")])),
    ])
    .unwrap();
    let run = ctx.run(
        &["asset-lock", "to-parquet", "lock.parquet"],
        &write_ipc(&batch.schema(), &[batch]),
    );
    assert_eq!(
        run.error_line(1),
        "stacpkg: error: asset lock row 2 has a `file_checksum` that is no multihash or `ALGORITHM:HEX` checksum: `crc32:1234abcd`"
    );
    assert!(!ctx.path("lock.parquet").exists());
}
