//! Running the outbox's delivery for one command (`detect`, `alerts retry`) and
//! telling the person at the terminal what happened: every alert that is not
//! delivered is named on stderr, never dropped silently.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Result};
use trailguard_core::rule::parse_duration;
use trailguard_io::config::Config;
use trailguard_io::outbox::{
    system_now_ms, Delivery, DeliveryConfig, DeliveryEvent, MessageKind, NamedSink, Outbox,
};

use crate::args::DeliveryArgs;

/// How long sends in flight may finish once the delivery timeout has passed.
const GRACE: Duration = Duration::from_secs(5);

/// `--delivery-timeout` and `--expire-after`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryOptions {
    pub timeout: Duration,
    pub expiry: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            timeout: Duration::from_secs(60),
            expiry: trailguard_io::outbox::DEFAULT_EXPIRY,
        }
    }
}

impl DeliveryOptions {
    /// `--delivery-timeout`, and `--expire-after` or else the config file's `[delivery]
    /// expiry` (24 h by default).
    pub fn from_args(a: &DeliveryArgs, config: &Config) -> Result<DeliveryOptions> {
        let duration = |flag: &str, v: &str| -> Result<Duration> {
            let ms = parse_duration(v).map_err(|e| anyhow!("--{flag}: {e}"))?;
            Ok(Duration::from_millis(ms as u64))
        };
        Ok(DeliveryOptions {
            timeout: duration("delivery-timeout", &a.delivery_timeout)?,
            expiry: match &a.expire_after {
                Some(v) => duration("expire-after", v)?,
                None => DeliveryOptions::for_config(config).expiry,
            },
        })
    }

    /// The defaults, with the config file's `[delivery] expiry`.
    pub fn for_config(config: &Config) -> DeliveryOptions {
        DeliveryOptions {
            expiry: Duration::from_millis(config.delivery.expiry_ms.max(1) as u64),
            ..DeliveryOptions::default()
        }
    }
}

/// What a delivery run left undelivered: failed, expired, or still pending for the
/// sinks it delivered to. Anything above zero makes the command exit 2.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Undelivered {
    pub failed: u64,
    pub expired: u64,
    pub pending: u64,
}

impl Undelivered {
    pub fn any(&self) -> bool {
        self.failed + self.expired + self.pending > 0
    }
}

/// What a delivery run did.
#[derive(Debug, Default)]
pub struct Delivered {
    pub undelivered: Undelivered,
    /// Messages delivered, with their kind and id.
    pub messages: Vec<(MessageKind, String)>,
    /// `discord 3 delivered; jsonl:a.jsonl 2 delivered, 1 pending`.
    pub line: String,
}

impl Delivered {
    /// Messages delivered; digests among them; alerts those digests folded (as
    /// `folded_by` counts them, for the digests it knows).
    pub fn sent(&self, folded_by: impl Fn(&str) -> usize) -> crate::sinks::Sent {
        let digests: Vec<&String> = self
            .messages
            .iter()
            .filter(|(k, _)| *k == MessageKind::Digest)
            .map(|(_, id)| id)
            .collect();
        crate::sinks::Sent {
            messages: self.messages.len(),
            digests: digests.len(),
            folded: digests.iter().map(|id| folded_by(id)).sum(),
        }
    }
}

