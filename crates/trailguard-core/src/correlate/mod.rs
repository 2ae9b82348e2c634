//! Stateful rules: their matches are collected during the parallel, stateless pass —
//! within fixed bounds — and then judged in event-time order against a [`Store`], so
//! that an archive read in any order gives the alerts the same events would give
//! streamed one by one.
//!
//! What is kept (the bounds, per rule):
//! - plain rules: per actor and hour the earliest [`KEPT_PER_HOUR`] detections whole,
//!   the rest as (time, eventID, severity, failed), which is all an alert counts.
//! - `first_seen`: the earliest match per (key, value), at most [`VALUES_PER_KEY`]
//!   values per key: a later sighting of a value is never its first.
//! - `threshold`: every match as a mark (time and hashes of the eventID and distinct
//!   item: 32 bytes) for counting, and full detections (the first and last
//!   [`SAMPLES_PER_BUCKET`] of an hour, what an alert shows) only where a window-long
//!   slice of time and its neighbours hold as many matches as the threshold.
//! - `sequence`: every first step (rare by design: `CreateAccessKey`), and the earliest
//!   [`THEN_PER_KEY`] second steps per join value.

mod judge;

use crate::{FastMap, FastSet};

use crate::engine::{Absorbed, Detection, DetectionSource, Match};
use crate::rule::{Rule, Stage, Stateful};
use crate::state::{Store, StoreError};

/// Full detections kept at each end of a threshold group's hour.
pub const SAMPLES_PER_BUCKET: usize = 8;
/// Second steps kept per sequence join value.
pub const THEN_PER_KEY: usize = 16;
/// Values collected per first-seen key (as many as the stores remember).
pub const VALUES_PER_KEY: usize = 1024;
/// Full detections kept per plain rule, actor and hour; the rest are absorbed.
pub const KEPT_PER_HOUR: usize = 64;
const HOUR_MS: i64 = 3_600_000;

/// The matches of stateful rules (and the final detections of plain ones) of one run.
#[derive(Debug, Default)]
pub struct Collector {
    /// Plain rules' detections by (rule, actor, hour), keyed by a hash of the three
    /// (most slots hold one detection: no key copy): the earliest kept whole, the rest
    /// absorbed (their times, eventIDs, severities and failures only).
    plain: FastMap<u64, PlainSlot>,
    /// Group keys (access key ids, principals...) by number, so that the maps below
    /// hash and copy a number rather than a string for every match.
    keys: FastMap<String, u32>,
    names: Vec<String>,
    /// (rule, key) -> value -> its earliest detection.
    first_seen: FastMap<(usize, u32), FastMap<String, Detection>>,
    marks: FastMap<(usize, u32), Vec<Mark>>,
    /// Matches (or distinct items, up to the threshold) per group and window-long slice
    /// of time, to sample only where a crossing could be.
    hour_counts: FastMap<(usize, u32, i64), HourCount>,
    samples: FastMap<(usize, u32, i64), Samples>,
    firsts: Vec<Detection>,
    thens: FastMap<(usize, u32), Vec<Detection>>,
}

/// One threshold match, as small as it can be: hashes stand in for the eventID (order
/// among equal times) and the distinct item.
#[derive(Debug, Clone, Copy)]
struct Mark {
    time_ms: i64,
    event: u64,
    item: Option<u64>,
}

#[derive(Debug, Default)]
struct PlainSlot {
    kept: Vec<Detection>,
    absorbed: Vec<Absorbed>,
}

impl PlainSlot {
    fn add(&mut self, mut d: Detection) {
        if self.kept.len() < KEPT_PER_HOUR {
            // Most slots hold one or two detections: grow one at a time at first.
            if self.kept.len() < 4 {
                self.kept.reserve_exact(1);
            }
            self.kept.push(d);
            return;
        }
        let latest = self
            .kept
            .iter()
            .enumerate()
            .max_by(|a, b| order(a.1).cmp(&order(b.1)))
            .map(|(i, _)| i);
        if let Some(i) = latest.filter(|&i| order(&d) < order(&self.kept[i])) {
            std::mem::swap(&mut self.kept[i], &mut d);
        }
        self.absorb(d);
    }

    fn absorb(&mut self, d: Detection) {
        self.absorbed.push(Absorbed {
            time_ms: d.time_ms,
            event_id: d.event_id,
            severity: d.severity,
            failed: d.error_code.is_some(),
        });
        self.absorbed.extend(d.absorbed);
    }

    /// The kept detections, each carrying the absorbed events that follow it.
    fn finish(mut self) -> Vec<Detection> {
        self.kept.sort_by(|a, b| order(a).cmp(&order(b)));
        for a in self.absorbed {
            let at = self.kept.partition_point(|k| k.time_ms <= a.time_ms);
            if let Some(host) = self.kept.get_mut(at.saturating_sub(1)) {
                host.absorbed.push(a);
            }
        }
        self.kept
    }
}

