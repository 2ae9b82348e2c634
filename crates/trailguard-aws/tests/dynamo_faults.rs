//! `DynamoStore` against a DynamoDB that throttles every request, or that always says
//! another writer got there first: both give up after a bounded number of tries, with
//! an error naming the table. A plain HTTP server on 127.0.0.1 plays DynamoDB.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use trailguard_aws::{DynamoOptions, DynamoStore};
use trailguard_core::state::Store;

type Calls = Arc<Mutex<Vec<String>>>;

/// Answers each request with `answer(operation)` (status, JSON body); records the
/// operations (`GetItem`, `PutItem`, ...) in order.
fn fake_dynamodb(answer: fn(&str) -> (u16, String)) -> (String, Calls) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let calls: Calls = Arc::default();
    let seen = calls.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let (mut target, mut length) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let Some((name, value)) = line.split_once(':') else {
                    continue;
                };
                let value = value.trim();
                if name.eq_ignore_ascii_case("x-amz-target") {
                    // `DynamoDB_20120810.GetItem`
                    target = value.rsplit('.').next().unwrap_or_default().to_string();
                } else if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let (status, json) = answer(&target);
            seen.lock().unwrap().push(target);
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.0\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{json}",
                json.len()
            );
        }
    });
    (endpoint, calls)
}

fn store(endpoint: &str, max_attempts: u32, max_conflicts: u32) -> DynamoStore {
    let mut options = DynamoOptions::new("trailguard-state");
    options.max_attempts = max_attempts;
    options.max_conflicts = max_conflicts;
    DynamoStore::open(&common::options(endpoint), options).unwrap()
}

#[test]
fn throttling_is_retried_a_bounded_number_of_times() {
    let (endpoint, calls) = fake_dynamodb(|_| {
        (
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#.into(),
        )
    });
    let mut s = store(&endpoint, 3, 10);
    let e = s.observe("r", "k", "v", 0).unwrap_err().to_string();
    assert!(
        e.contains("trailguard-state") && e.contains("ThrottlingException"),
        "{e}"
    );
    assert_eq!(
        *calls.lock().unwrap(),
        ["GetItem"; 3],
        "three attempts, then the error"
    );
}

#[test]
fn endless_conflicts_are_retried_a_bounded_number_of_times() {
    let (endpoint, calls) = fake_dynamodb(|op| {
        match op {
        "GetItem" => (
            200,
            r##"{"Item":{"pk":{"S":"WIN#r#k"},"sk":{"S":"#META"},"ver":{"N":"1"},"ev":{"B":""}}}"##.into(),
        ),
        _ => (
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#.into(),
        ),
    }
    });
    let mut s = store(&endpoint, 3, 4);
    let e = s
        .window_add("r", "k", 0, Some("x"), 1000)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("trailguard-state") && e.contains("4 times in a row"),
        "{e}"
    );
    assert_eq!(
        *calls.lock().unwrap(),
        ["GetItem", "PutItem"].repeat(4),
        "a fresh read before each of 4 tries"
    );
    assert_eq!(s.conflicts(), 4);
}
