//! The queue operations: enqueue, claim the next due delivery, record what happened,
//! expire, re-queue, purge.
//!
//! Each operation is one transaction. A send is bracketed by two: [`Outbox::claim`]
//! moves the delivery's `next_attempt_ms` past the send's longest duration (a lease,
//! so another process on the same file does not send it too), and
//! [`Outbox::record`] writes the outcome. A process that dies in between leaves the
//! delivery pending; it is due again when the lease ends.

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use trailguard_core::Alert;

use crate::digest::Digest;

use super::schema::{ensure_schema, location_of, sql_error};
use super::{rank, Outbox, OutboxError, OUTBOX_RETENTION_MS};
use crate::state::SqliteStore;

/// What an enqueue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enqueued {
    /// Alerts the outbox did not have.
    pub new_alerts: usize,
    /// Alerts it already had (same id): not queued again.
    pub known_alerts: usize,
    /// Deliveries (alert, sink) created.
    pub new_deliveries: usize,
}

/// What an outbox message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// One alert (the alert contract).
    Alert,
    /// A burst of alerts folded into one message for one sink ([`Digest`]).
    Digest,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Alert => "alert",
            MessageKind::Digest => "digest",
        }
    }

    pub(crate) fn parse(s: &str) -> MessageKind {
        if s == "digest" {
            MessageKind::Digest
        } else {
            MessageKind::Alert
        }
    }
}

/// The rank of a digest's deliveries: after every alert sent on its own (a digest
/// sums up a burst whose first alerts went out singly).
const DIGEST_RANK: i64 = -1;

/// A delivery taken for one attempt by [`Outbox::claim`].
#[derive(Debug, Clone)]
pub struct Claimed {
    pub kind: MessageKind,
    /// The alert's id, or the digest's.
    pub alert_id: String,
    pub rule_id: String,
    pub sink: String,
    /// Attempts made before this one.
    pub attempts: u32,
    pub expires_ms: i64,
    /// The alert, as the alert contract's JSON (or the digest's JSON).
    pub alert_json: String,
}

/// The result of one attempt, for [`Outbox::record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// A transient failure: try again at `next_attempt_ms`.
    Retry {
        next_attempt_ms: i64,
        error: String,
    },
    /// A permanent failure: never tried again unless re-queued.
    Failed {
        error: String,
    },
}

/// A delivery that ended undelivered (expired), for reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub alert_id: String,
    pub rule_id: String,
    pub sink: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// Which alerts [`Outbox::requeue`] takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every delivery to the given sinks that is not delivered.
    All,
    /// These alerts (full ids), to each given sink, whatever their state: a replay.
    Ids(Vec<String>),
}

/// Queues `alerts` in the outbox of the state file `store` holds, inside the store's
/// current unit of work (see [`trailguard_core::state::Store::begin`]): the alerts are
/// recorded as reported and queued for delivery by the same commit, so a run that
/// stops before it commits has done neither (the next run detects them again) and
/// one that commits has done both (the next run delivers what is pending).
pub fn enqueue_with_state(
    store: &mut SqliteStore,
    alerts: &[Alert],
    sinks_of: &dyn Fn(&Alert) -> Vec<String>,
    now_ms: i64,
    expiry: Duration,
) -> Result<Enqueued, OutboxError> {
    in_savepoint(store, "alerts not recorded", |c| {
        enqueue_rows(c, alerts, sinks_of, now_ms, expiry)
    })
}

/// Runs `f` on the store's connection inside a savepoint (so inside the store's unit
/// of work when one is open), the outbox's tables made first if missing.
fn in_savepoint(
    store: &mut SqliteStore,
    what: &'static str,
    f: impl FnOnce(&Connection) -> rusqlite::Result<Enqueued>,
) -> Result<Enqueued, OutboxError> {
    let location = location_of(Some(store.path()));
    let conn = store.connection();
    let err = |e| sql_error(&location, what, e);
    conn.execute_batch("SAVEPOINT outbox_enqueue")
        .map_err(err)?;
    let done = ensure_schema(conn, &location).and_then(|()| f(conn).map_err(err));
    match done {
        Ok(n) => {
            conn.execute_batch("RELEASE outbox_enqueue").map_err(err)?;
            Ok(n)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO outbox_enqueue; RELEASE outbox_enqueue");
            Err(e)
        }
    }
}

