//! `trailguard rules`: list, show and test the rule set (`export` is in `export.rs`).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use trailguard_core::rule::Rule;
use trailguard_io::rules;

use crate::args::{RulesArgs, RulesCommand};
use crate::exit;

/// Where the rules come from: the built-in pack, `--rules` and `--sigma` folders.
#[derive(Debug, Clone, Copy)]
pub struct RuleSources<'a> {
    pub rules: &'a [PathBuf],
    pub sigma: &'a [PathBuf],
    pub no_builtin: bool,
    /// No summary line on stderr (warnings are still given).
    pub quiet: bool,
}

impl<'a> RuleSources<'a> {
    pub fn of(a: &'a RulesArgs) -> RuleSources<'a> {
        RuleSources {
            rules: &a.rules,
            sigma: &a.sigma,
            no_builtin: a.no_builtin,
            quiet: false,
        }
    }
}

/// The built-in pack (unless disabled), every `*.yml`/`*.yaml` in the `--rules`
/// folders and the Sigma rules under the `--sigma` folders. Sigma rules that cannot
/// run are reported on stderr, with a summary line, and skipped.
pub fn load_rule_set(from: RuleSources<'_>) -> Result<Vec<Rule>> {
    Ok(load_rule_texts(from)?.0)
}

/// The rules and the YAML texts they came from, in the same order.
fn load_rule_texts(from: RuleSources<'_>) -> Result<(Vec<Rule>, Vec<String>)> {
    let loaded = rules::load_rule_set(rules::RuleSources {
        rules: from.rules,
        sigma: from.sigma,
        no_builtin: from.no_builtin,
    });
    // What Sigma could not load is said first, also when nothing is left to run.
    let report = |set: &rules::RuleSet| {
        for w in set.warnings() {
            eprintln!("warning: {w}");
        }
        if !from.quiet {
            if let Some(line) = set.sigma_summary() {
                eprintln!("{line}");
            }
        }
    };
    let set = match loaded {
        Ok(set) => set,
        Err(rules::RuleSetError::Empty(set)) => {
            report(&set);
            return Err(rules::RuleSetError::Empty(set).into());
        }
        Err(e) => return Err(e.into()),
    };
    report(&set);
    Ok((set.rules, set.texts))
}

pub fn run(cmd: RulesCommand) -> Result<u8> {
    match cmd {
        RulesCommand::List(a) => {
            let rules = load(&a)?;
            let width = rules.iter().map(|r| r.id().len()).max().unwrap_or(0);
            let kinds: Vec<&str> = rules.iter().map(kind).collect();
            let kind_width = kinds.iter().map(|k| k.len()).max().unwrap_or(0).max(8);
            let mut text = String::new();
            for (r, kind) in rules.iter().zip(kinds) {
                text.push_str(&format!(
                    "{:<width$}  {:<8}  {:<kind_width$}  {}\n",
                    r.id(),
                    r.spec.severity.as_str(),
                    kind,
                    r.spec.title
                ));
            }
            write_stdout(&text)?;
            Ok(exit::OK)
        }
        RulesCommand::Show { id, rules } => {
            check(&rules)?;
            let (all, texts) = load_rule_texts(RuleSources::of(&rules))?;
            let Some(i) = all.iter().position(|r| r.id() == id) else {
                bail!("no rule with id `{id}` (see `trailguard rules list`)");
            };
            write_stdout(&texts[i])?;
            Ok(exit::OK)
        }
        RulesCommand::Test(a) => {
            let rules = load(&a)?;
            let failures: Vec<String> = rules.iter().flat_map(Rule::self_test).collect();
            let cases: usize = rules
                .iter()
                .map(|r| r.spec.tests.must_match.len() + r.spec.tests.no_match.len())
                .sum();
            for f in &failures {
                println!("FAIL {f}");
            }
            let sigma = rules.iter().filter(|r| r.sigma.is_some()).count();
            let untested = if sigma > 0 {
                format!(" ({sigma} Sigma rules carry no test events)")
            } else {
                String::new()
            };
            println!(
                "{} rules, {cases} test events: {} passed, {} failed{untested}",
                rules.len(),
                cases - failures.len().min(cases),
                failures.len()
            );
            Ok(if failures.is_empty() {
                exit::OK
            } else {
                exit::ALERTS
            })
        }
        RulesCommand::Export(a) => crate::export::run(a),
    }
}

/// Writes to standard output; a closed pipe (`| head`) is the reader's choice.
fn write_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to standard output"),
    }
}

/// `stateful`, `sigma`, both, or nothing: what `rules list` shows of a rule.
fn kind(r: &Rule) -> &'static str {
    match (r.sigma.is_some(), r.stateful.is_some()) {
        (true, true) => "sigma,stateful",
        (true, false) => "sigma",
        (false, true) => "stateful",
        (false, false) => "",
    }
}

pub fn check(a: &RulesArgs) -> Result<()> {
    if a.no_builtin && a.rules.is_empty() && a.sigma.is_empty() {
        bail!("--no-builtin needs --rules DIR or --sigma DIR");
    }
    Ok(())
}

/// The rule set `--rules`/`--sigma`/`--no-builtin` ask for.
pub fn load(a: &RulesArgs) -> Result<Vec<Rule>> {
    check(a)?;
    load_rule_set(RuleSources::of(a))
}
