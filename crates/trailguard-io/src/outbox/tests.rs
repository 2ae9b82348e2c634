//! The queue on its own (no sink): enqueue, order, leases, outcomes, expiry, re-queue,
//! ids by prefix, versions, a full disk, and sharing a transaction with the state.

use std::time::Duration;

use rusqlite::Connection;
use trailguard_core::state::Store;
use trailguard_core::{Alert, Severity};

use super::*;
use crate::state::SqliteStore;

const HOUR: Duration = Duration::from_secs(3600);

fn alert(id: &str, severity: Severity) -> Alert {
    let mut a = Alert::example();
    a.id = id.into();
    a.rule.severity = severity;
    a
}

fn to(sinks: &'static [&'static str]) -> impl Fn(&Alert) -> Vec<String> {
    move |_| sinks.iter().map(|s| s.to_string()).collect()
}

fn states(o: &mut Outbox, id: &str) -> Vec<(String, DeliveryState, u32)> {
    o.show(id)
        .unwrap()
        .entry
        .deliveries
        .into_iter()
        .map(|d| (d.sink, d.state, d.attempts))
        .collect()
}

#[test]
fn enqueue_is_idempotent_on_the_alert_id() {
    let mut o = Outbox::in_memory().unwrap();
    let alerts = [alert("aa01", Severity::High), alert("aa02", Severity::Low)];
    let n = o
        .enqueue(&alerts, &to(&["discord", "jsonl:a"]), 1_000, HOUR)
        .unwrap();
    assert_eq!(
        n,
        Enqueued {
            new_alerts: 2,
            known_alerts: 0,
            new_deliveries: 4
        }
    );
    // The same alerts again (a re-run on the same files): nothing new.
    let n = o
        .enqueue(&alerts, &to(&["discord", "jsonl:a"]), 2_000, HOUR)
        .unwrap();
    assert_eq!(n.new_alerts, 0);
    assert_eq!(n.known_alerts, 2);
    assert_eq!(n.new_deliveries, 0);
    // A sink the alert did not have yet gets a delivery; a name given twice counts once.
    let n = o
        .enqueue(
            &alerts[..1],
            &to(&["slack", "slack", "discord"]),
            3_000,
            HOUR,
        )
        .unwrap();
    assert_eq!(n.new_deliveries, 1);
    assert_eq!(o.alert_count().unwrap(), 2);
    let c = o.counts().unwrap();
    assert_eq!(c["discord"].pending, 2);
    assert_eq!(c["slack"].pending, 1);
    // The stored JSON is the alert contract.
    let shown = o.show("aa01").unwrap();
    let back: Alert = serde_json::from_str(&shown.alert_json).unwrap();
    assert_eq!(back, alerts[0]);
    assert_eq!(shown.entry.created_ms, 1_000);
    assert_eq!(shown.history.len(), 3, "{:?}", shown.history);
    assert!(shown.history.iter().all(|h| h.outcome == "queued"));
}

