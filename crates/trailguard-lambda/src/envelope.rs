//! What the function was invoked with, unwrapped down to the work it asks for: an
//! EventBridge event to judge, CloudTrail objects to fetch, or nothing (a test event).
//!
//! AWS wraps the same news in several envelopes: an S3 notification arrives directly,
//! in an SQS message, or in an SNS notification inside an SQS message (the usual
//! fan-out of an organization trail's bucket), and CloudTrail's own SNS notification
//! lists the new objects as `{"s3Bucket", "s3ObjectKey": [...]}`. Envelopes are read
//! with `aws_lambda_events`' types; what they carry is classified here; an EventBridge
//! event's detail is left for trailguard-core's lenient record view.
//!
//! Every refusal is an [`EnvelopeError`] naming where in the payload it is
//! (`Records[3].body.Message`) and why, without echoing the content.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

/// The largest payload or message body read: Lambda's own synchronous limit (6 MB);
/// anything larger did not come from AWS.
pub const MAX_PAYLOAD_BYTES: usize = 6 << 20;
/// Objects named by one notification; S3 names one, CloudTrail's SNS notice a few.
pub const MAX_OBJECTS_PER_MESSAGE: usize = 1000;
/// S3's own limit on a key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// One object a notification announces, its key decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    /// As the notification says (S3 gives it; CloudTrail's notice does not).
    pub size: Option<u64>,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// What one notification or event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// An EventBridge event, as received (its text is read by trailguard-core).
    Event(String),
    /// New objects to fetch and read.
    Objects(Vec<ObjectRef>),
    /// Nothing to do, and why (`s3:TestEvent`, an SNS subscription confirmation).
    Nothing(&'static str),
}

/// One SQS message or SNS record: its id and what it asks for (or why it cannot be
/// read, which fails that item alone).
#[derive(Debug)]
pub struct Item {
    pub id: String,
    pub work: Result<Work, EnvelopeError>,
}

/// An invocation, unwrapped.
#[derive(Debug)]
pub enum Payload {
    /// An EventBridge event, a direct S3 notification or a test event.
    Direct(Work),
    /// An SQS batch: failures are reported per message (`batchItemFailures`).
    Sqs(Vec<Item>),
    /// SNS records delivered to the function directly: any failure fails all.
    Sns(Vec<Item>),
}

/// Why (part of) a payload cannot be read. Never quotes the payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {reason}")]
pub struct EnvelopeError {
    /// Where: `payload`, `Records[2].body`, `Records[0].Sns.Message`...
    pub at: String,
    pub reason: String,
}

fn err(at: &str, reason: impl Into<String>) -> EnvelopeError {
    EnvelopeError {
        at: at.to_owned(),
        reason: reason.into(),
    }
}

/// serde_json's message without the input it quotes (a value of the payload could be
/// anything): the category and position only.
fn json_reason(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "cannot read",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "unexpected shape",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    let text = e.to_string();
    // Data errors name the missing or mistyped field, which helps and holds no value
    // of the input; type errors (`invalid type: string "..."`) quote it, so they don't.
    let field = text
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .map(|f| format!(" (missing field `{f}`)"))
        .unwrap_or_default();
    format!("{what}{field} at line {} column {}", e.line(), e.column())
}

/// Which fields say what a JSON object is.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "detail-type")]
    detail_type: Option<IgnoredAny>,
    source: Option<IgnoredAny>,
    #[serde(rename = "Records")]
    records: Option<Vec<SourceProbe>>,
    /// `s3:TestEvent`, S3's first message to a new notification target.
    #[serde(rename = "Event")]
    event: Option<String>,
    /// An SNS envelope (in SQS): `Notification`, `SubscriptionConfirmation`...
    #[serde(rename = "Type")]
    sns_type: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
    /// CloudTrail's own SNS notice of new log files.
    #[serde(rename = "s3Bucket")]
    s3_bucket: Option<String>,
    #[serde(rename = "s3ObjectKey")]
    s3_object_key: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct SourceProbe {
    #[serde(rename = "eventSource", alias = "EventSource")]
    event_source: Option<String>,
}

fn probe(text: &str, at: &str) -> Result<Probe, EnvelopeError> {
    if text.len() > MAX_PAYLOAD_BYTES {
        return Err(err(
            at,
            format!(
                "{} bytes, over the limit of {MAX_PAYLOAD_BYTES}",
                text.len()
            ),
        ));
    }
    if !text.trim_start().starts_with('{') {
        return Err(err(at, "not a JSON object"));
    }
    serde_json::from_str(text).map_err(|e| err(at, json_reason(&e)))
}

