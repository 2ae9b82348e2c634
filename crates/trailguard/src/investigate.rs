//! `trailguard investigate`: read the input once, in parallel; fold the subject's
//! events (and index every other key for the lineage) in the investigator; run the rule
//! pack on the subject's events in the same pass; build the report; write it.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use trailguard_core::fold::DEFAULT_WINDOW_MS;
use trailguard_core::state::MemoryStore;
use trailguard_core::{Rule, Severity};
use trailguard_investigate::render;
use trailguard_investigate::{build, BuildOptions, Investigator, Limits, Options, Report, Subject};
use trailguard_io::redact::redact_alerts;

use crate::args::{InvestigateArgs, ReportFormat};
use crate::detect::report_read_errors;
use crate::exit;
use crate::progress::BarProgress;
use crate::rules_cmd::{self, load_rule_set, RuleSources};
use crate::sources::Sources;
use crate::time_arg::{now_ms, parse_time_arg};
use trailguard_io::scanner::Scanner;

/// `investigate`'s arguments, validated.
pub struct InvestigateConfig {
    pub subject: Subject,
    pub inputs: Sources,
    pub rules: Vec<Rule>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub baseline_until_ms: Option<i64>,
    pub format: ReportFormat,
    pub out: Option<PathBuf>,
    pub timeline_limit: usize,
    pub quiet: bool,
}

impl InvestigateConfig {
    pub fn from_args(a: InvestigateArgs) -> Result<InvestigateConfig> {
        let subject = match (&a.access_key, &a.principal, &a.ip) {
            (Some(k), None, None) => Subject::access_key(k)?,
            (None, Some(p), None) => Subject::principal(p)?,
            (None, None, Some(ip)) => Subject::ip(ip)?,
            (None, None, None) => {
                bail!("what to investigate: give one of --access-key KEY, --principal ARN, --ip IP")
            }
            _ => bail!("give exactly one of --access-key, --principal, --ip"),
        };
        let now = now_ms();
        let time = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
            v.as_deref()
                .map(|s| parse_time_arg(s, now).map_err(|e| anyhow::anyhow!("--{flag}: {e}")))
                .transpose()
        };
        let since_ms = time("since", &a.since)?;
        let until_ms = time("until", &a.until)?;
        if let (Some(s), Some(u)) = (since_ms, until_ms) {
            if s >= u {
                bail!("--since must be before --until");
            }
        }
        if a.timeline_limit < 2 {
            bail!("--timeline-limit must be at least 2");
        }
        let inputs = Sources::from_args(&a.paths, &a.s3, &a.aws, (since_ms, until_ms), a.quiet)?;
        // Without --format: the --out file's extension, else a table for a person at
        // a terminal and JSON for a program.
        let by_extension = a.out.as_ref().and_then(|p| {
            match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
                "html" | "htm" => Some(ReportFormat::Html),
                "md" | "markdown" => Some(ReportFormat::Md),
                "json" => Some(ReportFormat::Json),
                "txt" => Some(ReportFormat::Table),
                _ => None,
            }
        });
        let format = a.format.or(by_extension).unwrap_or_else(|| {
            if a.out.is_none() && io::stdout().is_terminal() {
                ReportFormat::Table
            } else {
                ReportFormat::Json
            }
        });
        Ok(InvestigateConfig {
            subject,
            inputs,
            rules: {
                rules_cmd::check(&a.rule_set)?;
                load_rule_set(RuleSources {
                    quiet: a.quiet,
                    ..RuleSources::of(&a.rule_set)
                })?
            },
            since_ms,
            until_ms,
            baseline_until_ms: time("baseline-until", &a.baseline_until)?,
            format,
            out: a.out,
            timeline_limit: a.timeline_limit,
            quiet: a.quiet,
        })
    }
}

pub fn run(args: InvestigateArgs) -> Result<u8> {
    let config = InvestigateConfig::from_args(args)?;
    execute(&config)
}

/// What one pass over the input gave: the report and what was read.
pub struct Investigation {
    pub report: Report,
    pub summary: trailguard_io::reader::ReadSummary,
    /// Other keys indexed for the lineage.
    pub candidates: usize,
    pub untracked_events: u64,
}

