//! `stacpkg asset-lock …`

use std::io::Write;

use stacpkg::{StreamKind, asset_lock};

use super::ExitStatus;
use crate::args::asset_lock::{FromParquetArgs, ToParquetArgs};
use crate::stdio;

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
    if summary.queries_dropped > 0 {
        // The count only: the query strings themselves may be signatures.
        let _ = writeln!(
            std::io::stderr().lock(),
            "stacpkg: warning: left the query strings of {} signed or parameterised hrefs out of `{}`; the lock keeps their unsigned locations",
            summary.queries_dropped,
            args.output_file.display()
        );
    }
    Ok(ExitStatus::Success)
}
