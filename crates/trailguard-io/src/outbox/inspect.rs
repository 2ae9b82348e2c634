//! Reading the outbox for people: `trailguard alerts list`, `show`, and the counts
//! of a run's summary.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use super::queue::MessageKind;
use super::{DeliveryState, Outbox, OutboxError};

/// One delivery of an alert, as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryInfo {
    /// The sink's name (never a URL).
    pub sink: String,
    pub state: DeliveryState,
    pub attempts: u32,
    /// Pending: the next attempt is not before this.
    pub next_attempt_ms: i64,
    /// Pending: expires at this time.
    pub expires_ms: i64,
    pub last_error: Option<String>,
    pub last_attempt_ms: Option<i64>,
    pub delivered_ms: Option<i64>,
}

/// An alert (or a digest) in the outbox and its deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertEntry {
    pub kind: MessageKind,
    pub id: String,
    pub rule_id: String,
    pub severity: String,
    pub summary: String,
    /// When it was queued (wall clock).
    pub created_ms: i64,
    /// By sink name.
    pub deliveries: Vec<DeliveryInfo>,
}

/// One line of a delivery's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptLog {
    pub sink: String,
    pub at_ms: i64,
    /// `queued`, `delivered`, `retry`, `failed_permanent`, `expired` or `requeued`.
    pub outcome: String,
    /// The error of a failed attempt.
    pub detail: Option<String>,
}

/// Everything the outbox knows about one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertDetail {
    pub entry: AlertEntry,
    /// The alert as the alert contract's JSON, as it is sent.
    pub alert_json: String,
    /// Oldest first.
    pub history: Vec<AttemptLog>,
}

/// Which alerts [`Outbox::list`] gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only alerts with a delivery in this state (to `sink`, when given).
    pub state: Option<DeliveryState>,
    /// Only alerts with a delivery to this sink.
    pub sink: Option<String>,
    /// At most this many (the newest).
    pub limit: Option<usize>,
}

/// How many deliveries of one sink are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkCounts {
    pub pending: u64,
    pub delivered: u64,
    pub expired: u64,
    pub failed_permanent: u64,
}

impl SinkCounts {
    /// Not delivered: pending, expired or failed.
    pub fn undelivered(&self) -> u64 {
        self.pending + self.expired + self.failed_permanent
    }
}

