//! `trailguard scan [PATH...]`: AWS credentials in files, before they leak.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use trailguard_scan::walk::{self, FileReport, WalkOptions};
use trailguard_scan::{render, Baseline, Filter, Finding, GitOptions, GitReport, Problem, Scanner};

use crate::scan_args::{ScanArgs, ScanFormat};
use crate::{exit, progress};

pub fn run(a: ScanArgs) -> Result<u8> {
    let filter = Filter::new(&a.allow_path, &a.allow_regex, &a.allow_fingerprint)?;
    let baseline = match (&a.baseline, a.update_baseline) {
        (Some(p), false) => Some(Baseline::load(p)?),
        _ => None,
    };
    let format = a.format.unwrap_or(if io::stdout().is_terminal() {
        ScanFormat::Table
    } else {
        ScanFormat::Json
    });
    // A repository's history is read from its object database: `.` finds the one
    // this folder is in, like git itself.
    let roots = if a.staged {
        Vec::new()
    } else if a.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        a.paths.clone()
    };
    for r in &roots {
        // A broken symlink named on the command line is reported by the walk, not here.
        if !a.staged && r.symlink_metadata().is_err() {
            bail!("{}: no such file or folder", r.display());
        }
    }

    let never_verify = check_accounts(&a.never_verify_account)?;
    let scanner = if a.verify {
        Scanner::new().keeping_pairs()
    } else {
        Scanner::new()
    };
    let opts = WalkOptions {
        allow_paths: filter.paths.clone(),
        ..WalkOptions::default()
    };
    let (mut findings, head, tail) = if a.git {
        scan_git(&scanner, &roots, &a, &opts)?
    } else {
        let reports = if a.staged {
            scan_staged(&scanner, &opts)?
        } else {
            let walked = walk::walk(&roots, filter.paths.as_ref());
            for e in &walked.errors {
                eprintln!("warning: skipped: {e}");
            }
            walk::scan_files(&scanner, &walked.files, &opts)
        };
        let scanned = reports.len();
        let mut skipped = 0;
        let mut findings = Vec::new();
        for r in reports {
            match &r.problem {
                Some(Problem::Skipped(_)) => skipped += 1,
                Some(Problem::Error(e)) => eprintln!("warning: {}: {e}", r.path.display()),
                None => {}
            }
            findings.extend(r.findings);
        }
        let tail = if skipped > 0 {
            format!(", {skipped} skipped (binary)")
        } else {
            String::new()
        };
        (
            findings,
            format!("{} file(s) scanned", scanned - skipped),
            tail,
        )
    };
    findings.retain(|f| !filter.allows(f));

    if a.update_baseline {
        let path = a.baseline.as_deref().expect("clap requires --baseline");
        Baseline::of(&findings).save(path)?;
        if !a.quiet {
            eprintln!(
                "baseline {} written: {} finding(s) accepted",
                path.display(),
                findings.len()
            );
        }
        return Ok(exit::OK);
    }
    let known = findings.len();
    if let Some(b) = &baseline {
        findings.retain(|f| !b.contains(f));
    }

    if a.verify {
        verify(&mut findings, &a, &never_verify)?;
    }
    // Nothing of a secret outlives this point.
    for f in &mut findings {
        f.pair = None;
    }

    let mut out = io::BufWriter::new(io::stdout().lock());
    match format {
        ScanFormat::Table => render::table(&mut out, &findings),
        ScanFormat::Json => render::json(&mut out, &findings),
        ScanFormat::Sarif => render::sarif(&mut out, &findings),
    }
    .and_then(|()| out.flush())
    .context("cannot write to standard output")?;
    if !a.quiet {
        let mut note = format!("{head}, {} finding(s)", findings.len());
        if known > findings.len() {
            note.push_str(&format!(" ({} in the baseline)", known - findings.len()));
        }
        eprintln!("{note}{tail}");
    }
    Ok(if findings.is_empty() {
        exit::OK
    } else {
        exit::ALERTS
    })
}

/// The history of each repository in `roots`: findings, and the two halves of the
/// summary line around the finding count.
fn scan_git(
    scanner: &Scanner,
    roots: &[PathBuf],
    a: &ScanArgs,
    opts: &WalkOptions,
) -> Result<(Vec<Finding>, String, String)> {
    let git = GitOptions {
        revs: a.branch.clone(),
        since: a.since_commit.clone(),
        chunk: opts.chunk,
        allow_paths: opts.allow_paths.clone(),
        ..GitOptions::default()
    };
    let bar = progress::counter(!a.quiet && io::stderr().is_terminal(), "commits");
    let mut total = GitReport::default();
    for root in roots {
        let mut on_progress = |done: usize, of: usize| {
            if let Some(b) = &bar {
                b.set_length(of as u64);
                b.set_position(done as u64);
            }
        };
        let r = trailguard_scan::git::scan_history(scanner, root, &git, &mut on_progress)?;
        let warn = || {
            for p in &r.problems {
                eprintln!("warning: {}: {p}", root.display());
            }
        };
        match &bar {
            Some(b) => b.suspend(warn),
            None => warn(),
        }
        total.commits += r.commits;
        total.blobs += r.blobs;
        total.bytes += r.bytes;
        total.binary += r.binary;
        total.too_large += r.too_large;
        total.findings.extend(r.findings);
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let head = format!(
        "{} commit(s), {} blob(s) scanned ({})",
        total.commits,
        total.blobs - total.binary,
        human(total.bytes)
    );
    let mut tail = String::new();
    if total.binary > 0 {
        tail.push_str(&format!(", {} skipped (binary)", total.binary));
    }
    if total.too_large > 0 {
        tail.push_str(&format!(", {} over the size limit", total.too_large));
    }
    Ok((total.findings, head, tail))
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", b / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b / 1e6),
        _ => format!("{:.1} GB", b / 1e9),
    }
}