#[test]
fn claims_most_urgent_first_and_leases_what_it_claims() {
    let mut o = Outbox::in_memory().unwrap();
    o.enqueue(&[alert("b1", Severity::Low)], &to(&["s"]), 1_000, HOUR)
        .unwrap();
    o.enqueue(
        &[
            alert("b2", Severity::Critical),
            alert("b3", Severity::Critical),
        ],
        &to(&["s"]),
        2_000,
        HOUR,
    )
    .unwrap();
    assert_eq!(o.next_wake("s").unwrap(), Some(1_000));
    assert_eq!(o.next_wake("other").unwrap(), None);
    let c = o.claim("s", 5_000, 65_000).unwrap().unwrap();
    assert_eq!((c.alert_id.as_str(), c.attempts), ("b2", 0));
    let back: Alert = serde_json::from_str(&c.alert_json).unwrap();
    assert_eq!(back.id, "b2");
    // Leased: the next claim takes the next one.
    assert_eq!(o.claim("s", 5_000, 65_000).unwrap().unwrap().alert_id, "b3");
    assert_eq!(o.claim("s", 5_000, 65_000).unwrap().unwrap().alert_id, "b1");
    assert!(o.claim("s", 5_000, 65_000).unwrap().is_none());
    assert_eq!(o.next_wake("s").unwrap(), Some(65_000));
    // A lease that ran out (the process died mid-send) makes it due again.
    assert_eq!(
        o.claim("s", 65_000, 99_000).unwrap().unwrap().alert_id,
        "b2"
    );

    o.record("b2", "s", &Outcome::Delivered, 66_000).unwrap();
    o.record(
        "b3",
        "s",
        &Outcome::Retry {
            next_attempt_ms: 70_000,
            error: "HTTP 503 after 1 attempt(s)".into(),
        },
        66_000,
    )
    .unwrap();
    o.record(
        "b1",
        "s",
        &Outcome::Failed {
            error: "HTTP 400 after 1 attempt(s)".into(),
        },
        66_000,
    )
    .unwrap();
    assert_eq!(
        states(&mut o, "b2"),
        [("s".into(), DeliveryState::Delivered, 1)]
    );
    assert_eq!(
        states(&mut o, "b3"),
        [("s".into(), DeliveryState::Pending, 1)]
    );
    assert_eq!(
        states(&mut o, "b1"),
        [("s".into(), DeliveryState::FailedPermanent, 1)]
    );
    // Recording on a delivery that is no longer pending changes nothing.
    o.record("b2", "s", &Outcome::Failed { error: "x".into() }, 67_000)
        .unwrap();
    assert_eq!(
        states(&mut o, "b2"),
        [("s".into(), DeliveryState::Delivered, 1)]
    );
    // Only the retry is left, due at 70 s.
    assert!(o.claim("s", 69_999, 200_000).unwrap().is_none());
    assert_eq!(o.next_wake("s").unwrap(), Some(70_000));
    assert_eq!(o.pull_forward("s", 68_000).unwrap(), 1);
    let b3 = o.claim("s", 68_000, 200_000).unwrap().unwrap();
    assert_eq!((b3.alert_id.as_str(), b3.attempts), ("b3", 1));
    let d = o.show("b3").unwrap();
    assert_eq!(
        d.entry.deliveries[0].last_error.as_deref(),
        Some("HTTP 503 after 1 attempt(s)")
    );
    let outcomes: Vec<&str> = d.history.iter().map(|h| h.outcome.as_str()).collect();
    assert_eq!(outcomes, ["queued", "retry"]);
}

#[test]
fn expiry_marks_and_reports_each_delivery_once() {
    let mut o = Outbox::in_memory().unwrap();
    o.enqueue(&[alert("c1", Severity::High)], &to(&["a", "b"]), 0, HOUR)
        .unwrap();
    o.record(
        "c1",
        "a",
        &Outcome::Retry {
            next_attempt_ms: 10,
            error: "request timed out after 1 attempt(s)".into(),
        },
        5,
    )
    .unwrap();
    assert!(o.expire(None, 3_599_999).unwrap().is_empty());
    // Not claimable at its expiry, even though due.
    assert!(o.claim("a", 3_600_000, 3_700_000).unwrap().is_none());
    let ended = o.expire(Some("a"), 3_600_000).unwrap();
    assert_eq!(
        ended,
        [Ended {
            alert_id: "c1".into(),
            rule_id: "aws-iam-access-key-created-by-unusual-ip".into(),
            sink: "a".into(),
            attempts: 1,
            last_error: Some("request timed out after 1 attempt(s)".into()),
        }]
    );
    assert!(
        o.expire(Some("a"), 3_600_001).unwrap().is_empty(),
        "reported once"
    );
    let ended = o.expire(None, 3_600_001).unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].sink, "b");
    assert_eq!(o.next_wake("a").unwrap(), None);
    let c = o.counts().unwrap();
    assert_eq!((c["a"].expired, c["b"].expired), (1, 1));
    assert_eq!(c["a"].undelivered(), 1);
}

