//! [`MemoryStore`]: the state of one run, in memory.
//!
//! Memory per tracked key (documented bound): first-seen keeps each distinct value once
//! per key, capped at [`MAX_VALUES_PER_KEY`] (beyond it the oldest-seen values are
//! forgotten, so a key spraying values cannot grow memory without bound); a window
//! keeps the timestamps (and items) of the events inside it, capped at
//! [`MAX_WINDOW_EVENTS`]; a remembered fact is one small string until it expires.

use std::collections::{HashMap, VecDeque};

use super::{Remembered, Sighting, Store, StoreError, WindowCount};

/// Values remembered per key for first-seen rules.
pub const MAX_VALUES_PER_KEY: usize = 1024;
/// Events kept per window; counts beyond it saturate (the threshold is long crossed).
pub const MAX_WINDOW_EVENTS: usize = 10_000;

/// (scope, key)
type Key = (String, String);
/// Event times (and items) inside one window, oldest first.
type Window = VecDeque<(i64, Option<String>)>;

#[derive(Debug, Default)]
pub struct MemoryStore {
    seen: HashMap<Key, SeenValues>,
    windows: HashMap<Key, Window>,
    facts: HashMap<Key, (Remembered, i64)>,
    alerts: std::collections::HashSet<String>,
}

#[derive(Debug)]
struct SeenValues {
    since_ms: i64,
    /// In the order first seen, for eviction.
    order: VecDeque<String>,
    values: std::collections::HashSet<String>,
}

fn k(scope: &str, key: &str) -> Key {
    (scope.to_owned(), key.to_owned())
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl Store for MemoryStore {
    fn observe(
        &mut self,
        scope: &str,
        key: &str,
        value: &str,
        at_ms: i64,
    ) -> Result<Sighting, StoreError> {
        let entry = self
            .seen
            .entry(k(scope, key))
            .or_insert_with(|| SeenValues {
                since_ms: at_ms,
                order: VecDeque::new(),
                values: Default::default(),
            });
        entry.since_ms = entry.since_ms.min(at_ms);
        let new_value = !entry.values.contains(value);
        if new_value {
            if entry.order.len() >= MAX_VALUES_PER_KEY {
                if let Some(old) = entry.order.pop_front() {
                    entry.values.remove(&old);
                }
            }
            entry.values.insert(value.to_owned());
            entry.order.push_back(value.to_owned());
        }
        Ok(Sighting {
            new_value,
            key_since_ms: entry.since_ms,
        })
    }

    fn window_add(
        &mut self,
        scope: &str,
        key: &str,
        at_ms: i64,
        item: Option<&str>,
        window_ms: i64,
    ) -> Result<WindowCount, StoreError> {
        let events = self.windows.entry(k(scope, key)).or_default();
        while events.front().is_some_and(|(t, _)| *t <= at_ms - window_ms) {
            events.pop_front();
        }
        if events.len() >= MAX_WINDOW_EVENTS {
            events.pop_front();
        }
        events.push_back((at_ms, item.map(str::to_owned)));
        let mut distinct: Vec<&str> = events.iter().filter_map(|(_, i)| i.as_deref()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        Ok(WindowCount {
            events: events.len() as u64,
            distinct: distinct.len() as u64,
        })
    }

    fn remember(
        &mut self,
        scope: &str,
        key: &str,
        fact: Remembered,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        let expires = fact.at_ms.saturating_add(ttl_ms);
        self.facts.insert(k(scope, key), (fact, expires));
        Ok(())
    }

    fn recall(
        &mut self,
        scope: &str,
        key: &str,
        now_ms: i64,
    ) -> Result<Option<Remembered>, StoreError> {
        Ok(self
            .facts
            .get(&k(scope, key))
            .filter(|(_, expires)| now_ms <= *expires)
            .map(|(f, _)| f.clone()))
    }

    fn alert_seen(&mut self, alert_id: &str) -> Result<bool, StoreError> {
        Ok(!self.alerts.insert(alert_id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_seen_values_per_key() {
        let mut s = MemoryStore::new();
        let a = s.observe("r", "AKIA1", "1.1.1.1", 100).unwrap();
        assert!(a.new_value && a.key_since_ms == 100);
        assert!(!s.observe("r", "AKIA1", "1.1.1.1", 200).unwrap().new_value);
        let b = s.observe("r", "AKIA1", "2.2.2.2", 300).unwrap();
        assert!(b.new_value && b.key_since_ms == 100);
        assert!(s.observe("r", "AKIA2", "1.1.1.1", 300).unwrap().new_value);
        assert!(
            s.observe("other", "AKIA1", "1.1.1.1", 300)
                .unwrap()
                .new_value
        );
    }

    #[test]
    fn values_per_key_are_bounded() {
        let mut s = MemoryStore::new();
        for i in 0..(MAX_VALUES_PER_KEY + 10) {
            s.observe("r", "k", &i.to_string(), i as i64).unwrap();
        }
        let kept = &s.seen[&k("r", "k")];
        assert_eq!(kept.values.len(), MAX_VALUES_PER_KEY);
        assert!(
            s.observe("r", "k", "0", 99_999).unwrap().new_value,
            "evicted"
        );
    }

    #[test]
    fn windows_slide() {
        let mut s = MemoryStore::new();
        let w = 1000;
        assert_eq!(s.window_add("r", "k", 0, Some("a"), w).unwrap().events, 1);
        assert_eq!(
            s.window_add("r", "k", 500, Some("a"), w).unwrap().distinct,
            1
        );
        let c = s.window_add("r", "k", 900, Some("b"), w).unwrap();
        assert_eq!((c.events, c.distinct), (3, 2));
        let c = s.window_add("r", "k", 1600, Some("c"), w).unwrap();
        assert_eq!((c.events, c.distinct), (2, 2), "0 and 500 left the window");
    }

    #[test]
    fn facts_expire_and_alerts_dedup() {
        let mut s = MemoryStore::new();
        let fact = Remembered {
            at_ms: 10,
            data: "198.51.100.7".into(),
        };
        s.remember("seq", "AKIANEW", fact.clone(), 100).unwrap();
        assert_eq!(s.recall("seq", "AKIANEW", 50).unwrap(), Some(fact));
        assert_eq!(s.recall("seq", "AKIANEW", 111).unwrap(), None);
        assert!(!s.alert_seen("a1").unwrap());
        assert!(s.alert_seen("a1").unwrap());
    }
}
