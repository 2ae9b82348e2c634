//! `--metrics ADDR`: Prometheus text exposition of what `watch` is doing, served on
//! `GET /metrics`. Counters only grow; gauges say how things are now.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use trailguard_core::Severity;

#[derive(Default)]
pub struct Metrics {
    pub files_read: AtomicU64,
    pub events_read: AtomicU64,
    pub records_skipped: AtomicU64,
    pub read_errors: AtomicU64,
    alerts: Mutex<BTreeMap<&'static str, u64>>,
    /// sink -> (delivered, failed)
    deliveries: Mutex<BTreeMap<String, (u64, u64)>>,
    /// Alerts raised but not (yet) delivered everywhere.
    pub outbox_depth: AtomicI64,
    pub open_incidents: AtomicI64,
    /// Unix milliseconds of the newest event read, 0 before the first.
    pub newest_event_ms: AtomicI64,
    pub batches: AtomicU64,
}

impl Metrics {
    pub fn alert(&self, severity: Severity) {
        let mut a = self.alerts.lock().unwrap_or_else(|p| p.into_inner());
        *a.entry(severity_name(severity)).or_default() += 1;
    }

    pub fn delivery(&self, sink: &str, ok: bool) {
        let mut d = self.deliveries.lock().unwrap_or_else(|p| p.into_inner());
        let e = d.entry(sink.to_owned()).or_default();
        if ok {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }

    /// The exposition text, at `now_ms`.
    pub fn render(&self, now_ms: i64) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: f64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            &mut out,
            "trailguard_files_read_total",
            "Files read.",
            load(&self.files_read),
        );
        counter(
            &mut out,
            "trailguard_events_read_total",
            "CloudTrail events read.",
            load(&self.events_read),
        );
        counter(
            &mut out,
            "trailguard_records_skipped_total",
            "Records that could not be read (malformed, truncated, too deep).",
            load(&self.records_skipped),
        );
        counter(
            &mut out,
            "trailguard_read_errors_total",
            "Files or records reported unreadable.",
            load(&self.read_errors),
        );
        counter(
            &mut out,
            "trailguard_batches_total",
            "Batches of new input processed.",
            load(&self.batches),
        );
        let _ = writeln!(
            out,
            "# HELP trailguard_alerts_total Alerts raised, by severity.\n# TYPE trailguard_alerts_total counter"
        );
        let alerts = self.alerts.lock().unwrap_or_else(|p| p.into_inner());
        for sev in Severity::ALL {
            let name = severity_name(sev);
            let _ = writeln!(
                out,
                "trailguard_alerts_total{{severity=\"{name}\"}} {}",
                alerts.get(name).copied().unwrap_or(0)
            );
        }
        drop(alerts);
        let deliveries = self.deliveries.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(
            out,
            "# HELP trailguard_deliveries_total Alerts delivered, by sink.\n# TYPE trailguard_deliveries_total counter"
        );
        for (sink, (ok, _)) in deliveries.iter() {
            let _ = writeln!(
                out,
                "trailguard_deliveries_total{{sink=\"{}\"}} {ok}",
                label(sink)
            );
        }
        let _ = writeln!(
            out,
            "# HELP trailguard_delivery_failures_total Failed delivery attempts, by sink.\n# TYPE trailguard_delivery_failures_total counter"
        );
        for (sink, (_, failed)) in deliveries.iter() {
            let _ = writeln!(
                out,
                "trailguard_delivery_failures_total{{sink=\"{}\"}} {failed}",
                label(sink)
            );
        }
        drop(deliveries);
        gauge(
            &mut out,
            "trailguard_outbox_depth",
            "Alerts not yet delivered to every sink.",
            self.outbox_depth.load(Ordering::Relaxed) as f64,
        );
        gauge(
            &mut out,
            "trailguard_open_incidents",
            "Incidents whose fold window is still open.",
            self.open_incidents.load(Ordering::Relaxed) as f64,
        );
        let newest = self.newest_event_ms.load(Ordering::Relaxed);
        let lag = if newest > 0 {
            (now_ms - newest).max(0) as f64 / 1000.0
        } else {
            0.0
        };
        gauge(
            &mut out,
            "trailguard_lag_seconds",
            "Now minus the time of the newest event read (0 before the first).",
            lag,
        );
        out
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// A label value, escaped as the exposition format requires.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serves `metrics` on `addr` from a background thread; returns the bound address
/// (so that port 0 can be used in tests).
pub fn serve(addr: &str, metrics: Arc<Metrics>) -> anyhow::Result<std::net::SocketAddr> {
    let server = tiny_http::Server::http(addr)
        .map_err(|e| anyhow::anyhow!("--metrics: cannot listen on {addr}: {e}"))?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| anyhow::anyhow!("--metrics: {addr} is not an IP address and port"))?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                let response = if request.url() == "/metrics" || request.url() == "/" {
                    let body = metrics.render(crate::time_arg::now_ms());
                    let header = tiny_http::Header::from_bytes(
                        &b"Content-Type"[..],
                        &b"text/plain; version=0.0.4; charset=utf-8"[..],
                    )
                    .expect("static header");
                    tiny_http::Response::from_string(body).with_header(header)
                } else {
                    tiny_http::Response::from_string("not found: try /metrics\n")
                        .with_status_code(404)
                };
                let _ = request.respond(response);
            }
        })?;
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_every_family() {
        let m = Metrics::default();
        m.events_read.store(10, Ordering::Relaxed);
        m.alert(Severity::Critical);
        m.delivery("discord", true);
        m.delivery("slack", false);
        m.newest_event_ms.store(1_000, Ordering::Relaxed);
        let text = m.render(61_000);
        assert!(text.contains("trailguard_events_read_total 10"));
        assert!(text.contains("trailguard_alerts_total{severity=\"critical\"} 1"));
        assert!(text.contains("trailguard_alerts_total{severity=\"low\"} 0"));
        assert!(text.contains("trailguard_deliveries_total{sink=\"discord\"} 1"));
        assert!(text.contains("trailguard_delivery_failures_total{sink=\"slack\"} 1"));
        assert!(text.contains("trailguard_lag_seconds 60"));
        assert!(text.contains("# TYPE trailguard_outbox_depth gauge"));
    }
}
