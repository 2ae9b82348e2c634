//! State that outlives one event: what stateful rules remember between events and,
//! with a persistent store, between runs.
//!
//! The [`Store`] trait is the contract every backend keeps: [`MemoryStore`] for one-shot
//! runs, SQLite for `--state FILE`, DynamoDB for Lambda (shared between invocations).
//! Operations are small and keyed by `(scope, key)`, where the scope is the rule id,
//! so that any key-value store with conditional writes can implement them.

mod memory;

pub use memory::MemoryStore;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub at_ms: i64,
    pub data: String,
}

pub trait Store {
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

    /// Marks an alert id as delivered; says whether it already was (deduplication
    /// across runs).
    fn alert_seen(&mut self, alert_id: &str) -> Result<bool, StoreError>;
}
