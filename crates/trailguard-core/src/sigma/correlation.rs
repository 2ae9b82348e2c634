//! Sigma correlations, as far as trailguard's stateful kinds express them.
//!
//! Two spellings lead here: Sigma 2's correlation rules (`correlation: {type:
//! event_count | value_count | temporal | temporal_ordered, ...}`) and Sigma 1's
//! aggregations in a rule's condition (`selection | count() by field > 5` with
//! `timeframe:`, `selection1 | near selection2`). Counts become `threshold` (at least N
//! matches, or distinct values, per group within a window); two rules in time order
//! become `sequence`. What neither can say (`<`, `=`, ranges, more than two rules in a
//! temporal correlation, several group-by fields) is refused with the reason.

use serde_norway::{Mapping, Value as Yaml};

use crate::rule::parse_duration;

use super::matcher::show;

/// What a correlation counts or orders.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// At least `at_least` matches (or distinct values of the Sigma field `distinct`).
    Count {
        distinct: Option<String>,
        at_least: u64,
    },
    /// Two rules' events within the window; `ordered`: the first rule's before the second's.
    Pair { ordered: bool },
}

/// A correlation, ready to become a stateful rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub(crate) kind: Kind,
    /// The Sigma field each referenced rule is grouped (joined) by, in rule order;
    /// `None`: not grouped by a field (trailguard groups by AWS account).
    pub(crate) group: Vec<Option<String>>,
    /// The window as written (`10m`), already checked.
    pub(crate) window: String,
}

fn window(text: Option<&str>, what: &str) -> Result<String, String> {
    let Some(text) = text else {
        return Err(format!("no `{what}`: a correlation needs its time window"));
    };
    parse_duration(text).map_err(|e| format!("`{what}`: {e}"))?;
    Ok(text.trim().to_owned())
}

/// `> n` and `>= n` as "at least"; the rest cannot be a threshold.
fn at_least(op: &str, n: u64) -> Result<u64, String> {
    match op {
        ">" | "gt" => n
            .checked_add(1)
            .ok_or_else(|| "count limit too large".to_owned()),
        ">=" | "gte" => Ok(n.max(1)),
        other => Err(format!(
            "a count compared with `{other}`: trailguard thresholds alert when at least N \
             events (or values) are seen; counts below or equal to a limit are not supported"
        )),
    }
}

/// A Sigma 1 aggregation (the part of a condition after `|`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Aggregation {
    Count(Kind, Option<String>),
    /// `near` and the condition the nearby event must meet.
    Near(String),
}

/// Parses `count([field]) [by group] op n` or `near condition`.
pub(crate) fn parse_aggregation(text: &str) -> Result<Aggregation, String> {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix("near ") {
        if rest.trim().is_empty() {
            return Err("`near` without a condition".into());
        }
        return Ok(Aggregation::Near(rest.trim().to_owned()));
    }
    let Some(open) = t.find('(') else {
        return Err(format!(
            "aggregation `{t}` is not `count(...) ... > N` or `near ...`"
        ));
    };
    let function = t[..open].trim();
    if function != "count" {
        return Err(format!(
            "aggregation `{function}()`: only `count()` and `near` are supported"
        ));
    }
    let close = t[open..]
        .find(')')
        .map(|i| open + i)
        .ok_or_else(|| format!("aggregation `{t}`: `(` without its `)`"))?;
    let field = t[open + 1..close].trim();
    let rest = t[close + 1..].trim();
    let (group, comparison) = match rest.strip_prefix("by ") {
        Some(r) => {
            let r = r.trim_start();
            let end = r.find(char::is_whitespace).unwrap_or(r.len());
            (Some(r[..end].to_owned()), r[end..].trim())
        }
        None => (None, rest),
    };
    let split = comparison
        .find(|c: char| c.is_ascii_digit())
        .ok_or_else(|| format!("aggregation `{t}`: no number to compare the count with"))?;
    let op = comparison[..split].trim();
    let n: u64 = comparison[split..]
        .trim()
        .parse()
        .map_err(|_| format!("aggregation `{t}`: the count limit is not a whole number"))?;
    let kind = Kind::Count {
        distinct: (!field.is_empty()).then(|| field.to_owned()),
        at_least: at_least(op, n)?,
    };
    Ok(Aggregation::Count(kind, group))
}

