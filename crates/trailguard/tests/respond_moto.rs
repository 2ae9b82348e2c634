//! `trailguard respond` against a real AWS API emulator (moto in server mode): a
//! compromised account is built through the API, its CloudTrail records written, the
//! plan carried out with `--execute --yes`, and the account read back through the API.
//! A second run changes nothing; a step the account refuses (IAM enforced by moto) is
//! reported and the rest goes on; the dry run changes nothing; the responder's secret
//! never appears anywhere.

#[path = "moto_support/mod.rs"]
mod moto_support;

use std::path::Path;

use assert_cmd::Command;
use moto_support::Moto;
use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn ids(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("ids.json")).unwrap()).unwrap()
}

fn respond(moto: &Moto, ids: &Value, extra: &[&str]) -> Run {
    let dir = moto.dir.path();
    let out = Command::cargo_bin("trailguard")
        .unwrap()
        .current_dir(dir)
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", ids["responder_key"].as_str().unwrap())
        .env(
            "AWS_SECRET_ACCESS_KEY",
            ids["responder_secret"].as_str().unwrap(),
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-credentials"))
        .args([
            "respond",
            "--access-key",
            ids["leaked"].as_str().unwrap(),
            "logs",
            "--endpoint-url",
            &moto.endpoint,
            "--audit-log",
            "audit.jsonl",
            "--format",
            "json",
        ])
        .args(extra)
        .output()
        .unwrap();
    let run = Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    let secret = ids["responder_secret"].as_str().unwrap();
    assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    run
}

fn state(moto: &Moto) -> Value {
    let ids = moto.dir.path().join("ids.json");
    serde_json::from_str(&moto.python("inspect_account.py", &[ids.to_str().unwrap()])).unwrap()
}

fn audit(moto: &Moto) -> Vec<Value> {
    std::fs::read_to_string(moto.dir.path().join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn key<'a>(s: &'a Value, ids: &Value, name: &str) -> &'a str {
    s["keys"][ids[name].as_str().unwrap()].as_str().unwrap()
}

fn instance_state<'a>(s: &'a Value, id: &Value) -> &'a str {
    s["instances"][id.as_str().unwrap()]["state"]
        .as_str()
        .unwrap()
}

