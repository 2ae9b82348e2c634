//! The stateless detection engine: every rule's pattern compiled into one
//! [`PatternIndex`], so that an event only meets the rules that could match it.

use crate::alert::{Actor, Severity};
use crate::event::Event;
use crate::json::{with_segments, FieldSource, Leaf};
use crate::pattern::PatternIndex;
use crate::rule::{clean_text, Rule, Stage, Stateful};

/// One event matched by one rule: owned, small, and all the folder needs.
#[derive(Debug, Clone)]
pub struct Detection {
    pub rule: usize,
    pub time_ms: i64,
    pub event_id: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub actor: Actor,
    pub event_name: Option<String>,
    pub event_source: Option<String>,
    pub error_code: Option<String>,
    pub severity: Severity,
    pub reasons: Vec<String>,
    pub summary: String,
    pub context: Vec<(String, Vec<String>)>,
    /// Which part of the rule matched: the detection itself, or a step a stateful
    /// rule still has to judge (see `correlate`).
    pub stage: Stage,
    /// For a stateful rule: the key and the value the judging needs.
    pub observed: [Option<String>; 2],
    /// Further events of the same rule and actor in the same hour, kept only as what
    /// an alert counts (see `correlate`): a broad rule costs memory per alert, not per
    /// event.
    pub absorbed: Vec<Absorbed>,
}

/// One event folded into another detection: what the alert's count, eventIDs, times,
/// failures and severity need.
#[derive(Debug, Clone, PartialEq)]
pub struct Absorbed {
    pub time_ms: i64,
    pub event_id: String,
    pub severity: Severity,
    pub failed: bool,
}

impl Detection {
    /// What alerts are folded by: the actor's access key, else its ARN.
    pub fn group_key(&self) -> &str {
        self.actor
            .access_key_id
            .as_deref()
            .or(self.actor.arn.as_deref())
            .unwrap_or("unknown-actor")
    }
}

/// One rule (or part of a stateful rule) an event matched.
#[derive(Debug, Clone)]
pub struct Match {
    pub rule: usize,
    pub stage: Stage,
    /// For a stateful rule: the key and the value the judging needs.
    pub observed: [Option<String>; 2],
    pub time_ms: i64,
}

pub struct Engine {
    rules: Vec<Rule>,
    index: PatternIndex,
    /// For each pattern of the index: its rule and the part of the rule it is.
    entries: Vec<(usize, Stage)>,
}

