//! `stacpkg asset-lock …`

use std::io::{IsTerminal, Write};

use stacpkg::asset_lock::{
    DeriveEvent, DeriveOptions, DeriveReport, Destination, RelocateEvent, RelocateOptions,
    RelocateReport, ValidateEvent, ValidateOptions,
};
use stacpkg::asset_lock::{KeyLayout, PlanOptions};
use stacpkg::checksum::Strategy;
use stacpkg::runtime::Runtime;
use stacpkg::store::CopyOptions;

use super::UsageError;
use stacpkg::items::ItemFilter;
use stacpkg::{StreamKind, asset_lock};

use super::ExitStatus;
use crate::args::asset_lock::{
    ChecksumCheck, DeriveArgs, FromParquetArgs, LayoutArg, RelocateArgs, ToParquetArgs,
    ValidateArgs,
};
use crate::{diagnostics, progress, stdio};

/// `asset-lock from-parquet` → [`stacpkg::asset_lock::read_parquet`].
pub(crate) fn from_parquet(args: FromParquetArgs) -> anyhow::Result<ExitStatus> {
    let (files, stores) = super::table_files(&args.inputs)?;
    let (batch_size, runtime) = (args.batches.batch_size, Runtime::Own);
    // One file is read as it is (a shard file stays a shard, for a later step of it); several
    // are one lock, merged when they are shards.
    let reader = match files.as_slice() {
        [file] if super::one_file(&args.inputs) => {
            asset_lock::read_parquet_at(file, batch_size, &stores, &runtime)?
        }
        _ => asset_lock::read_parquet_files(&files, batch_size, &stores, &runtime)
            .map_err(|e| usage_if_shard_set(e.into()))?,
    };
    // Rows of a file that is no shard of the run are found while merging.
    stdio::emit(reader).map_err(usage_if_shard_set)?;
    Ok(ExitStatus::Success)
}

/// Files that are not one run's shards are bad input, a usage error (exit 2), whether the
/// merge finds it before its first row (counts, runs, missing shards) or while merging (rows of
/// another lock); a stream cut short by it is never taken for a whole lock downstream.
fn usage_if_shard_set(error: anyhow::Error) -> anyhow::Error {
    match error.downcast_ref::<stacpkg::Error>() {
        Some(shard_set @ stacpkg::Error::ShardSet { .. }) => {
            UsageError(shard_set.to_string()).into()
        }
        _ => error,
    }
}

/// `asset-lock to-parquet` → [`stacpkg::ipc::read_stream`] + [`stacpkg::asset_lock::write_parquet`].
pub(crate) fn to_parquet(args: ToParquetArgs) -> anyhow::Result<ExitStatus> {
    let output = stacpkg::files::FileRef::parse(&args.output_file)?;
    let stores = super::stores(matches!(output, stacpkg::files::FileRef::Object(_)))?;
    stdio::require_piped_stdin("an asset-lock Arrow IPC stream")?;
    let reader = stacpkg::ipc::read_stream(std::io::stdin(), "stdin", StreamKind::AssetLock)?;
    let summary = asset_lock::write_parquet_to(reader, &output, &stores, &Runtime::Own)?;
    let place = format!("`{}`", output.name());
    diagnostics::warn_dropped_queries(summary.queries_dropped as u64, &place);
    diagnostics::warn_dropped_credentials(summary.credentials_dropped as u64, &place);
    Ok(ExitStatus::Success)
}

