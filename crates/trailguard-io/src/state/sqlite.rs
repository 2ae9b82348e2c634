//! [`SqliteStore`]: the state of `detect --state FILE`, kept in one SQLite file between
//! runs, so that running `detect` every hour on the new files behaves like one long run.
//!
//! The schema, the bounds per tracked key and the retention are documented in
//! `docs/architecture.md` ("The SQLite state file"); [`SCHEMA`] is the authority.
//! In short:
//! - the file is recognised by its `application_id` ([`APPLICATION_ID`]) and its
//!   `user_version` ([`SCHEMA_VERSION`]); anything else is refused with a clear error;
//! - WAL journal, one `BEGIN IMMEDIATE` transaction per judging pass
//!   ([`Store::begin`] .. [`Store::commit`]); a second run on the same file waits for
//!   the first (busy timeout, [`DEFAULT_BUSY_TIMEOUT`]), then sees what it committed;
//! - the same bounds as `MemoryStore`; expired facts are deleted as facts are written,
//!   and each commit purges what expired (facts, idle windows, old alert ids).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};
use trailguard_core::state::{
    stored, Remembered, Sighting, Store, StoreError, WindowCount, MAX_VALUES_PER_KEY,
    MAX_WINDOW_EVENTS,
};

/// `PRAGMA application_id` of a trailguard state file: "TGst".
pub const APPLICATION_ID: i32 = 0x5447_7374;
/// `PRAGMA user_version`: the version of [`SCHEMA`] this build reads and writes.
pub const SCHEMA_VERSION: i32 = 1;
/// How long a run waits for another run that holds the state file.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(300);
/// How long an alert id is remembered after the run that first reported it (wall
/// clock): re-reading files within that time does not report their alerts again.
pub const ALERT_RETENTION_MS: i64 = 30 * 86_400_000;
/// Expired facts and idle windows are kept this long past their expiry (in event
/// time) before they are deleted, so that a file arriving late (up to a day behind
/// the newest event judged) still sees the state one long run would have had.
pub const PURGE_GRACE_MS: i64 = 86_400_000;

/// Schema version 1. Integer key ids keep each value, event and item row short.
pub const SCHEMA: &str = "
-- first_seen: one row per (rule, key) ...
CREATE TABLE seen_key (
    id        INTEGER PRIMARY KEY,
    scope     TEXT NOT NULL,            -- the rule id
    key       TEXT NOT NULL,            -- e.g. the access key id
    since_ms  INTEGER NOT NULL,         -- first seen with any value (learning period)
    n_values  INTEGER NOT NULL,         -- rows in seen_value, at most 1,024
    next_seq  INTEGER NOT NULL,         -- order in which values were first seen
    UNIQUE (scope, key)
);
-- ... and one per value it was seen with.
CREATE TABLE seen_value (
    key_id    INTEGER NOT NULL,         -- seen_key.id
    value     TEXT NOT NULL,            -- e.g. a source IP
    seq       INTEGER NOT NULL,         -- the lowest is forgotten first
    PRIMARY KEY (key_id, value)
) WITHOUT ROWID;
CREATE INDEX seen_value_age ON seen_value (key_id, seq);

-- threshold: one sliding window per (rule, key) ...
CREATE TABLE window_key (
    id          INTEGER PRIMARY KEY,
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    n_events    INTEGER NOT NULL,       -- rows in window_event, at most 10,000
    n_distinct  INTEGER NOT NULL,       -- rows in window_item
    next_seq    INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,       -- newest event + window: empty after that
    UNIQUE (scope, key)
);
CREATE INDEX window_key_expiry ON window_key (expires_ms);
-- ... the events inside it ...
CREATE TABLE window_event (
    key_id    INTEGER NOT NULL,         -- window_key.id
    at_ms     INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    item      TEXT,                     -- for distinct counts, or NULL
    PRIMARY KEY (key_id, at_ms, seq)
) WITHOUT ROWID;
-- ... and how many of them carry each item (the distinct count).
CREATE TABLE window_item (
    key_id    INTEGER NOT NULL,
    item      TEXT NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (key_id, item)
) WITHOUT ROWID;

