//! [`Activity`]: what one subject (or one credential in its lineage) did, folded event
//! by event in any order and merged across threads. Every part is bounded: a key with
//! millions of events keeps counts exactly, but only so many distinct values and
//! timeline entries, and counts what it left out so the report can say so.

use std::hash::Hash;

use serde::Serialize;
use trailguard_core::Event;

use crate::created::Created;

pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// How much one [`Activity`] may keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Timeline entries kept (the earliest half and the latest half beyond it).
    pub timeline: usize,
    /// Distinct values per list (addresses, user agents, regions, actions, keys).
    pub distinct: usize,
    /// (hour, region) cells of the activity chart.
    pub hourly: usize,
    /// Items per blast-radius list.
    pub created: usize,
}

impl Limits {
    /// For the subject itself.
    pub const SUBJECT: Limits = Limits {
        timeline: 10_000,
        distinct: 10_000,
        hourly: 100_000,
        created: 10_000,
    };
}

/// Count and first and last time of one value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    pub count: u64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
}

impl Seen {
    fn add(&mut self, t: Option<i64>) {
        self.count += 1;
        self.widen(t, t);
    }

    fn widen(&mut self, first: Option<i64>, last: Option<i64>) {
        self.first_ms = min_opt(self.first_ms, first);
        self.last_ms = max_opt(self.last_ms, last);
    }

    fn merge(&mut self, o: &Seen) {
        self.count += o.count;
        self.widen(o.first_ms, o.last_ms);
    }
}

pub(crate) fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub(crate) fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// A map that stops taking new keys at its limit and counts the events it turned away.
#[derive(Debug, Clone)]
pub struct Capped<K, V> {
    pub map: FastMap<K, V>,
    /// Events whose value was not kept (the map was full when it first came).
    pub omitted: u64,
}

impl<K, V> Default for Capped<K, V> {
    fn default() -> Self {
        Capped {
            map: FastMap::default(),
            omitted: 0,
        }
    }
}

impl<K: Hash + Eq, V: Default> Capped<K, V> {
    /// The entry for `key` (built by `owned` only when new), or `None` when full.
    fn entry<Q>(&mut self, key: &Q, owned: impl FnOnce(&Q) -> K, limit: usize) -> Option<&mut V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if !self.map.contains_key(key) {
            if self.map.len() >= limit {
                self.omitted += 1;
                return None;
            }
            self.map.insert(owned(key), V::default());
        }
        self.map.get_mut(key)
    }

    fn merge_with(&mut self, other: Capped<K, V>, limit: usize, mut f: impl FnMut(&mut V, V)) {
        self.omitted += other.omitted;
        for (k, v) in other.map {
            if let Some(mine) = self.map.get_mut(&k) {
                f(mine, v);
            } else if self.map.len() < limit {
                self.map.insert(k, v);
            } else {
                self.omitted += 1;
            }
        }
    }
}

/// One line of the timeline (the contract's `timeline` items, plus the key and the
/// user agent, which `--ip` and `--principal` investigations need to tell calls apart).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimelineEntry {
    pub time: Option<String>,
    #[serde(skip)]
    pub time_ms: Option<i64>,
    pub event_name: Option<String>,
    pub event_source: Option<String>,
    pub region: Option<String>,
    pub source_ip: Option<String>,
    pub error_code: Option<String>,
    pub event_id: Option<String>,
    pub access_key_id: Option<String>,
    pub user_agent: Option<String>,
}

impl TimelineEntry {
    fn order_key(&self) -> (i64, &str) {
        (
            self.time_ms.unwrap_or(i64::MAX),
            self.event_id.as_deref().unwrap_or(""),
        )
    }
}

/// The earliest and the latest entries, `limit` in all, whatever order they come in:
/// entries accumulate up to twice the limit, then the middle is dropped. An entry
/// dropped is never among the earliest or latest `limit / 2` of what was seen, so
/// nothing that should be kept is lost.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub entries: Vec<TimelineEntry>,
    pub dropped: u64,
    /// After a compaction: the latest time of the kept head and the earliest of the
    /// kept tail. An event strictly between them can never be kept again, so it is
    /// counted without building its entry (busy keys cost no allocation per event).
    gap: Option<(i64, i64)>,
}

impl Timeline {
    /// True when an event at `t` would be dropped at the next compaction anyway.
    fn skips(&mut self, t: Option<i64>) -> bool {
        match (self.gap, t) {
            (Some((head, tail)), Some(t)) if t > head && t < tail => {
                self.dropped += 1;
                true
            }
            _ => false,
        }
    }

    fn push(&mut self, e: TimelineEntry, limit: usize) {
        self.entries.push(e);
        if self.entries.len() >= limit.max(1) * 2 {
            self.compact(limit);
        }
    }