/// `asset-lock derive` → [`stacpkg::asset_lock::derive`].
pub(crate) fn derive(args: DeriveArgs) -> anyhow::Result<ExitStatus> {
    stdio::require_piped_stdin("an items Arrow IPC stream")?;
    let items = stacpkg::ipc::read_stream(std::io::stdin(), "stdin", StreamKind::Items)?;
    let options = DeriveOptions {
        probe: args.probe(),
        filter: ItemFilter {
            item_ids: args.item_ids.iter().cloned().collect(),
            providers: args.providers.iter().cloned().collect(),
            ..ItemFilter::default()
        },
        asset_keys: args.asset_keys.iter().cloned().collect(),
        include_metadata_assets: args.include_metadata_assets,
        keep_going: args.keep_going,
        max_workers: args.max_workers,
        checksum: args.checksum,
        runtime: Runtime::Own,
        shard: super::shard(&args.shard)?,
    };
    if !options.probe && reads_objects(options.checksum) {
        return Err(UsageError(format!(
            "--checksum {} reads every object it hashes; it cannot be used with --no-probe-metadata",
            options.checksum
        ))
        .into());
    }
    let stores = super::stores(options.probe)?;
    let show_progress = reads_objects(options.checksum) && std::io::stderr().is_terminal();
    let progress = progress::Bar::new(show_progress);
    let bar = progress.clone();
    let (lock, report) = asset_lock::derive(items, &stores, options, move |event| {
        bar.message(|| match event {
            DeriveEvent::ProbeFailed(error) => diagnostics::warn(error),
            DeriveEvent::MalformedChecksum {
                item_id,
                asset_key,
                value,
            } => diagnostics::warn_malformed_checksum(item_id, asset_key, value),
            _ => {}
        });
    })?;
    let shown = std::sync::Arc::clone(&report);
    progress.start(move |elapsed| render_hashing(&shown, elapsed));
    let emitted = stdio::emit(lock);
    progress.finish();
    emitted?;
    let load =
        |count: &std::sync::atomic::AtomicU64| count.load(std::sync::atomic::Ordering::Relaxed);
    diagnostics::warn_dropped_queries(load(&report.queries_dropped), "the lock");
    diagnostics::warn_dropped_credentials(load(&report.credentials_dropped), "the lock");
    if load(&report.failed) > 0 {
        diagnostics::warn_line(&format!(
            "{} of {} assets could not be probed; their rows carry no observed facts",
            load(&report.failed),
            load(&report.rows)
        ));
        return Ok(ExitStatus::Failure);
    }
    Ok(ExitStatus::Success)
}

