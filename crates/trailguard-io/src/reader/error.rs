//! Typed read errors: which file, where in it, and why.

use std::fmt;

use trailguard_core::EventError;

/// Where in a file an error was found. Byte offsets count decompressed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// Element `index` (0-based, as in `.Records[index]`) of the records array,
    /// starting at byte offset `byte`.
    Record { index: u64, byte: u64 },
    /// Line number (1-based) in JSON Lines.
    Line(u64),
    /// Byte offset.
    Byte(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Record { index, byte } => write!(f, "record {index} (byte {byte})"),
            Location::Line(n) => write!(f, "line {n}"),
            Location::Byte(n) => write!(f, "byte {n}"),
        }
    }
}

/// One problem met while reading; reading goes on after it.
#[derive(Debug, thiserror::Error)]
#[error("{path}{}: {kind}", LocSuffix(.location))]
pub struct ReadError {
    /// The file as given or found by walking; `<stdin>` for standard input.
    pub path: String,
    pub location: Option<Location>,
    pub kind: ReadErrorKind,
}

struct LocSuffix<'a>(&'a Option<Location>);

impl fmt::Display for LocSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(loc) => write!(f, ": {loc}"),
            None => Ok(()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadErrorKind {
    #[error("cannot read: {0}")]
    Io(std::io::Error),
    #[error("cannot list: {0}")]
    Walk(String),
    #[error("cannot fetch: {0}")]
    Fetch(String),
    #[error("not JSON (nor gzip)")]
    NotJson,
    #[error("JSON, but no CloudTrail record or EventBridge event in it")]
    NotCloudTrail,
    #[error(
        "more than {limit} bytes once decompressed or read whole (gzip bomb? raise the limit)"
    )]
    TooLarge { limit: u64 },
    #[error("truncated gzip ({0}); the complete records before the cut were read")]
    TruncatedGzip(String),
    #[error("corrupt gzip: {0}")]
    CorruptGzip(String),
    #[error("{0}")]
    Json(serde_json::Error),
    #[error("{0}")]
    Event(EventError),
    #[error("malformed JSON: {0}")]
    Syntax(&'static str),
    #[error("no \"{0}\" array")]
    MissingArray(&'static str),
    #[error("nested deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("line longer than {limit} bytes, skipped")]
    LineTooLong { limit: u64 },
    #[error("lookup-events entry without a CloudTrailEvent string")]
    MissingCloudTrailEvent,
}

impl ReadError {
    pub fn new(path: impl Into<String>, location: Option<Location>, kind: ReadErrorKind) -> Self {
        ReadError {
            path: path.into(),
            location,
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_location_and_reason() {
        let e = ReadError::new(
            "examples/x.json.gz",
            Some(Location::Record {
                index: 17,
                byte: 40213,
            }),
            ReadErrorKind::Syntax("expected a value"),
        );
        assert_eq!(
            e.to_string(),
            "examples/x.json.gz: record 17 (byte 40213): malformed JSON: expected a value"
        );
        let e = ReadError::new("a.jsonl", Some(Location::Line(3)), ReadErrorKind::NotJson);
        assert_eq!(e.to_string(), "a.jsonl: line 3: not JSON (nor gzip)");
        let e = ReadError::new("d", None, ReadErrorKind::MissingArray("Records"));
        assert_eq!(e.to_string(), "d: no \"Records\" array");
    }
}
