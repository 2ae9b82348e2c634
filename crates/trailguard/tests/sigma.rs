//! `--sigma DIR`: the shared Sigma corpus (`../shared/corpora/sigma-aws`, beside the
//! repository, never copied into it) loads and runs over the Stratus Red Team
//! detonations and the OTRF dataset; alerts carry the Sigma id, title, level and tags;
//! `rules list/show/test/export` take Sigma rules too.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn corpora() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora")
}

fn sigma_dir(sub: &str) -> Option<PathBuf> {
    let dir = corpora().join("sigma-aws").join(sub);
    if dir.exists() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is absent", dir.display());
        None
    }
}

fn trailguard() -> Command {
    let mut c = Command::cargo_bin("trailguard").unwrap();
    c.env_remove("DISCORD_WEBHOOK_URL");
    c
}

struct Run {
    code: i32,
    alerts: Vec<Value>,
    stderr: String,
}

fn detect(sigma: &[&Path], inputs: &[PathBuf]) -> Run {
    let mut cmd = trailguard();
    cmd.args(["detect", "--no-builtin", "--format", "jsonl"]);
    for s in sigma {
        cmd.arg("--sigma").arg(s);
    }
    let out = cmd.args(inputs).output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        alerts: String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Sigma rule id, then the Stratus technique whose detonation it must alert on.
const EXPECTED: &[(&str, &str)] = &[
    // AWS CloudTrail Important Change (StopLogging, UpdateTrail, DeleteTrail)
    (
        "4db60cc0-36fb-42b7-9b58-a5b53019fb74",
        "aws.defense-evasion.cloudtrail-stop",
    ),
    (
        "4db60cc0-36fb-42b7-9b58-a5b53019fb74",
        "aws.defense-evasion.cloudtrail-delete",
    ),
    // AWS VPC Flow Logs Deleted (errorCode absent: `1 of selection_status_*`)
    (
        "e386b9b5-af12-450e-afff-761730fb8a98",
        "aws.defense-evasion.vpc-remove-flow-logs",
    ),
    // Successful console login without MFA (additionalEventData.MFAUsed: 'NO')
    (
        "77caf516-34e5-4df9-b4db-20744fea0a60",
        "aws.initial-access.console-login-without-mfa",
    ),
    // Snapshot shared (ModifySnapshotAttribute)
    (
        "abae8fec-57bd-4f87-aff6-6e3db989843d",
        "aws.exfiltration.ec2-share-ebs-snapshot",
    ),
    // Security group ingress opened
    (
        "6fb77778-040f-4015-9440-572aa9b6b580",
        "aws.exfiltration.ec2-security-group-open-port-22-ingress",
    ),
    // Login profile updated for another user (`not 1 of filter_main_*` with fieldref)
    (
        "055fb148-60f8-462d-ad16-26926ce050f1",
        "aws.privilege-escalation.iam-update-user-login-profile",
    ),
    // SSM SendCommand that succeeded (errorCode absent)
    (
        "38e7f511-3f74-41d4-836e-f57dfa18eead",
        "aws.execution.ssm-send-command",
    ),
    // New Lambda layer (eventName|startswith: UpdateFunctionConfiguration, layers|contains: '*')
    (
        "97fbabf8-8e1b-47a2-b7d5-a418d2b95e3d",
        "aws.persistence.lambda-layer-extension",
    ),
];

#[test]
fn corpus_rules_run_over_the_detonations_and_fire_where_they_should() {
    let Some(rules) = sigma_dir("rules") else {
        return;
    };
    let stratus = corpora().join("stratus-detonations");
    let otrf = corpora().join("otrf-aws");
    let run = detect(&[&rules], &[stratus.clone(), otrf]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("trailguard: 57 Sigma rules loaded, 0 unsupported"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("warning: "), "{}", run.stderr);
    for (id, technique) in EXPECTED {
        let one = detect(&[&rules], &[stratus.join(format!("{technique}.json"))]);
        let ids: Vec<&str> = one
            .alerts
            .iter()
            .map(|a| a["rule"]["id"].as_str().unwrap())
            .collect();
        assert!(
            ids.contains(&format!("sigma-{id}").as_str()),
            "{technique}: sigma-{id} not in {ids:?}"
        );
    }
    // The alert carries what the Sigma rule says of itself.
    let stop = detect(
        &[&rules],
        &[stratus.join("aws.defense-evasion.cloudtrail-stop.json")],
    );
    let alert = stop
        .alerts
        .iter()
        .find(|a| a["rule"]["id"] == "sigma-4db60cc0-36fb-42b7-9b58-a5b53019fb74")
        .unwrap();
    assert_eq!(alert["rule"]["title"], "AWS CloudTrail Important Change");
    assert_eq!(alert["rule"]["severity"], "medium");
    assert_eq!(
        alert["rule"]["tags"],
        serde_json::json!(["attack.defense-impairment", "attack.t1685.002"])
    );
    assert_eq!(alert["event_name"], "StopLogging");
    assert!(
        alert["summary"]
            .as_str()
            .unwrap()
            .ends_with("called StopLogging from 86.245.153.234"),
        "{alert}"
    );
}

#[test]
fn correlations_and_unsupported_rules_are_warnings_not_errors() {
    let (Some(rules), Some(unsupported), Some(placeholder)) = (
        sigma_dir("rules"),
        sigma_dir("unsupported"),
        sigma_dir("rules-placeholder"),
    ) else {
        return;
    };
    let stratus = corpora().join("stratus-detonations");
    let run = detect(
        &[&rules, &unsupported, &placeholder],
        &[stratus.clone(), corpora().join("otrf-aws")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("trailguard: 63 Sigma rules loaded, 3 unsupported ("),
        "{}",
        run.stderr
    );
    for (file, why) in [
        (
            "aws_lambda_function_created_or_invoked.yml",
            "`near` needs a `timeframe`",
        ),
        (
            "aws_ses_messaging_enabled.yml",
            "`timeframe` without an aggregation",
        ),
        (
            "aws_cloudtrail_console_login_success_from_susp_locations.yml",
            "modifier `expand`",
        ),
    ] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.starts_with("warning: ") && l.contains(file) && l.contains(why)),
            "{file}: {}",
            run.stderr
        );
    }
    // Sigma 1 `count() > 10` within 30m: the user-data download burst crosses it.
    let burst = detect(
        &[&unsupported],
        &[stratus.join("aws.discovery.ec2-download-user-data.json")],
    );
    let ids: Vec<&str> = burst
        .alerts
        .iter()
        .map(|a| a["rule"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["sigma-26ff4080-194e-47e7-9889-ef7602efed0c"],
        "{}",
        burst.stderr
    );
    let reasons = burst.alerts[0]["context"]["severity_reasons"].to_string();
    assert!(reasons.contains("threshold 11"), "{}", burst.alerts[0]);
}

#[test]
fn rules_commands_take_sigma_rules() {
    let (Some(rules), Some(unsupported)) = (sigma_dir("rules"), sigma_dir("unsupported")) else {
        return;
    };
    let out = trailguard()
        .args(["rules", "list", "--no-builtin", "--sigma"])
        .arg(&rules)
        .arg("--sigma")
        .arg(&unsupported)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let list = String::from_utf8_lossy(&out.stdout);
    assert_eq!(list.lines().count(), 63, "{list}");
    assert!(list.lines().any(
        |l| l.starts_with("sigma-4db60cc0-36fb-42b7-9b58-a5b53019fb74")
            && l.contains("medium")
            && l.contains("AWS CloudTrail Important Change")
    ));
    assert!(list.lines().any(
        |l| l.starts_with("sigma-91f6a16c-ef71-437a-99ac-0b070e3ad221")
            && l.contains("sigma,stateful")
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("63 Sigma rules loaded, 2 unsupported"),
        "{err}"
    );

    // Built-in rules and Sigma rules side by side.
    let out = trailguard()
        .args(["rules", "list", "--sigma"])
        .arg(&rules)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("aws-iam-access-key-created") && list.contains("sigma-"));

    trailguard()
        .args([
            "rules",
            "show",
            "sigma-4db60cc0-36fb-42b7-9b58-a5b53019fb74",
            "--no-builtin",
            "--sigma",
        ])
        .arg(&rules)
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "title: AWS CloudTrail Important Change",
        ));

    trailguard()
        .args(["rules", "test", "--sigma"])
        .arg(&rules)
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "0 failed (57 Sigma rules carry no test events)",
        ));

    let out = trailguard()
        .args([
            "rules",
            "export",
            "--format",
            "eventbridge",
            "--no-builtin",
            "--sigma",
        ])
        .arg(&rules)
        .arg("--sigma")
        .arg(&unsupported)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 63);
    for line in &lines {
        assert_eq!(line["prefilter_only"], true, "{line}");
        let note = line["note"].as_str().unwrap();
        assert!(note.starts_with("Sigma rule "), "{note}");
        assert!(line["chars"].as_u64().unwrap() <= 2048);
    }
    let stop = lines
        .iter()
        .find(|l| l["rule"] == "sigma-4db60cc0-36fb-42b7-9b58-a5b53019fb74")
        .unwrap();
    assert_eq!(
        stop["event_pattern"]["detail"]["eventSource"],
        serde_json::json!([{"equals-ignore-case": "cloudtrail.amazonaws.com"}])
    );
    let threshold = lines
        .iter()
        .find(|l| l["rule"] == "sigma-91f6a16c-ef71-437a-99ac-0b070e3ad221")
        .unwrap();
    assert!(threshold["note"].as_str().unwrap().contains("correlation"));
}

