//! The `bootstrap` binary against AWS emulated by moto on 127.0.0.1: CloudTrail
//! objects fetched from S3, announced by S3's own notifications on an SQS queue
//! (URL-encoded keys, the `s3:TestEvent` first), the webhook URL read from Secrets
//! Manager, and the rules' state and delivery claims in DynamoDB, shared by two
//! execution environments running at the same time.

mod harness;
mod samples;

#[path = "../../trailguard-io/tests/common/mod.rs"]
mod common;
#[path = "../../trailguard/tests/moto_support/mod.rs"]
mod moto_support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::write::GzEncoder;
use serde_json::{json, Value};

use common::{status, TestServer};
use harness::{Function, RuntimeApi};
use moto_support::Moto;
use samples::{sqs_event, sqs_message};
use trailguard_aws::{AwsOptions, Credentials, DynamoOptions, DynamoStore};

const SIGNING_SECRET: &str = "sIgNiNg-sEcReT-0123456789";
const TABLE: &str = "trailguard-state";
/// An organization trail under a custom prefix, with a space and a plus in the key:
/// S3 notifications carry it form-URL-encoded.
const ORG_KEY: &str = "team logs/AWSLogs/o-exampleorg1/751353041310/CloudTrail/us-east-1/2024/07/30/751353041310_CloudTrail_us-east-1_20240730T2135Z_a+b.json.gz";
const ATTACK_KEY: &str = "AWSLogs/418295730164/CloudTrail/us-east-1/2025/09/17/418295730164_CloudTrail_us-east-1_20250917T2318Z_T0yfKKhiCnOjf2Cd.json.gz";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Stratus admin-user detonation as a gzipped CloudTrail log file in `dir`.
fn stratus_log(dir: &Path) -> PathBuf {
    let path = repo()
        .join("../shared/corpora/stratus-detonations/aws.persistence.iam-create-admin-user.json");
    let records: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json!({ "Records": records }).to_string().as_bytes())
        .unwrap();
    let out = dir.join("stratus.json.gz");
    std::fs::write(&out, gz.finish().unwrap()).unwrap();
    out
}

fn aws_options(moto: &Moto) -> AwsOptions {
    AwsOptions {
        region: Some("us-east-1".into()),
        endpoint_url: Some(moto.endpoint.clone()),
        credentials: Some(Credentials::new("testing", "testing", None, None, "test")),
        ..AwsOptions::default()
    }
}

/// The function's variables: AWS through moto, the webhook URL by secret ARN.
fn function_env(moto: &Moto, secret_arn: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("TRAILGUARD_AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("TRAILGUARD_STATE_TABLE", TABLE.into()),
        ("TRAILGUARD_WEBHOOK_URL_SECRET_ARN", secret_arn.into()),
        ("TRAILGUARD_WEBHOOK_SECRET", SIGNING_SECRET.into()),
    ]
}

struct World {
    secret_arn: String,
    /// What S3 put on the queue, as the Lambda's SQS event source hands it over.
    batch: Value,
}

fn build_world(moto: &Moto, hook: &TestServer) -> World {
    DynamoStore::open(&aws_options(moto), DynamoOptions::new(TABLE))
        .unwrap()
        .create_table()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stratus = stratus_log(dir.path());
    let attack = repo().join("examples/leaked-admin-key").join(ATTACK_KEY);
    let out = moto.python(
        "trail_bucket.py",
        &[
            "org-trail",
            &hook.url(&format!("/hooks/{}", hook.token)),
            &format!("{ORG_KEY}={}", stratus.display()),
            &format!("{ATTACK_KEY}={}", attack.display()),
        ],
    );
    assert!(!out.contains(&hook.token), "the script printed the secret");
    let world: Value = serde_json::from_str(&out).unwrap();
    let messages = world["messages"].as_array().unwrap();
    let bodies: Vec<&str> = messages
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    // What S3 sent: its test event, and each key URL-encoded.
    assert_eq!(messages.len(), 3, "{bodies:?}");
    assert!(
        bodies.iter().any(|b| b.contains("s3:TestEvent")),
        "{bodies:?}"
    );
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("team+logs") && b.contains("a%2Bb.json.gz")),
        "{bodies:?}"
    );
    let batch = sqs_event(
        messages
            .iter()
            .map(|m| {
                sqs_message(
                    m["messageId"].as_str().unwrap(),
                    m["body"].as_str().unwrap(),
                )
            })
            .collect(),
    );
    World {
        secret_arn: world["secret_arn"].as_str().unwrap().to_owned(),
        batch,
    }
}

