//! Helpers shared by the `investigate` test files: the bundled incident, the binary,
//! and crafted records.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn example() -> PathBuf {
    repo().join("examples/leaked-admin-key")
}

pub fn logs() -> String {
    example().join("AWSLogs").to_string_lossy().into_owned()
}

pub fn expected() -> Value {
    serde_json::from_str(&fs::read_to_string(example().join("expected.json")).unwrap()).unwrap()
}

pub fn trailguard() -> Command {
    let mut cmd = Command::cargo_bin("trailguard").unwrap();
    cmd.env_remove("DISCORD_WEBHOOK_URL");
    cmd
}

/// Runs `investigate ... --format json`, expecting exit 0: (report, stderr).
pub fn investigate(args: &[&str]) -> (Value, String) {
    let out = trailguard()
        .args(["investigate", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (report, stderr)
}

/// A CloudTrail record as a JSON Lines line.
pub fn record(
    key: &str,
    arn: &str,
    name: &str,
    source: &str,
    time: &str,
    id: &str,
    extra: &str,
) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","arn":"{arn}","accountId":"418295730164","accessKeyId":"{key}","userName":"admin"}},"eventTime":"{time}","eventSource":"{source}","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.73","userAgent":"aws-cli/2.15.30 exe/x86_64.kali.2024","eventID":"{id}","eventType":"AwsApiCall","recipientAccountId":"418295730164"{extra}}}"#
    )
}

pub const ADMIN: &str = "arn:aws:iam::418295730164:user/admin";

/// The attacker's second key at work after its creation: two calls.
pub fn created_key_in_use(dir: &Path) -> PathBuf {
    let new_key = expected()["new_access_key_id"].as_str().unwrap().to_owned();
    let lines = [
        record(
            &new_key,
            ADMIN,
            "ListBuckets",
            "s3.amazonaws.com",
            "2025-09-17T23:30:00Z",
            "x-1",
            "",
        ),
        record(
            &new_key,
            ADMIN,
            "CreateKeyPair",
            "ec2.amazonaws.com",
            "2025-09-17T23:31:00Z",
            "x-2",
            r#","requestParameters":{"keyName":"backdoor"}"#,
        ),
    ];
    let path = dir.join("later.jsonl");
    fs::write(&path, lines.join("\n")).unwrap();
    path
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// A hostile user agent, for the renderers.
pub fn hostile(dir: &Path) -> PathBuf {
    let rec = record(
        "AKIAWCZC6J72ODEC6IFU",
        ADMIN,
        "ListUsers",
        "iam.amazonaws.com",
        "2025-09-17T23:20:00Z",
        "h-1",
        "",
    )
    .replace(
        "aws-cli/2.15.30 exe/x86_64.kali.2024",
        "<script>alert(1)</script><img src=https://evil.example/x>|`**",
    );
    let path = dir.join("hostile.jsonl");
    fs::write(&path, rec).unwrap();
    path
}

/// No `src=` or `href=` pointing anywhere: the page fetches nothing.
pub fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for attr in ["src=", "href=", "url("] {
        for (i, _) in lower.match_indices(attr) {
            let around = &lower[i..(i + 60).min(lower.len())];
            // Escaped log text (`&lt;img src=...`) is text, not an attribute.
            let escaped = lower[..i]
                .rfind("&lt;")
                .is_some_and(|lt| !lower[lt..i].contains('>'));
            assert!(escaped, "the page may fetch: {around}");
        }
    }
    assert!(!lower.contains("@import"));
}
