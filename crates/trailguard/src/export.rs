//! `trailguard rules export`: every rule's pattern as EventBridge takes it, as JSON
//! Lines or as a CloudFormation template fragment.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;
use trailguard_core::pattern::MAX_PATTERN_CHARS;
use trailguard_core::rule::RuleSpec;
use trailguard_core::{Rule, Severity};

use crate::args::{ExportArgs, ExportFormat};
use crate::exit;
use crate::rules_cmd;

/// One line of `--format eventbridge`.
#[derive(Debug, Serialize)]
pub struct ExportedRule<'a> {
    pub rule: &'a str,
    pub title: &'a str,
    pub severity: Severity,
    pub event_pattern: &'a Value,
    /// Length of the compact JSON of `event_pattern`, in characters (as EventBridge
    /// counts its 2,048 limit).
    pub chars: usize,
    /// A stateful rule's logic cannot be one pattern: it exports its pre-filter with
    /// `prefilter_only: true` and a `note` saying what trailguard still has to judge.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub prefilter_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ExportedRule<'_> {
    /// The rule's `match:` pattern, or why EventBridge would refuse it.
    pub fn new(spec: &RuleSpec) -> Result<ExportedRule<'_>, String> {
        let chars = serde_json::to_string(&spec.pattern)
            .map_err(|e| format!("rule `{}`: cannot write its pattern: {e}", spec.id))?
            .chars()
            .count();
        if chars > MAX_PATTERN_CHARS {
            return Err(format!(
                "rule `{}`: its pattern is {chars} characters, over EventBridge's \
                 limit of {MAX_PATTERN_CHARS}; not exported",
                spec.id
            ));
        }
        let note = spec.state.as_ref().map(|state| {
            let kind = if state.first_seen.is_some() {
                "first seen: whether the value is new for its key"
            } else if state.threshold.is_some() {
                "threshold: how many matches fall in the window"
            } else {
                "sequence: the `then:` event that must follow, joined on a value"
            };
            format!(
                "stateful rule: this pattern only pre-filters; trailguard judges the rest ({kind}), \
                 so send the matched events to trailguard, not to people"
            )
        });
        Ok(ExportedRule {
            rule: &spec.id,
            title: &spec.title,
            severity: spec.severity,
            event_pattern: &spec.pattern,
            chars,
            prefilter_only: note.is_some(),
            note,
        })
    }

    /// [`ExportedRule::new`] for a loaded rule: a Sigma rule's pattern is only its
    /// pre-filter, and the export says so.
    pub fn of(rule: &Rule) -> Result<ExportedRule<'_>, String> {
        let mut e = ExportedRule::new(&rule.spec)?;
        if let Some(sigma) = &rule.sigma {
            let id = sigma
                .sigma_id
                .as_deref()
                .map(|id| format!(" {id}"))
                .unwrap_or_default();
            let mut note = format!(
                "Sigma rule{id}: this pattern only pre-filters (on eventSource and eventName); \
                 trailguard judges the Sigma detection"
            );
            if rule.stateful.is_some() {
                note.push_str(" and the correlation (threshold or sequence)");
            }
            note.push_str(", so send the matched events to trailguard, not to people");
            e.prefilter_only = true;
            e.note = Some(note);
        }
        Ok(e)
    }
}

pub fn run(a: ExportArgs) -> Result<u8> {
    let rules = rules_cmd::load(&a.rules)?;
    let mut exported = Vec::with_capacity(rules.len());
    let mut refused = 0;
    for rule in &rules {
        match ExportedRule::of(rule) {
            Ok(e) => exported.push(e),
            Err(reason) => {
                eprintln!("error: {reason}");
                refused += 1;
            }
        }
    }
    let text = match a.format {
        ExportFormat::Eventbridge => eventbridge_jsonl(&exported)?,
        ExportFormat::Cloudformation => cloudformation(&exported),
    };
    match &a.out {
        Some(path) => {
            fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => {
            let mut out = io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                other => other.context("cannot write to standard output")?,
            }
        }
    }
    let wildcards = exported
        .iter()
        .filter(|r| uses_operator(r.event_pattern, "wildcard"))
        .count();
    if wildcards > MAX_WILDCARD_RULES_PER_BUS {
        eprintln!(
            "warning: {wildcards} rules use `wildcard`; an EventBridge bus takes at most \
             {MAX_WILDCARD_RULES_PER_BUS} such rules (a quota AWS can raise)"
        );
    }
    if refused > 0 {
        eprintln!("error: {refused} of {} rules not exported", rules.len());
        return Ok(exit::ERROR);
    }
    Ok(exit::OK)
}

