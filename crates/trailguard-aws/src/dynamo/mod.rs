//! [`DynamoStore`]: the rules' state in one DynamoDB table, shared by every Lambda
//! invocation (see "DynamoDB state table" in `docs/architecture.md`).
//!
//! Every change is a conditional write: the item's `ver` must still be the one read
//! (or the item must not exist yet), else another invocation got there first and the
//! operation starts again from a fresh read, a bounded number of times. So two
//! invocations judging the same events never lose a count and never both see a value,
//! or an alert, as new. Writes go straight through: `begin` and `commit` do nothing,
//! and what a failed run wrote stays (a retried run then sees its own first attempt,
//! as a second invocation would).
//!
//! The store never deletes whole keys itself: DynamoDB's TTL (attribute `expires_at`,
//! Unix seconds) removes windows, facts and alert ids, days late at worst, so every
//! reader also checks the times itself.

mod item;
mod seen;
mod window;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use trailguard_core::state::{
    stored, DeliveryClaim, Remembered, Sighting, Store, StoreError, WindowCount,
};

use crate::error::{classify, AwsError};
use crate::AwsOptions;
use item::{Item, Loc};

/// How long DynamoDB keeps a window or a fact after it stops mattering: a log file
/// that arrives late still finds the state one long run would have had.
const GRACE_MS: i64 = 86_400_000;
/// How long an alert id is remembered (wall clock), as in the SQLite store.
const ALERT_KEEP_S: i64 = 30 * 86_400;
/// The longest scope (rule id) accepted: with a 256-byte key, `pk` stays far below
/// DynamoDB's 2,048-byte limit for a partition key.
const MAX_SCOPE_BYTES: usize = 512;

/// Which table, and how hard to try.
#[derive(Debug, Clone)]
pub struct DynamoOptions {
    pub table: String,
    /// Attempts per request, first included, for what the SDK retries by itself
    /// (throttling, 5xx, timeouts, lost connections), with exponential backoff.
    pub max_attempts: u32,
    /// Fresh starts per operation when another writer changed the item in between.
    pub max_conflicts: u32,
}

impl DynamoOptions {
    pub fn new(table: impl Into<String>) -> DynamoOptions {
        DynamoOptions {
            table: table.into(),
            max_attempts: 5,
            max_conflicts: 25,
        }
    }
}

/// The `Store` of the Lambda (and of any CLI run given a table).
pub struct DynamoStore {
    runtime: crate::SharedRuntime,
    db: Db,
}

impl DynamoStore {
    /// Makes the client; calls nothing (a missing table shows at the first operation,
    /// named in the error), so that opening costs a cold start no round trip and the
    /// role needs no `dynamodb:DescribeTable`.
    pub fn open(aws: &AwsOptions, options: DynamoOptions) -> Result<DynamoStore, AwsError> {
        let runtime = crate::runtime()?;
        let config = crate::block_on(&runtime, crate::load_config(aws));
        let region = config.region().map(|r| r.to_string()).unwrap_or_default();
        let retry = RetryConfig::standard()
            .with_max_attempts(options.max_attempts.max(1))
            .with_initial_backoff(Duration::from_millis(50))
            .with_max_backoff(Duration::from_secs(2));
        let conf = aws_sdk_dynamodb::config::Builder::from(&config)
            .retry_config(retry)
            .build();
        Ok(DynamoStore {
            runtime,
            db: Db {
                client: Client::from_conf(conf),
                table: options.table,
                region,
                max_conflicts: options.max_conflicts.max(1),
                conflicts: AtomicU64::new(0),
            },
        })
    }

    /// Creates the table as the deployment template does (keys `pk`/`sk`, on demand,
    /// TTL on `expires_at`) and waits until it is active: for tests, and for users
    /// who run the CLI against a table of their own.
    pub fn create_table(&self) -> Result<(), AwsError> {
        crate::block_on(&self.runtime, self.db.create_table())
    }

    pub fn table(&self) -> &str {
        &self.db.table
    }

    /// How many times an operation started again because another writer changed
    /// the item first: contention, for the Lambda's logs and metrics.
    pub fn conflicts(&self) -> u64 {
        self.db.conflicts.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.db.table)
            .field("region", &self.db.region)
            .finish_non_exhaustive()
    }
}

/// One try of an operation: its answer, or "someone else wrote first".
enum Try<T> {
    Done(T),
    Conflict,
}

