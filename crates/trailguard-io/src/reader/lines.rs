//! JSON Lines: one record or EventBridge event per line, from a buffer or streamed in
//! bounded chunks (memory stays flat however long the input).

use std::io::Read;
use std::ops::ControlFlow;

use memchr::{memchr, memrchr};
use trailguard_core::Event;

use super::error::{Location, ReadErrorKind};
use super::gzip::classify_stream;
use super::run::{event_like, FileRun};

/// Bytes read per refill when streaming.
const CHUNK: usize = 1 << 20;

#[derive(Default)]
pub(crate) struct LineState {
    /// Lines seen so far (the number of the last line handled).
    line: u64,
    /// Whether the first readable line looked like CloudTrail.
    decided: Option<bool>,
}

/// Reads the lines of `chunk`; a last line without `\n` counts as a line. Breaks when
/// the input turns out not to be CloudTrail (the run has been told).
pub(crate) fn lines_chunk(
    chunk: &[u8],
    st: &mut LineState,
    run: &mut FileRun<'_>,
) -> ControlFlow<()> {
    let mut start = 0;
    while start < chunk.len() {
        let end = memchr(b'\n', &chunk[start..]).map_or(chunk.len(), |k| start + k);
        st.line += 1;
        one_line(&chunk[start..end], st, run)?;
        start = end + 1;
    }
    ControlFlow::Continue(())
}

fn one_line(line: &[u8], st: &mut LineState, run: &mut FileRun<'_>) -> ControlFlow<()> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return ControlFlow::Continue(());
    }
    match Event::from_json(line) {
        Ok(event) => {
            if st.decided.is_none() {
                st.decided = Some(event_like(&event));
            }
            if st.decided == Some(false) {
                run.not_cloudtrail();
                return ControlFlow::Break(());
            }
            let line = Location::Line(st.line);
            run.emit(&event, |_| line);
        }
        Err(e) => run.bad_record(Location::Line(st.line), ReadErrorKind::Event(e)),
    }
    ControlFlow::Continue(())
}

/// Streams JSON Lines: `buf` holds what was already read (the sniffed prefix, BOM
/// removed), `rest` the remainder. Lines longer than `max_line` are skipped with an
/// error. A read error ends the stream; a partial last line is then kept only if it
/// parses, as the read error already tells the story (e.g. a truncated gzip).
pub(crate) fn stream<R: Read>(
    mut buf: Vec<u8>,
    mut rest: R,
    gzip: bool,
    max_line: u64,
    run: &mut FileRun<'_>,
) {
    let mut st = LineState::default();
    let mut discarding = false;
    loop {
        let read = (&mut rest).take(CHUNK as u64).read_to_end(&mut buf);
        if let Some(last) = memrchr(b'\n', &buf) {
            let mut from = 0;
            if discarding {
                // The tail of an overlong line (already counted and reported): drop it.
                from = memchr(b'\n', &buf).map_or(0, |k| k + 1);
                discarding = false;
            }
            if lines_chunk(&buf[from..=last], &mut st, run).is_break() {
                return;
            }
            buf.drain(..=last);
        }
        if discarding {
            buf.clear();
        } else if buf.len() as u64 > max_line {
            st.line += 1;
            run.bad_record(
                Location::Line(st.line),
                ReadErrorKind::LineTooLong { limit: max_line },
            );
            buf.clear();
            discarding = true;
        }
        match read {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                // The fragment after the last newline was cut by the error: keep it
                // only if it happens to be complete.
                if !discarding && st.decided != Some(false) {
                    if let Ok(event) = Event::from_json(&buf) {
                        if event_like(&event) {
                            let line = Location::Line(st.line + 1);
                            run.emit(&event, |_| line);
                        }
                    }
                }
                run.fail(None, classify_stream(e, gzip, max_line));
                return;
            }
        }
    }
    if !discarding && !buf.is_empty() {
        let _ = lines_chunk(&buf, &mut st, run);
    }
}
