//! The shared Sigma corpus (`../shared/corpora/sigma-aws`, beside the repository, not
//! in it): every CloudTrail rule under `rules/` loads; the Sigma 1 correlation rules
//! under `unsupported/` load where trailguard's stateful kinds express them, and the
//! others are reported with their reason; each loaded rule's pre-filter is a valid
//! EventBridge pattern.

use std::fs;
use std::path::{Path, PathBuf};

use trailguard_core::pattern::PatternIndex;
use trailguard_core::sigma::{self, Loaded};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/sigma-aws")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(p);
        }
    }
}

/// Loads every Sigma file under `sub`, or `None` when the corpus is absent.
fn load(sub: &str) -> Option<(usize, Loaded)> {
    let dir = corpus().join(sub);
    if !dir.exists() {
        eprintln!("skipped: {} is absent", dir.display());
        return None;
    }
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|f| (f.display().to_string(), fs::read_to_string(f).unwrap()))
        .collect();
    let loaded = sigma::load(texts.iter().map(|(o, t)| (o.clone(), t.as_str())));
    for s in &loaded.skipped {
        eprintln!("unsupported: {}: {}: {}", s.origin, s.rule, s.reason);
    }
    Some((files.len(), loaded))
}

#[test]
fn every_cloudtrail_rule_loads() {
    let Some((files, loaded)) = load("rules") else {
        return;
    };
    assert!(files >= 57, "{files} files");
    assert!(loaded.skipped.is_empty(), "{:#?}", loaded.skipped);
    assert_eq!(loaded.rules.len(), files);
    for rule in &loaded.rules {
        let id = rule.id();
        assert!(id.starts_with("sigma-"), "{id}");
        let sigma = rule.sigma.as_ref().expect("a Sigma rule");
        assert_eq!(
            Some(&id["sigma-".len()..]),
            sigma.sigma_id.as_deref(),
            "the Sigma id is kept whole"
        );
        assert!(rule.stateful.is_none(), "{id}");
        assert!(!rule.spec.tags.is_empty(), "{id}");
    }
    // Every rule that pins eventSource or eventName is found through the index; only
    // those whose detection pins neither are checked against every event.
    let every = sigma::every_event();
    let broad = loaded
        .rules
        .iter()
        .filter(|r| r.spec.pattern == every)
        .count();
    let index = PatternIndex::new(loaded.rules.iter().map(|r| r.pattern.clone()));
    assert_eq!(index.stats().unindexed, broad, "{:?}", index.stats());
    assert!(
        broad <= 4,
        "{broad} rules pin neither eventSource nor eventName"
    );
}

#[test]
fn correlation_rules_load_where_expressible() {
    let Some((files, loaded)) = load("unsupported") else {
        return;
    };
    assert_eq!(files, 8);
    let ids: Vec<&str> = loaded.rules.iter().map(|r| r.id()).collect();
    for id in [
        "sigma-26ff4080-194e-47e7-9889-ef7602efed0c", // count() > 10 in 30m
        "sigma-76255e09-755e-4675-8b6b-dbce9842cd2a",
        "sigma-e9c14b23-47e2-4a8b-8a63-d36618e33d70",
        "sigma-c3d53999-4b14-4ddd-9d9b-e618c366b54d",
        "sigma-4723218f-2048-41f6-bcb0-417f2d784f61",
        "sigma-91f6a16c-ef71-437a-99ac-0b070e3ad221", // count() by sourceIPAddress > 5
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    for r in &loaded.rules {
        assert!(r.stateful.is_some(), "{}", r.id());
    }
    let reasons: Vec<(&str, &str)> = loaded
        .skipped
        .iter()
        .map(|s| (s.origin.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:#?}");
    assert!(reasons.iter().any(
        |(o, r)| o.ends_with("aws_lambda_function_created_or_invoked.yml")
            && r.contains("`near` needs a `timeframe`")
    ));
    assert!(reasons
        .iter()
        .any(|(o, r)| o.ends_with("aws_ses_messaging_enabled.yml")
            && r.contains("`timeframe` without an aggregation")));
}

#[test]
fn placeholder_rules_are_reported_not_loaded() {
    let Some((_, loaded)) = load("rules-placeholder") else {
        return;
    };
    assert!(loaded.rules.is_empty());
    assert_eq!(loaded.skipped.len(), 1);
    assert!(
        loaded.skipped[0].reason.contains("modifier `expand`"),
        "{:?}",
        loaded.skipped
    );
}
