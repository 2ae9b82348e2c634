//! `--sink KIND=TARGET` and `--config FILE`: where a run's alerts go, and delivering
//! them: routed per sink, suppressions applied, bursts folded into digests.
//!
//! Webhook URLs are secrets: they come from the environment (preferred), the config
//! file or the command line, are validated before any input is read, and never appear
//! in any message. Routing ([`Router`]) and folding ([`DigestFolder`]) decide what
//! each sink gets ([`fold`]); the outbox delivers it (`crate::delivery`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use trailguard_core::Alert;
use trailguard_io::config::{
    Config, InRequestRetry, RouteFilter, SinkConfig, SinkTarget, Suppression,
};
use trailguard_io::digest::{Digest, DigestFolder, Outgoing};
use trailguard_io::outbox::NamedSink;
use trailguard_io::route::{RouteDecision, Router};
use trailguard_io::sink::{Secret, Sink, WEBHOOK_MIN_SECRET_CHARS};

pub const DISCORD_ENV: &str = "DISCORD_WEBHOOK_URL";
pub const SLACK_ENV: &str = "SLACK_WEBHOOK_URL";
pub const WEBHOOK_ENV: &str = "TRAILGUARD_WEBHOOK_URL";
pub const WEBHOOK_SECRET_ENV: &str = "TRAILGUARD_WEBHOOK_SECRET";

/// A validated `--sink`: a sink named after its kind (`jsonl:PATH` for files) that
/// takes every alert, with no digest.
#[derive(Debug)]
pub struct SinkSpec(SinkConfig);

impl SinkSpec {
    pub fn parse(spec: &str) -> Result<SinkSpec> {
        let (kind, target) = match spec.split_once('=') {
            Some((k, t)) => (k, Some(t).filter(|t| !t.is_empty())),
            None => (spec, None),
        };
        let url = |env: &str| -> Result<Secret> {
            let url = match target {
                Some(t) => t.to_owned(),
                None => std::env::var(env)
                    .ok()
                    .filter(|v| !v.trim().is_empty())
                    .ok_or_else(|| {
                        anyhow::anyhow!("--sink {kind}: no URL given and {env} is not set")
                    })?,
            };
            check_webhook_url(&url, kind)?;
            Ok(Secret::new(url))
        };
        let (name, target) = match kind {
            "discord" => (
                "discord".to_owned(),
                SinkTarget::Discord {
                    url: url(DISCORD_ENV)?,
                    mention_role: None,
                },
            ),
            "slack" => (
                "slack".to_owned(),
                SinkTarget::Slack {
                    url: url(SLACK_ENV)?,
                },
            ),
            "webhook" => {
                let url = url(WEBHOOK_ENV)?;
                let secret = std::env::var(WEBHOOK_SECRET_ENV)
                    .ok()
                    .filter(|v| !v.trim().is_empty());
                match &secret {
                    Some(s) if s.trim().chars().count() < WEBHOOK_MIN_SECRET_CHARS => bail!(
                        "--sink webhook: {WEBHOOK_SECRET_ENV} must be at least \
                         {WEBHOOK_MIN_SECRET_CHARS} characters (use a long random value)"
                    ),
                    Some(_) => {}
                    None => eprintln!(
                        "warning: --sink webhook: {WEBHOOK_SECRET_ENV} is not set: requests \
                         are sent unsigned, and receivers cannot tell them from forged ones"
                    ),
                }
                (
                    "webhook".to_owned(),
                    SinkTarget::Webhook {
                        url,
                        secret: secret.map(Secret::new),
                    },
                )
            }
            "jsonl" => match target {
                Some(path) => (
                    format!("jsonl:{path}"),
                    SinkTarget::Jsonl {
                        path: PathBuf::from(path),
                    },
                ),
                None => bail!("--sink jsonl needs a file: jsonl=PATH"),
            },
            other => bail!(
                "--sink: unknown kind `{}` (expected discord[=URL], slack[=URL], \
                 webhook[=URL] or jsonl=PATH)",
                other.chars().take(20).collect::<String>()
            ),
        };
        Ok(SinkSpec(SinkConfig {
            name,
            target,
            filter: RouteFilter::default(),
            digest: None,
        }))
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }
}

