//! Delivery figures for `BENCHMARKS.md` (run by `bench/delivery.sh`, in release):
//!
//! 1. throughput: alerts per second through a file outbox (the `--state` case) to a
//!    webhook receiver on 127.0.0.1, and through an in-memory one;
//! 2. latency: alerts queued one at a time, from the call that queues the alert to
//!    the request arriving at the receiver (median, p99);
//! 3. an outage: 100,000 alerts queued while the receiver is down, one simulated
//!    hour of retries (test clock), resident memory sampled throughout; then the
//!    receiver comes back and the backlog is flushed.
//!
//! Usage: delivery_bench [--alerts N] [--latency N] [--queued N] [--only throughput|latency|outage]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trailguard_core::{Alert, Severity};
use trailguard_io::outbox::{Delivery, DeliveryConfig, NamedSink, Outbox, TestClock};
use trailguard_io::sink::{Secret, Sink, WebhookConfig, WebhookSink};

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

/// A keep-alive HTTP receiver answering 200, noting when each alert id arrived.
fn receiver(listener_on: &str) -> (u16, Arrivals) {
    let server = tiny_http::Server::http(listener_on).expect("bind the receiver");
    let port = server.server_addr().to_ip().unwrap().port();
    let arrivals: Arrivals = Arc::default();
    let seen = Arc::clone(&arrivals);
    std::thread::spawn(move || {
        for mut req in server.incoming_requests() {
            let mut body = Vec::new();
            let _ = req.as_reader().read_to_end(&mut body);
            let at = Instant::now();
            if let Some(id) = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| Some(v.get("id")?.as_str()?.to_owned()))
            {
                seen.lock().unwrap().insert(id, at);
            }
            let _ = req.respond(tiny_http::Response::from_string("{}"));
        }
    });
    (port, arrivals)
}

fn sink(port: u16) -> Arc<dyn Sink> {
    let config = WebhookConfig {
        timeout: Duration::from_secs(5),
        max_attempts: 1,
        ..WebhookConfig::unsigned()
    };
    let url = format!("http://127.0.0.1:{port}/hook/bench-token-0123456789");
    Arc::new(WebhookSink::new(Secret::new(url), config).unwrap())
}

fn alert(i: usize) -> Alert {
    let mut a = Alert::example();
    a.id = format!("{i:032x}");
    a.rule.severity = Severity::ALL[i % 5];
    a.summary = format!("arn:aws:iam::123456789012:user/admin created an access key ({i})");
    a
}

/// (VmRSS, VmHWM) of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn throughput(outbox: Outbox, n: usize) -> (f64, f64) {
    let (port, arrivals) = receiver("127.0.0.1:0");
    let delivery = Delivery::start(
        outbox,
        vec![NamedSink::new(sink(port))],
        DeliveryConfig {
            stop_when_idle: true,
            ..DeliveryConfig::default()
        },
    );
    let alerts: Vec<Alert> = (0..n).map(alert).collect();
    let start = Instant::now();
    // Queued in batches of 1,000 (one transaction each), as a long run would.
    for chunk in alerts.chunks(1_000) {
        delivery.enqueue(chunk.to_vec()).await.unwrap();
    }
    let queued = start.elapsed();
    let report = delivery
        .run_until_idle(Duration::from_secs(600), Duration::from_secs(5))
        .await;
    let took = start.elapsed();
    assert_eq!(report.total().delivered as usize, n);
    assert_eq!(arrivals.lock().unwrap().len(), n);
    (
        n as f64 / queued.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
    )
}

