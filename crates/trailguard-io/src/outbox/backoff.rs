//! When to try again: exponential backoff with full jitter, and the server's word.
//!
//! "Full jitter" (a random delay between zero and the exponential bound) spreads the
//! retries of many trailguard processes that lost the same service at the same
//! moment, so they do not all come back in step when it recovers. A wait the server
//! asked for (`429` with `Retry-After` / `retry_after`) is a floor: never earlier.

use std::time::Duration;

/// Exponential backoff bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The bound after the first failure; doubles with each further one.
    pub base: Duration,
    /// The largest bound.
    pub cap: Duration,
}

impl Default for Backoff {
    /// 1 s doubling up to 10 minutes: about 10 tries in the first 10 minutes of an
    /// outage, then one every 5 minutes on average.
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(600),
        }
    }
}

impl Backoff {
    /// The exponential bound after `failures` consecutive failures (at least 1).
    pub fn bound(&self, failures: u32) -> Duration {
        self.base
            .saturating_mul(1u32 << failures.saturating_sub(1).min(30))
            .min(self.cap)
    }

    /// The delay before the next try: `unit` (a random number in `[0, 1)`) of the
    /// bound, and never less than `server_wait` (nor more than the cap, unless the
    /// server asked for longer). `unit` is a parameter so tests can pin it.
    pub fn delay(&self, failures: u32, unit: f64, server_wait: Option<Duration>) -> Duration {
        let jittered = self.bound(failures).mul_f64(unit.clamp(0.0, 1.0));
        match server_wait {
            Some(w) => jittered.max(w),
            None => jittered,
        }
    }
}

/// A random number in `[0, 1)` for jitter.
pub(crate) fn random_unit() -> f64 {
    crate::sink::http_retry::random_unit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let b = Backoff::default();
        assert_eq!(b.bound(0), Duration::from_secs(1));
        assert_eq!(b.bound(1), Duration::from_secs(1));
        assert_eq!(b.bound(2), Duration::from_secs(2));
        assert_eq!(b.bound(10), Duration::from_secs(512));
        assert_eq!(b.bound(11), Duration::from_secs(600));
        assert_eq!(b.bound(u32::MAX), Duration::from_secs(600));
    }

    #[test]
    fn full_jitter_within_the_bound_and_the_server_wait_is_a_floor() {
        let b = Backoff::default();
        assert_eq!(b.delay(3, 0.0, None), Duration::ZERO);
        assert_eq!(b.delay(3, 0.5, None), Duration::from_secs(2));
        assert_eq!(b.delay(3, 7.0, None), Duration::from_secs(4), "clamped");
        let asked = Some(Duration::from_secs(30));
        assert_eq!(b.delay(1, 0.9, asked), Duration::from_secs(30));
        assert_eq!(
            b.delay(1, 0.9, Some(Duration::from_secs(3600))),
            Duration::from_secs(3600),
            "the server's word over the cap"
        );
        for _ in 0..100 {
            let u = random_unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
