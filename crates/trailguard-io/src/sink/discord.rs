//! [`DiscordSink`]: one webhook message per alert, with bounded retries.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use trailguard_core::Alert;

use crate::digest::Digest;

use super::discord_digest::discord_digest_payload;
use super::discord_embed::discord_payload_for;
use super::http_retry::{header_f64, secs, short_text, Endpoint, Failure, RetryPolicy};
use super::{Secret, SendFuture, Sink, SinkError};

/// Timeouts, retry policy and role ping of a [`DiscordSink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordConfig {
    /// Whole-request timeout (connect, send, response). Default 10 s.
    pub timeout: Duration,
    /// Attempts per alert, the first included. Default 5 (at least 1 is made).
    pub max_attempts: u32,
    /// First backoff after a 5xx, timeout or connection error; doubles each time,
    /// with jitter (a random value between half and all of it). Default 500 ms.
    pub backoff_base: Duration,
    /// Upper bound of one backoff. Default 30 s.
    pub backoff_cap: Duration,
    /// The longest single wait, including a server-requested `retry_after`. When a
    /// 429 asks for more than this, the sink gives up at once with
    /// [`SinkError::RateLimited`] rather than retrying too early, and later sends fail
    /// the same way, without a request, until the wait is over. Default 60 s.
    pub max_wait: Duration,
    /// A role to ping with every alert (`<@&ROLE>` in the message content, and that
    /// role alone in `allowed_mentions`). Default none: nothing is pinged.
    pub mention_role: Option<u64>,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            timeout: Duration::from_secs(10),
            max_attempts: 5,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            max_wait: Duration::from_secs(60),
            mention_role: None,
        }
    }
}

impl DiscordConfig {
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

/// Sends each alert as one Discord webhook message (see [`discord_payload`]).
///
/// The request goes to the webhook URL with `wait=true` added to its query, so a 2xx
/// means Discord stored the message. HTTP 429 waits for `retry_after` (JSON body, then
/// the `Retry-After` and `X-RateLimit-Reset-After` headers) and retries; a 429 marked
/// `global` (body `"global": true`, or `X-RateLimit-Global`/`X-RateLimit-Scope:
/// global`) holds back every Discord sink of the process with the same host, since
/// that limit is not per webhook. 5xx, timeouts and connection errors back off
/// exponentially with jitter; any other status fails at once. When a response says
/// the rate-limit bucket is empty (`X-RateLimit-Remaining: 0`), the next request waits
/// for `X-RateLimit-Reset-After` (at most `max_wait`) instead of running into a 429.
///
/// Plain `http://` is accepted only for loopback hosts (local tests and relays), so
/// the token never crosses a network unencrypted. Redirects are not followed.
///
/// [`discord_payload`]: super::discord_payload
pub struct DiscordSink {
    /// The webhook URL with `wait=true`.
    http: Endpoint,
    config: DiscordConfig,
}

impl fmt::Debug for DiscordSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordSink")
            .field("url", self.http.url())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What a 429 asks for.
#[derive(Debug, PartialEq)]
struct RateLimit {
    retry_after: Option<Duration>,
    /// The limit covers every webhook, not just this one.
    global: bool,
}

impl DiscordSink {
    /// A sink with the default [`DiscordConfig`].
    pub fn new(webhook: Secret) -> Result<Self, SinkError> {
        Self::with_config(webhook, DiscordConfig::default())
    }

    pub fn with_config(webhook: Secret, config: DiscordConfig) -> Result<Self, SinkError> {
        let http = Endpoint::new(&webhook, config.policy(), add_wait_true)?.share_pause_by_origin();
        Ok(DiscordSink { http, config })
    }

    pub fn config(&self) -> &DiscordConfig {
        &self.config
    }

