//! [`DiscordSink`]: one webhook message per alert, with bounded retries.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use tokio::time::Instant;
use trailguard_core::Alert;

use super::discord_embed::discord_payload;
use super::{Secret, SendFuture, Sink, SinkError};

/// Timeouts and retry policy of a [`DiscordSink`].
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
    /// [`SinkError::RateLimited`] rather than retrying too early. Default 60 s.
    pub max_wait: Duration,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            timeout: Duration::from_secs(10),
            max_attempts: 5,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// Sends each alert as one Discord webhook message (see [`discord_payload`]).
///
/// The request goes to the webhook URL with `wait=true` added to its query, so a 2xx
/// means Discord stored the message. HTTP 429 waits for `retry_after` (JSON body, then
/// the `Retry-After` and `X-RateLimit-Reset-After` headers) and retries; 5xx, timeouts
/// and connection errors back off exponentially with jitter; any other status fails at
/// once. When a response says the rate-limit bucket is empty
/// (`X-RateLimit-Remaining: 0`), the next request waits for `X-RateLimit-Reset-After`.
///
/// Plain `http://` is accepted only for loopback hosts (local tests and relays), so
/// the token never crosses a network unencrypted. Redirects are not followed.
pub struct DiscordSink {
    client: reqwest::Client,
    /// The webhook URL with `wait=true`.
    url: Secret,
    /// Path segments that could be the webhook id or token: scrubbed from any text
    /// that goes into an error, as a second line of defence.
    sensitive: Vec<String>,
    config: DiscordConfig,
    /// Earliest time of the next request, from rate-limit headers.
    not_before: Mutex<Option<Instant>>,
}

impl fmt::Debug for DiscordSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordSink")
            .field("url", &self.url)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One failed attempt, before deciding whether to retry.
enum Failure {
    Permanent(SinkError),
    /// A status that retrying will not fix (4xx other than 429, 3xx).
    Rejected(StatusCode, Option<String>),
    RateLimited(Option<Duration>),
    Server(StatusCode, Option<String>),
    Timeout,
    Connection(String),
}

impl DiscordSink {
    /// A sink with the default [`DiscordConfig`].
    pub fn new(webhook: Secret) -> Result<Self, SinkError> {
        Self::with_config(webhook, DiscordConfig::default())
    }

    pub fn with_config(webhook: Secret, config: DiscordConfig) -> Result<Self, SinkError> {
        let mut url = Url::parse(webhook.expose().trim()).map_err(|_| SinkError::InvalidUrl {
            reason: "not a URL",
        })?;
        let loopback = is_loopback(&url);
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(SinkError::InvalidUrl {
                    reason: "plain http is allowed only to a loopback address; use https",
                })
            }
            _ => {
                return Err(SinkError::InvalidUrl {
                    reason: "the scheme must be https",
                })
            }
        }
        if url.host_str().unwrap_or_default().is_empty() {
            return Err(SinkError::InvalidUrl { reason: "no host" });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(SinkError::InvalidUrl {
                reason: "credentials in the URL are not supported",
            });
        }
        add_wait_true(&mut url);
        let sensitive = url
            .path_segments()
            .into_iter()
            .flatten()
            .filter(|s| s.len() >= 16)
            .map(str::to_owned)
            .collect();

        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("trailguard/", env!("CARGO_PKG_VERSION")));
        if loopback {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|e| SinkError::Client {
            detail: error_chain(&e.without_url()),
        })?;
        Ok(DiscordSink {
            client,
            url: Secret::new(String::from(url)),
            sensitive,
            config,
            not_before: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &DiscordConfig {
        &self.config
    }

    async fn deliver(&self, body: Vec<u8>) -> Result<(), SinkError> {
        let max_attempts = self.config.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.wait_for_bucket().await;
            let failure = match self.attempt(&body).await {
                Ok(()) => return Ok(()),
                Err(f) => f,
            };
            let wait = match &failure {
                Failure::Permanent(_) | Failure::Rejected(..) => None,
                Failure::RateLimited(Some(d)) if *d > self.config.max_wait => None,
                Failure::RateLimited(Some(d)) => Some(*d),
                Failure::RateLimited(None)
                | Failure::Server(..)
                | Failure::Timeout
                | Failure::Connection(_) => Some(self.backoff(attempt)),
            };
            match wait {
                Some(wait) if attempt < max_attempts => tokio::time::sleep(wait).await,
                _ => return Err(self.give_up(failure, attempt)),
            }
        }
    }

    fn give_up(&self, failure: Failure, attempts: u32) -> SinkError {
        match failure {
            Failure::Permanent(e) => e,
            Failure::RateLimited(retry_after) => SinkError::RateLimited {
                attempts,
                retry_after,
            },
            Failure::Server(status, detail) | Failure::Rejected(status, detail) => {
                SinkError::Status {
                    status: status.as_u16(),
                    attempts,
                    detail,
                }
            }
            Failure::Timeout => SinkError::Timeout { attempts },
            Failure::Connection(detail) => SinkError::Connection { attempts, detail },
        }
    }

    /// One request. Never returns a `reqwest::Error` that still holds the URL.
    async fn attempt(&self, body: &[u8]) -> Result<(), Failure> {
        let response = self
            .client
            .post(self.url.expose())
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| self.transport_failure(e.without_url()))?;
        let status = response.status();
        self.note_bucket(response.headers());
        if status.is_success() {
            // With `wait=true` the 2xx status itself confirms the message was stored;
            // the body (the message object) is not needed.
            return Ok(());
        }
        let headers = response.headers().clone();
        let body = read_limited(response, 16 * 1024).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure::RateLimited(retry_after(&headers, &body)));
        }
        let detail = self.error_detail(&body);
        if status.is_server_error() {
            Err(Failure::Server(status, detail))
        } else {
            Err(Failure::Rejected(status, detail))
        }
    }

    fn transport_failure(&self, e: reqwest::Error) -> Failure {
        debug_assert!(e.url().is_none());
        if e.is_timeout() {
            Failure::Timeout
        } else if e.is_builder() {
            Failure::Permanent(SinkError::Client {
                detail: self.scrub(&error_chain(&e)),
            })
        } else {
            // Connect errors, resets, broken bodies: the server may be back shortly.
            Failure::Connection(self.scrub(&error_chain(&e)))
        }
    }

    /// Discord's `message` and `code` from an error body; nothing for other bodies, so
    /// that arbitrary server text (an HTML page, an echo) never lands in an error.
    fn error_detail(&self, body: &[u8]) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let message = v.get("message")?.as_str()?;
        let mut detail: String = message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(200)
            .collect();
        if let Some(code) = v.get("code").and_then(|c| c.as_i64()) {
            detail.push_str(&format!(" (code {code})"));
        }
        Some(self.scrub(&detail))
    }

    /// Remove the URL and anything that looks like its id or token.
    fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(self.url.expose(), "[redacted]");
        for s in &self.sensitive {
            out = out.replace(s.as_str(), "[redacted]");
        }
        out
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .config
            .backoff_base
            .saturating_mul(1u32 << (attempt - 1).min(20))
            .min(self.config.backoff_cap)
            .min(self.config.max_wait);
        // "Equal jitter": between half and all of the exponential delay.
        exp / 2 + exp.mul_f64(random_unit() / 2.0)
    }

    /// Remember an empty rate-limit bucket so the next request waits for its reset.
    fn note_bucket(&self, headers: &HeaderMap) {
        if header_f64(headers, "x-ratelimit-remaining") != Some(0.0) {
            return;
        }
        if let Some(reset) = header_f64(headers, "x-ratelimit-reset-after").and_then(secs) {
            let until = Instant::now() + reset.min(self.config.max_wait);
            let mut nb = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
            *nb = Some(nb.map_or(until, |t| t.max(until)));
        }
    }

    async fn wait_for_bucket(&self) {
        let until = *self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }
}

