//! The report as Markdown, to paste into an incident ticket: the summary as a list,
//! then tables. Log values are escaped so that no link, image, HTML or table break can
//! form from attacker-controlled text (user agents, names).

use std::io::{self, Write};

use super::{clean, or_dash};
use crate::report::Report;

/// One table cell or list value: Markdown and HTML specials escaped, one line.
pub(crate) fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in clean(s, 300).chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn table(out: &mut dyn Write, headers: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "_none_\n");
    }
    writeln!(out, "| {} |", headers.join(" | "))?;
    writeln!(out, "|{}", "---|".repeat(headers.len()))?;
    for r in rows {
        writeln!(out, "| {} |", r.join(" | "))?;
    }
    writeln!(out)
}

fn yes(b: bool) -> String {
    if b { "**new**" } else { "" }.to_owned()
}

fn opt(s: Option<&str>) -> String {
    md(or_dash(s))
}

fn section(out: &mut dyn Write, r: &Report, level: usize) -> io::Result<()> {
    let h = "#".repeat(level);
    let s = &r.subject;
    let name = s
        .access_key_id
        .as_deref()
        .or(s.ip.as_deref())
        .or(s.principal_arn.as_deref())
        .unwrap_or("?");
    writeln!(out, "{h} Investigation: {}\n", md(name))?;
    let mut facts: Vec<(String, String)> = vec![
        ("Subject".into(), format!("{} {}", md(&s.kind), md(name))),
        ("Key type".into(), opt(s.key_type.as_deref())),
        ("Account".into(), opt(s.account.as_deref())),
        ("Principal".into(), opt(s.principal_arn.as_deref())),
    ];
    if let Some(l) = &r.lineage {
        facts.push((
            "Created by".into(),
            format!(
                "{} via {} at {} (event {})",
                md(&l.parent),
                md(&l.via),
                opt(l.time.as_deref()),
                opt(l.event_id.as_deref())
            ),
        ));
    }
    facts.extend([
        ("First seen".into(), opt(r.first_seen.as_deref())),
        ("Last seen".into(), opt(r.last_seen.as_deref())),
        (
            "Events".into(),
            format!("{} ({} errors)", r.event_count, r.error_count),
        ),
        (
            "Suspicious since".into(),
            match &r.suspicious_since {
                Some(t) => format!("**{}** ({})", md(t), opt(r.suspicious_reason.as_deref())),
                None => "-".into(),
            },
        ),
        ("Alerts".into(), r.alerts.len().to_string()),
    ]);
    for (k, v) in facts {
        writeln!(out, "- **{k}:** {v}")?;
    }
    writeln!(out)?;
    if r.is_empty() {
        return writeln!(out, "No event of this subject in the input.\n");
    }
    let lines = super::table::created_lines(&r.created);
    writeln!(out, "{h}# Blast radius\n")?;
    if lines.is_empty() {
        writeln!(out, "_nothing created_\n")?;
    } else {
        for l in lines {
            writeln!(out, "- {}", md(&l))?;
        }
        writeln!(out)?;
    }
    writeln!(out, "{h}# Source IPs\n")?;
    let rows: Vec<Vec<String>> = r
        .source_ips
        .iter()
        .map(|i| {
            vec![
                md(&i.ip),
                i.count.to_string(),
                opt(i.first_seen.as_deref()),
                opt(i.last_seen.as_deref()),
                yes(i.new),
            ]
        })
        .collect();
    table(
        out,
        &["IP", "Count", "First seen", "Last seen", "New"],
        &rows,
    )?;
    writeln!(out, "{h}# User agents\n")?;
    let rows: Vec<Vec<String>> = r
        .user_agents
        .iter()
        .map(|u| {
            vec![
                md(&u.user_agent),
                u.count.to_string(),
                opt(u.first_seen.as_deref()),
                opt(u.last_seen.as_deref()),
                yes(u.new),
            ]
        })
        .collect();
    table(
        out,
        &["User agent", "Count", "First seen", "Last seen", "New"],
        &rows,
    )?;
    writeln!(out, "{h}# Regions\n")?;
    let rows: Vec<Vec<String>> = r
        .regions
        .iter()
        .map(|g| {
            vec![
                md(&g.region),
                g.count.to_string(),
                opt(g.first_seen.as_deref()),
                opt(g.last_seen.as_deref()),
                yes(g.new),
            ]
        })
        .collect();
    table(
        out,
        &["Region", "Count", "First seen", "Last seen", "New"],
        &rows,
    )?;
    writeln!(out, "{h}# Actions\n")?;
    let rows: Vec<Vec<String>> = r
        .actions
        .iter()
        .map(|a| {
            vec![
                md(&a.event_source),
                md(&a.event_name),
                a.count.to_string(),
                a.errors.to_string(),
            ]
        })
        .collect();
    table(out, &["Service", "API", "Count", "Errors"], &rows)?;
    if !r.alerts.is_empty() {
        writeln!(out, "{h}# Alerts\n")?;
        let rows: Vec<Vec<String>> = r
            .alerts
            .iter()
            .map(|a| {
                vec![
                    a.rule.severity.as_str().into(),
                    md(&a.time),
                    md(&a.rule.id),
                    a.count.to_string(),
                    md(&a.summary),
                ]
            })
            .collect();
        table(
            out,
            &["Severity", "First event", "Rule", "Count", "Summary"],
            &rows,
        )?;
    }
    writeln!(out, "{h}# Timeline\n")?;
    if r.timeline_truncated {
        writeln!(
            out,
            "{} entries not kept: the earliest and latest {} are shown.\n",
            r.timeline_dropped, r.timeline_limit
        )?;
    }
    let rows: Vec<Vec<String>> = r
        .timeline
        .iter()
        .map(|e| {
            vec![
                opt(e.time.as_deref()),
                opt(e.event_source.as_deref()),
                opt(e.event_name.as_deref()),
                opt(e.region.as_deref()),
                opt(e.source_ip.as_deref()),
                opt(e.error_code.as_deref()),
                opt(e.event_id.as_deref()),
            ]
        })
        .collect();
    table(
        out,
        &[
            "Time",
            "Service",
            "API",
            "Region",
            "Source IP",
            "Error",
            "Event id",
        ],
        &rows,
    )?;
    for d in &r.derived {
        section(out, d, (level + 1).min(6))?;
    }
    Ok(())
}

/// The whole report as Markdown.
pub fn write_markdown(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    section(out, r, 1)
}

#[cfg(test)]
mod tests {
    use super::md;

    #[test]
    fn log_text_cannot_form_markdown() {
        assert_eq!(
            md("<script>alert(1)</script>"),
            "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"
        );
        assert_eq!(md("a|b [x](http://e)"), "a\\|b \\[x\\]\\(http://e\\)");
        assert_eq!(md("l1\nl2"), "l1?l2");
    }
}
