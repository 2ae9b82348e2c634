//! `WebhookSink` against a real HTTP server on 127.0.0.1 (no internet), the server
//! checking each request as a receiver would, with `verify_signature`.

mod common;

use std::time::{Duration, SystemTime};

use common::{status, text, Recorded, Reply, TestServer};
use trailguard_core::Alert;
use trailguard_io::sink::{
    sign, verify_signature, Secret, SignatureError, Sink, SinkError, WebhookConfig, WebhookSink,
    SIGNATURE_HEADER, TIMESTAMP_HEADER,
};

const SECRET: &str = "whsec_test_s1gn1ngS3cr3t_0123456789";
const AUTH: &str = "Bearer AuThToKeN_0f1e2d3c4b5a6978";
const FIVE_MINUTES: Duration = Duration::from_secs(300);

fn url(server: &TestServer) -> String {
    server.url(&format!("/hooks/trailguard/{}?tenant=acme", server.token))
}

fn config() -> WebhookConfig {
    WebhookConfig {
        timeout: Duration::from_secs(5),
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(40),
        max_wait: Duration::from_secs(3),
        ..WebhookConfig::signed(Secret::new(SECRET))
            .with_header("Authorization", Secret::new(AUTH))
            .with_header("X-Tenant", Secret::new("acme"))
    }
}

fn sink(server: &TestServer, config: WebhookConfig) -> WebhookSink {
    WebhookSink::new(Secret::new(url(server)), config).unwrap()
}

fn assert_no_secret(server: &TestServer, err: &SinkError) {
    server.assert_no_secret(err, &[&url(server), SECRET, AUTH, "AuThToKeN", "/hooks"]);
}

fn alert() -> Alert {
    let mut a = Alert::example();
    a.actor.user_agent = Some("curl/8 \"quoted\" \n newline 😀".into());
    a.context
        .insert("new_access_key_id".into(), "AKIANEWKEY".into());
    a
}

/// What a receiver does: verify the signature against the raw body, now.
fn verify(r: &Recorded, secret: &str) -> Result<(), SignatureError> {
    verify_signature(
        &Secret::new(secret),
        r.header(TIMESTAMP_HEADER).unwrap_or(""),
        r.body.as_bytes(),
        r.header(SIGNATURE_HEADER).unwrap_or(""),
        SystemTime::now(),
        FIVE_MINUTES,
    )
}

const OK: Reply = Reply::Status {
    code: 204,
    body: "",
    headers: Vec::new(),
};

#[tokio::test]
async fn receiver_verifies_the_signature_and_reads_the_alert() {
    let server = TestServer::start(vec![OK]);
    let a = alert();
    sink(&server, config()).send(&a).await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.path, format!("/hooks/trailguard/{}", server.token));
    assert_eq!(r.query, "tenant=acme");
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.header("Authorization"), Some(AUTH));
    assert_eq!(r.header("X-Tenant"), Some("acme"));
    assert_eq!(verify(r, SECRET), Ok(()));
    let sig = r.header(SIGNATURE_HEADER).unwrap();
    assert!(sig.starts_with("sha256=") && sig.len() == 71, "{sig}");
    let ts: u64 = r.header(TIMESTAMP_HEADER).unwrap().parse().unwrap();
    assert_eq!(sign(&Secret::new(SECRET), ts, r.body.as_bytes()), sig);

    // The body is the alert contract, byte for byte what the JSON Lines sink writes.
    assert_eq!(r.body.as_bytes(), serde_json::to_vec(&a).unwrap());
    let back: Alert = serde_json::from_str(&r.body).unwrap();
    assert_eq!(back, a);
    assert!(!r.body.contains(SECRET) && !r.body.contains(&server.token));
}

#[tokio::test]
async fn tampering_another_secret_and_replays_are_rejected() {
    let server = TestServer::start(vec![OK]);
    sink(&server, config()).send(&alert()).await.unwrap();
    let r = server.requests().remove(0);
    assert_eq!(verify(&r, SECRET), Ok(()));

    let mut tampered = r.clone();
    tampered.body = tampered.body.replace("203.0.113.7", "198.51.100.1");
    assert_ne!(tampered.body, r.body);
    assert_eq!(verify(&tampered, SECRET), Err(SignatureError::Mismatch));

    assert_eq!(
        verify(&r, "whsec_another_secret_0123456789"),
        Err(SignatureError::Mismatch)
    );

    // The same request replayed an hour later.
    let ts = r.header(TIMESTAMP_HEADER).unwrap();
    let later = SystemTime::now() + Duration::from_secs(3600);
    let stale = verify_signature(
        &Secret::new(SECRET),
        ts,
        r.body.as_bytes(),
        r.header(SIGNATURE_HEADER).unwrap(),
        later,
        FIVE_MINUTES,
    );
    assert!(
        matches!(stale, Err(SignatureError::Stale { age_secs, tolerance_secs: 300 }) if age_secs >= 3599),
        "{stale:?}"
    );

    // A replay with a fresh timestamp but the old signature.
    let mut moved = r.clone();
    let fresh = (ts.parse::<u64>().unwrap() + 1).to_string();
    for h in &mut moved.headers {
        if h.0.eq_ignore_ascii_case(TIMESTAMP_HEADER) {
            h.1 = fresh.clone();
        }
    }
    assert_eq!(verify(&moved, SECRET), Err(SignatureError::Mismatch));
}

