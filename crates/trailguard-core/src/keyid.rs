//! What an AWS unique identifier tells without asking AWS: its kind, from the 4-letter
//! prefix, and for access key ids of the current format the account that owns it.
//!
//! The account is encoded in the base32 body (RFC 4648 alphabet `A-Z2-7`) after the
//! prefix: decode 10 characters to 6 bytes (well, 50 bits, the first 48 used), read
//! them as a big-endian integer `z`; the account is `(z & 0x7fff_ffff_ff80) >> 7`.
//! The top bit is set in every id of this format (ids issued since about 2019, whose
//! fifth character is `Q`-`Z` or `2`-`7`); older ids (`AKIAI...`, `AKIAJ...`) do not
//! encode the account at all, and saying so is better than printing a wrong one.
//! (Published by Aidan Steele, 2020, and corrected by Tal Be'ery, 2021.)

use std::fmt;

/// What kind of thing a prefix names (IAM's "unique identifier prefixes").
pub const PREFIXES: [(&str, &str); 12] = [
    ("ABIA", "AWS STS service bearer token"),
    ("ACCA", "context-specific credential"),
    ("AGPA", "IAM group"),
    ("AIDA", "IAM user"),
    ("AIPA", "Amazon EC2 instance profile"),
    ("AKIA", "access key (long-term, IAM user or root)"),
    ("ANPA", "managed policy"),
    ("ANVA", "version in a managed policy"),
    ("APKA", "public key"),
    ("AROA", "IAM role"),
    ("ASCA", "certificate"),
    ("ASIA", "temporary access key (AWS STS session credentials)"),
];

/// What an identifier says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: String,
    pub prefix: String,
    /// The kind the prefix names, `None` for an unknown prefix.
    pub kind: Option<&'static str>,
    /// The account id, when the identifier encodes one.
    pub account: Option<String>,
    /// Why there is no account: older format, not base32, too short.
    pub no_account_reason: Option<&'static str>,
}

/// Why a string is not an AWS identifier at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyIdError {
    #[error("an AWS identifier is 16 to 128 characters, upper-case letters and digits (got {0} characters)")]
    Length(usize),
    #[error("an AWS identifier holds only upper-case letters and digits")]
    Characters,
}

impl fmt::Display for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id)
    }
}

/// Decodes `id` (no AWS call). Fails only for strings that cannot be AWS identifiers.
pub fn decode(id: &str) -> Result<KeyInfo, KeyIdError> {
    let id = id.trim();
    if !(16..=128).contains(&id.len()) {
        return Err(KeyIdError::Length(id.chars().count()));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(KeyIdError::Characters);
    }
    let prefix = &id[..4];
    let kind = PREFIXES.iter().find(|(p, _)| *p == prefix).map(|(_, k)| *k);
    let (account, no_account_reason) = match account_of(&id[4..]) {
        Ok(a) => (Some(a), None),
        Err(reason) => (None, Some(reason)),
    };
    Ok(KeyInfo {
        id: id.to_owned(),
        prefix: prefix.to_owned(),
        kind,
        account,
        no_account_reason,
    })
}

/// The account encoded in the body of an identifier (what follows the prefix).
fn account_of(body: &str) -> Result<String, &'static str> {
    let head = body.get(..10).ok_or("too short to encode an account")?;
    let mut bits: u64 = 0;
    for c in head.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return Err("not base32 after the prefix: does not encode an account"),
        };
        bits = (bits << 5) | u64::from(v);
    }
    // 50 bits read; the first 48 are the 6 bytes.
    let z = bits >> 2;
    if z & (1 << 47) == 0 {
        return Err("older format (issued before about 2019): does not encode the account");
    }
    Ok(format!("{:012}", (z & 0x7fff_ffff_ff80) >> 7))
}

/// True for the prefixes of access key ids (`AKIA` long-term, `ASIA` temporary).
pub fn is_access_key_prefix(id: &str) -> bool {
    id.starts_with("AKIA") || id.starts_with("ASIA")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_published_example_and_the_incident_keys() {
        let i = decode("ASIAY34FZKBOKMUTVV7A").unwrap();
        assert_eq!(i.account.as_deref(), Some("609629065308"));
        assert_eq!(i.prefix, "ASIA");
        assert!(i.kind.unwrap().contains("temporary"));
        for key in [
            "AKIAWCZC6J72ODEC6IFU",
            "AKIAWCZC6J72CNUTOL7P",
            "ASIAWCZC6J72J4HZRFJS",
        ] {
            assert_eq!(
                decode(key).unwrap().account.as_deref(),
                Some("418295730164")
            );
        }
    }

    #[test]
    fn older_format_says_so() {
        for key in ["AKIAIOSFODNN7EXAMPLE", "AKIAJ2Q3EXAMPLE7ABCD"] {
            let i = decode(key).unwrap();
            assert!(i.account.is_none(), "{key}");
            assert!(i.no_account_reason.unwrap().contains("older format"));
        }
    }

    #[test]
    fn kinds_and_bad_input() {
        assert_eq!(
            decode("AROAWCZC6J72MT4NAOIHV").unwrap().kind,
            Some("IAM role")
        );
        assert_eq!(decode("ZZZZWCZC6J72MT4NAOIHV").unwrap().kind, None);
        assert!(matches!(decode("AKIA123"), Err(KeyIdError::Length(7))));
        assert_eq!(decode("akiawczc6j72odec6ifu"), Err(KeyIdError::Characters));
        // Digits 0, 1, 8, 9 are not base32: no account, but still an identifier.
        let i = decode("AKIA0000000000000000").unwrap();
        assert!(i.account.is_none());
    }
}
