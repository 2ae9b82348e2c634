//! A scripted HTTP receiver on 127.0.0.1 for the sink tests (no internet): it records
//! every request (path, query, headers, body, arrival time) and answers from a script.
//!
//! Shared by the Discord, Slack and webhook tests (`mod common;` in each).

#![allow(dead_code)] // each test file uses its own part

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use trailguard_io::sink::SinkError;

/// What the test server answers to one request.
#[derive(Clone)]
pub enum Reply {
    Status {
        code: u16,
        body: &'static str,
        headers: Vec<(&'static str, &'static str)>,
    },
    /// Read the request and never answer.
    Hang,
}

/// A JSON answer.
pub fn status(code: u16, body: &'static str) -> Reply {
    Reply::Status {
        code,
        body,
        headers: vec![("Content-Type", "application/json")],
    }
}

/// A plain-text answer (Slack answers `ok` or an error string this way).
pub fn text(code: u16, body: &'static str) -> Reply {
    Reply::Status {
        code,
        body,
        headers: vec![("Content-Type", "text/plain")],
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
}

impl Recorded {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct TestServer {
    pub port: u16,
    /// A token-like string for the test's URL; it must never show up in an error.
    pub token: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl TestServer {
    /// Answers request `i` with `script[i]`, and later ones with the last entry.
    pub fn start(script: Vec<Reply>) -> TestServer {
        static N: AtomicU32 = AtomicU32::new(0);
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = server.server_addr().to_ip().unwrap().port();
        let token = format!(
            "tOkEn_{}_{}_s3cr3tS3cr3tS3cr3t",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for (i, mut req) in server.incoming_requests().enumerate() {
                let at = Instant::now();
                let mut body = String::new();
                req.as_reader().read_to_string(&mut body).unwrap();
                let (path, query) = match req.url().split_once('?') {
                    Some((p, q)) => (p.to_owned(), q.to_owned()),
                    None => (req.url().to_owned(), String::new()),
                };
                let headers = req
                    .headers()
                    .iter()
                    .map(|h| (h.field.to_string(), h.value.to_string()))
                    .collect();
                recorded.lock().unwrap().push(Recorded {
                    path,
                    query,
                    headers,
                    body,
                    at,
                });
                match script.get(i).or(script.last()).cloned().unwrap() {
                    Reply::Hang => held.push(req),
                    Reply::Status {
                        code,
                        body,
                        headers,
                    } => {
                        let mut resp =
                            tiny_http::Response::from_string(body).with_status_code(code);
                        for (k, v) in headers {
                            resp.add_header(tiny_http::Header::from_bytes(k, v).unwrap());
                        }
                        let _ = req.respond(resp);
                    }
                }
            }
        });
        TestServer {
            port,
            token,
            requests,
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path_and_query`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://127.0.0.1:{}{path_and_query}", self.port)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// None of `secrets`, nor the token or the server's address, appears in the error,
    /// however it is printed (Display, Debug, pretty Debug, every source).
    pub fn assert_no_secret(&self, err: &SinkError, secrets: &[&str]) {
        let mut shown = vec![err.to_string(), format!("{err:?}"), format!("{err:#?}")];
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            shown.push(s.to_string());
            shown.push(format!("{s:?}"));
            source = s.source();
        }
        let address = format!("127.0.0.1:{}", self.port);
        for text in shown {
            for secret in secrets
                .iter()
                .copied()
                .chain([self.token.as_str(), address.as_str()])
            {
                assert!(!text.contains(secret), "`{secret}` in error text: {text}");
            }
        }
    }
}
