//! Alerts for people (`table`) and for programs (`json`, `jsonl`).

use std::io::{self, Write};

use trailguard_core::{Alert, Severity};

/// Writes alerts as JSON Lines: one alert object per line (the alert contract).
pub fn write_jsonl(out: &mut dyn Write, alerts: &[Alert]) -> io::Result<()> {
    for a in alerts {
        serde_json::to_writer(&mut *out, a)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes alerts as one pretty-printed JSON array.
pub fn write_json(out: &mut dyn Write, alerts: &[Alert]) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, alerts)?;
    out.write_all(b"\n")
}

/// A table for a terminal: one row per alert, its summary and the reasons for its
/// severity beneath. `color` adds ANSI colours to the severity.
pub fn write_table(out: &mut dyn Write, alerts: &[Alert], color: bool) -> io::Result<()> {
    if alerts.is_empty() {
        return writeln!(out, "No alerts.");
    }
    let headers = [
        "SEVERITY",
        "FIRST SEEN",
        "COUNT",
        "RULE",
        "ACCESS KEY",
        "SOURCE IP",
    ];
    let rows: Vec<[String; 6]> = alerts
        .iter()
        .map(|a| {
            [
                a.rule.severity.as_str().to_uppercase(),
                a.time.clone(),
                a.count.to_string(),
                a.rule.id.clone(),
                a.actor.access_key_id.clone().unwrap_or_else(|| "-".into()),
                a.actor.source_ip.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 6], sev: Option<Severity>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let padded = format!("{cell:<w$}");
            match (i, sev, color) {
                (0, Some(sev), true) => s.push_str(&format!("{}{padded}\x1b[0m", ansi(sev))),
                _ => s.push_str(&padded),
            }
            s.push_str("  ");
        }
        s.trim_end().to_owned()
    };
    writeln!(out, "{}", line(&headers.map(String::from), None))?;
    for (a, row) in alerts.iter().zip(&rows) {
        writeln!(out, "{}", line(row, Some(a.rule.severity)))?;
        writeln!(out, "    {}", a.summary)?;
        if let Some(reasons) = a.context.get("severity_reasons").and_then(|r| r.as_array()) {
            for r in reasons.iter().filter_map(|r| r.as_str()) {
                writeln!(out, "    ! {r}")?;
            }
        }
    }
    Ok(())
}

fn ansi(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical => "\x1b[1;31m",
        Severity::High => "\x1b[31m",
        Severity::Medium => "\x1b[33m",
        Severity::Low => "\x1b[34m",
        Severity::Info => "\x1b[2m",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailguard_core::{Actor, AlertRule};

    fn alert(sev: Severity) -> Alert {
        let mut a = Alert::example();
        a.id = "0123".into();
        a.rule = AlertRule {
            id: "aws-x".into(),
            title: "X".into(),
            severity: sev,
            tags: vec![],
        };
        a.time = "2024-05-01T02:14:09Z".into();
        a.last_time = a.time.clone();
        a.count = 2;
        a.account = Some("111122223333".into());
        a.actor = Actor {
            access_key_id: Some("AKIAKEY".into()),
            ..Actor::default()
        };
        a.event_name = None;
        a.event_source = None;
        a.event_ids = vec!["e1".into()];
        a.summary = "admin did x".into();
        a.context = serde_json::json!({"severity_reasons": ["because"]})
            .as_object()
            .unwrap()
            .clone();
        a
    }

    #[test]
    fn table_has_rows_summaries_and_reasons() {
        let mut out = Vec::new();
        write_table(&mut out, &[alert(Severity::Critical)], false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("SEVERITY"));
        assert!(text.contains("CRITICAL  2024-05-01T02:14:09Z  2"));
        assert!(text.contains("    admin did x\n    ! because\n"));
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn jsonl_is_one_object_per_line() {
        let mut out = Vec::new();
        write_jsonl(&mut out, &[alert(Severity::Low), alert(Severity::High)]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["rule"]["severity"], "high");
    }
}
