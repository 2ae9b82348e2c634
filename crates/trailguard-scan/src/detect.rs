//! Finding AWS credentials in a buffer of bytes: one Aho-Corasick pass over the key
//! prefixes and the secret keywords (the prefilter: most files hold none and cost only
//! this pass), then exact validation of each hit, then pairing of key ids with the
//! secrets and session tokens near them.
//!
//! Works on bytes, not text: invalid UTF-8, NULs and one-line minified files are all
//! just bytes around a key.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::finding::{Confidence, LivePair, Masked, Rule};

/// Key id prefixes that are access keys or bearer credentials (not IAM unique ids like
/// `AIDA`/`AROA`, which name a user or role and are not secret).
const KEY_PREFIXES: [&str; 4] = ["AKIA", "ASIA", "ABIA", "ACCA"];
/// Keywords after which a secret access key is assigned (matched ignoring ASCII case).
const SECRET_KEYWORDS: [&str; 5] = [
    "secret_access_key",
    "secretaccesskey",
    "secret-access-key",
    "aws_secret_key",
    "secret_key",
];
/// Keywords after which a session token is assigned.
const TOKEN_KEYWORDS: [&str; 4] = [
    "session_token",
    "sessiontoken",
    "security_token",
    "session-token",
];
/// Words on a key id's line that make it a credential, not a mention (Medium).
const KEY_CONTEXT: [&[u8]; 4] = [b"access_key", b"accesskey", b"access-key", b"key_id"];

/// Two hits pair when at most this many lines apart...
pub const PAIR_LINES: usize = 4;
/// ...and at most this many bytes apart (a minified file is one line).
pub const PAIR_BYTES: usize = 2048;
/// A secret access key is 40 characters of base64; random ones have 4.5 bits or so of
/// Shannon entropy per character, placeholders (`xxxx`, `<your secret here>`) far less.
const SECRET_ENTROPY_FLOOR: f64 = 3.5;
/// Session tokens are long; anything shorter after the keyword is a placeholder.
const TOKEN_MIN_LEN: usize = 100;

/// One credential found in a buffer, with its position relative to the buffer start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub offset: usize,
    /// 0-based line and 0-based column in characters, relative to the buffer start.
    pub line: usize,
    pub column: usize,
    pub rule: Rule,
    pub key_id: Option<String>,
    pub secret: Option<Masked>,
    pub session_token: Option<Masked>,
    pub confidence: Confidence,
    /// For orphan secrets and tokens: a digest of the value, so a finding can be
    /// allowlisted by fingerprint without the value itself ever being stored.
    pub value_digest: Option<String>,
    /// The pair itself, only from a scanner that keeps pairs (`--verify`).
    pub pair: Option<LivePair>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pat {
    Key,
    Secret,
    Token,
}

/// The compiled prefilter; build once, share between threads.
pub struct Scanner {
    ac: AhoCorasick,
    kinds: Vec<Pat>,
    keep_pairs: bool,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

struct Raw {
    offset: usize,
    pat: Pat,
    value: Vec<u8>,
}

impl Scanner {
    pub fn new() -> Self {
        let mut pats: Vec<&str> = Vec::new();
        let mut kinds = Vec::new();
        for p in KEY_PREFIXES {
            pats.push(p);
            kinds.push(Pat::Key);
        }
        for p in SECRET_KEYWORDS {
            pats.push(p);
            kinds.push(Pat::Secret);
        }
        for p in TOKEN_KEYWORDS {
            pats.push(p);
            kinds.push(Pat::Token);
        }
        // Case-insensitive for the keywords; key prefixes are then checked to be upper
        // case in validation.
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&pats)
            .expect("static patterns compile");
        Scanner {
            ac,
            kinds,
            keep_pairs: false,
        }
    }

    /// A scanner whose key-pair findings carry the pair itself ([`LivePair`]), for
    /// `--verify`. Without it, no secret outlives the buffer it was found in.
    pub fn keeping_pairs(mut self) -> Self {
        self.keep_pairs = true;
        self
    }

