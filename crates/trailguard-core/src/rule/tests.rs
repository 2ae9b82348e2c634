use super::*;
use crate::Event;

#[test]
fn builtin_pack_loads_and_passes_its_own_tests() {
    let rules = builtin_rules().unwrap();
    assert!(rules.len() >= 2);
    let failures: Vec<String> = rules.iter().flat_map(Rule::self_test).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn key_creation_severity_follows_context() {
    let rules = builtin_rules().unwrap();
    let rule = rules
        .iter()
        .find(|r| r.id() == "aws-iam-access-key-created")
        .unwrap();
    let sev = |json: &str| {
        let ev = Event::from_json(json.as_bytes()).unwrap();
        assert!(rule.pattern.matches(&ev), "{json}");
        rule.severity_for(&ev)
    };
    let console_self = r#"{"eventType":"AwsApiCall","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","sessionCredentialFromConsole":"true","userIdentity":{"type":"IAMUser","userName":"alice","accessKeyId":"ASIAX"},"requestParameters":{"userName":"alice"}}"#;
    // Rotation from a console session: routine, for oneself or for another user.
    assert_eq!(sev(console_self).0, Severity::Medium);
    let console_other = console_self.replace(
        r#""requestParameters":{"userName":"alice"}"#,
        r#""requestParameters":{"userName":"bob"}"#,
    );
    assert_eq!(sev(&console_other).0, Severity::Medium);
    // For another user outside the console (a role, say): high.
    let role_other = console_other
        .replace(r#""sessionCredentialFromConsole":"true","#, "")
        .replace(r#""type":"IAMUser""#, r#""type":"AssumedRole""#)
        .replace("ASIAX", "");
    let (s, reasons) = sev(&role_other);
    assert_eq!(s, Severity::High, "{reasons:?}");
    assert_eq!(
        reasons,
        ["key created for a different user than the caller, outside a console session"]
    );
    let by_key = r#"{"eventType":"AwsApiCall","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","userIdentity":{"type":"IAMUser","userName":"admin","accessKeyId":"AKIAX"},"requestParameters":{"userName":"admin"}}"#;
    let (s, reasons) = sev(by_key);
    assert_eq!(s, Severity::Critical);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
}

#[test]
fn bad_rules_are_rejected_with_origin_and_reason() {
    let ok = "id: x\ntitle: t\nseverity: low\nmatch: {detail: {eventName: [A]}}\nsummary: s\n";
    assert!(Rule::from_yaml(ok, "x.yml").is_ok());
    let cases = [
        ("id: x\ntitle: t\nseverity: urgent\nmatch: {a: [1]}\nsummary: s\n", "x.yml: not a valid rule"),
        ("id: x\ntitle: t\nseverity: low\nmatch: {a: 1}\nsummary: s\n", "`match`"),
        ("id: X Y\ntitle: t\nseverity: low\nmatch: {a: [1]}\nsummary: s\n", "lowercase"),
        ("id: x\ntitle: t\nseverity: low\nmatch: {a: [1]}\nsummary: \"{detail.responseElements.credentials.sessionToken}\"\n", "credential"),
        ("id: x\ntitle: t\nseverity: low\nmatch: {a: [1]}\nsummary: s\nbogus: 1\n", "unknown field"),
        ("::: not yaml", "not a valid rule"),
    ];
    for (yaml, needle) in cases {
        let err = Rule::from_yaml(yaml, "x.yml").unwrap_err().to_string();
        assert!(err.contains(needle), "{yaml}\n=> {err}");
    }
    let dup = load_rules([("a.yml".to_string(), ok), ("b.yml".to_string(), ok)]).unwrap_err();
    assert!(dup
        .to_string()
        .contains("duplicate rule id `x` in a.yml and b.yml"));
}

#[test]
fn self_test_catches_a_wrong_expectation() {
    let yaml = "id: x\ntitle: t\nseverity: low\nmatch: {detail: {eventName: [A]}}\nsummary: s\ntests:\n  match: [{eventName: B}]\n";
    let rule = Rule::from_yaml(yaml, "x.yml").unwrap();
    assert_eq!(rule.self_test(), ["x: test event 1 should match"]);
}
