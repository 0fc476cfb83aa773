//! Where the library's asynchronous I/O runs.
//!
//! The library's entry points are blocking functions, safe to call from any thread — a plain
//! one, or a task of a tokio runtime (where a plain `block_on` would panic): there, the work
//! runs on a thread of its own for the duration of the call, and the calling thread waits. The
//! caller chooses the runtime: [`Runtime::Own`] (the default) makes one for each call and drops
//! it after; [`Runtime::Handle`] uses the caller's. There is no global runtime.

use std::future::Future;

use crate::error::{Error, Result};

/// How long an own runtime waits, at the end of a call, for file operations its abandoned tasks
/// started; each is one bounded read, write or hash, normally done in milliseconds.
const BLOCKING_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Which tokio runtime an entry point drives its I/O on.
#[derive(Debug, Clone, Default)]
pub enum Runtime {
    /// A runtime made for the call and dropped after it (the default).
    #[default]
    Own,
    /// The caller's runtime. It must be a multi-thread runtime: the work is driven from a thread
    /// that is not the runtime's own, which a current-thread runtime cannot serve (such a handle
    /// is refused with [`Error::CurrentThreadRuntime`] rather than left to hang).
    Handle(tokio::runtime::Handle),
}

/// How work uses threads in a runtime of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threads {
    /// One thread, everything polled in place: many small requests, where waking other threads
    /// for each response costs more than it gives.
    One,
    /// One worker per core: work that hashes, signs or copies bytes.
    All,
}

impl Runtime {
    /// Run `work` to completion on this runtime, from any thread (see the module docs).
    pub(crate) fn block_on<F>(&self, threads: Threads, work: F) -> Result<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        if tokio::runtime::Handle::try_current().is_err() {
            return self.drive(threads, work);
        }
        // Inside a runtime a thread may not block on another future: drive the work from a
        // thread of its own while this one waits.
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("stacpkg-io".into())
                .spawn_scoped(scope, || self.drive(threads, work))
                .map_err(|e| Error::io("failed to start", "the I/O thread", e))?
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn drive<F: Future>(&self, threads: Threads, work: F) -> Result<F::Output> {
        match self {
            Runtime::Handle(handle) => {
                if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread {
                    return Err(Error::CurrentThreadRuntime);
                }
                Ok(handle.block_on(work))
            }
            Runtime::Own => {
                let mut builder = match threads {
                    Threads::One => tokio::runtime::Builder::new_current_thread(),
                    Threads::All => tokio::runtime::Builder::new_multi_thread(),
                };
                let runtime = builder
                    .enable_all()
                    .thread_name("stacpkg-io")
                    .build()
                    .map_err(|e| Error::io("failed to start", "the I/O runtime", e))?;
                let output = runtime.block_on(work);
                // Tasks still running (after a failure) are dropped, but an operation one of them
                // started on a blocking thread (a file write, a hash) runs on; wait for those, so
                // that nothing the call began touches the filesystem after it returned (its
                // caller may be removing a staging directory).
                runtime.shutdown_timeout(BLOCKING_GRACE);
                Ok(output)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer() -> u32 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        tokio::spawn(async { 42 }).await.unwrap()
    }

    #[test]
    fn an_own_runtime_returns_only_after_its_blocking_operations_end() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        // A failing call that leaves a blocking operation behind, as a failed copy leaves a
        // file write.
        let failed: Result<u32, &str> = Runtime::Own
            .block_on(Threads::All, async move {
                drop(tokio::task::spawn_blocking(move || {
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    flag.store(true, Ordering::SeqCst);
                }));
                Err("failed")
            })
            .unwrap();
        assert!(failed.is_err());
        assert!(
            done.load(Ordering::SeqCst),
            "the blocking operation outlived the call"
        );
    }

    #[test]
    fn own_runtimes_work_from_a_plain_thread() {
        for threads in [Threads::One, Threads::All] {
            assert_eq!(Runtime::Own.block_on(threads, answer()).unwrap(), 42);
        }
    }

    #[tokio::test]
    async fn own_runtimes_work_from_inside_a_runtime() {
        assert_eq!(Runtime::Own.block_on(Threads::All, answer()).unwrap(), 42);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 3)]
    async fn the_callers_runtime_is_used_when_given() {
        let workers = || async { tokio::runtime::Handle::current().metrics().num_workers() };
        let runtime = Runtime::Handle(tokio::runtime::Handle::current());
        assert_eq!(runtime.block_on(Threads::One, workers()).unwrap(), 3);
        // An own runtime for the same work is a new, single-threaded one.
        assert_eq!(Runtime::Own.block_on(Threads::One, workers()).unwrap(), 1);
    }

    #[tokio::test]
    async fn a_current_thread_handle_is_refused_instead_of_hanging() {
        let runtime = Runtime::Handle(tokio::runtime::Handle::current());
        let refused = runtime.block_on(Threads::All, answer()).unwrap_err();
        assert!(
            matches!(refused, Error::CurrentThreadRuntime),
            "{refused:?}"
        );
    }
}
