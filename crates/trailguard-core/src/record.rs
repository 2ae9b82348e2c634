//! The borrowed, typed view of one CloudTrail record.
//!
//! A record is parsed once, straight from the bytes of the log file, with strings
//! borrowed where they carry no escapes. Object-valued fields (`userIdentity`,
//! `requestParameters`, `responseElements`, ...) stay raw JSON until a rule or the
//! alert builder asks for them: most events match no rule, and scanning a raw value is
//! much cheaper than building it. Real logs hold records without `userIdentity`
//! (`AwsServiceEvent`) or with fields of unexpected types; the view tolerates them.

use std::borrow::Cow;

use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::json::{Leaf, RawNode};

/// One CloudTrail record, as AWS writes it in a log file or in the `detail` of an
/// EventBridge event. Field names follow the CloudTrail record contents reference.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CloudTrailRecord<'a> {
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub event_version: Option<Cow<'a, str>>,
    /// Split into its members while the record is parsed: nearly every rule reads it.
    #[serde(borrow, default)]
    pub user_identity: Option<RawNode<'a>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub event_time: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub event_source: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub event_name: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub aws_region: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "crate::json::opt_cow",
        rename = "sourceIPAddress"
    )]
    pub source_ip_address: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub user_agent: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub error_code: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub error_message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub request_parameters: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub response_elements: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub additional_event_data: Option<&'a RawValue>,
    #[serde(
        borrow,
        default,
        deserialize_with = "crate::json::opt_cow",
        rename = "requestID"
    )]
    pub request_id: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "crate::json::opt_cow",
        rename = "eventID"
    )]
    pub event_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub event_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub api_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub management_event: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub read_only: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub resources: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub recipient_account_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub service_event_details: Option<&'a RawValue>,
    #[serde(
        borrow,
        default,
        deserialize_with = "crate::json::opt_cow",
        rename = "sharedEventID"
    )]
    pub shared_event_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub vpc_endpoint_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub vpc_endpoint_account_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub event_category: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub addendum: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub session_credential_from_console: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub edge_device_details: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub tls_details: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub insight_details: Option<&'a RawValue>,
}

/// A record that must be a JSON object. serde's derive would also read an array as a
/// struct, field by field, and with lenient fields almost any array would pass.
#[derive(Debug)]
pub struct RecordObject<'a>(pub CloudTrailRecord<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for RecordObject<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RecordObject<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a CloudTrail record (a JSON object)")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                CloudTrailRecord::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RecordObject)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The top-level keys of a record, with how each is held in [`CloudTrailRecord`].
/// Used for generic field lookup by pattern path.
pub(crate) enum RecordField<'r, 'a> {
    Str(Option<&'r Cow<'a, str>>),
    Raw(Option<&'a RawValue>),
    Node(Option<&'r RawNode<'a>>),
    Unknown,
}

/// Every top-level key [`CloudTrailRecord::field`] knows, in record order.
pub(crate) const RECORD_FIELDS: [&str; 31] = [
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "eventType",
    "apiVersion",
    "managementEvent",
    "readOnly",
    "resources",
    "recipientAccountId",
    "serviceEventDetails",
    "sharedEventID",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "eventCategory",
    "addendum",
    "sessionCredentialFromConsole",
    "edgeDeviceDetails",
    "tlsDetails",
    "insightDetails",
];

impl<'a> CloudTrailRecord<'a> {
    /// Parses one record from its JSON bytes (one pass, strings borrowed).
    pub fn from_slice(bytes: &'a [u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice::<RecordObject<'a>>(bytes).map(|r| r.0)
    }

    pub(crate) fn field<'r>(&'r self, key: &str) -> RecordField<'r, 'a> {
        use RecordField::*;
        match key {
            "eventVersion" => Str(self.event_version.as_ref()),
            "userIdentity" => Node(self.user_identity.as_ref()),
            "eventTime" => Str(self.event_time.as_ref()),
            "eventSource" => Str(self.event_source.as_ref()),
            "eventName" => Str(self.event_name.as_ref()),
            "awsRegion" => Str(self.aws_region.as_ref()),
            "sourceIPAddress" => Str(self.source_ip_address.as_ref()),
            "userAgent" => Str(self.user_agent.as_ref()),
            "errorCode" => Str(self.error_code.as_ref()),
            "errorMessage" => Str(self.error_message.as_ref()),
            "requestParameters" => Raw(self.request_parameters),
            "responseElements" => Raw(self.response_elements),
            "additionalEventData" => Raw(self.additional_event_data),
            "requestID" => Str(self.request_id.as_ref()),
            "eventID" => Str(self.event_id.as_ref()),
            "eventType" => Str(self.event_type.as_ref()),
            "apiVersion" => Str(self.api_version.as_ref()),
            "managementEvent" => Raw(self.management_event),
            "readOnly" => Raw(self.read_only),
            "resources" => Raw(self.resources),
            "recipientAccountId" => Str(self.recipient_account_id.as_ref()),
            "serviceEventDetails" => Raw(self.service_event_details),
            "sharedEventID" => Str(self.shared_event_id.as_ref()),
            "vpcEndpointId" => Str(self.vpc_endpoint_id.as_ref()),
            "vpcEndpointAccountId" => Str(self.vpc_endpoint_account_id.as_ref()),
            "eventCategory" => Str(self.event_category.as_ref()),
            "addendum" => Raw(self.addendum),
            "sessionCredentialFromConsole" => Raw(self.session_credential_from_console),
            "edgeDeviceDetails" => Raw(self.edge_device_details),
            "tlsDetails" => Raw(self.tls_details),
            "insightDetails" => Raw(self.insight_details),
            _ => Unknown,
        }
    }

