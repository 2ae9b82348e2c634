//! State that outlives one event: what stateful rules remember between events and,
//! with a persistent store, between runs.
//!
//! The [`Store`] trait is the contract every backend keeps: [`MemoryStore`] for one-shot
//! runs, SQLite for `--state FILE` (`trailguard_io::state::SqliteStore`), DynamoDB for
//! Lambda (shared between invocations). Operations are small and keyed by
//! `(scope, key)`, where the scope is the rule id, so that any key-value store with
//! conditional writes can implement them. Every backend runs the same behaviour tests,
//! `trailguard_core::testing::store_conformance` (feature `testing`).
//!
//! The bounds every backend keeps, per tracked key: at most [`MAX_VALUES_PER_KEY`]
//! first-seen values (the oldest first seen is forgotten first), at most
//! [`MAX_WINDOW_EVENTS`] events per window, one remembered fact, and no key, value or
//! item longer than [`MAX_STORED_BYTES`] (longer ones are kept as their hash, see
//! [`stored`]).

use std::borrow::Cow;

use sha2::{Digest, Sha256};

mod memory;

pub use memory::MemoryStore;

/// Values remembered per key for first-seen rules.
pub const MAX_VALUES_PER_KEY: usize = 1024;
/// Events kept per window; counts beyond it saturate (the threshold is long crossed).
pub const MAX_WINDOW_EVENTS: usize = 10_000;
/// The longest key, value or item a store keeps as it is; a longer one is kept as
/// `sha256:` and the hex digest of its bytes (71 bytes), which compares the same.
pub const MAX_STORED_BYTES: usize = 256;

/// The form in which a store keeps a key, value, item or alert id: itself when it is
/// at most [`MAX_STORED_BYTES`] long, otherwise its SHA-256 (equal strings stay equal,
/// so membership and distinct counts are unchanged).
pub fn stored(s: &str) -> Cow<'_, str> {
    if s.len() <= MAX_STORED_BYTES {
        return Cow::Borrowed(s);
    }
    let digest = Sha256::digest(s.as_bytes());
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    Cow::Owned(out)
}

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store: {0}")]
    Backend(String),
}

/// What [`Store::observe`] learned about a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    /// The value had not been seen for this key before.
    pub new_value: bool,
    /// When this key was first seen at all (with any value), in ms since the epoch.
    pub key_since_ms: i64,
}

/// What a sliding window holds after [`Store::window_add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub events: u64,
    /// Distinct items among them (when items are given).
    pub distinct: u64,
}

/// A remembered fact for sequences: when it happened and a little data about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Remembered {
    pub at_ms: i64,
    pub data: String,
}

/// What [`Store::claim_delivery`] found for one alert and one sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryClaim {
    /// The caller holds the send until `now + lease`: send, then settle.
    Claimed,
    /// Someone already confirmed this send: do not send again.
    Delivered,
    /// Another holder claimed it and its lease is still running: it sends, or, if it
    /// fails, releases the claim and its own work is retried (SQS, EventBridge).
    Sending,
}

/// What stateful rules remember. The judging pass calls [`Store::begin`], then the
/// operations in event-time order, and the caller [`Store::commit`]s once the run has
/// done its work (alerts written and delivered); see `docs/architecture.md`.
pub trait Store {
    /// Starts the unit of work of one judging pass. A transactional backend (SQLite)
    /// opens a transaction here, waiting for another run that holds the state; the
    /// default does nothing. Calling it again before [`Store::commit`] does nothing.
    fn begin(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Makes what was written since [`Store::begin`] durable, all at once where the
    /// backend can. A store dropped without `commit` keeps none of the unit where the
    /// backend can undo it (SQLite rolls it back); one that writes through (memory,
    /// DynamoDB) keeps what it wrote. Without a `begin` it does nothing.
    fn commit(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Records that `key` (an access key, a principal) showed `value` (an IP, a user
    /// agent) at `at_ms`, and says whether the value is new for the key.
    fn observe(
        &mut self,
        scope: &str,
        key: &str,
        value: &str,
        at_ms: i64,
    ) -> Result<Sighting, StoreError>;

    /// Adds one event (with an optional item for distinct counts) to the window of
    /// `key`, drops what is older than `window_ms` before `at_ms`, and counts the rest.
    fn window_add(
        &mut self,
        scope: &str,
        key: &str,
        at_ms: i64,
        item: Option<&str>,
        window_ms: i64,
    ) -> Result<WindowCount, StoreError>;

    /// Remembers a fact about `key` (the first step of a sequence) until `at_ms + ttl_ms`.
    fn remember(
        &mut self,
        scope: &str,
        key: &str,
        fact: Remembered,
        ttl_ms: i64,
    ) -> Result<(), StoreError>;

    /// The fact remembered about `key`, if it has not expired by `now_ms`.
    fn recall(
        &mut self,
        scope: &str,
        key: &str,
        now_ms: i64,
    ) -> Result<Option<Remembered>, StoreError>;

    /// Marks an alert id as reported; says whether it already was (deduplication
    /// across runs). A persistent store keeps ids for a bounded time (SQLite: 30 days).
    fn alert_seen(&mut self, alert_id: &str) -> Result<bool, StoreError>;

    /// Claims the send of `alert_id` to `sink` for `lease_ms` (wall clock), so that
    /// processes sharing the store (concurrent Lambda invocations judging the same
    /// events twice: an at-least-once redelivery, a duplicate notification) send an
    /// alert once. A claim whose lease ran out (its holder crashed) can be taken over.
    ///
    /// The default, for a store private to one process, claims nothing: every send is
    /// the caller's, whose own ledger is the only one there is.
    fn claim_delivery(
        &mut self,
        _alert_id: &str,
        _sink: &str,
        _now_ms: i64,
        _lease_ms: i64,
    ) -> Result<DeliveryClaim, StoreError> {
        Ok(DeliveryClaim::Claimed)
    }

    /// Ends a claim of [`Store::claim_delivery`]: `delivered` marks the send done (kept
    /// 30 days); otherwise the claim is released so that a retry, by this process or
    /// another, sends it. Nothing is lost either way.
    fn settle_delivery(
        &mut self,
        _alert_id: &str,
        _sink: &str,
        _delivered: bool,
        _now_ms: i64,
    ) -> Result<(), StoreError> {
        Ok(())
    }
}