-- sequence: the first step remembered per (rule, join value), until it expires.
CREATE TABLE fact (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    data        TEXT NOT NULL,
    expires_ms  INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE INDEX fact_expiry ON fact (expires_ms);

-- Alert ids already reported, for deduplication across runs.
CREATE TABLE alert (
    id        TEXT PRIMARY KEY,
    seen_ms   INTEGER NOT NULL          -- wall clock of the run that reported it
) WITHOUT ROWID;
CREATE INDEX alert_age ON alert (seen_ms);
";

/// The state of stateful rules in one SQLite file. See the module documentation.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    busy_timeout: Duration,
    /// Inside `begin` .. `commit`.
    in_unit: bool,
    /// The newest event time the current unit was given, for the purge.
    latest_ms: Option<i64>,
    /// Milliseconds since the epoch, now (replaceable for tests).
    clock: fn() -> i64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("in_unit", &self.in_unit)
            .finish_non_exhaustive()
    }
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// What the first bytes and pragmas say the file is.
enum Kind {
    /// Empty (new, or a 0-byte file): to be given the schema.
    Empty,
    Ours,
}

impl SqliteStore {
    /// Opens the state file at `path`, creating it (and its schema) if it does not
    /// exist. Refuses, with a message that names the file and says what is wrong: a
    /// folder, a path whose folder is missing or not writable, a file that is not an
    /// SQLite database, an SQLite database that is not a trailguard state file, a
    /// state file of another schema version, and a damaged one (checked with
    /// `PRAGMA quick_check`).
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with_timeout(path, DEFAULT_BUSY_TIMEOUT)
    }

    /// [`SqliteStore::open`], waiting at most `busy_timeout` for another run that
    /// holds the file (at open and at each [`Store::begin`]).
    pub fn open_with_timeout(
        path: &Path,
        busy_timeout: Duration,
    ) -> Result<SqliteStore, StoreError> {
        let fail = |msg: String| StoreError::Backend(format!("{}: {msg}", path.display()));
        if path.is_dir() {
            return Err(fail("is a folder, not a state file".into()));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if parent.exists() && !parent.is_dir() {
                return Err(fail(format!(
                    "cannot create the state file: {} is not a folder",
                    parent.display()
                )));
            }
            if !parent.exists() {
                return Err(fail(format!(
                    "cannot create the state file: the folder {} does not exist",
                    parent.display()
                )));
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| error(path, "cannot open the state file", &e, busy_timeout))?;
        let mut store = SqliteStore {
            conn,
            path: path.to_owned(),
            busy_timeout,
            in_unit: false,
            latest_ms: None,
            clock: wall_clock_ms,
        };
        if let Err(p) = store.prepare() {
            return Err(store.problem(p));
        }
        Ok(store)
    }

    /// The file this store keeps its state in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for the outbox to queue alerts inside this store's unit of
    /// work (`outbox::enqueue_with_state`): both are committed together.
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Replaces the wall clock (milliseconds since the epoch) that dates reported
    /// alert ids and caps the purge horizon. For tests.
    pub fn set_clock(&mut self, clock: fn() -> i64) {
        self.clock = clock;
    }

    /// Undoes what was written since [`Store::begin`] (dropping the store does too).
    pub fn rollback(&mut self) -> Result<(), StoreError> {
        if self.in_unit {
            self.in_unit = false;
            self.conn
                .execute_batch("ROLLBACK")
                .map_err(|e| self.err("cannot roll back", &e))?;
        }
        Ok(())
    }

    fn err(&self, what: &str, e: &rusqlite::Error) -> StoreError {
        error(&self.path, what, e, self.busy_timeout)
    }

    /// Identifies the file, gives a new one the schema, checks an old one, and sets
    /// the connection up.
    fn prepare(&mut self) -> Result<(), Problem> {
        self.conn.busy_timeout(self.busy_timeout)?;
        if self.conn.is_readonly("main")? {
            return Err(Problem::Refused(
                "the state file is read-only (trailguard writes what it learns there)".into(),
            ));
        }
        // The first read of the file: a file that is not SQLite fails here.
        let kind = self.kind()?;
        let journal: String =
            self.conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !journal.eq_ignore_ascii_case("wal") {
            return Err(Problem::Refused(format!(
                "cannot use a write-ahead log here (journal mode stays {journal})"
            )));
        }
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        if let Kind::Empty = kind {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            // Another run may have created it meanwhile.
            let created = match self.kind() {
                Ok(Kind::Empty) => self.conn.execute_batch(SCHEMA).and_then(|()| {
                    self.conn
                        .pragma_update(None, "application_id", APPLICATION_ID)?;
                    self.conn
                        .pragma_update(None, "user_version", SCHEMA_VERSION)
                }),
                Ok(Kind::Ours) => Ok(()),
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err(e);
                }
            };
            match created {
                Ok(()) => self.conn.execute_batch("COMMIT")?,
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err(e.into());
                }
            }
        } else {
            let check: String = self
                .conn
                .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
            if check != "ok" {
                return Err(Problem::Damaged(check));
            }
        }
        self.conn.set_prepared_statement_cache_capacity(32);
        Ok(())
    }

    fn kind(&self) -> Result<Kind, Problem> {
        let app: i32 = self
            .conn
            .pragma_query_value(None, "application_id", |r| r.get(0))?;
        let version: i32 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if app == APPLICATION_ID {
            return match version {
                SCHEMA_VERSION => Ok(Kind::Ours),
                v if v > SCHEMA_VERSION => Err(Problem::Refused(format!(
                    "the state file has schema version {v}, written by a newer trailguard; \
                     this one reads version {SCHEMA_VERSION}"
                ))),
                v => Err(Problem::Refused(format!(
                    "the state file has schema version {v}; this trailguard reads version \
                     {SCHEMA_VERSION} and cannot upgrade it"
                ))),
            };
        }
        let objects: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        if app == 0 && version == 0 && objects == 0 {
            return Ok(Kind::Empty);
        }
        Err(Problem::Refused(if app == 0 {
            "not a trailguard state file (an SQLite database of something else)".into()
        } else {
            format!(
                "not a trailguard state file (an SQLite database with application id {app:#010x})"
            )
        }))
    }

    fn saw(&mut self, at_ms: i64) {
        self.latest_ms = Some(self.latest_ms.map_or(at_ms, |l| l.max(at_ms)));
    }

    /// Takes `n` events carrying `item` out of window `key_id`'s distinct counts;
    /// returns how many items left the window altogether.
    fn forget_items(&self, key_id: i64, items: HashMap<String, i64>) -> rusqlite::Result<i64> {
        let mut gone = 0;
        for (item, n) in items {
            let left: Option<i64> = self
                .conn
                .prepare_cached(
                    "UPDATE window_item SET n = n - ?3 WHERE key_id = ?1 AND item = ?2 RETURNING n",
                )?
                .query_row(params![key_id, item, n], |r| r.get(0))
                .optional()?;
            if left.is_some_and(|l| l <= 0) {
                self.conn
                    .prepare_cached("DELETE FROM window_item WHERE key_id = ?1 AND item = ?2")?
                    .execute(params![key_id, item])?;
                gone += 1;
            }
        }
        Ok(gone)
    }

    /// Deletes window `key_id`'s events matched by `sql` (which returns their items);
    /// returns (events removed, items gone).
    fn drop_events<P: rusqlite::Params>(
        &self,
        key_id: i64,
        sql: &str,
        params: P,
    ) -> rusqlite::Result<(i64, i64)> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params)?;
        let mut removed = 0;
        let mut items: HashMap<String, i64> = HashMap::new();
        while let Some(row) = rows.next()? {
            removed += 1;
            if let Some(item) = row.get::<_, Option<String>>(0)? {
                *items.entry(item).or_default() += 1;
            }
        }
        drop(rows);
        drop(stmt);
        let gone = if items.is_empty() {
            0
        } else {
            self.forget_items(key_id, items)?
        };
        Ok((removed, gone))
    }

    fn observe_sql(
        &mut self,
        scope: &str,
        key: &str,
        value: &str,
        at_ms: i64,
    ) -> rusqlite::Result<Sighting> {
        let conn = &self.conn;
        let row: Option<(i64, i64, i64, i64)> = conn
            .prepare_cached(
                "SELECT id, since_ms, n_values, next_seq FROM seen_key WHERE scope = ?1 AND key = ?2",
            )?
            .query_row(params![scope, key], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let (id, since, n_values, next_seq) = match row {
            Some((id, since, n, seq)) => {
                if at_ms < since {
                    conn.prepare_cached("UPDATE seen_key SET since_ms = ?2 WHERE id = ?1")?
                        .execute(params![id, at_ms])?;
                }
                (id, since.min(at_ms), n, seq)
            }
            None => {
                let id = conn
                    .prepare_cached(
                        "INSERT INTO seen_key (scope, key, since_ms, n_values, next_seq) \
                         VALUES (?1, ?2, ?3, 0, 0) RETURNING id",
                    )?
                    .query_row(params![scope, key, at_ms], |r| r.get(0))?;
                (id, at_ms, 0, 0)
            }
        };
        let new_value = conn
            .prepare_cached(
                "INSERT INTO seen_value (key_id, value, seq) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (key_id, value) DO NOTHING",
            )?
            .execute(params![id, value, next_seq])?
            == 1;
        if new_value {
            let mut n = n_values + 1;
            if n > MAX_VALUES_PER_KEY as i64 {
                conn.prepare_cached(
                    "DELETE FROM seen_value WHERE key_id = ?1 \
                     AND seq = (SELECT min(seq) FROM seen_value WHERE key_id = ?1)",
                )?
                .execute(params![id])?;
                n = MAX_VALUES_PER_KEY as i64;
            }
            conn.prepare_cached("UPDATE seen_key SET n_values = ?2, next_seq = ?3 WHERE id = ?1")?
                .execute(params![id, n, next_seq + 1])?;
        }
        Ok(Sighting {
            new_value,
            key_since_ms: since,
        })
    }

    fn window_add_sql(
        &mut self,
        scope: &str,
        key: &str,
        at_ms: i64,
        item: Option<&str>,
        window_ms: i64,
    ) -> rusqlite::Result<WindowCount> {
        let expires = at_ms.saturating_add(window_ms);
        let row: Option<(i64, i64, i64, i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT id, n_events, n_distinct, next_seq, expires_ms FROM window_key \
                 WHERE scope = ?1 AND key = ?2",
            )?
            .query_row(params![scope, key], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        let (id, mut n_events, mut n_distinct, seq, old_expires) = match row {
            Some(r) => r,
            None => {
                let id = self
                    .conn
                    .prepare_cached(
                        "INSERT INTO window_key \
                         (scope, key, n_events, n_distinct, next_seq, expires_ms) \
                         VALUES (?1, ?2, 0, 0, 0, ?3) RETURNING id",
                    )?
                    .query_row(params![scope, key, expires], |r| r.get(0))?;
                (id, 0, 0, 0, expires)
            }
        };
        if n_events > 0 {
            // Events at least one window older than this one have left the window.
            let (removed, gone) = self.drop_events(
                id,
                "DELETE FROM window_event WHERE key_id = ?1 AND at_ms <= ?2 RETURNING item",
                params![id, at_ms.saturating_sub(window_ms)],
            )?;
            n_events -= removed;
            n_distinct -= gone;
        }
        if n_events >= MAX_WINDOW_EVENTS as i64 {
            // Full: the oldest event makes room.
            let (removed, gone) = self.drop_events(
                id,
                "DELETE FROM window_event WHERE key_id = ?1 AND (at_ms, seq) = \
                 (SELECT at_ms, seq FROM window_event WHERE key_id = ?1 \
                  ORDER BY at_ms, seq LIMIT 1) RETURNING item",
                [id],
            )?;
            n_events -= removed;
            n_distinct -= gone;
        }
        self.conn
            .prepare_cached(
                "INSERT INTO window_event (key_id, at_ms, seq, item) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, at_ms, seq, item])?;
        n_events += 1;
        if let Some(item) = item {
            let n: i64 = self
                .conn
                .prepare_cached(
                    "INSERT INTO window_item (key_id, item, n) VALUES (?1, ?2, 1) \
                     ON CONFLICT (key_id, item) DO UPDATE SET n = n + 1 RETURNING n",
                )?
                .query_row(params![id, item], |r| r.get(0))?;
            if n == 1 {
                n_distinct += 1;
            }
        }
        self.conn
            .prepare_cached(
                "UPDATE window_key SET n_events = ?2, n_distinct = ?3, next_seq = ?4, \
                 expires_ms = ?5 WHERE id = ?1",
            )?
            .execute(params![
                id,
                n_events,
                n_distinct,
                seq + 1,
                old_expires.max(expires)
            ])?;
        Ok(WindowCount {
            events: n_events.max(0) as u64,
            distinct: n_distinct.max(0) as u64,
        })
    }

    /// Deletes what has expired: facts and idle windows past [`PURGE_GRACE_MS`] (in
    /// event time, the newest event of this unit, never later than now), and alert
    /// ids reported more than [`ALERT_RETENTION_MS`] ago (wall clock).
    fn purge(&mut self) -> rusqlite::Result<()> {
        let now = (self.clock)();
        if let Some(latest) = self.latest_ms {
            let horizon = latest.min(now).saturating_sub(PURGE_GRACE_MS);
            self.conn
                .prepare_cached("DELETE FROM fact WHERE expires_ms < ?1")?
                .execute([horizon])?;
            for sql in [
                "DELETE FROM window_event WHERE key_id IN \
                 (SELECT id FROM window_key WHERE expires_ms < ?1)",
                "DELETE FROM window_item WHERE key_id IN \
                 (SELECT id FROM window_key WHERE expires_ms < ?1)",
                "DELETE FROM window_key WHERE expires_ms < ?1",
            ] {
                self.conn.prepare_cached(sql)?.execute([horizon])?;
            }
        }
        self.conn
            .prepare_cached("DELETE FROM alert WHERE seen_ms < ?1")?
            .execute([now.saturating_sub(ALERT_RETENTION_MS)])?;
        Ok(())
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing would roll back too; say so.
        let _ = self.rollback();
    }
}

impl Store for SqliteStore {
    fn begin(&mut self) -> Result<(), StoreError> {
        if !self.in_unit {
            self.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(|e| self.err("cannot start a transaction", &e))?;
            self.in_unit = true;
            self.latest_ms = None;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        if !self.in_unit {
            return Ok(());
        }
        self.purge()
            .map_err(|e| self.err("cannot purge expired state", &e))?;
        self.conn
            .execute_batch("COMMIT")
            .map_err(|e| self.err("cannot commit", &e))?;
        self.in_unit = false;
        Ok(())
    }

    fn observe(
        &mut self,
        scope: &str,
        key: &str,
        value: &str,
        at_ms: i64,
    ) -> Result<Sighting, StoreError> {
        self.saw(at_ms);
        self.observe_sql(scope, &stored(key), &stored(value), at_ms)
            .map_err(|e| self.err("first-seen", &e))
    }

    fn window_add(
        &mut self,
        scope: &str,
        key: &str,
        at_ms: i64,
        item: Option<&str>,
        window_ms: i64,
    ) -> Result<WindowCount, StoreError> {
        self.saw(at_ms);
        let item = item.map(stored);
        self.window_add_sql(scope, &stored(key), at_ms, item.as_deref(), window_ms)
            .map_err(|e| self.err("window", &e))
    }

    fn remember(
        &mut self,
        scope: &str,
        key: &str,
        fact: Remembered,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        self.saw(fact.at_ms);
        let key = stored(key);
        let expires = fact.at_ms.saturating_add(ttl_ms);
        let written = (|| {
            // Expired facts go as facts are written.
            self.conn
                .prepare_cached("DELETE FROM fact WHERE expires_ms < ?1")?
                .execute([fact.at_ms.saturating_sub(PURGE_GRACE_MS)])?;
            self.conn
                .prepare_cached(
                    "INSERT INTO fact (scope, key, at_ms, data, expires_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (scope, key) DO UPDATE SET \
                     at_ms = excluded.at_ms, data = excluded.data, expires_ms = excluded.expires_ms",
                )?
                .execute(params![scope, key, fact.at_ms, fact.data, expires])
        })();
        written
            .map(|_| ())
            .map_err(|e| self.err("sequence fact", &e))
    }

    fn recall(
        &mut self,
        scope: &str,
        key: &str,
        now_ms: i64,
    ) -> Result<Option<Remembered>, StoreError> {
        self.saw(now_ms);
        let key = stored(key);
        self.conn
            .prepare_cached(
                "SELECT at_ms, data FROM fact WHERE scope = ?1 AND key = ?2 AND expires_ms >= ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![scope, key, now_ms], |r| {
                    Ok(Remembered {
                        at_ms: r.get(0)?,
                        data: r.get(1)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.err("sequence fact", &e))
    }

    fn alert_seen(&mut self, alert_id: &str) -> Result<bool, StoreError> {
        let id = stored(alert_id);
        let now = (self.clock)();
        self.conn
            .prepare_cached(
                "INSERT INTO alert (id, seen_ms) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![id, now]))
            .map(|inserted| inserted == 0)
            .map_err(|e| self.err("alert ids", &e))
    }
}

/// Why a state file was refused while opening it.
enum Problem {
    Sqlite(rusqlite::Error),
    Refused(String),
    Damaged(String),
}

impl From<rusqlite::Error> for Problem {
    fn from(e: rusqlite::Error) -> Problem {
        Problem::Sqlite(e)
    }
}

impl SqliteStore {
    fn problem(&self, p: Problem) -> StoreError {
        match p {
            Problem::Sqlite(e) => self.err("", &e),
            Problem::Refused(msg) => StoreError::Backend(format!("{}: {msg}", self.path.display())),
            Problem::Damaged(detail) => damaged(&self.path, &detail),
        }
    }
}

fn damaged(path: &Path, detail: &str) -> StoreError {
    let detail: String = detail.chars().take(200).collect();
    StoreError::Backend(format!(
        "{}: the state file is damaged ({detail}); move it aside to start a new one \
         (what it had learned is lost)",
        path.display()
    ))
}

/// A message that says what is wrong with the state file in words a person acts on.
fn error(path: &Path, what: &str, e: &rusqlite::Error, busy: Duration) -> StoreError {
    let p = path.display();
    let msg = match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => format!(
            "{p}: the state file is in use by another trailguard run (waited {} s); \
             run again when it has finished",
            busy.as_secs_f64().round()
        ),
        Some(ErrorCode::NotADatabase) => {
            format!("{p}: not a trailguard state file (not an SQLite database)")
        }
        Some(ErrorCode::DatabaseCorrupt) => return damaged(path, &e.to_string()),
        Some(ErrorCode::CannotOpen) => {
            format!("{p}: cannot open or create the state file (is its folder writable?)")
        }
        Some(ErrorCode::ReadOnly) => {
            format!("{p}: the state file or its folder is read-only")
        }
        Some(ErrorCode::DiskFull) => format!("{p}: the disk is full"),
        _ if what.is_empty() => format!("{p}: {e}"),
        _ => format!("{p}: {what}: {e}"),
    };
    StoreError::Backend(msg)
}
