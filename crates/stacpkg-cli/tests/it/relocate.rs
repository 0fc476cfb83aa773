//! `asset-lock relocate` against real servers: http → file, file → S3, S3 → S3 across buckets
//! with their own credentials, S3 → Azure; no-overwrite, keep-going, dry runs, destination
//! locks, option checks, and an interrupted run resumed.

use serde_json::json;
use stacpkg_test::services::{S3, Services};

use crate::ctx;
use crate::stores::{item, lock_rows, valid_lines, write_items};

fn read(ctx: &stacpkg_test::TestContext, name: &str) -> Vec<u8> {
    std::fs::read(ctx.path(name)).unwrap()
}

#[test]
fn http_to_file_to_s3_to_s3_to_azure_keeps_every_byte() {
    let Some(svc) = Services::get("relocate-chain") else {
        return;
    };
    let ctx = ctx();
    // One object above the 5 MiB chunk used below (multipart), one below it (single PUT).
    let big: Vec<u8> = (0..12_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let big_href = svc.put_http("src/big.tif", &big);
    let small_href = svc.put_http("src/small.png", b"small bytes");
    write_items(
        &ctx,
        &[item(
            "item a",
            json!({"visual": {"href": big_href}, "thumbnail": {"href": small_href}}),
        )],
    );
    let env = format!("{} {}", svc.s3_env(), svc.azure_env());
    let prefix = svc.prefix();
    let a = svc.bucket(S3::A);
    let b = svc.bucket(S3::B);
    let az = svc.var("AZURE_CONTAINER");
    let chunk = "--chunk-size-bytes 5MiB --put-max-concurrency 2";
    let run = ctx.sh(&format!(
        "set -e; export {env}
         $STACPKG items from-json items.json | $STACPKG asset-lock derive > http.arrow
         $STACPKG asset-lock relocate --store-type file --key mirror {chunk} < http.arrow > file.arrow
         $STACPKG asset-lock relocate --store-type s3 --store-container {a} --key {prefix}/a {chunk} < file.arrow > s3a.arrow
         $STACPKG asset-lock relocate --store-type s3 --store-container {b} --key {prefix}/b --layout source-key {chunk} < s3a.arrow > s3b.arrow
         $STACPKG asset-lock relocate --store-type az --store-container {az} --key {prefix}/z {chunk} < s3b.arrow > az.arrow
         for lock in file s3a s3b az; do $STACPKG asset-lock validate < $lock.arrow; done"
    ));
    let run = run.success();
    assert_eq!(
        valid_lines(&run.stdout),
        8,
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    assert_eq!(run.stderr, "");

    // Relative --key for file resolves against the working directory; item ids are sanitised.
    assert_eq!(
        std::fs::read(ctx.path("mirror/item_a/visual.tif")).unwrap(),
        big
    );
    assert_eq!(
        std::fs::read(ctx.path("mirror/item_a/thumbnail.png")).unwrap(),
        b"small bytes"
    );
    assert_eq!(
        std::fs::read(svc.s3_path(S3::A, "a/item_a/visual.tif")).unwrap(),
        big
    );
    // source-key keeps the source key under the new prefix.
    let rows = lock_rows(&read(&ctx, "s3b.arrow"));
    let visual = rows.iter().find(|r| r.1 == "visual").unwrap();
    assert_eq!(
        visual.4.as_deref(),
        Some(format!("{prefix}/b/{prefix}/a/item_a/visual.tif").as_str())
    );
    assert_eq!(visual.5, Some(12_000_000));
    // Facts are the destination's: a multipart ETag for the big object, plain MD5 for the small.
    let s3a = lock_rows(&read(&ctx, "s3a.arrow"));
    let big_etag = s3a
        .iter()
        .find(|r| r.1 == "visual")
        .unwrap()
        .6
        .clone()
        .unwrap();
    assert!(big_etag.ends_with("-3\""), "{big_etag}");
    let small_etag = s3a
        .iter()
        .find(|r| r.1 == "thumbnail")
        .unwrap()
        .6
        .clone()
        .unwrap();
    assert!(!small_etag.contains('-'), "{small_etag}");
    // The Azure copy is complete.
    let az_rows = lock_rows(&read(&ctx, "az.arrow"));
    assert_eq!(
        az_rows.iter().find(|r| r.1 == "visual").unwrap().5,
        Some(12_000_000)
    );
}

#[test]
fn no_overwrite_keeps_equal_destinations_and_refuses_different_ones() {
    let Some(svc) = Services::get("relocate-keep") else {
        return;
    };
    let ctx = ctx();
    let href = svc.put_http("k/a.tif", b"0123456789");
    write_items(&ctx, &[item("item-a", json!({"visual": {"href": href}}))]);
    ctx.sh("$STACPKG items from-json items.json | $STACPKG asset-lock derive > src.arrow")
        .success();
    ctx.sh("$STACPKG asset-lock relocate --store-type file --key out < src.arrow > first.arrow")
        .success();
    // What a copy killed before its rename leaves: a staging file beside the destination.
    let staging = ctx.write("out/item-a/visual.tif#7", b"01234");
    let run = ctx
        .sh("$STACPKG asset-lock relocate --store-type file --key out --no-overwrite < src.arrow > again.arrow")
        .success();
    let dest = ctx.path("out/item-a/visual.tif");
    // A relative --key stays relative in the lock (and resolves against the working directory).
    assert_eq!(
        run.stderr,
        "stacpkg: note: item `item-a` asset `visual`: kept the existing `out/item-a/visual.tif` (same size as the source)\n"
    );
    assert_eq!(
        lock_rows(&read(&ctx, "again.arrow")),
        lock_rows(&read(&ctx, "first.arrow"))
    );
    assert!(
        !staging.exists(),
        "the resumed run removes partial leftovers"
    );

    std::fs::write(&dest, b"different length").unwrap();
    let run = ctx.sh(
        "$STACPKG asset-lock relocate --store-type file --key out --no-overwrite < src.arrow > /dev/null",
    );
    assert_eq!(
        run.error_line(1),
        format!(
            "stacpkg: error: item `item-a` asset `visual`: cannot copy `{href}` to `out/item-a/visual.tif`: the destination exists with 16 bytes, the source has 10"
        )
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b"different length");
}

#[test]
fn keep_going_reports_failed_copies_and_keeps_their_planned_rows() {
    let Some(svc) = Services::get("relocate-fail") else {
        return;
    };
    let ctx = ctx();
    let present = svc.put_http("f/ok.tif", b"ok");
    let gone = svc.put_http("f/gone.tif", b"gone");
    write_items(
        &ctx,
        &[item(
            "item-a",
            json!({"a": {"href": present}, "b": {"href": gone}}),
        )],
    );
    ctx.sh("$STACPKG items from-json items.json | $STACPKG asset-lock derive > src.arrow")
        .success();
    std::fs::remove_file(svc.http_path("f/gone.tif")).unwrap();
    let dest = ctx.path("out/item-a/b.tif");

    let run =
        ctx.sh("$STACPKG asset-lock relocate --store-type file --key out < src.arrow > /dev/null");
    assert_eq!(
        run.error_line(1),
        format!(
            "stacpkg: error: item `item-a` asset `b`: cannot copy `{gone}` to `out/item-a/b.tif`: not found"
        )
    );
    let run = ctx.sh(
        "$STACPKG asset-lock relocate --store-type file --key out --keep-going < src.arrow > kept.arrow",
    );
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr,
        format!(
            "stacpkg: warning: item `item-a` asset `b`: cannot copy `{gone}` to `out/item-a/b.tif`: not found\n\
             stacpkg: warning: 1 of 2 copies failed; their rows carry no observed facts\n"
        )
    );
    let rows = lock_rows(&read(&ctx, "kept.arrow"));
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0].6.is_some(),
        "the copied row has the destination's facts"
    );
    assert_eq!((&rows[1].6, &rows[1].7), (&None, &None));
    assert_eq!(rows[1].5, Some(4), "the planned row keeps the source size");
    assert!(!dest.exists());
}

