//! [`Scanner`]: the rules compiled once, then any number of reads matched, judged and
//! folded against a [`Store`]. `detect` scans once; `watch` scans every new batch
//! against the same store, so that batches behave like one long run; the Lambda scans
//! each invocation's events. A library type so that every way of running shares one
//! pipeline from events to alerts.

use std::sync::Mutex;

use crate::reader::ReadSummary;
use trailguard_core::correlate::Collector;
use trailguard_core::fold::fold;
use trailguard_core::rule::Stateful;
use trailguard_core::state::{Store, StoreError};
use trailguard_core::{Alert, Engine, Event, Rule, Severity};

/// What a detection run produced.
pub struct Outcome {
    /// The alerts to report: new ones only, when the state remembers earlier runs.
    pub alerts: Vec<Alert>,
    /// Alerts left out because an earlier run (same `--state`) reported them.
    pub already_reported: usize,
    /// Alerts an active suppression silenced (not in `alerts`).
    pub suppressed: usize,
    pub summary: ReadSummary,
}

pub struct Scanner {
    engine: Engine,
    min_severity: Severity,
    window_ms: i64,
    /// A plain rule whose highest severity, even raised a level by context, stays
    /// below the minimum cannot be reported: its matches are not collected at all.
    reportable: Vec<bool>,
    threshold: Vec<bool>,
}

impl Scanner {
    pub fn new(rules: Vec<Rule>, min_severity: Severity, window_ms: i64) -> Scanner {
        let engine = Engine::new(rules);
        let reportable = engine
            .rules()
            .iter()
            .map(|r| r.stateful.is_some() || r.max_severity().raised() >= min_severity)
            .collect();
        let threshold = engine
            .rules()
            .iter()
            .map(|r| matches!(r.stateful, Some(Stateful::Threshold { .. })))
            .collect();
        Scanner {
            engine,
            min_severity,
            window_ms,
            reportable,
            threshold,
        }
    }

    /// Runs `read` (which calls its argument with every event, from any thread),
    /// matches each event once, judges the stateful rules against `store` in event
    /// time order and folds the matches; alerts `store` knows as reported are left
    /// out (and counted). Begins the store's unit of work; the caller commits it once
    /// the alerts have been written and delivered. `(since, until)` bound event times.
    pub fn scan(
        &self,
        read: impl FnOnce(&(dyn Fn(&Event<'_>) + Sync)) -> ReadSummary,
        (since, until): (Option<i64>, Option<i64>),
        store: &mut dyn Store,
    ) -> Result<Outcome, StoreError> {
        let engine = &self.engine;
        // Threshold rules share one collector: what it samples of a group depends on
        // how many matches the group had, across all files. Every other match goes to
        // the collector of the reading thread (no waiting on a lock), merged after.
        let shared = Mutex::new(Collector::new());
        let per_thread: Vec<Mutex<Collector>> = (0..=rayon::current_num_threads())
            .map(|_| Mutex::new(Collector::new()))
            .collect();
        let on_event = |event: &Event<'_>| {
            if since.is_some() || until.is_some() {
                let Some(t) = event.time_millis() else { return };
                if since.is_some_and(|s| t < s) || until.is_some_and(|u| t >= u) {
                    return;
                }
            }
            let id = event.event_id().unwrap_or("");
            // Threads outside rayon's pool (`read_objects`' download workers) share
            // the last collector. A match locks one collector at a time and lets go
            // of it before the next: holding a thread's own collector while waiting
            // for the shared one (and another thread the reverse) deadlocked.
            let mine = rayon::current_thread_index()
                .map_or(per_thread.len() - 1, |i| i.min(per_thread.len() - 1));
            engine.each_match(event, |m| {
                if !self.reportable[m.rule] {
                    return;
                }
                let collector = if self.threshold[m.rule] {
                    &shared
                } else {
                    &per_thread[mine]
                };
                collector.lock().unwrap_or_else(|p| p.into_inner()).offer(
                    m,
                    id,
                    engine.rules(),
                    &engine.source(event),
                );
            });
        };
        let summary = read(&on_event);
        let mut collected = shared.into_inner().unwrap_or_else(|p| p.into_inner());
        for c in per_thread {
            collected.merge(c.into_inner().unwrap_or_else(|p| p.into_inner()));
        }
        // Stateful rules are judged in event-time order, after every file is read.
        store.begin()?;
        let detections = collected.judge(engine.rules(), store)?;
        let mut alerts = fold(detections, engine.rules(), self.window_ms);
        alerts.retain(|a| a.rule.severity >= self.min_severity);
        let mut fresh = Vec::with_capacity(alerts.len());
        let mut already_reported = 0;
        for alert in alerts {
            if store.alert_seen(&alert.id)? {
                already_reported += 1;
            } else {
                fresh.push(alert);
            }
        }
        Ok(Outcome {
            alerts: fresh,
            already_reported,
            suppressed: 0,
            summary,
        })
    }
}
