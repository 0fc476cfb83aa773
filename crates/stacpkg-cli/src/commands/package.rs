//! `stacpkg build` and `stacpkg inspect`.

use std::io::Write;

use stacpkg::StreamKind;
use stacpkg::asset_lock::DeriveOptions;
use stacpkg::items::ItemFilter;
use stacpkg::package::build::{BuildOptions, build as build_package};
use stacpkg::package::inspect::inspect as inspect_package;
use stacpkg::package::media_type::MediaTypes;

use super::ExitStatus;
use crate::args::package::{BuildArgs, InspectArgs, InspectFormat};
use crate::stdio;

/// `build` → [`stacpkg::package::build::build`].
pub(crate) fn build(args: BuildArgs) -> anyhow::Result<ExitStatus> {
    stdio::require_piped_stdin("an items Arrow IPC stream")?;
    let items = stacpkg::ipc::read_stream(std::io::stdin(), "stdin", StreamKind::Items)?;
    let options = BuildOptions {
        asset_lock: args.asset_lock.clone(),
        includes: args.includes.clone(),
        include_assets: args.include_assets,
        derive: DeriveOptions {
            probe: args.probe(),
            filter: ItemFilter {
                item_ids: args.item_ids.iter().cloned().collect(),
                providers: args.providers.iter().cloned().collect(),
                ..ItemFilter::default()
            },
            include_metadata_assets: args.include_metadata_assets,
            ..DeriveOptions::default()
        },
        force: args.force,
        ..BuildOptions::default()
    };
    let report = build_package(items, &args.output_dir, options)?;
    super::asset_lock::warn_dropped_queries(
        report.queries_dropped,
        &format!(
            "`{}`",
            args.output_dir.join(stacpkg::package::LOCK_FILE).display()
        ),
    );
    Ok(ExitStatus::Success)
}

/// `inspect` → [`stacpkg::package::inspect::inspect`].
pub(crate) fn inspect(args: InspectArgs) -> anyhow::Result<ExitStatus> {
    let summary = inspect_package(&args.package, &MediaTypes::host())?;
    let text = match args.format {
        InspectFormat::Yaml => summary.to_yaml(),
        InspectFormat::Json => summary.to_json(),
        InspectFormat::Markdown | InspectFormat::Md => summary.to_markdown(),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| stacpkg::Error::write_failed("stdout", e))?;
    Ok(ExitStatus::Success)
}
