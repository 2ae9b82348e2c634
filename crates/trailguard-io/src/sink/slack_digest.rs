//! The Slack message for a [`Digest`]: Block Kit, escaped exactly as alert messages
//! are (`slack_blocks`): `&`, `<`, `>` escaped everywhere, values from log lines in
//! inline code spans, `verbatim: true`, every text within Slack's limits.

use serde_json::{json, Value};

use super::slack_blocks::{limits, mrkdwn, plain_text, render, severity_mark, Style};
use crate::digest::Digest;

const LINE_TITLE: usize = 90;
const LINE_ACTOR: usize = 110;
const LINE_REGION: usize = 32;

/// The incoming-webhook request body for a digest.
pub fn slack_digest_payload(digest: &Digest) -> Value {
    let top = digest.top_severity();
    let title = format!(
        "{} {}: {} more alerts, folded into one digest",
        severity_mark(top),
        top.as_str().to_ascii_uppercase(),
        digest.count
    );
    let code = |v: Option<&str>, max: usize| match v.filter(|s| !s.trim().is_empty()) {
        Some(s) => render(s, Style::Code, max),
        None => "\u{2014}".to_owned(),
    };
    let mut lines: Vec<String> = digest
        .lines
        .iter()
        .map(|l| {
            format!(
                "*{}* \u{d7}{} {} \u{b7} {} \u{b7} {}",
                l.severity.as_str().to_ascii_uppercase(),
                l.count,
                render(&l.rule.title, Style::Plain, LINE_TITLE),
                code(l.actor.label(), LINE_ACTOR),
                code(l.region.as_deref(), LINE_REGION),
            )
        })
        .collect();
    if digest.more_lines > 0 {
        lines.push(format!("\u{2026} and {} more lines", digest.more_lines));
    }
    // Whole lines only; the bounds above keep ten of them far below the limit.
    let text = super::whole_lines_within(lines, limits::SECTION_TEXT);
    let time = if digest.last_time.is_empty() || digest.last_time == digest.time {
        digest.time.clone()
    } else {
        format!("{} \u{2192} {}", digest.time, digest.last_time)
    };
    let rules = digest
        .rules
        .iter()
        .take(5)
        .map(|r| format!("{} \u{d7}{}", r.id, r.count))
        .collect::<Vec<_>>()
        .join(", ");
    let field = |label: &str, value: String| mrkdwn(format!("*{label}*\n{value}"));
    let room = limits::FIELD_TEXT - 32;
    let mut blocks = vec![
        json!({"type": "header", "text": plain_text(render(&title, Style::Plain, limits::HEADER))}),
    ];
    if !text.is_empty() {
        blocks.push(json!({"type": "section", "text": mrkdwn(text)}));
    }
    blocks.push(json!({"type": "section", "fields": [
        field("Alerts", digest.count.to_string()),
        field("Events", digest.events.to_string()),
        field("Severity", render(&digest.severity_summary(), Style::Plain, room)),
        field("Rules", code(Some(&rules), room)),
        field("Time (first \u{2192} last)", code(Some(&time), room)),
    ]}));
    blocks.push(json!({"type": "context", "elements": [plain_text(render(
        &format!(
            "{} \u{b7} more than {} alerts within {}s \u{b7} alert ids in the webhook and JSON Lines output",
            digest.id, digest.policy.max, digest.policy.within_seconds
        ),
        Style::Plain,
        limits::SECTION_TEXT,
    ))]}));
    json!({
        "text": render(&title, Style::Plain, limits::FALLBACK_TEXT),
        "blocks": blocks,
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

#[cfg(test)]
mod tests {
    use super::super::discord_digest::tests::hostile_digest;
    use super::*;

    #[test]
    fn digest_blocks_are_escaped_and_within_limits() {
        for (n, distinct) in [(3, 1), (500, 37)] {
            let d = hostile_digest(n, distinct);
            let p = slack_digest_payload(&d);
            let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
            assert!((1..=limits::FALLBACK_TEXT).contains(&chars(&p["text"])));
            let blocks = p["blocks"].as_array().unwrap();
            assert!(blocks.len() <= limits::BLOCKS);
            assert!(chars(&blocks[0]["text"]["text"]) <= limits::HEADER);
            assert!((1..=limits::SECTION_TEXT).contains(&chars(&blocks[1]["text"]["text"])));
            let fields = blocks[2]["fields"].as_array().unwrap();
            assert!(fields.len() <= limits::FIELDS);
            for f in fields {
                assert!((1..=limits::FIELD_TEXT).contains(&chars(&f["text"])));
                assert_eq!(f["verbatim"], true);
            }
            let text = p.to_string();
            // `@everyone` as text pings no one in Slack; only `<!everyone>` would.
            for bad in ["<!channel>", "<@&1>", "<https", "<!everyone>", "\u{202E}"] {
                assert!(!text.contains(bad), "{bad} in {text}");
            }
            assert!(text.contains("&lt;!channel&gt;"));
        }
    }
}
