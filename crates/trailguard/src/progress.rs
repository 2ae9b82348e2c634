//! A progress bar on stderr when it is a terminal; nothing otherwise.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use trailguard_io::reader::Progress;

/// A bar counting `unit` (its length set once known), or `None` when not `enabled`.
pub fn counter(enabled: bool, unit: &str) -> Option<ProgressBar> {
    enabled.then(|| {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let template = format!(
            "{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {unit} ({{eta}})"
        );
        bar.set_style(
            ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    })
}

/// Bytes read of the total (files on disk, objects in S3), with the files or objects
/// done and the events read per second in the message. Several reads (local paths,
/// then each `s3://` input) add to one bar.
pub struct BarProgress {
    bar: Option<ProgressBar>,
    files: AtomicU64,
    files_done: AtomicU64,
    events: AtomicU64,
    started: Instant,
}

impl BarProgress {
    pub fn new(enabled: bool) -> Self {
        let bar = enabled.then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        BarProgress {
            bar,
            files: AtomicU64::new(0),
            files_done: AtomicU64::new(0),
            events: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// A line above the bar (what is being listed), or nothing without a bar.
    pub fn note(&self, line: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(line.to_string());
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `12/340 files, 45,000 events (12,345/s)`.
fn message(done: u64, files: u64, events: u64, seconds: f64) -> String {
    let rate = if seconds > 0.0 {
        (events as f64 / seconds) as u64
    } else {
        0
    };
    format!(
        "{done}/{files} files, {} events ({}/s)",
        grouped(events),
        grouped(rate)
    )
}

fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Progress for BarProgress {
    fn start(&self, files: u64, bytes: u64) {
        self.files.fetch_add(files, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc_length(bytes);
        }
    }

    fn events_read(&self, events: u64) {
        self.events.fetch_add(events, Ordering::Relaxed);
    }

    fn file_done(&self, bytes: u64) {
        let done = self.files_done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
            bar.set_message(message(
                done,
                self.files.load(Ordering::Relaxed),
                self.events.load(Ordering::Relaxed),
                self.started.elapsed().as_secs_f64(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_counts_files_and_events_per_second() {
        assert_eq!(
            message(12, 340, 1_234_567, 2.0),
            "12/340 files, 1,234,567 events (617,283/s)"
        );
        assert_eq!(message(0, 0, 0, 0.0), "0/0 files, 0 events (0/s)");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
    }
}
