//! Readers: files, directories and stdin to [`Event`]s.
//!
//! Formats are recognised by content, never by file name: CloudTrail log files
//! (`{"Records":[...]}`), JSON Lines of records or EventBridge events, a single record
//! or EventBridge event, a bare JSON array of records, `aws cloudtrail lookup-events`
//! output, each plain or gzip. Directories are walked recursively in sorted order;
//! digest files, empty files and files that are not JSON (or not CloudTrail) found by
//! walking are skipped and counted by reason.
//!
//! Files are read in parallel (rayon), each worker holding at most one file buffer.
//! Bad input never stops the run: each problem becomes a [`ReadError`] naming the file,
//! where in it (record index and byte offset, or line) and why, and the rest is read.

mod detect;
mod error;
mod formats;
mod gzip;
mod lines;
mod run;
mod scan;
mod source;
mod walk;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use rayon::prelude::*;
use trailguard_core::Event;

pub use error::{Location, ReadError, ReadErrorKind};

use run::FileRun;

/// One thing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file or a directory (walked recursively).
    Path(PathBuf),
    /// Standard input: JSON Lines are streamed line by line; a single JSON document
    /// is read whole.
    Stdin,
}

impl Input {
    /// `-` is stdin, anything else a path.
    pub fn from_arg(arg: &str) -> Self {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }
}

/// How to read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Largest size a file may reach once decompressed, and largest input read whole
    /// or line in JSON Lines (against gzip bombs). Default 1 GiB.
    pub max_decompressed_bytes: u64,
    /// Files larger than this on disk are not read whole up front: they are sniffed
    /// from a prefix and streamed when they are JSON Lines. Default 64 MiB.
    pub stream_above_bytes: u64,
    /// Worker threads; 0 uses rayon's global pool (one per core by default).
    pub threads: usize,
    /// Follow symbolic links when walking directories. Default true.
    pub follow_symlinks: bool,
    /// Errors kept in [`ReadSummary::errors`]; the rest are only counted.
    pub max_errors: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_decompressed_bytes: 1 << 30,
            stream_above_bytes: 64 << 20,
            threads: 0,
            follow_symlinks: true,
            max_errors: 1000,
        }
    }
}

/// Progress callbacks (the CLI wraps indicatif). Called from worker threads.
pub trait Progress: Sync {
    /// Once, before reading: the number of files (stdin counts as one) and their
    /// total size on disk.
    fn start(&self, _files: u64, _bytes: u64) {}
    /// After each file, with its size on disk (0 for stdin).
    fn file_done(&self, _bytes: u64) {}
    /// After each file, with the events read from it (before `file_done`).
    fn events_read(&self, _events: u64) {}
}

/// Progress that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// Why a file was skipped without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// A CloudTrail digest file (`digestStartTime`, `logFiles`, ...).
    Digest,
    /// Empty or whitespace only.
    Empty,
    /// Neither JSON nor gzip (found by walking; named explicitly it is an error).
    NotJson,
    /// JSON, but its first item is neither a CloudTrail record nor an EventBridge
    /// event (found by walking; named explicitly it is an error).
    NotCloudTrail,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::Digest => "CloudTrail digest",
            SkipReason::Empty => "empty",
            SkipReason::NotJson => "not JSON",
            SkipReason::NotCloudTrail => "JSON but not CloudTrail",
        })
    }
}

/// What a call to [`read_events`] read, skipped and could not read.
#[derive(Debug, Default)]
pub struct ReadSummary {
    /// Files (and stdin) from which events were read, or that held no record at all
    /// but read cleanly.
    pub files_read: u64,
    /// Events handed to the callback.
    pub events: u64,
    /// Records or lines that could not be read (each has an error).
    pub records_skipped: u64,
    pub files_skipped: BTreeMap<SkipReason, u64>,
    /// Bytes read from disk (compressed size for gzip).
    pub bytes_read: u64,
    /// The first errors, in input order (at most [`ReadOptions::max_errors`]).
    pub errors: Vec<ReadError>,
    /// All errors, including those not kept in `errors`.
    pub errors_total: u64,
}

impl ReadSummary {
    /// True when no input could be read: every input failed, or there was nothing to
    /// read at all (e.g. an empty directory). Inputs that were read but skipped (not
    /// CloudTrail) do not count as failures. The CLI exits 2 on this.
    pub fn nothing_read(&self) -> bool {
        self.files_read == 0 && (self.errors_total > 0 || self.files_skipped.is_empty())
    }

    fn push_error(&mut self, error: ReadError, max: usize) {
        self.errors_total += 1;
        if self.errors.len() < max {
            self.errors.push(error);
        }
    }

    /// Adds another summary's counts and errors (those past `max` are counted only).
    pub fn absorb(&mut self, other: ReadSummary, max: usize) {
        self.files_read += other.files_read;
        self.events += other.events;
        self.records_skipped += other.records_skipped;
        self.bytes_read += other.bytes_read;
        for (reason, n) in other.files_skipped {
            *self.files_skipped.entry(reason).or_default() += n;
        }
        let dropped = other.errors_total - other.errors.len() as u64;
        for e in other.errors {
            self.push_error(e, max);
        }
        self.errors_total += dropped;
    }

