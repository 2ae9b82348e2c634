//! [`Candidate`]: the small trace the investigator keeps of every other access key
//! during the pass, any of which may turn out to be derived from the subject once the
//! whole input is read. An archive holds hundreds of thousands of keys, so this is
//! compact: short lists searched in place (no hashing, no allocation once a value is
//! known), a handful of timeline entries that point into those lists, and the blast
//! radius only for keys that created something. Derived keys become [`Activity`]s
//! after reading.

use std::sync::Arc;

use trailguard_core::Event;

use crate::activity::{Activity, Calls, Limits, Seen, TimelineEntry, HOUR_MS};
use crate::created::Created;

/// How much a candidate keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CandidateLimits {
    /// Distinct values per list (addresses, user agents, regions, APIs).
    pub distinct: usize,
    /// Timeline entries (the earliest and latest halves).
    pub timeline: usize,
    /// (hour, region) cells.
    pub hourly: usize,
    /// Blast-radius items per list.
    pub created: usize,
}

impl Default for CandidateLimits {
    fn default() -> Self {
        CandidateLimits {
            distinct: 8,
            timeline: 6,
            hourly: 24,
            created: 256,
        }
    }
}

/// Values many keys share (addresses, user agents, regions, API names, accounts),
/// held once per thread: a key's lists point into it instead of owning copies.
#[derive(Debug, Default)]
pub struct Pool(std::collections::HashSet<Arc<str>, foldhash::fast::RandomState>);

impl Pool {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = s.into();
        self.0.insert(a.clone());
        a
    }
}

/// A value and how it was seen.
#[derive(Debug, Clone)]
struct Counted {
    value: Arc<str>,
    seen: Seen,
}

/// Pushes without the usual doubling: these lists stay short, and there are hundreds
/// of thousands of them.
fn push_exact<T>(v: &mut Vec<T>, item: T) {
    if v.len() == v.capacity() {
        v.reserve_exact(1);
    }
    v.push(item);
}

/// An eventID: CloudTrail's are UUIDs, held in 16 bytes; anything else as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum EventId {
    Uuid(u128),
    Text(Box<str>),
}

impl EventId {
    fn new(s: &str) -> EventId {
        let b = s.as_bytes();
        let dashes = [8, 13, 18, 23];
        if b.len() == 36 && dashes.iter().all(|&i| b[i] == b'-') {
            let hex: String = s.chars().filter(|c| *c != '-').collect();
            if hex
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            {
                if let Ok(v) = u128::from_str_radix(&hex, 16) {
                    return EventId::Uuid(v);
                }
            }
        }
        EventId::Text(s.into())
    }

    fn text(&self) -> String {
        match self {
            EventId::Uuid(v) => {
                let h = format!("{v:032x}");
                format!(
                    "{}-{}-{}-{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..]
                )
            }
            EventId::Text(t) => t.to_string(),
        }
    }
}

/// A short list: position of `v` (added if there is room), or `None` when full.
fn slot(
    pool: &mut Pool,
    list: &mut Vec<Counted>,
    v: &str,
    limit: usize,
    t: Option<i64>,
    omitted: &mut u64,
) -> Option<u8> {
    let i = match list.iter().position(|c| &*c.value == v) {
        Some(i) => i,
        None if list.len() < limit.min(255) => {
            push_exact(
                list,
                Counted {
                    value: pool.get(v),
                    seen: Seen::default(),
                },
            );
            list.len() - 1
        }
        None => {
            *omitted += 1;
            return None;
        }
    };
    list[i].seen.count += 1;
    if let Some(t) = t {
        let s = &mut list[i].seen;
        s.first_ms = Some(s.first_ms.map_or(t, |f| f.min(t)));
        s.last_ms = Some(s.last_ms.map_or(t, |l| l.max(t)));
    }
    Some(i as u8)
}

const NONE: u8 = u8::MAX;

/// Adds `n` to the (hour, region) cell, if it is there or there is room for it.
fn bump(cells: &mut Vec<(i64, u8, u64)>, (hour, region): (i64, u8), n: u64, limit: usize) {
    if let Some(c) = cells.iter_mut().find(|c| c.0 == hour && c.1 == region) {
        c.2 += n;
    } else if cells.len() < limit {
        push_exact(cells, (hour, region, n));
    }
}

/// A timeline entry pointing into the candidate's lists.
#[derive(Debug, Clone)]
struct Entry {
    time_ms: Option<i64>,
    event_id: Option<EventId>,
    error_code: Option<Box<str>>,
    ip: u8,
    user_agent: u8,
    region: u8,
    action: u8,
}