/// `asset-lock validate` → [`stacpkg::asset_lock::validate`].
pub(crate) fn validate(args: ValidateArgs) -> anyhow::Result<ExitStatus> {
    stdio::require_piped_stdin("an asset-lock Arrow IPC stream")?;
    let lock = stacpkg::ipc::read_stream(std::io::stdin(), "stdin", StreamKind::AssetLock)?;
    let options = ValidateOptions {
        item_ids: args.item_ids.into_iter().collect(),
        asset_keys: args.asset_keys.into_iter().collect(),
        keep_going: args.keep_going,
        max_workers: args.max_workers,
        verify_checksums: args.checksum == ChecksumCheck::Verify,
        runtime: Runtime::Own,
        shard: super::shard(&args.shard)?,
    };
    let stores = super::stores(true)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
    let result = asset_lock::validate(lock, &stores, options, |event| {
        let written = match event {
            ValidateEvent::Result(result) => out
                .write_all(result.to_json_line().as_bytes())
                .and_then(|()| out.write_all(b"\n")),
            ValidateEvent::ProbeFailed(error) => {
                diagnostics::warn(error);
                Ok(())
            }
            ValidateEvent::Idle => out.flush(),
        };
        written.map_err(|e| stacpkg::Error::write_failed("stdout", e))
    });
    // Whatever happened, the results already determined reach stdout before any error line.
    let flushed = out.flush();
    let summary = result?;
    flushed?;
    diagnostics::warn_dropped_queries(summary.queries_dropped, "the results");
    diagnostics::warn_dropped_credentials(summary.credentials_dropped, "the results");
    if summary.failed > 0 {
        diagnostics::warn_line(&format!(
            "{} of {} assets could not be probed",
            summary.failed, summary.results
        ));
    }
    if summary.unverifiable > 0 {
        diagnostics::note(&format!(
            "{} of {} rows have no file_checksum and were not verifiable; {} verified",
            summary.unverifiable, summary.results, summary.verified
        ));
    }
    Ok(if summary.invalid > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// `asset-lock relocate` → [`stacpkg::asset_lock::relocate`].
pub(crate) fn relocate(args: RelocateArgs) -> anyhow::Result<ExitStatus> {
    // Destination options are checked before stdin is read (SPEC §1).
    let destination = match (&args.destination_lock, args.store_type) {
        (Some(path), _) => {
            if args.source_prefix.is_some()
                || args.store_container.is_some()
                || args.store_endpoint_url.is_some()
                || args.key.is_some()
                || args.layout != LayoutArg::ItemAsset
            {
                return Err(UsageError(
                    "--source-prefix, --store-container, --store-endpoint-url, --key, and --layout are only used with --store-type".into(),
                )
                .into());
            }
            Destination::Lock(path.clone())
        }
        (None, Some(store_type)) => {
            let plan = PlanOptions {
                store_type: store_type.as_str().to_string(),
                store_container: args.store_container.clone(),
                store_endpoint_url: args.store_endpoint_url.clone(),
                key_prefix: args.key.clone().unwrap_or_default(),
                source_prefix: args.source_prefix.clone(),
                layout: match args.layout {
                    LayoutArg::ItemAsset => KeyLayout::ItemAsset,
                    LayoutArg::SourceKey => KeyLayout::SourceKey,
                },
            };
            plan.check().map_err(|e| UsageError(e.to_string()))?;
            Destination::Plan(plan)
        }
        (None, None) => unreachable!("clap requires one destination"),
    };
    let options = RelocateOptions {
        destination,
        dry_run: args.dry_run,
        copy: CopyOptions {
            chunk_size: usize::try_from(args.chunk_size_bytes).unwrap_or(usize::MAX),
            put_max_concurrency: args.put_max_concurrency,
            overwrite: !args.no_overwrite,
        },
        memory_limit: args.memory_limit_bytes,
        max_workers: args.max_workers,
        keep_going: args.keep_going,
        runtime: Runtime::Own,
        shard: super::shard(&args.shard)?,
    };
    stdio::require_piped_stdin("an asset-lock Arrow IPC stream")?;
    let source = stacpkg::ipc::read_stream(std::io::stdin(), "stdin", StreamKind::AssetLock)?;
    let show_progress = !args.dry_run && std::io::stderr().is_terminal();
    let progress = progress::Bar::new(show_progress);
    let bar = progress.clone();
    let stores = super::stores(!options.dry_run)?;
    let (lock, report) = asset_lock::relocate(source, &stores, options, move |event| {
        bar.message(|| match event {
            RelocateEvent::Failed(error) => diagnostics::warn(error),
            RelocateEvent::Kept {
                item_id,
                asset_key,
                href,
            } => diagnostics::note(&format!(
                "item `{item_id}` asset `{asset_key}`: kept the existing `{href}` (same size as the source)"
            )),
        });
    })?;
    let shown = std::sync::Arc::clone(&report);
    progress.start(move |elapsed| render_relocation(&shown, elapsed));
    let emitted = stdio::emit(lock);
    progress.finish();
    emitted?;
    let load =
        |count: &std::sync::atomic::AtomicU64| count.load(std::sync::atomic::Ordering::Relaxed);
    diagnostics::warn_dropped_queries(load(&report.queries_dropped), "the relocated lock");
    let endpoint_credentials = args
        .store_endpoint_url
        .as_deref()
        .is_some_and(stacpkg::store::has_userinfo);
    diagnostics::warn_dropped_credentials(
        load(&report.credentials_dropped) + u64::from(endpoint_credentials),
        "the relocated lock",
    );
    let failed = report.failed.load(std::sync::atomic::Ordering::Relaxed);
    if failed > 0 {
        diagnostics::warn_line(&format!(
            "{failed} of {} copies failed; their rows carry no observed facts",
            report.to_copy.load(std::sync::atomic::Ordering::Relaxed)
        ));
        return Ok(ExitStatus::Failure);
    }
    Ok(ExitStatus::Success)
}

/// Whether a derive with `strategy` reads objects to hash them.
fn reads_objects(strategy: Strategy) -> bool {
    matches!(
        strategy,
        Strategy::CalculateAlways | Strategy::CalculateIfNeeded
    )
}

/// The hashing progress line of `derive --checksum calculate-*`: objects, bytes and rate.
fn render_hashing(report: &DeriveReport, elapsed: std::time::Duration) -> String {
    use std::sync::atomic::Ordering;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let bytes = load(&report.bytes_hashed) as f64;
    format!(
        "hashing: {}/{}+ objects, {}, {}/s",
        load(&report.hashed),
        load(&report.to_hash),
        progress::bytes(bytes),
        progress::bytes(bytes / elapsed.as_secs_f64().max(0.001))
    )
}

/// The relocation progress line: files, bytes, rate and, once the input is read to its end, the
/// ETA.
fn render_relocation(report: &RelocateReport, elapsed: std::time::Duration) -> String {
    use std::sync::atomic::Ordering;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let done = load(&report.copied) + load(&report.kept) + load(&report.failed);
    let total = load(&report.to_copy);
    let written = load(&report.progress.bytes) as f64;
    let total_bytes = load(&report.bytes_to_copy) as f64;
    let rate = written / elapsed.as_secs_f64().max(0.001);
    let finished_input = report.input_done.load(Ordering::Relaxed);
    let mut line = format!(
        "relocating: {done}/{total}{} files, {} / {}, {}/s",
        if finished_input { "" } else { "+" },
        progress::bytes(written),
        progress::bytes(total_bytes),
        progress::bytes(rate)
    );
    if finished_input && rate > 0.0 && total_bytes > written {
        line.push_str(&format!(", ETA {:.0} s", (total_bytes - written) / rate));
    }
    line
}
