//! Sinks: where alerts are delivered (Discord, Slack, any HTTPS webhook, JSON Lines
//! files, stdout).
//!
//! Every sink implements [`Sink`], which is dyn-compatible so that a run can hold a
//! `Vec<Box<dyn Sink>>`. Sending is async; the caller provides the tokio runtime.
//!
//! No sink ever prints, logs or puts a webhook URL in an error: URLs are held as
//! [`Secret`]s and [`SinkError`] carries only the kind of failure.

mod discord;
mod discord_digest;
mod discord_embed;
pub(crate) mod http_retry;
mod jsonl;
mod secret;
mod slack;
mod slack_blocks;
mod slack_digest;
mod text;
mod webhook;
mod webhook_signature;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use trailguard_core::Alert;

use crate::digest::Digest;

pub(crate) use http_retry::check_webhook_url;

pub use discord::{DiscordConfig, DiscordSink};
pub use discord_digest::discord_digest_payload;
pub use discord_embed::{
    discord_payload, discord_payload_for, embed_total_chars, limits as discord_limits,
    severity_colour,
};
pub use jsonl::JsonlSink;
pub use secret::Secret;
pub use slack::{SlackConfig, SlackSink};
pub use slack_blocks::{limits as slack_limits, slack_payload};
pub use slack_digest::slack_digest_payload;
pub use webhook::{WebhookConfig, WebhookSink, MIN_SECRET_CHARS as WEBHOOK_MIN_SECRET_CHARS};
pub use webhook_signature::{
    sign, verify_signature, SignatureError, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};

/// `lines` joined by newlines, as many whole lines as fit in `max` characters (a digest
/// lists its alerts one per line; a line is never cut).
pub(crate) fn whole_lines_within(lines: Vec<String>, max: usize) -> String {
    let mut text = String::new();
    let mut chars = 0;
    for line in lines {
        let n = line.chars().count();
        if chars + n + 1 > max {
            break;
        }
        if !text.is_empty() {
            text.push('\n');
            chars += 1;
        }
        text.push_str(&line);
        chars += n;
    }
    text
}

/// The future a [`Sink`] returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

/// A destination for alerts.
pub trait Sink: Send + Sync {
    /// A short name for messages, e.g. `discord` or `jsonl:alerts.jsonl`. Never a URL.
    fn name(&self) -> &str;

    /// Deliver one alert. `Ok` means the destination confirmed it (for Discord: the
    /// webhook answered 2xx to a `?wait=true` request).
    fn send<'a>(&'a self, alert: &'a Alert) -> SendFuture<'a>;

    /// Deliver one digest: alerts of a burst folded into one message (see
    /// [`crate::digest`]). Chat sinks render a summary listing the top lines; the
    /// webhook and JSON Lines sinks send the digest JSON (`{"type":"digest", ...}`).
    /// Same retries, signing and confirmation as [`Sink::send`].
    fn send_digest<'a>(&'a self, digest: &'a Digest) -> SendFuture<'a>;
}

/// Why a sink could not deliver an alert. Never contains a URL or token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// HTTP 429 on every attempt, or the server asked for a wait longer than allowed.
    #[error("rate limited by the server; gave up after {attempts} attempt(s){}",
        retry_after.map(|d| format!(" (server asked to wait {:.3}s)", d.as_secs_f64())).unwrap_or_default())]
    RateLimited {
        attempts: u32,
        retry_after: Option<Duration>,
    },
    /// A non-success HTTP status: a 4xx at once, or a 5xx on the last attempt.
    #[error("HTTP {status} after {attempts} attempt(s){}",
        detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status {
        status: u16,
        attempts: u32,
        /// The server's own error message (Discord's `message` and `code`), if any.
        detail: Option<String>,
    },
    /// No answer within the request timeout, on every attempt.
    #[error("request timed out after {attempts} attempt(s)")]
    Timeout { attempts: u32 },
    /// Could not connect, or the connection broke, on every attempt.
    #[error("connection failed after {attempts} attempt(s): {detail}")]
    Connection { attempts: u32, detail: String },
    /// The HTTP client could not be built or the request could not be formed.
    #[error("HTTP client error: {detail}")]
    Client { detail: String },
    /// The sink's configuration is not usable (an empty signing secret, a malformed
    /// header). Names what is wrong, never a secret value.
    #[error("invalid sink configuration: {reason}")]
    Config { reason: String },
    /// The webhook URL is not usable. The URL itself is never included.
    #[error("invalid webhook URL: {reason}")]
    InvalidUrl { reason: &'static str },
    /// Reading or writing a file or stdout.
    #[error("I/O error writing to {target}: {source}")]
    Io {
        target: String,
        #[source]
        source: std::io::Error,
    },
    /// The alert could not be turned into JSON.
    #[error("cannot serialise the alert: {0}")]
    Serialize(#[from] serde_json::Error),
}

impl SinkError {
    /// Whether trying the same alert again later may succeed (rate limits, 5xx,
    /// timeouts, connection and I/O errors), as opposed to a rejected request or a bad
    /// configuration.
    pub fn is_transient(&self) -> bool {
        match self {
            SinkError::RateLimited { .. }
            | SinkError::Timeout { .. }
            | SinkError::Connection { .. }
            | SinkError::Io { .. } => true,
            SinkError::Status { status, .. } => *status >= 500 || *status == 429,
            SinkError::Client { .. }
            | SinkError::Config { .. }
            | SinkError::InvalidUrl { .. }
            | SinkError::Serialize(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_is_dyn_compatible() {
        fn takes(_: &[Box<dyn Sink>]) {}
        let sinks: Vec<Box<dyn Sink>> = vec![Box::new(JsonlSink::from_writer("mem", Vec::new()))];
        takes(&sinks);
        assert_eq!(sinks[0].name(), "mem");
    }

    #[test]
    fn types_are_thread_safe() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<SinkError>(); // so that `?` into anyhow works
        send_sync::<DiscordSink>();
        send_sync::<SlackSink>();
        send_sync::<SlackConfig>();
        send_sync::<WebhookSink>();
        send_sync::<WebhookConfig>();
        send_sync::<SignatureError>();
        send_sync::<JsonlSink>();
        send_sync::<Secret>();
    }

    #[test]
    fn error_messages() {
        let e = SinkError::RateLimited {
            attempts: 5,
            retry_after: Some(Duration::from_millis(1500)),
        };
        assert_eq!(
            e.to_string(),
            "rate limited by the server; gave up after 5 attempt(s) (server asked to wait 1.500s)"
        );
        assert!(e.is_transient());
        let e = SinkError::Status {
            status: 400,
            attempts: 1,
            detail: Some("Invalid Form Body (code 50035)".into()),
        };
        assert_eq!(
            e.to_string(),
            "HTTP 400 after 1 attempt(s): Invalid Form Body (code 50035)"
        );
        assert!(!e.is_transient());
        assert_eq!(
            SinkError::Timeout { attempts: 2 }.to_string(),
            "request timed out after 2 attempt(s)"
        );
    }
}
