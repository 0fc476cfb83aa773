//! The CLI test binary: every test runs the built `stacpkg` as a user would.
//!
//! - `items`: conversions, schema rules and filters of `items from-json / from-ndjson`.
//! - `parquet`: `items to-parquet / from-parquet`, round trips and readers other than ours.
//! - `errors`: one test per error class of SPEC §2 (one stderr line, exit code, no output).
//! - `terminal`: the text preview and the interactive-stdin refusal, under a real pty.
//! - `pipeline`: real OS pipes between commands.
//! - `asset_lock`: `asset-lock from-parquet / to-parquet`, the v1 schema and its normalisation.
//! - `stores`: `asset-lock derive / validate` against real servers (`scripts/services.sh`).
//! - `relocate`: `asset-lock relocate` planning and copies between real servers.
//! - `project`: `items enrich / add-alternate / promote-alternate / remove-alternate` and the
//!   tutorial flows that combine them with relocation.
//! - `package`: `build` and `inspect`.
//! - `oci`: `push` and `pull` against real registries (open, Basic, bearer token), ORAS and OCI
//!   image layouts.
//! - `items_out`: `items to-ndjson / to-json`: STAC Items back out, exact round trips, consumers.
//! - `conformance`: the store conformance suite, in memory and on disk, and on the real servers.
//! - `checksums`: content checksums: derive strategies, hashing relocations, verify, enrich.
//! - `scale`: `--shard`, shard merges, tables on object stores, Slurm, Kubernetes and AWS Batch.
//! - `regression`: one test per defect of an issue, named `issue_<n>_<what>`.

mod asset_lock;
mod checksums;
mod conformance;
mod errors;
mod items;
mod items_out;
mod oci;
mod oci_referrers;
mod oci_resume;
mod oci_select;
mod package;
mod parquet;
mod pipeline;
mod project;
mod regression;
mod relocate;
mod scale;
mod stores;
mod terminal;

use stacpkg_test::{Run, TestContext, demo};

fn ctx() -> TestContext {
    TestContext::new(env!("CARGO_BIN_EXE_stacpkg"))
}

/// `stacpkg items COMMAND examples/demo/FILE`, which must succeed.
fn convert_demo(ctx: &TestContext, command: &str, file: &str) -> Run {
    ctx.run(&["items", command, demo(file).to_str().unwrap()], b"")
        .success()
}
