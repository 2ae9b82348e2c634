//! Routing: which sinks an alert goes to, or which suppression silences it.
//!
//! Pure: no I/O, and the time is an argument, so the same alert, config and time
//! always give the same decision. The command line routes each alert of a run before
//! sending; the delivery worker (outbox) takes the same decisions through
//! [`Router::into_hook`], a plain `Fn(&Alert) -> Vec<String>`.

use trailguard_core::Alert;

use crate::config::{Config, RouteFilter, Suppression};

/// What happens to one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteDecision {
    /// Deliver to these sinks, in config order. May be empty: no sink wants it (it is
    /// still written to standard output and counted).
    Deliver(Vec<String>),
    /// An active suppression matched: the alert goes to no sink. The caller still
    /// counts it and shows it in the run summary: silence is never silent.
    Suppressed(Suppression),
}

impl RouteDecision {
    /// The sinks to deliver to (none when suppressed).
    pub fn sinks(&self) -> &[String] {
        match self {
            RouteDecision::Deliver(sinks) => sinks,
            RouteDecision::Suppressed(_) => &[],
        }
    }

    pub fn suppressed_by(&self) -> Option<&Suppression> {
        match self {
            RouteDecision::Suppressed(s) => Some(s),
            RouteDecision::Deliver(_) => None,
        }
    }
}

/// The routing part of a [`Config`]: each sink's filter and the suppressions.
/// Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Router {
    sinks: Vec<(String, RouteFilter)>,
    suppressions: Vec<Suppression>,
}

impl Router {
    pub fn new(config: &Config) -> Router {
        Router {
            sinks: config
                .sinks
                .iter()
                .map(|s| (s.name.clone(), s.filter.clone()))
                .collect(),
            suppressions: config.suppressions.clone(),
        }
    }

    /// The decision for `alert` at `now_ms` (milliseconds since the epoch): the first
    /// active suppression (in file order) that matches wins; otherwise every sink whose
    /// filter accepts the alert. Expired suppressions never match.
    pub fn route(&self, alert: &Alert, now_ms: i64) -> RouteDecision {
        if let Some(s) = self
            .suppressions
            .iter()
            .find(|s| s.is_active(now_ms) && s.matches(alert))
        {
            return RouteDecision::Suppressed(s.clone());
        }
        RouteDecision::Deliver(
            self.sinks
                .iter()
                .filter(|(_, filter)| filter.accepts(alert))
                .map(|(name, _)| name.clone())
                .collect(),
        )
    }

    /// The sinks for `alert` now (system clock); none when it is suppressed.
    pub fn sinks_for(&self, alert: &Alert) -> Vec<String> {
        match self.route(alert, now_ms()) {
            RouteDecision::Deliver(sinks) => sinks,
            RouteDecision::Suppressed(_) => Vec::new(),
        }
    }

    /// The routing hook for the delivery worker: `Fn(&Alert) -> Vec<String>`, deciding
    /// with the clock at each call (a suppression expires while the worker runs).
    pub fn into_hook(self) -> impl Fn(&Alert) -> Vec<String> + Send + Sync + 'static {
        move |alert| self.sinks_for(alert)
    }

    /// [`Router::into_hook`] borrowing the router.
    pub fn hook(&self) -> impl Fn(&Alert) -> Vec<String> + Send + Sync + '_ {
        move |alert| self.sinks_for(alert)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use trailguard_core::time::parse_rfc3339_millis;
    use trailguard_core::Severity;

    use super::*;

    const CONFIG: &str = r#"
[[sink]]
name = "oncall"
kind = "jsonl"
path = "/dev/null"
min_severity = "high"

[[sink]]
name = "iam"
kind = "jsonl"
path = "/dev/null"
rules = ["aws-iam-*"]
exclude_rules = ["aws-iam-user-created"]

[[sink]]
name = "persistence"
kind = "jsonl"
path = "/dev/null"
tags = ["attack.persistence", "attack.t1098"]

[[sink]]
name = "everything"
kind = "jsonl"
path = "/dev/null"

[[suppress]]
rule = "aws-ec2-*"
ip = "10.0.0.0/8"
reason = "Auto Scaling in the VPC"
until = 2030-01-01T00:00:00Z

[[suppress]]
actor = "AKIAPENTEST000000000"
reason = "pen test SEC-42"
until = 2025-01-01T00:00:00Z

