//! Behaviour tests shared by every [`Store`] backend (feature `testing`, and this
//! crate's own tests): written once, run against [`MemoryStore`](crate::state::MemoryStore),
//! the SQLite store, and the DynamoDB store to come.
//!
//! - [`store_conformance`]: what any store must answer, on one store (each check uses
//!   its own scope, so the checks also show that scopes and keys are kept apart).
//! - [`store_persistence`]: for stores that outlive the process: what one instance
//!   committed, the next one opened on the same state knows.
//!
//! They panic (with the check's name) on the first difference, as tests do.

use crate::state::{
    Remembered, Store, WindowCount, MAX_STORED_BYTES, MAX_VALUES_PER_KEY, MAX_WINDOW_EVENTS,
};

/// Runs every behaviour check on `store`, inside one [`Store::begin`] ..
/// [`Store::commit`] unit. `store` should be new (empty).
pub fn store_conformance(store: &mut dyn Store) {
    store.begin().expect("begin");
    first_seen_values_per_key(store);
    first_seen_key_since_is_the_earliest(store);
    first_seen_values_per_key_are_bounded(store);
    long_keys_and_values_compare_whole(store);
    windows_slide(store);
    windows_count_distinct_items(store);
    windows_are_per_key(store);
    windows_are_bounded(store);
    facts_expire(store);
    facts_are_replaced_and_per_key(store);
    expired_facts_do_not_hide_live_ones(store);
    alerts_dedup(store);
    store.commit().expect("commit");
    // A second unit on the same store sees the first one's state.
    store.begin().expect("begin again");
    assert!(
        !store
            .observe("c-fs", "AKIA1", "1.1.1.1", 10_000)
            .unwrap()
            .new_value,
        "after commit: a value seen in the first unit is known"
    );
    assert!(
        store.alert_seen("c-alert-1").unwrap(),
        "after commit: alert known"
    );
    store.commit().expect("commit again");
    // `commit` without `begin` does nothing, and fails not.
    store.commit().expect("commit without begin");
}

fn first_seen_values_per_key(s: &mut dyn Store) {
    let a = s.observe("c-fs", "AKIA1", "1.1.1.1", 100).unwrap();
    assert!(a.new_value, "first value of a key is new");
    assert_eq!(
        a.key_since_ms, 100,
        "a new key is known since its first sighting"
    );
    let again = s.observe("c-fs", "AKIA1", "1.1.1.1", 200).unwrap();
    assert!(!again.new_value, "a value seen before is not new");
    assert_eq!(again.key_since_ms, 100);
    let b = s.observe("c-fs", "AKIA1", "2.2.2.2", 300).unwrap();
    assert!(
        b.new_value && b.key_since_ms == 100,
        "another value of a known key"
    );
    let other_key = s.observe("c-fs", "AKIA2", "1.1.1.1", 300).unwrap();
    assert!(other_key.new_value, "values are per key");
    assert_eq!(other_key.key_since_ms, 300);
    let other_scope = s.observe("c-fs-other", "AKIA1", "1.1.1.1", 300).unwrap();
    assert!(other_scope.new_value, "values are per scope (rule)");
    assert_eq!(other_scope.key_since_ms, 300, "keys are per scope");
    // Case matters: values are compared exactly.
    assert!(
        s.observe("c-fs", "akia1", "1.1.1.1", 400)
            .unwrap()
            .new_value
    );
    assert!(
        s.observe("c-fs", "AKIA1", "1.1.1.1 ", 400)
            .unwrap()
            .new_value
    );
    // Empty strings are values like others.
    assert!(s.observe("c-fs", "AKIA1", "", 500).unwrap().new_value);
    assert!(!s.observe("c-fs", "AKIA1", "", 600).unwrap().new_value);
}

