//! The labelled corpus: real-looking files with planted keys in the file types and
//! contexts keys leak in (gzip and zip archives among them), and lookalikes that must
//! not fire. Recall must be 100% and false positives zero.

mod corpus_gen;

use std::collections::BTreeSet;
use std::path::PathBuf;

use trailguard_scan::walk::{self, WalkOptions};
use trailguard_scan::{Confidence, Rule, Scanner};

#[test]
fn recall_is_total_and_lookalikes_never_fire() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus_gen::generate(dir.path(), 20, 0x5eed);
    assert!(corpus.planted.len() >= 200, "{}", corpus.planted.len());
    assert!(corpus.lookalikes >= 200);

    let walked = walk::walk(&[dir.path().to_path_buf()], None);
    assert!(walked.errors.is_empty(), "{:?}", walked.errors);
    let reports = walk::scan_files(&Scanner::new(), &walked.files, &WalkOptions::default());
    let mut found = BTreeSet::new();
    for r in &reports {
        assert!(r.problem.is_none(), "{:?}: {:?}", r.path, r.problem);
        for f in &r.findings {
            let root = format!("{}/", dir.path().display());
            let rel = PathBuf::from(f.path.strip_prefix(&root).unwrap());
            let Some(key) = f.key_id.clone() else {
                panic!("no lone secret or token was planted: {f:?}");
            };
            found.insert((rel, key, f.line, f.column, f.rule, f.confidence));
        }
    }
    let expected: BTreeSet<_> = corpus
        .planted
        .iter()
        .map(|p| {
            let (rule, conf) = if p.paired {
                (Rule::KeyPair, Confidence::High)
            } else {
                (Rule::KeyId, p.confidence)
            };
            (p.path.clone(), p.key.clone(), p.line, p.column, rule, conf)
        })
        .collect();
    let missed: Vec<_> = expected.difference(&found).collect();
    let extra: Vec<_> = found.difference(&expected).collect();
    assert!(missed.is_empty(), "missed (recall < 100%): {missed:#?}");
    assert!(extra.is_empty(), "false positives: {extra:#?}");
}