/// The sinks and suppressions of a run: the config file's (if any), with the
/// `--sink`s added after its sinks. A `--sink` named like a file's sink is refused
/// rather than guessed at.
pub fn run_config(file: Option<&Path>, specs: Vec<SinkSpec>, quiet: bool) -> Result<Config> {
    let mut config = match file {
        Some(path) => Config::load(path)?,
        None => Config::empty(),
    };
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    for spec in specs {
        if config.sink(spec.name()).is_some() {
            match file {
                Some(f) => bail!(
                    "--sink {}: {} already has a sink named `{}`; give it once",
                    spec.name(),
                    f.display(),
                    spec.name()
                ),
                None => bail!("--sink {}: given twice", spec.name()),
            }
        }
        config.sinks.push(spec.0);
    }
    if !quiet {
        for s in config.expired_suppressions(crate::time_arg::now_ms()) {
            eprintln!(
                "note: {}: suppress #{} ({}) expired at {}: ignored",
                config.origin,
                s.number,
                s.criteria(),
                s.until()
            );
        }
    }
    Ok(config)
}

/// HTTPS only, except plain HTTP to this machine (for local receivers and tests).
/// The message never repeats the URL: it may hold the webhook token.
fn check_webhook_url(url: &str, kind: &str) -> Result<()> {
    let Some((scheme, rest)) = url.split_once("://") else {
        bail!("--sink {kind}: the webhook URL is not a URL");
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    let hostname = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or("")
    };
    let loopback = hostname == "localhost"
        || hostname
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match scheme {
        "https" if !hostname.is_empty() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => bail!("--sink {kind}: the webhook URL must use https (http only to localhost)"),
        _ => bail!("--sink {kind}: the webhook URL must be an https:// URL"),
    }
}

/// The alerts of a run, routed.
pub struct Routed {
    /// Alerts to report and deliver.
    pub alerts: Vec<Alert>,
    /// The sinks each of `alerts` goes to.
    pub sinks: Vec<Vec<String>>,
    /// Alerts an active suppression silenced, with it.
    pub suppressed: Vec<(Alert, Suppression)>,
}

impl Routed {
    /// How many alerts each suppression silenced, in file order.
    pub fn by_suppression(&self) -> Vec<(&Suppression, usize)> {
        let mut out: Vec<(&Suppression, usize)> = Vec::new();
        for (_, s) in &self.suppressed {
            match out.iter_mut().find(|(seen, _)| seen.number == s.number) {
                Some((_, n)) => *n += 1,
                None => out.push((s, 1)),
            }
        }
        out.sort_by_key(|(s, _)| s.number);
        out
    }
}

/// Routes every alert at `now_ms`.
pub fn route(config: &Config, alerts: Vec<Alert>, now_ms: i64) -> Routed {
    let router = Router::new(config);
    let mut routed = Routed {
        alerts: Vec::with_capacity(alerts.len()),
        sinks: Vec::with_capacity(alerts.len()),
        suppressed: Vec::new(),
    };
    for alert in alerts {
        match router.route(&alert, now_ms) {
            RouteDecision::Deliver(sinks) => {
                routed.alerts.push(alert);
                routed.sinks.push(sinks);
            }
            RouteDecision::Suppressed(s) => routed.suppressed.push((alert, s)),
        }
    }
    routed
}

/// What was sent.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub messages: usize,
    pub digests: usize,
    /// Alerts folded into those digests.
    pub folded: usize,
}

