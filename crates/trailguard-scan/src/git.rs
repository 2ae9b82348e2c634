//! A repository's whole history, every blob scanned once. Commits are taken oldest
//! first (topological order, reversed), so the first commit that holds a blob is the
//! one that brought it in; a tree already walked is not walked again (every blob in it
//! was seen), so the cost grows with what changed, not with commits times files.
//!
//! A damaged repository is scanned as far as it can be read: a failed history walk
//! falls back to following each readable commit's parents, and a missing or corrupt
//! object is a problem naming its commit and path, never the end of the scan.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, Once};

use git2::{ObjectType, Oid, Repository, Sort};
use globset::GlobSet;

use crate::archive::{Content, Outcome};
use crate::detect::Scanner;
use crate::finding::{CommitInfo, Finding};

/// Blobs larger than this are not read (libgit2 holds a whole blob in memory): each is
/// a problem naming it, to be scanned as a file instead.
pub const MAX_BLOB: u64 = 64 * 1024 * 1024;
/// Blobs queued between the walk and the readers, at most.
const QUEUE: usize = 1024;
/// Trees nested deeper than this are not walked (a crafted repository, not a project).
const MAX_TREE_DEPTH: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{0}: cannot open the git repository: {1}")]
    Open(PathBuf, git2::Error),
    #[error("{repo}: `{rev}` is not a commit here: {source}")]
    Revision {
        repo: PathBuf,
        rev: String,
        source: git2::Error,
    },
    #[error("{0}: no commit could be read: {1}")]
    Unreadable(PathBuf, String),
}

/// Which history, and how.
#[derive(Debug, Clone)]
pub struct GitOptions {
    /// Branches, tags or commits whose history is scanned; empty: every ref and HEAD.
    pub revs: Vec<String>,
    /// History reachable from these is left out, and so are the blobs their trees
    /// hold: `--since-commit BASE` reports what a pull request added.
    pub since: Vec<String>,
    pub chunk: usize,
    /// Blobs at matching paths are not read.
    pub allow_paths: Option<GlobSet>,
    /// Threads reading and scanning blobs.
    pub threads: usize,
    pub max_blob: u64,
}

impl Default for GitOptions {
    fn default() -> Self {
        GitOptions {
            revs: Vec::new(),
            since: Vec::new(),
            chunk: 8 * 1024 * 1024,
            allow_paths: None,
            threads: rayon::current_num_threads(),
            max_blob: MAX_BLOB,
        }
    }
}

/// What a history scan saw.
#[derive(Debug, Default)]
pub struct GitReport {
    pub commits: usize,
    /// Distinct blobs read and scanned (binaries included).
    pub blobs: usize,
    pub bytes: u64,
    pub binary: usize,
    /// Over [`GitOptions::max_blob`]: not read (each is also in `problems`).
    pub too_large: usize,
    /// One per key and path (the first commit that holds it), oldest first.
    pub findings: Vec<Finding>,
    /// Each names the commit, path or object it is about.
    pub problems: Vec<String>,
}

/// Progress of the walk, for a bar: commits walked of the total.
pub type OnProgress<'a> = &'a mut dyn FnMut(usize, usize);

struct Job {
    /// Order of discovery: findings are reported in it.
    seq: usize,
    blob: Oid,
    path: String,
    /// Index in the commit order.
    commit: usize,
}

struct Done {
    findings: Vec<Finding>,
    problem: Option<String>,
    binary: bool,
    too_large: bool,
    bytes: u64,
}

