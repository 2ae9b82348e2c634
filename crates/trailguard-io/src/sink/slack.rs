//! [`SlackSink`]: one incoming-webhook message per alert, with bounded retries.

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use trailguard_core::Alert;

use crate::digest::Digest;

use super::http_retry::{retry_after_header, Endpoint, Failure, RetryPolicy};
use super::slack_blocks::slack_payload;
use super::slack_digest::slack_digest_payload;
use super::{Secret, SendFuture, Sink, SinkError};

/// Timeouts and retry policy of a [`SlackSink`] (the same knobs and defaults as
/// [`DiscordConfig`](super::DiscordConfig)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackConfig {
    /// Whole-request timeout (connect, send, response). Default 10 s.
    pub timeout: Duration,
    /// Attempts per alert, the first included. Default 5 (at least 1 is made).
    pub max_attempts: u32,
    /// First backoff after a 5xx, timeout or connection error; doubles each time,
    /// with jitter. Default 500 ms.
    pub backoff_base: Duration,
    /// Upper bound of one backoff. Default 30 s.
    pub backoff_cap: Duration,
    /// The longest single wait, including a 429's `Retry-After`; a longer one gives up
    /// at once ([`SinkError::RateLimited`]) and later sends fail the same way, without
    /// a request, until it is over. Default 60 s.
    pub max_wait: Duration,
}

impl Default for SlackConfig {
    fn default() -> Self {
        SlackConfig {
            timeout: Duration::from_secs(10),
            max_attempts: 5,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            max_wait: Duration::from_secs(60),
        }
    }
}

impl SlackConfig {
    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            timeout: self.timeout,
            max_attempts: self.max_attempts,
            backoff_base: self.backoff_base,
            backoff_cap: self.backoff_cap,
            max_wait: self.max_wait,
        }
    }
}

/// Sends each alert as one Slack incoming-webhook message (see [`slack_payload`]).
///
/// Slack answers `200` with the body `ok`; any 2xx is taken as delivered. HTTP 429
/// waits for `Retry-After` (seconds; Slack allows about one message per second per
/// webhook) and retries, and holds back the sink's next message as long; 5xx,
/// timeouts and connection errors back off exponentially with jitter; any other
/// status fails at once with Slack's error string as the detail (`invalid_payload`,
/// `no_text`, `channel_not_found`, `channel_is_archived`, `action_prohibited`,
/// `no_service`, ...: short codes, never secrets). Other bodies (an HTML page, an
/// echo) are not shown.
///
/// Plain `http://` is accepted only for loopback hosts. Redirects are not followed.
///
/// [`slack_payload`]: super::slack_payload
pub struct SlackSink {
    http: Endpoint,
    config: SlackConfig,
}

impl fmt::Debug for SlackSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackSink")
            .field("url", self.http.url())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SlackSink {
    /// A sink with the default [`SlackConfig`].
    pub fn new(webhook: Secret) -> Result<Self, SinkError> {
        Self::with_config(webhook, SlackConfig::default())
    }

    pub fn with_config(webhook: Secret, config: SlackConfig) -> Result<Self, SinkError> {
        let http = Endpoint::new(&webhook, config.policy(), |_| {})?;
        Ok(SlackSink { http, config })
    }

    pub fn config(&self) -> &SlackConfig {
        &self.config
    }

    async fn attempt(&self, body: &[u8]) -> Result<(), Failure> {
        let reply = self.http.post(body, HeaderMap::new()).await?;
        if reply.status.is_success() {
            return Ok(());
        }
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure::RateLimited(retry_after_header(&reply.headers)));
        }
        Err(Failure::from_status(
            reply.status,
            self.error_detail(&reply.body),
        ))
    }

    /// Slack's error string (`invalid_payload`): lowercase letters, digits and
    /// underscores, at most 64 of them. Anything else is not shown.
    fn error_detail(&self, body: &[u8]) -> Option<String> {
        let text = std::str::from_utf8(body).ok()?.trim();
        let is_code = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        is_code.then(|| self.http.scrub(text))
    }
}

impl Sink for SlackSink {
    fn name(&self) -> &str {
        "slack"
    }

    fn send<'a>(&'a self, alert: &'a Alert) -> SendFuture<'a> {
        Box::pin(async move {
            let body = serde_json::to_vec(&slack_payload(alert))?;
            let body = &body;
            self.http.deliver(move || self.attempt(body)).await
        })
    }

    fn send_digest<'a>(&'a self, digest: &'a Digest) -> SendFuture<'a> {
        Box::pin(async move {
            let body = serde_json::to_vec(&slack_digest_payload(digest))?;
            let body = &body;
            self.http.deliver(move || self.attempt(body)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str =
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX";

    #[test]
    fn error_detail_only_from_slack_error_codes() {
        let s = SlackSink::new(Secret::new(URL)).unwrap();
        for code in [
            "invalid_payload",
            "no_text",
            "channel_not_found",
            "no_service",
            "invalid_blocks",
        ] {
            assert_eq!(s.error_detail(code.as_bytes()).as_deref(), Some(code));
        }
        assert_eq!(
            s.error_detail(b"invalid_payload\n").as_deref(),
            Some("invalid_payload")
        );
        for other in [
            &b"<html>oops</html>"[..],
            b"",
            b"Invalid Payload",
            b"no_text and more",
            URL.as_bytes(),
            &[b'a'; 65],
            b"\xff\xfe",
        ] {
            assert_eq!(s.error_detail(other), None, "{other:?}");
        }
    }

    #[test]
    fn debug_hides_the_url() {
        let s = SlackSink::new(Secret::new(URL)).unwrap();
        let shown = format!("{s:?} {s:#?}");
        assert!(
            !shown.contains("XXXX") && !shown.contains("hooks.slack.com"),
            "{shown}"
        );
        assert_eq!(s.name(), "slack");
        assert_eq!(s.config(), &SlackConfig::default());
    }

    #[test]
    fn url_checks() {
        for bad in [
            "http://hooks.slack.com/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX",
            "hooks.slack.com/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX",
        ] {
            let e = SlackSink::new(Secret::new(bad)).unwrap_err();
            assert!(matches!(e, SinkError::InvalidUrl { .. }));
            assert!(!format!("{e} {e:?}").contains("XXXX"));
        }
    }
}
