//! What is not reported: allowlists (paths, regexes, fingerprints) and a baseline of
//! findings already known, so only new ones fail a build.

use std::collections::BTreeSet;
use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::finding::Finding;

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("invalid --allow-path glob `{0}`: {1}")]
    Glob(String, globset::Error),
    #[error("invalid --allow-regex `{0}`: {1}")]
    Regex(String, regex::Error),
    #[error("invalid --allow-fingerprint `{0}`: 64 hex digits expected")]
    Fingerprint(String),
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read baseline {0}: {1}")]
    Read(String, std::io::Error),
    #[error("baseline {0} is not a trailguard baseline: {1}")]
    Parse(String, serde_json::Error),
    #[error("cannot write baseline {0}: {1}")]
    Write(String, std::io::Error),
}

/// Allowlists, validated.
#[derive(Debug, Default)]
pub struct Filter {
    pub paths: Option<GlobSet>,
    /// Matched against the key id (findings without one: never).
    pub regexes: Vec<Regex>,
    pub fingerprints: BTreeSet<String>,
}

impl Filter {
    pub fn new(
        paths: &[String],
        regexes: &[String],
        fingerprints: &[String],
    ) -> Result<Self, FilterError> {
        let paths = if paths.is_empty() {
            None
        } else {
            let mut b = GlobSetBuilder::new();
            for g in paths {
                // `vendor/**` should match `./vendor/x` as well as `vendor/x`.
                for pat in [g.clone(), format!("**/{g}")] {
                    b.add(Glob::new(&pat).map_err(|e| FilterError::Glob(g.clone(), e))?);
                }
            }
            Some(
                b.build()
                    .map_err(|e| FilterError::Glob(paths.join(","), e))?,
            )
        };
        let regexes = regexes
            .iter()
            .map(|r| Regex::new(r).map_err(|e| FilterError::Regex(r.clone(), e)))
            .collect::<Result<_, _>>()?;
        let fingerprints = fingerprints
            .iter()
            .map(|f| {
                let f = f.trim().to_ascii_lowercase();
                if f.len() == 64 && f.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(f)
                } else {
                    Err(FilterError::Fingerprint(f))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Filter {
            paths,
            regexes,
            fingerprints,
        })
    }

    pub fn allows(&self, f: &Finding) -> bool {
        self.paths
            .as_ref()
            .is_some_and(|g| g.is_match(Path::new(&f.path)))
            || self.fingerprints.contains(&f.fingerprint)
            || f.key_id
                .as_deref()
                .is_some_and(|k| self.regexes.iter().any(|r| r.is_match(k)))
    }
}

/// A baseline file: the fingerprints of findings accepted as they are.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Baseline {
    pub version: u32,
    pub fingerprints: BTreeSet<String>,
}

impl Baseline {
    pub fn load(path: &Path) -> Result<Self, BaselineError> {
        let name = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| BaselineError::Read(name.clone(), e))?;
        serde_json::from_str(&text).map_err(|e| BaselineError::Parse(name, e))
    }

    pub fn of(findings: &[Finding]) -> Self {
        Baseline {
            version: 1,
            fingerprints: findings.iter().map(|f| f.fingerprint.clone()).collect(),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), BaselineError> {
        let mut text = serde_json::to_string_pretty(self).expect("a baseline serializes");
        text.push('\n');
        std::fs::write(path, text).map_err(|e| BaselineError::Write(path.display().to_string(), e))
    }

    pub fn contains(&self, f: &Finding) -> bool {
        self.fingerprints.contains(&f.fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Scanner;

    fn finding(path: &str) -> Finding {
        let hit = Scanner::new()
            .scan(b"AKIAWCZC6J72ODEC6IFU", false)
            .remove(0);
        Finding::from_hit(Path::new(path), hit, 0, 0)
    }

    #[test]
    fn allowlists() {
        let f = finding("./vendor/x.py");
        assert!(!Filter::default().allows(&f));
        assert!(Filter::new(&["vendor/**".into()], &[], &[])
            .unwrap()
            .allows(&f));
        assert!(Filter::new(&[], &["^AKIAWCZC".into()], &[])
            .unwrap()
            .allows(&f));
        assert!(Filter::new(&[], &[], std::slice::from_ref(&f.fingerprint))
            .unwrap()
            .allows(&f));
        assert!(Filter::new(&[], &[], &["nope".into()]).is_err());
        assert!(Filter::new(&[], &["(".into()], &[]).is_err());
    }

    #[test]
    fn baseline_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.json");
        let f = finding("a");
        Baseline::of(std::slice::from_ref(&f)).save(&p).unwrap();
        let b = Baseline::load(&p).unwrap();
        assert!(b.contains(&f));
        assert!(!b.contains(&finding("b")));
    }
}