[[suppress]]
actor = "arn:aws:iam::111122223333:role/ci-*"
rule = "aws-sts-*"
reason = "CI checks its identity"
until = 2030-01-01T00:00:00Z

[[suppress]]
ip = "2001:db8::/32"
reason = "office v6"
until = 2030-01-01T00:00:00Z
"#;

    fn router() -> Router {
        let c = Config::parse(CONFIG, "t.toml", Path::new("/"), &|_| None).unwrap();
        Router::new(&c)
    }

    fn at(s: &str) -> i64 {
        parse_rfc3339_millis(s).unwrap()
    }

    fn alert(rule: &str, severity: Severity, tags: &[&str]) -> Alert {
        let mut a = Alert::example();
        a.rule.id = rule.into();
        a.rule.severity = severity;
        a.rule.tags = tags.iter().map(|t| t.to_string()).collect();
        a
    }

    #[test]
    fn routes_by_severity_rule_and_tag() {
        let r = router();
        let now = at("2026-01-01T00:00:00Z");
        let d = r.route(
            &alert(
                "aws-iam-access-key-created",
                Severity::Critical,
                &["attack.persistence"],
            ),
            now,
        );
        assert_eq!(d.sinks(), ["oncall", "iam", "persistence", "everything"]);
        let d = r.route(&alert("aws-iam-user-created", Severity::Medium, &[]), now);
        assert_eq!(d.sinks(), ["everything"], "excluded from iam, below oncall");
        let d = r.route(
            &alert("aws-s3-x", Severity::Low, &["attack.t1098.001"]),
            now,
        );
        assert_eq!(d.sinks(), ["persistence", "everything"], "tag prefix");
        assert!(d.suppressed_by().is_none());
    }

    #[test]
    fn suppressions_by_rule_actor_ip_cidr_and_expiry() {
        let r = router();
        let now = at("2026-01-01T00:00:00Z");
        let mut a = alert("aws-ec2-run-instances", Severity::High, &[]);
        a.actor.source_ip = Some("10.20.30.40".into());
        let d = r.route(&a, now);
        let s = d.suppressed_by().expect("rule + CIDR");
        assert_eq!(
            (s.number, s.reason.as_str()),
            (1, "Auto Scaling in the VPC")
        );
        assert!(d.sinks().is_empty());
        a.actor.source_ip = Some("203.0.113.7".into());
        assert_eq!(r.route(&a, now).sinks().len(), 2, "outside the CIDR");

        // Expired: ignored after `until`, effective before.
        let mut p = alert("aws-iam-x", Severity::High, &[]);
        p.actor.access_key_id = Some("AKIAPENTEST000000000".into());
        assert!(r.route(&p, now).suppressed_by().is_none(), "expired");
        assert_eq!(
            r.route(&p, at("2024-12-31T00:00:00Z"))
                .suppressed_by()
                .unwrap()
                .number,
            2
        );

        // Actor by ARN glob, together with a rule.
        let mut c = alert("aws-sts-get-caller-identity", Severity::Medium, &[]);
        c.actor.arn = Some("arn:aws:iam::111122223333:role/ci-deploy".into());
        c.actor.access_key_id = Some("ASIAXXX".into());
        assert_eq!(r.route(&c, now).suppressed_by().unwrap().number, 3);
        c.rule.id = "aws-iam-x".into();
        assert!(
            r.route(&c, now).suppressed_by().is_none(),
            "rule must match too"
        );

        // IPv6 CIDR, any spelling.
        let mut v6 = alert("aws-x", Severity::Info, &[]);
        v6.actor.source_ip = Some("2001:0db8:0000:0000:0000:0000:0000:0001".into());
        assert_eq!(r.route(&v6, now).suppressed_by().unwrap().number, 4);
    }

    #[test]
    fn usable_as_a_routing_hook() {
        fn takes(hook: impl Fn(&Alert) -> Vec<String> + Send + Sync + 'static) -> Vec<String> {
            hook(&Alert::example())
        }
        let sinks = takes(router().into_hook());
        assert_eq!(sinks, ["oncall", "iam", "persistence", "everything"]);
        let r = router();
        let hook = r.hook();
        assert_eq!(hook(&Alert::example()).len(), 4);
        type Hook = Box<dyn Fn(&Alert) -> Vec<String> + Send + Sync>;
        let boxed: Hook = Box::new(r.clone().into_hook());
        assert_eq!(boxed(&Alert::example()).len(), 4);
    }
}
