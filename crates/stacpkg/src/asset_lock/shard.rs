//! Sharded runs: a deterministic partition of lock rows, the shard streams that carry what a
//! merge needs, and the merge that gives back exactly the rows and order of one unsharded run.
//!
//! **The partition.** A row belongs to shard `K` of `N` when
//!
//! ```text
//! u64_be(sha256(utf8(item_id) ‖ 0x00 ‖ utf8(asset_key))[0..8]) mod N == K
//! ```
//!
//! — the first eight bytes of the SHA-256 of the item id, a zero byte and the asset key, read as
//! a big-endian integer. It depends on nothing but the two strings, so it is the same on every
//! machine, platform and version; in Python it is
//! `int.from_bytes(hashlib.sha256(f"{item_id}\0{asset_key}".encode()).digest()[:8], "big") % n`.
//!
//! **Shard streams.** A sharded `derive`, `relocate` or package build emits only its rows, each
//! with [`POSITION`]: its row number in the output of the same command run unsharded. The
//! schema metadata [`META_SHARD`] says which shard of how many, and of which run (the command
//! and the options that decide its output). `relocate` of a shard stream keeps its positions and
//! its shard.
//!
//! **The merge** ([`merge`]) takes the shard files of one run, checks up front that they are
//! all of it (one count, one run, each index once), and interleaves their rows by position,
//! checking as it goes that every row is in its file's shard and that the positions are exactly
//! `0, 1, 2, …` — so a file of another lock is refused, not merged. The result is a plain lock:
//! written as Parquet it is byte for byte the unsharded run's file.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, ArrayRef, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::{ASSET_KEY, ITEM_ID, schema};
use crate::batch::BatchReader;
use crate::error::{Error, Result};

/// The column of a shard stream holding each row's position in the unsharded run.
pub const POSITION: &str = "shard_position";
/// Schema metadata of a shard stream: `{"index": K, "count": N, "run": "…"}`.
pub const META_SHARD: &str = "stacpkg:shard";
/// The variable that gives the shard count to Kubernetes Indexed Jobs and AWS Batch array jobs,
/// whose own variables give only the index.
pub const COUNT_VARIABLE: &str = "STACPKG_SHARD_COUNT";

