//! The config file (`--config FILE`, TOML): where alerts go, which go where, how bursts
//! are folded, and which known activity is silenced. `examples/trailguard.toml`
//! documents every key.
//!
//! The file is parsed strictly (an unknown key is an error naming it and its line: a
//! typo in `min_severity` must not silently page everyone) and validated into a typed
//! [`Config`]; errors name the file, the line and the key, never a secret's value.
//!
//! Secrets (webhook URLs, signing secrets) come from the environment (`url_env`,
//! `secret_env`: preferred, nothing secret on disk) or inline (`url`, `secret`), which
//! is accepted but warned about when the file can be read by anyone but its owner.
//! They are held as [`Secret`]s, so `Debug` of a `Config` shows none of them.

mod raw;
mod suppress;
mod values;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use trailguard_core::time::format_millis;
use trailguard_core::{Alert, Severity};

use crate::sink::{
    DiscordConfig, DiscordSink, JsonlSink, Secret, Sink, SinkError, SlackConfig, SlackSink,
    WebhookConfig, WebhookSink,
};

pub use values::{parse_duration_ms, tag_matches, Glob, IpMatch};

/// The default `[delivery] expiry`: an alert not delivered within a day is given up.
pub const DEFAULT_EXPIRY_MS: i64 = 86_400_000;

/// A validated config file.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from (a path, or a name given by the caller), for messages.
    pub origin: String,
    pub sinks: Vec<SinkConfig>,
    pub delivery: Delivery,
    /// In file order. Expired ones are kept (they are listed and reported as expired)
    /// but never match: see [`Suppression::is_active`].
    pub suppressions: Vec<Suppression>,
    /// `[respond]`: what `trailguard respond --execute` never touches.
    pub respond: RespondPolicy,
    /// What a person should know that does not stop the run (a file others can read
    /// that holds inline secrets). The library never prints: the caller shows them.
    pub warnings: Vec<String>,
}

/// `[respond]`: guards of `trailguard respond --execute`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RespondPolicy {
    /// ARNs, names, key ids or resource ids never changed (`protect = [...]`).
    pub protect: Vec<String>,
    /// Users whose last active key is never deactivated without `--force`.
    pub break_glass: Vec<String>,
}

/// `[delivery]`: settings of the delivery worker (the outbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// How long an alert is retried before it is given up, in milliseconds.
    pub expiry_ms: i64,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            expiry_ms: DEFAULT_EXPIRY_MS,
        }
    }
}

/// One `[[sink]]`: a destination, the alerts it wants, and how bursts are folded.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Unique; routing decisions and messages use it.
    pub name: String,
    pub target: SinkTarget,
    pub filter: RouteFilter,
    /// Fold bursts into digests; `None` sends every alert on its own.
    pub digest: Option<DigestPolicy>,
}

/// Where a sink delivers, with its secrets resolved.
#[derive(Debug, Clone)]
pub enum SinkTarget {
    Discord {
        url: Secret,
        mention_role: Option<u64>,
    },
    Slack {
        url: Secret,
    },
    Webhook {
        url: Secret,
        /// `None` only when the file says `unsigned = true`.
        secret: Option<Secret>,
    },
    Jsonl {
        /// `-` is standard output; a relative path was resolved against the config
        /// file's folder.
        path: PathBuf,
    },
}

/// How hard an HTTP sink retries within one send. The outbox retries for hours, so
/// the sinks it drives make few attempts and hand long waits back to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InRequestRetry {
    /// Attempts per send, the first included.
    pub max_attempts: u32,
    /// The longest wait within a send (a longer `Retry-After` fails the send as rate
    /// limited, with the wait, for the caller to honour).
    pub max_wait: std::time::Duration,
}

impl SinkTarget {
    /// The sink itself, with default timeouts and retries. Fails for an unusable
    /// URL or a jsonl file that cannot be opened; never with a secret in the error.
    pub fn build(&self) -> Result<Box<dyn Sink>, SinkError> {
        self.build_with(None)
    }

