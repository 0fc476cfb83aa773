use stacpkg_test::{demo, read_parquet};

use crate::ctx;

#[test]
fn commands_chain_through_os_pipes() {
    let ctx = ctx();
    let run = ctx.sh(&format!(
        "cat {} | $STACPKG items from-json | $STACPKG items to-parquet a.parquet && \
         $STACPKG items from-parquet a.parquet --collections demo-aerial | $STACPKG items to-parquet b.parquet",
        demo("items.json").display()
    ));
    run.success();
    let (_, batches, _) = read_parquet(&ctx.path("b.parquet"));
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
}

#[test]
fn a_reader_that_stops_early_ends_the_writer_quietly() {
    let ctx = ctx();
    let mut lines = String::new();
    let item = std::fs::read_to_string(demo("items.ndjson")).unwrap();
    for _ in 0..3000 {
        lines.push_str(&item);
    }
    ctx.write("many.ndjson", lines);
    // `head` closes the pipe after a few bytes; the writer must not print an error.
    let run = ctx.sh(
        "set +o pipefail; $STACPKG items from-ndjson many.ndjson --batch-size 10 2>err.txt | head -c 100 >/dev/null; echo ${PIPESTATUS[0]}",
    );
    let status = String::from_utf8(run.success().stdout).unwrap();
    assert_eq!(status.trim(), "0");
    assert_eq!(std::fs::read_to_string(ctx.path("err.txt")).unwrap(), "");
}