    /// Every credential in `buf`. `credentials_file` raises a lone key id to Medium (a
    /// `.env` or `~/.aws/credentials` holds keys to use, not to mention).
    pub fn scan(&self, buf: &[u8], credentials_file: bool) -> Vec<Hit> {
        let mut raws = Vec::new();
        for m in self.ac.find_iter(buf) {
            let pat = self.kinds[m.pattern().as_usize()];
            let found = match pat {
                Pat::Key => key_id_at(buf, m.start()).map(|end| (m.start(), end)),
                Pat::Secret | Pat::Token => assigned_value(buf, m.end()),
            };
            let Some((start, end)) = found else { continue };
            if pat == Pat::Key {
                if let Some((s, e)) = positional_secret(buf, end) {
                    if is_secret(&buf[s..e]) {
                        raws.push(Raw {
                            offset: s,
                            pat: Pat::Secret,
                            value: buf[s..e].to_vec(),
                        });
                    }
                }
            }
            let value = buf[start..end].to_vec();
            let keep = match pat {
                Pat::Key => true,
                Pat::Secret => is_secret(&value),
                Pat::Token => value.len() >= TOKEN_MIN_LEN && !contains(&value, b"EXAMPLE"),
            };
            if keep {
                raws.push(Raw {
                    offset: start,
                    pat,
                    value,
                });
            }
        }
        if raws.is_empty() {
            return Vec::new();
        }
        // A positional secret was pushed with its key: back in offset order, which
        // `positions` and the pairing window need.
        raws.sort_by_key(|r| r.offset);
        raws.dedup_by_key(|r| r.offset);
        let positions = positions(buf, raws.iter().map(|r| r.offset));
        pair(buf, &raws, &positions, credentials_file, self.keep_pairs)
    }
}

/// Pairs each key id with the nearest secret and token; what is left unpaired is
/// reported on its own.
fn pair(
    buf: &[u8],
    raws: &[Raw],
    pos: &[(usize, usize)],
    credentials_file: bool,
    keep_pairs: bool,
) -> Vec<Hit> {
    let near = |a: usize, b: usize| {
        raws[a].offset.abs_diff(raws[b].offset) <= PAIR_BYTES
            && pos[a].0.abs_diff(pos[b].0) <= PAIR_LINES
    };
    let mut used = vec![false; raws.len()];
    let mut hits = Vec::new();
    for (i, r) in raws.iter().enumerate() {
        if r.pat != Pat::Key {
            continue;
        }
        // Hits are in offset order: only those within PAIR_BYTES are looked at, so a
        // file dense with key ids stays linear.
        let lo = raws.partition_point(|x| x.offset + PAIR_BYTES < r.offset);
        let hi = raws.partition_point(|x| x.offset <= r.offset + PAIR_BYTES);
        let nearest = |want: Pat, used: &[bool]| {
            (lo..hi)
                .filter(|&j| raws[j].pat == want && !used[j] && near(i, j))
                .min_by_key(|&j| raws[j].offset.abs_diff(r.offset))
        };
        let secret = nearest(Pat::Secret, &used);
        if let Some(j) = secret {
            used[j] = true;
        }
        let token = nearest(Pat::Token, &used);
        if let Some(j) = token {
            used[j] = true;
        }
        let key = String::from_utf8_lossy(&r.value).into_owned();
        let confidence = if secret.is_some() {
            Confidence::High
        } else if credentials_file || token.is_some() || line_has_context(buf, r.offset) {
            Confidence::Medium
        } else {
            Confidence::Low
        };
        hits.push(Hit {
            offset: r.offset,
            line: pos[i].0,
            column: pos[i].1,
            rule: if secret.is_some() {
                Rule::KeyPair
            } else {
                Rule::KeyId
            },
            key_id: Some(key),
            secret: secret.map(|j| Masked::new(&raws[j].value)),
            session_token: token.map(|j| Masked::new(&raws[j].value)),
            confidence,
            value_digest: None,
            pair: match secret {
                Some(j) if keep_pairs => Some(LivePair {
                    secret: String::from_utf8_lossy(&raws[j].value).into_owned(),
                    session_token: token
                        .map(|t| String::from_utf8_lossy(&raws[t].value).into_owned()),
                }),
                _ => None,
            },
        });
    }
    for (j, r) in raws.iter().enumerate() {
        if r.pat == Pat::Key || used[j] {
            continue;
        }
        hits.push(Hit {
            offset: r.offset,
            line: pos[j].0,
            column: pos[j].1,
            rule: if r.pat == Pat::Secret {
                Rule::Secret
            } else {
                Rule::SessionToken
            },
            key_id: None,
            secret: (r.pat == Pat::Secret).then(|| Masked::new(&r.value)),
            session_token: (r.pat == Pat::Token).then(|| Masked::new(&r.value)),
            confidence: Confidence::Medium,
            value_digest: Some(crate::finding::sha256_hex(&[&r.value])),
            pair: None,
        });
    }
    hits.sort_by_key(|h| h.offset);
    hits
}

