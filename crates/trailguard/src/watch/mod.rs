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
mod sender;
mod sqs;
mod stdin;

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use trailguard_core::state::{MemoryStore, Store};
use trailguard_core::{Alert, Severity};
use trailguard_io::config::Config;
use trailguard_io::digest::{Digest, DigestFolder, Outgoing};
use trailguard_io::outbox::{enqueue_digests_with_state, enqueue_with_state, Outbox};
use trailguard_io::reader::{read_bytes, read_events, Input, ReadOptions, ReadSummary};
use trailguard_io::redact::redact_alerts;
use trailguard_io::state::{mark_watched, watched_files, FileStamp, SqliteStore};

use crate::args::{Format, WatchArgs};
use crate::delivery::DeliveryOptions;
use crate::detect::{default_format, report_read_errors, write_alerts, StateStore};
use crate::exit;
use crate::progress::BarProgress;
use crate::rules_cmd::{self, load_rule_set, RuleSources};
use crate::sinks::{build_sinks, route, run_config, SinkSpec};
use crate::time_arg::now_ms;
use trailguard_io::scanner::Scanner;

pub use follow::{DirFollower, Start};
pub use incidents::OpenIncidents;
pub use metrics::Metrics;
use sender::Sender;
use sqs::{Received, SqsSource};
use stdin::LineBatcher;

