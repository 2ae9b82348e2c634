//! The Slack message for an alert, built by a pure function ([`slack_payload`]).
//!
//! Block Kit: a `header` (severity and rule title), a `section` with the summary, a
//! `section` of `fields` (account, region, key, ARN, IP, event, user agent, time,
//! count), a `context` (rule id and tags, a link to the event in the CloudTrail
//! console, the alert id), and a top-level `text`, which Slack shows in notifications
//! and where blocks cannot be rendered.
//!
//! Everything that comes from a log line (user agents, ARNs with attacker-chosen user
//! names, request parameters quoted in the summary) is treated as hostile:
//!
//! - `&`, `<` and `>` become `&amp;`, `&lt;` and `&gt;` in **every** string, as Slack
//!   asks: those three are its control characters, so after escaping no text can form
//!   a link (`<http://evil|click>`), a mention (`<@U123>`, `<!channel>`, `<!here>`)
//!   or a channel reference.
//! - Untrusted values (field values and the summary) are **inline code spans**, in
//!   which Slack applies no `*bold*`, `_italic_`, `~strike~`, emoji or auto-linking.
//!   A backtick inside becomes the look-alike `ˋ` (U+02CB) so the span cannot be
//!   closed early; the rest is kept as is, so an analyst can copy an ARN or key out of
//!   the message (zero-width characters would corrupt the copy, so none are used).
//! - Every `mrkdwn` text object has `verbatim: true`: Slack then does not turn bare
//!   URLs, `#channel` names or `@here`-style words into links or mentions.
//! - The header, the `text` fallback and the context's rule line (trusted text from
//!   the rule pack) are escaped the same way, and a zero-width space follows every `@`
//!   in them. Control characters become spaces, bidirectional controls U+FFFD.
//! - Limits are Slack's documented ones, counted in characters on the escaped text
//!   (never inside a UTF-8 character or an `&lt;` escape), cut with `…`: header 150,
//!   section text 3,000, 10 fields of 2,000 each, 10 context elements, 50 blocks.

use serde_json::{json, Value};
use trailguard_core::{Alert, Severity};

use super::text::{clean, render_atoms, BACKTICK_LOOKALIKE, ZWSP};

/// Slack's documented Block Kit limits, in characters.
pub mod limits {
    /// A `header` block's `plain_text`.
    pub const HEADER: usize = 150;
    /// A `section` block's `text`, and any text object.
    pub const SECTION_TEXT: usize = 3000;
    pub const FIELDS: usize = 10;
    pub const FIELD_TEXT: usize = 2000;
    pub const CONTEXT_ELEMENTS: usize = 10;
    pub const BLOCKS: usize = 50;
    /// The top-level `text` (Slack truncates messages over 40,000; notifications show
    /// far less).
    pub const FALLBACK_TEXT: usize = 3000;
}

/// Shown for an absent value.
const NONE: &str = "\u{2014}";

/// How a string is made safe for Slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    /// Trusted text (header, fallback, rule line): escaped, `@` followed by a
    /// zero-width space.
    Plain,
    /// An inline code span (untrusted values).
    Code,
}

fn escape_char(c: char, style: Style, out: &mut String) {
    match clean(c) {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '@' if style == Style::Plain => {
            out.push('@');
            out.push(ZWSP);
        }
        '`' if style == Style::Code => out.push(BACKTICK_LOOKALIKE),
        c => out.push(c),
    }
}

/// `raw` made safe in `style`, at most `max` characters, with `…` when cut.
pub(super) fn render(raw: &str, style: Style, max: usize) -> String {
    let (open, close) = match style {
        Style::Code => ("`", "`"),
        Style::Plain => ("", ""),
    };
    render_atoms(raw, max, open, close, |c, out| escape_char(c, style, out))
}

/// A symbol per severity, since blocks have no colour bar.
pub(super) fn severity_mark(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "\u{1F534}", // red circle
        Severity::High => "\u{1F7E0}",     // orange circle
        Severity::Medium => "\u{1F7E1}",   // yellow circle
        Severity::Low => "\u{1F535}",      // blue circle
        Severity::Info => "\u{26AA}",      // white circle
    }
}

pub(super) fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": text, "verbatim": true})
}

pub(super) fn plain_text(text: String) -> Value {
    json!({"type": "plain_text", "text": text, "emoji": false})
}

