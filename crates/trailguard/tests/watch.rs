//! `trailguard watch` as a real process: following a folder files land in, JSON Lines
//! on stdin, Prometheus metrics over a real socket, and a clean stop on SIGTERM.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "../../trailguard-io/tests/common/faulty.rs"]
mod faulty;
mod moto_support;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/leaked-admin-key")
}

/// A child process killed when the test ends, even by a failed assertion: a stray
/// watcher would otherwise outlive the test run.
struct Reaped(Child);

impl std::ops::Deref for Reaped {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn trailguard() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("trailguard"));
    cmd.env_remove("DISCORD_WEBHOOK_URL");
    cmd
}

/// Lines of a child's pipe, from a thread, so that the test can wait with a deadline.
fn lines_of(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_for(
    rx: &mpsc::Receiver<String>,
    what: &str,
    timeout: Duration,
    seen: &mut Vec<String>,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if line.contains(what) {
                    return line;
                }
            }
            Err(_) => panic!("no line with {what:?} within {timeout:?}; saw {seen:#?}"),
        }
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "watch did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            fs::create_dir_all(&target).unwrap();
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn follows_a_folder_serves_metrics_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    fs::create_dir_all(&logs).unwrap();
    let state = dir.path().join("state.db");
    let mut child = trailguard()
        .arg("watch")
        .arg(&logs)
        .args([
            "--poll",
            "100ms",
            "--format",
            "jsonl",
            "--metrics",
            "127.0.0.1:0",
            "--state",
        ])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(Reaped)
        .unwrap();
    let out = lines_of(child.stdout.take().unwrap());
    let err = lines_of(child.stderr.take().unwrap());
    let mut seen_err = Vec::new();
    let line = wait_for(
        &err,
        "metrics on http://",
        Duration::from_secs(20),
        &mut seen_err,
    );
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .trim_end_matches("/metrics")
        .to_owned();
    wait_for(
        &err,
        "for new files every",
        Duration::from_secs(10),
        &mut seen_err,
    );

    // CloudTrail delivers: the whole incident lands in the folder.
    copy_tree(&example().join("AWSLogs"), &logs.join("AWSLogs"));
    let mut alerts: Vec<Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while alerts
        .iter()
        .filter(|a| a["rule"]["severity"] == "critical")
        .count()
        < 3
    {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = out
            .recv_timeout(left)
            .expect("three critical alerts from the incident");
        alerts.push(serde_json::from_str(&line).unwrap());
    }

    // Files settle and are read over several polls: wait for all of them.
    let events_read = |metrics: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("trailguard_events_read_total "))
            .unwrap()
            .parse()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut metrics = http_get(&addr, "/metrics");
    while events_read(&metrics) < 507 {
        assert!(Instant::now() < deadline, "{metrics}");
        std::thread::sleep(Duration::from_millis(100));
        metrics = http_get(&addr, "/metrics");
    }
    assert!(
        metrics.starts_with("HTTP/1.1 200") || metrics.starts_with("HTTP/1.0 200"),
        "{metrics}"
    );
    assert!(metrics.contains("text/plain; version=0.0.4"));
    assert!(
        metrics.contains("trailguard_files_read_total 197"),
        "{metrics}"
    );
    assert!(!metrics.contains("trailguard_alerts_total{severity=\"critical\"} 0"));
    assert!(http_get(&addr, "/nope").contains("404"));
    while let Ok(line) = out.recv_timeout(Duration::from_millis(500)) {
        alerts.push(serde_json::from_str(&line).unwrap());
    }
    let rules: BTreeSet<&str> = alerts
        .iter()
        .filter_map(|a| a["rule"]["id"].as_str())
        .collect();
    assert!(rules.contains("aws-iam-access-key-created"), "{rules:?}");

    let status = terminate(&mut child);
    assert!(status.success(), "{status:?}");
    let mut rest = Vec::new();
    wait_for(&err, "stopped cleanly", Duration::from_secs(5), &mut rest);

    // The state remembers what was sent: a restart reading everything again sends
    // nothing new.
    let again = trailguard()
        .arg("detect")
        .arg(&logs)
        .args(["--format", "jsonl", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout).trim().is_empty(),
        "already sent"
    );
}

