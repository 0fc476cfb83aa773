//! Scale-out: `--shard K/N|auto` on derive, validate, relocate and build, shard files merged by
//! `asset-lock from-parquet` into exactly the unsharded run, tables read and written through
//! object-store URLs, retried and doubled shards, and the schedulers: a real Slurm array on a
//! one-node cluster (`scripts/services.sh`), the Kubernetes Indexed Job manifest run as its pods
//! would run it, and AWS Batch's variables.

use std::collections::BTreeSet;
use std::path::Path;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use serde_json::{Value, json};
use stacpkg_test::services::{S3, Services};
use stacpkg_test::{TestContext, concat};

use crate::ctx;
use crate::stores::{item, parquet_lock_rows, write_items};

/// `count` items of three assets each (hrefs under `base`), with sizes so that probing is not
/// needed.
fn many_items(ids: &str, count: usize, base: &str) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let assets: serde_json::Map<String, Value> = ["B02", "B03", "visual"]
                .iter()
                .enumerate()
                .map(|(j, key)| {
                    (
                        key.to_string(),
                        json!({"href": format!("{base}/{ids}-{i}/{key}.tif"), "file:size": i * 10 + j}),
                    )
                })
                .collect();
            item(&format!("{ids}-{i}"), Value::Object(assets))
        })
        .collect()
}

/// The rows of a shard file: (item_id, asset_key, position).
fn shard_rows(path: &Path) -> Vec<(String, String, u64)> {
    let (schema, batches, _) = stacpkg_test::read_parquet(path);
    let all: RecordBatch = concat(&schema, &batches);
    let ids = all.column_by_name("item_id").unwrap().as_string::<i32>();
    let keys = all.column_by_name("asset_key").unwrap().as_string::<i32>();
    let positions = all
        .column_by_name("shard_position")
        .expect("a shard file has positions")
        .as_primitive::<UInt64Type>();
    (0..all.num_rows())
        .map(|r| {
            (
                ids.value(r).to_string(),
                keys.value(r).to_string(),
                positions.value(r),
            )
        })
        .collect()
}

fn shard_meta(path: &Path) -> Value {
    let (schema, _, _) = stacpkg_test::read_parquet(path);
    serde_json::from_str(&schema.metadata()["stacpkg:shard"]).unwrap()
}