/// Unwraps the function's payload.
pub fn parse_payload(text: &str) -> Result<Payload, EnvelopeError> {
    let at = "payload";
    let p = probe(text, at)?;
    if let Some(records) = &p.records {
        let source = record_source(records, at)?;
        return match source {
            "aws:sqs" => {
                let event: SqsEvent =
                    serde_json::from_str(text).map_err(|e| err(at, json_reason(&e)))?;
                Ok(Payload::Sqs(
                    event
                        .records
                        .into_iter()
                        .enumerate()
                        .map(|(i, m)| {
                            let at = format!("Records[{i}].body");
                            let id = m.message_id.unwrap_or_default();
                            let work = if id.is_empty() {
                                Err(err(&format!("Records[{i}]"), "no messageId"))
                            } else {
                                match m.body {
                                    Some(body) => classify(&body, &at, true),
                                    None => Err(err(&at, "no body")),
                                }
                            };
                            Item { id, work }
                        })
                        .collect(),
                ))
            }
            "aws:sns" => {
                let event: SnsEvent =
                    serde_json::from_str(text).map_err(|e| err(at, json_reason(&e)))?;
                Ok(Payload::Sns(
                    event
                        .records
                        .into_iter()
                        .enumerate()
                        .map(|(i, r)| {
                            let at = format!("Records[{i}].Sns.Message");
                            Item {
                                id: r.sns.message_id,
                                work: classify(&r.sns.message, &at, false),
                            }
                        })
                        .collect(),
                ))
            }
            _ => s3_objects(text, at).map(Payload::Direct),
        };
    }
    classify_probed(text, p, at, true).map(Payload::Direct)
}

/// The one `eventSource` of every record (`aws:s3`, `aws:sqs`, `aws:sns`).
fn record_source<'p>(records: &'p [SourceProbe], at: &str) -> Result<&'p str, EnvelopeError> {
    let Some(first) = records.first() else {
        return Err(err(at, "`Records` is empty"));
    };
    let source = first.event_source.as_deref().unwrap_or("");
    for (i, r) in records.iter().enumerate() {
        let s = r.event_source.as_deref().unwrap_or("");
        if !matches!(s, "aws:s3" | "aws:sqs" | "aws:sns") {
            return Err(err(
                &format!("{at}.Records[{i}]"),
                "eventSource is not aws:s3, aws:sqs or aws:sns",
            ));
        }
        if s != source {
            return Err(err(
                &format!("{at}.Records[{i}]"),
                "records of different sources in one payload",
            ));
        }
    }
    Ok(source)
}

/// What one SQS message body asks for, as the function's SQS event source would hand
/// it over (an S3 notification, SNS in SQS, CloudTrail's notice, `s3:TestEvent`, an
/// EventBridge event): for `trailguard watch sqs://`, which reads the same queue.
pub fn parse_message(body: &str) -> Result<Work, EnvelopeError> {
    if body.len() > MAX_PAYLOAD_BYTES {
        return Err(err(
            "message",
            format!(
                "{} bytes, over the limit of {MAX_PAYLOAD_BYTES}",
                body.len()
            ),
        ));
    }
    classify(body, "message", true)
}

/// What a JSON text (a payload, an SQS body, an SNS message) asks for. `sns_allowed`:
/// an SNS envelope may be unwrapped here (not inside another one).
fn classify(text: &str, at: &str, sns_allowed: bool) -> Result<Work, EnvelopeError> {
    let p = probe(text, at)?;
    if let Some(records) = &p.records {
        return match record_source(records, at)? {
            "aws:s3" => s3_objects(text, at),
            _ => Err(err(at, "SQS or SNS records nested in a message")),
        };
    }
    classify_probed(text, p, at, sns_allowed)
}

