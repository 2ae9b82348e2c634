//! `S3Objects` retries what is transient: against a scripted HTTP server on
//! 127.0.0.1 that answers each request in turn with throttling (503 `SlowDown`), a
//! 500, a connection closed before any answer, or a body cut short, then the object.
//! What still fails after [`S3_MAX_ATTEMPTS`] is an error naming the object.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use trailguard_aws::{S3Objects, S3_MAX_ATTEMPTS};

#[derive(Clone)]
enum Reply {
    Status(u16, &'static str),
    /// Closes the connection without answering.
    Drop,
    /// Announces the whole body, sends half of it and closes.
    Cut,
    Object,
}

const BODY: &[u8] = b"{\"Records\":[{\"eventID\":\"1\",\"eventName\":\"GetObject\"}]}";

struct Server {
    endpoint: String,
    requests: Arc<Mutex<Vec<String>>>,
}

fn serve(script: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            let reply = script.get(i).cloned().unwrap_or(Reply::Object);
            answer(stream, reply, &seen);
        }
    });
    Server { endpoint, requests }
}

fn answer(mut stream: TcpStream, reply: Reply, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
    }
    seen.lock().unwrap().push(first.trim().to_string());
    let head = |status: &str, len: usize, kind: &str| {
        format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\nContent-Type: {kind}\r\nConnection: close\r\n\r\n")
    };
    let _ = match reply {
        Reply::Drop => Ok(()),
        Reply::Status(code, error) => {
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{error}</Code><Message>try again</Message></Error>"
            );
            let reason = if code == 503 {
                "Service Unavailable"
            } else {
                "Internal Server Error"
            };
            stream
                .write_all(
                    head(&format!("{code} {reason}"), xml.len(), "application/xml").as_bytes(),
                )
                .and_then(|_| stream.write_all(xml.as_bytes()))
        }
        Reply::Cut => stream
            .write_all(head("200 OK", BODY.len(), "application/json").as_bytes())
            .and_then(|_| stream.write_all(&BODY[..BODY.len() / 2])),
        Reply::Object => stream
            .write_all(head("200 OK", BODY.len(), "application/json").as_bytes())
            .and_then(|_| stream.write_all(BODY)),
    };
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn client(server: &Server) -> S3Objects {
    S3Objects::connect(&common::options(&server.endpoint)).unwrap()
}

#[test]
fn throttling_errors_and_dropped_connections_are_retried() {
    let server = serve(vec![
        Reply::Status(503, "SlowDown"),
        Reply::Drop,
        Reply::Object,
    ]);
    let got = client(&server).fetch("trail", "AWSLogs/a.json").unwrap();
    assert_eq!(got, BODY);
    let seen = server.requests.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(
        seen.iter()
            .all(|r| r.starts_with("GET /trail/AWSLogs/a.json")),
        "{seen:?}"
    );
}

#[test]
fn a_body_cut_short_is_asked_again() {
    let server = serve(vec![Reply::Cut, Reply::Object]);
    let got = client(&server).fetch("trail", "AWSLogs/b.json").unwrap();
    assert_eq!(got, BODY);
    assert_eq!(server.requests.lock().unwrap().len(), 2);
}

#[test]
fn what_keeps_failing_is_an_error_naming_the_object_after_the_last_attempt() {
    let server = serve(vec![Reply::Status(500, "InternalError"); 10]);
    let e = client(&server)
        .fetch("trail", "AWSLogs/c.json")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("s3://trail/AWSLogs/c.json") && e.contains("InternalError"),
        "{e}"
    );
    assert_eq!(
        server.requests.lock().unwrap().len(),
        S3_MAX_ATTEMPTS as usize
    );
    assert!(!e.contains(common::SECRET_KEY));
}
