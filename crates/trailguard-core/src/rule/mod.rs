//! The rule format: YAML files holding an EventBridge pattern, severity, MITRE ATT&CK
//! tags, a summary template, context fields and the rule's own test events.

mod builtin;
mod stateful;
mod template;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::alert::Severity;
use crate::json::{with_segments, FieldSource};
use crate::pattern::{Pattern, PatternError};
use crate::sigma::SigmaMatch;
pub use builtin::{builtin_rules, builtin_sources};
pub use stateful::{
    parse_duration, FirstSeenSpec, SequenceSpec, Stage, StateSpec, Stateful, ThresholdSpec,
};
pub use template::{clean as clean_text, Template};

/// A rule as written in YAML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub severity: Severity,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(rename = "match")]
    pub pattern: serde_json::Value,
    #[serde(default)]
    pub escalate: Vec<EscalationSpec>,
    pub summary: String,
    /// Alert context: a name and the event path whose value it carries.
    #[serde(default)]
    pub context: BTreeMap<String, String>,
    #[serde(default)]
    pub tests: RuleTests,
    /// Makes `match` a pre-filter judged with what came before (first seen,
    /// threshold, sequence).
    #[serde(default)]
    pub state: Option<StateSpec>,
}

/// Raises the severity of an alert when its event shows more than the rule requires.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationSpec {
    pub severity: Severity,
    pub reason: String,
    /// An EventBridge pattern the event must also match.
    #[serde(default)]
    pub when: Option<serde_json::Value>,
    /// Two event paths: the first must have a value that differs from the second's
    /// (or the second has none). For what patterns cannot say, e.g. a key created for
    /// a user other than the caller.
    #[serde(default)]
    pub when_differs: Option<[String; 2]>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTests {
    #[serde(default, rename = "match")]
    pub must_match: Vec<serde_json::Value>,
    #[serde(default)]
    pub no_match: Vec<serde_json::Value>,
}

/// A rule ready to run.
#[derive(Debug, Clone)]
pub struct Rule {
    pub spec: RuleSpec,
    pub pattern: Pattern,
    pub escalations: Vec<Escalation>,
    pub summary: Template,
    pub context: Vec<(String, Vec<String>)>,
    pub stateful: Option<Stateful>,
    /// A Sigma rule's detection: checked once `pattern` (its pre-filter) matched.
    pub sigma: Option<SigmaMatch>,
}

#[derive(Debug, Clone)]
pub struct Escalation {
    pub severity: Severity,
    pub reason: String,
    pub when: Option<Pattern>,
    pub when_differs: Option<[Vec<String>; 2]>,
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{origin}: not a valid rule: {message}")]
    Yaml { origin: String, message: String },
    #[error("{origin}: rule `{id}`: `match`: {source}")]
    Pattern {
        origin: String,
        id: String,
        source: PatternError,
    },
    #[error("{origin}: rule `{id}`: {message}")]
    Invalid {
        origin: String,
        id: String,
        message: String,
    },
    #[error("duplicate rule id `{id}` in {first} and {second}")]
    Duplicate {
        id: String,
        first: String,
        second: String,
    },
}

/// Field names that hold credentials: rules may neither print nor carry them.
const SECRET_WORDS: [&str; 4] = ["secretaccesskey", "sessiontoken", "password", "privatekey"];

pub(crate) fn mentions_secret(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| lower.contains(w))
}

fn split_path(path: &str) -> Vec<String> {
    path.split('.').map(str::to_owned).collect()
}

