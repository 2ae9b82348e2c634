//! [`Event`]: one CloudTrail record, whether it arrived bare (in a log file, a JSON
//! array, JSON Lines, `lookup-events` output) or wrapped in an EventBridge envelope.
//!
//! For a bare record the envelope fields are derived exactly as EventBridge derives
//! them when CloudTrail delivers the record to the default bus, so one pattern matches
//! both forms: `source` is `aws.` plus the service prefix of `eventSource`,
//! `detail-type` follows `eventType`, `account` is `recipientAccountId`, `region` is
//! `awsRegion` and `time` is `eventTime`.

use std::borrow::Cow;
use std::cell::OnceCell;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::json::{
    members_within, node_visit, raw_visit_deep, raw_visit_members, ArrayStep, FieldSource, Leaf,
    RawJson, RawNode,
};
use crate::record::{CloudTrailRecord, RecordField, UserIdentity, RECORD_FIELDS};
use crate::time::parse_rfc3339_millis;

/// The EventBridge envelope around a record: `{"version":"0","id":...,"detail":{...}}`.
#[derive(Debug, Deserialize, Default)]
pub struct Envelope<'a> {
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub version: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub id: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        rename = "detail-type",
        deserialize_with = "crate::json::opt_cow"
    )]
    pub detail_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub source: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub account: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub time: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub region: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub resources: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub detail: Option<&'a RawValue>,
}

/// One key of a raw JSON object and its raw value.
type Member<'a> = (Cow<'a, str>, RawJson<'a>);
type Members<'a> = Vec<Member<'a>>;

/// One event as rules see it.
#[derive(Debug)]
pub struct Event<'a> {
    pub record: CloudTrailRecord<'a>,
    /// Present when the event arrived wrapped by EventBridge.
    pub envelope: Option<Envelope<'a>>,
    identity: OnceCell<Option<UserIdentity<'a>>>,
    /// The whole JSON text of a wrapped event: patterns read it exactly as
    /// EventBridge sees it (odd types, dotted keys, unknown fields included).
    text: Option<&'a str>,
    splits: Splits<'a>,
}

/// Raw objects split into their members once per event, on first use: many rules read
/// the same few objects, and splitting means scanning the whole object.
#[derive(Debug, Default)]
struct Splits<'a> {
    /// A wrapped event's top level, and its `detail`.
    top: OnceCell<Members<'a>>,
    detail: OnceCell<Option<Members<'a>>>,
    /// The record's objects rules read most, in the order of [`SPLIT_FIELDS`].
    fields: [OnceCell<Option<Members<'a>>>; 4],
    /// A bare record's derived `source` (`aws.` + service).
    source: OnceCell<Option<String>>,
}

const SPLIT_FIELDS: [&str; 4] = [
    "userIdentity",
    "requestParameters",
    "responseElements",
    "additionalEventData",
];

fn object_members(raw: RawJson<'_>) -> Option<Members<'_>> {
    match RawNode::parse(raw) {
        Some(RawNode::Object(members)) => Some(members),
        _ => None,
    }
}

/// Why a JSON value could not be read as an event.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("EventBridge event without a detail object")]
    NoDetail,
    #[error("not a JSON object")]
    NotAnObject,
}

impl<'a> Event<'a> {
    pub fn from_record(record: CloudTrailRecord<'a>) -> Self {
        Event {
            record,
            envelope: None,
            identity: OnceCell::new(),
            text: None,
            splits: Splits::default(),
        }
    }