/// Each alert of a JSON Lines output as (rule id, first time).
fn rule_and_time(stdout: &[u8]) -> BTreeSet<(String, String)> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|a| {
            let text = |v: &Value| v.as_str().unwrap().to_owned();
            (text(&a["rule"]["id"]), text(&a["time"]))
        })
        .collect()
}

#[test]
fn stdin_json_lines_give_the_same_alerts_as_detect_and_survive_garbage() {
    let jsonl = fs::read(example().join("eventbridge.jsonl")).unwrap();
    let mut input = Vec::new();
    // Garbage in the middle of the stream: reported by line, the rest still read.
    let half = jsonl.len() / 2;
    let cut = half + jsonl[half..].iter().position(|b| *b == b'\n').unwrap() + 1;
    input.extend_from_slice(&jsonl[..cut]);
    input.extend_from_slice(b"{\"not\": \"closed\"\nplain garbage\n");
    input.extend_from_slice(&jsonl[cut..]);

    let mut child = trailguard()
        .args(["watch", "-", "--format", "jsonl", "--batch", "200ms"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        stdin.write_all(&input).unwrap();
    });
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("<stdin>"),
        "bad lines are reported with their place: {stderr}"
    );
    let watched = rule_and_time(&output.stdout);

    let detect = trailguard()
        .arg("detect")
        .arg(example().join("eventbridge.jsonl"))
        .args(["--format", "jsonl"])
        .output()
        .unwrap();
    let detected = rule_and_time(&detect.stdout);
    assert!(!detected.is_empty());
    assert_eq!(watched, detected);
}

