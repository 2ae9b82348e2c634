//! The `bootstrap` binary against a local Lambda Runtime API, fed each kind of payload
//! AWS sends (EventBridge CloudTrail calls and console sign-ins, AWS Health, GuardDuty;
//! S3 notifications direct, in SQS, SNS-in-SQS; `s3:TestEvent`; malformed ones), with
//! alerts going to a local webhook receiver. Everything stays on 127.0.0.1.
//!
//! CloudTrail content comes from the bundled incident (`examples/leaked-admin-key`)
//! and the shared Stratus Red Team detonations, read where they are.

mod harness;
mod samples;

#[path = "../../trailguard-io/tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::write::GzEncoder;
use serde_json::{json, Value};

use common::{status, TestServer};
use harness::{Function, RuntimeApi};
use samples::*;

const SIGNING_SECRET: &str = "sIgNiNg-sEcReT-0123456789";
const EXAMPLE_BUCKET: &str = "leaked-admin-key";
const ORG_BUCKET: &str = "org-trail";
const ATTACK_LOG: &str = "AWSLogs/418295730164/CloudTrail/us-east-1/2025/09/17/418295730164_CloudTrail_us-east-1_20250917T2318Z_T0yfKKhiCnOjf2Cd.json.gz";
const LATER_LOG: &str = "AWSLogs/418295730164/CloudTrail/us-east-1/2025/09/17/418295730164_CloudTrail_us-east-1_20250917T2322Z_W2HihcxgOw3jNz6l.json.gz";
const QUIET_LOG: &str = "AWSLogs/418295730164/CloudTrail/eu-west-1/2025/09/17/418295730164_CloudTrail_eu-west-1_20250917T0825Z_866pbdzAPdGOR4fb.json.gz";
const DIGEST: &str = "AWSLogs/418295730164/CloudTrail-Digest/us-east-1/2025/09/18/418295730164_CloudTrail-Digest_us-east-1_management-events_us-east-1_20250918T000917Z.json.gz";
/// A key with a space and a plus, as an organization trail under a custom prefix may hold.
const ORG_KEY: &str = "team logs/AWSLogs/o-exampleorg1/751353041310/CloudTrail/us-east-1/2024/07/30/751353041310_CloudTrail_us-east-1_20240730T2135Z_a+b.json.gz";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stratus(name: &str) -> Vec<Value> {
    let path = repo()
        .join("../shared/corpora/stratus-detonations")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// S3 writes keys form-URL-encoded.
fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'*' => {
                out.push(b as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// `ROOT/leaked-admin-key` -> the bundled incident; `ROOT/org-trail/<ORG_KEY>` ->
/// the Stratus admin-user detonation as a gzipped CloudTrail log file.
fn buckets() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        repo()
            .join("examples/leaked-admin-key")
            .canonicalize()
            .unwrap(),
        root.path().join(EXAMPLE_BUCKET),
    )
    .unwrap();
    let file = root.path().join(ORG_BUCKET).join(ORG_KEY);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let records = json!({"Records": stratus("aws.persistence.iam-create-admin-user.json")});
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(records.to_string().as_bytes()).unwrap();
    std::fs::write(&file, gz.finish().unwrap()).unwrap();
    root
}

fn size_of(root: &Path, bucket: &str, key: &str) -> u64 {
    std::fs::metadata(root.join(bucket).join(key))
        .unwrap()
        .len()
}

/// The EventBridge events of the bundled incident for `event_name` by the attacker.
fn incident_event(event_name: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("examples/leaked-admin-key/eventbridge.jsonl"))
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| {
            e["detail"]["eventName"] == event_name
                && e["detail"]["sourceIPAddress"] == "198.51.100.73"
        })
        .unwrap_or_else(|| panic!("no {event_name} by the attacker in eventbridge.jsonl"))
}

/// The first `tests.match` event of a built-in rule (Health, GuardDuty: what AWS sends).
fn rule_sample(rule: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(format!("rules/{rule}.yml"))).unwrap();
    let yaml: Value = serde_norway::from_str(&text).unwrap();
    yaml["tests"]["match"][0].clone()
}

fn webhook_env(hook: &TestServer, root: &Path) -> Vec<(&'static str, String)> {
    vec![
        (
            "TRAILGUARD_WEBHOOK_URL",
            hook.url(&format!("/hooks/{}", hook.token)),
        ),
        ("TRAILGUARD_WEBHOOK_SECRET", SIGNING_SECRET.to_owned()),
        ("TRAILGUARD_LOCAL_OBJECTS_DIR", root.display().to_string()),
    ]
}