#[test]
fn dry_run_plans_without_touching_anything_and_destination_locks_drive_copies() {
    let ctx = ctx();
    ctx.write("src/a.tif", b"aaa");
    ctx.write("src/sub/b.tif", b"bbbb");
    write_items(
        &ctx,
        &[item(
            "item-a",
            json!({"visual": {"href": "src/a.tif"}, "data": {"href": "src/sub/b.tif"}}),
        )],
    );
    let run = ctx
        .sh(
            "$STACPKG items from-json items.json | $STACPKG asset-lock derive > src.arrow \
             && $STACPKG asset-lock relocate --dry-run --store-type s3 --store-container bucket \
                --store-endpoint-url minio.local:9000/ --source-prefix src/sub --layout source-key --key mirror < src.arrow",
        )
        .success();
    let rows = lock_rows(&run.stdout);
    // Outside the source prefix: unchanged, facts kept.
    let visual = rows.iter().find(|r| r.1 == "visual").unwrap();
    assert_eq!(visual.2.as_deref(), Some("file"));
    assert!(visual.6.is_some());
    // Inside: planned, size kept, other facts cleared.
    let data = rows.iter().find(|r| r.1 == "data").unwrap();
    assert_eq!(
        (data.2.as_deref(), data.3.as_deref(), data.4.as_deref()),
        (Some("s3"), Some("bucket"), Some("mirror/src/sub/b.tif"))
    );
    assert_eq!((data.5, &data.6), (Some(4), &None));
    let (schema, batches) = stacpkg_test::read_ipc(&run.stdout);
    let lock = stacpkg_test::concat(&schema, &batches);
    use arrow_array::cast::AsArray;
    let endpoints = lock
        .column_by_name("store_endpoint_url")
        .unwrap()
        .as_string::<i32>();
    assert!(
        endpoints
            .iter()
            .any(|e| e == Some("https://minio.local:9000"))
    );

    // A destination lock decides where each row goes (matched by item and asset).
    let out = ctx.path("elsewhere/copy.tif");
    let run = ctx
        .sh(&format!(
            "$STACPKG asset-lock relocate --store-type file --key {dir} < src.arrow \
               | $STACPKG asset-lock to-parquet planned.parquet \
             && $STACPKG asset-lock relocate --destination-lock planned.parquet < src.arrow",
            dir = out.parent().unwrap().display()
        ))
        .success();
    let rows = lock_rows(&run.stdout);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.6.is_some()));
}

