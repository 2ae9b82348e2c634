//! A receiver on 127.0.0.1 that misbehaves on demand, for the outbox's fault tests:
//! each request gets the next scripted [`Behaviour`], or the current default one.
//! Raw TCP (not an HTTP library), so it can hang or reset a connection for real.
//!
//! Shared by `trailguard-io/tests/outbox_delivery.rs` and the command line's
//! `trailguard/tests/outbox.rs` (through `#[path]`).

#![allow(dead_code)] // each test file uses its own part

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the receiver does with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// 200 with `{}`.
    Accept,
    /// 200 with `{}`, after this long.
    AcceptAfter(Duration),
    /// This status, with a JSON error body.
    Status(u16),
    /// 429 asking to wait this many seconds (`Retry-After` and Discord's `retry_after`).
    RateLimit(f64),
    /// Read the request and never answer (until the test process ends).
    Hang,
    /// Read the request, then reset the connection (RST, no answer).
    Reset,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    pub body: String,
    pub behaviour: Behaviour,
}

impl Received {
    /// The alert id of a webhook body (the alert contract), if it is one.
    pub fn alert_id(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(&self.body).ok()?;
        Some(v.get("id")?.as_str()?.to_owned())
    }

    pub fn accepted(&self) -> bool {
        matches!(
            self.behaviour,
            Behaviour::Accept | Behaviour::AcceptAfter(_)
        )
    }
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Behaviour>,
    default: Option<Behaviour>,
    received: Vec<Received>,
}

pub struct Faulty {
    pub port: u16,
    inner: Arc<Mutex<Inner>>,
}

impl Faulty {
    /// Listens on 127.0.0.1 (a free port), answering with `default` unless scripted.
    pub fn start(default: Behaviour) -> Faulty {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let inner = Arc::new(Mutex::new(Inner {
            default: Some(default),
            ..Inner::default()
        }));
        let shared = Arc::clone(&inner);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Faulty { port, inner }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Answer the next requests with these, in order, before the default.
    pub fn script(&self, behaviours: impl IntoIterator<Item = Behaviour>) {
        self.lock().script.extend(behaviours);
    }

    /// From now on, answer unscripted requests this way.
    pub fn set_default(&self, b: Behaviour) {
        self.lock().default = Some(b);
    }

    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// Requests answered with a 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(Received::accepted)
            .collect()
    }

    /// Waits (real time) until `n` requests were accepted; false on timeout.
    pub fn wait_accepted(&self, n: usize, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if self.accepted().len() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.accepted().len() >= n
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn serve(stream: TcpStream, shared: &Mutex<Inner>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_owned();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let at = Instant::now();
    let behaviour = {
        let mut inner = shared.lock().unwrap_or_else(|p| p.into_inner());
        let b = inner
            .script
            .pop_front()
            .or_else(|| inner.default.clone())
            .unwrap_or(Behaviour::Accept);
        inner.received.push(Received {
            at,
            path,
            body: String::from_utf8_lossy(&body).into_owned(),
            behaviour: b.clone(),
        });
        b
    };
    let mut stream = stream;
    let answer = |stream: &mut TcpStream, status: &str, headers: &str, body: &str| {
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n{headers}\r\n{body}",
            body.len()
        );
        let _ = stream.flush();
    };
    match behaviour {
        Behaviour::Accept => answer(&mut stream, "200 OK", "", "{}"),
        Behaviour::AcceptAfter(d) => {
            std::thread::sleep(d);
            answer(&mut stream, "200 OK", "", "{}")
        }
        Behaviour::Status(code) => answer(
            &mut stream,
            &format!("{code} Scripted"),
            "",
            r#"{"message":"scripted failure","code":0}"#,
        ),
        Behaviour::RateLimit(secs) => answer(
            &mut stream,
            "429 Too Many Requests",
            &format!("Retry-After: {secs}\r\n"),
            &format!(
                r#"{{"message":"You are being rate limited.","retry_after":{secs},"global":false}}"#
            ),
        ),
        Behaviour::Hang => {
            std::thread::sleep(Duration::from_secs(600));
        }
        Behaviour::Reset => {
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            drop(stream);
        }
    }
}