#[test]
fn bad_arguments_are_refused_clearly() {
    let out = trailguard()
        .args(["watch", "/no/such/folder"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot follow /no/such/folder"));
    let out = trailguard()
        .args(["watch", "-", "--poll", "0s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--poll"));
    let out = trailguard()
        .args(["watch", "sqs://sqs.us-east-1.amazonaws.com/trail-notices"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected HOST/ACCOUNT/NAME"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = trailguard()
        .args(["watch", "-", "--endpoint-url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("go with an sqs:// source"));
}

/// `watch sqs://` on the queue a trail bucket's S3 notifications land on (moto on
/// 127.0.0.1): the objects are fetched and read, a digest is left out, S3's test event
/// is skipped, and every message is deleted once its alerts are out, except the one of
/// a corrupt object (kept on the queue for its dead-letter queue).
#[test]
fn reads_s3_notifications_from_sqs_and_deletes_what_it_processed() {
    let Some(moto) = moto_support::Moto::start(&[]) else {
        return;
    };
    let log = "AWSLogs/418295730164/CloudTrail/us-east-1/2025/09/17/418295730164_CloudTrail_us-east-1_20250917T2318Z_T0yfKKhiCnOjf2Cd.json.gz";
    let broken_key = "AWSLogs/418295730164/CloudTrail/us-east-1/2025/09/17/broken.json.gz";
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json.gz");
    let whole = fs::read(example().join(log)).unwrap();
    fs::write(&broken, &whole[..whole.len() / 3]).unwrap();
    let digest = "AWSLogs/418295730164/CloudTrail-Digest/us-east-1/2025/09/18/418295730164_CloudTrail-Digest_us-east-1_management-events_us-east-1_20250918T000917Z.json.gz";
    let out = moto.python(
        "trail_bucket.py",
        &[
            "trail",
            "unused",
            "--leave",
            &format!("{log}={}", example().join(log).display()),
            &format!("{digest}={}", example().join(digest).display()),
            &format!("{broken_key}={}", broken.display()),
        ],
    );
    let world: Value = serde_json::from_str(&out).unwrap();
    let queue = world["queue_url"].as_str().unwrap().to_owned();
    let mut child = Reaped(
        trailguard()
            .args(["watch", &queue, "--endpoint-url", &moto.endpoint])
            .args(["--format", "jsonl", "--poll", "1s"])
            .env("AWS_ACCESS_KEY_ID", "AKIATESTTESTTESTTEST")
            .env(
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMIsEcReTkEyTeStInG0123456789",
            )
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let mut notes = Vec::new();
    wait_for(
        &stderr,
        "messages done",
        Duration::from_secs(60),
        &mut notes,
    );
    let first = wait_for(&stdout, "\"rule\"", Duration::from_secs(10), &mut seen);
    let alert: Value = serde_json::from_str(&first).unwrap();
    assert!(alert["rule"]["id"].is_string());
    // Every message (the test event, both notices) is gone from the queue, but the
    // corrupt object's: hidden until its visibility timeout ends.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let depth: Value =
            serde_json::from_str(&moto.python("queue_depth.py", &[queue.as_str()])).unwrap();
        if depth["visible"] == 0 && depth["in_flight"] == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left on the queue: {depth}; {notes:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = terminate(&mut child);
    assert!(status.success());
    while let Ok(line) = stderr.recv_timeout(Duration::from_secs(2)) {
        notes.push(line);
    }
    let text = notes.join("\n");
    assert!(text.contains("reading S3 notifications from"), "{text}");
    assert!(text.contains("1 objects not log files"), "{text}");
    assert!(
        text.contains(&format!(
            "s3://trail/{broken_key}: nothing could be read; message"
        )),
        "{text}"
    );
    assert!(!text.contains("wJalrXUtnFEMIsEcReTkEyTeStInG"), "{text}");
    assert!(!seen.concat().contains("wJalrXUtnFEMIsEcReTkEyTeStInG"));
}

/// `watch --state` posting to a slow webhook, killed with SIGKILL in the middle of
/// delivering, then started again: every alert arrives, at most one twice (the one
/// whose confirmed send the killed process had no time to record).
#[test]
fn kill_9_mid_delivery_then_restart_delivers_every_alert() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    fs::create_dir_all(&logs).unwrap();
    let state = dir.path().join("state.db");
    let receiver =
        faulty::Faulty::start(faulty::Behaviour::AcceptAfter(Duration::from_millis(150)));
    let url = receiver.url("/hook");
    let start = || {
        let mut child = trailguard()
            .arg("watch")
            .arg(&logs)
            .args(["--poll", "100ms", "--format", "jsonl", "--sink"])
            .arg(format!("webhook={url}"))
            .arg("--state")
            .arg(&state)
            .env_remove("TRAILGUARD_WEBHOOK_SECRET")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map(Reaped)
            .unwrap();
        let err = lines_of(child.stderr.take().unwrap());
        wait_for(
            &err,
            "for new files every",
            Duration::from_secs(20),
            &mut Vec::new(),
        );
        (child, err)
    };

    let (mut first, _err) = start();
    copy_tree(&example().join("AWSLogs"), &logs.join("AWSLogs"));
    assert!(
        receiver.wait_accepted(2, Duration::from_secs(30)),
        "deliveries began"
    );
    Command::new("kill")
        .args(["-KILL", &first.id().to_string()])
        .status()
        .unwrap();
    first.wait().unwrap();
    let before = receiver.accepted().len();

    // The restart resumes the outbox (and re-reads any file whose alerts the killed
    // process had not recorded).
    let (mut second, _err2) = start();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut settled = (0, Instant::now());
    loop {
        let n = receiver.accepted().len();
        if n != settled.0 {
            settled = (n, Instant::now());
        } else if settled.1.elapsed() > Duration::from_secs(3) {
            break;
        }
        assert!(Instant::now() < deadline, "deliveries never settled");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(terminate(&mut second).success());

    // What the outbox holds: every alert recorded, each delivered.
    let listed = trailguard()
        .args(["alerts", "list", "--format", "jsonl", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let recorded: BTreeSet<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(recorded.len() >= 5, "{recorded:?}");
    let mut received: std::collections::BTreeMap<String, usize> = Default::default();
    for r in receiver.accepted() {
        *received
            .entry(r.alert_id().expect("an alert body"))
            .or_default() += 1;
    }
    let got: BTreeSet<String> = received.keys().cloned().collect();
    assert_eq!(
        got, recorded,
        "every recorded alert was delivered, and nothing else"
    );
    let duplicates: usize = received.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= 1,
        "at most one duplicate per crash: {received:?}"
    );
    assert!(
        before < received.values().sum::<usize>(),
        "the restart delivered the rest"
    );
}