struct Db {
    client: Client,
    table: String,
    region: String,
    max_conflicts: u32,
    conflicts: AtomicU64,
}

/// The SDK's error codes that mean "the item changed since it was read".
fn is_conflict(e: &AwsError) -> bool {
    matches!(
        e.code(),
        Some("ConditionalCheckFailedException" | "TransactionConflictException")
    )
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// ms (event time) to the TTL's Unix seconds, rounded down, saturating.
fn ttl_s(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

impl Db {
    /// A store error that names the table (and says plainly when it is missing).
    fn fail(&self, e: AwsError) -> StoreError {
        if e.is_not_found() {
            return StoreError::Backend(format!(
                "DynamoDB table `{}` not found in region {} (create it with the \
                 deployment template, or check the name and region): {e}",
                self.table, self.region
            ));
        }
        StoreError::Backend(format!("DynamoDB table `{}`: {e}", self.table))
    }

    fn loc(&self, pk: &str, sk: &str) -> Loc {
        Loc {
            table: self.table.clone(),
            pk: pk.to_string(),
            sk: sk.to_string(),
        }
    }

    /// Runs `op` until it is done, starting again after each conflict with a short,
    /// growing, jittered pause; gives up after `max_conflicts` tries.
    async fn retrying<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Try<T>, StoreError>>,
    {
        for attempt in 0..self.max_conflicts {
            if let Try::Done(t) = op().await? {
                return Ok(t);
            }
            self.conflicts.fetch_add(1, Ordering::Relaxed);
            if attempt + 1 < self.max_conflicts {
                tokio::time::sleep(backoff(attempt)).await;
            }
        }
        Err(StoreError::Backend(format!(
            "DynamoDB table `{}`: {what}: the item was changed by other writers \
             {} times in a row; giving up",
            self.table, self.max_conflicts
        )))
    }

    /// A strongly consistent read of one item (`None`: absent).
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.fail(classify(e, "dynamodb:GetItem")))?;
        Ok(out.item.map(|attrs| Item::new(self.loc(pk, sk), attrs)))
    }

    /// Writes `attrs` under (`pk`, `sk`) if `ver` is still `expected` (`None`: the
    /// item must not exist); a conflict when it is not.
    async fn put_versioned(
        &self,
        pk: &str,
        sk: &str,
        expected: Option<i64>,
        mut attrs: HashMap<String, AttributeValue>,
    ) -> Result<Try<()>, StoreError> {
        attrs.insert("pk".into(), s(pk));
        attrs.insert("sk".into(), s(sk));
        attrs.insert("ver".into(), n(expected.unwrap_or(0) + 1));
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attrs));
        req = match expected {
            None => req.condition_expression("attribute_not_exists(pk)"),
            Some(v) => req
                .condition_expression("#ver = :ver")
                .expression_attribute_names("#ver", "ver")
                .expression_attribute_values(":ver", n(v)),
        };
        match req.send().await {
            Ok(_) => Ok(Try::Done(())),
            Err(e) => {
                let e = classify(e, "dynamodb:PutItem");
                if is_conflict(&e) {
                    Ok(Try::Conflict)
                } else {
                    Err(self.fail(e))
                }
            }
        }
    }

    async fn create_table(&self) -> Result<(), AwsError> {
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("name and type given")
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("name and type given")
        };
        let context = format!("table `{}`", self.table);
        self.client
            .create_table()
            .table_name(&self.table)
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("sk"))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(|e| classify(e, "dynamodb:CreateTable").about(&context))?;
        for _ in 0..120 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| classify(e, "dynamodb:DescribeTable").about(&context))?;
            let status = out.table().and_then(|t| t.table_status());
            if status.is_some_and(|s| s.as_str() == "ACTIVE") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name("expires_at")
            .enabled(true)
            .build()
            .expect("name and flag given");
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| classify(e, "dynamodb:UpdateTimeToLive").about(&context))?;
        Ok(())
    }

    async fn window_add(
        &self,
        pk: &str,
        at_ms: i64,
        item: Option<&str>,
        window_ms: i64,
    ) -> Result<WindowCount, StoreError> {
        let digest = item.map(window::item_digest).unwrap_or(0);
        self.retrying("window", || async {
            let held = self.get(pk, item::META).await?;
            let (expected, mut events) = match &held {
                None => (None, Vec::new()),
                Some(it) => (
                    Some(it.num("ver")?),
                    window::decode(it.bytes("ev")?).map_err(|m| it.malformed("ev", &m))?,
                ),
            };
            let count = window::add(&mut events, at_ms, digest, window_ms);
            let newest = events.last().map_or(at_ms, |e| e.at_ms);
            let expires = newest.saturating_add(window_ms).saturating_add(GRACE_MS);
            let attrs = HashMap::from([
                (
                    "ev".to_string(),
                    AttributeValue::B(Blob::new(window::encode(&events))),
                ),
                ("n_events".to_string(), n(count.events as i64)),
                ("n_distinct".to_string(), n(count.distinct as i64)),
                ("expires_at".to_string(), n(ttl_s(expires))),
            ]);
            Ok(
                match self.put_versioned(pk, item::META, expected, attrs).await? {
                    Try::Done(()) => Try::Done(count),
                    Try::Conflict => Try::Conflict,
                },
            )
        })
        .await
    }

    async fn remember(&self, pk: &str, fact: Remembered, ttl_ms: i64) -> Result<(), StoreError> {
        let until = fact.at_ms.saturating_add(ttl_ms);
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(pk))
            .item("sk", s(item::FACT))
            .item("at_ms", n(fact.at_ms))
            .item("data", s(fact.data))
            .item("until_ms", n(until))
            .item("expires_at", n(ttl_s(until.saturating_add(GRACE_MS))))
            .send()
            .await
            .map_err(|e| self.fail(classify(e, "dynamodb:PutItem")))?;
        Ok(())
    }

    async fn recall(&self, pk: &str, now_ms: i64) -> Result<Option<Remembered>, StoreError> {
        let Some(it) = self.get(pk, item::FACT).await? else {
            return Ok(None);
        };
        if now_ms > it.num("until_ms")? {
            return Ok(None);
        }
        Ok(Some(Remembered {
            at_ms: it.num("at_ms")?,
            data: it.string("data")?.to_string(),
        }))
    }

    /// One conditional put decides: the writer whose put succeeds is the one that
    /// reports the alert; every other (now or within 30 days) is told it was seen.
    async fn alert_seen(&self, pk: &str) -> Result<bool, StoreError> {
        let now = now_s();
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(pk))
            .item("sk", s(item::SEEN))
            .item("seen_ms", n(now.saturating_mul(1000)))
            .item("expires_at", n(now + ALERT_KEEP_S))
            // An id whose TTL passed but that DynamoDB has not deleted yet is gone.
            .condition_expression("attribute_not_exists(pk) OR #exp < :now")
            .expression_attribute_names("#exp", "expires_at")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match r {
            Ok(_) => Ok(false),
            Err(e) => {
                let e = classify(e, "dynamodb:PutItem");
                if is_conflict(&e) {
                    Ok(true)
                } else {
                    Err(self.fail(e))
                }
            }
        }
    }
}