    /// Sorts by time (entries without a time last) and keeps at most `limit`.
    pub fn compact(&mut self, limit: usize) {
        self.entries
            .sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        let n = self.entries.len();
        if n > limit {
            let head = limit.div_ceil(2);
            let tail = limit - head;
            self.entries.drain(head..n - tail);
            self.dropped += (n - limit) as u64;
            let at = |i: usize| self.entries.get(i).and_then(|e| e.time_ms);
            self.gap = match (head.checked_sub(1).and_then(at), at(head)) {
                (Some(h), Some(t)) => Some((h, t)),
                _ => None,
            };
        }
    }

    fn merge(&mut self, other: Timeline, limit: usize) {
        self.dropped += other.dropped;
        self.entries.extend(other.entries);
        if self.entries.len() >= limit.max(1) * 2 {
            self.compact(limit);
        }
    }
}

/// Calls and failures of one API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    pub count: u64,
    pub errors: u64,
}

/// What one subject did.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    pub events: u64,
    pub errors: u64,
    /// Events without a readable time (counted, listed last, not in first/last seen).
    pub untimed: u64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub ips: Capped<String, Seen>,
    pub user_agents: Capped<String, Seen>,
    pub regions: Capped<String, Seen>,
    /// Calls per event source, then per event name (looked up without allocating).
    pub actions: Capped<String, Capped<String, Calls>>,
    /// Access keys the events were made with.
    pub keys: Capped<String, Seen>,
    /// Principal ARNs the events were made by.
    pub principals: Capped<String, Seen>,
    pub accounts: Capped<String, Seen>,
    /// Events per region, then per hour since the epoch.
    pub hourly: Capped<String, Capped<i64, u64>>,
    pub created: Created,
    pub timeline: Timeline,
}

/// What an event says about its caller, read once by the investigator.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'e> {
    pub access_key_id: Option<&'e str>,
    /// `None` when not worth parsing the identity for (see `Investigator`).
    pub principal_arn: Option<&'e str>,
}

pub(crate) const HOUR_MS: i64 = 3_600_000;

impl Activity {
    /// Folds one event in.
    pub fn add(&mut self, ev: &Event<'_>, caller: Caller<'_>, limits: &Limits) {
        let t = ev.time_millis();
        let failed = ev.record.error_code.is_some();
        self.events += 1;
        self.errors += u64::from(failed);
        match t {
            Some(t) => {
                self.first_ms = min_opt(self.first_ms, Some(t));
                self.last_ms = max_opt(self.last_ms, Some(t));
            }
            None => self.untimed += 1,
        }
        let d = limits.distinct;
        let own = |s: &str| s.to_owned();
        if let Some(ip) = ev.record.source_ip_address.as_deref() {
            if let Some(s) = self.ips.entry(ip, own, d) {
                s.add(t)
            }
        }
        if let Some(ua) = ev.record.user_agent.as_deref() {
            if let Some(s) = self.user_agents.entry(ua, own, d) {
                s.add(t)
            }
        }
        let region = ev.region();
        if let Some(r) = region {
            if let Some(s) = self.regions.entry(r, own, d) {
                s.add(t)
            }
        }
        if let Some(k) = caller.access_key_id {
            if let Some(s) = self.keys.entry(k, own, d) {
                s.add(t)
            }
        }
        if let Some(p) = caller.principal_arn {
            if let Some(s) = self.principals.entry(p, own, d) {
                s.add(t)
            }
        }
        if let Some(a) = ev.account() {
            if let Some(s) = self.accounts.entry(a, own, d) {
                s.add(t)
            }
        }
        let source = ev.event_source().unwrap_or("");
        if let Some(names) = self.actions.entry(source, own, d) {
            if let Some(c) = names.entry(ev.event_name().unwrap_or(""), own, d) {
                c.count += 1;
                c.errors += u64::from(failed);
            }
        }
        if let Some(t) = t {
            if let Some(hours) = self.hourly.entry(region.unwrap_or(""), own, d) {
                if let Some(n) = hours.entry(&t.div_euclid(HOUR_MS), |h| *h, limits.hourly) {
                    *n += 1;
                }
            }
        }
        if !failed {
            self.created.extract(ev, limits.created);
        }
        if self.timeline.skips(t) {
            return;
        }
        let s = |v: Option<&str>| v.map(str::to_owned);
        self.timeline.push(
            TimelineEntry {
                time: s(ev.time_str()),
                time_ms: t,
                event_name: s(ev.event_name()),
                event_source: s(ev.event_source()),
                region: s(region),
                source_ip: s(ev.record.source_ip_address.as_deref()),
                error_code: s(ev.record.error_code.as_deref()),
                event_id: s(ev.event_id()),
                access_key_id: s(caller.access_key_id),
                user_agent: s(ev.record.user_agent.as_deref()),
            },
            limits.timeline,
        );
    }

