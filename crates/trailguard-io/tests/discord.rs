//! `DiscordSink` against a real HTTP server on 127.0.0.1 (no internet).

mod common;

use std::time::{Duration, Instant};

use common::{status, Reply, TestServer};
use serde_json::Value;
use trailguard_core::{Alert, Severity};
use trailguard_io::sink::{DiscordConfig, DiscordSink, Secret, Sink, SinkError};

/// The Discord webhook path of a test server; the query is kept by the sink.
fn webhook(server: &TestServer) -> String {
    server.url(&format!(
        "/api/webhooks/112233445566778899/{}?thread_id=42",
        server.token
    ))
}

fn sink(server: &TestServer, config: DiscordConfig) -> DiscordSink {
    DiscordSink::with_config(Secret::new(webhook(server)), config).unwrap()
}

/// No part of the webhook URL appears in an error, however it is printed.
fn assert_no_secret(server: &TestServer, err: &SinkError) {
    server.assert_no_secret(
        err,
        &[
            &webhook(server),
            "112233445566778899",
            "/api/webhooks",
            "webhooks",
            "thread_id",
        ],
    );
}

fn fast() -> DiscordConfig {
    DiscordConfig {
        timeout: Duration::from_secs(5),
        max_attempts: 5,
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(40),
        max_wait: Duration::from_secs(2),
        mention_role: None,
    }
}

fn alert() -> Alert {
    let mut a = Alert::example();
    a.id = "a1".into();
    a.rule.severity = Severity::High;
    a.rule.tags.truncate(1);
    a.last_time = a.time.clone();
    a.count = 1;
    a.actor.user_agent = Some("@everyone <@&123> curl/8".into());
    a.summary = "admin created an access key".into();
    a
}

const MESSAGE: &str = r#"{"id":"1","type":0,"content":""}"#;

#[tokio::test]
async fn success_sends_one_request_with_wait_true_and_the_embed() {
    let server = TestServer::start(vec![status(200, MESSAGE)]);
    let sink = sink(&server, fast());
    sink.send(&alert()).await.unwrap();

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        r.path,
        format!("/api/webhooks/112233445566778899/{}", server.token)
    );
    let pairs: Vec<&str> = r.query.split('&').collect();
    assert_eq!(pairs, ["thread_id=42", "wait=true"], "existing query kept");
    assert_eq!(r.header("Content-Type"), Some("application/json"));

    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["allowed_mentions"], serde_json::json!({"parse": []}));
    let embeds = body["embeds"].as_array().unwrap();
    assert_eq!(embeds.len(), 1);
    let e = &embeds[0];
    assert_eq!(e["title"], "HIGH: Access key created from an unusual IP");
    assert_eq!(e["description"], "admin created an access key");
    assert_eq!(e["timestamp"], "2024-05-01T12:00:00Z");
    assert_eq!(e["url"], alert().console_url().unwrap());
    assert!(e["color"].is_u64());
    assert!(e["footer"]["text"]
        .as_str()
        .unwrap()
        .starts_with("aws-iam-access-key-created-by-unusual-ip"));
    let ua = e["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "User agent")
        .unwrap();
    assert_eq!(ua["value"], "`@everyone <@&123> curl/8`");
    assert!(!r.body.contains(&server.token) && !r.body.contains("webhooks"));
}

#[tokio::test]
async fn rate_limited_once_then_success() {
    let server = TestServer::start(vec![
        status(
            429,
            r#"{"message":"You are being rate limited.","retry_after":0.05,"global":false}"#,
        ),
        Reply::Status {
            code: 204,
            body: "",
            headers: vec![],
        },
    ]);
    // A long backoff proves the wait came from `retry_after`, not from backoff.
    let config = DiscordConfig {
        backoff_base: Duration::from_secs(30),
        backoff_cap: Duration::from_secs(30),
        ..fast()
    };
    let started = Instant::now();
    sink(&server, config).send(&alert()).await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].at - reqs[0].at;
    assert!(gap >= Duration::from_millis(45), "waited {gap:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(reqs[0].body, reqs[1].body, "the same message is retried");
}

#[tokio::test]
async fn rate_limit_from_headers_when_body_is_not_json() {
    let server = TestServer::start(vec![
        Reply::Status {
            code: 429,
            body: "<html>slow down</html>",
            headers: vec![("X-RateLimit-Reset-After", "0.06")],
        },
        status(200, MESSAGE),
    ]);
    let config = DiscordConfig {
        backoff_base: Duration::from_secs(30),
        backoff_cap: Duration::from_secs(30),
        ..fast()
    };
    sink(&server, config).send(&alert()).await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(55));
}

