//! `trailguard scan [PATH...]`: AWS credentials in files, before they leak.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use trailguard_scan::walk::{self, WalkOptions};
use trailguard_scan::{render, Baseline, Filter, Problem, Scanner};

use crate::exit;
use crate::scan_args::{ScanArgs, ScanFormat};

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
    let roots = if a.staged {
        staged_files()?
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

    let walked = walk::walk(&roots, filter.paths.as_ref());
    for e in &walked.errors {
        eprintln!("warning: skipped: {e}");
    }
    let scanner = Scanner::new();
    let opts = WalkOptions {
        allow_paths: filter.paths.clone(),
        ..WalkOptions::default()
    };
    let reports = walk::scan_files(&scanner, &walked.files, &opts);
    let mut skipped = 0;
    let mut findings = Vec::new();
    for r in reports {
        match &r.problem {
            Some(Problem::Skipped(_)) => skipped += 1,
            Some(Problem::Error(e)) => eprintln!("warning: {}: {e}", r.path.display()),
            None => {}
        }
        findings.extend(r.findings.into_iter().filter(|f| !filter.allows(f)));
    }

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

    let mut out = io::BufWriter::new(io::stdout().lock());
    match format {
        ScanFormat::Table => render::table(&mut out, &findings),
        ScanFormat::Json => render::json(&mut out, &findings),
        ScanFormat::Sarif => render::sarif(&mut out, &findings),
    }
    .and_then(|()| out.flush())
    .context("cannot write to standard output")?;
    if !a.quiet {
        let mut note = format!(
            "{} file(s) scanned, {} finding(s)",
            walked.files.len() - skipped,
            findings.len()
        );
        if known > findings.len() {
            note.push_str(&format!(" ({} in the baseline)", known - findings.len()));
        }
        if skipped > 0 {
            note.push_str(&format!(", {skipped} skipped (binary)"));
        }
        eprintln!("{note}");
    }
    Ok(if findings.is_empty() {
        exit::OK
    } else {
        exit::ALERTS
    })
}

/// The files staged for commit (added, copied, modified, renamed), from `git`.
fn staged_files() -> Result<Vec<PathBuf>> {
    let out = Command::new("git")
        .args([
            "diff",
            "--cached",
            "--name-only",
            "--diff-filter=ACMR",
            "-z",
        ])
        .output()
        .context("cannot run git for --staged")?;
    if !out.status.success() {
        bail!(
            "git diff --cached failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let top = Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .output()
        .context("cannot run git for --staged")?;
    let top = PathBuf::from(String::from_utf8_lossy(&top.stdout).trim());
    Ok(out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| top.join(String::from_utf8_lossy(p).as_ref()))
        .collect())
}
