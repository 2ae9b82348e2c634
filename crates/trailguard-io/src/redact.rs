//! The last line of defence: no alert leaves with a credential in it.
//!
//! Rules may not name credential fields (core refuses them when a rule loads), but an
//! alert still carries text that came from a log record: a summary quoting request
//! parameters, a user agent, context copied from whole objects, error messages. A
//! record can hold a secret access key, a session token, a password or a private key
//! anywhere in that text: an attacker can even put one there on purpose. So every
//! alert is passed through [`redact_alert`] before it is written, routed, queued or
//! sent, and whatever looks like a credential becomes `[redacted]`:
//!
//! - **By key, in JSON** (the alert's context): the value of any key whose name says
//!   credential (`secretAccessKey`, `aws_secret_access_key`, `sessionToken`,
//!   `x-amz-security-token`, `password`, `newPassword`, `masterUserPassword`,
//!   `privateKey`, `clientSecret`, ...), at any depth, in arrays too. Booleans and
//!   nulls are kept (`passwordResetRequired: true` is not a secret), and so are keys
//!   that only describe one (`...Policy`, `...Required`, `...LastUsed`, `...Length`).
//! - **By key, in text**: `key: value`, `key=value`, `"key":"value"` and the same inside
//!   escaped JSON strings (`\"password\":\"...\"`, at any depth of escaping), in every
//!   string of the alert. A quoted value is cut at its own closing quote (an escaped
//!   quote inside it does not end it); an unquoted one at a space or delimiter.
//!   `key value` (a space only) counts when the value looks like a credential.
//! - **By shape**: PEM private keys (`-----BEGIN ... PRIVATE KEY-----` to the matching
//!   `END` line, or to the end of the text), AWS session tokens (`IQoJb3JpZ2lu...`,
//!   `FwoGZXIvYXdz...`, `AQoDYXdz...`) and 40-character runs shaped like a secret access
//!   key (upper and lower case letters, digits and `/` or `+`) wherever they are.
//!
//! Over-redacting a harmless value is the accepted cost; the alert keeps its rule,
//! actor, access key *id* (not a secret: it names the key to disable) and event ids.

use serde_json::Value;
use trailguard_core::Alert;

/// What a redacted value becomes.
pub const REDACTED: &str = "[redacted]";

/// Credential words, matched in key names lowercased with `_` and `-` removed.
const SECRET_WORDS: [&str; 10] = [
    "secretaccesskey",
    "secretkey",
    "sessiontoken",
    "securitytoken",
    "password",
    "passwd",
    "privatekey",
    "clientsecret",
    "accesstoken",
    "refreshtoken",
];

/// Key names ending so describe a credential without holding it.
const DESCRIBING_SUFFIXES: [&str; 12] = [
    "policy",
    "required",
    "lastused",
    "length",
    "reuseprevention",
    "age",
    "expiration",
    "expiry",
    "expiresat",
    "enabled",
    "type",
    "id",
];

/// Prefixes of AWS STS session tokens (base64 of their binary header).
const TOKEN_PREFIXES: [&str; 4] = ["IQoJb3JpZ2lu", "FwoGZXIvYXdz", "FQoGZXIvYXdz", "AQoDYXdz"];

/// Whether a key name (JSON key, header, query parameter) holds a credential.
pub fn is_secret_key(key: &str) -> bool {
    // Asked of every word of every string of every alert: normalised on the stack.
    let mut buf = [0u8; 128];
    let mut n = 0;
    for b in key.bytes().filter(|b| *b != b'_' && *b != b'-') {
        let Some(slot) = buf.get_mut(n) else {
            return is_secret_key_long(key);
        };
        *slot = b.to_ascii_lowercase();
        n += 1;
    }
    let norm = &buf[..n];
    SECRET_WORDS
        .iter()
        .any(|w| norm.windows(w.len()).any(|x| x == w.as_bytes()))
        && !DESCRIBING_SUFFIXES
            .iter()
            .any(|s| norm.ends_with(s.as_bytes()))
}