fn assert_no_secret(text: &str, hook: &TestServer) {
    for secret in [hook.token.as_str(), SIGNING_SECRET] {
        assert!(
            !text.contains(secret),
            "secret `{secret}` leaked in:\n{text}"
        );
    }
}

/// SQS delivers at least once: the same batch reaches two execution environments at
/// the same time. Each reads both objects from S3 and judges them against the same
/// DynamoDB state; every alert reaches the webhook once.
#[test]
fn two_environments_sharing_the_state_table_send_each_alert_once() {
    // One request at a time, as DynamoDB applies a conditional write atomically.
    let Some(moto) = Moto::start_serial(&[]) else {
        return;
    };
    let hook = TestServer::start(vec![status(200, "{}")]);
    let world = build_world(&moto, &hook);
    let env = function_env(&moto, &world.secret_arn);
    let apis: Vec<RuntimeApi> = (0..2)
        .map(|_| RuntimeApi::start(vec![("batch".into(), world.batch.to_string())]))
        .collect();
    let functions: Vec<Function> = apis.iter().map(|api| Function::start(api, &env)).collect();
    let outcomes: Vec<_> = apis
        .iter()
        .map(|api| api.wait_for(&["batch"], Duration::from_secs(120)))
        .collect();
    let logs: Vec<String> = functions.into_iter().map(Function::stop).collect();
    for (o, log) in outcomes.iter().zip(&logs) {
        assert_eq!(
            o["batch"].response()["batchItemFailures"],
            json!([]),
            "{log}"
        );
        assert!(
            log.contains("state in DynamoDB table trailguard-state"),
            "{log}"
        );
        assert!(log.contains("2 objects read, 0 skipped"), "{log}");
        assert!(log.contains("nothing to do: s3:TestEvent"), "{log}");
        assert_no_secret(log, &hook);
    }
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut rules = Vec::new();
    for r in hook.requests() {
        assert!(r.path.starts_with("/hooks/"));
        let alert: Value = serde_json::from_str(&r.body).unwrap();
        *ids.entry(alert["id"].as_str().unwrap().to_owned())
            .or_default() += 1;
        rules.push(alert["rule"]["id"].as_str().unwrap().to_owned());
        assert_no_secret(&r.body, &hook);
    }
    let twice: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "sent more than once: {twice:?}\n{}",
        logs.join("\n")
    );
    // Both objects' alerts arrived: the Stratus admin user and the leaked-key incident.
    assert!(rules.iter().any(|r| r.contains("admin")), "{rules:?}");
    assert!(rules.len() >= 3, "{rules:?}");
    // Every send was claimed by exactly one environment; the other left it out (or
    // never raised it, for first-seen rules the other had already judged).
    let left_out: usize = logs
        .iter()
        .filter_map(|l| {
            let at = l.find(" already delivered")?;
            let digits: String = l[..at]
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            digits
                .chars()
                .rev()
                .collect::<String>()
                .parse::<usize>()
                .ok()
        })
        .sum();
    assert!(
        left_out > 0,
        "the environments did not overlap:\n{}",
        logs.join("\n")
    );
}

/// The webhook URL lives in Secrets Manager; a secret that does not exist stops the
/// init with a reason that names the variable and the secret, and nothing else.
#[test]
fn a_missing_secret_fails_the_init_by_name() {
    let Some(moto) = Moto::start(&[]) else { return };
    let api = RuntimeApi::start(vec![]);
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:trailguard/none-AbCdEf";
    let env = vec![
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("TRAILGUARD_AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("TRAILGUARD_WEBHOOK_URL_SECRET_ARN", arn.to_owned()),
    ];
    let mut function = Function::start(&api, &env);
    let Some((kind, body)) = api.wait_init_error(Duration::from_secs(30)) else {
        panic!("no init error:\n{}", function.stop());
    };
    assert!(function.exited_within(Duration::from_secs(10)).is_some());
    let log = function.stop();
    assert_eq!(kind, "trailguard.SecretError", "{log}");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("TRAILGUARD_WEBHOOK_URL_SECRET_ARN: secret arn:aws:secretsmanager:")
            && message.contains("ResourceNotFoundException"),
        "{message}"
    );
    assert!(!log.contains("testing\""), "{log}");
}