/// A Sigma 2 `correlation:` block: the plan and the rules it refers to (ids or names).
pub(crate) fn parse_correlation(block: &Yaml) -> Result<(Plan, Vec<String>), String> {
    let Some(map) = block.as_mapping() else {
        return Err("`correlation` is not a map".into());
    };
    let get = |k: &str| map.get(k);
    let kind = get("type").and_then(Yaml::as_str).unwrap_or("");
    let rules: Vec<String> = match get("rules") {
        Some(Yaml::Sequence(items)) => items
            .iter()
            .map(|r| {
                r.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("rule reference {} is not a string", show(r)))
            })
            .collect::<Result<_, _>>()?,
        Some(Yaml::String(one)) => vec![one.clone()],
        _ => return Err("`correlation.rules` lists no rule".into()),
    };
    if rules.is_empty() {
        return Err("`correlation.rules` lists no rule".into());
    }
    let group_by: Vec<String> = match get("group-by") {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::Sequence(items)) => items
            .iter()
            .map(|g| {
                g.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("group-by field {} is not a string", show(g)))
            })
            .collect::<Result<_, _>>()?,
        Some(Yaml::String(one)) => vec![one.clone()],
        Some(other) => {
            return Err(format!(
                "`group-by` {} is not a list of fields",
                show(other)
            ))
        }
    };
    if group_by.len() > 1 {
        return Err(format!(
            "group-by on {} fields ({}): trailguard groups a correlation by one field",
            group_by.len(),
            group_by.join(", ")
        ));
    }
    let aliases = get("aliases").and_then(Yaml::as_mapping);
    let window = window(get("timespan").and_then(Yaml::as_str), "timespan")?;
    let kind = match kind {
        "event_count" | "value_count" => {
            let cond = get("condition")
                .and_then(Yaml::as_mapping)
                .ok_or("no `condition` map (such as `gte: 10`)")?;
            count_kind(cond, kind == "value_count")?
        }
        "temporal" | "temporal_ordered" => {
            if rules.len() != 2 {
                return Err(format!(
                    "a {kind} correlation of {} rules: trailguard sequences join exactly two",
                    rules.len()
                ));
            }
            if let Some(cond) = get("condition").and_then(Yaml::as_mapping) {
                let ok = cond.len() == 1
                    && (matches!(cond.get("gte").and_then(Yaml::as_u64), Some(2))
                        || matches!(cond.get("gt").and_then(Yaml::as_u64), Some(1))
                        || matches!(cond.get("eq").and_then(Yaml::as_u64), Some(2)));
                if !ok {
                    return Err("a temporal condition other than \"both rules\"".into());
                }
            }
            Kind::Pair {
                ordered: kind == "temporal_ordered",
            }
        }
        "" => return Err("`correlation.type` is missing".into()),
        other => return Err(format!("correlation type `{other}` is not supported")),
    };
    let group = rules
        .iter()
        .map(|rule| group_field(group_by.first(), aliases, rule))
        .collect::<Result<_, _>>()?;
    Ok((
        Plan {
            kind,
            group,
            window,
        },
        rules,
    ))
}

/// The field `rule`'s events are grouped by: an alias resolved for it, or the field.
fn group_field(
    group: Option<&String>,
    aliases: Option<&Mapping>,
    rule: &str,
) -> Result<Option<String>, String> {
    let Some(group) = group else { return Ok(None) };
    let Some(alias) = aliases.and_then(|a| a.get(group.as_str())) else {
        return Ok(Some(group.clone()));
    };
    match alias
        .as_mapping()
        .and_then(|m| m.get(rule))
        .and_then(Yaml::as_str)
    {
        Some(field) => Ok(Some(field.to_owned())),
        None => Err(format!("alias `{group}` names no field for rule `{rule}`")),
    }
}

fn count_kind(cond: &Mapping, values: bool) -> Result<Kind, String> {
    let mut distinct = None;
    let mut limit = None;
    for (k, v) in cond {
        match k.as_str().unwrap_or("") {
            "field" if values => match v {
                Yaml::String(f) => distinct = Some(f.clone()),
                Yaml::Sequence(fs) if fs.len() == 1 && fs[0].is_string() => {
                    distinct = fs[0].as_str().map(str::to_owned)
                }
                other => return Err(format!("`field` {}: one field is counted", show(other))),
            },
            op @ ("gt" | "gte" | "lt" | "lte" | "eq") => {
                if limit.is_some() {
                    return Err(
                        "a range of counts: trailguard thresholds have a lower bound only".into(),
                    );
                }
                let n = v
                    .as_u64()
                    .ok_or_else(|| format!("`{op}` {} is not a whole number", show(v)))?;
                limit = Some(at_least(op, n)?);
            }
            other => return Err(format!("unknown correlation condition `{other}`")),
        }
    }
    if values && distinct.is_none() {
        return Err("a value_count correlation without `condition.field`".into());
    }
    let at_least = limit.ok_or("the condition gives no `gte` or `gt`")?;
    Ok(Kind::Count { distinct, at_least })
}

