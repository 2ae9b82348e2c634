//! The report at a terminal: first a summary a person reads in ten seconds (who, when,
//! since when suspicious, what is new, what was created, what it led to), then the
//! details, then the derived credentials' reports, then the timeline.

use std::io::{self, Write};

use super::{clean, or_dash};
use crate::created::Created;
use crate::report::Report;

/// Aligned columns; cells are cleaned of control characters and cut.
pub(crate) fn grid(out: &mut dyn Write, headers: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::from("  ");
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_owned()
    };
    writeln!(out, "{}", line(headers.to_vec()))?;
    for r in rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

fn new_mark(new: bool) -> String {
    if new { "NEW" } else { "" }.to_owned()
}

fn title(r: &Report) -> String {
    let s = &r.subject;
    let mut t = match (&s.access_key_id, &s.ip) {
        (Some(k), _) => format!("access key {k}"),
        (None, Some(ip)) => format!("address {ip}"),
        _ => format!("principal {}", or_dash(s.principal_arn.as_deref())),
    };
    if let Some(kind) = &s.key_type {
        t.push_str(&format!(" ({kind})"));
    }
    if let Some(a) = &s.account {
        t.push_str(&format!(", account {a}"));
    }
    t
}

/// One line per non-empty blast-radius list: `1 access key: AKIA...`.
fn singular(what: &str) -> &str {
    match what {
        "access keys" => "access key",
        "users" => "user",
        "login profiles" => "login profile",
        "policies attached" => "policy attached",
        "roles and trust changes" => "role or trust change",
        "instances" => "instance",
        "key pairs" => "key pair",
        "security group rules" => "security group rule",
        "snapshots/images shared" => "snapshot/image shared",
        "Lambda functions changed" => "Lambda function changed",
        "session credentials" => "session credential",
        other => other,
    }
}

pub(crate) fn created_lines(c: &Created) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |what: &str, items: Vec<String>| {
        if !items.is_empty() {
            let what = if items.len() == 1 {
                singular(what)
            } else {
                what
            };
            out.push(format!("{} {what}: {}", items.len(), items.join(", ")));
        }
    };
    add(
        "access keys",
        c.access_keys
            .iter()
            .map(|k| k.access_key_id.clone())
            .collect(),
    );
    add(
        "users",
        c.users.iter().map(|u| u.user_name.clone()).collect(),
    );
    add(
        "login profiles",
        c.login_profiles
            .iter()
            .map(|u| u.user_name.clone())
            .collect(),
    );
    add(
        "policies attached",
        c.policies_attached
            .iter()
            .map(|p| {
                let what = p
                    .policy_arn
                    .as_deref()
                    .or(p.policy_name.as_deref())
                    .unwrap_or("?");
                format!("{what} -> {}", p.target)
            })
            .collect(),
    );
    add(
        "roles and trust changes",
        c.roles
            .iter()
            .map(|r| format!("{} ({})", r.role_name, r.change))
            .collect(),
    );
    add(
        "instances",
        c.instances
            .iter()
            .map(|i| {
                format!(
                    "{} ({} {})",
                    i.instance_id,
                    or_dash(i.instance_type.as_deref()),
                    or_dash(i.region.as_deref())
                )
            })
            .collect(),
    );
    add(
        "key pairs",
        c.key_pairs.iter().map(|k| k.name.clone()).collect(),
    );
    add(
        "security group rules",
        c.security_group_rules
            .iter()
            .map(|r| format!("{} {} {}", r.group_id, r.direction, r.rules.join("; ")))
            .collect(),
    );
    add(
        "snapshots/images shared",
        c.snapshots_images_shared
            .iter()
            .map(|s| {
                format!(
                    "{} {} with {}",
                    s.kind,
                    s.resource_id,
                    s.shared_with.join(" ")
                )
            })
            .collect(),
    );
    add(
        "Lambda functions changed",
        c.lambda_functions.iter().map(|f| f.name.clone()).collect(),
    );
    add(
        "MFA devices enabled",
        c.mfa_devices
            .iter()
            .map(|m| format!("{} for {}", m.serial_number, m.user_name))
            .collect(),
    );
    add(
        "session credentials",
        c.session_credentials
            .iter()
            .map(|s| s.access_key_id.clone())
            .collect(),
    );
    if c.omitted > 0 {
        out.push(format!("(and {} more items not kept)", c.omitted));
    }
    out.into_iter().map(|l| clean(&l, 400)).collect()
}

