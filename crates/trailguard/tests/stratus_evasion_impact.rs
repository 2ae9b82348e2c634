//! The built-in defense-evasion, impact, credential-access, execution, exfiltration and
//! lateral-movement rules against real Stratus Red Team detonations (shared corpus):
//! each technique must be caught by the rule named here, at the severity named here.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn detonations() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/stratus-detonations")
}

/// (technique, rule id, severity of its alert, events folded into it).
const EXPECTED: &[(&str, &str, &str, u64)] = &[
    // Credential access
    (
        "aws.credential-access.ec2-get-password-data",
        "aws-ec2-password-data-retrieved",
        "low",
        30,
    ),
    (
        "aws.credential-access.ec2-steal-instance-credentials",
        "aws-ssm-command-sent",
        "high",
        1,
    ),
    (
        "aws.credential-access.secretsmanager-batch-retrieve-secrets",
        "aws-secretsmanager-secret-read",
        "high",
        5,
    ),
    (
        "aws.credential-access.secretsmanager-retrieve-secrets",
        "aws-secretsmanager-secret-read",
        "medium",
        20,
    ),
    (
        "aws.credential-access.ssm-retrieve-securestring-parameters",
        "aws-ssm-parameter-decrypted",
        "medium",
        5,
    ),
    // Defense evasion
    (
        "aws.defense-evasion.cloudtrail-delete",
        "aws-cloudtrail-trail-deleted",
        "critical",
        1,
    ),
    (
        "aws.defense-evasion.cloudtrail-event-selectors",
        "aws-cloudtrail-event-selectors-weakened",
        "critical",
        1,
    ),
    (
        "aws.defense-evasion.cloudtrail-stop",
        "aws-cloudtrail-logging-stopped",
        "critical",
        1,
    ),
    (
        "aws.defense-evasion.dns-delete-logs",
        "aws-route53resolver-query-logging-deleted",
        "critical",
        1,
    ),
    (
        "aws.defense-evasion.organizations-leave",
        "aws-organizations-account-left",
        "high",
        1,
    ),
    (
        "aws.defense-evasion.vpc-remove-flow-logs",
        "aws-ec2-flow-logs-deleted",
        "critical",
        1,
    ),
    // Discovery
    (
        "aws.discovery.ec2-download-user-data",
        "aws-ec2-user-data-read",
        "low",
        15,
    ),
    // Execution
    (
        "aws.execution.ec2-launch-unusual-instances",
        "aws-ec2-gpu-or-large-instance-launched",
        "high",
        1,
    ),
    (
        "aws.execution.ec2-user-data",
        "aws-ec2-user-data-modified",
        "high",
        1,
    ),
    (
        "aws.execution.ssm-send-command",
        "aws-ssm-command-sent",
        "high",
        1,
    ),
    (
        "aws.execution.ssm-start-session",
        "aws-ssm-session-started",
        "high",
        3,
    ),
    // Exfiltration
    (
        "aws.exfiltration.ec2-security-group-open-port-22-ingress",
        "aws-ec2-security-group-opened-to-world",
        "high",
        1,
    ),
    (
        "aws.exfiltration.ec2-share-ami",
        "aws-ec2-ami-shared",
        "high",
        1,
    ),
    (
        "aws.exfiltration.ec2-share-ebs-snapshot",
        "aws-ec2-snapshot-shared",
        "high",
        1,
    ),
    (
        "aws.exfiltration.rds-share-snapshot",
        "aws-rds-snapshot-shared",
        "high",
        1,
    ),
    // Impact
    (
        "aws.impact.bedrock-invoke-model",
        "aws-bedrock-model-access-enabled",
        "medium",
        3,
    ),
    // Lateral movement
    (
        "aws.lateral-movement.ec2-instance-connect",
        "aws-ec2-instance-connect-ssh-key-sent",
        "high",
        3,
    ),
    (
        "aws.lateral-movement.ec2-serial-console-send-ssh-public-key",
        "aws-ec2-instance-connect-serial-console-key-sent",
        "medium",
        3,
    ),
    (
        "aws.lateral-movement.ec2-serial-console-send-ssh-public-key",
        "aws-ec2-serial-console-access-enabled",
        "medium",
        1,
    ),
];

