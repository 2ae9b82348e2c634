//! Archives opened with limits: what decompresses from one archive is at most
//! [`MAX_DECOMPRESSED`] bytes and [`MAX_RATIO`] times its size, so a bomb costs a
//! bounded read and a warning, never the machine.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::detect::Scanner;
use crate::finding::Finding;
use crate::walk::{scan_reader, MAX_DECOMPRESSED, MAX_RATIO};

/// Zip members looked at, at most (the central directory of more is itself a bomb).
const MAX_MEMBERS: usize = 100_000;

/// The bytes an archive of `size` bytes may decompress to.
pub fn budget(size: u64) -> u64 {
    MAX_DECOMPRESSED.min(size.saturating_mul(MAX_RATIO))
}

fn bomb(limit: u64) -> io::Error {
    io::Error::other(format!(
        "archive decompresses to more than {limit} bytes (limits: {} MiB, {}x its size): \
         possible decompression bomb, scanned only its start",
        MAX_DECOMPRESSED / (1024 * 1024),
        MAX_RATIO
    ))
}

/// Every file member of a zip archive, each reported as `archive.zip!member/path`.
/// Members that are binaries are passed over; nested archives are not opened.
pub fn scan_zip(scanner: &Scanner, path: &Path, chunk: usize) -> (Vec<Finding>, Option<io::Error>) {
    let mut out = Vec::new();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let limit = budget(size);
    let opened = File::open(path).and_then(|f| {
        zip::ZipArchive::new(f).map_err(|e| io::Error::other(format!("not a readable zip: {e}")))
    });
    let mut zip = match opened {
        Ok(z) => z,
        Err(e) => return (out, Some(e)),
    };
    if zip.len() > MAX_MEMBERS {
        let e = io::Error::other(format!(
            "{} members, over {MAX_MEMBERS}: not opened",
            zip.len()
        ));
        return (out, Some(e));
    }
    let mut left = limit;
    let mut problems = Vec::new();
    for i in 0..zip.len() {
        let mut member = match zip.by_index(i) {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("member {i}: {e}"));
                continue;
            }
        };
        if !member.is_file() {
            continue;
        }
        let name = PathBuf::from(format!("{}!{}", path.display(), member.name()));
        let mut limited = Limited::new(&mut member, left);
        let mut head = Vec::new();
        if let Err(e) = (&mut limited).take(8 * 1024).read_to_end(&mut head) {
            problems.push(format!("{}: {e}", member_name(&name)));
            break;
        }
        let creds = crate::walk::is_credentials_file(Path::new(&member_name(&name)));
        let skip = memchr::memchr(0, &head).is_some();
        let (found, err) = if skip {
            (Vec::new(), None)
        } else {
            scan_reader(
                scanner,
                io::Cursor::new(head).chain(&mut limited),
                &name,
                creds,
                chunk,
            )
        };
        out.extend(found);
        left = limited.left;
        if let Some(e) = err {
            problems.push(format!("{}: {e}", member_name(&name)));
            if left == 0 {
                break;
            }
        }
    }
    let err = (!problems.is_empty()).then(|| io::Error::other(problems.join("; ")));
    (out, err)
}

fn member_name(p: &Path) -> String {
    let s = p.to_string_lossy();
    s.split_once('!')
        .map_or(s.to_string(), |(_, m)| m.to_owned())
}

/// A reader that fails once more than `limit` bytes came out of it.
pub struct Limited<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R> Limited<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        Limited {
            inner,
            left: limit,
            limit,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            // One byte more tells a stream of exactly `limit` bytes from a larger one.
            let mut one = [0u8; 1];
            return match self.inner.read(&mut one)? {
                0 => Ok(0),
                _ => Err(bomb(self.limit)),
            };
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const KEY: &str = "AKIAWCZC6J72ODEC6IFU";

    fn zip_of(path: &Path, members: &[(&str, Vec<u8>)]) {
        let mut z = zip::ZipWriter::new(File::create(path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, body) in members {
            z.start_file(*name, opts).unwrap();
            z.write_all(body).unwrap();
        }
        z.finish().unwrap();
    }

    #[test]
    fn zip_members_are_scanned_with_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("backup.zip");
        zip_of(
            &p,
            &[
                ("readme.md", b"nothing here".to_vec()),
                (
                    ".aws/credentials",
                    format!("[default]\naws_access_key_id = {KEY}\n").into_bytes(),
                ),
                ("logo.png", format!("\0\0{KEY}").into_bytes()),
            ],
        );
        let (f, e) = scan_zip(&Scanner::new(), &p, 1 << 20);
        assert!(e.is_none(), "{e:?}");
        assert_eq!(f.len(), 1);
        assert!(
            f[0].path.ends_with("backup.zip!.aws/credentials"),
            "{}",
            f[0].path
        );
        assert_eq!((f[0].line, f[0].column), (2, 21));
        assert_eq!(f[0].confidence, crate::Confidence::Medium);
    }

    #[test]
    fn zip_bomb_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bomb.zip");
        let zeros = vec![b'\n'; 4 << 20];
        zip_of(
            &p,
            &[
                ("a.env", format!("AWS_ACCESS_KEY_ID={KEY}\n").into_bytes()),
                ("b.txt", zeros.clone()),
                ("c.txt", zeros),
            ],
        );
        let (f, e) = scan_zip(&Scanner::new(), &p, 1 << 20);
        assert_eq!(f.len(), 1);
        assert!(e.unwrap().to_string().contains("decompression bomb"));
    }
}