    /// Reads one JSON object that is either a bare CloudTrail record or an EventBridge
    /// event, telling them apart by content.
    pub fn from_json(bytes: &'a [u8]) -> Result<Self, EventError> {
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            // Let serde produce the precise error for non-JSON; a valid non-object is ours.
            serde_json::from_slice::<serde::de::IgnoredAny>(bytes)?;
            return Err(EventError::NotAnObject);
        }
        if looks_like_envelope(bytes) {
            let env: Envelope<'a> = serde_json::from_slice(bytes)?;
            if env.detail.is_some() || env.detail_type.is_some() {
                let mut event = Self::from_envelope(env)?;
                // It parsed, so it is UTF-8 (JSON outside strings is ASCII).
                event.text = std::str::from_utf8(bytes).ok();
                // (The envelope parse validated all of it, unknown fields included.)
                return Ok(event);
            }
        }
        Ok(Self::from_record(CloudTrailRecord::from_slice(bytes)?))
    }

    /// Wraps an already parsed envelope; its `detail` is read as a CloudTrail record
    /// (other detail types, such as GuardDuty findings, keep their fields reachable by
    /// pattern through the raw detail).
    pub fn from_envelope(env: Envelope<'a>) -> Result<Self, EventError> {
        let detail = env.detail.ok_or(EventError::NoDetail)?;
        let record = if detail.get().starts_with('{') {
            serde_json::from_str(detail.get())?
        } else {
            return Err(EventError::NoDetail);
        };
        Ok(Event {
            record,
            envelope: Some(env),
            identity: OnceCell::new(),
            text: None,
            splits: Splits::default(),
        })
    }

    pub fn identity(&self) -> Option<&UserIdentity<'a>> {
        self.identity
            .get_or_init(|| self.record.identity())
            .as_ref()
    }

    pub fn event_source(&self) -> Option<&str> {
        self.record.event_source.as_deref()
    }

    pub fn event_name(&self) -> Option<&str> {
        self.record.event_name.as_deref()
    }

    /// The EventBridge `source`: from the envelope, or derived from `eventSource`.
    pub fn source(&self) -> Option<Cow<'_, str>> {
        if let Some(s) = self.envelope.as_ref().and_then(|e| e.source.as_deref()) {
            return Some(Cow::Borrowed(s));
        }
        let derived = self
            .splits
            .source
            .get_or_init(|| derive_source(self.event_source()?));
        derived.as_deref().map(Cow::Borrowed)
    }

    /// The EventBridge `detail-type`: from the envelope, or derived from `eventType`.
    pub fn detail_type(&self) -> Option<&str> {
        if let Some(env) = &self.envelope {
            return env.detail_type.as_deref();
        }
        derive_detail_type(self.record.event_type.as_deref()?)
    }

    pub fn account(&self) -> Option<&str> {
        match &self.envelope {
            Some(env) if env.account.is_some() => env.account.as_deref(),
            _ => self
                .record
                .recipient_account_id
                .as_deref()
                .or_else(|| self.identity()?.account_id.as_deref()),
        }
    }

    pub fn region(&self) -> Option<&str> {
        match &self.envelope {
            Some(env) if env.region.is_some() => env.region.as_deref(),
            _ => self.record.aws_region.as_deref(),
        }
    }

    /// `eventTime` of the record (the envelope's `time` when the record lacks one).
    pub fn time_str(&self) -> Option<&str> {
        self.record
            .event_time
            .as_deref()
            .or_else(|| self.envelope.as_ref()?.time.as_deref())
    }

    /// Milliseconds since the Unix epoch, when the time is valid RFC 3339.
    pub fn time_millis(&self) -> Option<i64> {
        parse_rfc3339_millis(self.time_str()?)
    }

    pub fn event_id(&self) -> Option<&str> {
        self.record
            .event_id
            .as_deref()
            .or_else(|| self.envelope.as_ref()?.id.as_deref())
    }
}

/// A cheap check before paying for an envelope parse; a false positive (a record whose
/// parameters mention `detail-type`) only costs a second parse.
fn looks_like_envelope(bytes: &[u8]) -> bool {
    memmem(bytes, b"\"detail-type\"") || memmem(bytes, b"\"detail\"")
}

fn memmem(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// `iam.amazonaws.com` -> `aws.iam`, as EventBridge names CloudTrail-delivered events.
pub fn derive_source(event_source: &str) -> Option<String> {
    let service = event_source.split('.').next().filter(|s| !s.is_empty())?;
    Some(format!("aws.{service}"))
}

/// CloudTrail `eventType` to the `detail-type` EventBridge gives it.
pub fn derive_detail_type(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "AwsApiCall" => "AWS API Call via CloudTrail",
        "AwsConsoleSignIn" => "AWS Console Sign In via CloudTrail",
        "AwsConsoleAction" => "AWS Console Action via CloudTrail",
        "AwsServiceEvent" => "AWS Service Event via CloudTrail",
        "AwsCloudTrailInsight" => "AWS Insight via CloudTrail",
        _ => return None,
    })
}

