//! `--sink KIND=TARGET`: parsing, and building the sinks the outbox delivers to.
//!
//! Webhook URLs are secrets: they come from the environment (preferred) or the
//! command line, are validated here, and never appear in any message.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use trailguard_io::outbox::NamedSink;
use trailguard_io::sink::{DiscordConfig, DiscordSink, JsonlSink, Secret, Sink};

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

    /// The name the outbox records this sink's deliveries under: `discord`, or
    /// `jsonl:PATH`. Never a URL.
    pub fn name(&self) -> String {
        match self {
            SinkSpec::Discord(_) => "discord".to_owned(),
            SinkSpec::Jsonl(path) => format!("jsonl:{}", path.display()),
        }
    }

    /// The sink, ready to send. HTTP sinks retry only briefly within one send (one
    /// quick retry, waits the service asks for up to 10 s): the outbox owns retrying
    /// over minutes and hours, with the sink paused meanwhile.
    pub fn build(&self) -> Result<NamedSink> {
        let sink: Arc<dyn Sink> = match self {
            SinkSpec::Discord(url) => Arc::new(DiscordSink::with_config(
                url.clone(),
                DiscordConfig {
                    max_attempts: 2,
                    max_wait: Duration::from_secs(10),
                    ..DiscordConfig::default()
                },
            )?),
            SinkSpec::Jsonl(path) => Arc::new(JsonlSink::to_path(path)?),
        };
        Ok(NamedSink::named(self.name(), sink))
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

/// Builds every `--sink` before any input is read, so that a sink that cannot work
/// (a folder that does not exist) fails the run before anything is recorded. Two
/// sinks with the same name are refused: the outbox tells deliveries apart by name.
pub fn build_all(specs: &[SinkSpec]) -> Result<Vec<NamedSink>> {
    let mut sinks: Vec<NamedSink> = Vec::with_capacity(specs.len());
    for spec in specs {
        let name = spec.name();
        if sinks.iter().any(|s| s.name == name) {
            bail!("--sink {name} is given twice");
        }
        sinks.push(
            spec.build()
                .map_err(|e| anyhow::anyhow!("--sink {name}: {e}"))?,
        );
    }
    Ok(sinks)
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
        assert_eq!(d.name(), "discord");
        assert_eq!(
            SinkSpec::parse("jsonl=a/b.jsonl").unwrap().name(),
            "jsonl:a/b.jsonl"
        );
    }

    #[test]
    fn sinks_are_built_up_front_and_named_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jsonl");
        let specs = [
            SinkSpec::parse("discord=http://127.0.0.1:9/api/webhooks/1/secret-token").unwrap(),
            SinkSpec::Jsonl(file.clone()),
        ];
        let sinks = build_all(&specs).unwrap();
        let names: Vec<&str> = sinks.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names[0], "discord");
        assert!(names[1].starts_with("jsonl:") && names[1].ends_with("a.jsonl"));
        let twice = [SinkSpec::Jsonl(file.clone()), SinkSpec::Jsonl(file)];
        let e = build_all(&twice).unwrap_err().to_string();
        assert!(e.contains("is given twice"), "{e}");
        let missing = [SinkSpec::Jsonl(dir.path().join("no/such/folder.jsonl"))];
        let e = build_all(&missing).unwrap_err().to_string();
        assert!(e.starts_with("--sink jsonl:"), "{e}");
    }
}
