//! [`WebhookSink`]: the alert JSON, signed, POSTed to any HTTPS endpoint.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::StatusCode;
use trailguard_core::Alert;

use crate::digest::{digest_json, Digest};

use super::http_retry::{retry_after_header, short_text, Endpoint, Failure, RetryPolicy};
use super::jsonl::alert_json;
use super::webhook_signature::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use super::{Secret, SendFuture, Sink, SinkError};

/// The shortest signing secret accepted: an HMAC key short enough to guess lets anyone
/// who saw one signed request forge others.
pub const MIN_SECRET_CHARS: usize = 16;

/// Headers the sink sets itself, which a configured extra header may not replace.
const RESERVED: [&str; 7] = [
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "x-trailguard-timestamp",
    "x-trailguard-signature",
];

/// Signing, extra headers, timeouts and retry policy of a [`WebhookSink`].
///
/// There is deliberately no `Default`: whether requests are signed is a choice the
/// caller states, with [`WebhookConfig::signed`] or [`WebhookConfig::unsigned`] (the
/// command line warns about the latter).
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The HMAC-SHA256 signing secret (at least [`MIN_SECRET_CHARS`] characters), or
    /// `None` to send unsigned requests (no `X-Trailguard-Signature` header; the
    /// timestamp header is still sent).
    pub secret: Option<Secret>,
    /// Extra request headers, e.g. `("Authorization", Secret::new("Bearer ..."))`.
    /// Values are secrets: never printed, and scrubbed from error text. Names may not
    /// be ones the sink sets (`Content-Type`, `X-Trailguard-*`, ...).
    pub headers: Vec<(String, Secret)>,
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
    /// at once ([`SinkError::RateLimited`]). Default 60 s.
    pub max_wait: Duration,
}

impl WebhookConfig {
    /// Sign every request with `secret`; default timeouts and retries.
    pub fn signed(secret: Secret) -> Self {
        Self::new(Some(secret))
    }

    /// Send requests unsigned: a receiver cannot tell them from forged ones. Default
    /// timeouts and retries.
    pub fn unsigned() -> Self {
        Self::new(None)
    }

    fn new(secret: Option<Secret>) -> Self {
        WebhookConfig {
            secret,
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            max_attempts: 5,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            max_wait: Duration::from_secs(60),
        }
    }

    /// Add an extra request header (its value is a secret).
    pub fn with_header(mut self, name: impl Into<String>, value: Secret) -> Self {
        self.headers.push((name.into(), value));
        self
    }

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

/// POSTs each alert to a URL as the alert contract's JSON (the exact bytes of a JSON
/// Lines line, without the newline), `Content-Type: application/json`, with
/// `X-Trailguard-Timestamp: <unix seconds>` and, when signed,
/// `X-Trailguard-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
/// Each attempt is signed afresh, so a retry after a long wait still passes a
/// receiver's freshness check. Receivers verify with [`verify_signature`].
///
/// Any 2xx is delivered. 429 waits for `Retry-After` (seconds) and retries; 5xx,
/// timeouts and connection errors back off exponentially with jitter; any other
/// status fails at once. An error's detail is the receiver's JSON `error` or
/// `message`, or a short plain-text body, scrubbed of every secret; never an HTML page.
///
/// Plain `http://` is accepted only for loopback hosts. Redirects are not followed.
///
/// [`verify_signature`]: super::verify_signature
pub struct WebhookSink {
    http: Endpoint,
    /// Extra headers, values marked sensitive (kept out of HTTP/2 header compression
    /// tables and of reqwest's `Debug`).
    headers: HeaderMap,
    config: WebhookConfig,
}

impl fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSink")
            .field("url", self.http.url())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// Checks the URL (as every webhook sink does), the signing secret and the extra
    /// headers. Errors name the header at fault, never a value.
    pub fn new(url: Secret, config: WebhookConfig) -> Result<Self, SinkError> {
        let mut http = Endpoint::new(&url, config.policy(), |_| {})?;
        if let Some(secret) = &config.secret {
            if secret.expose().trim().chars().count() < MIN_SECRET_CHARS {
                return Err(SinkError::Config {
                    reason: format!(
                        "the webhook signing secret must be at least {MIN_SECRET_CHARS} \
                         characters (use a long random value)"
                    ),
                });
            }
            http.add_sensitive(secret.expose());
        }
        let mut headers = HeaderMap::new();
        for (i, (name, value)) in config.headers.iter().enumerate() {
            let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                // The "name" may be a mistyped `Name: value`: do not echo it.
                SinkError::Config {
                    reason: format!("extra header #{}: not a valid header name", i + 1),
                }
            })?;
            if RESERVED.contains(&name.as_str()) {
                return Err(SinkError::Config {
                    reason: format!("extra header `{name}` is set by trailguard itself"),
                });
            }
            let mut value =
                HeaderValue::from_str(value.expose()).map_err(|_| SinkError::Config {
                    reason: format!("extra header `{name}`: the value is not a valid header value"),
                })?;
            value.set_sensitive(true);
            if let Ok(v) = value.to_str() {
                // The whole value, and its words (the token of `Bearer <token>`), in
                // case a receiver echoes only part of it.
                if v.len() >= 6 {
                    http.add_sensitive(v);
                }
                for word in v.split_whitespace().filter(|w| w.len() >= 8 && *w != v) {
                    http.add_sensitive(word);
                }
            }
            headers.append(name, value);
        }
        Ok(WebhookSink {
            http,
            headers,
            config,
        })
    }

    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    async fn attempt(&self, body: &[u8]) -> Result<(), Failure> {
        let mut headers = self.headers.clone();
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        headers.insert(TIMESTAMP_HEADER, HeaderValue::from(timestamp));
        if let Some(secret) = &self.config.secret {
            let signature = HeaderValue::from_str(&sign(secret, timestamp, body))
                .expect("sha256= and hex digits are a valid header value");
            headers.insert(SIGNATURE_HEADER, signature);
        }
        let reply = self.http.post(body, headers).await?;
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

    /// The receiver's `error` or `message` (a JSON string), or a short one-line text
    /// body; scrubbed of the URL, the signing secret and the header values.
    fn error_detail(&self, body: &[u8]) -> Option<String> {
        let text = std::str::from_utf8(body).ok()?.trim();
        let detail = if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
            ["error", "message"]
                .iter()
                .find_map(|k| v.get(*k)?.as_str().map(str::to_owned))?
        } else if !text.is_empty()
            && text.chars().count() <= 200
            && !text.contains(['<', '\n', '\r'])
        {
            text.to_owned()
        } else {
            return None;
        };
        let detail = short_text(detail.trim(), 200);
        (!detail.is_empty()).then(|| self.http.scrub(&detail))
    }
}

