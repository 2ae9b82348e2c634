//! Golden tests of `trailguard investigate` (lineage, bounds, baseline, formats for
//! people) and `key-info`, on the bundled incident and crafted records.

mod investigate_support;

use std::fs;

use serde_json::Value;

use investigate_support::*;

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