    /// One request.
    async fn attempt(&self, body: &[u8]) -> Result<(), Failure> {
        let reply = self.http.post(body, HeaderMap::new()).await?;
        self.note_bucket(&reply.headers);
        if reply.status.is_success() {
            // With `wait=true` the 2xx status itself confirms the message was stored;
            // the body (the message object) is not needed.
            return Ok(());
        }
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            let limit = rate_limit(&reply.headers, &reply.body);
            if let (true, Some(wait)) = (limit.global, limit.retry_after) {
                self.http.pause_origin_for(wait);
            }
            return Err(Failure::RateLimited(limit.retry_after));
        }
        Err(Failure::from_status(
            reply.status,
            self.error_detail(&reply.body),
        ))
    }

    /// Discord's `message` and `code` from an error body; nothing for other bodies, so
    /// that arbitrary server text (an HTML page, an echo) never lands in an error.
    fn error_detail(&self, body: &[u8]) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let message = v.get("message")?.as_str()?;
        let mut detail = short_text(message, 200);
        if let Some(code) = v.get("code").and_then(|c| c.as_i64()) {
            detail.push_str(&format!(" (code {code})"));
        }
        Some(self.http.scrub(&detail))
    }

    /// Remember an empty rate-limit bucket so the next request waits for its reset.
    fn note_bucket(&self, headers: &HeaderMap) {
        if header_f64(headers, "x-ratelimit-remaining") != Some(0.0) {
            return;
        }
        if let Some(reset) = header_f64(headers, "x-ratelimit-reset-after").and_then(secs) {
            self.http.pause_for(reset.min(self.config.max_wait));
        }
    }
}

impl Sink for DiscordSink {
    fn name(&self) -> &str {
        "discord"
    }

    fn send<'a>(&'a self, alert: &'a Alert) -> SendFuture<'a> {
        Box::pin(async move {
            let body = serde_json::to_vec(&discord_payload_for(alert, self.config.mention_role))?;
            let body = &body;
            self.http.deliver(move || self.attempt(body)).await
        })
    }

    fn send_digest<'a>(&'a self, digest: &'a Digest) -> SendFuture<'a> {
        Box::pin(async move {
            let payload = discord_digest_payload(digest, self.config.mention_role);
            let body = serde_json::to_vec(&payload)?;
            let body = &body;
            self.http.deliver(move || self.attempt(body)).await
        })
    }
}

/// Set `wait=true` in the query, keeping other parameters (`thread_id`, ...).
fn add_wait_true(url: &mut Url) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "wait")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.set_fragment(None);
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("wait", "true");
}