fn assert_no_secret(text: &str, hook: &TestServer) {
    for secret in [hook.token.as_str(), SIGNING_SECRET] {
        assert!(
            !text.contains(secret),
            "secret `{secret}` leaked in:\n{text}"
        );
    }
}

/// The rule ids of the alerts the receiver got.
fn delivered_rules(hook: &TestServer) -> Vec<String> {
    hook.requests()
        .iter()
        .map(|r| {
            assert!(r
                .header("X-Trailguard-Signature")
                .is_some_and(|s| s.starts_with("sha256=")));
            let alert: Value = serde_json::from_str(&r.body).unwrap();
            alert["rule"]["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn every_kind_of_payload_through_the_runtime_api() {
    let root = buckets();
    let hook = TestServer::start(vec![status(200, "{}")]);
    let console = stratus("aws.initial-access.console-login-without-mfa.json");
    let sqs_batch = sqs_event(vec![
        sqs_message(
            "m-log",
            &s3_event(vec![s3_record(
                EXAMPLE_BUCKET,
                LATER_LOG,
                size_of(root.path(), EXAMPLE_BUCKET, LATER_LOG),
            )])
            .to_string(),
        ),
        sqs_message("m-test", &s3_test_event(EXAMPLE_BUCKET).to_string()),
        sqs_message(
            "m-digest",
            &s3_event(vec![s3_record(EXAMPLE_BUCKET, DIGEST, 700)]).to_string(),
        ),
        sqs_message(
            "m-junk",
            "{\"Records\": [{\"eventSource\": \"aws:s3\", \"s3\": ",
        ),
        sqs_message(
            "m-gone",
            &s3_event(vec![s3_record(
                EXAMPLE_BUCKET,
                &LATER_LOG.replace("2322Z", "2359Z"),
                100,
            )])
            .to_string(),
        ),
    ]);
    let org_sns = sqs_event(vec![
        sqs_message(
            "m-sns-s3",
            &sns_envelope(
                &s3_event(vec![s3_record(
                    ORG_BUCKET,
                    &encode_key(ORG_KEY),
                    size_of(root.path(), ORG_BUCKET, ORG_KEY),
                )]),
                "sns-1",
            )
            .to_string(),
        ),
        sqs_message(
            "m-sns-notice",
            &sns_envelope(&cloudtrail_notice(EXAMPLE_BUCKET, &[QUIET_LOG]), "sns-2").to_string(),
        ),
    ]);
    let invocations: Vec<(&str, String)> = vec![
        ("eb-api-call", incident_event("CreateAccessKey").to_string()),
        ("eb-console", eventbridge_of(&console[0]).to_string()),
        ("eb-health", rule_sample("aws-health-credentials-exposed").to_string()),
        ("eb-guardduty", rule_sample("aws-guardduty-finding-iam-credentials").to_string()),
        ("s3-direct", s3_event(vec![s3_record(EXAMPLE_BUCKET, ATTACK_LOG, size_of(root.path(), EXAMPLE_BUCKET, ATTACK_LOG))]).to_string()),
        ("sqs-s3", sqs_batch.to_string()),
        ("sqs-sns", org_sns.to_string()),
        ("s3-test", s3_test_event(EXAMPLE_BUCKET).to_string()),
        ("malformed", json!({"hello": "world", "detail": {"eventName": "CreateUser"}}).to_string()),
        ("not-json", "{\"detail-type\": \"AWS API Call via CloudTrail\", \"source\": ".to_owned()),
        ("eb-not-cloudtrail", json!({"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": ACCOUNT, "time": "2025-09-17T23:00:00Z", "region": REGION, "resources": [], "detail": {}}).to_string()),
    ];
    let ids: Vec<&str> = invocations.iter().map(|(id, _)| *id).collect();
    let api = RuntimeApi::start(
        invocations
            .iter()
            .map(|(id, p)| (id.to_string(), p.clone()))
            .collect(),
    );
    let function = Function::start(&api, &webhook_env(&hook, root.path()));
    let outcomes = api.wait_for(&ids, Duration::from_secs(120));
    let log = function.stop();
    assert_eq!(outcomes.len(), ids.len(), "missing outcomes; log:\n{log}");

    let api_call = outcomes["eb-api-call"].response();
    assert_eq!(api_call["source"], "eventbridge");
    assert_eq!(api_call["events"], 1);
    assert!(api_call["delivered"].as_u64().unwrap() >= 1, "{api_call}");
    assert_eq!(outcomes["eb-console"].response()["alerts"], 1);
    assert_eq!(outcomes["eb-health"].response()["alerts"], 1);
    assert_eq!(outcomes["eb-guardduty"].response()["alerts"], 1);
    assert_eq!(outcomes["eb-not-cloudtrail"].response()["alerts"], 0);

    let direct = outcomes["s3-direct"].response();
    assert_eq!(direct["source"], "s3");
    assert_eq!(direct["objects_read"], 1);
    assert!(
        direct["events"].as_u64().unwrap() > 0 && direct["alerts"].as_u64().unwrap() >= 1,
        "{direct}"
    );

    // One bad message and one missing object fail alone; the test event and the digest
    // are done with; the log object is read.
    let batch = outcomes["sqs-s3"].response();
    let failed: Vec<&str> = batch["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["m-junk", "m-gone"], "{batch}");
    assert_eq!(
        batch.as_object().unwrap().len(),
        1,
        "an SQS batch answers batchItemFailures only: {batch}"
    );
    assert_eq!(
        outcomes["sqs-sns"].response()["batchItemFailures"],
        json!([])
    );
    assert!(
        log.contains("SQS message m-junk: Records[3].body: truncated JSON"),
        "{log}"
    );
    assert!(
        log.contains("SQS message m-gone: s3://leaked-admin-key/"),
        "{log}"
    );
    assert!(log.contains("no such object"), "{log}");

    let test_event = outcomes["s3-test"].response();
    assert_eq!(test_event["nothing"], json!(["s3:TestEvent"]));
    let (kind, message) = outcomes["malformed"].error();
    assert_eq!(kind, "trailguard.BadEvent");
    assert!(
        message.starts_with("unreadable event: payload: not an EventBridge event"),
        "{message}"
    );
    let (_, message) = outcomes["not-json"].error();
    assert!(!message.is_empty());

    let rules = delivered_rules(&hook);
    for want in [
        "aws-iam-access-key-created",
        "aws-signin-console-login-without-mfa",
        "aws-health-credentials-exposed",
        "aws-guardduty-finding-iam-credentials",
        "aws-sts-get-caller-identity-long-term-key",
        "aws-ec2-run-instances-long-term-key",
        "aws-iam-user-created",
        "aws-iam-admin-policy-attached",
    ] {
        assert!(
            rules.iter().any(|r| r == want),
            "{want} not delivered; got {rules:?}\n{log}"
        );
    }
    // Every alert is logged as its JSON line, delivered or not; the access key the
    // EventBridge event already alerted on is in the S3 object too: same alert id,
    // and this execution environment does not send it twice.
    let logged: Vec<String> = log
        .lines()
        .filter(|l| l.starts_with("{\"id\":"))
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for r in hook.requests() {
        let id: Value = serde_json::from_str(&r.body).unwrap();
        assert!(logged.iter().any(|l| *l == id["id"]), "{id} not logged");
    }
    assert_eq!(direct["already_delivered"], 1, "{direct}");
    assert!(log.contains("trailguard: sqs: "), "{log}");
    assert_no_secret(&log, &hook);
    for body in api.bodies() {
        assert_no_secret(&body, &hook);
    }
}

#[test]
fn a_failed_delivery_fails_the_invocation_and_its_retry_delivers_once() {
    let root = buckets();
    // The first send's three attempts fail; everything after succeeds.
    let hook = TestServer::start(vec![
        status(500, "{}"),
        status(500, "{}"),
        status(500, "{}"),
        status(200, "{}"),
    ]);
    let health = rule_sample("aws-health-credentials-exposed").to_string();
    let api = RuntimeApi::start(vec![
        ("try-1".into(), health.clone()),
        ("try-2".into(), health.clone()),
        ("try-3".into(), health),
    ]);
    let function = Function::start(&api, &webhook_env(&hook, root.path()));
    let outcomes = api.wait_for(&["try-1", "try-2", "try-3"], Duration::from_secs(60));
    let log = function.stop();
    let (kind, message) = outcomes["try-1"].error();
    assert_eq!(kind, "trailguard.DeliveryFailed", "{log}");
    assert!(
        message.starts_with("delivery failed: sink webhook: alert "),
        "{message}"
    );
    assert!(message.contains("HTTP 500 after 3 attempt(s)"), "{message}");
    assert_eq!(outcomes["try-2"].response()["delivered"], 1);
    // The same event again: this environment knows the alert was delivered.
    let third = outcomes["try-3"].response();
    assert_eq!(
        (
            third["delivered"].as_u64(),
            third["already_delivered"].as_u64()
        ),
        (Some(0), Some(1))
    );
    assert_eq!(hook.requests().len(), 4);
    assert_no_secret(&log, &hook);
    for body in api.bodies() {
        assert_no_secret(&body, &hook);
    }
}

#[test]
fn a_message_whose_alert_cannot_be_delivered_is_the_only_one_redelivered() {
    let root = buckets();
    let hook = TestServer::start(vec![status(400, "{\"error\": \"refused\"}")]);
    let batch = sqs_event(vec![
        sqs_message(
            "m-alert",
            &rule_sample("aws-health-credentials-exposed").to_string(),
        ),
        sqs_message("m-test", &s3_test_event(EXAMPLE_BUCKET).to_string()),
        sqs_message(
            "m-quiet",
            &sns_envelope(&cloudtrail_notice(EXAMPLE_BUCKET, &[QUIET_LOG]), "sns-q").to_string(),
        ),
    ]);
    let api = RuntimeApi::start(vec![("batch".into(), batch.to_string())]);
    let function = Function::start(&api, &webhook_env(&hook, root.path()));
    let outcomes = api.wait_for(&["batch"], Duration::from_secs(60));
    let log = function.stop();
    assert_eq!(
        outcomes["batch"].response()["batchItemFailures"],
        json!([{"itemIdentifier": "m-alert"}]),
        "{log}"
    );
    assert!(
        log.contains("SQS message m-alert: delivery failed: sink webhook: alert"),
        "{log}"
    );
    assert_no_secret(&log, &hook);
}

#[test]
fn init_errors_go_to_init_error_without_secrets() {
    let hook = TestServer::start(vec![status(200, "{}")]);
    let arn = "arn:aws:secretsmanager:us-east-1:418295730164:secret:trailguard/webhook-AbCdEf";
    type Case = (Vec<(&'static str, String)>, &'static str, &'static str);
    let cases: Vec<Case> = vec![
        (
            vec![
                (
                    "TRAILGUARD_WEBHOOK_URL",
                    hook.url(&format!("/hooks/{}", hook.token)),
                ),
                ("TRAILGUARD_MIN_SEVERITY", "urgent".into()),
            ],
            "trailguard.ConfigError",
            "TRAILGUARD_MIN_SEVERITY: `urgent` is not a severity",
        ),
        (
            // No credentials anywhere (and no instance metadata to ask, nor any AWS
            // endpoint: nothing leaves 127.0.0.1).
            vec![
                ("DISCORD_WEBHOOK_URL_SECRET_ARN", arn.into()),
                ("AWS_EC2_METADATA_DISABLED", "true".into()),
                ("TRAILGUARD_AWS_ENDPOINT_URL", "http://127.0.0.1:9".into()),
            ],
            "trailguard.SecretError",
            "DISCORD_WEBHOOK_URL_SECRET_ARN: secret arn:aws:secretsmanager:",
        ),
        (
            vec![(
                "TRAILGUARD_WEBHOOK_URL",
                format!("http://192.0.2.1/hooks/{}", hook.token),
            )],
            "trailguard.SinkError",
            "sink `webhook`: invalid webhook URL",
        ),
    ];
    for (env, want_type, want_message) in cases {
        let api = RuntimeApi::start(vec![("never".into(), "{}".into())]);
        let mut function = Function::start(&api, &env);
        let (kind, body) = api
            .wait_init_error(Duration::from_secs(30))
            .expect("no /init/error");
        let status = function
            .exited_within(Duration::from_secs(10))
            .expect("bootstrap kept running");
        assert!(!status.success());
        let log = function.stop();
        assert_eq!(kind, want_type, "{log}");
        assert_eq!(body["errorType"], want_type);
        let message = body["errorMessage"].as_str().unwrap();
        assert!(message.starts_with(want_message), "{message}");
        assert!(
            api.first_next().is_none(),
            "asked for an invocation after a failed init"
        );
        assert_no_secret(&log, &hook);
        assert_no_secret(&body.to_string(), &hook);
    }
}
