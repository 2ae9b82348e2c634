//! Stratus Red Team detonations of persistence, privilege escalation and console
//! initial access: each technique is caught by the built-in rule meant for it, at the
//! severity its context deserves. The logs live in the shared corpora
//! (`../shared/corpora/stratus-detonations`, beside the repository), not in the repo.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn detonations() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/stratus-detonations")
}

/// Alerts raised on one technique's detonation log, as (rule id, severity).
fn detect(technique: &str) -> Option<Vec<(String, String)>> {
    let log = detonations().join(format!("{technique}.json"));
    if !log.exists() {
        eprintln!("skipped: {} is absent", log.display());
        return None;
    }
    let out = Command::cargo_bin("trailguard")
        .unwrap()
        .env_remove("DISCORD_WEBHOOK_URL")
        .args(["detect", "--quiet", "--format", "jsonl"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{technique}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let a: Value = serde_json::from_str(l).unwrap();
                (
                    a["rule"]["id"].as_str().unwrap().to_owned(),
                    a["rule"]["severity"].as_str().unwrap().to_owned(),
                )
            })
            .collect(),
    )
}

/// Technique, then every (rule, severity) it must raise. Other alerts may come too.
const EXPECTED: &[(&str, &[(&str, &str)])] = &[
    (
        "aws.persistence.iam-backdoor-role",
        &[("aws-iam-role-trust-policy-aws-principal", "high")],
    ),
    (
        "aws.persistence.iam-backdoor-user",
        &[("aws-iam-access-key-created", "critical")],
    ),
    (
        "aws.persistence.iam-create-admin-user",
        &[
            ("aws-iam-user-created", "high"),
            ("aws-iam-admin-policy-attached", "critical"),
            ("aws-iam-access-key-created", "critical"),
        ],
    ),
    (
        "aws.persistence.iam-create-backdoor-role",
        &[
            ("aws-iam-role-trust-policy-aws-principal", "high"),
            ("aws-iam-admin-policy-attached", "critical"),
        ],
    ),
    (
        "aws.persistence.iam-create-user-login-profile",
        &[("aws-iam-login-profile-created", "critical")],
    ),
    (
        "aws.persistence.lambda-backdoor-function",
        &[("aws-lambda-permission-public", "high")],
    ),
    (
        "aws.persistence.lambda-layer-extension",
        &[("aws-lambda-layer-attached", "medium")],
    ),
    (
        "aws.persistence.lambda-overwrite-code",
        &[("aws-lambda-function-code-updated", "medium")],
    ),
    (
        "aws.persistence.rolesanywhere-create-trust-anchor",
        &[
            ("aws-rolesanywhere-trust-anchor-created", "high"),
            ("aws-rolesanywhere-profile-created", "medium"),
        ],
    ),
    (
        "aws.persistence.sts-federation-token",
        &[("aws-sts-federation-token-long-term-key", "high")],
    ),
    (
        "aws.privilege-escalation.iam-update-user-login-profile",
        &[("aws-iam-login-profile-updated", "critical")],
    ),
    (
        "aws.initial-access.console-login-without-mfa",
        &[("aws-signin-console-login-without-mfa", "medium")],
    ),
];

#[test]
fn each_technique_raises_its_rule() {
    let mut failures = Vec::new();
    for (technique, wanted) in EXPECTED {
        let Some(alerts) = detect(technique) else {
            continue;
        };
        for (rule, severity) in *wanted {
            let found: Vec<&String> = alerts
                .iter()
                .filter(|(id, _)| id == rule)
                .map(|(_, s)| s)
                .collect();
            if found != [severity] {
                failures.push(format!(
                    "{technique}: want {rule} at {severity}, got {found:?} (all: {alerts:?})"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The stratus-red-team user agent is not an offensive tool's: detonations are caught
/// by what they do (see aws-recon-offensive-user-agent's description).
#[test]
fn the_detonation_tool_itself_is_not_flagged() {
    for (technique, _) in EXPECTED {
        let Some(alerts) = detect(technique) else {
            continue;
        };
        assert!(
            alerts
                .iter()
                .all(|(id, _)| id != "aws-recon-offensive-user-agent"),
            "{technique}: {alerts:?}"
        );
    }
}