#[test]
fn destination_options_are_checked_before_stdin_is_read() {
    let ctx = ctx();
    // stdin is a terminal-less empty pipe here; the checks must not need it.
    for (args, message) in [
        (
            "--destination-lock d.parquet --key x",
            "--source-prefix, --store-container, --store-endpoint-url, --key, and --layout are only used with --store-type",
        ),
        (
            "--destination-lock d.parquet --layout source-key",
            "--source-prefix, --store-container, --store-endpoint-url, --key, and --layout are only used with --store-type",
        ),
        (
            "--store-type s3",
            "store_container is required when store_type is s3",
        ),
        (
            "--store-type file",
            "key is required when store_type is file",
        ),
    ] {
        let run = ctx.sh(&format!("$STACPKG asset-lock relocate {args} < /dev/null"));
        assert_eq!(
            run.error_line(2),
            format!("stacpkg: error: {message}"),
            "{args}"
        );
    }
    let run = ctx.sh(
        "$STACPKG asset-lock relocate --store-type file --key k --chunk-size-bytes 0.5 < /dev/null",
    );
    assert!(
        run.error_line(2).ends_with("size must be at least 1 byte"),
        "{}",
        run.stderr
    );
    let run = ctx.sh("$STACPKG asset-lock relocate < /dev/null");
    assert_eq!(run.code, Some(2));

    // A memory limit below one copy's budget fails before any copy.
    ctx.write("a.tif", b"a");
    write_items(
        &ctx,
        &[item("item-a", json!({"visual": {"href": "a.tif"}}))],
    );
    let run = ctx.sh(
        "$STACPKG items from-json items.json | $STACPKG asset-lock derive \
         | $STACPKG asset-lock relocate --store-type file --key out --memory-limit-bytes 1MiB --chunk-size-bytes 1MiB > /dev/null",
    );
    assert_eq!(
        run.error_line(1),
        "stacpkg: error: copy memory limit is smaller than one streaming copy budget (1048576 < 2097152)"
    );
    assert!(!ctx.path("out").exists());
}

