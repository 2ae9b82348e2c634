//! Formats read from a whole buffer: log files, bare arrays, lookup-events output and
//! single objects. Records borrow from the buffer and are parsed once.
//!
//! Log files and arrays take a fast path (one serde pass over the whole buffer); when
//! it fails, the slow path splits the array with the scanner and parses each element
//! alone, so one bad record costs only itself.

use serde::de::IgnoredAny;
use serde::Deserialize;
use trailguard_core::record::RecordObject;
use trailguard_core::{CloudTrailRecord, Event};

use super::detect::{bom_len, sniff, Format, Sniff};
use super::error::{Location, ReadErrorKind};
use super::lines::{lines_chunk, LineState};
use super::run::{event_like, record_like, FileRun};
use super::scan::{skip_ws, value_end, Elements, Members, ScanError};
use super::SkipReason;

#[derive(Deserialize)]
struct LogFile<'a> {
    #[serde(borrow, rename = "Records")]
    records: Vec<RecordObject<'a>>,
}

#[derive(Deserialize)]
struct LookupEvent {
    #[serde(rename = "CloudTrailEvent", default)]
    cloud_trail_event: Option<String>,
}

/// Reads a whole (decompressed) buffer, whatever its format.
pub(crate) fn read_buffer(buf: &[u8], run: &mut FileRun<'_>) {
    let bom = bom_len(buf);
    run.base = bom as u64;
    let body = &buf[bom..];
    let format = match sniff(body, true) {
        Sniff::Is(f) => f,
        Sniff::NeedMore => Format::Single,
    };
    read_format(body, format, run);
}

pub(crate) fn read_format(buf: &[u8], format: Format, run: &mut FileRun<'_>) {
    match format {
        Format::Empty => run.skip(SkipReason::Empty),
        Format::NotJson => run.not_json(),
        Format::Digest => run.skip(SkipReason::Digest),
        Format::LogFile => log_file(buf, run),
        Format::LookupEvents => lookup_events(buf, run),
        Format::Array => array(buf, run),
        Format::Single => single(buf, run),
        Format::Lines => {
            let mut state = LineState::default();
            let _ = lines_chunk(buf, &mut state, run);
        }
    }
}

fn log_file(buf: &[u8], run: &mut FileRun<'_>) {
    // Validating UTF-8 once for the whole file lets serde borrow every string and raw
    // value without checking each again; invalid UTF-8 takes the per-record path.
    let parsed = match std::str::from_utf8(buf) {
        Ok(text) => serde_json::from_str::<LogFile<'_>>(text),
        Err(_) => serde_json::from_slice::<LogFile<'_>>(buf),
    };
    match parsed {
        Ok(file) => {
            let at = offsets(buf, run.base);
            for (index, record) in (0u64..).zip(file.records) {
                run.emit(&Event::from_record(record.0), |addr| Location::Record {
                    index,
                    byte: at(addr),
                });
            }
        }
        Err(fast) => {
            // Concatenated documents are fine; anything else shows up as an error below.
            drop(fast);
            for_each_keyed_array(buf, "Records", run, |elem, index, byte, run| {
                let loc = run.record_at(index, byte);
                match CloudTrailRecord::from_slice(elem) {
                    Ok(record) => run.emit(&Event::from_record(record), |_| loc),
                    Err(e) => run.bad_record(loc, ReadErrorKind::Json(e)),
                }
            });
        }
    }
}

fn lookup_events(buf: &[u8], run: &mut FileRun<'_>) {
    for_each_keyed_array(buf, "Events", run, |elem, index, byte, run| {
        let loc = run.record_at(index, byte);
        match serde_json::from_slice::<LookupEvent>(elem) {
            Ok(LookupEvent {
                cloud_trail_event: Some(json),
            }) => match CloudTrailRecord::from_slice(json.as_bytes()) {
                Ok(record) => run.emit(&Event::from_record(record), |_| loc),
                Err(e) => run.bad_record(loc, ReadErrorKind::Json(e)),
            },
            Ok(_) => run.bad_record(loc, ReadErrorKind::MissingCloudTrailEvent),
            Err(e) => run.bad_record(loc, ReadErrorKind::Json(e)),
        }
    });
}

