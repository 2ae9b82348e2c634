//! `detect --config` end to end, against a signed-webhook receiver on 127.0.0.1: a
//! burst of 40 RunInstances alerts is routed, one is suppressed, the rest reach the
//! receiver as a few single alerts and one digest; no secret (webhook URL, signing
//! secret, or credentials inside the log records) appears in any output, file or body.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime};

use assert_cmd::Command;
use serde_json::{json, Value};
use trailguard_io::sink::{verify_signature, Secret};

const SIGNING: &str = "whsec_e2e_S1GN1NG_s3cr3t_0123456789";
const TOKEN: &str = "hook-token-E2E-d0-not-print";
const PASSWORD: &str = "Hunter2-Corr3ct-H0rse";
const STS_TOKEN: &str =
    "IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQDxE2Es3ss10nT0k3nE2Es3ss10nT0k3nABCDEFGHIJKLmnop";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYE2EKEYKEY";
const BURST: usize = 40;

struct Received {
    timestamp: String,
    signature: String,
    body: String,
}

/// A receiver answering 200 to everything, recording bodies, until `stop` or 30 s.
fn receiver() -> (u16, Arc<Mutex<Vec<Received>>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let seen = got.clone();
    thread::spawn(move || {
        while let Ok(Some(mut req)) = server.recv_timeout(Duration::from_secs(30)) {
            let mut body = String::new();
            req.as_reader().read_to_string(&mut body).unwrap();
            let header = |name: &'static str| {
                req.headers()
                    .iter()
                    .find(|h| h.field.equiv(name))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default()
            };
            let r = Received {
                timestamp: header("X-Trailguard-Timestamp"),
                signature: header("X-Trailguard-Signature"),
                body,
            };
            seen.lock().unwrap().push(r);
            req.respond(tiny_http::Response::from_string("{}")).unwrap();
        }
    });
    (port, got)
}

/// 40 users' long-term keys each launching an instance, with credentials in what
/// the records carry (the instance type, the user agent).
fn records(dir: &Path) -> std::path::PathBuf {
    let records: Vec<Value> = (0..BURST)
        .map(|i| {
            json!({
                "eventVersion": "1.08",
                "userIdentity": {"type": "IAMUser", "principalId": format!("AIDAE2E{i:013}"),
                    "arn": format!("arn:aws:iam::111122223333:user/ci{i}"), "accountId": "111122223333",
                    "accessKeyId": format!("AKIAE2ETESTKEY{i:06}"), "userName": format!("ci{i}")},
                "eventTime": format!("2024-05-01T12:{:02}:{:02}Z", i / 60, i % 60),
                "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances",
                "awsRegion": "us-east-1", "sourceIPAddress": format!("203.0.113.{}", i + 1),
                "userAgent": format!("aws-cli/2.15.0 session/{STS_TOKEN}"),
                "requestParameters": {"instanceType": format!("t3.micro password={PASSWORD}"),
                    "userData": format!("aws_secret_access_key={SECRET_KEY}")},
                "responseElements": null,
                "eventID": format!("00000000-0000-4000-8000-{i:012}"),
                "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
            })
        })
        .collect();
    let path = dir.join("burst.json");
    std::fs::write(&path, json!({"Records": records}).to_string()).unwrap();
    path
}

fn config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("trailguard.toml");
    std::fs::write(
        &path,
        r#"
[[sink]]
name = "siem"
kind = "webhook"
url_env = "E2E_WEBHOOK_URL"
secret_env = "E2E_WEBHOOK_SECRET"
rules = ["aws-ec2-run-instances-*"]
digest = { max = 5, within = "60s" }

[[sink]]
name = "archive"
kind = "jsonl"
path = "archive.jsonl"

[[suppress]]
actor = "AKIAE2ETESTKEY000007"
reason = "ci7 is the load-test user"
by = "bob"
until = 2099-01-01T00:00:00Z

[[suppress]]
rule = "aws-ec2-*"
reason = "old maintenance window"
until = 2020-01-01T00:00:00Z
"#,
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [
        TOKEN,
        SIGNING,
        PASSWORD,
        "Hunter2",
        "E2Es3ss10n",
        "wJalrXUtnFEMI",
        "E2EKEYKEY",
    ] {
        assert!(!text.contains(secret), "`{secret}` in {what}: {text}");
    }
}

