//! Ordered concurrent row work: the engine under `derive` and `validate`.
//!
//! Rows arrive in chunks from a synchronous source read on its own thread; the work of up to
//! `max_workers` rows runs concurrently on the caller's choice of [`Runtime`]; results come back
//! in input order, each as soon as it and every row before it are done.
//!
//! Memory bound: at most [`CHUNKS_IN_FLIGHT`] chunks of at most [`CHUNK_ROWS`] rows wait between
//! the source and the workers, plus one chunk being consumed and `max_workers` rows in flight —
//! independent of input size.

use std::future::Future;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tokio_util::sync::CancellationToken;

use std::sync::mpsc::{SyncSender, sync_channel};

use arrow_array::RecordBatch;

use crate::batch::BatchReader;
use crate::error::{Error, Result};
use crate::runtime::{Runtime, Threads};

/// Rows per chunk (and so the largest output batch of `derive`).
pub(crate) const CHUNK_ROWS: usize = 4096;
/// Chunks queued between the source thread and the workers.
pub(super) const CHUNKS_IN_FLIGHT: usize = 2;

/// What the sink sees, in order.
#[derive(Debug)]
pub(crate) enum Event<O> {
    /// The result of the next row.
    Row(O),
    /// Every row of the current chunk has been delivered.
    ChunkEnd,
    /// The next result is not ready yet: a good moment to flush.
    Idle,
}

enum Slot<I> {
    Row(I),
    End,
    Failed(Error),
}

enum Done<O> {
    Row(O),
    End,
    Failed(Error),
}

/// Run `work` over every row from `source` with at most `max_workers` rows in flight, and give
/// `sink` the results in input order. A source error or a sink error stops the run.
///
/// With `stop`, a run that stops early cancels it, takes no new rows, and waits for the rows in
/// flight to end (work that watches `stop` cleans up after itself, removing what it had
/// started) before it returns; without, rows in flight are abandoned.
#[allow(clippy::too_many_arguments)] // the run's shape: where, how wide, what, and the sink
pub(crate) fn run_ordered<I, O, W, F>(
    source: impl Iterator<Item = Result<Vec<I>>> + Send + 'static,
    runtime: &Runtime,
    threads: Threads,
    max_workers: usize,
    stop: Option<&CancellationToken>,
    work: W,
    mut sink: impl FnMut(Event<O>) -> Result<()> + Send,
) -> Result<()>
where
    I: Send + 'static,
    O: Send + 'static,
    W: Fn(I) -> F + Send + Sync,
    F: Future<Output = O> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<I>>>(CHUNKS_IN_FLIGHT);
    // The source (an Arrow stream on stdin, say) blocks; it gets its own thread. When the run
    // stops early the channel closes and this thread ends at its next send.
    std::thread::Builder::new()
        .name("stacpkg-rows".into())
        .spawn(move || {
            for chunk in source {
                let failed = chunk.is_err();
                if tx.blocking_send(chunk).is_err() || failed {
                    break;
                }
            }
        })
        .map_err(|e| Error::io("failed to start", "the row reader", e))?;

    runtime.block_on(threads, async {
        let stopped = stop.cloned();
        let chunks = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        });
        let slots = chunks
            .flat_map(|chunk| match chunk {
                Ok(rows) => futures::stream::iter(
                    rows.into_iter()
                        .map(Slot::Row)
                        .chain(std::iter::once(Slot::End)),
                )
                .left_stream(),
                Err(e) => futures::stream::iter(std::iter::once(Slot::Failed(e))).right_stream(),
            })
            // A stopped run takes no new rows.
            .take_while(move |_| {
                futures::future::ready(stopped.as_ref().is_none_or(|s| !s.is_cancelled()))
            });
        let done = slots
            .map(|slot| -> BoxFuture<'static, Done<O>> {
                match slot {
                    // On one thread, polled in place: a task would only add a wake-up and a
                    // move of the future.
                    Slot::Row(row) if threads == Threads::One => work(row).map(Done::Row).boxed(),
                    Slot::Row(row) => {
                        let task = tokio::spawn(work(row));
                        async move {
                            match task.await {
                                Ok(out) => Done::Row(out),
                                Err(e) => std::panic::resume_unwind(e.into_panic()),
                            }
                        }
                        .boxed()
                    }
                    Slot::End => futures::future::ready(Done::End).boxed(),
                    Slot::Failed(e) => futures::future::ready(Done::Failed(e)).boxed(),
                }
            })
            .buffered(max_workers.max(1));
        let mut done = std::pin::pin!(done);
        let outcome = loop {
            let next = match done.next().now_or_never() {
                Some(next) => next,
                None => {
                    if let Err(e) = sink(Event::Idle) {
                        break Err(e);
                    }
                    done.next().await
                }
            };
            let delivered = match next {
                None => break Ok(()),
                Some(Done::Row(out)) => sink(Event::Row(out)),
                Some(Done::End) => sink(Event::ChunkEnd),
                Some(Done::Failed(e)) => Err(e),
            };
            if let Err(e) = delivered {
                break Err(e);
            }
        };
        if outcome.is_err()
            && let Some(stop) = stop
        {
            stop.cancel();
            // The rows in flight end (cleaning up); their results no longer matter.
            while done.next().await.is_some() {}
        }
        outcome
    })?
}

