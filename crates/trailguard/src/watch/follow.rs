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

/// What a file looked like: size, and modification time in nanoseconds (0 unknown).
pub use trailguard_io::state::FileStamp as Seen;

/// Where following begins.
pub enum Start {
    /// Files already there are left alone; only new or changed ones are read.
    New,
    /// Every file is read, those already there included.
    Everything,
    /// After a restart: the files recorded as read (with `--state`) are left alone if
    /// unchanged; everything else, what arrived while stopped included, is read.
    Resume(HashMap<PathBuf, Seen>),
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
    /// Follows `root`, from `start`.
    pub fn new(root: &Path, start: Start) -> std::io::Result<DirFollower> {
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
        match start {
            Start::New => {
                f.done = list(root).into_iter().collect();
                f.skipped_at_start = f.done.len();
            }
            Start::Everything => {}
            Start::Resume(known) => {
                let now: HashMap<PathBuf, Seen> = list(root).into_iter().collect();
                f.skipped_at_start = now.iter().filter(|(p, s)| known.get(*p) == Some(s)).count();
                f.done = known;
            }
        }
        Ok(f)
    }

    pub fn skipped_at_start(&self) -> usize {
        self.skipped_at_start
    }

    /// The files taken as read: to record them, so that a restart leaves them alone.
    pub fn done(&self) -> impl Iterator<Item = (&PathBuf, &Seen)> {
        self.done.iter()
    }

    /// Files ready to be read since the last poll: new or changed, and unchanged since
    /// the poll before, with how they looked. Sorted by path (CloudTrail names sort by
    /// time).
    pub fn poll(&mut self) -> Vec<(PathBuf, Seen)> {
        let mut ready = Vec::new();
        let mut settling = HashMap::new();
        for (path, now) in list(&self.root) {
            if self.done.get(&path) == Some(&now) {
                continue;
            }
            if self.settling.get(&path) == Some(&now) {
                self.done.insert(path.clone(), now);
                ready.push((path, now));
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
            let modified_ns = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i64);
            Some((e.into_path(), (m.len(), modified_ns)))
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
        let mut f = DirFollower::new(dir.path(), Start::New).unwrap();
        assert_eq!(f.skipped_at_start(), 1);
        assert!(f.poll().is_empty());
        let new = dir.path().join("a/b/new.json");
        std::fs::create_dir_all(new.parent().unwrap()).unwrap();
        std::fs::write(&new, "{\"Records\":[").unwrap();
        assert!(f.poll().is_empty(), "first sight: still settling");
        assert_eq!(f.pending(), 1);
        std::fs::write(&new, "{\"Records\":[]}").unwrap();
        assert!(f.poll().is_empty(), "it changed: settling again");
        assert_eq!(f.poll()[0].0, new);
        assert!(f.poll().is_empty(), "read once");
    }

    #[test]
    fn from_start_reads_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old.json"), "{}").unwrap();
        std::fs::write(dir.path().join(".hidden"), "{}").unwrap();
        std::fs::write(dir.path().join("x.json.gz.A1b2C3d4"), "partial").unwrap();
        let mut f = DirFollower::new(dir.path(), Start::Everything).unwrap();
        assert!(f.poll().is_empty());
        assert_eq!(f.poll()[0].0, dir.path().join("old.json"));
    }

    #[test]
    fn resume_reads_what_changed_or_came_while_stopped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("read.json"), "{}").unwrap();
        let mut f = DirFollower::new(dir.path(), Start::New).unwrap();
        let known: HashMap<PathBuf, Seen> = f.done().map(|(p, s)| (p.clone(), *s)).collect();
        assert!(f.poll().is_empty());
        std::fs::write(dir.path().join("arrived.json"), "{}").unwrap();
        let mut again = DirFollower::new(dir.path(), Start::Resume(known)).unwrap();
        assert_eq!(again.skipped_at_start(), 1);
        assert!(again.poll().is_empty());
        let ready: Vec<PathBuf> = again.poll().into_iter().map(|(p, _)| p).collect();
        assert_eq!(ready, vec![dir.path().join("arrived.json")]);
    }

    #[test]
    fn a_file_is_not_a_folder_to_follow() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert!(DirFollower::new(&file, Start::New).is_err());
        assert!(DirFollower::new(&dir.path().join("missing"), Start::New).is_err());
    }
}
