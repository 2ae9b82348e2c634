//! EventBridge conformance: the shared cases (`../shared/conformance/eventbridge`, read
//! at test time) and the project's own (`tests/data/eventbridge_*.jsonl`), each run
//! three ways that must agree: one pattern over a `serde_json::Value`, one pattern over
//! the borrowed `Event` the detection pipeline uses, and a `PatternIndex` holding the
//! pattern among others.

use std::path::{Path, PathBuf};

use serde_json::Value;
use trailguard_core::pattern::{Pattern, PatternError, PatternIndex};
use trailguard_core::Event;

fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/eventbridge")
}

fn own_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

struct Case {
    origin: String,
    name: String,
    pattern: Result<Pattern, PatternError>,
    pattern_text: String,
    event: Value,
    event_text: String,
    expected: Option<bool>,
    unsure: bool,
}

fn load(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (the shared conformance data must sit beside the clone)",
            path.display()
        )
    });
    let mut cases = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let origin = format!("{}:{}", path.display(), n + 1);
        let case: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{origin}: {e}"));
        // `pattern_raw` carries text JSON values cannot (a key given twice).
        let pattern_text = match case.get("pattern_raw") {
            Some(Value::String(raw)) => raw.clone(),
            _ => case["pattern"].to_string(),
        };
        let event = case["event"].clone();
        cases.push(Case {
            name: case["name"].as_str().unwrap_or("?").to_owned(),
            pattern: Pattern::parse(&pattern_text),
            pattern_text,
            event_text: event.to_string(),
            event,
            expected: case.get("match").and_then(Value::as_bool),
            unsure: case.get("unsure").and_then(Value::as_bool).unwrap_or(false),
            origin,
        });
    }
    cases
}

/// The cases the shared file marks `unsure`, with the answer we chose and why. Every
/// unsure case must be listed here, so a new one forces a decision.
const UNSURE: &[(&str, bool, &str)] = &[
    ("basic/number_exact_exponent_pattern", true,
     "numbers compare numerically: AWS verified [300] against 300.0, the same comparison"),
    ("basic/number_exact_exponent_event", true,
     "numbers compare numerically whatever their spelling (1e3 = 1000)"),
    ("arrays/consistency_fields_split_across_elements", false,
     "array-consistent matching: event-ruler's documented JSON behaviour, the engine EventBridge runs"),
    ("arrays/consistency_two_levels_split", false,
     "array-consistent matching at every array level (as above)"),
    ("eic/non_ascii_letters", true,
     "equals-ignore-case folds Unicode letters, as the guide's 'ignore case' promises"),
    ("anything_but/number_list_excluded_float_form", false,
     "anything-but numbers compare numerically, like exact numbers"),
    ("numeric/above_5e9", true,
     "the full double range, as current event-ruler; the old ±5e9 limit is no longer documented"),
    ("numeric/seven_decimals", true,
     "full double precision, as current event-ruler"),
    ("exists/false_array_consistent_with_sibling", false,
     "exists:false means no value at that path anywhere in the event (as the sure case \
      exists/false_array_of_objects_one_has_it requires), so a sibling array element's \
      accountId defeats it"),
    ("cidr/ipv6_in_range_compressed_form", true,
     "event addresses are parsed, so every spelling of an address is in its range"),
    ("cidr/exact_ipv6_pattern_normalised", true,
     "an exact string that is an IP address matches every spelling of that address \
      (event-ruler compiles it to a one-address range)"),
];

/// Patterns that share the index with the one under test, so that the index has to
/// pick among keys and candidates.
fn companions() -> Vec<Pattern> {
    [
        r#"{"detail":{"eventName":["CreateAccessKey","CreateUser"]}}"#,
        r#"{"source":["aws.iam"],"detail":{"eventSource":["iam.amazonaws.com"]}}"#,
        r#"{"detail":{"errorCode":[{"prefix":"AccessDenied"}]}}"#,
        r#"{"detail-type":["AWS API Call via CloudTrail"],"detail":{"userIdentity":{"type":["Root"]}}}"#,
    ]
    .iter()
    .map(|p| Pattern::parse(p).unwrap())
    .collect()
}

fn check(cases: &[Case]) -> usize {
    let mut failures = Vec::new();
    for case in cases {
        let pattern = match &case.pattern {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!(
                    "{} {}: valid pattern rejected: {e}",
                    case.origin, case.name
                ));
                continue;
            }
        };
        let mut expected = case.expected.expect("match cases say `match`");
        if case.unsure {
            match UNSURE.iter().find(|(n, _, _)| *n == case.name) {
                Some((_, decided, _)) => expected = *decided,
                None => failures.push(format!("{}: unsure case without a decision", case.name)),
            }
        }
        let by_value = pattern.matches(&case.event);
        if by_value != expected {
            failures.push(format!(
                "{} {}: expected {expected}, got {by_value}\n  pattern {}",
                case.origin, case.name, case.pattern_text
            ));
            continue;
        }
        // The same answer through the pipeline's borrowed event and through the index.
        if let Ok(event) = Event::from_json(case.event_text.as_bytes()) {
            let by_event = pattern.matches(&event);
            let mut all = companions();
            all.insert(2, pattern.clone());
            let index = PatternIndex::new(all);
            let by_index = index.matching(&event).contains(&2);
            if by_event != expected || by_index != expected {
                failures.push(format!(
                    "{} {}: Value says {by_value}, Event says {by_event}, index says {by_index}",
                    case.origin, case.name
                ));
            }
        } else if case.event.get("detail").is_some_and(Value::is_object) {
            failures.push(format!("{}: Event::from_json refused the event", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    cases.len()
}

fn check_invalid(cases: &[Case]) -> usize {
    let mut failures = Vec::new();
    for case in cases {
        match &case.pattern {
            Ok(_) => failures.push(format!(
                "{} {}: accepted a pattern AWS rejects: {}",
                case.origin, case.name, case.pattern_text
            )),
            Err(e) => {
                let msg = e.to_string();
                // The reason names where the problem is, as AWS's message does.
                let placed = match e {
                    PatternError::Invalid { path, reason } => {
                        !path.is_empty() && !reason.is_empty()
                    }
                    _ => true,
                };
                if !placed || msg.len() < 20 {
                    failures.push(format!("{}: unclear error: {msg}", case.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    cases.len()
}

#[test]
fn shared_conformance_cases() {
    let cases = load(&shared_dir().join("conformance.jsonl"));
    assert!(cases.len() >= 257, "{} cases", cases.len());
    let listed = UNSURE
        .iter()
        .filter(|(n, _, _)| cases.iter().any(|c| &c.name == n))
        .count();
    assert_eq!(
        listed,
        UNSURE.len(),
        "a decision names a case the file no longer has"
    );
    check(&cases);
}

#[test]
fn shared_invalid_patterns_are_rejected() {
    let cases = load(&shared_dir().join("conformance_invalid.jsonl"));
    assert!(cases.len() >= 38);
    check_invalid(&cases);
}

#[test]
fn own_conformance_cases() {
    let n = check(&load(&own_dir().join("eventbridge_cases.jsonl")));
    assert!(n >= 40, "{n}");
}

#[test]
fn own_invalid_patterns_are_rejected() {
    let n = check_invalid(&load(&own_dir().join("eventbridge_invalid.jsonl")));
    assert!(n >= 20, "{n}");
}
