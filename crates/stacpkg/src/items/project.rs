//! STAC projection: lock locations and facts written back into items (ref §6, SPEC §7).
//!
//! | command | library function |
//! |---|---|
//! | `items enrich` | [`enrich`] |
//! | `items add-alternate` | [`add_alternate`] |
//! | `items promote-alternate` | [`promote_alternate`] |
//! | `items remove-alternate` | [`remove_alternate`] |
//!
//! Every command maps batch to batch. Schema changes depend only on the input schema and the
//! options, never on the rows, so the output schema is the transform of an empty batch and every
//! batch of a stream gets the same one. Departures from the original, on purpose:
//! `add-alternate` adds the alternate-assets extension like `enrich` does, and
//! `promote-alternate` with a key that no asset has leaves the stream unchanged instead of adding
//! an all-null alternate.
//!
//! Memory: the lock of `enrich` / `add-alternate` is held as a map by `(item_id, asset_key)`
//! (about 150 bytes per row); items stream batch by batch.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, Fields, Schema};

use super::schema::{ASSETS, ID, STAC_EXTENSIONS};
use crate::batch::BatchReader;
use crate::error::{Error, Result, StreamKind};
use crate::store::{href_of, normalize_endpoint};

/// The File Info extension, added by `enrich` to items that got a size or a checksum.
pub const FILE_EXTENSION: &str = "https://stac-extensions.github.io/file/v2.1.0/schema.json";
/// The Alternate Assets extension, added to items that got an alternate.
pub const ALTERNATE_EXTENSION: &str =
    "https://stac-extensions.github.io/alternate-assets/v1.2.0/schema.json";
/// Asset member holding the alternates, keyed by name.
pub const ALTERNATE: &str = "alternate";
/// Alternate member naming it.
pub const ALTERNATE_NAME: &str = "alternate:name";
/// Asset (and alternate) member with the store endpoint.
pub const STORE_ENDPOINT_URL: &str = "store_endpoint_url";
/// Asset (and alternate) member with the location.
pub const HREF: &str = "href";
/// Asset member with the size.
pub const FILE_SIZE: &str = "file:size";
pub use super::schema::FILE_CHECKSUM;
/// Default `--switched-alternate-name`.
pub const DEFAULT_SWITCHED_NAME: &str = "original";

/// What a lock says about one asset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockEntry {
    /// The location as an href (`None` when it cannot be written as one).
    pub href: Option<String>,
    /// Normalised endpoint.
    pub endpoint: Option<String>,
    /// `size_bytes`.
    pub size: Option<i64>,
    /// `file_checksum` (a multihash).
    pub checksum: Option<String>,
}

/// A lock read for projection: entries by `(item_id, asset_key)`, the last duplicate winning.
#[derive(Debug, Clone, Default)]
pub struct LockIndex {
    entries: HashMap<(String, String), LockEntry>,
}

impl LockIndex {
    /// Read an asset-lock Arrow IPC stream (a file or FIFO) whole.
    pub fn read(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| Error::io("failed to open", &name, e))?;
        Self::from_lock(crate::ipc::read_stream(file, &name, StreamKind::AssetLock)?)
    }

    /// Index an asset-lock batch stream (legacy lock columns are normalised as they are read).
    pub fn from_lock(reader: BatchReader) -> Result<Self> {
        let mut index = LockIndex::default();
        for batch in reader {
            let normalized = crate::asset_lock::normalize(&batch?)?;
            for row in crate::asset_lock::from_batch(&normalized.batch) {
                index.entries.insert(
                    (row.item_id, row.asset_key),
                    LockEntry {
                        href: href_of(&row.location),
                        endpoint: row.endpoint.as_deref().and_then(normalize_endpoint),
                        size: row.facts.size,
                        checksum: row.facts.checksum,
                    },
                );
            }
        }
        Ok(index)
    }

    /// An index from entries (for tests and library callers).
    pub fn from_entries(entries: impl IntoIterator<Item = ((String, String), LockEntry)>) -> Self {
        LockIndex {
            entries: entries.into_iter().collect(),
        }
    }

    fn get(&self, item_id: &str, asset_key: &str) -> Option<&LockEntry> {
        self.entries
            .get(&(item_id.to_string(), asset_key.to_string()))
    }
}

