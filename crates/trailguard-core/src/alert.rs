//! [`Alert`]: what a person is told. Its JSON form is the alert contract of
//! `docs/architecture.md`, relied on by scripts and by every sink.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Severity, ordered from least to most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// One level up (critical stays critical).
    pub fn raised(self) -> Severity {
        match self {
            Severity::Info => Severity::Low,
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        }
    }

    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity `{0}` (expected one of: info, low, medium, high, critical)")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownSeverity(s.to_owned()))
    }
}

/// The rule that raised an alert, as it appears in the alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    pub id: String,
    pub title: String,
    /// The effective severity of this alert (the rule's, raised by escalations).
    pub severity: Severity,
    pub tags: Vec<String>,
}

/// Who did it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "type")]
    pub identity_type: Option<String>,
    pub arn: Option<String>,
    pub access_key_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// One alert: one incident of one rule, with every event folded into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable hash of rule id + group key + window start: the same input gives the
    /// same id, so downstream deduplication works across runs.
    pub id: String,
    pub rule: AlertRule,
    /// RFC 3339, first event.
    pub time: String,
    /// RFC 3339, last event.
    pub last_time: String,
    pub count: u64,
    pub account: Option<String>,
    pub region: Option<String>,
    pub actor: Actor,
    pub event_name: Option<String>,
    pub event_source: Option<String>,
    pub event_ids: Vec<String>,
    pub summary: String,
    pub context: serde_json::Map<String, serde_json::Value>,
}

impl Alert {
    /// A representative alert (a key created by an IAM user's long-term key), for tests
    /// and examples in every crate; adjust the fields a test is about.
    #[doc(hidden)]
    pub fn example() -> Alert {
        Alert {
            id: "a1b2c3".into(),
            rule: AlertRule {
                id: "aws-iam-access-key-created-by-unusual-ip".into(),
                title: "Access key created from an unusual IP".into(),
                severity: Severity::Critical,
                tags: vec!["attack.persistence".into(), "attack.t1098.001".into()],
            },
            time: "2024-05-01T12:00:00Z".into(),
            last_time: "2024-05-01T12:05:00Z".into(),
            count: 3,
            account: Some("123456789012".into()),
            region: Some("us-east-1".into()),
            actor: Actor {
                identity_type: Some("IAMUser".into()),
                arn: Some("arn:aws:iam::123456789012:user/admin".into()),
                access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
                source_ip: Some("203.0.113.7".into()),
                user_agent: Some("aws-cli/2.15.0 Python/3.11".into()),
            },
            event_name: Some("CreateAccessKey".into()),
            event_source: Some("iam.amazonaws.com".into()),
            event_ids: vec!["0f0e0d0c-0000-4000-8000-000000000002".into()],
            summary: "admin created a new access key from 203.0.113.7".into(),
            context: Default::default(),
        }
    }

    /// A link to the first event in the CloudTrail console's event history.
    pub fn console_url(&self) -> Option<String> {
        let region = self.region.as_deref().filter(|r| is_region_like(r))?;
        let id = self.event_ids.first()?;
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return None;
        }
        Some(format!(
            "https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}#/events/{id}"
        ))
    }
}

/// Region names go into URLs: only `xx-word-N` shapes are trusted.
fn is_region_like(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 32
        && r.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_parses_and_orders() {
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!(Severity::Critical > Severity::High);
        assert!("urgent".parse::<Severity>().is_err());
        assert_eq!(serde_json::to_string(&Severity::Low).unwrap(), "\"low\"");
    }

    #[test]
    fn console_url_only_for_safe_values() {
        let mut a = Alert::example();
        assert!(a
            .console_url()
            .unwrap()
            .contains("us-east-1.console.aws.amazon.com"));
        a.region = Some("evil.com/x?".into());
        assert!(a.console_url().is_none());
    }
}