#[derive(Debug, Default, Clone)]
struct HourCount {
    events: u64,
    items: FastSet<u64>,
}

impl HourCount {
    fn add(&mut self, item: Option<u64>, cap: u64) {
        self.events += 1;
        if let Some(i) = item {
            if (self.items.len() as u64) < cap {
                self.items.insert(i);
            }
        }
    }

    fn measure(&self, distinct: bool) -> u64 {
        if distinct {
            self.items.len() as u64
        } else {
            self.events
        }
    }
}

#[derive(Debug, Default)]
struct Samples {
    earliest: Vec<Detection>,
    latest: Vec<Detection>,
}

fn order(d: &Detection) -> (i64, &str) {
    (d.time_ms, &d.event_id)
}

/// The slot of a plain detection: its rule, actor (group key) and hour, hashed.
fn plain_slot(group_key: &str, rule: usize, time_ms: i64) -> u64 {
    let h = hash(group_key);
    let h = (h ^ rule as u64).wrapping_mul(0x0100_0000_01b3);
    (h ^ time_ms.div_euclid(HOUR_MS) as u64).wrapping_mul(0x0100_0000_01b3)
}

fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether a detection at `at` would be kept among the `cap` earliest (or latest).
fn would_keep(kept: &[Detection], at: (i64, &str), cap: usize, earliest: bool) -> bool {
    if kept.iter().any(|k| k.event_id == at.1 && !at.1.is_empty()) {
        return false;
    }
    if kept.len() < cap {
        return true;
    }
    if earliest {
        kept.iter().map(order).max().is_some_and(|worst| at < worst)
    } else {
        kept.iter().map(order).min().is_some_and(|worst| at > worst)
    }
}

/// Keeps `d` if it is among the `cap` earliest (or latest) of `kept`.
fn keep(kept: &mut Vec<Detection>, d: Detection, cap: usize, earliest: bool) {
    if !would_keep(kept, order(&d), cap, earliest) {
        return;
    }
    if kept.len() < cap {
        kept.push(d);
        return;
    }
    let worst = if earliest {
        kept.iter()
            .enumerate()
            .max_by(|a, b| order(a.1).cmp(&order(b.1)))
    } else {
        kept.iter()
            .enumerate()
            .min_by(|a, b| order(a.1).cmp(&order(b.1)))
    };
    if let Some((i, _)) = worst {
        kept[i] = d;
    }
}

impl Collector {
    pub fn new() -> Collector {
        Collector::default()
    }

    /// Takes one match from the engine, building its detection with `build` only when
    /// it may still be reported.
    pub fn offer(
        &mut self,
        m: Match,
        event_id: &str,
        rules: &[Rule],
        source: &dyn DetectionSource,
    ) {
        let build = || source.detection(&m);
        let Some(stateful) = &rules[m.rule].stateful else {
            let slot = plain_slot(source.group_key(), m.rule, m.time_ms);
            let p = self.plain.entry(slot).or_default();
            // Past the slot's first detections, only an earlier one is built whole.
            if p.kept.len() < KEPT_PER_HOUR
                || p.kept.iter().any(|k| (m.time_ms, event_id) < order(k))
            {
                p.add(build());
            } else {
                p.absorbed.push(source.absorbed(&m));
            }
            return;
        };
        // A match without the key it is judged by cannot be judged.
        let Some(key) = m.observed[0].as_deref() else {
            return;
        };
        let key = self.intern(key);
        let at = (m.time_ms, event_id);
        match (stateful, m.stage) {
            (Stateful::FirstSeen { .. }, _) => {
                let Some(value) = m.observed[1].as_deref() else {
                    return;
                };
                let values = self.first_seen.entry((m.rule, key)).or_default();
                let full = values.len() >= VALUES_PER_KEY;
                match values.get_mut(value) {
                    Some(old) if order(old) <= at => {}
                    Some(old) => *old = build(),
                    None if !full => {
                        values.insert(value.to_owned(), build());
                    }
                    None => {}
                }
            }
            (
                Stateful::Threshold {
                    at_least,
                    distinct,
                    window_ms,
                    ..
                },
                _,
            ) => {
                let item = m.observed[1].as_deref().map(hash);
                self.marks.entry((m.rule, key)).or_default().push(Mark {
                    time_ms: m.time_ms,
                    event: hash(event_id),
                    item,
                });
                // A window that crosses the threshold lies within one window-long
                // slice of time and its neighbours: full detections are built only
                // where a slice and its neighbours hold that many matches (so quiet
                // groups, such as each role session's few secret reads, cost a mark).
                let slice = m.time_ms.div_euclid((*window_ms).max(1));
                let distinct = distinct.is_some();
                let count = |c: &FastMap<(usize, u32, i64), HourCount>, b: i64| {
                    c.get(&(m.rule, key, b)).map_or(0, |h| h.measure(distinct))
                };
                self.hour_counts
                    .entry((m.rule, key, slice))
                    .or_default()
                    .add(item, *at_least);
                let near = count(&self.hour_counts, slice - 1)
                    + count(&self.hour_counts, slice)
                    + count(&self.hour_counts, slice + 1);
                if near < *at_least {
                    return;
                }
                let bucket = m.time_ms.div_euclid(HOUR_MS);
                let samples = self.samples.entry((m.rule, key, bucket)).or_default();
                let early = would_keep(&samples.earliest, at, SAMPLES_PER_BUCKET, true);
                let late = would_keep(&samples.latest, at, SAMPLES_PER_BUCKET, false);
                if early || late {
                    let d = build();
                    if early && late {
                        keep(&mut samples.earliest, d.clone(), SAMPLES_PER_BUCKET, true);
                    } else if early {
                        keep(&mut samples.earliest, d, SAMPLES_PER_BUCKET, true);
                        return;
                    }
                    if late {
                        keep(&mut samples.latest, d, SAMPLES_PER_BUCKET, false);
                    }
                }
            }
            (Stateful::Sequence { .. }, Stage::Then) => {
                let kept = self.thens.entry((m.rule, key)).or_default();
                if would_keep(kept, at, THEN_PER_KEY, true) {
                    keep(kept, build(), THEN_PER_KEY, true);
                }
            }
            (Stateful::Sequence { .. }, _) => self.firsts.push(build()),
        }
    }

