//! A plain Lambda Runtime API on 127.0.0.1 (the four endpoints a custom runtime uses),
//! and the `bootstrap` process pointed at it: what Lambda does, without Lambda.
//!
//! Invocations are queued up front; `/next` hands them out in order and holds the
//! request once the queue is empty (as Lambda does between invocations), until the
//! test stops the process.

#![allow(dead_code)] // each test uses its own part

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// What the function answered to one invocation.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `/response`: the JSON it returned.
    Response(Value),
    /// `/error`: the body's `errorType`, and the JSON body.
    Error { error_type: String, body: Value },
}

impl Outcome {
    pub fn response(&self) -> &Value {
        match self {
            Outcome::Response(v) => v,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    pub fn error(&self) -> (&str, &str) {
        match self {
            Outcome::Error { error_type, body } => (
                error_type.as_str(),
                body["errorMessage"].as_str().unwrap_or(""),
            ),
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, String)>,
    outcomes: HashMap<String, Outcome>,
    init_error: Option<(String, Value)>,
    first_next: Option<Instant>,
    raw_bodies: Vec<String>,
}

pub struct RuntimeApi {
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RuntimeApi {
    /// Serves `invocations` (request id, payload text) in order.
    pub fn start(invocations: Vec<(String, String)>) -> RuntimeApi {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = server.server_addr().to_ip().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            queue: invocations.into(),
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, halt) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !halt.load(Ordering::SeqCst) {
                let Ok(Some(mut req)) = server.recv_timeout(Duration::from_millis(50)) else {
                    continue;
                };
                let mut body = String::new();
                let _ = req.as_reader().read_to_string(&mut body);
                let url = req.url().to_owned();
                let header = |name: &str| {
                    req.headers()
                        .iter()
                        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
                        .map(|h| h.value.to_string())
                        .unwrap_or_default()
                };
                let mut st = s.lock().unwrap();
                st.raw_bodies.push(body.clone());
                let accepted = || {
                    tiny_http::Response::from_string("{\"status\":\"OK\"}").with_status_code(202)
                };
                if url == "/2018-06-01/runtime/invocation/next" {
                    st.first_next.get_or_insert_with(Instant::now);
                    match st.queue.pop_front() {
                        Some((id, payload)) => {
                            drop(st);
                            let deadline = SystemTime::now()
                                .duration_since(UNIX_EPOCH)
                                .unwrap()
                                .as_millis()
                                + 60_000;
                            let mut resp = tiny_http::Response::from_string(payload);
                            for (k, v) in [
                                ("Lambda-Runtime-Aws-Request-Id", id.clone()),
                                ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                                (
                                    "Lambda-Runtime-Invoked-Function-Arn",
                                    "arn:aws:lambda:us-east-1:418295730164:function:trailguard".into(),
                                ),
                                ("Lambda-Runtime-Trace-Id", format!("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0;Lineage=x:{id}")),
                                ("Content-Type", "application/json".into()),
                            ] {
                                resp.add_header(tiny_http::Header::from_bytes(k, v.as_bytes()).unwrap());
                            }
                            let _ = req.respond(resp);
                        }
                        None => held.push(req),
                    }
                } else if url == "/2018-06-01/runtime/init/error" {
                    let error_type = header("Lambda-Runtime-Function-Error-Type");
                    st.init_error = Some((
                        error_type,
                        serde_json::from_str(&body).unwrap_or(Value::Null),
                    ));
                    let _ = req.respond(accepted());
                } else if let Some(rest) = url.strip_prefix("/2018-06-01/runtime/invocation/") {
                    let (id, kind) = rest.rsplit_once('/').unwrap_or((rest, ""));
                    let outcome = match kind {
                        "response" => Outcome::Response(
                            serde_json::from_str(&body).unwrap_or(Value::String(body.clone())),
                        ),
                        // The runtime client sends `unhandled` in the header; the
                        // error's type is in the body, as Lambda records it.
                        "error" => {
                            let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                            Outcome::Error {
                                error_type: body["errorType"].as_str().unwrap_or("").to_owned(),
                                body,
                            }
                        }
                        _ => {
                            let _ = req.respond(
                                tiny_http::Response::from_string("").with_status_code(404),
                            );
                            continue;
                        }
                    };
                    st.outcomes.insert(id.to_owned(), outcome);
                    let _ = req.respond(accepted());
                } else {
                    let _ = req.respond(tiny_http::Response::from_string("").with_status_code(404));
                }
            }
            drop(held);
        });
        RuntimeApi {
            port,
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Waits until every id has an outcome (or the init failed), at most `timeout`.
    pub fn wait_for(&self, ids: &[&str], timeout: Duration) -> HashMap<String, Outcome> {
        let end = Instant::now() + timeout;
        loop {
            {
                let st = self.state.lock().unwrap();
                let done = ids.iter().all(|id| st.outcomes.contains_key(*id));
                if done || st.init_error.is_some() || Instant::now() > end {
                    return st.outcomes.clone();
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_init_error(&self, timeout: Duration) -> Option<(String, Value)> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Some(e) = self.state.lock().unwrap().init_error.clone() {
                return Some(e);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Everything the function sent to the Runtime API (responses, errors).
    pub fn bodies(&self) -> Vec<String> {
        self.state.lock().unwrap().raw_bodies.clone()
    }

    pub fn first_next(&self) -> Option<Instant> {
        self.state.lock().unwrap().first_next
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The `bootstrap` process, its output collected as it runs.
pub struct Function {
    child: Child,
    out: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Function {
    /// Starts `bootstrap` against `api` with Lambda's variables and `env` (nothing
    /// else from the test's environment).
    pub fn start(api: &RuntimeApi, env: &[(&str, String)]) -> Function {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
        cmd.env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", "trailguard")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start bootstrap");
        let out = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        let pipes: Vec<Box<dyn Read + Send>> = vec![
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for mut pipe in pipes {
            let out = out.clone();
            readers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }));
        }
        Function {
            child,
            out,
            readers,
        }
    }

    /// Whether the process has exited, waiting at most `timeout`.
    pub fn exited_within(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Stops the process and returns all it wrote to stdout and stderr.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let out = self.out.lock().unwrap().clone();
        out
    }
}
