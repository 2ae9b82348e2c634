//! `trailguard deploy template`: the CloudFormation templates that run trailguard as a
//! Lambda function (central) and forward every other region's events to it
//! (`--forwarder`). The EventBridge rules are the rule pack's exported patterns
//! (`rules export`), so what is deployed decides exactly what the CLI decides.
//!
//! Written by hand as YAML with long-form intrinsics (`{Ref: X}`, `{"Fn::GetAtt": [...]}`)
//! and every string from a rule double-quoted, for the reasons `export.rs` gives
//! (CloudFormation reads YAML 1.1), and so that any YAML reader can check it.

mod central;
mod forwarder;
mod readonly;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};

use anyhow::{bail, Context, Result};

use crate::deploy_args::{DeployCommand, DeployTemplateArgs};
use crate::exit;
use crate::export::{self, ExportedRule};
use crate::rules_cmd;

pub use readonly::needs_all_management_events;

/// EventBridge's default quota of rules per event bus.
const MAX_RULES_PER_BUS: usize = 300;
/// CloudWatch Logs' accepted retention periods, in days.
const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
/// How long EventBridge keeps trying to deliver an event to a target, and how often.
const RETRY_EVENT_AGE_SECONDS: u32 = 86_400;
const RETRY_ATTEMPTS: u32 = 185;

/// One EventBridge rule to write: its pattern (as `rules export` gives it) and state.
pub struct DeployedRule<'a> {
    pub exported: ExportedRule<'a>,
    /// `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` when the pattern can match a
    /// read-only management event (those are not delivered to `ENABLED` rules).
    pub state: &'static str,
}

/// The validated options of one template.
pub struct TemplateOptions {
    pub central_region: String,
    pub arch: &'static str,
    pub memory: u32,
    pub timeout: u32,
    pub url_env: &'static str,
    pub log_retention: u32,
    pub allow_remediation: bool,
}

pub fn run(cmd: DeployCommand) -> Result<u8> {
    match cmd {
        DeployCommand::Template(a) => template(a),
    }
}

fn template(a: DeployTemplateArgs) -> Result<u8> {
    if !LOG_RETENTION_DAYS.contains(&a.log_retention) {
        bail!(
            "--log-retention: {} is not a period CloudWatch Logs accepts ({})",
            a.log_retention,
            LOG_RETENTION_DAYS.map(|d| d.to_string()).join(", ")
        );
    }
    if !is_region(&a.central_region) {
        bail!(
            "--central-region: `{}` is not a region name like us-east-1",
            a.central_region.chars().take(40).collect::<String>()
        );
    }
    let rules = rules_cmd::load(&a.rules)?;
    let mut deployed = Vec::with_capacity(rules.len());
    let mut refused = 0;
    for rule in &rules {
        match ExportedRule::of(rule) {
            Ok(exported) => deployed.push(DeployedRule {
                state: if needs_all_management_events(exported.event_pattern) {
                    "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
                } else {
                    "ENABLED"
                },
                exported,
            }),
            Err(reason) => {
                eprintln!("error: {reason}");
                refused += 1;
            }
        }
    }
    if refused > 0 {
        eprintln!(
            "error: {refused} of {} rules cannot be EventBridge rules; no template written \
             (a deployment missing rules would fail silently)",
            rules.len()
        );
        return Ok(exit::ERROR);
    }
    if deployed.len() > MAX_RULES_PER_BUS {
        eprintln!(
            "warning: {} rules: over EventBridge's default quota of {MAX_RULES_PER_BUS} rules \
             per event bus (a quota AWS can raise)",
            deployed.len()
        );
    }
    let wildcards = deployed
        .iter()
        .filter(|r| export::uses_operator(r.exported.event_pattern, "wildcard"))
        .count();
    if wildcards > export::MAX_WILDCARD_RULES_PER_BUS {
        eprintln!(
            "warning: {wildcards} rules use `wildcard`; an EventBridge bus takes at most {} such rules",
            export::MAX_WILDCARD_RULES_PER_BUS
        );
    }
    let options = TemplateOptions {
        central_region: a.central_region.clone(),
        arch: a.arch.as_str(),
        memory: a.memory,
        timeout: a.timeout,
        url_env: a.sink.url_env(),
        log_retention: a.log_retention,
        allow_remediation: a.allow_remediation,
    };
    let text = if a.forwarder {
        forwarder::template(&deployed, &options)
    } else {
        central::template(&deployed, &options)
    };
    match &a.out {
        Some(path) => {
            fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => {
            let mut out = io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                other => other.context("cannot write to standard output")?,
            }
        }
    }
    Ok(exit::OK)
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-5`...
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.len() <= 4
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// The `AWS::Events::Rule` resources, each sending to the target that `target` writes
/// (the lines under `- Id: trailguard`, indented ten spaces).
fn rule_resources(rules: &[DeployedRule<'_>], target: &[String], dlq: &str) -> String {
    let mut taken = HashSet::new();
    let mut y = String::new();
    for r in rules {
        let e = &r.exported;
        let description = format!("trailguard rule {} ({}): {}", e.rule, e.severity, e.title);
        let mut pattern = String::new();
        export::flow(e.event_pattern, &mut pattern);
        let mut lines = vec![
            format!("  {}:", export::logical_id(e.rule, &mut taken)),
            "    Type: AWS::Events::Rule".into(),
            "    Properties:".into(),
            format!("      Name: {}", export::quoted(&export::rule_name(e.rule))),
            format!(
                "      Description: {}",
                export::quoted(&export::cut(&description, export::MAX_RULE_DESCRIPTION))
            ),
            format!("      EventPattern: {pattern}"),
            format!("      State: {}", r.state),
            "      Targets:".into(),
            "        - Id: trailguard".into(),
        ];
        lines.extend(target.iter().cloned());
        lines.extend([
            "          RetryPolicy:".into(),
            format!("            MaximumEventAgeInSeconds: {RETRY_EVENT_AGE_SECONDS}"),
            format!("            MaximumRetryAttempts: {RETRY_ATTEMPTS}"),
            "          DeadLetterConfig:".into(),
            format!("            Arn: {{\"Fn::GetAtt\": [{dlq}, Arn]}}"),
        ]);
        y.push_str(&lines.join("\n"));
        y.push('\n');
    }
    y
}

/// How many rules get each state, for the header comment.
fn state_counts(rules: &[DeployedRule<'_>]) -> (usize, usize) {
    let all = rules.iter().filter(|r| r.state != "ENABLED").count();
    (rules.len() - all, all)
}
