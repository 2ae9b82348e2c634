//! The report for people: a table for a terminal, Markdown for a ticket, one
//! self-contained HTML page. JSON is the report's own serialisation.

mod html;
mod md;
mod table;

use std::io::{self, Write};

pub use html::write_html;
pub use md::write_markdown;
pub use table::write_table;

use crate::report::Report;

/// The report as pretty JSON (the investigation contract).
pub fn write_json(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}

/// A log value for a one-line cell: control characters (an attacker's user agent may
/// carry terminal escapes) shown as `?`, cut to `max` characters.
pub(crate) fn clean(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(max)
        .collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

pub(crate) fn or_dash(s: Option<&str>) -> &str {
    s.unwrap_or("-")
}
