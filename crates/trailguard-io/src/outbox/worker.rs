//! The loop of one sink's worker: claim the next due delivery, send it, record the
//! outcome, and pause the sink after failures (the policy is in [`super::deliver`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use trailguard_core::Alert;

use crate::digest::Digest;

use super::backoff::random_unit;
use super::deliver::{DeliveryConfig, DeliveryEvent, DeliveryReport, NamedSink, SinkRun};
use super::queue::{Claimed, MessageKind, Outcome};
use super::{Clock, Outbox, OutboxError};
use crate::sink::SinkError;

/// What the workers share.
pub(super) struct Shared {
    pub(super) outbox: Arc<Mutex<Outbox>>,
    pub(super) config: DeliveryConfig,
    pub(super) report: Mutex<DeliveryReport>,
}

impl Shared {
    fn event(&self, e: DeliveryEvent) {
        {
            let mut report = self.report.lock().unwrap_or_else(|p| p.into_inner());
            let (sink, bump): (&str, fn(&mut SinkRun)) = match &e {
                DeliveryEvent::Delivered { sink, .. } => (sink, |r| r.delivered += 1),
                DeliveryEvent::Retrying { sink, .. } => (sink, |r| r.retries += 1),
                DeliveryEvent::Failed { sink, .. } => (sink, |r| r.failed_permanent += 1),
                DeliveryEvent::Expired(e) => (&e.sink, |r| r.expired += 1),
                DeliveryEvent::OutboxError { sink, .. } => (sink, |r| r.outbox_errors += 1),
            };
            bump(report.sinks.entry(sink.to_owned()).or_default());
        }
        if let Some(f) = &self.config.on_event {
            f(&e);
        }
    }

    /// Runs `f` on the outbox on the blocking pool.
    pub(super) async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Outbox) -> Result<T, OutboxError> + Send + 'static,
    ) -> Result<T, OutboxError> {
        let outbox = Arc::clone(&self.outbox);
        let location = || {
            self.outbox.lock().map_or_else(
                |p| p.into_inner().location().to_owned(),
                |o| o.location().to_owned(),
            )
        };
        match tokio::task::spawn_blocking(move || {
            f(&mut outbox.lock().unwrap_or_else(|p| p.into_inner()))
        })
        .await
        {
            Ok(r) => r,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(OutboxError::Refused {
                location: location(),
                reason: "the delivery was stopped".into(),
            }),
        }
    }
}

pub(super) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// One sink's loop. See the module documentation.
pub(super) async fn run_worker(
    shared: Arc<Shared>,
    sink: NamedSink,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let clock = Arc::clone(&shared.config.clock);
    let backoff = shared.config.backoff;
    let name = sink.name.clone();
    // Consecutive transient failures of the sink, and the pause they impose.
    let mut streak = 0u32;
    let mut paused_until: Option<i64> = None;
    // Outcomes the outbox could not record yet (full disk): kept here so the alert
    // is not sent again by this process, written as soon as the outbox can.
    let mut unrecorded: Vec<(String, Outcome, i64)> = Vec::new();
    let mut outbox_failures = 0u32;
    loop {
        if *stop.borrow() {
            break;
        }
        let now = clock.now_ms();
        let step = async {
            if !unrecorded.is_empty() {
                let pending = unrecorded.clone();
                let sink = name.clone();
                shared
                    .db(move |o| {
                        pending
                            .iter()
                            .try_for_each(|(id, outcome, at)| o.record(id, &sink, outcome, *at))
                    })
                    .await?;
                unrecorded.clear();
            }
            let sink = name.clone();
            for ended in shared.db(move |o| o.expire(Some(&sink), now)).await? {
                shared.event(DeliveryEvent::Expired(ended));
            }
            Ok::<_, OutboxError>(())
        };
        if let Err(e) = step.await {
            outbox_failures += 1;
            shared.event(DeliveryEvent::OutboxError {
                sink: name.clone(),
                error: e.to_string(),
            });
            let retry = backoff.delay(outbox_failures, random_unit(), None);
            wait(&*clock, Some(now + millis(retry)), None, &mut stop).await;
            continue;
        }
        if let Some(until) = paused_until.filter(|&p| p > now) {
            // Paused by failures or a rate limit: new alerts wait too, but an expiry
            // during the pause is reported when it happens.
            let sink_name = name.clone();
            let expiry = shared
                .db(move |o| o.next_expiry(&sink_name))
                .await
                .ok()
                .flatten()
                .filter(|&e| e > now);
            let until = expiry.map_or(until, |e| e.min(until));
            wait(&*clock, Some(until), None, &mut stop).await;
            continue;
        }
        let lease = now.saturating_add(millis(shared.config.attempt_timeout) + 30_000);
        let sink_name = name.clone();
        let claimed = match shared.db(move |o| o.claim(&sink_name, now, lease)).await {
            Ok(c) => c,
            Err(e) => {
                outbox_failures += 1;
                shared.event(DeliveryEvent::OutboxError {
                    sink: name.clone(),
                    error: e.to_string(),
                });
                let retry = backoff.delay(outbox_failures, random_unit(), None);
                wait(&*clock, Some(now + millis(retry)), None, &mut stop).await;
                continue;
            }
        };
        outbox_failures = 0;
        let Some(claimed) = claimed else {
            let sink_name = name.clone();
            let idle = move |o: &mut Outbox| {
                o.maintain(true)?;
                o.next_wake(&sink_name)
            };
            match shared.db(idle).await {
                Ok(None) if shared.config.stop_when_idle => break,
                Ok(next) => wait(&*clock, next, Some(&wake), &mut stop).await,
                Err(e) => {
                    shared.event(DeliveryEvent::OutboxError {
                        sink: name.clone(),
                        error: e.to_string(),
                    });
                    let retry = backoff.delay(1, random_unit(), None);
                    wait(&*clock, Some(now + millis(retry)), None, &mut stop).await;
                }
            }
            continue;
        };
        let (outcome, recovered) =
            attempt(&shared, &sink, &claimed, &mut streak, &mut paused_until).await;
        let at = clock.now_ms();
        let (id, sink_name, o) = (claimed.alert_id.clone(), name.clone(), outcome.clone());
        let recorded = shared
            .db(move |ob| {
                ob.record(&id, &sink_name, &o, at)?;
                if recovered {
                    ob.pull_forward(&sink_name, at)?;
                }
                ob.maintain(false)
            })
            .await;
        if let Err(e) = recorded {
            shared.event(DeliveryEvent::OutboxError {
                sink: name.clone(),
                error: e.to_string(),
            });
            unrecorded.push((claimed.alert_id, outcome, at));
        }
    }
}

