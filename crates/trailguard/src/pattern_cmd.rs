//! `trailguard pattern test`: EventBridge's TestEventPattern on the command line, for
//! one pattern and one event, or streamed over JSON Lines of cases.
//!
//! The event is matched as the plain JSON it is (`serde_json::Value` as the
//! [`FieldSource`](trailguard_core::FieldSource)): no envelope is added and no
//! CloudTrail field is required, as with TestEventPattern.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use trailguard_core::pattern::Pattern;

use crate::args::PatternTestArgs;
use crate::exit;

/// A case line longer than this gets an error line; at most this much is held.
const MAX_CASE_LINE_BYTES: usize = 1 << 20;

/// Where a pattern, an event or the cases come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
    /// Text given on the command line, and the flag that gave it.
    Inline {
        flag: &'static str,
        text: String,
    },
}

impl Source {
    /// `-` is standard input, anything else a path.
    fn file_or_stdin(arg: String) -> Source {
        if arg == "-" {
            Source::Stdin
        } else {
            Source::File(PathBuf::from(arg))
        }
    }

    /// How messages name it.
    fn name(&self) -> String {
        match self {
            Source::Stdin => "<stdin>".to_owned(),
            Source::File(p) => p.display().to_string(),
            Source::Inline { flag, .. } => (*flag).to_owned(),
        }
    }

    fn open(&self) -> Result<Box<dyn Read>> {
        Ok(match self {
            Source::Stdin => Box::new(io::stdin().lock()),
            Source::File(p) => {
                Box::new(fs::File::open(p).with_context(|| format!("cannot read {}", self.name()))?)
            }
            Source::Inline { text, .. } => Box::new(io::Cursor::new(text.clone().into_bytes())),
        })
    }

    fn read_text(&self) -> Result<String> {
        let mut text = String::new();
        self.open()?
            .read_to_string(&mut text)
            .with_context(|| format!("cannot read {}", self.name()))?;
        Ok(text)
    }
}

/// `pattern test`'s arguments, validated.
#[derive(Debug, PartialEq, Eq)]
pub enum PatternTest {
    One { pattern: Source, event: Source },
    Cases(Source),
}

impl PatternTest {
    pub fn from_args(a: PatternTestArgs) -> Result<PatternTest> {
        if let Some(cases) = a.cases {
            return Ok(PatternTest::Cases(Source::file_or_stdin(cases)));
        }
        let pick = |file: Option<String>, inline: Option<String>, flag: &'static str| {
            match (file, inline) {
                (Some(f), None) => Some(Source::file_or_stdin(f)),
                (None, Some(text)) => Some(Source::Inline { flag, text }),
                // Both: clap refuses that before we get here.
                _ => None,
            }
        };
        let pattern = pick(a.pattern, a.pattern_json, "--pattern-json");
        let event = pick(a.event, a.event_json, "--event-json");
        let (Some(pattern), Some(event)) = (pattern, event) else {
            bail!(
                "give --pattern FILE (or --pattern-json JSON) and --event FILE \
                 (or --event-json JSON), or --cases FILE.jsonl"
            );
        };
        if pattern == Source::Stdin && event == Source::Stdin {
            bail!("only one of --pattern and --event can be - (standard input)");
        }
        Ok(PatternTest::One { pattern, event })
    }
}

pub fn run(args: PatternTestArgs) -> Result<u8> {
    match PatternTest::from_args(args)? {
        PatternTest::One { pattern, event } => test_one(&pattern, &event),
        PatternTest::Cases(cases) => test_cases(&cases),
    }
}

/// Prints `true` or `false`; exit 0 for a match, 1 for none.
fn test_one(pattern: &Source, event: &Source) -> Result<u8> {
    let compiled = Pattern::parse(&pattern.read_text()?)
        .map_err(|e| anyhow!("invalid pattern {}: {e}", pattern.name()))?;
    let event_value: Value = serde_json::from_str(&event.read_text()?)
        .map_err(|e| anyhow!("invalid event {}: not JSON: {e}", event.name()))?;
    if !event_value.is_object() {
        bail!("invalid event {}: not a JSON object", event.name());
    }
    let matched = compiled.matches(&event_value);
    let mut out = io::stdout().lock();
    ignore_broken_pipe(writeln!(out, "{matched}").and_then(|()| out.flush()))?;
    Ok(if matched { exit::OK } else { exit::NO_MATCH })
}

