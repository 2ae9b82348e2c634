//! [`Report`]: the investigation report, whose JSON form is the investigation contract
//! of `docs/architecture.md` (field names relied on by scripts), and the lineage
//! resolved from what one pass indexed.

use std::collections::HashSet;

use serde::Serialize;
use trailguard_core::keyid;
use trailguard_core::time::format_millis;
use trailguard_core::{Alert, Severity};

use crate::activity::{Activity, Capped, Seen, TimelineEntry, HOUR_MS};
use crate::created::Created;
use crate::investigator::Findings;
use crate::subject::Subject;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SubjectInfo {
    /// `access_key`, `principal`, `ip`; `derived_access_key` in `derived` reports.
    #[serde(rename = "type")]
    pub kind: String,
    pub access_key_id: Option<String>,
    pub account: Option<String>,
    pub principal_arn: Option<String>,
    pub ip: Option<String>,
    /// What the access key id's prefix says it is (`AKIA`: long-term, ...).
    pub key_type: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IpRow {
    pub ip: String,
    pub count: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub new: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserAgentRow {
    pub user_agent: String,
    pub count: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub new: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RegionRow {
    pub region: String,
    pub count: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub new: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActionRow {
    pub event_source: String,
    pub event_name: String,
    pub count: u64,
    pub errors: u64,
}

/// A credential or principal the events were made with (`--ip`, `--principal`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UsedRow {
    pub id: String,
    pub count: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub new: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HourRow {
    /// Start of the hour, RFC 3339.
    pub hour: String,
    pub region: String,
    pub count: u64,
}

/// How a derived credential came from its parent.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Lineage {
    /// `CreateAccessKey`, `AssumeRole`, `GetSessionToken`, `GetFederationToken`, or
    /// `CreateAccessKey for a user the parent created`.
    pub via: String,
    pub event_id: Option<String>,
    pub time: Option<String>,
    /// The parent report's subject: its access key id, else principal ARN or IP.
    pub parent: String,
    /// How deep in the lineage (1: created by the subject itself).
    pub depth: u32,
}

/// Values left out of a list at its limit (events counted, values not kept).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Omitted {
    pub source_ips: u64,
    pub user_agents: u64,
    pub regions: u64,
    pub actions: u64,
    pub created: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub subject: SubjectInfo,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub event_count: u64,
    pub error_count: u64,
    pub suspicious_since: Option<String>,
    pub source_ips: Vec<IpRow>,
    pub user_agents: Vec<UserAgentRow>,
    pub regions: Vec<RegionRow>,
    pub actions: Vec<ActionRow>,
    pub created: Created,
    pub derived: Vec<Report>,
    pub timeline: Vec<TimelineEntry>,
    // ---- extensions of the contract (docs/architecture.md says which) ----
    /// Why `suspicious_since`: `alert` (the rule pack), `baseline-until` (the user),
    /// `created` (a derived credential, from its creation), or null.
    pub suspicious_reason: Option<String>,
    /// For derived reports: how the credential came from its parent.
    pub lineage: Option<Lineage>,
    /// Derived credentials not reported (`max_derived` reached, or not indexed).
    pub derived_omitted: u64,
    pub alerts: Vec<Alert>,
    /// Access keys the events were made with, and the principals who made them.
    pub access_keys: Vec<UsedRow>,
    pub principals: Vec<UsedRow>,
    /// Events per hour and region (the activity chart).
    pub hourly: Vec<HourRow>,
    /// True when the timeline holds only the earliest and latest entries.
    pub timeline_truncated: bool,
    /// Timeline entries not kept.
    pub timeline_dropped: u64,
    /// The most timeline entries a report keeps.
    pub timeline_limit: usize,
    /// Events whose time could not be read (listed last in the timeline).
    pub untimed_events: u64,
    pub omitted: Omitted,
}

/// What to build the report with, beside the findings.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// `--baseline-until`: overrides the rule pack's `suspicious_since`.
    pub baseline_until_ms: Option<i64>,
    /// Alerts of at least this severity make their first event suspicious.
    pub suspicious_severity: Severity,
    /// Derived reports at most, over the whole lineage.
    pub max_derived: usize,
    /// Depth of the lineage followed at most.
    pub max_depth: u32,
    pub timeline_limit: usize,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            baseline_until_ms: None,
            suspicious_severity: Severity::Medium,
            max_derived: 1_000,
            max_depth: 16,
            timeline_limit: crate::activity::Limits::SUBJECT.timeline,
        }
    }
}

fn fmt(ms: Option<i64>) -> Option<String> {
    ms.map(format_millis)
}

fn is_new(seen: &Seen, since: Option<i64>) -> bool {
    matches!((seen.first_ms, since), (Some(f), Some(s)) if f >= s)
}

