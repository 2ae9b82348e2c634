//! `DynamoStore` against DynamoDB in moto (server mode, 127.0.0.1): the conformance
//! suite every store runs, persistence across instances, concurrent writers, a missing
//! table and items trailguard did not write.

#[path = "../../trailguard/tests/moto_support/mod.rs"]
mod moto_support;

mod common;

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use moto_support::Moto;
use trailguard_aws::{DynamoOptions, DynamoStore};
use trailguard_core::state::Store;
use trailguard_core::testing::{delivery_claims_conformance, store_conformance, store_persistence};

fn store(moto: &Moto, table: &str) -> DynamoStore {
    DynamoStore::open(&common::options(&moto.endpoint), DynamoOptions::new(table)).unwrap()
}

fn new_table(moto: &Moto, table: &str) -> DynamoStore {
    let s = store(moto, table);
    s.create_table().unwrap();
    s
}

#[test]
fn conformance() {
    let Some(moto) = Moto::start(&[]) else { return };
    let mut s = new_table(&moto, "state");
    store_conformance(&mut s);
}

#[test]
fn delivery_claims() {
    let Some(moto) = Moto::start(&[]) else { return };
    let mut s = new_table(&moto, "state");
    delivery_claims_conformance(&mut s);
    let item = get_item(&moto, "state", "ALERT#d-alert-1", "SINK#discord");
    assert_eq!(item["state"], AttributeValue::S("delivered".into()));
    assert!(item.contains_key("expires_at"));
}

/// Called from inside a tokio runtime (the Lambda's), the blocking store still works.
#[test]
fn usable_from_inside_an_async_runtime() {
    let Some(moto) = Moto::start(&[]) else { return };
    let mut s = new_table(&moto, "state");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let seen = rt.block_on(async { s.alert_seen("inside").unwrap() });
    assert!(!seen);
}

#[test]
fn persistence() {
    let Some(moto) = Moto::start(&[]) else { return };
    new_table(&moto, "state");
    store_persistence(&mut || Box::new(store(&moto, "state")));
}

/// Two stores in two threads (two Lambda invocations) on the same window, the same
/// first-seen key and the same alert ids: every event counted once, every value new
/// for exactly one of them, every alert reported by exactly one.
#[test]
fn concurrent_writers_lose_no_count_and_report_once() {
    let Some(moto) = Moto::start_serial(&[]) else {
        return;
    };
    new_table(&moto, "state");
    const N: usize = 30;
    let start = std::sync::Barrier::new(2);
    let run = |who: usize| {
        let mut s = store(&moto, "state");
        start.wait();
        let mut counts = Vec::new();
        let mut new_values = Vec::new();
        let mut reported = Vec::new();
        let mut sent = Vec::new();
        for i in 0..N {
            let at = (i * 2 + who) as i64;
            let item = format!("item{}", i % 7);
            counts.push(
                s.window_add("w", "AKIA1", at, Some(&item), 1_000_000)
                    .unwrap(),
            );
            if s.observe("fs", "AKIA1", &format!("10.0.0.{i}"), at)
                .unwrap()
                .new_value
            {
                new_values.push(i);
            }
            if !s.alert_seen(&format!("alert-{i}")).unwrap() {
                reported.push(i);
            }
            // The Lambda's delivery claims: one writer sends each alert.
            let now = 1_700_000_000_000 + i as i64;
            if s.claim_delivery(&format!("alert-{i}"), "hook", now, 60_000)
                .unwrap()
                == trailguard_core::state::DeliveryClaim::Claimed
            {
                s.settle_delivery(&format!("alert-{i}"), "hook", true, now)
                    .unwrap();
                sent.push(i);
            }
        }
        eprintln!("writer {who}: {} conflicts retried", s.conflicts());
        (counts, new_values, reported, s.conflicts(), sent)
    };
    let (a, b) = std::thread::scope(|sc| {
        let a = sc.spawn(|| run(0));
        let b = sc.spawn(|| run(1));
        (a.join().unwrap(), b.join().unwrap())
    });
    // The writers did get in each other's way (else this test shows nothing).
    assert!(a.3 + b.3 > 0, "no conflict at all");
    // Every add saw a different count: none was lost or counted twice.
    let mut events: Vec<u64> = a.0.iter().chain(&b.0).map(|c| c.events).collect();
    events.sort_unstable();
    assert_eq!(events, (1..=2 * N as u64).collect::<Vec<_>>());
    let mut s = store(&moto, "state");
    let last = s
        .window_add("w", "AKIA1", 10_000, Some("item0"), 1_000_000)
        .unwrap();
    assert_eq!((last.events, last.distinct), (2 * N as u64 + 1, 7));
    // Each value was new for exactly one writer.
    let mut new_values: Vec<usize> = a.1.iter().chain(&b.1).copied().collect();
    new_values.sort_unstable();
    assert_eq!(new_values, (0..N).collect::<Vec<_>>());
    assert!(!s.observe("fs", "AKIA1", "10.0.0.0", 0).unwrap().new_value);
    let meta = get_item(&moto, "state", "SEEN#fs#AKIA1", "#META");
    assert_eq!(meta["n_values"], AttributeValue::N(N.to_string()));
    assert_eq!(meta["next_seq"], AttributeValue::N(N.to_string()));
    // Each alert was reported by exactly one writer.
    let mut reported: Vec<usize> = a.2.iter().chain(&b.2).copied().collect();
    reported.sort_unstable();
    assert_eq!(reported, (0..N).collect::<Vec<_>>());
    // And each alert was sent by exactly one.
    let mut sent: Vec<usize> = a.4.iter().chain(&b.4).copied().collect();
    sent.sort_unstable();
    assert_eq!(sent, (0..N).collect::<Vec<_>>());
}