/// A claimed message, read back from its JSON.
#[allow(clippy::large_enum_variant)] // one at a time, never stored in bulk
enum Message {
    Alert(Alert),
    Digest(Digest),
}

/// One send of a claimed delivery, and what it means for the sink's pause. Returns
/// the outcome to record, and whether the sink just came back from an outage.
async fn attempt(
    shared: &Shared,
    sink: &NamedSink,
    claimed: &Claimed,
    streak: &mut u32,
    paused_until: &mut Option<i64>,
) -> (Outcome, bool) {
    let config = &shared.config;
    let attempts = claimed.attempts + 1;
    let message = match claimed.kind {
        MessageKind::Alert => serde_json::from_str(&claimed.alert_json).map(Message::Alert),
        MessageKind::Digest => serde_json::from_str(&claimed.alert_json).map(Message::Digest),
    };
    let message = match message {
        Ok(m) => m,
        Err(e) => {
            let error = format!(
                "the {} stored in the outbox cannot be read: {e}",
                claimed.kind.as_str()
            );
            shared.event(DeliveryEvent::Failed {
                alert_id: claimed.alert_id.clone(),
                rule_id: claimed.rule_id.clone(),
                sink: sink.name.clone(),
                attempts,
                error: error.clone(),
            });
            return (Outcome::Failed { error }, false);
        }
    };
    let send = match &message {
        Message::Alert(alert) => sink.sink.send(alert),
        Message::Digest(digest) => sink.sink.send_digest(digest),
    };
    let sent = tokio::time::timeout(config.attempt_timeout, send).await;
    let now = config.clock.now_ms();
    let error = match sent {
        Ok(Ok(())) => {
            let recovered = *streak >= 2;
            *streak = 0;
            *paused_until = None;
            shared.event(DeliveryEvent::Delivered {
                kind: claimed.kind,
                alert_id: claimed.alert_id.clone(),
                sink: sink.name.clone(),
                attempts,
            });
            return (Outcome::Delivered, recovered);
        }
        Ok(Err(e)) => e,
        Err(_) => SinkError::Timeout { attempts: 1 },
    };
    if !error.is_transient() {
        let error = error.to_string();
        shared.event(DeliveryEvent::Failed {
            alert_id: claimed.alert_id.clone(),
            rule_id: claimed.rule_id.clone(),
            sink: sink.name.clone(),
            attempts,
            error: error.clone(),
        });
        return (Outcome::Failed { error }, false);
    }
    let server_wait = match &error {
        SinkError::RateLimited { retry_after, .. } => *retry_after,
        _ => None,
    };
    *streak += 1;
    let backoff = config.backoff;
    let pause = backoff.delay(*streak, random_unit(), server_wait);
    let own = backoff.delay(attempts, random_unit(), server_wait);
    *paused_until = Some(now.saturating_add(millis(pause)));
    let error = error.to_string();
    shared.event(DeliveryEvent::Retrying {
        alert_id: claimed.alert_id.clone(),
        rule_id: claimed.rule_id.clone(),
        sink: sink.name.clone(),
        attempts,
        error: error.clone(),
        retry_in: own,
        sink_paused_for: pause,
    });
    (
        Outcome::Retry {
            next_attempt_ms: now.saturating_add(millis(own)),
            error,
        },
        false,
    )
}

/// Waits until `until` on the clock (forever when `None`), a wake-up (when given),
/// or the stop signal.
async fn wait(
    clock: &dyn Clock,
    until: Option<i64>,
    wake: Option<&Notify>,
    stop: &mut watch::Receiver<bool>,
) {
    let sleep = async {
        match until {
            Some(t) => clock.sleep_until(t).await,
            None => std::future::pending().await,
        }
    };
    let woken = async {
        match wake {
            Some(n) => n.notified().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = sleep => {}
        _ = woken => {}
        // The sender always says stop before it is dropped (`Drop for Delivery`).
        _ = stop.changed() => {}
    }
}