/// One field: a bold label we wrote, a line break, the value as a code span (or a
/// dash when absent or blank), within the field limit.
fn field(label: &str, value: Option<&str>) -> Value {
    let head = format!("*{label}*\n");
    let room = limits::FIELD_TEXT - head.chars().count();
    let value = match value.filter(|v| !v.trim().is_empty()) {
        Some(v) => render(v, Style::Code, room),
        None => NONE.to_owned(),
    };
    mrkdwn(head + &value)
}

/// The incoming-webhook request body for one alert.
///
/// Pure: the same alert always gives the same JSON, and nothing but the alert goes in
/// (never a webhook URL).
pub fn slack_payload(alert: &Alert) -> Value {
    let severity = alert.rule.severity;
    let title_raw = format!(
        "{} {}: {}",
        severity_mark(severity),
        severity.as_str().to_ascii_uppercase(),
        alert.rule.title
    );
    let header = render(&title_raw, Style::Plain, limits::HEADER);
    let fallback = render(&title_raw, Style::Plain, limits::FALLBACK_TEXT);

    let mut blocks = vec![json!({"type": "header", "text": plain_text(header)})];
    if !alert.summary.trim().is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": mrkdwn(render(&alert.summary, Style::Code, limits::SECTION_TEXT)),
        }));
    }

    let actor = &alert.actor;
    let event = match (alert.event_name.as_deref(), alert.event_source.as_deref()) {
        (Some(n), Some(s)) => Some(format!("{n} ({s})")),
        (Some(x), None) | (None, Some(x)) => Some(x.to_owned()),
        (None, None) => None,
    };
    let span = alert.count > 1 && !alert.last_time.is_empty() && alert.last_time != alert.time;
    let time = if span {
        format!("{} \u{2192} {}", alert.time, alert.last_time)
    } else {
        alert.time.clone()
    };
    let mut fields = vec![
        field("Account", alert.account.as_deref()),
        field("Region", alert.region.as_deref()),
        field("Access key", actor.access_key_id.as_deref()),
        field("Source IP", actor.source_ip.as_deref()),
        field("Actor ARN", actor.arn.as_deref()),
        field("Event", event.as_deref()),
        field("User agent", actor.user_agent.as_deref()),
        field(
            if span {
                "Time (first \u{2192} last)"
            } else {
                "Time"
            },
            Some(&time),
        ),
    ];
    if alert.count > 1 {
        fields.push(mrkdwn(format!("*Events*\n{}", alert.count)));
    }
    fields.truncate(limits::FIELDS);
    blocks.push(json!({"type": "section", "fields": fields}));

    let mut context = Vec::new();
    let rule_line = if alert.rule.tags.is_empty() {
        alert.rule.id.clone()
    } else {
        format!("{} \u{b7} {}", alert.rule.id, alert.rule.tags.join(", "))
    };
    if !rule_line.trim().is_empty() {
        context.push(plain_text(render(
            &rule_line,
            Style::Plain,
            limits::SECTION_TEXT,
        )));
    }
    // `console_url` admits only region-like names and eventID-like ids, so the URL
    // holds none of Slack's control characters nor the `|` of a link label.
    if let Some(url) = alert
        .console_url()
        .filter(|u| !u.contains(['&', '<', '>', '|', ' ']))
    {
        context.push(mrkdwn(format!("<{url}|Open the event in CloudTrail>")));
    }
    if !alert.id.trim().is_empty() {
        context.push(plain_text(render(
            &format!("alert {}", alert.id),
            Style::Plain,
            limits::SECTION_TEXT,
        )));
    }
    context.truncate(limits::CONTEXT_ELEMENTS);
    if !context.is_empty() {
        blocks.push(json!({"type": "context", "elements": context}));
    }
    blocks.truncate(limits::BLOCKS);

    json!({
        "text": fallback,
        "blocks": blocks,
        // The console link would unfurl into a sign-in page.
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

#[cfg(test)]
mod tests {
    use super::super::text::ELLIPSIS;
    use super::*;
    use trailguard_core::Actor;

    fn chars(v: &Value) -> usize {
        v.as_str().map_or(0, |s| s.chars().count())
    }

    /// Every documented limit holds; every text object is non-empty; mrkdwn is verbatim.
    fn assert_within_limits(p: &Value) {
        assert!(chars(&p["text"]) >= 1 && chars(&p["text"]) <= limits::FALLBACK_TEXT);
        let blocks = p["blocks"].as_array().unwrap();
        assert!(!blocks.is_empty() && blocks.len() <= limits::BLOCKS);
        let check_text = |t: &Value, max: usize| {
            let n = chars(&t["text"]);
            assert!((1..=max).contains(&n), "{n} of {max}: {t}");
            match t["type"].as_str().unwrap() {
                "mrkdwn" => assert_eq!(t["verbatim"], true),
                "plain_text" => {}
                other => panic!("text type {other}"),
            }
        };
        for b in blocks {
            match b["type"].as_str().unwrap() {
                "header" => {
                    assert_eq!(b["text"]["type"], "plain_text");
                    check_text(&b["text"], limits::HEADER);
                }
                "section" => {
                    if let Some(t) = b.get("text") {
                        check_text(t, limits::SECTION_TEXT);
                    }
                    if let Some(fs) = b.get("fields") {
                        let fs = fs.as_array().unwrap();
                        assert!(!fs.is_empty() && fs.len() <= limits::FIELDS);
                        for f in fs {
                            check_text(f, limits::FIELD_TEXT);
                        }
                    }
                }
                "context" => {
                    let es = b["elements"].as_array().unwrap();
                    assert!(!es.is_empty() && es.len() <= limits::CONTEXT_ELEMENTS);
                    for e in es {
                        check_text(e, limits::SECTION_TEXT);
                    }
                }
                other => panic!("block type {other}"),
            }
        }
    }

    fn field_text<'a>(p: &'a Value, label: &str) -> Option<&'a str> {
        let head = format!("*{label}*\n");
        p["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b.get("fields"))
            .flat_map(|fs| fs.as_array().unwrap())
            .filter_map(|f| f["text"].as_str())
            .find_map(|t| t.strip_prefix(head.as_str()))
    }

    fn block<'a>(p: &'a Value, kind: &str) -> Vec<&'a Value> {
        p["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == kind)
            .collect()
    }

    #[test]
    fn payload_shape() {
        let a = Alert::example();
        let p = slack_payload(&a);
        assert_within_limits(&p);
        assert_eq!(
            p["text"],
            "\u{1F534} CRITICAL: Access key created from an unusual IP"
        );
        let header = block(&p, "header");
        assert_eq!(header.len(), 1);
        assert_eq!(header[0]["text"]["text"], p["text"]);
        let sections = block(&p, "section");
        assert_eq!(
            sections[0]["text"]["text"],
            "`admin created a new access key from 203.0.113.7`"
        );
        assert_eq!(field_text(&p, "Account"), Some("`123456789012`"));
        assert_eq!(field_text(&p, "Access key"), Some("`AKIAIOSFODNN7EXAMPLE`"));
        assert_eq!(
            field_text(&p, "Actor ARN"),
            Some("`arn:aws:iam::123456789012:user/admin`")
        );
        assert_eq!(
            field_text(&p, "Event"),
            Some("`CreateAccessKey (iam.amazonaws.com)`")
        );
        assert_eq!(
            field_text(&p, "Time (first \u{2192} last)"),
            Some("`2024-05-01T12:00:00Z \u{2192} 2024-05-01T12:05:00Z`")
        );
        assert_eq!(field_text(&p, "Events"), Some("3"));
        let context = block(&p, "context");
        let elements = context[0]["elements"].as_array().unwrap();
        assert_eq!(
            elements[0]["text"],
            "aws-iam-access-key-created-by-unusual-ip \u{b7} attack.persistence, attack.t1098.001"
        );
        assert_eq!(
            elements[1]["text"],
            format!(
                "<{}|Open the event in CloudTrail>",
                a.console_url().unwrap()
            )
        );
        assert_eq!(elements[2]["text"], "alert a1b2c3");
        assert_eq!(p["unfurl_links"], false);
    }

    #[test]
    fn absent_values_and_single_events() {
        let mut a = Alert::example();
        a.count = 1;
        a.last_time = a.time.clone();
        a.actor = Actor::default();
        a.region = None;
        a.summary = " ".into();
        a.rule.tags.clear();
        let p = slack_payload(&a);
        assert_within_limits(&p);
        assert_eq!(field_text(&p, "User agent"), Some(NONE));
        assert_eq!(field_text(&p, "Time"), Some("`2024-05-01T12:00:00Z`"));
        assert_eq!(field_text(&p, "Events"), None);
        // No summary section; no console link without a region.
        assert_eq!(block(&p, "section").len(), 1);
        let elements = block(&p, "context")[0]["elements"].as_array().unwrap();
        assert_eq!(elements.len(), 2);
        assert!(!p.to_string().contains("console.aws"));
    }

    #[test]
    fn hostile_text_cannot_link_mention_or_format() {
        let mut a = Alert::example();
        a.actor.user_agent = Some(
            "<!channel> <!here> <@U123> *bold* _it_ ~s~ `code` <http://x|y> & @channel".into(),
        );
        a.actor.arn = Some("arn:aws:iam::123456789012:user/<!everyone>".into());
        a.summary = "user <@U123|boss> said <https://evil.example|click> *now* ```x```".into();
        a.rule.title = "Title <!channel> @here".into();
        let p = slack_payload(&a);
        assert_within_limits(&p);
        let all = p.to_string();
        for raw in ["<!", "<@", "<http://x", "<https://evil", "|y>", "|click>"] {
            assert!(!all.contains(raw), "`{raw}` survived: {all}");
        }
        assert_eq!(
            field_text(&p, "User agent"),
            Some(
                "`&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; *bold* _it_ ~s~ \u{2CB}code\u{2CB} \
                 &lt;http://x|y&gt; &amp; @channel`"
            )
        );
        let summary = block(&p, "section")[0]["text"]["text"].as_str().unwrap();
        assert!(summary.starts_with('`') && summary.ends_with('`'));
        assert!(!summary[1..summary.len() - 1].contains('`'), "{summary}");
        assert_eq!(
            p["text"],
            "\u{1F534} CRITICAL: Title &lt;!channel&gt; @\u{200B}here"
        );
    }

    #[test]
    fn huge_hostile_values_are_cut_to_the_limits() {
        let mut a = Alert::example();
        let hostile = "<!channel> *bold* <http://x|y> ";
        a.actor.user_agent = Some(hostile.repeat(100_000 / hostile.len()));
        a.actor.arn = Some(format!("arn:aws:iam::1:user/{}", "&".repeat(5000)));
        a.summary = "<".repeat(50_000);
        a.rule.title = "T".repeat(500);
        a.rule.tags = (0..2000).map(|i| format!("tag.{i}")).collect();
        let p = slack_payload(&a);
        assert_within_limits(&p);
        let ua = field_text(&p, "User agent").unwrap();
        assert!(ua.ends_with("\u{2026}`"), "{ua}");
        let n = ua.chars().count() + "*User agent*\n".len();
        // Cut between escapes (`&lt;` is one atom of 4): at most 3 short of the limit.
        assert!(
            (limits::FIELD_TEXT - 3..=limits::FIELD_TEXT).contains(&n),
            "{n}"
        );
        // Cut between escapes, never inside one.
        let arn = field_text(&p, "Actor ARN").unwrap();
        let body = arn
            .trim_start_matches("`arn:aws:iam::1:user/")
            .trim_end_matches("\u{2026}`");
        assert_eq!(body.len() % 5, 0);
        assert!(body.as_bytes().chunks(5).all(|c| c == b"&amp;"));
        let summary = block(&p, "section")[0]["text"]["text"].as_str().unwrap();
        assert!(summary.trim_end_matches("\u{2026}`").ends_with("&lt;"));
        let header = block(&p, "header")[0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), limits::HEADER);
        assert!(header.ends_with(ELLIPSIS));
    }

    #[test]
    fn multibyte_text_is_cut_between_characters() {
        let mut a = Alert::example();
        a.actor.user_agent = Some("😀漢é\u{301}".repeat(2_000));
        a.rule.title = "🔥".repeat(400);
        let p = slack_payload(&a);
        assert_within_limits(&p);
        let header = block(&p, "header")[0]["text"]["text"].as_str().unwrap();
        assert!(header.trim_end_matches(ELLIPSIS).ends_with('🔥'));
        let bytes = serde_json::to_vec(&p).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), p);
    }

    #[test]
    fn control_and_bidi_characters_are_replaced() {
        let mut a = Alert::example();
        a.actor.user_agent = Some("a\nb\u{202E}c\u{0}".into());
        let p = slack_payload(&a);
        assert_eq!(field_text(&p, "User agent"), Some("`a b\u{FFFD}c `"));
    }

    #[test]
    fn payload_is_deterministic_and_has_no_webhook() {
        let a = Alert::example();
        assert_eq!(slack_payload(&a), slack_payload(&a));
        assert!(!slack_payload(&a).to_string().contains("hooks.slack.com"));
    }
}