fn client(moto: &Moto) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&common::sdk_config(&moto.endpoint))
}

fn get_item(moto: &Moto, table: &str, pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
    let c = client(moto);
    common::runtime()
        .block_on(
            c.get_item()
                .table_name(table)
                .key("pk", AttributeValue::S(pk.into()))
                .key("sk", AttributeValue::S(sk.into()))
                .send(),
        )
        .unwrap()
        .item
        .expect("the item exists")
}

fn put_item(moto: &Moto, table: &str, attrs: &[(&str, AttributeValue)]) {
    let c = client(moto);
    let mut req = c.put_item().table_name(table);
    for (k, v) in attrs {
        req = req.item(*k, v.clone());
    }
    common::runtime().block_on(req.send()).unwrap();
}

#[test]
fn a_missing_table_is_named() {
    let Some(moto) = Moto::start(&[]) else { return };
    let mut s = store(&moto, "no-such-table");
    let e = s.observe("r", "k", "v", 0).unwrap_err().to_string();
    assert!(
        e.contains("DynamoDB table `no-such-table` not found"),
        "{e}"
    );
    assert!(e.contains("us-east-1"), "{e}");
    let e = s.alert_seen("a").unwrap_err().to_string();
    assert!(e.contains("no-such-table"), "{e}");
}

#[test]
fn items_trailguard_did_not_write_are_errors_naming_the_item() {
    let Some(moto) = Moto::start(&[]) else { return };
    let mut s = new_table(&moto, "state");
    let str_ = |v: &str| AttributeValue::S(v.into());
    let num = |v: &str| AttributeValue::N(v.into());
    // A window whose events are not binary, and one whose bytes are cut short.
    put_item(
        &moto,
        "state",
        &[
            ("pk", str_("WIN#r#k")),
            ("sk", str_("#META")),
            ("ver", num("1")),
            ("ev", str_("oops")),
        ],
    );
    let e = s.window_add("r", "k", 0, None, 10).unwrap_err().to_string();
    assert!(
        e.contains("table `state`")
            && e.contains("pk=`WIN#r#k`")
            && e.contains("`ev` is not binary"),
        "{e}"
    );
    put_item(
        &moto,
        "state",
        &[
            ("pk", str_("WIN#r#k2")),
            ("sk", str_("#META")),
            ("ver", num("1")),
            ("ev", AttributeValue::B(Blob::new(vec![0u8; 17]))),
        ],
    );
    let e = s
        .window_add("r", "k2", 0, None, 10)
        .unwrap_err()
        .to_string();
    assert!(e.contains("pk=`WIN#r#k2`") && e.contains("17 bytes"), "{e}");
    // A first-seen key without its counters.
    put_item(
        &moto,
        "state",
        &[
            ("pk", str_("SEEN#r#k")),
            ("sk", str_("#META")),
            ("ver", num("1")),
        ],
    );
    let e = s.observe("r", "k", "v", 0).unwrap_err().to_string();
    assert!(
        e.contains("pk=`SEEN#r#k`") && e.contains("is missing"),
        "{e}"
    );
    // A fact whose end is text.
    put_item(
        &moto,
        "state",
        &[
            ("pk", str_("FACT#r#k")),
            ("sk", str_("#FACT")),
            ("at_ms", num("1")),
            ("data", str_("d")),
            ("until_ms", str_("later")),
        ],
    );
    let e = s.recall("r", "k", 0).unwrap_err().to_string();
    assert!(
        e.contains("pk=`FACT#r#k`") && e.contains("`until_ms`"),
        "{e}"
    );
    // A scope that would be confused with another's key is refused, not stored.
    let e = s.observe("r#k", "x", "v", 0).unwrap_err().to_string();
    assert!(e.contains("`r#k`"), "{e}");
}

/// An alert id whose TTL has passed counts as gone even before DynamoDB deletes it.
#[test]
fn an_expired_alert_id_is_reported_again() {
    let Some(moto) = Moto::start(&[]) else { return };
    let mut s = new_table(&moto, "state");
    let str_ = |v: &str| AttributeValue::S(v.into());
    put_item(
        &moto,
        "state",
        &[
            ("pk", str_("ALERT#old")),
            ("sk", str_("#SEEN")),
            ("seen_ms", AttributeValue::N("0".into())),
            ("expires_at", AttributeValue::N("1".into())),
        ],
    );
    assert!(!s.alert_seen("old").unwrap(), "expired: reported again");
    assert!(s.alert_seen("old").unwrap(), "and remembered anew");
}
