//! [`Investigator`]: fed every event of the input once, from any number of threads,
//! it keeps what the report needs and nothing else.
//!
//! The lineage (credentials the subject created, and what those did) cannot be known
//! while reading: files are read out of order, so a created key's calls may come
//! before the call that created it. So, in the same pass, the investigator indexes
//! what the lineage needs: a small, bounded [`Activity`] for every other access key
//! seen (any of them may turn out to be derived), and every `CreateAccessKey` in the
//! input (to find the keys of users the subject created, whoever made the key). The
//! lineage is resolved from that index after reading (see `report`).

use std::sync::Mutex;

use trailguard_core::Event;

use crate::activity::{Activity, Caller, FastMap, Limits};
use crate::candidate::{Candidate, CandidateLimits, Pool};
use crate::created::{AccessKeyItem, Created};
use crate::subject::{access_key_of, Subject};

/// How the investigator bounds itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub subject: Limits,
    pub candidate: CandidateLimits,
    /// Other access keys indexed at most; past it, new keys are counted, not kept.
    pub max_candidates: usize,
    /// Events at or after (milliseconds since the epoch).
    pub since_ms: Option<i64>,
    /// Events before.
    pub until_ms: Option<i64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            subject: Limits::SUBJECT,
            candidate: CandidateLimits::default(),
            max_candidates: 1_000_000,
            since_ms: None,
            until_ms: None,
        }
    }
}

/// One thread's share.
#[derive(Default)]
struct Shard {
    subject: Activity,
    candidates: FastMap<String, Candidate>,
    pool: Pool,
    untracked: u64,
    /// Every successful `CreateAccessKey` of the input, with its caller's key.
    key_grants: Vec<(Option<String>, AccessKeyItem)>,
}

/// What one pass found.
#[derive(Debug, Default)]
pub struct Findings {
    pub subject: Activity,
    /// Every other access key's brief activity, by key id.
    pub candidates: FastMap<String, Candidate>,
    /// What the candidates kept at most.
    pub candidate_limits: CandidateLimits,
    /// Events of keys not indexed because `max_candidates` was reached.
    pub untracked_events: u64,
    /// Every successful `CreateAccessKey` of the input, in time order.
    pub key_grants: Vec<AccessKeyItem>,
}

pub struct Investigator {
    subject: Subject,
    opts: Options,
    shards: Vec<Mutex<Shard>>,
    per_shard_candidates: usize,
}