/// One shard of a partition: rows whose [`shard_of`] is `index`, of `count` shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Shard `index` (0-based) of `count`.
    pub fn new(index: u32, count: u32) -> Result<Self> {
        let spec = format!("{index}/{count}");
        if count == 0 {
            return Err(invalid(&spec, "the count must be at least 1"));
        }
        if index >= count {
            return Err(invalid(
                &spec,
                &format!("the index must be below the count (0 to {})", count - 1),
            ));
        }
        Ok(Shard { index, count })
    }

    /// `K/N`, as written by [`Display`](std::fmt::Display).
    pub fn parse(text: &str) -> Result<Self> {
        let number = |part: &str| part.trim().parse::<u32>().ok();
        match text.split_once('/') {
            Some((k, n)) => match (number(k), number(n)) {
                (Some(k), Some(n)) => Shard::new(k, n),
                _ => Err(invalid(
                    text,
                    "expected INDEX/COUNT, two whole numbers such as 0/4",
                )),
            },
            None => Err(invalid(
                text,
                "expected INDEX/COUNT, two whole numbers such as 0/4",
            )),
        }
    }

    /// The shard a scheduler's array task is, from its variables (`var` looks one up): Slurm job
    /// arrays (`SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_COUNT`, or with `…_MIN`, `…_MAX`
    /// and `…_STEP`), Kubernetes Indexed Jobs (`JOB_COMPLETION_INDEX`) and AWS Batch array jobs
    /// (`AWS_BATCH_JOB_ARRAY_INDEX`), the last two with the count in [`COUNT_VARIABLE`]. No
    /// scheduler's variables, several schedulers', or values that disagree are an error.
    pub fn from_scheduler(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        const SPEC: &str = "auto";
        let number = |name: &str| -> Result<Option<u64>> {
            match var(name) {
                None => Ok(None),
                Some(text) => text.trim().parse::<u64>().map(Some).map_err(|_| {
                    invalid(
                        SPEC,
                        &format!("{name} is `{}`, not a whole number", text.escape_debug()),
                    )
                }),
            }
        };
        let schedulers: Vec<&str> = [
            "SLURM_ARRAY_TASK_ID",
            "JOB_COMPLETION_INDEX",
            "AWS_BATCH_JOB_ARRAY_INDEX",
        ]
        .into_iter()
        .filter(|name| var(name).is_some())
        .collect();
        let given_count = number(COUNT_VARIABLE)?;
        let (index, count) = match schedulers.as_slice() {
            [] => {
                return Err(invalid(
                    SPEC,
                    "no scheduler array variable is set (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX)",
                ));
            }
            ["SLURM_ARRAY_TASK_ID"] => {
                let id = number("SLURM_ARRAY_TASK_ID")?.unwrap_or(0);
                let min = number("SLURM_ARRAY_TASK_MIN")?;
                let max = number("SLURM_ARRAY_TASK_MAX")?;
                let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
                let listed = number("SLURM_ARRAY_TASK_COUNT")?;
                let from_range = match (min, max) {
                    (Some(min), Some(max)) if max >= min => Some((max - min) / step + 1),
                    (Some(min), Some(max)) => {
                        return Err(invalid(
                            SPEC,
                            &format!(
                                "SLURM_ARRAY_TASK_MAX ({max}) is below SLURM_ARRAY_TASK_MIN ({min})"
                            ),
                        ));
                    }
                    _ => None,
                };
                let count = match (listed, from_range) {
                    (Some(listed), Some(range)) if listed != range => {
                        return Err(invalid(
                            SPEC,
                            &format!(
                                "SLURM_ARRAY_TASK_COUNT is {listed} but SLURM_ARRAY_TASK_MIN, _MAX and _STEP make {range} tasks (only evenly stepped arrays can be shards)"
                            ),
                        ));
                    }
                    (Some(count), _) | (None, Some(count)) => count,
                    (None, None) => {
                        return Err(invalid(
                            SPEC,
                            "SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_MAX are",
                        ));
                    }
                };
                let min = min.unwrap_or(0);
                if id < min || (id - min) % step != 0 {
                    return Err(invalid(
                        SPEC,
                        &format!(
                            "SLURM_ARRAY_TASK_ID {id} is not a task of the array from {min} by {step}"
                        ),
                    ));
                }
                if let Some(given) = given_count.filter(|given| *given != count) {
                    return Err(invalid(
                        SPEC,
                        &format!(
                            "{COUNT_VARIABLE} is {given} but the Slurm array has {count} tasks"
                        ),
                    ));
                }
                ((id - min) / step, count)
            }
            [single] => {
                let index = number(single)?.unwrap_or(0);
                let count = given_count.ok_or_else(|| {
                    invalid(
                        SPEC,
                        &format!(
                            "{single} is set but {COUNT_VARIABLE} (the number of tasks) is not"
                        ),
                    )
                })?;
                (index, count)
            }
            several => {
                return Err(invalid(
                    SPEC,
                    &format!(
                        "variables of several schedulers are set ({}); which one runs this task is unclear",
                        several.join(", ")
                    ),
                ));
            }
        };
        let narrow = |n: u64| u32::try_from(n).map_err(|_| invalid(SPEC, "too many tasks"));
        Shard::new(narrow(index)?, narrow(count)?).map_err(|e| match e {
            Error::InvalidShard { problem, .. } => invalid(
                SPEC,
                &format!("the scheduler says task {index} of {count}: {problem}"),
            ),
            other => other,
        })
    }

    /// Index (0-based).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Number of shards.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether the row `(item_id, asset_key)` is in this shard.
    pub fn owns(&self, item_id: &str, asset_key: &str) -> bool {
        shard_of(item_id, asset_key, self.count) == self.index
    }
}

fn invalid(spec: &str, problem: &str) -> Error {
    Error::InvalidShard {
        spec: spec.to_string(),
        problem: problem.to_string(),
    }
}