#[test]
fn requeue_all_takes_the_undelivered_and_ids_replay() {
    let mut o = Outbox::in_memory().unwrap();
    o.enqueue(
        &[
            alert("d1", Severity::High),
            alert("d2", Severity::High),
            alert("d3", Severity::High),
        ],
        &to(&["s"]),
        0,
        HOUR,
    )
    .unwrap();
    o.record("d1", "s", &Outcome::Delivered, 1).unwrap();
    o.record(
        "d2",
        "s",
        &Outcome::Failed {
            error: "HTTP 400".into(),
        },
        1,
    )
    .unwrap();
    o.expire(None, 3_600_000).unwrap(); // d3 expires
    let sinks = vec!["s".to_owned()];
    assert_eq!(
        o.requeue(&Selection::All, &sinks, 4_000_000, HOUR).unwrap(),
        2
    );
    let c = o.counts().unwrap();
    assert_eq!((c["s"].pending, c["s"].delivered), (2, 1));
    // A fresh expiry, due now.
    let d3 = o.show("d3").unwrap().entry.deliveries[0].clone();
    assert_eq!((d3.next_attempt_ms, d3.expires_ms), (4_000_000, 7_600_000));
    // By id: a delivered alert is sent again, and to a sink it never had.
    let both = vec!["s".to_owned(), "new".to_owned()];
    assert_eq!(
        o.requeue(&Selection::Ids(vec!["d1".into()]), &both, 4_000_000, HOUR)
            .unwrap(),
        2
    );
    assert_eq!(
        states(&mut o, "d1"),
        [
            ("new".into(), DeliveryState::Pending, 0),
            ("s".into(), DeliveryState::Pending, 1)
        ]
    );
    assert_eq!(
        o.requeue(&Selection::Ids(vec!["nope".into()]), &both, 4_000_000, HOUR)
            .unwrap(),
        0
    );
}

#[test]
fn ids_by_unique_prefix() {
    let mut o = Outbox::in_memory().unwrap();
    o.enqueue(
        &[
            alert("ab12", Severity::Info),
            alert("ab34", Severity::Info),
            alert("cd56", Severity::Info),
        ],
        &to(&[]),
        0,
        HOUR,
    )
    .unwrap();
    assert_eq!(o.resolve("c").unwrap(), "cd56");
    assert_eq!(o.resolve("AB3").unwrap(), "ab34");
    assert_eq!(o.resolve("ab12").unwrap(), "ab12");
    let e = o.resolve("ab").unwrap_err().to_string();
    assert_eq!(
        e,
        "(in memory): ab is the start of 2 alert ids; give more of it"
    );
    let e = o.resolve("ef").unwrap_err().to_string();
    assert_eq!(e, "(in memory): no alert with id ef in the outbox");
    assert!(o.resolve("%").is_err());
    assert!(o.resolve("").is_err());
    // Alerts with no sink are recorded too (shown by `alerts list`).
    let mut n = 0;
    o.list(&ListFilter::default(), |e| {
        assert!(e.deliveries.is_empty());
        n += 1;
    })
    .unwrap();
    assert_eq!(n, 3);
}

#[test]
fn list_filters_by_state_and_sink_newest_first() {
    let mut o = Outbox::in_memory().unwrap();
    o.enqueue(&[alert("e1", Severity::High)], &to(&["a"]), 1, HOUR)
        .unwrap();
    o.enqueue(&[alert("e2", Severity::High)], &to(&["a", "b"]), 2, HOUR)
        .unwrap();
    o.record("e2", "a", &Outcome::Delivered, 3).unwrap();
    let ids = |o: &mut Outbox, f: ListFilter| {
        let mut v = Vec::new();
        o.list(&f, |e| v.push(e.id)).unwrap();
        v
    };
    assert_eq!(ids(&mut o, ListFilter::default()), ["e2", "e1"]);
    let pending = ListFilter {
        state: Some(DeliveryState::Pending),
        ..Default::default()
    };
    assert_eq!(ids(&mut o, pending.clone()), ["e2", "e1"]);
    let pending_a = ListFilter {
        sink: Some("a".into()),
        ..pending
    };
    assert_eq!(ids(&mut o, pending_a), ["e1"]);
    let delivered = ListFilter {
        state: Some(DeliveryState::Delivered),
        limit: Some(5),
        ..Default::default()
    };
    assert_eq!(ids(&mut o, delivered), ["e2"]);
    let one = ListFilter {
        limit: Some(1),
        ..Default::default()
    };
    assert_eq!(ids(&mut o, one), ["e2"]);
    assert_eq!(
        DeliveryState::parse("failed"),
        Some(DeliveryState::FailedPermanent)
    );
    assert_eq!(
        DeliveryState::parse("expired"),
        Some(DeliveryState::Expired)
    );
    assert_eq!(DeliveryState::parse("nope"), None);
}

