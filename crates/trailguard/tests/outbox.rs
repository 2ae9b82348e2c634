//! The outbox from the command line, against real receivers on 127.0.0.1: a run
//! whose sink is down keeps its alerts, `alerts retry` (or the next run) delivers
//! each once, permanent refusals and expiries are reported, `alerts list|show`
//! inspect it all, and no webhook URL is ever stored or printed.

#[path = "../../trailguard-io/tests/common/faulty.rs"]
mod faulty;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use faulty::{Behaviour, Faulty};
use serde_json::Value;

const TOKEN: &str = "s3cr3t-webhook-token-never-stored";

fn logs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/leaked-admin-key/AWSLogs")
}

fn discord_url(server: &Faulty) -> String {
    server.url(&format!("/api/webhooks/123/{TOKEN}"))
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

/// `trailguard ARGS` with the Discord URL of `server` (if any) in the environment.
fn run(args: &[&str], server: Option<&Faulty>) -> Run {
    let mut cmd = Command::cargo_bin("trailguard").unwrap();
    cmd.env_remove("DISCORD_WEBHOOK_URL");
    if let Some(s) = server {
        cmd.env("DISCORD_WEBHOOK_URL", discord_url(s));
    }
    let out = cmd.args(args).output().unwrap();
    let r = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    for text in [&r.stdout, &r.stderr] {
        assert!(
            !text.contains(TOKEN),
            "the webhook token was printed: {text}"
        );
    }
    r
}

fn detect(state: Option<&Path>, server: &Faulty, extra: &[&str]) -> Run {
    let logs = logs();
    let mut args = vec!["detect", "--format", "jsonl", "--sink", "discord"];
    let state_arg;
    if let Some(s) = state {
        state_arg = s.display().to_string();
        args.extend(["--state", state_arg.as_str()]);
    }
    args.extend_from_slice(extra);
    let logs = logs.display().to_string();
    args.push(&logs);
    run(&args, Some(server))
}

/// Every Discord message the receiver accepted, counted by its body.
fn messages(server: &Faulty) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for r in server.accepted() {
        assert!(r.path.contains("wait=true"), "{}", r.path);
        *n.entry(r.body).or_default() += 1;
    }
    n
}

/// No file next to the state (the database, its WAL and shared memory) holds the URL.
fn assert_no_url_stored(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(TOKEN),
            "{} holds the webhook URL",
            path.display()
        );
        assert!(!text.contains("/api/webhooks/"), "{}", path.display());
    }
}

fn list(state: &Path, extra: &[&str]) -> Vec<Value> {
    let s = state.display().to_string();
    let mut args = vec!["alerts", "list", "--state", s.as_str(), "--format", "jsonl"];
    args.extend_from_slice(extra);
    let r = run(&args, None);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    r.lines()
}

#[test]
fn a_dead_sink_keeps_the_alerts_and_alerts_retry_delivers_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tg.db");
    let dead = Faulty::start(Behaviour::Reset);
    let first = detect(Some(&state), &dead, &["--delivery-timeout", "2s"]);
    assert_eq!(first.code, Some(2), "{}", first.stderr);
    let alerts = first.lines();
    assert_eq!(alerts.len(), 8);
    assert!(!dead.received().is_empty());
    assert!(
        first
            .stderr
            .contains("deliveries still pending after 2 s (discord: 8) are kept in")
            && first
                .stderr
                .contains("trailguard alerts retry --all --state"),
        "{}",
        first.stderr
    );
    let pending = list(&state, &["--status", "pending"]);
    assert_eq!(pending.len(), 8);
    assert_no_url_stored(dir.path());

    let live = Faulty::start(Behaviour::Accept);
    let s = state.display().to_string();
    let retry = run(
        &[
            "alerts", "retry", "--all", "--state", &s, "--sink", "discord",
        ],
        Some(&live),
    );
    assert_eq!(retry.code, Some(0), "{}", retry.stderr);
    assert!(
        retry.stderr.contains("8 deliveries queued again (discord)"),
        "{}",
        retry.stderr
    );
    assert!(
        retry.stderr.contains("discord 8 delivered"),
        "{}",
        retry.stderr
    );
    let got = messages(&live);
    assert_eq!(got.len(), 8, "one message per alert");
    assert!(got.values().all(|n| *n == 1), "an alert was sent twice");
    assert!(list(&state, &["--status", "pending"]).is_empty());
    assert_eq!(list(&state, &["--status", "delivered"]).len(), 8);

    // Running detect again on the same files sends nothing twice.
    let again = detect(Some(&state), &live, &[]);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.stdout.is_empty());
    assert!(
        again.stderr.contains("alerts already reported"),
        "{}",
        again.stderr
    );
    assert_eq!(live.accepted().len(), 8);
    // Nothing left to retry.
    let none = run(
        &[
            "alerts", "retry", "--all", "--state", &s, "--sink", "discord",
        ],
        Some(&live),
    );
    assert_eq!(none.code, Some(0), "{}", none.stderr);
    assert!(none.stderr.contains("nothing to retry"), "{}", none.stderr);
    assert_no_url_stored(dir.path());
}