/// The sinks of a run, built before any input is read so that one that cannot work
/// (a jsonl folder that does not exist, an unusable URL) fails the run before
/// anything is recorded. HTTP sinks make two attempts per send and wait at most
/// 10 s within one: the outbox owns retrying over minutes and hours.
pub fn build_sinks(config: &Config) -> Result<Vec<NamedSink>> {
    let retry = InRequestRetry {
        max_attempts: 2,
        max_wait: Duration::from_secs(10),
    };
    config
        .sinks
        .iter()
        .map(|s| {
            let sink: Box<dyn Sink> = s
                .target
                .build_with(Some(retry))
                .map_err(|e| anyhow::anyhow!("sink `{}`: {e}", s.name))?;
            Ok(NamedSink::named(s.name.clone(), Arc::from(sink)))
        })
        .collect()
}

/// What a run queues in the outbox: each routed alert to the sinks it goes out to on
/// its own, and the digests that fold the rest of a burst (one per sink and window).
#[derive(Debug, Default)]
pub struct Queued {
    singles: HashMap<String, Vec<String>>,
    pub digests: Vec<Digest>,
}

impl Queued {
    /// The sinks `alert` goes to on its own (the outbox's routing hook).
    pub fn sinks_of(&self, alert: &Alert) -> Vec<String> {
        self.singles.get(&alert.id).cloned().unwrap_or_default()
    }
}

/// Folds bursts per sink (`digest` in the config: the first `max` alerts of the run
/// go out one by one, the rest as one digest).
pub fn fold(config: &Config, routed: &Routed, now_ms: i64) -> Queued {
    let mut folder = DigestFolder::from_config(config);
    let mut queued = Queued::default();
    for (alert, sinks) in routed.alerts.iter().zip(&routed.sinks) {
        for sink in sinks {
            for out in folder.push(sink, alert.clone(), now_ms) {
                // A single is the alert pushed, or one held before it.
                match out {
                    Outgoing::Single(a) => {
                        queued.singles.entry(a.id).or_default().push(sink.clone())
                    }
                    Outgoing::Digest(d) => queued.digests.push(d),
                }
            }
        }
    }
    for out in folder.flush_all() {
        if let Outgoing::Digest(d) = out {
            queued.digests.push(d);
        }
    }
    queued
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_checked_without_echoing_them() {
        assert!(check_webhook_url("https://discord.com/api/webhooks/1/tok", "discord").is_ok());
        assert!(check_webhook_url("http://127.0.0.1:9/x", "discord").is_ok());
        assert!(check_webhook_url("http://[::1]:9/x", "discord").is_ok());
        for bad in [
            "http://example.com/tok-secret",
            "ftp://h/tok-secret",
            "tok-secret",
        ] {
            let err = check_webhook_url(bad, "discord").unwrap_err().to_string();
            assert!(!err.contains("tok-secret"), "{err}");
        }
    }

    #[test]
    fn sink_specs() {
        let j = SinkSpec::parse("jsonl=/tmp/a").unwrap();
        assert_eq!(j.name(), "jsonl:/tmp/a");
        assert!(SinkSpec::parse("jsonl").is_err());
        assert!(SinkSpec::parse("smoke=signal").is_err());
        let d = SinkSpec::parse("discord=https://discord.com/api/webhooks/1/secret-token").unwrap();
        assert_eq!(d.name(), "discord");
        assert!(!format!("{d:?}").contains("secret-token"));
        let s = SinkSpec::parse("slack=https://hooks.slack.com/services/T/B/secret-token").unwrap();
        assert_eq!(s.name(), "slack");
        assert!(!format!("{s:?}").contains("secret-token"));
    }

    #[test]
    fn command_line_sinks_join_the_file_and_may_not_repeat() {
        let a = SinkSpec::parse("jsonl=/tmp/a").unwrap();
        let b = SinkSpec::parse("jsonl=/tmp/a").unwrap();
        let e = run_config(None, vec![a, b], true).unwrap_err().to_string();
        assert_eq!(e, "--sink jsonl:/tmp/a: given twice");
        let c = run_config(None, vec![SinkSpec::parse("jsonl=/tmp/b").unwrap()], true).unwrap();
        assert_eq!(c.sinks.len(), 1);
    }
}