impl Rule {
    /// Parses and compiles one rule. `origin` names where it came from in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Rule, RuleError> {
        let spec: RuleSpec = serde_norway::from_str(text).map_err(|e| RuleError::Yaml {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        Rule::compile(spec, origin)
    }

    pub fn compile(spec: RuleSpec, origin: &str) -> Result<Rule, RuleError> {
        let invalid = |message: String| RuleError::Invalid {
            origin: origin.to_owned(),
            id: spec.id.clone(),
            message,
        };
        if spec.id.is_empty()
            || !spec
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(
                "rule ids are lowercase letters, digits and dashes".into(),
            ));
        }
        let pattern = |v: &serde_json::Value| {
            Pattern::from_value(v).map_err(|source| RuleError::Pattern {
                origin: origin.to_owned(),
                id: spec.id.clone(),
                source,
            })
        };
        let main = pattern(&spec.pattern)?;
        let mut escalations = Vec::new();
        for e in &spec.escalate {
            if e.when.is_none() && e.when_differs.is_none() {
                return Err(invalid(format!(
                    "escalation `{}` needs `when` or `when_differs`",
                    e.reason
                )));
            }
            escalations.push(Escalation {
                severity: e.severity,
                reason: e.reason.clone(),
                when: e.when.as_ref().map(pattern).transpose()?,
                when_differs: e
                    .when_differs
                    .as_ref()
                    .map(|[a, b]| [split_path(a), split_path(b)]),
            });
        }
        let summary =
            Template::parse(&spec.summary).map_err(|m| invalid(format!("summary: {m}")))?;
        let stateful = match &spec.state {
            None => None,
            Some(state) => Some(Stateful::compile(state).map_err(|e| match e {
                stateful::StateError::Pattern(source) => RuleError::Pattern {
                    origin: origin.to_owned(),
                    id: spec.id.clone(),
                    source,
                },
                stateful::StateError::Invalid(m) => invalid(format!("state: {m}")),
            })?),
        };
        let state_paths: Vec<String> = stateful
            .iter()
            .flat_map(|s| s.all_paths())
            .map(|p| p.join("."))
            .collect();
        for path in summary
            .paths()
            .chain(spec.context.values().map(String::as_str))
            .chain(state_paths.iter().map(String::as_str))
        {
            if mentions_secret(path) {
                return Err(invalid(format!(
                    "`{path}` holds a credential: rules must not carry secrets into alerts"
                )));
            }
        }
        let context = spec
            .context
            .iter()
            .map(|(k, v)| (k.clone(), split_path(v)))
            .collect();
        Ok(Rule {
            pattern: main,
            escalations,
            summary,
            context,
            stateful,
            sigma: None,
            spec,
        })
    }

    pub fn id(&self) -> &str {
        &self.spec.id
    }

    /// Whether an event that matched this part of the rule's pattern also passes what
    /// patterns cannot say (a Sigma rule's detection). Always true for YAML rules.
    pub fn passes(&self, stage: Stage, event: &dyn FieldSource) -> bool {
        self.sigma.as_ref().is_none_or(|s| s.matches(stage, event))
    }

    /// The highest severity the rule can give (its base or an escalation's).
    pub fn max_severity(&self) -> Severity {
        self.escalations
            .iter()
            .map(|e| e.severity)
            .fold(self.spec.severity, Severity::max)
    }

    /// The severity for this event and the reasons it was raised.
    pub fn severity_for(&self, event: &dyn FieldSource) -> (Severity, Vec<String>) {
        let mut severity = self.spec.severity;
        let mut reasons = Vec::new();
        for e in &self.escalations {
            let when = e.when.as_ref().is_none_or(|p| p.matches(event));
            let differs = e.when_differs.as_ref().is_none_or(|[a, b]| {
                let a = with_segments(a, |p| event.first_string(p));
                let b = with_segments(b, |p| event.first_string(p));
                match (a, b) {
                    (Some(x), Some(y)) => x != y,
                    (Some(_), None) => true,
                    (None, _) => false,
                }
            });
            if when && differs {
                severity = severity.max(e.severity);
                reasons.push(e.reason.clone());
            }
        }
        (severity, reasons)
    }
}

impl Rule {
    /// Runs the rule's own `tests:` events through the real event path (JSON bytes to
    /// [`crate::Event`]) and returns one message per failure.
    pub fn self_test(&self) -> Vec<String> {
        let mut failures = Vec::new();
        let cases = self.spec.tests.must_match.iter().map(|e| (e, true));
        let cases = cases.chain(self.spec.tests.no_match.iter().map(|e| (e, false)));
        for (i, (event, expected)) in cases.enumerate() {
            let bytes = event.to_string();
            match crate::Event::from_json(bytes.as_bytes()) {
                Ok(ev) => {
                    let first = if self.stateful.is_some() {
                        Stage::First
                    } else {
                        Stage::Alert
                    };
                    let matched = self.pattern.matches(&ev) && self.passes(first, &ev);
                    if matched != expected {
                        let want = if expected { "match" } else { "not match" };
                        failures.push(format!("{}: test event {} should {want}", self.id(), i + 1));
                    }
                }
                Err(e) => failures.push(format!(
                    "{}: test event {} is unreadable: {e}",
                    self.id(),
                    i + 1
                )),
            }
        }
        // Sigma rules carry no test events of their own.
        if self.spec.tests.must_match.is_empty() && self.sigma.is_none() {
            failures.push(format!("{}: no `tests: match:` events", self.id()));
        }
        failures
    }
}

/// Loads rules from YAML texts, refusing duplicate ids.
pub fn load_rules<'a>(
    sources: impl IntoIterator<Item = (String, &'a str)>,
) -> Result<Vec<Rule>, RuleError> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut rules = Vec::new();
    for (origin, text) in sources {
        let rule = Rule::from_yaml(text, &origin)?;
        if let Some(first) = seen.insert(rule.id().to_owned(), origin.clone()) {
            return Err(RuleError::Duplicate {
                id: rule.id().to_owned(),
                first,
                second: origin,
            });
        }
        rules.push(rule);
    }
    Ok(rules)
}

#[cfg(test)]
mod tests;
