//! The outbox's tables, their version, and opening the file that holds them.
//!
//! The outbox lives in the `--state` file next to the detection state, so that
//! recording an alert as reported and queueing it for delivery commit together (see
//! [`super::enqueue_with_state`]). Its tables carry their own version
//! ([`OUTBOX_SCHEMA_VERSION`] in `outbox_meta`) so that the outbox can change without
//! touching the state's `user_version`.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};

use super::OutboxError;
use crate::state::{SqliteStore, APPLICATION_ID, DEFAULT_BUSY_TIMEOUT, SCHEMA_VERSION};

/// The version of [`OUTBOX_SCHEMA`] this build reads and writes.
pub const OUTBOX_SCHEMA_VERSION: i64 = 1;

/// Outbox schema version 1.
pub const OUTBOX_SCHEMA: &str = "
CREATE TABLE outbox_meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL                -- schema_version: '1'
) WITHOUT ROWID;

-- One row per alert (or digest), written before any attempt to send it.
CREATE TABLE outbox_alerts (
    id          TEXT PRIMARY KEY,       -- the alert id (SHA-256 of rule, group, first time),
                                        -- or a digest's id (digest- and a hash of its alerts)
    kind        TEXT NOT NULL CHECK (kind IN ('alert', 'digest')),
    json        TEXT NOT NULL,          -- the alert contract's JSON, or the digest's
    severity    TEXT NOT NULL,          -- a digest: its most severe alert's
    rule_id     TEXT NOT NULL,          -- a digest: 'digest'
    summary     TEXT NOT NULL,
    created_ms  INTEGER NOT NULL        -- wall clock when it was queued
) WITHOUT ROWID;
CREATE INDEX outbox_alerts_age ON outbox_alerts (created_ms);

-- One row per alert and sink it goes to. `sink` is a name (discord, slack, webhook,
-- jsonl:PATH, or a configured sink's name): never a URL or a token.
CREATE TABLE outbox_deliveries (
    alert_id         TEXT NOT NULL,     -- outbox_alerts.id
    sink             TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN
                         ('pending', 'delivered', 'expired', 'failed_permanent')),
    rank             INTEGER NOT NULL,  -- severity, 0 info .. 4 critical: most urgent first;
                                        -- -1 a digest: after the alerts sent on their own
    created_ms       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_ms  INTEGER NOT NULL,  -- pending: not before (also the lease of a send)
    expires_ms       INTEGER NOT NULL,  -- pending past this becomes expired
    last_error       TEXT,
    last_attempt_ms  INTEGER,
    delivered_ms     INTEGER,
    PRIMARY KEY (alert_id, sink)
) WITHOUT ROWID;
CREATE INDEX outbox_due ON outbox_deliveries (sink, rank DESC, created_ms)
    WHERE state = 'pending';
CREATE INDEX outbox_next ON outbox_deliveries (sink, next_attempt_ms)
    WHERE state = 'pending';
CREATE INDEX outbox_expiry ON outbox_deliveries (sink, expires_ms)
    WHERE state = 'pending';

-- What happened to each delivery, for `alerts show`.
CREATE TABLE outbox_attempts (
    alert_id  TEXT NOT NULL,
    sink      TEXT NOT NULL,
    at_ms     INTEGER NOT NULL,
    outcome   TEXT NOT NULL,            -- queued, delivered, retry, failed_permanent, expired, requeued
    detail    TEXT                      -- the error, never a URL
);
CREATE INDEX outbox_attempts_of ON outbox_attempts (alert_id, sink, at_ms);
";

/// Where the outbox lives, for messages: the file's path, or `(in memory)`.
pub(crate) fn location_of(path: Option<&Path>) -> String {
    path.map_or_else(|| "(in memory)".to_owned(), |p| p.display().to_string())
}

