use super::*;
use crate::engine::Engine;
use crate::rule::Rule;
use crate::state::MemoryStore;
use crate::Event;

const FIRST_SEEN: &str = r#"
id: t-new-ip
title: key used from a new IP
severity: high
match: {detail: {userIdentity: {accessKeyId: [{prefix: AKIA}]}}}
state: {first_seen: {value: detail.sourceIPAddress, per: detail.userIdentity.accessKeyId, learning: 1h}}
summary: "{detail.userIdentity.accessKeyId} from {detail.sourceIPAddress}"
tests: {match: [{eventSource: sts.amazonaws.com, userIdentity: {accessKeyId: AKIA1}}]}
"#;

const THRESHOLD: &str = r#"
id: t-denied-burst
title: burst of AccessDenied
severity: high
match: {detail: {errorCode: [{prefix: AccessDenied}, UnauthorizedOperation]}}
state: {threshold: {group_by: detail.userIdentity.accessKeyId, distinct: detail.eventName, at_least: 3, window: 10m}}
summary: "denied"
tests: {match: [{eventSource: s3.amazonaws.com, errorCode: AccessDenied}]}
"#;

const SEQUENCE: &str = r#"
id: t-created-key-used-elsewhere
title: created key used from elsewhere
severity: critical
match: {detail: {eventName: [CreateAccessKey], responseElements: {accessKey: {accessKeyId: [{exists: true}]}}}}
state:
  sequence:
    then: {detail: {userIdentity: {accessKeyId: [{prefix: AKIA}]}}}
    join: [detail.responseElements.accessKey.accessKeyId, detail.userIdentity.accessKeyId]
    differs: [detail.sourceIPAddress, detail.sourceIPAddress]
    within: 1d
summary: "used"
tests: {match: [{eventSource: iam.amazonaws.com, eventName: CreateAccessKey, responseElements: {accessKey: {accessKeyId: AKIANEW}}}]}
"#;

fn rules() -> Vec<Rule> {
    [FIRST_SEEN, THRESHOLD, SEQUENCE]
        .iter()
        .map(|t| Rule::from_yaml(t, "test").unwrap())
        .collect()
}

