//! The `stacpkg` command: a thin layer over the `stacpkg` library.

mod args;
mod commands;
mod diagnostics;
mod exit;
mod progress;
mod stdio;

/// mimalloc: the items pipeline moves hundreds of MB of short-lived JSON values and Arrow
/// buffers through the allocator; with glibc's allocator the pipeline took 9.4 s per 100k items
/// instead of 6.9 s (BENCHMARKS.md). Built without transparent huge pages (`no_thp`): a fresh
/// 2 MiB page costs a 2 MiB zeroing, and peak memory was ~30 MB higher with them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::exit::{ExitStatus, UsageError};

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            return match error.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = error.print();
                    ExitStatus::Success.into()
                }
                _ => {
                    diagnostics::report_usage(&error);
                    ExitStatus::Usage.into()
                }
            };
        }
    };
    match commands::dispatch(cli.command) {
        Ok(status) => status.into(),
        Err(error) if diagnostics::is_broken_pipe(&error) => ExitStatus::Success.into(),
        Err(error)
            if error
                .downcast_ref::<stacpkg::Error>()
                .is_some_and(|e| matches!(e, stacpkg::Error::OutputClosed)) =>
        {
            ExitStatus::Success.into()
        }
        Err(error) => {
            diagnostics::report(&error);
            if error.downcast_ref::<UsageError>().is_some() {
                ExitStatus::Usage.into()
            } else {
                ExitStatus::Failure.into()
            }
        }
    }
}
