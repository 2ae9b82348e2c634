//! Structural tests of the templates: parsed back as YAML, every rule of the pack is
//! there with its exact pattern and the right state, every reference resolves, and
//! the role can change nothing in the account unless remediation was asked for.
//! (`tests/deploy.rs` runs cfn-lint on the same templates.)

use std::collections::BTreeSet;

use serde_json::{json, Value};
use trailguard_core::rule::{builtin_sources, load_rules, Rule};

use super::central::REMEDIATION_ACTIONS;
use super::*;

fn pack() -> Vec<Rule> {
    load_rules(builtin_sources().iter().map(|(n, t)| (n.to_string(), *t))).unwrap()
}

fn options(allow_remediation: bool) -> TemplateOptions {
    TemplateOptions {
        central_region: "us-east-1".into(),
        arch: "arm64",
        memory: 256,
        timeout: 60,
        url_env: "DISCORD_WEBHOOK_URL",
        log_retention: 90,
        allow_remediation,
    }
}

fn deployed(rules: &[Rule]) -> Vec<DeployedRule<'_>> {
    rules
        .iter()
        .map(|r| {
            let exported = ExportedRule::of(r).unwrap();
            DeployedRule {
                state: if needs_all_management_events(exported.event_pattern) {
                    "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
                } else {
                    "ENABLED"
                },
                exported,
            }
        })
        .collect()
}

fn parse(text: &str) -> Value {
    serde_norway::from_str(text).unwrap_or_else(|e| panic!("not YAML: {e}\n{text}"))
}

fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().unwrap()
}

/// Every `Ref`, `Fn::GetAtt` and `${X}` in `Fn::Sub` names a resource, a parameter
/// or a pseudo parameter; every `Condition` and `Fn::If` a condition.
fn check_references(t: &Value) {
    let mut known: BTreeSet<String> = resources(t).keys().cloned().collect();
    if let Some(p) = t["Parameters"].as_object() {
        known.extend(p.keys().cloned());
    }
    let conditions: BTreeSet<String> = t["Conditions"]
        .as_object()
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    fn walk(v: &Value, known: &BTreeSet<String>, conditions: &BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("Ref", Value::String(name)) => assert!(
                            name.starts_with("AWS::") || known.contains(name),
                            "Ref to unknown {name}"
                        ),
                        ("Fn::GetAtt", Value::Array(a)) => {
                            let name = a[0].as_str().unwrap();
                            assert!(known.contains(name), "GetAtt of unknown {name}");
                        }
                        ("Fn::Sub", Value::String(s)) => {
                            for part in s.split("${").skip(1) {
                                let name = part.split('}').next().unwrap();
                                assert!(
                                    name.starts_with("AWS::") || known.contains(name),
                                    "Sub of unknown {name}"
                                );
                            }
                        }
                        ("Fn::If", Value::Array(a)) => {
                            let c = a[0].as_str().unwrap();
                            assert!(conditions.contains(c), "If on unknown condition {c}");
                        }
                        ("Condition", Value::String(c)) => {
                            assert!(conditions.contains(c), "unknown condition {c}")
                        }
                        _ => {}
                    }
                    walk(x, known, conditions);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, known, conditions)),
            _ => {}
        }
    }
    walk(&t["Resources"], &known, &conditions);
    walk(&t["Outputs"], &known, &conditions);
    walk(&t["Rules"], &known, &conditions);
}

/// Every IAM action the template's roles are granted.
fn granted_actions(t: &Value) -> Vec<String> {
    let mut actions = Vec::new();
    for (_, r) in resources(t) {
        if r["Type"] != "AWS::IAM::Role" {
            continue;
        }
        for policy in r["Properties"]["Policies"].as_array().unwrap() {
            for stmt in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                let stmt = stmt.get("Fn::If").map(|i| &i[1]).unwrap_or(stmt);
                match &stmt["Action"] {
                    Value::String(a) => actions.push(a.clone()),
                    Value::Array(a) => {
                        actions.extend(a.iter().map(|x| x.as_str().unwrap().to_owned()))
                    }
                    other => panic!("statement without actions: {other}"),
                }
            }
        }
    }
    actions
}

