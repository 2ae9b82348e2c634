//! The Discord message for an alert, built by a pure function ([`discord_payload`]).
//!
//! Everything that comes from a log line (user agents, ARNs with attacker-chosen user
//! names, summaries quoting them) is treated as hostile:
//!
//! - `allowed_mentions: {"parse": []}` is always set, so nothing in the message can
//!   ping `@everyone`, `@here`, a role or a user (embeds do not ping anyway).
//! - Field values are inline code spans (`` `value` ``): Discord renders no markdown,
//!   no mentions and no links inside them. Backticks inside are replaced with the
//!   look-alike `ˋ` (U+02CB) so the span cannot be closed early, and control characters
//!   become spaces. The text is otherwise kept byte-exact, so an analyst can copy an
//!   ARN or access key out of the message.
//! - The description (the summary, which may quote attacker text) is markdown-escaped:
//!   every markdown, mention, link and emoji character (`\ * _ ~ ` | > < # - [ ] ( ) :`)
//!   gets a backslash, which stops masked links (`[text](url)`) and bare-URL autolinks
//!   (`:`), and a zero-width space follows every `@`.
//! - The title (rule title, from the rule pack) and the footer (rule id and tags) get no
//!   backslashes, because Discord clients do not agree on rendering escapes there and
//!   would show them; they never render mentions or links, and a zero-width space still
//!   follows every `@`.
//! - Every string is truncated to Discord's limits by characters (never inside a
//!   UTF-8 character or an escape sequence) with an ellipsis `…`, and the embed as a
//!   whole is kept within the 6,000-character total.

use serde_json::{json, Value};
use trailguard_core::time::{format_millis, parse_rfc3339_millis};
use trailguard_core::{Alert, Severity};

use super::text::{clean, render_atoms, BACKTICK_LOOKALIKE, ZWSP};

/// Discord's documented embed limits, in characters.
pub mod limits {
    pub const TITLE: usize = 256;
    pub const DESCRIPTION: usize = 4096;
    pub const FIELDS: usize = 25;
    pub const FIELD_NAME: usize = 256;
    pub const FIELD_VALUE: usize = 1024;
    pub const FOOTER: usize = 2048;
    /// Across title, description, field names and values, footer and author name of
    /// every embed in a message.
    pub const TOTAL: usize = 6000;
    pub const EMBEDS: usize = 10;
}

/// Shown for an absent value.
pub(super) const NONE: &str = "\u{2014}";
/// When the embed is over the total limit, no shrinkable text goes below this.
const SHRINK_FLOOR: usize = 64;

/// The embed colour for a severity: critical red, high orange, medium yellow, low
/// blue, info grey.
pub fn severity_colour(severity: Severity) -> u32 {
    match severity {
        Severity::Critical => 0xE0_2B_2B,
        Severity::High => 0xF5_7C_00,
        Severity::Medium => 0xF4_C4_30,
        Severity::Low => 0x1E_88_E5,
        Severity::Info => 0x9E_9E_9E,
    }
}

/// How a string is made safe for Discord.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    /// Title and footer: control characters become spaces, `@` gets a zero-width space.
    Plain,
    /// Rendered as markdown (title, description): escaped.
    Markdown,
    /// An inline code span (field values).
    Code,
    /// Text we wrote ourselves (field names, numbers): kept as is.
    Trusted,
}

/// The replacement for one character: an atom that truncation never splits.
fn escape_char(c: char, style: Style, out: &mut String) {
    out.clear();
    let c = if style == Style::Trusted { c } else { clean(c) };
    match style {
        Style::Trusted => out.push(c),
        Style::Plain => {
            out.push(c);
            if c == '@' {
                out.push(ZWSP);
            }
        }
        Style::Code => out.push(if c == '`' { BACKTICK_LOOKALIKE } else { c }),
        Style::Markdown => match c {
            '@' => {
                out.push('@');
                out.push(ZWSP);
            }
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '#' | '-' | '[' | ']' | '(' | ')'
            | ':' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        },
    }
}

