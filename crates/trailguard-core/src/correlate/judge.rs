//! The judging pass: every collected step in (time, eventID) order through the store.

use std::collections::BTreeMap;

use super::{hash, order, Collector, Mark, HOUR_MS};
use crate::engine::Detection;
use crate::rule::{Rule, Stateful};
use crate::state::{Remembered, Store, StoreError};
use crate::time::format_millis;

enum Step {
    Seen(Detection),
    /// rule, group key (by number), the mark.
    Mark(usize, u32, Mark),
    First(Detection),
    Then(Detection),
}

impl Step {
    /// Time, first steps before second steps of the same instant, then the eventID
    /// (hashed) so that equal times still have one order.
    fn sort_key(&self) -> (i64, u8, u64) {
        match self {
            Step::Seen(d) | Step::First(d) => (d.time_ms, 0, hash(&d.event_id)),
            Step::Mark(_, _, m) => (m.time_ms, 0, m.event),
            Step::Then(d) => (d.time_ms, 1, hash(&d.event_id)),
        }
    }
}

/// A threshold crossed within one group's hour: when first, and the highest count.
struct Crossing {
    first_ms: i64,
    count: u64,
}

pub(super) fn judge(
    c: Collector,
    rules: &[Rule],
    store: &mut dyn Store,
) -> Result<Vec<Detection>, StoreError> {
    let kept: usize = c.plain.values().map(|p| p.kept.len()).sum();
    let mut out: Vec<Detection> = Vec::with_capacity(kept + c.firsts.len() + 64);
    for slot in c.plain.into_values() {
        out.extend(slot.finish());
    }
    let names = c.names;
    let mut steps: Vec<Step> = Vec::new();
    steps.extend(
        c.first_seen
            .into_values()
            .flat_map(|v| v.into_values().map(Step::Seen)),
    );
    for ((rule, key), marks) in c.marks {
        steps.extend(marks.into_iter().map(|m| Step::Mark(rule, key, m)));
    }
    steps.extend(c.firsts.into_iter().map(Step::First));
    steps.extend(c.thens.into_values().flatten().map(Step::Then));
    // Sorted by position: a step holding a whole detection is large to move around.
    let mut order_of: Vec<((i64, u8, u64), u32)> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.sort_key(), i as u32))
        .collect();
    order_of.sort_unstable();
    let mut steps: Vec<Option<Step>> = steps.into_iter().map(Some).collect();
    let steps = order_of
        .into_iter()
        .filter_map(move |(_, i)| steps[i as usize].take());

    let mut crossings: BTreeMap<(usize, u32, i64), Crossing> = BTreeMap::new();
    // (access key, source IP) -> when the key was first seen from it, past learning.
    let mut fresh: BTreeMap<(String, String), i64> = BTreeMap::new();
    for step in steps {
        match step {
            Step::Seen(mut d) => {
                let Some(Stateful::FirstSeen { learning_ms, .. }) = &rules[d.rule].stateful else {
                    continue;
                };
                let (Some(key), Some(value)) = (d.observed[0].clone(), d.observed[1].clone())
                else {
                    continue;
                };
                let s = store.observe(rules[d.rule].id(), &key, &value, d.time_ms)?;
                if s.new_value && d.time_ms - s.key_since_ms >= *learning_ms {
                    d.reasons.push(format!(
                        "{value} is new for {key} (known since {})",
                        format_millis(s.key_since_ms)
                    ));
                    if is_key_ip(&rules[d.rule]) {
                        fresh.entry((key, value)).or_insert(d.time_ms);
                    }
                    out.push(d);
                }
            }
            Step::Mark(rule, key_id, m) => {
                let Some(Stateful::Threshold {
                    distinct,
                    at_least,
                    window_ms,
                    ..
                }) = &rules[rule].stateful
                else {
                    continue;
                };
                let mut hex = [0u8; 16];
                let item = if distinct.is_some() {
                    match m.item {
                        Some(i) => Some(hex_u64(i, &mut hex)),
                        None => continue,
                    }
                } else {
                    None
                };
                let w = store.window_add(
                    rules[rule].id(),
                    &names[key_id as usize],
                    m.time_ms,
                    item,
                    *window_ms,
                )?;
                let count = if distinct.is_some() {
                    w.distinct
                } else {
                    w.events
                };
                if count >= *at_least {
                    let bucket = m.time_ms.div_euclid(HOUR_MS);
                    let c = crossings.entry((rule, key_id, bucket)).or_insert(Crossing {
                        first_ms: m.time_ms,
                        count,
                    });
                    c.count = c.count.max(count);
                }
            }
            Step::First(d) => {
                let Some(Stateful::Sequence { within_ms, .. }) = &rules[d.rule].stateful else {
                    continue;
                };
                let Some(key) = &d.observed[0] else { continue };
                let fact = Remembered {
                    at_ms: d.time_ms,
                    data: d.observed[1].clone().unwrap_or_default(),
                };
                store.remember(rules[d.rule].id(), key, fact, *within_ms)?;
            }
            Step::Then(mut d) => {
                let Some(Stateful::Sequence { differs, .. }) = &rules[d.rule].stateful else {
                    continue;
                };
                let Some(key) = d.observed[0].clone() else {
                    continue;
                };
                let Some(first) = store.recall(rules[d.rule].id(), &key, d.time_ms)? else {
                    continue;
                };
                if d.time_ms < first.at_ms {
                    continue;
                }
                if differs.is_some() {
                    // Both sides must be known, and differ.
                    match d.observed[1].as_deref() {
                        Some(now) if !first.data.is_empty() && now != first.data => {
                            d.reasons.push(format!(
                                "{key} came from {} at {}, now used from {now}",
                                first.data,
                                format_millis(first.at_ms)
                            ));
                        }
                        _ => continue,
                    }
                } else {
                    d.reasons
                        .push(format!("follows {key} at {}", format_millis(first.at_ms)));
                }
                out.push(d);
            }
        }
    }

    let mut samples = c.samples;
    // Each group's sampled hours, to find a crossing's nearest one without a scan.
    let mut sampled: crate::FastMap<(usize, u32), Vec<i64>> = Default::default();
    for &(rule, key, bucket) in samples.keys() {
        sampled.entry((rule, key)).or_default().push(bucket);
    }
    for ((rule, key_id, bucket), crossing) in crossings {
        let key = &names[key_id as usize];
        let Some(Stateful::Threshold {
            at_least,
            window_ms,
            ..
        }) = &rules[rule].stateful
        else {
            continue;
        };
        // The crossing's own hour, else the group's nearest hour with samples (a
        // group's first matches to arrive are not sampled).
        let nearest = sampled.get(&(rule, key_id)).and_then(|buckets| {
            buckets
                .iter()
                .filter(|b| samples.contains_key(&(rule, key_id, **b)))
                .min_by_key(|b| ((**b - bucket).abs(), **b))
                .copied()
        });
        let Some(s) = nearest.and_then(|b| samples.remove(&(rule, key_id, b))) else {
            continue;
        };
        let mut kept: Vec<Detection> = s.earliest.into_iter().chain(s.latest).collect();
        kept.sort_by(|a, b| order(a).cmp(&order(b)));
        kept.dedup_by(|a, b| a.event_id == b.event_id && !a.event_id.is_empty());
        let after: Vec<Detection> = kept
            .iter()
            .filter(|d| d.time_ms >= crossing.first_ms)
            .cloned()
            .collect();
        let chosen = if after.is_empty() {
            kept.pop().into_iter().collect()
        } else {
            after
        };
        let reason = format!(
            "{} matches for {key} within {} (threshold {at_least}), from {}",
            crossing.count,
            human_duration(*window_ms),
            format_millis(crossing.first_ms)
        );
        for mut d in chosen {
            d.reasons.push(reason.clone());
            out.push(d);
        }
    }
    raise_near_fresh_addresses(&mut out, &fresh, rules);
    Ok(out)
}

