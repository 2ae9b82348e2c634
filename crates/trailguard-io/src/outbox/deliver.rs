//! [`Delivery`]: one worker per sink, taking the outbox's due deliveries one at a
//! time, most urgent first, until each is delivered, fails for good, or expires.
//!
//! Why one worker per sink: a dead or slow sink (a webhook that hangs until the
//! timeout) must never delay the alerts of another. Why one send at a time per sink:
//! services rate-limit per webhook, and a sink that fails is most likely down, not
//! refusing one alert.
//!
//! Retry policy, per sink and per delivery:
//! - A transient failure (timeout, connection error, 5xx, 429) pauses the *sink* for
//!   a backoff that grows with its streak of failures (exponential, full jitter,
//!   [`Backoff`]): during an outage one alert probes, the rest wait untouched. The
//!   failed *delivery* is also rescheduled by its own backoff, so an alert the service
//!   keeps refusing with a 5xx does not block the queue behind it.
//! - A wait the service asks for (`SinkError::RateLimited { retry_after }`) is a
//!   floor for both.
//! - When the sink answers again after two or more failures in a row, deliveries
//!   waiting out their own backoff are made due at once (the outage is over).
//! - A permanent failure (HTTP 400, a bad configuration) marks the delivery
//!   `failed_permanent`; a pending delivery past its expiry becomes `expired`. Both
//!   are reported through [`DeliveryEvent`] and counted in the [`DeliveryReport`].
//!
//! The outbox is SQLite, which blocks: every call to it runs on tokio's blocking
//! pool, so a slow disk or a busy file never stalls a send in flight.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use trailguard_core::Alert;

use super::queue::{Ended, Enqueued, MessageKind};
use super::worker::{millis, run_worker, Shared};
use super::{Backoff, Clock, Outbox, OutboxError, SystemClock, DEFAULT_EXPIRY};
use crate::sink::Sink;

/// A sink and the name its deliveries are recorded under in the outbox.
#[derive(Clone)]
pub struct NamedSink {
    /// `discord`, `slack`, `webhook`, `jsonl:PATH`, or a configured sink's name.
    /// Never a URL: it is stored and printed.
    pub name: String,
    pub sink: Arc<dyn Sink>,
}

impl NamedSink {
    /// Recorded under the sink's own [`Sink::name`].
    pub fn new(sink: Arc<dyn Sink>) -> NamedSink {
        NamedSink {
            name: sink.name().to_owned(),
            sink,
        }
    }

    /// Recorded under `name` (two Discord webhooks need two names).
    pub fn named(name: impl Into<String>, sink: Arc<dyn Sink>) -> NamedSink {
        NamedSink {
            name: name.into(),
            sink,
        }
    }
}

impl fmt::Debug for NamedSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamedSink")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Which sinks an alert goes to, by name: the hook for routes, suppressions and
/// digests. Decided when the alert is queued.
#[derive(Clone)]
pub struct Router(Arc<RouteFn>);

/// The function behind a [`Router`].
pub type RouteFn = dyn Fn(&Alert) -> Vec<String> + Send + Sync;

impl Router {
    pub fn new(route: impl Fn(&Alert) -> Vec<String> + Send + Sync + 'static) -> Router {
        Router(Arc::new(route))
    }

    /// Every alert to each of `names`.
    pub fn all(names: Vec<String>) -> Router {
        Router::new(move |_| names.clone())
    }

    pub fn route(&self, alert: &Alert) -> Vec<String> {
        (self.0)(alert)
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Router")
    }
}

/// Something a worker did that a person may need to know. Never holds a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryEvent {
    Delivered {
        kind: MessageKind,
        alert_id: String,
        sink: String,
        /// Attempts in all, this one included.
        attempts: u32,
    },
    /// A transient failure; the delivery is tried again in `retry_in` (the sink is
    /// paused as long).
    Retrying {
        alert_id: String,
        rule_id: String,
        sink: String,
        attempts: u32,
        error: String,
        /// When this delivery is due again (its own backoff).
        retry_in: Duration,
        /// How long the sink rests before its next try of anything (the backoff of
        /// its streak of failures, or the server's asked-for wait).
        sink_paused_for: Duration,
    },
    /// Refused for good: marked `failed_permanent`.
    Failed {
        alert_id: String,
        rule_id: String,
        sink: String,
        attempts: u32,
        error: String,
    },
    /// Not delivered before its expiry: marked `expired`.
    Expired(Ended),
    /// The outbox could not be read or written; the worker waits and tries again.
    OutboxError { sink: String, error: String },
}

/// Called by the workers for each [`DeliveryEvent`]; keep it short (it runs on the
/// worker's task).
pub type OnEvent = Arc<dyn Fn(&DeliveryEvent) + Send + Sync>;

/// How the workers run.
#[derive(Clone)]
pub struct DeliveryConfig {
    /// A delivery still pending this long after it was queued is marked expired.
    /// Default 24 h.
    pub expiry: Duration,
    pub backoff: Backoff,
    /// The longest one send may take (the sink's own retries included) before it is
    /// abandoned as a timeout. Default 2 minutes.
    pub attempt_timeout: Duration,
    /// End each worker when its sink has nothing pending (one-shot runs). Default
    /// false: wait for more (a long-running watcher).
    pub stop_when_idle: bool,
    pub clock: Arc<dyn Clock>,
    /// Which sinks an alert queued through [`Delivery::enqueue`] goes to. Default:
    /// every sink of the delivery.
    pub router: Option<Router>,
    pub on_event: Option<OnEvent>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            expiry: DEFAULT_EXPIRY,
            backoff: Backoff::default(),
            attempt_timeout: Duration::from_secs(120),
            stop_when_idle: false,
            clock: Arc::new(SystemClock),
            router: None,
            on_event: None,
        }
    }
}

