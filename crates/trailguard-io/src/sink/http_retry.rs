//! What the HTTP sinks (Discord, Slack, the generic webhook) share: checking the
//! webhook URL, one HTTP client per sink, bounded retries, waits the server asks for,
//! and keeping the URL and other secrets out of every error.
//!
//! One module because the three fail in the same ways, and a fix to retrying or to
//! redaction must reach all of them:
//!
//! - **429**: wait as long as the server asks (each sink reads its own hint: Discord's
//!   JSON body, `Retry-After`), then retry. A wait longer than `max_wait` is not
//!   waited: the sink gives up at once with [`SinkError::RateLimited`] (transient: the
//!   caller's outbox tries later) rather than retrying too early.
//! - **5xx, timeouts, connection errors**: exponential backoff with "equal jitter" (a
//!   random delay between half and all of `base * 2^(attempt-1)`, capped), so that many
//!   senders recovering together do not hit the server in step.
//! - **Anything else** (4xx, 3xx: redirects are not followed) fails at once.
//! - **Pauses**: a server-requested wait also holds back the *next* request of the
//!   sink (and, for scopes wider than one webhook, every sink sharing the origin), so
//!   a run with many alerts does not walk into the same 429 again. A pause longer than
//!   `max_wait` makes later sends fail at once, without a request, until it ends.
//!
//! Secrets: the URL lives in a [`Secret`] and reqwest errors are stripped of it
//! (`without_url`); every text that goes into an error is also scrubbed of the URL's
//! token-like path segments and query values, and of any other secret the sink adds
//! (signing secrets, header values).

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use tokio::time::Instant;

use super::{Secret, SinkError};

/// Timeouts and retry bounds, as every HTTP sink's config spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    pub timeout: Duration,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    pub max_wait: Duration,
}

/// One failed attempt, before deciding whether to retry.
pub(crate) enum Failure {
    Permanent(SinkError),
    /// A status that retrying will not fix (4xx other than 429, 3xx).
    Rejected(StatusCode, Option<String>),
    /// 429, with the wait the server asked for, if it said.
    RateLimited(Option<Duration>),
    Server(StatusCode, Option<String>),
    Timeout,
    Connection(String),
}

impl Failure {
    /// The failure for a non-success status other than 429, with the server's detail.
    pub fn from_status(status: StatusCode, detail: Option<String>) -> Failure {
        if status.is_server_error() {
            Failure::Server(status, detail)
        } else {
            Failure::Rejected(status, detail)
        }
    }
}

/// The answer to one request. The body is read (at most 16 KiB) only when the status
/// is not a success: a 2xx is taken as delivered whatever it says.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A time before which no request may start, shared by the sinks that hold it.
pub(crate) type Pause = Arc<Mutex<Option<Instant>>>;

/// A webhook endpoint: the client, the URL (a secret) and the retry policy.
pub(crate) struct Endpoint {
    client: reqwest::Client,
    url: Secret,
    /// Token-like parts of the URL and other secrets, scrubbed from error text.
    sensitive: Vec<String>,
    origin: String,
    policy: RetryPolicy,
    /// Earliest start of this sink's next request.
    pause: Pause,
    /// Earliest start of the next request of every sink sharing the origin, if the
    /// sink takes part (see [`Endpoint::share_pause_by_origin`]).
    origin_pause: Option<Pause>,
}

