//! Golden tests of `trailguard investigate` and `key-info` on the bundled incident,
//! with crafted additions where the incident lacks a case (the created key in use, a
//! lineage cycle, a hostile user agent).

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{json, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example() -> PathBuf {
    repo().join("examples/leaked-admin-key")
}

fn logs() -> String {
    example().join("AWSLogs").to_string_lossy().into_owned()
}

fn expected() -> Value {
    serde_json::from_str(&fs::read_to_string(example().join("expected.json")).unwrap()).unwrap()
}

fn trailguard() -> Command {
    let mut cmd = Command::cargo_bin("trailguard").unwrap();
    cmd.env_remove("DISCORD_WEBHOOK_URL");
    cmd
}

/// Runs `investigate ... --format json`, expecting exit 0: (report, stderr).
fn investigate(args: &[&str]) -> (Value, String) {
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
fn record(
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

const ADMIN: &str = "arn:aws:iam::418295730164:user/admin";

/// The attacker's second key at work after its creation: two calls.
fn created_key_in_use(dir: &Path) -> PathBuf {
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

#[test]
fn the_leaked_key_report_tells_the_incident() {
    let exp = expected();
    let ids = &exp["attacker_event_ids"];
    let dir = tempfile::tempdir().unwrap();
    let later = created_key_in_use(dir.path());
    let (r, stderr) = investigate(&[
        "--access-key",
        exp["leaked_access_key_id"].as_str().unwrap(),
        &logs(),
        later.to_str().unwrap(),
    ]);
    assert!(stderr.contains("198 files"), "{stderr}");
    assert_eq!(r["subject"]["access_key_id"], exp["leaked_access_key_id"]);
    assert_eq!(r["subject"]["account"], exp["account"]);
    assert_eq!(r["subject"]["principal_arn"], exp["leaked_user_arn"]);
    assert_eq!(r["subject"]["type"], "access_key");
    assert_eq!(r["event_count"], 28);
    assert_eq!(r["error_count"], 1);
    assert_eq!(r["last_seen"], exp["attacker_event_times"]["RunInstances"]);
    // The first attacker event is the first one judged suspicious.
    assert_eq!(
        r["suspicious_since"],
        exp["attacker_event_times"]["GetCallerIdentity"]
    );
    assert_eq!(r["suspicious_reason"], "alert");
    let ips = r["source_ips"].as_array().unwrap();
    let attacker = ips.iter().find(|i| i["ip"] == exp["attacker_ip"]).unwrap();
    assert_eq!(attacker["new"], true);
    assert_eq!(attacker["count"], 4);
    assert_eq!(
        attacker["first_seen"],
        exp["attacker_event_times"]["GetCallerIdentity"]
    );
    let office = ips
        .iter()
        .find(|i| i["ip"] == exp["office_ips"][0])
        .unwrap();
    assert_eq!(office["new"], false);
    let kali: Vec<&Value> = r["user_agents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["user_agent"].as_str().unwrap().contains("kali"))
        .collect();
    assert!(!kali.is_empty() && kali.iter().all(|u| u["new"] == true));
    assert!(r["regions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["new"] == false));
    let run = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["event_name"] == "RunInstances")
        .unwrap();
    assert_eq!(
        (run["count"].as_u64(), run["errors"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(run["event_source"], "ec2.amazonaws.com");

    // Blast radius, each with the event that did it.
    let keys = r["created"]["access_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["access_key_id"], exp["new_access_key_id"]);
    assert_eq!(keys[0]["user_name"], "admin");
    assert_eq!(keys[0]["event_id"], ids["CreateAccessKey"]);
    let inst = r["created"]["instances"].as_array().unwrap();
    assert_eq!(inst.len(), 1);
    assert_eq!(inst[0]["instance_id"], exp["instance_ids"][0]);
    assert_eq!(inst[0]["region"], "us-east-1");
    assert_eq!(inst[0]["instance_type"], "t3.micro");
    assert_eq!(inst[0]["event_id"], ids["RunInstances"]);

    // The created key, followed: its own activity, suspicious from its creation.
    let derived = r["derived"].as_array().unwrap();
    assert_eq!(derived.len(), 1, "{derived:#?}");
    let d = &derived[0];
    assert_eq!(d["subject"]["access_key_id"], exp["new_access_key_id"]);
    assert_eq!(d["subject"]["type"], "derived_access_key");
    assert_eq!(d["event_count"], 2);
    assert_eq!(d["lineage"]["via"], "CreateAccessKey");
    assert_eq!(d["lineage"]["event_id"], ids["CreateAccessKey"]);
    assert_eq!(d["lineage"]["parent"], exp["leaked_access_key_id"]);
    assert_eq!(
        d["suspicious_since"],
        exp["attacker_event_times"]["CreateAccessKey"]
    );
    assert_eq!(d["created"]["key_pairs"][0]["name"], "backdoor");
    assert_eq!(d["source_ips"][0]["new"], true);

    // The alerts are the rule pack's on the subject's events.
    let rules: Vec<&str> = r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"]["id"].as_str().unwrap())
        .collect();
    for rule in [
        "aws-iam-access-key-created",
        "aws-key-new-source-ip",
        "aws-ec2-run-instances-long-term-key",
        "aws-recon-offensive-user-agent",
    ] {
        assert!(rules.contains(&rule), "{rules:?}");
    }
    // The full timeline, in time order, holding the attacker's four events last.
    let tl = r["timeline"].as_array().unwrap();
    assert_eq!(tl.len(), 28);
    assert_eq!(r["timeline_truncated"], false);
    let last4: Vec<&Value> = tl[24..].iter().map(|e| &e["event_id"]).collect();
    assert_eq!(
        last4,
        [
            &ids["GetCallerIdentity"],
            &ids["CreateAccessKey"],
            &ids["RunInstances_refused"],
            &ids["RunInstances"]
        ]
    );
    let times: Vec<&str> = tl.iter().map(|e| e["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(tl[26]["error_code"], "Client.InvalidParameterCombination");
    for field in [
        "time",
        "event_name",
        "event_source",
        "region",
        "source_ip",
        "error_code",
        "event_id",
    ] {
        assert!(tl[0].get(field).is_some(), "timeline field {field}");
    }
}

#[test]
fn every_delivery_form_and_order_gives_the_same_report() {
    let key = expected()["leaked_access_key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (from_logs, _) = investigate(&["--access-key", &key, &logs()]);
    let jsonl = example().join("eventbridge.jsonl");
    let (from_eventbridge, _) = investigate(&["--access-key", &key, jsonl.to_str().unwrap()]);
    assert_eq!(from_logs, from_eventbridge);
    let text = fs::read_to_string(&jsonl).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.reverse();
    let out = trailguard()
        .args(["investigate", "--format", "json", "--access-key", &key, "-"])
        .write_stdin(lines.join("\n"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let reversed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(from_logs, reversed, "events out of order");
}

#[test]
fn an_address_lists_every_key_and_principal_that_used_it() {
    let exp = expected();
    let dir = tempfile::tempdir().unwrap();
    let later = created_key_in_use(dir.path());
    let (r, _) = investigate(&[
        "--ip",
        exp["attacker_ip"].as_str().unwrap(),
        &logs(),
        later.to_str().unwrap(),
    ]);
    assert_eq!(r["subject"]["type"], "ip");
    assert_eq!(r["subject"]["ip"], exp["attacker_ip"]);
    assert_eq!(r["event_count"], 6);
    let keys: Vec<&Value> = r["access_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["id"])
        .collect();
    assert_eq!(
        keys,
        [&exp["leaked_access_key_id"], &exp["new_access_key_id"]]
    );
    assert_eq!(r["principals"][0]["id"], exp["leaked_user_arn"]);
    assert_eq!(
        r["created"]["access_keys"][0]["access_key_id"],
        exp["new_access_key_id"]
    );
}

#[test]
fn a_principal_and_its_sessions() {
    // The CI user's AssumeRole calls: each session is a derived credential with its
    // own activity.
    let (r, _) = investigate(&[
        "--principal",
        "arn:aws:iam::418295730164:user/ci-deployer",
        &logs(),
    ]);
    assert_eq!(r["event_count"], 20);
    let sessions = r["created"]["session_credentials"].as_array().unwrap();
    assert_eq!(sessions.len(), 20);
    assert!(sessions[0]["role_arn"]
        .as_str()
        .unwrap()
        .ends_with(":role/ci-deploy"));
    let derived = r["derived"].as_array().unwrap();
    assert_eq!(derived.len(), 20);
    assert!(derived.iter().all(|d| d["lineage"]["via"] == "AssumeRole"));
    let active = derived
        .iter()
        .find(|d| d["subject"]["access_key_id"] == "ASIAWCZC6J72J4HZRFJS")
        .unwrap();
    assert_eq!(active["event_count"], 9);
    let text = serde_json::to_string(&r).unwrap();
    assert!(
        !text.contains("sessionToken") && !text.contains("IQoJb3JpZ2lu"),
        "a session token leaked"
    );
    // A role takes in its sessions' calls.
    let (role, _) = investigate(&[
        "--principal",
        "arn:aws:iam::418295730164:role/ci-deploy",
        &logs(),
    ]);
    assert!(
        role["event_count"].as_u64().unwrap() > 100,
        "{}",
        role["event_count"]
    );
    assert!(role["access_keys"].as_array().unwrap().len() >= 20);
}

#[test]
fn a_subject_that_never_appears_is_an_empty_report() {
    let (r, stderr) = investigate(&["--access-key", "AKIAWCZC6J72NEVERSEE", &logs()]);
    assert!(stderr.contains("never appears in the input"), "{stderr}");
    assert!(stderr.contains("507 events read"), "{stderr}");
    assert_eq!(r["event_count"], 0);
    assert_eq!(r["first_seen"], Value::Null);
    assert_eq!(r["suspicious_since"], Value::Null);
    assert_eq!(r["timeline"], json!([]));
    assert_eq!(r["derived"], json!([]));
    assert_eq!(r["subject"]["account"], "418295730164");
    // Outside --since/--until it is not there either.
    let (r, stderr) = investigate(&[
        "--access-key",
        expected()["leaked_access_key_id"].as_str().unwrap(),
        "--until",
        "2025-09-01T00:00:00Z",
        &logs(),
    ]);
    assert_eq!(r["event_count"], 0);
    assert!(stderr.contains("within --since/--until"), "{stderr}");
}

#[test]
fn bad_usage_is_a_clear_error() {
    for (args, needle) in [
        (vec!["--access-key", "AKIA123", "x"], "not an access key id"),
        (
            vec!["--access-key", "AIDAWCZC6J72LDJQHCDXG", "x"],
            "IAM user",
        ),
        (vec!["--principal", "admin", "x"], "not a principal ARN"),
        (
            vec!["--principal", "arn:aws:s3:::bucket", "x"],
            "not a principal",
        ),
        (vec!["--ip", "198.51.100.0/24", "x"], "not an IP address"),
        (vec!["x"], "give one of --access-key"),
        (
            vec![
                "--ip",
                "198.51.100.73",
                "--access-key",
                "AKIAWCZC6J72ODEC6IFU",
                "x",
            ],
            "exactly one",
        ),
        (vec!["--ip", "198.51.100.73"], "PATH"),
        (
            vec!["--ip", "198.51.100.73", "--since", "soon", "x"],
            "--since",
        ),
        (
            vec!["--ip", "198.51.100.73", "/nonexistent/trailguard"],
            "no input could be read",
        ),
    ] {
        let out = trailguard()
            .arg("investigate")
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let out = trailguard()
        .args(["investigate", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Exit codes:") && help.contains("--baseline-until"),
        "{help}"
    );
}

#[test]
fn bad_files_are_reported_by_name_and_the_rest_read() {
    let dir = tempfile::tempdir().unwrap();
    let exp = expected();
    let jsonl = fs::read_to_string(example().join("eventbridge.jsonl")).unwrap();
    fs::write(dir.path().join("good.jsonl"), &jsonl).unwrap();
    fs::write(
        dir.path().join("broken.json"),
        "{\"Records\":[{\"eventName\":\"X\"},{\"eventN",
    )
    .unwrap();
    let gz = fs::read(
        walk(&example().join("AWSLogs"))
            .into_iter()
            .find(|p| !p.to_string_lossy().contains("Digest"))
            .unwrap(),
    )
    .unwrap();
    fs::write(dir.path().join("truncated.json.gz"), &gz[..gz.len() / 2]).unwrap();
    // Partial records: no time, no identity, odd types.
    fs::write(
        dir.path().join("partial.jsonl"),
        format!(
            "{}\n{{\"eventName\":\"NoIdentity\"}}\n{{\"userIdentity\":7,\"eventTime\":42}}\n",
            record(
                exp["leaked_access_key_id"].as_str().unwrap(),
                ADMIN,
                "ListUsers",
                "iam.amazonaws.com",
                "not a time",
                "p-1",
                ""
            )
        ),
    )
    .unwrap();
    let (r, stderr) = investigate(&[
        "--access-key",
        exp["leaked_access_key_id"].as_str().unwrap(),
        dir.path().to_str().unwrap(),
    ]);
    assert!(stderr.contains("broken.json"), "{stderr}");
    assert!(stderr.contains("truncated.json.gz"), "{stderr}");
    assert_eq!(r["event_count"], 29);
    assert_eq!(r["untimed_events"], 1);
    assert_eq!(
        r["timeline"][28]["event_id"], "p-1",
        "the untimed event is listed last"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
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

#[test]
fn a_lineage_cycle_ends_and_reports_each_credential_once() {
    // A creates B; B "creates" A (forged) and assumes a role (C); C creates a user
    // `eve`, and B creates eve's key D: D is reached twice, A is the subject itself.
    let (a, b, c, d, e) = (
        "AKIAWCZC6J72AAAAAAAA",
        "AKIAWCZC6J72BBBBBBBB",
        "ASIAWCZC6J72CCCCCCCC",
        "AKIAWCZC6J72DDDDDDDD",
        "AKIAWCZC6J72EEEEEEEE",
    );
    let key = |k: &str| {
        format!(r#","responseElements":{{"accessKey":{{"accessKeyId":"{k}","userName":"u"}}}}"#)
    };
    let lines = [
        record(
            a,
            ADMIN,
            "CreateAccessKey",
            "iam.amazonaws.com",
            "2025-09-17T01:00:00Z",
            "c-1",
            &key(b),
        ),
        record(
            b,
            ADMIN,
            "CreateAccessKey",
            "iam.amazonaws.com",
            "2025-09-17T02:00:00Z",
            "c-2",
            &key(a),
        ),
        record(
            b,
            ADMIN,
            "AssumeRole",
            "sts.amazonaws.com",
            "2025-09-17T03:00:00Z",
            "c-3",
            &format!(
                r#","requestParameters":{{"roleArn":"arn:aws:iam::418295730164:role/r"}},"responseElements":{{"credentials":{{"accessKeyId":"{c}","sessionToken":"SECRET-TOKEN"}}}}"#
            ),
        ),
        record(
            c,
            ADMIN,
            "CreateUser",
            "iam.amazonaws.com",
            "2025-09-17T04:00:00Z",
            "c-4",
            r#","requestParameters":{"userName":"eve"}"#,
        ),
        record(
            b,
            ADMIN,
            "CreateAccessKey",
            "iam.amazonaws.com",
            "2025-09-17T05:00:00Z",
            "c-5",
            &format!(
                r#","requestParameters":{{"userName":"eve"}},"responseElements":{{"accessKey":{{"accessKeyId":"{d}","userName":"eve"}}}}"#
            ),
        ),
        record(
            d,
            ADMIN,
            "CreateAccessKey",
            "iam.amazonaws.com",
            "2025-09-17T06:00:00Z",
            "c-6",
            &key(b),
        ),
        // Someone outside the lineage makes eve a second key: still eve's, so derived.
        record(
            "AKIAWCZC6J72ZZZZZZZZ",
            "arn:aws:iam::418295730164:user/ops",
            "CreateAccessKey",
            "iam.amazonaws.com",
            "2025-09-17T07:00:00Z",
            "c-7",
            &format!(
                r#","requestParameters":{{"userName":"eve"}},"responseElements":{{"accessKey":{{"accessKeyId":"{e}","userName":"eve"}}}}"#
            ),
        ),
        record(
            e,
            ADMIN,
            "ListUsers",
            "iam.amazonaws.com",
            "2025-09-17T08:00:00Z",
            "c-8",
            "",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cycle.jsonl");
    // Reversed: every credential's calls come before the call that created it.
    fs::write(
        &path,
        lines.iter().rev().cloned().collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let (r, _) = investigate(&["--access-key", a, path.to_str().unwrap()]);
    let mut seen: Vec<String> = Vec::new();
    fn collect(r: &Value, depth: usize, seen: &mut Vec<String>) {
        for d in r["derived"].as_array().unwrap() {
            seen.push(format!(
                "{}:{}",
                depth,
                d["subject"]["access_key_id"].as_str().unwrap()
            ));
            collect(d, depth + 1, seen);
        }
    }
    collect(&r, 1, &mut seen);
    assert_eq!(
        seen,
        [
            format!("1:{b}"),
            format!("2:{c}"),
            format!("3:{e}"),
            format!("2:{d}")
        ],
        "{r:#}"
    );
    let e_report = &r["derived"][0]["derived"][0]["derived"][0];
    assert_eq!(
        e_report["lineage"]["via"],
        "CreateAccessKey for a user the parent created"
    );
    assert_eq!(e_report["lineage"]["parent"], c);
    assert_eq!(e_report["event_count"], 1);
    let text = serde_json::to_string(&r).unwrap();
    assert!(!text.contains("SECRET-TOKEN"));
    // D was created by B for the user C created: reached first as B's key.
    let b_report = &r["derived"][0];
    assert_eq!(b_report["derived"][1]["lineage"]["via"], "CreateAccessKey");
}

#[test]
fn the_timeline_is_bounded_and_says_so() {
    let (r, stderr) = investigate(&[
        "--access-key",
        expected()["leaked_access_key_id"].as_str().unwrap(),
        "--timeline-limit",
        "4",
        &logs(),
    ]);
    assert_eq!(r["event_count"], 28);
    let tl = r["timeline"].as_array().unwrap();
    assert_eq!(tl.len(), 4);
    assert_eq!(r["timeline_truncated"], true);
    assert_eq!(r["timeline_dropped"], 24);
    assert_eq!(r["timeline_limit"], 4);
    assert_eq!(tl[0]["time"], r["first_seen"]);
    assert_eq!(tl[3]["time"], r["last_seen"]);
    assert!(stderr.contains("24 left out"), "{stderr}");
}

#[test]
fn baseline_until_overrides_the_rules() {
    let (r, _) = investigate(&[
        "--access-key",
        expected()["leaked_access_key_id"].as_str().unwrap(),
        "--baseline-until",
        "2025-09-17T00:00:00Z",
        &logs(),
    ]);
    assert_eq!(r["suspicious_since"], "2025-09-17T00:00:00Z");
    assert_eq!(r["suspicious_reason"], "baseline-until");
    // Nothing new on the second day but the attacker's address: the office was seen on day one.
    let new: Vec<&Value> = r["source_ips"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["new"] == true)
        .map(|i| &i["ip"])
        .collect();
    assert_eq!(new, [&expected()["attacker_ip"]]);
}

/// A hostile user agent, for the renderers.
fn hostile(dir: &Path) -> PathBuf {
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

#[test]
fn formats_for_people_escape_log_text() {
    let dir = tempfile::tempdir().unwrap();
    let h = hostile(dir.path());
    let key = "AKIAWCZC6J72ODEC6IFU";
    let run = |format: &str| {
        let out = trailguard()
            .args([
                "investigate",
                "--access-key",
                key,
                "--format",
                format,
                &logs(),
            ])
            .arg(&h)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let table = run("table");
    assert!(
        table.starts_with("INVESTIGATION  access key AKIAWCZC6J72ODEC6IFU"),
        "{table}"
    );
    assert!(
        table.contains("SUSPICIOUS     since 2025-09-17T23:12:41Z"),
        "{table}"
    );
    assert!(table.contains("i-045d874f569a2056f") && table.contains("TIMELINE"));
    let md = run("md");
    assert!(
        md.starts_with("# Investigation: AKIAWCZC6J72ODEC6IFU"),
        "{md}"
    );
    assert!(md.contains("## Blast radius") && md.contains("| 198.51.100.73 |"));
    assert!(!md.contains("<script>") && md.contains("&lt;script&gt;"));
    let html = run("html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("<script>alert(1)")
            && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );
    assert!(!html.contains("<img"), "an element formed from log text");
    assert_self_contained(&html);
    assert!(html.contains("<svg id=\"chart\"") && html.contains("class=\"suspicious\""));
    let path = dir.path().join("report.html");
    // --out writes the file, in the format its extension names.
    trailguard()
        .args(["investigate", "--access-key", key, "--out"])
        .arg(&path)
        .arg(logs())
        .assert()
        .success();
    let page = fs::read_to_string(&path).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("AKIAWCZC6J72ODEC6IFU"));
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

#[test]
fn key_info_decodes_offline() {
    let out = trailguard()
        .args([
            "key-info",
            "--format",
            "jsonl",
            "AKIAWCZC6J72ODEC6IFU",
            "AKIAIOSFODNN7EXAMPLE",
            "AROAWCZC6J72MT4NAOIHV",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["account"], "418295730164");
    assert_eq!(lines[0]["prefix"], "AKIA");
    assert_eq!(lines[1]["account"], Value::Null);
    assert!(lines[1]["note"].as_str().unwrap().contains("older format"));
    assert_eq!(lines[2]["type"], "IAM role");
    let out = trailguard()
        .args(["key-info", "--format", "table", "ASIAY34FZKBOKMUTVV7A"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("account  609629065308") && text.contains("temporary"),
        "{text}"
    );
    let out = trailguard()
        .args(["key-info", "not-a-key"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AWS identifier"));
}