/// A batch stream produced on its own thread by `run`, which sends each batch as it is ready;
/// an error of `run` arrives after every batch before it. Memory: one batch queued.
pub(crate) fn spawn_batches(
    name: &str,
    schema: arrow_schema::SchemaRef,
    run: impl FnOnce(&SyncSender<Result<RecordBatch>>) -> Result<()> + Send + 'static,
) -> Result<BatchReader> {
    let (tx, rx) = sync_channel::<Result<RecordBatch>>(1);
    std::thread::Builder::new()
        .name(format!("stacpkg-{name}"))
        .spawn(move || {
            if let Err(e) = run(&tx)
                && !matches!(e, Error::OutputClosed)
            {
                let _ = tx.send(Err(e));
            }
        })
        .map_err(|e| Error::io("failed to start", format!("asset-lock {name}"), e))?;
    Ok(BatchReader::new(schema, rx.into_iter()))
}

/// Split a stream of row batches into chunks of at most [`CHUNK_ROWS`] rows without holding more
/// than one input batch: `rows_of(batch, start, limit)` yields up to `limit` rows of `batch` from
/// row position `start` and says where it stopped.
pub(crate) struct Chunker<B, I, R>
where
    R: FnMut(&B, &mut Cursor, usize, &mut Vec<I>) -> Result<()>,
{
    batches: Box<dyn Iterator<Item = Result<B>> + Send>,
    current: Option<(B, Cursor)>,
    rows_of: R,
    rows: std::marker::PhantomData<fn() -> I>,
}

/// Where a [`Chunker`] is inside its current batch.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Cursor {
    /// Row of the batch.
    pub(crate) row: usize,
    /// Position inside the row (for example, the asset index).
    pub(crate) inner: usize,
    /// The batch is exhausted.
    pub(crate) done: bool,
}

impl<B, I, R> Chunker<B, I, R>
where
    R: FnMut(&B, &mut Cursor, usize, &mut Vec<I>) -> Result<()>,
{
    pub(crate) fn new(
        batches: impl Iterator<Item = Result<B>> + Send + 'static,
        rows_of: R,
    ) -> Self {
        Chunker {
            batches: Box::new(batches),
            current: None,
            rows_of,
            rows: std::marker::PhantomData,
        }
    }
}

impl<B, I, R> Iterator for Chunker<B, I, R>
where
    R: FnMut(&B, &mut Cursor, usize, &mut Vec<I>) -> Result<()>,
{
    type Item = Result<Vec<I>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut chunk = Vec::new();
        while chunk.len() < CHUNK_ROWS {
            if self.current.as_ref().is_none_or(|(_, c)| c.done) {
                match self.batches.next() {
                    None => break,
                    Some(Err(e)) => return Some(Err(e)),
                    Some(Ok(batch)) => self.current = Some((batch, Cursor::default())),
                }
            }
            let (batch, cursor) = self.current.as_mut()?;
            let limit = CHUNK_ROWS - chunk.len();
            if let Err(e) = (self.rows_of)(batch, cursor, limit, &mut chunk) {
                return Some(Err(e));
            }
        }
        (!chunk.is_empty()).then_some(Ok(chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn results_come_back_in_input_order_whatever_finishes_first() {
        let source = (0..3).map(|c| Ok((0..100u64).map(|r| c * 100 + r).collect::<Vec<_>>()));
        let mut seen = Vec::new();
        let mut chunk_ends = 0;
        run_ordered(
            source,
            &Runtime::Own,
            Threads::All,
            16,
            None,
            |n: u64| async move {
                // Later rows finish first.
                tokio::time::sleep(Duration::from_micros(300 - n)).await;
                n
            },
            |event| {
                match event {
                    Event::Row(n) => seen.push(n),
                    Event::ChunkEnd => chunk_ends += 1,
                    Event::Idle => {}
                }
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..300).collect::<Vec<_>>());
        assert_eq!(chunk_ends, 3);
    }

    #[test]
    fn a_source_error_stops_the_run_after_earlier_rows() {
        let source = vec![
            Ok(vec![1, 2]),
            Err(Error::InvalidLock {
                row: 3,
                problem: "is bad".into(),
            }),
        ]
        .into_iter();
        let mut seen = Vec::new();
        let err = run_ordered(
            source,
            &Runtime::Own,
            Threads::One,
            4,
            None,
            |n: i32| async move { n },
            |event| {
                if let Event::Row(n) = event {
                    seen.push(n);
                }
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(seen, vec![1, 2]);
        assert_eq!(err.to_string(), "asset lock row 3 is bad");
    }

    #[test]
    fn chunks_never_exceed_the_bound_and_keep_every_row() {
        let batches = vec![Ok(5000usize), Ok(10), Ok(CHUNK_ROWS)].into_iter();
        let chunker = Chunker::new(
            batches,
            |rows: &usize, cursor, limit, out: &mut Vec<usize>| {
                let end = (cursor.row + limit).min(*rows);
                out.extend(cursor.row..end);
                cursor.row = end;
                cursor.done = end == *rows;
                Ok(())
            },
        );
        let chunks: Vec<Vec<usize>> = chunker.map(Result::unwrap).collect();
        assert!(chunks.iter().all(|c| c.len() <= CHUNK_ROWS));
        assert_eq!(
            chunks.iter().map(Vec::len).sum::<usize>(),
            5000 + 10 + CHUNK_ROWS
        );
    }
}