#[test]
fn two_sources_on_one_destination_key_are_an_error_naming_both() {
    let ctx = ctx();
    ctx.write("one/x/data.tif", b"1");
    ctx.write("two/x/data.tif", b"22");
    write_items(
        &ctx,
        &[
            item("item-a", json!({"data": {"href": "one/x/data.tif"}})),
            item("item-b", json!({"data": {"href": "two/x/data.tif"}})),
        ],
    );
    let run = ctx.sh(
        "$STACPKG items from-json items.json | $STACPKG asset-lock derive --no-probe \
         | $STACPKG asset-lock relocate --dry-run --store-type s3 --store-container b --source-prefix one --layout source-key > /dev/null; \
         $STACPKG items from-json items.json | $STACPKG asset-lock derive --no-probe \
         | $STACPKG asset-lock relocate --dry-run --store-type s3 --store-container b --layout item-asset --key k > /dev/null",
    );
    // Different item ids keep item-asset keys apart; nothing collides in either run.
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    ctx.write("two/one/x/data.tif", b"333");
    write_items(
        &ctx,
        &[
            item("item-a", json!({"data": {"href": "one/x/data.tif"}})),
            item("item-b", json!({"data": {"href": "/one/x/data.tif"}})),
        ],
    );
    let run = ctx.sh(
        "$STACPKG items from-json items.json | $STACPKG asset-lock derive --no-probe \
         | $STACPKG asset-lock relocate --dry-run --store-type s3 --store-container b --layout source-key",
    );
    assert_eq!(
        run.error_line(1),
        "stacpkg: error: item `item-b` asset `data` (`file:///one/x/data.tif`) and item `item-a` asset `data` (`one/x/data.tif`) would both be relocated to `s3://b/one/x/data.tif`"
    );
}

#[test]
fn an_interrupted_relocation_resumed_with_no_overwrite_completes_without_partial_objects() {
    let Some(svc) = Services::get("relocate-resume") else {
        return;
    };
    let ctx = ctx();
    let mut assets = serde_json::Map::new();
    let mut bodies = Vec::new();
    for i in 0..12u32 {
        let body: Vec<u8> = (0..6_000_000u32).map(|j| ((i + j) % 253) as u8).collect();
        let href = svc.put_http(&format!("resume/a{i:02}.tif"), &body);
        assets.insert(format!("a{i:02}"), json!({"href": href}));
        bodies.push(body);
    }
    write_items(&ctx, &[item("item-a", serde_json::Value::Object(assets))]);
    ctx.sh("$STACPKG items from-json items.json | $STACPKG asset-lock derive > src.arrow")
        .success();
    let env = svc.s3_env();
    let bucket = svc.bucket(S3::A);
    let prefix = svc.prefix();
    let relocate = format!(
        "$STACPKG asset-lock relocate --store-type s3 --store-container {bucket} --key {prefix}/r \
         --chunk-size-bytes 5MiB --max-workers 2 --memory-limit-bytes 20MiB"
    );
    // Kill the first run once some objects are in place (the S3 server writes files).
    let first = svc.s3_path(S3::A, "r/item-a");
    let run = ctx.sh(&format!(
        "export {env}; {relocate} < src.arrow > /dev/null & pid=$!; \
         for _ in $(seq 1 400); do [ \"$(ls {dir} 2>/dev/null | wc -l)\" -ge 2 ] && break; sleep 0.01; done; \
         kill -9 $pid; wait $pid; true",
        dir = first.display()
    ));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // Interrupted for real, and what is there is whole (objects appear only when complete).
    let present: Vec<usize> = (0..12)
        .filter(|i| {
            svc.s3_path(S3::A, &format!("r/item-a/a{i:02}.tif"))
                .exists()
        })
        .collect();
    assert!(
        present.len() < 12,
        "the first run finished before it was killed"
    );
    for i in present {
        let path = svc.s3_path(S3::A, &format!("r/item-a/a{i:02}.tif"));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bodies[i],
            "{}",
            path.display()
        );
    }
    let run = ctx
        .sh(&format!(
            "export {env}; {relocate} --no-overwrite < src.arrow > dst.arrow && $STACPKG asset-lock validate < dst.arrow"
        ))
        .success();
    assert_eq!(valid_lines(&run.stdout), 12);
    for (i, body) in bodies.iter().enumerate() {
        let path = svc.s3_path(S3::A, &format!("r/item-a/a{i:02}.tif"));
        assert_eq!(&std::fs::read(&path).unwrap(), body, "{}", path.display());
    }
}