impl fmt::Debug for DeliveryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryConfig")
            .field("expiry", &self.expiry)
            .field("backoff", &self.backoff)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("stop_when_idle", &self.stop_when_idle)
            .finish_non_exhaustive()
    }
}

/// What the workers did, per sink name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sinks: BTreeMap<String, SinkRun>,
}

/// What one sink's worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkRun {
    pub delivered: u64,
    /// Transient failures (each rescheduled).
    pub retries: u64,
    pub failed_permanent: u64,
    pub expired: u64,
    pub outbox_errors: u64,
}

impl DeliveryReport {
    /// Summed over the sinks.
    pub fn total(&self) -> SinkRun {
        self.sinks
            .values()
            .fold(SinkRun::default(), |a, b| SinkRun {
                delivered: a.delivered + b.delivered,
                retries: a.retries + b.retries,
                failed_permanent: a.failed_permanent + b.failed_permanent,
                expired: a.expired + b.expired,
                outbox_errors: a.outbox_errors + b.outbox_errors,
            })
    }
}

struct Worker {
    name: String,
    wake: Arc<Notify>,
    /// `None` once awaited to its end.
    task: Option<JoinHandle<()>>,
}

/// The delivery workers of a set of sinks over one outbox. Start it inside a tokio
/// runtime; see the module documentation for the retry policy.
pub struct Delivery {
    shared: Arc<Shared>,
    workers: Vec<Worker>,
    stop: watch::Sender<bool>,
    router: Router,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("sinks", &self.sink_names())
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// Spawns one worker per sink on the current tokio runtime. Each starts with
    /// what the outbox already has pending for its sink (a restart resumes).
    pub fn start(outbox: Outbox, sinks: Vec<NamedSink>, config: DeliveryConfig) -> Delivery {
        let router = config
            .router
            .clone()
            .unwrap_or_else(|| Router::all(sinks.iter().map(|s| s.name.clone()).collect()));
        let shared = Arc::new(Shared {
            outbox: Arc::new(Mutex::new(outbox)),
            config,
            report: Mutex::default(),
        });
        let (stop, _) = watch::channel(false);
        let workers = sinks
            .into_iter()
            .map(|sink| {
                let wake = Arc::new(Notify::new());
                let name = sink.name.clone();
                let task = tokio::spawn(run_worker(
                    Arc::clone(&shared),
                    sink,
                    Arc::clone(&wake),
                    stop.subscribe(),
                ));
                Worker {
                    name,
                    wake,
                    task: Some(task),
                }
            })
            .collect();
        Delivery {
            shared,
            workers,
            stop,
            router,
        }
    }

    pub fn sink_names(&self) -> Vec<String> {
        self.workers.iter().map(|w| w.name.clone()).collect()
    }

    /// The outbox, for reading what stands (the workers share it).
    pub fn outbox(&self) -> Arc<Mutex<Outbox>> {
        Arc::clone(&self.shared.outbox)
    }

    /// Records `alerts` in the outbox (one transaction, routed by the router), then
    /// wakes the workers. When this returns `Ok`, the alerts survive a crash (in a
    /// file outbox).
    pub async fn enqueue(&self, alerts: Vec<Alert>) -> Result<Enqueued, OutboxError> {
        let router = self.router.clone();
        let now = self.shared.config.clock.now_ms();
        let expiry = self.shared.config.expiry;
        let n = self
            .shared
            .db(move |o| o.enqueue(&alerts, &|a| router.route(a), now, expiry))
            .await?;
        self.wake();
        Ok(n)
    }

    /// Wakes every worker to look at the outbox again (after alerts were queued
    /// elsewhere, e.g. with [`super::enqueue_with_state`]).
    pub fn wake(&self) {
        for w in &self.workers {
            w.wake.notify_one();
        }
    }

    /// What the workers did so far.
    pub fn report(&self) -> DeliveryReport {
        self.shared
            .report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether every worker has ended (with `stop_when_idle`: nothing pending).
    pub fn is_idle(&self) -> bool {
        self.workers
            .iter()
            .all(|w| w.task.as_ref().is_none_or(|t| t.is_finished()))
    }

    /// With `stop_when_idle`: waits until every sink has nothing pending, or until
    /// `timeout` has passed on the delivery's clock; then shuts down, giving sends in
    /// flight `grace` (real time) to finish. What is left stays pending.
    pub async fn run_until_idle(mut self, timeout: Duration, grace: Duration) -> DeliveryReport {
        let clock = Arc::clone(&self.shared.config.clock);
        let deadline = clock.now_ms().saturating_add(millis(timeout));
        let mut sleep = clock.sleep_until(deadline);
        for w in &mut self.workers {
            let Some(task) = w.task.as_mut() else {
                continue;
            };
            tokio::select! {
                _ = &mut sleep => break,
                _ = task => w.task = None,
            }
        }
        self.shutdown(grace).await
    }

    /// Stops the workers: sends in flight may finish within `deadline` (real time),
    /// no new one starts, and what is not delivered stays pending in the outbox. A
    /// send still running at the deadline is abandoned: it stays pending too (and may
    /// have reached the service: receivers deduplicate on the alert id).
    pub async fn shutdown(mut self, deadline: Duration) -> DeliveryReport {
        let _ = self.stop.send(true);
        let until = tokio::time::Instant::now() + deadline;
        for w in &mut self.workers {
            let Some(mut task) = w.task.take() else {
                continue;
            };
            if tokio::time::timeout_at(until, &mut task).await.is_err() {
                task.abort();
                let _ = task.await;
            }
        }
        self.report()
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        // Workers finish what they are sending and end.
        let _ = self.stop.send(true);
    }
}