    /// [`SinkTarget::build`], with `retry` in place of the sinks' default
    /// in-request retries when given.
    pub fn build_with(&self, retry: Option<InRequestRetry>) -> Result<Box<dyn Sink>, SinkError> {
        Ok(match self {
            SinkTarget::Discord { url, mention_role } => {
                let mut config = DiscordConfig {
                    mention_role: *mention_role,
                    ..DiscordConfig::default()
                };
                if let Some(r) = retry {
                    config.max_attempts = r.max_attempts;
                    config.max_wait = r.max_wait;
                }
                Box::new(DiscordSink::with_config(url.clone(), config)?)
            }
            SinkTarget::Slack { url } => {
                let mut config = SlackConfig::default();
                if let Some(r) = retry {
                    config.max_attempts = r.max_attempts;
                    config.max_wait = r.max_wait;
                }
                Box::new(SlackSink::with_config(url.clone(), config)?)
            }
            SinkTarget::Webhook { url, secret } => {
                let mut config = match secret {
                    Some(s) => WebhookConfig::signed(s.clone()),
                    None => WebhookConfig::unsigned(),
                };
                if let Some(r) = retry {
                    config.max_attempts = r.max_attempts;
                    config.max_wait = r.max_wait;
                }
                Box::new(WebhookSink::new(url.clone(), config)?)
            }
            SinkTarget::Jsonl { path } => Box::new(JsonlSink::to_path(path)?),
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            SinkTarget::Discord { .. } => "discord",
            SinkTarget::Slack { .. } => "slack",
            SinkTarget::Webhook { .. } => "webhook",
            SinkTarget::Jsonl { .. } => "jsonl",
        }
    }
}

/// Which alerts a sink wants. Every condition given must hold; an empty list places
/// no condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFilter {
    pub min_severity: Severity,
    /// The rule id matches one of these.
    pub rules: Vec<Glob>,
    /// The rule id matches none of these (checked after `rules`).
    pub exclude_rules: Vec<Glob>,
    /// One of the alert's tags equals one of these or starts with it and a dot.
    pub tags: Vec<String>,
}

impl Default for RouteFilter {
    /// Every alert.
    fn default() -> Self {
        RouteFilter {
            min_severity: Severity::Info,
            rules: Vec::new(),
            exclude_rules: Vec::new(),
            tags: Vec::new(),
        }
    }
}

impl RouteFilter {
    pub fn accepts(&self, alert: &Alert) -> bool {
        let rule = alert.rule.id.as_str();
        alert.rule.severity >= self.min_severity
            && (self.rules.is_empty() || self.rules.iter().any(|g| g.matches(rule)))
            && !self.exclude_rules.iter().any(|g| g.matches(rule))
            && (self.tags.is_empty()
                || self
                    .tags
                    .iter()
                    .any(|f| alert.rule.tags.iter().any(|t| tag_matches(f, t))))
    }
}

/// `digest = { max = 10, within = "60s" }`: more than `max` alerts to the sink within
/// `within` of the first are folded into one digest message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestPolicy {
    pub max: usize,
    pub within_ms: i64,
}

/// One `[[suppress]]`: known activity that is not to be alerted on, until a date.
///
/// An alert is suppressed when the suppression is active and every criterion it
/// gives holds (at least one is given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// 1-based position among the file's `[[suppress]]` entries.
    pub number: usize,
    /// Line of the entry in the file, when known.
    pub line: Option<usize>,
    pub rule: Option<Glob>,
    /// An access key id or an ARN (`*` allowed), compared with the alert's actor.
    pub actor: Option<Glob>,
    pub ip: Option<IpMatch>,
    pub reason: String,
    /// Who added it (free text), if the file says.
    pub by: Option<String>,
    /// Milliseconds since the epoch: it stops matching at this instant.
    pub until_ms: i64,
}

impl Suppression {
    pub fn is_active(&self, now_ms: i64) -> bool {
        now_ms < self.until_ms
    }

    /// Whether the criteria hold for `alert` (whatever the time).
    pub fn matches(&self, alert: &Alert) -> bool {
        let actor = &alert.actor;
        self.rule.as_ref().is_none_or(|g| g.matches(&alert.rule.id))
            && self.actor.as_ref().is_none_or(|g| {
                [actor.access_key_id.as_deref(), actor.arn.as_deref()]
                    .into_iter()
                    .flatten()
                    .any(|v| g.matches(v))
            })
            && self
                .ip
                .as_ref()
                .is_none_or(|m| actor.source_ip.as_deref().is_some_and(|ip| m.contains(ip)))
    }

