//! EventBridge event patterns with AWS's semantics: compiled once, matched against any
//! [`FieldSource`] (a borrowed [`crate::Event`] or a `serde_json::Value`).
//!
//! A pattern is a JSON object whose nested objects name paths into the event and whose
//! leaves are arrays of conditions: a field matches when any of its conditions matches
//! any of the event's values at that path (arrays in the event are crushed), and a
//! pattern matches when all its fields do. `$or` is expanded at compile time into
//! alternatives ("conjuncts"), each a plain AND of fields. Values matched inside arrays
//! must agree on the array elements they share (see `arrays.rs`). The operators, their
//! edge cases and the limits follow AWS's EventBridge user guide and event-ruler;
//! `docs/architecture.md` lists the choices made where AWS is silent.

mod arrays;
pub mod compile;
mod condition;
mod index;
mod ip;
mod operators;
pub(crate) mod wildcard;

use crate::json::{with_segments, FieldSource, Leaf};

use arrays::Candidates;
pub use compile::{PatternError, MAX_COMBINATIONS, MAX_PATTERN_BYTES, MAX_PATTERN_CHARS};
use condition::Condition;
pub use index::PatternIndex;

/// A compiled event pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    conjuncts: Vec<Conjunct>,
}

/// One alternative of a pattern: every field must match.
#[derive(Debug, Clone)]
pub(crate) struct Conjunct {
    fields: Vec<FieldMatcher>,
}

#[derive(Debug, Clone)]
pub(crate) struct FieldMatcher {
    path: Vec<String>,
    conditions: Vec<Condition>,
    /// The plain exact strings among the conditions, sorted: a list of fifty event
    /// names is one binary search, not fifty comparisons.
    exact: Vec<String>,
    /// The other conditions (indices into `conditions`).
    others: Vec<usize>,
    /// Holds `exists: false`: the field also matches when the event has no value there.
    absent_ok: bool,
}

/// How one field fared against one event.
enum FieldOutcome {
    Fails,
    /// Matched by a value outside any array: places no constraint on other fields.
    Free,
    /// Matched only inside arrays, by these candidates.
    Pinned(Candidates),
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
        self.conjuncts.iter().any(|c| c.matches(event))
    }

    /// How many alternatives the pattern's `$or` clauses expand to (1 without `$or`).
    pub fn combinations(&self) -> usize {
        self.conjuncts.len()
    }

    pub(crate) fn conjuncts(&self) -> &[Conjunct] {
        &self.conjuncts
    }
}

impl Conjunct {
    fn new(mut fields: Vec<FieldMatcher>) -> Conjunct {
        // Cheap, selective fields first: most events fail on the first field read.
        fields.sort_by_key(|f| (!f.is_exact_strings(), f.path.len()));
        Conjunct { fields }
    }

    pub(crate) fn fields(&self) -> &[FieldMatcher] {
        &self.fields
    }

    pub(crate) fn matches(&self, event: &dyn FieldSource) -> bool {
        let mut pinned: Vec<Candidates> = Vec::new();
        for field in &self.fields {
            match field.evaluate(event) {
                FieldOutcome::Fails => return false,
                FieldOutcome::Free => {}
                FieldOutcome::Pinned(c) => pinned.push(c),
            }
        }
        pinned.len() < 2 || arrays::consistent(&pinned)
    }
}

impl FieldMatcher {
    fn new(path: Vec<String>, conditions: Vec<Condition>) -> FieldMatcher {
        let absent_ok = conditions
            .iter()
            .any(|c| matches!(c, Condition::Exists(false)));
        let mut exact: Vec<String> = conditions
            .iter()
            .filter_map(|c| c.exact_str().map(str::to_owned))
            .collect();
        exact.sort_unstable();
        exact.dedup();
        let others = (0..conditions.len())
            .filter(|&i| conditions[i].exact_str().is_none())
            .collect();
        FieldMatcher {
            path,
            conditions,
            exact,
            others,
            absent_ok,
        }
    }

    fn matches_leaf(&self, leaf: &Leaf<'_>) -> bool {
        if let Leaf::Str(s) = leaf {
            if !self.exact.is_empty()
                && self
                    .exact
                    .binary_search_by(|e| e.as_str().cmp(s.as_ref()))
                    .is_ok()
            {
                return true;
            }
        }
        self.others
            .iter()
            .any(|&i| self.conditions[i].matches(leaf))
    }

    pub(crate) fn path(&self) -> &[String] {
        &self.path
    }

    /// The index keys of every condition, when each has one (an exact string or a
    /// case-sensitive prefix): the field cannot match an event without one of them.
    pub(crate) fn index_keys(&self) -> Option<Vec<condition::IndexKey<'_>>> {
        self.conditions.iter().map(Condition::index_key).collect()
    }

    fn is_exact_strings(&self) -> bool {
        self.conditions.iter().all(|c| c.exact_str().is_some())
    }

    fn evaluate(&self, event: &dyn FieldSource) -> FieldOutcome {
        let mut any_value = false;
        let mut free = false;
        let mut pinned: Candidates = Vec::new();
        with_segments(&self.path, |path| {
            event.visit(path, &mut |leaf, steps| {
                any_value = true;
                if free || !self.matches_leaf(&leaf) {
                    return;
                }
                if steps.is_empty() {
                    free = true;
                } else {
                    pinned.push(steps.to_vec());
                }
            })
        });
        if free || (!any_value && self.absent_ok) {
            FieldOutcome::Free
        } else if pinned.is_empty() {
            FieldOutcome::Fails
        } else {
            FieldOutcome::Pinned(pinned)
        }
    }
}

#[cfg(test)]
mod tests;