/// [`Outbox::enqueue_digests`] inside the store's unit of work, as
/// [`enqueue_with_state`] does for alerts.
pub fn enqueue_digests_with_state(
    store: &mut SqliteStore,
    digests: &[Digest],
    now_ms: i64,
    expiry: Duration,
) -> Result<Enqueued, OutboxError> {
    in_savepoint(store, "digests not recorded", |c| {
        enqueue_digest_rows(c, digests, now_ms, expiry)
    })
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn enqueue_rows(
    conn: &Connection,
    alerts: &[Alert],
    sinks_of: &dyn Fn(&Alert) -> Vec<String>,
    now_ms: i64,
    expiry: Duration,
) -> rusqlite::Result<Enqueued> {
    let expires = now_ms.saturating_add(millis(expiry));
    let mut n = Enqueued::default();
    for alert in alerts {
        let json = serde_json::to_string(alert)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let rank = rank(alert.rule.severity);
        let inserted = conn
            .prepare_cached(
                "INSERT INTO outbox_alerts (id, kind, json, severity, rule_id, summary, created_ms) \
                 VALUES (?1, 'alert', ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![
                alert.id,
                json,
                alert.rule.severity.as_str(),
                alert.rule.id,
                alert.summary,
                now_ms
            ])?;
        if inserted == 1 {
            n.new_alerts += 1;
        } else {
            n.known_alerts += 1;
        }
        let mut sinks = sinks_of(alert);
        sinks.sort();
        sinks.dedup();
        for sink in sinks {
            let created = conn
                .prepare_cached(
                    "INSERT INTO outbox_deliveries (alert_id, sink, state, rank, created_ms, \
                     attempts, next_attempt_ms, expires_ms) \
                     VALUES (?1, ?2, 'pending', ?3, ?4, 0, ?4, ?5) \
                     ON CONFLICT (alert_id, sink) DO NOTHING",
                )?
                .execute(params![alert.id, sink, rank, now_ms, expires])?;
            if created == 1 {
                n.new_deliveries += 1;
                log(conn, &alert.id, &sink, now_ms, "queued", None)?;
            }
        }
    }
    Ok(n)
}

fn enqueue_digest_rows(
    conn: &Connection,
    digests: &[Digest],
    now_ms: i64,
    expiry: Duration,
) -> rusqlite::Result<Enqueued> {
    let expires = now_ms.saturating_add(millis(expiry));
    let mut n = Enqueued::default();
    for d in digests {
        let json = serde_json::to_string(d)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let summary = format!("digest of {} alerts ({})", d.count, d.severity_summary());
        let inserted = conn
            .prepare_cached(
                "INSERT INTO outbox_alerts (id, kind, json, severity, rule_id, summary, created_ms) \
                 VALUES (?1, 'digest', ?2, ?3, 'digest', ?4, ?5) ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![
                d.id,
                json,
                d.top_severity().as_str(),
                summary,
                now_ms
            ])?;
        if inserted == 1 {
            n.new_alerts += 1;
        } else {
            n.known_alerts += 1;
        }
        let created = conn
            .prepare_cached(
                "INSERT INTO outbox_deliveries (alert_id, sink, state, rank, created_ms, \
                 attempts, next_attempt_ms, expires_ms) \
                 VALUES (?1, ?2, 'pending', ?3, ?4, 0, ?4, ?5) \
                 ON CONFLICT (alert_id, sink) DO NOTHING",
            )?
            .execute(params![d.id, d.sink, DIGEST_RANK, now_ms, expires])?;
        if created == 1 {
            n.new_deliveries += 1;
            log(conn, &d.id, &d.sink, now_ms, "queued", None)?;
        }
    }
    Ok(n)
}

fn log(
    conn: &Connection,
    alert_id: &str,
    sink: &str,
    at_ms: i64,
    outcome: &str,
    detail: Option<&str>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO outbox_attempts (alert_id, sink, at_ms, outcome, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![alert_id, sink, at_ms, outcome, detail])?;
    Ok(())
}