fn summary(out: &mut dyn Write, r: &Report, indent: &str) -> io::Result<()> {
    writeln!(out, "{indent}INVESTIGATION  {}", clean(&title(r), 200))?;
    if let Some(p) = &r.subject.principal_arn {
        writeln!(out, "{indent}principal      {}", clean(p, 200))?;
    }
    if let Some(l) = &r.lineage {
        writeln!(
            out,
            "{indent}created by     {} via {} at {} (event {})",
            clean(&l.parent, 100),
            l.via,
            or_dash(l.time.as_deref()),
            or_dash(l.event_id.as_deref())
        )?;
    }
    if r.is_empty() {
        return writeln!(
            out,
            "{indent}seen           never: no event of this subject in the input"
        );
    }
    writeln!(
        out,
        "{indent}seen           {} .. {}   {} events, {} errors",
        or_dash(r.first_seen.as_deref()),
        or_dash(r.last_seen.as_deref()),
        r.event_count,
        r.error_count
    )?;
    match &r.suspicious_since {
        Some(s) => writeln!(
            out,
            "{indent}SUSPICIOUS     since {s} ({})",
            or_dash(r.suspicious_reason.as_deref())
        )?,
        None => writeln!(
            out,
            "{indent}suspicious     no rule judged an event suspicious"
        )?,
    }
    let mut new: Vec<String> = Vec::new();
    new.extend(
        r.source_ips
            .iter()
            .filter(|i| i.new)
            .map(|i| format!("ip {}", i.ip)),
    );
    let agents: Vec<&str> = r
        .user_agents
        .iter()
        .filter(|u| u.new)
        .map(|u| u.user_agent.as_str())
        .collect();
    match agents.as_slice() {
        [] => {}
        [one] => new.push(format!("user agent {}", clean(one, 100))),
        [first, ..] => new.push(format!(
            "{} user agents ({}, ...)",
            agents.len(),
            clean(first, 100)
        )),
    }
    new.extend(
        r.regions
            .iter()
            .filter(|g| g.new)
            .map(|g| format!("region {}", g.region)),
    );
    if !new.is_empty() {
        writeln!(
            out,
            "{indent}NEW            {}",
            clean(&new.join("; "), 400)
        )?;
    }
    if !r.alerts.is_empty() {
        let mut sev: Vec<String> = Vec::new();
        for level in trailguard_core::Severity::ALL.iter().rev() {
            let n = r
                .alerts
                .iter()
                .filter(|a| a.rule.severity == *level)
                .count();
            if n > 0 {
                sev.push(format!("{n} {level}"));
            }
        }
        writeln!(
            out,
            "{indent}ALERTS         {} ({})",
            r.alerts.len(),
            sev.join(", ")
        )?;
    }
    for (i, line) in created_lines(&r.created).iter().enumerate() {
        let label = if i == 0 {
            "CREATED        "
        } else {
            "               "
        };
        writeln!(out, "{indent}{label}{line}")?;
    }
    if !r.derived.is_empty() || r.derived_omitted > 0 {
        let all: Vec<String> = r
            .derived
            .iter()
            .map(|d| {
                format!(
                    "{} ({} events)",
                    or_dash(d.subject.access_key_id.as_deref()),
                    d.event_count
                )
            })
            .collect();
        writeln!(out, "{indent}DERIVED        {}", all.join(", "))?;
        if r.derived_omitted > 0 {
            writeln!(
                out,
                "{indent}               ({} more not reported)",
                r.derived_omitted
            )?;
        }
    }
    Ok(())
}

