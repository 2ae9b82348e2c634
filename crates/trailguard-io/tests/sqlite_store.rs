//! The SQLite store: the shared `Store` conformance suite, persistence between runs,
//! transactions and locking, retention and purges, and hostile state files.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use trailguard_core::state::{Remembered, Store, MAX_VALUES_PER_KEY, MAX_WINDOW_EVENTS};
use trailguard_core::testing::{store_conformance, store_persistence};
use trailguard_io::state::{SqliteStore, ALERT_RETENTION_MS, APPLICATION_ID, SCHEMA_VERSION};

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).unwrap()
}

fn open_err(path: &Path) -> String {
    SqliteStore::open_with_timeout(path, Duration::from_millis(200))
        .unwrap_err()
        .to_string()
}

/// Rows in `table`, read by another connection (what is committed).
fn rows(path: &Path, table: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn conformance() {
    let dir = tempfile::tempdir().unwrap();
    store_conformance(&mut open(&dir.path().join("s.db")));
}

#[test]
fn conformance_without_transactions() {
    // Every operation also works outside begin/commit (each then commits alone).
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&dir.path().join("s.db"));
    assert!(s.observe("r", "k", "v", 1).unwrap().new_value);
    assert!(!s.observe("r", "k", "v", 2).unwrap().new_value);
    assert_eq!(s.window_add("r", "k", 1, Some("a"), 10).unwrap().events, 1);
    assert!(!s.alert_seen("a").unwrap());
    s.commit().unwrap();
    drop(s);
    assert_eq!(rows(&dir.path().join("s.db"), "seen_value"), 1);
}

#[test]
fn persistence() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    store_persistence(&mut || Box::new(open(&path)) as Box<dyn Store>);
}

#[test]
fn a_unit_not_committed_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let mut s = open(&path);
        s.begin().unwrap();
        s.observe("r", "k", "kept", 1).unwrap();
        s.commit().unwrap();
        s.begin().unwrap();
        s.observe("r", "k", "lost", 2).unwrap();
        assert!(!s.alert_seen("lost-alert").unwrap());
        // Dropped without commit: a failed run.
    }
    {
        let mut s = open(&path);
        s.begin().unwrap();
        assert!(!s.observe("r", "k", "kept", 3).unwrap().new_value);
        assert!(s.observe("r", "k", "lost", 3).unwrap().new_value);
        assert!(!s.alert_seen("lost-alert").unwrap());
        s.rollback().unwrap();
        s.begin().unwrap();
        assert!(
            s.observe("r", "k", "lost", 4).unwrap().new_value,
            "rollback undid it"
        );
        s.commit().unwrap();
    }
}

#[test]
fn concurrent_runs_are_serialized() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut a = open(&path);
    let mut b = SqliteStore::open_with_timeout(&path, Duration::from_millis(150)).unwrap();
    a.begin().unwrap();
    a.observe("r", "k", "from-a", 1).unwrap();
    // Opening (and checking) the file does not wait for the run that holds it.
    let started = Instant::now();
    drop(SqliteStore::open_with_timeout(&path, Duration::from_millis(150)).unwrap());
    assert!(started.elapsed() < Duration::from_millis(100));
    // B cannot start its judging pass while A holds the file ...
    let started = Instant::now();
    let err = b.begin().unwrap_err().to_string();
    assert!(started.elapsed() >= Duration::from_millis(100), "B waited");
    assert!(
        err.contains("in use by another trailguard run") && err.contains("s.db"),
        "{err}"
    );
    // ... and, waiting long enough, starts once A has committed, and sees A's state.
    let path_b = path.clone();
    let waiter = std::thread::spawn(move || {
        let mut b = SqliteStore::open_with_timeout(&path_b, Duration::from_secs(20)).unwrap();
        b.begin().unwrap();
        let seen = b.observe("r", "k", "from-a", 2).unwrap();
        b.commit().unwrap();
        seen.new_value
    });
    std::thread::sleep(Duration::from_millis(300));
    a.commit().unwrap();
    assert!(!waiter.join().unwrap(), "B saw what A committed");
    // The store that failed to begin is still usable.
    b.begin().unwrap();
    b.commit().unwrap();
}

#[test]
fn first_seen_rows_are_bounded_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut s = open(&path);
    s.begin().unwrap();
    for i in 0..(MAX_VALUES_PER_KEY + 50) {
        s.observe("r", "AKIA1", &format!("203.0.113.{i}"), i as i64)
            .unwrap();
    }
    s.commit().unwrap();
    drop(s);
    assert_eq!(rows(&path, "seen_value"), MAX_VALUES_PER_KEY as i64);
    assert_eq!(rows(&path, "seen_key"), 1);
}