/// Reads the input once and builds the report; `None` when no input could be read
/// (reported on stderr).
pub fn investigate(c: &InvestigateConfig) -> Result<Option<Investigation>> {
    // The rule pack sees the subject's events only: its alerts are the subject's, and
    // matching costs nothing for the rest of the archive.
    let scanner = Scanner::new(c.rules.clone(), Severity::Info, DEFAULT_WINDOW_MS);
    let investigator = Investigator::new(
        c.subject.clone(),
        Options {
            subject: Limits {
                timeline: c.timeline_limit,
                ..Limits::SUBJECT
            },
            since_ms: c.since_ms,
            until_ms: c.until_ms,
            ..Options::default()
        },
    );
    let progress = BarProgress::new(!c.quiet && io::stderr().is_terminal());
    let mut store = MemoryStore::new();
    let outcome = scanner.scan(
        |on_event| {
            c.inputs.read(&progress, &|ev| {
                if investigator.observe(ev) {
                    on_event(ev)
                }
            })
        },
        (c.since_ms, c.until_ms),
        &mut store,
    );
    progress.finish();
    let mut outcome = outcome?;
    report_read_errors(&outcome.summary);
    if !c.inputs.is_empty() && outcome.summary.nothing_read() {
        eprintln!("error: no input could be read");
        return Ok(None);
    }
    redact_alerts(&mut outcome.alerts);
    let findings = investigator.finish();
    let report = build(
        &c.subject,
        &findings,
        std::mem::take(&mut outcome.alerts),
        &BuildOptions {
            baseline_until_ms: c.baseline_until_ms,
            timeline_limit: c.timeline_limit,
            ..BuildOptions::default()
        },
    );
    Ok(Some(Investigation {
        report,
        summary: outcome.summary,
        candidates: findings.candidates.len(),
        untracked_events: findings.untracked_events,
    }))
}

pub fn execute(c: &InvestigateConfig) -> Result<u8> {
    let Some(Investigation {
        report,
        summary,
        candidates,
        untracked_events,
    }) = investigate(c)?
    else {
        return Ok(exit::ERROR);
    };
    write_report(c, &report)?;
    if report.is_empty() {
        eprintln!(
            "trailguard: {} {} never appears in the input ({} events read{}): the report is empty",
            c.subject.kind().replace('_', " "),
            c.subject.label(),
            summary.events,
            if c.since_ms.is_some() || c.until_ms.is_some() {
                " within --since/--until"
            } else {
                ""
            }
        );
    } else if !c.quiet {
        let derived = report.walk().len() - 1;
        eprintln!(
            "trailguard: {} files, {} events read ({} other keys indexed for the lineage); {} events of {}, {} alerts, {} derived credentials{}{}",
            summary.files_read,
            summary.events,
            candidates,
            report.event_count,
            c.subject.label(),
            report.alerts.len(),
            derived,
            match &report.suspicious_since {
                Some(t) => format!(", suspicious since {t}"),
                None => String::new(),
            },
            if report.timeline_truncated {
                format!(
                    "; timeline cut to the earliest and latest {} ({} left out)",
                    report.timeline_limit, report.timeline_dropped
                )
            } else {
                String::new()
            }
        );
    }
    if untracked_events > 0 {
        eprintln!(
            "warning: {} events of other keys were not indexed (too many keys): a derived credential's activity may be incomplete",
            untracked_events
        );
    }
    Ok(exit::OK)
}

fn write_report(c: &InvestigateConfig, report: &Report) -> Result<()> {
    let render = |out: &mut dyn Write| -> io::Result<()> {
        match c.format {
            ReportFormat::Table => render::write_table(out, report),
            ReportFormat::Json => render::write_json(out, report),
            ReportFormat::Md => render::write_markdown(out, report),
            ReportFormat::Html => render::write_html(out, report),
        }?;
        out.flush()
    };
    match &c.out {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            render(&mut BufWriter::new(file))
                .with_context(|| format!("cannot write {}", path.display()))?;
            if !c.quiet {
                eprintln!("trailguard: report written to {}", path.display());
            }
            Ok(())
        }
        None => {
            let stdout = io::stdout();
            match render(&mut BufWriter::new(stdout.lock())) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                other => other.context("cannot write to standard output"),
            }
        }
    }
}