fn classify_probed(
    text: &str,
    p: Probe,
    at: &str,
    sns_allowed: bool,
) -> Result<Work, EnvelopeError> {
    if p.detail_type.is_some() || p.source.is_some() {
        // The typed envelope checks what EventBridge guarantees (`detail-type` and
        // `source` strings, an RFC 3339 `time`); the detail is left raw.
        let _: EventBridgeEvent<Box<RawValue>> =
            serde_json::from_str(text).map_err(|e| err(at, json_reason(&e)))?;
        return Ok(Work::Event(text.to_owned()));
    }
    if let Some(event) = &p.event {
        return if event == "s3:TestEvent" {
            Ok(Work::Nothing("s3:TestEvent"))
        } else {
            Err(err(at, "an `Event` other than s3:TestEvent"))
        };
    }
    if let Some(kind) = &p.sns_type {
        if !sns_allowed {
            return Err(err(at, "an SNS envelope inside another one"));
        }
        return match kind.as_str() {
            "Notification" => match &p.message {
                Some(m) => classify(m, &format!("{at}.Message"), false),
                None => Err(err(at, "SNS notification without a Message")),
            },
            "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
                Ok(Work::Nothing("SNS subscription message"))
            }
            _ => Err(err(at, "an SNS message of unknown Type")),
        };
    }
    if let (Some(bucket), Some(keys)) = (p.s3_bucket, p.s3_object_key) {
        // CloudTrail's notice: keys as written, not URL-encoded.
        if keys.len() > MAX_OBJECTS_PER_MESSAGE {
            return Err(err(
                at,
                format!(
                    "{} objects, over the limit of {MAX_OBJECTS_PER_MESSAGE}",
                    keys.len()
                ),
            ));
        }
        let objects = keys
            .into_iter()
            .enumerate()
            .map(|(i, key)| {
                check_names(&bucket, &key, &format!("{at}.s3ObjectKey[{i}]"))?;
                Ok(ObjectRef {
                    bucket: bucket.clone(),
                    key,
                    size: None,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Work::Objects(objects));
    }
    Err(err(
        at,
        "not an EventBridge event (detail-type, source), an S3 notification, an \
         s3:TestEvent, an SNS notification or a CloudTrail notice (s3Bucket, s3ObjectKey)",
    ))
}

/// The parts of an S3 event notification that say which object is new. Read leniently
/// (not with `aws_lambda_events`' `S3Event`, which requires `userIdentity`,
/// `requestParameters` and `responseElements`): a notification that names a bucket
/// and a key is enough, whatever else it carries or lacks.
#[derive(Deserialize)]
struct S3Notification {
    #[serde(rename = "Records")]
    records: Vec<S3NotificationRecord>,
}

#[derive(Deserialize)]
struct S3NotificationRecord {
    #[serde(rename = "eventName", default)]
    event_name: Option<String>,
    s3: S3Entity,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: S3Named,
    object: S3Key,
}

#[derive(Deserialize)]
struct S3Named {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct S3Key {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    size: Option<i64>,
}

/// The objects of an S3 event notification (`{"Records":[{"eventSource":"aws:s3"...`).
fn s3_objects(text: &str, at: &str) -> Result<Work, EnvelopeError> {
    let event: S3Notification = serde_json::from_str(text).map_err(|e| err(at, json_reason(&e)))?;
    if event.records.len() > MAX_OBJECTS_PER_MESSAGE {
        return Err(err(
            at,
            format!(
                "{} records, over the limit of {MAX_OBJECTS_PER_MESSAGE}",
                event.records.len()
            ),
        ));
    }
    let mut objects = Vec::with_capacity(event.records.len());
    for (i, r) in event.records.into_iter().enumerate() {
        let here = format!("{at}.Records[{i}]");
        // Deletions, restores, lifecycle transitions: nothing new to read.
        let name = r.event_name.as_deref().unwrap_or("");
        if !name.starts_with("ObjectCreated:") {
            continue;
        }
        let bucket =
            r.s3.bucket
                .name
                .ok_or_else(|| err(&here, "no s3.bucket.name"))?;
        let raw =
            r.s3.object
                .key
                .ok_or_else(|| err(&here, "no s3.object.key"))?;
        let key =
            decode_key(&raw).map_err(|reason| err(&format!("{here}.s3.object.key"), reason))?;
        check_names(&bucket, &key, &here)?;
        objects.push(ObjectRef {
            bucket,
            key,
            size: r.s3.object.size.and_then(|s| u64::try_from(s).ok()),
        });
    }
    if objects.is_empty() {
        return Ok(Work::Nothing("S3 notification of no new object"));
    }
    Ok(Work::Objects(objects))
}

fn check_names(bucket: &str, key: &str, at: &str) -> Result<(), EnvelopeError> {
    if bucket.is_empty() || bucket.len() > 255 {
        return Err(err(at, "bucket name empty or over 255 bytes"));
    }
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(err(
            at,
            format!("object key empty or over {MAX_KEY_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// An S3 notification's key, decoded: S3 writes keys form-URL-encoded (`+` for a
/// space, `%XX` for other bytes), so `a b+c.json` arrives as `a+b%2Bc.json`.
pub fn decode_key(raw: &str) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad %-escape at byte {i}"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "not UTF-8 once decoded".to_owned())
}

#[cfg(test)]
mod tests;
