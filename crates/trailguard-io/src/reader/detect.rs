//! Telling formats apart by content (never by file name), from a prefix of the
//! (decompressed) bytes. Only the first object's keys are looked at, and a decisive
//! key (`Records`, `Events`, a digest key) ends the sniff at once, so a 100 MB
//! single-line log file is not scanned to decide.

use super::scan::{skip_ws, Members};

pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Nothing but whitespace (or a BOM).
    Empty,
    /// Does not start like a JSON object or array.
    NotJson,
    /// `{"Records":[...]}`, CloudTrail's log file.
    LogFile,
    /// `aws cloudtrail lookup-events` output: `{"Events":[{"CloudTrailEvent":"..."}]}`.
    LookupEvents,
    /// A CloudTrail digest file.
    Digest,
    /// A bare JSON array of records (or EventBridge events).
    Array,
    /// One JSON object: a bare record or an EventBridge event.
    Single,
    /// JSON Lines: one record or EventBridge event per line.
    Lines,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniff {
    Is(Format),
    /// The prefix ends before the format is known: read more and ask again.
    NeedMore,
}

/// Length of a leading UTF-8 byte order mark, if any.
pub(crate) fn bom_len(b: &[u8]) -> usize {
    if b.starts_with(BOM) {
        BOM.len()
    } else {
        0
    }
}

pub(crate) fn is_gzip(b: &[u8]) -> bool {
    b.starts_with(&GZIP_MAGIC)
}

/// Classifies `prefix`; `eof` says whether it is the whole input.
pub(crate) fn sniff(prefix: &[u8], eof: bool) -> Sniff {
    let start = skip_ws(prefix, bom_len(prefix));
    match prefix.get(start) {
        None if eof => Sniff::Is(Format::Empty),
        None => Sniff::NeedMore,
        Some(b'[') => Sniff::Is(Format::Array),
        Some(b'{') => sniff_object(prefix, start, eof),
        Some(_) => Sniff::Is(Format::NotJson),
    }
}

fn sniff_object(b: &[u8], start: usize, eof: bool) -> Sniff {
    let mut members = Members::new(b, start);
    loop {
        match members.next_member() {
            Ok(Some((key, _))) => {
                if let Some(format) = decisive_key(key) {
                    return Sniff::Is(format);
                }
            }
            Ok(None) => break,
            Err(e) if e.is_eof() && !eof => return Sniff::NeedMore,
            // Broken JSON: let the parser of a single document report it precisely.
            Err(_) => return Sniff::Is(Format::Single),
        }
    }
    let end = members.end();
    let next = skip_ws(b, end);
    match b.get(next) {
        None if eof => Sniff::Is(Format::Single),
        None => Sniff::NeedMore,
        // Another line after a complete first-line object: JSON Lines (a broken second
        // line then costs only itself).
        Some(_) if b[end..next].contains(&b'\n') => Sniff::Is(Format::Lines),
        Some(_) => Sniff::Is(Format::Single),
    }
}

fn decisive_key(key: &[u8]) -> Option<Format> {
    Some(match key {
        b"Records" => Format::LogFile,
        b"Events" => Format::LookupEvents,
        b"digestStartTime"
        | b"digestEndTime"
        | b"digestS3Bucket"
        | b"digestS3Object"
        | b"logFiles"
        | b"previousDigestSignature"
        | b"digestPublicKeyFingerprint" => Format::Digest,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(s: &str) -> Format {
        match sniff(s.as_bytes(), true) {
            Sniff::Is(f) => f,
            Sniff::NeedMore => panic!("NeedMore at eof"),
        }
    }

    #[test]
    fn classifies_by_content() {
        assert_eq!(whole(""), Format::Empty);
        assert_eq!(whole("\u{feff}  \n"), Format::Empty);
        assert_eq!(whole("Apache License"), Format::NotJson);
        assert_eq!(whole(" [ {} ]"), Format::Array);
        assert_eq!(whole(r#"{"Records":[]}"#), Format::LogFile);
        assert_eq!(whole("\u{feff}{\"Records\":[]}"), Format::LogFile);
        assert_eq!(whole(r#"{"x":{"a":[1]},"Records":[]}"#), Format::LogFile);
        assert_eq!(
            whole(r#"{"NextToken":"t","Events":[]}"#),
            Format::LookupEvents
        );
        assert_eq!(
            whole(r#"{"awsAccountId":"1","digestStartTime":"x","logFiles":[]}"#),
            Format::Digest
        );
        assert_eq!(whole(r#"{"eventName":"X"}"#), Format::Single);
        assert_eq!(whole("{\"eventName\":\"X\"}\n"), Format::Single);
        assert_eq!(whole("{\"a\":1}\n{\"a\":2}\n"), Format::Lines);
        assert_eq!(whole("{\"a\":1}\r\n\r\n{\"a\":2}"), Format::Lines);
        assert_eq!(whole("{\"a\":1} {\"a\":2}"), Format::Single);
        assert_eq!(whole("{\"a\":1}\n[[1]]\n"), Format::Lines);
        assert_eq!(whole("{\"a\":"), Format::Single);
    }

    #[test]
    fn asks_for_more_only_when_undecided() {
        assert_eq!(sniff(b"  ", false), Sniff::NeedMore);
        assert_eq!(sniff(b"{\"eventName\":\"X\"", false), Sniff::NeedMore);
        assert_eq!(sniff(b"{\"eventName\":\"X\"}\n", false), Sniff::NeedMore);
        // A decisive key is enough, whatever follows.
        assert_eq!(
            sniff(b"{\"Records\":[{\"eventName\":", false),
            Sniff::Is(Format::LogFile)
        );
        assert_eq!(sniff(b"[{\"ev", false), Sniff::Is(Format::Array));
        assert_eq!(sniff(b"{\"a\":1}\n{\"a", false), Sniff::Is(Format::Lines));
    }
}
