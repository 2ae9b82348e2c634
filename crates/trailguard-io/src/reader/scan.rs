//! A small JSON structure scanner: it finds where values begin and end without
//! building or validating them (serde does that, one element at a time).
//!
//! It is string and escape aware, keeps nesting as a plain counter (no recursion, no
//! stack of frames), so no input, however deep, can overflow the stack. Brackets are
//! not matched by kind: an element the scanner delimits wrongly fails its own parse.

use memchr::memchr2;

/// Where and why the scanner stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanError {
    /// Byte offset in the scanned buffer.
    pub at: usize,
    pub what: &'static str,
}

impl ScanError {
    fn eof(at: usize) -> Self {
        ScanError {
            at,
            what: "unexpected end of input (truncated?)",
        }
    }

    pub fn is_eof(&self) -> bool {
        self.what.starts_with("unexpected end")
    }
}

pub(crate) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// First index at or after `i` that is not JSON whitespace (`b.len()` if none).
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| is_ws(c)) {
        i += 1;
    }
    i
}

/// `b[i]` is a `"`: returns the index just past the closing quote.
pub(crate) fn string_end(b: &[u8], i: usize) -> Result<usize, ScanError> {
    let mut j = i + 1;
    loop {
        let rest = b.get(j..).ok_or(ScanError::eof(b.len()))?;
        match memchr2(b'"', b'\\', rest) {
            None => return Err(ScanError::eof(b.len())),
            Some(k) if rest[k] == b'"' => return Ok(j + k + 1),
            Some(k) => j += k + 2, // skip the escaped byte
        }
    }
}

/// The index just past the value starting at `i` (whitespace already skipped).
pub(crate) fn value_end(b: &[u8], i: usize) -> Result<usize, ScanError> {
    match b.get(i) {
        None => Err(ScanError::eof(b.len())),
        Some(b'"') => string_end(b, i),
        Some(b'{' | b'[') => {
            let mut depth: u64 = 0;
            let mut j = i;
            while let Some(&c) = b.get(j) {
                match c {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            Err(ScanError::eof(b.len()))
        }
        Some(b',' | b':' | b']' | b'}') => Err(ScanError {
            at: i,
            what: "expected a value",
        }),
        Some(_) => {
            // Number or literal: up to the next delimiter.
            let mut j = i;
            while b
                .get(j)
                .is_some_and(|&c| !is_ws(c) && !matches!(c, b',' | b']' | b'}'))
            {
                j += 1;
            }
            Ok(j)
        }
    }
}

/// Whether the JSON value `b` nests deeper than `limit` levels. Cheap for the common
/// case: a value with fewer opening brackets than `limit` cannot be that deep.
pub(crate) fn deeper_than(b: &[u8], limit: usize) -> bool {
    if b.len() < 2 * limit || memchr::memchr2_iter(b'[', b'{', b).count() <= limit {
        return false;
    }
    let mut depth = 0usize;
    let mut j = 0;
    while let Some(&c) = b.get(j) {
        match c {
            b'"' => match string_end(b, j) {
                Ok(end) => {
                    j = end;
                    continue;
                }
                Err(_) => return false,
            },
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        j += 1;
    }
    false
}

/// Walks the members of an object, yielding each key before its value is skipped, so
/// a caller can stop at a decisive key without scanning its (possibly huge) value.
pub(crate) struct Members<'a> {
    b: &'a [u8],
    pos: usize,
    pending_value: Option<usize>,
    started: bool,
    done: bool,
}

impl<'a> Members<'a> {
    /// `b[start]` must be `{`.
    pub fn new(b: &'a [u8], start: usize) -> Self {
        Members {
            b,
            pos: start + 1,
            pending_value: None,
            started: false,
            done: false,
        }
    }

    /// The next `(raw key bytes, value start)`, or `None` after the closing brace.
    pub fn next_member(&mut self) -> Result<Option<(&'a [u8], usize)>, ScanError> {
        if self.done {
            return Ok(None);
        }
        if let Some(v) = self.pending_value.take() {
            self.pos = value_end(self.b, v)?;
        }
        let b = self.b;
        let mut i = skip_ws(b, self.pos);
        if self.started {
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => return Ok(self.finish(i)),
                Some(_) => return Err(err(i, "expected ',' or '}' after a member")),
                None => return Err(ScanError::eof(i)),
            }
        } else {
            self.started = true;
            if b.get(i) == Some(&b'}') {
                return Ok(self.finish(i));
            }
        }
        match b.get(i) {
            Some(b'"') => {}
            Some(_) => return Err(err(i, "expected a string key")),
            None => return Err(ScanError::eof(i)),
        }
        let key_end = string_end(b, i)?;
        let key = &b[i + 1..key_end - 1];
        let colon = skip_ws(b, key_end);
        match b.get(colon) {
            Some(b':') => {}
            Some(_) => return Err(err(colon, "expected ':' after a key")),
            None => return Err(ScanError::eof(colon)),
        }
        let value = skip_ws(b, colon + 1);
        self.pending_value = Some(value);
        Ok(Some((key, value)))
    }

    /// Tells the cursor where the current value ended, when the caller scanned it.
    pub fn value_ends_at(&mut self, end: usize) {
        self.pending_value = None;
        self.pos = end;
    }

    /// Index just past the closing brace (valid once `next_member` returned `None`).
    pub fn end(&self) -> usize {
        self.pos
    }

    fn finish<T>(&mut self, close: usize) -> Option<T> {
        self.done = true;
        self.pos = close + 1;
        None
    }
}

/// Walks the elements of an array, yielding each element's byte range.
pub(crate) struct Elements<'a> {
    b: &'a [u8],
    pos: usize,
    started: bool,
    done: bool,
}