/// The files staged for commit (added, copied, modified, renamed), each scanned as it
/// is in the index, which is what the commit will hold: a file changed again after
/// `git add` is judged by its staged content, not by what is on disk.
fn scan_staged(scanner: &Scanner, opts: &WalkOptions) -> Result<Vec<FileReport>> {
    let git = |args: &[&str]| -> Result<Vec<u8>> {
        let out = Command::new("git")
            .args(args)
            .output()
            .context("cannot run git for --staged")?;
        if !out.status.success() {
            bail!(
                "git {} failed: {}",
                args.first().copied().unwrap_or_default(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(out.stdout)
    };
    let top = git(&["rev-parse", "--show-toplevel"])?;
    let top = PathBuf::from(String::from_utf8_lossy(&top).trim());
    let names = git(&[
        "-C",
        &top.to_string_lossy(),
        "diff",
        "--cached",
        "--name-only",
        "--diff-filter=ACMR",
        "-z",
    ])?;
    let mut reports = Vec::new();
    for name in names.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let path = top.join(&name);
        if opts
            .allow_paths
            .as_ref()
            .is_some_and(|g| g.is_match(&name) || g.is_match(&path))
        {
            continue;
        }
        let blob = git(&["-C", &top.to_string_lossy(), "show", &format!(":{name}")]);
        let report = match blob {
            Err(e) => FileReport {
                path,
                findings: Vec::new(),
                problem: Some(Problem::Error(format!("{e:#}"))),
            },
            Ok(bytes) if bytes[..bytes.len().min(8192)].contains(&0) => FileReport {
                path,
                findings: Vec::new(),
                problem: Some(Problem::Skipped("binary".to_owned())),
            },
            Ok(bytes) => {
                let creds = walk::is_credentials_file(&path);
                let (findings, err) =
                    walk::scan_reader(scanner, &bytes[..], &path, creds, opts.chunk);
                FileReport {
                    path,
                    findings,
                    problem: err.map(|e| Problem::Error(e.to_string())),
                }
            }
        };
        reports.push(report);
    }
    Ok(reports)
}

fn check_accounts(ids: &[String]) -> Result<Vec<String>> {
    for id in ids {
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--never-verify-account {id}: an AWS account id is 12 digits");
        }
    }
    Ok(ids.to_vec())
}

/// Asks STS about every key pair found, once per pair, unless its account is on
/// `--never-verify-account` (canary tokens alert on any use).
fn verify(findings: &mut [Finding], a: &ScanArgs, never: &[String]) -> Result<()> {
    use std::collections::HashMap;
    use trailguard_aws::{Verdict, Verifier};
    use trailguard_scan::Verification;

    let verifier = Verifier::new(a.verify_endpoint.clone(), None).map_err(anyhow::Error::msg)?;
    let mut asked: HashMap<(String, String), Verification> = HashMap::new();
    let (mut live, mut calls) = (0, 0);
    for f in findings.iter_mut() {
        let (Some(key), Some(pair)) = (f.key_id.clone(), f.pair.clone()) else {
            continue;
        };
        if let Some(acct) = f.account.as_ref().filter(|a| never.contains(a)) {
            f.verification = Some(Verification {
                status: "not-asked",
                detail: format!("account {acct} is on --never-verify-account"),
            });
            continue;
        }
        let v = asked
            .entry((key.clone(), pair.secret.clone()))
            .or_insert_with(|| {
                calls += 1;
                match verifier.verify(&key, &pair.secret, pair.session_token.as_deref()) {
                    Verdict::Live { arn, account } => Verification {
                        status: "live",
                        detail: format!("{arn} (account {account})"),
                    },
                    Verdict::Refused { code } => Verification {
                        status: "refused",
                        detail: code,
                    },
                    Verdict::Unknown { reason } => Verification {
                        status: "unknown",
                        detail: reason,
                    },
                }
            })
            .clone();
        if v.status == "live" {
            live += 1;
        }
        f.verification = Some(v);
    }
    if !a.quiet {
        eprintln!("verify: {calls} key pair(s) asked of STS, {live} finding(s) live");
    }
    Ok(())
}
