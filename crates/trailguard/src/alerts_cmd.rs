//! `trailguard alerts ...`: alerts and their delivery. For now `suppressions`: what
//! the config file silences, why, and until when.

use std::io::{self, IsTerminal, Write};

use anyhow::{Context, Result};
use serde_json::json;
use trailguard_io::config::{Config, Suppression};

use crate::args::{ListFormat, SuppressionsArgs};
use crate::exit;
use crate::time_arg::now_ms;

pub fn suppressions(args: SuppressionsArgs) -> Result<u8> {
    let Some(path) = args.config.as_deref() else {
        anyhow::bail!("alerts suppressions: give --config FILE (or set TRAILGUARD_CONFIG)");
    };
    let config = Config::load_suppressions(path)?;
    let now = now_ms();
    let listed: Vec<&Suppression> = config
        .suppressions
        .iter()
        .filter(|s| args.all || s.is_active(now))
        .collect();
    let format = args.format.unwrap_or(if io::stdout().is_terminal() {
        ListFormat::Table
    } else {
        ListFormat::Jsonl
    });
    let expired = config.expired_suppressions(now).count();
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = match format {
        ListFormat::Jsonl => listed.iter().try_for_each(|s| {
            let line = json!({
                "number": s.number,
                "status": status(s, now),
                "until": s.until(),
                "rule": s.rule.as_ref().map(|g| g.to_string()),
                "actor": s.actor.as_ref().map(|g| g.to_string()),
                "ip": s.ip.as_ref().map(|i| i.to_string()),
                "by": s.by,
                "reason": s.reason,
                "line": s.line,
            });
            writeln!(out, "{line}")
        }),
        ListFormat::Table => write_table(&mut out, &listed, now),
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write to standard output")?,
    }
    let active = config.suppressions.len() - expired;
    if format == ListFormat::Table || listed.is_empty() {
        let hidden = if args.all || expired == 0 {
            String::new()
        } else {
            " (--all to list them)".to_owned()
        };
        eprintln!(
            "{}: {active} active, {expired} expired suppressions{hidden}",
            config.origin
        );
    }
    Ok(exit::OK)
}

fn status(s: &Suppression, now: i64) -> &'static str {
    if s.is_active(now) {
        "active"
    } else {
        "expired"
    }
}

/// Aligned columns; the reason last, since it is the longest.
fn write_table(out: &mut impl Write, list: &[&Suppression], now: i64) -> io::Result<()> {
    let dash = || "-".to_owned();
    let rows: Vec<[String; 8]> = list
        .iter()
        .map(|s| {
            [
                s.number.to_string(),
                status(s, now).to_owned(),
                s.until(),
                s.rule.as_ref().map_or_else(dash, |g| g.to_string()),
                s.actor.as_ref().map_or_else(dash, |g| g.to_string()),
                s.ip.as_ref().map_or_else(dash, |i| i.to_string()),
                s.by.clone().unwrap_or_else(dash),
                s.reason.replace(['\n', '\r', '\t'], " "),
            ]
        })
        .collect();
    let header = [
        "#", "STATUS", "UNTIL", "RULE", "ACTOR", "IP", "BY", "REASON",
    ];
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}  "));
            }
        }
        l.trim_end().to_owned()
    };
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}
