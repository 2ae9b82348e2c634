//! The readers over the shared corpora, through the public API only.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use trailguard_io::reader::{read_events, Input, NoProgress, ReadOptions, SkipReason};

fn corpus(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora")
        .join(name);
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

fn read_all(path: PathBuf) -> (trailguard_io::reader::ReadSummary, u64) {
    let with_name = AtomicU64::new(0);
    let s = read_events(
        &[Input::Path(path)],
        &ReadOptions::default(),
        &NoProgress,
        |e| {
            if e.event_name().is_some() && e.event_source().is_some() {
                with_name.fetch_add(1, Ordering::Relaxed);
            }
        },
    );
    (s, with_name.into_inner())
}

#[test]
fn stratus_detonations_read_without_errors() {
    let Some(dir) = corpus("stratus-detonations") else {
        return;
    };
    let (s, named) = read_all(dir.clone());
    let errors: Vec<String> = s.errors.iter().map(ToString::to_string).collect();
    assert_eq!(s.errors_total, 0, "{errors:#?}");
    assert_eq!(s.events, 310, "the corpus README counts 310 events");
    assert_eq!(named, s.events);
    // LICENSE and NOTICE are not JSON; techniques-index.json is JSON but not CloudTrail.
    assert_eq!(s.files_skipped.get(&SkipReason::NotJson), Some(&2));
    assert_eq!(s.files_skipped.get(&SkipReason::NotCloudTrail), Some(&1));
    // Every detonation file, named explicitly, reads alone too.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("aws.")
        {
            let (s, _) = read_all(path.clone());
            assert!(s.events > 0 && s.errors_total == 0, "{}", path.display());
        }
    }
}

#[test]
fn otrf_json_lines_with_logstash_fields_read_without_errors() {
    let Some(dir) = corpus("otrf-aws") else {
        return;
    };
    let (s, named) = read_all(dir);
    let errors: Vec<String> = s.errors.iter().map(ToString::to_string).collect();
    assert_eq!(s.errors_total, 0, "{errors:#?}");
    assert_eq!(s.events, 103);
    assert_eq!(named, 103);
    assert_eq!(s.files_read, 1);
}

#[test]
fn input_from_arg() {
    assert_eq!(Input::from_arg("-"), Input::Stdin);
    assert_eq!(Input::from_arg("a.json"), Input::Path("a.json".into()));
}
