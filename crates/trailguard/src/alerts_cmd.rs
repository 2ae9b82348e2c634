//! `trailguard alerts list | show | retry | suppressions`: what the outbox of a
//! `--state` file holds, sending it again, and what the config file silences.

use std::io::{self, IsTerminal, Write};

use anyhow::{Context, Result};
use serde_json::{json, Value};
use trailguard_core::time::format_millis;
use trailguard_io::config::{Config, Suppression};
use trailguard_io::outbox::{
    system_now_ms, AlertEntry, DeliveryInfo, DeliveryState, ListFilter, MessageKind, Outbox,
    Selection,
};

use crate::args::{
    AlertsCommand, AlertsListArgs, AlertsRetryArgs, AlertsShowArgs, DeliveryStatus, ListFormat,
    ShowFormat, SuppressionsArgs,
};
use crate::delivery::{deliver, DeliveryOptions};
use crate::exit;
use crate::sinks::{build_sinks, run_config, SinkSpec};
use crate::time_arg::now_ms;

pub fn run(command: AlertsCommand) -> Result<u8> {
    match command {
        AlertsCommand::List(a) => list(a),
        AlertsCommand::Show(a) => show(a),
        AlertsCommand::Retry(a) => retry(a),
        AlertsCommand::Suppressions(a) => suppressions(a),
    }
}

fn state_of(s: DeliveryStatus) -> DeliveryState {
    match s {
        DeliveryStatus::Pending => DeliveryState::Pending,
        DeliveryStatus::Delivered => DeliveryState::Delivered,
        DeliveryStatus::Failed => DeliveryState::FailedPermanent,
        DeliveryStatus::Expired => DeliveryState::Expired,
    }
}

/// `failed` for people; the outbox's own word elsewhere.
fn state_word(s: DeliveryState) -> &'static str {
    match s {
        DeliveryState::FailedPermanent => "failed",
        other => other.as_str(),
    }
}

fn list(a: AlertsListArgs) -> Result<u8> {
    let mut outbox = Outbox::open_existing(&a.state)?;
    let filter = ListFilter {
        state: a.status.map(state_of),
        sink: a.sink,
        limit: a.limit,
    };
    let format = a.format.unwrap_or(if io::stdout().is_terminal() {
        ListFormat::Table
    } else {
        ListFormat::Jsonl
    });
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut written: io::Result<()> = Ok(());
    let mut n = 0u64;
    if format == ListFormat::Table {
        written = writeln!(
            out,
            "{:<12}  {:<24}  {:<8}  {:<44}  DELIVERIES",
            "ID", "QUEUED", "SEVERITY", "RULE"
        );
    }
    outbox.list(&filter, |entry| {
        if written.is_err() {
            return;
        }
        n += 1;
        written = match format {
            ListFormat::Table => writeln!(
                out,
                "{:<12}  {:<24}  {:<8}  {:<44}  {}",
                entry.id.chars().take(12).collect::<String>(),
                format_millis(entry.created_ms),
                entry.severity.to_uppercase(),
                entry.rule_id,
                deliveries_cell(&entry.deliveries)
            ),
            ListFormat::Jsonl => writeln!(out, "{}", entry_json(&entry)),
        };
    })?;
    if format == ListFormat::Table && n == 0 && written.is_ok() {
        written = writeln!(out, "No alerts.");
    }
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write to standard output")?,
    }
    Ok(exit::OK)
}