impl Db {
    /// A conditional put takes the send (no item yet, or a `sending` item whose lease
    /// ran out); when it fails, a consistent read says whether the send is done or
    /// still held. An item that vanished in between (its TTL) is tried again.
    async fn claim_delivery(
        &self,
        pk: &str,
        sk: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<DeliveryClaim, StoreError> {
        self.retrying("claim a delivery", || async {
            let r = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(pk))
                .item("sk", s(sk))
                .item("state", s(SENDING))
                .item("lease_ms", n(now_ms.saturating_add(lease_ms)))
                .item("expires_at", n(now_s() + ALERT_KEEP_S))
                .condition_expression(
                    "attribute_not_exists(pk) OR (#st = :sending AND #lease < :now)",
                )
                .expression_attribute_names("#st", "state")
                .expression_attribute_names("#lease", "lease_ms")
                .expression_attribute_values(":sending", s(SENDING))
                .expression_attribute_values(":now", n(now_ms))
                .send()
                .await;
            match r {
                Ok(_) => Ok(Try::Done(DeliveryClaim::Claimed)),
                Err(e) => {
                    let e = classify(e, "dynamodb:PutItem");
                    if !is_conflict(&e) {
                        return Err(self.fail(e));
                    }
                    let Some(it) = self.get(pk, sk).await? else {
                        return Ok(Try::Conflict);
                    };
                    match it.string("state")? {
                        DELIVERED => Ok(Try::Done(DeliveryClaim::Delivered)),
                        SENDING => Ok(Try::Done(DeliveryClaim::Sending)),
                        _ => Err(it.malformed("state", "neither `sending` nor `delivered`")),
                    }
                }
            }
        })
        .await
    }