impl Engine {
    pub fn new(rules: Vec<Rule>) -> Engine {
        let mut patterns = Vec::with_capacity(rules.len());
        let mut entries = Vec::with_capacity(rules.len());
        for (i, rule) in rules.iter().enumerate() {
            let stage = if rule.stateful.is_some() {
                Stage::First
            } else {
                Stage::Alert
            };
            patterns.push(rule.pattern.clone());
            entries.push((i, stage));
            if let Some(Stateful::Sequence { then, .. }) = &rule.stateful {
                patterns.push(then.clone());
                entries.push((i, Stage::Then));
            }
        }
        let index = PatternIndex::new(patterns);
        Engine {
            rules,
            index,
            entries,
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn index(&self) -> &PatternIndex {
        &self.index
    }

    /// The rule and part of it that pattern `i` of the index stands for.
    pub fn entry(&self, i: usize) -> (usize, Stage) {
        self.entries[i]
    }

    /// Appends a [`Detection`] for every rule the event matches.
    pub fn detect(&self, event: &Event<'_>, out: &mut Vec<Detection>) {
        self.each_match(event, |m| out.push(self.detection(&m, event)));
    }

    /// Calls `f` with every (rule, part) the event matches and what a stateful rule
    /// needs to judge it, without building the detection: most matches of stateful
    /// pre-filters are never reported, and a detection costs far more than a match.
    pub fn each_match(&self, event: &Event<'_>, mut f: impl FnMut(Match)) {
        let mut matched = Vec::new();
        self.index.matches_into(event, &mut matched);
        if matched.is_empty() {
            return;
        }
        let time_ms = event.time_millis().unwrap_or(0);
        for m in matched {
            let (rule, stage) = self.entries[m];
            // A Sigma rule's own condition, after its pre-filter pattern.
            if !self.rules[rule].passes(stage, event) {
                continue;
            }
            let observed = match &self.rules[rule].stateful {
                Some(s) => s
                    .paths(stage)
                    .map(|p| p.and_then(|p| with_segments(p, |p| event.first_string(p)))),
                None => [None, None],
            };
            f(Match {
                rule,
                stage,
                observed,
                time_ms,
            });
        }
    }

    /// The full detection for a match.
    /// What a collector needs of `event`'s matches, each part computed only if asked.
    pub fn source<'s, 'a>(&'s self, event: &'s Event<'a>) -> EventMatches<'s, 'a> {
        EventMatches {
            engine: self,
            event,
        }
    }

    /// The incident group of a detection built from `event`: as
    /// [`Detection::group_key`], without building the detection.
    pub fn group_key<'e>(&self, event: &'e Event<'_>) -> &'e str {
        let identity = event.identity();
        identity
            .and_then(|id| id.access_key_id.as_deref())
            .or_else(|| identity.and_then(|id| id.arn.as_deref().or(id.invoked_by.as_deref())))
            .unwrap_or("unknown-actor")
    }

    /// What is kept of a match folded into its incident without being shown.
    pub fn absorbed(&self, m: &Match, event: &Event<'_>) -> Absorbed {
        Absorbed {
            time_ms: m.time_ms,
            event_id: event.event_id().unwrap_or("").to_owned(),
            severity: self.rules[m.rule].severity_for(event).0,
            failed: event.record.error_code.is_some(),
        }
    }

    pub fn detection(&self, m: &Match, event: &Event<'_>) -> Detection {
        let (index, stage, rule) = (m.rule, m.stage, &self.rules[m.rule]);
        let observed = m.observed.clone();
        let (severity, reasons) = rule.severity_for(event);
        let identity = event.identity();
        let arn = identity
            .and_then(|id| id.arn.as_deref().or(id.invoked_by.as_deref()))
            .map(str::to_owned);
        let context = rule
            .context
            .iter()
            .map(|(name, path)| {
                let mut values = Vec::new();
                with_segments(path, |path| {
                    event.leaves(path, &mut |leaf| {
                        if leaf != Leaf::Null {
                            values.push(clean_text(&leaf.text()));
                        }
                    })
                });
                (name.clone(), values)
            })
            .filter(|(_, v)| !v.is_empty())
            .collect();
        Detection {
            rule: index,
            time_ms: event.time_millis().unwrap_or(0),
            event_id: event.event_id().unwrap_or("").to_owned(),
            account: event.account().map(str::to_owned),
            region: event.region().map(str::to_owned),
            actor: Actor {
                identity_type: identity.and_then(|i| i.identity_type.as_deref().map(str::to_owned)),
                arn,
                access_key_id: identity.and_then(|i| i.access_key_id.as_deref().map(str::to_owned)),
                source_ip: event.record.source_ip_address.as_deref().map(str::to_owned),
                user_agent: event.record.user_agent.as_deref().map(clean_text),
            },
            event_name: event.event_name().map(str::to_owned),
            event_source: event.event_source().map(str::to_owned),
            error_code: event.record.error_code.as_deref().map(str::to_owned),
            severity,
            reasons,
            summary: rule.summary.render(event),
            context,
            stage,
            observed,
            absorbed: Vec::new(),
        }
    }
}

/// What the collector asks of the event behind a match: the whole detection only when
/// it is kept, else the little an absorbed match leaves.
pub trait DetectionSource {
    fn detection(&self, m: &Match) -> Detection;
    fn absorbed(&self, m: &Match) -> Absorbed;
    /// [`Detection::group_key`] of the detection this would build.
    fn group_key(&self) -> &str;
}

/// [`DetectionSource`] over one event, from [`Engine::source`].
pub struct EventMatches<'s, 'a> {
    engine: &'s Engine,
    event: &'s Event<'a>,
}

impl DetectionSource for EventMatches<'_, '_> {
    fn detection(&self, m: &Match) -> Detection {
        self.engine.detection(m, self.event)
    }

    fn absorbed(&self, m: &Match) -> Absorbed {
        self.engine.absorbed(m, self.event)
    }

    fn group_key(&self) -> &str {
        self.engine.group_key(self.event)
    }
}

/// A detection already built (tests, merged runs) as a source of itself.
impl DetectionSource for Detection {
    fn detection(&self, _: &Match) -> Detection {
        self.clone()
    }

    fn absorbed(&self, _: &Match) -> Absorbed {
        Absorbed {
            time_ms: self.time_ms,
            event_id: self.event_id.clone(),
            severity: self.severity,
            failed: self.error_code.is_some(),
        }
    }

    fn group_key(&self) -> &str {
        Detection::group_key(self)
    }
}
