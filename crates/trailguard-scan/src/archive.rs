//! Scanning one object's content (a file, a git blob): gzip, tar and zip opened and
//! their members scanned under their own names (`backup.tar.gz!etc/app/.env`), nested
//! archives too, down to [`MAX_DEPTH`]. Everything decompressed out of one object
//! shares one budget of at most [`MAX_DECOMPRESSED`] bytes and [`MAX_RATIO`] times its
//! size, so a bomb, flat or nested, costs a bounded read and a warning, never the
//! machine. Member names are only ever reported, never used as paths: an absolute or
//! `..` name in a hostile tar is just text.

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Seek};
use std::path::Path;

use crate::detect::Scanner;
use crate::finding::Finding;
use crate::walk::{is_credentials_file, scan_reader, MAX_DECOMPRESSED, MAX_RATIO};

/// Archive members looked at in one object, all archives together (the central
/// directory of more is itself a bomb).
pub const MAX_MEMBERS: usize = 100_000;
/// Archives opened inside one another at most (a gzip, a tar, a zip each count one):
/// `a.tar.gz!b.zip!c.env` is three deep. Deeper ones are reported, not opened.
pub const MAX_DEPTH: usize = 5;
/// Bytes looked at to tell a binary (a NUL in them) or an archive (its magic).
pub const SNIFF: usize = 8 * 1024;

/// The bytes an archive of `size` bytes may decompress to.
pub fn budget(size: u64) -> u64 {
    MAX_DECOMPRESSED.min(size.saturating_mul(MAX_RATIO))
}

fn bomb(limit: u64) -> io::Error {
    io::Error::other(format!(
        "archive decompresses to more than {limit} bytes (limits: {} MiB, {}x its size): \
         possible decompression bomb, scanned only its start",
        MAX_DECOMPRESSED / (1024 * 1024),
        MAX_RATIO
    ))
}

/// What the content of one object turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Text (or an archive): scanned.
    Scanned,
    /// A NUL in its first bytes: not scanned.
    Binary,
}

/// The scan of one object: its findings, its problems (each naming the member it is
/// about), and the budget its archives share.
pub struct Content<'a> {
    scanner: &'a Scanner,
    chunk: usize,
    /// Decompressed bytes still allowed, shared by every archive inside the object.
    left: Cell<u64>,
    limit: u64,
    /// Set once the budget ran out: nothing more is read from the object.
    exhausted: Cell<bool>,
    members: Cell<usize>,
    findings: RefCell<Vec<Finding>>,
    problems: RefCell<Vec<String>>,
    /// The object's own name; problems name members relative to it.
    top: RefCell<String>,
}

impl<'a> Content<'a> {
    /// `size`: the object's size on disk (or in the object database), which the
    /// decompression ratio is measured against.
    pub fn new(scanner: &'a Scanner, chunk: usize, size: u64) -> Self {
        let limit = budget(size);
        Content {
            scanner,
            chunk,
            left: Cell::new(limit),
            limit,
            exhausted: Cell::new(false),
            members: Cell::new(0),
            findings: RefCell::new(Vec::new()),
            problems: RefCell::new(Vec::new()),
            top: RefCell::new(String::new()),
        }
    }

    /// The findings, and the problems joined into one message (`None` when clean).
    pub fn finish(self) -> (Vec<Finding>, Option<String>) {
        let problems = self.problems.into_inner();
        let problem = (!problems.is_empty()).then(|| problems.join("; "));
        (self.findings.into_inner(), problem)
    }

    /// Scans a file. A zip is read in place (seeking in the file); anything else as a
    /// stream.
    pub fn scan_file(&self, name: &str, mut file: std::fs::File) -> Outcome {
        *self.top.borrow_mut() = name.to_owned();
        let mut head = Vec::with_capacity(SNIFF);
        if let Err(e) = (&mut file).take(SNIFF as u64).read_to_end(&mut head) {
            self.problem(name, format!("cannot read: {e}"));
            return Outcome::Scanned;
        }
        if head.starts_with(b"PK\x03\x04") {
            if let Err(e) = file.rewind() {
                self.problem(name, format!("cannot read: {e}"));
                return Outcome::Scanned;
            }
            self.zip(name, file, 0);
            return Outcome::Scanned;
        }
        self.sniffed(name, head, &mut file, 0)
    }

    /// Scans bytes already in memory (a git blob).
    pub fn scan_bytes(&self, name: &str, bytes: &[u8]) -> Outcome {
        *self.top.borrow_mut() = name.to_owned();
        if bytes.starts_with(b"PK\x03\x04") {
            self.zip(name, io::Cursor::new(bytes), 0);
            return Outcome::Scanned;
        }
        let (head, rest) = bytes.split_at(bytes.len().min(SNIFF));
        self.sniffed(name, head.to_vec(), &mut &rest[..], 0)
    }

    fn problem(&self, name: &str, what: impl std::fmt::Display) {
        let top = self.top.borrow();
        let member = name
            .strip_prefix(top.as_str())
            .and_then(|m| m.strip_prefix('!'));
        let text = match member {
            Some(m) => format!("{m}: {what}"),
            None => what.to_string(),
        };
        self.problems.borrow_mut().push(text);
    }

    /// Scans a stream: `r` after its first bytes were read into `head`.
    fn stream(&self, name: &str, r: &mut dyn Read, depth: usize) -> Outcome {
        let mut head = Vec::with_capacity(SNIFF);
        if let Err(e) = r.take(SNIFF as u64).read_to_end(&mut head) {
            self.read_error(name, &e);
            return Outcome::Scanned;
        }
        self.sniffed(name, head, r, depth)
    }