#[test]
fn a_burst_is_routed_suppressed_folded_and_kept_secret() {
    let dir = tempfile::tempdir().unwrap();
    let (port, got) = receiver();
    let url = format!("http://127.0.0.1:{port}/hooks/{TOKEN}");
    let out = Command::cargo_bin("trailguard")
        .unwrap()
        .env("E2E_WEBHOOK_URL", &url)
        .env("E2E_WEBHOOK_SECRET", SIGNING)
        .env_remove("TRAILGUARD_CONFIG")
        .args(["detect", "--format", "jsonl", "--config"])
        .arg(config(dir.path()))
        .arg(records(dir.path()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_no_secret("stdout", &stdout);
    assert_no_secret("stderr", &stderr);

    // The report: every alert but the suppressed one, redacted.
    let alerts: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let run: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"]["id"] == "aws-ec2-run-instances-long-term-key")
        .collect();
    assert_eq!(run.len(), BURST - 1, "one suppressed");
    assert!(
        !stdout.contains("AKIAE2ETESTKEY000007"),
        "the suppressed alert is not reported"
    );
    assert!(run[0]["summary"].as_str().unwrap().contains("[redacted]"));

    // stderr: the suppression with its reason, the expired one, the digest.
    assert!(
        stderr.contains("1 alert suppressed by") && stderr.contains("ci7 is the load-test user"),
        "{stderr}"
    );
    assert!(
        stderr.contains("suppress #2 (rule aws-ec2-*) expired at 2020-01-01T00:00:00Z"),
        "{stderr}"
    );
    assert!(stderr.contains("; 1 suppressed"), "{stderr}");
    assert!(stderr.contains("(1 digest folding 34 alerts)"), "{stderr}");

    // The receiver: 5 alerts one by one, then one digest of the other 34, all signed.
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 6, "{}", got.len());
    let mut ids: Vec<String> = Vec::new();
    for r in got.iter() {
        assert_no_secret("a webhook body", &r.body);
        verify_signature(
            &Secret::new(SIGNING),
            &r.timestamp,
            r.body.as_bytes(),
            &r.signature,
            SystemTime::now(),
            Duration::from_secs(300),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&r.body).unwrap();
        match v["type"].as_str() {
            Some("digest") => {
                assert_eq!(v["count"], 34);
                assert_eq!(v["severities"]["high"], 34);
                assert_eq!(v["rules"][0]["id"], "aws-ec2-run-instances-long-term-key");
                ids.extend(
                    v["alerts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|i| i.as_str().unwrap().to_owned()),
                );
            }
            None => ids.push(v["id"].as_str().unwrap().to_owned()),
            Some(other) => panic!("type {other}"),
        }
    }
    assert!(
        got.last().unwrap().body.contains("\"type\":\"digest\""),
        "the digest comes last"
    );
    // Nothing lost, nothing twice.
    ids.sort();
    let mut expected: Vec<String> = run
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    assert_eq!(ids, expected);

    // The archive took every reported alert, one by one, redacted.
    let archive = std::fs::read_to_string(dir.path().join("archive.jsonl")).unwrap();
    assert_eq!(archive.lines().count(), alerts.len());
    assert_no_secret("the archive", &archive);
}

#[test]
fn config_errors_and_warnings_name_things_not_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let logs =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/leaked-admin-key/AWSLogs");
    let run = |config: &Path| {
        let out = Command::cargo_bin("trailguard")
            .unwrap()
            .env_remove("E2E_WEBHOOK_URL")
            .env_remove("TRAILGUARD_CONFIG")
            .args(["detect", "--format", "jsonl", "--config"])
            .arg(config)
            .arg(&logs)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // An environment variable that is not set: named, exit 2, nothing read.
    let (code, stderr) = run(&config(dir.path()));
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("the environment variable E2E_WEBHOOK_URL is not set"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("events read"),
        "refused before reading: {stderr}"
    );

    // A typo: file, line and key.
    let typo = dir.path().join("typo.toml");
    std::fs::write(
        &typo,
        "[[sink]]\nname = \"a\"\nkind = \"jsonl\"\npath = \"x\"\nmin_sevrity = \"high\"\n",
    )
    .unwrap();
    let (code, stderr) = run(&typo);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("typo.toml:5:") && stderr.contains("unknown field `min_sevrity`"),
        "{stderr}"
    );

    // An inline URL in a file others can read: a warning, the URL not shown.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let (port, got) = receiver();
        let open = dir.path().join("open.toml");
        std::fs::write(
            &open,
            format!(
                "[[sink]]\nname = \"w\"\nkind = \"webhook\"\nunsigned = true\n\
                 url = \"http://127.0.0.1:{port}/hooks/{TOKEN}\"\nmin_severity = \"critical\"\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (code, stderr) = run(&open);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(
            stderr.contains("can be read by other users (mode 0644)"),
            "{stderr}"
        );
        assert_no_secret("stderr", &stderr);
        let got = got.lock().unwrap();
        assert!(!got.is_empty());
        for r in got.iter() {
            let v: Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(v["rule"]["severity"], "critical", "routed by min_severity");
            assert!(r.signature.is_empty(), "unsigned as the file says");
        }
    }
}

#[test]
fn alerts_suppressions_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let list = |extra: &[&str]| {
        let out = Command::cargo_bin("trailguard")
            .unwrap()
            .env_remove("E2E_WEBHOOK_URL") // listing needs no sink secret
            .args(["alerts", "suppressions", "--config"])
            .arg(&config)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (stdout, stderr) = list(&["--format", "jsonl"]);
    let rows: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "active only");
    assert_eq!(
        rows[0],
        json!({"number": 1, "status": "active", "until": "2099-01-01T00:00:00Z", "rule": null,
               "actor": "AKIAE2ETESTKEY000007", "ip": null, "by": "bob",
               "reason": "ci7 is the load-test user", "line": 15})
    );
    assert!(stderr.is_empty(), "{stderr}");
    let (stdout, stderr) = list(&["--all", "--format", "table"]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("#  STATUS   UNTIL"), "{stdout}");
    assert!(lines[1].contains("active") && lines[1].ends_with("ci7 is the load-test user"));
    assert!(lines[2].contains("expired") && lines[2].contains("aws-ec2-*"));
    assert!(
        stderr.contains("1 active, 1 expired suppressions"),
        "{stderr}"
    );

    let out = Command::cargo_bin("trailguard")
        .unwrap()
        .env_remove("TRAILGUARD_CONFIG")
        .args(["alerts", "suppressions"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give --config FILE"));
}