fn bytes(ctx: &TestContext, name: &str) -> Vec<u8> {
    std::fs::read(ctx.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn a_derive_split_into_shards_merges_into_the_single_run_byte_for_byte() {
    let ctx = ctx();
    write_items(&ctx, &many_items("scene", 200, "s3://archive"));
    ctx.sh(
        "set -e; $STACPKG items from-json items.json > items.arrow
         $STACPKG asset-lock derive --no-probe-metadata < items.arrow | $STACPKG asset-lock to-parquet single.parquet
         for k in 0 1 2 3; do
           $STACPKG asset-lock derive --no-probe-metadata --shard $k/4 < items.arrow | $STACPKG asset-lock to-parquet shard-$k.parquet
         done
         $STACPKG asset-lock from-parquet 'shard-*.parquet' | $STACPKG asset-lock to-parquet merged.parquet
         $STACPKG asset-lock from-parquet shard-3.parquet shard-1.parquet shard-0.parquet shard-2.parquet | $STACPKG asset-lock to-parquet shuffled.parquet",
    )
    .success();
    let single = parquet_lock_rows(&ctx.path("single.parquet"));
    assert_eq!(single.len(), 600);
    // Each shard holds its own rows, with their places in the single run; together, all of them.
    let mut positions = BTreeSet::new();
    for k in 0..4 {
        let rows = shard_rows(&ctx.path(&format!("shard-{k}.parquet")));
        assert!(
            rows.len() > 100 && rows.len() < 200,
            "shard {k}: {} rows",
            rows.len()
        );
        assert!(rows.windows(2).all(|w| w[0].2 < w[1].2));
        for (id, key, position) in rows {
            let at = &single[position as usize];
            assert_eq!((&at.0, &at.1), (&id, &key));
            assert!(positions.insert(position), "row {position} in two shards");
        }
        assert_eq!(
            shard_meta(&ctx.path(&format!("shard-{k}.parquet"))),
            json!({"index": k, "count": 4, "run": "derive"})
        );
    }
    assert_eq!(positions.len(), 600);
    assert_eq!(bytes(&ctx, "merged.parquet"), bytes(&ctx, "single.parquet"));
    assert_eq!(
        bytes(&ctx, "shuffled.parquet"),
        bytes(&ctx, "single.parquet")
    );

    // `--shard auto` finds the same shard in every scheduler's variables.
    for (name, env) in [
        (
            "slurm",
            "SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=7 SLURM_ARRAY_TASK_STEP=2 SLURM_ARRAY_TASK_COUNT=4",
        ),
        ("k8s", "JOB_COMPLETION_INDEX=2 STACPKG_SHARD_COUNT=4"),
        ("batch", "AWS_BATCH_JOB_ARRAY_INDEX=2 STACPKG_SHARD_COUNT=4"),
    ] {
        ctx.sh(&format!(
            "set -e; env {env} $STACPKG asset-lock derive --no-probe-metadata --shard auto < items.arrow | $STACPKG asset-lock to-parquet auto-{name}.parquet"
        ))
        .success();
        assert_eq!(
            bytes(&ctx, &format!("auto-{name}.parquet")),
            bytes(&ctx, "shard-2.parquet"),
            "{name}"
        );
    }

    // One shard file alone stays that shard, for a later step of the same task.
    ctx.sh("set -e; $STACPKG asset-lock from-parquet shard-1.parquet | $STACPKG asset-lock to-parquet again.parquet")
        .success();
    assert_eq!(bytes(&ctx, "again.parquet"), bytes(&ctx, "shard-1.parquet"));
}

#[test]
fn a_sharded_validate_checks_only_its_rows() {
    let ctx = ctx();
    let objects: Vec<Value> = (0..40)
        .map(|i| {
            let path = ctx.write(&format!("data/{i}.bin"), vec![i as u8; 10 + i]);
            item(
                &format!("obj-{i}"),
                json!({"data": {"href": path.to_str().unwrap()}}),
            )
        })
        .collect();
    write_items(&ctx, &objects);
    let run = ctx.sh(
        "set -e; $STACPKG items from-json items.json | $STACPKG asset-lock derive > lock.arrow
         $STACPKG asset-lock validate < lock.arrow > all.jsonl
         for k in 0 1 2; do $STACPKG asset-lock validate --shard $k/3 < lock.arrow > v-$k.jsonl; done
         $STACPKG asset-lock derive --shard 1/3 < <($STACPKG items from-json items.json) | $STACPKG asset-lock validate > from-shard.jsonl",
    );
    run.success();
    let lines = |name: &str| -> Vec<String> {
        String::from_utf8(bytes(&ctx, name))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let all = lines("all.jsonl");
    assert_eq!(all.len(), 40);
    let mut union: Vec<String> = (0..3)
        .flat_map(|k| lines(&format!("v-{k}.jsonl")))
        .collect();
    assert!((0..3).all(|k| lines(&format!("v-{k}.jsonl")).len() < 40));
    union.sort();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(union, sorted);
    // A shard stream is validated whole: its own rows.
    assert_eq!(lines("from-shard.jsonl"), lines("v-1.jsonl"));
}

#[test]
fn bad_shards_and_shard_sets_are_usage_errors_that_write_nothing() {
    let ctx = ctx();
    write_items(&ctx, &many_items("a", 30, "s3://archive"));
    ctx.write(
        "other.json",
        json!({"type": "FeatureCollection", "features": many_items("b", 30, "s3://archive")})
            .to_string(),
    );
    ctx.sh(
        "set -e; $STACPKG items from-json items.json > items.arrow; $STACPKG items from-json other.json > other.arrow
         $STACPKG asset-lock derive --no-probe-metadata < items.arrow | $STACPKG asset-lock to-parquet plain.parquet
         for k in 0 1; do
           $STACPKG asset-lock derive --no-probe-metadata --shard $k/2 < items.arrow | $STACPKG asset-lock to-parquet a2-$k.parquet
           $STACPKG asset-lock derive --no-probe-metadata --shard $k/2 < other.arrow | $STACPKG asset-lock to-parquet b2-$k.parquet
         done
         for k in 0 1 2; do
           $STACPKG asset-lock derive --no-probe-metadata --shard $k/3 < items.arrow | $STACPKG asset-lock to-parquet a3-$k.parquet
         done
         $STACPKG asset-lock derive --no-probe-metadata --shard 0/2 < items.arrow | $STACPKG asset-lock relocate --dry-run --store-type s3 --store-container x | $STACPKG asset-lock to-parquet r2-0.parquet",
    )
    .success();
    for (shard, expected) in [
        (
            "5/4",
            "--shard: shard `5/4`: the index must be below the count (0 to 3)",
        ),
        ("0/0", "--shard: shard `0/0`: the count must be at least 1"),
        (
            "1/x",
            "--shard: shard `1/x`: expected INDEX/COUNT, two whole numbers such as 0/4",
        ),
        (
            "auto",
            "--shard: shard `auto`: no scheduler array variable is set (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX)",
        ),
    ] {
        for command in [
            "derive --no-probe-metadata",
            "validate",
            "relocate --dry-run --store-type s3 --store-container x",
        ] {
            let input = if command.starts_with("derive") {
                "items.arrow"
            } else {
                "plain.arrow"
            };
            let run = ctx.sh(&format!(
                "test -f plain.arrow || $STACPKG asset-lock from-parquet plain.parquet > plain.arrow
                 env -u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX -u AWS_BATCH_JOB_ARRAY_INDEX $STACPKG asset-lock {command} --shard {shard} < {input} > out.bin"
            ));
            assert_eq!(
                run.error_line(2),
                format!("stacpkg: error: {expected}"),
                "{command}"
            );
            assert_eq!(std::fs::metadata(ctx.path("out.bin")).unwrap().len(), 0);
        }
        let run = ctx.sh(&format!(
            "$STACPKG items from-json items.json | $STACPKG build pkg --no-probe-metadata --include-assets --shard {shard}"
        ));
        assert_eq!(run.error_line(2), format!("stacpkg: error: {expected}"));
        assert!(!ctx.path("pkg").exists());
    }
    let run = ctx.sh(
        "$STACPKG asset-lock from-parquet plain.parquet > given.arrow
         $STACPKG items from-json items.json | $STACPKG build pkg --asset-lock given.arrow --shard 0/2",
    );
    assert_eq!(
        run.error_line(2),
        "stacpkg: error: --shard splits a derived lock; it cannot be used with --asset-lock"
    );
    assert!(!ctx.path("pkg").exists());
    let run = ctx.sh("JOB_COMPLETION_INDEX=1 SLURM_ARRAY_TASK_ID=1 $STACPKG asset-lock derive --no-probe-metadata --shard auto < items.arrow");
    assert_eq!(
        run.error_line(2),
        "stacpkg: error: --shard: shard `auto`: variables of several schedulers are set (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX); which one runs this task is unclear"
    );

    for (inputs, expected) in [
        (
            "a2-0.parquet a3-1.parquet",
            "`a3-1.parquet` is shard 1/3 but `a2-0.parquet` is shard 0/2: mixed shard counts",
        ),
        (
            "a2-0.parquet a2-0.parquet a2-1.parquet",
            "`a2-0.parquet` is shard 0/2 again (so is `a2-0.parquet`)",
        ),
        (
            "a3-0.parquet a3-2.parquet",
            "the shard files of `derive` lack shard 1 of 3; merge all the shards of the run",
        ),
        (
            "'a3-*.parquet' plain.parquet",
            "`plain.parquet` is not a shard file, but `a3-0.parquet` is one; merge only the shard files of one run",
        ),
        (
            "r2-0.parquet a2-1.parquet",
            "`a2-1.parquet` is a shard of another run (`derive`) than `r2-0.parquet` (`relocate to s3://x/`)",
        ),
        // Shards of another lock: found in their rows, while merging.
        (
            "a2-0.parquet b2-1.parquet",
            "`b2-1.parquet` repeats row 0 of the whole lock: the shard files are not of one run",
        ),
        ("'nothing-*.parquet'", "no file matches `nothing-*.parquet`"),
    ] {
        let run = ctx.sh(&format!(
            "$STACPKG asset-lock from-parquet {inputs} > merged.arrow"
        ));
        let code = if expected.starts_with("no file") {
            1
        } else {
            2
        };
        let line = run.error_line(code);
        assert!(
            line.starts_with(&format!("stacpkg: error: {expected}")),
            "{inputs}: {line}"
        );
        let run = ctx.sh(&format!(
            "$STACPKG asset-lock from-parquet {inputs} | $STACPKG asset-lock to-parquet merged.parquet"
        ));
        assert_ne!(run.code, Some(0));
        assert!(!ctx.path("merged.parquet").exists(), "{inputs}");
    }
}

#[test]
fn tables_are_read_and_written_through_object_store_urls() {
    let Some(svc) = Services::get("scale-urls") else {
        return;
    };
    let ctx = ctx();
    write_items(&ctx, &many_items("u", 50, "s3://archive"));
    let env = format!("{} {}", svc.s3_env(), svc.azure_env());
    let (a, prefix, az) = (svc.bucket(S3::A), svc.prefix(), svc.var("AZURE_CONTAINER"));
    ctx.sh(&format!(
        "set -e; export {env}
         $STACPKG items from-json items.json | $STACPKG items to-parquet items.parquet
         $STACPKG items from-json items.json | $STACPKG items to-parquet s3://{a}/{prefix}/items.parquet
         $STACPKG items from-parquet s3://{a}/{prefix}/items.parquet | $STACPKG items to-parquet az://{az}/{prefix}/items.parquet
         $STACPKG items from-parquet az://{az}/{prefix}/items.parquet | $STACPKG items to-parquet file://$PWD/from-az.parquet
         $STACPKG items from-parquet items.parquet | $STACPKG asset-lock derive --no-probe-metadata | $STACPKG asset-lock to-parquet s3://{a}/{prefix}/lock.parquet
         $STACPKG asset-lock from-parquet s3://{a}/{prefix}/lock.parquet | $STACPKG asset-lock to-parquet lock.parquet"
    ))
    .success();
    assert_eq!(
        std::fs::read(svc.s3_path(S3::A, "items.parquet")).unwrap(),
        bytes(&ctx, "items.parquet")
    );
    assert_eq!(bytes(&ctx, "from-az.parquet"), bytes(&ctx, "items.parquet"));
    assert_eq!(
        std::fs::read(svc.s3_path(S3::A, "lock.parquet")).unwrap(),
        bytes(&ctx, "lock.parquet")
    );
    // Over http(s), for reading; several files are one stream.
    let http = svc.put_http("items.parquet", &bytes(&ctx, "items.parquet"));
    ctx.sh(&format!(
        "set -e; $STACPKG items from-parquet {http} | $STACPKG items to-parquet from-http.parquet
         $STACPKG items from-parquet {http} items.parquet | $STACPKG items to-ndjson twice.ndjson
         $STACPKG items from-parquet items.parquet | $STACPKG items to-ndjson once.ndjson"
    ))
    .success();
    assert_eq!(
        bytes(&ctx, "from-http.parquet"),
        bytes(&ctx, "items.parquet")
    );
    let once = bytes(&ctx, "once.ndjson");
    assert_eq!(bytes(&ctx, "twice.ndjson"), [once.clone(), once].concat());

    // A write that fails leaves nothing: a bucket that does not exist, a read-only scheme.
    let run = ctx.sh(&format!(
        "export {env}; $STACPKG items from-parquet items.parquet | $STACPKG items to-parquet s3://no-such-bucket-stacpkg/{prefix}/x.parquet"
    ));
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("stacpkg: error: failed to write `s3://no-such-bucket-stacpkg/"),
        "{}",
        run.stderr
    );
    let run = ctx.sh(&format!(
        "$STACPKG items from-parquet items.parquet | $STACPKG items to-parquet {http}.copy"
    ));
    assert!(
        run.stderr.contains("http(s) URLs are read only"),
        "{}",
        run.stderr
    );
    assert!(!svc.http_path("items.parquet.copy").exists());
    // A URL with a query string or credentials is refused without echoing them.
    let run = ctx.sh(&format!(
        "$STACPKG items from-parquet '{http}?X-Amz-Signature=topsecret' > out.arrow"
    ));
    assert_eq!(run.code, Some(1));
    assert!(!run.stderr.contains("topsecret"), "{}", run.stderr);
}

/// Items whose assets are `n` small objects on nginx, and the derived lock at `lock.parquet`.
fn nginx_assets(ctx: &TestContext, svc: &Services, n: usize) {
    let items: Vec<Value> = (0..n)
        .map(|i| {
            let a = svc.put_http(
                &format!("src/{i}/a.bin"),
                format!("a{i}").repeat(100 + i).as_bytes(),
            );
            let b = svc.put_http(
                &format!("src/{i}/b.bin"),
                format!("b{i}").repeat(50 + i).as_bytes(),
            );
            item(
                &format!("tile-{i}"),
                json!({"a": {"href": a}, "b": {"href": b}}),
            )
        })
        .collect();
    write_items(ctx, &items);
    ctx.sh("set -e; $STACPKG items from-json items.json | $STACPKG asset-lock derive | $STACPKG asset-lock to-parquet lock.parquet")
        .success();
}

/// Lock rows without their keys' prefix and last-modified times (which differ between copies
/// made at different times to different places).
fn comparable(rows: Vec<crate::stores::Row>, strip: &str) -> Vec<crate::stores::Row> {
    rows.into_iter()
        .map(|mut row| {
            row.4 = row.4.map(|k| k.replacen(strip, "", 1));
            row.7 = None;
            row
        })
        .collect()
}

#[test]
fn shards_relocate_to_s3_merge_from_the_store_and_retries_redo_nothing() {
    let Some(svc) = Services::get("scale-relocate") else {
        return;
    };
    let ctx = ctx();
    nginx_assets(&ctx, &svc, 30);
    let env = svc.s3_env();
    let (a, prefix) = (svc.bucket(S3::A), svc.prefix());
    let to = |key: &str| format!("--store-type s3 --store-container {a} --key {prefix}/{key}");
    ctx.sh(&format!(
        "set -e; export {env}
         $STACPKG asset-lock from-parquet lock.parquet | $STACPKG asset-lock relocate {single} | $STACPKG asset-lock to-parquet single.parquet
         for k in 0 1 2 3; do
           $STACPKG asset-lock from-parquet lock.parquet | $STACPKG asset-lock relocate {sharded} --shard $k/4 --max-workers 2 | $STACPKG asset-lock to-parquet s3://{a}/{prefix}/shards/shard-$k.parquet
         done
         $STACPKG asset-lock from-parquet 's3://{a}/{prefix}/shards/shard-*.parquet' | $STACPKG asset-lock to-parquet merged.parquet",
        single = to("single"),
        sharded = to("sharded"),
    ))
    .success();
    let single = parquet_lock_rows(&ctx.path("single.parquet"));
    assert_eq!(single.len(), 60);
    assert_eq!(
        comparable(parquet_lock_rows(&ctx.path("merged.parquet")), "sharded/"),
        comparable(single, "single/")
    );

    // A shard run again (the scheduler's retry, with --no-overwrite) copies nothing and writes
    // the same shard file.
    let shard_file = svc.s3_path(S3::A, "shards/shard-2.parquet");
    let first = std::fs::read(&shard_file).unwrap();
    let copy = svc.s3_path(S3::A, "sharded/tile-3/a.bin");
    let written = std::fs::metadata(&copy).unwrap().modified().unwrap();
    let run = ctx.sh(&format!(
        "set -e; export {env}
         $STACPKG asset-lock from-parquet lock.parquet | $STACPKG asset-lock relocate {sharded} --shard 2/4 --no-overwrite | $STACPKG asset-lock to-parquet s3://{a}/{prefix}/shards/shard-2.parquet",
        sharded = to("sharded"),
    ))
    .success();
    let kept = run
        .stderr
        .lines()
        .filter(|l| l.contains("kept the existing"))
        .count();
    assert_eq!(kept, shard_rows_of(&first).len());
    assert_eq!(run.stderr.lines().count(), kept, "{}", run.stderr);
    assert_eq!(std::fs::read(&shard_file).unwrap(), first);
    assert_eq!(
        std::fs::metadata(&copy).unwrap().modified().unwrap(),
        written
    );

    // The same shard twice at once (a speculative retry): both finish, every object whole.
    let run = ctx.sh(&format!(
        "export {env}
         ($STACPKG asset-lock from-parquet lock.parquet | $STACPKG asset-lock relocate {twice} --shard 1/4 > one.arrow) & one=$!
         ($STACPKG asset-lock from-parquet lock.parquet | $STACPKG asset-lock relocate {twice} --shard 1/4 > two.arrow) & two=$!
         wait $one && wait $two",
        twice = to("twice"),
    ));
    run.success();
    let source_rows = parquet_lock_rows(&ctx.path("lock.parquet"));
    let twice = stacpkg_test::read_ipc(&bytes(&ctx, "one.arrow"));
    let twice = crate::stores::lock_rows(&stacpkg_test::write_ipc(&twice.0, &twice.1));
    assert!(!twice.is_empty());
    for row in twice {
        let source = source_rows
            .iter()
            .find(|s| s.0 == row.0 && s.1 == row.1)
            .unwrap();
        let key = row.4.unwrap();
        let object = std::fs::read(Path::new(svc.var("S3A_ROOT")).join(a).join(&key)).unwrap();
        let original = std::fs::read(svc.http_path(&format!(
            "src/{}/{}.bin",
            row.0.trim_start_matches("tile-"),
            row.1
        )))
        .unwrap();
        assert_eq!(object, original, "{key}");
        assert_eq!(Some(object.len() as i64), source.5);
    }
}

fn shard_rows_of(parquet: &[u8]) -> Vec<(String, String, u64)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shard.parquet");
    std::fs::write(&path, parquet).unwrap();
    shard_rows(&path)
}

#[test]
fn a_slurm_array_job_relocates_four_shards_to_s3_and_their_merge_is_the_single_run() {
    let Some(svc) = Services::get("scale-slurm") else {
        return;
    };
    let ctx = ctx();
    nginx_assets(&ctx, &svc, 24);
    let (a, prefix) = (svc.bucket(S3::A), svc.prefix());
    let dir = ctx.dir().display().to_string();
    ctx.write(
        "job.sh",
        format!(
            "#!/bin/bash
set -euo pipefail
export {env}
cd {dir}
$STACPKG asset-lock from-parquet s3://{a}/{prefix}/lock.parquet \\
  | $STACPKG asset-lock relocate --shard auto --max-workers 2 --no-overwrite \\
      --store-type s3 --store-container {a} --key {prefix}/slurm \\
  | $STACPKG asset-lock to-parquet s3://{a}/{prefix}/shards/shard-$SLURM_ARRAY_TASK_ID.parquet
",
            env = svc.s3_env(),
        ),
    );
    let run = ctx.sh(&format!(
        "set -e; export {env} SLURM_CONF={conf}
         $STACPKG asset-lock from-parquet lock.parquet | $STACPKG asset-lock to-parquet s3://{a}/{prefix}/lock.parquet
         $STACPKG asset-lock from-parquet lock.parquet | $STACPKG asset-lock relocate --store-type s3 --store-container {a} --key {prefix}/single | $STACPKG asset-lock to-parquet single.parquet
         sbatch --wait --quiet --array=0-3 --export=ALL,STACPKG=$STACPKG --output={dir}/slurm-%a.out --chdir={dir} job.sh
         $STACPKG asset-lock from-parquet 's3://{a}/{prefix}/shards/*.parquet' | $STACPKG asset-lock to-parquet merged.parquet",
        env = svc.s3_env(),
        conf = svc.var("SLURM_CONF"),
    ));
    let logs: String = (0..4)
        .map(|k| std::fs::read_to_string(ctx.path(&format!("slurm-{k}.out"))).unwrap_or_default())
        .collect();
    assert_eq!(
        run.code,
        Some(0),
        "{}\nslurm task output:\n{logs}",
        run.stderr
    );
    // Four tasks ran, each wrote its shard, and nothing went to their stderr.
    assert_eq!(logs, "");
    for k in 0..4 {
        let file = svc.s3_path(S3::A, &format!("shards/shard-{k}.parquet"));
        let meta = shard_meta(&file);
        assert_eq!(meta["index"], k);
        assert_eq!(meta["count"], 4);
    }
    assert_eq!(
        comparable(parquet_lock_rows(&ctx.path("merged.parquet")), "slurm/"),
        comparable(parquet_lock_rows(&ctx.path("single.parquet")), "single/")
    );
}

#[test]
fn the_kubernetes_indexed_job_manifest_runs_as_shards_of_one_run() {
    let Some(svc) = Services::get("scale-k8s") else {
        return;
    };
    let ctx = ctx();
    nginx_assets(&ctx, &svc, 12);
    let manifest = std::fs::read_to_string(
        stacpkg_test::repo_root().join("examples/scale-out/indexed-job.yaml"),
    )
    .unwrap();
    // The pods' script, and the count given twice: as the Job's completions and to stacpkg.
    let completions: u32 = field(&manifest, "completions:").parse().unwrap();
    assert!(manifest.contains("completionMode: Indexed"));
    let count_env = manifest
        .split("- name: STACPKG_SHARD_COUNT")
        .nth(1)
        .expect("the manifest gives STACPKG_SHARD_COUNT");
    assert_eq!(field(count_env, "value:"), format!("\"{completions}\""));
    let script: String = manifest
        .split("- |\n")
        .nth(1)
        .expect("the container's script")
        .lines()
        .take_while(|l| l.starts_with("              ") || l.is_empty())
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();
    assert!(script.contains("--shard auto"), "{script}");
    let (a, prefix) = (svc.bucket(S3::A), svc.prefix());
    ctx.sh(&format!(
        "set -e; export {env}
         $STACPKG asset-lock from-parquet lock.parquet | $STACPKG asset-lock to-parquet s3://{a}/{prefix}/lock.parquet
         $STACPKG asset-lock from-parquet lock.parquet | $STACPKG asset-lock relocate --store-type s3 --store-container {a} --key {prefix}/single | $STACPKG asset-lock to-parquet single.parquet",
        env = svc.s3_env()
    ))
    .success();
    ctx.write("pod.sh", &script);
    // Each pod as Kubernetes starts it: its index, and the manifest's environment.
    for index in 0..completions {
        let run = ctx.sh(&format!(
            "export {env}; export PATH=$(dirname $STACPKG):$PATH JOB_COMPLETION_INDEX={index} STACPKG_SHARD_COUNT={completions} \
             LOCK_URL=s3://{a}/{prefix}/lock.parquet SHARDS_URL=s3://{a}/{prefix}/k8s-shards \
             DEST_BUCKET={a} DEST_PREFIX={prefix}/k8s; sh -e pod.sh",
            env = svc.s3_env()
        ));
        assert_eq!(run.code, Some(0), "pod {index}: {}", run.stderr);
    }
    ctx.sh(&format!(
        "set -e; export {env}; $STACPKG asset-lock from-parquet 's3://{a}/{prefix}/k8s-shards/shard-*.parquet' | $STACPKG asset-lock to-parquet merged.parquet",
        env = svc.s3_env()
    ))
    .success();
    assert_eq!(
        comparable(parquet_lock_rows(&ctx.path("merged.parquet")), "k8s/"),
        comparable(parquet_lock_rows(&ctx.path("single.parquet")), "single/")
    );
}

/// The value after `name` on its line of a YAML text.
fn field<'a>(yaml: &'a str, name: &str) -> &'a str {
    yaml.lines()
        .find_map(|l| l.trim().strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name}"))
        .trim()
}

