//! `trailguard rules`: list, show and test the rule set (`export` is in `export.rs`).

use std::fs;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use trailguard_core::rule::{builtin_sources, load_rules, Rule};

use crate::args::{RulesArgs, RulesCommand};
use crate::exit;

/// The built-in pack (unless disabled) plus every `*.yml`/`*.yaml` in `dirs`.
pub fn load_rule_set(dirs: &[PathBuf], no_builtin: bool) -> Result<Vec<Rule>> {
    Ok(load_rule_texts(dirs, no_builtin)?.0)
}

/// The rules and the YAML texts they came from, in the same order.
fn load_rule_texts(dirs: &[PathBuf], no_builtin: bool) -> Result<(Vec<Rule>, Vec<String>)> {
    let mut texts: Vec<(String, String)> = Vec::new();
    if !no_builtin {
        for (name, text) in builtin_sources() {
            texts.push((format!("rules/{name} (built-in)"), (*text).to_owned()));
        }
    }
    for dir in dirs {
        let entries = fs::read_dir(dir)
            .with_context(|| format!("cannot read rules folder {}", dir.display()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
            .collect();
        files.sort();
        for f in files {
            let text = fs::read_to_string(&f)
                .with_context(|| format!("cannot read rule file {}", f.display()))?;
            texts.push((f.display().to_string(), text));
        }
    }
    let rules = load_rules(texts.iter().map(|(o, t)| (o.clone(), t.as_str())))?;
    if rules.is_empty() {
        bail!("no rules loaded: give --rules DIR or drop --no-builtin");
    }
    Ok((rules, texts.into_iter().map(|(_, t)| t).collect()))
}

pub fn run(cmd: RulesCommand) -> Result<u8> {
    match cmd {
        RulesCommand::List(a) => {
            let rules = load(&a)?;
            let width = rules.iter().map(|r| r.id().len()).max().unwrap_or(0);
            let mut text = String::new();
            for r in &rules {
                let kind = if r.stateful.is_some() { "stateful" } else { "" };
                text.push_str(&format!(
                    "{:<width$}  {:<8}  {:<8}  {}\n",
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
            let (all, texts) = load_rule_texts(&rules.rules, rules.no_builtin)?;
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
            println!(
                "{} rules, {cases} test events: {} passed, {} failed",
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

/// The rule set `--rules`/`--no-builtin` ask for.
pub fn load(a: &RulesArgs) -> Result<Vec<Rule>> {
    if a.no_builtin && a.rules.is_empty() {
        bail!("--no-builtin needs --rules DIR");
    }
    load_rule_set(&a.rules, a.no_builtin)
}
