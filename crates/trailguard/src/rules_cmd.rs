//! `trailguard rules`: list, show and test the rule set (`export` is in `export.rs`).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use trailguard_core::rule::{builtin_sources, load_rules, Rule};
use trailguard_core::sigma::{self, Skipped};

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
    let mut texts: Vec<(String, String)> = Vec::new();
    if !from.no_builtin {
        for (name, text) in builtin_sources() {
            texts.push((format!("rules/{name} (built-in)"), (*text).to_owned()));
        }
    }
    for dir in from.rules {
        let entries = fs::read_dir(dir)
            .with_context(|| format!("cannot read rules folder {}", dir.display()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_yaml(p))
            .collect();
        files.sort();
        for f in files {
            let text = fs::read_to_string(&f)
                .with_context(|| format!("cannot read rule file {}", f.display()))?;
            texts.push((f.display().to_string(), text));
        }
    }
    let mut rules = load_rules(texts.iter().map(|(o, t)| (o.clone(), t.as_str())))?;
    let mut texts: Vec<String> = texts.into_iter().map(|(_, t)| t).collect();
    if !from.sigma.is_empty() {
        let (mut sigma_rules, sigma_texts) = load_sigma(from.sigma, &rules, from.quiet)?;
        rules.append(&mut sigma_rules);
        texts.extend(sigma_texts);
    }
    if rules.is_empty() {
        bail!("no rules loaded: give --rules DIR or --sigma DIR, or drop --no-builtin");
    }
    Ok((rules, texts))
}

fn is_yaml(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "yml" || e == "yaml")
}

/// Sigma rules under `dirs` (folders searched recursively, or files); what cannot
/// run is reported on stderr as a warning.
fn load_sigma(dirs: &[PathBuf], others: &[Rule], quiet: bool) -> Result<(Vec<Rule>, Vec<String>)> {
    let mut skipped: Vec<Skipped> = Vec::new();
    let mut sources: Vec<(String, String)> = Vec::new();
    for dir in dirs {
        let meta = fs::metadata(dir)
            .with_context(|| format!("cannot read Sigma folder {}", dir.display()))?;
        let mut files = Vec::new();
        if meta.is_file() {
            files.push(dir.clone());
        } else {
            for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
                let entry =
                    entry.with_context(|| format!("cannot read Sigma folder {}", dir.display()))?;
                if entry.file_type().is_file() && is_yaml(entry.path()) {
                    files.push(entry.into_path());
                }
            }
        }
        for f in files {
            let origin = f.display().to_string();
            match fs::read(&f).map(String::from_utf8) {
                Ok(Ok(text)) => sources.push((origin, text)),
                Ok(Err(_)) => skipped.push(Skipped {
                    origin,
                    rule: "-".into(),
                    reason: "not UTF-8 text".into(),
                }),
                Err(e) => skipped.push(Skipped {
                    origin,
                    rule: "-".into(),
                    reason: format!("cannot read: {e}"),
                }),
            }
        }
    }
    let loaded = sigma::load(sources.iter().map(|(o, t)| (o.clone(), t.as_str())));
    skipped.extend(loaded.skipped);
    let taken: HashSet<&str> = others.iter().map(Rule::id).collect();
    let mut rules = Vec::with_capacity(loaded.rules.len());
    let mut texts = Vec::with_capacity(loaded.rules.len());
    for ((rule, text), origin) in loaded
        .rules
        .into_iter()
        .zip(loaded.texts)
        .zip(loaded.origins)
    {
        if taken.contains(rule.id()) {
            skipped.push(Skipped {
                origin,
                rule: rule.spec.title.clone(),
                reason: format!(
                    "duplicate id `{}` (a --rules or built-in rule has it)",
                    rule.id()
                ),
            });
            continue;
        }
        rules.push(rule);
        texts.push(text);
    }
    for s in &skipped {
        eprintln!(
            "warning: {}: Sigma rule {}: not loaded: {}",
            s.origin, s.rule, s.reason
        );
    }
    if !quiet {
        eprintln!(
            "{}",
            sigma_summary(rules.len(), &skipped, loaded.correlated_only.len())
        );
    }
    Ok((rules, texts))
}

/// `trailguard: N Sigma rules loaded, M unsupported (file: reason; ...)`.
fn sigma_summary(loaded: usize, skipped: &[Skipped], correlated_only: usize) -> String {
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            one.to_owned()
        } else {
            many.to_owned()
        }
    };
    let mut line = format!(
        "trailguard: {loaded} Sigma {} loaded, {} unsupported",
        plural(loaded, "rule", "rules"),
        skipped.len()
    );
    if !skipped.is_empty() {
        const SHOWN: usize = 5;
        let mut reasons: Vec<String> = skipped
            .iter()
            .take(SHOWN)
            .map(|s| {
                let file = s.origin.rsplit(['/', '\\']).next().unwrap_or(&s.origin);
                format!("{file}: {}", short_reason(&s.reason))
            })
            .collect();
        if skipped.len() > SHOWN {
            reasons.push(format!("{} more, see the warnings", skipped.len() - SHOWN));
        }
        line.push_str(&format!(" ({})", reasons.join("; ")));
    }
    if correlated_only > 0 {
        line.push_str(&format!(
            "; {correlated_only} {} only into correlations",
            plural(correlated_only, "rule feeds", "rules feed")
        ));
    }
    line
}

/// A reason's first clause: up to the first `: ` or `; ` outside backquotes (past a
/// leading "`selection`: " that only names where).
fn short_reason(reason: &str) -> &str {
    let mut quoted = false;
    for (i, c) in reason.char_indices() {
        match c {
            '`' => quoted = !quoted,
            ':' | ';' if !quoted && reason[i + 1..].starts_with(' ') => {
                let head = &reason[..i];
                let only_where =
                    head.starts_with('`') && head.ends_with('`') && !head.contains(' ');
                if !only_where {
                    return head;
                }
            }
            _ => {}
        }
    }
    reason
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
