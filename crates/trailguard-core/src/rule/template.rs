//! Summary templates: text with `{path}` or `{path|fallback}` placeholders filled from
//! the event. Filled values are attacker-controlled text: they are cut to a bounded
//! length and control characters are dropped; sinks escape them for their medium.

use crate::json::{with_segments, FieldSource};

const MAX_VALUE_CHARS: usize = 120;

#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Field {
        path: Vec<String>,
        raw: String,
        fallback: String,
    },
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in `{text}`"))?;
            let inner = after[..close].trim();
            let (path, fallback) = inner.split_once('|').unwrap_or((inner, "?"));
            let path = path.trim();
            if path.is_empty() || path.contains(['{', ' ']) {
                return Err(format!("bad placeholder `{{{inner}}}`"));
            }
            parts.push(Part::Field {
                path: path.split('.').map(str::to_owned).collect(),
                raw: path.to_owned(),
                fallback: fallback.trim().to_owned(),
            });
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// The event paths the template reads.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field { raw, .. } => Some(raw.as_str()),
            Part::Text(_) => None,
        })
    }

    pub fn render(&self, event: &dyn FieldSource) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field { path, fallback, .. } => {
                    let mut value = None;
                    with_segments(path, |path| {
                        event.leaves(path, &mut |leaf| {
                            if value.is_none() {
                                value = Some(leaf.text().into_owned());
                            }
                        })
                    });
                    match value {
                        Some(v) => out.push_str(&clean(&v)),
                        None => out.push_str(fallback),
                    }
                }
            }
        }
        out
    }
}

/// Bounded length, no control characters (no forged newlines in a one-line summary).
pub fn clean(v: &str) -> String {
    let mut s: String = v
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_VALUE_CHARS)
        .collect();
    if v.chars()
        .filter(|c| !c.is_control())
        .nth(MAX_VALUE_CHARS)
        .is_some()
    {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_placeholders_with_fallbacks() {
        let t = Template::parse("{a.b} made {c|a key} for {d}").unwrap();
        let ev = json!({"a":{"b":"alice"},"d":7});
        assert_eq!(t.render(&ev), "alice made a key for 7");
        assert_eq!(t.paths().collect::<Vec<_>>(), ["a.b", "c", "d"]);
    }

    #[test]
    fn values_are_cleaned() {
        let t = Template::parse("{ua}").unwrap();
        let ev = json!({"ua": format!("x\ny{}", "z".repeat(500))});
        let out = t.render(&ev);
        assert!(!out.contains('\n'));
        assert!(out.chars().count() <= MAX_VALUE_CHARS + 1);
    }

    #[test]
    fn rejects_broken_templates() {
        assert!(Template::parse("{oops").is_err());
        assert!(Template::parse("{}").is_err());
    }
}
