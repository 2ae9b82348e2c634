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

/// Writes the corpus for `bench/scan_compare.sh`, which compares other scanners on it:
/// `TRAILGUARD_CORPUS_OUT=DIR cargo test -p trailguard-scan --test corpus -- --ignored`.
/// The labels go to `DIR.planted.jsonl`, one `{"path", "key", "line", "paired"}` a line.
#[test]
#[ignore = "writes the benchmark corpus; run by bench/scan_compare.sh"]
fn write_corpus_for_benchmarks() {
    let Some(out) = std::env::var_os("TRAILGUARD_CORPUS_OUT") else {
        return;
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out).unwrap();
    let corpus = corpus_gen::generate(&out, 20, 0x5eed);
    let mut labels = String::new();
    for p in &corpus.planted {
        let v = serde_json::json!({
            "path": p.path, "key": p.key, "line": p.line, "paired": p.paired,
        });
        labels.push_str(&format!("{v}\n"));
    }
    let mut name = out.into_os_string();
    name.push(".planted.jsonl");
    std::fs::write(name, labels).unwrap();
    println!(
        "{} planted, {} lookalikes",
        corpus.planted.len(),
        corpus.lookalikes
    );
}
