//! `trailguard watch`: the long-running form of `detect`.
//!
//! A source (a followed folder, or JSON Lines on stdin) yields batches; each batch
//! goes through the same [`Scanner`] against the same [`Store`], so stateful rules
//! see one long run; alerts pass through [`OpenIncidents`] so that a burst spanning
//! batches is one incident; then they are printed and delivered. A signal stops the
//! loop between batches: the batch in hand is finished first.

mod follow;
mod incidents;
mod metrics;
mod stdin;

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use trailguard_core::state::{MemoryStore, Store};
use trailguard_core::{Alert, Severity};
use trailguard_io::config::Config;
use trailguard_io::reader::{read_bytes, read_events, Input, ReadOptions, ReadSummary};
use trailguard_io::redact::redact_alerts;
use trailguard_io::state::SqliteStore;

use crate::args::{Format, WatchArgs};
use crate::detect::{default_format, report_read_errors, write_alerts};
use crate::exit;
use crate::progress::BarProgress;
use crate::rules_cmd::{self, load_rule_set, RuleSources};
use crate::scanner::Scanner;
use crate::sinks::{deliver, route, run_config, SinkSpec};
use crate::time_arg::now_ms;

pub use follow::DirFollower;
pub use incidents::OpenIncidents;
pub use metrics::Metrics;
use stdin::LineBatcher;

enum Source {
    Folder(DirFollower, Duration),
    Stdin(LineBatcher, Duration),
}

struct WatchConfig {
    source: Source,
    scanner: Scanner,
    window_ms: i64,
    format: Format,
    /// Sinks (`--config` and `--sink`), routes, digests and suppressions.
    routing: Config,
    state: Option<PathBuf>,
    metrics: Option<String>,
    quiet: bool,
}

/// `500ms`, `2s`, `1m`...: a short interval.
fn interval(flag: &str, s: &str) -> Result<Duration> {
    let ms = match s.trim().strip_suffix("ms") {
        Some(n) => n.trim().parse::<u64>().map_err(|_| {
            anyhow::anyhow!("--{flag}: `{s}` is not a duration like 500ms, 2s or 1m")
        })?,
        None => trailguard_core::rule::parse_duration(s)
            .map_err(|e| anyhow::anyhow!("--{flag}: {e}"))? as u64,
    };
    if !(10..=3_600_000).contains(&ms) {
        bail!("--{flag}: `{s}` must be between 10ms and 1h");
    }
    Ok(Duration::from_millis(ms))
}

impl WatchConfig {
    fn from_args(a: WatchArgs) -> Result<WatchConfig> {
        rules_cmd::check(&a.rule_set)?;
        if a.window == 0 {
            bail!("--window must be at least 1 minute");
        }
        let min_severity: Severity = a
            .min_severity
            .parse()
            .map_err(|e| anyhow::anyhow!("--min-severity: {e}"))?;
        let specs = a
            .sink
            .iter()
            .map(|s| SinkSpec::parse(s))
            .collect::<Result<Vec<_>>>()?;
        let routing = run_config(a.config.as_deref(), specs, a.quiet)?;
        let poll = interval("poll", &a.poll)?;
        let batch = interval("batch", &a.batch)?;
        let source = if a.source == "-" {
            Source::Stdin(LineBatcher::spawn(io::stdin()), batch)
        } else {
            let dir = PathBuf::from(&a.source);
            let follower = DirFollower::new(&dir, a.from_start)
                .with_context(|| format!("cannot follow {}", dir.display()))?;
            Source::Folder(follower, poll)
        };
        let rules = load_rule_set(RuleSources {
            quiet: a.quiet,
            ..RuleSources::of(&a.rule_set)
        })?;
        let window_ms = i64::from(a.window) * 60_000;
        Ok(WatchConfig {
            source,
            scanner: Scanner::new(rules, min_severity, window_ms),
            window_ms,
            format: a.format.unwrap_or_else(default_format),
            routing,
            state: a.state,
            metrics: a.metrics,
            quiet: a.quiet,
        })
    }
}

pub fn run(args: WatchArgs) -> Result<u8> {
    let mut config = WatchConfig::from_args(args)?;
    let mut store: Box<dyn Store> = match &config.state {
        Some(path) => Box::new(SqliteStore::open(path)?),
        None => Box::new(MemoryStore::new()),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone()).context("cannot handle signals")?;
    }
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = &config.metrics {
        let bound = metrics::serve(addr, metrics.clone())?;
        if !config.quiet {
            eprintln!("trailguard: metrics on http://{bound}/metrics");
        }
    }
    let mut incidents = OpenIncidents::new(config.window_ms);
    if !config.quiet {
        match &config.source {
            Source::Folder(f, poll) => eprintln!(
                "trailguard: watching for new files every {}ms ({} already there {}); Ctrl-C stops",
                poll.as_millis(),
                f.skipped_at_start(),
                if f.skipped_at_start() == 0 {
                    "or none"
                } else {
                    "are left alone; --from-start reads them"
                }
            ),
            Source::Stdin(..) => eprintln!("trailguard: reading JSON Lines from standard input"),
        }
    }
    let newest = AtomicI64::new(0);
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let (read, ended) = match &mut config.source {
            Source::Folder(follower, poll) => {
                let files = follower.poll();
                if files.is_empty() {
                    sleep_unless_stopped(*poll, &stop);
                    continue;
                }
                let inputs: Vec<Input> = files.into_iter().map(Input::Path).collect();
                (Batch::Files(inputs), false)
            }
            Source::Stdin(lines, wait) => {
                let batch = lines.take(*wait);
                if let Some(e) = &batch.error {
                    eprintln!("warning: reading standard input: {e}");
                }
                if batch.bytes.is_empty() && !batch.eof {
                    continue;
                }
                (Batch::Bytes(batch.bytes), batch.eof)
            }
        };
        process(
            &config,
            &read,
            store.as_mut(),
            &mut incidents,
            &metrics,
            &newest,
        )?;
        if ended {
            break;
        }
    }
    // Shutdown (a signal, or the end of standard input): close every open incident.
    let updates = incidents.close(None);
    emit(&config, &updates, &metrics)?;
    store.commit()?;
    metrics.open_incidents.store(0, Ordering::Relaxed);
    if !config.quiet {
        eprintln!("trailguard: stopped cleanly; state saved");
    }
    Ok(exit::OK)
}

