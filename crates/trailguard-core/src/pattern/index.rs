//! [`PatternIndex`]: many patterns compiled into one structure, so that an event only
//! meets the patterns that could match it.
//!
//! In the spirit of AWS's event-ruler, but as an index rather than an automaton: each
//! alternative (conjunct) of each pattern is filed under one of its fields that pins
//! plain exact strings, preferring `detail.eventName`, then other specific fields,
//! then `eventSource`/`source`, and among equals the paths most conjuncts share (so an
//! event reads few paths). An event reads each indexed path once, looks its values up
//! and fully checks only the conjuncts found, plus the few that pin no exact string.
//! Per event the cost follows the patterns that could match, not how many are loaded.

use std::collections::HashMap;

use crate::json::{with_segments, FieldSource, Leaf};

use super::Pattern;

/// Many patterns, matched together.
#[derive(Debug, Clone, Default)]
pub struct PatternIndex {
    patterns: Vec<Pattern>,
    /// (pattern, conjunct) for every conjunct id; ids follow pattern order.
    conjuncts: Vec<(u32, u32)>,
    keys: Vec<KeyPath>,
    /// Conjuncts that pin no exact string anywhere: checked against every event.
    always: Vec<u32>,
}

#[derive(Debug, Clone)]
struct KeyPath {
    path: Vec<String>,
    by_value: HashMap<Box<str>, Vec<u32>>,
}

/// How the index is laid out, for `--help`-level diagnostics and the benchmark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexStats {
    pub patterns: usize,
    pub conjuncts: usize,
    /// Paths an event is looked up by.
    pub key_paths: Vec<String>,
    /// Conjuncts checked against every event.
    pub unindexed: usize,
}

/// Lower is preferred as an index key.
fn path_weight(path: &[String]) -> u8 {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        ["detail", "eventName"] => 0,
        ["detail", "eventSource"] | ["source"] => 2,
        ["detail-type"] | ["account"] | ["region"] | ["version"] => 3,
        _ => 1,
    }
}

impl PatternIndex {
    pub fn new(patterns: impl IntoIterator<Item = Pattern>) -> PatternIndex {
        let patterns: Vec<Pattern> = patterns.into_iter().collect();
        let mut popularity: HashMap<&[String], usize> = HashMap::new();
        for p in &patterns {
            for c in p.conjuncts() {
                for f in c.fields() {
                    if f.exact_strings().is_some() {
                        *popularity.entry(f.path()).or_default() += 1;
                    }
                }
            }
        }
        let mut conjuncts = Vec::new();
        let mut keys: Vec<KeyPath> = Vec::new();
        let mut always = Vec::new();
        for (pi, p) in patterns.iter().enumerate() {
            for (ci, c) in p.conjuncts().iter().enumerate() {
                let id = conjuncts.len() as u32;
                conjuncts.push((pi as u32, ci as u32));
                let best = c
                    .fields()
                    .iter()
                    .filter_map(|f| Some((f, f.exact_strings()?)))
                    .min_by_key(|(f, values)| {
                        let shared = popularity.get(f.path()).copied().unwrap_or(0);
                        (path_weight(f.path()), usize::MAX - shared, values.len())
                    });
                let Some((field, values)) = best else {
                    always.push(id);
                    continue;
                };
                let slot = match keys.iter().position(|k| k.path == field.path()) {
                    Some(i) => i,
                    None => {
                        keys.push(KeyPath {
                            path: field.path().to_vec(),
                            by_value: HashMap::new(),
                        });
                        keys.len() - 1
                    }
                };
                for v in values {
                    let ids = keys[slot].by_value.entry(v.into()).or_default();
                    if ids.last() != Some(&id) {
                        ids.push(id);
                    }
                }
            }
        }
        PatternIndex {
            patterns,
            conjuncts,
            keys,
            always,
        }
    }

    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    pub fn pattern(&self, i: usize) -> &Pattern {
        &self.patterns[i]
    }

    /// Appends to `out` the indices of the patterns `event` matches, in ascending order.
    pub fn matches_into(&self, event: &dyn FieldSource, out: &mut Vec<usize>) {
        let mut candidates: Vec<u32> = Vec::with_capacity(8);
        for key in &self.keys {
            with_segments(&key.path, |path| {
                event.visit(path, &mut |leaf, _| {
                    if let Leaf::Str(s) = leaf {
                        if let Some(ids) = key.by_value.get(s.as_ref()) {
                            candidates.extend_from_slice(ids);
                        }
                    }
                })
            });
        }
        candidates.extend_from_slice(&self.always);
        candidates.sort_unstable();
        candidates.dedup();
        let first = out.len();
        for id in candidates {
            let (p, c) = self.conjuncts[id as usize];
            let p = p as usize;
            if out.len() > first && out[out.len() - 1] == p {
                continue; // another alternative of this pattern already matched
            }
            if self.patterns[p].conjuncts()[c as usize].matches(event) {
                out.push(p);
            }
        }
    }

    /// The indices of the patterns `event` matches, in ascending order.
    pub fn matching(&self, event: &dyn FieldSource) -> Vec<usize> {
        let mut out = Vec::new();
        self.matches_into(event, &mut out);
        out
    }

    pub fn stats(&self) -> IndexStats {
        IndexStats {
            patterns: self.patterns.len(),
            conjuncts: self.conjuncts.len(),
            key_paths: self.keys.iter().map(|k| k.path.join(".")).collect(),
            unindexed: self.always.len(),
        }
    }
}
