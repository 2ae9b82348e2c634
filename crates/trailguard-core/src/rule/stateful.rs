//! `state:` in a rule: judging an event by what came before it.
//!
//! The rule's `match:` pattern becomes a pre-filter; what it matches is collected and
//! judged in time order against a [`crate::state::Store`] (see `correlate`).

use serde::Deserialize;

use crate::pattern::{Pattern, PatternError};

/// One of the three kinds, as written in YAML (`state: {first_seen: {...}}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSpec {
    #[serde(default)]
    pub first_seen: Option<FirstSeenSpec>,
    #[serde(default)]
    pub threshold: Option<ThresholdSpec>,
    #[serde(default)]
    pub sequence: Option<SequenceSpec>,
}

/// A value (source IP, user agent, region) not seen before for a key (access key,
/// principal, account), once the key has been known for the learning period.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstSeenSpec {
    pub value: String,
    pub per: String,
    /// How long a key must have been seen before its new values alert (`7d`).
    #[serde(default)]
    pub learning: Option<String>,
}

/// At least `at_least` matches (or distinct values of `distinct`) within `window`,
/// per `group_by`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdSpec {
    pub group_by: String,
    #[serde(default)]
    pub distinct: Option<String>,
    pub at_least: u64,
    pub window: String,
}

/// The `match:` event, then a `then:` event within `within`, joined on a value
/// (`join: [path in the first, path in the second]`), optionally only when another
/// value differs between them (`differs: [path in the first, path in the second]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceSpec {
    pub then: serde_json::Value,
    pub join: [String; 2],
    #[serde(default)]
    pub differs: Option<[String; 2]>,
    pub within: String,
}

/// A compiled `state:` block.
#[derive(Debug, Clone)]
pub enum Stateful {
    FirstSeen {
        per: Vec<String>,
        value: Vec<String>,
        learning_ms: i64,
    },
    Threshold {
        group_by: Vec<String>,
        distinct: Option<Vec<String>>,
        at_least: u64,
        window_ms: i64,
    },
    Sequence {
        then: Pattern,
        join: [Vec<String>; 2],
        differs: Option<[Vec<String>; 2]>,
        within_ms: i64,
    },
}

/// Which part of a stateful rule an event matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// An ordinary rule: the match is the detection.
    Alert,
    /// The pre-filter of a stateful rule (the first step of a sequence).
    First,
    /// The `then:` step of a sequence.
    Then,
}

#[derive(Debug)]
pub(super) enum StateError {
    Pattern(PatternError),
    Invalid(String),
}

fn path(p: &str) -> Vec<String> {
    p.split('.').map(str::to_owned).collect()
}

impl Stateful {
    pub(super) fn compile(spec: &StateSpec) -> Result<Stateful, StateError> {
        let duration = |what: &str, s: &str| {
            parse_duration(s).map_err(|e| StateError::Invalid(format!("{what}: {e}")))
        };
        let kinds = [
            spec.first_seen.is_some(),
            spec.threshold.is_some(),
            spec.sequence.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(StateError::Invalid(
                "give exactly one of first_seen, threshold, sequence".into(),
            ));
        }
        Ok(match (&spec.first_seen, &spec.threshold, &spec.sequence) {
            (Some(f), _, _) => Stateful::FirstSeen {
                per: path(&f.per),
                value: path(&f.value),
                learning_ms: match &f.learning {
                    Some(l) => duration("learning", l)?,
                    None => 0,
                },
            },
            (_, Some(t), _) => {
                if t.at_least < 2 {
                    return Err(StateError::Invalid(
                        "threshold: at_least must be 2 or more (1 is an ordinary rule)".into(),
                    ));
                }
                Stateful::Threshold {
                    group_by: path(&t.group_by),
                    distinct: t.distinct.as_deref().map(path),
                    at_least: t.at_least,
                    window_ms: duration("window", &t.window)?,
                }
            }
            (_, _, Some(s)) => Stateful::Sequence {
                then: Pattern::from_value(&s.then).map_err(StateError::Pattern)?,
                join: [path(&s.join[0]), path(&s.join[1])],
                differs: s.differs.as_ref().map(|[a, b]| [path(a), path(b)]),
                within_ms: duration("within", &s.within)?,
            },
            (None, None, None) => unreachable!("exactly one kind was checked above"),
        })
    }

    /// The paths a match at `stage` must carry to be judged later: the key first, the
    /// value (or item, or the value that must differs) second.
    pub fn paths(&self, stage: Stage) -> [Option<&[String]>; 2] {
        match (self, stage) {
            (Stateful::FirstSeen { per, value, .. }, _) => [Some(per), Some(value)],
            (
                Stateful::Threshold {
                    group_by, distinct, ..
                },
                _,
            ) => [Some(group_by), distinct.as_deref()],
            (Stateful::Sequence { join, differs, .. }, Stage::Then) => {
                [Some(&join[1]), differs.as_ref().map(|d| d[1].as_slice())]
            }
            (Stateful::Sequence { join, differs, .. }, _) => {
                [Some(&join[0]), differs.as_ref().map(|d| d[0].as_slice())]
            }
        }
    }

    /// Every path the block reads, for the credential check.
    pub(super) fn all_paths(&self) -> Vec<&[String]> {
        let mut out: Vec<&[String]> = Vec::new();
        for stage in [Stage::First, Stage::Then] {
            out.extend(self.paths(stage).into_iter().flatten());
        }
        out
    }
}

/// `90s`, `10m`, `24h`, `7d`, `2w` in milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 10m, 24h or 7d"))?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return Err(format!("`{s}`: the unit of a duration is s, m, h, d or w")),
    };
    match n.checked_mul(unit_ms) {
        Some(ms) if ms > 0 => Ok(ms),
        Some(_) => Err(format!("`{s}` must be longer than zero")),
        None => Err(format!("`{s}` is too long")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Ok(600_000));
        assert_eq!(parse_duration(" 7d "), Ok(604_800_000));
        for bad in ["", "10", "m", "0s", "1y", "-5m", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn yaml_shapes() {
        let s: StateSpec = serde_norway::from_str(
            "first_seen: {value: detail.sourceIPAddress, per: detail.userIdentity.accessKeyId, learning: 1d}",
        )
        .unwrap();
        let c = Stateful::compile(&s).unwrap();
        let [k, v] = c.paths(Stage::First);
        assert_eq!(k.unwrap().join("."), "detail.userIdentity.accessKeyId");
        assert_eq!(v.unwrap().join("."), "detail.sourceIPAddress");
        let bad: Result<StateSpec, _> =
            serde_norway::from_str("threshold: {group_by: a, at_least: 5}");
        assert!(bad.is_err(), "window is required");
        let two: StateSpec = serde_norway::from_str(
            "{first_seen: {value: a, per: b}, threshold: {group_by: a, at_least: 5, window: 1m}}",
        )
        .unwrap();
        assert!(Stateful::compile(&two).is_err(), "one kind per rule");
        assert!(Stateful::compile(&StateSpec::default()).is_err());
        let one = StateSpec {
            threshold: Some(ThresholdSpec {
                group_by: "a".into(),
                distinct: None,
                at_least: 1,
                window: "1m".into(),
            }),
            ..StateSpec::default()
        };
        assert!(Stateful::compile(&one).is_err());
    }
}
