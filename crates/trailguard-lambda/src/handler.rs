//! One invocation: unwrap the payload, read the events it carries or names, judge
//! them with the CLI's [`Scanner`], and deliver the alerts before answering.
//!
//! **Delivery is synchronous.** A Lambda has no disk that outlives it, so there is no
//! outbox: each alert is sent (with the sink's own retries) before the invocation
//! answers, and a failed send fails the invocation (or, in an SQS batch, the message
//! that produced it) so that Lambda, EventBridge or SQS delivers it again and the
//! alert is raised again. Delivery is therefore at least once: a retried invocation
//! re-sends what it had already sent to the sinks that worked, except where this
//! execution environment remembers the send (a bounded per-sink ledger, see
//! [`Ledger`]). Receivers deduplicate on the alert `id`, as with the CLI.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use serde::Serialize;
use trailguard_core::state::{DeliveryClaim, Remembered, Sighting, Store, StoreError, WindowCount};
use trailguard_core::Alert;
use trailguard_io::config::InRequestRetry;
use trailguard_io::digest::{DigestFolder, Outgoing};
use trailguard_io::objects::{FetchError, KeyKind, ObjectSource};
use trailguard_io::reader::{read_bytes, ReadOptions};
use trailguard_io::redact::redact_alerts;
use trailguard_io::route::{RouteDecision, Router};
use trailguard_io::scanner::Scanner;
use trailguard_io::sink::{Sink, SinkError};

use crate::config::{KeyFilter, LambdaConfig};
use crate::envelope::{parse_payload, EnvelopeError, Payload, Work};
use crate::log;

/// Attempts per send within one invocation, and the longest wait between them: the
/// invocation's own retry (by Lambda or SQS) takes over after that.
pub const SEND_RETRY: InRequestRetry = InRequestRetry {
    max_attempts: 3,
    max_wait: Duration::from_secs(10),
};

/// Sends remembered per execution environment, so that a retried invocation does
/// not send again what a sink already confirmed.
const LEDGER_SIZE: usize = 10_000;
/// A claimed send is held this long past the send timeout: long enough for the
/// holder to settle it, short enough that a crashed holder's retry is not kept
/// waiting long.
const CLAIM_MARGIN: std::time::Duration = std::time::Duration::from_secs(30);

/// What this execution environment has delivered: (sink, alert or digest id), the
/// oldest forgotten first. A DynamoDB store will hold it for all environments.
#[derive(Debug, Default)]
pub struct Ledger {
    set: HashSet<(String, String)>,
    order: VecDeque<(String, String)>,
}

impl Ledger {
    pub fn contains(&self, sink: &str, id: &str) -> bool {
        self.set.contains(&(sink.to_owned(), id.to_owned()))
    }

    pub fn insert(&mut self, sink: &str, id: &str) {
        let entry = (sink.to_owned(), id.to_owned());
        if self.set.insert(entry.clone()) {
            self.order.push_back(entry);
            if self.order.len() > LEDGER_SIZE {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }
}

/// The function, built once at init and used by every invocation.
pub struct App {
    config: LambdaConfig,
    scanner: Scanner,
    router: Router,
    sinks: Vec<(String, Arc<dyn Sink>)>,
    objects: Option<Box<dyn ObjectSource>>,
    state: Mutex<Box<dyn Store + Send>>,
    ledger: Mutex<Ledger>,
}

/// Why the function could not be built.
#[derive(Debug, thiserror::Error)]
#[error("sink `{sink}`: {source}")]
pub struct BuildError {
    pub sink: String,
    #[source]
    pub source: SinkError,
}

/// What one invocation did (the answer to anything but an SQS batch).
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// `eventbridge`, `s3`, `sns` or `none`.
    pub source: &'static str,
    pub events: u64,
    /// Alerts raised (after suppressions), whether or not a sink wanted them.
    pub alerts: u64,
    pub suppressed: u64,
    /// Messages confirmed by sinks (alerts and digests).
    pub delivered: u64,
    /// Sends left out because they were already delivered, or are being sent, by this
    /// environment or (with a shared state table) another.
    pub already_delivered: u64,
    pub objects_read: u64,
    /// Objects not read: `{"object", "reason"}`.
    pub skipped: Vec<Skipped>,
    /// Records of read objects that could not be read (each is logged with its place).
    pub unreadable_records: u64,
    /// Why there was nothing to do (`s3:TestEvent`...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nothing: Vec<&'static str>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Skipped {
    pub object: String,
    pub reason: &'static str,
}

/// The answer to an invocation.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Response {
    Summary(Summary),
    /// SQS: the messages to deliver again (the rest are deleted).
    Batch(SqsBatchResponse),
}