fn call(id: &str, minute: u32, key: &str, ip: &str, name: &str, error: Option<&str>) -> String {
    let err = error.map_or(String::new(), |e| format!(r#","errorCode":"{e}""#));
    format!(
        r#"{{"eventType":"AwsApiCall","eventSource":"iam.amazonaws.com","eventName":"{name}","eventID":"{id}","eventTime":"2024-05-01T{:02}:{:02}:00Z","sourceIPAddress":"{ip}","userIdentity":{{"type":"IAMUser","accessKeyId":"{key}"}}{err}}}"#,
        minute / 60,
        minute % 60
    )
}

fn create_key(id: &str, minute: u32, key: &str, ip: &str, new_key: &str) -> String {
    let base = call(id, minute, key, ip, "CreateAccessKey", None);
    format!(
        r#"{},"responseElements":{{"accessKey":{{"accessKeyId":"{new_key}"}}}}}}"#,
        &base[..base.len() - 1]
    )
}

/// Runs records through the engine in the given order, in `chunks` separate
/// collectors merged at the end (as threads do), and judges.
fn judge(records: &[String], chunks: usize) -> Vec<(String, String)> {
    let engine = Engine::new(rules());
    let mut collectors: Vec<Collector> = (0..chunks).map(|_| Collector::new()).collect();
    for (i, r) in records.iter().enumerate() {
        let mut found = Vec::new();
        engine.detect(&Event::from_json(r.as_bytes()).unwrap(), &mut found);
        for d in found {
            collectors[i % chunks].add(d, engine.rules());
        }
    }
    let mut all = Collector::new();
    for c in collectors {
        all.merge(c);
    }
    let mut out: Vec<(String, String)> = all
        .judge(engine.rules(), &mut MemoryStore::new())
        .unwrap()
        .into_iter()
        .map(|d| (engine.rules()[d.rule].id().to_owned(), d.event_id))
        .collect();
    out.sort();
    out
}

#[test]
fn first_seen_after_learning() {
    let records = vec![
        call("a", 0, "AKIA1", "10.0.0.1", "GetUser", None),
        call("b", 30, "AKIA1", "10.0.0.2", "GetUser", None), // new, but still learning
        call("c", 90, "AKIA1", "10.0.0.1", "GetUser", None), // known
        call("d", 95, "AKIA1", "198.51.100.7", "GetCallerIdentity", None), // new: alert
        call("e", 96, "AKIA1", "198.51.100.7", "ListUsers", None), // seen now
        call("f", 97, "AKIA2", "198.51.100.7", "GetUser", None), // a new key: learning
    ];
    let want = vec![("t-new-ip".to_owned(), "d".to_owned())];
    assert_eq!(judge(&records, 1), want);
    let mut reversed = records.clone();
    reversed.reverse();
    assert_eq!(judge(&reversed, 3), want, "order and threads do not matter");
}

#[test]
fn threshold_counts_distinct_within_the_window() {
    let denied =
        |id: &str, m: u32, name: &str| call(id, m, "AKIA9", "10.0.0.9", name, Some("AccessDenied"));
    let records = vec![
        denied("a", 0, "ListUsers"),
        denied("b", 1, "ListUsers"),
        denied("c", 2, "ListRoles"),
        denied("d", 30, "ListBuckets"), // a, b, c left the window
        denied("e", 31, "ListKeys"),
        denied("f", 32, "ListSecrets"), // third distinct within 10m: crossing
        denied("g", 33, "ListSecrets"),
    ];
    let got = judge(&records, 1);
    let ids: Vec<&str> = got
        .iter()
        .filter(|(r, _)| r == "t-denied-burst")
        .map(|(_, e)| e.as_str())
        .collect();
    assert_eq!(ids, ["f", "g"]);
}

#[test]
fn sequence_joins_a_created_key_to_its_use_elsewhere() {
    let records = vec![
        create_key("create", 10, "AKIAOLD", "198.51.100.7", "AKIANEW"),
        call("same-ip", 11, "AKIANEW", "198.51.100.7", "ListUsers", None),
        call("elsewhere", 12, "AKIANEW", "203.0.113.9", "ListUsers", None),
        call("before", 5, "AKIANEW", "203.0.113.9", "ListUsers", None), // before creation
        call(
            "unrelated",
            12,
            "AKIAOTHER",
            "203.0.113.9",
            "ListUsers",
            None,
        ),
    ];
    let seq: Vec<(String, String)> = judge(&records, 2)
        .into_iter()
        .filter(|(r, _)| r == "t-created-key-used-elsewhere")
        .collect();
    assert_eq!(
        seq,
        [("t-created-key-used-elsewhere".into(), "elsewhere".into())]
    );
}

#[test]
fn collection_is_bounded() {
    let engine = Engine::new(rules());
    let mut c = Collector::new();
    for i in 0..5000u32 {
        let r = call(
            &format!("e{i}"),
            i % 50,
            "AKIAZ",
            "10.0.0.1",
            "ListUsers",
            Some("AccessDenied"),
        );
        let mut found = Vec::new();
        engine.detect(&Event::from_json(r.as_bytes()).unwrap(), &mut found);
        for d in found {
            c.add(d, engine.rules());
        }
    }
    // first_seen keeps one detection per (key, value); threshold keeps marks and a
    // few samples; nothing else.
    assert_eq!(c.first_seen.len(), 1);
    let samples: usize = c
        .samples
        .values()
        .map(|s| s.earliest.len() + s.latest.len())
        .sum();
    assert!(samples <= 2 * SAMPLES_PER_BUCKET, "{samples}");
    assert_eq!(c.marks.values().map(Vec::len).sum::<usize>(), 5000);
}

#[test]
fn detections_from_a_freshly_seen_address_are_raised() {
    const PLAIN: &str = r#"
id: t-create-key
title: key created
severity: medium
match: {detail: {eventName: [CreateAccessKey]}}
summary: "created"
tests: {match: [{eventSource: iam.amazonaws.com, eventName: CreateAccessKey}]}
"#;
    let mut all = rules();
    all.push(Rule::from_yaml(PLAIN, "test").unwrap());
    let engine = Engine::new(all);
    let records = [
        call("a", 0, "AKIA1", "10.0.0.1", "GetUser", None),
        create_key("office", 90, "AKIA1", "10.0.0.1", "AKIAX1"),
        call(
            "new",
            100,
            "AKIA1",
            "198.51.100.7",
            "GetCallerIdentity",
            None,
        ),
        create_key("fresh", 110, "AKIA1", "198.51.100.7", "AKIAX2"),
        create_key("late", 300, "AKIA1", "198.51.100.7", "AKIAX3"),
    ];
    let mut c = Collector::new();
    for r in &records {
        let mut found = Vec::new();
        engine.detect(&Event::from_json(r.as_bytes()).unwrap(), &mut found);
        for d in found {
            c.add(d, engine.rules());
        }
    }
    let out = c.judge(engine.rules(), &mut MemoryStore::new()).unwrap();
    let severity = |id: &str| {
        out.iter()
            .find(|d| d.event_id == id && engine.rules()[d.rule].id() == "t-create-key")
            .map(|d| d.severity)
            .unwrap()
    };
    use crate::Severity;
    assert_eq!(severity("office"), Severity::Medium);
    assert_eq!(
        severity("fresh"),
        Severity::High,
        "ten minutes after the new address"
    );
    assert_eq!(severity("late"), Severity::Medium, "over an hour later");
}

#[test]
fn a_flood_of_plain_detections_is_held_per_alert_not_per_event() {
    const PLAIN: &str = r#"
id: t-any-list
title: any list call
severity: low
match: {detail: {eventName: [ListUsers]}}
summary: "listed"
tests: {match: [{eventSource: iam.amazonaws.com, eventName: ListUsers}]}
"#;
    let rules = vec![Rule::from_yaml(PLAIN, "test").unwrap()];
    let engine = Engine::new(rules);
    let mut c = Collector::new();
    let n = 500u32;
    // Arrival order scrambled; one call in ten failed; all within one hour.
    for i in (0..n).map(|i| (i * 7919) % n) {
        let error = (i % 10 == 0).then_some("AccessDenied");
        let r = call(
            &format!("e{i:04}"),
            i % 50,
            "AKIA1",
            "10.0.0.1",
            "ListUsers",
            error,
        );
        let mut found = Vec::new();
        engine.detect(&Event::from_json(r.as_bytes()).unwrap(), &mut found);
        for d in found {
            c.add(d, engine.rules());
        }
    }
    assert_eq!(c.held().0, KEPT_PER_HOUR);
    let out = c.judge(engine.rules(), &mut MemoryStore::new()).unwrap();
    let alerts = crate::fold::fold(out, engine.rules(), crate::fold::DEFAULT_WINDOW_MS);
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a.count, u64::from(n));
    assert_eq!(a.event_ids.len(), n as usize);
    assert_eq!(a.context["failed_calls"], 50);
    assert_eq!(a.time, "2024-05-01T00:00:00Z");
    assert_eq!(a.last_time, "2024-05-01T00:49:00Z");
    let mut ids = a.event_ids.clone();
    ids.dedup();
    assert_eq!(ids.len(), n as usize, "every eventID once");
}
