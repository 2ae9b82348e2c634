//! The recon, persistence, escalation and "AWS says the key leaked" rules of the
//! built-in pack: each `tests: match:` event, in order, gets the severity written here
//! once the rule's escalations are applied. `rules test` only checks that the events
//! match; this checks that routine work stays low and a leaked key's work does not.
//! Each of these rules also carries at least two match and two no_match events.

use trailguard_core::rule::builtin_rules;
use trailguard_core::{Event, Severity};

use Severity::{Critical as C, High as H, Info as I, Low as L, Medium as M};

const EXPECTED: &[(&str, &[Severity])] = &[
    ("aws-recon-offensive-user-agent", &[H, H, H, M]),
    ("aws-recon-get-account-authorization-details", &[H, M]),
    ("aws-recon-bedrock-model-discovery", &[M, H]),
    ("aws-sts-get-caller-identity-long-term-key", &[I, I]),
    ("aws-iam-user-created", &[H, M]),
    ("aws-iam-login-profile-created", &[C, H, M]),
    ("aws-iam-login-profile-updated", &[C, H, M]),
    ("aws-iam-admin-policy-attached", &[C, M, H]),
    ("aws-iam-admin-inline-policy", &[C, M, C]),
    ("aws-iam-policy-default-version-changed", &[C, L, H]),
    ("aws-iam-role-trust-policy-aws-principal", &[H, C, M]),
    ("aws-iam-mfa-device-changed", &[C, L, H]),
    ("aws-iam-user-added-to-admin-group", &[H, M]),
    ("aws-iam-identity-provider-changed", &[H, M]),
    ("aws-iam-permissions-boundary-removed", &[H, M]),
    ("aws-iam-service-specific-credential-created", &[H, M]),
    ("aws-rolesanywhere-trust-anchor-created", &[H, M]),
    ("aws-rolesanywhere-profile-created", &[M, L]),
    ("aws-lambda-permission-public", &[H, M]),
    ("aws-lambda-function-url-public", &[H, M]),
    ("aws-lambda-function-code-updated", &[M, L]),
    ("aws-lambda-layer-attached", &[M, L]),
    ("aws-lambda-layer-published", &[M, L]),
    ("aws-sts-session-token-long-term-key", &[M, L]),
    ("aws-sts-federation-token-long-term-key", &[H, M]),
    ("aws-signin-get-signin-token", &[H, L]),
    ("aws-signin-console-login-without-mfa", &[M, M]),
    ("aws-root-account-usage", &[C, M, C]),
    ("aws-iam-compromised-key-quarantine-applied", &[C, C, C]),
    ("aws-iam-compromised-key-quarantine-removed", &[C, H]),
    ("aws-health-credentials-exposed", &[C, C]),
    ("aws-guardduty-finding-iam-credentials", &[C, M, L]),
    ("aws-guardduty-finding-attack-sequence", &[C, C]),
];

#[test]
fn match_events_get_the_expected_severity() {
    let rules = builtin_rules().unwrap();
    let mut failures = Vec::new();
    for (id, want) in EXPECTED {
        let Some(rule) = rules.iter().find(|r| r.id() == *id) else {
            failures.push(format!("{id}: not in the built-in pack"));
            continue;
        };
        let tests = &rule.spec.tests;
        if tests.must_match.len() < 2 || tests.no_match.len() < 2 {
            failures.push(format!(
                "{id}: needs at least 2 match and 2 no_match events"
            ));
        }
        let got: Vec<Severity> = tests
            .must_match
            .iter()
            .map(|e| {
                let text = e.to_string();
                let ev = Event::from_json(text.as_bytes()).unwrap();
                assert!(rule.pattern.matches(&ev), "{id}: {text}");
                rule.severity_for(&ev).0
            })
            .collect();
        if got != *want {
            failures.push(format!("{id}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The rules named above are the whole of this share of the pack: a new rule with one
/// of its prefixes gets its severities written here too.
#[test]
fn every_rule_of_these_families_is_listed() {
    const PREFIXES: [&str; 9] = [
        "aws-recon-",
        "aws-iam-",
        "aws-sts-",
        "aws-signin-",
        "aws-lambda-",
        "aws-rolesanywhere-",
        "aws-root-",
        "aws-health-",
        "aws-guardduty-finding-",
    ];
    // Rules older than this share, checked by their own tests.
    const OLDER: [&str; 3] = [
        "aws-iam-access-key-created",
        // Stateful: their match events are pre-filter matches, judged later.
        "aws-iam-created-key-used-elsewhere",
        "aws-recon-enumeration-burst",
    ];
    let rules = builtin_rules().unwrap();
    let missing: Vec<&str> = rules
        .iter()
        .map(|r| r.id())
        .filter(|id| PREFIXES.iter().any(|p| id.starts_with(p)))
        .filter(|id| !OLDER.contains(id) && !EXPECTED.iter().any(|(e, _)| e == id))
        .collect();
    assert!(missing.is_empty(), "{missing:?}");
}
