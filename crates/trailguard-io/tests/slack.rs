//! `SlackSink` against a real HTTP server on 127.0.0.1 (no internet).

mod common;

use std::time::{Duration, Instant};

use common::{text, Reply, TestServer};
use serde_json::Value;
use trailguard_core::{Alert, Severity};
use trailguard_io::sink::{slack_limits, Secret, Sink, SinkError, SlackConfig, SlackSink};

/// A Slack-shaped webhook URL on the test server.
fn webhook(server: &TestServer) -> String {
    server.url(&format!("/services/T0TEAM0001/B0HOOK0001/{}", server.token))
}

fn fast() -> SlackConfig {
    SlackConfig {
        timeout: Duration::from_secs(5),
        max_attempts: 5,
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(40),
        max_wait: Duration::from_secs(3),
    }
}

fn sink(server: &TestServer, config: SlackConfig) -> SlackSink {
    SlackSink::with_config(Secret::new(webhook(server)), config).unwrap()
}

fn assert_no_secret(server: &TestServer, err: &SinkError) {
    server.assert_no_secret(
        err,
        &[&webhook(server), "/services", "T0TEAM0001", "B0HOOK0001"],
    );
}

fn alert() -> Alert {
    let mut a = Alert::example();
    a.rule.severity = Severity::High;
    a.actor.user_agent = Some("<!channel> curl/8".into());
    a
}

const OK: Reply = Reply::Status {
    code: 200,
    body: "ok",
    headers: Vec::new(),
};

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Slack's documented limits, checked on the body the server received.
fn assert_within_slack_limits(body: &Value) {
    assert!(chars(&body["text"]) >= 1);
    let blocks = body["blocks"].as_array().unwrap();
    assert!(blocks.len() <= slack_limits::BLOCKS);
    for b in blocks {
        match b["type"].as_str().unwrap() {
            "header" => {
                assert_eq!(b["text"]["type"], "plain_text");
                assert!(chars(&b["text"]["text"]) <= slack_limits::HEADER);
            }
            "section" => {
                assert!(chars(&b["text"]["text"]) <= slack_limits::SECTION_TEXT);
                let fields = b["fields"].as_array().map_or(&[][..], |f| f.as_slice());
                assert!(fields.len() <= slack_limits::FIELDS);
                for f in fields {
                    assert_eq!(f["type"], "mrkdwn");
                    assert!((1..=slack_limits::FIELD_TEXT).contains(&chars(&f["text"])));
                }
            }
            "context" => {
                let elements = b["elements"].as_array().unwrap();
                assert!(elements.len() <= slack_limits::CONTEXT_ELEMENTS);
            }
            other => panic!("unexpected block {other}"),
        }
    }
}

fn field<'a>(body: &'a Value, label: &str) -> &'a str {
    let head = format!("*{label}*\n");
    body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["fields"].as_array())
        .flatten()
        .find_map(|f| f["text"].as_str()?.strip_prefix(head.as_str()))
        .unwrap()
}

#[tokio::test]
async fn success_sends_one_block_kit_message() {
    let server = TestServer::start(vec![OK]);
    sink(&server, fast()).send(&alert()).await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        r.path,
        format!("/services/T0TEAM0001/B0HOOK0001/{}", server.token)
    );
    assert_eq!(r.query, "");
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_within_slack_limits(&body);
    assert_eq!(
        body["text"],
        "\u{1F7E0} HIGH: Access key created from an unusual IP"
    );
    assert_eq!(body["blocks"][0]["type"], "header");
    assert_eq!(field(&body, "User agent"), "`&lt;!channel&gt; curl/8`");
    assert!(!r.body.contains(&server.token));
}

#[tokio::test]
async fn huge_hostile_alert_stays_within_limits_and_inert() {
    let server = TestServer::start(vec![OK]);
    let mut a = alert();
    let hostile = "<!channel> *bold* <http://x|y> <@U123> ";
    a.actor.user_agent = Some(hostile.repeat(100 * 1024 / hostile.len()));
    a.summary = hostile.repeat(1000);
    a.actor.arn = Some(format!(
        "arn:aws:iam::123456789012:user/{}",
        hostile.repeat(200)
    ));
    a.rule.title = format!("{}{}", "T".repeat(200), hostile);
    sink(&server, fast()).send(&a).await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let body: Value = serde_json::from_str(&reqs[0].body).unwrap();
    assert_within_slack_limits(&body);
    // The 100 KB user agent arrives cut to the field limit, as one closed code span.
    let ua = field(&body, "User agent");
    // Cut between escapes (`&lt;` is one atom of 4): at most 3 short of the limit.
    let n = ua.chars().count() + "*User agent*\n".len();
    assert!(
        (slack_limits::FIELD_TEXT - 3..=slack_limits::FIELD_TEXT).contains(&n),
        "{n}"
    );
    assert!(
        ua.starts_with("`&lt;!channel&gt; *bold* &lt;http://x|y&gt;"),
        "{ua}"
    );
    assert!(ua.ends_with("\u{2026}`"));
    assert!(!ua[1..ua.len() - 1].contains('`'));
    // Nothing anywhere can form a mention or a link.
    for raw in ["<!channel>", "<http://x|y>", "<@U123>"] {
        assert!(!reqs[0].body.contains(raw), "{raw}");
    }
    assert!(reqs[0].body.len() < 40_000, "{}", reqs[0].body.len());
}