#[test]
fn sharded_package_builds_merge_into_the_single_build() {
    let ctx = ctx();
    let items: Vec<Value> = (0..12)
        .map(|i| {
            let a = ctx.write(&format!("src/{i}/a.tif"), format!("tif {i}").repeat(20));
            let b = ctx.write(&format!("src/{i}/b.json"), format!("{{\"n\": {i}}}"));
            item(
                &format!("pkg-item-{i}"),
                json!({"a": {"href": a.to_str().unwrap()}, "b": {"href": b.to_str().unwrap()}}),
            )
        })
        .collect();
    write_items(&ctx, &items);
    ctx.sh(
        "set -e; $STACPKG items from-json items.json > items.arrow
         $STACPKG build single --include-assets < items.arrow
         for k in 0 1 2; do $STACPKG build part-$k --include-assets --shard $k/3 < items.arrow; done
         mkdir merged
         cp part-0/items.parquet merged/
         for k in 0 1 2; do cp -rp part-$k/assets merged/; done
         $STACPKG asset-lock from-parquet 'part-*/assets.lock.parquet' | $STACPKG asset-lock to-parquet merged/assets.lock.parquet
         cd single && find . -type f | sort | xargs sha256sum > ../single.sums
         cd ../merged && find . -type f | sort | xargs sha256sum > ../merged.sums
         $STACPKG asset-lock from-parquet assets.lock.parquet | $STACPKG asset-lock validate > ../valid.jsonl",
    )
    .success();
    assert_eq!(bytes(&ctx, "merged.sums"), bytes(&ctx, "single.sums"));
    assert_eq!(
        shard_meta(&ctx.path("part-1/assets.lock.parquet")),
        json!({"index": 1, "count": 3, "run": "build"})
    );
    // Each part holds only its shard's assets.
    let parts: usize = (0..3)
        .map(|k| shard_rows(&ctx.path(&format!("part-{k}/assets.lock.parquet"))).len())
        .sum();
    assert_eq!(parts, 24);
    let results = String::from_utf8(bytes(&ctx, "valid.jsonl")).unwrap();
    assert_eq!(results.lines().count(), 24);
    assert!(
        results.lines().all(|l| l.contains("\"valid\": true")),
        "{results}"
    );
}