/// How [`promote_alternate`] treats the old primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PromoteMode {
    /// The alternate becomes the primary; the alternates stay (unless dropped).
    #[default]
    Replace,
    /// Primary and alternate swap places.
    Switch,
}

/// What [`promote_alternate`] promotes, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromoteOptions {
    /// The alternate whose href becomes the primary href.
    pub key: String,
    /// Keep the alternates ([`PromoteMode::Replace`]) or swap primary and alternate.
    pub mode: PromoteMode,
    /// `alternate:name` of the old primary when switched and it had none.
    pub switched_name: String,
    /// Remove every alternate after promoting (replace mode only).
    pub drop_alternates: bool,
}

impl PromoteOptions {
    /// Promote `key`, replacing the primary and keeping the alternates.
    pub fn new(key: impl Into<String>) -> Self {
        PromoteOptions {
            key: key.into(),
            mode: PromoteMode::Replace,
            switched_name: DEFAULT_SWITCHED_NAME.into(),
            drop_alternates: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Struct editing helpers

fn child<'a>(s: &'a StructArray, name: &str) -> Option<&'a ArrayRef> {
    s.column_by_name(name)
}

fn strings(column: Option<&ArrayRef>, len: usize) -> Result<StringArray> {
    match column {
        None => Ok(StringArray::new_null(len)),
        Some(c) if c.data_type() == &DataType::Null => Ok(StringArray::new_null(len)),
        Some(c) => Ok(arrow_cast::cast(c, &DataType::Utf8)
            .map_err(|e| Error::arrow("an asset member is not text", e))?
            .as_string::<i32>()
            .clone()),
    }
}

fn str_at(column: &StringArray, row: usize) -> Option<&str> {
    column.is_valid(row).then(|| column.value(row))
}

/// `s` with member `name` set to `value` (replaced in place, or appended).
fn with_member(s: &StructArray, name: &str, value: ArrayRef) -> Result<StructArray> {
    let mut fields: Vec<Arc<Field>> = s.fields().iter().cloned().collect();
    let mut columns: Vec<ArrayRef> = s.columns().to_vec();
    let field = Arc::new(Field::new(name, value.data_type().clone(), true));
    match fields.iter().position(|f| f.name() == name) {
        Some(i) => {
            fields[i] = field;
            columns[i] = value;
        }
        None => {
            fields.push(field);
            columns.push(value);
        }
    }
    StructArray::try_new(Fields::from(fields), columns, s.nulls().cloned())
        .map_err(|e| Error::arrow("failed to rebuild an asset", e))
}

/// `s` without member `name`.
fn without_member(s: &StructArray, name: &str) -> Result<StructArray> {
    let (fields, columns): (Vec<Arc<Field>>, Vec<ArrayRef>) = s
        .fields()
        .iter()
        .zip(s.columns())
        .filter(|(f, _)| f.name() != name)
        .map(|(f, c)| (Arc::clone(f), Arc::clone(c)))
        .unzip();
    StructArray::try_new(Fields::from(fields), columns, s.nulls().cloned())
        .map_err(|e| Error::arrow("failed to rebuild an asset", e))
}

fn valid(s: Option<&StructArray>, row: usize) -> bool {
    s.is_some_and(|s| s.is_valid(row))
}

/// What happens to `alternate[K]` of one asset row.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AltEdit {
    Keep,
    /// Overwrite with these member values (other members of the old alternate become null).
    Set(Vec<Option<String>>),
    Clear,
}

