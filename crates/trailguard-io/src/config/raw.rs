//! The config file as TOML says it (serde, strict), and its validation into
//! [`Config`].
//!
//! Raw structs do not derive `Debug`: they hold secrets as plain strings. Values that
//! are validated after parsing are `Spanned`, so that their errors name the line.

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use trailguard_core::Severity;

use super::suppress::{validate_suppression, RawSuppress};
use super::values::{parse_duration_ms, Glob};
use super::{
    Config, ConfigError, Delivery, DigestPolicy, RespondPolicy, RouteFilter, SinkConfig, SinkTarget,
};
use crate::sink::{check_webhook_url, Secret, WEBHOOK_MIN_SECRET_CHARS};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    sink: Vec<Spanned<RawSink>>,
    delivery: Option<RawDelivery>,
    #[serde(default)]
    suppress: Vec<Spanned<RawSuppress>>,
    respond: Option<RawRespond>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRespond {
    #[serde(default)]
    protect: Vec<Spanned<String>>,
    #[serde(default)]
    break_glass: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    expiry: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSink {
    name: Spanned<String>,
    kind: Spanned<Kind>,
    url_env: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    secret_env: Option<Spanned<String>>,
    secret: Option<Spanned<String>>,
    unsigned: Option<Spanned<bool>>,
    mention_role: Option<Spanned<RoleId>>,
    path: Option<Spanned<String>>,
    min_severity: Option<Spanned<String>>,
    #[serde(default)]
    rules: Vec<Spanned<String>>,
    #[serde(default)]
    exclude_rules: Vec<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    digest: Option<Spanned<RawDigest>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Discord,
    Slack,
    Webhook,
    Jsonl,
}

/// A Discord role id: TOML integer or string of digits (ids are copied as text).
#[derive(Deserialize)]
#[serde(untagged)]
enum RoleId {
    Number(i64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDigest {
    max: Spanned<i64>,
    within: Spanned<String>,
}

/// A validated config and what the permission check needs to know.
pub(super) struct Parsed {
    pub config: Config,
    pub has_inline_secrets: bool,
}

/// Builds [`ConfigError::Invalid`] with the line of a span.
pub(super) struct Errors<'a> {
    text: &'a str,
    file: &'a str,
}

impl Errors<'_> {
    pub(super) fn line(&self, span: &Range<usize>) -> usize {
        line_col(self.text, span.start).0
    }

    pub(super) fn at(
        &self,
        span: &Range<usize>,
        key: &str,
        reason: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            line: Some(self.line(span)),
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// What to validate: everything, or only what listing suppressions needs (so that
/// `alerts suppressions` works without the sinks' secrets in the environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    All,
    Suppressions,
}

pub(super) fn parse(
    text: &str,
    origin: &str,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    scope: Scope,
) -> Result<Parsed, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        ConfigError::Syntax {
            file: origin.to_owned(),
            line,
            column,
            message: scrub_toml_message(e.message()),
        }
    })?;
    let errors = Errors { text, file: origin };
    let mut has_inline_secrets = false;
    let mut names = HashSet::new();
    let mut sinks = Vec::new();
    let raw_sinks = if scope == Scope::All {
        raw.sink
    } else {
        Vec::new()
    };
    for entry in raw_sinks {
        let span = entry.span();
        let sink = entry.into_inner();
        let name = sink.name.get_ref().trim().to_owned();
        if !valid_name(&name) {
            return Err(errors.at(
                &sink.name.span(),
                "sink.name",
                "a sink name is 1 to 64 letters, digits, `-` or `_`",
            ));
        }
        if !names.insert(name.clone()) {
            return Err(errors.at(
                &sink.name.span(),
                "sink.name",
                format!("another sink is already named `{name}`"),
            ));
        }
        has_inline_secrets |= sink.url.is_some() || sink.secret.is_some();
        sinks.push(validate_sink(sink, name, &span, &errors, base, env)?);
    }
    let delivery = match raw.delivery.and_then(|d| d.expiry) {
        None => Delivery::default(),
        Some(e) => Delivery {
            expiry_ms: parse_duration_ms(e.get_ref())
                .map_err(|r| errors.at(&e.span(), "delivery.expiry", r))?,
        },
    };
    let mut suppressions = Vec::new();
    for (i, entry) in raw.suppress.into_iter().enumerate() {
        let span = entry.span();
        suppressions.push(validate_suppression(
            entry.into_inner(),
            i + 1,
            &span,
            &errors,
        )?);
    }
    let mut respond = RespondPolicy::default();
    if let Some(r) = raw.respond {
        for (field, list, out) in [
            ("respond.protect", r.protect, &mut respond.protect),
            (
                "respond.break_glass",
                r.break_glass,
                &mut respond.break_glass,
            ),
        ] {
            for v in list {
                let text = v.get_ref().trim();
                if text.is_empty() || text.chars().any(char::is_control) {
                    return Err(errors.at(
                        &v.span(),
                        field,
                        "an ARN, a user or role name, or a resource id",
                    ));
                }
                out.push(text.to_owned());
            }
        }
    }
    Ok(Parsed {
        config: Config {
            origin: origin.to_owned(),
            sinks,
            delivery,
            suppressions,
            respond,
            warnings: Vec::new(),
        },
        has_inline_secrets,
    })
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// An environment variable name, so that a URL pasted into `url_env` is refused
/// without being echoed.
fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128
}

