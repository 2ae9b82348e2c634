//! The outbox: every alert is recorded before any attempt to send it, each sink's
//! delivery is tracked until it is delivered, fails for good or expires, and a
//! restart picks up where the last run stopped.
//!
//! - [`Outbox`] is the queue, in SQLite: the `--state` file when there is one (the
//!   same file as the detection state, see [`enqueue_with_state`]), else a private
//!   in-memory database, so a one-shot `detect --sink ...` runs the same code.
//! - [`Delivery`] runs one worker per sink (a slow or dead sink never holds back
//!   another), retrying with exponential backoff and full jitter, honouring waits
//!   the services ask for, marking `failed_permanent` and `expired` loudly.
//! - [`Clock`] gives the workers the time, so tests compress hours into milliseconds.
//!
//! Delivery is at least once. An alert is sent twice only when the process stops
//! between a sink confirming a send and the outbox recording it (or a power cut
//! loses that record): the next run sends it again. Receivers deduplicate on the
//! alert `id`, which is stable. Schema and states: `docs/architecture.md` ("The
//! outbox").

mod backoff;
mod clock;
mod deliver;
mod inspect;
mod queue;
mod schema;
mod worker;

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use trailguard_core::state::StoreError;
use trailguard_core::Severity;

pub use backoff::Backoff;
pub use clock::{system_now_ms, Clock, Sleep, SystemClock, TestClock};
pub use deliver::{
    Delivery, DeliveryConfig, DeliveryEvent, DeliveryReport, NamedSink, OnEvent, RouteFn, Router,
    SinkRun,
};
pub use inspect::{AlertDetail, AlertEntry, AttemptLog, DeliveryInfo, ListFilter, SinkCounts};
pub use queue::{
    enqueue_digests_with_state, enqueue_with_state, Claimed, Ended, Enqueued, MessageKind, Outcome,
    Selection,
};
pub use schema::{OUTBOX_SCHEMA, OUTBOX_SCHEMA_VERSION};

/// Delivered, expired and permanently failed alerts are kept this long after they
/// were queued (for `alerts list`, `show` and `retry`), then purged. Pending ones are
/// never purged.
pub const OUTBOX_RETENTION_MS: i64 = 30 * 86_400_000;

