//! `trailguard detect`: read -> match -> fold -> report and deliver.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use trailguard_core::state::{MemoryStore, Store};
use trailguard_core::{Alert, Rule, Severity};
use trailguard_io::config::Config;
use trailguard_io::outbox::{enqueue_digests_with_state, enqueue_with_state, Outbox};
use trailguard_io::reader::ReadSummary;
use trailguard_io::redact::redact_alerts;
use trailguard_io::render;
use trailguard_io::state::SqliteStore;

use crate::args::{DetectArgs, Format};
use crate::delivery::{deliver, DeliveryOptions};
use crate::exit;
use crate::progress::BarProgress;
use crate::rules_cmd::{self, load_rule_set, RuleSources};
use crate::sinks::{build_sinks, fold, route, run_config, Routed, Sent, SinkSpec};
use crate::sources::Sources;
use crate::time_arg::{now_ms, parse_time_arg};
pub use trailguard_io::scanner::Outcome;
use trailguard_io::scanner::Scanner;

/// `detect`'s arguments, validated.
pub struct DetectConfig {
    pub inputs: Sources,
    pub rules: Vec<Rule>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub format: Format,
    pub min_severity: Severity,
    pub fail_on: Option<Severity>,
    /// Sinks (`--config` and `--sink`), their routes and digests, and the
    /// suppressions.
    pub routing: Config,
    pub window_ms: i64,
    /// `--state FILE`: the SQLite state kept between runs (else one run's memory).
    pub state: Option<PathBuf>,
    /// `--delivery-timeout`, and the expiry of undelivered alerts.
    pub delivery: DeliveryOptions,
    pub quiet: bool,
}

impl DetectConfig {
    pub fn from_args(a: DetectArgs) -> Result<DetectConfig> {
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
        if a.alerts.window == 0 {
            bail!("--window must be at least 1 minute");
        }
        let severity = |flag: &str, v: &str| -> Result<Severity> {
            v.parse().map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
        };
        let inputs = Sources::from_args(&a.paths, &a.s3, &a.aws, (since_ms, until_ms), a.quiet)?;
        let routing = run_config(
            a.alerts.config.as_deref(),
            a.alerts
                .sink
                .iter()
                .map(|s| SinkSpec::parse(s))
                .collect::<Result<_>>()?,
            a.quiet,
        )?;
        let delivery = DeliveryOptions::from_args(&a.delivery, &routing)?;
        Ok(DetectConfig {
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
            format: a.format.unwrap_or_else(default_format),
            min_severity: severity("min-severity", &a.alerts.min_severity)?,
            fail_on: a
                .fail_on
                .as_deref()
                .map(|v| severity("fail-on", v))
                .transpose()?,
            routing,
            window_ms: i64::from(a.alerts.window) * 60_000,
            state: a.state,
            delivery,
            quiet: a.quiet,
        })
    }
}

/// Table for a person at a terminal; JSON Lines for a pipe or a file.
pub fn default_format() -> Format {
    if io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Jsonl
    }
}

pub fn run(args: DetectArgs) -> Result<u8> {
    let config = DetectConfig::from_args(args)?;
    execute(&config)
}

/// The state the judging pass runs against: the `--state` file, or memory.
pub enum StateStore {
    File(SqliteStore),
    Memory(MemoryStore),
}

impl StateStore {
    pub fn as_store(&mut self) -> &mut dyn Store {
        match self {
            StateStore::File(s) => s,
            StateStore::Memory(s) => s,
        }
    }
}

/// Opened before any input is read, so that an unusable state file fails fast.
pub fn open_store(config: &DetectConfig) -> Result<StateStore> {
    Ok(match &config.state {
        Some(path) => StateStore::File(SqliteStore::open(path)?),
        None => StateStore::Memory(MemoryStore::new()),
    })
}

