//! What every network client of the library shares: one retry policy (budget, exponential
//! backoff with jitter, what counts as transient) and one place for timeouts. Object stores,
//! HTTP probes and registry calls all take theirs from here.

use std::time::Duration;

/// How failed requests are retried: a failure that may pass (a connection error, a timeout,
/// HTTP 408, 429 or 5xx) is tried again after an exponential backoff with full jitter, at most
/// [`max_retries`](Self::max_retries) times and not after [`timeout`](Self::timeout) since the
/// first attempt.
///
/// ```
/// use std::time::Duration;
/// use stacpkg::net::RetryPolicy;
///
/// let patient = RetryPolicy { max_retries: 10, ..RetryPolicy::default() };
/// assert!(patient.backoff(9) <= patient.max_backoff);
/// assert!(RetryPolicy::is_transient_status(503));
/// assert!(!RetryPolicy::is_transient_status(404));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The backoff before the first retry; it doubles per retry up to
    /// [`max_backoff`](Self::max_backoff).
    pub first_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// No retry starts after this long since the first attempt.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    /// 3 retries, 100 ms doubling up to 5 s, none started after 60 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The wait before retry number `attempt` (0 for the first retry): a random share of the
    /// exponential backoff (full jitter), so clients that failed together do not retry together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .first_backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_backoff);
        // Half fixed, half random: never zero, never more than the ceiling.
        ceiling / 2 + ceiling.mul_f64(random_fraction() / 2.0)
    }

    /// Whether a failed attempt may be retried: it was transient, retries are left, and the
    /// policy's time has not run out since `started`.
    pub fn may_retry(&self, transient: bool, attempt: u32, started: std::time::Instant) -> bool {
        transient && attempt < self.max_retries && started.elapsed() < self.timeout
    }

    /// HTTP statuses worth another try: 408, 429 and every 5xx.
    pub fn is_transient_status(status: u16) -> bool {
        status >= 500 || status == 408 || status == 429
    }

    /// The same policy for the object_store crate's clients.
    pub(crate) fn object_store(&self) -> object_store::RetryConfig {
        object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: self.first_backoff,
                max_backoff: self.max_backoff,
                base: 2.0,
            },
            max_retries: self.max_retries as usize,
            retry_timeout: self.timeout,
        }
    }
}

/// How long network operations may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection.
    pub connect: Duration,
    /// The longest pause in a response (no bytes for this long fails the attempt); the total time
    /// is not capped, so large objects can stream.
    pub read: Duration,
}

impl Timeouts {
    /// Object stores and HTTP probes: 10 s to connect, 60 s of silence.
    pub const STORES: Timeouts = Timeouts {
        connect: Duration::from_secs(10),
        read: Duration::from_secs(60),
    };
    /// Registries: 30 s to connect, 300 s of silence (a registry may think long about a large
    /// upload before it answers).
    pub const REGISTRIES: Timeouts = Timeouts {
        connect: Duration::from_secs(30),
        read: Duration::from_secs(300),
    };
}

/// A number in `[0, 1)` that differs between calls (for jitter; not for anything secret).
fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().into()),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_within_its_ceiling() {
        let policy = RetryPolicy::default();
        for attempt in 0..20 {
            let wait = policy.backoff(attempt);
            let ceiling =
                (policy.first_backoff * 2u32.pow(attempt.min(16))).min(policy.max_backoff);
            assert!(
                wait >= ceiling / 2 && wait <= ceiling,
                "{attempt}: {wait:?}"
            );
        }
        let waits: std::collections::HashSet<Duration> =
            (0..20).map(|_| policy.backoff(3)).collect();
        assert!(waits.len() > 1, "no jitter");
    }

    #[test]
    fn retries_stop_at_the_budget_or_the_deadline() {
        let policy = RetryPolicy {
            max_retries: 2,
            ..RetryPolicy::default()
        };
        let now = std::time::Instant::now();
        assert!(policy.may_retry(true, 1, now));
        assert!(!policy.may_retry(true, 2, now));
        assert!(!policy.may_retry(false, 0, now));
        let expired = RetryPolicy {
            timeout: Duration::ZERO,
            ..policy
        };
        assert!(!expired.may_retry(true, 0, now));
    }
}
