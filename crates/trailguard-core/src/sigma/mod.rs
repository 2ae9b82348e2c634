//! Sigma rules for AWS CloudTrail (`logsource: {product: aws, service: cloudtrail}`),
//! run by the same engine as trailguard's own rules.
//!
//! Each Sigma rule becomes a [`Rule`] whose `match:` pattern is a pre-filter built from
//! what the detection requires of `eventSource`/`eventName` (see `prefilter`), and whose
//! [`SigmaMatch`] the engine checks once that pattern matched. Field names are record
//! paths, read under `detail.` of the event. Correlations (Sigma 2 correlation rules,
//! Sigma 1 aggregations) become stateful rules where trailguard's kinds express them.
//! A rule that cannot be run as its author meant is not loaded: it is reported, with
//! the reason, in [`Loaded::skipped`]. `docs/architecture.md` lists what is supported.

mod condition;
mod correlation;
mod matcher;
mod parse;
mod prefilter;
mod value;

use std::collections::{BTreeMap, HashMap};

use serde_norway::{Mapping, Value as Yaml};

use crate::alert::Severity;
use crate::json::FieldSource;
use crate::rule::{mentions_secret, Rule, RuleError, RuleSpec, Stage, StateSpec};
use crate::rule::{SequenceSpec, ThresholdSpec};

pub use condition::MAX_NESTING;
pub use prefilter::every_event;
pub use value::{MAX_REGEX_CHARS, REGEX_SIZE_LIMIT};

use condition::Expr;
use correlation::{Aggregation, Kind, Plan};
use matcher::Search;
use parse::{Compiled, Meta};

/// The alert summary of every Sigma rule (Sigma has none).
pub const SUMMARY: &str =
    "{detail.userIdentity.arn|unknown} called {detail.eventName} from {detail.sourceIPAddress}";
/// Rule ids are the Sigma id behind this prefix.
pub const ID_PREFIX: &str = "sigma-";

/// A Sigma detection: its searches and its conditions (ORed).
#[derive(Debug, Clone)]
struct Detection {
    searches: Vec<Search>,
    conditions: Vec<Expr>,
}

impl Detection {
    fn matches(&self, event: &dyn FieldSource) -> bool {
        self.conditions
            .iter()
            .any(|c| c.eval(&self.searches, event))
    }

    fn pattern(detections: &[&Detection]) -> serde_json::Value {
        let needs: Vec<_> = detections
            .iter()
            .map(|d| prefilter::Need::of(&d.conditions, &d.searches))
            .collect();
        prefilter::Need::or(needs).pattern()
    }
}

/// What the engine checks, after a Sigma rule's pre-filter pattern matched an event.
#[derive(Debug, Clone)]
pub struct SigmaMatch {
    /// The Sigma rule's own `id`, as written, when it has one.
    pub sigma_id: Option<String>,
    /// The detections of the rule (or of the rules a correlation counts): one must match.
    first: Vec<Detection>,
    /// A sequence's second step.
    then: Vec<Detection>,
}

impl SigmaMatch {
    /// Whether `event` meets the Sigma detection for this part of the rule.
    pub fn matches(&self, stage: Stage, event: &dyn FieldSource) -> bool {
        let detections = match stage {
            Stage::Then => &self.then,
            Stage::Alert | Stage::First => &self.first,
        };
        detections.iter().any(|d| d.matches(event))
    }
}

/// A Sigma rule that was not loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file (and document, in a multi-document file).
    pub origin: String,
    /// The rule's title and id, when they could be read.
    pub rule: String,
    pub reason: String,
}

/// What [`load`] made of a set of Sigma files.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rules: Vec<Rule>,
    /// For each rule, the text of the file it came from, and where that is.
    pub texts: Vec<String>,
    pub origins: Vec<String>,
    pub skipped: Vec<Skipped>,
    /// Detection rules that only feed correlations (`generate: false`, Sigma's
    /// default) and so raise no alert of their own.
    pub correlated_only: Vec<String>,
}

/// One YAML document of one file.
struct Doc<'a> {
    origin: String,
    text: &'a str,
    map: Mapping,
    /// The file's stem and the document's position, for rules without an id.
    fallback_id: String,
}

