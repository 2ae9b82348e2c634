//! `trailguard alerts list | show | retry`: what the outbox of a `--state` file holds,
//! and sending it again.

use std::io::{self, IsTerminal, Write};

use anyhow::{Context, Result};
use serde_json::{json, Value};
use trailguard_core::time::format_millis;
use trailguard_io::outbox::{
    system_now_ms, AlertEntry, DeliveryInfo, DeliveryState, ListFilter, Outbox, Selection,
};

use crate::args::{
    AlertsCommand, AlertsListArgs, AlertsRetryArgs, AlertsShowArgs, DeliveryStatus, ListFormat,
    ShowFormat,
};
use crate::delivery::{deliver, DeliveryOptions};
use crate::exit;
use crate::sinks::{build_all, SinkSpec};

pub fn run(command: AlertsCommand) -> Result<u8> {
    match command {
        AlertsCommand::List(a) => list(a),
        AlertsCommand::Show(a) => show(a),
        AlertsCommand::Retry(a) => retry(a),
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
            text.push_str(&format!(
                "alert     {}\nrule      {} ({})\nsummary   {}\nqueued    {}\n\ndeliveries:\n",
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
            text.push_str("\nalert JSON:\n");
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
    let options = DeliveryOptions::from_args(&a.delivery)?;
    let specs: Vec<SinkSpec> = a
        .sink
        .iter()
        .map(|s| SinkSpec::parse(s))
        .collect::<Result<_>>()?;
    let sinks = build_all(&specs)?;
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
    let undelivered = deliver(outbox, sinks, &options, a.quiet)?;
    if undelivered.any() {
        return Ok(exit::ERROR);
    }
    Ok(exit::OK)
}