impl Outbox {
    /// Runs `f` in one `BEGIN IMMEDIATE` transaction (rolled back on error).
    fn write<T>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sql_error(&self.location, what, e))?;
        let value = f(&tx).map_err(|e| sql_error(&self.location, what, e))?;
        tx.commit()
            .map_err(|e| sql_error(&self.location, what, e))?;
        self.writes = self.writes.saturating_add(1);
        Ok(value)
    }

    /// Records `alerts` and one pending delivery for each sink `sinks_of` names, in
    /// one transaction, before anything is sent. Idempotent on the alert id: an alert
    /// already in the outbox is not queued again to a sink it already has (so running
    /// `detect` again on the same files sends nothing twice). Also purges what is
    /// past [`OUTBOX_RETENTION_MS`].
    pub fn enqueue(
        &mut self,
        alerts: &[Alert],
        sinks_of: &dyn Fn(&Alert) -> Vec<String>,
        now_ms: i64,
        expiry: Duration,
    ) -> Result<Enqueued, OutboxError> {
        self.write("alerts not recorded", |c| {
            let n = enqueue_rows(c, alerts, sinks_of, now_ms, expiry)?;
            purge_rows(c, now_ms)?;
            Ok(n)
        })
    }

    /// Records `digests`, each with one pending delivery to the sink it was folded
    /// for, in one transaction. Idempotent on the digest id (a hash of its alerts).
    pub fn enqueue_digests(
        &mut self,
        digests: &[Digest],
        now_ms: i64,
        expiry: Duration,
    ) -> Result<Enqueued, OutboxError> {
        self.write("digests not recorded", |c| {
            enqueue_digest_rows(c, digests, now_ms, expiry)
        })
    }

    /// Takes the most urgent due delivery of `sink` (highest severity, then oldest)
    /// for one attempt, and leases it until `lease_until_ms`.
    pub fn claim(
        &mut self,
        sink: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Option<Claimed>, OutboxError> {
        self.write("delivery not started", |c| {
            let row = c
                .prepare_cached(
                    "SELECT d.alert_id, a.rule_id, d.attempts, d.expires_ms, a.json, a.kind \
                     FROM outbox_deliveries d INDEXED BY outbox_due \
                     JOIN outbox_alerts a ON a.id = d.alert_id \
                     WHERE d.sink = ?1 AND d.state = 'pending' AND d.next_attempt_ms <= ?2 \
                     AND d.expires_ms > ?2 \
                     ORDER BY d.rank DESC, d.created_ms, d.alert_id LIMIT 1",
                )?
                .query_row(params![sink, now_ms], |r| {
                    Ok(Claimed {
                        kind: MessageKind::parse(&r.get::<_, String>(5)?),
                        alert_id: r.get(0)?,
                        rule_id: r.get(1)?,
                        sink: sink.to_owned(),
                        attempts: r.get(2)?,
                        expires_ms: r.get(3)?,
                        alert_json: r.get(4)?,
                    })
                })
                .optional()?;
            if let Some(claimed) = &row {
                c.prepare_cached(
                    "UPDATE outbox_deliveries SET next_attempt_ms = ?3 \
                     WHERE alert_id = ?1 AND sink = ?2",
                )?
                .execute(params![claimed.alert_id, sink, lease_until_ms])?;
            }
            Ok(row)
        })
    }

    /// Records the outcome of an attempt on a claimed delivery. A delivery that is no
    /// longer pending (re-queued or expired meanwhile) is left as it is.
    pub fn record(
        &mut self,
        alert_id: &str,
        sink: &str,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        let what = match outcome {
            Outcome::Delivered => {
                "delivery not recorded (the alert will be sent again: receivers deduplicate on its id)"
            }
            _ => "delivery attempt not recorded",
        };
        self.write(what, |c| {
            let (state, next, error, delivered, word) = match outcome {
                Outcome::Delivered => ("delivered", None, None, Some(now_ms), "delivered"),
                Outcome::Retry {
                    next_attempt_ms,
                    error,
                } => (
                    "pending",
                    Some(*next_attempt_ms),
                    Some(error.as_str()),
                    None,
                    "retry",
                ),
                Outcome::Failed { error } => (
                    "failed_permanent",
                    None,
                    Some(error.as_str()),
                    None,
                    "failed_permanent",
                ),
            };
            let changed = c
                .prepare_cached(
                    "UPDATE outbox_deliveries SET state = ?3, attempts = attempts + 1, \
                     next_attempt_ms = coalesce(?4, next_attempt_ms), last_error = ?5, \
                     last_attempt_ms = ?6, delivered_ms = ?7 \
                     WHERE alert_id = ?1 AND sink = ?2 AND state = 'pending'",
                )?
                .execute(params![
                    alert_id, sink, state, next, error, now_ms, delivered
                ])?;
            if changed == 1 {
                log(c, alert_id, sink, now_ms, word, error)?;
            }
            Ok(())
        })
    }

    /// Marks expired every pending delivery (of `sink`, or of every sink) whose
    /// expiry has passed, and returns them for reporting.
    pub fn expire(&mut self, sink: Option<&str>, now_ms: i64) -> Result<Vec<Ended>, OutboxError> {
        self.write("expiry not recorded", |c| {
            let mut ended = Vec::new();
            {
                // Two statements, so that the one for a sink seeks its index.
                let mut stmt = c.prepare_cached(if sink.is_some() {
                    "UPDATE outbox_deliveries SET state = 'expired' \
                     WHERE state = 'pending' AND sink = ?2 AND expires_ms <= ?1 \
                     RETURNING alert_id, sink, attempts, last_error, \
                     (SELECT rule_id FROM outbox_alerts WHERE id = alert_id)"
                } else {
                    "UPDATE outbox_deliveries SET state = 'expired' \
                     WHERE state = 'pending' AND expires_ms <= ?1 AND ?2 IS NULL \
                     RETURNING alert_id, sink, attempts, last_error, \
                     (SELECT rule_id FROM outbox_alerts WHERE id = alert_id)"
                })?;
                let mut rows = stmt.query(params![now_ms, sink])?;
                while let Some(r) = rows.next()? {
                    ended.push(Ended {
                        alert_id: r.get(0)?,
                        sink: r.get(1)?,
                        attempts: r.get(2)?,
                        last_error: r.get(3)?,
                        rule_id: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                    });
                }
            }
            for e in &ended {
                log(c, &e.alert_id, &e.sink, now_ms, "expired", None)?;
            }
            ended.sort_by(|a, b| (&a.sink, &a.alert_id).cmp(&(&b.sink, &b.alert_id)));
            Ok(ended)
        })
    }

    /// When `sink` next has something to do: its earliest pending attempt or
    /// expiry; `None` when it has nothing pending.
    pub fn next_wake(&mut self, sink: &str) -> Result<Option<i64>, OutboxError> {
        let next: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT min(next_attempt_ms) FROM outbox_deliveries \
                 WHERE sink = ?1 AND state = 'pending'",
            )
            .and_then(|mut s| s.query_row([sink], |r| r.get(0)))
            .map_err(self.err("cannot read the outbox"))?;
        let expiry = self.next_expiry(sink)?;
        Ok(match (next, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// The earliest expiry of `sink`'s pending deliveries.
    pub fn next_expiry(&mut self, sink: &str) -> Result<Option<i64>, OutboxError> {
        self.conn
            .prepare_cached(
                "SELECT min(expires_ms) FROM outbox_deliveries \
                 WHERE sink = ?1 AND state = 'pending'",
            )
            .and_then(|mut s| s.query_row([sink], |r| r.get(0)))
            .map_err(self.err("cannot read the outbox"))
    }

    /// Makes every pending delivery of `sink` that waits for a retry due now: after
    /// the sink has come back from an outage, the alerts that were its probes need
    /// not sit out their own backoff. Returns how many.
    pub fn pull_forward(&mut self, sink: &str, now_ms: i64) -> Result<usize, OutboxError> {
        self.write("cannot reschedule", |c| {
            c.prepare_cached(
                "UPDATE outbox_deliveries SET next_attempt_ms = ?2 \
                 WHERE sink = ?1 AND state = 'pending' AND next_attempt_ms > ?2 \
                 AND last_error IS NOT NULL",
            )?
            .execute(params![sink, now_ms])
        })
    }

    /// Queues deliveries again, due now, with a fresh expiry: every undelivered one
    /// to `sinks` ([`Selection::All`]), or the given alerts to each of `sinks`,
    /// creating the delivery for a sink the alert never had. Returns how many.
    pub fn requeue(
        &mut self,
        selection: &Selection,
        sinks: &[String],
        now_ms: i64,
        expiry: Duration,
    ) -> Result<usize, OutboxError> {
        let expires = now_ms.saturating_add(millis(expiry));
        self.write("nothing re-queued", |c| {
            let mut n = 0;
            let mut requeued = |alert_id: &str, sink: &str| -> rusqlite::Result<()> {
                n += 1;
                log(c, alert_id, sink, now_ms, "requeued", None)
            };
            match selection {
                Selection::All => {
                    let ids: Vec<(String, String)> = {
                        let mut stmt = c.prepare_cached(
                            "UPDATE outbox_deliveries SET state = 'pending', \
                             next_attempt_ms = ?2, expires_ms = ?3 \
                             WHERE sink = ?1 AND state != 'delivered' RETURNING alert_id, sink",
                        )?;
                        let mut out = Vec::new();
                        for sink in sinks {
                            let rows = stmt.query_map(params![sink, now_ms, expires], |r| {
                                Ok((r.get(0)?, r.get(1)?))
                            })?;
                            for row in rows {
                                out.push(row?);
                            }
                        }
                        out
                    };
                    for (id, sink) in ids {
                        requeued(&id, &sink)?;
                    }
                }
                Selection::Ids(ids) => {
                    for id in ids {
                        for sink in sinks {
                            let changed = c
                                .prepare_cached(
                                    "INSERT INTO outbox_deliveries (alert_id, sink, state, rank, \
                                     created_ms, attempts, next_attempt_ms, expires_ms) \
                                     SELECT id, ?2, 'pending', \
                                       CASE WHEN kind = 'digest' THEN -1 \
                                       WHEN severity = 'critical' THEN 4 WHEN severity = 'high' THEN 3 \
                                       WHEN severity = 'medium' THEN 2 WHEN severity = 'low' THEN 1 \
                                       ELSE 0 END, \
                                       created_ms, 0, ?3, ?4 FROM outbox_alerts WHERE id = ?1 \
                                     ON CONFLICT (alert_id, sink) DO UPDATE SET \
                                       state = 'pending', next_attempt_ms = ?3, expires_ms = ?4",
                                )?
                                .execute(params![id, sink, now_ms, expires])?;
                            if changed == 1 {
                                requeued(id, sink)?;
                            }
                        }
                    }
                }
            }
            Ok(n)
        })
    }

    /// Deletes alerts queued more than [`OUTBOX_RETENTION_MS`] before `now_ms` that
    /// have nothing pending, with their deliveries and history. Returns how many.
    pub fn purge(&mut self, now_ms: i64) -> Result<usize, OutboxError> {
        self.write("cannot purge old alerts", |c| purge_rows(c, now_ms))
    }
}

fn purge_rows(c: &Connection, now_ms: i64) -> rusqlite::Result<usize> {
    let horizon = now_ms.saturating_sub(OUTBOX_RETENTION_MS);
    let ids: Vec<String> = {
        let mut stmt = c.prepare_cached(
            "SELECT id FROM outbox_alerts a WHERE created_ms < ?1 AND NOT EXISTS \
             (SELECT 1 FROM outbox_deliveries d WHERE d.alert_id = a.id AND d.state = 'pending')",
        )?;
        let rows = stmt.query_map([horizon], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for id in &ids {
        for sql in [
            "DELETE FROM outbox_attempts WHERE alert_id = ?1",
            "DELETE FROM outbox_deliveries WHERE alert_id = ?1",
            "DELETE FROM outbox_alerts WHERE id = ?1",
        ] {
            c.prepare_cached(sql)?.execute([id])?;
        }
    }
    Ok(ids.len())
}