fn detect(log: &Path) -> Vec<Value> {
    let mut cmd = Command::cargo_bin("trailguard").unwrap();
    cmd.env_remove("DISCORD_WEBHOOK_URL");
    let out = cmd
        .args(["detect", "--quiet", "--format", "jsonl"])
        .arg(log)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: {}",
        log.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn every_technique_is_caught_by_its_rule() {
    let dir = detonations();
    if !dir.exists() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    let mut failures = Vec::new();
    for (technique, rule, severity, count) in EXPECTED {
        let log = dir.join(format!("{technique}.json"));
        let alerts = detect(&log);
        let found: Vec<&Value> = alerts.iter().filter(|a| a["rule"]["id"] == *rule).collect();
        match found.as_slice() {
            [a] => {
                if a["rule"]["severity"] != *severity || a["count"] != *count {
                    failures.push(format!(
                        "{technique}: {rule} fired as {} with {} events, expected {severity} with {count}",
                        a["rule"]["severity"], a["count"]
                    ));
                }
            }
            [] => failures.push(format!(
                "{technique}: {rule} did not fire; alerts: {:?}",
                alerts
                    .iter()
                    .map(|a| a["rule"]["id"].as_str().unwrap_or("?"))
                    .collect::<Vec<_>>()
            )),
            more => failures.push(format!(
                "{technique}: {rule} gave {} alerts, expected one",
                more.len()
            )),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The reasons an alert was raised are shown to people: spot-check that escalations
/// say why (a long-term key; a public share; SSH to the world).
#[test]
fn escalations_carry_their_reasons() {
    let dir = detonations();
    if !dir.exists() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    let reasons = |technique: &str, rule: &str| -> Vec<String> {
        detect(&dir.join(format!("{technique}.json")))
            .into_iter()
            .find(|a| a["rule"]["id"] == rule)
            .and_then(|a| a["context"]["severity_reasons"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let sg = reasons(
        "aws.exfiltration.ec2-security-group-open-port-22-ingress",
        "aws-ec2-security-group-opened-to-world",
    );
    assert!(sg.iter().any(|r| r.contains("SSH")), "{sg:?}");
    assert!(sg.iter().any(|r| r.contains("long-term")), "{sg:?}");
    let stop = reasons(
        "aws.defense-evasion.cloudtrail-stop",
        "aws-cloudtrail-logging-stopped",
    );
    assert!(stop.iter().any(|r| r.contains("long-term")), "{stop:?}");
    // Refused, from an assumed role: no escalation, the base severity stands.
    let leave = reasons(
        "aws.defense-evasion.organizations-leave",
        "aws-organizations-account-left",
    );
    assert!(leave.is_empty(), "{leave:?}");
}

/// One CloudTrail record as a JSON line; every case has its own key, so none fold.
fn record(key: &str, console: bool, source: &str, name: &str, params: Value) -> String {
    let mut r = serde_json::json!({
        "eventVersion": "1.09", "eventType": "AwsApiCall", "eventSource": source,
        "eventName": name, "eventTime": "2024-05-01T12:00:00Z", "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.23", "eventID": format!("id-{key}"),
        "recipientAccountId": "111122223333",
        "userIdentity": {"type": if key.starts_with("AKIA") { "IAMUser" } else { "AssumedRole" },
                         "arn": format!("arn:aws:iam::111122223333:user/{key}"), "accessKeyId": key},
        "requestParameters": params,
    });
    if console {
        r["sessionCredentialFromConsole"] = Value::from("true");
    }
    r.to_string()
}

/// Severities follow the context the rules promise: base for routine work, raised for
/// long-term keys, the public, SSH to the world and trailguard's own rules.
#[test]
fn severities_follow_context() {
    use serde_json::json;
    let ec2 = "ec2.amazonaws.com";
    let cases: Vec<(String, &str, Option<&str>)> = vec![
        // Snapshot shares: an account from a console (medium), the public from a console
        // (high), the public with a long-term key (critical).
        (
            record(
                "ASIAA0000000000000A1",
                true,
                ec2,
                "ModifySnapshotAttribute",
                json!({"snapshotId": "snap-1", "createVolumePermission": {"add": {"items": [{"userId": "444455556666"}]}}}),
            ),
            "aws-ec2-snapshot-shared",
            Some("medium"),
        ),
        (
            record(
                "ASIAA0000000000000A2",
                true,
                ec2,
                "ModifySnapshotAttribute",
                json!({"snapshotId": "snap-1", "createVolumePermission": {"add": {"items": [{"group": "all"}]}}}),
            ),
            "aws-ec2-snapshot-shared",
            Some("high"),
        ),
        (
            record(
                "AKIAA0000000000000A3",
                false,
                ec2,
                "ModifySnapshotAttribute",
                json!({"snapshotId": "snap-1", "createVolumePermission": {"add": {"items": [{"group": "all"}]}}}),
            ),
            "aws-ec2-snapshot-shared",
            Some("critical"),
        ),
        // Security groups: HTTPS to the world (medium), SSH to the world (high), a
        // private range (nothing).
        (
            record(
                "ASIAA0000000000000B1",
                true,
                ec2,
                "AuthorizeSecurityGroupIngress",
                json!({"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443,
                          "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
            ),
            "aws-ec2-security-group-opened-to-world",
            Some("medium"),
        ),
        (
            record(
                "ASIAA0000000000000B2",
                true,
                ec2,
                "AuthorizeSecurityGroupIngress",
                json!({"groupId": "sg-1", "ipPermissions": {"items": [
                          {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}},
                          {"ipProtocol": "tcp", "fromPort": 0, "toPort": 1024, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
            ),
            "aws-ec2-security-group-opened-to-world",
            Some("high"),
        ),
        (
            record(
                "ASIAA0000000000000B3",
                true,
                ec2,
                "AuthorizeSecurityGroupIngress",
                json!({"groupId": "sg-1", "ipPermissions": {"items": [
                          {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}},
                          {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
            ),
            "aws-ec2-security-group-opened-to-world",
            Some("medium"),
        ),
        (
            record(
                "ASIAA0000000000000B4",
                true,
                ec2,
                "AuthorizeSecurityGroupIngress",
                json!({"groupId": "sg-1", "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIp": "10.0.0.0/8"}),
            ),
            "aws-ec2-security-group-opened-to-world",
            None,
        ),
        // GPU instances: t3.micro (nothing), p4d.24xlarge by a role (medium), by a
        // long-term key (critical).
        (
            record(
                "AKIAA0000000000000C1",
                false,
                ec2,
                "RunInstances",
                json!({"instanceType": "t3.micro"}),
            ),
            "aws-ec2-gpu-or-large-instance-launched",
            None,
        ),
        (
            record(
                "ASIAA0000000000000C2",
                false,
                ec2,
                "RunInstances",
                json!({"instanceType": "p4d.24xlarge"}),
            ),
            "aws-ec2-gpu-or-large-instance-launched",
            Some("medium"),
        ),
        (
            record(
                "AKIAA0000000000000C3",
                false,
                ec2,
                "RunInstances",
                json!({"instanceType": "p4d.24xlarge"}),
            ),
            "aws-ec2-gpu-or-large-instance-launched",
            Some("critical"),
        ),
        // EventBridge: trailguard's own rule (critical), a security-looking rule from a
        // console (high), an ordinary one (low).
        (
            record(
                "ASIAA0000000000000D1",
                true,
                "events.amazonaws.com",
                "DeleteRule",
                json!({"name": "trailguard-aws-cloudtrail-logging-stopped"}),
            ),
            "aws-events-trailguard-rule-tampered",
            Some("critical"),
        ),
        (
            record(
                "ASIAA0000000000000D2",
                true,
                "events.amazonaws.com",
                "DisableRule",
                json!({"name": "SecurityHubFindingsToPagerDuty"}),
            ),
            "aws-events-rule-disabled-or-deleted",
            Some("high"),
        ),
        (
            record(
                "ASIAA0000000000000D3",
                true,
                "events.amazonaws.com",
                "DisableRule",
                json!({"name": "nightly-report"}),
            ),
            "aws-events-rule-disabled-or-deleted",
            Some("low"),
        ),
        // Event selectors: a data-events-only selector beside the management one
        // (medium, the routine shape), management reads only (high).
        (
            record(
                "ASIAA0000000000000E1",
                false,
                "cloudtrail.amazonaws.com",
                "PutEventSelectors",
                json!({"trailName": "t", "eventSelectors": [
                          {"includeManagementEvents": true, "readWriteType": "All", "dataResources": []},
                          {"includeManagementEvents": false, "readWriteType": "All",
                           "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}]}),
            ),
            "aws-cloudtrail-event-selectors-weakened",
            Some("medium"),
        ),
        (
            record(
                "ASIAA0000000000000E2",
                true,
                "cloudtrail.amazonaws.com",
                "PutEventSelectors",
                json!({"trailName": "t", "eventSelectors": [
                          {"includeManagementEvents": true, "readWriteType": "ReadOnly", "dataResources": []}]}),
            ),
            "aws-cloudtrail-event-selectors-weakened",
            Some("high"),
        ),
        // Secrets: a console user (low), a long-term key (medium).
        (
            record(
                "ASIAA0000000000000F1",
                true,
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                json!({"secretId": "prod/db"}),
            )
            .replace("AssumedRole", "IAMUser"),
            "aws-secretsmanager-secret-read",
            Some("low"),
        ),
        (
            record(
                "AKIAA0000000000000F2",
                false,
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                json!({"secretId": "prod/db"}),
            ),
            "aws-secretsmanager-secret-read",
            Some("medium"),
        ),
    ];
    let input: String = cases
        .iter()
        .map(|(line, _, _)| format!("{line}\n"))
        .collect();
    let mut cmd = Command::cargo_bin("trailguard").unwrap();
    cmd.env_remove("DISCORD_WEBHOOK_URL");
    let out = cmd
        .args(["detect", "--quiet", "--format", "jsonl", "-"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut failures = Vec::new();
    for (line, rule, want) in &cases {
        let event: Value = serde_json::from_str(line).unwrap();
        let id = &event["eventID"];
        let got = alerts
            .iter()
            .find(|a| a["rule"]["id"] == *rule && a["event_ids"][0] == *id)
            .map(|a| a["rule"]["severity"].as_str().unwrap_or("?"));
        if got != *want {
            failures.push(format!("{rule} on {id}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