/// `raw` made safe in `style`, at most `max` characters, with `…` when cut.
pub(super) fn render(raw: &str, style: Style, max: usize) -> String {
    let (open, close) = if style == Style::Code {
        ("`", "`")
    } else {
        ("", "")
    };
    render_atoms(raw, max, open, close, |c, out| escape_char(c, style, out))
}

/// One piece of counted text: kept raw so that it can be re-rendered shorter.
struct Part {
    raw: String,
    style: Style,
    shown: String,
    shrinkable: bool,
}

impl Part {
    fn new(raw: impl Into<String>, style: Style, max: usize, shrinkable: bool) -> Self {
        let raw = raw.into();
        let shown = render(&raw, style, max);
        Part {
            raw,
            style,
            shown,
            shrinkable,
        }
    }

    /// A field value: an inline code span, or a dash when absent or blank.
    fn code_or_none(raw: Option<&str>) -> Self {
        match raw.filter(|s| !s.trim().is_empty()) {
            Some(s) => Part::new(s, Style::Code, limits::FIELD_VALUE, true),
            None => Part::new(NONE, Style::Trusted, limits::FIELD_VALUE, false),
        }
    }

    fn len(&self) -> usize {
        self.shown.chars().count()
    }
}

struct Field {
    name: Part,
    value: Part,
    inline: bool,
}

fn field(name: &str, value: Part, inline: bool) -> Field {
    Field {
        name: Part::new(name, Style::Trusted, limits::FIELD_NAME, false),
        value,
        inline,
    }
}

/// The webhook request body for one alert: one message with one embed, pinging no one.
///
/// Pure: the same alert always gives the same JSON, and nothing but the alert goes in
/// (never a webhook URL).
pub fn discord_payload(alert: &Alert) -> Value {
    discord_payload_for(alert, None)
}

/// [`discord_payload`], pinging one role when `mention_role` is given: the message
/// `content` is `<@&ROLE>` and `allowed_mentions` is `{"parse": [], "roles": ["ROLE"]}`,
/// so that role, and nothing else (never `@everyone`, `@here`, another role or a
/// user named in the alert), can be pinged. The role must be mentionable, or the
/// webhook's owner allowed to mention it, for Discord to notify its members.
pub fn discord_payload_for(alert: &Alert, mention_role: Option<u64>) -> Value {
    let severity = alert.rule.severity;
    let title = Part::new(
        format!(
            "{}: {}",
            severity.as_str().to_ascii_uppercase(),
            alert.rule.title
        ),
        Style::Plain,
        limits::TITLE,
        false,
    );
    let description = Part::new(
        alert.summary.as_str(),
        Style::Markdown,
        limits::DESCRIPTION,
        true,
    );

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
        field(
            "Account",
            Part::code_or_none(alert.account.as_deref()),
            true,
        ),
        field("Region", Part::code_or_none(alert.region.as_deref()), true),
        field(
            "Access key",
            Part::code_or_none(actor.access_key_id.as_deref()),
            true,
        ),
        field("Actor ARN", Part::code_or_none(actor.arn.as_deref()), false),
        field(
            "Source IP",
            Part::code_or_none(actor.source_ip.as_deref()),
            true,
        ),
        field("Event", Part::code_or_none(event.as_deref()), true),
        field(
            "User agent",
            Part::code_or_none(actor.user_agent.as_deref()),
            false,
        ),
        field(
            if span {
                "Time (first \u{2192} last)"
            } else {
                "Time"
            },
            Part::code_or_none(Some(&time)),
            false,
        ),
    ];
    if alert.count > 1 {
        fields.push(field(
            "Count",
            Part::new(
                alert.count.to_string(),
                Style::Trusted,
                limits::FIELD_VALUE,
                false,
            ),
            true,
        ));
    }
    fields.truncate(limits::FIELDS);

    let footer_raw = if alert.rule.tags.is_empty() {
        alert.rule.id.clone()
    } else {
        format!("{} \u{b7} {}", alert.rule.id, alert.rule.tags.join(", "))
    };
    let footer = Part::new(footer_raw, Style::Plain, limits::FOOTER, true);

    // Keep the whole embed within the total: shrink the longest shrinkable text first.
    let (mut title, mut description, mut footer) = (title, description, footer);
    let mut parts: Vec<&mut Part> = vec![];
    parts.push(&mut title);
    parts.push(&mut description);
    parts.push(&mut footer);
    for f in &mut fields {
        parts.push(&mut f.name);
        parts.push(&mut f.value);
    }
    shrink_to_total(&mut parts, limits::TOTAL);

    let fields_json: Vec<Value> = fields
        .iter()
        .map(|f| json!({"name": f.name.shown, "value": f.value.shown, "inline": f.inline}))
        .collect();
    let mut embed = json!({
        "title": title.shown,
        "color": severity_colour(severity),
        "fields": fields_json,
    });
    // Discord rejects empty strings where text is expected: leave such keys out.
    if !description.shown.trim().is_empty() {
        embed["description"] = Value::String(description.shown);
    }
    if !footer.shown.trim().is_empty() {
        embed["footer"] = json!({"text": footer.shown});
    }
    if let Some(url) = alert.console_url() {
        embed["url"] = Value::String(url);
    }
    // Discord rejects the whole message for a timestamp it cannot parse: send only a
    // timestamp we have parsed and re-formatted ourselves.
    if let Some(ms) = parse_rfc3339_millis(&alert.time) {
        embed["timestamp"] = Value::String(format_millis(ms));
    }
    match mention_role {
        Some(role) => json!({
            "content": format!("<@&{role}>"),
            "embeds": [embed],
            "allowed_mentions": {"parse": [], "roles": [role.to_string()]},
        }),
        None => json!({
            "embeds": [embed],
            "allowed_mentions": {"parse": []},
        }),
    }
}