    /// `until` as RFC 3339 (UTC).
    pub fn until(&self) -> String {
        format_millis(self.until_ms)
    }

    /// What it silences, in one line: `rule aws-ec2-* actor AKIA... ip 10.0.0.0/8`.
    pub fn criteria(&self) -> String {
        let mut parts = Vec::new();
        if let Some(r) = &self.rule {
            parts.push(format!("rule {r}"));
        }
        if let Some(a) = &self.actor {
            parts.push(format!("actor {a}"));
        }
        if let Some(ip) = &self.ip {
            parts.push(format!("ip {ip}"));
        }
        parts.join(" ")
    }
}

/// Why a config file cannot be used. Never contains a secret's value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, a value of the wrong type.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// Well-formed, but a value is not acceptable.
    #[error("{file}{}: {key}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        file: String,
        line: Option<usize>,
        /// Where in the file: `sink "oncall".digest.within`, `suppress #2.until`.
        key: String,
        reason: String,
    },
}

impl Config {
    /// No sinks, no suppressions, default delivery: what a run without `--config` uses.
    pub fn empty() -> Config {
        Config {
            origin: String::new(),
            sinks: Vec::new(),
            delivery: Delivery::default(),
            suppressions: Vec::new(),
            respond: RespondPolicy::default(),
            warnings: Vec::new(),
        }
    }

    /// Reads and validates the file at `path`, taking `*_env` secrets from this
    /// process's environment. On Unix, warns (in [`Config::warnings`]) when the file
    /// holds inline secrets and its group or others may read it, or when they may
    /// write it (whoever can write it can silence alerts).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        let parsed = raw::parse(
            &text,
            &path.display().to_string(),
            base,
            &|name| std::env::var(name).ok(),
            raw::Scope::All,
        )?;
        let mut config = parsed.config;
        if let Some(mode) = file_mode(path) {
            let warnings = permission_warnings(&config.origin, mode, parsed.has_inline_secrets);
            config.warnings.extend(warnings);
        }
        Ok(config)
    }

    /// Validates `text`; `origin` names it in messages, relative `path`s are resolved
    /// against `base`, and `env` looks up the `*_env` variables (tests pass a map).
    pub fn parse(
        text: &str,
        origin: &str,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Ok(raw::parse(text, origin, base, env, raw::Scope::All)?.config)
    }

    /// Reads `path` for its suppressions only: the whole file must still be valid
    /// TOML with known keys, but sinks are left out and their secrets not looked up
    /// (listing suppressions needs no webhook URL). `sinks` is empty.
    pub fn load_suppressions(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let origin = path.display().to_string();
        Ok(raw::parse(
            &text,
            &origin,
            Path::new(""),
            &|_| None,
            raw::Scope::Suppressions,
        )?
        .config)
    }

    pub fn sink(&self, name: &str) -> Option<&SinkConfig> {
        self.sinks.iter().find(|s| s.name == name)
    }

    /// Suppressions that silence alerts at `now_ms`.
    pub fn active_suppressions(&self, now_ms: i64) -> impl Iterator<Item = &Suppression> {
        self.suppressions
            .iter()
            .filter(move |s| s.is_active(now_ms))
    }

    /// Suppressions whose `until` has passed: ignored, and worth telling someone about.
    pub fn expired_suppressions(&self, now_ms: i64) -> impl Iterator<Item = &Suppression> {
        self.suppressions
            .iter()
            .filter(move |s| !s.is_active(now_ms))
    }
}

/// The permission bits of `path` (Unix), `None` elsewhere or when unreadable.
fn file_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Warnings for a config file with these permission bits.
pub fn permission_warnings(origin: &str, mode: u32, has_inline_secrets: bool) -> Vec<String> {
    let mut out = Vec::new();
    if has_inline_secrets && mode & 0o044 != 0 {
        out.push(format!(
            "{origin} holds inline secrets (url or secret) and can be read by other users \
             (mode {mode:04o}): run `chmod 600 {origin}`, or use url_env/secret_env"
        ));
    }
    if mode & 0o022 != 0 {
        out.push(format!(
            "{origin} can be written by other users (mode {mode:04o}): whoever can \
             write it can redirect or silence alerts; run `chmod go-w {origin}`"
        ));
    }
    out
}
