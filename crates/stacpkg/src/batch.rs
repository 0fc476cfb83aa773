//! The one batch-stream type that adapters produce and sinks consume.
//!
//! The items pipeline is synchronous end to end (decoding JSON and encoding Arrow/Parquet are
//! CPU work on local bytes), so a stream is a plain `Iterator`; where a producer runs on its own
//! thread it feeds a bounded channel, so at most a few batches are ever in flight.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::error::{Error, Result};

/// A schema plus the batches that follow it, in order.
pub struct BatchReader {
    schema: SchemaRef,
    batches: Box<dyn Iterator<Item = Result<RecordBatch>> + Send>,
    known_rows: Option<u64>,
}

impl std::fmt::Debug for BatchReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchReader")
            .field("schema", &self.schema)
            .field("known_rows", &self.known_rows)
            .finish_non_exhaustive()
    }
}

impl BatchReader {
    /// Wrap a schema and an iterator of batches that all have that schema.
    pub fn new(
        schema: SchemaRef,
        batches: impl Iterator<Item = Result<RecordBatch>> + Send + 'static,
    ) -> Self {
        BatchReader {
            schema,
            batches: Box::new(batches),
            known_rows: None,
        }
    }

    /// Record the total row count when it is known without reading (Parquet metadata), so a
    /// preview can stop after the rows it shows.
    pub fn with_known_rows(mut self, rows: u64) -> Self {
        self.known_rows = Some(rows);
        self
    }

    /// The schema every batch has.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Total rows, when known up front.
    pub fn known_rows(&self) -> Option<u64> {
        self.known_rows
    }
}

impl Iterator for BatchReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.batches.next()
    }
}

/// Re-cut a stream into batches of exactly `rows` rows (the last may be shorter), so that what
/// a file writer sees — and so the bytes it writes — does not depend on how an upstream command
/// happened to batch the same rows (reproducible packages, SPEC §8).
///
/// Memory: at most `rows` rows plus one input batch are held.
pub(crate) fn rebatch(reader: BatchReader, rows: usize) -> BatchReader {
    let rows = rows.max(1);
    let schema = reader.schema();
    let known = reader.known_rows();
    let mut input = reader;
    let mut pending: std::collections::VecDeque<RecordBatch> = Default::default();
    let mut pending_rows = 0usize;
    let mut ended = false;
    let out_schema = schema.clone();
    let batches = std::iter::from_fn(move || {
        while !ended && pending_rows < rows {
            match input.next() {
                Some(Ok(batch)) if batch.num_rows() == 0 => {}
                Some(Ok(batch)) => {
                    pending_rows += batch.num_rows();
                    pending.push_back(batch);
                }
                Some(Err(e)) => return Some(Err(e)),
                None => ended = true,
            }
        }
        if pending_rows == 0 {
            return None;
        }
        let take = rows.min(pending_rows);
        let mut parts = Vec::new();
        let mut needed = take;
        while needed > 0 {
            let batch = pending.pop_front().expect("pending rows are in batches");
            if batch.num_rows() <= needed {
                needed -= batch.num_rows();
                parts.push(batch);
            } else {
                parts.push(batch.slice(0, needed));
                pending.push_front(batch.slice(needed, batch.num_rows() - needed));
                needed = 0;
            }
        }
        pending_rows -= take;
        Some(if parts.len() == 1 {
            Ok(parts.pop().expect("one part"))
        } else {
            arrow_select::concat::concat_batches(&schema, &parts)
                .map_err(|e| crate::Error::arrow("failed to join batches", e))
        })
    });
    let reader = BatchReader::new(out_schema, batches);
    match known {
        Some(rows) => reader.with_known_rows(rows),
        None => reader,
    }
}

/// The batches of `first`, then of each reader `rest` yields, as one stream with `first`'s
/// schema (each input's own metadata stays its own). A reader is checked when it is reached: one
/// whose columns are not `first`'s ends the stream with an error naming both. `rest` may open
/// its readers lazily, so that one is open at a time.
pub(crate) fn concat(
    first: (String, BatchReader),
    rest: impl Iterator<Item = Result<(String, BatchReader)>> + Send + 'static,
) -> BatchReader {
    let (first_name, mut current) = first;
    let schema = current.schema();
    let out_schema = schema.clone();
    let mut rest = rest;
    let mut failed = false;
    let batches = std::iter::from_fn(move || {
        if failed {
            return None;
        }
        loop {
            if let Some(batch) = current.next() {
                let batch = batch.and_then(|batch| {
                    RecordBatch::try_new(out_schema.clone(), batch.columns().to_vec())
                        .map_err(|e| Error::arrow("failed to stream the inputs", e))
                });
                failed = batch.is_err();
                return Some(batch);
            }
            let next = rest.next()?.and_then(|(name, reader)| {
                if reader.schema().fields() == out_schema.fields() {
                    Ok(reader)
                } else {
                    Err(Error::ShardSet {
                        input: format!("`{name}`"),
                        problem: format!("does not have the columns of `{first_name}`"),
                    })
                }
            });
            match next {
                Ok(reader) => current = reader,
                Err(e) => {
                    failed = true;
                    return Some(Err(e));
                }
            }
        }
    });
    BatchReader::new(schema, batches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, Int64Array};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;

    fn numbers(sizes: &[usize]) -> BatchReader {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let mut next = 0i64;
        let batches: Vec<_> = sizes
            .iter()
            .map(|&size| {
                let values: Vec<i64> = (next..next + size as i64).collect();
                next += size as i64;
                Ok(
                    RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(values))])
                        .unwrap(),
                )
            })
            .collect();
        BatchReader::new(schema, batches.into_iter())
    }

    fn cut(reader: BatchReader) -> (Vec<usize>, Vec<i64>) {
        let mut sizes = Vec::new();
        let mut values = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            sizes.push(batch.num_rows());
            let column = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            values.extend(column.values().iter().copied());
            assert_eq!(column.null_count(), 0);
        }
        (sizes, values)
    }

    #[test]
    fn rebatching_cuts_the_same_rows_the_same_way_whatever_the_input_batches() {
        let expected: Vec<i64> = (0..10).collect();
        for sizes in [&[10][..], &[1; 10], &[3, 0, 7], &[4, 4, 2], &[9, 1]] {
            let (cuts, values) = cut(rebatch(numbers(sizes), 4));
            assert_eq!(cuts, [4, 4, 2], "input batches {sizes:?}");
            assert_eq!(values, expected, "input batches {sizes:?}");
        }
        assert_eq!(cut(rebatch(numbers(&[]), 4)).0, Vec::<usize>::new());
    }
}