#[tokio::test]
async fn rate_limited_with_retry_after_then_delivered_once() {
    let server = TestServer::start(vec![
        Reply::Status {
            code: 429,
            body: "rate_limited",
            headers: vec![("Retry-After", "1")],
        },
        OK,
    ]);
    // A long backoff proves the wait came from Retry-After, not from backoff.
    let config = SlackConfig {
        backoff_base: Duration::from_secs(30),
        backoff_cap: Duration::from_secs(30),
        ..fast()
    };
    let started = Instant::now();
    sink(&server, config).send(&alert()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "one retry, then delivered: no duplicate");
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(950));
    assert_eq!(reqs[0].body, reqs[1].body, "the same message is retried");
}

#[tokio::test]
async fn retry_after_holds_back_the_next_message() {
    let server = TestServer::start(vec![
        Reply::Status {
            code: 429,
            body: "rate_limited",
            headers: vec![("Retry-After", "1")],
        },
        OK,
    ]);
    let config = SlackConfig {
        max_attempts: 1,
        ..fast()
    };
    let sink = sink(&server, config);
    let err = sink.send(&alert()).await.unwrap_err();
    assert!(
        matches!(err, SinkError::RateLimited { attempts: 1, retry_after: Some(d) } if d == Duration::from_secs(1)),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_no_secret(&server, &err);
    sink.send(&alert()).await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(950));
}

#[tokio::test]
async fn invalid_payload_is_permanent_with_slacks_detail() {
    let server = TestServer::start(vec![text(400, "invalid_payload")]);
    let err = sink(&server, fast()).send(&alert()).await.unwrap_err();
    assert!(
        matches!(
            &err,
            SinkError::Status { status: 400, attempts: 1, detail: Some(d) } if d == "invalid_payload"
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "HTTP 400 after 1 attempt(s): invalid_payload"
    );
    assert!(!err.is_transient());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.requests().len(), 1, "no retry on 4xx");
    assert_no_secret(&server, &err);
}

#[tokio::test]
async fn other_slack_errors_are_permanent_and_named() {
    for (code, body) in [
        (400, "no_text"),
        (403, "action_prohibited"),
        (404, "channel_not_found"),
        (404, "no_service"),
        (410, "channel_is_archived"),
    ] {
        let server = TestServer::start(vec![text(code, body)]);
        let err = sink(&server, fast()).send(&alert()).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("HTTP {code} after 1 attempt(s): {body}")
        );
        assert_eq!(server.requests().len(), 1);
        assert_no_secret(&server, &err);
    }
}

#[tokio::test]
async fn server_errors_are_retried_then_delivered() {
    let server = TestServer::start(vec![
        text(500, "rollup_error"),
        text(503, "<html>down</html>"),
        OK,
    ]);
    sink(&server, fast()).send(&alert()).await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(5));
}

#[tokio::test]
async fn persistent_server_error_keeps_only_a_slack_code() {
    let server = TestServer::start(vec![text(500, "<html>echo of the request</html>")]);
    let config = SlackConfig {
        max_attempts: 2,
        ..fast()
    };
    let err = sink(&server, config).send(&alert()).await.unwrap_err();
    assert!(
        matches!(
            err,
            SinkError::Status {
                status: 500,
                attempts: 2,
                detail: None
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_no_secret(&server, &err);
}

#[tokio::test]
async fn timeouts_and_refused_connections_never_show_the_url() {
    let server = TestServer::start(vec![Reply::Hang]);
    let config = SlackConfig {
        timeout: Duration::from_millis(200),
        max_attempts: 2,
        ..fast()
    };
    let err = sink(&server, config.clone())
        .send(&alert())
        .await
        .unwrap_err();
    assert!(matches!(err, SinkError::Timeout { attempts: 2 }), "{err:?}");
    assert_no_secret(&server, &err);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = "cOnNeCtToKeN_bbbbbbbbbbbbbbbbbbbb";
    let url = format!("http://127.0.0.1:{port}/services/T0TEAM0001/B0HOOK0001/{token}");
    let sink = SlackSink::with_config(Secret::new(url.clone()), config).unwrap();
    let err = sink.send(&alert()).await.unwrap_err();
    assert!(
        matches!(err, SinkError::Connection { attempts: 2, .. }),
        "{err:?}"
    );
    for shown in [err.to_string(), format!("{err:?}"), format!("{sink:?}")] {
        assert!(!shown.contains(token) && !shown.contains(&url), "{shown}");
        assert!(!shown.contains("T0TEAM0001"), "{shown}");
    }
}

#[tokio::test]
async fn works_as_a_boxed_dyn_sink() {
    let server = TestServer::start(vec![OK]);
    let sinks: Vec<Box<dyn Sink>> = vec![Box::new(sink(&server, fast()))];
    let a = alert();
    for s in &sinks {
        assert_eq!(s.name(), "slack");
        let fut = s.send(&a);
        fn is_send<T: Send>(_: &T) {}
        is_send(&fut);
        fut.await.unwrap();
    }
    let shown = format!("{:?}", sink(&server, fast()));
    assert!(
        !shown.contains(&server.token) && !shown.contains("127.0.0.1"),
        "{shown}"
    );
}
