//! Who is investigated: an access key, a principal (ARN) or a source address, checked
//! when given (a typo must be a usage error, not an empty report) and matched against
//! events cheaply, since every event of an archive is asked.

use std::net::IpAddr;

use trailguard_core::json::RawNode;
use trailguard_core::keyid::{self, KeyIdError};
use trailguard_core::Event;

/// The subject of an investigation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `AKIA...` or `ASIA...`: every event made with this key.
    AccessKey(String),
    /// An IAM user, role, assumed-role session, federated user or root ARN.
    Principal(Principal),
    /// Every event from this source address, whoever made it.
    Ip(IpAddr),
}

/// A principal ARN and how it is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub arn: String,
    pub account: String,
    /// A role (`arn:aws:iam::A:role/...`) matches the sessions of the role too: their
    /// `userIdentity.sessionContext.sessionIssuer.arn` is the role's ARN.
    pub is_role: bool,
}

/// Why a subject is not valid (exit 2 at the command line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    #[error("`{0}` is not an access key id: {1}")]
    KeyId(String, KeyIdError),
    #[error("`{0}` is not an access key id: it must start with AKIA (long-term) or ASIA (temporary); {1}")]
    KeyPrefix(String, String),
    #[error("`{0}` is not a principal ARN: {1}")]
    Arn(String, &'static str),
    #[error("`{0}` is not an IP address (IPv4 or IPv6, no CIDR)")]
    Ip(String),
}

impl Subject {
    pub fn access_key(s: &str) -> Result<Subject, SubjectError> {
        let s = s.trim();
        let info = keyid::decode(s).map_err(|e| SubjectError::KeyId(s.to_owned(), e))?;
        if !keyid::is_access_key_prefix(s) {
            let what = match info.kind {
                Some(kind) => format!("{} is the prefix of a {kind}", info.prefix),
                None => format!("{} is not a known prefix", info.prefix),
            };
            return Err(SubjectError::KeyPrefix(s.to_owned(), what));
        }
        Ok(Subject::AccessKey(s.to_owned()))
    }

    pub fn principal(s: &str) -> Result<Subject, SubjectError> {
        let s = s.trim();
        let bad = |why| SubjectError::Arn(s.to_owned(), why);
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" {
            return Err(bad("expected arn:PARTITION:iam::ACCOUNT:user/NAME (or role/, assumed-role/ROLE/SESSION, federated-user/, root)"));
        }
        if !matches!(
            parts[1],
            "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b"
        ) {
            return Err(bad("unknown partition (aws, aws-cn, aws-us-gov)"));
        }
        let account = parts[4];
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the account must be 12 digits"));
        }
        let resource = parts[5];
        let (kind, name) = resource.split_once('/').unwrap_or((resource, ""));
        let service_ok = match (parts[2], kind) {
            ("iam", "root") => name.is_empty(),
            ("iam", "user" | "role") => !name.is_empty(),
            ("sts", "assumed-role") => name.split('/').count() == 2 && !name.contains("//"),
            ("sts", "federated-user") => !name.is_empty(),
            _ => false,
        };
        if !service_ok || !parts[3].is_empty() {
            return Err(bad("not a principal: iam::ACCOUNT:user/NAME, iam::ACCOUNT:role/NAME, iam::ACCOUNT:root, sts::ACCOUNT:assumed-role/ROLE/SESSION or sts::ACCOUNT:federated-user/NAME"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("contains spaces or control characters"));
        }
        Ok(Subject::Principal(Principal {
            arn: s.to_owned(),
            account: account.to_owned(),
            is_role: parts[2] == "iam" && kind == "role",
        }))
    }

    pub fn ip(s: &str) -> Result<Subject, SubjectError> {
        s.trim()
            .parse::<IpAddr>()
            .map(Subject::Ip)
            .map_err(|_| SubjectError::Ip(s.to_owned()))
    }

    /// `"access_key"`, `"principal"` or `"ip"`, as the report names the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::AccessKey(_) => "access_key",
            Subject::Principal(_) => "principal",
            Subject::Ip(_) => "ip",
        }
    }

    /// How a person names the subject.
    pub fn label(&self) -> String {
        match self {
            Subject::AccessKey(k) => k.clone(),
            Subject::Principal(p) => p.arn.clone(),
            Subject::Ip(ip) => ip.to_string(),
        }
    }

    /// True when `event` is the subject's; `key` is the event's access key id.
    pub fn matches(&self, event: &Event<'_>, key: Option<&str>) -> bool {
        match self {
            Subject::AccessKey(k) => key == Some(k.as_str()),
            Subject::Ip(ip) => {
                let Some(src) = event.record.source_ip_address.as_deref() else {
                    return false;
                };
                src.parse::<IpAddr>().is_ok_and(|a| a == *ip)
            }
            Subject::Principal(p) => {
                // Most events are not the principal's: look for the ARN's text in the
                // identity's raw members before reading them.
                let Some(RawNode::Object(members)) = &event.record.user_identity else {
                    return false;
                };
                let mentioned = members.iter().any(|(_, v)| {
                    memchr::memmem::find(v.get().as_bytes(), p.arn.as_bytes()).is_some()
                });
                if !mentioned {
                    return false;
                }
                let Some(id) = event.identity() else {
                    return false;
                };
                if id.arn.as_deref() == Some(p.arn.as_str()) {
                    return true;
                }
                p.is_role
                    && id
                        .session_context
                        .as_ref()
                        .and_then(|c| c.session_issuer.as_ref())
                        .and_then(|i| i.arn.as_deref())
                        == Some(p.arn.as_str())
            }
        }
    }
}