/// Scans the history of the repository at (or above) `path`.
pub fn scan_history(
    scanner: &Scanner,
    path: &Path,
    opts: &GitOptions,
    progress: OnProgress<'_>,
) -> Result<GitReport, GitError> {
    configure_libgit2();
    let repo = Repository::discover(path).map_err(|e| GitError::Open(path.to_owned(), e))?;
    let root = repo.path().to_owned();
    let shown = path.to_owned();
    let mut report = GitReport::default();
    let resolve = |rev: &str| {
        repo.revparse_single(rev)
            .and_then(|o| o.peel_to_commit())
            .map(|c| c.id())
            .map_err(|source| GitError::Revision {
                repo: shown.clone(),
                rev: rev.to_owned(),
                source,
            })
    };
    let tips = if opts.revs.is_empty() {
        every_ref(&repo, &mut report.problems)
    } else {
        opts.revs
            .iter()
            .map(|r| resolve(r))
            .collect::<Result<_, _>>()?
    };
    let hidden: Vec<Oid> = opts
        .since
        .iter()
        .map(|r| resolve(r))
        .collect::<Result<_, _>>()?;
    let order = commit_order(&repo, &tips, &hidden, &mut report.problems);
    if order.is_empty() && !report.problems.is_empty() {
        return Err(GitError::Unreadable(shown, report.problems.join("; ")));
    }
    report.commits = order.len();

    let mut workers: Vec<Repository> = Vec::new();
    for _ in 0..opts.threads.max(1) {
        workers.push(Repository::open(&root).map_err(|e| GitError::Open(shown.clone(), e))?);
    }
    let included: HashSet<Oid> = order.iter().copied().collect();
    let mut seen = Seen {
        trees: HashSet::new(),
        blobs: HashSet::new(),
        allow: opts.allow_paths.as_ref(),
    };
    // The walk (this thread) feeds the readers through a bounded queue: walking and
    // scanning overlap, and memory stays bounded however long the history.
    let (queue, jobs) = mpsc::sync_channel::<Job>(QUEUE);
    let jobs = Mutex::new(jobs);
    let tally = Tally::default();
    let done: Mutex<Vec<(Job, Done)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for repo in workers.iter_mut() {
            let (jobs, tally, done) = (&jobs, &tally, &done);
            s.spawn(move || loop {
                let job = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok(job) = job else { break };
                let d = scan_blob(scanner, repo, &job, opts);
                tally.add(&d);
                if d.problem.is_some() || !d.findings.is_empty() {
                    done.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((job, d));
                }
            });
        }
        let mut ignore = |_: Oid, _: String| {};
        let mut next = 0;
        for (i, &id) in order.iter().enumerate() {
            let commit = match repo.find_commit(id) {
                Ok(c) => c,
                Err(e) => {
                    report
                        .problems
                        .push(format!("commit {}: {}", short(id), e.message()));
                    continue;
                }
            };
            // What the history left out already holds is not news: its blobs count as seen.
            for parent in commit.parent_ids().filter(|p| !included.contains(p)) {
                if let Ok(p) = repo.find_commit(parent) {
                    let mut quiet = Vec::new();
                    seen.walk(&repo, p.tree_id(), "", 0, &mut ignore, &mut quiet);
                }
            }
            let mut found = Vec::new();
            let mut problems = Vec::new();
            seen.walk(
                &repo,
                commit.tree_id(),
                "",
                0,
                &mut |blob, path| found.push((blob, path)),
                &mut problems,
            );
            report.problems.extend(
                problems
                    .into_iter()
                    .map(|p| format!("commit {}: {p}", short(id))),
            );
            for (blob, path) in found {
                let job = Job {
                    seq: next,
                    blob,
                    path,
                    commit: i,
                };
                next += 1;
                if queue.send(job).is_err() {
                    break;
                }
            }
            progress(i + 1, order.len());
        }
        drop(queue);
    });
    tally.into_report(&mut report);
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|(job, _)| job.seq);
    let mut results: Vec<(usize, Finding)> = Vec::new();
    for (job, d) in done {
        if let Some(p) = d.problem {
            report.problems.push(format!(
                "commit {}: {}: {p}",
                short(order[job.commit]),
                job.path
            ));
        }
        results.extend(d.findings.into_iter().map(|f| (job.commit, f)));
    }

    // A key stays in every later version of its file: reported once per path, at the
    // first commit that holds it.
    let mut first = HashSet::new();
    let mut infos: HashMap<usize, CommitInfo> = HashMap::new();
    for (i, mut f) in results {
        if !first.insert((f.fingerprint.clone(), f.rule)) {
            continue;
        }
        let info = infos
            .entry(i)
            .or_insert_with(|| commit_info(&repo, order[i]))
            .clone();
        f.commit = Some(info);
        report.findings.push(f);
    }
    Ok(report)
}

/// libgit2's process-wide settings for reading only. Objects are not re-hashed on
/// every read (SHA-1 with collision detection was a quarter of the run time; packs
/// still check their zlib streams, and a scan only reads). The owner check
/// (`safe.directory`) is off: it guards against running a stranger's hooks and
/// filters, which reading objects never does, and CI checkouts are often owned by
/// another user than the one scanning.
fn configure_libgit2() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        git2::opts::strict_hash_verification(false);
        // SAFETY: a process-wide setting changed once, before any repository is opened here.
        let _ = unsafe { git2::opts::set_verify_owner_validation(false) };
    });
}