enum Source {
    /// The folder, how often to poll it, and whether to begin from every file in it.
    Folder(PathBuf, Duration, bool),
    Stdin(LineBatcher, Duration),
    /// The queue, and how long one receive waits for a message.
    Sqs(Box<SqsSource>, Duration),
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
        if a.alerts.window == 0 {
            bail!("--window must be at least 1 minute");
        }
        let min_severity: Severity = a
            .alerts
            .min_severity
            .parse()
            .map_err(|e| anyhow::anyhow!("--min-severity: {e}"))?;
        let specs = a
            .alerts
            .sink
            .iter()
            .map(|s| SinkSpec::parse(s))
            .collect::<Result<Vec<_>>>()?;
        let routing = run_config(a.alerts.config.as_deref(), specs, a.quiet)?;
        let poll = interval("poll", &a.poll)?;
        let batch = interval("batch", &a.batch)?;
        let remote = ["sqs://", "https://", "http://"]
            .iter()
            .any(|p| a.source.starts_with(p));
        if !remote
            && (a.aws.profile.is_some() || a.aws.region.is_some() || a.aws.endpoint_url.is_some())
        {
            bail!("--profile, --region and --endpoint-url go with an sqs:// source");
        }
        let source = if a.source == "-" {
            Source::Stdin(LineBatcher::spawn(io::stdin()), batch)
        } else if remote {
            Source::Sqs(
                Box::new(SqsSource::connect(&a.source, &a.aws.options())?),
                poll,
            )
        } else {
            let dir = PathBuf::from(&a.source);
            // Checked now, so that a typo fails before anything else starts.
            match std::fs::metadata(&dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => bail!(
                    "cannot follow {}: not a folder (give a folder to follow, or - for standard input)",
                    dir.display()
                ),
                Err(e) => bail!("cannot follow {}: {e}", dir.display()),
            }
            Source::Folder(dir, poll, a.from_start)
        };
        let rules = load_rule_set(RuleSources {
            quiet: a.quiet,
            ..RuleSources::of(&a.rule_set)
        })?;
        let window_ms = i64::from(a.alerts.window) * 60_000;
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

/// What one batch came from: files (recorded as read with the state), or stdin.
enum Batch {
    Files(Vec<(PathBuf, FileStamp)>),
    Bytes(Vec<u8>),
    /// Objects and events from SQS, with the messages to delete once recorded.
    Remote(Received),
    /// Nothing new: only time passed (digest windows may have closed).
    Tick,
}

/// Everything that lives as long as the watch: state, open incidents, digests, delivery.
struct Running {
    store: StateStore,
    incidents: OpenIncidents,
    digests: DigestFolder,
    sender: Option<Sender>,
    metrics: Arc<Metrics>,
    newest: AtomicI64,
}

pub fn run(args: WatchArgs) -> Result<u8> {
    let config = WatchConfig::from_args(args)?;
    let mut store = match &config.state {
        Some(path) => StateStore::File(SqliteStore::open(path)?),
        None => StateStore::Memory(MemoryStore::new()),
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
    // Sinks first (a bad one fails before anything is read), then their workers, which
    // resume whatever an earlier run left undelivered in the state file.
    let sender = if config.routing.sinks.is_empty() {
        None
    } else {
        let sinks = build_sinks(&config.routing)?;
        let outbox = match &config.state {
            Some(path) => Outbox::open(path)?,
            None => Outbox::in_memory()?,
        };
        let expiry = DeliveryOptions::for_config(&config.routing).expiry;
        Some(Sender::start(
            outbox,
            sinks,
            expiry,
            metrics.clone(),
            config.quiet,
        )?)
    };
    let mut pending_first: Option<Received> = None;
    let (mut follower, source_wait) = match &config.source {
        Source::Folder(dir, poll, from_start) => {
            let start = match (&mut store, from_start) {
                (_, true) => Start::Everything,
                (StateStore::File(s), false) => {
                    let known = watched_files(s)?;
                    if known.is_empty() {
                        Start::New
                    } else {
                        Start::Resume(known)
                    }
                }
                (StateStore::Memory(_), false) => Start::New,
            };
            let follower = DirFollower::new(dir, start)
                .with_context(|| format!("cannot follow {}", dir.display()))?;
            // A first start leaves the files already there alone: recorded as read, so
            // that a restart does too.
            if let StateStore::File(s) = &mut store {
                let done: Vec<(PathBuf, FileStamp)> =
                    follower.done().map(|(p, st)| (p.clone(), *st)).collect();
                s.begin()?;
                mark_watched(s, &done)?;
                s.commit()?;
            }
            if !config.quiet {
                eprintln!(
                    "trailguard: watching {} for new files every {}ms ({} already read or left \
                     alone; --from-start reads everything); Ctrl-C stops",
                    dir.display(),
                    poll.as_millis(),
                    follower.skipped_at_start()
                );
            }
            (Some(follower), *poll)
        }
        Source::Stdin(_, wait) => {
            if !config.quiet {
                eprintln!("trailguard: reading JSON Lines from standard input");
            }
            (None, *wait)
        }
        Source::Sqs(queue, wait) => {
            // A queue that cannot be read (no such queue, no rights) fails now, not
            // once per poll for ever.
            let first = queue
                .receive(Duration::ZERO)
                .with_context(|| format!("cannot read {}", queue.url()))?;
            if !config.quiet {
                eprintln!(
                    "trailguard: reading S3 notifications from {}; Ctrl-C stops",
                    queue.url()
                );
            }
            if !first.is_empty() {
                pending_first = Some(first);
            }
            (None, *wait)
        }
    };
    let mut running = Running {
        store,
        incidents: OpenIncidents::new(config.window_ms),
        digests: DigestFolder::from_config(&config.routing),
        sender,
        metrics,
        newest: AtomicI64::new(0),
    };
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let (batch, ended) = match (&mut follower, &config.source) {
            (Some(follower), _) => {
                let files = follower.poll();
                if files.is_empty() {
                    sleep_unless_stopped(source_wait, &stop);
                    (Batch::Tick, false)
                } else {
                    (Batch::Files(files), false)
                }
            }
            (None, Source::Stdin(lines, wait)) => {
                let batch = lines.take(*wait);
                if let Some(e) = &batch.error {
                    eprintln!("warning: reading standard input: {e}");
                }
                if batch.bytes.is_empty() {
                    (Batch::Tick, batch.eof)
                } else {
                    (Batch::Bytes(batch.bytes), batch.eof)
                }
            }
            (None, Source::Sqs(queue, wait)) => {
                let received = match pending_first.take() {
                    Some(r) => Ok(r),
                    None => queue.receive(*wait),
                };
                match received {
                    Ok(r) if r.is_empty() => (Batch::Tick, false),
                    Ok(r) => (Batch::Remote(r), false),
                    Err(e) => {
                        // The network, throttling: try again after a pause.
                        eprintln!("warning: {}: {e:#}; trying again", queue.url());
                        sleep_unless_stopped(*wait, &stop);
                        (Batch::Tick, false)
                    }
                }
            }
            (None, Source::Folder(..)) => unreachable!("a folder always has a follower"),
        };
        process(&config, batch, &mut running)?;
        if ended {
            break;
        }
    }
    // Shutdown (a signal, or the end of standard input): close every open incident,
    // send the digests still held, let sends in flight finish.
    let updates = running.incidents.close(None);
    let held = running.digests.flush_all();
    running.store.as_store().begin()?;
    emit(&config, updates, held, &mut running, Vec::new())?;
    running.metrics.open_incidents.store(0, Ordering::Relaxed);
    let left = running
        .sender
        .take()
        .map(|sender| sender.shutdown(Duration::from_secs(10)));
    if !config.quiet {
        match (left, &config.state) {
            (Some(n), Some(path)) if n > 0 => eprintln!(
                "trailguard: stopped; {n} deliveries still pending in {} (sent on the next start, or `trailguard alerts retry --state {}`)",
                path.display(),
                path.display()
            ),
            (Some(n), None) if n > 0 => eprintln!(
                "warning: stopped with {n} deliveries undelivered (no --state: they are lost with this process)"
            ),
            _ => eprintln!("trailguard: stopped cleanly; state saved"),
        }
    }
    Ok(exit::OK)
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

/// One batch: scan, fold into the open incidents, then [`emit`].
fn process(config: &WatchConfig, batch: Batch, running: &mut Running) -> Result<()> {
    let now = now_ms();
    let (files, outcome) = match batch {
        Batch::Tick => {
            let due = running.digests.flush_due(now);
            if !due.is_empty() {
                running.store.as_store().begin()?;
                emit(config, Vec::new(), due, running, Vec::new())?;
            }
            update_depth(running);
            return Ok(());
        }
        Batch::Files(files) => {
            let inputs: Vec<Input> = files.iter().map(|(p, _)| Input::Path(p.clone())).collect();
            let outcome = scan(config, running, |opts, progress, on_event| {
                read_events(&inputs, opts, progress, on_event)
            })?;
            (files, outcome)
        }
        Batch::Bytes(bytes) => {
            let outcome = scan(config, running, |opts, _, on_event| {
                read_bytes("<stdin>", &bytes, opts, on_event)
            })?;
            (Vec::new(), outcome)
        }
        Batch::Remote(mut received) => {
            let mut unreadable = Vec::new();
            let outcome = scan(config, running, |opts, _, on_event| {
                let mut total = ReadSummary::default();
                for (i, input) in received.inputs.iter().enumerate() {
                    let one = read_bytes(&input.name, &input.bytes, opts, on_event);
                    if one.nothing_read() {
                        unreadable.push(i);
                    }
                    total.absorb(one, opts.max_errors);
                }
                total
            })?;
            for i in unreadable {
                received.keep(i);
            }
            let delete = received.to_delete();
            finish(config, running, outcome, Vec::new())?;
            // Recorded (and with --state, committed with the outbox): only now are
            // the messages deleted.
            if let Source::Sqs(queue, _) = &config.source {
                queue.delete(&delete);
            }
            if !config.quiet && !received.is_empty() {
                eprintln!(
                    "trailguard: {} messages done, {} left on the queue; {} inputs read, {} objects not log files",
                    delete.len(),
                    received.done.len() - delete.len() + received.left,
                    received.inputs.len(),
                    received.skipped_objects
                );
            }
            return Ok(());
        }
    };
    finish(config, running, outcome, files)
}

/// The rest of a batch once read: fold into the open incidents, then [`emit`].
fn finish(
    config: &WatchConfig,
    running: &mut Running,
    outcome: trailguard_io::scanner::Outcome,
    files: Vec<(PathBuf, FileStamp)>,
) -> Result<()> {
    let now = now_ms();
    report_read_errors(&outcome.summary);
    count_read(&running.metrics, &outcome.summary);
    let watermark = running.newest.load(Ordering::Relaxed);
    running
        .metrics
        .newest_event_ms
        .store(watermark, Ordering::Relaxed);
    let mut alerts = running.incidents.admit(outcome.alerts);
    alerts.extend(running.incidents.close(Some(watermark)));
    running
        .metrics
        .open_incidents
        .store(running.incidents.len() as i64, Ordering::Relaxed);
    let due = running.digests.flush_due(now);
    let n = alerts.len();
    emit(config, alerts, due, running, files)?;
    if !config.quiet && (n > 0 || outcome.summary.errors_total > 0) {
        eprintln!(
            "trailguard: {} events read; {n} alerts; {} incidents open",
            outcome.summary.events,
            running.incidents.len()
        );
    }
    Ok(())
}

/// Runs the scanner over one batch, tracking the newest event time.
fn scan(
    config: &WatchConfig,
    running: &mut Running,
    read: impl FnOnce(
        &ReadOptions,
        &BarProgress,
        &(dyn Fn(&trailguard_core::Event<'_>) + Sync),
    ) -> ReadSummary,
) -> Result<trailguard_io::scanner::Outcome> {
    let opts = ReadOptions::default();
    let no_progress = BarProgress::new(false);
    let newest = &running.newest;
    config
        .scanner
        .scan(
            |on_event| {
                read(&opts, &no_progress, &|e: &trailguard_core::Event<'_>| {
                    if let Some(t) = e.time_millis() {
                        newest.fetch_max(t, Ordering::Relaxed);
                    }
                    on_event(e)
                })
            },
            (None, None),
            running.store.as_store(),
        )
        .map_err(anyhow::Error::from)
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

fn update_depth(running: &Running) {
    if let Some(sender) = &running.sender {
        running
            .metrics
            .outbox_depth
            .store(sender.depth(), Ordering::Relaxed);
    }
}

/// Redacts, routes (suppressions apply) and prints `alerts`; folds them per sink into
/// digests; records what is due (singles and digests) in the outbox together with
/// the state and the files read, in the unit of work the scan began; commits; wakes
/// the delivery. Nothing is sent before it is recorded.
fn emit(
    config: &WatchConfig,
    mut alerts: Vec<Alert>,
    due: Vec<Outgoing>,
    running: &mut Running,
    files: Vec<(PathBuf, FileStamp)>,
) -> Result<()> {
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
        running.metrics.alert(a.rule.severity);
    }
    write_alerts(config.format, &routed.alerts)?;
    // Per sink: alone, or held for a digest.
    let mut singles: Vec<Alert> = Vec::new();
    let mut sinks_of: HashMap<String, Vec<String>> = HashMap::new();
    let mut digests: Vec<Digest> = Vec::new();
    let mut take = |out: Outgoing, sink: &str| match out {
        Outgoing::Single(a) => {
            let entry = sinks_of.entry(a.id.clone()).or_default();
            if entry.is_empty() {
                singles.push(a);
            }
            entry.push(sink.to_owned());
        }
        Outgoing::Digest(d) => digests.push(d),
    };
    for (alert, sinks) in routed.alerts.iter().zip(&routed.sinks) {
        for sink in sinks {
            for out in running.digests.push(sink, alert.clone(), now) {
                take(out, sink);
            }
        }
    }
    // Closing windows give digests only, each naming its own sink.
    for out in due {
        if let Outgoing::Digest(d) = out {
            digests.push(d);
        }
    }
    let sinks_of = |a: &Alert| sinks_of.get(&a.id).cloned().unwrap_or_default();
    match (&mut running.store, &running.sender) {
        (StateStore::File(store), sender) => {
            mark_watched(store, &files)?;
            if sender.is_some() {
                let expiry = sender.as_ref().map_or(Duration::ZERO, |s| s.expiry);
                enqueue_with_state(store, &singles, &sinks_of, now, expiry)?;
                enqueue_digests_with_state(store, &digests, now, expiry)?;
            }
            store.commit()?;
            if let Some(s) = sender {
                s.wake();
            }
        }
        (StateStore::Memory(store), sender) => {
            store.commit()?;
            if let Some(s) = sender {
                s.enqueue_here(&singles, &sinks_of, &digests, now)?;
            }
        }
    }
    update_depth(running);
    Ok(())
}
