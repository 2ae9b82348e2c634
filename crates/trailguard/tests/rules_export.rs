//! `trailguard rules export`: EventBridge JSON Lines and a CloudFormation fragment,
//! checked against the rules' own `match:` patterns.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

/// Every built-in rule's `match:`, by id, read from the YAML itself.
fn builtin_patterns() -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(rules_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml") {
            let rule: Value = serde_norway::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
            out.insert(
                rule["id"].as_str().unwrap().to_owned(),
                rule["match"].clone(),
            );
        }
    }
    assert!(!out.is_empty());
    out
}

fn export(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("trailguard")
        .unwrap()
        .args(["rules", "export"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn eventbridge_lines_carry_each_rules_pattern() {
    let patterns = builtin_patterns();
    let (code, out, err) = export(&["--format", "eventbridge"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), patterns.len(), "{out}");
    for line in &lines {
        let id = line["rule"].as_str().unwrap();
        assert_eq!(line["event_pattern"], patterns[id], "{id}");
        let compact = serde_json::to_string(&line["event_pattern"]).unwrap();
        assert_eq!(line["chars"], compact.chars().count(), "{id}");
        assert!(compact.len() <= 2048, "{id}");
        assert!(
            line["title"].is_string() && line["severity"].is_string(),
            "{id}"
        );
        // No rule is stateful yet, so none is a pre-filter only.
        // Stateful rules export their pre-filter and say so; the others do not.
        let stateful = line["note"]
            .as_str()
            .is_some_and(|n| n.starts_with("stateful rule"));
        assert_eq!(line.get("prefilter_only").is_some(), stateful, "{id}");
    }
}

fn resources(template: &Value) -> &serde_json::Map<String, Value> {
    template["Resources"].as_object().unwrap()
}

#[test]
fn cloudformation_has_one_events_rule_per_rule() {
    let patterns = builtin_patterns();
    let (code, out, err) = export(&["--format", "cloudformation"]);
    assert_eq!(code, 0, "{err}");
    let template: Value = serde_norway::from_str(&out).unwrap();
    assert_eq!(template["AWSTemplateFormatVersion"], "2010-09-09");
    assert_eq!(
        template["Parameters"]["TrailguardTargetArn"]["Type"],
        "String"
    );
    let resources = resources(&template);
    assert_eq!(resources.len(), patterns.len(), "{out}");
    let mut seen = BTreeMap::new();
    for (logical_id, r) in resources {
        assert!(
            logical_id.chars().all(|c| c.is_ascii_alphanumeric()),
            "{logical_id}"
        );
        assert_eq!(r["Type"], "AWS::Events::Rule");
        let p = &r["Properties"];
        let name = p["Name"].as_str().unwrap();
        assert!(name.len() <= 64, "{name}");
        let id = name.strip_prefix("trailguard-").unwrap();
        assert_eq!(p["EventPattern"], patterns[id], "{id}");
        assert!(p["Description"].as_str().unwrap().chars().count() <= 512);
        assert_eq!(p["State"], "ENABLED");
        assert_eq!(
            p["Targets"][0]["Arn"],
            serde_json::json!({"Ref": "TrailguardTargetArn"})
        );
        assert!(p["Targets"][0]["Id"].is_string());
        seen.insert(id.to_owned(), logical_id.clone());
    }
    assert_eq!(seen.len(), patterns.len());
    assert_eq!(
        seen["aws-iam-access-key-created"],
        "RuleAwsIamAccessKeyCreated"
    );

    // --out writes the same text.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    let (code, to_stdout, _) = export(&[
        "--format",
        "cloudformation",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!((code, to_stdout.as_str()), (0, ""));
    assert_eq!(fs::read_to_string(&file).unwrap(), out);
}

/// Values YAML 1.1 (which CloudFormation reads) would turn into booleans, numbers or
/// dates stay strings; long ids still give names of at most 64 characters.
#[test]
fn cloudformation_keeps_awkward_values_and_long_ids_intact() {
    let dir = tempfile::tempdir().unwrap();
    let long_id = format!("custom-{}", "very-long-rule-id-".repeat(5));
    let long_id = long_id.trim_end_matches('-');
    fs::write(
        dir.path().join("awkward.yml"),
        format!(
            r##"id: {long_id}
title: "Awkward \"values\" \\ and é, for a title long enough {}"
severity: low
match:
  detail:
    "on": ["yes", "on", "No", "12:30", "1_000", "2010-09-09", "~", "", "null", "# c", "- d", "a: b", "t\tz", "q\"b\\s", "é", "a\u2028b"]
    n: [{{numeric: [">", 1.0e16, "<", 1.0e17]}}, 300, 0.5, -2, null, true]
summary: s
"##,
            "x".repeat(600)
        ),
    )
    .unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    let (code, out, err) = export(&[
        "--format",
        "cloudformation",
        "--no-builtin",
        "--rules",
        dir_arg,
    ]);
    assert_eq!(code, 0, "{err}");
    let (_, line, _) = export(&[
        "--format",
        "eventbridge",
        "--no-builtin",
        "--rules",
        dir_arg,
    ]);
    let line: Value = serde_json::from_str(&line).unwrap();
    let template: Value = serde_norway::from_str(&out).unwrap();
    let (_, r) = resources(&template).iter().next().unwrap();
    let p = &r["Properties"];
    assert_eq!(p["EventPattern"], line["event_pattern"]);
    assert_eq!(p["EventPattern"]["detail"]["on"][0], "yes");
    // Every string is double-quoted, so a YAML 1.1 reader gets the same values.
    assert!(
        out.contains(r#"{"detail": {"n": [{"numeric": [">", 1.0e+16, "<", 1.0e+17]}"#),
        "{out}"
    );
    assert!(
        out.contains(r#"["yes", "on", "No", "12:30", "1_000", "2010-09-09""#),
        "{out}"
    );
    let name = p["Name"].as_str().unwrap();
    assert_eq!(name.len(), 64, "{name}");
    assert!(name.starts_with("trailguard-custom-very-long"), "{name}");
    let description = p["Description"].as_str().unwrap();
    assert_eq!(description.chars().count(), 512);
    assert!(description.ends_with("..."));
}

#[test]
fn bad_usage_and_help() {
    let (code, _, err) = export(&["--format", "terraform"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = export(&["--format", "eventbridge", "--no-builtin"]);
    assert_eq!(code, 2);
    assert!(err.contains("--no-builtin needs --rules DIR"), "{err}");
    let (_, help, _) = export(&["--help"]);
    for needle in [
        "Examples:",
        "Exit codes:",
        "prefilter_only",
        "TrailguardTargetArn",
        "64",
    ] {
        assert!(help.contains(needle), "missing {needle}");
    }
}