/// Opens the state file at `path` for the outbox. A missing or empty file is first
/// made a state file (by [`SqliteStore::open`], which owns that format); `create:
/// false` refuses it instead (for commands that only read what a run left).
pub(crate) fn open_file(path: &Path, create: bool) -> Result<Connection, OutboxError> {
    let location = location_of(Some(path));
    let refused = |reason: String| OutboxError::Refused {
        location: location.clone(),
        reason,
    };
    if path.is_dir() {
        return Err(refused("is a folder, not a state file".into()));
    }
    let empty = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
    if empty {
        if !create {
            return Err(refused(
                "no such state file (give the --state FILE a detect run wrote)".into(),
            ));
        }
        drop(SqliteStore::open(path)?);
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| sql_error(&location, "cannot open the state file", e))?;
    let setup = || -> rusqlite::Result<Result<(), String>> {
        conn.busy_timeout(DEFAULT_BUSY_TIMEOUT)?;
        let app: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
        let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if app != APPLICATION_ID {
            return Ok(Err("not a trailguard state file".into()));
        }
        if version != SCHEMA_VERSION {
            return Ok(Err(format!(
                "the state file has schema version {version}; this trailguard reads \
                 version {SCHEMA_VERSION}"
            )));
        }
        let journal: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !journal.eq_ignore_ascii_case("wal") {
            return Ok(Err(format!(
                "cannot use a write-ahead log here (journal mode stays {journal})"
            )));
        }
        // As the detection state does: a crash loses nothing committed; a power cut
        // may lose the last commits, of the state and the outbox together (they share
        // transactions), so the next run detects those alerts again.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // No checkpoint (and its fsync) inside a delivery's commit: the workers
        // checkpoint when idle, or every so many writes (`Outbox::maintain`).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(Ok(()))
    };
    match setup() {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => return Err(refused(reason)),
        Err(e) => return Err(sql_error(&location, "cannot read the state file", e)),
    }
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| sql_error(&location, "cannot prepare the outbox", e))?;
    match ensure_schema(&conn, &location) {
        Ok(()) => conn
            .execute_batch("COMMIT")
            .map_err(|e| sql_error(&location, "cannot prepare the outbox", e))?,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// A private in-memory database with the outbox tables.
pub(crate) fn open_memory() -> Result<Connection, OutboxError> {
    let location = location_of(None);
    let conn = Connection::open_in_memory()
        .map_err(|e| sql_error(&location, "cannot create the outbox", e))?;
    ensure_schema(&conn, &location)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Creates the outbox tables if they are missing, checks their version otherwise.
/// Runs inside the caller's transaction.
pub(crate) fn ensure_schema(conn: &Connection, location: &str) -> Result<(), OutboxError> {
    let err = |e| sql_error(location, "cannot prepare the outbox", e);
    let has_meta: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'outbox_meta'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(err)?
        > 0;
    if !has_meta {
        conn.execute_batch(OUTBOX_SCHEMA).map_err(err)?;
        conn.execute(
            "INSERT INTO outbox_meta (key, value) VALUES ('schema_version', ?1)",
            [OUTBOX_SCHEMA_VERSION.to_string()],
        )
        .map_err(err)?;
        return Ok(());
    }
    let version: Option<String> = conn
        .query_row(
            "SELECT value FROM outbox_meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(err)?;
    let version: i64 = version.and_then(|v| v.parse().ok()).unwrap_or(0);
    match version {
        OUTBOX_SCHEMA_VERSION => Ok(()),
        v if v > OUTBOX_SCHEMA_VERSION => Err(OutboxError::Refused {
            location: location.to_owned(),
            reason: format!(
                "the outbox has schema version {v}, written by a newer trailguard; this one \
                 reads version {OUTBOX_SCHEMA_VERSION} (use the newer trailguard, or move \
                 the file aside)"
            ),
        }),
        // Version 1 is the first; later versions migrate older tables here.
        v => Err(OutboxError::Refused {
            location: location.to_owned(),
            reason: format!("the outbox has an unknown schema version ({v})"),
        }),
    }
}

/// An SQLite error as an [`OutboxError`] that says what it means for the alerts.
pub(crate) fn sql_error(location: &str, what: &'static str, e: rusqlite::Error) -> OutboxError {
    let location = location.to_owned();
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => OutboxError::DiskFull { location, what },
        Some(ErrorCode::SystemIoFailure) => OutboxError::Io {
            location,
            what,
            detail: e.to_string(),
        },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => OutboxError::Busy {
            location,
            waited_s: DEFAULT_BUSY_TIMEOUT.as_secs(),
        },
        Some(ErrorCode::NotADatabase) => OutboxError::Refused {
            location,
            reason: "not a trailguard state file (not an SQLite database)".into(),
        },
        Some(ErrorCode::DatabaseCorrupt) => OutboxError::Refused {
            location,
            reason: "the state file is damaged; move it aside to start a new one".into(),
        },
        Some(ErrorCode::ReadOnly) => OutboxError::Refused {
            location,
            reason: "the state file or its folder is read-only".into(),
        },
        _ => OutboxError::Sqlite {
            location,
            what,
            source: e,
        },
    }
}