/// Why one piece of work (an event, a notification) failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error(
        "{object}: no object source: S3 is read through trailguard-aws, not built into this \
         function yet (set TRAILGUARD_LOCAL_OBJECTS_DIR for local runs)"
    )]
    NoObjectSource { object: String },
    #[error(
        "{object}: {size} bytes per the notification, over TRAILGUARD_MAX_OBJECT_BYTES ({limit})"
    )]
    TooLarge {
        object: String,
        size: u64,
        limit: u64,
    },
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// Nothing could be read from it (not JSON, not CloudTrail, too large once
    /// decompressed): the first reason, which names it.
    #[error("{0}")]
    Unreadable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("delivery failed: {}", .0.join("; "))]
    Delivery(Vec<String>),
}

/// Why an invocation failed: Lambda retries it, or sends it to the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("unreadable event: {0}")]
    BadEvent(#[from] EnvelopeError),
    #[error("{0}")]
    Work(#[from] WorkError),
    #[error("{failed} of {total} records failed: {}", .errors.join("; "))]
    Records {
        failed: usize,
        total: usize,
        errors: Vec<String>,
    },
}

impl HandlerError {
    /// The `errorType` Lambda records (and passes to a dead-letter queue).
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::BadEvent(_) => "trailguard.BadEvent",
            HandlerError::Work(WorkError::Delivery(_)) => "trailguard.DeliveryFailed",
            HandlerError::Work(WorkError::Fetch(_) | WorkError::TooLarge { .. }) => {
                "trailguard.FetchFailed"
            }
            HandlerError::Work(WorkError::NoObjectSource { .. }) => "trailguard.NoObjectSource",
            HandlerError::Work(WorkError::Unreadable(_)) => "trailguard.Unreadable",
            HandlerError::Work(WorkError::Store(_)) => "trailguard.StateStore",
            HandlerError::Records { .. } => "trailguard.RecordsFailed",
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// A store that judges through the environment's store but never drops an alert as
/// already reported: alerts are deduplicated per sink at delivery ([`Ledger`]), so an
/// alert whose delivery failed is raised again when the invocation is retried.
struct Judging<'a>(&'a mut (dyn Store + Send));

impl Store for Judging<'_> {
    fn begin(&mut self) -> Result<(), StoreError> {
        self.0.begin()
    }
    fn commit(&mut self) -> Result<(), StoreError> {
        self.0.commit()
    }
    fn observe(
        &mut self,
        scope: &str,
        key: &str,
        value: &str,
        at_ms: i64,
    ) -> Result<Sighting, StoreError> {
        self.0.observe(scope, key, value, at_ms)
    }
    fn window_add(
        &mut self,
        scope: &str,
        key: &str,
        at_ms: i64,
        item: Option<&str>,
        window_ms: i64,
    ) -> Result<WindowCount, StoreError> {
        self.0.window_add(scope, key, at_ms, item, window_ms)
    }
    fn remember(
        &mut self,
        scope: &str,
        key: &str,
        fact: Remembered,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        self.0.remember(scope, key, fact, ttl_ms)
    }
    fn recall(
        &mut self,
        scope: &str,
        key: &str,
        now_ms: i64,
    ) -> Result<Option<Remembered>, StoreError> {
        self.0.recall(scope, key, now_ms)
    }
    fn alert_seen(&mut self, _alert_id: &str) -> Result<bool, StoreError> {
        Ok(false)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl App {
    /// Builds the sinks (an unusable one fails the init, naming it and not its URL).
    pub fn new(
        config: LambdaConfig,
        objects: Option<Box<dyn ObjectSource>>,
        state: Box<dyn Store + Send>,
    ) -> Result<App, BuildError> {
        let sinks = config
            .routing
            .sinks
            .iter()
            .map(|s| {
                let sink = s
                    .target
                    .build_with(Some(SEND_RETRY))
                    .map_err(|source| BuildError {
                        sink: s.name.clone(),
                        source,
                    })?;
                Ok((s.name.clone(), Arc::from(sink)))
            })
            .collect::<Result<Vec<_>, BuildError>>()?;
        let scanner = Scanner::new(config.rules.clone(), config.min_severity, config.window_ms);
        let router = Router::new(&config.routing);
        Ok(App {
            config,
            scanner,
            router,
            sinks,
            objects,
            state: Mutex::new(state),
            ledger: Mutex::new(Ledger::default()),
        })
    }

    pub fn config(&self) -> &LambdaConfig {
        &self.config
    }

    /// Handles one invocation's payload (its JSON text).
    pub async fn handle(&self, payload: &str) -> Result<Response, HandlerError> {
        let payload = match parse_payload(payload) {
            Ok(p) => p,
            Err(e) => {
                log::error(&format!("unreadable event: {e}"));
                return Err(e.into());
            }
        };
        match payload {
            Payload::Direct(work) => {
                let mut summary = Summary {
                    source: match &work {
                        Work::Event(_) => "eventbridge",
                        Work::Objects(_) => "s3",
                        Work::Nothing(_) => "none",
                    },
                    ..Summary::default()
                };
                let result = self.run(&work, &mut summary).await;
                log::summary(&summary);
                if let Err(e) = &result {
                    log::error(&e.to_string());
                }
                result?;
                Ok(Response::Summary(summary))
            }
            Payload::Sqs(items) => {
                let mut failures = Vec::new();
                let mut summary = Summary {
                    source: "sqs",
                    ..Summary::default()
                };
                for item in items {
                    let outcome = match &item.work {
                        Ok(work) => self
                            .run(work, &mut summary)
                            .await
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    if let Err(e) = outcome {
                        log::error(&format!("SQS message {}: {e}", item.id));
                        let mut failure = BatchItemFailure::default();
                        failure.item_identifier = item.id;
                        failures.push(failure);
                    }
                }
                log::summary(&summary);
                let mut batch = SqsBatchResponse::default();
                batch.batch_item_failures = failures;
                Ok(Response::Batch(batch))
            }
            Payload::Sns(items) => {
                let mut summary = Summary {
                    source: "sns",
                    ..Summary::default()
                };
                let total = items.len();
                let mut errors = Vec::new();
                for item in items {
                    let outcome = match &item.work {
                        Ok(work) => self
                            .run(work, &mut summary)
                            .await
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    if let Err(e) = outcome {
                        errors.push(format!("SNS message {}: {e}", item.id));
                    }
                }
                log::summary(&summary);
                if errors.is_empty() {
                    Ok(Response::Summary(summary))
                } else {
                    Err(HandlerError::Records {
                        failed: errors.len(),
                        total,
                        errors,
                    })
                }
            }
        }
    }

    /// Reads, judges and delivers one piece of work.
    async fn run(&self, work: &Work, summary: &mut Summary) -> Result<(), WorkError> {
        let alerts = match work {
            Work::Nothing(why) => {
                summary.nothing.push(why);
                return Ok(());
            }
            Work::Event(text) => self.judge("EventBridge event", text.as_bytes(), summary)?,
            Work::Objects(objects) => {
                let mut alerts = Vec::new();
                for o in objects {
                    let name = o.to_string();
                    if self.config.keys == KeyFilter::CloudTrail {
                        let kind = KeyKind::of(&o.key);
                        if kind != KeyKind::Log {
                            summary.skipped.push(Skipped {
                                object: name,
                                reason: kind.as_str(),
                            });
                            continue;
                        }
                    }
                    let limit = self.config.max_object_bytes;
                    if let Some(size) = o.size.filter(|s| *s > limit) {
                        return Err(WorkError::TooLarge {
                            object: name,
                            size,
                            limit,
                        });
                    }
                    let Some(source) = &self.objects else {
                        return Err(WorkError::NoObjectSource { object: name });
                    };
                    let bytes = source.fetch(&o.bucket, &o.key, limit).await?;
                    alerts.extend(self.judge(&name, &bytes, summary)?);
                    summary.objects_read += 1;
                }
                alerts
            }
        };
        self.deliver(alerts, summary).await
    }

    /// Reads `bytes` as the CLI reads a file called `name` and judges its events.
    fn judge(
        &self,
        name: &str,
        bytes: &[u8],
        summary: &mut Summary,
    ) -> Result<Vec<Alert>, WorkError> {
        let opts = ReadOptions {
            max_decompressed_bytes: self.config.max_decompressed_bytes,
            threads: 1,
            max_errors: 20,
            ..ReadOptions::default()
        };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = self.scanner.scan(
            |on_event| read_bytes(name, bytes, &opts, on_event),
            (None, None),
            &mut Judging(&mut **state),
        )?;
        state.commit()?;
        drop(state);
        let read = &outcome.summary;
        if read.nothing_read() {
            let reason = read.errors.first().map_or_else(
                || format!("{name}: nothing could be read"),
                |e| e.to_string(),
            );
            return Err(WorkError::Unreadable(reason));
        }
        for e in &read.errors {
            log::warn(&e.to_string());
        }
        summary.events += read.events;
        summary.unreadable_records += read.records_skipped;
        Ok(outcome.alerts)
    }

    /// Redacts, routes, logs and sends; fails if any send failed.
    async fn deliver(
        &self,
        mut alerts: Vec<Alert>,
        summary: &mut Summary,
    ) -> Result<(), WorkError> {
        redact_alerts(&mut alerts);
        let now = now_ms();
        let mut folder = DigestFolder::from_config(&self.config.routing);
        let mut outgoing: Vec<(String, Outgoing)> = Vec::new();
        for alert in alerts {
            match self.router.route(&alert, now) {
                RouteDecision::Suppressed(s) => {
                    summary.suppressed += 1;
                    log::info(&format!(
                        "alert {} ({}) suppressed by {} suppress #{}: {}",
                        alert.id, alert.rule.id, self.config.routing.origin, s.number, s.reason
                    ));
                }
                RouteDecision::Deliver(sinks) => {
                    summary.alerts += 1;
                    if self.config.log_alerts {
                        log::alert(&alert);
                    }
                    for sink in sinks {
                        for out in folder.push(&sink, alert.clone(), now) {
                            outgoing.push((sink.clone(), out));
                        }
                    }
                }
            }
        }
        for out in folder.flush_all() {
            if let Outgoing::Digest(d) = &out {
                outgoing.push((d.sink.clone(), out));
            }
        }
        let mut failures = Vec::new();
        for (name, out) in outgoing {
            let (id, what) = match &out {
                Outgoing::Single(a) => (a.id.clone(), "alert"),
                Outgoing::Digest(d) => (d.id.clone(), "digest"),
            };
            if self.ledger().contains(&name, &id) {
                summary.already_delivered += 1;
                continue;
            }
            let Some((_, sink)) = self.sinks.iter().find(|(n, _)| *n == name) else {
                continue;
            };
            if !self.claim(&id, &name) {
                summary.already_delivered += 1;
                continue;
            }
            let send = async {
                match &out {
                    Outgoing::Single(a) => sink.send(a).await,
                    Outgoing::Digest(d) => sink.send_digest(d).await,
                }
            };
            let sent = tokio::time::timeout(self.config.send_timeout, send).await;
            self.settle(&id, &name, matches!(sent, Ok(Ok(()))));
            match sent {
                Ok(Ok(())) => {
                    self.ledger().insert(&name, &id);
                    summary.delivered += 1;
                }
                Ok(Err(e)) => failures.push(format!("sink {name}: {what} {id}: {e}")),
                Err(_) => failures.push(format!(
                    "sink {name}: {what} {id}: no confirmation within {}s",
                    self.config.send_timeout.as_secs()
                )),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(WorkError::Delivery(failures))
        }
    }

    /// Claims the send in the shared store (DynamoDB: concurrent environments judging
    /// the same events send each alert once). `false`: delivered, or being sent, by
    /// someone else. A store that cannot answer does not hold the alert back: it is
    /// sent (a duplicate is better than a lost alert) and the failure logged.
    fn claim(&self, id: &str, sink: &str) -> bool {
        let lease_ms = (self.config.send_timeout + CLAIM_MARGIN).as_millis() as i64;
        let claim = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .claim_delivery(id, sink, now_ms(), lease_ms);
        match claim {
            Ok(DeliveryClaim::Claimed) => true,
            Ok(DeliveryClaim::Delivered | DeliveryClaim::Sending) => false,
            Err(e) => {
                log::warn(&format!(
                    "sink {sink}: alert {id}: cannot claim the send ({e}); sending anyway"
                ));
                true
            }
        }
    }

    /// Marks a claimed send delivered, or releases it for a retry.
    fn settle(&self, id: &str, sink: &str, delivered: bool) {
        let settled = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .settle_delivery(id, sink, delivered, now_ms());
        if let Err(e) = settled {
            log::warn(&format!(
                "sink {sink}: alert {id}: cannot record the send ({e}); {}",
                if delivered {
                    "another environment may send it again"
                } else {
                    "it is sent again once its claim expires"
                }
            ));
        }
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_forgets_the_oldest_first() {
        let mut l = Ledger::default();
        for i in 0..=LEDGER_SIZE {
            l.insert("discord", &i.to_string());
        }
        assert!(!l.contains("discord", "0"));
        assert!(l.contains("discord", "1"));
        assert!(l.contains("discord", &LEDGER_SIZE.to_string()));
        assert!(!l.contains("slack", "1"));
        assert_eq!(l.set.len(), LEDGER_SIZE);
    }
}
