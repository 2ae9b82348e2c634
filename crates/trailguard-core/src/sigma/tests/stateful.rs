//! Correlations (Sigma 2 rules, Sigma 1 aggregations) judged as stateful rules.

use super::*;
use crate::correlate::Collector;
use crate::state::MemoryStore;

/// Detections after the stateful judging, as (rule id, event id).
fn judged(rules: Vec<Rule>, events: &[String]) -> Vec<(String, String)> {
    let engine = Engine::new(rules);
    let mut collector = Collector::new();
    for e in events {
        let mut out = Vec::new();
        engine.detect(&Event::from_json(e.as_bytes()).unwrap(), &mut out);
        for d in out {
            collector.add(d, engine.rules());
        }
    }
    let mut found: Vec<(String, String)> = collector
        .judge(engine.rules(), &mut MemoryStore::new())
        .unwrap()
        .into_iter()
        .map(|d| (engine.rules()[d.rule].id().to_owned(), d.event_id))
        .collect();
    found.sort();
    found
}

fn at(minute: u32, id: &str, extra: &str) -> String {
    let time = format!(r#""eventTime":"2024-05-01T12:{minute:02}:00Z","eventID":"{id}""#);
    record(&if extra.is_empty() {
        time
    } else {
        format!("{time},{extra}")
    })
}

#[test]
fn sigma_1_count_becomes_a_threshold() {
    let rule = compile(
        "
sel:
    eventName|startswith: List
timeframe: 10m
condition: sel | count() by sourceIPAddress > 2",
    );
    assert!(rule.stateful.is_some());
    let list = |m, id: &str, ip: &str| {
        at(
            m,
            id,
            &format!(r#""eventName":"ListUsers","sourceIPAddress":"{ip}""#),
        )
    };
    let events = vec![
        list(0, "a", "203.0.113.1"),
        list(1, "b", "203.0.113.1"),
        list(2, "c", "203.0.113.2"),
        at(3, "noise", ""),
        list(4, "d", "203.0.113.1"),
    ];
    let found = judged(vec![rule.clone()], &events);
    assert_eq!(found, [(rule.id().to_owned(), "d".to_owned())]);
    let found = judged(vec![rule], &events[..4]);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn sigma_2_correlations_become_stateful_rules() {
    let text = format!(
        "title: Trail stopped
id: 11111111-0000-4000-8000-000000000001
name: trail_stopped
level: low
logsource: {{product: aws, service: cloudtrail}}
detection: {{s: {{eventName: StopLogging}}, condition: s}}
---
title: Bucket deleted
name: bucket_deleted
logsource: {{product: aws, service: cloudtrail}}
detection: {{s: {{eventName: DeleteBucket}}, condition: s}}
---
title: Trail stopped, then a bucket deleted
id: {ID}
level: critical
correlation:
    type: temporal_ordered
    rules: [trail_stopped, bucket_deleted]
    group-by: [userIdentity.arn]
    timespan: 10m
---
title: Trail stopped twice
id: 22222222-0000-4000-8000-000000000002
correlation:
    type: event_count
    rules: [11111111-0000-4000-8000-000000000001]
    timespan: 1h
    condition: {{gte: 2}}
"
    );
    let loaded = load_one(&text);
    assert!(loaded.skipped.is_empty(), "{:#?}", loaded.skipped);
    let ids: Vec<&str> = loaded.rules.iter().map(Rule::id).collect();
    // The detection rules only feed the correlations (`generate` is false by default).
    assert_eq!(
        ids,
        [
            format!("sigma-{ID}").as_str(),
            "sigma-22222222-0000-4000-8000-000000000002"
        ]
    );
    assert_eq!(loaded.correlated_only.len(), 2);
    assert_eq!(
        loaded.rules[1].spec.severity,
        Severity::Low,
        "from the counted rule"
    );
    let events = vec![
        at(0, "stop1", ""),
        at(5, "del", r#""eventName":"DeleteBucket""#),
        at(30, "del2", r#""eventName":"DeleteBucket""#),
        at(40, "stop2", ""),
    ];
    let found = judged(loaded.rules, &events);
    assert_eq!(
        found,
        [
            (
                "sigma-22222222-0000-4000-8000-000000000002".to_owned(),
                "stop2".to_owned()
            ),
            (format!("sigma-{ID}"), "del".to_owned()),
        ]
    );
}

#[test]
fn unordered_pairs_run_both_ways() {
    let text = "title: Near
id: 33333333-0000-4000-8000-000000000003
logsource: {product: aws, service: cloudtrail}
detection:
    a: {eventName: StopLogging}
    b: {eventName: DeleteBucket}
    timeframe: 5m
    condition: a | near b
";
    let loaded = load_one(text);
    let ids: Vec<&str> = loaded.rules.iter().map(Rule::id).collect();
    assert_eq!(
        ids,
        [
            "sigma-33333333-0000-4000-8000-000000000003",
            "sigma-33333333-0000-4000-8000-000000000003-reversed"
        ]
    );
    let del_first = vec![
        at(0, "del", r#""eventName":"DeleteBucket""#),
        at(3, "stop", ""),
    ];
    assert_eq!(
        judged(loaded.rules.clone(), &del_first),
        [(ids[1].to_owned(), "stop".to_owned())]
    );
    let too_late = vec![
        at(0, "stop", ""),
        at(9, "del", r#""eventName":"DeleteBucket""#),
    ];
    assert!(judged(loaded.rules.clone(), &too_late).is_empty());
    let temporal = text.replace("timeframe: 5m\n    condition: a | near b", "condition: a");
    let temporal = format!(
        "{}---\ntitle: either order\ncorrelation: {{type: temporal, rules: [x, y], timespan: 5m}}\n",
        temporal.replace("title: Near", "title: Near\nname: x")
    );
    let loaded = load_one(&temporal);
    assert!(
        loaded
            .skipped
            .iter()
            .any(|s| s.reason.contains("rule `y`, which is not among")),
        "{:?}",
        loaded.skipped
    );
}

#[test]
fn generate_true_keeps_the_referenced_rule_alerting() {
    let text = "title: Trail stopped
name: stopped
logsource: {product: aws, service: cloudtrail}
detection: {s: {eventName: StopLogging}, condition: s}
---
title: Stopped three times by one caller
id: 44444444-0000-4000-8000-000000000004
generate: true
correlation:
    type: event_count
    rules: [stopped]
    group-by: [userIdentity.arn]
    timespan: 1h
    condition: {gt: 2}
";
    let loaded = load_one(text);
    assert!(loaded.skipped.is_empty(), "{:?}", loaded.skipped);
    assert!(loaded.correlated_only.is_empty());
    let ids: Vec<&str> = loaded.rules.iter().map(Rule::id).collect();
    assert_eq!(
        ids,
        [
            "sigma-stopped",
            "sigma-44444444-0000-4000-8000-000000000004"
        ]
    );
    let events: Vec<String> = (0..3).map(|m| at(m, &format!("e{m}"), "")).collect();
    let found = judged(loaded.rules, &events);
    let count = |id: &str| found.iter().filter(|(r, _)| r == id).count();
    assert_eq!(count("sigma-stopped"), 3);
    assert_eq!(count("sigma-44444444-0000-4000-8000-000000000004"), 1);
}