/// A Sigma 1 aggregation with the rule's `timeframe`, as a plan for one rule.
pub(crate) fn plan_aggregation(agg: &Aggregation, timeframe: Option<&str>) -> Result<Plan, String> {
    let (kind, group, sides) = match agg {
        Aggregation::Count(kind, group) => (kind.clone(), group.clone(), 1),
        Aggregation::Near(_) => (Kind::Pair { ordered: false }, None, 2),
    };
    let what = if sides == 2 {
        "`near` needs a `timeframe`"
    } else {
        "an aggregation needs a `timeframe`"
    };
    let window = match timeframe {
        None => return Err(format!("{what} (none given)")),
        Some(t) => window(Some(t), "timeframe")?,
    };
    Ok(Plan {
        kind,
        group: vec![group; sides],
        window,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigma_1_aggregations() {
        let count = |t: &str| match parse_aggregation(t).unwrap() {
            Aggregation::Count(Kind::Count { distinct, at_least }, group) => {
                (distinct, group, at_least)
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(count(" count() > 10"), (None, None, 11));
        assert_eq!(
            count("count() by sourceIPAddress > 5"),
            (None, Some("sourceIPAddress".into()), 6)
        );
        assert_eq!(
            count("count(eventName) by userIdentity.arn >= 3"),
            (Some("eventName".into()), Some("userIdentity.arn".into()), 3)
        );
        assert_eq!(
            parse_aggregation("near selection2 and not filter").unwrap(),
            Aggregation::Near("selection2 and not filter".into())
        );
        for (bad, why) in [
            ("count() < 5", "below or equal"),
            ("count() = 5", "below or equal"),
            ("sum(x) > 5", "only `count()`"),
            ("count() >", "no number"),
            ("count > 5", "not `count(...)"),
            ("count( > 5", "without its `)`"),
            ("count() > 99999999999999999999999", "whole number"),
            ("near ", "not `count"),
        ] {
            let err = parse_aggregation(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let agg = parse_aggregation("count() > 5").unwrap();
        assert!(plan_aggregation(&agg, None)
            .unwrap_err()
            .contains("timeframe"));
        assert!(plan_aggregation(&agg, Some("10x")).is_err());
        let plan = plan_aggregation(&agg, Some("10m")).unwrap();
        assert_eq!(plan.window, "10m");
    }

    #[test]
    fn sigma_2_correlations() {
        let yaml = |t: &str| -> Yaml { serde_norway::from_str(t).unwrap() };
        let (plan, rules) = parse_correlation(&yaml(
            "{type: event_count, rules: [a], group-by: [userIdentity.arn], timespan: 1h, condition: {gte: 100}}",
        ))
        .unwrap();
        assert_eq!(rules, ["a"]);
        assert_eq!(
            plan.kind,
            Kind::Count {
                distinct: None,
                at_least: 100
            }
        );
        assert_eq!(plan.group, [Some("userIdentity.arn".into())]);
        let (plan, _) = parse_correlation(&yaml(
            "{type: value_count, rules: [a], timespan: 1d, condition: {field: eventName, gt: 9}}",
        ))
        .unwrap();
        assert_eq!(
            plan.kind,
            Kind::Count {
                distinct: Some("eventName".into()),
                at_least: 10
            }
        );
        assert_eq!(plan.group, [None]);
        let (plan, _) = parse_correlation(&yaml(
            "{type: temporal_ordered, rules: [a, b], group-by: [ip], timespan: 5m, aliases: {ip: {a: sourceIPAddress, b: requestParameters.ip}}}",
        ))
        .unwrap();
        assert_eq!(plan.kind, Kind::Pair { ordered: true });
        assert_eq!(
            plan.group,
            [
                Some("sourceIPAddress".into()),
                Some("requestParameters.ip".into())
            ]
        );
        for (bad, why) in [
            ("{type: event_count, rules: [a], timespan: 1h, condition: {lt: 5}}", "below or equal"),
            ("{type: event_count, rules: [a], timespan: 1h, condition: {gt: 5, lte: 9}}", "range"),
            ("{type: event_count, rules: [a], condition: {gte: 5}}", "timespan"),
            ("{type: temporal, rules: [a, b, c], timespan: 1h}", "exactly two"),
            ("{type: event_count, rules: [a], group-by: [x, y], timespan: 1h, condition: {gte: 5}}", "one field"),
            ("{type: value_count, rules: [a], timespan: 1h, condition: {gte: 5}}", "condition.field"),
            ("{type: magic, rules: [a], timespan: 1h}", "not supported"),
            ("{rules: [a], timespan: 1h}", "missing"),
            ("{type: event_count, rules: [], timespan: 1h}", "no rule"),
            ("[1]", "not a map"),
        ] {
            let err = parse_correlation(&yaml(bad)).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
