//! EventBridge event patterns: compiled once, matched against any [`FieldSource`].
//!
//! A pattern is a JSON object; nested objects name paths into the event and each leaf
//! is an array of conditions, any of which may match (OR), while all fields must
//! match (AND). See `docs/architecture.md` and AWS's "Event patterns" guide.
//!
//! This first matcher supports the operators the built-in rules need: exact values,
//! `prefix`, `suffix`, `equals-ignore-case`, `anything-but`, `numeric` and `exists`.
//! Operators it does not know yet are rejected at compile time, never ignored.

mod compile;

use crate::json::{with_segments, FieldSource, Leaf};

pub use compile::PatternError;
pub use compile::MAX_PATTERN_BYTES;

/// A compiled event pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    fields: Vec<FieldMatcher>,
}

#[derive(Debug, Clone)]
pub(crate) struct FieldMatcher {
    pub(crate) path: Vec<String>,
    pub(crate) conditions: Vec<Condition>,
}

#[derive(Debug, Clone)]
pub(crate) enum Condition {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Prefix { value: String, ignore_case: bool },
    Suffix { value: String, ignore_case: bool },
    EqualsIgnoreCase(String),
    AnythingBut(AnythingBut),
    Numeric(Vec<(NumOp, f64)>),
    Exists(bool),
}

#[derive(Debug, Clone)]
pub(crate) enum AnythingBut {
    /// None of these literal values.
    Values(Vec<Condition>),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum NumOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Pattern {
    /// Compiles a pattern from its JSON text.
    pub fn parse(json: &str) -> Result<Pattern, PatternError> {
        compile::compile_str(json)
    }

    /// Compiles a pattern from a JSON value (as found inside a YAML rule).
    pub fn from_value(value: &serde_json::Value) -> Result<Pattern, PatternError> {
        compile::compile_value(value)
    }

    pub fn matches(&self, event: &dyn FieldSource) -> bool {
        self.fields.iter().all(|f| f.matches(event))
    }

    /// The exact string values a pattern requires at `path`, if it pins that path to
    /// plain strings only. Used to index rules by `eventSource` and `eventName`.
    pub fn exact_strings(&self, path: &[&str]) -> Option<Vec<&str>> {
        let field = self.fields.iter().find(|f| f.path == path)?;
        field
            .conditions
            .iter()
            .map(|c| match c {
                Condition::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }
}

impl FieldMatcher {
    fn matches(&self, event: &dyn FieldSource) -> bool {
        let mut any_leaf = false;
        let mut matched = false;
        with_segments(&self.path, |path| {
            event.leaves(path, &mut |leaf| {
                any_leaf = true;
                if !matched && self.conditions.iter().any(|c| c.matches_leaf(&leaf)) {
                    matched = true;
                }
            })
        });
        matched
            || (!any_leaf
                && self
                    .conditions
                    .iter()
                    .any(|c| matches!(c, Condition::Exists(false))))
    }
}

impl Condition {
    fn matches_leaf(&self, leaf: &Leaf<'_>) -> bool {
        match (self, leaf) {
            (Condition::Str(p), Leaf::Str(s)) => p == s,
            (Condition::Num(p), Leaf::Num(n)) => p == n,
            (Condition::Bool(p), Leaf::Bool(b)) => p == b,
            (Condition::Null, Leaf::Null) => true,
            (Condition::Prefix { value, ignore_case }, Leaf::Str(s)) => {
                starts_with(s, value, *ignore_case)
            }
            (Condition::Suffix { value, ignore_case }, Leaf::Str(s)) => {
                ends_with(s, value, *ignore_case)
            }
            (Condition::EqualsIgnoreCase(p), Leaf::Str(s)) => eq_ignore_case(p, s),
            (Condition::AnythingBut(ab), _) => ab.matches_leaf(leaf),
            (Condition::Numeric(ops), Leaf::Num(n)) => ops.iter().all(|(op, v)| match op {
                NumOp::Eq => n == v,
                NumOp::Lt => n < v,
                NumOp::Le => n <= v,
                NumOp::Gt => n > v,
                NumOp::Ge => n >= v,
            }),
            (Condition::Exists(present), _) => *present,
            _ => false,
        }
    }
}

impl AnythingBut {
    fn matches_leaf(&self, leaf: &Leaf<'_>) -> bool {
        match self {
            AnythingBut::Values(values) => !values.iter().any(|v| v.matches_leaf(leaf)),
            AnythingBut::Prefix(p) => matches!(leaf, Leaf::Str(s) if !s.starts_with(p.as_str())),
            AnythingBut::Suffix(p) => matches!(leaf, Leaf::Str(s) if !s.ends_with(p.as_str())),
            AnythingBut::EqualsIgnoreCase(values) => {
                matches!(leaf, Leaf::Str(s) if !values.iter().any(|v| eq_ignore_case(v, s)))
            }
        }
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

fn starts_with(s: &str, p: &str, ignore_case: bool) -> bool {
    if ignore_case {
        s.to_lowercase().starts_with(&p.to_lowercase())
    } else {
        s.starts_with(p)
    }
}

fn ends_with(s: &str, p: &str, ignore_case: bool) -> bool {
    if ignore_case {
        s.to_lowercase().ends_with(&p.to_lowercase())
    } else {
        s.ends_with(p)
    }
}

#[cfg(test)]
mod tests;
