//! `detect --sink discord` against a real HTTP receiver on 127.0.0.1: every alert
//! arrives once, and the webhook URL never appears in any output.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;

use assert_cmd::Command;
use serde_json::Value;

#[test]
fn alerts_reach_discord_and_the_url_stays_secret() {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let bodies: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let seen = bodies.clone();
    let handle = thread::spawn(move || {
        let mut first = true;
        while let Ok(Some(mut req)) = server.recv_timeout(std::time::Duration::from_secs(20)) {
            let mut body = String::new();
            req.as_reader().read_to_string(&mut body).unwrap();
            // Rate-limit the very first request once, as Discord does under load.
            if std::mem::take(&mut first) {
                let r = tiny_http::Response::from_string(r#"{"retry_after":0.05,"global":false}"#)
                    .with_status_code(429);
                req.respond(r).unwrap();
                continue;
            }
            seen.lock()
                .unwrap()
                .push((req.url().to_owned(), serde_json::from_str(&body).unwrap()));
            req.respond(tiny_http::Response::from_string("{}")).unwrap();
            if seen.lock().unwrap().len() == 8 {
                break;
            }
        }
    });
    let token = "s3cr3t-webhook-token-do-not-print";
    let url = format!("http://127.0.0.1:{port}/api/webhooks/123/{token}");
    let logs =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/leaked-admin-key/AWSLogs");
    let out = Command::cargo_bin("trailguard")
        .unwrap()
        .env("DISCORD_WEBHOOK_URL", &url)
        .args(["detect", "--format", "jsonl", "--sink", "discord"])
        .arg(&logs)
        .output()
        .unwrap();
    handle.join().unwrap();
    let all =
        String::from_utf8_lossy(&[out.stdout.clone(), out.stderr.clone()].concat()).into_owned();
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        !all.contains(token),
        "the webhook token leaked into the output"
    );
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 8);
    for (path, body) in bodies.iter() {
        assert!(path.contains("wait=true"), "{path}");
        let embed = &body["embeds"][0];
        assert!(embed["title"].as_str().unwrap().len() <= 256);
        assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
    }
    assert!(bodies
        .iter()
        .any(|(_, b)| b.to_string().contains("AKIAWCZC6J72CNUTOL7P")));
}