#[test]
fn window_rows_are_bounded_and_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut s = open(&path);
    s.begin().unwrap();
    let day = 86_400_000;
    for i in 0..(MAX_WINDOW_EVENTS as i64 + 100) {
        s.window_add("r", "k", i, Some(&format!("item{}", i % 7)), day)
            .unwrap();
    }
    s.commit().unwrap();
    assert_eq!(rows(&path, "window_event"), MAX_WINDOW_EVENTS as i64);
    assert_eq!(rows(&path, "window_item"), 7);
    // One event a window later trims all the others.
    s.begin().unwrap();
    let c = s
        .window_add("r", "k", 20_000 + day, Some("new"), day)
        .unwrap();
    assert_eq!((c.events, c.distinct), (1, 1));
    s.commit().unwrap();
    assert_eq!(rows(&path, "window_event"), 1);
    assert_eq!(rows(&path, "window_item"), 1);
}

#[test]
fn expired_facts_and_idle_windows_are_purged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let day = 86_400_000;
    let t0 = 1_700_000_000_000; // 2023-11-14, before the wall clock
    let mut s = open(&path);
    s.begin().unwrap();
    let fact = |at_ms| Remembered {
        at_ms,
        data: "198.51.100.7".into(),
    };
    s.remember("seq", "old", fact(t0), day).unwrap();
    s.remember("seq", "live", fact(t0), 30 * day).unwrap();
    s.remember("seq", "far", fact(t0), 100_000 * day).unwrap();
    s.window_add("burst", "idle", t0, Some("a"), 600_000)
        .unwrap();
    s.window_add("burst", "busy", t0, Some("a"), 600_000)
        .unwrap();
    s.commit().unwrap();
    assert_eq!((rows(&path, "fact"), rows(&path, "window_key")), (3, 2));
    // A later run, three days on (in event time): "old" expired two days ago, the
    // idle window long ago; both go. What is still alive stays.
    s.begin().unwrap();
    s.window_add("burst", "busy", t0 + 3 * day, Some("b"), 600_000)
        .unwrap();
    s.commit().unwrap();
    assert_eq!(rows(&path, "fact"), 2);
    assert_eq!(rows(&path, "window_key"), 1);
    assert_eq!(rows(&path, "window_event"), 1);
    assert_eq!(rows(&path, "window_item"), 1);
    s.begin().unwrap();
    assert!(s.recall("seq", "live", t0 + 3 * day).unwrap().is_some());
    // Writing a fact deletes facts expired more than a day before it.
    s.remember("seq", "new", fact(t0 + 40 * day), day).unwrap();
    assert!(s.recall("seq", "live", t0 + 3 * day).unwrap().is_none());
    s.rollback().unwrap();
    // An event dated far in the future purges only up to the wall clock (a day
    // before it): "live" expired in 2023 and goes, "far" is alive now and stays.
    s.begin().unwrap();
    s.observe("r", "k", "v", i64::MAX / 2).unwrap();
    s.commit().unwrap();
    assert_eq!(rows(&path, "fact"), 1, "a wall-clock-capped horizon");
    s.begin().unwrap();
    assert!(s.recall("seq", "far", t0 + 50 * day).unwrap().is_some());
    s.commit().unwrap();
}

#[test]
fn alert_ids_are_kept_thirty_days() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    const T: i64 = 1_800_000_000_000;
    let mut s = open(&path);
    s.set_clock(|| T);
    s.begin().unwrap();
    assert!(!s.alert_seen("a1").unwrap());
    s.commit().unwrap();
    s.set_clock(|| T + ALERT_RETENTION_MS - 1);
    s.begin().unwrap();
    s.commit().unwrap();
    s.begin().unwrap();
    assert!(s.alert_seen("a1").unwrap(), "kept within 30 days");
    s.commit().unwrap();
    s.set_clock(|| T + ALERT_RETENTION_MS + 1);
    s.begin().unwrap();
    s.commit().unwrap();
    assert_eq!(rows(&path, "alert"), 0, "purged after 30 days");
    s.begin().unwrap();
    assert!(!s.alert_seen("a1").unwrap(), "forgotten");
    s.commit().unwrap();
}