impl Endpoint {
    /// Checks the URL (https, or plain http to a loopback address only, so a token
    /// never crosses a network unencrypted; no credentials in it), lets the sink
    /// `adjust` it (Discord adds `wait=true`), and builds the client: whole-request
    /// timeout, no redirects, no proxy for loopback. Errors never contain the URL.
    pub fn new(
        webhook: &Secret,
        policy: RetryPolicy,
        adjust: impl FnOnce(&mut Url),
    ) -> Result<Endpoint, SinkError> {
        let mut url = check_webhook_url(webhook)?;
        let loopback = is_loopback(&url);
        adjust(&mut url);
        let mut sensitive: Vec<String> = url
            .path_segments()
            .into_iter()
            .flatten()
            .filter(|s| s.len() >= 16)
            .map(str::to_owned)
            .collect();
        sensitive.extend(
            url.query_pairs()
                .map(|(_, v)| v.into_owned())
                .filter(|v| v.len() >= 8),
        );

        let mut builder = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("trailguard/", env!("CARGO_PKG_VERSION")));
        if loopback {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|e| SinkError::Client {
            detail: error_chain(&e.without_url()),
        })?;
        Ok(Endpoint {
            client,
            origin: url.origin().ascii_serialization(),
            url: Secret::new(String::from(url)),
            sensitive,
            policy,
            pause: Pause::default(),
            origin_pause: None,
        })
    }

    /// Take part in the pause shared by every endpoint of this process with the same
    /// origin (scheme, host, port): for limits that cover more than one webhook, such
    /// as Discord's global rate limit.
    pub fn share_pause_by_origin(mut self) -> Self {
        static PAUSES: OnceLock<Mutex<HashMap<String, Pause>>> = OnceLock::new();
        let mut map = PAUSES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.origin_pause = Some(Arc::clone(map.entry(self.origin.clone()).or_default()));
        self
    }

    /// Also scrub `secret` from any text that goes into an error.
    pub fn add_sensitive(&mut self, secret: &str) {
        if !secret.is_empty() {
            self.sensitive.push(secret.to_owned());
        }
    }

    /// The URL, for `Debug` impls: it prints `[redacted]`.
    pub fn url(&self) -> &Secret {
        &self.url
    }

    /// POST `body` as JSON with `headers` added. Never returns a `reqwest::Error` that
    /// still holds the URL.
    pub async fn post(&self, body: &[u8], headers: HeaderMap) -> Result<Reply, Failure> {
        let response = self
            .client
            .post(self.url.expose())
            .header(CONTENT_TYPE, "application/json")
            .headers(headers)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| self.transport_failure(e.without_url()))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = if status.is_success() {
            Vec::new()
        } else {
            read_limited(response, 16 * 1024).await
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
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

    /// Remove the URL and anything that looks like its id or token, and the other
    /// secrets added with [`Endpoint::add_sensitive`].
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(self.url.expose(), "[redacted]");
        for s in &self.sensitive {
            out = out.replace(s.as_str(), "[redacted]");
        }
        out
    }

    /// The backoff before attempt `attempt + 1`, with jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .policy
            .backoff_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.policy.backoff_cap)
            .min(self.policy.max_wait);
        // "Equal jitter": between half and all of the exponential delay.
        exp / 2 + exp.mul_f64(random_unit() / 2.0)
    }

    /// Hold this sink's next request back by `wait` from now (a later pause wins).
    pub fn pause_for(&self, wait: Duration) {
        extend(&self.pause, wait);
    }

    /// Hold back the next request of every sink sharing the origin (this sink alone
    /// when it does not share).
    pub fn pause_origin_for(&self, wait: Duration) {
        extend(self.origin_pause.as_ref().unwrap_or(&self.pause), wait);
    }

    /// How long until a request may start, if it must wait.
    fn pending_wait(&self) -> Option<Duration> {
        let now = Instant::now();
        [Some(&self.pause), self.origin_pause.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|p| *p.lock().unwrap_or_else(|e| e.into_inner()))
            .max()
            .filter(|until| *until > now)
            .map(|until| until - now)
    }

    /// Run `attempt` until it succeeds, fails for good, or `max_attempts` are spent,
    /// waiting as described in the module documentation.
    pub async fn deliver<F, Fut>(&self, mut attempt: F) -> Result<(), SinkError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), Failure>>,
    {
        let max_attempts = self.policy.max_attempts.max(1);
        let mut attempts = 0;
        loop {
            if let Some(wait) = self.pending_wait() {
                if wait > self.policy.max_wait {
                    return Err(SinkError::RateLimited {
                        attempts,
                        retry_after: Some(wait),
                    });
                }
                tokio::time::sleep(wait).await;
            }
            attempts += 1;
            let failure = match attempt().await {
                Ok(()) => return Ok(()),
                Err(f) => f,
            };
            let backoff = match &failure {
                Failure::Permanent(_) | Failure::Rejected(..) => None,
                Failure::RateLimited(Some(d)) => {
                    // Waited at the top of the loop, and by later sends.
                    self.pause_for(*d);
                    (*d <= self.policy.max_wait).then_some(Duration::ZERO)
                }
                Failure::RateLimited(None)
                | Failure::Server(..)
                | Failure::Timeout
                | Failure::Connection(_) => Some(self.backoff(attempts)),
            };
            match backoff {
                Some(wait) if attempts < max_attempts => tokio::time::sleep(wait).await,
                _ => return Err(give_up(failure, attempts)),
            }
        }
    }
}

