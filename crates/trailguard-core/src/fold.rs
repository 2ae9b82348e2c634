//! Folds detections into alerts: the same rule and the same actor key within one
//! window make one alert with a count and every eventID, whatever order the events
//! arrived in (files are read in parallel).

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::alert::{Alert, AlertRule};
use crate::engine::Detection;
use crate::rule::Rule;
use crate::time::format_millis;

/// The default incident window: one hour from the first event.
pub const DEFAULT_WINDOW_MS: i64 = 3_600_000;

/// Sorts detections by rule, actor and time and folds each run that stays within
/// `window_ms` of its first event into one [`Alert`]. Duplicate deliveries of the same
/// CloudTrail event (same eventID) count once. Output is sorted by time.
pub fn fold(mut detections: Vec<Detection>, rules: &[Rule], window_ms: i64) -> Vec<Alert> {
    detections.sort_by(|a, b| {
        (a.rule, a.group_key(), a.time_ms, &a.event_id).cmp(&(
            b.rule,
            b.group_key(),
            b.time_ms,
            &b.event_id,
        ))
    });
    let mut alerts = Vec::new();
    let mut run: Vec<Detection> = Vec::new();
    for d in detections {
        let same_incident = run.first().is_some_and(|first| {
            first.rule == d.rule
                && first.group_key() == d.group_key()
                && d.time_ms - first.time_ms <= window_ms
        });
        if !same_incident && !run.is_empty() {
            alerts.push(to_alert(std::mem::take(&mut run), rules));
        }
        if !run
            .iter()
            .any(|r| !d.event_id.is_empty() && r.event_id == d.event_id)
        {
            run.push(d);
        }
    }
    if !run.is_empty() {
        alerts.push(to_alert(run, rules));
    }
    alerts.sort_by(|a, b| (&a.time, &a.rule.id, &a.id).cmp(&(&b.time, &b.rule.id, &b.id)));
    alerts
}

