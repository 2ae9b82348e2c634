//! The Discord message for a [`Digest`]: one embed listing the folded alerts' top
//! lines, escaped exactly as alert messages are (`discord_embed`): values from log
//! lines (actors, regions) in inline code spans, titles markdown-escaped, `@` broken,
//! nothing pinged but the configured role, every text within Discord's limits.

use serde_json::{json, Value};
use trailguard_core::time::{format_millis, parse_rfc3339_millis};

use super::discord_embed::{limits, render, severity_colour, Style, NONE};
use crate::digest::Digest;

/// Per-line bounds, so that [`crate::digest::DIGEST_LINES`] lines stay far within
/// the description limit.
const LINE_TITLE: usize = 120;
const LINE_ACTOR: usize = 140;
const LINE_REGION: usize = 32;

/// The webhook request body for a digest, pinging `mention_role` when given (as
/// [`discord_payload_for`](super::discord_payload_for) does for an alert).
pub fn discord_digest_payload(digest: &Digest, mention_role: Option<u64>) -> Value {
    let top = digest.top_severity();
    let title = render(
        &format!(
            "{}: {} more alerts, folded into one digest",
            top.as_str().to_ascii_uppercase(),
            digest.count
        ),
        Style::Plain,
        limits::TITLE,
    );
    let mut lines: Vec<String> = digest
        .lines
        .iter()
        .map(|l| {
            format!(
                "**{}** \u{d7}{} {} \u{b7} {} \u{b7} {}",
                l.severity.as_str().to_ascii_uppercase(),
                l.count,
                render(&l.rule.title, Style::Markdown, LINE_TITLE),
                code(l.actor.label(), LINE_ACTOR),
                code(l.region.as_deref(), LINE_REGION),
            )
        })
        .collect();
    if digest.more_lines > 0 {
        lines.push(format!("\u{2026} and {} more lines", digest.more_lines));
    }
    // Whole lines only; the bounds above keep ten of them far below the limit.
    let description = super::whole_lines_within(lines, limits::DESCRIPTION);
    let rules = digest
        .rules
        .iter()
        .take(5)
        .map(|r| format!("{} \u{d7}{}", r.id, r.count))
        .collect::<Vec<_>>()
        .join(", ");
    let time = if digest.last_time.is_empty() || digest.last_time == digest.time {
        digest.time.clone()
    } else {
        format!("{} \u{2192} {}", digest.time, digest.last_time)
    };
    let fields = vec![
        field("Alerts", digest.count.to_string(), true),
        field("Events", digest.events.to_string(), true),
        field(
            "Severity",
            render(
                &digest.severity_summary(),
                Style::Trusted,
                limits::FIELD_VALUE,
            ),
            true,
        ),
        field("Rules", code(Some(&rules), limits::FIELD_VALUE), false),
        field(
            "Time (first \u{2192} last)",
            code(Some(&time), limits::FIELD_VALUE),
            false,
        ),
    ];
    let footer = render(
        &format!(
            "{} \u{b7} more than {} alerts within {}s \u{b7} alert ids in the webhook and JSON Lines output",
            digest.id, digest.policy.max, digest.policy.within_seconds
        ),
        Style::Plain,
        limits::FOOTER,
    );
    let mut embed = json!({
        "title": title,
        "color": severity_colour(top),
        "fields": fields,
        "footer": {"text": footer},
    });
    if !description.trim().is_empty() {
        embed["description"] = Value::String(description);
    }
    if let Some(ms) = parse_rfc3339_millis(&digest.time) {
        embed["timestamp"] = Value::String(format_millis(ms));
    }
    match mention_role {
        Some(role) => json!({
            "content": format!("<@&{role}>"),
            "embeds": [embed],
            "allowed_mentions": {"parse": [], "roles": [role.to_string()]},
        }),
        None => json!({"embeds": [embed], "allowed_mentions": {"parse": []}}),
    }
}

fn code(raw: Option<&str>, max: usize) -> String {
    match raw.filter(|s| !s.trim().is_empty()) {
        Some(s) => render(s, Style::Code, max),
        None => NONE.to_owned(),
    }
}

fn field(name: &str, value: String, inline: bool) -> Value {
    json!({"name": name, "value": value, "inline": inline})
}

#[cfg(test)]
pub(crate) mod tests {
    use trailguard_core::{Alert, Severity};

    use super::super::embed_total_chars;
    use super::*;
    use crate::config::DigestPolicy;
    use crate::digest::{DigestFolder, Outgoing};

    /// A digest of `n` alerts over `distinct` rules/actors, with hostile text.
    pub(crate) fn hostile_digest(n: usize, distinct: usize) -> Digest {
        let mut f = DigestFolder::new([(
            "s".to_owned(),
            DigestPolicy {
                max: 1,
                within_ms: 60_000,
            },
        )]);
        for i in 0..=n {
            let mut a = Alert::example();
            a.id = format!("id{i}");
            a.rule.id = format!("rule-{}", i % distinct);
            a.rule.title = format!(
                "@everyone [click](https://evil.example) **bold** <@&1> `x` {} {}",
                "\u{202E}".repeat(3),
                "T".repeat(300)
            );
            a.rule.severity = Severity::ALL[i % 5];
            a.actor.arn = Some(format!(
                "arn:aws:iam::1:user/`@here`<!channel>{}",
                "A".repeat(500)
            ));
            a.region = Some("us-east-1\n@everyone".into());
            f.push("s", a, 0);
        }
        match f.flush_all().pop() {
            Some(Outgoing::Digest(d)) => d,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn digest_embed_is_escaped_and_within_limits() {
        for (n, distinct) in [(3, 1), (500, 1), (500, 37)] {
            let d = hostile_digest(n, distinct);
            for role in [None, Some(42)] {
                let p = discord_digest_payload(&d, role);
                let e = &p["embeds"][0];
                let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
                assert!(chars(&e["title"]) <= limits::TITLE);
                assert!(chars(&e["description"]) <= limits::DESCRIPTION);
                assert!(chars(&e["footer"]["text"]) <= limits::FOOTER);
                for f in e["fields"].as_array().unwrap() {
                    assert!(
                        (1..=limits::FIELD_VALUE).contains(&chars(&f["value"])),
                        "{f}"
                    );
                }
                assert!(embed_total_chars(&p) <= limits::TOTAL);
                let text = p.to_string();
                // Outside code spans (where Discord renders nothing), `@` is broken.
                let desc = e["description"].as_str().unwrap();
                let outside: String = desc.split('`').step_by(2).collect();
                assert!(!outside.contains("@everyone"), "{desc}");
                assert!(!e["title"].as_str().unwrap().contains("@everyone"));
                assert!(!text.contains("](https"), "no masked link: {text}");
                assert!(!text.contains('\u{202E}'));
                match role {
                    None => assert_eq!(p["allowed_mentions"], json!({"parse": []})),
                    Some(_) => {
                        assert_eq!(p["content"], "<@&42>");
                        assert_eq!(p["allowed_mentions"]["roles"], json!(["42"]));
                    }
                }
            }
            let p = discord_digest_payload(&d, None);
            let e = &p["embeds"][0];
            assert!(e["title"]
                .as_str()
                .unwrap()
                .contains(&format!("{} more alerts", n)));
            let desc = e["description"].as_str().unwrap();
            assert_eq!(
                desc.lines().count(),
                d.lines.len() + usize::from(d.more_lines > 0)
            );
        }
    }
}