/// Re-render the longest shrinkable parts shorter until the sum of lengths fits.
fn shrink_to_total(parts: &mut [&mut Part], total: usize) {
    loop {
        let sum: usize = parts.iter().map(|p| p.len()).sum();
        if sum <= total {
            return;
        }
        let excess = sum - total;
        let Some(longest) = parts
            .iter_mut()
            .filter(|p| p.shrinkable && p.len() > SHRINK_FLOOR)
            .max_by_key(|p| p.len())
        else {
            return; // cannot happen with the fields above; never loop forever
        };
        let max = longest.len().saturating_sub(excess).max(SHRINK_FLOOR);
        longest.shown = render(&longest.raw, longest.style, max);
    }
}

/// The characters Discord counts toward the 6,000 total, over every embed of a payload.
pub fn embed_total_chars(payload: &Value) -> usize {
    let n = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let mut total = 0;
    for e in payload["embeds"].as_array().into_iter().flatten() {
        total += n(&e["title"]) + n(&e["description"]) + n(&e["footer"]["text"]);
        total += n(&e["author"]["name"]);
        for f in e["fields"].as_array().into_iter().flatten() {
            total += n(&f["name"]) + n(&f["value"]);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::super::text::ELLIPSIS;
    use super::*;
    use trailguard_core::Actor;

    pub(crate) fn sample() -> Alert {
        Alert::example()
    }

    fn fields(p: &Value) -> &Vec<Value> {
        p["embeds"][0]["fields"].as_array().unwrap()
    }

    fn field_value<'a>(p: &'a Value, name: &str) -> Option<&'a str> {
        fields(p)
            .iter()
            .find(|f| f["name"].as_str().unwrap().starts_with(name))
            .map(|f| f["value"].as_str().unwrap())
    }

    fn assert_within_limits(p: &Value) {
        let embeds = p["embeds"].as_array().unwrap();
        assert!(!embeds.is_empty() && embeds.len() <= limits::EMBEDS);
        let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        for e in embeds {
            assert!(chars(&e["title"]) <= limits::TITLE);
            assert!(chars(&e["description"]) <= limits::DESCRIPTION);
            assert!(chars(&e["footer"]["text"]) <= limits::FOOTER);
            let fs = e["fields"].as_array().unwrap();
            assert!(fs.len() <= limits::FIELDS);
            for f in fs {
                assert!(chars(&f["name"]) <= limits::FIELD_NAME);
                let v = chars(&f["value"]);
                assert!((1..=limits::FIELD_VALUE).contains(&v), "{v}");
            }
        }
        assert!(
            embed_total_chars(p) <= limits::TOTAL,
            "{}",
            embed_total_chars(p)
        );
        assert_eq!(p["allowed_mentions"], json!({"parse": []}));
    }

    #[test]
    fn payload_shape() {
        let a = sample();
        let p = discord_payload(&a);
        assert_within_limits(&p);
        let e = &p["embeds"][0];
        assert_eq!(
            e["title"],
            "CRITICAL: Access key created from an unusual IP"
        );
        assert_eq!(
            e["description"],
            "admin created a new access key from 203.0.113.7"
        );
        assert_eq!(e["color"], 0xE02B2B);
        assert_eq!(e["url"], a.console_url().unwrap());
        assert_eq!(e["timestamp"], "2024-05-01T12:00:00Z");
        assert_eq!(
            e["footer"]["text"],
            "aws-iam-access-key-created-by-unusual-ip \u{b7} attack.persistence, attack.t1098.001"
        );
        assert_eq!(field_value(&p, "Account"), Some("`123456789012`"));
        assert_eq!(field_value(&p, "Region"), Some("`us-east-1`"));
        assert_eq!(
            field_value(&p, "Actor ARN"),
            Some("`arn:aws:iam::123456789012:user/admin`")
        );
        assert_eq!(
            field_value(&p, "Access key"),
            Some("`AKIAIOSFODNN7EXAMPLE`")
        );
        assert_eq!(field_value(&p, "Source IP"), Some("`203.0.113.7`"));
        assert_eq!(
            field_value(&p, "User agent"),
            Some("`aws-cli/2.15.0 Python/3.11`")
        );
        assert_eq!(
            field_value(&p, "Event"),
            Some("`CreateAccessKey (iam.amazonaws.com)`")
        );
        assert_eq!(
            field_value(&p, "Time"),
            Some("`2024-05-01T12:00:00Z \u{2192} 2024-05-01T12:05:00Z`")
        );
        assert_eq!(field_value(&p, "Count"), Some("3"));
        // Only the keys Discord knows; no content, so nothing outside the embed.
        let mut keys: Vec<_> = p.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["allowed_mentions", "embeds"]);
    }

    #[test]
    fn single_event_alert_has_no_count_or_last_time() {
        let mut a = sample();
        a.count = 1;
        a.last_time = a.time.clone();
        a.actor = Actor::default();
        a.region = None;
        a.time = "not a time".into();
        a.last_time = "also not".into();
        let p = discord_payload(&a);
        assert_within_limits(&p);
        assert!(field_value(&p, "Count").is_none());
        assert_eq!(field_value(&p, "Time"), Some("`not a time`"));
        assert_eq!(field_value(&p, "User agent"), Some(NONE));
        assert_eq!(field_value(&p, "Region"), Some(NONE));
        let e = &p["embeds"][0];
        assert!(e.get("url").is_none(), "no console link without a region");
        assert!(e.get("timestamp").is_none(), "unparsable time is not sent");
    }

    #[test]
    fn colours_by_severity() {
        let mut a = sample();
        let mut seen = vec![];
        for s in Severity::ALL {
            a.rule.severity = s;
            let p = discord_payload(&a);
            seen.push(p["embeds"][0]["color"].as_u64().unwrap());
            assert!(p["embeds"][0]["title"]
                .as_str()
                .unwrap()
                .starts_with(&s.as_str().to_ascii_uppercase()));
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 5);
    }

    #[test]
    fn huge_user_agent_and_long_title_are_truncated() {
        let mut a = sample();
        a.actor.user_agent = Some("A".repeat(10_000));
        a.rule.title = "T".repeat(300);
        a.summary = "S".repeat(10_000);
        a.rule.tags = (0..500).map(|i| format!("tag.{i}")).collect();
        a.actor.arn = Some(format!(
            "arn:aws:iam::123456789012:user/{}",
            "u".repeat(2000)
        ));
        let p = discord_payload(&a);
        assert_within_limits(&p);
        let e = &p["embeds"][0];
        let title = e["title"].as_str().unwrap();
        assert_eq!(title.chars().count(), limits::TITLE);
        assert!(title.ends_with(ELLIPSIS));
        let ua = field_value(&p, "User agent").unwrap();
        assert!(ua.starts_with("`AAAA") && ua.ends_with("\u{2026}`"), "{ua}");
        assert!(e["description"].as_str().unwrap().ends_with(ELLIPSIS));
        // Short values survive the shrinking untouched.
        assert_eq!(field_value(&p, "Source IP"), Some("`203.0.113.7`"));
        assert_eq!(
            field_value(&p, "Access key"),
            Some("`AKIAIOSFODNN7EXAMPLE`")
        );
    }

    #[test]
    fn field_value_alone_is_capped_at_1024() {
        let mut a = sample();
        a.actor.user_agent = Some("x".repeat(1500));
        let p = discord_payload(&a);
        assert_within_limits(&p);
        let ua = field_value(&p, "User agent").unwrap();
        assert_eq!(ua.chars().count(), limits::FIELD_VALUE);
    }

    #[test]
    fn multibyte_truncation_keeps_whole_characters() {
        let mut a = sample();
        // 4-byte, 3-byte and 2-byte characters, and a combining sequence.
        a.actor.user_agent = Some("😀漢é\u{301}".repeat(2_000));
        a.rule.title = "🔥".repeat(400);
        a.summary = "日本語".repeat(3_000);
        let p = discord_payload(&a);
        assert_within_limits(&p);
        // serde_json::Value holds only valid strings; check the cut points anyway.
        let ua = field_value(&p, "User agent").unwrap();
        assert!(ua.ends_with("\u{2026}`"));
        let body = ua.trim_start_matches('`').trim_end_matches("\u{2026}`");
        assert!(body.starts_with("😀漢"));
        let title = p["embeds"][0]["title"].as_str().unwrap();
        assert_eq!(title.chars().count(), limits::TITLE);
        assert!(title.trim_end_matches(ELLIPSIS).ends_with('🔥'));
        // Round trip through bytes is valid UTF-8.
        let bytes = serde_json::to_vec(&p).unwrap();
        let back: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn truncation_never_splits_an_escape() {
        // Every character escapes to two: the cut must land between pairs.
        for n in [1, 2, 3, 254, 255, 256, 257, 300] {
            let s = render(&"*".repeat(n), Style::Markdown, limits::TITLE);
            assert!(s.chars().count() <= limits::TITLE);
            let body = s.trim_end_matches(ELLIPSIS);
            assert_eq!(body.len() % 2, 0, "{n}: {s}");
            assert!(body
                .chars()
                .collect::<Vec<_>>()
                .chunks(2)
                .all(|c| c == ['\\', '*']));
        }
        let s = render(&"@".repeat(500), Style::Markdown, 10);
        assert_eq!(s, "@\u{200B}@\u{200B}@\u{200B}@\u{200B}\u{2026}");
    }

    #[test]
    fn mentions_and_markdown_are_neutralised() {
        let mut a = sample();
        a.actor.user_agent =
            Some("@everyone <@&123> `x` [click](https://evil.example) **b**".into());
        a.actor.arn = Some("arn:aws:iam::123456789012:user/@here".into());
        a.summary = "user @everyone <@&123> <@456> <#789> [click](https://evil.example) **bold** `c` > q https://evil.example".into();
        a.rule.title = "@here ||spoiler|| __u__".into();
        let p = discord_payload(&a);
        assert_within_limits(&p);
        assert_eq!(p["allowed_mentions"]["parse"], json!([]));
        assert!(p.get("content").is_none());

        // Field values: one inline code span, no backtick inside to close it early.
        let ua = field_value(&p, "User agent").unwrap();
        assert_eq!(
            ua,
            "`@everyone <@&123> \u{2CB}x\u{2CB} [click](https://evil.example) **b**`"
        );
        for f in fields(&p) {
            let v = f["value"].as_str().unwrap();
            if let Some(inner) = v.strip_prefix('`') {
                let inner = inner.strip_suffix('`').expect("closed span");
                assert!(!inner.contains('`'), "{v}");
            }
        }

        // Free text: no raw mention, masked link or markdown survives.
        let e = &p["embeds"][0];
        let text = e["description"].as_str().unwrap();
        assert!(
            !text.contains("@everyone") && !text.contains("@here"),
            "{text}"
        );
        // Every `@` is followed by a zero-width space: no `<@&123>` or `<@456>` parses.
        assert!(text
            .match_indices('@')
            .all(|(i, _)| text[i + 1..].starts_with(ZWSP)));
        assert!(!text.contains("](") && !text.contains("https://"), "{text}");
        assert!(!text.contains("**") && !text.contains("||") && !text.contains("__"));
        assert_eq!(e["title"], "CRITICAL: @\u{200B}here ||spoiler|| __u__");
        assert_eq!(
            e["description"],
            "user @\u{200B}everyone \\<@\u{200B}&123\\> \\<@\u{200B}456\\> \\<\\#789\\> \
             \\[click\\]\\(https\\://evil.example\\) \\*\\*bold\\*\\* \\`c\\` \\> q https\\://evil.example"
        );
    }

    #[test]
    fn role_mention_pings_that_role_only() {
        let mut a = sample();
        a.summary = "@everyone @here <@&999> <@123> hi".into();
        a.actor.user_agent = Some("@everyone <@&999>".into());
        let p = discord_payload_for(&a, Some(112233445566778899));
        assert_eq!(p["content"], "<@&112233445566778899>");
        assert_eq!(
            p["allowed_mentions"],
            json!({"parse": [], "roles": ["112233445566778899"]})
        );
        // The embed is the one without a mention: hostile text stays inert.
        assert_eq!(p["embeds"], discord_payload(&a)["embeds"]);
        let text = p["embeds"][0]["description"].as_str().unwrap();
        assert!(
            !text.contains("@everyone") && !text.contains("@here"),
            "{text}"
        );
        assert!(!text.contains("<@&999>"), "{text}");
        let mut keys: Vec<_> = p.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["allowed_mentions", "content", "embeds"]);
        // Without a role nothing is pinged and there is no content.
        assert_eq!(discord_payload_for(&a, None), discord_payload(&a));
    }

    #[test]
    fn empty_summary_and_footer_are_left_out() {
        let mut a = sample();
        a.summary = "  ".into();
        a.rule.id = String::new();
        a.rule.tags.clear();
        let p = discord_payload(&a);
        let e = p["embeds"][0].as_object().unwrap();
        assert!(!e.contains_key("description") && !e.contains_key("footer"));
        assert_within_limits(&p);
    }

    #[test]
    fn bidi_controls_are_replaced() {
        let mut a = sample();
        a.actor.user_agent = Some("abc\u{202E}fed\u{2066}x".into());
        a.summary = "s\u{202E}x".into();
        let p = discord_payload(&a);
        assert_eq!(
            field_value(&p, "User agent"),
            Some("`abc\u{FFFD}fed\u{FFFD}x`")
        );
        assert_eq!(p["embeds"][0]["description"], "s\u{FFFD}x");
    }

    #[test]
    fn control_characters_do_not_break_lines() {
        let mut a = sample();
        a.actor.user_agent = Some("a\nb\r\tc\u{0}d".into());
        a.summary = "line1\n# heading".into();
        let p = discord_payload(&a);
        assert_eq!(field_value(&p, "User agent"), Some("`a b  c d`"));
        assert_eq!(p["embeds"][0]["description"], "line1 \\# heading");
    }

    #[test]
    fn payload_is_deterministic_and_has_no_webhook() {
        let a = sample();
        assert_eq!(discord_payload(&a), discord_payload(&a));
        let s = serde_json::to_string(&discord_payload(&a)).unwrap();
        assert!(!s.contains("webhooks") && !s.contains("discord.com"));
    }
}
