//! `detect`, `investigate` and `respond` over `s3://` inputs, against S3 in a real
//! moto server (127.0.0.1). The bucket holds the example incident in the layout of an
//! organization trail (`org/AWSLogs/o-abc123xyz/ACCOUNT/CloudTrail/REGION/Y/M/D/`,
//! digests included), uploaded with boto3 (`tests/moto/upload_tree.py`). Skipped when
//! moto is absent, unless TRAILGUARD_REQUIRE_MOTO=1.

#[path = "moto_support/mod.rs"]
mod moto_support;

use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use moto_support::Moto;

const BUCKET: &str = "org-trail";
const ACCOUNT: &str = "418295730164";
const OTHER: &str = "111122223333";
const KEY: &str = "AKIAWCZC6J72ODEC6IFU";
/// Recognisable if it ever shows: every run is given it as its secret key.
const SECRET: &str = "s3-test-secret-never-printed-Zq9";

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/leaked-admin-key/AWSLogs")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn trailguard(moto: Option<&Moto>, args: &[&str]) -> Run {
    let mut cmd = Command::cargo_bin("trailguard").unwrap();
    cmd.env_clear()
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_SESSION_TOKEN", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .args(args);
    if let Some(m) = moto {
        cmd.args(["--endpoint-url", &m.endpoint]);
    }
    let out = cmd.output().unwrap();
    let run = Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    assert!(
        !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
        "a credential was printed: {}",
        run.stderr
    );
    run
}

/// The example account under `org/AWSLogs/o-abc123xyz/`; with `two_accounts`, a copy
/// of it as a second account.
fn trail(moto: &Moto, two_accounts: bool) {
    let root = example();
    let upload = |dir: &Path, prefix: &str| {
        moto.python(
            "upload_tree.py",
            &[BUCKET, dir.to_str().unwrap(), prefix, "--threads", "4"],
        );
    };
    upload(&root, "org/AWSLogs/o-abc123xyz/");
    if two_accounts {
        upload(
            &root.join(ACCOUNT),
            &format!("org/AWSLogs/o-abc123xyz/{OTHER}/"),
        );
    }
}

/// A file of its own to upload as one object.
fn upload_file(moto: &Moto, key: &str, body: &[u8]) {
    let dir = moto.dir.path().join(format!("one-{}", key.len()));
    let (folder, name) = key.rsplit_once('/').unwrap();
    std::fs::create_dir_all(dir.join(folder)).unwrap();
    std::fs::File::create(dir.join(folder).join(name))
        .unwrap()
        .write_all(body)
        .unwrap();
    moto.python("upload_tree.py", &[BUCKET, dir.to_str().unwrap(), ""]);
}

/// Log files (not digests) under the example's `rel` folder.
fn files_under(rel: &str) -> usize {
    walk(&example().join(ACCOUNT).join(rel))
}

fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p)
            } else {
                usize::from(p.to_string_lossy().ends_with(".json.gz"))
            }
        })
        .sum()
}

