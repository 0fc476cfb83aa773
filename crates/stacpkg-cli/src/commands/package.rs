//! `stacpkg build` and `stacpkg inspect`.

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;

use stacpkg::StreamKind;
use stacpkg::asset_lock::DeriveOptions;
use stacpkg::checksum::Strategy;
use stacpkg::items::ItemFilter;
use stacpkg::package::media_type::MediaTypes;
use stacpkg::package::{BuildOptions, build as build_package, inspect as inspect_package};

use super::ExitStatus;
use crate::args::package::{
    AttachArgs, AuthBackend, BuildArgs, CopyArgs, DiscoverArgs, DiscoverFormat, InspectArgs,
    InspectFormat, PullArgs, PushArgs, TransportArgs,
};
use crate::{diagnostics, progress, stdio};

/// `build` → [`stacpkg::package::build`].
pub(crate) fn build(args: BuildArgs) -> anyhow::Result<ExitStatus> {
    if args.shard.shard.is_some() && args.asset_lock.is_some() {
        return Err(super::UsageError(
            "--shard splits a derived lock; it cannot be used with --asset-lock".into(),
        )
        .into());
    }
    stdio::require_piped_stdin("an items Arrow IPC stream")?;
    let items = stacpkg::ipc::read_stream(std::io::stdin(), "stdin", StreamKind::Items)?;
    // Opened before anything is written, so a lock that is not a lock stream fails early.
    let lock = match &args.asset_lock {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|e| stacpkg::Error::Io {
                action: "failed to open",
                path: path.display().to_string(),
                source: e,
            })?;
            let name = format!("`{}`", path.display());
            Some(stacpkg::ipc::read_stream(
                file,
                &name,
                StreamKind::AssetLock,
            )?)
        }
        None => None,
    };
    let options = BuildOptions {
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
            checksum: args.checksum,
            shard: super::shard(&args.shard)?,
            ..DeriveOptions::default()
        },
        force: args.force,
        ..BuildOptions::default()
    };
    if !options.derive.probe
        && matches!(
            options.derive.checksum,
            Strategy::CalculateAlways | Strategy::CalculateIfNeeded
        )
    {
        return Err(super::UsageError(format!(
            "--checksum {} reads every object it hashes; it cannot be used with --no-probe-metadata",
            options.derive.checksum
        ))
        .into());
    }
    let stores = super::stores(lock.is_none() && options.derive.probe || options.include_assets)?;
    let report = build_package(items, lock, &args.output_dir, &stores, options)?;
    let lock = format!(
        "`{}`",
        args.output_dir.join(stacpkg::package::LOCK_FILE).display()
    );
    diagnostics::warn_dropped_queries(report.queries_dropped, &lock);
    diagnostics::warn_dropped_credentials(report.credentials_dropped, &lock);
    for (item_id, asset_key, value) in &report.malformed_checksum_examples {
        diagnostics::warn_malformed_checksum(item_id, asset_key, value);
    }
    let unlisted = report.malformed_checksums - report.malformed_checksum_examples.len() as u64;
    if unlisted > 0 {
        diagnostics::warn_line(&format!(
            "{unlisted} more assets have a malformed `file:checksum`; `stacpkg asset-lock derive` names them all"
        ));
    }
    if report.item_hrefs_stripped > 0 {
        diagnostics::warn_line(&format!(
            "left the query strings or credentials of {} asset hrefs out of `{}`; only their unsigned locations are kept",
            report.item_hrefs_stripped,
            args.output_dir.join(stacpkg::package::ITEMS_FILE).display()
        ));
    }
    Ok(ExitStatus::Success)
}

