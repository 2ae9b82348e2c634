//! `trailguard scan`: exit codes, formats, the secret never printed, allowlists and
//! baselines, and bad input reported and skipped.

use std::fs;
use std::io::Write;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const KEY: &str = "AKIAWCZC6J72ODEC6IFU";
const SECRET: &str = "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";
const TOKEN_TAIL: &str = "Zm9vYmFyYmF6cXV4c2VjcmV0dG9rZW4tdGFpbC1uZXZlci1wcmludGVk";

fn trailguard() -> Command {
    Command::cargo_bin("trailguard").unwrap()
}

/// Runs `scan` in `dir` with `args`: (exit code, stdout, stderr).
fn scan(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = trailguard()
        .current_dir(dir)
        .arg("scan")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn credentials(dir: &Path) {
    fs::create_dir_all(dir.join(".aws")).unwrap();
    let token = format!("{}{TOKEN_TAIL}", "IQoJb3JpZ2luX2VjEJr".repeat(6));
    fs::write(
        dir.join(".aws/credentials"),
        format!(
            "[default]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n\
             aws_session_token = {token}\n"
        ),
    )
    .unwrap();
}

#[test]
fn finds_the_pair_in_every_format_and_never_prints_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    credentials(dir.path());
    for format in ["table", "json", "sarif"] {
        let (code, out, err) = scan(dir.path(), &["--format", format]);
        assert_eq!(code, 1, "{format}: {err}");
        assert!(out.contains(KEY), "{format}: {out}");
        assert!(out.contains("418295730164"), "{format}: account decoded");
        for secret in [SECRET, &SECRET[4..20], TOKEN_TAIL] {
            assert!(!out.contains(secret), "{format} printed a secret: {out}");
            assert!(!err.contains(secret), "{format} printed a secret: {err}");
        }
        assert!(out.contains("q8Zt…(40)"), "{format}: {out}");
    }
    let (_, out, _) = scan(dir.path(), &["--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let f = &v[0];
    assert_eq!(f["path"], ".aws/credentials");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(2), Some(21))
    );
    assert_eq!(f["rule"], "aws-access-key-pair");
    assert_eq!(f["confidence"], "high");
    assert_eq!(f["fingerprint"].as_str().unwrap().len(), 64);

    let (_, out, _) = scan(dir.path(), &["--format", "sarif"]);
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let r = &s["runs"][0]["results"][0];
    assert_eq!(r["ruleId"], "aws-access-key-pair");
    assert_eq!(r["level"], "error");
    let loc = &r["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], ".aws/credentials");
    assert_eq!(loc["region"]["startLine"], 2);
    assert_eq!(loc["region"]["startColumn"], 21);
    assert!(r["partialFingerprints"]["trailguardFingerprint/v1"].is_string());
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("clean.txt"),
        "nothing AKIAIOSFODNN7EXAMPLE here",
    )
    .unwrap();
    let (code, out, err) = scan(dir.path(), &["--format", "json"]);
    assert_eq!((code, out.trim()), (0, "[]"), "{err}");
    assert_eq!(scan(dir.path(), &["missing"]).0, 2);
    assert_eq!(scan(dir.path(), &["--allow-regex", "("]).0, 2);
    assert_eq!(scan(dir.path(), &["--baseline", "nope.json"]).0, 2);
    assert_eq!(scan(dir.path(), &["--update-baseline"]).0, 2);
    let help = trailguard().args(["scan", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for word in [
        "Exit codes:",
        "Verifying (--verify, never by default)",
        "--never-verify-account",
        "History (--git)",
        "--since-commit",
        "--verify",
        "Examples:",
    ] {
        assert!(help.contains(word), "{word}");
    }
}

#[test]
fn allowlists_and_baseline() {
    let dir = tempfile::tempdir().unwrap();
    credentials(dir.path());
    let d = dir.path();
    assert_eq!(scan(d, &["--allow-path", ".aws/**"]).0, 0);
    assert_eq!(scan(d, &["--allow-regex", "^AKIAWCZC"]).0, 0);
    let (_, out, _) = scan(d, &["--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let fp = v[0]["fingerprint"].as_str().unwrap();
    assert_eq!(scan(d, &["--allow-fingerprint", fp]).0, 0);

    let (code, _, err) = scan(d, &["--baseline", "base.json", "--update-baseline"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = scan(d, &["--baseline", "base.json"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 in the baseline"), "{err}");
    fs::write(
        d.join("new.env"),
        "AWS_ACCESS_KEY_ID=AKIAWCZC6J72CNUTOL7P\n",
    )
    .unwrap();
    let (code, out, _) = scan(d, &["--baseline", "base.json", "--format", "json"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["key_id"], "AKIAWCZC6J72CNUTOL7P");
    assert_eq!(v[0]["confidence"], "medium");
}

#[test]
fn gitignore_is_honoured_but_a_named_file_is_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join(".gitignore"), "ignored.py\n").unwrap();
    fs::write(d.join("ignored.py"), format!("k = '{KEY}'\n")).unwrap();
    assert_eq!(scan(d, &[]).0, 0);
    assert_eq!(scan(d, &["ignored.py"]).0, 1);
}

#[test]
fn bad_input_is_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A binary named .txt: skipped, counted.
    fs::write(d.join("notes.txt"), format!("\0\0\0{KEY}")).unwrap();
    // Invalid UTF-8 right around a key: found, the column in characters.
    let mut bad = b"\xff\xfe id=".to_vec();
    bad.extend_from_slice(KEY.as_bytes());
    bad.extend_from_slice(b"\xc3\x28\n");
    fs::write(d.join("latin.cfg"), bad).unwrap();
    // A 10 MB one-line minified file with a key in the middle.
    let half = "a=b+c;".repeat(10_000_000 / 12);
    fs::write(d.join("big.min.js"), format!("{half}k=\"{KEY}\";{half}")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::{symlink, PermissionsExt};
        symlink("nowhere", d.join("broken")).unwrap();
        fs::create_dir(d.join("sub")).unwrap();
        symlink("..", d.join("sub/loop")).unwrap();
        let locked = d.join("locked.env");
        fs::write(&locked, format!("AWS_ACCESS_KEY_ID={KEY}\n")).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    }
    let (code, out, err) = scan(d, &["--format", "json"]);
    assert_eq!(code, 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let found: Vec<(String, u64, u64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap(),
            )
        })
        .filter(|(p, _, _)| p != "locked.env")
        .collect();
    let col = (half.len() + 4) as u64;
    assert_eq!(
        found,
        [
            ("big.min.js".to_owned(), 1, col),
            ("latin.cfg".to_owned(), 1, 7)
        ]
    );
    assert!(err.contains("skipped (binary)"), "{err}");
    #[cfg(unix)]
    {
        assert!(err.contains("broken"), "{err}");
        assert!(err.contains("loop"), "{err}");
        // Root reads anything: the unreadable case only holds for other users.
        if !is_root() {
            assert!(err.contains("locked.env: cannot open"), "{err}");
        }
    }
}

#[cfg(unix)]
fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

#[test]
fn archives_are_opened_and_a_bomb_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let gz = |name: &str, text: &[u8], pad: usize| {
        let mut e = flate2::write::GzEncoder::new(
            fs::File::create(d.join(name)).unwrap(),
            flate2::Compression::best(),
        );
        e.write_all(text).unwrap();
        let zeros = vec![b'\n'; 1 << 20];
        for _ in 0..pad {
            e.write_all(&zeros).unwrap();
        }
        e.finish().unwrap();
    };
    gz(
        "backup.env.gz",
        format!("AWS_ACCESS_KEY_ID={KEY}\n").as_bytes(),
        0,
    );
    gz("bomb.gz", b"x", 12);
    // A zip: its members scanned, reported by name.
    let mut z = zip::ZipWriter::new(fs::File::create(d.join("site.zip")).unwrap());
    z.start_file("app/.env", zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(b"AWS_ACCESS_KEY_ID=AKIAWCZC6J72CNUTOL7P\n")
        .unwrap();
    z.finish().unwrap();
    let (code, out, err) = scan(d, &["--format", "json"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("backup.env.gz"));
    assert!(out.contains("site.zip!app/.env"), "{out}");
    assert!(
        err.contains("bomb.gz") && err.contains("decompression bomb"),
        "{err}"
    );
}

#[test]
fn staged_scans_what_is_about_to_be_committed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .current_dir(d)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success());
        ok
    };
    if !git(&["init", "-q"]) {
        eprintln!("no git: skipped");
        return;
    }
    fs::write(d.join("staged.py"), format!("k = '{KEY}'\n")).unwrap();
    fs::write(d.join("unstaged.py"), "k = 'AKIAWCZC6J72CNUTOL7P'\n").unwrap();
    assert!(git(&["add", "staged.py"]));
    let (code, out, err) = scan(d, &["--staged", "--format", "json"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        out.contains(KEY) && !out.contains("AKIAWCZC6J72CNUTOL7P"),
        "{out}"
    );
    // What the commit will hold counts, not the working tree: the key is still in
    // the index after the file on disk was cleaned...
    fs::write(d.join("staged.py"), "k = None\n").unwrap();
    let (code, out, err) = scan(d, &["--staged", "--format", "json"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains(KEY), "{out}");
    assert!(out.contains("staged.py"), "{out}");
    // ...and a key added on disk after a clean `git add` is not being committed.
    fs::write(d.join("clean.py"), "k = None\n").unwrap();
    assert!(git(&["add", "staged.py", "clean.py"]));
    fs::write(d.join("clean.py"), "k = 'AKIAWCZC6J72CNUTOL7P'\n").unwrap();
    let (code, out, err) = scan(d, &["--staged", "--format", "json"]);
    assert_eq!(code, 0, "{err} {out}");
}

fn tar_of(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, body) in members {
        let mut h = tar::Header::new_ustar();
        h.as_mut_bytes()[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &body[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn nested_archive_members_are_named_and_hostile_ones_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let env = format!("AWS_ACCESS_KEY_ID={KEY}\nAWS_SECRET_ACCESS_KEY={SECRET}\n").into_bytes();
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    z.start_file("config/.env", zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(&env).unwrap();
    let zip = z.finish().unwrap().into_inner();
    let release = gzip(&tar_of(&[
        ("site/config.zip", zip),
        ("../../etc/cron.d/evil.env", env.clone()),
    ]));
    fs::write(d.join("release.tgz"), &release).unwrap();
    // Cut in the middle of its second member.
    let tar = tar_of(&[("a.txt", b"a".repeat(3000)), ("b.txt", b"b".repeat(3000))]);
    fs::write(d.join("cut.tar"), &tar[..4000]).unwrap();
    // Seven gzip+tar layers around a key: past the depth limit.
    let mut onion = env.clone();
    for _ in 0..7 {
        onion = gzip(&tar_of(&[("in.tar.gz", onion)]));
    }
    fs::write(d.join("onion.tar.gz"), onion).unwrap();
    for format in ["table", "json", "sarif"] {
        let (code, out, err) = scan(d, &["--format", format]);
        assert_eq!(code, 1, "{err}");
        assert!(
            out.contains("release.tgz!site/config.zip!config/.env"),
            "{format}: {out}"
        );
        assert!(
            out.contains("release.tgz!../../etc/cron.d/evil.env"),
            "{out}"
        );
        assert!(!out.contains(SECRET) && !err.contains(SECRET));
        assert!(err.contains("cut.tar: corrupt or truncated tar"), "{err}");
        assert!(err.contains("onion.tar.gz: in.tar.gz!in.tar.gz"), "{err}");
        assert!(err.contains("nested more than 5 deep"), "{err}");
    }
    assert!(!d.join("../../etc/cron.d/evil.env").exists());
}