impl Investigator {
    pub fn new(subject: Subject, opts: Options) -> Investigator {
        // One shard per worker thread, and one for callers outside the pool (stdin).
        let n = rayon::current_num_threads() + 1;
        Investigator {
            subject,
            per_shard_candidates: opts.max_candidates.div_ceil(n),
            opts,
            shards: (0..n).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }

    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    /// Folds `ev` in; true when it is one of the subject's events (within `--since`
    /// and `--until`), which the caller also hands to the rule pack.
    pub fn observe(&self, ev: &Event<'_>) -> bool {
        let t = ev.time_millis();
        if self.opts.since_ms.is_some() || self.opts.until_ms.is_some() {
            let Some(t) = t else { return false };
            if self.opts.since_ms.is_some_and(|s| t < s)
                || self.opts.until_ms.is_some_and(|u| t >= u)
            {
                return false;
            }
        }
        let key = access_key_of(ev);
        let mine = self.subject.matches(ev, key);
        let grant = ev.record.error_code.is_none()
            && ev.event_name() == Some("CreateAccessKey")
            && ev.event_source() == Some("iam.amazonaws.com");
        let own_key = matches!(&self.subject, Subject::AccessKey(k) if Some(k.as_str()) == key);
        if !mine && !grant && (key.is_none() || own_key) {
            return false;
        }
        let i = rayon::current_thread_index()
            .map_or(self.shards.len() - 1, |i| i.min(self.shards.len() - 2));
        let mut shard = self.shards[i].lock().unwrap_or_else(|p| p.into_inner());
        if mine {
            let principal = ev.identity().and_then(|id| id.arn.as_deref());
            let caller = Caller {
                access_key_id: key,
                principal_arn: principal,
            };
            shard.subject.add(ev, caller, &self.opts.subject);
        }
        if let (Some(k), false) = (key, own_key) {
            let limit = self.per_shard_candidates;
            let shard = &mut *shard;
            let act = if shard.candidates.contains_key(k) {
                shard.candidates.get_mut(k)
            } else if shard.candidates.len() < limit {
                Some(shard.candidates.entry(k.to_owned()).or_default())
            } else {
                None
            };
            match act {
                // The principal is only parsed for a key's first event: it is the
                // same for every call of one key.
                Some(act) => act.add(
                    &mut shard.pool,
                    ev,
                    || ev.identity().and_then(|id| id.arn.as_deref()),
                    &self.opts.candidate,
                ),
                None => shard.untracked += 1,
            }
        }
        if grant {
            let mut c = Created::default();
            c.extract(ev, 1);
            if let Some(item) = c.access_keys.pop() {
                shard.key_grants.push((key.map(str::to_owned), item));
            }
        }
        mine
    }

    /// Merges the threads' shares.
    pub fn finish(self) -> Findings {
        let opts = self.opts;
        let mut out = Findings {
            candidate_limits: opts.candidate,
            ..Findings::default()
        };
        let mut grants = Vec::new();
        for shard in self.shards {
            let shard = shard.into_inner().unwrap_or_else(|p| p.into_inner());
            out.subject.merge(shard.subject, &opts.subject);
            out.untracked_events += shard.untracked;
            for (k, act) in shard.candidates {
                match out.candidates.get_mut(&k) {
                    Some(mine) => mine.merge(act, &opts.candidate),
                    None => {
                        out.candidates.insert(k, act);
                    }
                }
            }
            grants.extend(shard.key_grants.into_iter().map(|(_, g)| g));
        }
        out.subject.finish(&opts.subject);
        grants.sort_by(|a, b| (&a.origin, &a.access_key_id).cmp(&(&b.origin, &b.access_key_id)));
        grants.dedup_by(|a, b| a == b);
        out.key_grants = grants;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &str, name: &str, t: &str, extra: &str) -> String {
        format!(
            r#"{{"userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::418295730164:user/u","accessKeyId":"{key}"}},"eventSource":"iam.amazonaws.com","eventName":"{name}","eventTime":"{t}","eventID":"{name}-{t}","sourceIPAddress":"198.51.100.73"{extra}}}"#
        )
    }

    #[test]
    fn one_pass_indexes_the_lineage_in_any_order() {
        let a = "AKIAWCZC6J72ODEC6IFU";
        let b = "AKIAWCZC6J72CNUTOL7P";
        let create = rec(
            a,
            "CreateAccessKey",
            "2025-09-17T23:13:55Z",
            &format!(
                r#","responseElements":{{"accessKey":{{"accessKeyId":"{b}","userName":"u"}}}}"#
            ),
        );
        let used = rec(b, "ListUsers", "2025-09-17T23:20:00Z", "");
        let inv = Investigator::new(Subject::access_key(a).unwrap(), Options::default());
        // The created key's call first, as a parallel read may give it.
        for r in [&used, &create] {
            let ev = Event::from_json(r.as_bytes()).unwrap();
            inv.observe(&ev);
        }
        let f = inv.finish();
        assert_eq!(f.subject.events, 1);
        assert_eq!(f.subject.created.access_keys[0].access_key_id, b);
        assert_eq!(f.candidates[b].events(), 1);
        assert!(!f.candidates.contains_key(a));
        assert_eq!(f.key_grants.len(), 1);
    }

    #[test]
    fn many_events_of_one_key_keep_a_bounded_timeline() {
        let a = "AKIAWCZC6J72ODEC6IFU";
        let opts = Options {
            subject: Limits {
                timeline: 100,
                ..Limits::SUBJECT
            },
            ..Options::default()
        };
        let inv = Investigator::new(Subject::access_key(a).unwrap(), opts);
        let n = 300_000u64;
        let base = 1_758_000_000_000i64;
        for i in 0..n {
            // Out of order: a fixed permutation (7,919 is prime, coprime with n).
            let s = (i * 7_919) % n;
            let t = trailguard_core::time::format_millis(base + s as i64 * 1000);
            let r = rec(a, "ListUsers", &t, "");
            inv.observe(&Event::from_json(r.as_bytes()).unwrap());
        }
        let f = inv.finish();
        assert_eq!(f.subject.events, n);
        let tl = &f.subject.timeline;
        assert_eq!(tl.entries.len(), 100);
        assert_eq!(tl.dropped, n - 100);
        assert_eq!(tl.entries[0].time_ms, Some(base));
        assert_eq!(tl.entries[99].time_ms, Some(base + (n as i64 - 1) * 1000));
    }

    #[test]
    fn since_and_until_bound_everything() {
        let a = "AKIAWCZC6J72ODEC6IFU";
        let opts = Options {
            since_ms: trailguard_core::time::parse_rfc3339_millis("2025-09-17T00:00:00Z"),
            ..Options::default()
        };
        let inv = Investigator::new(Subject::access_key(a).unwrap(), opts);
        for t in ["2025-09-16T10:00:00Z", "2025-09-17T10:00:00Z"] {
            let r = rec(a, "ListUsers", t, "");
            inv.observe(&Event::from_json(r.as_bytes()).unwrap());
        }
        assert_eq!(inv.finish().subject.events, 1);
    }
}
