//! Unsupported, malformed and hostile rules: reported with a reason, never a panic,
//! never a hang.

use super::*;

#[test]
fn unsupported_and_malformed_rules_are_reported_never_panic() {
    for (detection, why) in [
        (
            "sel:\n    CommandLine|windash: ' -x'\ncondition: sel",
            "modifier `windash`",
        ),
        (
            "sel:\n    a|base64offset|contains: x\ncondition: sel",
            "Base64",
        ),
        (
            "sel:\n    a|frobnicate: x\ncondition: sel",
            "unknown modifier `frobnicate`",
        ),
        (
            "sel:\n    a|contains|startswith: x\ncondition: sel",
            "one of contains",
        ),
        (
            "sel:\n    a|re|contains: x\ncondition: sel",
            "`re` cannot be combined",
        ),
        (
            "sel:\n    a|re: '(?=x)y'\ncondition: sel",
            "invalid regular expression",
        ),
        (
            "sel:\n    a|re: 'a{1000}{1000}'\ncondition: sel",
            "too large",
        ),
        ("sel:\n    a|exists: maybe\ncondition: sel", "true or false"),
        ("sel:\n    a|lt: ten\ncondition: sel", "not a number"),
        ("sel:\n    a|cidr: 10.0.0.0/99\ncondition: sel", "CIDR"),
        (
            "sel:\n    a|contains: null\ncondition: sel",
            "null only stands alone",
        ),
        ("sel:\n    a: []\ncondition: sel", "empty list"),
        ("sel:\n    a: {b: c}\ncondition: sel", "not a plain value"),
        ("sel:\n    a..b: c\ncondition: sel", "empty segment"),
        ("sel: null\ncondition: sel", "no value"),
        ("sel:\n    a: x", "no `condition`"),
        ("sel:\n    a: x\ncondition: sel and", "ends where"),
        ("sel:\n    a: x\ncondition: nope", "not a search identifier"),
        (
            "sel:\n    a: x\ncondition: sel | max(x) > 3\ntimeframe: 1m",
            "only `count()`",
        ),
        (
            "sel:\n    a: x\ncondition: sel\ntimeframe: 5m",
            "`timeframe` without an aggregation",
        ),
        (
            "sel:\n    a: x\ncondition: sel | count() > 3",
            "needs a `timeframe`",
        ),
        (
            "sel:\n    a: x\ncondition: sel | count() < 3\ntimeframe: 1m",
            "below or equal",
        ),
    ] {
        let reason = refused(detection);
        assert!(reason.contains(why), "{detection}\n=> {reason}");
    }
    let long = format!(
        "sel:\n    a|re: '{}'\ncondition: sel",
        "a".repeat(MAX_REGEX_CHARS + 1)
    );
    assert!(refused(&long).contains("longer than"));
    let deep = format!(
        "sel:\n    a: x\ncondition: {}sel{}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert!(refused(&deep).contains("nested deeper"));

    for (text, why) in [
        ("title: [unclosed", "invalid YAML"),
        ("- a\n- b\n", "a YAML map is expected"),
        ("title: t\nlogsource: {product: aws, service: cloudtrail}\n", "neither `detection`"),
        ("logsource: {product: aws, service: cloudtrail}\ndetection: {s: {a: x}, condition: s}", "no `title`"),
        ("title: t\nlevel: severe\nlogsource: {product: aws, service: cloudtrail}\ndetection: {s: {a: x}, condition: s}", "level `severe`"),
        ("title: t\nlogsource: {product: windows, category: process_creation}\ndetection: {s: {a: x}, condition: s}", "logsource is product: windows"),
        ("title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection: [1]", "not a map"),
        ("title: t\naction: global\nlogsource: {product: aws, service: cloudtrail}\ndetection: {s: {a: x}, condition: s}", "collections"),
        ("title: t\nlogsource: {product: aws, service: cloudtrail}\nfilter: {rules: [x], selection: {a: b}, condition: not selection}", "Sigma filters"),
        ("a: &a [*a, *a]\n", "invalid YAML"),
    ] {
        let loaded = load_one(text);
        assert!(loaded.rules.is_empty(), "{text}");
        let reasons: Vec<&str> = loaded.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons.iter().any(|r| r.contains(why)), "{text}\n=> {reasons:?}");
    }
    // A YAML bomb of aliases is refused by the YAML reader, not expanded.
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let loaded = load_one(&format!(
        "title: t\nlogsource: {{product: aws, service: cloudtrail}}\n{bomb}detection: {{s: {{a: *a11}}, condition: s}}\n"
    ));
    assert!(loaded.rules.is_empty());
    // Deep YAML nesting is refused before the YAML reader, whose scanning of it is
    // quadratic; so are huge files.
    let started = std::time::Instant::now();
    let deep_yaml = format!(
        "title: t\nx: {}1{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let loaded = load_one(&deep_yaml);
    assert!(
        loaded.skipped[0].reason.contains("nested deeper"),
        "{:?}",
        loaded.skipped
    );
    let quoted = format!(
        "title: t\nx: '{}'\ny: \"{}\" # {}\n",
        "[".repeat(100),
        "{".repeat(100),
        "[".repeat(100)
    );
    assert!(
        load_one(&quoted).skipped[0].reason.contains("neither"),
        "brackets in strings and comments"
    );
    let huge = format!(
        "title: t\ndescription: '{}'\n",
        "x".repeat(parse::MAX_FILE_BYTES)
    );
    assert!(load_one(&huge).skipped[0].reason.contains("larger than"));
    assert!(started.elapsed().as_secs() < 5);
}
