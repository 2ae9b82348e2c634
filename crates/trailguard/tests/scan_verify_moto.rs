//! `trailguard scan --verify` against STS in moto (IAM enforced): a live pair, the same
//! key with a wrong secret, a canary account never asked, and the secret never shown.

#[path = "moto_support/mod.rs"]
mod moto_support;

use assert_cmd::Command;
use moto_support::Moto;
use serde_json::Value;

fn scan(dir: &std::path::Path, args: &[&str]) -> (Vec<Value>, String, String) {
    let out = Command::cargo_bin("trailguard")
        .unwrap()
        .args(["scan", "--format", "json"])
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "findings: exit 1");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    (serde_json::from_str(&stdout).unwrap(), stdout, stderr)
}

#[test]
fn pairs_are_asked_of_sts_once_and_canaries_never() {
    let Some(moto) = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "2")]) else {
        return;
    };
    let made: Value = serde_json::from_str(&moto.python("make_key.py", &["leaky"])).unwrap();
    let (key, secret) = (
        made["key"].as_str().unwrap(),
        made["secret"].as_str().unwrap(),
    );
    let wrong: String = secret.chars().rev().collect();
    let dir = tempfile::tempdir().unwrap();
    let creds =
        |s: &str| format!("[default]\naws_access_key_id = {key}\naws_secret_access_key = {s}\n");
    std::fs::write(dir.path().join("credentials"), creds(secret)).unwrap();
    std::fs::write(dir.path().join("copy.env"), creds(secret)).unwrap();
    std::fs::write(dir.path().join("stale.ini"), creds(&wrong)).unwrap();

    let (findings, stdout, stderr) = scan(
        dir.path(),
        &["--verify", "--verify-endpoint", &moto.endpoint],
    );
    assert_eq!(findings.len(), 3, "{stdout}");
    let status = |path: &str| {
        let f = findings
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(path))
            .unwrap();
        (
            f["verification"]["status"].as_str().unwrap().to_string(),
            f["verification"]["detail"].as_str().unwrap().to_string(),
        )
    };
    let (s, d) = status("credentials");
    assert_eq!(s, "live");
    assert!(d.contains("arn:aws:iam::123456789012:user/leaky"), "{d}");
    assert_eq!(status("copy.env").0, "live");
    assert_eq!(status("stale.ini").0, "refused");
    // The same pair twice is asked once.
    assert!(
        stderr.contains("verify: 2 key pair(s) asked of STS, 2 finding(s) live"),
        "{stderr}"
    );
    for out in [&stdout, &stderr] {
        assert!(!out.contains(secret) && !out.contains(&wrong));
    }

    // Its account on the canary list: nothing asked.
    let account = findings[0]["account"].as_str().unwrap().to_string();
    let (findings, _, stderr) = scan(
        dir.path(),
        &[
            "--verify",
            "--verify-endpoint",
            &moto.endpoint,
            "--never-verify-account",
            &account,
        ],
    );
    assert!(findings
        .iter()
        .all(|f| f["verification"]["status"] == "not-asked"));
    assert!(stderr.contains("verify: 0 key pair(s) asked"), "{stderr}");

    // Without --verify, nothing is asked and no verification is reported.
    let (findings, _, _) = scan(dir.path(), &[]);
    assert!(findings.iter().all(|f| f.get("verification").is_none()));
}

#[test]
fn verify_options_are_checked() {
    let out = Command::cargo_bin("trailguard")
        .unwrap()
        .args(["scan", ".", "--verify", "--never-verify-account", "12345"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("12 digits"));
    let out = Command::cargo_bin("trailguard")
        .unwrap()
        .args(["scan", ".", "--never-verify-account", "123456789012"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "requires --verify");
}
