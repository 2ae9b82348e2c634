//! Sigma YAML documents into their typed parts: the metadata an alert carries, the
//! log source, and the `detection:` section compiled (searches and conditions).

use serde::Deserialize;
use serde_norway::{Mapping, Value as Yaml};

use crate::alert::Severity;

use super::condition::{self, Expr};
use super::correlation::{parse_aggregation, Aggregation};
use super::matcher::{show, Search};

/// Documents in one file after which the rest are ignored (and reported).
pub const MAX_DOCUMENTS: usize = 1000;

/// A Sigma file larger than this is refused (rules are a few KiB).
pub const MAX_FILE_BYTES: usize = 256 * 1024;
/// Flow collections (`[`, `{`) nested deeper than this are refused before parsing:
/// the YAML reader's scan of deep nesting is quadratic in time.
pub const MAX_FLOW_NESTING: usize = 64;

/// Refuses what would cost the YAML reader far more than a rule is worth.
fn precheck(text: &str) -> Result<(), String> {
    if text.len() > MAX_FILE_BYTES {
        return Err(format!(
            "file larger than {} KiB: not a Sigma rule",
            MAX_FILE_BYTES / 1024
        ));
    }
    let (mut depth, mut max) = (0usize, 0usize);
    // `prev`: the character before; `last`: the last one that was not a space. A
    // quote opens a scalar only after these (`key: 'x'`, `- "x"`, `['x']`), not inside
    // a plain one (`it's`); `#` starts a comment after a space.
    let (mut prev, mut last) = ('\n', '\n');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let opens = matches!(last, '\n' | ':' | '-' | '[' | '{' | ',' | '?');
        match c {
            '#' if prev.is_whitespace() => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                (prev, last) = ('\n', '\n');
                continue;
            }
            '\'' if opens => {
                while let Some(c) = chars.next() {
                    if c == '\'' && chars.next_if_eq(&'\'').is_none() {
                        break;
                    }
                }
            }
            '"' if opens => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '[' | '{' => {
                depth += 1;
                max = max.max(depth);
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        prev = c;
        if c == '\n' || !c.is_whitespace() {
            last = c;
        }
    }
    if max > MAX_FLOW_NESTING {
        return Err(format!(
            "YAML nested deeper than {MAX_FLOW_NESTING} levels: not a Sigma rule"
        ));
    }
    Ok(())
}

/// The YAML documents of one file (`---` separated), or why they cannot be read.
pub(crate) fn documents(text: &str) -> Result<Vec<Yaml>, String> {
    precheck(text)?;
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        if out.len() == MAX_DOCUMENTS {
            return Err(format!(
                "more than {MAX_DOCUMENTS} YAML documents in one file"
            ));
        }
        let value = Yaml::deserialize(doc).map_err(|e| format!("invalid YAML: {e}"))?;
        out.push(value);
    }
    Ok(out)
}

/// What every Sigma rule (detection or correlation) says about itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meta {
    pub(crate) title: String,
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) description: String,
    pub(crate) references: Vec<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) level: Option<Severity>,
    pub(crate) fields: Vec<String>,
}

fn string(map: &Mapping, key: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Yaml::Null) => Ok(None),
        Some(Yaml::String(s)) => Ok(Some(s.clone())),
        Some(Yaml::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!("`{key}` {} is not a string", show(other))),
    }
}

