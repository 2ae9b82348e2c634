//! The EventBridge pattern a Sigma rule is filed under: what its detection requires of
//! `eventSource` and `eventName`, as `equals-ignore-case` (exact strings with `|cased`).
//!
//! The pattern only has to let through every event the detection could match (the
//! detection itself is checked after it), so weakening is always safe: `not` requires
//! nothing, an `and` of requirements keeps one per field, and a requirement too large
//! for a pattern becomes a looser one, down to "every CloudTrail event".

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use super::condition::Expr;
use super::matcher::Search;
use crate::pattern::Pattern;

/// The fields the pre-filter pins.
const FIELDS: [&str; 2] = ["eventSource", "eventName"];
/// More alternatives than this are merged into one looser requirement.
const MAX_ALTERNATIVES: usize = 32;

/// Values one field must take (any of them), and whether they are case-sensitive.
#[derive(Debug, Clone, PartialEq)]
struct Values {
    values: Vec<String>,
    cased: bool,
}

/// Requirements that hold together (AND); an empty one requires nothing.
type Alternative = BTreeMap<&'static str, Values>;

/// What a whole detection requires: one of these alternatives (OR).
#[derive(Debug, Clone)]
pub(crate) struct Need(Vec<Alternative>);

impl Need {
    fn anything() -> Need {
        Need(vec![Alternative::new()])
    }

    fn requires_nothing(&self) -> bool {
        self.0.iter().any(BTreeMap::is_empty)
    }

    pub(crate) fn or(needs: impl IntoIterator<Item = Need>) -> Need {
        let mut alts = Vec::new();
        for n in needs {
            if n.requires_nothing() {
                return Need::anything();
            }
            alts.extend(n.0);
        }
        Need(alts)
    }

    fn and(needs: Vec<Need>) -> Need {
        let mut acc = Need::anything();
        for n in needs {
            if n.requires_nothing() {
                continue;
            }
            if acc.0.len() * n.0.len() > MAX_ALTERNATIVES {
                // Either side alone is still implied by the conjunction.
                if acc.requires_nothing() {
                    acc = n;
                }
                continue;
            }
            let mut next = Vec::with_capacity(acc.0.len() * n.0.len());
            for a in &acc.0 {
                for b in &n.0 {
                    let mut merged = a.clone();
                    for (field, values) in b {
                        let keep_theirs = merged
                            .get(field)
                            .is_none_or(|mine| values.values.len() < mine.values.len());
                        if keep_theirs {
                            merged.insert(field, values.clone());
                        }
                    }
                    next.push(merged);
                }
            }
            acc = Need(next);
        }
        acc
    }

    /// What a detection (the OR of its conditions) requires.
    pub(crate) fn of(conditions: &[Expr], searches: &[Search]) -> Need {
        Need::or(conditions.iter().map(|c| Need::of_expr(c, searches)))
    }

    fn of_expr(expr: &Expr, searches: &[Search]) -> Need {
        match expr {
            Expr::Search(i) => Need::of_search(&searches[*i]),
            Expr::Or(items) => Need::or(items.iter().map(|e| Need::of_expr(e, searches))),
            Expr::And(items) => {
                Need::and(items.iter().map(|e| Need::of_expr(e, searches)).collect())
            }
            Expr::Not(_) => Need::anything(),
        }
    }

    fn of_search(search: &Search) -> Need {
        let alts = search
            .alternatives()
            .into_iter()
            .map(|fields| {
                let mut alt = Alternative::new();
                for f in fields {
                    let Some(name) = FIELDS
                        .iter()
                        .find(|n| f.field.strip_prefix("detail.") == Some(n))
                    else {
                        continue;
                    };
                    let Some((values, cased)) = f.exact_values() else {
                        continue;
                    };
                    // Case-insensitive requirements only where ASCII folding is exact.
                    if !cased && values.iter().any(|v| !v.is_ascii()) {
                        continue;
                    }
                    alt.insert(
                        *name,
                        Values {
                            values: values.into_iter().map(str::to_owned).collect(),
                            cased,
                        },
                    );
                }
                alt
            })
            .collect::<Vec<_>>();
        Need::or(alts.into_iter().map(|a| Need(vec![a])))
    }

    /// One alternative per field kept in every alternative, its values merged.
    fn merged(&self) -> Need {
        let mut one = Alternative::new();
        for field in FIELDS {
            let mut all: Option<Values> = None;
            for alt in &self.0 {
                match (alt.get(field), &mut all) {
                    (None, _) => {
                        all = None;
                        break;
                    }
                    (Some(v), None) => all = Some(v.clone()),
                    (Some(v), Some(acc)) if v.cased == acc.cased => {
                        for x in &v.values {
                            if !acc.values.contains(x) {
                                acc.values.push(x.clone());
                            }
                        }
                    }
                    (Some(_), Some(_)) => {
                        all = None;
                        break;
                    }
                }
                if all.is_none() {
                    break;
                }
            }
            if let Some(v) = all {
                one.insert(field, v);
            }
        }
        Need(vec![one])
    }

    /// The pre-filter pattern: the requirement itself, merged when it does not fit a
    /// pattern, or every CloudTrail event.
    pub(crate) fn pattern(&self) -> Json {
        let mut need = self.clone();
        if need.0.is_empty() || need.0.len() > MAX_ALTERNATIVES {
            need = Need::anything();
        }
        for candidate in [need.clone(), need.merged()] {
            if candidate.requires_nothing() {
                break;
            }
            let p = candidate.to_json();
            if Pattern::from_value(&p).is_ok() {
                return p;
            }
        }
        every_event()
    }

    fn to_json(&self) -> Json {
        let alts: Vec<Json> = self
            .0
            .iter()
            .map(|alt| {
                let detail: serde_json::Map<String, Json> = alt
                    .iter()
                    .map(|(field, v)| {
                        let conds: Vec<Json> = v
                            .values
                            .iter()
                            .map(|s| {
                                if v.cased {
                                    json!(s)
                                } else {
                                    json!({"equals-ignore-case": s})
                                }
                            })
                            .collect();
                        (field.to_string(), Json::Array(conds))
                    })
                    .collect();
                json!({ "detail": detail })
            })
            .collect();
        match <[Json; 1]>::try_from(alts) {
            Ok([one]) => one,
            Err(many) => json!({ "$or": many }),
        }
    }
}

/// A pattern every CloudTrail event matches.
pub fn every_event() -> Json {
    json!({"detail": {"eventName": [{"exists": true}]}})
}
