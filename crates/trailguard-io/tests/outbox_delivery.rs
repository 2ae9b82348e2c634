//! The outbox's delivery workers against real local receivers that misbehave: an
//! outage in compressed time loses nothing and sends each alert once, a hanging sink
//! does not delay another, waits asked for are honoured, permanent refusals and
//! expiry are marked and reported, a restart resumes, and shutdown keeps what is
//! left.

#[path = "common/faulty.rs"]
mod faulty;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faulty::{Behaviour, Faulty};
use trailguard_core::{Alert, Severity};
use trailguard_io::outbox::{
    Clock, Delivery, DeliveryConfig, DeliveryEvent, DeliveryState, NamedSink, Outbox, Router,
    TestClock,
};
use trailguard_io::sink::{Secret, Sink, WebhookConfig, WebhookSink};

const T0: i64 = 1_800_000_000_000;

fn alerts(n: usize) -> Vec<Alert> {
    (0..n)
        .map(|i| {
            let mut a = Alert::example();
            a.id = format!("{:032x}", 0xa1e7_0000 + i);
            a.rule.severity = Severity::ALL[i % 5];
            a.summary = format!("alert {i}");
            a
        })
        .collect()
}

/// A webhook sink that makes one request per send (the outbox owns retrying).
fn webhook(server: &Faulty, timeout: Duration) -> Arc<dyn Sink> {
    let config = WebhookConfig {
        timeout,
        max_attempts: 1,
        max_wait: Duration::from_millis(50),
        ..WebhookConfig::unsigned()
    };
    Arc::new(
        WebhookSink::new(
            Secret::new(server.url("/hook/s3cr3t-t0k3n-abcdefgh")),
            config,
        )
        .unwrap(),
    )
}

#[derive(Clone, Default)]
/// What the workers reported, each with the (test) clock's time when it was reported.
struct Events(Arc<Mutex<Vec<(i64, DeliveryEvent)>>>);

impl Events {
    fn config(&self, clock: Arc<dyn Clock>) -> DeliveryConfig {
        let seen = Arc::clone(&self.0);
        let stamp = Arc::clone(&clock);
        DeliveryConfig {
            clock,
            on_event: Some(Arc::new(move |e: &DeliveryEvent| {
                seen.lock().unwrap().push((stamp.now_ms(), e.clone()))
            })),
            ..DeliveryConfig::default()
        }
    }

    fn count(&self, f: impl Fn(&DeliveryEvent) -> bool) -> usize {
        self.0.lock().unwrap().iter().filter(|(_, e)| f(e)).count()
    }

    /// When the last transient failure said the sink would try again, and how long
    /// it said the sink would rest.
    fn sink_resumes(&self) -> Option<(i64, Duration)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find_map(|(at, e)| match e {
                DeliveryEvent::Retrying {
                    sink_paused_for, ..
                } => Some((at + sink_paused_for.as_millis() as i64, *sink_paused_for)),
                _ => None,
            })
    }
}

