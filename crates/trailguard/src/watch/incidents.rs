//! Incidents that stay open while `watch` runs: a burst that spans several batches is
//! one incident, alerted once when it starts. More events of it within the window
//! are folded in; a higher severity is alerted at once (an escalation matters at
//! 3 a.m.); when the window closes with more events than were alerted, one update
//! says how many in all.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use trailguard_core::time::{format_millis, parse_rfc3339_millis};
use trailguard_core::Alert;

struct Open {
    /// The alert as last sent, and as grown since.
    sent: Alert,
    grown: Alert,
    first_ms: i64,
}

/// Open incidents by (rule id, actor key).
pub struct OpenIncidents {
    window_ms: i64,
    open: HashMap<(String, String), Open>,
}

fn group(a: &Alert) -> String {
    a.actor
        .access_key_id
        .clone()
        .or_else(|| a.actor.arn.clone())
        .unwrap_or_else(|| "unknown-actor".into())
}

impl OpenIncidents {
    pub fn new(window_ms: i64) -> OpenIncidents {
        OpenIncidents {
            window_ms,
            open: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Takes a batch's alerts; returns those to send now (new incidents, and
    /// escalations of open ones).
    pub fn admit(&mut self, alerts: Vec<Alert>) -> Vec<Alert> {
        let mut now = Vec::new();
        for alert in alerts {
            let first_ms = parse_rfc3339_millis(&alert.time).unwrap_or(0);
            let key = (alert.rule.id.clone(), group(&alert));
            match self.open.get_mut(&key) {
                Some(o) if (0..=self.window_ms).contains(&(first_ms - o.first_ms)) => {
                    merge(&mut o.grown, &alert);
                    if o.grown.rule.severity > o.sent.rule.severity {
                        let update = update_of(&o.grown, "severity raised");
                        o.sent = o.grown.clone();
                        now.push(update);
                    }
                }
                _ => {
                    self.open.insert(
                        key,
                        Open {
                            sent: alert.clone(),
                            grown: alert.clone(),
                            first_ms,
                        },
                    );
                    now.push(alert);
                }
            }
        }
        now
    }

    /// Closes the incidents whose window ended before `watermark_ms` (the newest event
    /// time seen), or all of them with `None` (shutdown): an update for each that grew.
    pub fn close(&mut self, watermark_ms: Option<i64>) -> Vec<Alert> {
        let window = self.window_ms;
        let closing: Vec<(String, String)> = self
            .open
            .iter()
            .filter(|(_, o)| watermark_ms.is_none_or(|w| w - o.first_ms > window))
            .map(|(k, _)| k.clone())
            .collect();
        let mut updates = Vec::new();
        for key in closing {
            if let Some(o) = self.open.remove(&key) {
                if o.grown.count > o.sent.count {
                    updates.push(update_of(&o.grown, "incident window closed"));
                }
            }
        }
        updates.sort_by(|a, b| a.time.cmp(&b.time));
        updates
    }
}

fn merge(into: &mut Alert, more: &Alert) {
    for id in &more.event_ids {
        if !into.event_ids.contains(id) {
            into.event_ids.push(id.clone());
        }
    }
    into.count += more.count;
    into.rule.severity = into.rule.severity.max(more.rule.severity);
    if more.last_time > into.last_time {
        into.last_time = more.last_time.clone();
    }
}

/// An update of an incident already alerted: its own id (so that it is delivered,
/// not deduplicated away), the totals so far, and why it is sent.
fn update_of(grown: &Alert, why: &str) -> Alert {
    let mut u = grown.clone();
    let digest = Sha256::digest(format!(
        "{}:update:{}:{}",
        grown.id, grown.count, grown.rule.severity
    ));
    u.id = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let since = parse_rfc3339_millis(&grown.time).map_or_else(|| grown.time.clone(), format_millis);
    u.summary = format!(
        "Update ({why}): {} events in all since {since}, incident {}. {}",
        grown.count, grown.id, grown.summary
    );
    u
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailguard_core::Severity;

    fn alert(time: &str, count: u64, sev: Severity) -> Alert {
        let mut a = Alert::example();
        a.time = time.into();
        a.last_time = time.into();
        a.count = count;
        a.rule.severity = sev;
        a.id = format!("id-{time}");
        a.event_ids = (0..count).map(|i| format!("{time}-{i}")).collect();
        a
    }

    #[test]
    fn a_burst_over_batches_is_alerted_once_then_updated_once() {
        let mut open = OpenIncidents::new(3_600_000);
        let first = open.admit(vec![alert("2024-05-01T12:00:00Z", 2, Severity::High)]);
        assert_eq!(first.len(), 1);
        for m in 1..5 {
            let t = format!("2024-05-01T12:{m:02}:00Z");
            assert!(open.admit(vec![alert(&t, 3, Severity::High)]).is_empty());
        }
        assert!(open
            .close(Some(parse_rfc3339_millis("2024-05-01T12:30:00Z").unwrap()))
            .is_empty());
        let updates = open.close(Some(parse_rfc3339_millis("2024-05-01T13:00:01Z").unwrap()));
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].count, 14);
        assert_eq!(updates[0].event_ids.len(), 14);
        assert_ne!(updates[0].id, first[0].id);
        assert!(updates[0]
            .summary
            .starts_with("Update (incident window closed): 14 events"));
        assert_eq!(open.len(), 0);
    }

    #[test]
    fn an_escalation_is_sent_at_once_and_a_later_burst_is_new() {
        let mut open = OpenIncidents::new(3_600_000);
        open.admit(vec![alert("2024-05-01T12:00:00Z", 1, Severity::Medium)]);
        let now = open.admit(vec![alert("2024-05-01T12:10:00Z", 1, Severity::Critical)]);
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].rule.severity, Severity::Critical);
        assert!(now[0].summary.contains("severity raised"));
        let later = open.admit(vec![alert("2024-05-01T14:00:00Z", 1, Severity::Medium)]);
        assert_eq!(later.len(), 1, "outside the window: a new incident");
        // Shutdown closes everything; nothing grew past what was sent.
        assert!(open.close(None).is_empty());
    }
}