fn details(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    if r.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nSOURCE IPS")?;
    let rows: Vec<Vec<String>> = r
        .source_ips
        .iter()
        .map(|i| {
            vec![
                clean(&i.ip, 60),
                i.count.to_string(),
                or_dash(i.first_seen.as_deref()).into(),
                or_dash(i.last_seen.as_deref()).into(),
                new_mark(i.new),
            ]
        })
        .collect();
    grid(
        out,
        &["IP", "COUNT", "FIRST SEEN", "LAST SEEN", "NEW"],
        &rows,
    )?;
    writeln!(out, "\nUSER AGENTS")?;
    let rows: Vec<Vec<String>> = r
        .user_agents
        .iter()
        .map(|u| {
            vec![
                u.count.to_string(),
                or_dash(u.first_seen.as_deref()).into(),
                or_dash(u.last_seen.as_deref()).into(),
                new_mark(u.new),
                clean(&u.user_agent, 120),
            ]
        })
        .collect();
    grid(
        out,
        &["COUNT", "FIRST SEEN", "LAST SEEN", "NEW", "USER AGENT"],
        &rows,
    )?;
    writeln!(out, "\nREGIONS")?;
    let rows: Vec<Vec<String>> = r
        .regions
        .iter()
        .map(|g| {
            vec![
                clean(&g.region, 40),
                g.count.to_string(),
                or_dash(g.first_seen.as_deref()).into(),
                or_dash(g.last_seen.as_deref()).into(),
                new_mark(g.new),
            ]
        })
        .collect();
    grid(
        out,
        &["REGION", "COUNT", "FIRST SEEN", "LAST SEEN", "NEW"],
        &rows,
    )?;
    if r.subject.kind != "access_key" && r.subject.kind != "derived_access_key" {
        writeln!(out, "\nACCESS KEYS USED")?;
        let rows: Vec<Vec<String>> = r
            .access_keys
            .iter()
            .map(|k| {
                vec![
                    clean(&k.id, 40),
                    k.count.to_string(),
                    or_dash(k.first_seen.as_deref()).into(),
                    or_dash(k.last_seen.as_deref()).into(),
                ]
            })
            .collect();
        grid(
            out,
            &["ACCESS KEY", "COUNT", "FIRST SEEN", "LAST SEEN"],
            &rows,
        )?;
        writeln!(out, "\nPRINCIPALS")?;
        let rows: Vec<Vec<String>> = r
            .principals
            .iter()
            .map(|k| vec![k.count.to_string(), clean(&k.id, 160)])
            .collect();
        grid(out, &["COUNT", "PRINCIPAL"], &rows)?;
    }
    writeln!(out, "\nACTIONS")?;
    let rows: Vec<Vec<String>> = r
        .actions
        .iter()
        .map(|a| {
            vec![
                clean(&a.event_source, 60),
                clean(&a.event_name, 80),
                a.count.to_string(),
                a.errors.to_string(),
            ]
        })
        .collect();
    grid(out, &["SERVICE", "API", "COUNT", "ERRORS"], &rows)?;
    if !r.alerts.is_empty() {
        writeln!(out, "\nALERTS")?;
        let rows: Vec<Vec<String>> = r
            .alerts
            .iter()
            .map(|a| {
                vec![
                    a.rule.severity.as_str().to_uppercase(),
                    a.time.clone(),
                    a.count.to_string(),
                    a.rule.id.clone(),
                    clean(&a.summary, 120),
                ]
            })
            .collect();
        grid(
            out,
            &["SEVERITY", "FIRST EVENT", "COUNT", "RULE", "SUMMARY"],
            &rows,
        )?;
    }
    Ok(())
}

fn timeline(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    if r.timeline.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nTIMELINE")?;
    if r.timeline_truncated {
        writeln!(
            out,
            "  ({} entries not kept: the earliest and latest {} are shown)",
            r.timeline_dropped, r.timeline_limit
        )?;
    }
    let rows: Vec<Vec<String>> = r
        .timeline
        .iter()
        .map(|e| {
            vec![
                or_dash(e.time.as_deref()).into(),
                clean(or_dash(e.region.as_deref()), 20),
                clean(or_dash(e.source_ip.as_deref()), 40),
                clean(or_dash(e.access_key_id.as_deref()), 24),
                clean(or_dash(e.error_code.as_deref()), 40),
                clean(
                    &format!(
                        "{}:{}",
                        or_dash(e.event_source.as_deref()).trim_end_matches(".amazonaws.com"),
                        or_dash(e.event_name.as_deref())
                    ),
                    80,
                ),
            ]
        })
        .collect();
    grid(
        out,
        &["TIME", "REGION", "SOURCE IP", "ACCESS KEY", "ERROR", "CALL"],
        &rows,
    )
}

/// The whole report for a person at a terminal.
pub fn write_table(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    summary(out, r, "")?;
    details(out, r)?;
    for d in r.walk().into_iter().skip(1) {
        writeln!(
            out,
            "\n----------------------------------------------------------------"
        )?;
        summary(out, d, "")?;
        details(out, d)?;
        timeline(out, d)?;
    }
    if !r.derived.is_empty() {
        writeln!(
            out,
            "\n----------------------------------------------------------------"
        )?;
    }
    timeline(out, r)
}