/// Rows of a [`Capped`] map, most seen first (then by value).
fn rows<T>(
    m: &Capped<String, Seen>,
    since: Option<i64>,
    row: impl Fn(String, &Seen, bool) -> T,
) -> Vec<T> {
    let mut v: Vec<(&String, &Seen)> = m.map.iter().collect();
    v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
    v.into_iter()
        .map(|(k, s)| row(k.clone(), s, is_new(s, since)))
        .collect()
}

/// The report's body for one activity (everything but subject, lineage, alerts, derived).
fn body(
    subject: SubjectInfo,
    act: &Activity,
    suspicious: Option<(i64, &str)>,
    timeline_limit: usize,
) -> Report {
    let since = suspicious.map(|s| s.0);
    let mut actions: Vec<ActionRow> = act
        .actions
        .map
        .iter()
        .flat_map(|(source, names)| {
            names.map.iter().map(move |(name, c)| ActionRow {
                event_source: source.clone(),
                event_name: name.clone(),
                count: c.count,
                errors: c.errors,
            })
        })
        .collect();
    actions.sort_by(|a, b| (&a.event_source, &a.event_name).cmp(&(&b.event_source, &b.event_name)));
    let mut hourly: Vec<(i64, &str, u64)> = act
        .hourly
        .map
        .iter()
        .flat_map(|(region, hours)| {
            hours
                .map
                .iter()
                .map(move |(h, n)| (*h, region.as_str(), *n))
        })
        .collect();
    hourly.sort();
    let action_omitted =
        act.actions.omitted + act.actions.map.values().map(|n| n.omitted).sum::<u64>();
    Report {
        subject,
        first_seen: fmt(act.first_ms),
        last_seen: fmt(act.last_ms),
        event_count: act.events,
        error_count: act.errors,
        suspicious_since: fmt(since),
        source_ips: rows(&act.ips, since, |ip, s, new| IpRow {
            ip,
            count: s.count,
            first_seen: fmt(s.first_ms),
            last_seen: fmt(s.last_ms),
            new,
        }),
        user_agents: rows(&act.user_agents, since, |user_agent, s, new| UserAgentRow {
            user_agent,
            count: s.count,
            first_seen: fmt(s.first_ms),
            last_seen: fmt(s.last_ms),
            new,
        }),
        regions: rows(&act.regions, since, |region, s, new| RegionRow {
            region,
            count: s.count,
            first_seen: fmt(s.first_ms),
            last_seen: fmt(s.last_ms),
            new,
        }),
        actions,
        created: act.created.clone(),
        derived: Vec::new(),
        timeline: act.timeline.entries.clone(),
        suspicious_reason: suspicious.map(|s| s.1.to_owned()),
        lineage: None,
        derived_omitted: 0,
        alerts: Vec::new(),
        access_keys: rows(&act.keys, since, used),
        principals: rows(&act.principals, since, used),
        hourly: hourly
            .into_iter()
            .map(|(h, region, count)| HourRow {
                hour: format_millis(h * HOUR_MS),
                region: region.to_owned(),
                count,
            })
            .collect(),
        timeline_truncated: act.timeline.dropped > 0,
        timeline_dropped: act.timeline.dropped,
        timeline_limit,
        untimed_events: act.untimed,
        omitted: Omitted {
            source_ips: act.ips.omitted,
            user_agents: act.user_agents.omitted,
            regions: act.regions.omitted,
            actions: action_omitted,
            created: act.created.omitted,
        },
    }
}

fn used(id: String, s: &Seen, new: bool) -> UsedRow {
    UsedRow {
        id,
        count: s.count,
        first_seen: fmt(s.first_ms),
        last_seen: fmt(s.last_ms),
        new,
    }
}

/// Builds the report: the subject's activity, `alerts` (the rule pack on the
/// subject's events) giving `suspicious_since`, and the lineage followed through the
/// candidates indexed during the pass, each credential once (cycles end there).
pub fn build(
    subject: &Subject,
    findings: &Findings,
    alerts: Vec<Alert>,
    o: &BuildOptions,
) -> Report {
    let act = &findings.subject;
    let suspicious = match o.baseline_until_ms {
        Some(b) => Some((b, "baseline-until")),
        None => alerts
            .iter()
            .filter(|a| a.rule.severity >= o.suspicious_severity)
            .filter_map(|a| trailguard_core::time::parse_rfc3339_millis(&a.time))
            .min()
            .map(|t| (t, "alert")),
    };
    let key = match subject {
        Subject::AccessKey(k) => Some(k.clone()),
        _ => None,
    };
    let info = SubjectInfo {
        kind: subject.kind().to_owned(),
        account: match subject {
            Subject::AccessKey(k) => keyid::decode(k).ok().and_then(|i| i.account),
            Subject::Principal(p) => Some(p.account.clone()),
            Subject::Ip(_) => None,
        }
        .or_else(|| Activity::most_seen(&act.accounts).map(str::to_owned)),
        principal_arn: match subject {
            Subject::Principal(p) => Some(p.arn.clone()),
            _ => Activity::most_seen(&act.principals).map(str::to_owned),
        },
        ip: match subject {
            Subject::Ip(ip) => Some(ip.to_string()),
            _ => None,
        },
        key_type: key.as_deref().and_then(key_type),
        access_key_id: key.clone(),
    };
    let mut report = body(info, act, suspicious, o.timeline_limit);
    report.alerts = alerts;
    let mut visited: HashSet<String> = key.into_iter().collect();
    let mut budget = o.max_derived;
    let parent = subject.label();
    derive(
        &mut report,
        act,
        &parent,
        1,
        findings,
        o,
        &mut visited,
        &mut budget,
    );
    report
}

