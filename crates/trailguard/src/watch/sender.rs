//! `watch`'s delivery: the outbox's per-sink workers, running for as long as `watch`
//! does, on a thread of their own (the watch loop itself is synchronous). Alerts are
//! recorded in the outbox first (with `--state`, in the same transaction as the state
//! and the files they came from), then the workers are woken; what they cannot send
//! now stays in the outbox, retried with backoff, and survives a restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Result};
use tokio::sync::mpsc;
use trailguard_core::Alert;
use trailguard_io::digest::Digest;
use trailguard_io::outbox::{
    Delivery, DeliveryConfig, DeliveryEvent, DeliveryReport, NamedSink, OnEvent, Outbox,
};

use super::Metrics;

enum Command {
    Wake,
    Shutdown(Duration, std::sync::mpsc::Sender<DeliveryReport>),
}

pub struct Sender {
    commands: mpsc::UnboundedSender<Command>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The workers' outbox: queued into directly when there is no state file, and read
    /// for the depth gauge.
    outbox: Arc<Mutex<Outbox>>,
    pub expiry: Duration,
}

impl Sender {
    pub fn start(
        outbox: Outbox,
        sinks: Vec<NamedSink>,
        expiry: Duration,
        metrics: Arc<Metrics>,
        quiet: bool,
    ) -> Result<Sender> {
        let (commands, mut rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let on_event: OnEvent = Arc::new(move |e: &DeliveryEvent| report(e, &metrics, quiet));
        let thread = std::thread::Builder::new()
            .name("watch-delivery".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let delivery = Delivery::start(
                        outbox,
                        sinks,
                        DeliveryConfig {
                            expiry,
                            on_event: Some(on_event),
                            ..DeliveryConfig::default()
                        },
                    );
                    let _ = ready_tx.send(Ok(delivery.outbox()));
                    while let Some(command) = rx.recv().await {
                        match command {
                            Command::Wake => delivery.wake(),
                            Command::Shutdown(deadline, reply) => {
                                let _ = reply.send(delivery.shutdown(deadline).await);
                                return;
                            }
                        }
                    }
                });
            })?;
        let outbox = ready_rx
            .recv()
            .map_err(|_| anyhow!("the delivery thread did not start"))?
            .map_err(|e| anyhow!("cannot start delivery: {e}"))?;
        Ok(Sender {
            commands,
            thread: Some(thread),
            outbox,
            expiry,
        })
    }

    /// Queues in the workers' own (in-memory) outbox, then wakes them.
    pub fn enqueue_here(
        &self,
        alerts: &[Alert],
        sinks_of: &dyn Fn(&Alert) -> Vec<String>,
        digests: &[Digest],
        now_ms: i64,
    ) -> Result<()> {
        {
            let mut outbox = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
            outbox.enqueue(alerts, sinks_of, now_ms, self.expiry)?;
            outbox.enqueue_digests(digests, now_ms, self.expiry)?;
        }
        self.wake();
        Ok(())
    }

    /// Tells the workers something new was recorded.
    pub fn wake(&self) {
        let _ = self.commands.send(Command::Wake);
    }

    /// Deliveries not yet done, across sinks.
    pub fn depth(&self) -> i64 {
        let mut outbox = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
        outbox
            .counts()
            .map(|c| c.values().map(|s| s.undelivered() as i64).sum())
            .unwrap_or(0)
    }

    /// Lets sends in flight finish (up to `deadline`); the rest stays in the outbox.
    /// Returns how many deliveries are left.
    pub fn shutdown(mut self, deadline: Duration) -> i64 {
        let (tx, rx) = std::sync::mpsc::channel();
        let _ = self.commands.send(Command::Shutdown(deadline, tx));
        let _ = rx.recv_timeout(deadline + Duration::from_secs(5));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.depth()
    }
}

/// Counts each delivery event, and says on stderr what a person must know (as
/// `detect` does).
fn report(e: &DeliveryEvent, metrics: &Metrics, quiet: bool) {
    match e {
        DeliveryEvent::Delivered { sink, .. } => metrics.delivery(sink, true),
        DeliveryEvent::Retrying { sink, .. } | DeliveryEvent::Failed { sink, .. } => {
            metrics.delivery(sink, false)
        }
        DeliveryEvent::Expired(_) | DeliveryEvent::OutboxError { .. } => {}
    }
    crate::delivery::report(e, quiet);
}