/// A detection document, compiled (or why not).
struct Base {
    meta: Meta,
    compiled: Result<Compiled, String>,
}

/// Loads Sigma rules from (origin, YAML text) pairs. Never fails: what cannot be
/// loaded is in [`Loaded::skipped`].
pub fn load<'a>(sources: impl IntoIterator<Item = (String, &'a str)>) -> Loaded {
    let mut loaded = Loaded::default();
    let mut docs: Vec<Doc<'a>> = Vec::new();
    for (origin, text) in sources {
        let values = match parse::documents(text) {
            Ok(v) => v,
            Err(reason) => {
                loaded.skipped.push(Skipped {
                    origin,
                    rule: "-".into(),
                    reason,
                });
                continue;
            }
        };
        let stem = file_stem(&origin);
        let several = values.iter().filter(|v| !v.is_null()).count() > 1;
        for (i, value) in values.into_iter().enumerate() {
            let (origin, fallback_id) = if several {
                (
                    format!("{origin} (document {})", i + 1),
                    format!("{stem}-{}", i + 1),
                )
            } else {
                (origin.clone(), stem.clone())
            };
            match value {
                Yaml::Null => {}
                Yaml::Mapping(map) => docs.push(Doc {
                    origin,
                    text,
                    map,
                    fallback_id,
                }),
                _ => loaded.skipped.push(Skipped {
                    origin,
                    rule: "-".into(),
                    reason: "not a Sigma rule (a YAML map is expected)".into(),
                }),
            }
        }
    }

    // Detection rules first: correlations refer to them by id or name.
    let mut bases: Vec<Option<Base>> = Vec::with_capacity(docs.len());
    let mut by_ref: HashMap<String, usize> = HashMap::new();
    for (i, doc) in docs.iter().enumerate() {
        let base = (doc.map.contains_key("detection") && !doc.map.contains_key("correlation"))
            .then(|| Meta::parse(&doc.map).ok())
            .flatten()
            .map(|meta| {
                let compiled = parse::check_logsource(&doc.map).and_then(|()| {
                    Compiled::parse(doc.map.get("detection").unwrap_or(&Yaml::Null))
                });
                Base { meta, compiled }
            });
        if let Some(b) = &base {
            for r in [&b.meta.id, &b.meta.name].into_iter().flatten() {
                by_ref.entry(r.clone()).or_insert(i);
            }
        }
        bases.push(base);
    }

    // Which detection rules feed a correlation, and whether they also alert alone.
    let mut feeds: BTreeMap<usize, bool> = BTreeMap::new();
    for doc in &docs {
        let Some(block) = doc.map.get("correlation") else {
            continue;
        };
        let generate = doc
            .map
            .get("generate")
            .and_then(Yaml::as_bool)
            .unwrap_or(false);
        if let Ok((_, refs)) = correlation::parse_correlation(block) {
            for r in refs {
                if let Some(&i) = by_ref.get(&r) {
                    *feeds.entry(i).or_insert(false) |= generate;
                }
            }
        }
    }

    let mut ids: HashMap<String, String> = HashMap::new();
    for (i, doc) in docs.iter().enumerate() {
        let built = build(doc, i, &bases, &by_ref);
        let meta_label = Meta::parse(&doc.map)
            .map(|m| m.label())
            .unwrap_or_else(|_| "-".into());
        match built {
            Err(reason) => loaded.skipped.push(Skipped {
                origin: doc.origin.clone(),
                rule: meta_label,
                reason,
            }),
            Ok(rules) => {
                if feeds.get(&i) == Some(&false) {
                    loaded
                        .correlated_only
                        .push(format!("{}: {meta_label}", doc.origin));
                    continue;
                }
                for rule in rules {
                    if let Some(first) = ids.get(rule.id()) {
                        loaded.skipped.push(Skipped {
                            origin: doc.origin.clone(),
                            rule: meta_label.clone(),
                            reason: format!("duplicate id `{}` (also in {first})", rule.id()),
                        });
                        continue;
                    }
                    ids.insert(rule.id().to_owned(), doc.origin.clone());
                    loaded.rules.push(rule);
                    loaded.texts.push(doc.text.to_owned());
                    loaded.origins.push(doc.origin.clone());
                }
            }
        }
    }
    loaded
}