#[test]
fn the_next_run_delivers_what_the_last_one_left() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tg.db");
    let dead = Faulty::start(Behaviour::Status(503));
    let first = detect(Some(&state), &dead, &["--delivery-timeout", "1s"]);
    assert_eq!(first.code, Some(2), "{}", first.stderr);
    assert!(first.stderr.contains("HTTP 503"), "{}", first.stderr);
    let live = Faulty::start(Behaviour::Accept);
    let second = detect(Some(&state), &live, &["--delivery-timeout", "20s"]);
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    assert!(
        second.stdout.is_empty(),
        "already reported: {}",
        second.stdout
    );
    let got = messages(&live);
    assert_eq!(got.len(), 8);
    assert!(got.values().all(|n| *n == 1));
}

#[test]
fn a_permanent_refusal_is_reported_listed_and_can_be_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tg.db");
    let refusing = Faulty::start(Behaviour::Status(400));
    let r = detect(Some(&state), &refusing, &[]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert_eq!(
        refusing.received().len(),
        8,
        "each tried once, none retried"
    );
    assert_eq!(
        r.stderr.matches("not delivered and not retried").count(),
        8,
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("HTTP 400 after 1 attempt(s): scripted failure"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("trailguard: delivery: discord 0 delivered, 8 failed"),
        "{}",
        r.stderr
    );
    let failed = list(&state, &["--status", "failed"]);
    assert_eq!(failed.len(), 8);
    assert_eq!(failed[0]["deliveries"][0]["state"], "failed");
    assert!(failed[0]["deliveries"][0]["last_error"]
        .as_str()
        .unwrap()
        .starts_with("HTTP 400"));

    // `alerts show` by the start of an id: the alert and its history.
    let id = failed[0]["id"].as_str().unwrap().to_owned();
    let s = state.display().to_string();
    let shown = run(&["alerts", "show", "--state", &s, &id[..8]], None);
    assert_eq!(shown.code, Some(0), "{}", shown.stderr);
    assert!(
        shown.stdout.starts_with(&format!("alert     {id}\n")),
        "{}",
        shown.stdout
    );
    for part in [
        "queued",
        "failed_permanent: HTTP 400",
        "alert JSON:",
        "last error: HTTP 400",
    ] {
        assert!(shown.stdout.contains(part), "{part}: {}", shown.stdout);
    }
    let json = run(
        &["alerts", "show", "--state", &s, &id, "--format", "json"],
        None,
    );
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["alert"]["id"], id.as_str());
    assert_eq!(v["history"][0]["outcome"], "queued");
    assert_eq!(v["history"][1]["outcome"], "failed_permanent");

    // Replay one alert to a JSON Lines file it never had, and to Discord again.
    let file = dir.path().join("replay.jsonl");
    let live = Faulty::start(Behaviour::Accept);
    let jsonl = format!("jsonl={}", file.display());
    let replay = run(
        &[
            "alerts",
            "retry",
            &id[..10],
            "--state",
            &s,
            "--sink",
            "discord",
            "--sink",
            &jsonl,
        ],
        Some(&live),
    );
    assert_eq!(replay.code, Some(0), "{}", replay.stderr);
    assert_eq!(live.accepted().len(), 1);
    let written = std::fs::read_to_string(&file).unwrap();
    let replayed: Value = serde_json::from_str(written.trim()).unwrap();
    assert_eq!(replayed["id"], id.as_str());
}

#[test]
fn undelivered_alerts_expire_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tg.db");
    let dead = Faulty::start(Behaviour::Reset);
    let r = detect(
        Some(&state),
        &dead,
        &[
            "--expire-after",
            "1s",
            "--delivery-timeout",
            "4s",
            "--quiet",
        ],
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("expired undelivered after").count(),
        8,
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("warning:"),
        "--quiet hides retries: {}",
        r.stderr
    );
    assert!(r.stderr.contains("8 expired"), "{}", r.stderr);
    assert_eq!(list(&state, &["--status", "expired"]).len(), 8);
}

