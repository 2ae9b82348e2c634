//! Reading what to scan: walking folders (ripgrep's `ignore`: `.gitignore` honoured,
//! `.git` skipped), telling binaries and archives apart, and scanning each file in
//! bounded chunks, in parallel, reported in path order.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use globset::GlobSet;
use rayon::prelude::*;

use crate::archive::{Content, Outcome};
use crate::detect::{chars, Scanner, PAIR_BYTES};
use crate::finding::Finding;

/// Most decompressed bytes read from one archive...
pub const MAX_DECOMPRESSED: u64 = 64 * 1024 * 1024;
/// ...and at most this many times its compressed size (a bomb is far above both).
pub const MAX_RATIO: u64 = 100;
/// Bytes re-read before each chunk, so a secret just before a key id still pairs.
const BACK: usize = 2 * PAIR_BYTES;
/// Bytes read past each chunk, so a key or token across the boundary is seen whole.
const AHEAD: usize = 8 * 1024;

/// How a file was scanned, or why it was not.
#[derive(Debug)]
pub struct FileReport {
    pub path: PathBuf,
    pub findings: Vec<Finding>,
    pub problem: Option<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Not scanned on purpose (a binary): counted, not an error.
    Skipped(String),
    /// Could not be read, or only in part (an archive over the limits).
    Error(String),
}

/// What to walk and how.
pub struct WalkOptions {
    /// Bytes scanned at a time; memory per thread is about this much.
    pub chunk: usize,
    /// Files matching are not read at all.
    pub allow_paths: Option<GlobSet>,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            chunk: 8 * 1024 * 1024,
            allow_paths: None,
        }
    }
}

/// Errors met while walking (unreadable folders, loops, broken links), with the files.
pub struct Walked {
    pub files: Vec<PathBuf>,
    pub errors: Vec<String>,
}

/// The files under `roots`, sorted. A root given by name is scanned even when ignored.
pub fn walk(roots: &[PathBuf], allow: Option<&GlobSet>) -> Walked {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for root in roots {
        let walker = ignore::WalkBuilder::new(root)
            .hidden(false)
            .follow_links(true)
            .require_git(false)
            .git_global(false)
            .filter_entry(|e| e.file_name() != ".git")
            .build();
        for entry in walker {
            match entry {
                Ok(e) => {
                    if e.file_type().is_some_and(|t| t.is_file()) {
                        let p = e.into_path();
                        if !allow.is_some_and(|g| g.is_match(&p)) {
                            files.push(p);
                        }
                    }
                }
                Err(err) => errors.push(err.to_string()),
            }
        }
    }
    files.sort();
    files.dedup();
    Walked { files, errors }
}

/// Scans every file, in parallel, reports in the order of `files`.
pub fn scan_files(scanner: &Scanner, files: &[PathBuf], opts: &WalkOptions) -> Vec<FileReport> {
    files
        .par_iter()
        .map(|p| scan_file(scanner, p, opts))
        .collect()
}

/// Files whose keys are meant to be used, not mentioned: a key id alone in one is Medium.
pub fn is_credentials_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let in_dir = |d: &str| path.components().any(|c| c.as_os_str() == d);
    name == "credentials"
        || (name == "config" && in_dir(".aws"))
        || name.starts_with(".env")
        || name.ends_with(".env")
        || name.ends_with(".tfvars")
        || name.ends_with(".tf")
        || name.ends_with("_history")
        || name == ".gitlab-ci.yml"
        || name == ".s3cfg"
        || name == ".boto"
        || ((name.ends_with(".yml") || name.ends_with(".yaml")) && in_dir("workflows"))
}

pub fn scan_file(scanner: &Scanner, path: &Path, opts: &WalkOptions) -> FileReport {
    let report = |findings, problem| FileReport {
        path: path.to_owned(),
        findings,
        problem,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            return report(
                Vec::new(),
                Some(Problem::Error(format!("cannot open: {e}"))),
            )
        }
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let content = Content::new(scanner, opts.chunk, size);
    if content.scan_file(&path.to_string_lossy(), file) == Outcome::Binary {
        return report(Vec::new(), Some(Problem::Skipped("binary".to_owned())));
    }
    let (findings, problem) = content.finish();
    report(findings, problem.map(Problem::Error))
}