    /// `readOnly` as a boolean (AWS writes a JSON boolean; some exporters a string).
    pub fn read_only(&self) -> Option<bool> {
        raw_bool(self.read_only)
    }

    /// `true` when the call was made from a console session (CloudTrail writes the
    /// string `"true"`), as opposed to an access key used programmatically.
    pub fn from_console(&self) -> bool {
        raw_bool(self.session_credential_from_console) == Some(true)
    }

    /// `userIdentity` parsed on demand. `None` when the record has none (service
    /// events) or when it is not an object.
    /// The typed identity, from the members read with the record. A member of an
    /// unexpected type reads as absent; the others still count (the last of a repeated
    /// key wins, as everywhere else).
    pub fn identity(&self) -> Option<UserIdentity<'a>> {
        let Some(RawNode::Object(members)) = &self.user_identity else {
            return None;
        };
        let mut id = UserIdentity::default();
        for (key, value) in members {
            let text = || match RawNode::parse(*value) {
                Some(RawNode::Leaf(Leaf::Str(s))) => Some(s),
                _ => None,
            };
            match key.as_ref() {
                "type" => id.identity_type = text(),
                "principalId" => id.principal_id = text(),
                "arn" => id.arn = text(),
                "accountId" => id.account_id = text(),
                "accessKeyId" => id.access_key_id = text(),
                "userName" => id.user_name = text(),
                "invokedBy" => id.invoked_by = text(),
                "sessionContext" => {
                    id.session_context = serde_json::from_str(value.get()).ok();
                }
                _ => {}
            }
        }
        Some(id)
    }
}

/// The `userIdentity` block, with the fields trailguard reports on.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity<'a> {
    #[serde(
        borrow,
        default,
        deserialize_with = "crate::json::opt_cow",
        rename = "type"
    )]
    pub identity_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub principal_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub arn: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub account_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub access_key_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub user_name: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub invoked_by: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub session_context: Option<SessionContext<'a>>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext<'a> {
    #[serde(borrow, default)]
    pub session_issuer: Option<SessionIssuer<'a>>,
    #[serde(borrow, default)]
    pub attributes: Option<SessionAttributes<'a>>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer<'a> {
    #[serde(
        borrow,
        default,
        deserialize_with = "crate::json::opt_cow",
        rename = "type"
    )]
    pub issuer_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub arn: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub user_name: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes<'a> {
    #[serde(borrow, default, deserialize_with = "crate::json::opt_cow")]
    pub creation_date: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub mfa_authenticated: Option<bool>,
}

fn raw_bool(raw: Option<&RawValue>) -> Option<bool> {
    let mut de = serde_json::Deserializer::from_str(raw?.get());
    lenient_bool(&mut de).ok().flatten()
}

/// `userIdentity` that yields `None` instead of failing when it is not a well-formed
/// object: anonymised or service records must not cost the whole record.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a boolean")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(match v {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => None,
            })
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_strings_without_escapes() {
        let json = br#"{"eventName":"CreateAccessKey","eventSource":"iam.amazonaws.com","userAgent":"a\"b"}"#;
        let r = CloudTrailRecord::from_slice(json).unwrap();
        assert!(matches!(
            r.event_name,
            Some(Cow::Borrowed("CreateAccessKey"))
        ));
        assert_eq!(r.user_agent.as_deref(), Some("a\"b"));
    }

    #[test]
    fn identity_of_wrong_type_is_none_not_an_error() {
        for ui in ["42", "\"x\"", "[1,2]", "null"] {
            let json = format!(r#"{{"eventName":"X","userIdentity":{ui}}}"#);
            let r = CloudTrailRecord::from_slice(json.as_bytes()).unwrap();
            assert!(r.identity().is_none(), "{ui}");
        }
        // A field of the wrong type is absent; the others still count.
        let json = br#"{"userIdentity":{"type":7,"arn":"arn:aws:iam::1:user/a"}}"#;
        let id = CloudTrailRecord::from_slice(json)
            .unwrap()
            .identity()
            .unwrap();
        assert!(id.identity_type.is_none());
        assert_eq!(id.arn.as_deref(), Some("arn:aws:iam::1:user/a"));
    }

    #[test]
    fn every_listed_field_is_known() {
        let r = CloudTrailRecord::default();
        for f in RECORD_FIELDS {
            assert!(!matches!(r.field(f), RecordField::Unknown), "{f}");
        }
        assert!(matches!(r.field("status"), RecordField::Unknown));
    }

    #[test]
    fn lenient_booleans() {
        let json =
            br#"{"readOnly":"true","managementEvent":3,"sessionCredentialFromConsole":"true"}"#;
        let r = CloudTrailRecord::from_slice(json).unwrap();
        assert_eq!(r.read_only(), Some(true));
        assert_eq!(raw_bool(r.management_event), None);
        assert!(r.from_console());
    }

    #[test]
    fn identity_fields() {
        let json = br#"{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/s","accessKeyId":"ASIAX","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::1:role/r","userName":"r"},"attributes":{"creationDate":"2024-01-01T00:00:00Z","mfaAuthenticated":"false"}}}}"#;
        let r = CloudTrailRecord::from_slice(json).unwrap();
        let id = r.identity().unwrap();
        assert_eq!(id.identity_type.as_deref(), Some("AssumedRole"));
        let sc = id.session_context.unwrap();
        assert_eq!(sc.attributes.unwrap().mfa_authenticated, Some(false));
        assert_eq!(sc.session_issuer.unwrap().user_name.as_deref(), Some("r"));
    }
}
