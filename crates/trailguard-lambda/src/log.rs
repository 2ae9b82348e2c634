//! The function's log (CloudWatch Logs reads stdout and stderr): each alert as one
//! JSON line on stdout, exactly the alert contract of `--format jsonl` (for metric
//! filters and Logs Insights), and one line per message on stderr.
//!
//! Nothing logged here carries a secret: alerts are redacted before they are logged,
//! sink errors never hold a URL, and configuration values that are secrets are never
//! formatted into a message.

use std::io::Write;

use trailguard_core::Alert;

use crate::handler::Summary;

pub fn alert(alert: &Alert) {
    if let Ok(line) = serde_json::to_string(alert) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

fn line(level: &str, msg: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "trailguard: {level}{msg}");
}

pub fn info(msg: &str) {
    line("", msg);
}

pub fn warn(msg: &str) {
    line("warning: ", msg);
}

pub fn error(msg: &str) {
    line("error: ", msg);
}

/// One line per invocation: what was read and sent.
pub fn summary(s: &Summary) {
    let mut text = format!(
        "{}: {}, {}, {} delivered",
        s.source,
        count(s.events, "event"),
        count(s.alerts, "alert"),
        s.delivered
    );
    if s.objects_read > 0 || !s.skipped.is_empty() {
        text.push_str(&format!(
            "; {} read, {} skipped",
            count(s.objects_read, "object"),
            s.skipped.len()
        ));
    }
    for (label, n) in [
        ("suppressed", s.suppressed),
        ("already delivered", s.already_delivered),
        ("unreadable records", s.unreadable_records),
    ] {
        if n > 0 {
            text.push_str(&format!("; {n} {label}"));
        }
    }
    if !s.nothing.is_empty() {
        text.push_str(&format!("; nothing to do: {}", s.nothing.join(", ")));
    }
    info(&text);
}

fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
