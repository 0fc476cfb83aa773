//! `stacpkg items …`

use std::path::PathBuf;

use stacpkg::StreamKind;
use stacpkg::items::feature::{self, JsonShape};
use stacpkg::items::{self, Format, Input, ItemFilter, ReadOptions, geoparquet};

use super::ExitStatus;
use crate::args::items::{
    AddAlternateArgs, EnrichArgs, FilterArgs, FromJsonArgs, FromNdjsonArgs, FromParquetArgs,
    ModeArg, PromoteAlternateArgs, RemoveAlternateArgs, ToJsonArgs, ToParquetArgs,
};
use crate::stdio;
use stacpkg::items::project::{self, LockIndex, PromoteMode, PromoteOptions};

pub(crate) fn filter(args: FilterArgs) -> ItemFilter {
    ItemFilter {
        item_ids: args.item_ids.into_iter().collect(),
        collections: args.collections.into_iter().collect(),
        providers: args.providers.into_iter().collect(),
    }
}

/// `-` and an omitted path both mean stdin.
fn source(path: Option<PathBuf>, what: &str) -> anyhow::Result<Input> {
    match path {
        Some(p) if p.as_os_str() != "-" => Ok(Input::Path(p)),
        _ => {
            stdio::require_piped_stdin(what)?;
            Ok(Input::Stdin)
        }
    }
}

/// `items from-json` → [`stacpkg::items::read_stac`] with [`Format::Json`].
pub(crate) fn from_json(args: FromJsonArgs) -> anyhow::Result<ExitStatus> {
    let source = source(args.input_file, "a STAC JSON document")?;
    let options = ReadOptions {
        filter: filter(args.filters),
        ..ReadOptions::default()
    };
    stdio::emit(items::read_stac(source, Format::Json, options)?)?;
    Ok(ExitStatus::Success)
}

/// `items from-ndjson` → [`stacpkg::items::read_stac`] with [`Format::Ndjson`].
pub(crate) fn from_ndjson(args: FromNdjsonArgs) -> anyhow::Result<ExitStatus> {
    let source = source(args.input_file, "STAC NDJSON")?;
    let options = ReadOptions {
        batch_size: args.batch_size,
        filter: filter(args.filters),
        stream: args.stream,
    };
    stdio::emit(items::read_stac(source, Format::Ndjson, options)?)?;
    Ok(ExitStatus::Success)
}

/// `items from-parquet` → [`stacpkg::items::geoparquet::read`].
pub(crate) fn from_parquet(args: FromParquetArgs) -> anyhow::Result<ExitStatus> {
    let (files, stores) = super::table_files(&args.inputs)?;
    let reader = geoparquet::read_files(
        &files,
        args.batches.batch_size,
        filter(args.filters),
        &stores,
        &stacpkg::runtime::Runtime::Own,
    )?;
    stdio::emit(reader)?;
    Ok(ExitStatus::Success)
}

/// `items to-parquet` → [`stacpkg::ipc::read_stream`] + [`stacpkg::items::geoparquet::write`].
pub(crate) fn to_parquet(args: ToParquetArgs) -> anyhow::Result<ExitStatus> {
    let output = stacpkg::files::FileRef::parse(&args.output_file)?;
    let stores = super::stores(matches!(output, stacpkg::files::FileRef::Object(_)))?;
    let reader = items_stdin()?;
    let summary = geoparquet::write_to(reader, &output, &stores, &stacpkg::runtime::Runtime::Own)?;
    warn_secret_hrefs(summary.secret_hrefs, &format!("`{}`", output.name()));
    Ok(ExitStatus::Success)
}

/// `items to-ndjson` and `items to-json` → [`stacpkg::ipc::read_stream`] +
/// [`stacpkg::items::feature::write_file`] (or [`stacpkg::items::feature::write`] to stdout).
pub(crate) fn to_json(args: ToJsonArgs, shape: JsonShape) -> anyhow::Result<ExitStatus> {
    let reader = items_stdin()?;
    let (summary, place) = match args.output_file {
        Some(path) if path.as_os_str() != "-" => (
            feature::write_file(reader, &path, shape)?,
            format!("`{}`", path.display()),
        ),
        _ => (
            feature::write(reader, std::io::stdout().lock(), shape, "stdout")?,
            "stdout".to_string(),
        ),
    };
    warn_secret_hrefs(summary.secret_hrefs, &place);
    Ok(ExitStatus::Success)
}

/// Signed URLs and credentials in the items pass through plain item streams as the user gave
/// them; say so (the count only: the hrefs themselves are secrets).
fn warn_secret_hrefs(count: u64, place: &str) {
    if count > 0 {
        crate::diagnostics::warn_line(&format!(
            "{count} asset hrefs written to {place} carry a signed URL's query string or credentials; they are kept as given (packages leave them out)"
        ));
    }
}

fn items_stdin() -> anyhow::Result<stacpkg::BatchReader> {
    stdio::require_piped_stdin("an items Arrow IPC stream")?;
    Ok(stacpkg::ipc::read_stream(
        std::io::stdin(),
        "stdin",
        StreamKind::Items,
    )?)
}

/// `items promote-alternate` → [`stacpkg::items::project::promote_alternate`].
pub(crate) fn promote_alternate(args: PromoteAlternateArgs) -> anyhow::Result<ExitStatus> {
    if args.drop_alternates && args.mode == ModeArg::Switch {
        return Err(
            super::UsageError("--drop-alternates is only used with --mode replace".into()).into(),
        );
    }
    let mode = match args.mode {
        ModeArg::Replace => PromoteMode::Replace,
        ModeArg::Switch => PromoteMode::Switch,
    };
    let options = PromoteOptions {
        key: args.alternate_key,
        mode,
        switched_name: args.switched_alternate_name,
        drop_alternates: args.drop_alternates,
    };
    stdio::emit(project::promote_alternate(items_stdin()?, options)?)?;
    Ok(ExitStatus::Success)
}

/// `items remove-alternate` → [`stacpkg::items::project::remove_alternate`].
pub(crate) fn remove_alternate(args: RemoveAlternateArgs) -> anyhow::Result<ExitStatus> {
    stdio::emit(project::remove_alternate(
        items_stdin()?,
        args.alternate_key,
    )?)?;
    Ok(ExitStatus::Success)
}

/// `items add-alternate` → [`stacpkg::items::project::add_alternate`].
pub(crate) fn add_alternate(args: AddAlternateArgs) -> anyhow::Result<ExitStatus> {
    let items = items_stdin()?;
    let lock = LockIndex::read(&args.asset_lock)?;
    stdio::emit(project::add_alternate(
        items,
        lock,
        args.alternate_key,
        args.alternate_name,
    )?)?;
    Ok(ExitStatus::Success)
}

/// `items enrich` → [`stacpkg::items::project::enrich`].
pub(crate) fn enrich(args: EnrichArgs) -> anyhow::Result<ExitStatus> {
    let items = items_stdin()?;
    let lock = LockIndex::read(&args.asset_lock)?;
    stdio::emit(project::enrich(items, lock, args.alternate_key)?)?;
    Ok(ExitStatus::Success)
}