/// The rules one document becomes (two for an unordered pair), or why none.
fn build(
    doc: &Doc<'_>,
    index: usize,
    bases: &[Option<Base>],
    by_ref: &HashMap<String, usize>,
) -> Result<Vec<Rule>, String> {
    let map = &doc.map;
    if map.contains_key("action") {
        return Err("Sigma 1 rule collections (`action: global`) are not supported".into());
    }
    if map.contains_key("filter") && !map.contains_key("detection") {
        return Err("Sigma filters (meta rules that change other rules) are not supported".into());
    }
    let meta = Meta::parse(map)?;
    if let Some(block) = map.get("correlation") {
        let (plan, refs) = correlation::parse_correlation(block)?;
        let mut detections = Vec::with_capacity(refs.len());
        let mut metas = Vec::with_capacity(refs.len());
        for r in &refs {
            let Some(&i) = by_ref.get(r) else {
                return Err(format!("refers to rule `{r}`, which is not among the Sigma rules loaded (correlations of correlations are not supported)"));
            };
            let base = bases[i]
                .as_ref()
                .expect("referenced rules are detection rules");
            let compiled = base
                .compiled
                .as_ref()
                .map_err(|e| format!("refers to rule `{r}`, which is not supported: {e}"))?;
            if compiled.aggregation.is_some() {
                return Err(format!(
                    "refers to rule `{r}`, which has an aggregation of its own"
                ));
            }
            detections.push(Detection {
                searches: compiled.searches.clone(),
                conditions: compiled.conditions.clone(),
            });
            metas.push(&base.meta);
        }
        return correlated(doc, &meta, &metas, plan, detections);
    }
    let base = bases[index]
        .as_ref()
        .ok_or("neither `detection` nor `correlation`: not a Sigma rule")?;
    let compiled = base.compiled.as_ref().map_err(Clone::clone)?;
    let detection = Detection {
        searches: compiled.searches.clone(),
        conditions: compiled.conditions.clone(),
    };
    match &compiled.aggregation {
        None => {
            let pattern = Detection::pattern(&[&detection]);
            let sigma = SigmaMatch {
                sigma_id: meta.id.clone(),
                first: vec![detection],
                then: Vec::new(),
            };
            Ok(vec![rule(
                doc,
                &meta,
                &rule_id(&meta, doc),
                pattern,
                None,
                sigma,
            )?])
        }
        Some(agg) => {
            let plan = correlation::plan_aggregation(agg, compiled.timeframe.as_deref())?;
            let detections = match agg {
                Aggregation::Count(..) => vec![detection],
                Aggregation::Near(near) => {
                    let then = condition::parse(near, &compiled.names)
                        .map_err(|e| format!("`near {near}`: {e}"))?;
                    vec![
                        detection,
                        Detection {
                            searches: compiled.searches.clone(),
                            conditions: vec![then],
                        },
                    ]
                }
            };
            correlated(doc, &meta, &[&meta, &meta], plan, detections)
        }
    }
}