#[test]
fn purge_keeps_pending_and_recent_alerts() {
    let mut o = Outbox::in_memory().unwrap();
    o.enqueue(
        &[alert("f1", Severity::High), alert("f2", Severity::High)],
        &to(&["s"]),
        0,
        HOUR,
    )
    .unwrap();
    o.record("f1", "s", &Outcome::Delivered, 1).unwrap();
    assert_eq!(o.purge(OUTBOX_RETENTION_MS).unwrap(), 0, "not old enough");
    assert_eq!(o.purge(OUTBOX_RETENTION_MS + 1).unwrap(), 1);
    assert!(o.show("f1").is_err());
    assert!(o.show("f2").is_ok(), "pending is never purged");
}

#[test]
fn a_full_disk_is_a_clear_error_and_the_outbox_survives_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut o = Outbox::open(&path).unwrap();
    o.enqueue(&[alert("01", Severity::Critical)], &to(&["s"]), 0, HOUR)
        .unwrap();
    let pages: i64 = o
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    o.set_max_page_count(pages as u64).unwrap();
    // Large alerts that cannot fit in the pages left.
    let big: Vec<Alert> = (0..50)
        .map(|i| {
            let mut a = alert(&format!("b{i:03}"), Severity::High);
            a.summary = "x".repeat(4000);
            a
        })
        .collect();
    let err = o.enqueue(&big, &to(&["s"]), 10, HOUR).unwrap_err();
    assert!(err.is_disk_problem());
    assert_eq!(
        err.to_string(),
        format!(
            "disk full while writing the outbox {}: alerts not recorded",
            path.display()
        )
    );
    // Nothing half-written, and what was there is intact and deliverable.
    assert_eq!(o.alert_count().unwrap(), 1);
    let c = o.claim("s", 20, 1_000).unwrap().unwrap();
    assert_eq!(c.alert_id, "01");
    o.record("01", "s", &Outcome::Delivered, 30).unwrap();
    // Space again: the same alerts go in.
    o.set_max_page_count(1 << 30).unwrap();
    assert_eq!(
        o.enqueue(&big, &to(&["s"]), 40, HOUR).unwrap().new_alerts,
        50
    );
    drop(o);
    let mut again = Outbox::open(&path).unwrap();
    assert_eq!(again.alert_count().unwrap(), 51);
    assert_eq!(again.counts().unwrap()["s"].delivered, 1);
}

#[test]
fn files_the_outbox_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let e = Outbox::open_existing(&path).unwrap_err().to_string();
    assert!(
        e.ends_with("state.db: no such state file (give the --state FILE a detect run wrote)"),
        "{e}"
    );
    assert!(!path.exists());
    drop(Outbox::open(&path).unwrap());
    assert!(Outbox::open_existing(&path).is_ok());
    // The detection state still opens it: the outbox did not change its version.
    drop(SqliteStore::open(&path).unwrap());

    // An outbox written by a newer trailguard.
    let c = Connection::open(&path).unwrap();
    c.execute(
        "UPDATE outbox_meta SET value = '9' WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    drop(c);
    let e = Outbox::open(&path).unwrap_err().to_string();
    assert!(
        e.contains("the outbox has schema version 9, written by a newer trailguard; this one reads version 1"),
        "{e}"
    );

    // Not a state file at all.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello, not a database").unwrap();
    let e = Outbox::open(&text).unwrap_err().to_string();
    assert!(e.contains("not a trailguard state file"), "{e}");
    assert_eq!(
        std::fs::read_to_string(&text).unwrap(),
        "hello, not a database"
    );
    let other = dir.path().join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let e = Outbox::open(&other).unwrap_err().to_string();
    assert!(e.ends_with("other.db: not a trailguard state file"), "{e}");
    let e = Outbox::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("is a folder"), "{e}");
}