impl Sink for DiscordSink {
    fn name(&self) -> &str {
        "discord"
    }

    fn send<'a>(&'a self, alert: &'a Alert) -> SendFuture<'a> {
        Box::pin(async move {
            let body = serde_json::to_vec(&discord_payload(alert))?;
            self.deliver(body).await
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

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// How long a 429 asks us to wait: `retry_after` (float seconds) in the JSON body, else
/// the `Retry-After` header, else `X-RateLimit-Reset-After`.
fn retry_after(headers: &HeaderMap, body: &[u8]) -> Option<Duration> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("retry_after")?.as_f64())
        .and_then(secs)
        .or_else(|| header_f64(headers, RETRY_AFTER.as_str()).and_then(secs))
        .or_else(|| header_f64(headers, "x-ratelimit-reset-after").and_then(secs))
}

fn header_f64(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Seconds as a duration, refusing NaN, negatives and absurd values.
fn secs(s: f64) -> Option<Duration> {
    (s.is_finite() && (0.0..1e9).contains(&s)).then(|| Duration::from_secs_f64(s))
}

async fn read_limited(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())]);
        if body.len() >= limit {
            break;
        }
    }
    body
}

/// An error and its sources, `: `-separated.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// A number in `[0, 1)`, random enough for jitter, without a dependency.
fn random_unit() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
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
        assert_eq!(s.name(), "discord");
        assert_eq!(
            s.scrub("x 123456789012345678 y SECRET_TOKEN_abcdefghijklmnop z"),
            "x [redacted] y [redacted] z"
        );
    }

    #[test]
    fn retry_after_sources() {
        let mut h = HeaderMap::new();
        assert_eq!(
            retry_after(&h, br#"{"retry_after":0.25,"global":false}"#),
            Some(Duration::from_millis(250))
        );
        assert_eq!(retry_after(&h, b"<html>"), None);
        h.insert("x-ratelimit-reset-after", "1.5".parse().unwrap());
        assert_eq!(retry_after(&h, b""), Some(Duration::from_millis(1500)));
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h, b""), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_after(&h, br#"{"retry_after":-1}"#),
            Some(Duration::from_secs(2)),
            "a negative body value falls back to the headers"
        );
        assert_eq!(secs(f64::NAN), None);
        assert_eq!(secs(f64::INFINITY), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let config = DiscordConfig {
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_millis(1000),
            ..DiscordConfig::default()
        };
        let s = DiscordSink::with_config(Secret::new(URL), config).unwrap();
        for attempt in 1..=40 {
            let exp = (100u64 << (attempt - 1).min(20)).min(1000);
            let d = s.backoff(attempt).as_millis() as u64;
            assert!(d >= exp / 2 && d <= exp, "attempt {attempt}: {d} vs {exp}");
        }
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
}
