//! `trailguard scan --git`: a real history built with git, findings with their commit
//! in every format and no secret printed, ranges, and a damaged repository reported
//! and scanned as far as it can be read.

use std::fs;
use std::path::Path;
use std::process::Command as Std;

use assert_cmd::Command;
use serde_json::Value;

const KEY: &str = "AKIAWCZC6J72ODEC6IFU";
const KEY2: &str = "AKIAZ7ADX3SXZ2MH5HQE";
const SECRET: &str = "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";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Std::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Alice")
        .env("GIT_AUTHOR_EMAIL", "alice@example.com")
        .env("GIT_AUTHOR_DATE", "2024-05-06T07:08:09Z")
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

fn commit(dir: &Path, msg: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", msg]);
    git(dir, &["rev-parse", "HEAD"])
}

fn scan(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("trailguard")
        .unwrap()
        .current_dir(dir)
        .arg("scan")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A key pair committed, then deleted: the tip is clean, the history is not.
fn leaked_and_removed() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    fs::write(d.join("README.md"), "app\n").unwrap();
    commit(d, "start");
    fs::create_dir(d.join("config")).unwrap();
    fs::write(
        d.join("config/.env"),
        format!("AWS_ACCESS_KEY_ID={KEY}\nAWS_SECRET_ACCESS_KEY={SECRET}\n"),
    )
    .unwrap();
    let leaked = commit(d, "config");
    fs::remove_file(d.join("config/.env")).unwrap();
    commit(d, "remove the key");
    (dir, leaked)
}

#[test]
fn history_findings_carry_their_commit_in_every_format_and_no_secret() {
    let (dir, leaked) = leaked_and_removed();
    let d = dir.path();
    let (code, _, _) = scan(d, &["--format", "json"]);
    assert_eq!(code, 0, "the working tree is clean");
    for format in ["table", "json", "sarif"] {
        let (code, out, err) = scan(d, &["--git", "--format", format]);
        assert_eq!(code, 1, "{format}: {err}");
        assert!(
            out.contains(KEY) && out.contains("config/.env"),
            "{format}: {out}"
        );
        assert!(
            out.contains(&leaked[..12]) && out.contains("Alice"),
            "{format}: {out}"
        );
        for s in [SECRET, &SECRET[4..20]] {
            assert!(
                !out.contains(s) && !err.contains(s),
                "{format} printed the secret"
            );
        }
        assert!(err.contains("3 commit(s), 2 blob(s) scanned"), "{err}");
    }
    let (_, out, _) = scan(d, &["--git", "--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["commit"]["id"], leaked.as_str());
    assert_eq!(v[0]["commit"]["email"], "alice@example.com");
    assert_eq!(v[0]["commit"]["date"], "2024-05-06T07:08:09Z");
    assert_eq!(
        (v[0]["line"].as_u64(), v[0]["column"].as_u64()),
        (Some(1), Some(19))
    );
    let (_, out, _) = scan(d, &["--git", "--format", "sarif"]);
    let s: Value = serde_json::from_str(&out).unwrap();
    let r = &s["runs"][0]["results"][0];
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "config/.env"
    );
    assert_eq!(r["properties"]["commit"], leaked.as_str());
    assert_eq!(r["properties"]["author"], "Alice");
    assert!(r["partialFingerprints"]["trailguardFingerprint/v1"].is_string());
    // A baseline taken over the history silences it.
    let (code, _, err) = scan(d, &["--git", "--baseline", "b.json", "--update-baseline"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = scan(d, &["--git", "--baseline", "b.json"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(1 in the baseline)"), "{err}");
}

#[test]
fn a_range_reports_only_what_the_branch_adds() {
    let (dir, _) = leaked_and_removed();
    let d = dir.path();
    let base = git(d, &["rev-parse", "HEAD"]);
    git(d, &["checkout", "-q", "-b", "pr"]);
    fs::write(
        d.join("deploy.sh"),
        format!("aws configure set aws_access_key_id {KEY2}\n"),
    )
    .unwrap();
    let added = commit(d, "deploy");
    let (code, out, err) = scan(
        d,
        &[
            "--git",
            "--since-commit",
            &base,
            "--branch",
            "pr",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{out}");
    assert_eq!(v[0]["key_id"], KEY2);
    assert_eq!(v[0]["commit"]["id"], added.as_str());
    assert!(err.contains("1 commit(s)"), "{err}");
    // Usage errors: an unknown revision, a --branch without --git, not a repository.
    let (code, _, err) = scan(d, &["--git", "--branch", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("`nope` is not a commit"), "{err}");
    let (code, _, _) = scan(d, &["--branch", "main"]);
    assert_eq!(code, 2);
    let plain = tempfile::tempdir().unwrap();
    let (code, _, err) = scan(plain.path(), &["--git"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot open the git repository"), "{err}");
}

#[test]
fn a_damaged_repository_is_reported_and_the_rest_scanned() {
    let (dir, leaked) = leaked_and_removed();
    let d = dir.path();
    // The README blob goes missing; the key's blob is still there.
    let readme = git(d, &["rev-parse", "HEAD:README.md"]);
    fs::remove_file(d.join(format!(".git/objects/{}/{}", &readme[..2], &readme[2..]))).unwrap();
    fs::write(d.join(".git/HEAD"), "garbage\n").unwrap();
    let (code, out, err) = scan(d, &["--git", "--format", "json"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains(&leaked), "{out}");
    assert!(
        err.contains("warning:") && err.contains("README.md"),
        "{err}"
    );
    assert!(err.contains("HEAD"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
