//! Which rules need EventBridge's `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`.
//!
//! EventBridge delivers CloudTrail's read-only management events (`GetCallerIdentity`,
//! `List*`, `Describe*`, `GetSecretValue`...) only to rules in that state; an `ENABLED`
//! rule never sees them, so a recon rule deployed as `ENABLED` would be silently
//! blind. The state also costs: every read-only call of the account is then offered
//! to the rule. So a rule gets it when its pattern can match one: it does not pin
//! `detail.eventName` to plain names (it matches any call: new source IP, offensive
//! user agent), or a name it pins reads (by AWS's naming: `Get`, `List`, `Describe`,
//! ...), or it asks for `readOnly: true`. Patterns that are not about CloudTrail
//! (AWS Health, GuardDuty findings) stay `ENABLED`. When in doubt, read-only: a
//! missed detection costs more than some extra matched events.

use serde_json::Value;

/// Prefixes of the API names CloudTrail marks `readOnly: true`.
const READ_PREFIXES: [&str; 13] = [
    "Get", "List", "Describe", "BatchGet", "Lookup", "Search", "Head", "Query", "Scan", "Select",
    "View", "Check", "Decrypt",
];

pub fn needs_all_management_events(pattern: &Value) -> bool {
    if !about_cloudtrail(pattern) {
        return false;
    }
    let detail = pattern.get("detail").unwrap_or(&Value::Null);
    match pinned(detail, "readOnly") {
        Some(v) if v.iter().all(|x| *x == Value::Bool(false)) => return false,
        Some(v) if v.contains(&Value::Bool(true)) => return true,
        _ => {}
    }
    match event_names(detail) {
        Some(names) => names.iter().any(|n| is_read_name(n)),
        None => true,
    }
}

/// Whether the API name reads (by the naming AWS keeps to).
pub fn is_read_name(name: &str) -> bool {
    READ_PREFIXES.iter().any(|p| {
        name.strip_prefix(p).is_some_and(|rest| {
            rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase())
        })
    })
}

/// False when the pattern pins `detail-type` (or `source`) to events that are not
/// CloudTrail's: AWS Health, GuardDuty findings.
fn about_cloudtrail(pattern: &Value) -> bool {
    if let Some(types) = pinned(pattern, "detail-type") {
        return types.iter().any(|t| match t.as_str() {
            Some(s) => s.ends_with("via CloudTrail"),
            // An operator (prefix, anything-but...): may be CloudTrail.
            None => true,
        });
    }
    if let Some(sources) = pinned(pattern, "source") {
        let not_trail = [
            "aws.health",
            "aws.guardduty",
            "aws.securityhub",
            "aws.inspector2",
        ];
        return !sources
            .iter()
            .all(|s| s.as_str().is_some_and(|s| not_trail.contains(&s)));
    }
    true
}

/// The values a pattern object lists for `key`.
fn pinned<'v>(object: &'v Value, key: &str) -> Option<&'v Vec<Value>> {
    object.get(key).and_then(Value::as_array)
}

/// The plain event names every alternative of `detail` is limited to, or `None` when
/// some alternative can match any name (no `eventName`, or an operator in it).
fn event_names(detail: &Value) -> Option<Vec<String>> {
    if let Some(values) = pinned(detail, "eventName") {
        return values
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect();
    }
    let alternatives = detail.get("$or").and_then(Value::as_array)?;
    let mut names = Vec::new();
    for alt in alternatives {
        names.extend(event_names(alt)?);
    }
    Some(names)
}
