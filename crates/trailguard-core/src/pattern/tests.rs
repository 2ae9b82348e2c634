use super::*;
use serde_json::json;

fn m(pattern: serde_json::Value, event: serde_json::Value) -> bool {
    Pattern::from_value(&pattern).unwrap().matches(&event)
}

#[test]
fn the_original_rule() {
    let p = json!({"source":["aws.iam"],"detail-type":["AWS API Call via CloudTrail"],
        "detail":{"eventSource":["iam.amazonaws.com"],"eventName":["CreateAccessKey"]}});
    let ev = json!({"source":"aws.iam","detail-type":"AWS API Call via CloudTrail",
        "detail":{"eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey"}});
    assert!(m(p.clone(), ev));
    let other = json!({"source":"aws.iam","detail-type":"AWS API Call via CloudTrail",
        "detail":{"eventSource":"iam.amazonaws.com","eventName":"DeleteAccessKey"}});
    assert!(!m(p, other));
}

#[test]
fn operators() {
    let ev = json!({"k":"AKIAXYZ","n":300.0,"b":true,"z":null,"arr":["a","b"],"ua":"Aws-CLI/2"});
    assert!(m(json!({"k":[{"prefix":"AKIA"}]}), ev.clone()));
    assert!(!m(json!({"k":[{"prefix":"ASIA"}]}), ev.clone()));
    assert!(m(json!({"k":[{"suffix":"XYZ"}]}), ev.clone()));
    assert!(m(
        json!({"ua":[{"prefix":{"equals-ignore-case":"aws-cli"}}]}),
        ev.clone()
    ));
    assert!(m(
        json!({"ua":[{"equals-ignore-case":"aws-cli/2"}]}),
        ev.clone()
    ));
    assert!(m(json!({"n":[300]}), ev.clone()));
    assert!(!m(json!({"n":["300"]}), ev.clone()));
    assert!(m(json!({"n":[{"numeric":[">",100,"<=",300]}]}), ev.clone()));
    assert!(m(json!({"b":[true]}), ev.clone()));
    assert!(m(json!({"z":[null]}), ev.clone()));
    assert!(!m(json!({"missing":[null]}), ev.clone()));
    assert!(m(json!({"arr":["b"]}), ev.clone()));
    assert!(m(json!({"missing":[{"exists":false}]}), ev.clone()));
    assert!(!m(json!({"k":[{"exists":false}]}), ev.clone()));
    assert!(m(json!({"k":[{"exists":true}]}), ev.clone()));
    assert!(m(json!({"k":[{"anything-but":["x","y"]}]}), ev.clone()));
    assert!(!m(
        json!({"k":[{"anything-but":{"prefix":"AKIA"}}]}),
        ev.clone()
    ));
    assert!(!m(json!({"missing":[{"anything-but":"x"}]}), ev.clone()));
    assert!(m(json!({"a.b":["c"]}), json!({"a":{"b":"c"}})));
}

#[test]
fn rejects_with_path_and_reason() {
    let cases = [
        (json!([1]), "object"),
        (json!({"a":"x"}), "array"),
        (json!({"a":{"b":[]}}), "a.b"),
        (json!({"a":[{"prefix":1}]}), "prefix"),
        (json!({"a":[{"bogus":1}]}), "Unrecognized match type bogus"),
        (json!({"a":[{"numeric":[">"]}]}), "numeric"),
        (json!({"a":[{"exists":"yes"}]}), "exists"),
        (json!({}), "empty"),
    ];
    for (p, needle) in cases {
        let err = Pattern::from_value(&p).unwrap_err().to_string();
        assert!(err.contains(needle), "{p}: {err}");
    }
    assert!(matches!(Pattern::parse("{"), Err(PatternError::Json(_))));
    let big = format!("{{\"a\":[\"{}\"]}}", "x".repeat(3000));
    assert!(matches!(
        Pattern::parse(&big),
        Err(PatternError::TooLarge(_))
    ));
}