async fn latency(outbox: Outbox, n: usize) -> (Duration, Duration, Duration) {
    let (port, arrivals) = receiver("127.0.0.1:0");
    let delivery = Delivery::start(
        outbox,
        vec![NamedSink::new(sink(port))],
        DeliveryConfig::default(),
    );
    let mut queued_at = HashMap::new();
    for i in 0..n {
        let a = alert(1_000_000 + i);
        queued_at.insert(a.id.clone(), Instant::now());
        delivery.enqueue(vec![a]).await.unwrap();
        // One alert every 2 ms: each finds the worker idle, as alerts do in practice.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let until = Instant::now() + Duration::from_secs(30);
    while arrivals.lock().unwrap().len() < n && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    delivery.shutdown(Duration::from_secs(5)).await;
    let arrivals = arrivals.lock().unwrap();
    let mut lat: Vec<Duration> = queued_at
        .iter()
        .map(|(id, t)| arrivals[id].saturating_duration_since(*t))
        .collect();
    lat.sort();
    (
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        *lat.last().unwrap(),
    )
}

async fn outage(path: &std::path::Path, n: usize) {
    // A port with nothing listening: every probe is refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (rss_start, _) = rss_kib();
    let clock = TestClock::new(trailguard_io::outbox::system_now_ms());
    let delivery = Delivery::start(
        Outbox::open(path).unwrap(),
        vec![NamedSink::new(sink(port))],
        DeliveryConfig {
            clock: Arc::new(clock.clone()),
            ..DeliveryConfig::default()
        },
    );
    let start = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1_000) {
        delivery
            .enqueue(chunk.iter().map(|i| alert(5_000_000 + i)).collect())
            .await
            .unwrap();
    }
    let queue_took = start.elapsed();
    let (rss_queued, _) = rss_kib();
    let mut samples = Vec::new();
    // One simulated hour, 10 s at a time.
    for _ in 0..360 {
        clock.advance(Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(2)).await;
        samples.push(rss_kib().0);
    }
    let report = delivery.report();
    let outbox = delivery.outbox();
    let pending = outbox.lock().unwrap().counts().unwrap()["webhook"].pending;
    let (min, max) = (
        *samples.iter().min().unwrap(),
        *samples.iter().max().unwrap(),
    );
    let first_quarter = samples[..90].iter().max().copied().unwrap_or(0);
    let last_quarter = samples[270..].iter().max().copied().unwrap_or(0);
    println!(
        "| {n} alerts queued while the receiver is down | queued in {:.2} s; {} probes in the simulated hour; {pending} pending after it |",
        queue_took.as_secs_f64(),
        report.total().retries
    );
    println!(
        "| resident memory | {} before queueing, {} queued; during the hour {} to {} (max of first quarter {}, of last quarter {}) |",
        mib(rss_start),
        mib(rss_queued),
        mib(min),
        mib(max),
        mib(first_quarter),
        mib(last_quarter)
    );
    // The receiver comes back on the same port; the next probe finds it.
    let (_, arrivals) = receiver(&format!("127.0.0.1:{port}"));
    let back = Instant::now();
    let mut peak = 0;
    while arrivals.lock().unwrap().len() < n {
        clock.advance(Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
        peak = peak.max(rss_kib().0);
        assert!(
            back.elapsed() < Duration::from_secs(600),
            "the flush stalled"
        );
    }
    let took = back.elapsed();
    delivery.shutdown(Duration::from_secs(5)).await;
    println!(
        "| flushing the backlog | {n} delivered in {:.1} s ({:.0} alerts/s), each once; resident memory at most {} |",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        mib(peak)
    );
    println!(
        "| peak resident memory of the whole benchmark (VmHWM) | {} |",
        mib(rss_kib().1)
    );
}

fn main() {
    let n = arg("--alerts", 20_000);
    let lat_n = arg("--latency", 2_000);
    let queued = arg("--queued", 100_000);
    // `--only outage` runs the outage alone, so its memory is measured from a fresh
    // process (bench/delivery.sh runs it that way).
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let runs = |phase: &str| only.as_deref().is_none_or(|o| o == phase);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(async {
        if runs("throughput") {
            let (q, t) = throughput(Outbox::open(&dir.path().join("t.db")).unwrap(), n).await;
            println!("| {n} alerts through a file outbox (`--state`) to a local webhook receiver | {t:.0} alerts/s end to end (queueing alone: {q:.0} alerts/s) |");
            let (q, t) = throughput(Outbox::in_memory().unwrap(), n).await;
            println!("| {n} alerts through an in-memory outbox (no `--state`) | {t:.0} alerts/s end to end (queueing alone: {q:.0} alerts/s) |");
        }
        if runs("latency") {
            for (what, outbox) in [
                ("file outbox", Outbox::open(&dir.path().join("l.db")).unwrap()),
                ("in-memory outbox", Outbox::in_memory().unwrap()),
            ] {
                let (p50, p99, max) = latency(outbox, lat_n).await;
                println!("| latency, alert queued to request received, {lat_n} alerts one at a time ({what}) | median {:.2} ms, p99 {:.2} ms, max {:.2} ms |",
                    p50.as_secs_f64() * 1e3, p99.as_secs_f64() * 1e3, max.as_secs_f64() * 1e3);
            }
        }
        if runs("outage") {
            outage(&dir.path().join("o.db"), queued).await;
        }
    });
}
