//! [`PatternIndex`]: many patterns compiled into one structure, so that an event only
//! meets the patterns that could match it.
//!
//! In the spirit of AWS's event-ruler, but as an index rather than an automaton: each
//! alternative (conjunct) of each pattern is filed under one of its fields whose
//! conditions are all exact strings, case-sensitive prefixes or suffixes, or
//! `equals-ignore-case` strings (filed lowercased, found by the value lowercased), preferring
//! `detail.eventName`, then other specific fields, then `eventSource`/`source`, exact
//! before prefix or suffix, and among equals the paths most conjuncts share (so an
//! event reads few paths). An event reads each indexed path once, looks its values up
//! (and their prefixes and suffixes of the lengths filed) and fully checks only the
//! conjuncts found, plus the few that can be filed under nothing. Per event the cost
//! follows the patterns that could match, not how many are loaded.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::json::{with_segments, FieldSource, Leaf};

use super::condition::{lowercased, IndexKey};
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
    by_value: Map,
    by_prefix: AffixMap,
    by_suffix: AffixMap,
    /// `equals-ignore-case` values, lowercased.
    by_lower: Map,
}

impl KeyPath {
    fn lookup(&self, s: &str, out: &mut Vec<u32>) {
        if let Some(ids) = self.by_value.get(s) {
            out.extend_from_slice(ids);
        }
        if !self.by_lower.is_empty() {
            if let Some(ids) = self.by_lower.get(lowercased(s).as_ref()) {
                out.extend_from_slice(ids);
            }
        }
        self.by_prefix.lookup(s, false, out);
        self.by_suffix.lookup(s, true, out);
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut h: u64, bytes: impl Iterator<Item = u8>) -> u64 {
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One key and the conjuncts filed under it.
type Filed = (Box<str>, Vec<u32>);

/// Prefixes (or suffixes) by the FNV-1a hash of their bytes (a suffix's read from its
/// end), so that all the prefixes of one value are hashed in a single pass over it.
#[derive(Debug, Clone, Default)]
struct AffixMap {
    by_hash: HashMap<u64, Vec<Filed>, BuildHasherDefault<Identity>>,
    /// The lengths (bytes) filed, ascending.
    lens: Vec<usize>,
}

impl AffixMap {
    fn hash(key: &str, suffix: bool) -> u64 {
        if suffix {
            fnv(FNV_OFFSET, key.bytes().rev())
        } else {
            fnv(FNV_OFFSET, key.bytes())
        }
    }

    fn entry(&mut self, key: &str, suffix: bool) -> &mut Vec<u32> {
        if !self.lens.contains(&key.len()) {
            self.lens.push(key.len());
            self.lens.sort_unstable();
        }
        let bucket = self.by_hash.entry(Self::hash(key, suffix)).or_default();
        let at = match bucket.iter().position(|(k, _)| **k == *key) {
            Some(at) => at,
            None => {
                bucket.push((key.into(), Vec::new()));
                bucket.len() - 1
            }
        };
        &mut bucket[at].1
    }

    fn lookup(&self, s: &str, suffix: bool, out: &mut Vec<u32>) {
        let bytes = s.as_bytes();
        let mut h = FNV_OFFSET;
        let mut done = 0;
        for &len in &self.lens {
            if len > bytes.len() {
                break;
            }
            let (piece, at) = if suffix {
                let end = bytes.len() - done;
                (&bytes[bytes.len() - len..end], bytes.len() - len)
            } else {
                (&bytes[done..len], len)
            };
            h = if suffix {
                fnv(h, piece.iter().rev().copied())
            } else {
                fnv(h, piece.iter().copied())
            };
            done = len;
            if !s.is_char_boundary(at) {
                continue;
            }
            let Some(bucket) = self.by_hash.get(&h) else {
                continue;
            };
            let affix = if suffix { &s[at..] } else { &s[..at] };
            for (key, ids) in bucket {
                if **key == *affix {
                    out.extend_from_slice(ids);
                }
            }
        }
    }
}

/// For keys that are already hashes.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv(self.0 ^ FNV_OFFSET, bytes.iter().copied());
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// FNV-1a: the keys are short strings from our own rules, looked up several times per
/// event; SipHash's protection against chosen keys is not needed for them.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let start = if self.0 == 0 { FNV_OFFSET } else { self.0 };
        self.0 = fnv(start, bytes.iter().copied());
    }
}

type Map = HashMap<Box<str>, Vec<u32>, BuildHasherDefault<Fnv>>;

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
                            by_value: Map::default(),
                            by_prefix: AffixMap::default(),
                            by_suffix: AffixMap::default(),
                            by_lower: Map::default(),
                        });
                        keys.len() - 1
                    }
                };
                let key = &mut keys[slot];
                for k in values {
                    let ids = match k {
                        IndexKey::Exact(v) => key.by_value.entry(v.into()).or_default(),
                        IndexKey::Prefix(p) => key.by_prefix.entry(p, false),
                        IndexKey::Suffix(p) => key.by_suffix.entry(p, true),
                        IndexKey::IgnoreCase(v) => key.by_lower.entry(v.into()).or_default(),
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