/// EventBridge's quota on rules holding a `wildcard` per event bus.
pub(crate) const MAX_WILDCARD_RULES_PER_BUS: usize = 30;

/// Whether the pattern uses `operator` anywhere (as an operator object's key).
pub(crate) fn uses_operator(pattern: &Value, operator: &str) -> bool {
    match pattern {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| k == operator || uses_operator(v, operator)),
        Value::Array(items) => items.iter().any(|v| uses_operator(v, operator)),
        _ => false,
    }
}

fn eventbridge_jsonl(rules: &[ExportedRule<'_>]) -> Result<String> {
    let mut text = String::new();
    for r in rules {
        text.push_str(&serde_json::to_string(r)?);
        text.push('\n');
    }
    Ok(text)
}

/// The parameter every rule targets.
const TARGET_PARAMETER: &str = "TrailguardTargetArn";
/// AWS's limits on an `AWS::Events::Rule`.
const MAX_RULE_NAME: usize = 64;
pub(crate) const MAX_RULE_DESCRIPTION: usize = 512;

/// The template, written by hand rather than by a YAML serializer: CloudFormation reads
/// YAML 1.1, where plain `yes`, `on`, `12:30` or `1_000` are not strings, and
/// serde_norway (YAML 1.2) leaves them unquoted. So every string that comes from a rule
/// is double-quoted, and each pattern is written as one JSON-like flow mapping.
fn cloudformation(rules: &[ExportedRule<'_>]) -> String {
    let mut taken = HashSet::new();
    let resources: Vec<String> = rules
        .iter()
        .map(|r| {
            let description = format!("trailguard rule {} ({}): {}", r.rule, r.severity, r.title);
            let mut pattern = String::new();
            flow(r.event_pattern, &mut pattern);
            [
                format!("  {}:", logical_id(r.rule, &mut taken)),
                "    Type: AWS::Events::Rule".into(),
                "    Properties:".into(),
                format!("      Name: {}", quoted(&rule_name(r.rule))),
                format!(
                    "      Description: {}",
                    quoted(&cut(&description, MAX_RULE_DESCRIPTION))
                ),
                format!("      EventPattern: {pattern}"),
                "      State: ENABLED".into(),
                "      Targets:".into(),
                format!("        - Arn: {{Ref: {TARGET_PARAMETER}}}"),
                "          Id: trailguard".into(),
            ]
            .join("\n")
        })
        .collect();
    let head = [
        format!(
            "# Generated by `trailguard rules export --format cloudformation` (trailguard {}).",
            env!("CARGO_PKG_VERSION")
        ),
        format!(
            "# A fragment: one AWS::Events::Rule per trailguard rule ({}), each sending the",
            rules.len()
        ),
        format!("# events it matches to the {TARGET_PARAMETER} parameter. The target's"),
        "# permissions and the rest of the deployment are not included.".into(),
        "AWSTemplateFormatVersion: \"2010-09-09\"".into(),
        "Description: \"trailguard detection rules as EventBridge rules\"".into(),
        "Parameters:".into(),
        format!("  {TARGET_PARAMETER}:"),
        "    Type: String".into(),
        "    Description: \"ARN of what receives the matched events (the trailguard Lambda function, an SQS queue, ...)\"".into(),
        "Resources:".into(),
    ];
    let mut y = head.join("\n");
    for r in resources {
        y.push('\n');
        y.push_str(&r);
    }
    y.push('\n');
    y
}

/// A JSON value as a YAML flow node that YAML 1.1 and 1.2 readers take alike.
pub(crate) fn flow(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                out.push_str(if i == 0 { "" } else { ", " });
                out.push_str(&quoted(k));
                out.push_str(": ");
                flow(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                out.push_str(if i == 0 { "" } else { ", " });
                flow(v, out);
            }
            out.push(']');
        }
        Value::String(s) => out.push_str(&quoted(s)),
        Value::Number(n) if n.is_f64() => out.push_str(&yaml11_float(&n.to_string())),
        // Integers, true, false and null read the same in JSON and YAML.
        other => out.push_str(&other.to_string()),
    }
}