/// The shard of `count` that the row `(item_id, asset_key)` is in (see the module docs).
pub fn shard_of(item_id: &str, asset_key: &str, count: u32) -> u32 {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(item_id.as_bytes());
    context.update(&[0]);
    context.update(asset_key.as_bytes());
    let digest = context.finish();
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest.as_ref()[..8]);
    (u64::from_be_bytes(head) % u64::from(count.max(1))) as u32
}

/// What a shard stream says of itself ([`META_SHARD`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardTag {
    /// Which shard.
    pub shard: Shard,
    /// The run it is a shard of: the command and the options that decide its rows (for
    /// example `relocate to s3://bucket/prefix`), never a credential.
    pub run: String,
}

impl ShardTag {
    /// The tag of a stream's schema, if it is a shard stream.
    pub fn of(schema: &Schema) -> Result<Option<Self>> {
        let Some(text) = schema.metadata().get(META_SHARD) else {
            return Ok(None);
        };
        let bad = || Error::ShardSet {
            input: "the lock".into(),
            problem: format!(
                "has `{META_SHARD}` metadata that is not a shard tag with a `{POSITION}` column: `{}`",
                text.escape_debug()
            ),
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|_| bad())?;
        let number = |name: &str| {
            value
                .get(name)
                .and_then(serde_json::Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
        };
        let (Some(index), Some(count), Some(run)) = (
            number("index"),
            number("count"),
            value.get("run").and_then(serde_json::Value::as_str),
        ) else {
            return Err(bad());
        };
        let shard = Shard::new(index, count).map_err(|_| bad())?;
        if schema.field_with_name(POSITION).ok().map(|f| f.data_type()) != Some(&DataType::UInt64) {
            return Err(bad());
        }
        Ok(Some(ShardTag {
            shard,
            run: run.to_string(),
        }))
    }

    /// The lock schema of this shard's stream: the v1 columns, then [`POSITION`], and the tag.
    pub fn schema(&self) -> SchemaRef {
        let base = schema();
        let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new(POSITION, DataType::UInt64, false));
        let mut metadata = base.metadata().clone();
        metadata.insert(
            META_SHARD.to_string(),
            serde_json::json!({
                "index": self.shard.index,
                "count": self.shard.count,
                "run": self.run,
            })
            .to_string(),
        );
        Arc::new(Schema::new(fields).with_metadata(metadata))
    }

    /// A v1 `batch` with its rows' positions, in this shard's schema.
    pub fn batch(&self, batch: &RecordBatch, positions: Vec<u64>) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns.push(Arc::new(UInt64Array::from(positions)));
        RecordBatch::try_new(self.schema(), columns)
            .map_err(|e| Error::arrow("failed to build the shard's rows", e))
    }
}

/// The shard a lock-reading command works on, from its input's tag and the shard asked for:
/// a shard stream stays its shard (asking for another is an error), a plain stream becomes the
/// one asked for, tagged with `run`.
pub(crate) fn of_input(
    input: &Schema,
    asked: Option<Shard>,
    run: impl FnOnce() -> String,
) -> Result<Option<ShardTag>> {
    match (ShardTag::of(input)?, asked) {
        (Some(tag), Some(asked)) if tag.shard != asked => Err(invalid(
            &asked.to_string(),
            &format!("the input is shard {} of a sharded run", tag.shard),
        )),
        (Some(tag), _) => Ok(Some(ShardTag { run: run(), ..tag })),
        (None, Some(shard)) => Ok(Some(ShardTag { shard, run: run() })),
        (None, None) => Ok(None),
    }
}

/// Positions of a stream's rows: a shard stream's own, else their row numbers.
#[derive(Debug, Default)]
pub(crate) struct Positions {
    next: u64,
}

impl Positions {
    /// The positions of `batch`'s rows.
    pub(crate) fn of(&mut self, batch: &RecordBatch) -> Vec<u64> {
        match batch
            .column_by_name(POSITION)
            .and_then(|c| c.as_primitive_opt::<UInt64Type>())
        {
            Some(column) => column.values().to_vec(),
            None => {
                let start = self.next;
                self.next += batch.num_rows() as u64;
                (start..self.next).collect()
            }
        }
    }
}

