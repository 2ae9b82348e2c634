//! Reader tests over tiny fixtures written to temporary directories.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::*;
use crate::reader::gzip::tests::gz;

pub(crate) fn rec(i: usize) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","accessKeyId":"AKIAEXAMPLE{i:09}"}},"eventTime":"2024-05-01T12:00:00Z","eventSource":"iam.amazonaws.com","eventName":"E{i}","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","eventID":"id-{i}","eventType":"AwsApiCall","recipientAccountId":"111122223333"}}"#
    )
}

fn log(recs: &[String]) -> String {
    format!(r#"{{"Records":[{}]}}"#, recs.join(","))
}

fn envelope(i: usize) -> String {
    format!(
        r#"{{"version":"0","id":"x{i}","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","account":"111122223333","time":"2024-05-01T12:00:00Z","region":"us-east-1","resources":[],"detail":{}}}"#,
        rec(i)
    )
}

fn recs(n: usize) -> Vec<String> {
    (0..n).map(rec).collect()
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Reads with `opts` and returns the summary and the sorted event names.
fn read_with(inputs: &[Input], opts: &ReadOptions) -> (ReadSummary, Vec<String>) {
    let names = Mutex::new(Vec::new());
    let s = read_events(inputs, opts, &NoProgress, |e| {
        let name = e.event_name().unwrap_or("?").to_owned();
        names.lock().unwrap().push(name);
    });
    let mut names = names.into_inner().unwrap();
    names.sort();
    (s, names)
}

fn read(path: &Path) -> (ReadSummary, Vec<String>) {
    read_with(&[Input::Path(path.to_owned())], &ReadOptions::default())
}

/// Both ways of getting bytes: whole-file and streaming.
fn both_ways(path: &Path) -> [(ReadSummary, Vec<String>); 2] {
    let streaming = ReadOptions {
        stream_above_bytes: 0,
        ..ReadOptions::default()
    };
    [
        read(path),
        read_with(&[Input::Path(path.to_owned())], &streaming),
    ]
}

fn kinds(s: &ReadSummary) -> Vec<String> {
    s.errors.iter().map(|e| e.to_string()).collect()
}

fn names(range: std::ops::Range<usize>) -> Vec<String> {
    let mut v: Vec<String> = range.map(|i| format!("E{i}")).collect();
    v.sort();
    v
}

#[test]
fn log_file_plain_and_gzip() {
    let d = tempfile::tempdir().unwrap();
    let body = log(&recs(3));
    for p in [
        write(d.path(), "a.json", &body),
        write(d.path(), "b.bin", gz(body.as_bytes())),
    ] {
        for (s, got) in both_ways(&p) {
            assert_eq!(got, names(0..3), "{}", p.display());
            assert_eq!((s.files_read, s.events, s.errors_total), (1, 3, 0));
            assert!(!s.nothing_read());
        }
    }
}

#[test]
fn json_lines_plain_and_gzip_with_envelopes_blank_and_bad_lines() {
    let d = tempfile::tempdir().unwrap();
    let body = format!(
        "{}\n\n{}\r\n{{\"eventName\": oops}}\n{}\n",
        rec(0),
        envelope(1),
        rec(3)
    );
    for p in [
        write(d.path(), "l.jsonl", &body),
        write(d.path(), "l.gz", gz(body.as_bytes())),
    ] {
        for (s, got) in both_ways(&p) {
            assert_eq!(got, vec!["E0", "E1", "E3"]);
            assert_eq!(s.records_skipped, 1);
            assert_eq!(
                s.errors[0].location,
                Some(Location::Line(4)),
                "{:?}",
                kinds(&s)
            );
            assert!(s.errors[0].to_string().contains(": line 4: "));
        }
    }
}

#[test]
fn single_event_and_single_record() {
    let d = tempfile::tempdir().unwrap();
    for (name, body) in [("e.json", envelope(7)), ("r.json", rec(7) + "\n")] {
        let p = write(d.path(), name, body);
        for (s, got) in both_ways(&p) {
            assert_eq!(got, vec!["E7"]);
            assert_eq!(s.errors_total, 0);
        }
    }
}

#[test]
fn bare_arrays_of_records_and_of_envelopes() {
    let d = tempfile::tempdir().unwrap();
    let pretty = serde_json::to_string_pretty(
        &recs(2)
            .iter()
            .map(|r| serde_json::from_str::<serde_json::Value>(r).unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let a = write(d.path(), "a.json", pretty);
    let b = write(
        d.path(),
        "b.json",
        format!("[{},{}]", envelope(0), envelope(1)),
    );
    for p in [a, b] {
        for (s, got) in both_ways(&p) {
            assert_eq!(got, names(0..2));
            assert_eq!(s.errors_total, 0);
        }
    }
}

#[test]
fn lookup_events_output() {
    let d = tempfile::tempdir().unwrap();
    let events: Vec<serde_json::Value> = (0..3)
        .map(|i| {
            serde_json::json!({"EventId": format!("id-{i}"), "EventName": format!("E{i}"),
                               "CloudTrailEvent": rec(i)})
        })
        .chain([serde_json::json!({"EventId": "no-payload"})])
        .collect();
    let body = serde_json::json!({"Events": events, "NextToken": "abc"}).to_string();
    let p = write(d.path(), "lookup.json", body);
    let (s, got) = read(&p);
    assert_eq!(got, names(0..3));
    assert_eq!(s.records_skipped, 1);
    assert!(matches!(
        s.errors[0].kind,
        ReadErrorKind::MissingCloudTrailEvent
    ));
    assert!(matches!(
        s.errors[0].location,
        Some(Location::Record { index: 3, .. })
    ));
}

#[test]
fn walking_skips_digests_and_non_json_with_counts() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "z/2.json.gz", gz(log(&recs(2)).as_bytes()));
    write(d.path(), "a/1.json", log(&[rec(5)]));
    write(
        d.path(),
        "a/digest.json.gz",
        gz(br#"{"awsAccountId":"1","digestStartTime":"x","logFiles":[]}"#),
    );
    write(d.path(), "LICENSE", "Apache License 2.0\n");
    write(d.path(), "pic.png", b"\x89PNG\r\n");
    write(
        d.path(),
        "index.json",
        r#"[{"technique_id":"x","events":[]}]"#,
    );
    write(d.path(), "empty.json", "");
    let (s, got) = read(d.path());
    assert_eq!(got, vec!["E0", "E1", "E5"]);
    assert_eq!(s.errors_total, 0, "{:?}", kinds(&s));
    assert_eq!(s.files_read, 2);
    let skipped: Vec<(SkipReason, u64)> = s.files_skipped.into_iter().collect();
    assert_eq!(
        skipped,
        vec![
            (SkipReason::Digest, 1),
            (SkipReason::Empty, 1),
            (SkipReason::NotJson, 2),
            (SkipReason::NotCloudTrail, 1)
        ]
    );
}

#[test]
fn explicit_non_json_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "notes.txt", "hello\n");
    let (s, _) = read(&p);
    assert!(s.nothing_read());
    assert!(matches!(s.errors[0].kind, ReadErrorKind::NotJson));
    assert!(s.errors[0]
        .to_string()
        .starts_with(&p.display().to_string()));
    let missing = read(&d.path().join("missing.json")).0;
    assert!(missing.nothing_read() && matches!(missing.errors[0].kind, ReadErrorKind::Io(_)));
}

#[test]
fn truncated_gzip_keeps_complete_records() {
    let d = tempfile::tempdir().unwrap();
    let body = log(&recs(2000));
    let z = gz(body.as_bytes());
    let p = write(d.path(), "cut.json.gz", &z[..z.len() * 2 / 3]);
    let jl = recs(2000).join("\n");
    let zl = gz(jl.as_bytes());
    let q = write(d.path(), "cut.jsonl.gz", &zl[..zl.len() * 2 / 3]);
    for p in [p, q] {
        for (s, got) in both_ways(&p) {
            assert!(got.len() > 500 && got.len() < 2000, "{}", got.len());
            let truncated: Vec<_> = s
                .errors
                .iter()
                .filter(|e| matches!(e.kind, ReadErrorKind::TruncatedGzip(_)))
                .collect();
            assert_eq!(truncated.len(), 1, "{:?}", kinds(&s));
            let msg = truncated[0].to_string();
            assert!(
                msg.contains("truncated gzip") && msg.contains("cut.json"),
                "{msg}"
            );
            assert_eq!(s.files_read, 1);
        }
    }
}

#[test]
fn identity_missing_or_of_wrong_type_is_still_an_event() {
    let d = tempfile::tempdir().unwrap();
    let a = r#"{"eventVersion":"1.09","eventName":"NoIdentity","eventType":"AwsServiceEvent"}"#;
    let b = r#"{"eventName":"WrongIdentity","userIdentity":"s3.amazonaws.com"}"#;
    let c = r#"{"eventName":"ArrayIdentity","userIdentity":[1,{"x":2}]}"#;
    let p = write(d.path(), "l.json", log(&[a.into(), b.into(), c.into()]));
    let (s, got) = read(&p);
    assert_eq!(got, vec!["ArrayIdentity", "NoIdentity", "WrongIdentity"]);
    assert_eq!(s.errors_total, 0);
}

#[test]
fn a_field_of_an_odd_type_does_not_cost_the_record() {
    let d = tempfile::tempdir().unwrap();
    let mut r = recs(2);
    r[1] = r#"{"eventName":42,"eventSource":"iam.amazonaws.com","eventTime":null}"#.into();
    let p = write(d.path(), "odd.json", log(&r));
    let (s, got) = read(&p);
    assert_eq!(got, vec!["?", "E0"]);
    assert_eq!(s.errors_total, 0);
}

#[test]
fn bad_record_costs_only_itself_with_index_and_offset() {
    let d = tempfile::tempdir().unwrap();
    let mut r = recs(5);
    r[2] = r#"["eventName",42]"#.into();
    r[3] = "17".into();
    let body = log(&r);
    let p = write(d.path(), "x.json", &body);
    let (s, got) = read(&p);
    assert_eq!(got, vec!["E0", "E1", "E4"]);
    assert_eq!(s.records_skipped, 2);
    let byte = body.find(r#"["eventName",42]"#).unwrap() as u64;
    assert_eq!(
        s.errors[0].location,
        Some(Location::Record { index: 2, byte })
    );
    assert!(s.errors[0]
        .to_string()
        .contains(&format!("record 2 (byte {byte}): invalid type")));
}

#[test]
fn fifty_megabyte_record() {
    let d = tempfile::tempdir().unwrap();
    let big = "A".repeat(50 << 20);
    let r = format!(r#"{{"eventName":"Big","requestParameters":{{"policy":"{big}"}}}}"#);
    let p = write(d.path(), "big.json", log(&[rec(0), r.clone()]));
    let q = write(d.path(), "big.jsonl", format!("{r}\n{}\n", rec(1)));
    for (p, want) in [(p, vec!["Big", "E0"]), (q, vec!["Big", "E1"])] {
        for (s, got) in both_ways(&p) {
            assert_eq!(got, want);
            assert_eq!(s.errors_total, 0, "{:?}", kinds(&s));
        }
    }
}

#[test]
fn nesting_100_000_deep_is_an_error_not_a_crash() {
    let d = tempfile::tempdir().unwrap();
    let n = 100_000;
    let nest = |open: &str, close: &str| format!("{}{}", open.repeat(n), close.repeat(n));
    // Deep inside a raw field, a deep record, a deep unknown field of an envelope.
    let in_field = format!(
        r#"{{"eventName":"Deep","requestParameters":{}}}"#,
        nest("[", "]")
    );
    let as_record = nest("[", "]");
    let objects = format!(
        r#"{{"eventName":"Obj","responseElements":{}1{}}}"#,
        "{\"a\":".repeat(n),
        "}".repeat(n)
    );
    for deep in [in_field, as_record, objects] {
        let p = write(d.path(), "deep.json", log(&[rec(0), deep.clone(), rec(1)]));
        let q = write(
            d.path(),
            "deep.jsonl",
            format!("{}\n{deep}\n{}\n", rec(0), rec(1)),
        );
        let r = write(d.path(), "deep-array.json", format!("[{},{deep}]", rec(0)));
        for p in [&p, &q, &r] {
            for (s, got) in both_ways(p) {
                assert!(
                    got == ["E0", "E1"] || got == ["E0"],
                    "{got:?} {} {:?} {}",
                    p.display(),
                    kinds(&s),
                    &deep[..30]
                );
                assert_eq!(s.records_skipped, 1, "{:?}", kinds(&s));
                assert!(matches!(
                    s.errors[0].location,
                    Some(Location::Record { index: 1, .. } | Location::Line(2))
                ));
            }
        }
        let single = write(d.path(), "deep-single.json", &deep);
        let (s, got) = read(&single);
        assert!(got.is_empty() && s.errors_total == 1 && s.nothing_read());
    }
}

#[test]
fn invalid_utf8_costs_only_its_record() {
    let d = tempfile::tempdir().unwrap();
    let bad = b"{\"eventName\":\"Bad\xff\xfe\"}".to_vec();
    let mut body = b"{\"Records\":[".to_vec();
    body.extend_from_slice(rec(0).as_bytes());
    body.push(b',');
    body.extend_from_slice(&bad);
    body.push(b',');
    body.extend_from_slice(rec(1).as_bytes());
    body.extend_from_slice(b"]}");
    let p = write(d.path(), "u.json", &body);
    let mut lines = rec(0).into_bytes();
    lines.push(b'\n');
    lines.extend_from_slice(&bad);
    lines.push(b'\n');
    lines.extend_from_slice(rec(1).as_bytes());
    let q = write(d.path(), "u.jsonl", &lines);
    for p in [p, q] {
        for (s, got) in both_ways(&p) {
            assert_eq!(got, vec!["E0", "E1"]);
            assert_eq!(s.records_skipped, 1, "{:?}", kinds(&s));
        }
    }
}

#[test]
fn empty_file_is_skipped_not_an_error() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "empty.json", " \n");
    for (s, got) in both_ways(&p) {
        assert!(got.is_empty());
        assert_eq!(s.files_skipped.get(&SkipReason::Empty), Some(&1));
        assert_eq!(s.errors_total, 0);
        assert!(!s.nothing_read());
    }
    let empty_dir = tempfile::tempdir().unwrap();
    assert!(read(empty_dir.path()).0.nothing_read());
}

#[cfg(unix)]
#[test]
fn unreadable_file_in_a_directory_is_an_error_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "ok.json", log(&[rec(0)]));
    let locked = write(d.path(), "locked.json", log(&[rec(1)]));
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let (s, got) = read(d.path());
    if std::fs::read(&locked).is_ok() {
        eprintln!("running as root: chmod 000 does not deny reads, skipping that assertion");
        assert_eq!(got.len(), 2);
        return;
    }
    assert_eq!(got, vec!["E0"]);
    assert_eq!(s.errors_total, 1);
    assert!(s.errors[0].to_string().contains("locked.json"));
    assert!(!s.nothing_read());
}