/// Reads every input in parallel, matches each event once, judges the stateful rules
/// against `store` and folds the matches; alerts `store` knows as reported are left
/// out (and counted). Begins the store's unit of work; the caller commits it once
/// the alerts have been written and recorded in the outbox.
pub fn scan(config: &DetectConfig, store: &mut dyn Store) -> Result<Outcome> {
    let scanner = Scanner::new(config.rules.clone(), config.min_severity, config.window_ms);
    let show_progress = !config.quiet && io::stderr().is_terminal();
    let progress = BarProgress::new(show_progress);
    let outcome = scanner.scan(
        |on_event| config.inputs.read(&progress, on_event),
        (config.since_ms, config.until_ms),
        store,
    );
    progress.finish();
    Ok(outcome?)
}

/// One run: scan, report, record the alerts in the outbox (with the state, in one
/// commit), then deliver. A run that fails before the commit (stdout cannot be
/// written, nothing could be read) saves nothing, so running it again on the same
/// files is a retry; after the commit, what is not delivered stays in the outbox.
/// Secrets are redacted from every alert first; then alerts are routed (suppressed
/// ones leave the report and the sinks, and are counted) and bursts to a sink folded
/// into digests.
pub fn execute(config: &DetectConfig) -> Result<u8> {
    let sinks = build_sinks(&config.routing)?;
    let mut store = open_store(config)?;
    // The outbox's tables are made before the judging pass holds the file.
    let outbox = config.state.as_deref().map(Outbox::open).transpose()?;
    let mut outcome = scan(config, store.as_store())?;
    report_read_errors(&outcome.summary);
    redact_alerts(&mut outcome.alerts);
    let now = now_ms();
    let mut routed = route(&config.routing, std::mem::take(&mut outcome.alerts), now);
    outcome.suppressed = routed.suppressed.len();
    write_alerts(config.format, &routed.alerts)?;
    if !config.quiet {
        report_suppressed(&config.routing, &routed);
    }
    if outcome.summary.nothing_read() {
        if !config.quiet {
            outcome.alerts = std::mem::take(&mut routed.alerts);
            eprintln!("{}", summary_line(&outcome, None));
        }
        eprintln!("error: no input could be read");
        return Ok(exit::ERROR);
    }
    // Nowhere to send and nothing to keep: no outbox at all.
    let (recorded, queued, delivered) = if sinks.is_empty() && config.state.is_none() {
        (true, crate::sinks::Queued::default(), None)
    } else {
        let (recorded, queued, outbox) = record(config, store, outbox, &routed, now)?;
        let delivered = deliver(outbox, sinks, &config.delivery, config.quiet, false)?;
        (recorded, queued, Some(delivered))
    };
    outcome.alerts = std::mem::take(&mut routed.alerts);
    if !config.quiet {
        let folded = |id: &str| {
            queued
                .digests
                .iter()
                .find(|d| d.id == id)
                .map_or(0, |d| d.count)
        };
        let sent = delivered
            .as_ref()
            .filter(|_| !config.routing.sinks.is_empty())
            .map(|d| d.sent(folded));
        eprintln!("{}", summary_line(&outcome, sent.as_ref()));
    }
    if !recorded || delivered.is_some_and(|d| d.undelivered.any()) {
        return Ok(exit::ERROR);
    }
    let failing = config
        .fail_on
        .is_some_and(|level| outcome.alerts.iter().any(|a| a.rule.severity >= level));
    Ok(if failing { exit::ALERTS } else { exit::OK })
}

/// Queues the run's alerts and digests in the outbox: with `--state`, inside the
/// state's unit of work, then commits both; else in memory. When the state file
/// cannot be written (a full disk), says so, queues in memory so the alerts still go
/// out now, and returns `false`: the state is not saved, the next run reports them
/// again.
fn record(
    config: &DetectConfig,
    store: StateStore,
    outbox: Option<Outbox>,
    routed: &Routed,
    now: i64,
) -> Result<(bool, crate::sinks::Queued, Outbox)> {
    let queued = fold(&config.routing, routed, now);
    let expiry = config.delivery.expiry;
    let in_memory = |queued: &crate::sinks::Queued| -> Result<Outbox> {
        let mut memory = Outbox::in_memory()?;
        memory.enqueue(&routed.alerts, &|a| queued.sinks_of(a), now, expiry)?;
        memory.enqueue_digests(&queued.digests, now, expiry)?;
        Ok(memory)
    };
    let (StateStore::File(mut store), Some(outbox)) = (store, outbox) else {
        let memory = in_memory(&queued)?;
        return Ok((true, queued, memory));
    };
    let saved = enqueue_with_state(
        &mut store,
        &routed.alerts,
        &|a| queued.sinks_of(a),
        now,
        expiry,
    )
    .and_then(|_| enqueue_digests_with_state(&mut store, &queued.digests, now, expiry))
    .map_err(anyhow::Error::from)
    .and_then(|_| store.commit().map_err(anyhow::Error::from));
    match saved {
        Ok(()) => Ok((true, queued, outbox)),
        Err(e) => {
            drop(store);
            eprintln!("error: {e:#}");
            eprintln!(
                "error: the state in {} was not updated: this run's alerts are delivered \
                 from memory; run again on the same files once it is fixed",
                outbox.location()
            );
            let memory = in_memory(&queued)?;
            Ok((false, queued, memory))
        }
    }
}