/// One input of [`merge`]: its name (for messages) and its rows.
pub type MergeInput = (String, BatchReader);

/// Merge the shard files of one run into the unsharded run's lock, in its order; or, when no
/// input is a shard file, stream the inputs one after another (their columns must agree).
/// Batches of at most `batch_size` rows.
///
/// Memory: one batch per input, plus the output batch.
pub fn merge(inputs: Vec<MergeInput>, batch_size: usize) -> Result<BatchReader> {
    let mut tags = Vec::with_capacity(inputs.len());
    for (name, reader) in &inputs {
        tags.push(ShardTag::of(&reader.schema()).map_err(|_| Error::ShardSet {
            input: format!("`{name}`"),
            problem: format!("its `{META_SHARD}` metadata is not a shard tag"),
        })?);
    }
    let Some(first) = tags.iter().flatten().next().cloned() else {
        return concat(inputs);
    };
    let set_error = |input: String, problem: String| Error::ShardSet { input, problem };
    let mut by_index: HashMap<u32, &str> = HashMap::new();
    let first_name = &inputs[tags.iter().position(Option::is_some).unwrap_or(0)].0;
    for ((name, _), tag) in inputs.iter().zip(&tags) {
        let Some(tag) = tag else {
            return Err(set_error(
                format!("`{name}`"),
                format!(
                    "is not a shard file, but `{first_name}` is one; merge only the shard files of one run"
                ),
            ));
        };
        if tag.shard.count != first.shard.count {
            return Err(set_error(
                format!("`{name}`"),
                format!(
                    "is shard {} but `{first_name}` is shard {}: mixed shard counts",
                    tag.shard, first.shard
                ),
            ));
        }
        if tag.run != first.run {
            return Err(set_error(
                format!("`{name}`"),
                format!(
                    "is a shard of another run (`{}`) than `{first_name}` (`{}`)",
                    tag.run, first.run
                ),
            ));
        }
        if let Some(other) = by_index.insert(tag.shard.index, name) {
            return Err(set_error(
                format!("`{name}`"),
                format!("is shard {} again (so is `{other}`)", tag.shard),
            ));
        }
    }
    let missing: Vec<String> = (0..first.shard.count)
        .filter(|k| !by_index.contains_key(k))
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(set_error(
            format!("the shard files of `{}`", first.run),
            format!(
                "lack shard {} of {}; merge all the shards of the run",
                missing.join(", "),
                first.shard.count
            ),
        ));
    }
    let expected = first.schema();
    for (name, reader) in &inputs {
        if reader.schema().fields() != expected.fields() {
            return Err(set_error(
                format!("`{name}`"),
                "does not have the columns of a shard file".into(),
            ));
        }
    }
    let sources = inputs
        .into_iter()
        .zip(tags)
        .map(|((name, reader), tag)| Source {
            name,
            shard: tag.expect("checked above").shard,
            reader,
            batch: None,
            row: 0,
            loaded: 0,
        })
        .collect();
    let mut merger = Merger {
        sources,
        next: 0,
        batch_size: batch_size.max(1),
        failed: false,
    };
    Ok(BatchReader::new(
        schema(),
        std::iter::from_fn(move || merger.next_batch().transpose()),
    ))
}

/// Inputs one after another; their columns must be the first one's.
fn concat(inputs: Vec<MergeInput>) -> Result<BatchReader> {
    let mut inputs = inputs.into_iter();
    let first = inputs
        .next()
        .ok_or(Error::Internal("a merge of no inputs"))?;
    Ok(crate::batch::concat(first, inputs.map(Ok)))
}

struct Source {
    name: String,
    shard: Shard,
    reader: BatchReader,
    /// The current batch and its positions.
    batch: Option<(RecordBatch, UInt64Array)>,
    row: usize,
    /// Batches loaded so far: tells a merge that the current batch changed.
    loaded: u64,
}

