//! Sigma rules end to end: YAML in, the engine's detections out.

mod hostile;
mod stateful;

use super::*;
use crate::engine::Engine;
use crate::Event;

const ID: &str = "5f0c9a2e-1b7d-4c1e-9f3a-2d8e6b4a7c10";

/// A CloudTrail Sigma rule with this `detection:` body (indented by the caller's text).
fn sigma(detection: &str) -> String {
    let body: String = detection
        .trim_matches('\n')
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect();
    format!(
        "title: Test rule\nid: {ID}\nlevel: high\ntags: [attack.t1078]\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n{body}"
    )
}

fn load_one(text: &str) -> Loaded {
    load([("test.yml".to_owned(), text)])
}

fn compile(detection: &str) -> Rule {
    let loaded = load_one(&sigma(detection));
    assert!(loaded.skipped.is_empty(), "{:#?}", loaded.skipped);
    assert_eq!(loaded.rules.len(), 1);
    loaded.rules.into_iter().next().unwrap()
}

fn refused(detection: &str) -> String {
    let loaded = load_one(&sigma(detection));
    assert!(loaded.rules.is_empty(), "loaded: {detection}");
    assert_eq!(loaded.skipped.len(), 1);
    loaded.skipped[0].reason.clone()
}

/// A bare CloudTrail record with these fields added (JSON members, no braces).
fn record(extra: &str) -> String {
    let base = r#""eventVersion":"1.09","eventTime":"2024-05-01T12:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.10","userAgent":"aws-cli/2.15.0","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/admin","accessKeyId":"AKIAEXAMPLE000000001","userName":"admin"},"requestParameters":{"name":"main-trail"},"responseElements":null,"eventID":"e1","eventType":"AwsApiCall","recipientAccountId":"111122223333""#;
    let mut fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&format!("{{{base}}}")).unwrap();
    if !extra.is_empty() {
        let more: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&format!("{{{extra}}}")).unwrap();
        fields.extend(more);
    }
    serde_json::Value::Object(fields).to_string()
}

/// Whether the rule alerts on the record: its pre-filter and its detection.
fn fires(rule: &Rule, json: &str) -> bool {
    let ev = Event::from_json(json.as_bytes()).unwrap();
    let by_detection = rule.passes(Stage::Alert, &ev);
    if by_detection {
        assert!(
            rule.pattern.matches(&ev),
            "the pre-filter must let through what the detection matches: {json}"
        );
    }
    by_detection
}