#[test]
fn gzip_bomb_over_the_cap() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "bomb.json.gz", gz(&vec![b' '; 4 << 20]));
    let opts = ReadOptions {
        max_decompressed_bytes: 1 << 20,
        ..ReadOptions::default()
    };
    for stream_above_bytes in [u64::MAX, 0] {
        let opts = ReadOptions {
            stream_above_bytes,
            ..opts.clone()
        };
        let (s, _) = read_with(&[Input::Path(p.clone())], &opts);
        assert_eq!(s.errors_total, 1);
        assert!(matches!(s.errors[0].kind, ReadErrorKind::TooLarge { .. }));
        assert!(s.errors[0].to_string().contains("bomb.json.gz"));
        assert!(s.nothing_read());
    }
}

#[test]
fn stdin_like_streams() {
    let body = format!("\u{feff}{}\n{}\n", rec(0), envelope(1));
    for bytes in [body.clone().into_bytes(), gz(body.as_bytes())] {
        let mut run = FileRun::new("<stdin>".into(), true, &|_| {}, 10);
        source::read_stream(Cursor::new(bytes), &ReadOptions::default(), &mut run);
        assert_eq!((run.events, run.errors_total), (2, 0));
    }
    let mut run = FileRun::new("<stdin>".into(), true, &|_| {}, 10);
    source::read_stream(
        Cursor::new(log(&recs(4)).into_bytes()),
        &ReadOptions::default(),
        &mut run,
    );
    assert_eq!((run.events, run.errors_total), (4, 0));
}