fn states(delivery: &Delivery, sink: &str) -> BTreeMap<DeliveryState, u64> {
    let c = delivery.outbox().lock().unwrap().counts().unwrap();
    let c = c.get(sink).copied().unwrap_or_default();
    [
        (DeliveryState::Pending, c.pending),
        (DeliveryState::Delivered, c.delivered),
        (DeliveryState::Expired, c.expired),
        (DeliveryState::FailedPermanent, c.failed_permanent),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .collect()
}

/// Moves the test clock `total` forward in `step`s, giving the workers a moment of
/// real time after each.
async fn advance(clock: &TestClock, total: Duration, step: Duration) {
    let mut moved = Duration::ZERO;
    while moved < total {
        clock.advance(step);
        moved += step;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
}

/// Waits (real time, without blocking the runtime) until `cond` holds.
async fn eventually(what: &str, timeout: Duration, cond: impl Fn() -> bool) {
    let until = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn count_by_id(server: &Faulty) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for r in server.accepted() {
        *n.entry(r.alert_id().unwrap()).or_default() += 1;
    }
    n
}

#[tokio::test]
async fn a_ten_minute_outage_in_compressed_time_loses_nothing() {
    let server = Faulty::start(Behaviour::Status(503));
    // The outage misbehaves in every way a service does.
    server.script([
        Behaviour::Reset,
        Behaviour::Status(500),
        Behaviour::Hang,
        Behaviour::RateLimit(0.05),
        Behaviour::Reset,
    ]);
    let clock = TestClock::new(T0);
    let events = Events::default();
    let delivery = Delivery::start(
        Outbox::in_memory().unwrap(),
        vec![NamedSink::new(webhook(&server, Duration::from_millis(300)))],
        events.config(Arc::new(clock.clone())),
    );
    let queued = alerts(40);
    delivery.enqueue(queued.clone()).await.unwrap();
    let started = Instant::now();
    advance(&clock, Duration::from_secs(600), Duration::from_secs(5)).await;
    let probes = server.received().len();
    eprintln!("{probes} requests during the ten-minute outage");
    assert!(server.accepted().is_empty());
    // Backoff: a handful of probes in ten minutes, not one per alert or per step.
    assert!(
        (5..=30).contains(&probes),
        "{probes} requests during the outage"
    );
    assert_eq!(
        states(&delivery, "webhook"),
        BTreeMap::from([(DeliveryState::Pending, 40)]),
        "nothing lost, nothing given up"
    );

    server.set_default(Behaviour::Accept);
    // The next probe comes when the last failure said it would, within the backoff
    // cap; then everything goes. (The workers run in real time while the test clock
    // jumps, so on a loaded machine the last failure may be stamped a little after
    // the outage "ended": the bound is taken from that stamp, not from the outage.)
    let mut waited = 0;
    while server.accepted().is_empty() && waited < 1800 {
        advance(&clock, Duration::from_secs(10), Duration::from_secs(10)).await;
        waited += 10;
    }
    let recovered_ms = clock.now_ms();
    while server.accepted().len() < 40 && waited < 1800 {
        advance(&clock, Duration::from_secs(10), Duration::from_secs(10)).await;
        waited += 10;
    }
    eventually("40 delivered", Duration::from_secs(5), || {
        server.accepted().len() >= 40
    })
    .await;
    let (due_ms, pause) = events.sink_resumes().expect("failures were reported");
    assert!(
        pause <= Duration::from_secs(600),
        "a pause of {pause:?} is over the backoff cap"
    );
    assert!(
        recovered_ms <= due_ms + 20_000,
        "first delivery {} s after the outage ended, {} s after the sink was due to try again",
        (recovered_ms - T0 - 600_000) / 1000,
        (recovered_ms - due_ms) / 1000
    );
    let report = delivery.shutdown(Duration::from_secs(1)).await;
    let by_id = count_by_id(&server);
    assert_eq!(by_id.len(), 40);
    assert!(by_id.values().all(|n| *n == 1), "sent twice: {by_id:?}");
    assert_eq!(report.total().delivered, 40);
    assert_eq!(report.total().expired + report.total().failed_permanent, 0);
    assert!(report.total().retries as usize >= probes - 1);
    // After the first success the backlog goes most urgent first.
    let rank = |r: &faulty::Received| {
        let id = r.alert_id().unwrap();
        queued.iter().find(|a| a.id == id).unwrap().rule.severity
    };
    let order: Vec<Severity> = server.accepted().iter().skip(1).map(rank).collect();
    assert!(order.windows(2).all(|w| w[0] >= w[1]), "{order:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_hanging_sink_does_not_hold_back_the_others() {
    let stuck = Faulty::start(Behaviour::Hang);
    let fast = Faulty::start(Behaviour::Accept);
    let events = Events::default();
    let delivery = Delivery::start(
        Outbox::in_memory().unwrap(),
        vec![
            NamedSink::named("stuck", webhook(&stuck, Duration::from_secs(5))),
            NamedSink::named("fast", webhook(&fast, Duration::from_secs(5))),
        ],
        events.config(Arc::new(trailguard_io::outbox::SystemClock)),
    );
    let start = Instant::now();
    delivery.enqueue(alerts(20)).await.unwrap();
    eventually("the fast sink", Duration::from_secs(4), || {
        fast.accepted().len() >= 20
    })
    .await;
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "fast sink took {took:?}");
    // The stuck sink is still on its first request.
    assert_eq!(stuck.received().len(), 1);
    // The receiver has the 20th request a moment before the worker records it.
    eventually("the fast sink's records", Duration::from_secs(2), || {
        states(&delivery, "fast") == BTreeMap::from([(DeliveryState::Delivered, 20)])
    })
    .await;
    // Shutting down abandons the hanging send: it stays pending with the rest.
    let report = delivery.shutdown(Duration::from_millis(100)).await;
    assert_eq!(report.sinks["fast"].delivered, 20);
    assert!(!report.sinks.contains_key("stuck") || report.sinks["stuck"].delivered == 0);
    eprintln!("fast sink delivered 20 alerts in {took:?} while the other hung");
}

#[tokio::test]
async fn a_rate_limit_wait_is_honoured() {
    let server = Faulty::start(Behaviour::Accept);
    server.script([Behaviour::RateLimit(0.4)]);
    let events = Events::default();
    let delivery = Delivery::start(
        Outbox::in_memory().unwrap(),
        vec![NamedSink::new(webhook(&server, Duration::from_secs(2)))],
        events.config(Arc::new(trailguard_io::outbox::SystemClock)),
    );
    delivery.enqueue(alerts(3)).await.unwrap();
    eventually("3 delivered", Duration::from_secs(5), || {
        server.accepted().len() >= 3
    })
    .await;
    let got = server.received();
    assert_eq!(got.len(), 4, "one 429, then each alert once");
    let waited = got[1].at - got[0].at;
    assert!(
        waited >= Duration::from_millis(400),
        "retried after {waited:?}"
    );
    assert_eq!(
        events.count(
            |e| matches!(e, DeliveryEvent::Retrying { error, retry_in, .. }
            if error.contains("rate limited") && *retry_in >= Duration::from_millis(400))
        ),
        1
    );
    delivery.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_permanent_refusal_is_marked_failed_and_never_retried() {
    let server = Faulty::start(Behaviour::Status(400));
    let clock = TestClock::new(T0);
    let events = Events::default();
    let delivery = Delivery::start(
        Outbox::in_memory().unwrap(),
        vec![NamedSink::new(webhook(&server, Duration::from_secs(2)))],
        events.config(Arc::new(clock.clone())),
    );
    delivery.enqueue(alerts(3)).await.unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    while states(&delivery, "webhook").get(&DeliveryState::FailedPermanent) != Some(&3) {
        assert!(Instant::now() < until, "{:?}", states(&delivery, "webhook"));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    advance(&clock, Duration::from_secs(3600), Duration::from_secs(60)).await;
    assert_eq!(server.received().len(), 3, "never tried again");
    assert_eq!(
        events.count(
            |e| matches!(e, DeliveryEvent::Failed { error, attempts: 1, .. }
            if error.starts_with("HTTP 400"))
        ),
        3
    );
    let report = delivery.shutdown(Duration::from_secs(1)).await;
    assert_eq!(report.total().failed_permanent, 3);
}

#[tokio::test]
async fn undelivered_alerts_expire_loudly_and_can_be_retried() {
    let server = Faulty::start(Behaviour::Status(502));
    let clock = TestClock::new(T0);
    let events = Events::default();
    let mut config = events.config(Arc::new(clock.clone()));
    config.expiry = Duration::from_secs(3600);
    let delivery = Delivery::start(
        Outbox::in_memory().unwrap(),
        vec![NamedSink::new(webhook(&server, Duration::from_secs(2)))],
        config,
    );
    delivery.enqueue(alerts(5)).await.unwrap();
    advance(&clock, Duration::from_secs(3660), Duration::from_secs(30)).await;
    let until = Instant::now() + Duration::from_secs(5);
    while events.count(|e| matches!(e, DeliveryEvent::Expired(_))) < 5 {
        assert!(Instant::now() < until, "{:?}", states(&delivery, "webhook"));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        states(&delivery, "webhook"),
        BTreeMap::from([(DeliveryState::Expired, 5)])
    );
    // Expired is final: the service coming back does not resurrect them by itself.
    server.set_default(Behaviour::Accept);
    let before = server.received().len();
    advance(&clock, Duration::from_secs(1200), Duration::from_secs(60)).await;
    assert_eq!(server.received().len(), before);
    let outbox = delivery.outbox();
    let report = delivery.shutdown(Duration::from_secs(1)).await;
    assert_eq!(report.total().expired, 5);
    assert_eq!(report.total().delivered, 0);

    // `alerts retry` re-queues them; a new delivery sends them.
    let outbox = Arc::try_unwrap(outbox).unwrap().into_inner().unwrap();
    let mut outbox = outbox;
    let n = outbox
        .requeue(
            &trailguard_io::outbox::Selection::All,
            &["webhook".to_owned()],
            clock.now_ms(),
            Duration::from_secs(3600),
        )
        .unwrap();
    assert_eq!(n, 5);
    let mut config = events.config(Arc::new(clock.clone()));
    config.stop_when_idle = true;
    let delivery = Delivery::start(
        outbox,
        vec![NamedSink::new(webhook(&server, Duration::from_secs(2)))],
        config,
    );
    let report = delivery
        .run_until_idle(Duration::from_secs(60), Duration::from_secs(1))
        .await;
    assert_eq!(report.total().delivered, 5);
    assert_eq!(count_by_id(&server).len(), 5);
}

#[tokio::test]
async fn a_restart_resumes_what_was_pending() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let down = Faulty::start(Behaviour::Reset);
    let events = Events::default();
    let mut config = events.config(Arc::new(trailguard_io::outbox::SystemClock));
    config.stop_when_idle = true;
    let delivery = Delivery::start(
        Outbox::open(&path).unwrap(),
        vec![NamedSink::named(
            "hook",
            webhook(&down, Duration::from_secs(2)),
        )],
        config.clone(),
    );
    delivery.enqueue(alerts(12)).await.unwrap();
    let report = delivery
        .run_until_idle(Duration::from_millis(300), Duration::from_secs(1))
        .await;
    assert_eq!(report.total().delivered, 0);
    assert!(!down.received().is_empty());

    // A new process: the same file, the service back.
    let up = Faulty::start(Behaviour::Accept);
    let mut outbox = Outbox::open(&path).unwrap();
    assert_eq!(outbox.counts().unwrap()["hook"].pending, 12);
    // Due now (as `alerts retry` does), rather than after the first run's backoff.
    outbox
        .requeue(
            &trailguard_io::outbox::Selection::All,
            &["hook".to_owned()],
            trailguard_io::outbox::system_now_ms(),
            Duration::from_secs(3600),
        )
        .unwrap();
    let delivery = Delivery::start(
        outbox,
        vec![NamedSink::named(
            "hook",
            webhook(&up, Duration::from_secs(2)),
        )],
        config,
    );
    let report = delivery
        .run_until_idle(Duration::from_secs(10), Duration::from_secs(1))
        .await;
    assert_eq!(report.total().delivered, 12);
    let by_id = count_by_id(&up);
    assert_eq!(by_id.len(), 12);
    assert!(by_id.values().all(|n| *n == 1));
    // The file holds sink names, never the URL.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains("s3cr3t-t0k3n"),
        "the webhook URL is in the state file"
    );
    assert!(text.contains("hook"));
}

#[tokio::test]
async fn shutdown_finishes_the_send_in_flight_and_keeps_the_rest() {
    let server = Faulty::start(Behaviour::AcceptAfter(Duration::from_millis(300)));
    let delivery = Delivery::start(
        Outbox::in_memory().unwrap(),
        vec![NamedSink::new(webhook(&server, Duration::from_secs(5)))],
        DeliveryConfig::default(),
    );
    delivery.enqueue(alerts(5)).await.unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    while server.received().is_empty() {
        assert!(Instant::now() < until);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let outbox = delivery.outbox();
    let report = delivery.shutdown(Duration::from_secs(3)).await;
    assert_eq!(report.total().delivered, 1, "the send in flight finished");
    assert_eq!(server.received().len(), 1, "no new send started");
    let c = outbox.lock().unwrap().counts().unwrap()["webhook"];
    assert_eq!((c.delivered, c.pending), (1, 4));
}

#[tokio::test]
async fn routing_decides_the_sinks_of_each_alert() {
    let a = Faulty::start(Behaviour::Accept);
    let b = Faulty::start(Behaviour::Accept);
    let mut config = DeliveryConfig {
        stop_when_idle: true,
        ..DeliveryConfig::default()
    };
    // Critical alerts page both; the rest go to `b` only.
    config.router = Some(Router::new(|alert: &Alert| {
        if alert.rule.severity == Severity::Critical {
            vec!["a".into(), "b".into()]
        } else {
            vec!["b".into()]
        }
    }));
    let delivery = Delivery::start(
        Outbox::in_memory().unwrap(),
        vec![
            NamedSink::named("a", webhook(&a, Duration::from_secs(2))),
            NamedSink::named("b", webhook(&b, Duration::from_secs(2))),
        ],
        config,
    );
    let n = delivery.enqueue(alerts(10)).await.unwrap();
    assert_eq!(n.new_deliveries, 12);
    let report = delivery
        .run_until_idle(Duration::from_secs(10), Duration::from_secs(1))
        .await;
    assert_eq!(report.sinks["a"].delivered, 2);
    assert_eq!(report.sinks["b"].delivered, 10);
    assert_eq!(a.accepted().len(), 2);
}
