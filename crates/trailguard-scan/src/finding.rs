//! What a scan reports. The secret itself is never kept: only its masked form.

use std::fmt;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Which rule a finding is reported under (SARIF rule ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// A key id with its secret access key next to it: a usable credential.
    #[serde(rename = "aws-access-key-pair")]
    KeyPair,
    /// A key id alone.
    #[serde(rename = "aws-access-key-id")]
    KeyId,
    /// A secret access key with no key id near it.
    #[serde(rename = "aws-secret-access-key")]
    Secret,
    /// A session token with no key id near it.
    #[serde(rename = "aws-session-token")]
    SessionToken,
}

impl Rule {
    pub const ALL: [Rule; 4] = [Rule::KeyPair, Rule::KeyId, Rule::Secret, Rule::SessionToken];

    pub fn id(self) -> &'static str {
        match self {
            Rule::KeyPair => "aws-access-key-pair",
            Rule::KeyId => "aws-access-key-id",
            Rule::Secret => "aws-secret-access-key",
            Rule::SessionToken => "aws-session-token",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Rule::KeyPair => "AWS access key id with its secret access key",
            Rule::KeyId => "AWS access key id",
            Rule::Secret => "AWS secret access key (no key id near it)",
            Rule::SessionToken => "AWS session token (no key id near it)",
        }
    }
}

/// How sure the scanner is that a finding is a live credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        })
    }
}

/// A secret as it may be shown: its first 4 characters and its length, `wJal…(40)`.
/// Built from the secret and the only thing kept of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masked(String);

impl Masked {
    pub fn new(secret: &[u8]) -> Self {
        let head: String = String::from_utf8_lossy(&secret[..secret.len().min(4)]).into_owned();
        Masked(format!("{head}…({})", secret.len()))
    }
}

impl fmt::Display for Masked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Masked {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A key id's secret (and session token) as found, kept only when the scan was asked
/// to (`--verify` signs one request with them) and never shown: no `Display`, no
/// `Serialize`, and `Debug` prints nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct LivePair {
    pub secret: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for LivePair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LivePair(<redacted>)")
    }
}

/// What `--verify` learned of a key pair from STS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// `live`, `refused` (STS does not take the pair), `unknown` (no answer that says),
    /// or `not-asked` (the account is on `--never-verify-account`).
    pub status: &'static str,
    /// The identity of a live pair, STS's error code, or why not asked.
    pub detail: String,
}

/// One credential in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The path as given on the command line, joined with what the walk found (no
    /// leading `./`).
    pub path: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub rule: Rule,
    pub key_id: Option<String>,
    /// The prefix's kind (`access key (long-term, ...)`), from `keyid`.
    pub key_kind: Option<&'static str>,
    /// The account the key id encodes (keys issued since about 2019).
    pub account: Option<String>,
    pub secret: Option<Masked>,
    pub session_token: Option<Masked>,
    pub confidence: Confidence,
    /// sha256 of the path and the key id (or of the path and the value's digest for a
    /// lone secret): stable across edits elsewhere in the file, for allowlists and
    /// baselines.
    pub fingerprint: String,
    /// For a finding in git history (`--git`): the first commit that holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitInfo>,
    /// With `--verify`: what STS said of the pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// The pair itself, only with `--verify` (see [`LivePair`]).
    #[serde(skip)]
    pub pair: Option<LivePair>,
}

/// The commit that brought a finding into a repository's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitInfo {
    /// The full commit id.
    pub id: String,
    pub author: String,
    pub email: String,
    /// The author date, RFC 3339 in the author's offset.
    pub date: String,
}

impl Finding {
    pub fn from_hit(path: &Path, hit: crate::detect::Hit, line: usize, column: usize) -> Self {
        // `./a` and `a` are one file: the same fingerprint whichever way it was named.
        let path = path.to_string_lossy();
        let path = path.strip_prefix("./").unwrap_or(&path).to_owned();
        let info = hit
            .key_id
            .as_deref()
            .and_then(|k| trailguard_core::keyid::decode(k).ok());
        let what = hit.key_id.clone().or(hit.value_digest).unwrap_or_default();
        Finding {
            fingerprint: sha256_hex(&[path.as_bytes(), what.as_bytes()]),
            path,
            line: line + 1,
            column: column + 1,
            rule: hit.rule,
            key_kind: info.as_ref().and_then(|i| i.kind),
            account: info.and_then(|i| i.account),
            key_id: hit.key_id,
            secret: hit.secret,
            session_token: hit.session_token,
            confidence: hit.confidence,
            commit: None,
            verification: None,
            pair: hit.pair,
        }
    }
}

/// Hex sha256 of the parts, each followed by a NUL (so `a`+`bc` differs from `ab`+`c`).
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