fn listed(stderr: &str) -> usize {
    let line = stderr
        .lines()
        .find(|l| l.contains("objects to read"))
        .unwrap_or_else(|| panic!("no listing line: {stderr}"));
    line.split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

fn files_read(stderr: &str) -> usize {
    let line = stderr
        .lines()
        .find(|l| l.contains(" files, "))
        .unwrap_or_else(|| panic!("no summary: {stderr}"));
    line.trim_start_matches("trailguard: ")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn detect_over_s3_gives_the_alerts_of_the_same_files_on_disk() {
    let Some(moto) = Moto::start(&[]) else { return };
    trail(&moto, false);
    let disk = trailguard(
        None,
        &["detect", "--format", "jsonl", example().to_str().unwrap()],
    );
    let s3 = trailguard(
        Some(&moto),
        &["detect", "--format", "jsonl", "s3://org-trail/org"],
    );
    assert_eq!((disk.code, s3.code), (0, 0), "{}", s3.stderr);
    assert!(disk.stdout.lines().count() >= 5, "{}", disk.stdout);
    assert_eq!(s3.stdout, disk.stdout);
    // Every log object read; the digest was never listed for reading.
    let logs = files_under("CloudTrail");
    assert_eq!(listed(&s3.stderr), logs);
    assert_eq!(files_read(&s3.stderr), logs);
    assert!(!s3.stderr.contains("digest"), "{}", s3.stderr);
    // The URL may also point into the layout, or at an `o-xxxx/AWSLogs/` prefix.
    let deep = trailguard(
        Some(&moto),
        &[
            "detect",
            "--format",
            "jsonl",
            &format!("s3://org-trail/org/AWSLogs/o-abc123xyz/{ACCOUNT}/CloudTrail/"),
        ],
    );
    assert_eq!(deep.stdout, disk.stdout, "{}", deep.stderr);
}

#[test]
fn accounts_regions_and_days_narrow_what_is_listed_and_read() {
    let Some(moto) = Moto::start(&[]) else { return };
    trail(&moto, true);
    let url = "s3://org-trail/org/AWSLogs";
    let all = trailguard(Some(&moto), &["detect", "--format", "jsonl", url]);
    let logs = files_under("CloudTrail");
    assert_eq!(listed(&all.stderr), 2 * logs, "{}", all.stderr);

    let one = trailguard(
        Some(&moto),
        &["detect", "--format", "jsonl", "--accounts", ACCOUNT, url],
    );
    assert_eq!(listed(&one.stderr), logs, "{}", one.stderr);
    assert_eq!(files_read(&one.stderr), logs);

    // One account, one region, one day: only that day's folder is listed.
    let day = trailguard(
        Some(&moto),
        &[
            "detect",
            "--format",
            "jsonl",
            "--accounts",
            ACCOUNT,
            "--regions",
            "eu-west-1",
            "--since",
            "2025-09-17T00:00:00Z",
            "--until",
            "2025-09-17T12:00:00Z",
            url,
        ],
    );
    let n = files_under("CloudTrail/eu-west-1/2025/09/17");
    assert!(n > 0);
    assert_eq!((day.code, listed(&day.stderr)), (0, n), "{}", day.stderr);
    assert_eq!(files_read(&day.stderr), n);
    // AWSLogs/, the organization, then the one day folder: no region or account
    // folder was listed for objects.
    assert!(day.stderr.contains("3 listing calls"), "{}", day.stderr);

    // Two regions, both accounts, four days (only the first has logs).
    let since = trailguard(
        Some(&moto),
        &[
            "detect",
            "--format",
            "jsonl",
            "--regions",
            "eu-west-1,us-east-1",
            "--since",
            "2025-09-17T00:00:00Z",
            "--until",
            "2025-09-20T00:00:00Z",
            url,
        ],
    );
    let n = files_under("CloudTrail/eu-west-1/2025/09/17")
        + files_under("CloudTrail/us-east-1/2025/09/17");
    assert_eq!(listed(&since.stderr), 2 * n, "{}", since.stderr);
}

#[test]
fn broken_and_oversized_objects_are_named_and_the_rest_is_read() {
    let Some(moto) = Moto::start(&[]) else { return };
    trail(&moto, false);
    let day = format!("org/AWSLogs/o-abc123xyz/{ACCOUNT}/CloudTrail/us-east-1/2025/09/17");
    let good = std::fs::read(
        std::fs::read_dir(
            example()
                .join(ACCOUNT)
                .join("CloudTrail/us-east-1/2025/09/17"),
        )
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path(),
    )
    .unwrap();
    let cut = format!("{day}/{ACCOUNT}_CloudTrail_us-east-1_20250917T2359Z_truncated.json.gz");
    upload_file(&moto, &cut, &good[..good.len() / 2]);
    let big = format!("{day}/{ACCOUNT}_CloudTrail_us-east-1_20250917T2358Z_big.json.gz");
    upload_file(&moto, &big, &vec![b' '; 200_000]);
    let run = trailguard(
        Some(&moto),
        &[
            "detect",
            "--format",
            "jsonl",
            "--s3-max-object-bytes",
            "100000",
            "s3://org-trail/org",
        ],
    );
    assert_eq!(
        run.code, 0,
        "read errors are reported, not fatal: {}",
        run.stderr
    );
    let warning = |name: &str| {
        let lines: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("warning:") && l.contains(&format!("s3://{BUCKET}/{name}")))
            .collect();
        assert!(!lines.is_empty(), "{name} not named: {}", run.stderr);
        lines.join("\n")
    };
    assert!(warning(&cut).contains("truncated"), "{}", warning(&cut));
    let w = warning(&big);
    assert!(
        w.contains("200000 bytes") && w.contains("limit of 100000 bytes"),
        "{w}"
    );
    let logs = files_under("CloudTrail");
    assert_eq!(listed(&run.stderr), logs + 2);
    // The truncated object yields what it holds before the cut; the big one nothing.
    assert!(files_read(&run.stderr) >= logs, "{}", run.stderr);
    assert!(run.stdout.lines().count() >= 5);
}

#[test]
fn a_missing_bucket_and_a_bad_url_are_clear_errors() {
    let Some(moto) = Moto::start(&[]) else { return };
    let run = trailguard(
        Some(&moto),
        &["detect", "--format", "jsonl", "s3://no-such-bucket/AWSLogs"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("s3://no-such-bucket/AWSLogs/")
            && run.stderr.contains("NoSuchBucket")
            && run.stderr.contains("no input could be read"),
        "{}",
        run.stderr
    );
    for (url, says) in [
        ("s3://No_Such/x", "bucket name"),
        ("s3:/org-trail", "not an s3:// URL"),
    ] {
        let run = trailguard(Some(&moto), &["detect", url]);
        assert_eq!(run.code, 2);
        assert!(run.stderr.contains(says), "{url}: {}", run.stderr);
    }
    let run = trailguard(
        Some(&moto),
        &["detect", "--accounts", "12345", "s3://org-trail"],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("12 digits"), "{}", run.stderr);
}

#[test]
fn investigate_and_respond_read_s3_too() {
    let Some(moto) = Moto::start(&[]) else { return };
    trail(&moto, false);
    let args = |input: &str| {
        vec![
            "investigate".to_string(),
            "--access-key".into(),
            KEY.into(),
            "--format".into(),
            "json".into(),
            input.to_string(),
        ]
    };
    let disk_args = args(example().to_str().unwrap());
    let s3_args = args("s3://org-trail/org");
    let disk = trailguard(
        None,
        &disk_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let s3 = trailguard(
        Some(&moto),
        &s3_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(s3.code, 0, "{}", s3.stderr);
    assert_eq!(s3.stdout, disk.stdout);

    let plan = trailguard(
        Some(&moto),
        &[
            "respond",
            "--access-key",
            KEY,
            "--format",
            "json",
            "--regions",
            "us-east-1,eu-west-1",
            "s3://org-trail/org",
        ],
    );
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(plan["evidence_sources"][0], "s3://org-trail/org");
    assert!(plan["steps"].as_array().unwrap().len() > 3);
}