pub fn write_alerts(format: Format, alerts: &[Alert]) -> Result<()> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let color = format == Format::Table && io::stdout().is_terminal();
    let written = match format {
        Format::Table => render::write_table(&mut out, alerts, color),
        Format::Json => render::write_json(&mut out, alerts),
        Format::Jsonl => render::write_jsonl(&mut out, alerts),
    };
    match written.and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to standard output"),
    }
}

/// Each unreadable file or record, once, on stderr; the count of the rest.
pub fn report_read_errors(summary: &ReadSummary) {
    for e in &summary.errors {
        eprintln!("warning: {e}");
    }
    let hidden = summary
        .errors_total
        .saturating_sub(summary.errors.len() as u64);
    if hidden > 0 {
        eprintln!("warning: ... and {hidden} more read errors");
    }
}

/// One line per suppression that silenced alerts in this run: what, why, until.
fn report_suppressed(config: &Config, routed: &Routed) {
    for (s, n) in routed.by_suppression() {
        let alerts = if n == 1 { "alert" } else { "alerts" };
        eprintln!(
            "trailguard: {n} {alerts} suppressed by {} suppress #{} ({}): {} (until {})",
            config.origin,
            s.number,
            s.criteria(),
            s.reason,
            s.until()
        );
    }
}

pub fn summary_line(o: &Outcome, sent: Option<&Sent>) -> String {
    let s = &o.summary;
    let mut line = format!(
        "trailguard: {} files, {} events read",
        s.files_read, s.events
    );
    let skipped_files: u64 = s.files_skipped.values().sum();
    if skipped_files > 0 {
        let reasons: Vec<String> = s
            .files_skipped
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        let files = if skipped_files == 1 { "file" } else { "files" };
        line.push_str(&format!(
            "; {skipped_files} {files} skipped ({})",
            reasons.join(", ")
        ));
    }
    if s.records_skipped > 0 {
        line.push_str(&format!(
            "; {} unreadable records skipped",
            s.records_skipped
        ));
    }
    let mut by_sev: Vec<String> = Vec::new();
    for sev in Severity::ALL.iter().rev() {
        let n = o.alerts.iter().filter(|a| a.rule.severity == *sev).count();
        if n > 0 {
            by_sev.push(format!("{n} {sev}"));
        }
    }
    line.push_str(&format!("; {} alerts", o.alerts.len()));
    if !by_sev.is_empty() {
        line.push_str(&format!(" ({})", by_sev.join(", ")));
    }
    match o.suppressed {
        0 => {}
        n => line.push_str(&format!("; {n} suppressed")),
    }
    match o.already_reported {
        0 => {}
        1 => line.push_str("; 1 alert already reported in an earlier run"),
        n => line.push_str(&format!("; {n} alerts already reported in an earlier run")),
    }
    if let Some(sent) = sent {
        let messages = if sent.messages == 1 {
            "message"
        } else {
            "messages"
        };
        line.push_str(&format!("; {} {messages} delivered", sent.messages));
        if sent.digests > 0 {
            let digests = if sent.digests == 1 {
                "digest"
            } else {
                "digests"
            };
            line.push_str(&format!(
                " ({} {digests} folding {} alerts)",
                sent.digests, sent.folded
            ));
        }
    }
    line
}