fn is_b32(b: u8) -> bool {
    b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)
}

/// A key id starting at `at` (prefix already matched, any case): upper-case prefix,
/// 16 base32 characters, bounded by non-alphanumerics, not a documentation example.
/// Returns the end offset.
fn key_id_at(buf: &[u8], at: usize) -> Option<usize> {
    let end = at + 20;
    let id = buf.get(at..end)?;
    if !KEY_PREFIXES.iter().any(|p| id.starts_with(p.as_bytes())) {
        return None;
    }
    if !id[4..].iter().all(|&b| is_b32(b)) || id.ends_with(b"EXAMPLE") {
        return None;
    }
    if buf.get(end).is_some_and(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    if at > 0 && buf[at - 1].is_ascii_alphanumeric() {
        // `\nAKIA...` inside a JSON string (a notebook's source lines) is bounded too.
        let escaped = at >= 2 && buf[at - 2] == b'\\' && matches!(buf[at - 1], b'n' | b't' | b'r');
        if !escaped {
            return None;
        }
    }
    Some(end)
}

fn is_value_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b'=')
}

/// The value assigned after a keyword that ended at `at`: the rest of the name, then
/// quotes and spaces, `=`, `:` or `=>`, quotes and spaces again, then the value up to
/// the first byte that cannot be in base64. `None` when there is no assignment.
fn assigned_value(buf: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut i = at;
    while i < buf.len() && (buf[i].is_ascii_alphanumeric() || buf[i] == b'_') && i - at < 32 {
        i += 1;
    }
    let skip = |i: &mut usize| {
        let start = *i;
        while *i < buf.len()
            && matches!(buf[*i], b' ' | b'\t' | b'"' | b'\'' | b'\\' | b'`')
            && *i - start < 8
        {
            *i += 1;
        }
    };
    let name_end = i;
    skip(&mut i);
    match buf.get(i) {
        Some(b'=') => {
            i += 1;
            if buf.get(i) == Some(&b'>') {
                i += 1;
            }
        }
        Some(b':') => i += 1,
        // `aws configure set aws_secret_access_key VALUE`, `--secret-access-key VALUE`:
        // separated by blanks only.
        Some(_) if i > name_end && matches!(buf[name_end], b' ' | b'\t') => {}
        _ => return None,
    }
    skip(&mut i);
    let start = i;
    while i < buf.len() && is_value_byte(buf[i]) && i - start < 4096 {
        i += 1;
    }
    (i > start).then_some((start, i))
}