fn first_seen_key_since_is_the_earliest(s: &mut dyn Store) {
    s.observe("c-since", "k", "a", 1_000).unwrap();
    // A sighting older than the key's first one (a late file) moves `since` back.
    let early = s.observe("c-since", "k", "b", 400).unwrap();
    assert!(early.new_value);
    assert_eq!(
        early.key_since_ms, 400,
        "key_since is the earliest sighting"
    );
    let later = s.observe("c-since", "k", "a", 2_000).unwrap();
    assert_eq!(later.key_since_ms, 400, "and stays so");
    // Negative times (before 1970) are times like others.
    let old = s.observe("c-since", "old", "x", -5).unwrap();
    assert_eq!(old.key_since_ms, -5);
}

fn first_seen_values_per_key_are_bounded(s: &mut dyn Store) {
    let extra = 10;
    for i in 0..(MAX_VALUES_PER_KEY + extra) {
        let seen = s
            .observe("c-bound", "k", &format!("v{i}"), i as i64)
            .unwrap();
        assert!(seen.new_value, "v{i} is new");
    }
    // The newest MAX_VALUES_PER_KEY are remembered ...
    for i in extra..(MAX_VALUES_PER_KEY + extra) {
        let seen = s.observe("c-bound", "k", &format!("v{i}"), 99_999).unwrap();
        assert!(!seen.new_value, "v{i} is still remembered");
    }
    // ... and the oldest first seen were forgotten.
    for i in 0..extra {
        let seen = s.observe("c-bound", "k", &format!("v{i}"), 99_999).unwrap();
        assert!(seen.new_value, "v{i} was evicted");
        assert_eq!(seen.key_since_ms, 0, "the key itself is not forgotten");
    }
    // Another key of the same scope is not touched by the eviction.
    s.observe("c-bound", "k2", "v0", 0).unwrap();
    assert!(!s.observe("c-bound", "k2", "v0", 1).unwrap().new_value);
}

fn long_keys_and_values_compare_whole(s: &mut dyn Store) {
    let long = "a".repeat(MAX_STORED_BYTES * 40);
    let long_b = format!("{}b", &long[..long.len() - 1]);
    assert!(s.observe("c-long", &long, &long, 1).unwrap().new_value);
    assert!(!s.observe("c-long", &long, &long, 2).unwrap().new_value);
    assert!(
        s.observe("c-long", &long, &long_b, 3).unwrap().new_value,
        "long values differing in their last byte differ"
    );
    assert!(
        s.observe("c-long", &long_b, &long, 3).unwrap().new_value,
        "long keys differing in their last byte differ"
    );
    // A value at the limit and one just over it are kept apart from their hashes.
    let at_limit = "x".repeat(MAX_STORED_BYTES);
    let over = "x".repeat(MAX_STORED_BYTES + 1);
    assert!(s.observe("c-long", "k", &at_limit, 1).unwrap().new_value);
    assert!(s.observe("c-long", "k", &over, 1).unwrap().new_value);
    assert!(!s.observe("c-long", "k", &at_limit, 2).unwrap().new_value);
    assert!(!s.observe("c-long", "k", &over, 2).unwrap().new_value);
    // Non-ASCII text is kept as it is.
    assert!(s.observe("c-long", "k", "café 🚀", 1).unwrap().new_value);
    assert!(!s.observe("c-long", "k", "café 🚀", 2).unwrap().new_value);
    // Long items count as distinct by their whole text.
    let w = 1_000;
    s.window_add("c-long", &long, 0, Some(&long), w).unwrap();
    s.window_add("c-long", &long, 1, Some(&long), w).unwrap();
    let c = s.window_add("c-long", &long, 2, Some(&long_b), w).unwrap();
    assert_eq!((c.events, c.distinct), (3, 2), "long items");
    // Long alert ids too.
    assert!(!s.alert_seen(&long).unwrap());
    assert!(!s.alert_seen(&long_b).unwrap());
    assert!(s.alert_seen(&long).unwrap());
}

fn count(events: u64, distinct: u64) -> WindowCount {
    WindowCount { events, distinct }
}

