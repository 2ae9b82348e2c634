//! `[[suppress]]` entries as TOML says them, and their validation: a reason and an end
//! are required, and at least one criterion (else an entry would silence everything).

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use trailguard_core::time::parse_rfc3339_millis;

use super::raw::Errors;
use super::values::{Glob, IpMatch};
use super::{ConfigError, Suppression};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSuppress {
    rule: Option<Spanned<String>>,
    actor: Option<Spanned<String>>,
    ip: Option<Spanned<String>>,
    reason: Option<Spanned<String>>,
    by: Option<Spanned<String>>,
    until: Option<Spanned<toml::Value>>,
}

pub(super) fn validate_suppression(
    s: RawSuppress,
    number: usize,
    span: &Range<usize>,
    errors: &Errors<'_>,
) -> Result<Suppression, ConfigError> {
    let key = |k: &str| format!("suppress #{number}.{k}");
    let reason = match &s.reason {
        Some(r) if !r.get_ref().trim().is_empty() => r.get_ref().trim().to_owned(),
        Some(r) => return Err(errors.at(&r.span(), &key("reason"), "is empty")),
        None => {
            return Err(errors.at(
                span,
                &key("reason"),
                "every suppression says why (reason = \"...\"), for whoever finds an \
                 alert missing",
            ))
        }
    };
    let until_ms = match &s.until {
        None => {
            return Err(errors.at(
                span,
                &key("until"),
                "every suppression ends (until = 2025-12-31T00:00:00Z): none is forever",
            ))
        }
        Some(u) => {
            let text = match u.get_ref() {
                toml::Value::String(t) => t.trim().to_owned(),
                toml::Value::Datetime(d) => d.to_string(),
                _ => String::new(),
            };
            parse_rfc3339_millis(&text).ok_or_else(|| {
                errors.at(
                    &u.span(),
                    &key("until"),
                    "a date and time with its zone (RFC 3339, like 2025-12-31T00:00:00Z)",
                )
            })?
        }
    };
    let rule = s
        .rule
        .as_ref()
        .map(|r| Glob::new(r.get_ref()).map_err(|e| errors.at(&r.span(), &key("rule"), e)))
        .transpose()?;
    let actor = s
        .actor
        .as_ref()
        .map(|a| Glob::new(a.get_ref()).map_err(|e| errors.at(&a.span(), &key("actor"), e)))
        .transpose()?;
    let ip =
        s.ip.as_ref()
            .map(|i| IpMatch::parse(i.get_ref()).map_err(|e| errors.at(&i.span(), &key("ip"), e)))
            .transpose()?;
    if rule.is_none() && actor.is_none() && ip.is_none() {
        return Err(errors.at(
            span,
            &key("rule"),
            "a suppression needs at least one of rule, actor or ip (else it silences \
             everything)",
        ));
    }
    Ok(Suppression {
        number,
        line: Some(errors.line(span)),
        rule,
        actor,
        ip,
        reason,
        by: s
            .by
            .map(|b| b.into_inner().trim().to_owned())
            .filter(|b| !b.is_empty()),
        until_ms,
    })
}
