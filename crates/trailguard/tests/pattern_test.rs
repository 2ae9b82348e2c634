//! `trailguard pattern test`: one pattern and one event (exit codes and stdout), and
//! JSON Lines of cases (one answer line per input line, whatever the line holds).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pattern")
}

fn fixture(name: &str) -> String {
    fixtures().join(name).to_str().unwrap().to_owned()
}

fn conformance() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/eventbridge")
}

fn trailguard() -> Command {
    Command::cargo_bin("trailguard").unwrap()
}

/// Runs `pattern test` and returns (exit code, stdout, stderr).
fn pattern_test(args: &[&str], stdin: Option<Vec<u8>>) -> (i32, String, String) {
    let mut cmd = trailguard();
    cmd.args(["pattern", "test"]).args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn one_pattern_one_event() {
    let pattern = fixture("create-access-key.pattern.json");
    let matching = fixture("create-access-key.event.json");
    let other = fixture("delete-access-key.event.json");

    let (code, out, _) = pattern_test(&["--pattern", &pattern, "--event", &matching], None);
    assert_eq!((code, out.as_str()), (0, "true\n"));
    let (code, out, _) = pattern_test(&["--pattern", &pattern, "--event", &other], None);
    assert_eq!((code, out.as_str()), (1, "false\n"));

    // Either side from standard input.
    let event = fs::read(&matching).unwrap();
    let (code, out, _) = pattern_test(&["--pattern", &pattern, "--event", "-"], Some(event));
    assert_eq!((code, out.as_str()), (0, "true\n"));
    let text = fs::read(&pattern).unwrap();
    let (code, out, _) = pattern_test(&["--pattern", "-", "--event", &other], Some(text));
    assert_eq!((code, out.as_str()), (1, "false\n"));

    // Inline text; the event needs no CloudTrail field.
    let (code, out, _) = pattern_test(
        &[
            "--pattern-json",
            r#"{"colour": [{"prefix": "bl"}]}"#,
            "--event-json",
            r#"{"colour": "blue"}"#,
        ],
        None,
    );
    assert_eq!((code, out.as_str()), (0, "true\n"));
}

#[test]
fn invalid_patterns_and_unreadable_input_exit_2_with_the_reason() {
    let pattern = fixture("create-access-key.pattern.json");
    let event = fixture("create-access-key.event.json");
    let invalid = fixture("not-an-array.pattern.json");
    let big = format!(r#"{{"source": ["{}"]}}"#, "x".repeat(2048));
    let cases: Vec<(Vec<&str>, Option<&str>, String)> = vec![
        (
            vec!["--pattern", &invalid, "--event", &event],
            None,
            format!("invalid pattern {invalid}: at `detail.eventName`: "),
        ),
        (
            vec!["--pattern-json", &big, "--event", &event],
            None,
            format!(
                "invalid pattern --pattern-json: pattern is {} characters, over EventBridge's limit of 2048",
                big.len()
            ),
        ),
        (
            vec!["--pattern-json", "[]", "--event", &event],
            None,
            "must be a JSON object".into(),
        ),
        (
            vec!["--pattern", "/nonexistent/p.json", "--event", &event],
            None,
            "cannot read /nonexistent/p.json".into(),
        ),
        (
            vec!["--pattern", &pattern, "--event", "-"],
            Some(r#"["not", "an", "object"]"#),
            "invalid event <stdin>: not a JSON object".into(),
        ),
        (
            vec!["--pattern", &pattern, "--event", "-"],
            Some(r#"{"truncated": "#),
            "invalid event <stdin>: not JSON".into(),
        ),
        (
            vec!["--pattern", "-", "--event", "-"],
            Some("{}"),
            "only one of --pattern and --event".into(),
        ),
        (
            vec!["--pattern", &pattern],
            None,
            "--cases FILE.jsonl".into(),
        ),
        (
            vec!["--cases", "x.jsonl", "--pattern", &pattern],
            None,
            "cannot be used with".into(),
        ),
        (
            vec!["--cases", "/nonexistent/cases.jsonl"],
            None,
            "cannot read /nonexistent/cases.jsonl".into(),
        ),
    ];
    for (args, stdin, needle) in cases {
        let (code, out, err) = pattern_test(&args, stdin.map(|s| s.as_bytes().to_vec()));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert!(err.contains(&needle), "{args:?}: {err}");
    }
}

/// Answers, one per line: `Some(true|false)` for a match or not, `None` for an error.
fn answers(stdout: &str) -> Vec<Option<bool>> {
    stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let obj = v.as_object().unwrap();
            assert_eq!(obj.len(), 1, "{l}");
            match (&v["match"], &v["error"]) {
                (Value::Bool(b), Value::Null) => Some(*b),
                (Value::Null, Value::String(_)) => None,
                _ => panic!("unexpected answer {l}"),
            }
        })
        .collect()
}

#[test]
fn cases_get_one_answer_line_each() {
    let (code, out, err) = pattern_test(&["--cases", &fixture("cases.jsonl")], None);
    assert_eq!(code, 0, "{err}");
    let (t, f) = (Some(true), Some(false));
    assert_eq!(
        answers(&out),
        [t, f, t, None, t, None, None, None, None, None, None, t, t, f, t],
        "{out}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], r#"{"match":true}"#);
    assert_eq!(lines[1], r#"{"match":false}"#);
    assert_eq!(lines[3], r#"{"error":"blank line"}"#);
    assert!(
        lines[9].contains("invalid pattern: at `detail.eventName`"),
        "{}",
        lines[9]
    );

    // The same through standard input.
    let input = fs::read(fixture("cases.jsonl")).unwrap();
    let (code, from_stdin, _) = pattern_test(&["--cases", "-"], Some(input));
    assert_eq!((code, from_stdin), (0, out));
}

#[test]
fn broken_lines_get_an_error_line_and_the_run_goes_on() {
    let good = r#"{"pattern":{"a":["b"]},"event":{"a":"b"}}"#;
    let huge = format!(
        r#"{{"pattern":{{"a":["b"]}},"event":{{"a":"b","pad":"{}"}}}}"#,
        "x".repeat(2 << 20)
    );
    let broken = [
        "garbage",
        r#"{"pattern":{"a":["b"]},"event":{"a""#,
        "[]",
        r#"{"pattern":{"a":["b"]}}"#,
        r#"{"event":{"a":"b"}}"#,
        r#"{"pattern":{"a":"b"},"event":{"a":"b"}}"#,
        r#"{"pattern":{"a":["b"]},"event":"b"}"#,
        "",
        "   \t",
        "\u{fffd}\u{0}",
        &huge,
    ];
    let mut input = Vec::new();
    for b in &broken {
        input.extend_from_slice(b.as_bytes());
        input.push(b'\n');
        input.extend_from_slice(good.as_bytes());
        input.extend_from_slice(b"\r\n");
    }
    // Bytes that are not UTF-8 get an error line too.
    input.extend_from_slice(b"{\"pattern\":{\"a\":[\"\xff\"]},\"event\":{}}\n");
    input.extend_from_slice(good.as_bytes());
    let (code, out, err) = pattern_test(&["--cases", "-"], Some(input));
    assert_eq!(code, 0, "{err}");
    let got = answers(&out);
    let mut want = Vec::new();
    for _ in 0..=broken.len() {
        want.extend([None, Some(true)]);
    }
    assert_eq!(got, want, "{out}");
    assert!(out.contains("longer than 1048576 bytes"), "{out}");
    assert!(out.len() < 10_000, "error lines must not echo the input");
}

/// A program feeding one case at a time gets each answer before it sends the next.
#[test]
fn answers_are_flushed_while_waiting_for_input() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["pattern", "test", "--cases", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    for (case, want) in [
        (
            r#"{"pattern":{"a":["b"]},"event":{"a":"b"}}"#,
            r#"{"match":true}"#,
        ),
        (
            r#"{"pattern":{"a":["b"]},"event":{"a":"c"}}"#,
            r#"{"match":false}"#,
        ),
    ] {
        writeln!(stdin, "{case}").unwrap();
        stdin.flush().unwrap();
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => assert_eq!(line, want),
            Err(e) => {
                child.kill().unwrap();
                panic!("no answer while the input stays open: {e}");
            }
        }
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();
}

#[test]
fn shared_conformance_cases_get_the_expected_answers() {
    let dir = conformance();
    assert!(dir.exists(), "{} is absent", dir.display());
    for file in ["conformance.jsonl", "conformance_invalid.jsonl"] {
        let input = fs::read_to_string(dir.join(file)).unwrap();
        // A pattern whose text repeats a key travels as a JSON string (`pattern_raw`).
        let mut cases = String::new();
        let mut expected = Vec::new();
        for line in input.lines() {
            let mut v: Value = serde_json::from_str(line).unwrap();
            if let Some(raw) = v.get("pattern_raw").cloned() {
                v["pattern"] = raw;
            }
            expected.push((v["name"].as_str().unwrap().to_owned(), v["match"].as_bool()));
            cases.push_str(&v.to_string());
            cases.push('\n');
        }
        let (code, out, err) = pattern_test(&["--cases", "-"], Some(cases.into_bytes()));
        assert_eq!(code, 0, "{file}: {err}");
        let got = answers(&out);
        assert_eq!(got.len(), expected.len(), "{file}");
        // Invalid patterns answer with an error line (None); the cases the file marks
        // unsure are decided as it expects (see the core conformance test for why).
        for ((name, want), got) in expected.iter().zip(&got) {
            assert_eq!(got, want, "{file}: {name}");
        }
    }
}

#[test]
fn help_teaches() {
    let out = trailguard()
        .args(["pattern", "test", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Examples:",
        "Exit codes",
        "--cases",
        "{\"match\":true}",
        "blank",
        "line N",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
}