#[test]
fn index_files_conjuncts_under_their_most_selective_field() {
    let patterns = [
        json!({"source":["aws.iam"],"detail":{"eventName":["CreateUser","CreateAccessKey"]}}),
        json!({"detail":{"eventSource":["ec2.amazonaws.com"],"eventName":[{"prefix":"Run"}]}}),
        json!({"detail":{"errorCode":[{"prefix":"AccessDenied"}]}}),
        json!({"$or":[{"detail":{"eventName":["DeleteTrail"]}},{"detail":{"eventName":["StopLogging"]}}]}),
        json!({"detail":{"userAgent":[{"wildcard":"*kali*"}]}}),
    ];
    let index = PatternIndex::new(patterns.iter().map(|p| Pattern::from_value(p).unwrap()));
    let stats = index.stats();
    assert_eq!(stats.conjuncts, 6);
    // The eventName prefix files the EC2 rule under eventName, not its eventSource;
    // the errorCode prefix is a key too; only the wildcard is checked on every event.
    assert_eq!(stats.unindexed, 1, "{stats:?}");
    assert_eq!(
        stats.key_paths,
        vec!["detail.eventName", "detail.errorCode"]
    );
    let ev = |name: &str, source: &str, error: Option<&str>| {
        let mut d = json!({"eventName": name, "eventSource": source, "userAgent": "aws-cli"});
        if let Some(e) = error {
            d["errorCode"] = json!(e);
        }
        json!({"source": format!("aws.{}", source.split('.').next().unwrap()), "detail": d})
    };
    let cases = [
        (ev("CreateUser", "iam.amazonaws.com", None), vec![0]),
        (
            ev("CreateUser", "iam.amazonaws.com", Some("AccessDenied")),
            vec![0, 2],
        ),
        (ev("RunInstances", "ec2.amazonaws.com", None), vec![1]),
        (ev("StopLogging", "cloudtrail.amazonaws.com", None), vec![3]),
        (ev("GetObject", "s3.amazonaws.com", None), vec![]),
        (
            ev("Run", "ec2.amazonaws.com", Some("AccessDeniedException")),
            vec![1, 2],
        ),
        (ev("Ru", "ec2.amazonaws.com", Some("AccessDenie")), vec![]),
    ];
    for (event, want) in cases {
        assert_eq!(index.matching(&event), want, "{event}");
        let reference: Vec<usize> = patterns
            .iter()
            .enumerate()
            .filter(|(_, p)| Pattern::from_value(p).unwrap().matches(&event))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(reference, want);
    }
}

#[test]
fn equals_ignore_case_is_indexed_by_the_lowercased_value() {
    let patterns = [
        json!({"detail":{"eventSource":[{"equals-ignore-case":"CloudTrail.amazonaws.com"}],"eventName":[{"equals-ignore-case":"StopLogging"},{"equals-ignore-case":"DeleteTrail"}]}}),
        json!({"detail":{"eventName":[{"equals-ignore-case":"ÉLAN"}]}}),
        json!({"detail":{"eventName":["StopLogging"]}}),
    ];
    let index = PatternIndex::new(patterns.iter().map(|p| Pattern::from_value(p).unwrap()));
    let stats = index.stats();
    assert_eq!(stats.unindexed, 0, "{stats:?}");
    assert_eq!(stats.key_paths, vec!["detail.eventName"]);
    let ev = |name: &str| json!({"detail":{"eventName": name, "eventSource": "cloudtrail.amazonaws.com"}});
    for (event, want) in [
        (ev("StopLogging"), vec![0, 2]),
        (ev("stoplogging"), vec![0]),
        (ev("DELETETRAIL"), vec![0]),
        (ev("élan"), vec![1]),
        (ev("Élan"), vec![1]),
        (ev("elan"), vec![]),
        (ev("UpdateTrail"), vec![]),
    ] {
        assert_eq!(index.matching(&event), want, "{event}");
    }
}