/// One answer line per case line, in order, flushed whenever the input has nothing
/// more buffered (so a program feeding one case at a time gets its answer).
fn test_cases(cases: &Source) -> Result<u8> {
    let mut reader = BufReader::with_capacity(64 * 1024, cases.open()?);
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut line = Vec::new();
    let mut answered: u64 = 0;
    let written = loop {
        if reader.buffer().is_empty() {
            if let Err(e) = out.flush() {
                break Err(e);
            }
        }
        let read = read_line_capped(&mut reader, &mut line, MAX_CASE_LINE_BYTES)
            .with_context(|| format!("cannot read {} after line {answered}", cases.name()));
        let answer = match read {
            Ok(LineRead::Eof) => break out.flush(),
            Ok(LineRead::Line) => answer(&line),
            Ok(LineRead::TooLong) => Err(format!(
                "line is longer than {MAX_CASE_LINE_BYTES} bytes; not read"
            )),
            Err(e) => {
                // Keep the answers given so far, then report where reading stopped.
                ignore_broken_pipe(out.flush())?;
                return Err(e);
            }
        };
        answered += 1;
        let text = match answer {
            Ok(true) => r#"{"match":true}"#.to_owned(),
            Ok(false) => r#"{"match":false}"#.to_owned(),
            Err(reason) => serde_json::json!({ "error": reason }).to_string(),
        };
        if let Err(e) = writeln!(out, "{text}") {
            break Err(e);
        }
    };
    ignore_broken_pipe(written)?;
    Ok(exit::OK)
}

/// A closed pipe (`| head`) is the reader's choice, not an error.
fn ignore_broken_pipe(r: io::Result<()>) -> Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to standard output"),
    }
}

/// The answer to one case line: whether its event matches its pattern, or why it
/// cannot be answered.
fn answer(line: &[u8]) -> Result<bool, String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err("blank line".into());
    }
    let case: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(case) = case else {
        return Err(r#"a case must be a JSON object {"pattern": ..., "event": ...}"#.into());
    };
    let pattern = case.get("pattern").ok_or("missing `pattern`")?;
    let event = case.get("event").ok_or("missing `event`")?;
    let compiled = match pattern {
        // The pattern's own text: how a pattern with a duplicate key is sent.
        Value::String(text) => Pattern::parse(text),
        other => Pattern::from_value(other),
    }
    .map_err(|e| format!("invalid pattern: {e}"))?;
    if !event.is_object() {
        return Err("`event` is not a JSON object".into());
    }
    Ok(compiled.matches(event))
}

#[derive(Debug, PartialEq, Eq)]
enum LineRead {
    Eof,
    /// `buf` holds the line, without its `\n` or `\r\n`.
    Line,
    /// The line was longer than the limit; it was skipped and `buf` is empty.
    TooLong,
}

/// Reads one line into `buf` (cleared first), holding at most `max + 1` bytes of it.
fn read_line_capped(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<LineRead> {
    buf.clear();
    let n = r.by_ref().take(max as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(LineRead::Eof);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        return Ok(LineRead::Line);
    }
    if buf.len() <= max {
        // The last line, without a newline.
        return Ok(LineRead::Line);
    }
    buf.clear();
    skip_line(r)?;
    Ok(LineRead::TooLong)
}

/// Consumes input up to and including the next `\n` (or to the end).
fn skip_line(r: &mut impl BufRead) -> io::Result<()> {
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(());
        }
        match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = chunk.len();
                r.consume(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<(LineRead, Vec<u8>)> {
        let mut r = BufReader::with_capacity(4, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            match read_line_capped(&mut r, &mut buf, max).unwrap() {
                LineRead::Eof => return out,
                other => out.push((other, buf.clone())),
            }
        }
    }

    #[test]
    fn long_lines_are_skipped_whole_and_the_next_line_read() {
        let got = lines(b"abc\r\n0123456789\nxy\n\nlast", 5);
        assert_eq!(
            got,
            vec![
                (LineRead::Line, b"abc".to_vec()),
                (LineRead::TooLong, vec![]),
                (LineRead::Line, b"xy".to_vec()),
                (LineRead::Line, vec![]),
                (LineRead::Line, b"last".to_vec()),
            ]
        );
        // Exactly at the limit, with or without a newline; one over at the end.
        assert_eq!(lines(b"12345\n12345", 5).len(), 2);
        assert_eq!(lines(b"123456", 5), vec![(LineRead::TooLong, vec![])]);
    }

    #[test]
    fn answers() {
        let event = r#""event":{"source":"aws.iam","detail":{"eventName":"CreateAccessKey"}}"#;
        let case = |pattern: &str| answer(format!(r#"{{"pattern":{pattern},{event}}}"#).as_bytes());
        assert_eq!(case(r#"{"source":["aws.iam"]}"#), Ok(true));
        assert_eq!(case(r#"{"source":["aws.ec2"]}"#), Ok(false));
        // As text, a duplicate key is read as the last one.
        let text = r#""{\"source\":[\"aws.ec2\"],\"source\":[\"aws.iam\"]}""#;
        assert_eq!(case(text), Ok(true));
        let err = case(r#"{"detail":{"eventName":"CreateAccessKey"}}"#).unwrap_err();
        assert!(
            err.starts_with("invalid pattern: at `detail.eventName`"),
            "{err}"
        );
        assert_eq!(answer(b"  "), Err("blank line".into()));
        assert_eq!(
            answer(br#"{"pattern":{"a":["b"]},"event":[1]}"#),
            Err("`event` is not a JSON object".into())
        );
        assert_eq!(answer(br#"{"event":{}}"#), Err("missing `pattern`".into()));
    }
}
