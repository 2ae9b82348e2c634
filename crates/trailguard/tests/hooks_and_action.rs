//! `.pre-commit-hooks.yaml` and `action.yml` run real `trailguard scan` commands: every
//! flag they pass is one `scan --help` documents, the hook's entry blocks a staged key,
//! and the action's scan step (run here with bash, as a runner would, with a pull
//! request's and a push's event values) reports what the commits add and writes SARIF.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as Std;

use assert_cmd::Command;
use serde_norway::Value;

const KEY: &str = "AKIAWCZC6J72ODEC6IFU";
const KEY2: &str = "AKIAZ7ADX3SXZ2MH5HQE";
const SECRET: &str = "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";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yaml(name: &str) -> Value {
    let text = fs::read_to_string(root().join(name)).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn scan_help() -> String {
    let out = Command::cargo_bin("trailguard")
        .unwrap()
        .args(["scan", "--help"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// Every `--flag` in `text`.
fn flags(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("--") {
        let name: String = text[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
            out.insert(format!("--{name}"));
        }
    }
    out
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Std::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Alice")
        .env("GIT_AUTHOR_EMAIL", "alice@example.com")
        .env("GIT_COMMITTER_NAME", "Alice")
        .env("GIT_COMMITTER_EMAIL", "alice@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn env_file(key: &str) -> String {
    format!("AWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={SECRET}\n")
}

#[test]
fn the_pre_commit_hook_runs_a_real_command_that_blocks_a_staged_key() {
    let hooks = yaml(".pre-commit-hooks.yaml");
    let hook = &hooks[0];
    assert_eq!(hook["id"].as_str(), Some("trailguard-scan"));
    assert_eq!(hook["language"].as_str(), Some("system"));
    assert_eq!(hook["pass_filenames"].as_bool(), Some(false));
    let entry = hook["entry"].as_str().unwrap();
    let words: Vec<&str> = entry.split_whitespace().collect();
    assert_eq!(&words[..2], ["trailguard", "scan"], "{entry}");
    let help = scan_help();
    for f in flags(entry) {
        assert!(
            help.contains(&f),
            "{f} of the hook is not a `trailguard scan` flag"
        );
    }
    // Run the entry as pre-commit would, in a repository with a key staged.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q"]);
    fs::write(d.join(".env"), env_file(KEY)).unwrap();
    git(d, &["add", ".env"]);
    let run = |d: &Path| {
        Command::cargo_bin("trailguard")
            .unwrap()
            .current_dir(d)
            .args(&words[1..])
            .output()
            .unwrap()
    };
    let out = run(d);
    assert_eq!(out.status.code(), Some(1), "the commit is blocked");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(KEY) && !text.contains(SECRET), "{text}");
    git(d, &["rm", "-q", "--cached", ".env"]);
    assert_eq!(
        run(d).status.code(),
        Some(0),
        "nothing staged, nothing found"
    );
}

/// The `run` script of the step named `name`.
fn step(action: &Value, name: &str) -> String {
    action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str() == Some(name))
        .and_then(|s| s["run"].as_str())
        .unwrap_or_else(|| panic!("no step {name}"))
        .to_owned()
}

#[test]
fn the_action_declares_its_inputs_and_passes_only_real_flags() {
    let action = yaml("action.yml");
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    for input in ["path", "baseline", "fail-on-findings", "format", "scope"] {
        assert!(
            !action["inputs"][input]["description"].is_null(),
            "input {input}"
        );
    }
    let format = action["inputs"]["format"]["default"].as_str().unwrap();
    assert!(["table", "json", "sarif"].contains(&format));
    let uses: Vec<&str> = action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|s| s["uses"].as_str())
        .collect();
    assert!(
        uses.iter()
            .any(|u| u.starts_with("github/codeql-action/upload-sarif@")),
        "{uses:?}"
    );
    let script = step(&action, "trailguard scan");
    // The flags handed to trailguard are the ones put in `args`.
    let mut passed = BTreeSet::new();
    for line in script
        .lines()
        .filter(|l| l.contains("args+=(") || l.contains("args=("))
    {
        passed.extend(flags(line));
    }
    for f in [
        "--git",
        "--branch",
        "--since-commit",
        "--baseline",
        "--format",
    ] {
        assert!(passed.contains(f), "{f} not passed: {passed:?}");
    }
    let help = scan_help();
    for f in &passed {
        assert!(
            help.contains(f.as_str()),
            "{f} of action.yml is not a `trailguard scan` flag"
        );
    }
}

/// Runs the action's scan step in `repo` with the event values in `env`; returns the
/// step's exit code, its outputs, and the report it wrote.
fn run_step(repo: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let script = step(&yaml("action.yml"), "trailguard scan");
    let tmp = tempfile::tempdir().unwrap();
    let outputs = tmp.path().join("outputs");
    fs::write(&outputs, "").unwrap();
    let bin = assert_cmd::cargo::cargo_bin("trailguard");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let sarif = tmp.path().join("trailguard.sarif");
    let mut cmd = Std::new("bash");
    cmd.arg("-c")
        .arg(&script)
        .current_dir(repo)
        .env("PATH", path)
        .env("GITHUB_OUTPUT", &outputs)
        .env("TG_PATH", ".")
        .env("TG_SCOPE", "changes")
        .env("TG_BASELINE", "")
        .env("TG_FORMAT", "sarif")
        .env("TG_SARIF", &sarif)
        .env("TG_PR_BASE", "")
        .env("TG_PR_HEAD", "")
        .env("TG_BEFORE", "");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.code().is_some(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap(),
        fs::read_to_string(&outputs).unwrap(),
        fs::read_to_string(&sarif).unwrap_or_default(),
    )
}

#[test]
fn the_action_scans_the_commits_of_a_pull_request_and_of_a_push() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    fs::write(d.join("old.env"), env_file(KEY)).unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "old key"]);
    let base = git(d, &["rev-parse", "HEAD"]);
    git(d, &["checkout", "-q", "-b", "pr"]);
    fs::write(d.join("new.env"), env_file(KEY2)).unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "new key"]);
    let head = git(d, &["rev-parse", "HEAD"]);

    let (code, outputs, sarif) = run_step(
        d,
        &[
            ("TG_EVENT", "pull_request"),
            ("TG_PR_BASE", &base),
            ("TG_PR_HEAD", &head),
            ("TG_AFTER", &head),
        ],
    );
    assert_eq!(code, 0, "found keys are judged after the upload: {outputs}");
    assert!(outputs.contains("findings=1\n"), "{outputs}");
    assert!(outputs.contains("exit-code=1\n"), "{outputs}");
    assert!(outputs.contains("sarif-file="), "{outputs}");
    assert!(
        sarif.contains(KEY2) && !sarif.contains(KEY),
        "only what the PR adds"
    );
    assert!(sarif.contains(&head) && !sarif.contains(SECRET));

    // A branch's first push (no `before`): the head's whole history.
    let zeros = "0".repeat(40);
    let (code, outputs, sarif) = run_step(
        d,
        &[
            ("TG_EVENT", "push"),
            ("TG_BEFORE", &zeros),
            ("TG_AFTER", &head),
        ],
    );
    assert_eq!(code, 0);
    assert!(outputs.contains("findings=2\n"), "{outputs}");
    assert!(sarif.contains(KEY) && sarif.contains(KEY2));
    // A push on top of a known commit: that push's commits.
    let (_, outputs, _) = run_step(
        d,
        &[
            ("TG_EVENT", "push"),
            ("TG_BEFORE", &base),
            ("TG_AFTER", &head),
        ],
    );
    assert!(outputs.contains("findings=1\n"), "{outputs}");
    // A bad scope is an error, not a silent pass.
    let (code, _, _) = run_step(
        d,
        &[
            ("TG_EVENT", "push"),
            ("TG_SCOPE", "everything"),
            ("TG_AFTER", &head),
        ],
    );
    assert_eq!(code, 2);
}
