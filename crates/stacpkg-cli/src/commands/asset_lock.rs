//! `stacpkg asset-lock …`

use std::io::Write;

use stacpkg::asset_lock::{DeriveOptions, ValidateEvent, ValidateOptions};
use stacpkg::items::ItemFilter;
use stacpkg::{StreamKind, asset_lock};

use super::ExitStatus;
use crate::args::asset_lock::{DeriveArgs, FromParquetArgs, ToParquetArgs, ValidateArgs};
use crate::{diagnostics, stdio};

/// `asset-lock from-parquet` → [`stacpkg::asset_lock::read_parquet`].
pub(crate) fn from_parquet(args: FromParquetArgs) -> anyhow::Result<ExitStatus> {
    stdio::emit(asset_lock::read_parquet(
        &args.input_file,
        args.batches.batch_size,
    )?)?;
    Ok(ExitStatus::Success)
}

/// `asset-lock to-parquet` → [`stacpkg::ipc::read_stream`] + [`stacpkg::asset_lock::write_parquet`].
pub(crate) fn to_parquet(args: ToParquetArgs) -> anyhow::Result<ExitStatus> {
    stdio::require_piped_stdin("an asset-lock Arrow IPC stream")?;
    let reader = stacpkg::ipc::read_stream(std::io::stdin(), "stdin", StreamKind::AssetLock)?;
    let summary = asset_lock::write_parquet(reader, &args.output_file)?;
    warn_dropped_queries(
        summary.queries_dropped as u64,
        &format!("`{}`", args.output_file.display()),
    );
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
    };
    let (lock, report) = asset_lock::derive(items, options, |error| diagnostics::warn(error))?;
    stdio::emit(lock)?;
    warn_dropped_queries(report.queries_dropped(), "the lock");
    if report.failed() > 0 {
        diagnostics::warn_line(&format!(
            "{} of {} assets could not be probed; their rows carry no observed facts",
            report.failed(),
            report.rows()
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
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let result = asset_lock::validate(lock, options, |event| {
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
    warn_dropped_queries(summary.queries_dropped, "the results");
    if summary.failed > 0 {
        diagnostics::warn_line(&format!(
            "{} of {} assets could not be probed",
            summary.failed, summary.results
        ));
    }
    Ok(if summary.invalid > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

fn warn_dropped_queries(count: u64, place: &str) {
    if count > 0 {
        // The count only: the query strings themselves may be signatures.
        diagnostics::warn_line(&format!(
            "left the query strings of {count} signed or parameterised hrefs out of {place}; only their unsigned locations are kept"
        ));
    }
}