/// A correlation (Sigma 2, or a Sigma 1 aggregation) as stateful rules.
fn correlated(
    doc: &Doc<'_>,
    meta: &Meta,
    parts: &[&Meta],
    plan: Plan,
    detections: Vec<Detection>,
) -> Result<Vec<Rule>, String> {
    let mut meta = meta.clone();
    // The correlation's own metadata first, its rules' where it says nothing.
    if meta.level.is_none() {
        meta.level = parts.iter().filter_map(|m| m.level).max();
    }
    for m in parts {
        for t in &m.tags {
            if !meta.tags.contains(t) {
                meta.tags.push(t.clone());
            }
        }
        for f in &m.fields {
            if !meta.fields.contains(f) {
                meta.fields.push(f.clone());
            }
        }
    }
    let path = |g: &Option<String>| match g {
        Some(field) => format!("detail.{field}"),
        None => "account".to_owned(),
    };
    let id = rule_id(&meta, doc);
    match plan.kind {
        Kind::Count { distinct, at_least } => {
            let group = &plan.group[0];
            if plan.group.iter().any(|g| g != group) {
                return Err("the rules counted together are grouped by different fields".into());
            }
            let refs: Vec<&Detection> = detections.iter().collect();
            let pattern = Detection::pattern(&refs);
            let state = (at_least > 1).then(|| StateSpec {
                threshold: Some(ThresholdSpec {
                    group_by: path(group),
                    distinct: distinct.map(|d| format!("detail.{d}")),
                    at_least,
                    window: plan.window.clone(),
                }),
                ..StateSpec::default()
            });
            let sigma = SigmaMatch {
                sigma_id: meta.id.clone(),
                first: detections,
                then: Vec::new(),
            };
            Ok(vec![rule(doc, &meta, &id, pattern, state, sigma)?])
        }
        Kind::Pair { ordered } => {
            let [a, b]: [Detection; 2] = detections
                .try_into()
                .map_err(|_| "a sequence joins exactly two rules".to_owned())?;
            let join = [path(&plan.group[0]), path(&plan.group[1])];
            let mut orders = vec![(a.clone(), b.clone(), join.clone(), id.clone())];
            if !ordered {
                // Either order: the reverse is a second sequence.
                let [ja, jb] = join;
                orders.push((b, a, [jb, ja], format!("{id}-reversed")));
            }
            orders
                .into_iter()
                .map(|(first, then, join, id)| {
                    let state = StateSpec {
                        sequence: Some(SequenceSpec {
                            then: Detection::pattern(&[&then]),
                            join,
                            differs: None,
                            within: plan.window.clone(),
                        }),
                        ..StateSpec::default()
                    };
                    let sigma = SigmaMatch {
                        sigma_id: meta.id.clone(),
                        first: vec![first.clone()],
                        then: vec![then],
                    };
                    let pattern = Detection::pattern(&[&first]);
                    rule(doc, &meta, &id, pattern, Some(state), sigma)
                })
                .collect()
        }
    }
}

/// `sigma-` + the Sigma id (or name, or file name), lowercase, other characters as `-`.
fn rule_id(meta: &Meta, doc: &Doc<'_>) -> String {
    let raw = meta
        .id
        .as_deref()
        .or(meta.name.as_deref())
        .unwrap_or(&doc.fallback_id);
    let mut id = String::from(ID_PREFIX);
    for c in raw.trim().chars() {
        let c = c.to_ascii_lowercase();
        id.push(if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        });
    }
    id
}

fn file_stem(origin: &str) -> String {
    let name = origin.rsplit(['/', '\\']).next().unwrap_or(origin);
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    if stem.is_empty() {
        "rule".into()
    } else {
        stem.to_owned()
    }
}

fn rule(
    doc: &Doc<'_>,
    meta: &Meta,
    id: &str,
    pattern: serde_json::Value,
    state: Option<StateSpec>,
    sigma: SigmaMatch,
) -> Result<Rule, String> {
    let context = meta
        .fields
        .iter()
        .filter(|f| !f.is_empty() && !mentions_secret(f) && !f.split('.').any(str::is_empty))
        .map(|f| (f.clone(), format!("detail.{f}")))
        .collect();
    let spec = RuleSpec {
        id: id.to_owned(),
        title: meta.title.clone(),
        description: meta.description.clone(),
        severity: meta.level.unwrap_or(Severity::Medium),
        tags: meta.tags.clone(),
        references: meta.references.clone(),
        pattern,
        escalate: Vec::new(),
        summary: SUMMARY.to_owned(),
        context,
        tests: Default::default(),
        state,
    };
    let mut rule = Rule::compile(spec, &doc.origin).map_err(|e| match e {
        RuleError::Invalid { message, .. } | RuleError::Yaml { message, .. } => message,
        RuleError::Pattern { source, .. } => format!("pre-filter pattern: {source}"),
        other => other.to_string(),
    })?;
    rule.sigma = Some(sigma);
    Ok(rule)
}

#[cfg(test)]
mod tests;