/// A list of strings (a single string is a list of one); other items are ignored.
fn strings(map: &Mapping, key: &str) -> Vec<String> {
    match map.get(key) {
        Some(Yaml::String(s)) => vec![s.clone()],
        Some(Yaml::Sequence(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Sigma's levels to trailguard's severities.
pub(crate) fn severity(level: &str) -> Option<Severity> {
    Some(match level.trim().to_ascii_lowercase().as_str() {
        "informational" | "info" => Severity::Info,
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "critical" => Severity::Critical,
        _ => return None,
    })
}

impl Meta {
    pub(crate) fn parse(map: &Mapping) -> Result<Meta, String> {
        let title = string(map, "title")?
            .filter(|t| !t.trim().is_empty())
            .ok_or("no `title`")?;
        let level = match string(map, "level")? {
            None => None,
            Some(l) => Some(severity(&l).ok_or_else(|| {
                format!("level `{l}` is not informational, low, medium, high or critical")
            })?),
        };
        Ok(Meta {
            title: title.trim().to_owned(),
            id: string(map, "id")?.filter(|s| !s.trim().is_empty()),
            name: string(map, "name")?.filter(|s| !s.trim().is_empty()),
            description: string(map, "description")?.unwrap_or_default(),
            references: strings(map, "references"),
            tags: strings(map, "tags"),
            level,
            fields: strings(map, "fields"),
        })
    }

    /// How the rule is named in messages: its title, and its id when it has one.
    pub(crate) fn label(&self) -> String {
        match &self.id {
            Some(id) => format!("{} ({id})", self.title),
            None => self.title.clone(),
        }
    }
}

/// `logsource:` must be AWS CloudTrail.
pub(crate) fn check_logsource(map: &Mapping) -> Result<(), String> {
    let Some(source) = map.get("logsource").and_then(Yaml::as_mapping) else {
        return Err("no `logsource`".into());
    };
    let field = |k: &str| {
        source
            .get(k)
            .and_then(Yaml::as_str)
            .map(|s| s.trim().to_ascii_lowercase())
    };
    let (product, service) = (field("product"), field("service"));
    if product.as_deref() == Some("aws") && service.as_deref() == Some("cloudtrail") {
        return Ok(());
    }
    Err(format!(
        "logsource is product: {}, service: {}; trailguard reads AWS CloudTrail \
         (product: aws, service: cloudtrail) only",
        product.as_deref().unwrap_or("-"),
        service.as_deref().unwrap_or("-")
    ))
}

/// A `detection:` section, compiled.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub(crate) names: Vec<String>,
    pub(crate) searches: Vec<Search>,
    /// The conditions (ORed), without any aggregation.
    pub(crate) conditions: Vec<Expr>,
    /// A Sigma 1 aggregation after `|`, and the rule's `timeframe`.
    pub(crate) aggregation: Option<Aggregation>,
    pub(crate) timeframe: Option<String>,
}

impl Compiled {
    pub(crate) fn parse(detection: &Yaml) -> Result<Compiled, String> {
        let Some(map) = detection.as_mapping() else {
            return Err("`detection` is not a map".into());
        };
        let mut names = Vec::new();
        let mut searches = Vec::new();
        let mut conditions = None;
        let mut timeframe = None;
        for (key, value) in map {
            let Some(key) = key.as_str() else {
                return Err(format!("search identifier {} is not a string", show(key)));
            };
            match key {
                "condition" => conditions = Some(value),
                "timeframe" => {
                    timeframe = Some(
                        value
                            .as_str()
                            .ok_or_else(|| {
                                format!("`timeframe` {} is not a duration", show(value))
                            })?
                            .to_owned(),
                    )
                }
                name => {
                    let search = Search::compile(value).map_err(|e| format!("`{name}`: {e}"))?;
                    names.push(name.to_owned());
                    searches.push(search);
                }
            }
        }
        let texts: Vec<&str> = match conditions {
            None => return Err("no `condition`".into()),
            Some(Yaml::String(c)) => vec![c.as_str()],
            Some(Yaml::Sequence(items)) if !items.is_empty() => items
                .iter()
                .map(|c| {
                    c.as_str()
                        .ok_or_else(|| format!("condition {} is not a string", show(c)))
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("condition {} is not a string", show(other))),
        };
        let mut exprs = Vec::with_capacity(texts.len());
        let mut aggregation = None;
        for text in texts {
            let (search, agg) = match text.split_once('|') {
                Some((s, a)) => (s, Some(a)),
                None => (text, None),
            };
            exprs.push(
                condition::parse(search, &names)
                    .map_err(|e| format!("condition `{}`: {e}", text.trim()))?,
            );
            if let Some(agg) = agg {
                if aggregation.is_some() {
                    return Err("more than one condition with an aggregation".into());
                }
                aggregation = Some(parse_aggregation(agg)?);
            }
        }
        if aggregation.is_some() && exprs.len() > 1 {
            return Err("an aggregation in a list of conditions".into());
        }
        if aggregation.is_none() && timeframe.is_some() {
            return Err(format!(
                "`timeframe` without an aggregation: the condition `{}` is judged one event \
                 at a time, so the time window its author meant would be ignored; write the \
                 correlation as a Sigma correlation rule (temporal, event_count) instead",
                match conditions {
                    Some(Yaml::String(c)) => c.trim().to_owned(),
                    _ => "...".into(),
                }
            ));
        }
        Ok(Compiled {
            names,
            searches,
            conditions: exprs,
            aggregation,
            timeframe,
        })
    }
}