impl<'a> Event<'a> {
    /// A wrapped event's paths, read from its text, with the object levels every rule
    /// reads split only once.
    fn visit_text(
        &self,
        text: &'a str,
        path: &[&str],
        deep: bool,
        f: &mut dyn FnMut(Leaf<'_>, &[ArrayStep]),
    ) {
        let top =
            self.splits
                .top
                .get_or_init(|| match RawNode::parse(RawJson::parsed_by_serde(text)) {
                    Some(RawNode::Object(members)) => members,
                    _ => Vec::new(),
                });
        members_within(top, path, deep, |child, span| {
            let rest = &path[span..];
            let detail = (span == 1 && path[0] == "detail")
                .then(|| self.splits.detail.get_or_init(|| object_members(child)))
                .and_then(Option::as_deref);
            match detail {
                Some(members) => members_within(members, rest, deep, |grandchild, span| {
                    if span == 1 {
                        self.visit_field(rest[0], grandchild, &rest[1..], deep, f)
                    } else {
                        raw_visit_deep(grandchild, &rest[span..], deep, f)
                    }
                }),
                None => raw_visit_deep(child, rest, deep, f),
            }
        });
    }

    /// `rest` inside the record field `name` (raw JSON), through the split cache for
    /// the objects rules read most.
    fn visit_field(
        &self,
        name: &str,
        raw: RawJson<'a>,
        rest: &[&str],
        deep: bool,
        f: &mut dyn FnMut(Leaf<'_>, &[ArrayStep]),
    ) {
        if let Some(i) = SPLIT_FIELDS.iter().position(|n| *n == name) {
            if let Some(members) = self.splits.fields[i].get_or_init(|| object_members(raw)) {
                return raw_visit_members(members, rest, deep, f);
            }
        }
        raw_visit_deep(raw, rest, deep, f)
    }

    /// [`FieldSource::visit`], or with `deep` [`FieldSource::leaves_within`].
    fn visit_at(&self, path: &[&str], deep: bool, f: &mut dyn FnMut(Leaf<'_>, &[ArrayStep])) {
        if let Some(text) = self.text {
            return self.visit_text(text, path, deep, f);
        }
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let top = |v: Option<&str>, f: &mut dyn FnMut(Leaf<'_>, &[ArrayStep])| {
            if let (Some(v), true) = (v, rest.is_empty()) {
                f(Leaf::Str(Cow::Borrowed(v)), &[])
            }
        };
        let env = self.envelope.as_ref();
        match *first {
            "detail" => {}
            "source" => return top(self.source().as_deref(), f),
            "detail-type" => return top(self.detail_type(), f),
            "account" => return top(self.account(), f),
            "region" => return top(self.region(), f),
            "time" => {
                let t = env.and_then(|e| e.time.as_deref());
                return top(t.or_else(|| self.time_str()), f);
            }
            "id" => {
                let id = env.and_then(|e| e.id.as_deref());
                return top(id.or_else(|| self.event_id()), f);
            }
            "version" => {
                let v = env.map_or(Some("0"), |e| e.version.as_deref());
                return top(v, f);
            }
            "resources" => {
                if let Some(raw) = env.and_then(|e| e.resources) {
                    raw_visit_deep(RawJson::of(raw), rest, deep, f);
                }
                return;
            }
            _ => return,
        }
        if let Some(detail) = env.and_then(|e| e.detail) {
            return raw_visit_deep(RawJson::of(detail), rest, deep, f);
        }
        match rest.split_first() {
            Some((field, rest)) => self.visit_record_field(field, rest, deep, f),
            // The whole record, opened: every field.
            None if deep => {
                for field in RECORD_FIELDS {
                    self.visit_record_field(field, &[], deep, f);
                }
            }
            None => {}
        }
    }

    fn visit_record_field(
        &self,
        field: &str,
        rest: &[&str],
        deep: bool,
        f: &mut dyn FnMut(Leaf<'_>, &[ArrayStep]),
    ) {
        match self.record.field(field) {
            RecordField::Str(Some(s)) if rest.is_empty() => f(Leaf::Str(Cow::Borrowed(s)), &[]),
            RecordField::Str(_) | RecordField::Unknown => {}
            RecordField::Raw(Some(raw)) => self.visit_field(field, RawJson::of(raw), rest, deep, f),
            RecordField::Node(Some(node)) => node_visit(node, rest, deep, f),
            RecordField::Node(None) => {}
            RecordField::Raw(None) => {}
        }
    }
}

impl FieldSource for Event<'_> {
    fn visit(&self, path: &[&str], f: &mut dyn FnMut(Leaf<'_>, &[ArrayStep])) {
        self.visit_at(path, false, f)
    }

    fn leaves_within(&self, path: &[&str], f: &mut dyn FnMut(Leaf<'_>)) {
        self.visit_at(path, true, &mut |leaf, _| f(leaf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/admin","accountId":"111122223333","accessKeyId":"AKIAEXAMPLEKEY000001","userName":"admin"},"eventTime":"2024-05-01T12:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.10","userAgent":"aws-cli/2.15.0","requestParameters":{"userName":"admin"},"responseElements":{"accessKey":{"accessKeyId":"AKIANEWKEY0000000001","status":"Active"}},"eventID":"e1","readOnly":false,"eventType":"AwsApiCall","recipientAccountId":"111122223333"}"#;

    fn strings(ev: &Event, path: &str) -> Vec<String> {
        let parts: Vec<&str> = path.split('.').collect();
        let mut out = vec![];
        ev.leaves(&parts, &mut |l| out.push(format!("{l:?}")));
        out
    }

    #[test]
    fn bare_and_wrapped_look_the_same() {
        let wrapped = format!(
            r#"{{"version":"0","id":"x","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","account":"111122223333","time":"2024-05-01T12:00:00Z","region":"us-east-1","resources":[],"detail":{RECORD}}}"#
        );
        let bare = Event::from_json(RECORD.as_bytes()).unwrap();
        let env = Event::from_json(wrapped.as_bytes()).unwrap();
        assert!(bare.envelope.is_none() && env.envelope.is_some());
        for path in [
            "source",
            "detail-type",
            "account",
            "region",
            "detail.eventName",
            "detail.userIdentity.accessKeyId",
            "detail.responseElements.accessKey.accessKeyId",
            "detail.readOnly",
        ] {
            let (a, b) = (strings(&bare, path), strings(&env, path));
            assert_eq!(a, b, "{path}");
            assert_eq!(a.len(), 1, "{path}");
        }
        assert_eq!(bare.source().as_deref(), Some("aws.iam"));
        assert_eq!(bare.time_millis(), Some(1_714_564_800_000));
    }

    fn within(ev: &Event, path: &str) -> Vec<String> {
        let parts: Vec<&str> = path.split('.').collect();
        let mut out = vec![];
        ev.leaves_within(&parts, &mut |l| out.push(l.text().into_owned()));
        out.sort();
        out
    }

    #[test]
    fn leaves_within_open_objects_in_both_forms() {
        let wrapped = format!(
            r#"{{"version":"0","id":"x","detail-type":"AWS API Call via CloudTrail","detail":{RECORD}}}"#
        );
        let bare = Event::from_json(RECORD.as_bytes()).unwrap();
        let env = Event::from_json(wrapped.as_bytes()).unwrap();
        for ev in [&bare, &env] {
            assert_eq!(
                within(ev, "detail.responseElements"),
                vec!["AKIANEWKEY0000000001", "Active"]
            );
            assert_eq!(within(ev, "detail.requestParameters"), vec!["admin"]);
            assert_eq!(within(ev, "detail.eventName"), vec!["CreateAccessKey"]);
            assert!(within(ev, "detail.nothing").is_empty());
            let all = within(ev, "detail");
            assert!(all.contains(&"203.0.113.10".to_owned()) && all.contains(&"false".to_owned()));
            assert!(all.contains(&"AKIAEXAMPLEKEY000001".to_owned()), "{all:?}");
            // Plain visits still never open an object.
            assert!(strings(ev, "detail.responseElements").is_empty());
        }
    }

    #[test]
    fn non_cloudtrail_detail_fields_are_reachable() {
        let gd = r#"{"version":"0","id":"1","detail-type":"GuardDuty Finding","source":"aws.guardduty","detail":{"severity":8,"type":"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"}}"#;
        let ev = Event::from_json(gd.as_bytes()).unwrap();
        assert_eq!(strings(&ev, "detail.severity"), vec!["Num(8.0)"]);
    }

    #[test]
    fn rejects_non_objects_with_a_reason() {
        assert!(matches!(
            Event::from_json(b"[1]"),
            Err(EventError::NotAnObject)
        ));
        assert!(matches!(
            Event::from_json(b"{\"a\":"),
            Err(EventError::Json(_))
        ));
        assert!(matches!(
            Event::from_json(br#"{"detail-type":"x","detail":5}"#),
            Err(EventError::NoDetail)
        ));
    }

    #[test]
    fn derives_source_like_eventbridge() {
        assert_eq!(derive_source("ec2.amazonaws.com").unwrap(), "aws.ec2");
        assert_eq!(derive_source("signin.amazonaws.com").unwrap(), "aws.signin");
        assert!(derive_source("").is_none());
    }
}