#[test]
fn without_state_undelivered_alerts_are_reported_as_lost() {
    let dead = Faulty::start(Behaviour::Reset);
    let r = detect(None, &dead, &["--delivery-timeout", "1s"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert_eq!(r.lines().len(), 8, "the alerts are still printed");
    assert!(
        r.stderr.contains("and not kept (no --state)"),
        "{}",
        r.stderr
    );
}

#[test]
fn alerts_commands_refuse_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.db");
    let m = missing.display().to_string();
    let r = run(&["alerts", "list", "--state", &m], None);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("none.db: no such state file"),
        "{}",
        r.stderr
    );
    assert!(!missing.exists(), "not created");

    let state = dir.path().join("tg.db");
    let ok = Faulty::start(Behaviour::Accept);
    assert_eq!(detect(Some(&state), &ok, &[]).code, Some(0));
    let s = state.display().to_string();
    let r = run(&["alerts", "show", "--state", &s, "ffffffffff"], None);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("no alert with id ffffffffff"),
        "{}",
        r.stderr
    );
    let r = run(
        &["alerts", "retry", "--state", &s, "--sink", "discord"],
        Some(&ok),
    );
    assert_eq!(r.code, Some(2), "IDs or --all");
    let r = run(&["alerts", "retry", "--all", "--state", &s], None);
    assert_eq!(r.code, Some(2), "--sink is required");
    // The table for a person.
    let table = run(
        &["alerts", "list", "--state", &s, "--format", "table"],
        None,
    );
    assert_eq!(table.stdout.lines().count(), 9, "{}", table.stdout);
    assert!(
        table.stdout.contains("discord=delivered"),
        "{}",
        table.stdout
    );
    let help = run(&["alerts", "retry", "--help"], None);
    assert!(help.stdout.contains("Examples:") && help.stdout.contains("Exit codes:"));
    let help = run(&["detect", "--help"], None);
    assert!(
        help.stdout.contains("--delivery-timeout <DURATION>"),
        "{}",
        help.stdout
    );
    let words = help.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("receivers deduplicate on the alert id"),
        "{}",
        help.stdout
    );
}

/// `trailguard ARGS` with `env` set (and nothing from the caller's environment).
fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::cargo_bin("trailguard").unwrap();
    cmd.env_remove("DISCORD_WEBHOOK_URL")
        .env_remove("TRAILGUARD_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.args(args).output().unwrap();
    let r = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    for text in [&r.stdout, &r.stderr] {
        assert!(
            !text.contains(TOKEN),
            "the webhook token was printed: {text}"
        );
    }
    r
}

#[test]
fn digests_and_config_sinks_go_through_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tg.db");
    let config = dir.path().join("trailguard.toml");
    std::fs::write(
        &config,
        r#"
[[sink]]
name = "siem"
kind = "webhook"
url_env = "OUTBOX_E2E_URL"
unsigned = true
digest = { max = 3, within = "60s" }
"#,
    )
    .unwrap();
    let (s, c, logs) = (
        state.display().to_string(),
        config.display().to_string(),
        logs().display().to_string(),
    );
    let dead = Faulty::start(Behaviour::Status(503));
    let dead_url = dead.url(&format!("/hook/{TOKEN}"));
    let first = run_env(
        &[
            "detect",
            "--format",
            "jsonl",
            "--state",
            &s,
            "--config",
            &c,
            "--delivery-timeout",
            "1s",
            &logs,
        ],
        &[("OUTBOX_E2E_URL", &dead_url)],
    );
    assert_eq!(first.code, Some(2), "{}", first.stderr);
    let alerts = first.lines();
    assert_eq!(alerts.len(), 8);
    // Three alerts on their own, the other five folded into one digest: all pending.
    let pending = list(&state, &["--status", "pending", "--sink", "siem"]);
    assert_eq!(pending.len(), 4, "{pending:?}");
    let digest = pending.iter().find(|e| e["kind"] == "digest").unwrap();
    assert!(digest["id"].as_str().unwrap().starts_with("digest-"));
    assert_eq!(
        list(&state, &[]).len(),
        9,
        "8 alerts and the digest recorded"
    );
    assert_no_url_stored(dir.path());

    // Retried by the config file's sink name.
    let live = Faulty::start(Behaviour::Accept);
    let live_url = live.url(&format!("/hook/{TOKEN}"));
    let retry = run_env(
        &["alerts", "retry", "--all", "--state", &s, "--config", &c],
        &[("OUTBOX_E2E_URL", &live_url)],
    );
    assert_eq!(retry.code, Some(0), "{}", retry.stderr);
    let got = live.accepted();
    assert_eq!(got.len(), 4, "3 alerts and 1 digest");
    let last: serde_json::Value = serde_json::from_str(&got[3].body).unwrap();
    assert_eq!(
        last["type"], "digest",
        "the digest goes after the single alerts"
    );
    assert_eq!(last["count"], 5);
    let mut ids: Vec<String> = got[..3].iter().map(|r| r.alert_id().unwrap()).collect();
    ids.extend(
        last["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned()),
    );
    ids.sort();
    let mut expected: Vec<String> = alerts
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    assert_eq!(ids, expected, "every alert once, alone or in the digest");
    // Shown with its kind.
    let id = digest["id"].as_str().unwrap();
    let shown = run_env(&["alerts", "show", "--state", &s, &id[..12]], &[]);
    assert!(
        shown.stdout.starts_with("digest    digest-"),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("digest JSON:"), "{}", shown.stdout);
}
