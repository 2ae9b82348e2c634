//! Stateful rules: their matches are collected during the parallel, stateless pass —
//! within fixed bounds — and then judged in event-time order against a [`Store`], so
//! that an archive read in any order gives the alerts the same events would give
//! streamed one by one.
//!
//! What is kept (the bounds, per rule):
//! - `first_seen`: the earliest match per (key, value): a later sighting of a value is
//!   never its first, so nothing else can alert.
//! - `threshold`: every match as a mark (time, eventID, distinct item) for counting,
//!   and as full detections only the first and last [`SAMPLES_PER_BUCKET`] of each
//!   group per hour, which is what an alert shows.
//! - `sequence`: every first step (rare by design: `CreateAccessKey`), and the earliest
//!   [`THEN_PER_KEY`] second steps per join value.

mod judge;

use std::collections::HashMap;

use crate::engine::Detection;
use crate::rule::{Rule, Stage, Stateful};
use crate::state::{Store, StoreError};

/// Full detections kept at each end of a threshold group's hour.
pub const SAMPLES_PER_BUCKET: usize = 8;
/// Second steps kept per sequence join value.
pub const THEN_PER_KEY: usize = 16;
const HOUR_MS: i64 = 3_600_000;

/// The matches of stateful rules (and the final detections of plain ones) of one run.
#[derive(Debug, Default)]
pub struct Collector {
    alerts: Vec<Detection>,
    first_seen: HashMap<(usize, String, String), Detection>,
    marks: HashMap<(usize, String), Vec<Mark>>,
    samples: HashMap<(usize, String, i64), Samples>,
    firsts: Vec<Detection>,
    thens: HashMap<(usize, String), Vec<Detection>>,
}

#[derive(Debug, Clone)]
struct Mark {
    time_ms: i64,
    event_id: String,
    item: Option<String>,
}

#[derive(Debug, Default)]
struct Samples {
    earliest: Vec<Detection>,
    latest: Vec<Detection>,
}

fn order(d: &Detection) -> (i64, &str) {
    (d.time_ms, &d.event_id)
}

/// Keeps `d` if it is among the `cap` earliest (or latest) of `kept`.
fn keep(kept: &mut Vec<Detection>, d: Detection, cap: usize, earliest: bool) {
    if kept
        .iter()
        .any(|k| k.event_id == d.event_id && !d.event_id.is_empty())
    {
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
    if let Some((i, w)) = worst {
        let better = if earliest {
            order(&d) < order(w)
        } else {
            order(&d) > order(w)
        };
        if better {
            kept[i] = d;
        }
    }
}

impl Collector {
    pub fn new() -> Collector {
        Collector::default()
    }

    /// Takes one detection from the engine.
    pub fn add(&mut self, d: Detection, rules: &[Rule]) {
        let Some(stateful) = &rules[d.rule].stateful else {
            self.alerts.push(d);
            return;
        };
        // A match without the key it is judged by cannot be judged.
        let Some(key) = d.observed[0].clone() else {
            return;
        };
        match (stateful, d.stage) {
            (Stateful::FirstSeen { .. }, _) => {
                let Some(value) = d.observed[1].clone() else {
                    return;
                };
                let slot = (d.rule, key, value);
                match self.first_seen.get(&slot) {
                    Some(old) if order(old) <= order(&d) => {}
                    _ => {
                        self.first_seen.insert(slot, d);
                    }
                }
            }
            (Stateful::Threshold { .. }, _) => {
                self.marks
                    .entry((d.rule, key.clone()))
                    .or_default()
                    .push(Mark {
                        time_ms: d.time_ms,
                        event_id: d.event_id.clone(),
                        item: d.observed[1].clone(),
                    });
                let bucket = d.time_ms.div_euclid(HOUR_MS);
                let samples = self.samples.entry((d.rule, key, bucket)).or_default();
                keep(&mut samples.earliest, d.clone(), SAMPLES_PER_BUCKET, true);
                keep(&mut samples.latest, d, SAMPLES_PER_BUCKET, false);
            }
            (Stateful::Sequence { .. }, Stage::Then) => {
                let kept = self.thens.entry((d.rule, key)).or_default();
                keep(kept, d, THEN_PER_KEY, true);
            }
            (Stateful::Sequence { .. }, _) => self.firsts.push(d),
        }
    }

    /// Adds what another collector (another thread's) gathered.
    pub fn merge(&mut self, other: Collector) {
        self.alerts.extend(other.alerts);
        for (slot, d) in other.first_seen {
            match self.first_seen.get(&slot) {
                Some(old) if order(old) <= order(&d) => {}
                _ => {
                    self.first_seen.insert(slot, d);
                }
            }
        }
        for (slot, marks) in other.marks {
            self.marks.entry(slot).or_default().extend(marks);
        }
        for (slot, s) in other.samples {
            let mine = self.samples.entry(slot).or_default();
            for d in s.earliest {
                keep(&mut mine.earliest, d, SAMPLES_PER_BUCKET, true);
            }
            for d in s.latest {
                keep(&mut mine.latest, d, SAMPLES_PER_BUCKET, false);
            }
        }
        self.firsts.extend(other.firsts);
        for (slot, thens) in other.thens {
            let mine = self.thens.entry(slot).or_default();
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
