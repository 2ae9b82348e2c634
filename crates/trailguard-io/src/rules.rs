//! The rule set of a run: the built-in pack, folders of trailguard rules and folders of
//! Sigma rules, loaded the same way by the command line and the Lambda.
//!
//! A library function rather than CLI code because every way of running must judge
//! with exactly the same rules. It never prints: Sigma rules that cannot run are
//! returned in [`RuleSet::sigma_skipped`] (with [`RuleSet::warnings`] and
//! [`RuleSet::sigma_summary`] worded for people), and the caller decides where they go
//! (stderr for the CLI, the function's log for the Lambda).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use trailguard_core::rule::{builtin_sources, load_rules, Rule, RuleError};
use trailguard_core::sigma::{self, Skipped};

/// Where the rules come from.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleSources<'a> {
    /// Folders of trailguard rules (`*.yml`, `*.yaml`, not recursive).
    pub rules: &'a [PathBuf],
    /// Sigma folders (searched recursively) or files.
    pub sigma: &'a [PathBuf],
    pub no_builtin: bool,
}

/// The loaded rules, the YAML texts they came from (same order), and what Sigma
/// could not load.
#[derive(Debug)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub texts: Vec<String>,
    /// Sigma rules not loaded, with why. Never an error: the rest still runs.
    pub sigma_skipped: Vec<Skipped>,
    /// Sigma rules loaded (0 without Sigma folders).
    pub sigma_loaded: usize,
    /// Sigma detection rules that only feed correlations (no alert of their own).
    pub sigma_correlated_only: usize,
    /// Whether Sigma folders were given (the summary line is only for them).
    pub sigma_given: bool,
}

/// Why no rule set could be made. Names the folder or file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleSetError {
    #[error("cannot read rules folder {path}: {reason}")]
    RulesFolder { path: String, reason: String },
    #[error("cannot read rule file {path}: {reason}")]
    RuleFile { path: String, reason: String },
    #[error("cannot read Sigma folder {path}: {reason}")]
    SigmaFolder { path: String, reason: String },
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// Nothing to run; holds what was tried (the Sigma rules not loaded, and why), so
    /// that the caller can report them before the error.
    #[error("no rules loaded: give --rules DIR or --sigma DIR, or drop --no-builtin")]
    Empty(Box<RuleSet>),
}

impl RuleSet {
    /// One `warning:`-worthy line per Sigma rule not loaded.
    pub fn warnings(&self) -> Vec<String> {
        self.sigma_skipped
            .iter()
            .map(|s| {
                format!(
                    "{}: Sigma rule {}: not loaded: {}",
                    s.origin, s.rule, s.reason
                )
            })
            .collect()
    }

    /// `trailguard: N Sigma rules loaded, M unsupported (file: reason; ...)`, when
    /// Sigma folders were given.
    pub fn sigma_summary(&self) -> Option<String> {
        self.sigma_given.then(|| {
            sigma_summary(
                self.sigma_loaded,
                &self.sigma_skipped,
                self.sigma_correlated_only,
            )
        })
    }
}

/// The built-in pack (unless disabled), every `*.yml`/`*.yaml` in the rule folders
/// and the Sigma rules under the Sigma folders.
pub fn load_rule_set(from: RuleSources<'_>) -> Result<RuleSet, RuleSetError> {
    let mut texts: Vec<(String, String)> = Vec::new();
    if !from.no_builtin {
        for (name, text) in builtin_sources() {
            texts.push((format!("rules/{name} (built-in)"), (*text).to_owned()));
        }
    }
    for dir in from.rules {
        let folder_error = |e: std::io::Error| RuleSetError::RulesFolder {
            path: dir.display().to_string(),
            reason: e.to_string(),
        };
        let entries = fs::read_dir(dir).map_err(folder_error)?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_yaml(p))
            .collect();
        files.sort();
        for f in files {
            let text = fs::read_to_string(&f).map_err(|e| RuleSetError::RuleFile {
                path: f.display().to_string(),
                reason: e.to_string(),
            })?;
            texts.push((f.display().to_string(), text));
        }
    }
    let mut rules = load_rules(texts.iter().map(|(o, t)| (o.clone(), t.as_str())))?;
    let mut texts: Vec<String> = texts.into_iter().map(|(_, t)| t).collect();
    let mut set = RuleSet {
        rules: Vec::new(),
        texts: Vec::new(),
        sigma_skipped: Vec::new(),
        sigma_loaded: 0,
        sigma_correlated_only: 0,
        sigma_given: !from.sigma.is_empty(),
    };
    if !from.sigma.is_empty() {
        load_sigma(from.sigma, &mut rules, &mut texts, &mut set)?;
    }
    let empty = rules.is_empty();
    set.rules = rules;
    set.texts = texts;
    if empty {
        return Err(RuleSetError::Empty(Box::new(set)));
    }
    Ok(set)
}

fn is_yaml(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "yml" || e == "yaml")
}

/// Adds the Sigma rules under `dirs` (folders searched recursively, or files) to
/// `rules`; what cannot run goes to `set.sigma_skipped`.
fn load_sigma(
    dirs: &[PathBuf],
    rules: &mut Vec<Rule>,
    texts: &mut Vec<String>,
    set: &mut RuleSet,
) -> Result<(), RuleSetError> {
    let mut skipped: Vec<Skipped> = Vec::new();
    let mut sources: Vec<(String, String)> = Vec::new();
    for dir in dirs {
        let folder_error = |reason: String| RuleSetError::SigmaFolder {
            path: dir.display().to_string(),
            reason,
        };
        let meta = fs::metadata(dir).map_err(|e| folder_error(e.to_string()))?;
        let mut files = Vec::new();
        if meta.is_file() {
            files.push(dir.clone());
        } else {
            for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
                let entry = entry.map_err(|e| folder_error(e.to_string()))?;
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
    let taken: HashSet<String> = rules.iter().map(|r| r.id().to_owned()).collect();
    let mut count = 0;
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
        count += 1;
    }
    set.sigma_loaded = count;
    set.sigma_correlated_only = loaded.correlated_only.len();
    set.sigma_skipped = skipped;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_pack_loads_and_an_empty_set_is_refused() {
        let set = load_rule_set(RuleSources::default()).unwrap();
        assert!(set.rules.len() > 50);
        assert_eq!(set.rules.len(), set.texts.len());
        assert!(set.sigma_summary().is_none());
        let none = load_rule_set(RuleSources {
            no_builtin: true,
            ..RuleSources::default()
        })
        .unwrap_err();
        assert!(matches!(none, RuleSetError::Empty(_)));
    }

    #[test]
    fn a_missing_folder_is_named() {
        let dirs = [PathBuf::from("/nonexistent/trailguard-rules")];
        let e = load_rule_set(RuleSources {
            rules: &dirs,
            ..RuleSources::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("cannot read rules folder /nonexistent/trailguard-rules: "),
            "{e}"
        );
    }

    #[test]
    fn short_reasons() {
        assert_eq!(
            short_reason("`sel`: modifier `base64`: x"),
            "`sel`: modifier `base64`"
        );
        assert_eq!(short_reason("plain"), "plain");
    }
}
