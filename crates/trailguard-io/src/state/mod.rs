//! Persistent state for stateful rules: the [`Store`](trailguard_core::state::Store)
//! backends that need I/O. `MemoryStore` (one run) lives in `trailguard-core`.

mod sqlite;
mod watched;

pub use sqlite::{
    SqliteStore, ALERT_RETENTION_MS, APPLICATION_ID, DEFAULT_BUSY_TIMEOUT, PURGE_GRACE_MS, SCHEMA,
    SCHEMA_VERSION,
};
pub use watched::{mark_watched, watched_files, FileStamp};
