//! The one batch-stream type that adapters produce and sinks consume.
//!
//! The items pipeline is synchronous end to end (decoding JSON and encoding Arrow/Parquet are
//! CPU work on local bytes), so a stream is a plain `Iterator`; where a producer runs on its own
//! thread it feeds a bounded channel, so at most a few batches are ever in flight.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::error::Result;

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
