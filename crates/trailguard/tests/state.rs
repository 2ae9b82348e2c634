//! `detect --state FILE`: runs over consecutive days behave like one long run, alerts
//! are reported once, a run that fails before recording its alerts saves nothing,
//! and a state file that cannot be used is a clear error (exit 2), never a panic.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn example_logs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/leaked-admin-key/AWSLogs/418295730164/CloudTrail")
}

fn trailguard() -> Command {
    let mut cmd = Command::cargo_bin("trailguard").unwrap();
    cmd.env_remove("DISCORD_WEBHOOK_URL");
    cmd
}

/// The incident's log files split by the day of their folder: `day1/` holds
/// 2025-09-16 (the key's owner at the office), `day2/` 2025-09-17 (the attack).
fn split_by_day(dir: &Path) -> (PathBuf, PathBuf) {
    let (day1, day2) = (dir.join("day1"), dir.join("day2"));
    let mut copied = 0;
    for region in fs::read_dir(example_logs()).unwrap() {
        let region = region.unwrap().path();
        for (day, to) in [("16", &day1), ("17", &day2)] {
            let from = region.join("2025/09").join(day);
            let to = to.join(region.file_name().unwrap());
            fs::create_dir_all(&to).unwrap();
            for f in fs::read_dir(&from).unwrap() {
                let f = f.unwrap().path();
                fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
                copied += 1;
            }
        }
    }
    assert!(copied > 100, "{copied} files");
    (day1, day2)
}

struct Run {
    code: Option<i32>,
    alerts: Vec<Value>,
    stderr: String,
}

fn detect(args: &[&Path], state: Option<&Path>, extra: &[&str]) -> Run {
    let mut cmd = trailguard();
    cmd.arg("detect").args(["--format", "jsonl"]).args(extra);
    if let Some(state) = state {
        cmd.arg("--state").arg(state);
    }
    let out = cmd.args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let alerts = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    Run {
        code: out.status.code(),
        alerts,
        stderr,
    }
}

fn by_id(alerts: &[Value]) -> BTreeMap<String, Value> {
    alerts
        .iter()
        .map(|a| (a["id"].as_str().unwrap().to_owned(), a.clone()))
        .collect()
}

