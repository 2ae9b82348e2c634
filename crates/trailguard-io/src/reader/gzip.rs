//! Gzip: one-shot decompression with libdeflate into a buffer sized from the ISIZE
//! trailer, falling back to flate2's streaming multi-member decoder (zlib-rs) when the
//! one-shot path cannot be trusted (multi-member, lying ISIZE, truncated, corrupt). The
//! fallback keeps what it decoded before an error, so a truncated file still yields its
//! complete records. A cap on the decompressed size stops gzip bombs.

use std::io::{self, Read};

use flate2::read::MultiGzDecoder;
use memchr::memmem;

use super::error::ReadErrorKind;

/// Decompressed bytes, and what went wrong if the input did not decode to the end.
pub(crate) struct Decoded {
    pub bytes: Vec<u8>,
    /// `TooLarge` (bytes are then empty), `TruncatedGzip` or `CorruptGzip`.
    pub problem: Option<ReadErrorKind>,
}

/// Decompresses a whole gzip file (all members), at most `cap` bytes of output.
pub(crate) fn decompress_all(data: &[u8], cap: u64) -> Decoded {
    if let Some(bytes) = one_shot(data, cap) {
        return Decoded {
            bytes,
            problem: None,
        };
    }
    fallback(data, cap)
}

fn one_shot(data: &[u8], cap: u64) -> Option<Vec<u8>> {
    let n = data.len();
    let trailer: [u8; 8] = data.get(n.checked_sub(8)?..)?.try_into().ok()?;
    let [c0, c1, c2, c3, s0, s1, s2, s3] = trailer;
    let size = u64::from(u32::from_le_bytes([s0, s1, s2, s3]));
    if size > cap {
        // A bomb or a lying trailer: the streaming decoder finds out, under the cap.
        return None;
    }
    let mut out = vec![0u8; usize::try_from(size).ok()?];
    let got = libdeflater::Decompressor::new()
        .gzip_decompress(data, &mut out)
        .ok()?;
    // libdeflate decodes only the first member and checks that member's own trailer.
    // The file is one member when the trailer at the very end describes this output
    // and no copy of it appears earlier (identical first and last members).
    if got as u64 != size || libdeflater::crc32(&out) != u32::from_le_bytes([c0, c1, c2, c3]) {
        return None;
    }
    if memmem::find(&data[..n - 8], &trailer).is_some() {
        return None;
    }
    Some(out)
}

fn fallback(data: &[u8], cap: u64) -> Decoded {
    let mut bytes = Vec::new();
    let hint = (data.len() as u64).saturating_mul(8).min(cap);
    bytes.reserve(usize::try_from(hint).unwrap_or(0));
    let result = MultiGzDecoder::new(data)
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes);
    if bytes.len() as u64 > cap {
        return Decoded {
            bytes: Vec::new(),
            problem: Some(ReadErrorKind::TooLarge { limit: cap }),
        };
    }
    let problem = match result {
        Ok(_) => None,
        Err(e) => Some(classify(e, true)),
    };
    Decoded { bytes, problem }
}

/// Raised by [`Capped`] when a stream goes past its limit.
#[derive(Debug)]
struct CapExceeded;

impl std::fmt::Display for CapExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("size limit exceeded")
    }
}

impl std::error::Error for CapExceeded {}

/// A reader that fails once more than `limit` bytes have come through.
pub(crate) struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Capped<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        Capped { inner, left: limit }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            self.left = 0;
            return Err(io::Error::other(CapExceeded));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Turns an I/O error met while reading a (possibly gzip) stream into an error kind.
pub(crate) fn classify_stream(e: io::Error, gzip: bool, limit: u64) -> ReadErrorKind {
    if e.get_ref().is_some_and(|inner| inner.is::<CapExceeded>()) {
        return ReadErrorKind::TooLarge { limit };
    }
    if gzip {
        classify(e, true)
    } else {
        ReadErrorKind::Io(e)
    }
}

fn classify(e: io::Error, gzip: bool) -> ReadErrorKind {
    match e.kind() {
        io::ErrorKind::UnexpectedEof if gzip => ReadErrorKind::TruncatedGzip(e.to_string()),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData if gzip => {
            ReadErrorKind::CorruptGzip(e.to_string())
        }
        _ => ReadErrorKind::Io(e),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    pub(crate) fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn one_shot_round_trip() {
        let data = b"{\"Records\":[]}".repeat(1000);
        let z = gz(&data);
        assert_eq!(one_shot(&z, 1 << 30).as_deref(), Some(&data[..]));
        let d = decompress_all(&z, 1 << 30);
        assert!(d.problem.is_none());
        assert_eq!(d.bytes, data);
        assert!(decompress_all(&gz(b""), 10).bytes.is_empty());
    }

    #[test]
    fn multi_member_including_identical_members_is_read_whole() {
        let (a, b) = (gz(b"first\n"), gz(b"second\n"));
        for (parts, want) in [
            (vec![&a, &b], "first\nsecond\n"),
            (vec![&a, &b, &a], "first\nsecond\nfirst\n"),
            (vec![&a, &a], "first\nfirst\n"),
        ] {
            let z: Vec<u8> = parts.into_iter().flatten().copied().collect();
            assert!(one_shot(&z, 1 << 20).is_none(), "{want}");
            let d = decompress_all(&z, 1 << 20);
            assert!(d.problem.is_none());
            assert_eq!(String::from_utf8(d.bytes).unwrap(), want);
        }
    }

    #[test]
    fn lying_isize_falls_back() {
        let data = b"0123456789".repeat(100);
        let mut z = gz(&data);
        let n = z.len();
        z[n - 4..].copy_from_slice(&5u32.to_le_bytes());
        assert_eq!(decompress_all(&z, 1 << 20).bytes, data);
        z[n - 4..].copy_from_slice(&5000u32.to_le_bytes());
        let d = decompress_all(&z, 1 << 20);
        assert_eq!(d.bytes, data);
        assert!(d.problem.is_some(), "trailer mismatch is still reported");
    }

    #[test]
    fn truncated_keeps_the_prefix_and_says_so() {
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let z = gz(&data);
        let cut = &z[..z.len() / 2];
        let d = decompress_all(cut, 1 << 30);
        assert!(
            matches!(d.problem, Some(ReadErrorKind::TruncatedGzip(_))),
            "{:?}",
            d.problem
        );
        assert!(!d.bytes.is_empty() && data.starts_with(&d.bytes));
    }

    #[test]
    fn bomb_over_the_cap() {
        let z = gz(&vec![b' '; 5 << 20]);
        let d = decompress_all(&z, 1 << 20);
        assert!(matches!(
            d.problem,
            Some(ReadErrorKind::TooLarge { limit }) if limit == 1 << 20
        ));
        assert!(d.bytes.is_empty());
        let mut r = Capped::new(MultiGzDecoder::new(&z[..]), 1 << 20);
        let e = io::copy(&mut r, &mut io::sink()).unwrap_err();
        assert!(matches!(
            classify_stream(e, true, 1),
            ReadErrorKind::TooLarge { .. }
        ));
    }
}
