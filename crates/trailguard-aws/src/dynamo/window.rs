//! A sliding window kept whole in one item: the events as a packed list of
//! (time, item digest) pairs, oldest first.
//!
//! One item per window (instead of one per event, plus one per distinct item) makes
//! every `window_add` a single conditional write of a single item: no transaction, no
//! query, nothing that another writer can see half done, and a window that
//! disappears whole when its TTL passes. It stays far below DynamoDB's 400 KB item
//! limit: [`EVENT_BYTES`] per event and at most `MAX_WINDOW_EVENTS` events (160 KB).
//! The item's text is not kept, only a 64-bit digest of its stored form: distinct
//! counts need equality, nothing else, and two of 10,000 items collide with a
//! probability near 3 in 10^12.

use sha2::{Digest, Sha256};
use trailguard_core::state::{WindowCount, MAX_WINDOW_EVENTS};

/// 8 bytes of time (ms since the epoch, big-endian two's complement: negative
/// times are times like others) and 8 of item digest (0: the event has no item).
pub(super) const EVENT_BYTES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Event {
    pub at_ms: i64,
    pub item: u64,
}

/// The digest of an item in its stored form; never 0, which means "no item".
pub(super) fn item_digest(stored_item: &str) -> u64 {
    let d = Sha256::digest(stored_item.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first).max(1)
}

/// The events of a stored window, or why they cannot be read.
pub(super) fn decode(bytes: &[u8]) -> Result<Vec<Event>, String> {
    if !bytes.len().is_multiple_of(EVENT_BYTES) {
        return Err(format!(
            "{} bytes, not a whole number of {EVENT_BYTES}-byte events",
            bytes.len()
        ));
    }
    if bytes.len() / EVENT_BYTES > MAX_WINDOW_EVENTS {
        return Err(format!(
            "{} events, over the limit of {MAX_WINDOW_EVENTS}",
            bytes.len() / EVENT_BYTES
        ));
    }
    let events: Vec<Event> = bytes
        .chunks_exact(EVENT_BYTES)
        .map(|c| {
            let (at, item) = c.split_at(8);
            Event {
                at_ms: i64::from_be_bytes(at.try_into().expect("8 bytes")),
                item: u64::from_be_bytes(item.try_into().expect("8 bytes")),
            }
        })
        .collect();
    if events.windows(2).any(|w| w[0].at_ms > w[1].at_ms) {
        return Err("events out of time order".into());
    }
    Ok(events)
}

pub(super) fn encode(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * EVENT_BYTES);
    for e in events {
        out.extend_from_slice(&e.at_ms.to_be_bytes());
        out.extend_from_slice(&e.item.to_be_bytes());
    }
    out
}

/// The same steps as the other stores: what is at least one window older than `at_ms`
/// leaves, the oldest leaves to make room when full, and the event goes in after any
/// of the same time (a late event takes its place in time order, as in SQLite).
pub(super) fn add(events: &mut Vec<Event>, at_ms: i64, item: u64, window_ms: i64) -> WindowCount {
    let cutoff = at_ms.saturating_sub(window_ms);
    let expired = events.partition_point(|e| e.at_ms <= cutoff);
    events.drain(..expired);
    if events.len() >= MAX_WINDOW_EVENTS {
        let extra = events.len() + 1 - MAX_WINDOW_EVENTS;
        events.drain(..extra);
    }
    let at = events.partition_point(|e| e.at_ms <= at_ms);
    events.insert(at, Event { at_ms, item });
    count(events)
}

pub(super) fn count(events: &[Event]) -> WindowCount {
    let mut items: Vec<u64> = events.iter().map(|e| e.item).filter(|&i| i != 0).collect();
    items.sort_unstable();
    items.dedup();
    WindowCount {
        events: events.len() as u64,
        distinct: items.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_negative_and_extreme_times() {
        let events = vec![
            Event {
                at_ms: i64::MIN,
                item: 0,
            },
            Event { at_ms: -5, item: 7 },
            Event { at_ms: 0, item: 1 },
            Event {
                at_ms: i64::MAX,
                item: u64::MAX,
            },
        ];
        let bytes = encode(&events);
        assert_eq!(bytes.len(), 4 * EVENT_BYTES);
        assert_eq!(decode(&bytes).unwrap(), events);
    }

    #[test]
    fn malformed_bytes_are_refused_with_the_reason() {
        assert!(decode(&[0; 15]).unwrap_err().contains("15 bytes"));
        let backwards = encode(&[Event { at_ms: 5, item: 0 }, Event { at_ms: 4, item: 0 }]);
        assert!(decode(&backwards).unwrap_err().contains("order"));
        let too_many = vec![0u8; (MAX_WINDOW_EVENTS + 1) * EVENT_BYTES];
        assert!(decode(&too_many).unwrap_err().contains("over the limit"));
    }

    #[test]
    fn a_late_event_takes_its_place_in_time_order() {
        let mut ev = Vec::new();
        add(&mut ev, 100, 1, 1000);
        add(&mut ev, 300, 2, 1000);
        let c = add(&mut ev, 200, 3, 1000);
        assert_eq!((c.events, c.distinct), (3, 3));
        assert_eq!(
            ev.iter().map(|e| e.at_ms).collect::<Vec<_>>(),
            [100, 200, 300]
        );
        // 1200 - 1000 = 200: the events at 100 and 200 leave.
        let c = add(&mut ev, 1200, 2, 1000);
        assert_eq!((c.events, c.distinct), (2, 1));
    }

    #[test]
    fn digests_are_never_the_no_item_mark() {
        assert_ne!(item_digest(""), 0);
        assert_ne!(item_digest("ListUsers"), item_digest("ListRoles"));
    }
}
