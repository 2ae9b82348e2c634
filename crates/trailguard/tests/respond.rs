//! `trailguard respond` without AWS: the plan for the bundled incident (golden
//! facts), its formats, reproducibility, and what bad usage gets.

#[path = "investigate_support/mod.rs"]
mod support;

use serde_json::Value;
use support::{expected, logs, trailguard};

fn plan(args: &[&str]) -> (Value, String) {
    let out = trailguard()
        .args(["respond", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

fn actions(p: &Value) -> Vec<String> {
    p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_bundled_incident_gets_a_complete_plan() {
    let e = expected();
    let leaked = e["leaked_access_key_id"].as_str().unwrap();
    let (p, stderr) = plan(&["--access-key", leaked, &logs()]);
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert_eq!(p["subject"], leaked);
    assert_eq!(p["owner"], "admin");
    assert_eq!(p["account"], e["account"]);
    assert_eq!(
        actions(&p),
        [
            "tag",
            "tag",
            "deactivate_access_key",
            "deactivate_access_key",
            "revoke_sessions",
            "stop_instances",
            "manual",
            "manual",
            "manual",
            "manual"
        ]
    );
    let steps = p["steps"].as_array().unwrap();
    assert_eq!(steps[2]["access_key_id"], leaked);
    assert_eq!(steps[2]["phase"], "deactivate-leaked-key");
    assert_eq!(steps[3]["access_key_id"], e["new_access_key_id"]);
    assert_eq!(steps[5]["instance_ids"], e["instance_ids"]);
    assert_eq!(steps[5]["region"], "us-east-1");
    // The evidence: the attacker's CreateAccessKey event calls for the second key.
    assert_eq!(
        steps[3]["because"],
        serde_json::json!(["c08e5392-7f92-4176-bb86-21f472903846"])
    );
    for s in steps.iter().filter(|s| s["action"] != "manual") {
        assert!(!s["aws_cli"].as_array().unwrap().is_empty());
        assert!(!s["risk"].as_str().unwrap().is_empty());
    }
    // Reproducible: the same input gives the same plan.
    let (again, _) = plan(&["--access-key", leaked, &logs()]);
    assert_eq!(p, again);
    // --destructive terminates, after the instances' evidence step.
    let (d, _) = plan(&["--access-key", leaked, &logs(), "--destructive"]);
    let term = d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "terminate_instances")
        .unwrap();
    assert_eq!(term["destructive"], true);
    let dep = term["depends_on"][0].as_u64().unwrap() as usize;
    assert_eq!(d["steps"][dep - 1]["action"], "tag");
}

#[test]
fn table_and_markdown_carry_the_commands() {
    let e = expected();
    let leaked = e["leaked_access_key_id"].as_str().unwrap();
    for (format, marker) in [("table", "REMEDIATION PLAN"), ("md", "# Remediation plan")] {
        let out = trailguard()
            .args([
                "respond",
                "--access-key",
                leaked,
                &logs(),
                "--format",
                format,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(marker), "{format}");
        assert!(text.contains(&format!(
            "aws iam update-access-key --user-name admin --access-key-id {leaked} --status Inactive"
        )));
        assert!(text.contains("aws ec2 stop-instances --region us-east-1"));
    }
}

#[test]
fn without_logs_the_plan_covers_the_key_alone() {
    let (p, stderr) = plan(&["--access-key", "AKIAWCZC6J72ODEC6IFU"]);
    assert!(stderr.contains("no CloudTrail input"), "{stderr}");
    let steps = p["steps"].as_array().unwrap();
    assert_eq!(steps[0]["action"], "deactivate_access_key");
    assert_eq!(steps[0]["user"], Value::Null);
    assert!(steps[0]["aws_cli"][0]
        .as_str()
        .unwrap()
        .starts_with("aws iam update-access-key --access-key-id AKIAWCZC6J72ODEC6IFU"));
}

#[test]
fn bad_usage_is_refused_before_anything_happens() {
    let cases: &[(&[&str], &str)] = &[
        (&["--access-key", "ASIAWCZC6J72ODEC6IFU"], "temporary keys"),
        (
            &["--access-key", "AKIAWCZC6J72ODEC6IFU", "--yes"],
            "--execute",
        ),
        (
            &["--access-key", "AKIAWCZC6J72ODEC6IFU", "--execute", "-"],
            "--yes",
        ),
        (
            &["--access-key", "AKIAWCZC6J72ODEC6IFU", "/nonexistent/trail"],
            "no input could be read",
        ),
        (
            &["--access-key", "AKIAWCZC6J72ODEC6IFU", "--protect", ""],
            "empty",
        ),
    ];
    for (args, says) in cases {
        let out = trailguard().arg("respond").args(*args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn the_help_teaches_the_plan_and_the_exit_codes() {
    let out = trailguard().args(["respond", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--execute",
        "--destructive",
        "--protect",
        "break-glass",
        "Exit codes",
        "audit log",
    ] {
        assert!(help.contains(needle), "{needle}");
    }
}
