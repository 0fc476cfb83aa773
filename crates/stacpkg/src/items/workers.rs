//! An ordered worker pool: jobs run on several threads, results are consumed in job order.
//!
//! Converting NDJSON is CPU-bound and chunks of lines are independent once the schema is known,
//! so chunks are converted in parallel; the consumer sees results in input order, so output
//! order and error reporting are the same as a sequential run.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::mpsc;

use crate::error::{Error, Result};

/// Threads to convert on: one per core.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Run `work` on every job from `next_job` on `threads` threads and hand the results to
/// `consume` in job order. At most `in_flight` jobs are queued, running, or finished and waiting
/// for `consume` at any time, which bounds memory to `in_flight` jobs and their results.
///
/// The first error wins in input order: a job's error surfaces when its turn to be consumed
/// comes, and a read error from `next_job` after all jobs before it were consumed.
pub(crate) fn ordered<J, R>(
    mut next_job: impl FnMut() -> Result<Option<J>>,
    threads: usize,
    in_flight: usize,
    work: impl Fn(J) -> R + Sync,
    mut consume: impl FnMut(R) -> Result<()>,
) -> Result<()>
where
    J: Send,
    R: Send,
{
    let in_flight = in_flight.max(1) as u64;
    let (job_tx, job_rx) = mpsc::channel::<(u64, J)>();
    let job_rx = Mutex::new(job_rx);
    let (result_tx, result_rx) = mpsc::channel::<(u64, R)>();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            let result_tx = result_tx.clone();
            let (job_rx, work) = (&job_rx, &work);
            scope.spawn(move || {
                loop {
                    let job = job_rx.lock().expect("job queue lock").recv();
                    let Ok((seq, job)) = job else { break };
                    if result_tx.send((seq, work(job))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(result_tx);

        let mut waiting = BTreeMap::new();
        let (mut dispatched, mut consumed) = (0u64, 0u64);
        let mut read_error: Option<Error> = None;
        let mut failure: Option<Error> = None;
        let mut exhausted = false;
        loop {
            while !exhausted && dispatched - consumed < in_flight {
                match next_job() {
                    Ok(Some(job)) => {
                        job_tx
                            .send((dispatched, job))
                            .expect("workers outlive the dispatcher");
                        dispatched += 1;
                    }
                    Ok(None) => exhausted = true,
                    Err(e) => {
                        read_error = Some(e);
                        exhausted = true;
                    }
                }
            }
            if consumed == dispatched {
                break;
            }
            let (seq, result) = result_rx.recv().expect("a worker answers every job");
            waiting.insert(seq, result);
            while let Some(result) = waiting.remove(&consumed) {
                consumed += 1;
                if failure.is_none()
                    && let Err(e) = consume(result)
                {
                    failure = Some(e);
                    // Stop reading; the jobs already running finish and are dropped.
                    exhausted = true;
                }
            }
        }
        drop(job_tx);
        match (failure, read_error) {
            (Some(e), _) | (None, Some(e)) => Err(e),
            (None, None) => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_arrive_in_job_order_whatever_the_timing() {
        let mut next = 0u64;
        let mut seen = Vec::new();
        ordered(
            || {
                next += 1;
                Ok((next <= 50).then_some(next))
            },
            4,
            6,
            |n| {
                std::thread::sleep(std::time::Duration::from_micros((50 - n) * 20));
                n * 2
            },
            |r| {
                seen.push(r);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (1..=50).map(|n| n * 2).collect::<Vec<_>>());
    }

    #[test]
    fn the_first_failing_job_in_order_is_reported() {
        let mut next = 0u64;
        let err = ordered(
            || {
                next += 1;
                Ok((next <= 20).then_some(next))
            },
            3,
            4,
            |n| n,
            |n| {
                if n >= 7 {
                    Err(Error::OutputClosed)
                } else {
                    Ok(())
                }
            },
        )
        .unwrap_err();
        assert!(matches!(err, Error::OutputClosed));
    }
}