/// Apply per-row edits of `alternate[key]` to an asset struct. `members` are the string members
/// an alternate gets (`href`, `store_endpoint_url`[, `alternate:name`]); members of existing
/// alternates beyond those are carried.
fn edit_alternate(
    asset: &StructArray,
    key: &str,
    members: &[&str],
    edits: &[AltEdit],
) -> Result<StructArray> {
    let len = asset.len();
    let old_alt = child(asset, ALTERNATE).and_then(|c| c.as_struct_opt());
    let old_k = old_alt
        .and_then(|a| child(a, key))
        .and_then(|c| c.as_struct_opt());
    let keeps = |row: usize| valid(old_alt, row) && valid(old_k, row);

    // Members of the new alternate: the required ones, then any others the old one had.
    let mut names: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    if let Some(old) = old_k {
        for f in old.fields() {
            if !names.iter().any(|n| n == f.name()) {
                names.push(f.name().clone());
            }
        }
    }
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let old_member = old_k.and_then(|k| child(k, name));
        if i < members.len() {
            let old = strings(old_member, len)?;
            let mut builder = StringBuilder::with_capacity(len, 0);
            for (row, edit) in edits.iter().enumerate() {
                match edit {
                    AltEdit::Set(values) => builder.append_option(values[i].as_deref()),
                    AltEdit::Keep if keeps(row) => builder.append_option(str_at(&old, row)),
                    _ => builder.append_null(),
                }
            }
            fields.push(Arc::new(Field::new(name, DataType::Utf8, true)));
            columns.push(Arc::new(builder.finish()));
        } else {
            // A member only the old alternate had: kept where the old alternate is kept.
            let old = old_member.expect("carried members come from the old alternate");
            let mask: Vec<bool> = (0..len)
                .map(|row| matches!(edits[row], AltEdit::Keep) && keeps(row))
                .collect();
            let kept = arrow_select::nullif::nullif(
                old,
                &arrow_array::BooleanArray::from(mask.iter().map(|m| !m).collect::<Vec<_>>()),
            )
            .map_err(|e| Error::arrow("failed to rebuild an alternate", e))?;
            fields.push(Arc::new(Field::new(name, kept.data_type().clone(), true)));
            columns.push(kept);
        }
    }
    let k_valid: Vec<bool> = (0..len)
        .map(|row| match &edits[row] {
            AltEdit::Set(_) => true,
            AltEdit::Keep => keeps(row),
            AltEdit::Clear => false,
        })
        .collect();
    let new_k = StructArray::try_new(
        Fields::from(fields),
        columns,
        Some(NullBuffer::from(k_valid.clone())),
    )
    .map_err(|e| Error::arrow("failed to build an alternate", e))?;

    // The alternate map: the other alternates as they were, plus the new one.
    let mut alt_fields: Vec<Arc<Field>> = Vec::new();
    let mut alt_columns: Vec<ArrayRef> = Vec::new();
    if let Some(old) = old_alt {
        for (f, c) in old.fields().iter().zip(old.columns()) {
            if f.name() != key {
                alt_fields.push(Arc::clone(f));
                alt_columns.push(Arc::clone(c));
            }
        }
    }
    let others = alt_columns.clone();
    alt_fields.push(Arc::new(Field::new(key, new_k.data_type().clone(), true)));
    alt_columns.push(Arc::new(new_k));
    let alt_valid: Vec<bool> = (0..len)
        .map(|row| k_valid[row] || (valid(old_alt, row) && others.iter().any(|c| c.is_valid(row))))
        .collect();
    let alternate = StructArray::try_new(
        Fields::from(alt_fields),
        alt_columns,
        Some(NullBuffer::from(alt_valid)),
    )
    .map_err(|e| Error::arrow("failed to build the alternates", e))?;
    with_member(asset, ALTERNATE, Arc::new(alternate))
}

// ---------------------------------------------------------------------------------------------
// Batch plumbing

/// The `assets` column as a struct (if any), and the item ids.
fn assets_of(batch: &RecordBatch) -> Result<Option<(StructArray, StringArray)>> {
    let Some(assets) = batch.column_by_name(ASSETS).and_then(|c| c.as_struct_opt()) else {
        return Ok(None);
    };
    let ids = strings(batch.column_by_name(ID), batch.num_rows())?;
    Ok(Some((assets.clone(), ids)))
}