#[test]
fn execute_contains_the_incident_and_a_second_run_changes_nothing() {
    let Some(moto) = Moto::start(&[]) else {
        return;
    };
    let dir = moto.dir.path().to_str().unwrap().to_string();
    moto.python("build_account.py", &[&dir]);
    let ids = ids(moto.dir.path());
    let before = state(&moto);

    // The dry run shows the plan and changes nothing.
    let dry = respond(&moto, &ids, &[]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let plan: Value = serde_json::from_str(&dry.stdout).unwrap();
    assert!(plan["steps"].as_array().unwrap().len() > 20);
    assert_eq!(state(&moto), before, "the dry run changed the account");
    assert!(audit(&moto).is_empty());

    let run = respond(
        &moto,
        &ids,
        &["--execute", "--yes", "--protect", "ops-admin"],
    );
    // Guards refused the protected user's and our own identity's steps: exit 1.
    assert_eq!(run.code, 1, "{}", run.stderr);
    let s = state(&moto);
    for k in ["leaked", "second", "backdoor_key"] {
        assert_eq!(key(&s, &ids, k), "Inactive", "{k}: {}", run.stderr);
    }
    // Protected, and our own: untouched.
    for k in ["ops_key", "ops_second", "responder_key", "responder_second"] {
        assert_eq!(key(&s, &ids, k), "Active", "{k}");
    }
    assert_eq!(s["users"]["ops-admin"]["inline"], serde_json::json!([]));
    assert_eq!(s["users"]["ops-admin"]["tags"], serde_json::json!({}));
    let backdoor = &s["users"]["backdoor"];
    assert_eq!(backdoor["login_profile"], false);
    assert_eq!(backdoor["attached"], serde_json::json!([]));
    assert_eq!(backdoor["mfa"], serde_json::json!([]));
    let inline: Vec<&str> = backdoor["inline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(inline.contains(&"TrailguardQuarantine") && !inline.contains(&"keep"));
    assert_eq!(
        s["roles"]["evil-role"]["inline"],
        serde_json::json!(["TrailguardQuarantine"])
    );
    let revoke = &s["admin_revoke_policy"]["Statement"][0];
    assert_eq!(revoke["Effect"], "Deny");
    assert!(revoke["Condition"]["DateLessThan"]["aws:TokenIssueTime"].is_string());
    // Instances stopped in both regions, tagged first; the owner's own left running.
    for region in ["us-east-1", "eu-west-1"] {
        for id in ids["instances"][region].as_array().unwrap() {
            assert_eq!(instance_state(&s, id), "stopped", "{id}");
            assert_eq!(
                s["instances"][id.as_str().unwrap()]["tags"]["trailguard:incident"],
                ids["leaked"]
            );
        }
    }
    assert_eq!(instance_state(&s, &ids["own_instance"]), "running");
    // SSH closed, the owner's HTTPS rule kept; the snapshot private again.
    assert_eq!(s["ingress_ports"], serde_json::json!([443]));
    assert_eq!(s["snapshot_shared_with"], serde_json::json!([]));

    // The audit log: one line per step, each with the caller and its result.
    let log = audit(&moto);
    assert_eq!(log.len(), plan["steps"].as_array().unwrap().len());
    for line in &log {
        assert_eq!(
            line["caller"]["arn"],
            "arn:aws:iam::123456789012:user/responder"
        );
        assert!(line["time"].is_string() && line["api"].is_string());
    }
    let results: Vec<&str> = log.iter().map(|l| l["result"].as_str().unwrap()).collect();
    assert!(results.contains(&"done"));
    assert_eq!(results.iter().filter(|r| **r == "refused").count(), 4);
    assert!(!results
        .iter()
        .any(|r| ["failed", "not-verified", "skipped"].contains(r)));

    // A second run finds nothing to do.
    let again = respond(
        &moto,
        &ids,
        &["--execute", "--yes", "--protect", "ops-admin"],
    );
    let log = audit(&moto);
    let second: Vec<&str> = log[log.len() / 2..]
        .iter()
        .map(|l| l["result"].as_str().unwrap())
        .collect();
    assert!(!second.contains(&"done"), "{}", again.stderr);
    assert!(second.contains(&"already-done"));
    assert!(
        again
            .stderr
            .contains("nothing to do: every step is already in place (4 refused by a guard)"),
        "{}",
        again.stderr
    );
    assert_eq!(state(&moto), s, "the second run changed the account");
    // Secrets stay out of the audit log too.
    let text = std::fs::read_to_string(moto.dir.path().join("audit.jsonl")).unwrap();
    assert!(!text.contains(ids["responder_secret"].as_str().unwrap()));
}

#[test]
fn a_refused_step_is_reported_and_the_rest_goes_on() {
    // The server enforces IAM after the responder exists; the responder may do
    // everything but stop instances.
    let Some(moto) = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]) else {
        return;
    };
    let dir = moto.dir.path().to_str().unwrap().to_string();
    moto.python("build_account.py", &[&dir, "--deny", "ec2:StopInstances"]);
    let ids = ids(moto.dir.path());
    let run = respond(&moto, &ids, &["--execute", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("[FAILED]")
            && run
                .stderr
                .contains("not authorized to perform: ec2:StopInstances"),
        "{}",
        run.stderr
    );
    let s = state(&moto);
    for region in ["us-east-1", "eu-west-1"] {
        for id in ids["instances"][region].as_array().unwrap() {
            assert_eq!(instance_state(&s, id), "running");
        }
    }
    // Everything that does not depend on stopping went on.
    assert_eq!(key(&s, &ids, "leaked"), "Inactive");
    assert_eq!(key(&s, &ids, "backdoor_key"), "Inactive");
    assert_eq!(s["ingress_ports"], serde_json::json!([443]));
    let failed: Vec<Value> = audit(&moto)
        .into_iter()
        .filter(|l| l["result"] == "failed")
        .collect();
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().all(|l| l["api"] == "ec2:StopInstances"));
}

#[test]
fn without_a_terminal_execute_needs_yes() {
    let out = Command::cargo_bin("trailguard")
        .unwrap()
        .args([
            "respond",
            "--access-key",
            "AKIAWCZC6J72ODEC6IFU",
            "--execute",
        ])
        .write_stdin("y\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
}

#[test]
fn at_a_terminal_each_step_is_confirmed() {
    let Some(moto) = Moto::start(&[]) else {
        return;
    };
    let dir = moto.dir.path();
    moto.python("build_account.py", &[dir.to_str().unwrap()]);
    let ids = ids(dir);
    // No, yes, then quit: the first step declined, the second made, the rest left.
    let out = std::process::Command::new(&moto.python)
        .current_dir(dir)
        .env("AWS_ACCESS_KEY_ID", ids["responder_key"].as_str().unwrap())
        .env(
            "AWS_SECRET_ACCESS_KEY",
            ids["responder_secret"].as_str().unwrap(),
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-credentials"))
        .arg(Moto::script("drive_tty.py"))
        .arg(r#"["n", "y", "q"]"#)
        .arg(assert_cmd::cargo::cargo_bin("trailguard"))
        .args([
            "respond",
            "--access-key",
            ids["leaked"].as_str().unwrap(),
            "logs",
            "--endpoint-url",
            &moto.endpoint,
            "--audit-log",
            "audit.jsonl",
            "--format",
            "json",
            "--execute",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(text.matches("Carry it out?").count(), 3, "{text}");
    assert!(text.contains("Step 1/") && text.contains("will:"), "{text}");
    let results: Vec<String> = audit(&moto)
        .iter()
        .map(|l| l["result"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(results[0], "declined");
    assert_eq!(results[1], "done");
    assert!(results[2..]
        .iter()
        .all(|r| r == "declined" || r == "manual"));
    let s = state(&moto);
    assert_eq!(
        key(&s, &ids, "leaked"),
        "Active",
        "quit before the key step"
    );
    assert_eq!(s["users"]["admin"]["tags"], serde_json::json!({}));
    assert_eq!(
        s["users"]["backdoor"]["tags"]["trailguard:incident"],
        ids["leaked"]
    );
}
