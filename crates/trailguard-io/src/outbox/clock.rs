//! [`Clock`]: where the delivery workers get the time and how they wait for it.
//!
//! Retries are scheduled hours ahead and alerts expire after a day, so the workers
//! never call `Instant::now` or `tokio::time::sleep` directly: a [`TestClock`] lets a
//! test move time by ten minutes in one call and see what the workers do, against
//! real local servers, in milliseconds of real time.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// The future of [`Clock::sleep_until`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Wall-clock time in milliseconds since the Unix epoch (what the outbox stores), and
/// a way to wait for a moment of it.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
    /// Resolves once [`Clock::now_ms`] is at or past `at_ms`.
    fn sleep_until(&self, at_ms: i64) -> Sleep;
}

/// The system's wall clock; waits with tokio timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        system_now_ms()
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        let wait = at_ms.saturating_sub(system_now_ms()).max(0) as u64;
        Box::pin(tokio::time::sleep(Duration::from_millis(wait)))
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn system_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A clock that moves only when told to ([`TestClock::advance`], [`TestClock::set`]);
/// sleepers wake as soon as it passes their moment. Clones share the same time.
#[derive(Debug, Clone)]
pub struct TestClock {
    now: std::sync::Arc<watch::Sender<i64>>,
}

impl TestClock {
    pub fn new(start_ms: i64) -> TestClock {
        TestClock {
            now: std::sync::Arc::new(watch::channel(start_ms).0),
        }
    }

    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.now.send_modify(|t| *t = t.saturating_add(by));
    }

    /// Moves to `at_ms` (never backwards).
    pub fn set(&self, at_ms: i64) {
        self.now.send_modify(|t| *t = (*t).max(at_ms));
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        *self.now.borrow()
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as any clone of the clock; if all are gone the
            // time can no longer move and the sleeper waits forever, as a real one would.
            if rx.wait_for(|t| *t >= at_ms).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn test_clock_wakes_sleepers_when_it_passes_their_moment() {
        let clock = TestClock::new(1_000);
        let sleeper = tokio::spawn(clock.sleep_until(61_000));
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(30));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(30));
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(clock.now_ms(), 61_000);
        clock.set(10);
        assert_eq!(clock.now_ms(), 61_000, "never backwards");
        // A moment already past resolves at once.
        tokio::time::timeout(Duration::from_secs(1), clock.sleep_until(5))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn system_clock_sleeps_in_real_time() {
        let c = SystemClock;
        let start = std::time::Instant::now();
        c.sleep_until(c.now_ms() + 30).await;
        assert!(start.elapsed() >= Duration::from_millis(25));
        c.sleep_until(0).await;
    }
}