/// `batch` with its `assets` replaced, and `stac_extensions` extended where `extensions[row]`
/// names URLs to add.
fn rebuild(
    batch: &RecordBatch,
    assets: StructArray,
    extensions: Option<&[Vec<&'static str>]>,
) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    let index = schema
        .index_of(ASSETS)
        .map_err(|e| Error::arrow("the items stream has no `assets` column", e))?;
    fields[index] = Arc::new(
        Field::new(
            ASSETS,
            assets.data_type().clone(),
            fields[index].is_nullable(),
        )
        .with_metadata(fields[index].metadata().clone()),
    );
    columns[index] = Arc::new(assets);
    if let (Some(extensions), Ok(ext_index)) = (extensions, schema.index_of(STAC_EXTENSIONS))
        && let Some(old) = columns[ext_index].as_list_opt::<i32>()
    {
        let values = strings(Some(old.values()), old.values().len())?;
        let mut builder = ListBuilder::new(StringBuilder::new());
        for (row, added) in extensions.iter().enumerate() {
            if old.is_null(row) && added.is_empty() {
                builder.append_null();
                continue;
            }
            let mut present = Vec::new();
            if old.is_valid(row) {
                let offsets = old.value_offsets();
                for i in offsets[row] as usize..offsets[row + 1] as usize {
                    builder.values().append_option(str_at(&values, i));
                    present.extend(str_at(&values, i));
                }
            }
            for url in added {
                if !present.contains(url) {
                    builder.values().append_value(url);
                    present.push(url);
                }
            }
            builder.append(true);
        }
        let list = builder.finish();
        let field = &fields[ext_index];
        fields[ext_index] = Arc::new(
            Field::new(
                STAC_EXTENSIONS,
                list.data_type().clone(),
                field.is_nullable(),
            )
            .with_metadata(field.metadata().clone()),
        );
        columns[ext_index] = Arc::new(list);
    }
    let schema = Arc::new(Schema::new(fields).with_metadata(schema.metadata().clone()));
    RecordBatch::try_new(schema, columns).map_err(|e| Error::arrow("failed to rebuild items", e))
}

/// Apply `f` to every asset struct of the batch (asset key, asset column) → new asset column.
fn map_assets(
    assets: &StructArray,
    mut f: impl FnMut(&str, &StructArray) -> Result<StructArray>,
) -> Result<StructArray> {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in assets.fields().iter().zip(assets.columns()) {
        match column.as_struct_opt() {
            Some(asset) => {
                let new = f(field.name(), asset)?;
                fields.push(Arc::new(Field::new(
                    field.name(),
                    new.data_type().clone(),
                    true,
                )));
                columns.push(Arc::new(new) as ArrayRef);
            }
            None => {
                fields.push(Arc::clone(field));
                columns.push(Arc::clone(column));
            }
        }
    }
    StructArray::try_new(Fields::from(fields), columns, assets.nulls().cloned())
        .map_err(|e| Error::arrow("failed to rebuild assets", e))
}

/// A stream mapped batch by batch; the output schema is the transform of an empty batch.
fn map_stream(
    input: BatchReader,
    transform: impl Fn(&RecordBatch) -> Result<RecordBatch> + Send + 'static,
) -> Result<BatchReader> {
    let schema = transform(&RecordBatch::new_empty(input.schema()))?.schema();
    Ok(BatchReader::new(
        schema,
        input.map(move |batch| transform(&batch?)),
    ))
}

// ---------------------------------------------------------------------------------------------
// The four commands

/// `items enrich`: sizes from the lock into `file:size`, checksums into `file:checksum`, and with
/// `alternate_key` the lock's location as `alternate[K] = {href, store_endpoint_url}` (ref §6.1).
pub fn enrich(
    input: BatchReader,
    lock: LockIndex,
    alternate_key: Option<String>,
) -> Result<BatchReader> {
    map_stream(input, move |batch| {
        enrich_batch(batch, &lock, alternate_key.as_deref())
    })
}

