//! Digests: a burst of alerts to one sink folded into one summary message, so that
//! 500 `RunInstances` make a handful of messages, not 500.
//!
//! [`DigestFolder`] is pure and driven by the time it is given. Per sink with a
//! [`DigestPolicy`] `{max, within}`:
//!
//! - The first alert opens a window of `within`. The first `max` alerts of the window
//!   go out at once, each on its own ([`Outgoing::Single`]): the start of an attack
//!   is never delayed.
//! - Later alerts of the window are held, and go out as one [`Digest`] when the window
//!   closes (the first [`DigestFolder::push`] or [`DigestFolder::flush_due`] at or
//!   after its end).
//! - A window that closed with a digest means the sink is flooded: the next window
//!   opens at once and holds *every* alert, until a window closes with nothing held.
//!   A ten-minute flood at one sink is then `max` messages and one digest a window.
//! - Sinks without a policy get every alert at once.
//!
//! Nothing is lost or repeated: every alert pushed comes out exactly once, as a single
//! or listed (by id) in one digest. A digest's counts do not depend on the order its
//! alerts arrived in.

mod json;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use trailguard_core::time::parse_rfc3339_millis;
use trailguard_core::{Alert, Severity};

use crate::config::{Config, DigestPolicy};

pub use json::digest_json;

/// How many lines a digest shows; the rest are counted in [`Digest::more_lines`].
pub const DIGEST_LINES: usize = 10;

/// What to send to a sink.
// Alerts are moved through, never stored in bulk as `Outgoing`: boxing would only add
// an allocation per alert.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    Single(Alert),
    Digest(Digest),
}

/// Always `"digest"`: the `type` of the digest JSON, which alerts do not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestType {
    Digest,
}