#[tokio::test]
async fn rate_limit_longer_than_max_wait_gives_up_at_once() {
    let server = TestServer::start(vec![status(429, r#"{"retry_after":3600.0,"global":true}"#)]);
    let started = Instant::now();
    let err = sink(&server, fast()).send(&alert()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    match &err {
        SinkError::RateLimited {
            attempts,
            retry_after,
        } => {
            assert_eq!(*attempts, 1);
            assert_eq!(*retry_after, Some(Duration::from_secs(3600)));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_transient());
    assert_eq!(server.requests().len(), 1);
    assert_no_secret(&server, &err);
}

#[tokio::test]
async fn always_rate_limited_gives_up_after_max_attempts() {
    let server = TestServer::start(vec![status(429, r#"{"retry_after":0.01,"global":false}"#)]);
    let config = DiscordConfig {
        max_attempts: 3,
        ..fast()
    };
    let err = sink(&server, config).send(&alert()).await.unwrap_err();
    assert!(
        matches!(err, SinkError::RateLimited { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("rate limited"), "{err}");
    assert_eq!(server.requests().len(), 3);
    assert_no_secret(&server, &err);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    let server = TestServer::start(vec![
        status(500, r#"{"message":"Internal Server Error","code":0}"#),
        status(500, r#"{"message":"Internal Server Error","code":0}"#),
        status(200, MESSAGE),
    ]);
    sink(&server, fast()).send(&alert()).await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    // Backoff: at least half of 10 ms, then at least half of 20 ms.
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(5));
    assert!(reqs[2].at - reqs[1].at >= Duration::from_millis(10));
}

#[tokio::test]
async fn persistent_server_error_is_reported_after_max_attempts() {
    let server = TestServer::start(vec![status(503, "<html>upstream down</html>")]);
    let config = DiscordConfig {
        max_attempts: 4,
        ..fast()
    };
    let err = sink(&server, config).send(&alert()).await.unwrap_err();
    assert!(
        matches!(
            err,
            SinkError::Status {
                status: 503,
                attempts: 4,
                detail: None
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(server.requests().len(), 4);
    assert_no_secret(&server, &err);
}

#[tokio::test]
async fn client_error_fails_after_exactly_one_request() {
    let server = TestServer::start(vec![status(
        400,
        r#"{"message":"Invalid Form Body","code":50035,"errors":{}}"#,
    )]);
    let err = sink(&server, fast()).send(&alert()).await.unwrap_err();
    assert!(
        matches!(
            err,
            SinkError::Status {
                status: 400,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "HTTP 400 after 1 attempt(s): Invalid Form Body (code 50035)"
    );
    assert!(!err.is_transient());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(server.requests().len(), 1, "no retry on 4xx");
    assert_no_secret(&server, &err);
}

#[tokio::test]
async fn not_found_webhook_is_not_retried() {
    let server = TestServer::start(vec![status(
        404,
        r#"{"message":"Unknown Webhook","code":10015}"#,
    )]);
    let err = sink(&server, fast()).send(&alert()).await.unwrap_err();
    assert!(matches!(err, SinkError::Status { status: 404, .. }));
    assert_eq!(server.requests().len(), 1);
    assert_no_secret(&server, &err);
}

#[tokio::test]
async fn server_that_never_answers_times_out() {
    let server = TestServer::start(vec![Reply::Hang]);
    let config = DiscordConfig {
        timeout: Duration::from_millis(300),
        max_attempts: 2,
        ..fast()
    };
    let started = Instant::now();
    let err = sink(&server, config).send(&alert()).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, SinkError::Timeout { attempts: 2 }), "{err:?}");
    assert!(took >= Duration::from_millis(600), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(server.requests().len(), 2);
    assert!(err.is_transient());
    assert_no_secret(&server, &err);
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported_without_url() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = "cOnNeCtToKeN_aaaaaaaaaaaaaaaaaaaa";
    let webhook = format!("http://127.0.0.1:{port}/api/webhooks/112233445566778899/{token}");
    let config = DiscordConfig {
        max_attempts: 3,
        ..fast()
    };
    let sink = DiscordSink::with_config(Secret::new(webhook.clone()), config).unwrap();
    let err = sink.send(&alert()).await.unwrap_err();
    assert!(
        matches!(err, SinkError::Connection { attempts: 3, .. }),
        "{err:?}"
    );
    eprintln!("connection error as shown: {err}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(token), "{text}");
        assert!(!text.contains("webhooks"), "{text}");
        assert!(!text.contains(&webhook), "{text}");
    }
}

#[tokio::test]
async fn empty_rate_limit_bucket_delays_the_next_message() {
    let server = TestServer::start(vec![Reply::Status {
        code: 200,
        body: MESSAGE,
        headers: vec![
            ("X-RateLimit-Limit", "5"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset-After", "0.15"),
        ],
    }]);
    let sink = sink(&server, fast());
    sink.send(&alert()).await.unwrap();
    sink.send(&alert()).await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(140));
}

#[tokio::test]
async fn works_as_a_boxed_dyn_sink() {
    let server = TestServer::start(vec![status(200, MESSAGE)]);
    let sinks: Vec<Box<dyn Sink>> = vec![Box::new(sink(&server, fast()))];
    for s in &sinks {
        assert_eq!(s.name(), "discord");
        // The future is Send: it can run on a spawned task.
        let a = alert();
        let fut = s.send(&a);
        fn is_send<T: Send>(_: &T) {}
        is_send(&fut);
        fut.await.unwrap();
    }
    assert_eq!(server.requests().len(), 1);
    let shown = format!("{:?}", sink(&server, fast()));
    assert!(
        !shown.contains(&server.token) && !shown.contains("127.0.0.1"),
        "{shown}"
    );
}

#[tokio::test]
async fn client_error_after_a_server_error_stops_and_counts_attempts() {
    let server = TestServer::start(vec![
        status(502, "bad gateway"),
        status(403, r#"{"message":"Missing Access","code":50001}"#),
        status(200, MESSAGE),
    ]);
    let err = sink(&server, fast()).send(&alert()).await.unwrap_err();
    assert!(
        matches!(
            err,
            SinkError::Status {
                status: 403,
                attempts: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 2);
    assert_no_secret(&server, &err);
}

#[tokio::test]
async fn empty_bucket_with_reset_after_0_2_delays_the_next_request() {
    let server = TestServer::start(vec![Reply::Status {
        code: 200,
        body: MESSAGE,
        headers: vec![
            ("Content-Type", "application/json"),
            ("X-RateLimit-Limit", "5"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset-After", "0.2"),
            ("X-RateLimit-Bucket", "abcd1234"),
        ],
    }]);
    let sink = sink(&server, fast());
    for _ in 0..3 {
        sink.send(&alert()).await.unwrap();
    }
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3, "no 429, no retry: one request per alert");
    for pair in reqs.windows(2) {
        let gap = pair[1].at - pair[0].at;
        // 0.2 s asked; allow for timer and clock granularity, not for load.
        assert!(gap >= Duration::from_millis(180), "waited only {gap:?}");
    }
}

#[tokio::test]
async fn bucket_with_requests_left_does_not_delay() {
    let server = TestServer::start(vec![Reply::Status {
        code: 200,
        body: MESSAGE,
        headers: vec![
            ("X-RateLimit-Remaining", "4"),
            ("X-RateLimit-Reset-After", "5"),
        ],
    }]);
    let sink = sink(&server, fast());
    let started = Instant::now();
    sink.send(&alert()).await.unwrap();
    sink.send(&alert()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn global_rate_limit_holds_back_every_sink_of_that_host() {
    let server = TestServer::start(vec![
        status(
            429,
            r#"{"message":"You are being rate limited.","retry_after":0.3,"global":true}"#,
        ),
        status(200, MESSAGE),
    ]);
    let first = sink(&server, fast());
    // A second webhook on the same host: Discord's global limit covers it too.
    let other_url = server.url(&format!("/api/webhooks/99/{}", server.token));
    let second = DiscordSink::with_config(Secret::new(other_url), fast()).unwrap();
    let a = alert();
    let (r1, r2) = tokio::join!(first.send(&a), async {
        // Start once the 429 has been seen.
        while server.requests().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        second.send(&a).await
    });
    r1.unwrap();
    r2.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    for later in &reqs[1..] {
        let gap = later.at - reqs[0].at;
        assert!(gap >= Duration::from_millis(280), "{gap:?}");
    }
}

#[tokio::test]
async fn rate_limit_beyond_max_wait_fails_later_sends_without_a_request() {
    let server = TestServer::start(vec![
        status(429, r#"{"retry_after":3600.0,"global":false}"#),
        status(200, MESSAGE),
    ]);
    let sink = sink(&server, fast());
    let err = sink.send(&alert()).await.unwrap_err();
    assert!(matches!(err, SinkError::RateLimited { attempts: 1, .. }));
    let started = Instant::now();
    let err = sink.send(&alert()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    match err {
        SinkError::RateLimited {
            attempts: 0,
            retry_after: Some(d),
        } => assert!(d > Duration::from_secs(3500), "{d:?}"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(server.requests().len(), 1, "no request while paused");
}

#[tokio::test]
async fn role_mention_pings_only_that_role() {
    let server = TestServer::start(vec![status(200, MESSAGE)]);
    let config = DiscordConfig {
        mention_role: Some(445566778899001122),
        ..fast()
    };
    let mut a = alert();
    a.summary = "@everyone @here <@&1> look".into();
    sink(&server, config).send(&a).await.unwrap();
    let reqs = server.requests();
    let body: Value = serde_json::from_str(&reqs[0].body).unwrap();
    assert_eq!(body["content"], "<@&445566778899001122>");
    assert_eq!(
        body["allowed_mentions"],
        serde_json::json!({"parse": [], "roles": ["445566778899001122"]})
    );
    let description = body["embeds"][0]["description"].as_str().unwrap();
    assert!(
        !description.contains("@everyone") && !description.contains("@here"),
        "{description}"
    );
}
