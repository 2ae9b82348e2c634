//! [`PatternIndex`]: many patterns compiled into one structure, so that an event only
//! meets the patterns that could match it.
//!
//! In the spirit of AWS's event-ruler, but as an index rather than an automaton: each
//! alternative (conjunct) of each pattern is filed under one of its fields whose
//! conditions are all exact strings or case-sensitive prefixes or suffixes, preferring
//! `detail.eventName`, then other specific fields, then `eventSource`/`source`, exact
//! before prefix or suffix, and among equals the paths most conjuncts share (so an
//! event reads few paths). An event reads each indexed path once, looks its values up
//! (and their prefixes and suffixes of the lengths filed) and fully checks only the
//! conjuncts found, plus the few that can be filed under nothing. Per event the cost
//! follows the patterns that could match, not how many are loaded.

use std::cell::Cell;
use std::collections::HashMap;

use crate::json::{with_segments, FieldSource, Leaf};

use super::condition::IndexKey;
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
    by_prefix: HashMap<Box<str>, Vec<u32>>,
    /// The lengths (bytes) of the prefixes filed, ascending.
    prefix_lens: Vec<usize>,
    by_suffix: HashMap<Box<str>, Vec<u32>>,
    suffix_lens: Vec<usize>,
}

impl KeyPath {
    fn lookup(&self, s: &str, out: &mut Vec<u32>) {
        if let Some(ids) = self.by_value.get(s) {
            out.extend_from_slice(ids);
        }
        for &len in &self.prefix_lens {
            if len > s.len() {
                break;
            }
            if s.is_char_boundary(len) {
                if let Some(ids) = self.by_prefix.get(&s[..len]) {
                    out.extend_from_slice(ids);
                }
            }
        }
        for &len in &self.suffix_lens {
            if len > s.len() {
                break;
            }
            let at = s.len() - len;
            if s.is_char_boundary(at) {
                if let Some(ids) = self.by_suffix.get(&s[at..]) {
                    out.extend_from_slice(ids);
                }
            }
        }
    }
}

thread_local! {
    /// The candidate list, reused from event to event.
    static CANDIDATES: Cell<Vec<u32>> = const { Cell::new(Vec::new()) };
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
                    if f.index_keys().is_some() {
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
                    .filter_map(|f| Some((f, f.index_keys()?)))
                    .min_by_key(|(f, keys)| {
                        let shared = popularity.get(f.path()).copied().unwrap_or(0);
                        let affix = keys.iter().any(|k| !matches!(k, IndexKey::Exact(_)));
                        let score = path_weight(f.path()) * 2 + u8::from(affix);
                        (score, usize::MAX - shared, keys.len())
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
                            by_prefix: HashMap::new(),
                            prefix_lens: Vec::new(),
                            by_suffix: HashMap::new(),
                            suffix_lens: Vec::new(),
                        });
                        keys.len() - 1
                    }
                };
                let key = &mut keys[slot];
                for k in values {
                    let ids = match k {
                        IndexKey::Exact(v) => key.by_value.entry(v.into()).or_default(),
                        IndexKey::Prefix(p) => {
                            if !key.prefix_lens.contains(&p.len()) {
                                key.prefix_lens.push(p.len());
                                key.prefix_lens.sort_unstable();
                            }
                            key.by_prefix.entry(p.into()).or_default()
                        }
                        IndexKey::Suffix(p) => {
                            if !key.suffix_lens.contains(&p.len()) {
                                key.suffix_lens.push(p.len());
                                key.suffix_lens.sort_unstable();
                            }
                            key.by_suffix.entry(p.into()).or_default()
                        }
                    };
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
        let mut candidates = CANDIDATES.take();
        candidates.clear();
        for key in &self.keys {
            with_segments(&key.path, |path| {
                event.visit(path, &mut |leaf, _| {
                    if let Leaf::Str(s) = leaf {
                        key.lookup(&s, &mut candidates);
                    }
                })
            });
        }
        candidates.extend_from_slice(&self.always);
        candidates.sort_unstable();
        candidates.dedup();
        let first = out.len();
        for &id in &candidates {
            let (p, c) = self.conjuncts[id as usize];
            let p = p as usize;
            if out.len() > first && out[out.len() - 1] == p {
                continue; // another alternative of this pattern already matched
            }
            if self.patterns[p].conjuncts()[c as usize].matches(event) {
                out.push(p);
            }
        }
        CANDIDATES.set(candidates);
    }

    /// The indices of the patterns `event` matches, in ascending order.
    pub fn matching(&self, event: &dyn FieldSource) -> Vec<usize> {
        let mut out = Vec::new();
        self.matches_into(event, &mut out);
        out
    }

    /// The patterns with an alternative checked against every event.
    pub fn unindexed_patterns(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .always
            .iter()
            .map(|&id| self.conjuncts[id as usize].0 as usize)
            .collect();
        out.dedup();
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
