//! Following a folder that CloudTrail (or `aws s3 sync`) drops files into.
//!
//! Polling, not inotify: it works the same on network file systems, in containers and
//! on every OS, and CloudTrail delivers a file every few minutes per region, so a
//! poll every couple of seconds costs nothing. A file is read once its size and
//! modification time have not changed for one poll, so a file still being written is
//! never read half-way; a file that changes after it was read is read again (and the
//! store's alert deduplication keeps its alerts from being sent twice).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What a file looked like at the last poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    len: u64,
    modified: Option<SystemTime>,
}

#[derive(Debug, Default)]
pub struct DirFollower {
    root: PathBuf,
    /// Files read, as they were when read.
    done: HashMap<PathBuf, Seen>,
    /// Files seen changing, as at the last poll.
    settling: HashMap<PathBuf, Seen>,
    /// Files already present when following began, when they are not to be read.
    skipped_at_start: usize,
}

impl DirFollower {
    /// Follows `root`. Files already there are read on the first poll when
    /// `from_start`, else only files that appear (or change) later.
    pub fn new(root: &Path, from_start: bool) -> std::io::Result<DirFollower> {
        let meta = std::fs::metadata(root)?;
        if !meta.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "not a folder (give a folder to follow, or - for standard input)",
            ));
        }
        let mut f = DirFollower {
            root: root.to_owned(),
            ..DirFollower::default()
        };
        if !from_start {
            for (path, seen) in list(root) {
                f.done.insert(path, seen);
            }
            f.skipped_at_start = f.done.len();
        }
        Ok(f)
    }

    pub fn skipped_at_start(&self) -> usize {
        self.skipped_at_start
    }

    /// Files ready to be read since the last poll: new or changed, and unchanged since
    /// the poll before. Sorted by path (CloudTrail names sort by time).
    pub fn poll(&mut self) -> Vec<PathBuf> {
        let mut ready = Vec::new();
        let mut settling = HashMap::new();
        for (path, now) in list(&self.root) {
            if self.done.get(&path) == Some(&now) {
                continue;
            }
            if self.settling.get(&path) == Some(&now) {
                self.done.insert(path.clone(), now);
                ready.push(path);
            } else {
                settling.insert(path, now);
            }
        }
        self.settling = settling;
        ready.sort();
        ready
    }

    /// How many files are waiting to settle.
    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.settling.len()
    }
}

/// Every regular file below `root` (hidden files and temporary downloads excepted),
/// with its size and modification time. Unreadable entries are left for next time.
fn list(root: &Path) -> Vec<(PathBuf, Seen)> {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            let name = e.file_name().to_string_lossy();
            // `aws s3 sync` downloads to NAME.XXXXXXXX then renames; editors and
            // rsync use dot files.
            !name.starts_with('.') && !name.ends_with(".tmp") && !is_s3_partial(&name)
        })
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((
                e.into_path(),
                Seen {
                    len: m.len(),
                    modified: m.modified().ok(),
                },
            ))
        })
        .collect()
}

/// `aws s3 sync`/`cp` write `name.json.gz.6fA2b9c1` (an 8-character random suffix)
/// before renaming to `name.json.gz`.
fn is_s3_partial(name: &str) -> bool {
    match name.rsplit_once('.') {
        Some((stem, suffix)) => {
            suffix.len() == 8
                && suffix.chars().all(|c| c.is_ascii_alphanumeric())
                && (stem.ends_with(".json.gz") || stem.ends_with(".json"))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_ready_once_it_stops_changing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old.json"), "{}").unwrap();
        let mut f = DirFollower::new(dir.path(), false).unwrap();
        assert_eq!(f.skipped_at_start(), 1);
        assert!(f.poll().is_empty());
        let new = dir.path().join("a/b/new.json");
        std::fs::create_dir_all(new.parent().unwrap()).unwrap();
        std::fs::write(&new, "{\"Records\":[").unwrap();
        assert!(f.poll().is_empty(), "first sight: still settling");
        assert_eq!(f.pending(), 1);
        std::fs::write(&new, "{\"Records\":[]}").unwrap();
        assert!(f.poll().is_empty(), "it changed: settling again");
        assert_eq!(f.poll(), vec![new.clone()]);
        assert!(f.poll().is_empty(), "read once");
    }

    #[test]
    fn from_start_reads_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old.json"), "{}").unwrap();
        std::fs::write(dir.path().join(".hidden"), "{}").unwrap();
        std::fs::write(dir.path().join("x.json.gz.A1b2C3d4"), "partial").unwrap();
        let mut f = DirFollower::new(dir.path(), true).unwrap();
        assert!(f.poll().is_empty());
        assert_eq!(f.poll(), vec![dir.path().join("old.json")]);
    }

    #[test]
    fn a_file_is_not_a_folder_to_follow() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert!(DirFollower::new(&file, false).is_err());
        assert!(DirFollower::new(&dir.path().join("missing"), false).is_err());
    }
}