fn windows_slide(s: &mut dyn Store) {
    let w = 1000;
    assert_eq!(
        s.window_add("c-win", "k", 0, Some("a"), w).unwrap(),
        count(1, 1)
    );
    assert_eq!(
        s.window_add("c-win", "k", 500, Some("a"), w).unwrap(),
        count(2, 1)
    );
    assert_eq!(
        s.window_add("c-win", "k", 900, Some("b"), w).unwrap(),
        count(3, 2)
    );
    // An event exactly one window old has left it (`t <= at - window`).
    assert_eq!(
        s.window_add("c-win", "k", 1000, Some("b"), w).unwrap(),
        count(3, 2),
        "0 left the window at 1000"
    );
    assert_eq!(
        s.window_add("c-win", "k", 1600, Some("c"), w).unwrap(),
        count(3, 2),
        "500 left; 900, 1000 and 1600 remain"
    );
    assert_eq!(
        s.window_add("c-win", "k", 10_000, Some("c"), w).unwrap(),
        count(1, 1),
        "everything older left"
    );
    // Events at the same instant all count.
    for _ in 0..4 {
        s.window_add("c-win", "same", 50, None, w).unwrap();
    }
    assert_eq!(
        s.window_add("c-win", "same", 50, None, w).unwrap().events,
        5
    );
}

fn windows_count_distinct_items(s: &mut dyn Store) {
    let w = 10_000;
    // Without items, distinct stays 0.
    assert_eq!(
        s.window_add("c-dist", "plain", 1, None, w).unwrap(),
        count(1, 0)
    );
    assert_eq!(
        s.window_add("c-dist", "plain", 2, None, w).unwrap(),
        count(2, 0)
    );
    let mut last = count(0, 0);
    for (i, item) in [
        "ListUsers",
        "ListRoles",
        "ListUsers",
        "GetUser",
        "ListRoles",
    ]
    .iter()
    .enumerate()
    {
        last = s
            .window_add("c-dist", "k", i as i64, Some(item), w)
            .unwrap();
    }
    assert_eq!(last, count(5, 3));
    // An item leaves the distinct count only when its last event leaves the window.
    let c = s.window_add("c-dist", "k", w + 2, Some("x"), w).unwrap();
    assert_eq!(c, count(3, 3), "0,1,2 left; GetUser, ListRoles, x remain");
    let c = s.window_add("c-dist", "k", w + 4, Some("x"), w).unwrap();
    assert_eq!(c, count(2, 1), "3 and 4 left too; only x remains");
}

fn windows_are_per_key(s: &mut dyn Store) {
    let w = 1000;
    s.window_add("c-wkey", "a", 0, Some("i"), w).unwrap();
    s.window_add("c-wkey", "a", 1, Some("j"), w).unwrap();
    assert_eq!(
        s.window_add("c-wkey", "b", 2, Some("i"), w).unwrap(),
        count(1, 1)
    );
    assert_eq!(
        s.window_add("c-wkey-other", "a", 3, Some("i"), w).unwrap(),
        count(1, 1),
        "windows are per scope"
    );
    assert_eq!(
        s.window_add("c-wkey", "a", 4, Some("i"), w).unwrap(),
        count(3, 2)
    );
}

fn windows_are_bounded(s: &mut dyn Store) {
    let w = i64::MAX / 4;
    s.window_add("c-wcap", "k", 0, Some("first"), w).unwrap();
    let mut last = count(0, 0);
    for i in 1..(MAX_WINDOW_EVENTS as i64 + 5) {
        let item = if i % 2 == 0 { "even" } else { "odd" };
        last = s.window_add("c-wcap", "k", i, Some(item), w).unwrap();
    }
    assert_eq!(
        last,
        count(MAX_WINDOW_EVENTS as u64, 2),
        "capped, the oldest dropped first (and its item with it)"
    );
}

fn fact(at_ms: i64, data: &str) -> Remembered {
    Remembered {
        at_ms,
        data: data.to_owned(),
    }
}