/// Every ref that names a commit, and HEAD. A ref that cannot be read is a problem.
fn every_ref(repo: &Repository, problems: &mut Vec<String>) -> Vec<Oid> {
    let mut tips = Vec::new();
    match repo.references() {
        Ok(refs) => {
            for r in refs {
                let r = match r {
                    Ok(r) => r,
                    Err(e) => {
                        problems.push(format!("a ref cannot be read: {}", e.message()));
                        continue;
                    }
                };
                let name = String::from_utf8_lossy(r.name_bytes()).into_owned();
                match r.peel(ObjectType::Any) {
                    Ok(o) if o.kind() == Some(ObjectType::Commit) => tips.push(o.id()),
                    // A tag of a tree or a blob: no history to walk.
                    Ok(_) => {}
                    Err(e) => problems.push(format!("ref {name}: {}", e.message())),
                }
            }
        }
        Err(e) => problems.push(format!("refs cannot be listed: {}", e.message())),
    }
    match repo.head() {
        Ok(h) => match h.peel_to_commit() {
            Ok(c) => tips.push(c.id()),
            Err(e) => problems.push(format!("HEAD: {}", e.message())),
        },
        // A new repository before its first commit: nothing to say.
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => {}
        Err(e) => problems.push(format!("HEAD: {}", e.message())),
    }
    tips.sort();
    tips.dedup();
    tips
}

/// Commits reachable from `tips` and not from `hidden`, parents before children.
fn commit_order(
    repo: &Repository,
    tips: &[Oid],
    hidden: &[Oid],
    problems: &mut Vec<String>,
) -> Vec<Oid> {
    let walked = (|| {
        let mut walk = repo.revwalk()?;
        walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)?;
        for &t in tips {
            walk.push(t)?;
        }
        for &h in hidden {
            walk.hide(h)?;
        }
        walk.collect::<Result<Vec<_>, _>>()
    })();
    match walked {
        Ok(order) => order,
        Err(e) => {
            problems.push(format!(
                "the history walk failed ({}): scanning every commit that can be read",
                e.message()
            ));
            let mut quiet = Vec::new();
            let hidden: HashSet<Oid> = reachable(repo, hidden, &HashSet::new(), &mut quiet)
                .into_iter()
                .collect();
            reachable(repo, tips, &hidden, problems)
        }
    }
}

/// The commits that can be read from `tips`, parents first (a depth-first post-order),
/// stopping at `stop`. Each commit that cannot be read is a problem; its readable
/// ancestors through other paths are still taken.
fn reachable(
    repo: &Repository,
    tips: &[Oid],
    stop: &HashSet<Oid>,
    problems: &mut Vec<String>,
) -> Vec<Oid> {
    let mut order = Vec::new();
    let mut visited = HashSet::new();
    let mut stack: Vec<(Oid, bool)> = tips.iter().rev().map(|&t| (t, false)).collect();
    while let Some((id, parents_done)) = stack.pop() {
        if parents_done {
            order.push(id);
            continue;
        }
        if stop.contains(&id) || !visited.insert(id) {
            continue;
        }
        match repo.find_commit(id) {
            Ok(c) => {
                stack.push((id, true));
                let parents: Vec<Oid> = c.parent_ids().collect();
                for p in parents.into_iter().rev() {
                    if !visited.contains(&p) {
                        stack.push((p, false));
                    }
                }
            }
            Err(e) => problems.push(format!("commit {}: {}", short(id), e.message())),
        }
    }
    order
}

/// Trees walked and blobs queued so far.
struct Seen<'a> {
    trees: HashSet<Oid>,
    blobs: HashSet<Oid>,
    allow: Option<&'a GlobSet>,
}

