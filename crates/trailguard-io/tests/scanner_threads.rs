//! The scanner fed from `read_objects`' download workers (plain threads, not rayon's):
//! many objects read by 8 workers at once through the built-in rule pack finish, and
//! every event is seen. Matches once took two collector locks in opposite orders on
//! two threads and `detect s3://` over the benchmark archive hung; this smoke test
//! runs the same path (on the example incident it did not hang before the fix: its
//! events do not meet the rules in both orders, the archive's do).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use trailguard_core::rule::builtin_rules;
use trailguard_core::state::MemoryStore;
use trailguard_core::Severity;
use trailguard_io::reader::{read_objects, NoProgress, ReadOptions, RemoteObject};
use trailguard_io::scanner::Scanner;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.to_string_lossy().contains("/CloudTrail/") {
            out.push(p);
        }
    }
}

#[test]
fn download_workers_feed_the_scanner_without_deadlock() {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/leaked-admin-key/AWSLogs");
    let mut paths = Vec::new();
    files(&root, &mut paths);
    let bodies: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    const COPIES: usize = 40;
    let objects: Vec<RemoteObject> = (0..COPIES * bodies.len())
        .map(|i| RemoteObject {
            name: format!("s3://trail/{i}"),
            size: 1,
        })
        .collect();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let scanner = Scanner::new(builtin_rules().unwrap(), Severity::Info, 3_600_000);
        let mut store = MemoryStore::new();
        let outcome = scanner
            .scan(
                |on_event| {
                    read_objects(
                        &objects,
                        8,
                        |o| {
                            let i: usize = o.name.rsplit('/').next().unwrap().parse().unwrap();
                            Ok(bodies[i % bodies.len()].clone())
                        },
                        &ReadOptions::default(),
                        &NoProgress,
                        on_event,
                    )
                },
                (None, None),
                &mut store,
            )
            .unwrap();
        let _ = done.send((
            outcome.summary.files_read,
            outcome.summary.events,
            outcome.alerts.len(),
        ));
    });
    let (files_read, events, alerts) = finished
        .recv_timeout(Duration::from_secs(120))
        .expect("the scan finished (no deadlock between download workers)");
    assert_eq!(files_read as usize, COPIES * paths.len());
    assert_eq!(events % COPIES as u64, 0);
    assert!(events > 0 && alerts > 0);
}