fn to_alert(run: Vec<Detection>, rules: &[Rule]) -> Alert {
    let first = &run[0];
    let rule = &rules[first.rule];
    // Every event of the run: the detections and the events they absorbed (one
    // eventID counted once).
    let mut events: Vec<(i64, &str, bool)> = Vec::new();
    let mut severity = rule.spec.severity;
    for d in &run {
        events.push((d.time_ms, &d.event_id, d.error_code.is_some()));
        severity = severity.max(d.severity);
        for a in &d.absorbed {
            events.push((a.time_ms, &a.event_id, a.failed));
            severity = severity.max(a.severity);
        }
    }
    events.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut seen = std::collections::HashSet::new();
    events.retain(|e| e.1.is_empty() || seen.insert(e.1));
    let last_ms = events.iter().map(|e| e.0).max().unwrap_or(first.time_ms);

    // The summary a person reads first: the first call that succeeded, if any did.
    let headline = run.iter().find(|d| d.error_code.is_none()).unwrap_or(first);
    let mut summary = headline.summary.clone();
    let errors = events.iter().filter(|e| e.2).count();
    match (events.len(), errors) {
        (1, _) => {}
        (n, 0) => summary.push_str(&format!(" ({n} events)")),
        (n, e) => summary.push_str(&format!(" ({n} events, {e} failed)")),
    }

    let mut context: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in &run {
        for (k, values) in &d.context {
            let slot = context.entry(k.clone()).or_default();
            for v in values {
                if !slot.contains(v) {
                    slot.push(v.clone());
                }
            }
        }
    }
    let mut ctx: Map<String, Value> = context
        .into_iter()
        .map(|(k, mut v)| {
            let value = if v.len() == 1 {
                Value::String(v.remove(0))
            } else {
                Value::from(v)
            };
            (k, value)
        })
        .collect();
    let mut reasons: Vec<&str> = Vec::new();
    for r in run.iter().flat_map(|d| &d.reasons) {
        if !reasons.contains(&r.as_str()) {
            reasons.push(r);
        }
    }
    if !reasons.is_empty() {
        ctx.insert("severity_reasons".into(), Value::from(reasons));
    }
    if errors > 0 {
        ctx.insert("failed_calls".into(), Value::from(errors));
    }
    let mut ips: Vec<&str> = Vec::new();
    for ip in run.iter().filter_map(|d| d.actor.source_ip.as_deref()) {
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    if ips.len() > 1 {
        ctx.insert("source_ips".into(), Value::from(ips));
    }

    Alert {
        id: alert_id(&rule.spec.id, first.group_key(), first.time_ms),
        rule: AlertRule {
            id: rule.spec.id.clone(),
            title: rule.spec.title.clone(),
            severity,
            tags: rule.spec.tags.clone(),
        },
        time: format_millis(first.time_ms),
        last_time: format_millis(last_ms),
        count: events.len() as u64,
        account: first.account.clone(),
        region: first.region.clone(),
        actor: first.actor.clone(),
        event_name: first.event_name.clone(),
        event_source: first.event_source.clone(),
        event_ids: events.iter().map(|e| e.1.to_owned()).collect(),
        summary,
        context: ctx,
    }
}

/// Stable across runs: the same rule, actor and first event give the same id.
fn alert_id(rule: &str, group: &str, start_ms: i64) -> String {
    let mut h = Sha256::new();
    h.update(rule.as_bytes());
    h.update([0]);
    h.update(group.as_bytes());
    h.update([0]);
    h.update(start_ms.to_be_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;
    use crate::rule::builtin_rules;
    use crate::Event;

    fn run_instances(id: &str, time: &str, key: &str, error: Option<&str>) -> String {
        let err = error.map_or(String::new(), |e| format!(r#","errorCode":"{e}""#));
        format!(
            r#"{{"eventType":"AwsApiCall","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventID":"{id}","eventTime":"{time}","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.23","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::1:user/admin","accessKeyId":"{key}"}},"responseElements":{{"instancesSet":{{"items":[{{"instanceId":"i-{id}"}}]}}}}{err}}}"#
        )
    }

    fn alerts_for(records: &[String]) -> Vec<Alert> {
        let engine = Engine::new(builtin_rules().unwrap());
        let mut collected = crate::correlate::Collector::new();
        for r in records {
            let mut found = Vec::new();
            engine.detect(&Event::from_json(r.as_bytes()).unwrap(), &mut found);
            for d in found {
                collected.add(d, engine.rules());
            }
        }
        let detections = collected
            .judge(engine.rules(), &mut crate::state::MemoryStore::new())
            .unwrap();
        let detections = detections
            .into_iter()
            .filter(|d| engine.rules()[d.rule].id() == "aws-ec2-run-instances-long-term-key")
            .collect();
        fold(detections, engine.rules(), DEFAULT_WINDOW_MS)
    }

    #[test]
    fn folds_one_incident_whatever_the_order() {
        let a = run_instances(
            "a",
            "2024-05-01T02:15:00Z",
            "AKIA1",
            Some("Client.InvalidParameterCombination"),
        );
        let b = run_instances("b", "2024-05-01T02:16:00Z", "AKIA1", None);
        let dup = b.clone();
        let later = run_instances("c", "2024-05-01T03:30:00Z", "AKIA1", None);
        let other_key = run_instances("d", "2024-05-01T02:17:00Z", "AKIA2", None);
        let forward = alerts_for(&[
            a.clone(),
            b.clone(),
            dup.clone(),
            later.clone(),
            other_key.clone(),
        ]);
        let backward = alerts_for(&[other_key, later, dup, b, a]);
        assert_eq!(forward, backward);
        assert_eq!(forward.len(), 3);
        let first = &forward[0];
        assert_eq!(first.count, 2);
        assert_eq!(first.event_ids, ["a", "b"]);
        assert_eq!(first.time, "2024-05-01T02:15:00Z");
        assert_eq!(first.last_time, "2024-05-01T02:16:00Z");
        assert_eq!(first.context["failed_calls"], 1);
        assert_eq!(
            first.context["instance_ids"],
            serde_json::json!(["i-a", "i-b"])
        );
        assert!(
            first.summary.ends_with("(2 events, 1 failed)"),
            "{}",
            first.summary
        );
        assert_eq!(first.id.len(), 32);
        assert_ne!(forward[0].id, forward[2].id);
    }
}