#[test]
fn fields_are_anded_lists_ored_case_insensitive() {
    let rule = compile(
        "
selection:
    eventSource: cloudtrail.amazonaws.com
    eventName:
        - StopLogging
        - DeleteTrail
condition: selection",
    );
    assert_eq!(rule.id(), format!("sigma-{ID}"));
    assert_eq!(rule.spec.severity, Severity::High);
    assert_eq!(rule.spec.tags, ["attack.t1078"]);
    assert!(fires(&rule, &record("")));
    assert!(fires(&rule, &record(r#""eventName":"deletetrail""#)));
    assert!(fires(
        &rule,
        &record(r#""eventSource":"CLOUDTRAIL.amazonaws.com""#)
    ));
    assert!(!fires(&rule, &record(r#""eventName":"StartLogging""#)));
    assert!(!fires(
        &rule,
        &record(r#""eventSource":"s3.amazonaws.com""#)
    ));
    // The pre-filter is case-insensitive too, so lowercased names reach the detection.
    let ev = record(r#""eventName":"stoplogging""#);
    assert!(rule
        .pattern
        .matches(&Event::from_json(ev.as_bytes()).unwrap()));
}

#[test]
fn lists_of_maps_are_ored_and_keys_are_record_paths() {
    let rule = compile(
        "
selection:
    - userIdentity.type: Root
    - additionalEventData.MFAUsed: 'NO'
      responseElements.ConsoleLogin: Success
condition: selection",
    );
    assert!(fires(&rule, &record(r#""userIdentity":{"type":"Root"}"#)));
    assert!(fires(
        &rule,
        &record(
            r#""additionalEventData":{"MFAUsed":"No"},"responseElements":{"ConsoleLogin":"Success"}"#
        )
    ));
    assert!(!fires(
        &rule,
        &record(
            r#""additionalEventData":{"MFAUsed":"Yes"},"responseElements":{"ConsoleLogin":"Success"}"#
        )
    ));
}

#[test]
fn wildcards_and_escapes() {
    let rule = compile(
        r"
selection:
    userAgent:
        - 'aws-cli/2.*'
        - 'Boto3/1.?? *'
        - 'lit\*eral'
        - 'back\\slash\?'
        - 'C:\Windows'
condition: selection",
    );
    let ua = |u: &str| record(&format!(r#""userAgent":{}"#, serde_json::json!(u)));
    assert!(fires(&rule, &ua("AWS-CLI/2.15.0 Python/3.11")));
    assert!(!fires(&rule, &ua("aws-cli/1.0")));
    assert!(fires(&rule, &ua("Boto3/1.34 Python")));
    assert!(!fires(&rule, &ua("Boto3/1.3 Python")));
    assert!(fires(&rule, &ua("lit*eral")));
    assert!(!fires(&rule, &ua("litteral")));
    assert!(fires(&rule, &ua("back\\slash?")));
    assert!(!fires(&rule, &ua("back\\slashx")));
    assert!(fires(&rule, &ua("c:\\windows")));
}

#[test]
fn string_modifiers_and_cased() {
    let rule = compile(
        "
contains:
    userAgent|contains: TruffleHog
starts:
    eventName|startswith: Stop
ends:
    userIdentity.arn|endswith: ':user/ADMIN'
cased:
    userAgent|cased: Exact
condition: 1 of them",
    );
    assert!(fires(
        &rule,
        &record(r#""eventName":"X","userAgent":"x trufflehog y""#)
    ));
    assert!(fires(&rule, &record(r#""eventName":"stopInstances""#)));
    assert!(
        fires(&rule, &record(r#""eventName":"X""#)),
        "endswith, ignoring case"
    );
    assert!(fires(
        &rule,
        &record(r#""eventName":"X","userIdentity":{"arn":"z"},"userAgent":"Exact""#)
    ));
    assert!(!fires(
        &rule,
        &record(r#""eventName":"X","userIdentity":{"arn":"z"},"userAgent":"exact""#)
    ));
}

#[test]
fn all_modifier_and_objects_searched_inside() {
    let rule = compile(
        r#"
selection:
    eventName: PutUserPolicy
    requestParameters|contains|all:
        - '"s3:GetObject"'
        - '"Allow"'
condition: selection"#,
    );
    let policy = |doc: &str| {
        record(&format!(
            r#""eventName":"PutUserPolicy","requestParameters":{{"userName":"u","policyDocument":{}}}"#,
            serde_json::json!(doc)
        ))
    };
    assert!(fires(
        &rule,
        &policy(r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}"#)
    ));
    assert!(!fires(
        &rule,
        &policy(r#"{"Statement":[{"Effect":"Deny","Action":"s3:GetObject"}]}"#)
    ));
    let nested = compile(
        "
selection:
    requestParameters|contains: suspended
condition: selection",
    );
    assert!(fires(
        &nested,
        &record(r#""requestParameters":{"VersioningConfiguration":{"Status":"Suspended"}}"#)
    ));
    assert!(!fires(&nested, &record("")));
}

#[test]
fn null_absent_empty_and_exists() {
    let rule = compile(
        "
sel:
    eventName: StopLogging
ok_success:
    errorCode: Success
ok_null:
    errorCode: null
condition: sel and 1 of ok_*",
    );
    assert!(fires(&rule, &record("")), "absent");
    assert!(fires(&rule, &record(r#""errorCode":null"#)));
    assert!(fires(&rule, &record(r#""errorCode":"success""#)));
    assert!(!fires(&rule, &record(r#""errorCode":"AccessDenied""#)));
    let exists = compile(
        "
sel:
    requestParameters.name|exists: true
empty:
    errorMessage: ''
condition: sel or empty",
    );
    assert!(
        fires(&exists, &record(r#""requestParameters":{"name":null}"#)),
        "null is present"
    );
    assert!(!fires(&exists, &record(r#""requestParameters":{}"#)));
    assert!(fires(&exists, &record(r#""errorMessage":"""#)));
    let absent = compile("sel:\n    errorCode|exists: false\ncondition: sel");
    assert!(fires(&absent, &record("")) && !fires(&absent, &record(r#""errorCode":"X""#)));
}

#[test]
fn numbers_and_booleans_compare_as_text() {
    let rule = compile(
        "
sel:
    requestParameters.fromPort: 22
    responseElements.publiclyAccessible: true
condition: sel",
    );
    assert!(fires(
        &rule,
        &record(
            r#""requestParameters":{"fromPort":22},"responseElements":{"publiclyAccessible":true}"#
        )
    ));
    assert!(fires(
        &rule,
        &record(
            r#""requestParameters":{"fromPort":"22"},"responseElements":{"publiclyAccessible":"True"}"#
        )
    ));
    assert!(!fires(
        &rule,
        &record(
            r#""requestParameters":{"fromPort":220},"responseElements":{"publiclyAccessible":true}"#
        )
    ));
    let quoted = compile("sel:\n    requestParameters.enable: 'false'\ncondition: sel");
    assert!(fires(
        &quoted,
        &record(r#""requestParameters":{"enable":false}"#)
    ));
    let numeric = compile("sel:\n    requestParameters.fromPort|lt: 1024\ncondition: sel");
    assert!(fires(
        &numeric,
        &record(r#""requestParameters":{"fromPort":22}"#)
    ));
    assert!(fires(
        &numeric,
        &record(r#""requestParameters":{"fromPort":"80"}"#)
    ));
    assert!(!fires(
        &numeric,
        &record(r#""requestParameters":{"fromPort":8080}"#)
    ));
}

#[test]
fn regex_cidr_fieldref_neq() {
    let re = compile("sel:\n    userIdentity.arn|re: ':user/adm[i]n$'\ncondition: sel");
    assert!(fires(&re, &record("")));
    assert!(
        !fires(&re, &record(r#""userIdentity":{"arn":"x:user/ADMIN"}"#)),
        "re is case-sensitive"
    );
    let re_i = compile("sel:\n    userIdentity.arn|re|i: ':user/admin$'\ncondition: sel");
    assert!(fires(
        &re_i,
        &record(r#""userIdentity":{"arn":"x:user/ADMIN"}"#)
    ));
    let cidr = compile("sel:\n    sourceIPAddress|cidr:\n        - 203.0.113.0/24\n        - 2001:db8::/32\n        - 198.51.100.7/32\ncondition: sel");
    assert!(fires(&cidr, &record("")));
    assert!(fires(&cidr, &record(r#""sourceIPAddress":"2001:db8::1""#)));
    assert!(fires(&cidr, &record(r#""sourceIPAddress":"198.51.100.7""#)));
    assert!(!fires(
        &cidr,
        &record(r#""sourceIPAddress":"198.51.100.8""#)
    ));
    assert!(!fires(
        &cidr,
        &record(r#""sourceIPAddress":"AWS Internal""#)
    ));
    let fieldref = compile(
        "
sel:
    eventName: StopLogging
same:
    userIdentity.userName|fieldref: requestParameters.name
condition: sel and not same",
    );
    assert!(fires(&fieldref, &record("")));
    assert!(!fires(
        &fieldref,
        &record(r#""requestParameters":{"name":"ADMIN"}"#)
    ));
    let contains_ref = compile(
        "sel:\n    userIdentity.arn|fieldref|endswith: requestParameters.name\ncondition: sel",
    );
    assert!(fires(
        &contains_ref,
        &record(r#""requestParameters":{"name":"/Admin"}"#)
    ));
    let neq = compile(
        "sel:\n    userIdentity.type|neq:\n        - AssumedRole\n        - Root\ncondition: sel",
    );
    assert!(fires(&neq, &record("")));
    assert!(!fires(&neq, &record(r#""userIdentity":{"type":"root"}"#)));
    assert!(
        !fires(&neq, &record(r#""userIdentity":{"arn":"x"}"#)),
        "absent is not different"
    );
}

#[test]
fn keywords_search_every_value() {
    let rule = compile("keywords:\n    - main-TRAIL\n    - nothing-like-it\ncondition: keywords");
    assert!(fires(&rule, &record("")));
    assert!(!fires(
        &rule,
        &record(r#""requestParameters":{"name":"other"}"#)
    ));
    let all =
        compile("keywords:\n    '|all':\n        - admin\n        - us-east\ncondition: keywords");
    assert!(fires(&all, &record("")));
    assert!(!fires(&all, &record(r#""awsRegion":"eu-west-1""#)));
}

#[test]
fn conditions_in_a_list_are_ored() {
    let rule = compile(
        "
a:
    eventName: StopLogging
b:
    eventName: DeleteTrail
condition:
    - a
    - b",
    );
    assert!(fires(&rule, &record("")));
    assert!(fires(&rule, &record(r#""eventName":"DeleteTrail""#)));
    assert!(!fires(&rule, &record(r#""eventName":"UpdateTrail""#)));
    let nested = compile(
        "
a:
    eventName: StopLogging
b:
    userIdentity.type: IAMUser
c:
    sourceIPAddress: 203.0.113.10
condition: a and (not b or (c and not (b and not c)))",
    );
    assert!(fires(&nested, &record("")));
    assert!(!fires(
        &nested,
        &record(r#""sourceIPAddress":"198.51.100.1""#)
    ));
}

#[test]
fn ids_titles_and_levels_map_to_alerts() {
    let text = "title: No id here\nlevel: informational\nfields: [userIdentity.arn, requestParameters.password]\nlogsource: {product: AWS, service: CloudTrail}\ndetection: {s: {eventName: StopLogging}, condition: s}\n";
    let loaded = load([("dir/My Rule.yml".to_owned(), text)]);
    let rule = &loaded.rules[0];
    assert_eq!(rule.id(), "sigma-my-rule");
    assert_eq!(rule.spec.severity, Severity::Info);
    assert_eq!(rule.sigma.as_ref().unwrap().sigma_id, None);
    assert_eq!(rule.spec.summary, SUMMARY);
    let context: Vec<&str> = rule.context.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        context,
        ["userIdentity.arn"],
        "credentials are never carried"
    );
    let engine = Engine::new(loaded.rules);
    let json = record("");
    let mut out = Vec::new();
    engine.detect(&Event::from_json(json.as_bytes()).unwrap(), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].summary,
        "arn:aws:iam::111122223333:user/admin called StopLogging from 203.0.113.10"
    );
    // Two rules with one id: the second is reported.
    let dup = sigma("s:\n    eventName: X\ncondition: s");
    let loaded = load([
        ("a.yml".to_owned(), dup.as_str()),
        ("b.yml".to_owned(), dup.as_str()),
    ]);
    assert_eq!(loaded.rules.len(), 1);
    assert!(
        loaded.skipped[0].reason.contains("duplicate id"),
        "{:?}",
        loaded.skipped
    );
}