/// For every top-level object in `buf` (usually one; concatenated documents are
/// tolerated), finds the array under `key` and hands each element to `each`.
fn for_each_keyed_array(
    buf: &[u8],
    key: &'static str,
    run: &mut FileRun<'_>,
    mut each: impl FnMut(&[u8], u64, usize, &mut FileRun<'_>),
) {
    let mut pos = skip_ws(buf, 0);
    let mut found = false;
    while pos < buf.len() {
        if buf[pos] != b'{' {
            run.fail(
                Some(run.byte_at(pos)),
                ReadErrorKind::Syntax("trailing characters after the document"),
            );
            return;
        }
        let mut members = Members::new(buf, pos);
        loop {
            match members.next_member() {
                Ok(Some((k, value))) if k == key.as_bytes() && buf.get(value) == Some(&b'[') => {
                    found = true;
                    match for_each_element(buf, value, run, &mut each) {
                        Some(end) => members.value_ends_at(end),
                        None => return,
                    }
                }
                Ok(Some((_, value))) => {
                    // Other members are skipped, but they must still be valid JSON.
                    let end = match value_end(buf, value) {
                        Ok(end) => end,
                        Err(e) => return syntax(run, e),
                    };
                    if let Err(e) = serde_json::from_slice::<IgnoredAny>(&buf[value..end]) {
                        run.fail(Some(run.byte_at(value)), ReadErrorKind::Json(e));
                    }
                    members.value_ends_at(end);
                }
                Ok(None) => break,
                Err(e) => return syntax(run, e),
            }
        }
        pos = skip_ws(buf, members.end());
    }
    if !found {
        run.fail(None, ReadErrorKind::MissingArray(key));
    }
}

/// Hands each element of the array at `start` to `each`; returns the index past the
/// array, or `None` when the array does not end (truncated or broken).
fn for_each_element(
    buf: &[u8],
    start: usize,
    run: &mut FileRun<'_>,
    each: &mut impl FnMut(&[u8], u64, usize, &mut FileRun<'_>),
) -> Option<usize> {
    let mut elements = Elements::new(buf, start);
    let mut index = 0u64;
    loop {
        match elements.next_element() {
            Ok(Some((a, z))) => {
                each(&buf[a..z], index, a, run);
                index += 1;
            }
            Ok(None) => return Some(elements.end()),
            Err(e) if e.is_eof() => {
                let loc = run.record_at(index, e.at);
                if skip_ws(buf, e.at) < buf.len() {
                    run.bad_record(loc, ReadErrorKind::Syntax(e.what));
                } else {
                    run.fail(Some(loc), ReadErrorKind::Syntax(e.what));
                }
                return None;
            }
            Err(e) => {
                syntax(run, e);
                // A missing comma is survivable: the scanner resynchronised.
                if buf.get(e.at) != Some(&b'{') {
                    return None;
                }
            }
        }
    }
}

fn syntax(run: &mut FileRun<'_>, e: ScanError) {
    run.fail(Some(run.byte_at(e.at)), ReadErrorKind::Syntax(e.what));
}

fn array(buf: &[u8], run: &mut FileRun<'_>) {
    let parsed = match std::str::from_utf8(buf) {
        Ok(text) => serde_json::from_str::<Vec<RecordObject<'_>>>(text),
        Err(_) => serde_json::from_slice::<Vec<RecordObject<'_>>>(buf),
    };
    if let Ok(records) = parsed {
        match records.first() {
            None => return,
            Some(first) if record_like(&first.0) => {
                let at = offsets(buf, run.base);
                for (index, record) in (0u64..).zip(records) {
                    run.emit(&Event::from_record(record.0), |addr| Location::Record {
                        index,
                        byte: at(addr),
                    });
                }
                return;
            }
            // Perhaps EventBridge events: read element by element below.
            Some(_) => {}
        }
    }
    let start = skip_ws(buf, 0);
    let mut decided = None;
    let end = for_each_element(buf, start, run, &mut |elem, index, byte, run| {
        if decided == Some(false) {
            return;
        }
        match Event::from_json(elem) {
            Ok(event) => {
                if decided.is_none() {
                    decided = Some(event_like(&event));
                }
                if decided == Some(true) {
                    let loc = run.record_at(index, byte);
                    run.emit(&event, |_| loc);
                }
            }
            Err(e) => run.bad_record(run.record_at(index, byte), ReadErrorKind::Event(e)),
        }
    });
    if decided == Some(false) {
        return run.not_cloudtrail();
    }
    if let Some(end) = end {
        let rest = skip_ws(buf, end);
        if rest < buf.len() {
            run.fail(
                Some(run.byte_at(rest)),
                ReadErrorKind::Syntax("trailing characters after the array"),
            );
        }
    }
}

fn single(buf: &[u8], run: &mut FileRun<'_>) {
    match Event::from_json(buf) {
        Ok(event) if event_like(&event) => {
            let at = offsets(buf, run.base);
            run.emit(&event, |addr| Location::Byte(at(addr)));
        }
        Ok(_) => run.not_cloudtrail(),
        Err(e) => run.fail(None, ReadErrorKind::Event(e)),
    }
}

/// Maps the address of a value borrowed from `buf` to its byte offset in the file.
fn offsets(buf: &[u8], base: u64) -> impl Fn(usize) -> u64 {
    let start = buf.as_ptr() as usize;
    move |addr| base + addr.saturating_sub(start) as u64
}