/// A secret from `NAME_env` (preferred) or inline `NAME`, or `None` when neither.
fn secret_value(
    from_env: Option<&Spanned<String>>,
    inline: Option<&Spanned<String>>,
    key: &str,
    sink: &str,
    errors: &Errors<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(Secret, Range<usize>, String)>, ConfigError> {
    let env_key = format!("{key}_env");
    match (from_env, inline) {
        (Some(_), Some(i)) => Err(errors.at(
            &i.span(),
            &format!("sink \"{sink}\".{key}"),
            format!("give {env_key} or {key}, not both"),
        )),
        (Some(var), None) => {
            let name = var.get_ref().trim();
            let key = format!("sink \"{sink}\".{env_key}");
            if !valid_env_name(name) {
                return Err(errors.at(
                    &var.span(),
                    &key,
                    "this names an environment variable (like DISCORD_WEBHOOK_URL), \
                     not the value itself",
                ));
            }
            match env(name).filter(|v| !v.trim().is_empty()) {
                Some(v) => Ok(Some((Secret::new(v), var.span(), key))),
                None => Err(errors.at(
                    &var.span(),
                    &key,
                    format!("the environment variable {name} is not set (or is empty)"),
                )),
            }
        }
        (None, Some(i)) => {
            let key = format!("sink \"{sink}\".{key}");
            if i.get_ref().trim().is_empty() {
                return Err(errors.at(&i.span(), &key, "is empty"));
            }
            Ok(Some((Secret::new(i.get_ref().clone()), i.span(), key)))
        }
        (None, None) => Ok(None),
    }
}

fn validate_sink(
    sink: RawSink,
    name: String,
    span: &Range<usize>,
    errors: &Errors<'_>,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SinkConfig, ConfigError> {
    let kind = *sink.kind.get_ref();
    let kind_name = match kind {
        Kind::Discord => "discord",
        Kind::Slack => "slack",
        Kind::Webhook => "webhook",
        Kind::Jsonl => "jsonl",
    };
    let key = |k: &str| format!("sink \"{name}\".{k}");
    // Keys that belong to another kind are mistakes, not options to ignore.
    let only_for =
        |present: Option<Range<usize>>, k: &str, kinds: &[Kind], which: &str| match present {
            Some(s) if !kinds.contains(&kind) => Err(errors.at(
                &s,
                &key(k),
                format!("only {which} sinks take `{k}` (this one is {kind_name})"),
            )),
            _ => Ok(()),
        };
    let http = [Kind::Discord, Kind::Slack, Kind::Webhook];
    only_for(
        sink.url.as_ref().map(|v| v.span()),
        "url",
        &http,
        "discord, slack and webhook",
    )?;
    only_for(
        sink.url_env.as_ref().map(|v| v.span()),
        "url_env",
        &http,
        "discord, slack and webhook",
    )?;
    only_for(
        sink.secret.as_ref().map(|v| v.span()),
        "secret",
        &[Kind::Webhook],
        "webhook",
    )?;
    only_for(
        sink.secret_env.as_ref().map(|v| v.span()),
        "secret_env",
        &[Kind::Webhook],
        "webhook",
    )?;
    only_for(
        sink.unsigned.as_ref().map(|v| v.span()),
        "unsigned",
        &[Kind::Webhook],
        "webhook",
    )?;
    only_for(
        sink.mention_role.as_ref().map(|v| v.span()),
        "mention_role",
        &[Kind::Discord],
        "discord",
    )?;
    only_for(
        sink.path.as_ref().map(|v| v.span()),
        "path",
        &[Kind::Jsonl],
        "jsonl",
    )?;

    let url = if kind == Kind::Jsonl {
        None
    } else {
        let Some((url, url_span, url_key)) = secret_value(
            sink.url_env.as_ref(),
            sink.url.as_ref(),
            "url",
            &name,
            errors,
            env,
        )?
        else {
            return Err(errors.at(
                span,
                &key("url_env"),
                "a webhook URL is needed: url_env = \"VARIABLE\" (preferred) or url = \"...\"",
            ));
        };
        check_webhook_url(&url).map_err(|e| errors.at(&url_span, &url_key, e.to_string()))?;
        Some(url)
    };
    let target = match kind {
        Kind::Discord => SinkTarget::Discord {
            url: url.expect("checked above"),
            mention_role: match &sink.mention_role {
                None => None,
                Some(r) => {
                    let id = match r.get_ref() {
                        RoleId::Number(n) => u64::try_from(*n).ok(),
                        RoleId::Text(t) => t.trim().parse::<u64>().ok(),
                    };
                    Some(id.filter(|n| *n > 0).ok_or_else(|| {
                        errors.at(
                            &r.span(),
                            &key("mention_role"),
                            "a Discord role id is a positive number (Server Settings > \
                             Roles > Copy Role ID)",
                        )
                    })?)
                }
            },
        },
        Kind::Slack => SinkTarget::Slack {
            url: url.expect("checked above"),
        },
        Kind::Webhook => {
            let secret = secret_value(
                sink.secret_env.as_ref(),
                sink.secret.as_ref(),
                "secret",
                &name,
                errors,
                env,
            )?;
            let unsigned = sink.unsigned.as_ref().is_some_and(|u| *u.get_ref());
            let secret = match (secret, unsigned) {
                (Some((_, s, _)), true) => {
                    return Err(errors.at(
                        &s,
                        &key("unsigned"),
                        "unsigned = true and a signing secret contradict each other",
                    ))
                }
                (Some((secret, s, k)), false) => {
                    if secret.expose().trim().chars().count() < WEBHOOK_MIN_SECRET_CHARS {
                        return Err(errors.at(
                            &s,
                            &k,
                            format!(
                                "a signing secret is at least {WEBHOOK_MIN_SECRET_CHARS} \
                                 characters (use a long random value)"
                            ),
                        ));
                    }
                    Some(secret)
                }
                (None, true) => None,
                (None, false) => {
                    return Err(errors.at(
                        span,
                        &key("secret_env"),
                        "webhook requests are signed: give secret_env = \"VARIABLE\" \
                         (preferred) or secret = \"...\", or unsigned = true to send them \
                         unsigned (receivers then cannot tell them from forged ones)",
                    ))
                }
            };
            SinkTarget::Webhook {
                url: url.expect("checked above"),
                secret,
            }
        }
        Kind::Jsonl => {
            let Some(path) = sink
                .path
                .as_ref()
                .filter(|p| !p.get_ref().trim().is_empty())
            else {
                return Err(errors.at(span, &key("path"), "a jsonl sink needs path = \"FILE\""));
            };
            let p = Path::new(path.get_ref().trim());
            SinkTarget::Jsonl {
                path: if p.as_os_str() == "-" || p.is_absolute() {
                    p.to_path_buf()
                } else {
                    base.join(p)
                },
            }
        }
    };

    let min_severity = match &sink.min_severity {
        None => Severity::Info,
        Some(s) => s
            .get_ref()
            .parse()
            .map_err(|e: trailguard_core::alert::UnknownSeverity| {
                errors.at(&s.span(), &key("min_severity"), e.to_string())
            })?,
    };
    let globs = |list: &[Spanned<String>], k: &str| -> Result<Vec<Glob>, ConfigError> {
        list.iter()
            .map(|g| Glob::new(g.get_ref()).map_err(|r| errors.at(&g.span(), &key(k), r)))
            .collect()
    };
    let rules = globs(&sink.rules, "rules")?;
    let exclude_rules = globs(&sink.exclude_rules, "exclude_rules")?;
    let mut tags = Vec::new();
    for t in &sink.tags {
        let tag = t.get_ref().trim();
        if tag.is_empty() || tag.contains('*') {
            return Err(errors.at(
                &t.span(),
                &key("tags"),
                "a tag is matched exactly or as a dotted prefix (`attack.persistence`, \
                 `attack.t1098`): no empty tags, no `*`",
            ));
        }
        tags.push(tag.to_owned());
    }
    let digest = match &sink.digest {
        None => None,
        Some(d) => {
            let d = d.get_ref();
            let max = usize::try_from(*d.max.get_ref())
                .ok()
                .filter(|m| *m >= 1)
                .ok_or_else(|| {
                    errors.at(
                        &d.max.span(),
                        &key("digest.max"),
                        "at least 1: how many alerts go out on their own before the rest \
                         of a burst is folded",
                    )
                })?;
            let within_ms = parse_duration_ms(d.within.get_ref())
                .map_err(|r| errors.at(&d.within.span(), &key("digest.within"), r))?;
            Some(DigestPolicy { max, within_ms })
        }
    };
    Ok(SinkConfig {
        name,
        target,
        filter: RouteFilter {
            min_severity,
            rules,
            exclude_rules,
            tags,
        },
        digest,
    })
}

/// serde's messages quote the offending value (`invalid type: string "https://..."`),
/// which may be a secret put under the wrong key: keep the message, drop the values.
fn scrub_toml_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find('"') {
        out.push_str(&rest[..at]);
        match rest[at + 1..].find('"') {
            Some(end) => {
                out.push_str("\"…\"");
                rest = &rest[at + 1 + end + 1..];
            }
            None => {
                out.push_str("\"…");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let t = "a\nbc\ndef";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 3), (2, 2));
        assert_eq!(line_col(t, 5), (3, 1));
        assert_eq!(line_col(t, 999), (3, 4));
    }

    #[test]
    fn toml_messages_lose_quoted_values() {
        assert_eq!(
            scrub_toml_message("invalid type: string \"https://x/TOKEN\", expected i64"),
            "invalid type: string \"…\", expected i64"
        );
        assert_eq!(
            scrub_toml_message("unknown field `urll`, expected one of `name`, `kind`"),
            "unknown field `urll`, expected one of `name`, `kind`"
        );
        assert_eq!(scrub_toml_message("odd \"TOKEN"), "odd \"…");
    }

    #[test]
    fn env_names() {
        assert!(valid_env_name("DISCORD_WEBHOOK_URL"));
        assert!(valid_env_name("_x1"));
        assert!(!valid_env_name("https://discord.com/api/webhooks/1/TOKEN"));
        assert!(!valid_env_name("1X"));
        assert!(!valid_env_name(""));
    }
}