/// YAML 1.1 reads a float only with a `.` and a signed exponent: `1e16` -> `1.0e+16`.
fn yaml11_float(json: &str) -> String {
    let (mantissa, exponent) = match json.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (json, None),
    };
    let mut out = mantissa.to_owned();
    if !out.contains('.') {
        out.push_str(".0");
    }
    if let Some(e) = exponent {
        out.push('e');
        if !e.starts_with(['+', '-']) {
            out.push('+');
        }
        out.push_str(e);
    }
    out
}

/// A YAML double-quoted scalar: escapes what YAML does not allow as printable, and the
/// characters YAML 1.1 would read as line breaks (U+0085, U+2028, U+2029).
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if (c as u32) < 0x20 || ('\u{7f}'..='\u{9f}').contains(&c) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            '\u{feff}' | '\u{fffe}' | '\u{ffff}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `trailguard-<id>`, cut to 64 characters with a hash of the id kept for uniqueness.
pub(crate) fn rule_name(id: &str) -> String {
    let name = format!("trailguard-{id}");
    if name.chars().count() <= MAX_RULE_NAME {
        return name;
    }
    let head: String = name.chars().take(MAX_RULE_NAME - 9).collect();
    format!("{head}-{:08x}", fnv1a(id))
}

/// FNV-1a (32 bits): stable across Rust versions, so names do not change between runs.
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// `Rule` + the id's alphanumeric runs in CamelCase; a number is added on a clash.
/// The prefix keeps rule resources apart from the parameter and any later resource.
pub(crate) fn logical_id(rule_id: &str, taken: &mut HashSet<String>) -> String {
    let mut base = String::from("Rule");
    for part in rule_id.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            base.push(first.to_ascii_uppercase());
            base.extend(chars);
        }
    }
    let mut id = base.clone();
    let mut n = 2;
    while !taken.insert(id.clone()) {
        id = format!("{base}{n}");
        n += 1;
    }
    id
}

/// At most `max` characters, with `...` when cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 3).collect();
    out.push_str("...");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: &str, pattern: Value) -> RuleSpec {
        serde_json::from_value(serde_json::json!({
            "id": id, "title": "t", "severity": "low", "match": pattern, "summary": "s"
        }))
        .unwrap()
    }

    #[test]
    fn finds_operators_at_any_depth() {
        let p = serde_json::json!({"detail": {"$or": [{"a": ["x"]}, {"b": [{"wildcard": "*x"}]}]}});
        assert!(uses_operator(&p, "wildcard"));
        assert!(!uses_operator(&p, "cidr"));
    }

    #[test]
    fn oversized_patterns_are_refused_with_the_rule_and_the_size() {
        let big = serde_json::json!({"detail": {"eventName": ["x".repeat(MAX_PATTERN_CHARS)]}});
        let s = spec("big", big);
        let err = ExportedRule::new(&s).unwrap_err();
        assert!(err.contains("`big`") && err.contains("2048"), "{err}");
        let small = spec("small", serde_json::json!({"source": ["aws.iam"]}));
        let e = ExportedRule::new(&small).unwrap();
        assert_eq!(e.chars, r#"{"source":["aws.iam"]}"#.len());
        let line = serde_json::to_string(&e).unwrap();
        assert!(
            !line.contains("prefilter_only") && !line.contains("note"),
            "{line}"
        );
    }

    #[test]
    fn names_and_logical_ids() {
        let mut taken = HashSet::new();
        assert_eq!(
            logical_id("aws-iam-access-key-created", &mut taken),
            "RuleAwsIamAccessKeyCreated"
        );
        assert_eq!(logical_id("a-1b", &mut taken), "RuleA1b");
        assert_eq!(logical_id("a1b", &mut taken), "RuleA1b2");
        assert_eq!(rule_name("short"), "trailguard-short");
        let long = "x".repeat(60);
        let a = rule_name(&long);
        let b = rule_name(&format!("{long}y"));
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(cut("abcdef", 5), "ab...");
    }
}