fn key_type(k: &str) -> Option<String> {
    keyid::decode(k).ok()?.kind.map(str::to_owned)
}

/// A credential the parent created, and how.
struct Child {
    key: String,
    via: String,
    event_id: Option<String>,
    time: Option<String>,
}

/// Every credential `act` created: its keys, its sessions, and the keys of the users
/// it created (whoever made those keys), in time order.
fn children(act: &Activity, findings: &Findings) -> Vec<Child> {
    let c = &act.created;
    let mut out: Vec<Child> = Vec::new();
    for k in &c.access_keys {
        out.push(Child {
            key: k.access_key_id.clone(),
            via: "CreateAccessKey".into(),
            event_id: k.origin.event_id.clone(),
            time: k.origin.time.clone(),
        });
    }
    for s in &c.session_credentials {
        out.push(Child {
            key: s.access_key_id.clone(),
            via: s
                .origin
                .event_name
                .clone()
                .unwrap_or_else(|| "AssumeRole".into()),
            event_id: s.origin.event_id.clone(),
            time: s.origin.time.clone(),
        });
    }
    let users: HashSet<&str> = c.users.iter().map(|u| u.user_name.as_str()).collect();
    if !users.is_empty() {
        for g in &findings.key_grants {
            if g.user_name.as_deref().is_some_and(|u| users.contains(u)) {
                out.push(Child {
                    key: g.access_key_id.clone(),
                    via: "CreateAccessKey for a user the parent created".into(),
                    event_id: g.origin.event_id.clone(),
                    time: g.origin.time.clone(),
                });
            }
        }
    }
    out.sort_by(|a, b| (&a.time, &a.key).cmp(&(&b.time, &b.key)));
    out
}

#[allow(clippy::too_many_arguments)]
fn derive(
    report: &mut Report,
    act: &Activity,
    parent: &str,
    depth: u32,
    findings: &Findings,
    o: &BuildOptions,
    visited: &mut HashSet<String>,
    budget: &mut usize,
) {
    let parent_since = report
        .suspicious_since
        .as_deref()
        .and_then(trailguard_core::time::parse_rfc3339_millis);
    // Every direct child is claimed before any is followed, so that a credential
    // reached two ways sits under the parent that created it directly.
    let mut mine = Vec::new();
    for child in children(act, findings) {
        if !visited.insert(child.key.clone()) {
            continue; // Already reported (a cycle, or two ways to the same key).
        }
        if *budget == 0 || depth > o.max_depth {
            report.derived_omitted += 1;
            continue;
        }
        *budget -= 1;
        mine.push(child);
    }
    for child in mine {
        let child_act = findings
            .candidates
            .get(&child.key)
            .map(|c| c.to_activity(&child.key, &findings.candidate_limits))
            .unwrap_or_default();
        let child_act = &child_act;
        // A credential did not exist before its creation: all its activity is new.
        // It is suspicious from its creation when its parent was suspicious by then
        // (or from the parent's `suspicious_since`, if that came later).
        let created_ms = child
            .time
            .as_deref()
            .and_then(trailguard_core::time::parse_rfc3339_millis);
        let since = parent_since.map(|p| (created_ms.map_or(p, |c| c.max(p)), "created"));
        let info = SubjectInfo {
            kind: "derived_access_key".into(),
            account: keyid::decode(&child.key)
                .ok()
                .and_then(|i| i.account)
                .or_else(|| Activity::most_seen(&child_act.accounts).map(str::to_owned)),
            principal_arn: Activity::most_seen(&child_act.principals).map(str::to_owned),
            ip: None,
            key_type: key_type(&child.key),
            access_key_id: Some(child.key.clone()),
        };
        let mut sub = body(info, child_act, since, findings.candidate_limits.timeline);
        sub.lineage = Some(Lineage {
            via: child.via,
            event_id: child.event_id,
            time: child.time,
            parent: parent.to_owned(),
            depth,
        });
        derive(
            &mut sub,
            child_act,
            &child.key,
            depth + 1,
            findings,
            o,
            visited,
            budget,
        );
        report.derived.push(sub);
    }
}

impl Report {
    /// True when the subject never appears in the input.
    pub fn is_empty(&self) -> bool {
        self.event_count == 0
    }

    /// Every report of the lineage, depth first, this one included.
    pub fn walk(&self) -> Vec<&Report> {
        let mut out = vec![self];
        for d in &self.derived {
            out.extend(d.walk());
        }
        out
    }
}