fn facts_expire(s: &mut dyn Store) {
    s.remember("c-seq", "AKIANEW", fact(10, "198.51.100.7"), 100)
        .unwrap();
    assert_eq!(
        s.recall("c-seq", "AKIANEW", 10).unwrap(),
        Some(fact(10, "198.51.100.7"))
    );
    assert_eq!(
        s.recall("c-seq", "AKIANEW", 50).unwrap(),
        Some(fact(10, "198.51.100.7"))
    );
    assert_eq!(
        s.recall("c-seq", "AKIANEW", 110).unwrap(),
        Some(fact(10, "198.51.100.7")),
        "alive at at_ms + ttl"
    );
    assert_eq!(
        s.recall("c-seq", "AKIANEW", 111).unwrap(),
        None,
        "expired after"
    );
    assert_eq!(
        s.recall("c-seq", "AKIAOTHER", 50).unwrap(),
        None,
        "unknown key"
    );
    assert_eq!(
        s.recall("c-seq-other", "AKIANEW", 50).unwrap(),
        None,
        "other scope"
    );
    // Empty data is data.
    s.remember("c-seq", "empty", fact(0, ""), 10).unwrap();
    assert_eq!(s.recall("c-seq", "empty", 5).unwrap(), Some(fact(0, "")));
}

fn facts_are_replaced_and_per_key(s: &mut dyn Store) {
    s.remember("c-seq2", "k", fact(0, "first"), 1_000).unwrap();
    s.remember("c-seq2", "k", fact(500, "second"), 1_000)
        .unwrap();
    assert_eq!(
        s.recall("c-seq2", "k", 1_200).unwrap(),
        Some(fact(500, "second")),
        "one fact per key: the last remembered"
    );
    s.remember("c-seq2", "k2", fact(600, "other"), 10).unwrap();
    assert_eq!(
        s.recall("c-seq2", "k", 600).unwrap(),
        Some(fact(500, "second"))
    );
    assert_eq!(
        s.recall("c-seq2", "k2", 600).unwrap(),
        Some(fact(600, "other"))
    );
    // A huge time to live does not overflow.
    s.remember("c-seq2", "forever", fact(i64::MAX - 5, "x"), i64::MAX)
        .unwrap();
    assert_eq!(
        s.recall("c-seq2", "forever", i64::MAX).unwrap(),
        Some(fact(i64::MAX - 5, "x"))
    );
}

fn expired_facts_do_not_hide_live_ones(s: &mut dyn Store) {
    // Stores may drop expired facts when writing; live ones must survive that.
    s.remember("c-seq3", "old", fact(0, "a"), 10).unwrap();
    s.remember("c-seq3", "live", fact(0, "b"), 1_000_000)
        .unwrap();
    s.remember("c-seq3", "new", fact(500_000, "c"), 10).unwrap();
    assert_eq!(s.recall("c-seq3", "old", 500_000).unwrap(), None);
    assert_eq!(
        s.recall("c-seq3", "live", 500_000).unwrap(),
        Some(fact(0, "b"))
    );
    assert_eq!(
        s.recall("c-seq3", "new", 500_005).unwrap(),
        Some(fact(500_000, "c"))
    );
}

fn alerts_dedup(s: &mut dyn Store) {
    assert!(!s.alert_seen("c-alert-1").unwrap(), "a new alert id");
    assert!(s.alert_seen("c-alert-1").unwrap(), "the same id again");
    assert!(s.alert_seen("c-alert-1").unwrap(), "and again");
    assert!(!s.alert_seen("c-alert-2").unwrap(), "ids are independent");
}