fn extend(pause: &Pause, wait: Duration) {
    let now = Instant::now();
    // A server may ask for absurd waits: keep the instant representable.
    let until = now
        .checked_add(wait)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400));
    let mut p = pause.lock().unwrap_or_else(|e| e.into_inner());
    *p = Some(p.map_or(until, |t| t.max(until)));
}

fn give_up(failure: Failure, attempts: u32) -> SinkError {
    match failure {
        Failure::Permanent(e) => e,
        Failure::RateLimited(retry_after) => SinkError::RateLimited {
            attempts,
            retry_after,
        },
        Failure::Server(status, detail) | Failure::Rejected(status, detail) => SinkError::Status {
            status: status.as_u16(),
            attempts,
            detail,
        },
        Failure::Timeout => SinkError::Timeout { attempts },
        Failure::Connection(detail) => SinkError::Connection { attempts, detail },
    }
}

/// Checks a webhook URL as every HTTP sink does: https, or plain http to a loopback
/// address only (so a token never crosses a network unencrypted), a host, and no
/// credentials in it. The error never contains the URL. Used by the sinks and by the
/// config file's validation, so a bad URL is refused before any alert is read.
pub(crate) fn check_webhook_url(webhook: &Secret) -> Result<Url, SinkError> {
    let url = Url::parse(webhook.expose().trim()).map_err(|_| SinkError::InvalidUrl {
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
    Ok(url)
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

/// The `Retry-After` header in seconds (an HTTP date is not understood: the caller
/// backs off instead).
pub(crate) fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    header_f64(headers, RETRY_AFTER.as_str()).and_then(secs)
}

pub(crate) fn header_f64(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Seconds as a duration, refusing NaN, negatives and absurd values.
pub(crate) fn secs(s: f64) -> Option<Duration> {
    (s.is_finite() && (0.0..1e9).contains(&s)).then(|| Duration::from_secs_f64(s))
}

/// A short server message safe to show: control characters become spaces, at most
/// `max` characters.
pub(crate) fn short_text(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
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
pub(crate) fn random_unit() -> f64 {
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

    fn policy() -> RetryPolicy {
        RetryPolicy {
            timeout: Duration::from_secs(1),
            max_attempts: 3,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_millis(1000),
            max_wait: Duration::from_secs(2),
        }
    }

    const URL: &str =
        "https://hooks.example.test/services/T000/B000/SECRET_TOKEN_abcdefghij?key=QUERYSECRET1";

    #[test]
    fn url_checks_never_echo_the_url() {
        for bad in [
            "not a url SECRET_TOKEN",
            "http://hooks.example.test/x/SECRET_TOKEN",
            "ftp://hooks.example.test/x/SECRET_TOKEN",
            "https://user:SECRET_TOKEN@hooks.example.test/x",
            "http://10.0.0.1/SECRET_TOKEN",
        ] {
            let e = Endpoint::new(&Secret::new(bad), policy(), |_| {})
                .err()
                .unwrap();
            assert!(matches!(e, SinkError::InvalidUrl { .. }));
            for shown in [e.to_string(), format!("{e:?}")] {
                assert!(!shown.contains("SECRET_TOKEN"), "{shown}");
                assert!(!shown.contains("example.test"), "{shown}");
            }
        }
        for good in [
            "http://127.0.0.1:9/x",
            "http://localhost:9/x",
            "http://[::1]:9/x",
            URL,
        ] {
            assert!(Endpoint::new(&Secret::new(good), policy(), |_| {}).is_ok());
        }
    }

    #[test]
    fn scrub_removes_tokens_query_values_and_added_secrets() {
        let mut e = Endpoint::new(&Secret::new(URL), policy(), |_| {}).unwrap();
        e.add_sensitive("hunter2hunter2");
        assert_eq!(
            e.scrub("a SECRET_TOKEN_abcdefghij b QUERYSECRET1 c hunter2hunter2 T000"),
            "a [redacted] b [redacted] c [redacted] T000"
        );
        assert_eq!(e.scrub(URL), "[redacted]");
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let e = Endpoint::new(&Secret::new(URL), policy(), |_| {}).unwrap();
        for attempt in 1..=40 {
            let exp = (100u64 << (attempt - 1).min(20)).min(1000);
            let d = e.backoff(attempt).as_millis() as u64;
            assert!(d >= exp / 2 && d <= exp, "attempt {attempt}: {d} vs {exp}");
        }
    }

    #[test]
    fn pauses_take_the_later_time_and_survive_absurd_waits() {
        let e = Endpoint::new(&Secret::new(URL), policy(), |_| {}).unwrap();
        assert_eq!(e.pending_wait(), None);
        e.pause_for(Duration::from_secs(10));
        e.pause_for(Duration::from_secs(1));
        let w = e.pending_wait().unwrap();
        assert!(
            w > Duration::from_secs(9) && w <= Duration::from_secs(10),
            "{w:?}"
        );
        e.pause_for(Duration::from_secs(999_999_999));
        assert!(e.pending_wait().unwrap() > Duration::from_secs(999_000_000));
    }

    #[test]
    fn origin_pause_is_shared_by_origin_only() {
        let a = Endpoint::new(&Secret::new("http://127.0.0.1:7/a"), policy(), |_| {})
            .unwrap()
            .share_pause_by_origin();
        let b = Endpoint::new(&Secret::new("http://127.0.0.1:7/b"), policy(), |_| {})
            .unwrap()
            .share_pause_by_origin();
        let other = Endpoint::new(&Secret::new("http://127.0.0.1:8/a"), policy(), |_| {})
            .unwrap()
            .share_pause_by_origin();
        a.pause_origin_for(Duration::from_secs(5));
        assert!(b.pending_wait().is_some());
        assert!(other.pending_wait().is_none());
        // Without sharing, the origin pause is the sink's own.
        let alone = Endpoint::new(&Secret::new("http://127.0.0.1:7/c"), policy(), |_| {}).unwrap();
        assert!(alone.pending_wait().is_none());
        alone.pause_origin_for(Duration::from_secs(5));
        assert!(alone.pending_wait().is_some());
    }

    #[tokio::test]
    async fn deliver_gives_up_without_a_request_while_paused_too_long() {
        let e = Endpoint::new(&Secret::new(URL), policy(), |_| {}).unwrap();
        e.pause_for(Duration::from_secs(60));
        let mut calls = 0;
        let err = e
            .deliver(|| {
                calls += 1;
                async { Ok(()) }
            })
            .await
            .unwrap_err();
        assert_eq!(calls, 0);
        assert!(
            matches!(err, SinkError::RateLimited { attempts: 0, retry_after: Some(d) } if d > Duration::from_secs(59)),
            "{err:?}"
        );
        assert!(err.is_transient());
    }

    #[tokio::test]
    async fn deliver_counts_attempts_and_stops_on_rejection() {
        let e = Endpoint::new(&Secret::new(URL), policy(), |_| {}).unwrap();
        let mut calls = 0;
        let err = e
            .deliver(|| {
                calls += 1;
                let n = calls;
                async move {
                    if n == 1 {
                        Err(Failure::Timeout)
                    } else {
                        Err(Failure::Rejected(StatusCode::FORBIDDEN, Some("no".into())))
                    }
                }
            })
            .await
            .unwrap_err();
        assert_eq!(calls, 2);
        assert!(
            matches!(err, SinkError::Status { status: 403, attempts: 2, ref detail } if detail.as_deref() == Some("no")),
            "{err:?}"
        );
    }

    #[test]
    fn retry_after_header_in_seconds() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after_header(&h), None);
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after_header(&h), Some(Duration::from_secs(2)));
        h.insert(RETRY_AFTER, "0.5".parse().unwrap());
        assert_eq!(retry_after_header(&h), Some(Duration::from_millis(500)));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after_header(&h), None);
        h.insert(RETRY_AFTER, "-3".parse().unwrap());
        assert_eq!(retry_after_header(&h), None);
        assert_eq!(secs(f64::NAN), None);
        assert_eq!(secs(f64::INFINITY), None);
    }
}