    /// Records an input that could not be fetched or listed.
    pub fn fetch_failed(&mut self, path: String, reason: String, max: usize) {
        self.push_error(
            ReadError {
                path,
                location: None,
                kind: ReadErrorKind::Fetch(reason),
            },
            max,
        );
    }

    /// Records a folder (an S3 prefix) that could not be listed.
    pub fn list_failed(&mut self, path: String, reason: String, max: usize) {
        self.push_error(
            ReadError {
                path,
                location: None,
                kind: ReadErrorKind::Walk(reason),
            },
            max,
        );
    }

    fn merge(&mut self, run: FileRun<'_>, max: usize) {
        if run.was_read() {
            self.files_read += 1;
        }
        if let (Some(reason), 0) = (run.skipped, run.errors_total) {
            *self.files_skipped.entry(reason).or_default() += 1;
        }
        self.events += run.events;
        self.records_skipped += run.records_skipped;
        self.bytes_read += run.bytes;
        let dropped = run.errors_total - run.errors.len() as u64;
        for e in run.errors {
            self.push_error(e, max);
        }
        self.errors_total += dropped;
    }
}

/// Reads every input and calls `on_event` for every event, concurrently from worker
/// threads (in no particular order across files). Never fails as a whole: problems
/// are in the returned summary.
pub fn read_events<F>(
    inputs: &[Input],
    opts: &ReadOptions,
    progress: &dyn Progress,
    on_event: F,
) -> ReadSummary
where
    F: Fn(&Event<'_>) + Sync,
{
    let on_event: run::OnEvent<'_> = &on_event;
    let max = opts.max_errors;
    let (files, walk_errors) = walk::expand(inputs, opts);
    let stdin = inputs.iter().any(|i| matches!(i, Input::Stdin));
    let total_bytes = files.iter().map(|f| f.size).sum();
    progress.start(files.len() as u64 + u64::from(stdin), total_bytes);

    let mut summary = ReadSummary::default();
    for e in walk_errors {
        summary.push_error(e, max);
    }
    let work = || {
        let runs: Vec<FileRun<'_>> = files
            .par_iter()
            .map(|f| {
                let mut run = FileRun::new(f.path.display().to_string(), f.explicit, on_event, max);
                source::read_file(&f.path, opts, &mut run);
                progress.events_read(run.events);
                progress.file_done(f.size);
                run
            })
            .collect();
        runs
    };
    let stdin_run = stdin.then(|| {
        let mut run = FileRun::new("<stdin>".to_owned(), true, on_event, max);
        source::read_stream(std::io::stdin().lock(), opts, &mut run);
        progress.events_read(run.events);
        progress.file_done(0);
        run
    });
    if let Some(run) = stdin_run {
        summary.merge(run, max);
    }
    let runs = match (opts.threads, files.len()) {
        (_, 0..=1) | (0, _) => work(),
        (n, _) => match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
            Ok(pool) => pool.install(work),
            Err(_) => work(),
        },
    };
    for run in runs {
        summary.merge(run, max);
    }
    summary
}

/// Reads events from bytes already in memory (a batch of lines from a stream), as if
/// they were one file called `name`: the same formats, errors and limits as a file.
pub fn read_bytes<F>(name: &str, bytes: &[u8], opts: &ReadOptions, on_event: F) -> ReadSummary
where
    F: Fn(&Event<'_>) + Sync,
{
    let on_event: run::OnEvent<'_> = &on_event;
    let max = opts.max_errors;
    let mut run = FileRun::new(name.to_owned(), true, on_event, max);
    source::read_stream(bytes, opts, &mut run);
    let mut summary = ReadSummary::default();
    summary.merge(run, max);
    summary
}

/// A remote object (an S3 key) to read, by name and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteObject {
    /// Shown in errors and progress (`s3://bucket/key`).
    pub name: String,
    pub size: u64,
}

/// Fetches remote objects with up to `parallel` fetches at a time and reads each one
/// as [`read_bytes`] does; memory holds at most `parallel` objects (the fetch bounds
/// each one's size; decompressed, each is capped by `opts`). A fetch that fails is an
/// error naming the object; the others are still read. Objects are taken in the
/// order given.
pub fn read_objects<F, G>(
    objects: &[RemoteObject],
    parallel: usize,
    fetch: G,
    opts: &ReadOptions,
    progress: &dyn Progress,
    on_event: F,
) -> ReadSummary
where
    F: Fn(&Event<'_>) + Sync,
    G: Fn(&RemoteObject) -> Result<Vec<u8>, String> + Sync,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    progress.start(objects.len() as u64, objects.iter().map(|o| o.size).sum());
    let next = AtomicUsize::new(0);
    let total = Mutex::new(ReadSummary::default());
    let max = opts.max_errors;
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, 64).min(objects.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(o) = objects.get(i) else {
                    break;
                };
                let summary = match fetch(o) {
                    Ok(bytes) => {
                        let mut s = read_bytes(&o.name, &bytes, opts, &on_event);
                        s.bytes_read = bytes.len() as u64;
                        s
                    }
                    Err(reason) => {
                        let mut s = ReadSummary::default();
                        s.fetch_failed(o.name.clone(), reason, max);
                        s
                    }
                };
                progress.events_read(summary.events);
                progress.file_done(o.size);
                total
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .absorb(summary, max);
            });
        }
    });
    total.into_inner().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests;