fn enrich_batch(batch: &RecordBatch, lock: &LockIndex, key: Option<&str>) -> Result<RecordBatch> {
    let Some((assets, ids)) = assets_of(batch)? else {
        return Ok(batch.clone());
    };
    let rows = batch.num_rows();
    let mut extensions: Vec<Vec<&'static str>> = vec![Vec::new(); rows];
    let assets = map_assets(&assets, |asset_key, asset| {
        let entries: Vec<Option<&LockEntry>> = (0..rows)
            .map(|row| {
                (asset.is_valid(row))
                    .then(|| str_at(&ids, row).and_then(|id| lock.get(id, asset_key)))
                    .flatten()
            })
            .collect();
        let mut asset = asset.clone();
        // A matched asset gets the lock's checksum (none when the lock has none: the item's
        // own cannot be vouched for); the others keep theirs.
        let old_checksum = match child(&asset, FILE_CHECKSUM) {
            Some(c) => Some(
                arrow_cast::cast(c, &DataType::Utf8)
                    .map_err(|e| {
                        Error::arrow(
                            format!("`assets.{asset_key}.{FILE_CHECKSUM}` is not text"),
                            e,
                        )
                    })?
                    .as_string::<i32>()
                    .clone(),
            ),
            None => None,
        };
        let mut checksums = StringBuilder::with_capacity(rows, 0);
        for (row, entry) in entries.iter().enumerate() {
            match entry {
                Some(entry) => {
                    if entry.checksum.is_some() {
                        extensions[row].push(FILE_EXTENSION);
                    }
                    checksums.append_option(entry.checksum.as_deref());
                }
                None => checksums.append_option(old_checksum.as_ref().and_then(|c| str_at(c, row))),
            }
        }
        asset = with_member(&asset, FILE_CHECKSUM, Arc::new(checksums.finish()))?;
        let old_size: Option<Int64Array> = match child(&asset, FILE_SIZE) {
            Some(c) => Some(
                arrow_cast::cast(c, &DataType::Int64)
                    .map_err(|e| Error::arrow("`file:size` is not an integer", e))?
                    .as_primitive::<Int64Type>()
                    .clone(),
            ),
            None => None,
        };
        let mut sizes = Int64Builder::with_capacity(rows);
        for (row, entry) in entries.iter().enumerate() {
            match entry.and_then(|e| e.size) {
                Some(size) => {
                    sizes.append_value(size);
                    extensions[row].push(FILE_EXTENSION);
                }
                None => sizes.append_option(
                    old_size
                        .as_ref()
                        .and_then(|s| s.is_valid(row).then(|| s.value(row))),
                ),
            }
        }
        asset = with_member(&asset, FILE_SIZE, Arc::new(sizes.finish()))?;
        if let Some(key) = key {
            let edits: Vec<AltEdit> = entries
                .iter()
                .enumerate()
                .map(|(row, entry)| match entry {
                    Some(e) if e.href.as_deref().is_some_and(|h| !h.is_empty()) => {
                        extensions[row].push(ALTERNATE_EXTENSION);
                        AltEdit::Set(vec![e.href.clone(), e.endpoint.clone()])
                    }
                    _ => AltEdit::Keep,
                })
                .collect();
            asset = edit_alternate(&asset, key, &[HREF, STORE_ENDPOINT_URL], &edits)?;
        }
        Ok(asset)
    })?;
    rebuild(batch, assets, Some(&extensions))
}