impl Sink for WebhookSink {
    fn name(&self) -> &str {
        "webhook"
    }

    fn send<'a>(&'a self, alert: &'a Alert) -> SendFuture<'a> {
        Box::pin(async move {
            let body = alert_json(alert)?;
            let body = &body;
            self.http.deliver(move || self.attempt(body)).await
        })
    }

    /// The digest JSON, signed like an alert.
    fn send_digest<'a>(&'a self, digest: &'a Digest) -> SendFuture<'a> {
        Box::pin(async move {
            let body = digest_json(digest)?;
            let body = &body;
            self.http.deliver(move || self.attempt(body)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://alerts.example.test/hooks/trailguard?token=QUERYTOKEN123";
    const SECRET: &str = "whsec_0123456789abcdefXYZ";

    fn config() -> WebhookConfig {
        WebhookConfig::signed(Secret::new(SECRET))
            .with_header("Authorization", Secret::new("Bearer HEADERTOKEN_987654"))
    }

    #[test]
    fn debug_never_shows_secrets() {
        let sink = WebhookSink::new(Secret::new(URL), config()).unwrap();
        let shown = format!("{sink:?} {sink:#?} {:?}", sink.config());
        for secret in [
            SECRET,
            "HEADERTOKEN",
            "QUERYTOKEN",
            "example.test",
            "Bearer",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("Authorization"),
            "header names are not secret"
        );
        assert_eq!(sink.name(), "webhook");
    }

    #[test]
    fn signing_is_explicit_and_secrets_must_be_long() {
        assert!(WebhookConfig::unsigned().secret.is_none());
        assert!(WebhookConfig::signed(Secret::new(SECRET)).secret.is_some());
        for short in ["", "   ", "short", "fifteen-chars!!"] {
            let e = WebhookSink::new(Secret::new(URL), WebhookConfig::signed(Secret::new(short)))
                .unwrap_err();
            assert!(matches!(e, SinkError::Config { .. }), "{e:?}");
            assert!(!e.is_transient());
            if !short.trim().is_empty() {
                assert!(!e.to_string().contains(short), "{e}");
            }
        }
        assert!(WebhookSink::new(Secret::new(URL), WebhookConfig::unsigned()).is_ok());
    }

    #[test]
    fn bad_extra_headers_are_named_without_their_values() {
        let cases = [
            ("Authorization: Bearer LEAKED_TOKEN", "x", "#1"),
            ("Content-Type", "text/plain", "`content-type`"),
            (
                "X-Trailguard-Signature",
                "sha256=0",
                "`x-trailguard-signature`",
            ),
            ("X-Api-Key", "LEAKED_TOKEN\nInjected: 1", "`x-api-key`"),
        ];
        for (name, value, named) in cases {
            let c = WebhookConfig::unsigned().with_header(name, Secret::new(value));
            let e = WebhookSink::new(Secret::new(URL), c).unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(shown.contains(named), "{shown}");
            assert!(!shown.contains("LEAKED_TOKEN"), "{shown}");
        }
    }

    #[test]
    fn error_detail_is_short_and_scrubbed() {
        let sink = WebhookSink::new(Secret::new(URL), config()).unwrap();
        let d = |b: &str| sink.error_detail(b.as_bytes());
        assert_eq!(
            d(r#"{"error":"bad signature"}"#).as_deref(),
            Some("bad signature")
        );
        assert_eq!(d(r#"{"message":"quota"}"#).as_deref(), Some("quota"));
        assert_eq!(d("invalid alert").as_deref(), Some("invalid alert"));
        assert_eq!(d(r#"{"other":1}"#), None);
        assert_eq!(d("<html>no</html>"), None);
        assert_eq!(d("line\nline"), None);
        assert_eq!(d(&"x".repeat(201)), None);
        assert_eq!(
            d(r#"{"error":"got Bearer HEADERTOKEN_987654 and whsec_0123456789abcdefXYZ"}"#)
                .as_deref(),
            Some("got [redacted] and [redacted]")
        );
        assert_eq!(
            d("token HEADERTOKEN_987654 QUERYTOKEN123").as_deref(),
            Some("token [redacted] [redacted]")
        );
    }
}