    /// Adds what another thread folded for the same subject.
    pub fn merge(&mut self, o: Activity, limits: &Limits) {
        self.events += o.events;
        self.errors += o.errors;
        self.untimed += o.untimed;
        self.first_ms = min_opt(self.first_ms, o.first_ms);
        self.last_ms = max_opt(self.last_ms, o.last_ms);
        let d = limits.distinct;
        self.ips.merge_with(o.ips, d, |a, b| a.merge(&b));
        self.user_agents
            .merge_with(o.user_agents, d, |a, b| a.merge(&b));
        self.regions.merge_with(o.regions, d, |a, b| a.merge(&b));
        self.keys.merge_with(o.keys, d, |a, b| a.merge(&b));
        self.principals
            .merge_with(o.principals, d, |a, b| a.merge(&b));
        self.accounts.merge_with(o.accounts, d, |a, b| a.merge(&b));
        self.actions.merge_with(o.actions, d, |a, b| {
            a.merge_with(b, d, |a, b| {
                a.count += b.count;
                a.errors += b.errors;
            })
        });
        let h = limits.hourly;
        self.hourly
            .merge_with(o.hourly, d, |a, b| a.merge_with(b, h, |a, b| *a += b));
        self.created.merge(o.created, limits.created);
        self.timeline.merge(o.timeline, limits.timeline);
    }

    /// Sorts everything that was gathered out of order, and cuts to the limits.
    pub fn finish(&mut self, limits: &Limits) {
        self.timeline.compact(limits.timeline);
        self.created.finish();
    }

    /// The value seen most often in `m` (ties: the smallest), if any.
    pub fn most_seen(m: &Capped<String, Seen>) -> Option<&str> {
        m.map
            .iter()
            .max_by(|a, b| a.1.count.cmp(&b.1.count).then_with(|| b.0.cmp(a.0)))
            .map(|(k, _)| k.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ms: i64, id: &str) -> TimelineEntry {
        TimelineEntry {
            time: None,
            time_ms: Some(ms),
            event_name: None,
            event_source: None,
            region: None,
            source_ip: None,
            error_code: None,
            event_id: Some(id.into()),
            access_key_id: None,
            user_agent: None,
        }
    }

    #[test]
    fn timeline_keeps_the_earliest_and_latest_in_any_order() {
        let limit = 10;
        let mut t = Timeline::default();
        // A shuffled 0..1000 (a fixed permutation: 7 is coprime with 1000).
        for i in 0..1000 {
            let ms = (i * 7) % 1000;
            t.push(entry(ms, &format!("e{ms}")), limit);
        }
        t.compact(limit);
        let kept: Vec<i64> = t.entries.iter().map(|e| e.time_ms.unwrap()).collect();
        assert_eq!(kept, vec![0, 1, 2, 3, 4, 995, 996, 997, 998, 999]);
        assert_eq!(t.dropped, 990);
        // Merging two halves gives the same.
        let (mut a, mut b) = (Timeline::default(), Timeline::default());
        for i in 0..1000 {
            let side = if i % 3 == 0 { &mut a } else { &mut b };
            side.push(entry(i, &format!("e{i}")), limit);
        }
        a.merge(b, limit);
        a.compact(limit);
        let kept2: Vec<i64> = a.entries.iter().map(|e| e.time_ms.unwrap()).collect();
        assert_eq!(kept, kept2);
        assert_eq!(a.dropped, 990);
    }

    #[test]
    fn capped_maps_count_what_they_turn_away() {
        let mut m: Capped<String, Seen> = Capped::default();
        for v in ["a", "b", "a", "c", "d", "c"] {
            if let Some(s) = m.entry(v, |s| s.to_owned(), 2) {
                s.add(Some(1));
            }
        }
        assert_eq!(m.map.len(), 2);
        assert_eq!(m.map["a"].count, 2);
        assert_eq!(m.omitted, 3);
    }

    #[test]
    fn folds_events_in_any_order() {
        let recs = [
            r#"{"eventTime":"2025-09-17T23:16:48Z","eventName":"RunInstances","eventSource":"ec2.amazonaws.com","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.73","eventID":"b"}"#,
            r#"{"eventTime":"2025-09-17T23:12:41Z","eventName":"GetCallerIdentity","eventSource":"sts.amazonaws.com","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.73","eventID":"a","errorCode":"X"}"#,
            r#"{"eventName":"NoTime","eventSource":"sts.amazonaws.com"}"#,
        ];
        let mut act = Activity::default();
        for r in recs {
            let ev = Event::from_json(r.as_bytes()).unwrap();
            act.add(&ev, Caller::default(), &Limits::SUBJECT);
        }
        act.finish(&Limits::SUBJECT);
        assert_eq!((act.events, act.errors, act.untimed), (3, 1, 1));
        assert_eq!(
            act.timeline
                .entries
                .iter()
                .map(|e| e.event_name.clone().unwrap())
                .collect::<Vec<_>>(),
            ["GetCallerIdentity", "RunInstances", "NoTime"]
        );
        let ip = act.ips.map["198.51.100.73"];
        assert_eq!(ip.count, 2);
        assert!(ip.first_ms < ip.last_ms);
        let hours: u64 = act.hourly.map.values().flat_map(|h| h.map.values()).sum();
        assert_eq!(hours, 2);
    }
}