/// Alerts folded into one message. Its JSON (`serde`) is the contract webhook and
/// JSON Lines sinks send (`docs/architecture.md`, "Digests").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    #[serde(rename = "type")]
    pub kind: DigestType,
    /// `digest-` and a hash of the alert ids: the same alerts give the same id.
    pub id: String,
    /// The sink it was folded for.
    pub sink: String,
    /// Alerts folded.
    pub count: usize,
    /// CloudTrail events in those alerts.
    pub events: u64,
    /// RFC 3339: the earliest alert's first event and the latest alert's last event.
    pub time: String,
    pub last_time: String,
    /// Alerts per severity (all five, zeros included).
    pub severities: BTreeMap<Severity, usize>,
    /// Alerts per rule, most first.
    pub rules: Vec<DigestRule>,
    /// The top [`DIGEST_LINES`] lines: severity first, then count.
    pub lines: Vec<DigestLine>,
    /// Lines not shown.
    pub more_lines: usize,
    /// The policy that folded them.
    pub policy: DigestPolicyJson,
    /// Every alert id folded, sorted.
    pub alerts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestPolicyJson {
    pub max: usize,
    pub within_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestRule {
    pub id: String,
    pub title: String,
    pub count: usize,
}

/// Alerts of one rule, severity, actor and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestLine {
    pub severity: Severity,
    pub rule: DigestLineRule,
    pub actor: DigestActor,
    pub region: Option<String>,
    /// Alerts.
    pub count: usize,
    /// Events in them.
    pub events: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestLineRule {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DigestActor {
    pub arn: Option<String>,
    pub access_key_id: Option<String>,
}

impl Digest {
    /// The most severe level among the folded alerts.
    pub fn top_severity(&self) -> Severity {
        Severity::ALL
            .into_iter()
            .rev()
            .find(|s| self.severities.get(s).copied().unwrap_or(0) > 0)
            .unwrap_or(Severity::Info)
    }

    /// `1 critical, 489 high`: the non-zero counts, most severe first.
    pub fn severity_summary(&self) -> String {
        Severity::ALL
            .into_iter()
            .rev()
            .filter_map(|s| {
                let n = self.severities.get(&s).copied().unwrap_or(0);
                (n > 0).then(|| format!("{n} {s}"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl DigestActor {
    /// The ARN, else the access key id.
    pub fn label(&self) -> Option<&str> {
        self.arn.as_deref().or(self.access_key_id.as_deref())
    }
}

/// Folds bursts per sink (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct DigestFolder {
    policies: HashMap<String, DigestPolicy>,
    windows: BTreeMap<String, Window>,
}

#[derive(Debug, Clone)]
struct Window {
    close_ms: i64,
    singles_left: usize,
    held: Held,
}

/// What a window holds, already aggregated: memory grows with the distinct lines and
/// the ids, not with whole alerts.
#[derive(Debug, Clone, Default)]
struct Held {
    ids: Vec<String>,
    events: u64,
    first: Option<(i64, String)>,
    last: Option<(i64, String)>,
    severities: BTreeMap<Severity, usize>,
    rules: BTreeMap<String, (String, usize)>,
    lines: BTreeMap<LineKey, (String, usize, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LineKey {
    severity: std::cmp::Reverse<Severity>,
    rule: String,
    actor: DigestActor,
    region: Option<String>,
}

impl Held {
    fn add(&mut self, a: &Alert) {
        self.ids.push(a.id.clone());
        self.events += a.count;
        let t = parse_rfc3339_millis(&a.time).unwrap_or(i64::MAX);
        if self
            .first
            .as_ref()
            .is_none_or(|(f, s)| (t, &a.time) < (*f, s))
        {
            self.first = Some((t, a.time.clone()));
        }
        let last = if a.last_time.is_empty() {
            &a.time
        } else {
            &a.last_time
        };
        let lt = parse_rfc3339_millis(last).unwrap_or(i64::MIN);
        if self.last.as_ref().is_none_or(|(l, s)| (lt, last) > (*l, s)) {
            self.last = Some((lt, last.clone()));
        }
        *self.severities.entry(a.rule.severity).or_default() += 1;
        let rule = self
            .rules
            .entry(a.rule.id.clone())
            .or_insert_with(|| (a.rule.title.clone(), 0));
        rule.1 += 1;
        let key = LineKey {
            severity: std::cmp::Reverse(a.rule.severity),
            rule: a.rule.id.clone(),
            actor: DigestActor {
                arn: a.actor.arn.clone(),
                access_key_id: a.actor.access_key_id.clone(),
            },
            region: a.region.clone(),
        };
        let line = self
            .lines
            .entry(key)
            .or_insert_with(|| (a.rule.title.clone(), 0, 0));
        line.1 += 1;
        line.2 += a.count;
    }

    fn into_digest(mut self, sink: &str, policy: DigestPolicy) -> Digest {
        self.ids.sort();
        let mut hash = Sha256::new();
        for id in &self.ids {
            hash.update(id.as_bytes());
            hash.update(b"\n");
        }
        let hex: String = hash.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut rules: Vec<DigestRule> = self
            .rules
            .into_iter()
            .map(|(id, (title, count))| DigestRule { id, title, count })
            .collect();
        rules.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));
        let mut lines: Vec<DigestLine> = self
            .lines
            .into_iter()
            .map(|(k, (title, count, events))| DigestLine {
                severity: k.severity.0,
                rule: DigestLineRule { id: k.rule, title },
                actor: k.actor,
                region: k.region,
                count,
                events,
            })
            .collect();
        // Severity first (the key's order), then the biggest; stable for equals.
        lines.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.count.cmp(&a.count)));
        let more_lines = lines.len().saturating_sub(DIGEST_LINES);
        lines.truncate(DIGEST_LINES);
        let mut severities: BTreeMap<Severity, usize> =
            Severity::ALL.iter().map(|s| (*s, 0)).collect();
        severities.extend(self.severities);
        Digest {
            kind: DigestType::Digest,
            id: format!("digest-{hex}"),
            sink: sink.to_owned(),
            count: self.ids.len(),
            events: self.events,
            time: self.first.map(|f| f.1).unwrap_or_default(),
            last_time: self.last.map(|l| l.1).unwrap_or_default(),
            severities,
            rules,
            lines,
            more_lines,
            policy: DigestPolicyJson {
                max: policy.max,
                within_seconds: policy.within_ms / 1000,
            },
            alerts: self.ids,
        }
    }
}

impl DigestFolder {
    /// A folder for the sinks named, each with its policy; other sinks pass through.
    pub fn new(policies: impl IntoIterator<Item = (String, DigestPolicy)>) -> DigestFolder {
        DigestFolder {
            policies: policies.into_iter().collect(),
            windows: BTreeMap::new(),
        }
    }

    /// The policies of the config's sinks that have `digest`.
    pub fn from_config(config: &Config) -> DigestFolder {
        DigestFolder::new(
            config
                .sinks
                .iter()
                .filter_map(|s| s.digest.map(|d| (s.name.clone(), d))),
        )
    }

    /// An alert for `sink` at `now_ms`: what to send now. That may include the digest
    /// of this sink's window that closed before `now_ms`, which comes first.
    pub fn push(&mut self, sink: &str, alert: Alert, now_ms: i64) -> Vec<Outgoing> {
        let Some(policy) = self.policies.get(sink).copied() else {
            return vec![Outgoing::Single(alert)];
        };
        let mut out = self.close_due(sink, now_ms);
        let window = self.windows.entry(sink.to_owned()).or_insert(Window {
            close_ms: now_ms.saturating_add(policy.within_ms),
            singles_left: policy.max,
            held: Held::default(),
        });
        if window.singles_left > 0 {
            window.singles_left -= 1;
            out.push(Outgoing::Single(alert));
        } else {
            window.held.add(&alert);
        }
        out
    }

    /// The digests of every window that closed at or before `now_ms`.
    pub fn flush_due(&mut self, now_ms: i64) -> Vec<Outgoing> {
        let sinks: Vec<String> = self.windows.keys().cloned().collect();
        sinks
            .iter()
            .flat_map(|s| self.close_due(s, now_ms))
            .collect()
    }

    /// Every held alert, as digests, whatever the time: the end of a run.
    pub fn flush_all(&mut self) -> Vec<Outgoing> {
        let windows = std::mem::take(&mut self.windows);
        windows
            .into_iter()
            .filter(|(_, w)| !w.held.ids.is_empty())
            .map(|(sink, w)| Outgoing::Digest(w.held.into_digest(&sink, self.policies[&sink])))
            .collect()
    }

    /// When the next window closes, if one is open: call [`DigestFolder::flush_due`]
    /// then.
    pub fn next_due(&self) -> Option<i64> {
        self.windows.values().map(|w| w.close_ms).min()
    }

    /// Alerts held, over every sink.
    pub fn held(&self) -> usize {
        self.windows.values().map(|w| w.held.ids.len()).sum()
    }

    /// Close `sink`'s windows that ended by `now_ms`: a window with held alerts
    /// becomes a digest and opens the next window (holding everything); an empty
    /// one ends the burst.
    fn close_due(&mut self, sink: &str, now_ms: i64) -> Vec<Outgoing> {
        let mut out = Vec::new();
        while let Some(w) = self.windows.get(sink) {
            if now_ms < w.close_ms {
                break;
            }
            let w = self.windows.remove(sink).expect("just seen");
            if w.held.ids.is_empty() {
                break;
            }
            let policy = self.policies[sink];
            out.push(Outgoing::Digest(w.held.into_digest(sink, policy)));
            self.windows.insert(
                sink.to_owned(),
                Window {
                    close_ms: w.close_ms.saturating_add(policy.within_ms),
                    singles_left: 0,
                    held: Held::default(),
                },
            );
        }
        out
    }
}

#[cfg(test)]
mod tests;