/// `items add-alternate`: the lock's location as `alternate[K] = {href, store_endpoint_url,
/// alternate:name}` (ref §6.2), and the alternate-assets extension (SPEC §7).
pub fn add_alternate(
    input: BatchReader,
    lock: LockIndex,
    key: String,
    name: Option<String>,
) -> Result<BatchReader> {
    let name = name.unwrap_or_else(|| key.clone());
    map_stream(input, move |batch| {
        let Some((assets, ids)) = assets_of(batch)? else {
            return Ok(batch.clone());
        };
        let rows = batch.num_rows();
        let mut extensions: Vec<Vec<&'static str>> = vec![Vec::new(); rows];
        let assets = map_assets(&assets, |asset_key, asset| {
            let edits: Vec<AltEdit> = (0..rows)
                .map(|row| {
                    let entry = asset
                        .is_valid(row)
                        .then(|| str_at(&ids, row).and_then(|id| lock.get(id, asset_key)))
                        .flatten();
                    match entry.and_then(|e| e.href.as_ref().map(|h| (h, e))) {
                        Some((href, entry)) => {
                            extensions[row].push(ALTERNATE_EXTENSION);
                            AltEdit::Set(vec![
                                Some(href.clone()),
                                entry.endpoint.clone(),
                                Some(name.clone()),
                            ])
                        }
                        None => AltEdit::Keep,
                    }
                })
                .collect();
            edit_alternate(
                asset,
                &key,
                &[HREF, STORE_ENDPOINT_URL, ALTERNATE_NAME],
                &edits,
            )
        })?;
        rebuild(batch, assets, Some(&extensions))
    })
}

/// The endpoint of an S3 alternate inferred from the primary it replaces: the primary
/// `http(s)://bucket.HOST/key` (virtual-hosted) or `http(s)://HOST/bucket/key` (path style)
/// gives `scheme://HOST`.
fn infer_endpoint(alternate: &str, primary: &str) -> Option<String> {
    let rest = alternate.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/')?;
    let (scheme, after) = primary.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let (host, path) = after.split_once('/').unwrap_or((after, ""));
    if let Some(base) = host.strip_prefix(&format!("{bucket}.")) {
        return (path == key).then(|| format!("{scheme}://{base}"));
    }
    (path == format!("{bucket}/{key}")).then(|| format!("{scheme}://{host}"))
}

/// `items promote-alternate`: `alternate[K]` becomes the primary href (ref §6.3).
pub fn promote_alternate(input: BatchReader, options: PromoteOptions) -> Result<BatchReader> {
    let PromoteOptions {
        key,
        mode,
        switched_name,
        drop_alternates,
    } = options;
    let has_key = match input.schema().field_with_name(ASSETS).map(|f| f.data_type()) {
        Ok(DataType::Struct(assets)) => assets.iter().any(|asset| match asset.data_type() {
            DataType::Struct(members) => members.iter().any(|m| {
                m.name() == ALTERNATE
                    && matches!(m.data_type(), DataType::Struct(alts) if alts.iter().any(|a| a.name() == &key))
            }),
            _ => false,
        }),
        _ => false,
    };
    if !has_key {
        // No asset can have `alternate[K]`: nothing to promote (SPEC §7).
        return Ok(input);
    }
    map_stream(input, move |batch| {
        let Some((assets, _)) = assets_of(batch)? else {
            return Ok(batch.clone());
        };
        let rows = batch.num_rows();
        let assets = map_assets(&assets, |_, asset| {
            let alt = child(asset, ALTERNATE).and_then(|c| c.as_struct_opt());
            let alt_k = alt
                .and_then(|a| child(a, &key))
                .and_then(|c| c.as_struct_opt());
            let alt_href = strings(alt_k.and_then(|k| child(k, HREF)), rows)?;
            let alt_endpoint = strings(alt_k.and_then(|k| child(k, STORE_ENDPOINT_URL)), rows)?;
            let alt_name = strings(alt_k.and_then(|k| child(k, ALTERNATE_NAME)), rows)?;
            let old_href = strings(child(asset, HREF), rows)?;
            let old_endpoint = strings(child(asset, STORE_ENDPOINT_URL), rows)?;
            let old_name = strings(child(asset, ALTERNATE_NAME), rows)?;

            let mut hrefs = StringBuilder::new();
            let mut endpoints = StringBuilder::new();
            let mut names = StringBuilder::new();
            let mut edits = Vec::with_capacity(rows);
            for row in 0..rows {
                let promoted = asset.is_valid(row)
                    && valid(alt, row)
                    && valid(alt_k, row)
                    && str_at(&alt_href, row).is_some_and(|h| !h.is_empty());
                if !promoted {
                    hrefs.append_option(str_at(&old_href, row));
                    endpoints.append_option(str_at(&old_endpoint, row));
                    names.append_option(str_at(&old_name, row));
                    edits.push(AltEdit::Keep);
                    continue;
                }
                let new_href = str_at(&alt_href, row).unwrap_or_default();
                let primary = str_at(&old_href, row);
                let endpoint = str_at(&alt_endpoint, row)
                    .and_then(normalize_endpoint)
                    .or_else(|| primary.and_then(|p| infer_endpoint(new_href, p)));
                hrefs.append_value(new_href);
                endpoints.append_option(endpoint.as_deref());
                names.append_value(str_at(&alt_name, row).unwrap_or(&key));
                edits.push(match (mode, primary.filter(|p| !p.is_empty())) {
                    (PromoteMode::Replace, _) => AltEdit::Keep,
                    (PromoteMode::Switch, Some(primary)) => AltEdit::Set(vec![
                        Some(primary.to_string()),
                        str_at(&old_endpoint, row).map(str::to_string),
                        Some(str_at(&old_name, row).unwrap_or(&switched_name).to_string()),
                    ]),
                    (PromoteMode::Switch, None) => AltEdit::Clear,
                });
            }
            let mut asset = with_member(asset, HREF, Arc::new(hrefs.finish()))?;
            asset = with_member(&asset, STORE_ENDPOINT_URL, Arc::new(endpoints.finish()))?;
            asset = with_member(&asset, ALTERNATE_NAME, Arc::new(names.finish()))?;
            if mode == PromoteMode::Replace && drop_alternates {
                return without_member(&asset, ALTERNATE);
            }
            edit_alternate(
                &asset,
                &key,
                &[HREF, STORE_ENDPOINT_URL, ALTERNATE_NAME],
                &edits,
            )
        })?;
        rebuild(batch, assets, None)
    })
}