#[test]
fn no_builtin_needs_rules_or_sigma() {
    let out = trailguard()
        .args(["rules", "list", "--no-builtin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--no-builtin needs --rules DIR or --sigma DIR"),
        "{err}"
    );
    let out = trailguard()
        .args([
            "detect",
            "--no-builtin",
            "--sigma",
            "/nonexistent/sigma",
            "-",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read Sigma folder"));
    // A folder whose only file is not a Sigma rule: a warning, then nothing to run.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.yml"), "title: [unclosed").unwrap();
    let out = trailguard()
        .args(["detect", "--no-builtin", "--sigma"])
        .arg(dir.path())
        .arg("-")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.yml: Sigma rule -: not loaded: invalid YAML"),
        "{err}"
    );
    assert!(err.contains("0 Sigma rules loaded, 1 unsupported"), "{err}");
    assert!(err.contains("no rules loaded"), "{err}");
    // Binary files are reported too; a file given alone is read; an id taken by a
    // --rules rule is reported, not an error.
    std::fs::write(dir.path().join("binary.yaml"), [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let one = dir.path().join("one.yml");
    std::fs::write(
        &one,
        "title: Trail stopped\nid: mine\nlogsource: {product: aws, service: cloudtrail}\n\
         detection: {s: {eventName: StopLogging}, condition: s}\n",
    )
    .unwrap();
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(
        rules.path().join("r.yml"),
        "id: sigma-mine\ntitle: t\nseverity: low\nmatch: {detail: {eventName: [X]}}\nsummary: s\n",
    )
    .unwrap();
    let out = trailguard()
        .args(["rules", "list", "--sigma"])
        .arg(dir.path())
        .arg("--sigma")
        .arg(&one)
        .arg("--rules")
        .arg(rules.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("binary.yaml: Sigma rule -: not loaded: not UTF-8 text"),
        "{err}"
    );
    assert!(
        err.contains("one.yml: Sigma rule Trail stopped: not loaded: duplicate id `sigma-mine`"),
        "{err}"
    );
    // broken.yml, binary.yaml, and one.yml twice (from the folder and given alone):
    // once a duplicate of itself, once of the --rules rule's id.
    assert!(err.contains("0 Sigma rules loaded, 4 unsupported"), "{err}");
}