/// How long a 429 asks us to wait: `retry_after` (float seconds) in the JSON body, else
/// the `Retry-After` header, else `X-RateLimit-Reset-After`; and whether it is global.
fn rate_limit(headers: &HeaderMap, body: &[u8]) -> RateLimit {
    let json = serde_json::from_slice::<serde_json::Value>(body).ok();
    let retry_after = json
        .as_ref()
        .and_then(|v| v.get("retry_after")?.as_f64())
        .and_then(secs)
        .or_else(|| header_f64(headers, RETRY_AFTER.as_str()).and_then(secs))
        .or_else(|| header_f64(headers, "x-ratelimit-reset-after").and_then(secs));
    let header_is = |name: &str, value: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
    };
    let global = json
        .as_ref()
        .and_then(|v| v.get("global")?.as_bool())
        .unwrap_or(false)
        || header_is("x-ratelimit-global", "true")
        || header_is("x-ratelimit-scope", "global");
    RateLimit {
        retry_after,
        global,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str =
        "https://discord.com/api/webhooks/123456789012345678/SECRET_TOKEN_abcdefghijklmnop";

    fn final_url(s: &str) -> String {
        let mut u = Url::parse(s).unwrap();
        add_wait_true(&mut u);
        u.to_string()
    }

    #[test]
    fn wait_true_is_added_correctly() {
        assert_eq!(
            final_url("https://x.test/a/b"),
            "https://x.test/a/b?wait=true"
        );
        assert_eq!(
            final_url("https://x.test/a/b?thread_id=42"),
            "https://x.test/a/b?thread_id=42&wait=true"
        );
        assert_eq!(
            final_url("https://x.test/a/b?wait=false&thread_id=42#frag"),
            "https://x.test/a/b?thread_id=42&wait=true"
        );
        assert_eq!(
            final_url("https://x.test/a/b?"),
            "https://x.test/a/b?wait=true"
        );
    }

    #[test]
    fn url_validation_never_echoes_the_url() {
        for bad in [
            "not a url SECRET_TOKEN",
            "http://discord.com/api/webhooks/1/SECRET_TOKEN",
            "ftp://discord.com/api/webhooks/1/SECRET_TOKEN",
            "https://user:SECRET_TOKEN@discord.com/api/webhooks/1/x",
        ] {
            let e = DiscordSink::new(Secret::new(bad)).unwrap_err();
            assert!(matches!(e, SinkError::InvalidUrl { .. }));
            for shown in [e.to_string(), format!("{e:?}")] {
                assert!(!shown.contains("SECRET_TOKEN"), "{shown}");
                assert!(!shown.contains("discord.com"), "{shown}");
            }
        }
        assert!(DiscordSink::new(Secret::new("http://127.0.0.1:9/x")).is_ok());
        assert!(DiscordSink::new(Secret::new("http://localhost:9/x")).is_ok());
        assert!(DiscordSink::new(Secret::new("http://[::1]:9/x")).is_ok());
    }

    #[test]
    fn debug_of_sink_hides_the_url() {
        let s = DiscordSink::new(Secret::new(URL)).unwrap();
        let shown = format!("{s:?} {s:#?}");
        assert!(
            !shown.contains("SECRET_TOKEN") && !shown.contains("webhooks"),
            "{shown}"
        );
        assert!(shown.contains("[redacted]"), "{shown}");
        assert_eq!(s.name(), "discord");
        assert_eq!(
            s.http
                .scrub("x 123456789012345678 y SECRET_TOKEN_abcdefghijklmnop z"),
            "x [redacted] y [redacted] z"
        );
    }

    #[test]
    fn rate_limit_sources() {
        let wait = |h: &HeaderMap, b: &[u8]| rate_limit(h, b).retry_after;
        let mut h = HeaderMap::new();
        assert_eq!(
            rate_limit(&h, br#"{"retry_after":0.25,"global":false}"#),
            RateLimit {
                retry_after: Some(Duration::from_millis(250)),
                global: false
            }
        );
        assert_eq!(
            rate_limit(&h, br#"{"retry_after":1.5,"global":true}"#),
            RateLimit {
                retry_after: Some(Duration::from_millis(1500)),
                global: true
            }
        );
        assert_eq!(wait(&h, b"<html>"), None);
        h.insert("x-ratelimit-reset-after", "1.5".parse().unwrap());
        assert_eq!(wait(&h, b""), Some(Duration::from_millis(1500)));
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(wait(&h, b""), Some(Duration::from_secs(2)));
        assert_eq!(
            wait(&h, br#"{"retry_after":-1}"#),
            Some(Duration::from_secs(2)),
            "a negative body value falls back to the headers"
        );
        assert!(!rate_limit(&h, b"").global);
        h.insert("x-ratelimit-scope", "global".parse().unwrap());
        assert!(rate_limit(&h, b"").global);
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-global", "true".parse().unwrap());
        assert!(rate_limit(&h, b"").global);
    }

    #[test]
    fn error_detail_only_from_discord_json() {
        let s = DiscordSink::new(Secret::new(URL)).unwrap();
        assert_eq!(
            s.error_detail(br#"{"message":"Invalid Form Body","code":50035}"#)
                .as_deref(),
            Some("Invalid Form Body (code 50035)")
        );
        assert_eq!(s.error_detail(b"<html>SECRET_TOKEN</html>"), None);
        assert_eq!(
            s.error_detail(br#"{"message":"bad /api/webhooks/123456789012345678/SECRET_TOKEN_abcdefghijklmnop"}"#)
                .as_deref(),
            Some("bad /api/webhooks/[redacted]/[redacted]")
        );
    }

    #[test]
    fn config_default_pings_no_one() {
        assert_eq!(DiscordConfig::default().mention_role, None);
    }
}
