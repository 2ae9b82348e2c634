//! `--sink KIND=TARGET`: parsing, and delivering the alerts of one run.
//!
//! Webhook URLs are secrets: they come from the environment (preferred) or the
//! command line, are validated here, and never appear in any message.

use std::path::PathBuf;

use anyhow::{bail, Result};
use trailguard_core::Alert;
use trailguard_io::sink::{DiscordSink, JsonlSink, Secret, Sink};

pub const DISCORD_ENV: &str = "DISCORD_WEBHOOK_URL";

/// A validated `--sink`.
#[derive(Debug)]
pub enum SinkSpec {
    Discord(Secret),
    Jsonl(PathBuf),
}

impl SinkSpec {
    pub fn parse(spec: &str) -> Result<SinkSpec> {
        let (kind, target) = match spec.split_once('=') {
            Some((k, t)) => (k, Some(t)),
            None => (spec, None),
        };
        match (kind, target) {
            ("discord", target) => {
                let url = match target {
                    Some(t) if !t.is_empty() => t.to_owned(),
                    _ => std::env::var(DISCORD_ENV).map_err(|_| {
                        anyhow::anyhow!("--sink discord: no URL given and {DISCORD_ENV} is not set")
                    })?,
                };
                check_webhook_url(&url, "discord")?;
                Ok(SinkSpec::Discord(Secret::new(url)))
            }
            ("jsonl", Some(path)) if !path.is_empty() => Ok(SinkSpec::Jsonl(PathBuf::from(path))),
            ("jsonl", _) => bail!("--sink jsonl needs a file: jsonl=PATH"),
            (other, _) => bail!(
                "--sink: unknown kind `{}` (expected discord[=URL] or jsonl=PATH)",
                other.chars().take(20).collect::<String>()
            ),
        }
    }
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

/// Sends every alert to every sink, one sink after the other. Failures are reported
/// per sink on stderr (never with the URL); the result is an error if any alert
/// could not be delivered.
pub fn deliver(specs: &[SinkSpec], alerts: &[Alert]) -> Result<()> {
    if specs.is_empty() || alerts.is_empty() {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut failed = 0usize;
    for spec in specs {
        let sink: Box<dyn Sink> = match spec {
            SinkSpec::Discord(url) => Box::new(DiscordSink::new(url.clone())?),
            SinkSpec::Jsonl(path) => Box::new(JsonlSink::to_path(path)?),
        };
        for alert in alerts {
            if let Err(e) = runtime.block_on(sink.send(alert)) {
                failed += 1;
                eprintln!(
                    "error: {}: alert {} ({}) not delivered: {e}",
                    sink.name(),
                    alert.id,
                    alert.rule.id
                );
            }
        }
    }
    if failed > 0 {
        bail!("{failed} alert deliveries failed");
    }
    Ok(())
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
        assert!(matches!(
            SinkSpec::parse("jsonl=/tmp/a").unwrap(),
            SinkSpec::Jsonl(_)
        ));
        assert!(SinkSpec::parse("jsonl").is_err());
        assert!(SinkSpec::parse("smoke=signal").is_err());
        let d = SinkSpec::parse("discord=https://discord.com/api/webhooks/1/secret-token").unwrap();
        assert!(!format!("{d:?}").contains("secret-token"));
    }
}