/// `inspect` → [`stacpkg::package::inspect`] for a directory, [`stacpkg::oci::inspect`] for
/// a pushed package.
pub(crate) fn inspect(args: InspectArgs) -> anyhow::Result<ExitStatus> {
    let summary = if stacpkg::oci::ArtifactRef::names_pushed_package(&args.package) {
        let options = stacpkg::oci::InspectOptions {
            registry: registry(&args.transport)?,
            ..stacpkg::oci::InspectOptions::default()
        };
        stacpkg::oci::inspect(&target(&args.package)?, &options)?
    } else {
        inspect_package(std::path::Path::new(&args.package), &MediaTypes::host())?
    };
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

/// How to reach a registry: the flags, and credentials from the environment.
fn registry(args: &TransportArgs) -> anyhow::Result<stacpkg::oci::RegistryOptions> {
    Ok(stacpkg::oci::RegistryOptions {
        plain_http: args.plain_http,
        insecure: args.insecure,
        basic_auth: args.auth_backend == AuthBackend::Basic,
        retry: stacpkg::net::RetryPolicy {
            max_retries: u32::try_from(stacpkg::store::max_retries_from_env()?).unwrap_or(u32::MAX),
            ..stacpkg::net::RetryPolicy::default()
        },
        credentials: std::sync::Arc::new(stacpkg::oci::EnvCredentials::from_env()),
    })
}

fn target(text: &str) -> anyhow::Result<stacpkg::oci::ArtifactRef> {
    text.parse()
        .map_err(|e: String| anyhow::Error::new(super::UsageError(e)))
}

/// The push/pull progress line: bytes and rate.
fn transfer_bar(verb: &'static str, progress: &stacpkg::oci::Progress) -> progress::Bar {
    let bar = progress::Bar::new(std::io::stderr().is_terminal());
    let progress = progress.clone();
    bar.start(move |elapsed| {
        let done = progress.done.load(Ordering::Relaxed) as f64;
        let total = progress.total.load(Ordering::Relaxed) as f64;
        format!(
            "{verb}: {} / {}, {}/s",
            progress::bytes(done),
            progress::bytes(total),
            progress::bytes(done / elapsed.as_secs_f64().max(0.001))
        )
    });
    bar
}

/// `push` → [`stacpkg::oci::push`].
pub(crate) fn push(args: PushArgs) -> anyhow::Result<ExitStatus> {
    let target = target(&args.target)?;
    let defaults = stacpkg::oci::PushOptions::default();
    let options = stacpkg::oci::PushOptions {
        registry: registry(&args.transport)?,
        chunked: stacpkg::oci::ChunkedUploads {
            threshold: args.chunk_size,
            chunk_size: args.chunk_size,
            ..defaults.chunked.clone()
        },
        ..defaults
    };
    let progress = stacpkg::oci::Progress::default();
    let bar = transfer_bar("pushing", &progress);
    let report = stacpkg::oci::push(&args.package, &target, &options, &progress);
    bar.finish();
    let report = report?;
    for note in &report.notes {
        diagnostics::note(note);
    }
    if std::io::stderr().is_terminal() {
        diagnostics::note(&format!(
            "pushed {target}@{} ({} layers, {} blobs already there)",
            report.digest, report.layers, report.skipped
        ));
    }
    Ok(ExitStatus::Success)
}

/// `pull` → [`stacpkg::oci::pull`].
pub(crate) fn pull(args: PullArgs) -> anyhow::Result<ExitStatus> {
    let source = target(&args.source)?;
    let options = stacpkg::oci::PullOptions {
        registry: registry(&args.transport)?,
        force: args.force,
        selection: stacpkg::oci::Selection {
            items: super::items::filter(args.filters),
            asset_keys: args.asset_keys.into_iter().collect(),
        },
        tables_only: args.tables_only,
        ..stacpkg::oci::PullOptions::default()
    };
    let progress = stacpkg::oci::Progress::default();
    let bar = transfer_bar("pulling", &progress);
    let report = stacpkg::oci::pull(&source, &args.output_dir, &options, &progress);
    bar.finish();
    let report = report?;
    for note in &report.notes {
        diagnostics::note(note);
    }
    if report.layers_left > 0 {
        diagnostics::note(&format!(
            "left {} of the artifact's layers in {source} ({} of them asset layers)",
            report.layers_left, report.asset_layers_left
        ));
    }
    if std::io::stderr().is_terminal() {
        diagnostics::note(&format!(
            "pulled {source} ({}, {} layers) into {}",
            report.digest,
            report.layers,
            args.output_dir.display()
        ));
    }
    Ok(ExitStatus::Success)
}

/// `attach` → [`stacpkg::oci::attach`]; prints the attached artifact as `…@sha256:…`.
pub(crate) fn attach(args: AttachArgs) -> anyhow::Result<ExitStatus> {
    let subject = target(&args.subject)?;
    let options = stacpkg::oci::AttachOptions {
        registry: registry(&args.transport)?,
        artifact_type: args.artifact_type,
        annotations: args.annotations.into_iter().collect(),
        ..stacpkg::oci::AttachOptions::default()
    };
    let report = stacpkg::oci::attach(&subject, &args.files, &options)?;
    for note in &report.notes {
        diagnostics::note(note);
    }
    if report.via == stacpkg::oci::ReferrersVia::FallbackTag {
        diagnostics::note(&format!(
            "the registry has no referrers API: listed in the tag `{}`",
            stacpkg::oci::fallback_tag(&report.subject)
        ));
    }
    write_stdout(&format!("{}\n", with_digest(&subject, &report.digest)))?;
    Ok(ExitStatus::Success)
}

/// `discover` → [`stacpkg::oci::discover`].
pub(crate) fn discover(args: DiscoverArgs) -> anyhow::Result<ExitStatus> {
    let subject = target(&args.subject)?;
    let (referrers, _) = stacpkg::oci::discover(
        &subject,
        args.artifact_type.as_deref(),
        &registry(&args.transport)?,
        &stacpkg::runtime::Runtime::Own,
    )?;
    let text = match args.format {
        DiscoverFormat::Json => stacpkg::oci::referrers_json(&referrers),
        DiscoverFormat::Text => {
            let mut out = String::new();
            for referrer in &referrers {
                // What a registry sends is escaped: no terminal control sequences get through.
                out.push_str(&format!(
                    "{} {} {}\n",
                    referrer.digest.escape_debug(),
                    referrer
                        .artifact_type
                        .as_deref()
                        .unwrap_or("-")
                        .escape_debug(),
                    referrer.size
                ));
                for (key, value) in &referrer.annotations {
                    out.push_str(&format!(
                        "  {}={}\n",
                        key.escape_debug(),
                        value.escape_debug()
                    ));
                }
            }
            out
        }
    };
    write_stdout(&text)?;
    Ok(ExitStatus::Success)
}

/// `subject` with its reference replaced by `digest`.
fn with_digest(subject: &stacpkg::oci::ArtifactRef, digest: &str) -> String {
    match subject {
        stacpkg::oci::ArtifactRef::Registry(reference) => {
            format!("{}/{}@{digest}", reference.registry, reference.repository)
        }
        stacpkg::oci::ArtifactRef::Layout { path, .. } => {
            format!("oci-layout:{}@{digest}", path.display())
        }
    }
}

fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| stacpkg::Error::write_failed("stdout", e))?;
    Ok(())
}

/// `copy` → [`stacpkg::oci::copy`].
pub(crate) fn copy(args: CopyArgs) -> anyhow::Result<ExitStatus> {
    let source = target(&args.source)?;
    let destination = target(&args.target)?;
    let registry = registry(&args.transport)?;
    let options = stacpkg::oci::CopyOptions {
        source_registry: registry.clone(),
        target_registry: registry,
        referrers: args.referrers,
        ..stacpkg::oci::CopyOptions::default()
    };
    let progress = stacpkg::oci::Progress::default();
    let bar = transfer_bar("copying", &progress);
    let report = stacpkg::oci::copy(&source, &destination, &options, &progress);
    bar.finish();
    let report = report?;
    for note in &report.notes {
        diagnostics::note(note);
    }
    let referrers = if args.referrers {
        format!("; {} referrers", report.referrers)
    } else {
        String::new()
    };
    diagnostics::note(&format!(
        "copied {source} to {} ({} blobs: {} copied, {} mounted, {} already there{referrers})",
        with_digest(&destination, &report.digest),
        report.blobs,
        report.copied,
        report.mounted,
        report.skipped
    ));
    Ok(ExitStatus::Success)
}
