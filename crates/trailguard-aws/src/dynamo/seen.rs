//! First-seen values, one item per value (`V#<value>`, looked up directly, so a known
//! value costs two small reads however many values the key has) and one per place in
//! the eviction order (`Q#<seq>`), counted in the key's `#META`.
//!
//! A new value changes up to five items (the counters, the value and its place, and
//! the oldest value and its place when the key is full), so it is one
//! `TransactWriteItems` conditioned on the `ver` read: it happens whole or not at all,
//! and of two writers adding the same value only one succeeds and reports it new.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use trailguard_core::state::{Sighting, StoreError, MAX_VALUES_PER_KEY};

use super::item::{q_sk, META};
use super::{n, s, Db, Try};
use crate::error::classify;

type Attrs = HashMap<String, AttributeValue>;

fn attrs(pairs: Vec<(&str, AttributeValue)>) -> Attrs {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn built<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Backend(format!("DynamoDB request not built: {e}")))
}

/// Transaction reasons that mean "try again from a fresh read".
const RETRYABLE: &[&str] = &[
    "None",
    "ConditionalCheckFailed",
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];

impl Db {
    fn key(&self, pk: &str, sk: &str) -> Attrs {
        attrs(vec![("pk", s(pk)), ("sk", s(sk))])
    }

    fn put(
        &self,
        pk: &str,
        sk: &str,
        fields: Attrs,
        new: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item = self.key(pk, sk);
        item.extend(fields);
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        if new {
            put = put.condition_expression("attribute_not_exists(pk)");
        }
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }

    fn delete(&self, pk: &str, sk: &str) -> Result<TransactWriteItem, StoreError> {
        let del = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(self.key(pk, sk)));
        Ok(TransactWriteItem::builder()
            .delete(built(del.build())?)
            .build())
    }

    /// The key's counters, if `ver` is still `ver`.
    fn update_meta(
        &self,
        pk: &str,
        ver: i64,
        since_ms: i64,
        n_values: i64,
        next_seq: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let up = Update::builder()
            .table_name(&self.table)
            .set_key(Some(self.key(pk, META)))
            .update_expression("SET #since = :since, #n = :n, #next = :next, #ver = :ver1")
            .condition_expression("#ver = :ver")
            .set_expression_attribute_names(Some(
                [
                    ("#since", "since_ms"),
                    ("#n", "n_values"),
                    ("#next", "next_seq"),
                    ("#ver", "ver"),
                ]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            ))
            .set_expression_attribute_values(Some(attrs(vec![
                (":since", n(since_ms)),
                (":n", n(n_values)),
                (":next", n(next_seq)),
                (":ver1", n(ver + 1)),
                (":ver", n(ver)),
            ])));
        Ok(TransactWriteItem::builder()
            .update(built(up.build())?)
            .build())
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Try<()>, StoreError> {
        let r = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let e = match r {
            Ok(_) => return Ok(Try::Done(())),
            Err(e) => e,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error()
        {
            let reasons: Vec<&str> = c
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None"))
                .collect();
            if reasons.iter().all(|r| RETRYABLE.contains(r)) {
                return Ok(Try::Conflict);
            }
            return Err(StoreError::Backend(format!(
                "DynamoDB table `{}`: dynamodb:TransactWriteItems cancelled: {}",
                self.table,
                reasons.join(", ")
            )));
        }
        let e = classify(e, "dynamodb:TransactWriteItems");
        if super::is_conflict(&e) || e.code() == Some("TransactionInProgressException") {
            return Ok(Try::Conflict);
        }
        Err(self.fail(e))
    }

    /// The first place in the eviction order and its value.
    async fn oldest(&self, pk: &str) -> Result<Option<(String, String)>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :q)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":q", s("Q#"))
            .consistent_read(true)
            .limit(1)
            .send()
            .await
            .map_err(|e| self.fail(classify(e, "dynamodb:Query")))?;
        let Some(attrs) = out.items().first() else {
            return Ok(None);
        };
        let sk = match attrs.get("sk") {
            Some(AttributeValue::S(sk)) => sk.clone(),
            _ => String::new(),
        };
        let it = super::Item::new(self.loc(pk, &sk), attrs.clone());
        let value = it.string("value")?.to_string();
        Ok(Some((sk, value)))
    }

    pub(super) async fn observe(
        &self,
        pk: &str,
        value: &str,
        at_ms: i64,
    ) -> Result<Sighting, StoreError> {
        let v_sk = format!("V#{value}");
        self.retrying("first seen", || async {
            let Some(meta) = self.get(pk, META).await? else {
                let ops = vec![
                    self.put(
                        pk,
                        META,
                        attrs(vec![
                            ("since_ms", n(at_ms)),
                            ("n_values", n(1)),
                            ("next_seq", n(1)),
                            ("ver", n(1)),
                        ]),
                        true,
                    )?,
                    self.put(pk, &v_sk, attrs(vec![("seq", n(0))]), true)?,
                    self.put(pk, &q_sk(0), attrs(vec![("value", s(value))]), false)?,
                ];
                return Ok(match self.transact(ops).await? {
                    Try::Done(()) => Try::Done(Sighting {
                        new_value: true,
                        key_since_ms: at_ms,
                    }),
                    Try::Conflict => Try::Conflict,
                });
            };
            let ver = meta.num("ver")?;
            let since = meta.num("since_ms")?;
            let n_values = meta.num("n_values")?;
            let next_seq = meta.num("next_seq")?;
            let key_since_ms = since.min(at_ms);
            if self.get(pk, &v_sk).await?.is_some() {
                if at_ms < since {
                    // A late file: the key was seen earlier than thought.
                    let up = self.update_meta(pk, ver, at_ms, n_values, next_seq)?;
                    if let Try::Conflict = self.transact(vec![up]).await? {
                        return Ok(Try::Conflict);
                    }
                }
                return Ok(Try::Done(Sighting {
                    new_value: false,
                    key_since_ms,
                }));
            }
            let mut ops = vec![
                self.put(pk, &v_sk, attrs(vec![("seq", n(next_seq))]), true)?,
                self.put(pk, &q_sk(next_seq), attrs(vec![("value", s(value))]), false)?,
            ];
            let mut kept = n_values + 1;
            if n_values >= MAX_VALUES_PER_KEY as i64 {
                if let Some((old_q, old_value)) = self.oldest(pk).await? {
                    ops.push(self.delete(pk, &old_q)?);
                    ops.push(self.delete(pk, &format!("V#{old_value}"))?);
                    kept = n_values;
                }
            }
            ops.push(self.update_meta(pk, ver, key_since_ms, kept, next_seq + 1)?);
            Ok(match self.transact(ops).await? {
                Try::Done(()) => Try::Done(Sighting {
                    new_value: true,
                    key_since_ms,
                }),
                Try::Conflict => Try::Conflict,
            })
        })
        .await
    }
}
