//! Archives, friendly and hostile: members named, nesting, bombs flat and nested,
//! truncated and lying tars. Nothing here is ever written to disk but the archives.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::*;
use crate::Confidence;

const KEY: &str = "AKIAWCZC6J72ODEC6IFU";
const SECRET: &str = "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";

fn env() -> Vec<u8> {
    format!("# app\nAWS_ACCESS_KEY_ID={KEY}\nAWS_SECRET_ACCESS_KEY={SECRET}\n").into_bytes()
}

fn zip_bytes(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in members {
        z.start_file(*name, opts).unwrap();
        z.write_all(body).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn gz_bytes(body: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

/// A ustar archive; names are written into the header raw, so hostile ones stay as is.
fn tar_bytes(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, body) in members {
        let mut h = tar::Header::new_ustar();
        h.as_mut_bytes()[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, &body[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn scan(name: &str, bytes: &[u8]) -> (Vec<Finding>, Option<String>) {
    let scanner = Scanner::new();
    let c = Content::new(&scanner, 1 << 20, bytes.len() as u64);
    c.scan_bytes(name, bytes);
    c.finish()
}

fn paths(f: &[Finding]) -> Vec<&str> {
    f.iter().map(|f| f.path.as_str()).collect()
}

#[test]
fn zip_members_are_scanned_with_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("backup.zip");
    let bytes = zip_bytes(&[
        ("readme.md", b"nothing here".to_vec()),
        (
            ".aws/credentials",
            format!("[default]\naws_access_key_id = {KEY}\n").into_bytes(),
        ),
        ("logo.png", format!("\0\0{KEY}").into_bytes()),
    ]);
    std::fs::write(&p, bytes).unwrap();
    let scanner = Scanner::new();
    let c = Content::new(&scanner, 1 << 20, 1000);
    c.scan_file(&p.to_string_lossy(), File::open(&p).unwrap());
    let (f, e) = c.finish();
    assert!(e.is_none(), "{e:?}");
    assert_eq!(f.len(), 1);
    assert!(
        f[0].path.ends_with("backup.zip!.aws/credentials"),
        "{}",
        f[0].path
    );
    assert_eq!((f[0].line, f[0].column), (2, 21));
    assert_eq!(f[0].confidence, Confidence::Medium);
}

#[test]
fn tar_members_plain_and_gzipped_are_named() {
    let tar = tar_bytes(&[
        ("docs/readme.md", b"nothing".to_vec()),
        ("inner/dir/file.env", env()),
        ("bin/tool", format!("\0\0{KEY}").into_bytes()),
    ]);
    let (f, e) = scan("site.tar", &tar);
    assert!(e.is_none(), "{e:?}");
    assert_eq!(paths(&f), ["site.tar!inner/dir/file.env"]);
    assert_eq!(
        (f[0].line, f[0].column, f[0].confidence),
        (2, 19, Confidence::High)
    );
    let (f, e) = scan("site.tar.gz", &gz_bytes(&tar));
    assert!(e.is_none(), "{e:?}");
    assert_eq!(paths(&f), ["site.tar.gz!inner/dir/file.env"]);
}

#[test]
fn nested_archives_are_opened_and_named_all_the_way_down() {
    let zip = zip_bytes(&[("config/.env", env())]);
    let tgz = gz_bytes(&tar_bytes(&[("backup/site.zip", zip), ("a.txt", env())]));
    let (f, e) = scan("release.tgz", &tgz);
    assert!(e.is_none(), "{e:?}");
    assert_eq!(
        paths(&f),
        [
            "release.tgz!backup/site.zip!config/.env",
            "release.tgz!a.txt"
        ]
    );
    assert!(f.iter().all(|f| f.confidence == Confidence::High));
    // A zip in a zip in a zip.
    let inner = zip_bytes(&[("deep/.env", env())]);
    let mid = zip_bytes(&[("inner.zip", inner)]);
    let outer = zip_bytes(&[("mid.zip", mid)]);
    let (f, _) = scan("outer.zip", &outer);
    assert_eq!(paths(&f), ["outer.zip!mid.zip!inner.zip!deep/.env"]);
}

#[test]
fn nesting_past_the_limit_is_reported_not_opened() {
    let mut bytes = env();
    for _ in 0..MAX_DEPTH + 2 {
        bytes = gz_bytes(&tar_bytes(&[("x.tar.gz", bytes)]));
    }
    let (f, e) = scan("onion.tar.gz", &bytes);
    assert!(f.is_empty());
    let e = e.unwrap();
    assert!(e.contains("nested more than 5 deep"), "{e}");
    assert!(
        e.starts_with("x.tar.gz!x.tar.gz"),
        "the member is named: {e}"
    );
}

#[test]
fn hostile_member_names_are_only_reported() {
    let tar = tar_bytes(&[("/etc/cron.d/x.env", env()), ("../../outside/.env", env())]);
    let dir = tempfile::tempdir().unwrap();
    let before: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    let (f, e) = scan("evil.tar", &tar);
    assert!(e.is_none(), "{e:?}");
    assert_eq!(
        paths(&f),
        ["evil.tar!/etc/cron.d/x.env", "evil.tar!../../outside/.env"]
    );
    assert!(before.is_empty() && !Path::new("/etc/cron.d/x.env").exists());
}

#[test]
fn truncated_tar_keeps_what_came_before_and_names_the_cut() {
    let tar = tar_bytes(&[
        ("a/.env", env()),
        ("b/big.txt", vec![b'x'; 20_000]),
        ("c/.env", env()),
    ]);
    // Cut inside the second member's data: the first is found, the cut reported.
    let (f, e) = scan("cut.tar", &tar[..512 + 512 + 512 + 5_000]);
    assert_eq!(paths(&f), ["cut.tar!a/.env"]);
    let e = e.expect("the truncation is reported");
    assert!(
        e.contains("truncated") || e.contains("EOF") || e.contains("eof"),
        "{e}"
    );
    // Cut inside a header.
    let (f, e) = scan("cut.tar", &tar[..512 + 512 + 100]);
    assert_eq!(paths(&f), ["cut.tar!a/.env"]);
    assert!(e.is_some());
}

#[test]
fn a_huge_declared_size_costs_only_the_bytes_there() {
    let mut tar = tar_bytes(&[("a/.env", env())]);
    // Declare 8 GiB for the member; the data is 100 bytes or so.
    let mut h = tar::Header::new_ustar();
    h.as_mut_bytes()[..8].copy_from_slice(b"huge.env");
    h.set_size(8 << 30);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let at = tar.len() - 1024; // before the two zero blocks that end the archive
    tar.truncate(at);
    tar.extend_from_slice(h.as_bytes());
    tar.extend_from_slice(&env());
    let start = std::time::Instant::now();
    let (f, e) = scan("liar.tar", &tar);
    assert!(start.elapsed().as_secs() < 5);
    assert_eq!(paths(&f), ["liar.tar!a/.env", "liar.tar!huge.env"]);
    let e = e.expect("the short member is reported");
    assert!(e.contains("truncated tar after member huge.env"), "{e}");
}

#[test]
fn zip_bomb_is_cut_off() {
    let zeros = vec![b'\n'; 4 << 20];
    let bytes = zip_bytes(&[
        ("a.env", format!("AWS_ACCESS_KEY_ID={KEY}\n").into_bytes()),
        ("b.txt", zeros.clone()),
        ("c.txt", zeros),
    ]);
    let (f, e) = scan("bomb.zip", &bytes);
    assert_eq!(f.len(), 1);
    assert!(e.unwrap().contains("decompression bomb"));
}

#[test]
fn a_bomb_nested_in_archives_counts_against_the_one_budget() {
    // Each layer alone is within the ratio; the total is not.
    let layer = gz_bytes(&vec![b' '; 3 << 20]);
    let tar = tar_bytes(&[
        ("a/.env", env()),
        ("one.gz", layer.clone()),
        ("two.gz", layer),
    ]);
    let bytes = gz_bytes(&tar);
    let (f, e) = scan("pile.tar.gz", &bytes);
    assert_eq!(paths(&f), ["pile.tar.gz!a/.env"]);
    assert!(e.unwrap().contains("decompression bomb"));
}

#[test]
fn a_broken_zip_and_garbage_gzip_are_problems_not_panics() {
    let (f, e) = scan("a.zip", b"PK\x03\x04rest");
    assert!(f.is_empty() && e.unwrap().contains("not a readable zip"));
    let (f, e) = scan("a.gz", &[0x1f, 0x8b, 8, 0, 1, 2, 3]);
    assert!(f.is_empty() && e.is_some());
    let tgz = gz_bytes(&tar_bytes(&[("x/.env", b"PK\x03\x04junk".to_vec())]));
    let (_, e) = scan("a.tgz", &tgz);
    assert!(e.unwrap().starts_with("x/.env: not a readable zip"));
}
