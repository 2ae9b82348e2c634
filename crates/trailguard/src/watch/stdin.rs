//! `watch -`: JSON Lines on standard input, read by a thread and handed over in
//! batches, so that a slow delivery never blocks the process writing to us for long,
//! and a quiet stream still gets its events matched within a second.

use std::io::{BufRead, Read};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest line kept: longer ones are cut off here and then reported as unreadable
/// by the reader, with their position, instead of growing memory without bound.
const MAX_LINE: usize = 8 << 20;
/// A batch is handed over at this size even inside one interval.
const MAX_BATCH: usize = 64 << 20;
/// A pause in the input this long hands the lines so far over.
const LINGER: Duration = Duration::from_millis(2);

#[derive(Default)]
struct Shared {
    buf: Vec<u8>,
    eof: bool,
    error: Option<String>,
}

/// Lines read so far, taken in batches.
#[derive(Clone)]
pub struct LineBatcher {
    shared: Arc<(Mutex<Shared>, std::sync::Condvar)>,
}

/// One hand-over: whole lines, and whether the input has ended.
pub struct Batch {
    pub bytes: Vec<u8>,
    pub eof: bool,
    pub error: Option<String>,
}

impl LineBatcher {
    /// Starts a thread reading `input` line by line.
    pub fn spawn<R: Read + Send + 'static>(input: R) -> LineBatcher {
        let b = LineBatcher {
            shared: Arc::new((Mutex::new(Shared::default()), std::sync::Condvar::new())),
        };
        let shared = b.shared.clone();
        std::thread::Builder::new()
            .name("watch-stdin".into())
            .spawn(move || read_lines(input, &shared))
            .expect("spawn the stdin reader");
        b
    }

    /// Waits up to `wait` for the first line (or the end), then keeps taking lines
    /// while they come without a pause of [`LINGER`], until `wait` is up or the batch
    /// is large: a lone event is matched at once, a burst in a few batches.
    pub fn take(&self, wait: Duration) -> Batch {
        let deadline = Instant::now() + wait;
        let (lock, ready) = &*self.shared;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let (mut s, _) = ready
            .wait_timeout_while(guard, wait, |s| s.buf.is_empty() && !s.eof)
            .unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            if s.eof || s.buf.len() >= MAX_BATCH || now >= deadline {
                break;
            }
            let before = s.buf.len();
            let (next, _) = ready
                .wait_timeout_while(s, LINGER.min(deadline - now), |s| {
                    s.buf.len() == before && !s.eof
                })
                .unwrap_or_else(|p| p.into_inner());
            s = next;
            if s.buf.len() == before {
                break;
            }
        }
        Batch {
            bytes: std::mem::take(&mut s.buf),
            eof: s.eof,
            error: s.error.take(),
        }
    }
}

fn read_lines<R: Read>(input: R, shared: &(Mutex<Shared>, std::sync::Condvar)) {
    let (lock, ready) = shared;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, input);
    let mut line = Vec::new();
    loop {
        line.clear();
        let result = (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line);
        let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(0) => {
                s.eof = true;
                ready.notify_all();
                return;
            }
            Ok(_) => {
                if line.last() != Some(&b'\n') {
                    // Cut at MAX_LINE (or the last line without a newline): end it here;
                    // a cut line then reads as invalid JSON at its position.
                    line.push(b'\n');
                    if line.len() > MAX_LINE {
                        skip_rest_of_line(&mut reader);
                    }
                }
                s.buf.extend_from_slice(&line);
                ready.notify_all();
            }
            Err(e) => {
                s.error = Some(e.to_string());
                s.eof = true;
                ready.notify_all();
                return;
            }
        }
    }
}

fn skip_rest_of_line<R: BufRead>(reader: &mut R) {
    let mut sink = Vec::new();
    loop {
        sink.clear();
        match reader.by_ref().take(1 << 20).read_until(b'\n', &mut sink) {
            Ok(0) => return,
            Ok(_) if sink.last() == Some(&b'\n') => return,
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_whole_lines_until_eof() {
        let input: &'static [u8] = b"{\"a\":1}\n{\"b\":2}\nlast-without-newline";
        let b = LineBatcher::spawn(input);
        let mut all = Vec::new();
        loop {
            let batch = b.take(Duration::from_millis(200));
            all.extend(batch.bytes);
            if batch.eof {
                break;
            }
        }
        assert_eq!(all.iter().filter(|b| **b == b'\n').count(), 3);
        assert_eq!(all, b"{\"a\":1}\n{\"b\":2}\nlast-without-newline\n");
    }

    #[test]
    fn an_endless_line_is_cut_not_buffered_whole() {
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let mut input = long.clone();
        input.extend_from_slice(b"\n{\"ok\":true}\n");
        let b = LineBatcher::spawn(std::io::Cursor::new(input));
        let mut all = Vec::new();
        loop {
            let batch = b.take(Duration::from_millis(500));
            all.extend(batch.bytes);
            if batch.eof {
                break;
            }
        }
        assert!(all.len() <= MAX_LINE + 1 + 13, "{}", all.len());
        assert!(all.ends_with(b"{\"ok\":true}\n"));
    }
}