impl Outbox {
    /// The alerts that pass `filter`, newest first, each given to `each` (so that a
    /// long list is never held in memory).
    pub fn list(
        &mut self,
        filter: &ListFilter,
        mut each: impl FnMut(AlertEntry),
    ) -> Result<(), OutboxError> {
        let err = self.err("cannot read the outbox");
        let limit = filter
            .limit
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, rule_id, severity, summary, created_ms, kind FROM outbox_alerts a \
                 WHERE (?1 IS NULL AND ?2 IS NULL) OR EXISTS (SELECT 1 FROM outbox_deliveries d \
                   WHERE d.alert_id = a.id AND (?1 IS NULL OR d.state = ?1) \
                   AND (?2 IS NULL OR d.sink = ?2)) \
                 ORDER BY created_ms DESC, id LIMIT ?3",
            )
            .map_err(&err)?;
        let mut rows = stmt
            .query(params![
                filter.state.map(DeliveryState::as_str),
                filter.sink,
                limit
            ])
            .map_err(&err)?;
        while let Some(r) = rows.next().map_err(&err)? {
            let id: String = r.get(0).map_err(&err)?;
            let deliveries = deliveries_of(&self.conn, &id).map_err(&err)?;
            each(AlertEntry {
                kind: MessageKind::parse(&r.get::<_, String>(5).map_err(&err)?),
                rule_id: r.get(1).map_err(&err)?,
                severity: r.get(2).map_err(&err)?,
                summary: r.get(3).map_err(&err)?,
                created_ms: r.get(4).map_err(&err)?,
                id,
                deliveries,
            });
        }
        Ok(())
    }

    /// The full id of the one alert whose id starts with `prefix` (case-insensitive).
    pub fn resolve(&mut self, prefix: &str) -> Result<String, OutboxError> {
        let p = prefix.trim().to_ascii_lowercase();
        let not_found = || OutboxError::NotFound {
            location: self.location.clone(),
            id: prefix.chars().take(80).collect(),
        };
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(not_found());
        }
        let err = self.err("cannot read the outbox");
        // Alert ids are lowercase hex: every id starting with `p` sorts in [p, p~).
        let ids: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT id FROM outbox_alerts WHERE id >= ?1 AND id < ?1 || '~' ORDER BY id LIMIT 2",
            )
            .and_then(|mut s| {
                s.query_map([&p], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(&err)?;
        match ids.len() {
            0 => Err(not_found()),
            1 => Ok(ids.into_iter().next().unwrap_or_default()),
            _ => {
                let matches: i64 = self
                    .conn
                    .query_row(
                        "SELECT count(*) FROM outbox_alerts WHERE id >= ?1 AND id < ?1 || '~'",
                        [&p],
                        |r| r.get(0),
                    )
                    .map_err(&err)?;
                Err(OutboxError::Ambiguous {
                    location: self.location.clone(),
                    prefix: p,
                    matches: matches as usize,
                })
            }
        }
    }

    /// The alert `id` (a full id, see [`Outbox::resolve`]), its deliveries and their
    /// history.
    pub fn show(&mut self, id: &str) -> Result<AlertDetail, OutboxError> {
        let err = self.err("cannot read the outbox");
        let row: Option<(String, String, String, String, i64, String)> = self
            .conn
            .query_row(
                "SELECT json, rule_id, severity, summary, created_ms, kind FROM outbox_alerts \
                 WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()
            .map_err(&err)?;
        let Some((json, rule_id, severity, summary, created_ms, kind)) = row else {
            return Err(OutboxError::NotFound {
                location: self.location.clone(),
                id: id.to_owned(),
            });
        };
        let deliveries = deliveries_of(&self.conn, id).map_err(&err)?;
        let history = self
            .conn
            .prepare_cached(
                "SELECT sink, at_ms, outcome, detail FROM outbox_attempts WHERE alert_id = ?1 \
                 ORDER BY at_ms, rowid",
            )
            .and_then(|mut s| {
                s.query_map([id], |r| {
                    Ok(AttemptLog {
                        sink: r.get(0)?,
                        at_ms: r.get(1)?,
                        outcome: r.get(2)?,
                        detail: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()
            })
            .map_err(&err)?;
        Ok(AlertDetail {
            entry: AlertEntry {
                kind: MessageKind::parse(&kind),
                id: id.to_owned(),
                rule_id,
                severity,
                summary,
                created_ms,
                deliveries,
            },
            alert_json: json,
            history,
        })
    }

    /// Deliveries by sink and state, over the whole outbox.
    pub fn counts(&mut self) -> Result<BTreeMap<String, SinkCounts>, OutboxError> {
        let err = self.err("cannot read the outbox");
        let mut out: BTreeMap<String, SinkCounts> = BTreeMap::new();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT sink, state, count(*) FROM outbox_deliveries GROUP BY sink, state",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(&err)?;
        for row in rows {
            let (sink, state, n) = row.map_err(&err)?;
            let c = out.entry(sink).or_default();
            let n = n.max(0) as u64;
            match DeliveryState::parse(&state) {
                Some(DeliveryState::Pending) => c.pending += n,
                Some(DeliveryState::Delivered) => c.delivered += n,
                Some(DeliveryState::Expired) => c.expired += n,
                Some(DeliveryState::FailedPermanent) | None => c.failed_permanent += n,
            }
        }
        Ok(out)
    }

    /// How many alerts the outbox holds.
    pub fn alert_count(&mut self) -> Result<u64, OutboxError> {
        self.conn
            .query_row("SELECT count(*) FROM outbox_alerts", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n.max(0) as u64)
            .map_err(self.err("cannot read the outbox"))
    }
}

fn deliveries_of(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<Vec<DeliveryInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT sink, state, attempts, next_attempt_ms, expires_ms, last_error, \
         last_attempt_ms, delivered_ms FROM outbox_deliveries WHERE alert_id = ?1 ORDER BY sink",
    )?;
    let rows = stmt.query_map([id], |r| {
        let state: String = r.get(1)?;
        Ok(DeliveryInfo {
            sink: r.get(0)?,
            state: DeliveryState::parse(&state).unwrap_or(DeliveryState::FailedPermanent),
            attempts: r.get(2)?,
            next_attempt_ms: r.get(3)?,
            expires_ms: r.get(4)?,
            last_error: r.get(5)?,
            last_attempt_ms: r.get(6)?,
            delivered_ms: r.get(7)?,
        })
    })?;
    rows.collect()
}