/// How long after a key's first call from a new address its other detections count as
/// coming from that new address.
const FRESH_MS: i64 = 3_600_000;

/// Whether a first-seen rule tracks source addresses per access key.
fn is_key_ip(rule: &Rule) -> bool {
    matches!(&rule.stateful, Some(Stateful::FirstSeen { per, value, .. })
        if per.join(".") == "detail.userIdentity.accessKeyId" && value.join(".") == "detail.sourceIPAddress")
}

/// Severity follows context: any detection by a key, from an address the key was first
/// seen at less than an hour before, is raised one level (a `CreateAccessKey` that is
/// routine from the usual office becomes serious from a brand-new address).
fn raise_near_fresh_addresses(
    out: &mut [Detection],
    fresh: &BTreeMap<(String, String), i64>,
    rules: &[Rule],
) {
    if fresh.is_empty() {
        return;
    }
    for d in out.iter_mut() {
        if is_key_ip(&rules[d.rule]) {
            continue;
        }
        let (Some(key), Some(ip)) = (&d.actor.access_key_id, &d.actor.source_ip) else {
            continue;
        };
        let Some(&since) = fresh.get(&(key.clone(), ip.clone())) else {
            continue;
        };
        if (0..=FRESH_MS).contains(&(d.time_ms - since)) {
            let raised = d.severity.raised();
            if raised != d.severity {
                d.severity = raised;
                d.reasons.push(format!(
                    "from {ip}, first seen for {key} at {}",
                    format_millis(since)
                ));
            }
        }
    }
}

/// `i` as 16 lowercase hex digits, without allocating (one per threshold mark).
fn hex_u64(i: u64, buf: &mut [u8; 16]) -> &str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (n, b) in buf.iter_mut().enumerate() {
        *b = DIGITS[((i >> (60 - 4 * n)) & 0xf) as usize];
    }
    std::str::from_utf8(buf).unwrap_or_default()
}

fn human_duration(ms: i64) -> String {
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)] {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{}s", ms / 1000)
}
