//! `Sink::send_digest` for every sink, against a local receiver on 127.0.0.1: the
//! webhook signs the digest JSON like an alert, Discord and Slack get their summary
//! messages, JSON Lines a `{"type":"digest"}` line; no secret in any body.

mod common;

use std::time::{Duration, SystemTime};

use common::{status, text, TestServer};
use trailguard_core::{Alert, Severity};
use trailguard_io::config::DigestPolicy;
use trailguard_io::digest::{Digest, DigestFolder, Outgoing};
use trailguard_io::sink::{
    verify_signature, DiscordConfig, DiscordSink, JsonlSink, Secret, Sink, SlackSink,
    WebhookConfig, WebhookSink, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};

const SECRET: &str = "whsec_digest_s1gn1ngS3cr3t_0123";

fn digest(n: usize) -> Digest {
    let mut f = DigestFolder::new([(
        "s".to_owned(),
        DigestPolicy {
            max: 2,
            within_ms: 60_000,
        },
    )]);
    for i in 0..n {
        let mut a = Alert::example();
        a.id = format!("alert-{i:03}");
        a.rule.id = "aws-ec2-run-instances".into();
        a.rule.title = "EC2 instances launched".into();
        a.rule.severity = if i % 10 == 0 {
            Severity::Critical
        } else {
            Severity::High
        };
        f.push("s", a, 0);
    }
    match f.flush_all().pop() {
        Some(Outgoing::Digest(d)) => d,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn webhook_digest_is_signed_json() {
    let server = TestServer::start(vec![status(200, "{}")]);
    let url = server.url(&format!("/hook/{}", server.token));
    let sink =
        WebhookSink::new(Secret::new(url), WebhookConfig::signed(Secret::new(SECRET))).unwrap();
    let d = digest(100);
    sink.send_digest(&d).await.unwrap();
    let r = &server.requests()[0];
    verify_signature(
        &Secret::new(SECRET),
        r.header(TIMESTAMP_HEADER).unwrap(),
        r.body.as_bytes(),
        r.header(SIGNATURE_HEADER).unwrap(),
        SystemTime::now(),
        Duration::from_secs(300),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["type"], "digest");
    assert_eq!(v["count"], 98);
    assert_eq!(v["alerts"].as_array().unwrap().len(), 98);
    assert_eq!(v["severities"]["critical"], 9, "alert 0 went out alone");
    assert!(!r.body.contains(SECRET) && !r.body.contains(&server.token));
}

#[tokio::test]
async fn discord_and_slack_digests_are_summary_messages() {
    let discord = TestServer::start(vec![status(200, "{}")]);
    let sink = DiscordSink::with_config(
        Secret::new(discord.url(&format!("/api/webhooks/1/{}", discord.token))),
        DiscordConfig {
            mention_role: Some(77),
            ..DiscordConfig::default()
        },
    )
    .unwrap();
    let d = digest(500);
    sink.send_digest(&d).await.unwrap();
    let r = &discord.requests()[0];
    assert!(r.query.contains("wait=true"));
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let title = v["embeds"][0]["title"].as_str().unwrap();
    assert_eq!(title, "CRITICAL: 498 more alerts, folded into one digest");
    assert_eq!(v["content"], "<@&77>");

    let slack = TestServer::start(vec![text(200, "ok")]);
    let sink = SlackSink::new(Secret::new(
        slack.url(&format!("/services/T0/B0/{}", slack.token)),
    ))
    .unwrap();
    sink.send_digest(&d).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&slack.requests()[0].body).unwrap();
    assert!(v["text"].as_str().unwrap().contains("498 more alerts"));
    assert_eq!(v["blocks"][0]["type"], "header");
}

#[tokio::test]
async fn jsonl_digest_is_one_line_among_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    let sink = JsonlSink::to_path(&path).unwrap();
    sink.send(&Alert::example()).await.unwrap();
    sink.send_digest(&digest(5)).await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].get("type").is_none(),
        "alerts have no top-level type"
    );
    assert_eq!(lines[1]["type"], "digest");
    assert_eq!(lines[1]["count"], 3);
}
