//! Getting the bytes of one input: small files are read (and decompressed) whole;
//! large files and stdin are sniffed from a prefix and, when they are JSON Lines,
//! streamed with flat memory; other formats are then read whole, under the cap.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::detect::{bom_len, is_gzip, sniff, Format, Sniff};
use super::error::ReadErrorKind;
use super::formats::{read_buffer, read_format};
use super::gzip::{classify_stream, decompress_all, Capped};
use super::lines;
use super::run::FileRun;
use super::ReadOptions;

/// First sniff window when streaming; doubled until the format is known.
const SNIFF_START: usize = 64 << 10;

pub(crate) fn read_file(path: &Path, opts: &ReadOptions, run: &mut FileRun<'_>) {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return run.fail(None, ReadErrorKind::Io(e)),
    };
    let len = match file.metadata() {
        Ok(m) if m.is_dir() => {
            let e = io::Error::new(io::ErrorKind::IsADirectory, "is a directory");
            return run.fail(None, ReadErrorKind::Io(e));
        }
        Ok(m) => m.len(),
        Err(e) => return run.fail(None, ReadErrorKind::Io(e)),
    };
    run.bytes = len;
    if len > opts.stream_above_bytes {
        let reader = BufReader::with_capacity(256 << 10, file);
        return read_stream(reader, opts, run);
    }
    let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0).saturating_add(1));
    if let Err(e) = file.read_to_end(&mut data) {
        return run.fail(None, ReadErrorKind::Io(e));
    }
    run.bytes = data.len() as u64;
    let cap = opts.max_decompressed_bytes;
    if is_gzip(&data) {
        let decoded = decompress_all(&data, cap);
        drop(data);
        match decoded.problem {
            Some(kind @ ReadErrorKind::TooLarge { .. }) => run.fail(None, kind),
            Some(kind) => {
                read_buffer(&decoded.bytes, run);
                // A truncated archive whose content is unrecognisable is still an error.
                run.skipped = None;
                run.fail(None, kind);
            }
            None => read_buffer(&decoded.bytes, run),
        }
    } else if data.len() as u64 > cap {
        run.fail(None, ReadErrorKind::TooLarge { limit: cap });
    } else {
        read_buffer(&data, run);
    }
}

/// Reads a stream of unknown length (stdin, or a file above the streaming threshold).
pub(crate) fn read_stream<R: Read>(mut input: R, opts: &ReadOptions, run: &mut FileRun<'_>) {
    let mut head = Vec::with_capacity(2);
    if let Err(e) = (&mut input).take(2).read_to_end(&mut head) {
        return run.fail(None, ReadErrorKind::Io(e));
    }
    let gzip = is_gzip(&head);
    let input = Cursor::new(head).chain(input);
    if gzip {
        let decoder = MultiGzDecoder::new(BufReader::with_capacity(256 << 10, input));
        read_decoded(
            Capped::new(decoder, opts.max_decompressed_bytes),
            true,
            opts,
            run,
        );
    } else {
        read_decoded(input, false, opts, run);
    }
}

fn read_decoded<R: Read>(mut input: R, gzip: bool, opts: &ReadOptions, run: &mut FileRun<'_>) {
    let cap = opts.max_decompressed_bytes;
    let mut buf = Vec::new();
    let mut want = SNIFF_START;
    let mut failure = None;
    let format = loop {
        let missing = want.saturating_sub(buf.len()) as u64;
        let eof = match (&mut input).take(missing).read_to_end(&mut buf) {
            Ok(n) => (n as u64) < missing,
            Err(e) => {
                failure = Some(classify_stream(e, gzip, cap));
                true
            }
        };
        match sniff(&buf, eof) {
            Sniff::Is(format) => break format,
            Sniff::NeedMore if buf.len() as u64 > cap => {
                return run.fail(None, ReadErrorKind::TooLarge { limit: cap });
            }
            Sniff::NeedMore => want = want.saturating_mul(2),
        }
    };
    if matches!(failure, Some(ReadErrorKind::TooLarge { .. })) {
        return run.fail(None, ReadErrorKind::TooLarge { limit: cap });
    }
    let bom = bom_len(&buf);
    run.base = bom as u64;
    if format == Format::Lines && failure.is_none() {
        buf.drain(..bom);
        return lines::stream(buf, input, gzip, cap, run);
    }
    if failure.is_none() {
        // Read the rest whole: these formats are single JSON documents.
        let limit = cap.saturating_add(1).saturating_sub(buf.len() as u64);
        if let Err(e) = (&mut input).take(limit).read_to_end(&mut buf) {
            failure = Some(classify_stream(e, gzip, cap));
        }
        if buf.len() as u64 > cap {
            failure = Some(ReadErrorKind::TooLarge { limit: cap });
        }
    }
    match failure {
        Some(kind @ ReadErrorKind::TooLarge { .. }) => run.fail(None, kind),
        Some(kind) => {
            read_again(&buf[bom..], run);
            run.skipped = None;
            run.fail(None, kind);
        }
        None => read_format(&buf[bom..], format, run),
    }
}

/// After a read error the sniffed format may be stale (it was decided on a prefix).
fn read_again(body: &[u8], run: &mut FileRun<'_>) {
    let format = match sniff(body, true) {
        Sniff::Is(f) => f,
        Sniff::NeedMore => Format::Single,
    };
    read_format(body, format, run);
}