fn rules_of(alerts: &[Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| a["rule"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn day_by_day_with_state_equals_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let (day1, day2) = split_by_day(dir.path());
    let state = dir.path().join("state.db");

    let whole = detect(&[&day1, &day2], None, &[]);
    assert_eq!(whole.code, Some(0), "{}", whole.stderr);
    assert!(
        rules_of(&whole.alerts).contains(&"aws-key-new-source-ip".to_owned()),
        "{:?}",
        rules_of(&whole.alerts)
    );

    let first = detect(&[&day1], Some(&state), &[]);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let second = detect(&[&day2], Some(&state), &[]);
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    assert!(state.is_file());

    // The union of the two runs is the one run over both days, alert for alert
    // (same ids, same events, same reasons: "known since" comes from day 1).
    let mut union = by_id(&first.alerts);
    for (id, a) in by_id(&second.alerts) {
        assert!(union.insert(id, a).is_none(), "an alert reported twice");
    }
    assert_eq!(union, by_id(&whole.alerts));

    // The key's office address was learned on day 1: the attacker's new address is
    // caught on day 2. Without the state, day 2 alone has too little history.
    let new_ip: Vec<&Value> = second
        .alerts
        .iter()
        .filter(|a| a["rule"]["id"] == "aws-key-new-source-ip")
        .collect();
    assert_eq!(new_ip.len(), 1, "{:#?}", second.alerts);
    assert_eq!(new_ip[0]["actor"]["source_ip"], "198.51.100.73");
    let reasons = new_ip[0]["context"]["severity_reasons"].to_string();
    assert!(reasons.contains("known since 2025-09-16"), "{reasons}");
    let alone = detect(&[&day2], None, &[]);
    assert!(!rules_of(&alone.alerts).contains(&"aws-key-new-source-ip".to_owned()));

    // Day 2 again: nothing new, and the summary says why.
    let again = detect(&[&day2], Some(&state), &[]);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.alerts.is_empty(), "{:#?}", again.alerts);
    let n = alone.alerts.len();
    assert!(
        again
            .stderr
            .contains(&format!("; {n} alerts already reported in an earlier run")),
        "{}",
        again.stderr
    );
    // Both days again, too: every alert was reported already.
    let both = detect(&[&day1, &day2], Some(&state), &[]);
    assert!(both.alerts.is_empty(), "{:#?}", both.alerts);
    assert!(
        both.stderr.contains("already reported in an earlier run"),
        "{}",
        both.stderr
    );
}

#[test]
fn a_sink_that_cannot_work_fails_before_anything_is_saved() {
    let dir = tempfile::tempdir().unwrap();
    let (day1, _) = split_by_day(dir.path());
    let state = dir.path().join("state.db");
    let bad_sink = format!(
        "jsonl={}",
        dir.path().join("missing/alerts.jsonl").display()
    );
    let failed = detect(&[&day1], Some(&state), &["--sink", &bad_sink]);
    assert_eq!(failed.code, Some(2), "{}", failed.stderr);
    assert!(
        failed.stderr.starts_with("error: sink `jsonl:"),
        "{}",
        failed.stderr
    );
    assert!(failed.alerts.is_empty());
    assert!(!state.exists(), "nothing read, nothing saved");
    // The next run reports the alerts as new.
    let retry = detect(&[&day1], Some(&state), &[]);
    assert_eq!(retry.code, Some(0), "{}", retry.stderr);
    assert!(!retry.alerts.is_empty());
    assert!(
        !retry.stderr.contains("already reported"),
        "{}",
        retry.stderr
    );
}

fn refused(state: &Path, says: &str) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("one.json");
    fs::write(&log, r#"{"Records":[]}"#).unwrap();
    let run = detect(&[&log], Some(state), &[]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.starts_with("error: state store: ") && run.stderr.contains(says),
        "expected `{says}`: {}",
        run.stderr
    );
    assert!(run.alerts.is_empty());
}

#[test]
fn hostile_state_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (day1, _) = split_by_day(dir.path());
    let good = dir.path().join("good.db");
    assert_eq!(detect(&[&day1], Some(&good), &[]).code, Some(0));
    let bytes = fs::read(&good).unwrap();
    assert_eq!(&bytes[..16], b"SQLite format 3\0");

    // A text file.
    let text = dir.path().join("notes.txt");
    fs::write(&text, "not a database\n").unwrap();
    refused(
        &text,
        "notes.txt: not a trailguard state file (not an SQLite database)",
    );
    assert_eq!(fs::read_to_string(&text).unwrap(), "not a database\n");

    // A truncated state file, cut in its pages and cut in its header.
    for keep in [bytes.len() / 2, 50] {
        let cut = dir.path().join(format!("cut{keep}.db"));
        fs::write(&cut, &bytes[..keep]).unwrap();
        let run = detect(&[&day1], Some(&cut), &[]);
        assert_eq!(run.code, Some(2), "{}", run.stderr);
        assert!(
            run.stderr.contains("damaged") || run.stderr.contains("not a trailguard state file"),
            "{}",
            run.stderr
        );
    }

    // A state file of another schema version (`user_version`, bytes 60..64).
    let newer = dir.path().join("newer.db");
    let mut patched = bytes.clone();
    patched[60..64].copy_from_slice(&7u32.to_be_bytes());
    fs::write(&newer, &patched).unwrap();
    refused(&newer, "schema version 7, written by a newer trailguard");

    // Another program's SQLite database (no trailguard application id).
    let other = dir.path().join("other.db");
    let mut patched = bytes.clone();
    patched[68..72].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    fs::write(&other, &patched).unwrap();
    refused(
        &other,
        "not a trailguard state file (an SQLite database with application id",
    );

    // Paths that cannot hold a state file.
    refused(dir.path(), "is a folder");
    refused(&dir.path().join("missing/state.db"), "does not exist");
    refused(&text.join("state.db"), "is not a folder");

    // The good file still works after all that.
    let run = detect(&[&day1], Some(&good), &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("already reported"), "{}", run.stderr);
}

#[test]
fn state_is_in_the_help() {
    let out = trailguard().args(["detect", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--state <FILE>"), "{help}");
    assert!(help.contains("behaves like one long run"), "{help}");
}
