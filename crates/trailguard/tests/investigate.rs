//! Golden tests of `trailguard investigate` on the bundled incident (the report, every
//! input form and order, `--ip`, `--principal`, an absent subject, bad usage and files),
//! with crafted additions where the incident lacks a case (the created key in use).

mod investigate_support;

use std::fs;

use serde_json::{json, Value};

use investigate_support::*;

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