/// The event's `userIdentity.accessKeyId`, read from the identity's members (split
/// with the record) without decoding the rest (every event of an archive is asked);
/// `None` when absent or empty.
pub fn access_key_of<'e>(event: &'e Event<'_>) -> Option<&'e str> {
    let Some(RawNode::Object(members)) = &event.record.user_identity else {
        return None;
    };
    // The last of a repeated key wins, as everywhere else.
    let (_, raw) = members.iter().rev().find(|(k, _)| k == "accessKeyId")?;
    let key = raw.get().strip_prefix('"')?.strip_suffix('"')?;
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        // Escapes or odd content: leave it to the real parser.
        return event
            .identity()
            .and_then(|id| id.access_key_id.as_deref())
            .filter(|k| !k.is_empty());
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_keys_are_checked() {
        assert!(Subject::access_key("AKIAWCZC6J72ODEC6IFU").is_ok());
        assert!(Subject::access_key(" ASIAWCZC6J72J4HZRFJS ").is_ok());
        let e = Subject::access_key("AIDAWCZC6J72LDJQHCDXG").unwrap_err();
        assert!(e.to_string().contains("IAM user"), "{e}");
        assert!(Subject::access_key("AKIA-not-a-key").is_err());
        assert!(Subject::access_key("akiawczc6j72odec6ifu").is_err());
    }

    #[test]
    fn principals_are_checked() {
        for ok in [
            "arn:aws:iam::418295730164:user/admin",
            "arn:aws:iam::418295730164:user/path/admin",
            "arn:aws:iam::418295730164:role/ci-deploy",
            "arn:aws:iam::418295730164:root",
            "arn:aws:sts::418295730164:assumed-role/ci-deploy/gha-1",
            "arn:aws:sts::418295730164:federated-user/bob",
        ] {
            assert!(Subject::principal(ok).is_ok(), "{ok}");
        }
        for bad in [
            "admin",
            "arn:aws:iam::41829573016:user/admin",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::418295730164:user/",
            "arn:aws:sts::418295730164:assumed-role/only-role",
            "arn:aws:iam:us-east-1:418295730164:user/admin",
            "arn:aws:iam::418295730164:group/admins",
        ] {
            assert!(Subject::principal(bad).is_err(), "{bad}");
        }
        let Subject::Principal(p) = Subject::principal("arn:aws:iam::418295730164:role/r").unwrap()
        else {
            panic!()
        };
        assert!(p.is_role);
    }

    #[test]
    fn ips_are_checked() {
        assert!(Subject::ip("198.51.100.73").is_ok());
        assert!(Subject::ip("2001:db8::1").is_ok());
        assert!(Subject::ip("198.51.100.0/24").is_err());
        assert!(Subject::ip("198.51.100.300").is_err());
    }

    #[test]
    fn matching() {
        let rec = br#"{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::418295730164:assumed-role/ci-deploy/s1","accessKeyId":"ASIAWCZC6J72J4HZRFJS","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::418295730164:role/ci-deploy"}}},"sourceIPAddress":"2001:db8:0::1","eventName":"X"}"#;
        let ev = Event::from_json(rec).unwrap();
        let key = access_key_of(&ev);
        assert_eq!(key, Some("ASIAWCZC6J72J4HZRFJS"));
        assert!(Subject::access_key("ASIAWCZC6J72J4HZRFJS")
            .unwrap()
            .matches(&ev, key));
        assert!(Subject::ip("2001:db8::1").unwrap().matches(&ev, key));
        for arn in [
            "arn:aws:iam::418295730164:role/ci-deploy",
            "arn:aws:sts::418295730164:assumed-role/ci-deploy/s1",
        ] {
            assert!(Subject::principal(arn).unwrap().matches(&ev, key), "{arn}");
        }
        assert!(
            !Subject::principal("arn:aws:sts::418295730164:assumed-role/ci-deploy/s2")
                .unwrap()
                .matches(&ev, key)
        );
        let none = Event::from_json(br#"{"eventName":"RotateKey"}"#).unwrap();
        assert_eq!(access_key_of(&none), None);
    }
}
