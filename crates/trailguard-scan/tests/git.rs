//! `--git`: real histories built with the git command line in temporary folders, and
//! repositories damaged on purpose (a truncated pack, a missing object, a garbage HEAD).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use trailguard_scan::git::{scan_history, GitOptions, GitReport};
use trailguard_scan::{GitError, Rule, Scanner};

const SECRET: &str = "q8Zt3vLw0Xp+Yk7RbN2sFgHj5mEcAu9D/oVi4TlW";
const KEY1: &str = "AKIAWCZC6J72ODEC6IFU";
const KEY2: &str = "AKIAZ7ADX3SXZ2MH5HQE";
const KEY3: &str = "ASIAWCZC6J72J4HZRFJS";

struct Repo {
    dir: tempfile::TempDir,
    clock: u32,
}

impl Repo {
    fn new() -> Repo {
        let r = Repo {
            dir: tempfile::tempdir().unwrap(),
            clock: 0,
        };
        r.git(&["init", "-q", "-b", "main"]);
        r
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_COMMITTER_NAME", "CI")
            .env("GIT_COMMITTER_EMAIL", "ci@example.com")
            .env("GIT_AUTHOR_NAME", "CI")
            .env("GIT_AUTHOR_EMAIL", "ci@example.com")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        let p = self.path().join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    /// Commits everything as `who` (`Name <email>`); returns the commit id.
    fn commit(&mut self, msg: &str, who: &str) -> String {
        self.clock += 1;
        let (name, email) = who.split_once(" <").unwrap();
        let date = format!("2024-01-02T03:{:02}:05+01:00", self.clock);
        self.git(&["add", "-A"]);
        let out = Command::new("git")
            .args(["commit", "-q", "--allow-empty", "-m", msg])
            .current_dir(self.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", name)
            .env("GIT_AUTHOR_EMAIL", email.trim_end_matches('>'))
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_NAME", "CI")
            .env("GIT_COMMITTER_EMAIL", "ci@example.com")
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.git(&["rev-parse", "HEAD"])
    }
}

fn pair(key: &str) -> String {
    format!("AWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={SECRET}\n")
}

fn scan(repo: &Path, opts: &GitOptions) -> GitReport {
    scan_history(&Scanner::new(), repo, opts, &mut |_, _| {}).unwrap()
}

fn keys(r: &GitReport) -> Vec<(String, String, String)> {
    r.findings
        .iter()
        .map(|f| {
            let c = f
                .commit
                .as_ref()
                .expect("history findings carry their commit");
            (
                f.path.clone(),
                f.key_id.clone().unwrap_or_default(),
                c.id.clone(),
            )
        })
        .collect()
}

#[test]
fn a_key_added_then_removed_is_found_at_the_commit_that_added_it() {
    let mut r = Repo::new();
    r.write("README.md", "# app\n");
    r.commit("start", "Bob <bob@example.com>");
    r.write("deploy/.env", format!("REGION=eu-west-1\n{}", pair(KEY1)));
    let added = r.commit("deploy settings", "Alice Ä <alice@example.com>");
    fs::remove_file(r.path().join("deploy/.env")).unwrap();
    r.commit("oops, remove the key", "Alice Ä <alice@example.com>");
    r.write("src/app.py", "print('hello')\n");
    r.commit("more", "Bob <bob@example.com>");

    let rep = scan(r.path(), &GitOptions::default());
    assert!(rep.problems.is_empty(), "{:?}", rep.problems);
    assert_eq!(rep.commits, 4);
    assert_eq!(rep.findings.len(), 1, "{:?}", rep.findings);
    let f = &rep.findings[0];
    assert_eq!((f.path.as_str(), f.line, f.column), ("deploy/.env", 2, 19));
    assert_eq!(f.rule, Rule::KeyPair);
    assert_eq!(f.secret.as_ref().unwrap().to_string(), "q8Zt…(40)");
    let c = f.commit.as_ref().unwrap();
    assert_eq!(c.id, added);
    assert_eq!(
        (c.author.as_str(), c.email.as_str()),
        ("Alice Ä", "alice@example.com")
    );
    assert_eq!(c.date, "2024-01-02T03:02:05+01:00");
    let json = serde_json::to_string(&rep.findings).unwrap();
    assert!(!json.contains(SECRET), "the secret is never serialized");
    assert!(json.contains(&added));
}

#[test]
fn one_blob_in_many_commits_and_paths_is_scanned_and_reported_once() {
    let mut r = Repo::new();
    r.write("settings.py", format!("aws_access_key_id = '{KEY1}'\n"));
    let first = r.commit("settings", "Bob <bob@example.com>");
    for i in 0..15 {
        r.write(&format!("notes/{i}.md"), format!("note {i}\n"));
        if i == 5 {
            // The very same content at another path: the same blob.
            r.write(
                "copy/settings.py",
                format!("aws_access_key_id = '{KEY1}'\n"),
            );
        }
        r.commit(&format!("note {i}"), "Bob <bob@example.com>");
    }
    let rep = scan(r.path(), &GitOptions::default());
    assert_eq!(keys(&rep), [("settings.py".into(), KEY1.into(), first)]);
    // settings.py and 15 notes; the copy is the same blob.
    assert_eq!(rep.blobs, 16);
    assert_eq!(rep.commits, 16);
}

#[test]
fn a_key_kept_through_edits_is_reported_at_its_first_commit_only() {
    let mut r = Repo::new();
    r.write(".env", pair(KEY1));
    let first = r.commit("env", "Bob <bob@example.com>");
    r.write(".env", format!("DEBUG=1\n{}", pair(KEY1)));
    r.commit("debug", "Bob <bob@example.com>");
    r.write(
        ".env",
        format!("DEBUG=1\n{}AWS_REGION=x\nK={KEY2}\n", pair(KEY1)),
    );
    let third = r.commit("second key", "Bob <bob@example.com>");
    let rep = scan(r.path(), &GitOptions::default());
    assert_eq!(
        keys(&rep),
        [
            (".env".into(), KEY1.into(), first),
            (".env".into(), KEY2.into(), third)
        ]
    );
    assert_eq!(rep.blobs, 3);
}

#[test]
fn a_renamed_file_is_reported_where_the_key_came_in() {
    let mut r = Repo::new();
    r.write("old/creds.env", pair(KEY1));
    let first = r.commit("creds", "Bob <bob@example.com>");
    fs::create_dir(r.path().join("new")).unwrap();
    r.git(&["mv", "old/creds.env", "new/creds.env"]);
    r.commit("move", "Bob <bob@example.com>");
    let rep = scan(r.path(), &GitOptions::default());
    assert_eq!(keys(&rep), [("old/creds.env".into(), KEY1.into(), first)]);
}

#[test]
fn merges_and_unmerged_branches() {
    let mut r = Repo::new();
    r.write("a.txt", "a\n");
    r.commit("a", "Bob <bob@example.com>");
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.write("feature/.env", pair(KEY1));
    let side = r.commit("feature key", "Carol <carol@example.com>");
    r.git(&["checkout", "-q", "main"]);
    r.write("b.txt", "b\n");
    r.commit("b", "Bob <bob@example.com>");
    r.git(&["merge", "-q", "--no-ff", "-m", "merge", "feature"]);
    r.git(&["checkout", "-q", "-b", "wip"]);
    r.write("wip/.env", pair(KEY3));
    let wip = r.commit("wip key", "Dan <dan@example.com>");
    r.git(&["checkout", "-q", "main"]);

    // Every ref by default: the unmerged branch too.
    let rep = scan(r.path(), &GitOptions::default());
    assert_eq!(
        keys(&rep),
        [
            ("feature/.env".into(), KEY1.into(), side.clone()),
            ("wip/.env".into(), KEY3.into(), wip)
        ]
    );
    assert_eq!(rep.findings[0].commit.as_ref().unwrap().author, "Carol");
    // One branch: main's history, the merged side included.
    let opts = GitOptions {
        revs: vec!["main".into()],
        ..GitOptions::default()
    };
    assert_eq!(
        keys(&scan(r.path(), &opts)),
        [("feature/.env".into(), KEY1.into(), side)]
    );
}

#[test]
fn since_a_commit_reports_only_what_came_after_it() {
    let mut r = Repo::new();
    r.write("old.env", pair(KEY1));
    let base = r.commit("old key", "Bob <bob@example.com>");
    r.git(&["checkout", "-q", "-b", "pr"]);
    r.write("README.md", "readme\n");
    r.commit("docs", "Bob <bob@example.com>");
    r.write("new.env", pair(KEY2));
    // The old file copied elsewhere: the same blob, already in the base.
    r.write("copy/old.env", pair(KEY1));
    let added = r.commit("new key", "Eve <eve@example.com>");
    let opts = GitOptions {
        revs: vec!["pr".into()],
        since: vec![base],
        ..GitOptions::default()
    };
    let rep = scan(r.path(), &opts);
    assert_eq!(rep.commits, 2);
    assert_eq!(keys(&rep), [("new.env".into(), KEY2.into(), added)]);
    // An unknown revision is an error naming it.
    let bad = GitOptions {
        since: vec!["no-such-branch".into()],
        ..GitOptions::default()
    };
    let e = scan_history(&Scanner::new(), r.path(), &bad, &mut |_, _| {}).unwrap_err();
    assert!(matches!(e, GitError::Revision { .. }));
    assert!(e.to_string().contains("no-such-branch"), "{e}");
}

#[test]
fn binaries_archives_and_large_blobs() {
    let mut r = Repo::new();
    r.write("logo.txt", format!("\0\0\0{}", pair(KEY1)));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(pair(KEY2).as_bytes()).unwrap();
    r.write("backup/prod.env.gz", gz.finish().unwrap());
    r.write("big.log", "x".repeat(10_000));
    let c = r.commit("assets", "Bob <bob@example.com>");
    let opts = GitOptions {
        max_blob: 4096,
        ..GitOptions::default()
    };
    let rep = scan(r.path(), &opts);
    assert_eq!(
        keys(&rep),
        [("backup/prod.env.gz".into(), KEY2.into(), c.clone())]
    );
    assert_eq!((rep.binary, rep.too_large), (1, 1));
    assert_eq!(rep.problems.len(), 1, "{:?}", rep.problems);
    assert!(rep.problems[0].contains("big.log") && rep.problems[0].contains(&c[..12]));
}

#[test]
fn allowlisted_paths_are_not_read_but_the_same_blob_elsewhere_is() {
    let mut r = Repo::new();
    r.write("fixtures/keys.env", pair(KEY1));
    r.commit("fixture", "Bob <bob@example.com>");
    r.write("app/keys.env", pair(KEY1));
    let leaked = r.commit("copied into the app", "Bob <bob@example.com>");
    let mut b = globset::GlobSetBuilder::new();
    b.add(globset::Glob::new("fixtures/**").unwrap());
    let opts = GitOptions {
        allow_paths: Some(b.build().unwrap()),
        ..GitOptions::default()
    };
    assert_eq!(
        keys(&scan(r.path(), &opts)),
        [("app/keys.env".into(), KEY1.into(), leaked)]
    );
}

#[test]
fn empty_repositories_and_non_repositories() {
    let r = Repo::new();
    let rep = scan(r.path(), &GitOptions::default());
    assert_eq!((rep.commits, rep.findings.len()), (0, 0));
    assert!(rep.problems.is_empty(), "{:?}", rep.problems);
    let plain = tempfile::tempdir().unwrap();
    let e = scan_history(
        &Scanner::new(),
        plain.path(),
        &GitOptions::default(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(e, GitError::Open(..)), "{e}");
}

/// Three commits with keys, then everything packed, then a fourth (loose) commit.
fn packed_history() -> (Repo, String) {
    let mut r = Repo::new();
    for i in 0..3 {
        r.write(
            &format!("dir{i}/data.txt"),
            format!("filler {i}\n").repeat(2000),
        );
        r.write(&format!("dir{i}/.env"), pair(KEY1));
        r.commit(&format!("c{i}"), "Bob <bob@example.com>");
    }
    r.git(&["repack", "-a", "-d", "-q"]);
    r.write("late/.env", pair(KEY2));
    let late = r.commit("late", "Bob <bob@example.com>");
    (r, late)
}

#[test]
fn a_truncated_pack_is_reported_and_the_loose_history_still_scanned() {
    let (r, late) = packed_history();
    let packs = r.path().join(".git/objects/pack");
    let pack = fs::read_dir(&packs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pack"))
        .unwrap();
    let len = fs::metadata(&pack).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&pack)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let rep = scan_history(
        &Scanner::new(),
        r.path(),
        &GitOptions::default(),
        &mut |_, _| {},
    )
    .expect("what can be read is scanned");
    assert!(!rep.problems.is_empty());
    assert!(
        keys(&rep).contains(&("late/.env".into(), KEY2.into(), late.clone())),
        "{:?} {:?}",
        keys(&rep),
        rep.problems
    );
    assert!(
        rep.problems
            .iter()
            .any(|p| p.contains(&late[..12]) || p.contains("commit")),
        "{:?}",
        rep.problems
    );
}

#[test]
fn a_missing_object_is_named_and_the_rest_scanned() {
    let mut r = Repo::new();
    r.write("a/keys.env", pair(KEY1));
    r.write("b/lost.txt", "this blob will go missing\n");
    let c = r.commit("two files", "Bob <bob@example.com>");
    let lost = r.git(&["rev-parse", "HEAD:b/lost.txt"]);
    fs::remove_file(
        r.path()
            .join(format!(".git/objects/{}/{}", &lost[..2], &lost[2..])),
    )
    .unwrap();
    let rep = scan(r.path(), &GitOptions::default());
    assert_eq!(keys(&rep), [("a/keys.env".into(), KEY1.into(), c.clone())]);
    assert_eq!(rep.problems.len(), 1, "{:?}", rep.problems);
    let p = &rep.problems[0];
    assert!(
        p.contains("b/lost.txt") && p.contains(&c[..12]) && p.contains(&lost[..12]),
        "{p}"
    );
}

#[test]
fn a_missing_commit_in_the_middle_of_history() {
    let mut r = Repo::new();
    r.write("one.env", pair(KEY1));
    let first = r.commit("one", "Bob <bob@example.com>");
    r.write("two.txt", "two\n");
    let middle = r.commit("two", "Bob <bob@example.com>");
    r.write("three.env", pair(KEY2));
    let last = r.commit("three", "Bob <bob@example.com>");
    fs::remove_file(
        r.path()
            .join(format!(".git/objects/{}/{}", &middle[..2], &middle[2..])),
    )
    .unwrap();
    let rep = scan(r.path(), &GitOptions::default());
    assert!(
        rep.problems.iter().any(|p| p.contains(&middle[..12])),
        "{:?}",
        rep.problems
    );
    // The commit after the hole is read; the one before it cannot be reached.
    let found = keys(&rep);
    assert!(
        found.iter().any(|(_, k, c)| k == KEY2 && *c == last),
        "{found:?}"
    );
    let _ = first;
}

#[test]
fn a_garbage_head_is_named_and_the_branches_still_scanned() {
    let mut r = Repo::new();
    r.write("k.env", pair(KEY1));
    let c = r.commit("k", "Bob <bob@example.com>");
    fs::write(r.path().join(".git/HEAD"), "garbage\n").unwrap();
    let rep = scan(r.path(), &GitOptions::default());
    assert_eq!(keys(&rep), [("k.env".into(), KEY1.into(), c)]);
    assert!(
        rep.problems.iter().any(|p| p.starts_with("HEAD: ")),
        "{:?}",
        rep.problems
    );
    // A corrupt ref file is named too, and the other refs still walked.
    fs::write(r.path().join(".git/refs/heads/broken"), "not an id\n").unwrap();
    let rep = scan(r.path(), &GitOptions::default());
    assert_eq!(rep.findings.len(), 1);
}