#[test]
fn errors_are_capped_but_counted() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "bad.jsonl",
        format!("{}\n", rec(0)) + &"{nope\n".repeat(10),
    );
    let opts = ReadOptions {
        max_errors: 4,
        ..ReadOptions::default()
    };
    let (s, got) = read_with(&[Input::Path(p)], &opts);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (s.errors.len(), s.errors_total, s.records_skipped),
        (4, 10, 10)
    );
}

#[test]
fn concatenated_and_broken_log_documents() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "cat.json",
        format!("{}\n{}\n", log(&[rec(0)]), log(&[rec(1), rec(2)])),
    );
    let (s, got) = read(&p);
    assert_eq!(got, names(0..3));
    assert_eq!(s.errors_total, 0, "{:?}", kinds(&s));
    let body = log(&recs(3));
    let q = write(d.path(), "cut.json", &body[..body.len() - 40]);
    let (s, got) = read(&q);
    assert_eq!(got, names(0..2));
    assert_eq!(s.records_skipped, 1);
    assert!(matches!(
        s.errors[0].location,
        Some(Location::Record { index: 2, .. })
    ));
}

#[test]
fn overlong_streamed_line_is_skipped() {
    let d = tempfile::tempdir().unwrap();
    let long = format!(r#"{{"eventName":"{}"}}"#, "x".repeat(3 << 20));
    let p = write(
        d.path(),
        "l.jsonl",
        format!("{}\n{long}\n{}\n", rec(0), rec(2)),
    );
    let opts = ReadOptions {
        stream_above_bytes: 0,
        max_decompressed_bytes: 1 << 20,
        ..ReadOptions::default()
    };
    let (s, got) = read_with(&[Input::Path(p)], &opts);
    assert_eq!(got, vec!["E0", "E2"]);
    assert_eq!(
        s.errors[0].location,
        Some(Location::Line(2)),
        "{:?}",
        kinds(&s)
    );
    assert!(matches!(
        s.errors[0].kind,
        ReadErrorKind::LineTooLong { .. }
    ));
}

#[test]
fn progress_sees_every_file() {
    use std::sync::atomic::{AtomicU64, Ordering};
    #[derive(Default)]
    struct Count(AtomicU64, AtomicU64);
    impl Progress for Count {
        fn start(&self, files: u64, _: u64) {
            self.0.store(files, Ordering::SeqCst);
        }
        fn file_done(&self, _: u64) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
    let d = tempfile::tempdir().unwrap();
    for i in 0..5 {
        write(d.path(), &format!("{i}.json"), log(&[rec(i)]));
    }
    let c = Count::default();
    let opts = ReadOptions {
        threads: 2,
        ..ReadOptions::default()
    };
    let s = read_events(&[Input::Path(d.path().into())], &opts, &c, |_| {});
    assert_eq!(s.events, 5);
    assert_eq!((c.0.into_inner(), c.1.into_inner()), (5, 5));
}

#[test]
fn remote_objects_are_fetched_in_parallel_and_a_failed_one_is_named() {
    let good = gz(log(&recs(3)).as_bytes());
    let mut cut = gz(log(&recs(5)).as_bytes());
    cut.truncate(cut.len() / 2);
    let objects: Vec<RemoteObject> = ["a.json.gz", "missing.json.gz", "cut.json.gz", "b.json.gz"]
        .iter()
        .map(|k| RemoteObject {
            name: format!("s3://trail/{k}"),
            size: 10,
        })
        .collect();
    let seen = Mutex::new(Vec::new());
    let summary = read_objects(
        &objects,
        3,
        |o| match o.name.rsplit('/').next().unwrap() {
            "missing.json.gz" => Err("NoSuchKey".to_string()),
            "cut.json.gz" => Ok(cut.clone()),
            _ => Ok(good.clone()),
        },
        &ReadOptions::default(),
        &NoProgress,
        |ev| {
            seen.lock()
                .unwrap()
                .push(ev.event_id().unwrap_or_default().to_string())
        },
    );
    assert!(summary.files_read >= 2, "{summary:?}");
    assert_eq!(summary.bytes_read, (2 * good.len() + cut.len()) as u64);
    let errors: Vec<String> = summary.errors.iter().map(|e| e.to_string()).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("s3://trail/missing.json.gz") && e.contains("NoSuchKey")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("s3://trail/cut.json.gz") && e.contains("truncated")),
        "{errors:?}"
    );
    // Both whole objects (and any complete records before the cut).
    assert!(seen.lock().unwrap().len() >= 6);
    assert_eq!(summary.events as usize, seen.lock().unwrap().len());
    // No objects: nothing read, no thread hangs.
    let empty = read_objects(
        &[],
        4,
        |_| Ok(vec![]),
        &ReadOptions::default(),
        &NoProgress,
        |_| {},
    );
    assert!(empty.nothing_read());
}