impl Source {
    /// The position of the next row, loading the next batch when this one is done; `None` at
    /// the end.
    fn head(&mut self) -> Result<Option<u64>> {
        loop {
            if let Some((batch, positions)) = &self.batch
                && self.row < batch.num_rows()
            {
                return Ok(Some(positions.value(self.row)));
            }
            match self.reader.next() {
                None => {
                    self.batch = None;
                    return Ok(None);
                }
                Some(batch) => {
                    let batch = batch?;
                    let positions = batch
                        .column_by_name(POSITION)
                        .and_then(|c| c.as_primitive_opt::<UInt64Type>())
                        .cloned()
                        .ok_or(Error::Internal("a shard batch without positions"))?;
                    if positions.null_count() > 0 {
                        return Err(Error::ShardSet {
                            input: format!("`{}`", self.name),
                            problem: format!("has rows without a `{POSITION}`"),
                        });
                    }
                    self.batch = Some((batch, positions));
                    self.row = 0;
                    self.loaded += 1;
                }
            }
        }
    }
}

struct Merger {
    sources: Vec<Source>,
    /// The position the next row must have.
    next: u64,
    batch_size: usize,
    failed: bool,
}

impl Merger {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.failed {
            return Ok(None);
        }
        let out = self.fill();
        self.failed = out.is_err();
        out
    }

    fn fill(&mut self) -> Result<Option<RecordBatch>> {
        // The batches the output rows come from (each source's current one, and any loaded
        // while filling), and (batch, row) per output row.
        let mut batches: Vec<RecordBatch> = Vec::new();
        let mut slot_of: Vec<Option<(usize, u64)>> = vec![None; self.sources.len()];
        let mut picks: Vec<(usize, usize)> = Vec::with_capacity(self.batch_size);
        while picks.len() < self.batch_size {
            let mut best: Option<(u64, usize)> = None;
            for (i, source) in self.sources.iter_mut().enumerate() {
                if let Some(position) = source.head()?
                    && best.is_none_or(|(p, _)| position < p)
                {
                    best = Some((position, i));
                }
            }
            let Some((position, i)) = best else {
                break;
            };
            let source = &mut self.sources[i];
            if position != self.next {
                let problem = if position < self.next {
                    format!(
                        "repeats row {position} of the whole lock: the shard files are not of one run"
                    )
                } else {
                    format!(
                        "comes next with row {position}, but no shard file has row {}: the shard files are not of one run",
                        self.next
                    )
                };
                return Err(Error::ShardSet {
                    input: format!("`{}`", source.name),
                    problem,
                });
            }
            let (batch, _) = source.batch.as_ref().expect("head loaded it");
            let ids = batch.column_by_name(ITEM_ID).map(|c| c.as_string::<i32>());
            let keys = batch
                .column_by_name(ASSET_KEY)
                .map(|c| c.as_string::<i32>());
            let (Some(ids), Some(keys)) = (ids, keys) else {
                return Err(Error::Internal("a shard batch without item ids"));
            };
            let (id, key) = (ids.value(source.row), keys.value(source.row));
            if !source.shard.owns(id, key) {
                return Err(Error::ShardSet {
                    input: format!("`{}`", source.name),
                    problem: format!(
                        "has item `{id}` asset `{key}`, which is not in shard {}: the file is not a shard of this run",
                        source.shard
                    ),
                });
            }
            // The same batch keeps its slot while it is current.
            let slot = match slot_of[i] {
                Some((slot, loaded)) if loaded == source.loaded => slot,
                _ => {
                    batches.push(batch.clone());
                    slot_of[i] = Some((batches.len() - 1, source.loaded));
                    batches.len() - 1
                }
            };
            picks.push((slot, source.row));
            source.row += 1;
            self.next += 1;
        }
        if picks.is_empty() {
            return Ok(None);
        }
        let refs: Vec<&RecordBatch> = batches.iter().collect();
        let merged = arrow_select::interleave::interleave_record_batch(&refs, &picks)
            .map_err(|e| Error::arrow("failed to merge the shards", e))?;
        // The v1 columns, without the positions and the shard tag.
        let width = schema().fields().len();
        RecordBatch::try_new(schema(), merged.columns()[..width].to_vec())
            .map(Some)
            .map_err(|e| Error::arrow("failed to merge the shards", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_is_the_documented_sha256_rule() {
        // Values computed with the module docs' Python expression.
        assert_eq!(shard_of("S2A_1", "B04", 4), 0);
        assert_eq!(shard_of("item-0", "visual", 16), 5);
        assert_eq!(shard_of("é", "data", 3), 2);
        assert_eq!(shard_of("", "", 7), 4);
    }

    #[test]
    fn shard_specs_are_checked() {
        assert_eq!(Shard::parse("2/4").unwrap().to_string(), "2/4");
        for (text, message) in [
            (
                "5/4",
                "shard `5/4`: the index must be below the count (0 to 3)",
            ),
            ("0/0", "shard `0/0`: the count must be at least 1"),
            (
                "a/4",
                "shard `a/4`: expected INDEX/COUNT, two whole numbers such as 0/4",
            ),
            (
                "3",
                "shard `3`: expected INDEX/COUNT, two whole numbers such as 0/4",
            ),
        ] {
            assert_eq!(Shard::parse(text).unwrap_err().to_string(), message);
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn schedulers_give_the_shard() {
        let slurm = vars(&[
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "10"),
            ("SLURM_ARRAY_TASK_STEP", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            Shard::from_scheduler(slurm).unwrap(),
            Shard::new(2, 4).unwrap()
        );
        let slurm_count_only = vars(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            Shard::from_scheduler(slurm_count_only).unwrap(),
            Shard::new(3, 4).unwrap()
        );
        let k8s = vars(&[("JOB_COMPLETION_INDEX", "1"), (COUNT_VARIABLE, "3")]);
        assert_eq!(
            Shard::from_scheduler(k8s).unwrap(),
            Shard::new(1, 3).unwrap()
        );
        let aws = vars(&[("AWS_BATCH_JOB_ARRAY_INDEX", "0"), (COUNT_VARIABLE, "2")]);
        assert_eq!(
            Shard::from_scheduler(aws).unwrap(),
            Shard::new(0, 2).unwrap()
        );
    }

    #[test]
    fn missing_or_inconsistent_scheduler_values_are_refused() {
        for (pairs, message) in [
            (
                vec![],
                "shard `auto`: no scheduler array variable is set (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX)",
            ),
            (
                vec![("JOB_COMPLETION_INDEX", "1")],
                "shard `auto`: JOB_COMPLETION_INDEX is set but STACPKG_SHARD_COUNT (the number of tasks) is not",
            ),
            (
                vec![("JOB_COMPLETION_INDEX", "4"), (COUNT_VARIABLE, "4")],
                "shard `auto`: the scheduler says task 4 of 4: the index must be below the count (0 to 3)",
            ),
            (
                vec![
                    ("SLURM_ARRAY_TASK_ID", "1"),
                    ("SLURM_ARRAY_TASK_MIN", "0"),
                    ("SLURM_ARRAY_TASK_MAX", "3"),
                    ("SLURM_ARRAY_TASK_COUNT", "3"),
                ],
                "shard `auto`: SLURM_ARRAY_TASK_COUNT is 3 but SLURM_ARRAY_TASK_MIN, _MAX and _STEP make 4 tasks (only evenly stepped arrays can be shards)",
            ),
            (
                vec![
                    ("SLURM_ARRAY_TASK_ID", "x"),
                    ("SLURM_ARRAY_TASK_COUNT", "3"),
                ],
                "shard `auto`: SLURM_ARRAY_TASK_ID is `x`, not a whole number",
            ),
            (
                vec![("SLURM_ARRAY_TASK_ID", "1"), ("JOB_COMPLETION_INDEX", "1")],
                "shard `auto`: variables of several schedulers are set (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX); which one runs this task is unclear",
            ),
        ] {
            assert_eq!(
                Shard::from_scheduler(vars(&pairs)).unwrap_err().to_string(),
                message
            );
        }
    }
}