#[test]
fn the_central_template_carries_every_rule_of_the_pack() {
    let rules = pack();
    let d = deployed(&rules);
    let t = parse(&central::template(&d, &options(false)));
    check_references(&t);
    let events: Vec<&Value> = resources(&t)
        .values()
        .filter(|r| r["Type"] == "AWS::Events::Rule")
        .collect();
    assert_eq!(events.len(), rules.len());
    for r in &d {
        let name = export::rule_name(r.exported.rule);
        let found = events
            .iter()
            .find(|e| e["Properties"]["Name"] == name.as_str())
            .unwrap_or_else(|| panic!("no EventBridge rule {name}"));
        let p = &found["Properties"];
        assert_eq!(&p["EventPattern"], r.exported.event_pattern, "{name}");
        assert_eq!(p["State"], r.state, "{name}");
        let target = &p["Targets"][0];
        assert_eq!(
            target["Arn"],
            json!({"Fn::GetAtt": ["TrailguardFunction", "Arn"]})
        );
        assert_eq!(target["RetryPolicy"]["MaximumRetryAttempts"], 185);
        assert_eq!(
            target["DeadLetterConfig"]["Arn"],
            json!({"Fn::GetAtt": ["TrailguardDeadLetterQueue", "Arn"]})
        );
    }
    let res = resources(&t);
    let f = &res["TrailguardFunction"]["Properties"];
    assert_eq!(f["Runtime"], "provided.al2023");
    assert_eq!(f["Handler"], "bootstrap");
    assert_eq!(f["Architectures"], json!(["arm64"]));
    assert!(f["Environment"]["Variables"]["DISCORD_WEBHOOK_URL_SECRET_ARN"].is_object());
    let table = &res["TrailguardStateTable"]["Properties"];
    assert_eq!(
        table["KeySchema"],
        json!([{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    );
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"],
        "expires_at"
    );
    let mapping = &res["TrailguardObjectEventSource"]["Properties"];
    assert_eq!(
        mapping["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(
        res["TrailguardObjectQueue"]["Properties"]["VisibilityTimeout"],
        360
    );
    assert_eq!(
        res["TrailguardEventInvokeConfig"]["Properties"]["DestinationConfig"]["OnFailure"]
            ["Destination"],
        json!({"Fn::GetAtt": ["TrailguardDeadLetterQueue", "Arn"]})
    );
    assert_eq!(
        t["Rules"]["CentralRegion"]["Assertions"][0]["Assert"],
        json!({"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]})
    );
}

#[test]
fn read_only_rules_get_all_management_events() {
    let rules = pack();
    let d = deployed(&rules);
    let state = |id: &str| d.iter().find(|r| r.exported.rule == id).unwrap().state;
    let all = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS";
    for id in [
        "aws-sts-get-caller-identity-long-term-key",
        "aws-recon-enumeration-burst",
        "aws-recon-offensive-user-agent",
        "aws-key-new-source-ip",
        "aws-secretsmanager-secret-read",
    ] {
        assert_eq!(state(id), all, "{id}");
    }
    for id in [
        "aws-iam-user-created",
        "aws-iam-access-key-created",
        "aws-health-credentials-exposed",
        "aws-guardduty-finding-iam-credentials",
        "aws-cloudtrail-logging-stopped",
    ] {
        assert_eq!(state(id), "ENABLED", "{id}");
    }
    assert!(readonly::is_read_name("GetCallerIdentity"));
    assert!(readonly::is_read_name("ListUsers"));
    assert!(!readonly::is_read_name("Listener"));
    assert!(!readonly::is_read_name("CreateAccessKey"));
    assert!(needs_all_management_events(
        &json!({"detail": {"readOnly": [true]}})
    ));
    assert!(!needs_all_management_events(
        &json!({"detail": {"readOnly": [false], "eventName": [{"prefix": "Get"}]}})
    ));
    assert!(needs_all_management_events(
        &json!({"detail": {"$or": [{"eventName": ["CreateUser"]}, {"userAgent": [{"prefix": "x"}]}]}})
    ));
}

#[test]
fn the_role_cannot_change_the_account_unless_asked() {
    let rules = pack();
    let d = deployed(&rules);
    let plain = granted_actions(&parse(&central::template(&d, &options(false))));
    for a in &plain {
        assert!(
            !REMEDIATION_ACTIONS.contains(&a.as_str()),
            "{a} granted without --allow-remediation"
        );
        assert!(
            !a.starts_with("iam:") && !a.starts_with("ec2:") && !a.contains('*'),
            "{a} granted"
        );
    }
    let t = parse(&central::template(&d, &options(true)));
    check_references(&t);
    let with = granted_actions(&t);
    for a in REMEDIATION_ACTIONS {
        assert!(
            with.iter().any(|g| g == a),
            "{a} missing with --allow-remediation"
        );
    }
}

#[test]
fn the_forwarder_sends_every_pattern_to_the_central_bus() {
    let rules = pack();
    let d = deployed(&rules);
    let mut o = options(false);
    o.central_region = "eu-central-1".into();
    let t = parse(&forwarder::template(&d, &o));
    check_references(&t);
    let res = resources(&t);
    assert!(!res.values().any(|r| r["Type"] == "AWS::Lambda::Function"));
    let events: Vec<&Value> = res
        .values()
        .filter(|r| r["Type"] == "AWS::Events::Rule")
        .collect();
    assert_eq!(events.len(), rules.len());
    for e in events {
        let target = &e["Properties"]["Targets"][0];
        assert_eq!(
            target["Arn"]["Fn::Sub"],
            "arn:${AWS::Partition}:events:${CentralRegion}:${AWS::AccountId}:event-bus/default"
        );
        assert_eq!(
            target["RoleArn"],
            json!({"Fn::GetAtt": ["ForwarderRole", "Arn"]})
        );
    }
    assert_eq!(t["Parameters"]["CentralRegion"]["Default"], "eu-central-1");
    assert_eq!(granted_actions(&t), ["events:PutEvents"]);
}

#[test]
fn region_names() {
    for ok in [
        "us-east-1",
        "eu-central-2",
        "us-gov-west-1",
        "cn-north-1",
        "ap-southeast-5",
    ] {
        assert!(is_region(ok), "{ok}");
    }
    for bad in ["us-east", "US-EAST-1", "us-east-1a", "", "us--1", "useast1"] {
        assert!(!is_region(bad), "{bad}");
    }
}