impl<'a> Elements<'a> {
    /// `b[start]` must be `[`.
    pub fn new(b: &'a [u8], start: usize) -> Self {
        Elements {
            b,
            pos: start + 1,
            started: false,
            done: false,
        }
    }

    /// The next element as `(start, end)`, or `None` after the closing bracket. An
    /// error for an element that starts but does not end carries the element's start.
    pub fn next_element(&mut self) -> Result<Option<(usize, usize)>, ScanError> {
        if self.done {
            return Ok(None);
        }
        let b = self.b;
        let mut i = skip_ws(b, self.pos);
        if self.started {
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b']') => {
                    self.done = true;
                    self.pos = i + 1;
                    return Ok(None);
                }
                // A missing comma between two objects: report it, then resynchronise.
                Some(b'{') => {
                    self.pos = i;
                    self.started = false;
                    return Err(err(i, "expected ',' or ']' between elements"));
                }
                Some(_) => {
                    self.done = true;
                    return Err(err(i, "expected ',' or ']' between elements"));
                }
                None => {
                    self.done = true;
                    return Err(ScanError::eof(i));
                }
            }
        } else {
            self.started = true;
            if b.get(i) == Some(&b']') {
                self.done = true;
                self.pos = i + 1;
                return Ok(None);
            }
        }
        match value_end(b, i) {
            Ok(end) => {
                self.pos = end;
                Ok(Some((i, end)))
            }
            Err(e) => {
                self.done = true;
                Err(ScanError {
                    at: i.min(b.len()),
                    what: e.what,
                })
            }
        }
    }

    /// Index just past the closing bracket (valid once `next_element` returned `None`).
    pub fn end(&self) -> usize {
        self.pos
    }
}

fn err(at: usize, what: &'static str) -> ScanError {
    ScanError { at, what }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(s: &str) -> (Vec<&str>, Option<ScanError>) {
        let b = s.as_bytes();
        let mut el = Elements::new(b, s.find('[').unwrap());
        let mut out = vec![];
        loop {
            match el.next_element() {
                Ok(Some((a, z))) => out.push(&s[a..z]),
                Ok(None) => return (out, None),
                Err(e) => {
                    if el.done {
                        return (out, Some(e));
                    }
                }
            }
        }
    }

    #[test]
    fn splits_arrays_respecting_strings_and_escapes() {
        let (els, e) = elements(r#"[ {"a":"]}\"["}, [1,[2]] ,"x\\", 3.5e2, true ]"#);
        assert_eq!(
            els,
            vec![r#"{"a":"]}\"["}"#, "[1,[2]]", r#""x\\""#, "3.5e2", "true"]
        );
        assert!(e.is_none());
        assert_eq!(elements("[]").0.len(), 0);
    }

    #[test]
    fn truncated_element_reports_its_start() {
        let s = r#"[{"a":1},{"b":"#;
        let (els, e) = elements(s);
        assert_eq!(els, vec![r#"{"a":1}"#]);
        let e = e.unwrap();
        assert!(e.is_eof());
        assert_eq!(e.at, 9);
    }

    #[test]
    fn missing_comma_between_objects_resynchronises() {
        let (els, e) = elements(r#"[{"a":1} {"b":2}]"#);
        assert_eq!(els, vec![r#"{"a":1}"#, r#"{"b":2}"#]);
        assert!(e.is_none());
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let depth = 1_000_000;
        let s = format!("[{}{}]", "[".repeat(depth), "]".repeat(depth));
        let (els, e) = elements(&s);
        assert_eq!(els.len(), 1);
        assert!(e.is_none());
    }

    #[test]
    fn depth_limit() {
        let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
        assert!(deeper_than(deep.as_bytes(), 256));
        assert!(!deeper_than(deep.as_bytes(), 300));
        let wide = format!("[{}]", vec!["[{\"a\":\"[[[[\"}]"; 400].join(","));
        assert!(!deeper_than(wide.as_bytes(), 3));
    }

    #[test]
    fn members_yield_keys_lazily() {
        let s = br#"{ "Records" : [1,2], "x":{"y":"}"}, "z": 3 }"#;
        let mut m = Members::new(s, 0);
        let (k, v) = m.next_member().unwrap().unwrap();
        assert_eq!((k, s[v]), (&b"Records"[..], b'['));
        assert_eq!(m.next_member().unwrap().unwrap().0, b"x");
        assert_eq!(m.next_member().unwrap().unwrap().0, b"z");
        assert!(m.next_member().unwrap().is_none());
        assert_eq!(m.end(), s.len());
        let mut bad = Members::new(br#"{"a" 1}"#, 0);
        assert_eq!(bad.next_member().unwrap_err().at, 5);
    }
}