#[test]
fn queued_with_the_state_in_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let alerts = [alert("0a", Severity::High)];
    {
        // A run that stops before it commits has neither marked the alert reported
        // nor queued it.
        let mut store = SqliteStore::open(&path).unwrap();
        store.begin().unwrap();
        assert!(!store.alert_seen("0a").unwrap());
        let n = enqueue_with_state(&mut store, &alerts, &to(&["s"]), 5, HOUR).unwrap();
        assert_eq!(n.new_alerts, 1);
    }
    assert_eq!(Outbox::open(&path).unwrap().alert_count().unwrap(), 0);
    let mut store = SqliteStore::open(&path).unwrap();
    store.begin().unwrap();
    assert!(
        !store.alert_seen("0a").unwrap(),
        "rolled back with the outbox"
    );
    enqueue_with_state(&mut store, &alerts, &to(&["s"]), 5, HOUR).unwrap();
    store.commit().unwrap();
    drop(store);
    let mut o = Outbox::open_existing(&path).unwrap();
    assert_eq!(o.counts().unwrap()["s"].pending, 1);
}

#[test]
fn the_wal_is_checkpointed_between_sends_not_inside_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Outbox::open(&dir.path().join("state.db")).unwrap();
    let auto: i64 = o
        .conn
        .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
        .unwrap();
    assert_eq!(auto, 0, "no checkpoint inside a delivery's commit");
    for i in 0..300 {
        o.enqueue(
            &[alert(&format!("{i:04x}"), Severity::Low)],
            &to(&["s"]),
            i,
            HOUR,
        )
        .unwrap();
    }
    o.maintain(false).unwrap();
    assert_eq!(o.writes, 300, "not yet: 4,096 writes while busy");
    let before: i64 = std::fs::metadata(dir.path().join("state.db-wal"))
        .unwrap()
        .len() as i64;
    o.maintain(true).unwrap();
    let (log, done) = o
        .conn
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        })
        .unwrap();
    assert_eq!(log, done, "everything in the WAL was copied back");
    assert!(before > 0);
    assert_eq!(o.writes, 0);
}

#[test]
fn digests_are_messages_of_their_own_sent_after_the_single_alerts() {
    use crate::config::DigestPolicy;
    use crate::digest::{DigestFolder, Outgoing};
    let mut folder = DigestFolder::new([(
        "s".to_owned(),
        DigestPolicy {
            max: 1,
            within_ms: 60_000,
        },
    )]);
    let mut singles = Vec::new();
    let mut digests = Vec::new();
    for i in 0..4 {
        for out in folder.push("s", alert(&format!("{i:02}"), Severity::Critical), 1_000) {
            match out {
                Outgoing::Single(a) => singles.push(a),
                Outgoing::Digest(d) => digests.push(d),
            }
        }
    }
    for out in folder.flush_all() {
        if let Outgoing::Digest(d) = out {
            digests.push(d);
        }
    }
    assert_eq!((singles.len(), digests.len()), (1, 1));
    let mut o = Outbox::in_memory().unwrap();
    o.enqueue_digests(&digests, 0, HOUR).unwrap();
    o.enqueue(&singles, &to(&["s"]), 0, HOUR).unwrap();
    assert_eq!(
        o.enqueue_digests(&digests, 5, HOUR).unwrap().new_deliveries,
        0
    );
    // The single alert first, although the digest was queued first.
    let first = o.claim("s", 10, 1_000).unwrap().unwrap();
    assert_eq!(
        (first.kind, first.alert_id.as_str()),
        (MessageKind::Alert, "00")
    );
    let second = o.claim("s", 10, 1_000).unwrap().unwrap();
    assert_eq!(second.kind, MessageKind::Digest);
    let back: crate::digest::Digest = serde_json::from_str(&second.alert_json).unwrap();
    assert_eq!(back, digests[0]);
    assert_eq!(back.count, 3);
    let shown = o.show(&second.alert_id).unwrap();
    assert_eq!(shown.entry.kind, MessageKind::Digest);
    assert_eq!(shown.entry.rule_id, "digest");
    assert_eq!(shown.entry.severity, "critical");
    assert_eq!(o.resolve("digest-").unwrap(), second.alert_id);
}