/// `discord=delivered jsonl:a.jsonl=pending(3)`: the state of each sink, with the
/// attempts made when it is not delivered.
fn deliveries_cell(deliveries: &[DeliveryInfo]) -> String {
    if deliveries.is_empty() {
        return "- (no sink)".to_owned();
    }
    deliveries
        .iter()
        .map(|d| match d.state {
            DeliveryState::Delivered => format!("{}=delivered", d.sink),
            s => format!("{}={}({})", d.sink, state_word(s), d.attempts),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn delivery_json(d: &DeliveryInfo) -> Value {
    let pending = d.state == DeliveryState::Pending;
    json!({
        "sink": d.sink,
        "state": state_word(d.state),
        "attempts": d.attempts,
        "next_attempt": pending.then(|| format_millis(d.next_attempt_ms)),
        "expires": pending.then(|| format_millis(d.expires_ms)),
        "last_attempt": d.last_attempt_ms.map(format_millis),
        "delivered": d.delivered_ms.map(format_millis),
        "last_error": d.last_error,
    })
}

fn entry_json(e: &AlertEntry) -> Value {
    json!({
        "kind": e.kind.as_str(),
        "id": e.id,
        "rule": e.rule_id,
        "severity": e.severity,
        "summary": e.summary,
        "queued": format_millis(e.created_ms),
        "deliveries": e.deliveries.iter().map(delivery_json).collect::<Vec<_>>(),
    })
}

fn show(a: AlertsShowArgs) -> Result<u8> {
    let mut outbox = Outbox::open_existing(&a.state)?;
    let id = outbox.resolve(&a.id)?;
    let detail = outbox.show(&id)?;
    let alert: Value = serde_json::from_str(&detail.alert_json)
        .context("the alert stored in the outbox is not JSON")?;
    let mut text = String::new();
    match a.format {
        ShowFormat::Json => {
            let history: Vec<Value> = detail
                .history
                .iter()
                .map(|h| {
                    json!({"time": format_millis(h.at_ms), "sink": h.sink,
                           "outcome": h.outcome, "detail": h.detail})
                })
                .collect();
            let mut v = entry_json(&detail.entry);
            v["alert"] = alert;
            v["history"] = Value::Array(history);
            text.push_str(&serde_json::to_string_pretty(&v)?);
            text.push('\n');
        }
        ShowFormat::Text => {
            let e = &detail.entry;
            let kind = match e.kind {
                MessageKind::Alert => "alert ",
                MessageKind::Digest => "digest",
            };
            text.push_str(&format!(
                "{kind}    {}\nrule      {} ({})\nsummary   {}\nqueued    {}\n\ndeliveries:\n",
                e.id,
                e.rule_id,
                e.severity,
                e.summary,
                format_millis(e.created_ms)
            ));
            if e.deliveries.is_empty() {
                text.push_str("  none (recorded without a sink)\n");
            }
            for d in &e.deliveries {
                let when = match d.state {
                    DeliveryState::Delivered => d
                        .delivered_ms
                        .map(|t| format!("at {}", format_millis(t)))
                        .unwrap_or_default(),
                    DeliveryState::Pending => format!(
                        "next try {}, expires {}",
                        format_millis(d.next_attempt_ms),
                        format_millis(d.expires_ms)
                    ),
                    _ => d
                        .last_attempt_ms
                        .map(|t| format!("last try {}", format_millis(t)))
                        .unwrap_or_default(),
                };
                text.push_str(&format!(
                    "  {:<24} {:<9} {} attempt(s)  {when}\n",
                    d.sink,
                    state_word(d.state),
                    d.attempts
                ));
                if let Some(err) = &d.last_error {
                    text.push_str(&format!("  {:<24} last error: {err}\n", ""));
                }
            }
            text.push_str("\nhistory:\n");
            for h in &detail.history {
                text.push_str(&format!(
                    "  {}  {:<24} {}{}\n",
                    format_millis(h.at_ms),
                    h.sink,
                    h.outcome,
                    h.detail
                        .as_deref()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default()
                ));
            }
            text.push_str(&format!("\n{} JSON:\n", kind.trim_end()));
            text.push_str(&serde_json::to_string_pretty(&alert)?);
            text.push('\n');
        }
    }
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write to standard output")?,
    }
    Ok(exit::OK)
}

fn retry(a: AlertsRetryArgs) -> Result<u8> {
    let specs: Vec<SinkSpec> = a
        .sink
        .iter()
        .map(|s| SinkSpec::parse(s))
        .collect::<Result<_>>()?;
    let config = run_config(a.config.as_deref(), specs, a.quiet)?;
    if config.sinks.is_empty() {
        anyhow::bail!(
            "alerts retry: give the sinks to deliver to: --sink KIND=TARGET, or --config FILE \
             (the outbox names sinks but does not keep their URLs)"
        );
    }
    let options = DeliveryOptions::from_args(&a.delivery, &config)?;
    let sinks = build_sinks(&config)?;
    let names: Vec<String> = sinks.iter().map(|s| s.name.clone()).collect();
    let mut outbox = Outbox::open_existing(&a.state)?;
    let selection = if a.all {
        Selection::All
    } else {
        let ids = a
            .ids
            .iter()
            .map(|p| outbox.resolve(p))
            .collect::<Result<Vec<_>, _>>()?;
        Selection::Ids(ids)
    };
    let queued = outbox.requeue(&selection, &names, system_now_ms(), options.expiry)?;
    if queued == 0 {
        let counts = outbox.counts()?;
        let others: Vec<String> = counts
            .iter()
            .filter(|(name, c)| !names.contains(name) && c.undelivered() > 0)
            .map(|(name, c)| format!("{name} ({})", c.undelivered()))
            .collect();
        if !a.quiet {
            eprintln!("trailguard: nothing to retry for {}", names.join(", "));
        }
        if !others.is_empty() {
            eprintln!(
                "note: undelivered alerts are waiting for other sinks: {}",
                others.join(", ")
            );
        }
        return Ok(exit::OK);
    }
    if !a.quiet {
        eprintln!(
            "trailguard: {queued} deliveries queued again ({})",
            names.join(", ")
        );
    }
    let delivered = deliver(outbox, sinks, &options, a.quiet, true)?;
    if delivered.undelivered.any() {
        return Ok(exit::ERROR);
    }
    Ok(exit::OK)
}

fn suppressions(args: SuppressionsArgs) -> Result<u8> {
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