#[test]
fn the_file_is_marked_and_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(open(&path));
    let c = Connection::open(&path).unwrap();
    let app: i32 = c
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .unwrap();
    let version: i32 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    let journal: String = c
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(
        (app, version, journal.as_str()),
        (APPLICATION_ID, SCHEMA_VERSION, "wal")
    );
    // Opening it again (and again) is fine.
    drop(open(&path));
    drop(open(&path));
}

#[test]
fn an_empty_file_becomes_a_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    fs::write(&path, b"").unwrap();
    let mut s = open(&path);
    s.begin().unwrap();
    assert!(s.observe("r", "k", "v", 1).unwrap().new_value);
    s.commit().unwrap();
}

// ---- hostile state files: every one a clear error naming the file, never a panic

#[test]
fn a_text_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    fs::write(&path, "remember to rotate the keys\n".repeat(100)).unwrap();
    let err = open_err(&path);
    assert!(
        err.contains("notes.txt") && err.contains("not a trailguard state file"),
        "{err}"
    );
    assert_eq!(
        fs::read(&path).unwrap().len(),
        2800,
        "the file is left as it was"
    );
}

#[test]
fn random_bytes_after_an_sqlite_header_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend((0..8000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    fs::write(&path, &bytes).unwrap();
    let err = open_err(&path);
    assert!(err.contains("s.db"), "{err}");
    assert!(
        err.contains("not a trailguard state file") || err.contains("damaged"),
        "{err}"
    );
}

/// A state file with a few hundred KB of state in it.
fn filled_state(path: &Path) {
    let mut s = open(path);
    s.begin().unwrap();
    for k in 0..20 {
        for i in 0..200 {
            s.observe("r", &format!("AKIA{k}"), &format!("198.51.100.{i}"), i)
                .unwrap();
        }
    }
    s.commit().unwrap();
}

#[test]
fn a_truncated_state_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    filled_state(&path);
    let len = fs::metadata(&path).unwrap().len();
    assert!(len > 8 * 4096, "{len}");
    for keep in [len / 2, 4096 * 3, 100] {
        let cut = dir.path().join(format!("cut-{keep}.db"));
        fs::write(&cut, &fs::read(&path).unwrap()[..keep as usize]).unwrap();
        let err = open_err(&cut);
        assert!(err.contains(&format!("cut-{keep}.db")), "{err}");
        assert!(
            err.contains("damaged") || err.contains("not a trailguard state file"),
            "truncated to {keep}: {err}"
        );
    }
}

#[test]
fn a_damaged_page_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    filled_state(&path);
    let mut bytes = fs::read(&path).unwrap();
    // Scribble over the middle of the file (b-tree pages), not the header.
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 4096] {
        *b = 0x5a;
    }
    fs::write(&path, &bytes).unwrap();
    let err = open_err(&path);
    assert!(err.contains("damaged") && err.contains("s.db"), "{err}");
}

#[test]
fn another_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let c = Connection::open(&path).unwrap();
    c.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        .unwrap();
    drop(c);
    let err = open_err(&path);
    assert!(
        err.contains("not a trailguard state file (an SQLite database of something else)"),
        "{err}"
    );
    // And one that says it belongs to another application.
    let path = dir.path().join("app.db");
    let c = Connection::open(&path).unwrap();
    c.pragma_update(None, "application_id", 0x0f0f_0f0f)
        .unwrap();
    drop(c);
    let err = open_err(&path);
    assert!(err.contains("application id 0x0f0f0f0f"), "{err}");
}

#[test]
fn another_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (version, says) in [
        (SCHEMA_VERSION + 1, "written by a newer trailguard"),
        (0, "cannot upgrade it"),
    ] {
        let path = dir.path().join(format!("v{version}.db"));
        drop(open(&path));
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", version).unwrap();
        drop(c);
        let err = open_err(&path);
        assert!(
            err.contains(&format!("schema version {version}")) && err.contains(says),
            "{err}"
        );
    }
}

#[test]
fn bad_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = open_err(dir.path());
    assert!(err.contains("is a folder"), "{err}");
    let err = open_err(&dir.path().join("missing/s.db"));
    assert!(err.contains("does not exist"), "{err}");
    // A "folder" that is a file.
    let file = dir.path().join("plain");
    fs::write(&file, "x").unwrap();
    let err = open_err(&file.join("s.db"));
    assert!(err.contains("plain is not a folder"), "{err}");
}

#[test]
fn a_state_file_held_while_opening_waits_then_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(open(&path));
    // Another process holds an exclusive lock (not just a write transaction).
    let holder = Connection::open(&path).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    let err = open_err(&path);
    assert!(err.contains("in use by another trailguard run"), "{err}");
    drop(holder);
    drop(open(&path));
}