/// `items remove-alternate`: `alternate[K]` removed from every asset, and `alternate` with it
/// when nothing is left (ref §6.4).
pub fn remove_alternate(input: BatchReader, key: String) -> Result<BatchReader> {
    map_stream(input, move |batch| {
        let Some((assets, _)) = assets_of(batch)? else {
            return Ok(batch.clone());
        };
        let assets = map_assets(&assets, |_, asset| {
            let Some(alt) = child(asset, ALTERNATE).and_then(|c| c.as_struct_opt()) else {
                return Ok(asset.clone());
            };
            if child(alt, &key).is_none() {
                return Ok(asset.clone());
            }
            if alt.num_columns() == 1 {
                return without_member(asset, ALTERNATE);
            }
            let rest = without_member(alt, &key)?;
            // A row whose only alternate was K has no alternates left.
            let left: Vec<bool> = (0..rest.len())
                .map(|row| rest.is_valid(row) && rest.columns().iter().any(|c| c.is_valid(row)))
                .collect();
            let (fields, columns, _) = rest.into_parts();
            let rest = StructArray::try_new(fields, columns, Some(NullBuffer::from(left)))
                .map_err(|e| Error::arrow("failed to rebuild the alternates", e))?;
            with_member(asset, ALTERNATE, Arc::new(rest))
        })?;
        rebuild(batch, assets, None)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_endpoints_are_inferred_from_virtual_hosted_and_path_style_primaries() {
        assert_eq!(
            infer_endpoint("s3://bkt/a/b.tif", "https://bkt.s3.eu.example.com/a/b.tif").as_deref(),
            Some("https://s3.eu.example.com")
        );
        assert_eq!(
            infer_endpoint("s3://bkt/a/b.tif", "http://minio:9000/bkt/a/b.tif").as_deref(),
            Some("http://minio:9000")
        );
        assert_eq!(
            infer_endpoint("s3://bkt/a/b.tif", "https://other/x.tif"),
            None
        );
        assert_eq!(infer_endpoint("gs://bkt/a", "https://bkt.h/a"), None);
    }
}
