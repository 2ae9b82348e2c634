//! Property tests: random patterns and events never panic, and the three ways of
//! matching agree on every generated case: each pattern alone over a
//! `serde_json::Value` (the reference), each pattern over the borrowed `Event`, and all
//! patterns at once through the `PatternIndex`.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use trailguard_core::pattern::{Pattern, PatternIndex};
use trailguard_core::Event;

/// Keys shared by events and patterns, so that they meet often; one is dotted.
const KEYS: &[&str] = &["a", "b", "eventName", "a.b", "ip"];
const STRINGS: &[&str] = &[
    "",
    "x",
    "X",
    "xy",
    "CreateAccessKey",
    "createaccesskey",
    "10.0.0.1",
    "2001:db8::1",
    "2001:0db8:0:0:0:0:0:1",
    "a*b",
    "é",
    "É",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(STRINGS).prop_map(|s| json!(s)),
        (-3i64..4).prop_map(|n| json!(n)),
        prop::sample::select(&[0.5f64, 3.0, -0.0, 1e3][..]).prop_map(|f| json!(f)),
        any::<bool>().prop_map(|b| json!(b)),
        Just(Value::Null),
    ]
}

fn event_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 40, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..4).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// An EventBridge envelope around a random detail, as `Event` reads it.
fn event() -> impl Strategy<Value = Value> {
    (
        prop::collection::btree_map(prop::sample::select(KEYS), event_value(), 0..5),
        prop::collection::vec(prop::sample::select(STRINGS), 0..3),
    )
        .prop_map(|(detail, resources)| {
            let detail: Map<String, Value> =
                detail.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            json!({"source": "aws.test", "detail-type": "T", "resources": resources, "detail": detail})
        })
}

fn str_operand() -> impl Strategy<Value = Value> {
    prop::sample::select(STRINGS).prop_map(|s| json!(s))
}

fn condition() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => leaf(),
        1 => str_operand().prop_map(|s| json!({"prefix": s})),
        1 => str_operand().prop_map(|s| json!({"suffix": s})),
        1 => str_operand().prop_map(|s| json!({"prefix": {"equals-ignore-case": s}})),
        1 => str_operand().prop_map(|s| json!({"equals-ignore-case": s})),
        1 => prop::sample::select(&["*", "x*", "*y", "C*Key", "a\\*b", ""][..])
            .prop_map(|w| json!({"wildcard": w})),
        1 => prop_oneof![str_operand(), (-3i64..4).prop_map(|n| json!(n))]
            .prop_map(|v| json!({"anything-but": v})),
        1 => prop::collection::vec(str_operand(), 1..3).prop_map(|v| json!({"anything-but": v})),
        1 => prop::sample::select(&["x", "C"][..]).prop_map(|p| json!({"anything-but": {"prefix": p}})),
        1 => str_operand().prop_map(|s| json!({"anything-but": {"equals-ignore-case": s}})),
        1 => (-3i64..3).prop_map(|n| json!({"numeric": [">", n, "<=", n + 2]})),
        1 => (-3i64..3).prop_map(|n| json!({"numeric": ["=", n]})),
        1 => any::<bool>().prop_map(|b| json!({"exists": b})),
        1 => prop::sample::select(&["10.0.0.0/8", "2001:db8::/32", "0.0.0.0/0"][..])
            .prop_map(|c| json!({"cidr": c})),
    ]
}

fn pattern_object(depth: u32) -> BoxedStrategy<Value> {
    let field = prop::collection::vec(condition(), 1..3).prop_map(Value::Array);
    let value = if depth == 0 {
        field.boxed()
    } else {
        prop_oneof![3 => field, 1 => pattern_object(depth - 1)].boxed()
    };
    let plain = prop::collection::btree_map(prop::sample::select(KEYS), value, 1..3)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
    if depth == 0 {
        return plain.boxed();
    }
    let branches = prop::collection::vec(pattern_object(depth - 1), 2..3);
    prop_oneof![
        3 => plain,
        1 => (plain_leafless(), branches).prop_map(|(mut base, b)| {
            base["$or"] = Value::Array(b);
            base
        }),
    ]
    .boxed()
}