/// How long an alert is retried before it is marked expired, unless configured.
pub const DEFAULT_EXPIRY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Where one delivery (one alert to one sink) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeliveryState {
    /// Not delivered yet; tried again at `next_attempt_ms`.
    Pending,
    /// The sink confirmed it.
    Delivered,
    /// Not delivered within the expiry: given up, and reported.
    Expired,
    /// The sink refused it in a way retrying will not fix (HTTP 400, a bad
    /// configuration): given up, and reported.
    FailedPermanent,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 4] = [
        DeliveryState::Pending,
        DeliveryState::Delivered,
        DeliveryState::Expired,
        DeliveryState::FailedPermanent,
    ];

    /// The name stored in the outbox.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Expired => "expired",
            DeliveryState::FailedPermanent => "failed_permanent",
        }
    }

    /// The stored name, or `failed` for [`DeliveryState::FailedPermanent`].
    pub fn parse(s: &str) -> Option<DeliveryState> {
        match s {
            "failed" => Some(DeliveryState::FailedPermanent),
            _ => DeliveryState::ALL.into_iter().find(|v| v.as_str() == s),
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the outbox could not do something. Names the file; never a sink's URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// SQLITE_FULL: the disk (or the database's size limit) is full.
    #[error("disk full while writing the outbox {location}: {what}")]
    DiskFull {
        location: String,
        /// What it means, e.g. "alerts not recorded".
        what: &'static str,
    },
    /// SQLITE_IOERR: the operating system refused a read or write.
    #[error("I/O error while writing the outbox {location} (is the disk full or failing?): {what} ({detail})")]
    Io {
        location: String,
        what: &'static str,
        detail: String,
    },
    #[error("{location}: the state file is in use by another trailguard run (waited {waited_s} s); run again when it has finished")]
    Busy { location: String, waited_s: u64 },
    /// Not a file the outbox can use (not a state file, a newer schema, a folder).
    #[error("{location}: {reason}")]
    Refused { location: String, reason: String },
    #[error("{location}: no alert with id {id} in the outbox")]
    NotFound { location: String, id: String },
    #[error("{location}: {prefix} is the start of {matches} alert ids; give more of it")]
    Ambiguous {
        location: String,
        prefix: String,
        matches: usize,
    },
    #[error("{location}: {what}: {source}")]
    Sqlite {
        location: String,
        what: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// Creating the state file that holds the outbox.
    #[error(transparent)]
    State(#[from] StoreError),
}

impl OutboxError {
    /// The disk is full or failing: what was being written is not recorded.
    pub fn is_disk_problem(&self) -> bool {
        matches!(self, OutboxError::DiskFull { .. } | OutboxError::Io { .. })
    }
}

/// The alert queue in SQLite. See the module documentation.
pub struct Outbox {
    conn: Connection,
    path: Option<PathBuf>,
    location: String,
    /// Write transactions since the last WAL checkpoint (see [`Outbox::maintain`]).
    writes: u32,
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// The outbox in the state file at `path`, creating the file (a new state file)
    /// or the outbox's tables in it when missing. Refuses a file that is not a
    /// trailguard state file, or whose outbox a newer trailguard wrote.
    pub fn open(path: &Path) -> Result<Outbox, OutboxError> {
        Ok(Outbox::with_conn(
            schema::open_file(path, true)?,
            Some(path),
        ))
    }

    /// [`Outbox::open`], refusing a missing or empty file instead of creating it: for
    /// commands that inspect what earlier runs left (`alerts list`).
    pub fn open_existing(path: &Path) -> Result<Outbox, OutboxError> {
        Ok(Outbox::with_conn(
            schema::open_file(path, false)?,
            Some(path),
        ))
    }

    /// A private outbox in memory, gone with the process: for runs without a state
    /// file, so they deliver through the same code.
    pub fn in_memory() -> Result<Outbox, OutboxError> {
        Ok(Outbox::with_conn(schema::open_memory()?, None))
    }

    fn with_conn(conn: Connection, path: Option<&Path>) -> Outbox {
        Outbox {
            conn,
            path: path.map(Path::to_owned),
            location: schema::location_of(path),
            writes: 0,
        }
    }

    /// Checkpoints the write-ahead log when enough was written: after 256 write
    /// transactions when `idle` (nothing to send), after 4,096 otherwise (a long
    /// flush), so that the WAL stays bounded (tens of MB at most) and its fsync happens
    /// between sends rather than inside one (it was most of the p99 latency).
    pub fn maintain(&mut self, idle: bool) -> Result<(), OutboxError> {
        let due = if idle { 256 } else { 4_096 };
        if self.path.is_none() || self.writes < due {
            return Ok(());
        }
        self.writes = 0;
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(|e| schema::sql_error(&self.location, "cannot checkpoint the outbox", e))
    }

    /// The state file, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The file's path, or `(in memory)`, for messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Limits the database to `pages` pages of this connection (SQLite's
    /// `max_page_count`), so that tests can fill "the disk" without filling one.
    #[doc(hidden)]
    pub fn set_max_page_count(&mut self, pages: u64) -> Result<u64, OutboxError> {
        self.conn
            .pragma_update_and_check(None, "max_page_count", pages, |r| r.get(0))
            .map_err(|e| schema::sql_error(&self.location, "cannot set max_page_count", e))
    }

    fn err(&self, what: &'static str) -> impl Fn(rusqlite::Error) -> OutboxError + '_ {
        move |e| schema::sql_error(&self.location, what, e)
    }
}

/// A severity as the rank stored for ordering (0 info .. 4 critical).
pub(crate) fn rank(s: Severity) -> i64 {
    Severity::ALL.iter().position(|x| *x == s).unwrap_or(0) as i64
}

#[cfg(test)]
mod tests;