impl Seen<'_> {
    /// Queues every blob under `tree` not seen before. Returns whether every blob
    /// under it is now seen: only then is the tree skipped next time (a blob left out
    /// by `--allow-path` here may sit at another path in another commit).
    fn walk(
        &mut self,
        repo: &Repository,
        tree: Oid,
        prefix: &str,
        depth: usize,
        on_blob: &mut dyn FnMut(Oid, String),
        problems: &mut Vec<String>,
    ) -> bool {
        if self.trees.contains(&tree) {
            return true;
        }
        let where_ = if prefix.is_empty() { "/" } else { prefix };
        if depth > MAX_TREE_DEPTH {
            problems.push(format!(
                "{where_}: trees nested over {MAX_TREE_DEPTH} deep: not walked"
            ));
            self.trees.insert(tree);
            return true;
        }
        let t = match repo.find_tree(tree) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("tree {where_} ({}): {}", short(tree), e.message()));
                // Reported once: a later commit with the same tree adds nothing.
                self.trees.insert(tree);
                return true;
            }
        };
        let mut complete = true;
        for entry in t.iter() {
            let name = String::from_utf8_lossy(entry.name_bytes());
            let path = if prefix.is_empty() {
                name.into_owned()
            } else {
                format!("{prefix}/{name}")
            };
            match entry.kind() {
                Some(ObjectType::Tree) => {
                    complete &= self.walk(repo, entry.id(), &path, depth + 1, on_blob, problems);
                }
                // Symbolic links (mode 120000) hold a path, not content.
                Some(ObjectType::Blob) if entry.filemode() != 0o120000 => {
                    if self.allow.is_some_and(|g| g.is_match(&path)) {
                        complete = false;
                    } else if self.blobs.insert(entry.id()) {
                        on_blob(entry.id(), path);
                    }
                }
                // Submodules (a commit of another repository) and links.
                _ => {}
            }
        }
        if complete {
            self.trees.insert(tree);
        }
        complete
    }
}

/// Counts kept by the readers as they go.
#[derive(Default)]
struct Tally {
    blobs: AtomicUsize,
    bytes: AtomicU64,
    binary: AtomicUsize,
    too_large: AtomicUsize,
}

impl Tally {
    fn add(&self, d: &Done) {
        let count = |c: &AtomicUsize, yes: bool| {
            c.fetch_add(usize::from(yes), Ordering::Relaxed);
        };
        count(&self.blobs, !d.too_large);
        count(&self.binary, d.binary);
        count(&self.too_large, d.too_large);
        self.bytes.fetch_add(d.bytes, Ordering::Relaxed);
    }

    fn into_report(self, r: &mut GitReport) {
        r.blobs = self.blobs.into_inner();
        r.bytes = self.bytes.into_inner();
        r.binary = self.binary.into_inner();
        r.too_large = self.too_large.into_inner();
    }
}

fn scan_blob(scanner: &Scanner, repo: &Repository, job: &Job, opts: &GitOptions) -> Done {
    let mut done = Done {
        findings: Vec::new(),
        problem: None,
        binary: false,
        too_large: false,
        bytes: 0,
    };
    let odb = match repo.odb() {
        Ok(o) => o,
        Err(e) => {
            done.problem = Some(format!("object database: {}", e.message()));
            return done;
        }
    };
    let size = match odb.read_header(job.blob) {
        Ok((size, _)) => size as u64,
        Err(e) => {
            done.problem = Some(format!("blob {}: {}", short(job.blob), e.message()));
            return done;
        }
    };
    if size > opts.max_blob {
        done.too_large = true;
        done.problem = Some(format!(
            "blob {} of {} MiB, over the {} MiB limit: not scanned (scan the file itself)",
            short(job.blob),
            size / (1024 * 1024),
            opts.max_blob / (1024 * 1024)
        ));
        return done;
    }
    let object = match odb.read(job.blob) {
        Ok(o) => o,
        Err(e) => {
            done.problem = Some(format!("blob {}: {}", short(job.blob), e.message()));
            return done;
        }
    };
    done.bytes = object.len() as u64;
    let content = Content::new(scanner, opts.chunk, size);
    done.binary = content.scan_bytes(&job.path, object.data()) == Outcome::Binary;
    let (findings, problem) = content.finish();
    done.findings = findings;
    done.problem = problem;
    done
}

fn commit_info(repo: &Repository, id: Oid) -> CommitInfo {
    let mut info = CommitInfo {
        id: id.to_string(),
        author: String::new(),
        email: String::new(),
        date: String::new(),
    };
    if let Ok(c) = repo.find_commit(id) {
        let a = c.author();
        info.author = String::from_utf8_lossy(a.name_bytes()).into_owned();
        info.email = String::from_utf8_lossy(a.email_bytes()).into_owned();
        info.date = rfc3339(a.when());
    }
    info
}

/// The author's time in the author's own offset, as git shows it.
fn rfc3339(t: git2::Time) -> String {
    let offset = time::UtcOffset::from_whole_seconds(t.offset_minutes() * 60)
        .unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(t.seconds())
        .map(|d| d.to_offset(offset))
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn short(id: Oid) -> String {
    let mut s = id.to_string();
    s.truncate(12);
    s
}