fn plain_leafless() -> impl Strategy<Value = Value> {
    Just(json!({}))
}

/// A pattern rooted like a rule: most of it under `detail`, sometimes `resources`.
fn pattern() -> impl Strategy<Value = Value> {
    (
        pattern_object(2),
        prop::option::of(prop::collection::vec(condition(), 1..2)),
    )
        .prop_map(|(detail, resources)| {
            let mut p = json!({"detail": detail});
            if let Some(r) = resources {
                p["resources"] = Value::Array(r);
            }
            p
        })
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        any::<String>().prop_map(Value::String),
        any::<i32>().prop_map(|n| json!(n)),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    scalar.prop_recursive(5, 60, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    any::<String>(),
                    prop::sample::select(
                        &[
                            "prefix",
                            "anything-but",
                            "numeric",
                            "$or",
                            "wildcard",
                            "cidr",
                            "exists"
                        ][..]
                    )
                    .prop_map(str::to_owned),
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn index_and_reference_agree(patterns in prop::collection::vec(pattern(), 1..8), event in event()) {
        let compiled: Vec<Option<Pattern>> = patterns.iter().map(|p| Pattern::from_value(p).ok()).collect();
        let valid: Vec<Pattern> = compiled.into_iter().flatten().collect();
        let reference: Vec<usize> = valid
            .iter()
            .enumerate()
            .filter(|(_, p)| p.matches(&event))
            .map(|(i, _)| i)
            .collect();
        let text = event.to_string();
        let borrowed = Event::from_json(text.as_bytes()).expect("envelopes parse");
        let by_event: Vec<usize> = valid
            .iter()
            .enumerate()
            .filter(|(_, p)| p.matches(&borrowed))
            .map(|(i, _)| i)
            .collect();
        prop_assert_eq!(&by_event, &reference, "Event vs Value for {}", text);
        let index = PatternIndex::new(valid.clone());
        prop_assert_eq!(&index.matching(&borrowed), &reference, "index (Event) for {}", text);
        prop_assert_eq!(&index.matching(&event), &reference, "index (Value) for {}", text);
    }

    #[test]
    fn arbitrary_patterns_never_panic(p in arbitrary_json(), event in event()) {
        if let Ok(compiled) = Pattern::from_value(&p) {
            let _ = compiled.matches(&event);
        }
        let _ = Pattern::parse(&p.to_string());
    }

    /// The splitter that takes already-validated JSON apart without a parser reads
    /// every generated value, compact or pretty, exactly as serde does.
    #[test]
    fn splitting_valid_json_agrees_with_serde(v in arbitrary_json(), pretty in any::<bool>()) {
        use trailguard_core::json::{RawNode, Leaf};
        let text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { v.to_string() };
        let node = RawNode::parse_str(&text).expect("valid JSON splits");
        let child = |raw: trailguard_core::json::RawJson| serde_json::from_str::<Value>(raw.get()).unwrap();
        let rebuilt = match node {
            RawNode::Object(members) => Value::Object(
                members.into_iter().map(|(k, raw)| (k.into_owned(), child(raw))).collect(),
            ),
            RawNode::Array(items) => Value::Array(items.into_iter().map(child).collect()),
            RawNode::Leaf(Leaf::Str(s)) => Value::String(s.into_owned()),
            RawNode::Leaf(Leaf::Num(n)) => json!(n as i32),
            RawNode::Leaf(Leaf::Bool(b)) => Value::Bool(b),
            RawNode::Leaf(Leaf::Null) => Value::Null,
        };
        prop_assert_eq!(rebuilt, v);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,300}") {
        let _ = Pattern::parse(&text);
        let _ = Event::from_json(text.as_bytes());
    }
}

#[test]
fn generated_patterns_are_mostly_valid() {
    // Guards the generator: agreement over only-invalid patterns would prove nothing.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = pattern();
    let valid = (0..500)
        .filter(|_| {
            let p = strategy.new_tree(&mut runner).unwrap().current();
            Pattern::from_value(&p).is_ok()
        })
        .count();
    assert!(
        valid > 250,
        "only {valid} of 500 generated patterns are valid"
    );
}
