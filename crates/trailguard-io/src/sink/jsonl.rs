//! [`JsonlSink`]: one alert JSON object per line, to a file or stdout.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use trailguard_core::Alert;

use crate::digest::{digest_json, Digest};

use super::{SendFuture, Sink, SinkError};

/// Appends each alert as one line of JSON (the alert contract) and flushes after each.
///
/// Each line is written with a single `write_all` on a file opened in append mode, so
/// lines from concurrent writers do not interleave in practice. Writes are blocking
/// and small; they happen inside the returned future.
pub struct JsonlSink {
    name: String,
    out: Mutex<Box<dyn Write + Send>>,
}

impl JsonlSink {
    /// Append to `path`, creating it if missing. `-` means stdout.
    pub fn to_path(path: impl AsRef<Path>) -> Result<Self, SinkError> {
        let path = path.as_ref();
        if path.as_os_str() == "-" {
            return Ok(Self::stdout());
        }
        let name = format!("jsonl:{}", path.display());
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| SinkError::Io {
                target: name.clone(),
                source,
            })?;
        Ok(JsonlSink {
            name,
            out: Mutex::new(Box::new(file)),
        })
    }

    /// Write to standard output.
    pub fn stdout() -> Self {
        JsonlSink {
            name: "jsonl:-".to_owned(),
            out: Mutex::new(Box::new(std::io::stdout())),
        }
    }

    /// Write to any writer (a buffer in tests, a pipe, ...).
    pub fn from_writer(name: impl Into<String>, writer: impl Write + Send + 'static) -> Self {
        JsonlSink {
            name: name.into(),
            out: Mutex::new(Box::new(writer)),
        }
    }

    fn write_alert(&self, alert: &Alert) -> Result<(), SinkError> {
        self.write_line(alert_json(alert)?)
    }

    fn write_line(&self, mut line: Vec<u8>) -> Result<(), SinkError> {
        line.push(b'\n');
        // A panic elsewhere while holding the lock leaves nothing half-done that
        // matters here: keep writing.
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        out.write_all(&line)
            .and_then(|()| out.flush())
            .map_err(|source| SinkError::Io {
                target: self.name.clone(),
                source,
            })
    }
}

/// An alert as the JSON of the alert contract (`docs/architecture.md`), compact, on one
/// line (newlines in values are escaped). The JSON Lines sink writes it followed by a
/// newline; the webhook sink sends it as the body. One function so the two never differ.
pub(crate) fn alert_json(alert: &Alert) -> Result<Vec<u8>, SinkError> {
    Ok(serde_json::to_vec(alert)?)
}

impl std::fmt::Debug for JsonlSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlSink")
            .field("name", &self.name)
            .finish()
    }
}

impl Sink for JsonlSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, alert: &'a Alert) -> SendFuture<'a> {
        Box::pin(async move { self.write_alert(alert) })
    }

    /// One line of digest JSON (`{"type":"digest", ...}`), among the alert lines.
    fn send_digest<'a>(&'a self, digest: &'a Digest) -> SendFuture<'a> {
        Box::pin(async move { self.write_line(digest_json(digest)?) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex as StdMutex};
    use trailguard_core::{Actor, AlertRule, Severity};

    fn alert(id: &str) -> Alert {
        let mut a = Alert::example();
        a.id = id.into();
        a.rule = AlertRule {
            id: "r".into(),
            title: "t".into(),
            severity: Severity::High,
            tags: vec!["x".into()],
        };
        a.last_time = a.time.clone();
        a.count = 1;
        a.actor = Actor {
            user_agent: Some("line\nbreak \u{2028} 😀".into()),
            ..Actor::default()
        };
        a.event_name = None;
        a.event_source = None;
        a.event_ids = vec!["e1".into()];
        a.summary = "s".into();
        a
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn jsonl_file_appends_one_line_per_alert() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        std::fs::write(&path, "{\"existing\":true}\n").unwrap();
        let sink = JsonlSink::to_path(&path).unwrap();
        assert_eq!(sink.name(), format!("jsonl:{}", path.display()));
        block_on(async {
            sink.send(&alert("a")).await.unwrap();
            sink.send(&alert("b")).await.unwrap();
        });
        // Flushed after each alert: readable without dropping the sink.
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let back: Alert = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(back, alert("a"));
        let back: Alert = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(back.id, "b");
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn jsonl_creates_missing_file_and_reports_bad_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.jsonl");
        let sink = JsonlSink::to_path(&path).unwrap();
        block_on(sink.send(&alert("a"))).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);

        let err = JsonlSink::to_path(dir.path().join("no/such/dir/x.jsonl")).unwrap_err();
        assert!(matches!(err, SinkError::Io { .. }));
        assert!(err.to_string().contains("x.jsonl"), "{err}");
    }

    #[test]
    fn jsonl_to_writer_and_stdout_names() {
        #[derive(Clone, Default)]
        struct Shared(Arc<StdMutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Shared::default();
        let sink = JsonlSink::from_writer("mem", buf.clone());
        block_on(sink.send(&alert("a"))).unwrap();
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            out.matches('\n').count(),
            1,
            "newlines in values are escaped"
        );
        assert_eq!(JsonlSink::stdout().name(), "jsonl:-");
        assert_eq!(JsonlSink::to_path("-").unwrap().name(), "jsonl:-");
    }
}