    /// What is held, for diagnostics and tests: (full detections, threshold marks).
    pub fn held(&self) -> (usize, usize) {
        let samples: usize = self
            .samples
            .values()
            .map(|s| s.earliest.len() + s.latest.len())
            .sum();
        let thens: usize = self.thens.values().map(Vec::len).sum();
        let kept: usize = self.plain.values().map(|p| p.kept.len()).sum();
        let first_seen: usize = self.first_seen.values().map(|v| v.len()).sum();
        let detections = kept + first_seen + samples + self.firsts.len() + thens;
        (detections, self.marks.values().map(Vec::len).sum())
    }

    /// Takes one detection already built (tests, and callers without an engine).
    pub fn add(&mut self, d: Detection, rules: &[Rule]) {
        let m = Match {
            rule: d.rule,
            stage: d.stage,
            observed: d.observed.clone(),
            time_ms: d.time_ms,
        };
        let id = d.event_id.clone();
        self.offer(m, &id, rules, &d);
    }

    /// Adds what another collector gathered. Collectors that split one run should
    /// not be merged when threshold rules are loaded: a collector samples a threshold
    /// group from the matches it has seen, so each part alone may keep too few. Feed
    /// one collector from all threads instead (as `detect` does).
    /// The number standing for a group key.
    fn intern(&mut self, key: &str) -> u32 {
        if let Some(&id) = self.keys.get(key) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(key.to_owned());
        self.keys.insert(key.to_owned(), id);
        id
    }

    pub fn merge(&mut self, other: Collector) {
        let ids: Vec<u32> = other.names.iter().map(|n| self.intern(n)).collect();
        let id = |k: u32| ids[k as usize];
        for (slot, p) in other.plain {
            let mine = self.plain.entry(slot).or_default();
            for d in p.kept {
                mine.add(d);
            }
            mine.absorbed.extend(p.absorbed);
        }
        for ((rule, key), theirs) in other.first_seen {
            let values = self.first_seen.entry((rule, id(key))).or_default();
            for (value, d) in theirs {
                let full = values.len() >= VALUES_PER_KEY;
                match values.get_mut(&value) {
                    Some(old) if order(old) <= order(&d) => {}
                    Some(old) => *old = d,
                    None if !full => {
                        values.insert(value, d);
                    }
                    None => {}
                }
            }
        }
        for ((rule, key), marks) in other.marks {
            self.marks.entry((rule, id(key))).or_default().extend(marks);
        }
        for ((rule, key, slice), h) in other.hour_counts {
            let mine = self.hour_counts.entry((rule, id(key), slice)).or_default();
            mine.events += h.events;
            mine.items.extend(h.items);
        }
        for ((rule, key, bucket), s) in other.samples {
            let mine = self.samples.entry((rule, id(key), bucket)).or_default();
            for d in s.earliest {
                keep(&mut mine.earliest, d, SAMPLES_PER_BUCKET, true);
            }
            for d in s.latest {
                keep(&mut mine.latest, d, SAMPLES_PER_BUCKET, false);
            }
        }
        self.firsts.extend(other.firsts);
        for ((rule, key), thens) in other.thens {
            let mine = self.thens.entry((rule, id(key))).or_default();
            for d in thens {
                keep(mine, d, THEN_PER_KEY, true);
            }
        }
    }

    /// Judges the stateful matches in time order and returns every detection.
    pub fn judge(
        self,
        rules: &[Rule],
        store: &mut dyn Store,
    ) -> Result<Vec<Detection>, StoreError> {
        judge::judge(self, rules, store)
    }
}

#[cfg(test)]
mod tests;
