//! `trailguard deploy template`: every template it writes passes cfn-lint (AWS's
//! CloudFormation linter: resource schemas, property values, references), and the
//! command's usage errors and help.
//!
//! cfn-lint comes from PyPI (`.ci/requirements.txt`, installed by `.ci/run`). Without
//! it this test says loudly that it skipped, unless `TRAILGUARD_REQUIRE_CFN_LINT` is
//! set (as `.ci/run` does), in which case it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::Command as Cli;

fn trailguard() -> Cli {
    Cli::cargo_bin("trailguard").unwrap()
}

/// `cfn-lint` on the PATH, or in the venv `.ci/run` makes.
fn cfn_lint() -> Option<PathBuf> {
    let venv = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/trailguard/venv/bin/cfn-lint"));
    let candidates = [Some(PathBuf::from("cfn-lint")), venv];
    candidates.into_iter().flatten().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn write_template(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let path = dir.join(name);
    trailguard()
        .args(["deploy", "template", "--out"])
        .arg(&path)
        .args(args)
        .assert()
        .success();
    path
}

#[test]
fn every_template_passes_cfn_lint() {
    let dir = tempfile::tempdir().unwrap();
    let templates = [
        write_template(dir.path(), "central.yml", &[]),
        write_template(
            dir.path(),
            "central-x86-remediation.yml",
            &[
                "--arch",
                "x86_64",
                "--allow-remediation",
                "--sink",
                "slack",
                "--memory",
                "512",
                "--timeout",
                "120",
            ],
        ),
        write_template(
            dir.path(),
            "central-eu.yml",
            &["--central-region", "eu-west-1", "--sink", "webhook"],
        ),
        write_template(dir.path(), "forwarder.yml", &["--forwarder"]),
    ];
    let Some(lint) = cfn_lint() else {
        if std::env::var_os("TRAILGUARD_REQUIRE_CFN_LINT").is_some() {
            panic!("cfn-lint is required (TRAILGUARD_REQUIRE_CFN_LINT is set) but was not found");
        }
        eprintln!(
            "\n!!! SKIPPED: cfn-lint not found (pip install -r .ci/requirements.txt, or run .ci/run): \
             the deployment templates were NOT validated\n"
        );
        return;
    };
    for t in &templates {
        let out = Command::new(&lint)
            .arg("--non-zero-exit-code")
            .arg("informational")
            .arg("--")
            .arg(t)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cfn-lint {}:\n{}{}",
            t.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn standard_output_and_file_hold_the_same_template() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_template(dir.path(), "t.yml", &["--forwarder"]);
    let out = trailguard()
        .args(["deploy", "template", "--forwarder"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, std::fs::read(file).unwrap());
}

#[test]
fn usage_errors_say_what_is_wrong() {
    for (args, want) in [
        (
            &["--log-retention", "10"][..],
            "--log-retention: 10 is not a period CloudWatch Logs accepts",
        ),
        (
            &["--central-region", "Virginia"][..],
            "--central-region: `Virginia` is not a region name",
        ),
        (
            &["--no-builtin"][..],
            "--no-builtin needs --rules DIR or --sigma DIR",
        ),
    ] {
        let out = trailguard()
            .args(["deploy", "template"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
    let out = trailguard()
        .args(["deploy", "template", "--memory", "64"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_rule_too_large_for_eventbridge_writes_no_template() {
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<String> = (0..300).map(|i| format!("\"Action{i:04}\"")).collect();
    std::fs::write(
        dir.path().join("big.yml"),
        format!(
            "id: big-rule\ntitle: Big\nseverity: low\nsummary: s\nmatch:\n  detail:\n    eventName: [{}]\n",
            big.join(", ")
        ),
    )
    .unwrap();
    let out_file = dir.path().join("t.yml");
    let out = trailguard()
        .args(["deploy", "template", "--rules"])
        .arg(dir.path())
        .arg("--out")
        .arg(&out_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    // Refused as the rules load (no deployment may silently lack a rule).
    assert!(
        err.contains("rule `big-rule`") && err.contains("over EventBridge's limit of 2048"),
        "{err}"
    );
    assert!(!out_file.exists());
}

#[test]
fn help_teaches_the_deployment() {
    let out = trailguard()
        .args(["deploy", "template", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for want in [
        "--forwarder",
        "us-east-1",
        "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
        "aws cloudformation deploy",
        "put-secret-value",
        "--allow-remediation",
        "x86_64",
    ] {
        assert!(help.contains(want), "--help lacks {want}:\n{help}");
    }
}