    fn read_error(&self, name: &str, e: &io::Error) {
        if self.exhausted.get() && !e.to_string().contains("decompression bomb") {
            // The bomb was reported where it went off; the stream it cut is no news.
            return;
        }
        self.problem(name, e);
    }

    fn sniffed(&self, name: &str, head: Vec<u8>, r: &mut dyn Read, depth: usize) -> Outcome {
        let is_gzip = head.starts_with(&[0x1f, 0x8b]);
        let is_zip = head.starts_with(b"PK\x03\x04");
        let is_tar = head.get(257..262) == Some(b"ustar");
        if (is_gzip || is_zip || is_tar) && depth >= MAX_DEPTH {
            self.problem(
                name,
                format!("archive nested more than {MAX_DEPTH} deep: not opened"),
            );
            return Outcome::Scanned;
        }
        let mut stream = io::Cursor::new(head).chain(r);
        if is_gzip {
            let mut gz = flate2::read::MultiGzDecoder::new(stream);
            let mut limited = self.limited(&mut gz);
            self.stream(name, &mut limited, depth + 1)
        } else if is_zip {
            // A zip needs its central directory at the end: the member is read whole,
            // within what is left of the budget.
            let mut bytes = Vec::new();
            if let Err(e) = self.limited(&mut stream).read_to_end(&mut bytes) {
                self.read_error(name, &e);
                return Outcome::Scanned;
            }
            self.zip(name, io::Cursor::new(bytes), depth);
            Outcome::Scanned
        } else if is_tar {
            self.tar(name, &mut stream, depth);
            Outcome::Scanned
        } else if memchr::memchr(0, stream.get_ref().0.get_ref()).is_some() {
            Outcome::Binary
        } else {
            let creds = is_credentials_file(Path::new(leaf(name)));
            let (found, err) =
                scan_reader(self.scanner, stream, Path::new(name), creds, self.chunk);
            self.findings.borrow_mut().extend(found);
            if let Some(e) = err {
                self.read_error(name, &e);
            }
            Outcome::Scanned
        }
    }

    /// A reader over `inner` that charges the shared budget.
    fn limited<'r>(&'r self, inner: &'r mut dyn Read) -> Limited<'r> {
        Limited {
            inner,
            left: &self.left,
            limit: self.limit,
            exhausted: &self.exhausted,
        }
    }

    /// One more member; `false` (and a problem) past [`MAX_MEMBERS`].
    fn count_member(&self, name: &str) -> bool {
        let n = self.members.get() + 1;
        self.members.set(n);
        if n > MAX_MEMBERS {
            self.problem(
                name,
                format!("more than {MAX_MEMBERS} archive members: the rest not opened"),
            );
            return false;
        }
        true
    }

    fn tar(&self, name: &str, r: &mut dyn Read, depth: usize) {
        let mut ar = tar::Archive::new(r);
        let entries = match ar.entries() {
            Ok(e) => e,
            Err(e) => return self.problem(name, format!("not a readable tar: {e}")),
        };
        let mut last = None;
        for entry in entries {
            if self.exhausted.get() {
                return;
            }
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let after = last.map_or(String::new(), |m| format!(" after member {m}"));
                    return self.problem(name, format!("corrupt or truncated tar{after}: {e}"));
                }
            };
            let member = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let kind = entry.header().entry_type();
            if !(kind.is_file() || kind.is_contiguous()) {
                continue;
            }
            let inner = format!("{name}!{member}");
            if !self.count_member(&inner) {
                return;
            }
            self.stream(&inner, &mut entry, depth + 1);
            last = Some(member);
        }
    }

    fn zip<R: Read + Seek>(&self, name: &str, archive: R, depth: usize) {
        let mut zip = match zip::ZipArchive::new(archive) {
            Ok(z) => z,
            Err(e) => return self.problem(name, format!("not a readable zip: {e}")),
        };
        if self.members.get() + zip.len() > MAX_MEMBERS {
            return self.problem(
                name,
                format!(
                    "{} members, over {MAX_MEMBERS} in all: not opened",
                    zip.len()
                ),
            );
        }
        for i in 0..zip.len() {
            if self.exhausted.get() {
                return;
            }
            let mut member = match zip.by_index(i) {
                Ok(m) => m,
                Err(e) => {
                    self.problem(name, format!("member {i}: {e}"));
                    continue;
                }
            };
            if !member.is_file() {
                continue;
            }
            let inner = format!("{name}!{}", member.name());
            self.members.set(self.members.get() + 1);
            let mut limited = self.limited(&mut member);
            self.stream(&inner, &mut limited, depth + 1);
        }
    }
}

/// The last member name of `a.zip!b/c.tar!d/.env` (`d/.env`), without a `.gz` ending,
/// which tells whether it is a credentials file.
fn leaf(name: &str) -> &str {
    let last = name.rsplit_once('!').map_or(name, |(_, m)| m);
    last.strip_suffix(".gz").unwrap_or(last)
}

/// A reader that fails once more than the shared budget came out of it.
pub struct Limited<'a> {
    inner: &'a mut dyn Read,
    left: &'a Cell<u64>,
    limit: u64,
    exhausted: &'a Cell<bool>,
}

impl Read for Limited<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let left = self.left.get();
        if left == 0 {
            // One byte more tells a stream of exactly the budget from a larger one.
            let mut one = [0u8; 1];
            return match self.inner.read(&mut one)? {
                0 => Ok(0),
                _ => {
                    self.exhausted.set(true);
                    Err(bomb(self.limit))
                }
            };
        }
        let max = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left.set(left - n as u64);
        Ok(n)
    }
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