#[derive(Debug, Clone)]
struct Action {
    source: Arc<str>,
    name: Arc<str>,
    calls: Calls,
}

/// What one other access key did, in brief.
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    events: u64,
    errors: u64,
    untimed: u64,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
    principal: Option<Box<str>>,
    account: Option<Arc<str>>,
    ips: Vec<Counted>,
    user_agents: Vec<Counted>,
    regions: Vec<Counted>,
    actions: Vec<Action>,
    hourly: Vec<(i64, u8, u64)>,
    omitted: [u64; 4],
    created: Option<Box<Created>>,
    timeline: Vec<Entry>,
    dropped: u64,
    gap: Option<(i64, i64)>,
}

impl Candidate {
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Folds one event of this key in; `principal` is asked for on the first event only.
    pub fn add<'e>(
        &mut self,
        pool: &mut Pool,
        ev: &'e Event<'_>,
        principal: impl FnOnce() -> Option<&'e str>,
        limits: &CandidateLimits,
    ) {
        let t = ev.time_millis();
        let failed = ev.record.error_code.is_some();
        if self.events == 0 {
            self.principal = principal().map(Into::into);
            self.account = ev.account().map(|a| pool.get(a));
        }
        self.events += 1;
        self.errors += u64::from(failed);
        match t {
            Some(t) => {
                self.first_ms = Some(self.first_ms.map_or(t, |f| f.min(t)));
                self.last_ms = Some(self.last_ms.map_or(t, |l| l.max(t)));
            }
            None => self.untimed += 1,
        }
        let d = limits.distinct;
        let [o_ip, o_ua, o_region, o_action] = &mut self.omitted;
        let ip = ev
            .record
            .source_ip_address
            .as_deref()
            .and_then(|v| slot(pool, &mut self.ips, v, d, t, o_ip))
            .unwrap_or(NONE);
        let user_agent = ev
            .record
            .user_agent
            .as_deref()
            .and_then(|v| slot(pool, &mut self.user_agents, v, d, t, o_ua))
            .unwrap_or(NONE);
        let region = ev
            .region()
            .and_then(|v| slot(pool, &mut self.regions, v, d, t, o_region))
            .unwrap_or(NONE);
        let (source, name) = (
            ev.event_source().unwrap_or(""),
            ev.event_name().unwrap_or(""),
        );
        let action = match self
            .actions
            .iter()
            .position(|a| &*a.name == name && &*a.source == source)
        {
            Some(i) => Some(i),
            None if self.actions.len() < d.min(255) => {
                push_exact(
                    &mut self.actions,
                    Action {
                        source: pool.get(source),
                        name: pool.get(name),
                        calls: Calls::default(),
                    },
                );
                Some(self.actions.len() - 1)
            }
            None => {
                *o_action += 1;
                None
            }
        };
        if let Some(i) = action {
            self.actions[i].calls.count += 1;
            self.actions[i].calls.errors += u64::from(failed);
        }
        if let Some(t) = t {
            let hour = t.div_euclid(HOUR_MS);
            bump(&mut self.hourly, (hour, region), 1, limits.hourly);
        }
        if !failed {
            let mut c = self.created.take().unwrap_or_default();
            c.extract(ev, limits.created);
            if !c.is_empty() || c.omitted > 0 {
                self.created = Some(c);
            }
        }
        if let (Some((head, tail)), Some(t)) = (self.gap, t) {
            if t > head && t < tail {
                self.dropped += 1;
                return;
            }
        }
        push_exact(
            &mut self.timeline,
            Entry {
                time_ms: t,
                event_id: ev.event_id().map(EventId::new),
                error_code: ev.record.error_code.as_deref().map(Into::into),
                ip,
                user_agent,
                region,
                action: action.map_or(NONE, |i| i as u8),
            },
        );
        // A little slack before cutting: few sorts, and short vectors.
        if self.timeline.len() >= limits.timeline.max(1) + 2 {
            self.compact(limits.timeline);
        }
    }

    fn compact(&mut self, limit: usize) {
        self.timeline.sort_by(|a, b| {
            (a.time_ms.unwrap_or(i64::MAX), &a.event_id)
                .cmp(&(b.time_ms.unwrap_or(i64::MAX), &b.event_id))
        });
        let n = self.timeline.len();
        if n > limit {
            let head = limit.div_ceil(2);
            self.timeline.drain(head..n - (limit - head));
            self.dropped += (n - limit) as u64;
            let at = |i: usize| self.timeline.get(i).and_then(|e| e.time_ms);
            self.gap = match (head.checked_sub(1).and_then(at), at(head)) {
                (Some(h), Some(t)) => Some((h, t)),
                _ => None,
            };
        }
    }

    /// The same key seen by another thread: the other's values are re-pointed into
    /// this candidate's lists.
    pub fn merge(&mut self, mut o: Candidate, limits: &CandidateLimits) {
        if self.events == 0 {
            self.principal = o.principal.take();
            self.account = o.account.take();
        }
        self.events += o.events;
        self.errors += o.errors;
        self.untimed += o.untimed;
        self.first_ms = crate::activity::min_opt(self.first_ms, o.first_ms);
        self.last_ms = crate::activity::max_opt(self.last_ms, o.last_ms);
        for (i, om) in o.omitted.iter().enumerate() {
            self.omitted[i] += om;
        }
        let d = limits.distinct;
        let remap = |mine: &mut Vec<Counted>, theirs: Vec<Counted>, omitted: &mut u64| -> Vec<u8> {
            theirs
                .into_iter()
                .map(|c| match mine.iter().position(|m| m.value == c.value) {
                    Some(i) => {
                        let s = &mut mine[i].seen;
                        s.count += c.seen.count;
                        s.first_ms = crate::activity::min_opt(s.first_ms, c.seen.first_ms);
                        s.last_ms = crate::activity::max_opt(s.last_ms, c.seen.last_ms);
                        i as u8
                    }
                    None if mine.len() < d.min(255) => {
                        mine.push(c);
                        (mine.len() - 1) as u8
                    }
                    None => {
                        *omitted += c.seen.count;
                        NONE
                    }
                })
                .collect()
        };
        let [o_ip, o_ua, o_region, o_action] = &mut self.omitted;
        let ips = remap(&mut self.ips, o.ips, o_ip);
        let uas = remap(&mut self.user_agents, o.user_agents, o_ua);
        let regions = remap(&mut self.regions, o.regions, o_region);
        let actions: Vec<u8> = o
            .actions
            .into_iter()
            .map(|a| {
                match self
                    .actions
                    .iter()
                    .position(|m| m.name == a.name && m.source == a.source)
                {
                    Some(i) => {
                        self.actions[i].calls.count += a.calls.count;
                        self.actions[i].calls.errors += a.calls.errors;
                        i as u8
                    }
                    None if self.actions.len() < d.min(255) => {
                        self.actions.push(a);
                        (self.actions.len() - 1) as u8
                    }
                    None => {
                        *o_action += a.calls.count;
                        NONE
                    }
                }
            })
            .collect();
        let at = |map: &[u8], i: u8| map.get(usize::from(i)).copied().unwrap_or(NONE);
        for (hour, region, n) in o.hourly {
            let region = at(&regions, region);
            bump(&mut self.hourly, (hour, region), n, limits.hourly);
        }
        if let Some(c) = o.created {
            let mine = self.created.get_or_insert_with(Default::default);
            mine.merge(*c, limits.created);
        }
        self.dropped += o.dropped;
        for mut e in o.timeline {
            e.ip = at(&ips, e.ip);
            e.user_agent = at(&uas, e.user_agent);
            e.region = at(&regions, e.region);
            e.action = at(&actions, e.action);
            self.timeline.push(e);
        }
        self.gap = None;
        self.compact(limits.timeline);
    }

    /// The full [`Activity`] of a key found to be derived (values past the lists'
    /// limits are counted in `omitted`, and absent from timeline entries).
    pub fn to_activity(&self, key: &str, limits: &CandidateLimits) -> Activity {
        let mut a = Activity {
            events: self.events,
            errors: self.errors,
            untimed: self.untimed,
            first_ms: self.first_ms,
            last_ms: self.last_ms,
            ..Activity::default()
        };
        let fill = |list: &[Counted], omitted: u64| {
            let mut m = crate::activity::Capped::<String, Seen>::default();
            for c in list {
                m.map.insert(c.value.to_string(), c.seen);
            }
            m.omitted = omitted;
            m
        };
        a.ips = fill(&self.ips, self.omitted[0]);
        a.user_agents = fill(&self.user_agents, self.omitted[1]);
        a.regions = fill(&self.regions, self.omitted[2]);
        a.actions.omitted = self.omitted[3];
        for act in &self.actions {
            let names = a.actions.map.entry(act.source.to_string()).or_default();
            names.map.insert(act.name.to_string(), act.calls);
        }
        let span = Seen {
            count: self.events,
            first_ms: self.first_ms,
            last_ms: self.last_ms,
        };
        a.keys.map.insert(key.to_owned(), span);
        if let Some(p) = &self.principal {
            a.principals.map.insert(p.to_string(), span);
        }
        if let Some(acc) = &self.account {
            a.accounts.map.insert(acc.to_string(), span);
        }
        let value = |list: &[Counted], i: u8| list.get(usize::from(i)).map(|c| c.value.to_string());
        for (hour, region, n) in &self.hourly {
            let region = value(&self.regions, *region).unwrap_or_default();
            let hours = a.hourly.map.entry(region).or_default();
            *hours.map.entry(*hour).or_default() += n;
        }
        if let Some(c) = &self.created {
            a.created = (**c).clone();
        }
        let mut timeline = self.clone();
        timeline.compact(limits.timeline);
        a.timeline.dropped = timeline.dropped;
        a.timeline.entries = timeline
            .timeline
            .iter()
            .map(|e| {
                let action = self.actions.get(usize::from(e.action));
                TimelineEntry {
                    time: e.time_ms.map(trailguard_core::time::format_millis),
                    time_ms: e.time_ms,
                    event_name: action.map(|x| x.name.to_string()),
                    event_source: action.map(|x| x.source.to_string()),
                    region: value(&self.regions, e.region),
                    source_ip: value(&self.ips, e.ip),
                    error_code: e.error_code.as_deref().map(str::to_owned),
                    event_id: e.event_id.as_ref().map(EventId::text),
                    access_key_id: Some(key.to_owned()),
                    user_agent: value(&self.user_agents, e.user_agent),
                }
            })
            .collect();
        a.finish(&Limits {
            timeline: limits.timeline,
            distinct: limits.distinct,
            hourly: limits.hourly,
            created: limits.created,
        });
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: &str, ip: &str, name: &str) -> String {
        format!(
            r#"{{"userIdentity":{{"arn":"arn:aws:iam::1:user/u","accessKeyId":"AKIAX"}},"eventTime":"{t}","eventSource":"s3.amazonaws.com","eventName":"{name}","awsRegion":"eu-west-1","sourceIPAddress":"{ip}","eventID":"{t}"}}"#
        )
    }

    #[test]
    fn event_ids_round_trip() {
        for id in [
            "d6ec6c49-5236-481d-bd02-f5960ea20680",
            "not-a-uuid",
            "D6EC6C49-5236-481D-BD02-F5960EA20680",
        ] {
            assert_eq!(EventId::new(id).text(), id);
        }
        assert!(matches!(
            EventId::new("d6ec6c49-5236-481d-bd02-f5960ea20680"),
            EventId::Uuid(_)
        ));
    }

    #[test]
    fn a_candidate_becomes_the_same_activity_split_or_whole() {
        let limits = CandidateLimits {
            timeline: 4,
            ..CandidateLimits::default()
        };
        let recs: Vec<String> = (0..20)
            .map(|i| {
                ev(
                    &format!("2025-09-17T10:{:02}:00Z", (i * 7) % 20),
                    if i % 2 == 0 { "192.0.2.1" } else { "192.0.2.2" },
                    if i % 3 == 0 {
                        "ListBuckets"
                    } else {
                        "GetObject"
                    },
                )
            })
            .collect();
        let mut whole = Candidate::default();
        let mut pool = Pool::default();
        let (mut a, mut b) = (Candidate::default(), Candidate::default());
        for (i, r) in recs.iter().enumerate() {
            let e = Event::from_json(r.as_bytes()).unwrap();
            whole.add(&mut pool, &e, || Some("arn:aws:iam::1:user/u"), &limits);
            let half = if i < 7 { &mut b } else { &mut a };
            half.add(&mut pool, &e, || Some("arn:aws:iam::1:user/u"), &limits);
        }
        a.merge(b, &limits);
        let (x, y) = (
            whole.to_activity("AKIAX", &limits),
            a.to_activity("AKIAX", &limits),
        );
        assert_eq!(x.events, 20);
        assert_eq!(x.timeline.entries, y.timeline.entries);
        assert_eq!(x.timeline.dropped, 16);
        assert_eq!(y.timeline.dropped, 16);
        let times: Vec<_> = x
            .timeline
            .entries
            .iter()
            .map(|e| e.time.clone().unwrap())
            .collect();
        assert_eq!(
            times,
            [
                "2025-09-17T10:00:00Z",
                "2025-09-17T10:01:00Z",
                "2025-09-17T10:18:00Z",
                "2025-09-17T10:19:00Z"
            ]
        );
        assert_eq!(x.ips.map["192.0.2.1"].count, 10);
        assert_eq!(y.ips.map["192.0.2.2"].count, 10);
        assert_eq!(
            x.timeline.entries[0].event_name.as_deref(),
            Some("ListBuckets")
        );
        assert_eq!(
            y.principals.map.keys().next().map(String::as_str),
            Some("arn:aws:iam::1:user/u")
        );
    }
}