/// Scans a stream `chunk` bytes at a time, each chunk with some bytes before and after
/// it, so a key on a boundary is found once. Returns what was found before any error.
pub fn scan_reader(
    scanner: &Scanner,
    mut r: impl Read,
    path: &Path,
    creds: bool,
    chunk: usize,
) -> (Vec<Finding>, Option<io::Error>) {
    let chunk = chunk.max(BACK + 1);
    let mut out = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    // Line and character column of buf[0]; hits before `from` were reported already.
    let (mut base_line, mut base_col, mut from) = (0usize, 0usize, 0usize);
    loop {
        let want = from + chunk + AHEAD;
        // `take` + `read_to_end` grows the buffer as bytes come: a small file costs
        // its size, not a chunk. Bytes read before an error are kept.
        let need = want.saturating_sub(buf.len()) as u64;
        let (eof, err) = match (&mut r).take(need).read_to_end(&mut buf) {
            Ok(n) => ((n as u64) < need, None),
            Err(e) => (true, Some(e)),
        };
        let end = if eof { buf.len() } else { from + chunk };
        for hit in scanner.scan(&buf, creds) {
            if hit.offset < from || hit.offset >= end {
                continue;
            }
            let (line, col) = if hit.line == 0 {
                (base_line, base_col + hit.column)
            } else {
                (base_line + hit.line, hit.column)
            };
            out.push(Finding::from_hit(path, hit, line, col));
        }
        if eof {
            return (out, err);
        }
        let next = end - BACK;
        let gone = &buf[..next];
        match memchr::memrchr(b'\n', gone) {
            Some(nl) => {
                base_line += memchr::memchr_iter(b'\n', gone).count();
                base_col = chars(&gone[nl + 1..]);
            }
            None => base_col += chars(gone),
        }
        buf.drain(..next);
        from = BACK;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const KEY: &str = "AKIAWCZC6J72ODEC6IFU";

    fn scan_bytes(b: &[u8], chunk: usize) -> Vec<Finding> {
        let (f, e) = scan_reader(&Scanner::new(), b, Path::new("x"), false, chunk);
        assert!(e.is_none());
        f
    }

    #[test]
    fn keys_on_every_chunk_boundary_are_found_once_with_positions() {
        let mut text = String::new();
        for i in 0..400 {
            text.push_str(&format!(
                "line {i} é {}\n",
                if i % 7 == 0 { KEY } else { "" }
            ));
        }
        let whole = scan_bytes(text.as_bytes(), 1 << 20);
        assert_eq!(whole.len(), 58);
        for chunk in [BACK + 1, BACK + 7, BACK + 100, 9000] {
            assert_eq!(scan_bytes(text.as_bytes(), chunk), whole, "chunk {chunk}");
        }
        // One long line: columns carry across chunks.
        let line = format!("{}{KEY}{}", "x ".repeat(20_000), " y".repeat(100));
        let f = scan_bytes(line.as_bytes(), BACK + 3);
        assert_eq!((f.len(), f[0].line, f[0].column), (1, 1, 40_001));
    }

    #[test]
    fn gzip_bomb_is_cut_off_but_its_keys_before_the_cut_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bomb.gz");
        let mut gz =
            flate2::write::GzEncoder::new(File::create(&p).unwrap(), flate2::Compression::best());
        gz.write_all(format!("aws_access_key_id={KEY}\n").as_bytes())
            .unwrap();
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..10 {
            gz.write_all(&zeros).unwrap();
        }
        gz.finish().unwrap();
        let r = scan_file(&Scanner::new(), &p, &WalkOptions::default());
        assert_eq!(r.findings.len(), 1);
        assert!(
            matches!(r.problem, Some(Problem::Error(ref e)) if e.contains("bomb")),
            "{:?}",
            r.problem
        );
    }

    #[test]
    fn binaries_and_broken_zips_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("notes.txt");
        std::fs::write(&bin, format!("\0\0{KEY}")).unwrap();
        let zip = dir.path().join("a.zip");
        std::fs::write(&zip, b"PK\x03\x04rest").unwrap();
        for p in [bin, zip] {
            let r = scan_file(&Scanner::new(), &p, &WalkOptions::default());
            assert!(r.problem.is_some() && r.findings.is_empty(), "{p:?}");
        }
    }
}