#[tokio::test]
async fn unsigned_when_chosen() {
    let server = TestServer::start(vec![OK]);
    let config = WebhookConfig {
        timeout: Duration::from_secs(5),
        ..WebhookConfig::unsigned()
    };
    sink(&server, config).send(&alert()).await.unwrap();
    let r = server.requests().remove(0);
    assert!(r.header(SIGNATURE_HEADER).is_none());
    assert!(r.header(TIMESTAMP_HEADER).unwrap().parse::<u64>().is_ok());
    assert_eq!(verify(&r, SECRET), Err(SignatureError::BadHeader));
}

#[tokio::test]
async fn rate_limited_then_delivered_once_each_attempt_signed() {
    let server = TestServer::start(vec![
        Reply::Status {
            code: 429,
            body: "slow down",
            headers: vec![("Retry-After", "1")],
        },
        status(200, r#"{"ok":true}"#),
    ]);
    let started = std::time::Instant::now();
    let config = WebhookConfig {
        backoff_base: Duration::from_secs(30),
        backoff_cap: Duration::from_secs(30),
        ..config()
    };
    sink(&server, config).send(&alert()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(950));
    for r in &reqs {
        assert_eq!(verify(r, SECRET), Ok(()));
    }
    assert_eq!(reqs[0].body, reqs[1].body);
}

#[tokio::test]
async fn server_errors_and_refused_connections_are_retried() {
    let server = TestServer::start(vec![text(503, "busy"), text(502, "<html/>"), OK]);
    sink(&server, config()).send(&alert()).await.unwrap();
    assert_eq!(server.requests().len(), 3);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/hooks/cOnNeCtToKeN_cccccccccccccccc");
    let config = WebhookConfig {
        max_attempts: 2,
        ..config()
    };
    let err = WebhookSink::new(Secret::new(url.clone()), config)
        .unwrap()
        .send(&alert())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SinkError::Connection { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    for shown in [err.to_string(), format!("{err:?}")] {
        for secret in [url.as_str(), "cOnNeCtToKeN", SECRET, AUTH] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}

#[tokio::test]
async fn client_errors_are_permanent_with_a_scrubbed_detail() {
    // A receiver that echoes what it got must not leak the header or the secret.
    static ECHO: &str = r#"{"error":"rejected Authorization Bearer AuThToKeN_0f1e2d3c4b5a6978 with whsec_test_s1gn1ngS3cr3t_0123456789"}"#;
    let server = TestServer::start(vec![status(401, ECHO)]);
    let err = sink(&server, config()).send(&alert()).await.unwrap_err();
    assert!(
        matches!(
            err,
            SinkError::Status {
                status: 401,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "HTTP 401 after 1 attempt(s): rejected Authorization [redacted] with [redacted]"
    );
    assert!(!err.is_transient());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.requests().len(), 1);
    assert_no_secret(&server, &err);
}

#[tokio::test]
async fn secrets_never_show_in_debug_or_errors() {
    let server = TestServer::start(vec![Reply::Hang]);
    let config = WebhookConfig {
        timeout: Duration::from_millis(200),
        max_attempts: 2,
        ..config()
    };
    let sink = sink(&server, config);
    let shown = format!("{sink:?} {sink:#?} {:?}", sink.config());
    for secret in [
        SECRET,
        AUTH,
        "AuThToKeN",
        server.token.as_str(),
        "127.0.0.1",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    let err = sink.send(&alert()).await.unwrap_err();
    assert!(matches!(err, SinkError::Timeout { attempts: 2 }), "{err:?}");
    assert_no_secret(&server, &err);
    // A boxed dyn sink, as the command line holds it.
    let boxed: Box<dyn Sink> = Box::new(sink);
    assert_eq!(boxed.name(), "webhook");
}
