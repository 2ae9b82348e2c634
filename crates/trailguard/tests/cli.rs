//! Golden tests of the command line on the bundled incident and the shared corpora.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example() -> PathBuf {
    repo().join("examples/leaked-admin-key")
}

fn expected() -> Value {
    serde_json::from_str(&fs::read_to_string(example().join("expected.json")).unwrap()).unwrap()
}

fn trailguard() -> Command {
    let mut cmd = Command::cargo_bin("trailguard").unwrap();
    cmd.env_remove("DISCORD_WEBHOOK_URL");
    cmd
}

fn alerts(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn detect_jsonl(args: &[&str]) -> (Vec<Value>, String) {
    let out = trailguard()
        .arg("detect")
        .args(["--format", "jsonl"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    (alerts(&out.stdout), stderr)
}

/// The attacker's alerts: the key creation (critical), the two RunInstances folded, the
/// Kali user agent over all four calls (high), the GetCallerIdentity check (info) and
/// the key's first call from a new address (high: a GetCallerIdentity).
/// Without the key's history (`lookup-events` output of the attacker's calls only)
/// the new address cannot be told apart: that alert needs a day of learning.
fn assert_incident(alerts: &[Value]) {
    assert_incident_with(alerts, true)
}

fn assert_incident_with(alerts: &[Value], with_history: bool) {
    let exp = expected();
    let leaked = exp["leaked_access_key_id"].as_str().unwrap();
    let ids = &exp["attacker_event_ids"];
    let attacker: Vec<&Value> = alerts
        .iter()
        .filter(|a| {
            a["actor"]["access_key_id"] == leaked && a["actor"]["source_ip"] == exp["attacker_ip"]
        })
        .collect();
    assert_eq!(attacker.len(), 4 + usize::from(with_history), "{alerts:#?}");
    let new_ip = attacker
        .iter()
        .find(|a| a["rule"]["id"] == "aws-key-new-source-ip");
    if with_history {
        let new_ip = new_ip.expect("new source IP alert");
        assert_eq!(new_ip["rule"]["severity"], "high");
        assert_eq!(
            new_ip["event_ids"],
            serde_json::json!([ids["GetCallerIdentity"]])
        );
        assert_eq!(new_ip["context"]["new_source_ip"], exp["attacker_ip"]);
    } else {
        assert!(new_ip.is_none());
    }
    let tool = attacker
        .iter()
        .find(|a| a["rule"]["id"] == "aws-recon-offensive-user-agent")
        .expect("offensive user agent alert");
    // From an address first seen for the key minutes before, every alert is raised a
    // level: which needs the key's history.
    let raised = |base: &str, up: &str| {
        if with_history {
            up.to_owned()
        } else {
            base.to_owned()
        }
    };
    assert_eq!(
        tool["rule"]["severity"],
        raised("high", "critical").as_str()
    );
    assert_eq!(
        tool["event_ids"],
        serde_json::json!([
            ids["GetCallerIdentity"],
            ids["CreateAccessKey"],
            ids["RunInstances_refused"],
            ids["RunInstances"]
        ])
    );
    let check = attacker
        .iter()
        .find(|a| a["rule"]["id"] == "aws-sts-get-caller-identity-long-term-key")
        .expect("GetCallerIdentity alert");
    assert_eq!(check["rule"]["severity"], raised("info", "low").as_str());
    assert_eq!(
        check["event_ids"],
        serde_json::json!([ids["GetCallerIdentity"]])
    );
    // The owner's own checks from the office are information, never more.
    for a in alerts {
        if a["actor"]["access_key_id"] == leaked && a["actor"]["source_ip"] != exp["attacker_ip"] {
            assert_eq!(a["rule"]["severity"], "info", "{a:#?}");
        }
    }
    let key = attacker
        .iter()
        .find(|a| a["rule"]["id"] == "aws-iam-access-key-created")
        .expect("key creation alert");
    assert_eq!(key["rule"]["severity"], "critical");
    assert_eq!(
        key["event_ids"],
        serde_json::json!([ids["CreateAccessKey"]])
    );
    assert_eq!(
        key["context"]["new_access_key_id"],
        exp["new_access_key_id"]
    );
    assert_eq!(key["actor"]["source_ip"], exp["attacker_ip"]);
    assert_eq!(key["account"], exp["account"]);
    let run = attacker
        .iter()
        .find(|a| a["rule"]["id"] == "aws-ec2-run-instances-long-term-key")
        .expect("RunInstances alert");
    assert_eq!(run["count"], 2);
    assert_eq!(
        run["event_ids"],
        serde_json::json!([ids["RunInstances_refused"], ids["RunInstances"]])
    );
    assert_eq!(run["context"]["instance_ids"], exp["instance_ids"][0]);
    assert_eq!(run["context"]["failed_calls"], 1);
}

#[test]
fn demo_catches_the_incident() {
    let out = trailguard()
        .args(["demo", "--format", "jsonl"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let alerts = alerts(&out.stdout);
    assert_incident(&alerts);
    // The routine rotation from a console session with MFA is reported at medium.
    let routine = alerts
        .iter()
        .find(|a| a["event_ids"][0] == expected()["routine_key_rotation"]["event_id"])
        .expect("routine rotation alert");
    assert_eq!(routine["rule"]["severity"], "medium");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("507 events read"), "{stderr}");
    assert!(stderr.contains("1 CloudTrail digest"), "{stderr}");
}

#[test]
fn every_delivery_form_gives_the_same_alerts() {
    let logs = example().join("AWSLogs");
    let (from_logs, stderr) = detect_jsonl(&[logs.to_str().unwrap()]);
    assert_incident(&from_logs);
    assert!(stderr.contains("197 files, 507 events read"), "{stderr}");

    let jsonl = example().join("eventbridge.jsonl");
    let (from_eventbridge, _) = detect_jsonl(&[jsonl.to_str().unwrap()]);
    assert_eq!(
        from_logs, from_eventbridge,
        "log files and EventBridge envelopes differ"
    );

    let out = trailguard()
        .args(["detect", "--format", "jsonl", "-"])
        .write_stdin(fs::read(&jsonl).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(alerts(&out.stdout), from_logs, "stdin differs");

    // Stateful rules judge in event time, whatever order the events come in.
    let text = fs::read_to_string(&jsonl).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.reverse();
    let out = trailguard()
        .args(["detect", "--format", "jsonl", "-"])
        .write_stdin(lines.join("\n"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(alerts(&out.stdout), from_logs, "reversed stream differs");

    let lookup = example().join("lookup-events.json");
    let (from_lookup, _) = detect_jsonl(&[lookup.to_str().unwrap()]);
    assert_incident_with(&from_lookup, false);
}

#[test]
fn filters_and_fail_on() {
    let logs = example().join("AWSLogs");
    let logs = logs.to_str().unwrap();
    let (critical, _) = detect_jsonl(&["--min-severity", "critical", logs]);
    // The key creation, and the user agent and RunInstances alerts raised by the
    // fresh address.
    assert_eq!(critical.len(), 3, "{critical:#?}");
    let (none, _) = detect_jsonl(&["--until", "2025-09-16T00:00:00Z", logs]);
    assert!(none.is_empty());
    let fail_on_critical = |extra: &[&str]| {
        trailguard()
            .args([
                "detect",
                "--quiet",
                "--format",
                "jsonl",
                "--fail-on",
                "critical",
            ])
            .args(extra)
            .arg(logs)
            .assert()
    };
    fail_on_critical(&[]).code(1);
    let refused = expected()["attacker_event_times"]["RunInstances_refused"]
        .as_str()
        .unwrap()
        .to_owned();
    fail_on_critical(&["--since", &refused]).code(0);
}

#[test]
fn table_is_the_default_format_for_people() {
    let out = trailguard()
        .args(["detect", "--format", "table"])
        .arg(example().join("AWSLogs"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("SEVERITY"), "{text}");
    assert!(text.contains("CRITICAL"));
}

#[test]
fn bad_usage_exits_2_with_a_reason() {
    for (args, needle) in [
        (vec!["detect"], "PATH"),
        (
            vec!["detect", "--min-severity", "urgent", "x"],
            "unknown severity",
        ),
        (vec!["detect", "--since", "yesterday", "x"], "--since"),
        (vec!["detect", "--sink", "smoke=1", "x"], "unknown kind"),
        (
            vec!["detect", "--sink", "discord", "x"],
            "DISCORD_WEBHOOK_URL",
        ),
        (vec!["detect", "-", "-"], "only once"),
        (
            vec!["detect", "/nonexistent/trailguard"],
            "no input could be read",
        ),
    ] {
        let out = trailguard().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn bad_files_are_reported_and_the_rest_processed() {
    let dir = tempfile::tempdir().unwrap();
    let good = fs::read(
        walk_gz(&example().join("AWSLogs"))
            .into_iter()
            .find(|p| !p.to_string_lossy().contains("Digest"))
            .unwrap(),
    )
    .unwrap();
    fs::write(dir.path().join("good.json.gz"), &good).unwrap();
    fs::write(
        dir.path().join("truncated.json.gz"),
        &good[..good.len() / 2],
    )
    .unwrap();
    fs::write(dir.path().join("notes.txt"), "not json at all").unwrap();
    fs::write(dir.path().join("empty.json"), "").unwrap();
    fs::write(
        dir.path().join("broken.json"),
        "{\"Records\":[{\"eventName\":\"X\"},{\"eventN",
    )
    .unwrap();
    let out = trailguard()
        .args(["detect", "--format", "jsonl"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("truncated.json.gz"), "{stderr}");
    assert!(stderr.contains("broken.json"), "{stderr}");

    // Only unreadable input: exit 2.
    let bad = tempfile::tempdir().unwrap();
    let only = bad.path().join("only.json");
    fs::write(&only, "definitely { not json").unwrap();
    let out = trailguard().args(["detect"]).arg(&only).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only.json"));
}

fn walk_gz(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk_gz(&p));
        } else if p.to_string_lossy().ends_with(".json.gz") {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn shared_corpora_run_without_a_crash() {
    let corpora = repo().join("../shared/corpora");
    if !corpora.exists() {
        eprintln!("skipped: {} is absent", corpora.display());
        return;
    }
    for sub in ["stratus-detonations", "otrf-aws"] {
        let out = trailguard()
            .args(["detect", "--format", "jsonl"])
            .arg(corpora.join(sub))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{sub}: {stderr}");
        assert!(!stderr.contains("warning"), "{sub}: {stderr}");
        assert!(!stderr.contains(" 0 events read"), "{sub}: {stderr}");
    }
    // The rest of the corpora (Sigma YAML, licences) is not CloudTrail: skipped, no crash.
    let out = trailguard()
        .args(["detect", "--format", "jsonl"])
        .arg(&corpora)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Session tokens that CloudTrail logs in AssumeRole responses never reach an alert.
#[test]
fn session_tokens_in_the_logs_never_reach_output() {
    let text = fs::read_to_string(example().join("eventbridge.jsonl")).unwrap();
    let tokens: Vec<String> = text
        .lines()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            v["detail"]["responseElements"]["credentials"]["sessionToken"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(
        !tokens.is_empty(),
        "the example should carry session tokens to test with"
    );
    for format in ["jsonl", "json", "table"] {
        let out = trailguard()
            .args(["detect", "--format", format])
            .arg(example().join("eventbridge.jsonl"))
            .output()
            .unwrap();
        let all = [out.stdout, out.stderr].concat();
        let all = String::from_utf8_lossy(&all);
        for t in &tokens {
            assert!(!all.contains(&t[..24]), "{format} leaks a session token");
        }
    }
}

#[test]
fn rules_commands() {
    trailguard()
        .args(["rules", "test"])
        .assert()
        .success()
        .stdout(predicates::str::contains("0 failed"));
    let out = trailguard().args(["rules", "list"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("aws-iam-access-key-created"));
    trailguard()
        .args(["rules", "show", "aws-iam-access-key-created"])
        .assert()
        .success()
        .stdout(predicates::str::contains("eventName: [CreateAccessKey]"));

    let dir = tempfile::tempdir().unwrap();
    let mut f = fs::File::create(dir.path().join("mine.yml")).unwrap();
    writeln!(f, "id: mine\ntitle: t\nseverity: low\nmatch: {{detail: {{eventName: [GetCallerIdentity]}}}}\nsummary: s\ntests:\n  match: [{{eventName: Nope}}]").unwrap();
    trailguard()
        .args(["rules", "test", "--no-builtin", "--rules"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "FAIL mine: test event 1 should match",
        ));
}

#[test]
fn help_teaches() {
    let out = trailguard().args(["detect", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Examples:",
        "lookup-events",
        "Exit codes:",
        "DISCORD_WEBHOOK_URL",
        "--fail-on",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
}