/// [`is_secret_key`] for keys too long for its buffer.
fn is_secret_key_long(key: &str) -> bool {
    let norm: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SECRET_WORDS.iter().any(|w| norm.contains(w))
        && !DESCRIBING_SUFFIXES.iter().any(|s| norm.ends_with(s))
}

/// Redacts every credential in `alert` (see the module documentation). Returns how
/// many values were redacted.
pub fn redact_alert(alert: &mut Alert) -> usize {
    let Ok(mut value) = serde_json::to_value(&*alert) else {
        return 0; // an Alert always serialises; nothing to do otherwise
    };
    let n = redact_value(&mut value);
    if n > 0 {
        // Redaction turns strings into strings and only under keys no Alert field is
        // named after, so the shape is unchanged and this cannot fail.
        if let Ok(redacted) = serde_json::from_value(value) {
            *alert = redacted;
        }
    }
    n
}

/// [`redact_alert`] for each alert, in parallel (a run can raise 100,000 alerts, and
/// each is walked whole); the total redacted.
pub fn redact_alerts(alerts: &mut [Alert]) -> usize {
    use rayon::prelude::*;
    alerts.par_iter_mut().map(redact_alert).sum()
}

/// Redacts credentials in a JSON value in place: values under credential keys, and
/// credentials inside every string. Returns how many were redacted.
pub fn redact_value(value: &mut Value) -> usize {
    match value {
        Value::String(s) => match redact_text(s) {
            Some(r) => {
                *s = r;
                1
            }
            None => 0,
        },
        Value::Array(items) => items.iter_mut().map(redact_value).sum(),
        Value::Object(map) => map
            .iter_mut()
            .map(|(k, v)| {
                if is_secret_key(k) {
                    blank(v)
                } else {
                    redact_value(v)
                }
            })
            .sum(),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

/// Every string and number under a credential key becomes [`REDACTED`].
fn blank(value: &mut Value) -> usize {
    match value {
        Value::String(s) if s == REDACTED || s.is_empty() => 0,
        Value::String(_) | Value::Number(_) => {
            *value = Value::String(REDACTED.to_owned());
            1
        }
        Value::Array(items) => items.iter_mut().map(blank).sum(),
        Value::Object(map) => map.values_mut().map(blank).sum(),
        Value::Null | Value::Bool(_) => 0,
    }
}

/// `text` with its credentials redacted, or `None` when it holds none.
pub fn redact_text(text: &str) -> Option<String> {
    let mut ranges = Vec::new();
    private_keys(text, &mut ranges);
    keyed_values(text, &mut ranges);
    shaped_tokens(text, &mut ranges);
    if ranges.is_empty() {
        return None;
    }
    ranges.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in ranges {
        if end <= at {
            continue;
        }
        let start = start.max(at);
        out.push_str(&text[at..start]);
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(&text[at..]);
    (out != text).then_some(out)
}

/// `-----BEGIN <label>PRIVATE KEY-----` through its `-----END ...-----`, or to the end.
fn private_keys(text: &str, out: &mut Vec<(usize, usize)>) {
    let mut from = 0;
    while let Some(found) = text[from..].find("-----BEGIN ") {
        let start = from + found;
        let label_start = start + "-----BEGIN ".len();
        let Some(label_len) = text[label_start..].find("-----") else {
            break;
        };
        let label = &text[label_start..label_start + label_len];
        from = label_start + label_len + 5;
        if !label.contains("PRIVATE KEY") {
            continue;
        }
        let end = match text[from..].find("-----END ") {
            Some(e) => {
                let after = from + e + "-----END ".len();
                text[after..]
                    .find("-----")
                    .map_or(text.len(), |c| after + c + 5)
            }
            None => text.len(),
        };
        out.push((start, end));
        from = end;
    }
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'/' || b == b'+' || b == b'='
}

/// Ends an unquoted value.
fn is_stop(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b'"' | b'\'' | b',' | b';' | b'&' | b'}' | b']' | b')' | b'<' | b'>' | b'\\'
        )
}

/// The value after each credential key name in `text`.
fn keyed_values(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !is_key_byte(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_key_byte(b[i]) {
            i += 1;
        }
        if is_secret_key(&text[start..i]) {
            if let Some(range) = value_after(b, i) {
                out.push(range);
                i = range.1;
            }
        }
    }
}

/// The byte range of the value following a key that ends at `at`, if there is one.
fn value_after(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut i = at;
    // The key's closing quote, escaped or not.
    while i < b.len() && matches!(b[i], b'\\' | b'"' | b'\'') {
        i += 1;
    }
    let spaces_from = i;
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    let explicit = i < b.len() && (b[i] == b':' || b[i] == b'=');
    if explicit {
        i += 1;
        if i < b.len() && b[i] == b'>' {
            i += 1; // `=>`
        }
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
    } else if i == spaces_from {
        return None; // `passwordPolicy.x`, `password.`: no value follows
    }
    // An opening quote, maybe escaped (`\"`, `\\\"`): n backslashes then the quote.
    let mut j = i;
    while j < b.len() && b[j] == b'\\' {
        j += 1;
    }
    if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
        let (n, quote) = (j - i, b[j]);
        let value_start = j + 1;
        let mut k = value_start;
        while k < b.len() {
            if b[k] == quote {
                let mut slashes = 0;
                while k - slashes > value_start && b[k - 1 - slashes] == b'\\' {
                    slashes += 1;
                }
                if slashes == n {
                    let end = k - n;
                    return keep_value(b, value_start, end, explicit);
                }
            }
            k += 1;
        }
        return keep_value(b, value_start, b.len(), explicit);
    }
    let mut k = i;
    while k < b.len() && !is_stop(b[k]) {
        k += 1;
    }
    keep_value(b, i, k, explicit)
}

/// The range, unless the value is empty, a literal (`true`, `null`), already
/// redacted, or (after a bare space) does not look like a credential.
fn keep_value(b: &[u8], start: usize, end: usize, explicit: bool) -> Option<(usize, usize)> {
    let v = std::str::from_utf8(&b[start..end]).ok()?;
    let t = v.trim();
    if t.is_empty()
        || t == REDACTED
        || ["true", "false", "null", "{", "["].contains(&t.to_ascii_lowercase().as_str())
        || t.starts_with('{')
        || t.starts_with('[')
    {
        return None;
    }
    if !explicit && (t.len() < 16 || !t.bytes().all(is_b64)) {
        return None;
    }
    Some((start, end))
}

/// Session tokens by their prefix, and secret-access-key-shaped runs.
fn shaped_tokens(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !is_b64(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_b64(b[i]) {
            i += 1;
        }
        if i - start < 40 {
            // Shorter than any token or secret key: nothing to look for in it.
            continue;
        }
        let run = &text[start..i];
        // A token may follow a path segment in the same run (`token/IQoJ...`).
        if let Some(at) = TOKEN_PREFIXES
            .iter()
            .filter_map(|p| run.find(p))
            .min()
            .filter(|at| run.len() - at >= 40)
        {
            out.push((start + at, i));
        } else if let Some((from, to)) = secret_key_in(run) {
            out.push((start + from, start + to));
        }
    }
}

/// A secret-access-key-shaped part of a base64 run: the whole run, or 40 characters
/// between `/`s or the run's ends (`user/<key>`, `<key>/more`).
fn secret_key_in(run: &str) -> Option<(usize, usize)> {
    let b = run.as_bytes();
    if b.len() < 40 {
        return None;
    }
    let starts = std::iter::once(0).chain((0..b.len()).filter(|i| b[*i] == b'/').map(|i| i + 1));
    for from in starts {
        let to = from + 40;
        if to <= b.len()
            && (to == b.len() || b[to] == b'/')
            && looks_like_secret_key(&run[from..to])
        {
            return Some((from, to));
        }
    }
    None
}

/// 40 characters of base64 with upper and lower case letters, a digit and a `/` or
/// `+`: the shape of an AWS secret access key (and rarely of anything else).
fn looks_like_secret_key(run: &str) -> bool {
    let b = run.as_bytes();
    b.len() == 40
        && !b.contains(&b'=')
        && b.iter().any(u8::is_ascii_uppercase)
        && b.iter().any(u8::is_ascii_lowercase)
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().any(|c| *c == b'/' || *c == b'+')
}

#[cfg(test)]
mod tests;