/// 40 characters of base64 that look random: the entropy floor, both cases (base64 of
/// random bytes mixes them: all 40 in one case is about 1 in 10^9; hex digests and
/// words do not), not a documentation example.
fn is_secret(value: &[u8]) -> bool {
    value.len() == 40
        && value.iter().all(|&b| is_value_byte(b))
        && entropy(value) >= SECRET_ENTROPY_FLOOR
        && value.iter().any(u8::is_ascii_uppercase)
        && value.iter().any(u8::is_ascii_lowercase)
        && !contains(value, b"EXAMPLE")
}

/// The secret passed right after a key id, as in `new BasicAWSCredentials("AKIA...",
/// "secret")` or `Credentials('AKIA...', 'secret')`: the key's closing quote, a comma,
/// the same quote around 40 characters.
fn positional_secret(buf: &[u8], key_end: usize) -> Option<(usize, usize)> {
    let q = *buf.get(key_end)?;
    if !matches!(q, b'"' | b'\'') {
        return None;
    }
    let mut i = key_end + 1;
    while buf.get(i).is_some_and(|b| *b == b' ') {
        i += 1;
    }
    if buf.get(i) != Some(&b',') {
        return None;
    }
    i += 1;
    while buf.get(i).is_some_and(|b| *b == b' ') {
        i += 1;
    }
    if buf.get(i) != Some(&q) || buf.get(i + 41) != Some(&q) {
        return None;
    }
    Some((i + 1, i + 41))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// Shannon entropy in bits per byte.
pub fn entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

fn line_start(buf: &[u8], at: usize) -> usize {
    memchr::memrchr(b'\n', &buf[..at]).map_or(0, |i| i + 1)
}

/// Whether the key id's line (at most 200 bytes before it) names an access key.
fn line_has_context(buf: &[u8], at: usize) -> bool {
    let from = line_start(buf, at).max(at.saturating_sub(200));
    let before = buf[from..at].to_ascii_lowercase();
    KEY_CONTEXT.iter().any(|k| contains(&before, k))
}

/// (0-based line, 0-based column in characters) of each offset, offsets ascending.
/// Incremental: a one-line file with many hits costs one pass, not one per hit.
fn positions(buf: &[u8], offsets: impl Iterator<Item = usize>) -> Vec<(usize, usize)> {
    let (mut line, mut column, mut last) = (0, 0, 0);
    let mut out = Vec::new();
    for off in offsets {
        let between = &buf[last..off];
        match memchr::memrchr(b'\n', between) {
            Some(nl) => {
                line += memchr::memchr_iter(b'\n', between).count();
                column = chars(&between[nl + 1..]);
            }
            None => column += chars(between),
        }
        last = off;
        out.push((line, column));
    }
    out
}

/// Characters, not bytes: the bytes that start a UTF-8 sequence (an invalid byte
/// counts as one).
pub(crate) fn chars(b: &[u8]) -> usize {
    b.iter().filter(|&&c| (c & 0xC0) != 0x80).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AKIAWCZC6J72ODEC6IFU";
    const SECRET: &str = "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";

    fn scan(s: &str) -> Vec<Hit> {
        Scanner::new().scan(s.as_bytes(), false)
    }

    #[test]
    fn pairs_a_credentials_file() {
        let f = format!("[default]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n");
        let h = scan(&f);
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!(h[0].key_id.as_deref(), Some(KEY));
        assert_eq!((h[0].line, h[0].column), (1, 20));
        assert_eq!(h[0].confidence, Confidence::High);
        assert_eq!(h[0].rule, Rule::KeyPair);
        assert_eq!(h[0].secret.as_ref().unwrap().to_string(), "q8Zt…(40)");
    }

    #[test]
    fn contexts_of_secrets() {
        for f in [
            format!("AWS_ACCESS_KEY_ID={KEY}\nAWS_SECRET_ACCESS_KEY={SECRET}"),
            format!("{{\"AccessKeyId\": \"{KEY}\", \"SecretAccessKey\": \"{SECRET}\"}}"),
            format!("access_key = \"{KEY}\"\nsecret_key = \"{SECRET}\""),
            format!("const c={{accessKeyId:'{KEY}',secretAccessKey:'{SECRET}'}}"),
            format!("aws configure set aws_access_key_id {KEY}\naws configure set aws_secret_access_key {SECRET}"),
            format!("new BasicAWSCredentials(\"{KEY}\", \"{SECRET}\");"),
            format!("new AWS.Credentials('{KEY}','{SECRET}')"),
            format!("\"aws_secret_access_key = \\\"{SECRET}\\\"\\n\",\"\\nkey={KEY}\""),
        ] {
            let h = scan(&f);
            assert_eq!(h.len(), 1, "{f}: {h:?}");
            assert_eq!(h[0].confidence, Confidence::High, "{f}");
        }
    }

    #[test]
    fn lookalikes_do_not_fire() {
        for s in [
            "AKIAIOSFODNN7EXAMPLE",
            "AKIAWCZC6J72ODEXAMPLE",
            "AKIAWCZC6J72OEXAMPLE",
            "AIDAWCZC6J72ODEC6IFU",
            "AROAWCZC6J72ODEC6IFU",
            "XAKIAWCZC6J72ODEC6IFU",
            "AKIAWCZC6J72ODEC6IFUX",
            "AKIAWCZC6J72ODEC6IF",
            "AKIAWCZC6J72ODEC6I1U",
            "akiawczc6j72odec6ifu",
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "sha1 = da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "secret_key = da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "the secret_key field holds the key",
        ] {
            assert!(scan(s).is_empty(), "{s}");
        }
    }

    #[test]
    fn pairs_are_kept_only_when_asked_and_never_shown() {
        let text = format!("aws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n");
        let plain = Scanner::new().scan(text.as_bytes(), true);
        assert!(plain[0].pair.is_none());
        let kept = Scanner::new().keeping_pairs().scan(text.as_bytes(), true);
        assert_eq!(kept[0].pair.as_ref().unwrap().secret, SECRET);
        let f = crate::Finding::from_hit(
            std::path::Path::new("c"),
            kept.into_iter().next().unwrap(),
            0,
            0,
        );
        for shown in [format!("{f:?}"), serde_json::to_string(&f).unwrap()] {
            assert!(!shown.contains(SECRET), "{shown}");
        }
    }

    #[test]
    fn lone_key_confidence() {
        assert_eq!(
            scan(&format!("see {KEY} here"))[0].confidence,
            Confidence::Low
        );
        assert_eq!(
            scan(&format!("aws_access_key_id={KEY}"))[0].confidence,
            Confidence::Medium
        );
        let h = Scanner::new().scan(format!("x {KEY}").as_bytes(), true);
        assert_eq!(h[0].confidence, Confidence::Medium);
    }

    #[test]
    fn orphan_secret_and_session_token() {
        let tok = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD".repeat(3);
        let h = scan(&format!(
            "aws_access_key_id = ASIAWCZC6J72J4HZRFJS\naws_session_token = {tok}\n"
        ));
        assert_eq!(h.len(), 1);
        assert!(h[0].session_token.is_some());
        let h = scan(&format!("secret_access_key: {SECRET}"));
        assert_eq!(h[0].rule, Rule::Secret);
        assert!(h[0].value_digest.is_some());
    }

    #[test]
    fn a_file_dense_with_keys_stays_linear() {
        let line = format!("{KEY} aws_secret_access_key={SECRET} ").repeat(20_000);
        let start = std::time::Instant::now();
        let h = Scanner::new().scan(line.as_bytes(), false);
        assert_eq!(h.len(), 20_000);
        assert!(h.iter().all(|h| h.rule == Rule::KeyPair));
        assert_eq!(h[1].column, 84);
        assert!(start.elapsed().as_secs() < 20, "{:?}", start.elapsed());
    }

    #[test]
    fn columns_are_characters() {
        let h = scan(&format!("é ü {KEY}"));
        assert_eq!(h[0].column, 4);
    }
}