/// For stores that outlive the process: `open` gives a store over the same state each
/// time it is called (a new connection, a new process's view). What one instance
/// committed, the next one knows: first-seen values and when keys were first seen,
/// windows, facts and reported alert ids.
pub fn store_persistence(open: &mut dyn FnMut() -> Box<dyn Store>) {
    {
        let mut s = open();
        s.begin().expect("begin");
        s.observe("p-fs", "AKIA1", "203.0.113.24", 1_000).unwrap();
        s.window_add("p-win", "k", 1_000, Some("ListUsers"), 60_000)
            .unwrap();
        s.window_add("p-win", "k", 2_000, Some("ListRoles"), 60_000)
            .unwrap();
        s.remember("p-seq", "AKIANEW", fact(1_000, "198.51.100.7"), 86_400_000)
            .unwrap();
        assert!(!s.alert_seen("p-alert").unwrap());
        s.commit().expect("commit");
    }
    {
        let mut s = open();
        s.begin().expect("begin (second run)");
        let seen = s
            .observe("p-fs", "AKIA1", "203.0.113.24", 90_000_000)
            .unwrap();
        assert!(!seen.new_value, "a value learned in the first run is known");
        assert_eq!(
            seen.key_since_ms, 1_000,
            "and so is when the key was first seen"
        );
        let new = s
            .observe("p-fs", "AKIA1", "198.51.100.73", 90_000_000)
            .unwrap();
        assert!(new.new_value && new.key_since_ms == 1_000);
        assert_eq!(
            s.window_add("p-win", "k", 3_000, Some("ListUsers"), 60_000)
                .unwrap(),
            count(3, 2),
            "the window goes on from the first run"
        );
        assert_eq!(
            s.recall("p-seq", "AKIANEW", 5_000).unwrap(),
            Some(fact(1_000, "198.51.100.7")),
            "facts outlive the run"
        );
        assert!(
            s.alert_seen("p-alert").unwrap(),
            "alert ids outlive the run"
        );
        s.commit().expect("commit (second run)");
    }
    {
        let mut s = open();
        s.begin().expect("begin (third run)");
        assert!(
            !s.observe("p-fs", "AKIA1", "198.51.100.73", 90_000_001)
                .unwrap()
                .new_value,
            "what the second run learned is kept too"
        );
        s.commit().expect("commit (third run)");
    }
}

/// For stores shared by several processes (memory and DynamoDB; SQLite keeps the
/// default, which claims nothing): a send is claimed once, released on failure,
/// marked once delivered, taken over when its holder's lease ran out, and claims of
/// different sinks or alerts are independent.
pub fn delivery_claims_conformance(s: &mut dyn Store) {
    use crate::state::DeliveryClaim::{Claimed, Delivered, Sending};
    let long_id = "d".repeat(MAX_STORED_BYTES + 10);
    for id in ["d-alert-1", long_id.as_str()] {
        let t = 1_700_000_000_000;
        assert_eq!(
            s.claim_delivery(id, "discord", t, 30_000).unwrap(),
            Claimed,
            "a first claim"
        );
        assert_eq!(
            s.claim_delivery(id, "discord", t + 1, 30_000).unwrap(),
            Sending,
            "held by the first claim"
        );
        assert_eq!(
            s.claim_delivery(id, "slack", t + 1, 30_000).unwrap(),
            Claimed,
            "sinks are independent"
        );
        s.settle_delivery(id, "discord", false, t + 2).unwrap();
        assert_eq!(
            s.claim_delivery(id, "discord", t + 3, 30_000).unwrap(),
            Claimed,
            "a failed send is released"
        );
        s.settle_delivery(id, "discord", true, t + 4).unwrap();
        assert_eq!(
            s.claim_delivery(id, "discord", t + 5, 30_000).unwrap(),
            Delivered,
            "delivered once"
        );
        assert_eq!(
            s.claim_delivery(id, "discord", t + 90_000, 30_000).unwrap(),
            Delivered,
            "delivered stays delivered past the lease"
        );
        assert_eq!(
            s.claim_delivery(id, "slack", t + 40_000, 30_000).unwrap(),
            Claimed,
            "a lapsed lease is taken over"
        );
        s.settle_delivery(id, "slack", true, t + 40_001).unwrap();
        assert_eq!(
            s.claim_delivery(id, "slack", t + 40_002, 30_000).unwrap(),
            Delivered,
            "the taker settled it"
        );
    }
    assert_eq!(
        s.claim_delivery("d-alert-2", "discord", 1, 30_000).unwrap(),
        Claimed,
        "alerts are independent"
    );
}