enum Batch {
    Files(Vec<Input>),
    Bytes(Vec<u8>),
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(50);
    let mut left = total;
    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
        let d = left.min(step);
        std::thread::sleep(d);
        left -= d;
    }
}

/// One batch: scan, fold into the open incidents, print and deliver, save the state.
fn process(
    config: &WatchConfig,
    batch: &Batch,
    store: &mut dyn Store,
    incidents: &mut OpenIncidents,
    metrics: &Metrics,
    newest: &AtomicI64,
) -> Result<()> {
    let opts = ReadOptions::default();
    let track = |e: &trailguard_core::Event<'_>| {
        if let Some(t) = e.time_millis() {
            newest.fetch_max(t, Ordering::Relaxed);
        }
    };
    let no_progress = BarProgress::new(false);
    let outcome = config.scanner.scan(
        |on_event| match batch {
            Batch::Files(inputs) => read_events(inputs, &opts, &no_progress, |e| {
                track(e);
                on_event(e)
            }),
            Batch::Bytes(bytes) => read_bytes("<stdin>", bytes, &opts, |e| {
                track(e);
                on_event(e)
            }),
        },
        (None, None),
        store,
    )?;
    report_read_errors(&outcome.summary);
    count_read(metrics, &outcome.summary);
    let watermark = newest.load(Ordering::Relaxed);
    metrics.newest_event_ms.store(watermark, Ordering::Relaxed);
    let mut alerts = incidents.admit(outcome.alerts);
    alerts.extend(incidents.close(Some(watermark)));
    metrics
        .open_incidents
        .store(incidents.len() as i64, Ordering::Relaxed);
    emit(config, &alerts, metrics)?;
    store.commit()?;
    if !config.quiet && (!alerts.is_empty() || outcome.summary.errors_total > 0) {
        eprintln!(
            "trailguard: {} events read; {} alerts sent; {} incidents open",
            outcome.summary.events,
            alerts.len(),
            incidents.len()
        );
    }
    Ok(())
}

fn count_read(metrics: &Metrics, s: &ReadSummary) {
    metrics.batches.fetch_add(1, Ordering::Relaxed);
    metrics
        .files_read
        .fetch_add(s.files_read, Ordering::Relaxed);
    metrics.events_read.fetch_add(s.events, Ordering::Relaxed);
    metrics
        .records_skipped
        .fetch_add(s.records_skipped, Ordering::Relaxed);
    metrics
        .read_errors
        .fetch_add(s.errors_total, Ordering::Relaxed);
}

/// Redacts, routes (suppressions apply), prints and delivers alerts. A failed delivery
/// is reported and counted, and `watch` goes on: the alerts are on stdout in any case.
fn emit(config: &WatchConfig, alerts: &[Alert], metrics: &Metrics) -> Result<()> {
    if alerts.is_empty() {
        return Ok(());
    }
    let mut alerts = alerts.to_vec();
    redact_alerts(&mut alerts);
    let now = now_ms();
    let routed = route(&config.routing, alerts, now);
    for (alert, s) in &routed.suppressed {
        eprintln!(
            "trailguard: alert {} ({}) suppressed by suppress #{} ({}): {}",
            alert.id,
            alert.rule.id,
            s.number,
            s.criteria(),
            s.reason
        );
    }
    for a in &routed.alerts {
        metrics.alert(a.rule.severity);
    }
    write_alerts(config.format, &routed.alerts)?;
    let deliveries: usize = routed.sinks.iter().map(Vec::len).sum();
    metrics
        .outbox_depth
        .fetch_add(deliveries as i64, Ordering::Relaxed);
    let result = deliver(&config.routing, &routed, now);
    let ok = result.is_ok();
    for sinks in &routed.sinks {
        for sink in sinks {
            metrics.delivery(sink, ok);
        }
    }
    match result {
        Ok(_) => {
            metrics
                .outbox_depth
                .fetch_sub(deliveries as i64, Ordering::Relaxed);
        }
        Err(e) => eprintln!("error: delivery: {e:#}"),
    }
    Ok(())
}
