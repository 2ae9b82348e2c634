//! [`MemoryStore`]: the state of one run, in memory.
//!
//! Memory per tracked key (documented bound): first-seen keeps each distinct value once
//! per key, capped at [`MAX_VALUES_PER_KEY`] (beyond it the oldest-seen values are
//! forgotten, so a key spraying values cannot grow memory without bound); a window
//! keeps the timestamps (and items) of the events inside it, capped at
//! [`MAX_WINDOW_EVENTS`]; a remembered fact is one small string until it expires.
//! Keys, values and items are kept in their [`stored`] form (at most 256 bytes).
//! Everything is written through: [`Store::begin`] and [`Store::commit`] do nothing.

use std::collections::VecDeque;

use crate::{FastMap, FastSet};

use super::{
    stored, DeliveryClaim, Remembered, Sighting, Store, StoreError, WindowCount,
    MAX_VALUES_PER_KEY, MAX_WINDOW_EVENTS,
};

/// scope -> key -> state: looked up with borrowed strings, allocated only when new.
type Scoped<T> = FastMap<String, FastMap<String, T>>;

fn slot<'m, T>(
    map: &'m mut Scoped<T>,
    scope: &str,
    key: &str,
    new: impl FnOnce() -> T,
) -> &'m mut T {
    if !map.contains_key(scope) {
        map.insert(scope.to_owned(), FastMap::default());
    }
    let keys = map.get_mut(scope).expect("inserted above");
    let key = stored(key);
    if !keys.contains_key(key.as_ref()) {
        keys.insert(key.clone().into_owned(), new());
    }
    keys.get_mut(key.as_ref()).expect("inserted above")
}
/// One window: event times (and items) inside it, oldest first, and how many of
/// them carry each item (so that the distinct count costs nothing to keep).
#[derive(Debug, Default)]
struct Window {
    events: VecDeque<(i64, Option<String>)>,
    items: FastMap<String, usize>,
}

impl Window {
    fn pop_front(&mut self) {
        if let Some((_, Some(item))) = self.events.pop_front() {
            if let Some(n) = self.items.get_mut(&item) {
                *n -= 1;
                if *n == 0 {
                    self.items.remove(&item);
                }
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct MemoryStore {
    seen: Scoped<SeenValues>,
    windows: Scoped<Window>,
    facts: Scoped<(Remembered, i64)>,
    alerts: FastSet<String>,
    /// (alert id, sink) to "delivered", or "sending until" (ms).
    deliveries: FastMap<(String, String), Option<i64>>,
}

#[derive(Debug)]
struct SeenValues {
    since_ms: i64,
    /// In the order first seen, for eviction.
    order: VecDeque<String>,
    values: FastSet<String>,
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
        let entry = slot(&mut self.seen, scope, key, || SeenValues {
            since_ms: at_ms,
            order: VecDeque::new(),
            values: Default::default(),
        });
        entry.since_ms = entry.since_ms.min(at_ms);
        let value = stored(value);
        let value = value.as_ref();
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
        let w = slot(&mut self.windows, scope, key, Window::default);
        let cutoff = at_ms.saturating_sub(window_ms);
        while w.events.front().is_some_and(|(t, _)| *t <= cutoff) {
            w.pop_front();
        }
        if w.events.len() >= MAX_WINDOW_EVENTS {
            w.pop_front();
        }
        let item = item.map(|i| stored(i).into_owned());
        if let Some(i) = &item {
            match w.items.get_mut(i) {
                Some(n) => *n += 1,
                None => {
                    w.items.insert(i.clone(), 1);
                }
            }
        }
        w.events.push_back((at_ms, item));
        Ok(WindowCount {
            events: w.events.len() as u64,
            distinct: w.items.len() as u64,
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
        let held = slot(&mut self.facts, scope, key, || (Remembered::default(), 0));
        *held = (fact, expires);
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
            .get(scope)
            .and_then(|keys| keys.get(stored(key).as_ref()))
            .filter(|(_, expires)| now_ms <= *expires)
            .map(|(f, _)| f.clone()))
    }

    fn alert_seen(&mut self, alert_id: &str) -> Result<bool, StoreError> {
        Ok(!self.alerts.insert(stored(alert_id).into_owned()))
    }

    fn claim_delivery(
        &mut self,
        alert_id: &str,
        sink: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<DeliveryClaim, StoreError> {
        let key = (stored(alert_id).into_owned(), sink.to_owned());
        match self.deliveries.get(&key) {
            Some(None) => Ok(DeliveryClaim::Delivered),
            Some(Some(until)) if *until > now_ms => Ok(DeliveryClaim::Sending),
            _ => {
                self.deliveries
                    .insert(key, Some(now_ms.saturating_add(lease_ms)));
                Ok(DeliveryClaim::Claimed)
            }
        }
    }

    fn settle_delivery(
        &mut self,
        alert_id: &str,
        sink: &str,
        delivered: bool,
        _now_ms: i64,
    ) -> Result<(), StoreError> {
        let key = (stored(alert_id).into_owned(), sink.to_owned());
        if delivered {
            self.deliveries.insert(key, None);
        } else if matches!(self.deliveries.get(&key), Some(Some(_))) {
            self.deliveries.remove(&key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        crate::testing::store_conformance(&mut MemoryStore::new());
    }

    #[test]
    fn delivery_claims() {
        crate::testing::delivery_claims_conformance(&mut MemoryStore::new());
    }

    #[test]
    fn values_per_key_are_bounded_in_memory() {
        let mut s = MemoryStore::new();
        for i in 0..(MAX_VALUES_PER_KEY + 10) {
            s.observe("r", "k", &i.to_string(), i as i64).unwrap();
        }
        let kept = &s.seen["r"]["k"];
        assert_eq!(kept.values.len(), MAX_VALUES_PER_KEY);
        assert_eq!(kept.order.len(), MAX_VALUES_PER_KEY);
    }

    #[test]
    fn long_values_are_kept_hashed() {
        let mut s = MemoryStore::new();
        let long = "v".repeat(10_000);
        s.observe("r", &long, &long, 0).unwrap();
        let (key, kept) = s.seen["r"].iter().next().unwrap();
        assert_eq!(key.len(), 71);
        assert!(kept.values.iter().all(|v| v.len() == 71));
    }
}