/// Delivers what `outbox` has pending for `sinks` until nothing is left, or the
/// timeout. First marks (and reports) every delivery past its expiry, whichever its
/// sink. Failures, expiries and (unless `quiet`) retries are reported on stderr as
/// they happen; the per-sink line is printed when something is left undelivered, or
/// when `summarize`.
pub fn deliver(
    mut outbox: Outbox,
    sinks: Vec<NamedSink>,
    options: &DeliveryOptions,
    quiet: bool,
    summarize: bool,
) -> Result<Delivered> {
    let mut done = Delivered::default();
    let left = &mut done.undelivered;
    let state = outbox.path().map(Path::to_owned);
    for ended in outbox.expire(None, system_now_ms())? {
        report(&DeliveryEvent::Expired(ended), quiet);
        left.expired += 1;
    }
    if sinks.is_empty() {
        let pending: u64 = outbox.counts()?.values().map(|c| c.pending).sum();
        if pending > 0 {
            if let Some(path) = &state {
                eprintln!(
                    "note: {pending} deliveries are pending in {} for sinks not given here: \
                     `trailguard alerts list --state {} --status pending` shows them",
                    path.display(),
                    path.display()
                );
            }
        }
        return Ok(done);
    }
    let names: Vec<String> = sinks.iter().map(|s| s.name.clone()).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let messages: Arc<Mutex<Vec<(MessageKind, String)>>> = Arc::default();
    let seen = Arc::clone(&messages);
    let config = DeliveryConfig {
        expiry: options.expiry,
        stop_when_idle: true,
        on_event: Some(Arc::new(move |e: &DeliveryEvent| {
            if let DeliveryEvent::Delivered { kind, alert_id, .. } = e {
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((*kind, alert_id.clone()));
            }
            report(e, quiet)
        })),
        ..DeliveryConfig::default()
    };
    let (report, shared) = runtime.block_on(async {
        let delivery = Delivery::start(outbox, sinks, config);
        let shared = delivery.outbox();
        (
            delivery.run_until_idle(options.timeout, GRACE).await,
            shared,
        )
    });
    done.messages = std::mem::take(&mut *messages.lock().unwrap_or_else(|p| p.into_inner()));
    let left = &mut done.undelivered;
    let counts = shared.lock().unwrap_or_else(|p| p.into_inner()).counts()?;
    let total = report.total();
    left.failed += total.failed_permanent;
    left.expired += total.expired;
    let mut pending_by_sink = Vec::new();
    for name in &names {
        let pending = counts.get(name).map_or(0, |c| c.pending);
        if pending > 0 {
            left.pending += pending;
            pending_by_sink.push(format!("{name}: {pending}"));
        }
    }
    let per_sink: Vec<String> = names
        .iter()
        .map(|name| {
            let run = report.sinks.get(name).copied().unwrap_or_default();
            let pending = counts.get(name).map_or(0, |c| c.pending);
            let mut parts = vec![format!("{} delivered", run.delivered)];
            for (n, word) in [
                (run.failed_permanent, "failed"),
                (run.expired, "expired"),
                (pending, "pending"),
            ] {
                if n > 0 {
                    parts.push(format!("{n} {word}"));
                }
            }
            format!("{name} {}", parts.join(", "))
        })
        .collect();
    done.line = format!("trailguard: delivery: {}", per_sink.join("; "));
    let left = done.undelivered;
    if (summarize && !quiet) || left.any() {
        eprintln!("{}", done.line);
    }
    if left.pending > 0 {
        match &state {
            Some(path) => eprintln!(
                "note: {} deliveries still pending after {} ({}) are kept in {}: the next \
                 run with the same sinks sends them, or now: trailguard alerts retry --all \
                 --state {} --sink ... (or --config FILE)",
                left.pending,
                human(options.timeout),
                pending_by_sink.join(", "),
                path.display(),
                path.display()
            ),
            None => eprintln!(
                "error: {} deliveries not made within {} ({}) and not kept (no --state): the \
                 alerts are printed above; use --state FILE to keep undelivered alerts and \
                 retry them",
                left.pending,
                human(options.timeout),
                pending_by_sink.join(", ")
            ),
        }
    }
    Ok(done)
}

/// One stderr line per event a person must know about; retries are warnings
/// (hidden by --quiet), failures and expiries are errors (always shown).
pub fn report(e: &DeliveryEvent, quiet: bool) {
    match e {
        DeliveryEvent::Delivered { .. } => {}
        DeliveryEvent::Retrying {
            alert_id,
            sink,
            attempts,
            error,
            retry_in,
            ..
        } => {
            if !quiet {
                eprintln!(
                    "warning: {sink}: alert {alert_id} not delivered (attempt {attempts}): \
                     {error}; trying again in {}",
                    human(*retry_in)
                );
            }
        }
        DeliveryEvent::Failed {
            alert_id,
            rule_id,
            sink,
            attempts,
            error,
        } => eprintln!(
            "error: {sink}: alert {alert_id} ({rule_id}) not delivered and not retried \
             (failed after {attempts} attempt(s)): {error}"
        ),
        DeliveryEvent::Expired(ended) => eprintln!(
            "error: {}: alert {} ({}) expired undelivered after {} attempt(s){}",
            ended.sink,
            ended.alert_id,
            ended.rule_id,
            ended.attempts,
            ended
                .last_error
                .as_deref()
                .map(|e| format!("; last error: {e}"))
                .unwrap_or_default()
        ),
        DeliveryEvent::OutboxError { sink, error } => eprintln!("error: {sink}: {error}"),
    }
}

/// `350 ms`, `12 s`, `4 min`, `2 h`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=119_999 => format!("{} s", (ms + 500) / 1_000),
        120_000..=7_199_999 => format!("{} min", (ms + 30_000) / 60_000),
        _ => format!("{} h", (ms + 1_800_000) / 3_600_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_durations() {
        let config = Config::empty();
        let o = DeliveryOptions::from_args(
            &DeliveryArgs {
                delivery_timeout: "90s".into(),
                expire_after: Some("2d".into()),
            },
            &config,
        )
        .unwrap();
        assert_eq!(o.timeout, Duration::from_secs(90));
        assert_eq!(o.expiry, Duration::from_secs(2 * 86_400));
        let o = DeliveryOptions::from_args(
            &DeliveryArgs {
                delivery_timeout: "60s".into(),
                expire_after: None,
            },
            &config,
        )
        .unwrap();
        assert_eq!(o.expiry, Duration::from_secs(86_400), "[delivery] expiry");
        let e = DeliveryOptions::from_args(
            &DeliveryArgs {
                delivery_timeout: "soon".into(),
                expire_after: None,
            },
            &config,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("--delivery-timeout: "), "{e}");
        assert_eq!(human(Duration::from_millis(350)), "350 ms");
        assert_eq!(human(Duration::from_secs(12)), "12 s");
        assert_eq!(human(Duration::from_secs(600)), "10 min");
        assert_eq!(human(Duration::from_secs(86_400)), "24 h");
    }
}