    /// Delivered: the item says so for 30 days. Failed: the claim is deleted, unless
    /// someone marked the send delivered meanwhile.
    async fn settle_delivery(
        &self,
        pk: &str,
        sk: &str,
        delivered: bool,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        if delivered {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(pk))
                .item("sk", s(sk))
                .item("state", s(DELIVERED))
                .item("delivered_ms", n(now_ms))
                .item("expires_at", n(now_s() + ALERT_KEEP_S))
                .send()
                .await
                .map_err(|e| self.fail(classify(e, "dynamodb:PutItem")))?;
            return Ok(());
        }
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .condition_expression("#st = :sending")
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":sending", s(SENDING))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = classify(e, "dynamodb:DeleteItem");
                if is_conflict(&e) {
                    Ok(())
                } else {
                    Err(self.fail(e))
                }
            }
        }
    }
}

const SENDING: &str = "sending";
const DELIVERED: &str = "delivered";

/// The item of one send: `ALERT#<alert id>`, `SINK#<sink>`.
fn delivery_key(alert_id: &str, sink: &str) -> (String, String) {
    (
        format!("ALERT#{}", stored(alert_id)),
        format!("SINK#{sink}"),
    )
}

/// A short pause, doubling up to about 400 ms, with jitter so that two writers that
/// collided do not collide again in step.
fn backoff(attempt: u32) -> Duration {
    use std::hash::BuildHasher;
    let base = 5u64 << attempt.min(6);
    let jitter = std::collections::hash_map::RandomState::new().hash_one(attempt) % base.max(1);
    Duration::from_millis(base + jitter)
}

/// Rule ids make the `pk`; one with `#` could be confused with another's key.
fn check_scope(scope: &str) -> Result<(), StoreError> {
    if scope.contains('#') || scope.len() > MAX_SCOPE_BYTES {
        return Err(StoreError::Backend(format!(
            "DynamoDB state: scope (rule id) `{}` cannot be stored: it must hold no `#` \
             and be at most {MAX_SCOPE_BYTES} bytes",
            stored(scope)
        )));
    }
    Ok(())
}

impl Store for DynamoStore {
    fn observe(
        &mut self,
        scope: &str,
        key: &str,
        value: &str,
        at_ms: i64,
    ) -> Result<Sighting, StoreError> {
        check_scope(scope)?;
        let pk = item::pk("SEEN", scope, key);
        crate::block_on(&self.runtime, self.db.observe(&pk, &stored(value), at_ms))
    }

    fn window_add(
        &mut self,
        scope: &str,
        key: &str,
        at_ms: i64,
        item: Option<&str>,
        window_ms: i64,
    ) -> Result<WindowCount, StoreError> {
        check_scope(scope)?;
        let pk = item::pk("WIN", scope, key);
        let item = item.map(stored);
        crate::block_on(
            &self.runtime,
            self.db.window_add(&pk, at_ms, item.as_deref(), window_ms),
        )
    }

    fn remember(
        &mut self,
        scope: &str,
        key: &str,
        fact: Remembered,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        check_scope(scope)?;
        let pk = item::pk("FACT", scope, key);
        crate::block_on(&self.runtime, self.db.remember(&pk, fact, ttl_ms))
    }

    fn recall(
        &mut self,
        scope: &str,
        key: &str,
        now_ms: i64,
    ) -> Result<Option<Remembered>, StoreError> {
        check_scope(scope)?;
        let pk = item::pk("FACT", scope, key);
        crate::block_on(&self.runtime, self.db.recall(&pk, now_ms))
    }

    fn alert_seen(&mut self, alert_id: &str) -> Result<bool, StoreError> {
        let pk = format!("ALERT#{}", stored(alert_id));
        crate::block_on(&self.runtime, self.db.alert_seen(&pk))
    }

    fn claim_delivery(
        &mut self,
        alert_id: &str,
        sink: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<DeliveryClaim, StoreError> {
        let (pk, sk) = delivery_key(alert_id, sink);
        crate::block_on(
            &self.runtime,
            self.db.claim_delivery(&pk, &sk, now_ms, lease_ms),
        )
    }

    fn settle_delivery(
        &mut self,
        alert_id: &str,
        sink: &str,
        delivered: bool,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let (pk, sk) = delivery_key(alert_id, sink);
        crate::block_on(
            &self.runtime,
            self.db.settle_delivery(&pk, &sk, delivered, now_ms),
        )
    }
}