#[test]
fn no_overwrite_to_s3_writes_missing_small_objects_and_keeps_existing_ones() {
    let Some(svc) = Services::get("relocate-s3-keep") else {
        return;
    };
    let ctx = ctx();
    let href = svc.put_http("s/a.tif", b"small object");
    write_items(&ctx, &[item("item-a", json!({"visual": {"href": href}}))]);
    let env = svc.s3_env();
    let bucket = svc.bucket(S3::A);
    let prefix = svc.prefix();
    let relocate = format!(
        "$STACPKG asset-lock relocate --store-type s3 --store-container {bucket} --key {prefix} --no-overwrite"
    );
    let first = ctx
        .sh(&format!(
            "export {env}; $STACPKG items from-json items.json | $STACPKG asset-lock derive > src.arrow \
             && {relocate} < src.arrow"
        ))
        .success();
    assert_eq!(first.stderr, "");
    assert_eq!(
        std::fs::read(svc.s3_path(S3::A, "item-a/visual.tif")).unwrap(),
        b"small object"
    );
    let again = ctx
        .sh(&format!("export {env}; {relocate} < src.arrow"))
        .success();
    assert!(
        again
            .stderr
            .starts_with("stacpkg: note: item `item-a` asset `visual`: kept the existing `s3://"),
        "{}",
        again.stderr
    );
    assert_eq!(lock_rows(&again.stdout), lock_rows(&first.stdout));
}

#[test]
fn a_terminal_gets_a_progress_line_and_a_pipe_gets_none() {
    let Some(svc) = Services::get("relocate-progress") else {
        return;
    };
    let ctx = ctx();
    // Served at 256 KiB/s: the copy takes about two seconds, several progress ticks.
    let key = format!("{}/p.bin", svc.prefix());
    let path = std::path::Path::new(svc.var("HTTP_ROOT"))
        .join("slow")
        .join(&key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, vec![9u8; 512 * 1024]).unwrap();
    let href = format!("{}/slow/{key}", svc.var("HTTP_URL"));
    write_items(&ctx, &[item("item-a", json!({"data": {"href": href}}))]);
    ctx.sh("$STACPKG items from-json items.json | $STACPKG asset-lock derive > src.arrow")
        .success();
    let run = ctx.tty(
        "$STACPKG asset-lock relocate --store-type file --key out < src.arrow > dst.arrow",
        120,
    );
    assert_eq!(run.code, Some(0));
    let screen = String::from_utf8_lossy(&run.stdout);
    assert!(screen.contains("relocating: 0/1 files"), "{screen:?}");
    assert!(screen.contains("/s"), "{screen:?}");
    // The line is erased at the end: the last thing on the terminal is the erase sequence.
    assert!(screen.trim_end().ends_with("\u{1b}[2K"), "{screen:?}");
    assert_eq!(
        std::fs::read(ctx.path("out/item-a/data.bin"))
            .unwrap()
            .len(),
        512 * 1024
    );

    let run = ctx
        .sh("$STACPKG asset-lock relocate --store-type file --key out2 < src.arrow > dst2.arrow")
        .success();
    assert_eq!(run.stderr, "");
}
