//! The files `watch` has read, in the state file: recorded in the same transaction as
//! the alerts they raised, so that after a crash (even `kill -9`) a restart reads again
//! exactly the files whose alerts were not recorded, and no others.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::params;

use super::sqlite::SqliteStore;
use trailguard_core::state::StoreError;

/// What a file looked like when it was read: size, and modification time in
/// nanoseconds since the epoch (0 when the file system gives none).
pub type FileStamp = (u64, i64);

const TABLE: &str = "CREATE TABLE IF NOT EXISTS watched_file (
    path TEXT PRIMARY KEY,
    len INTEGER NOT NULL,
    modified_ns INTEGER NOT NULL
) WITHOUT ROWID";

fn err(store: &SqliteStore, what: &str, e: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("{}: {what}: {e}", store.path().display()))
}

/// Every file recorded as read, with its stamp then.
pub fn watched_files(store: &mut SqliteStore) -> Result<HashMap<PathBuf, FileStamp>, StoreError> {
    let conn = store.connection();
    conn.execute_batch(TABLE)
        .map_err(|e| err(store, "cannot create the watched files table", e))?;
    let conn = store.connection();
    let mut stmt = conn
        .prepare("SELECT path, len, modified_ns FROM watched_file")
        .map_err(|e| err(store, "cannot read the watched files", e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                PathBuf::from(r.get::<_, String>(0)?),
                (r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)?),
            ))
        })
        .and_then(|rows| rows.collect::<Result<HashMap<_, _>, _>>());
    drop(stmt);
    rows.map_err(|e| err(store, "cannot read the watched files", e))
}

/// Records `files` as read, inside the store's unit of work (committed with it).
pub fn mark_watched(
    store: &mut SqliteStore,
    files: &[(PathBuf, FileStamp)],
) -> Result<(), StoreError> {
    let conn = store.connection();
    let done = conn.execute_batch(TABLE).and_then(|()| {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO watched_file (path, len, modified_ns) VALUES (?1, ?2, ?3)
             ON CONFLICT(path) DO UPDATE SET len = excluded.len, modified_ns = excluded.modified_ns",
        )?;
        for (path, (len, ns)) in files {
            stmt.execute(params![path_text(path), *len as i64, ns])?;
        }
        Ok(())
    });
    done.map_err(|e| err(store, "cannot record the files read", e))
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
