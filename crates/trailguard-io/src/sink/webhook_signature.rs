//! The signature of the generic webhook: `X-Trailguard-Signature: sha256=<hex>`, an
//! HMAC-SHA256 over `"<timestamp>.<body>"` keyed with a shared secret, the timestamp
//! (unix seconds) being sent as `X-Trailguard-Timestamp`.
//!
//! Why this shape (Stripe's): signing the timestamp with the body lets a receiver
//! refuse a captured request replayed later (its timestamp is old, and cannot be
//! changed without the secret), and the `sha256=` prefix leaves room for another
//! algorithm without a new header. [`verify_signature`] is what a receiver written in
//! Rust calls; `docs/architecture.md` shows the same check in Python.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Secret;

/// The header holding the unix time (seconds) the request was signed at.
pub const TIMESTAMP_HEADER: &str = "X-Trailguard-Timestamp";
/// The header holding `sha256=<64 lowercase hex digits>`.
pub const SIGNATURE_HEADER: &str = "X-Trailguard-Signature";

type HmacSha256 = Hmac<Sha256>;

/// Why a request's signature was refused. Never contains the secret or the expected
/// signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The timestamp header is not a whole number of seconds.
    #[error("the timestamp is not a number of seconds since 1970")]
    BadTimestamp,
    /// The signature header is not `sha256=` followed by 64 hex digits.
    #[error("the signature header is not `sha256=` followed by 64 hex digits")]
    BadHeader,
    /// The signature does not match the body, timestamp and secret.
    #[error("the signature does not match")]
    Mismatch,
    /// The signature matches, but the timestamp is further from now than the
    /// tolerance: a replay, or a clock far off.
    #[error("the timestamp is {age_secs}s from now, beyond the tolerance of {tolerance_secs}s")]
    Stale { age_secs: u64, tolerance_secs: u64 },
}

fn mac(secret: &Secret, timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Trailguard-Signature` value for `body` sent at `timestamp` (unix seconds):
/// `sha256=` and the lowercase hex HMAC-SHA256 of `"<timestamp>.<body>"`.
pub fn sign(secret: &Secret, timestamp: u64, body: &[u8]) -> String {
    let tag = mac(secret, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xF)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Checks a request as a receiver gets it: `timestamp` and `header` are the raw values
/// of `X-Trailguard-Timestamp` and `X-Trailguard-Signature`, `body` the raw body bytes
/// (before any JSON parsing). The signature is compared in constant time; then the
/// timestamp must be within `tolerance` of `now`, either way (5 minutes is usual).
///
/// A [`SignatureError::Stale`] is only returned for a correctly signed request, so it
/// means a replay (or a skewed clock), never a forgery.
pub fn verify_signature(
    secret: &Secret,
    timestamp: &str,
    body: &[u8],
    header: &str,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let timestamp = timestamp.trim();
    if timestamp.is_empty()
        || timestamp.len() > 19
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(SignatureError::BadTimestamp);
    }
    let sent: u64 = timestamp
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let hex = header
        .trim()
        .strip_prefix("sha256=")
        .filter(|h| h.len() == 64)
        .ok_or(SignatureError::BadHeader)?;
    let mut given = [0u8; 32];
    for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
        let (hi, lo) = hex_value(pair[0])
            .zip(hex_value(pair[1]))
            .ok_or(SignatureError::BadHeader)?;
        given[i] = hi << 4 | lo;
    }
    mac(secret, timestamp, body)
        .verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)?;
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let age_secs = now.abs_diff(sent);
    if age_secs > tolerance.as_secs() {
        return Err(SignatureError::Stale {
            age_secs,
            tolerance_secs: tolerance.as_secs(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn known_answer() {
        // Computed independently (OpenSSL and Python's hmac agree):
        //   printf '%s' '1714564800.{"id":"a1"}' |
        //   openssl dgst -sha256 -hmac 'whsec_test_0123456789abcdef'
        let secret = Secret::new("whsec_test_0123456789abcdef");
        let sig = sign(&secret, 1_714_564_800, br#"{"id":"a1"}"#);
        assert_eq!(sig.len(), 7 + 64);
        assert_eq!(sig, KNOWN);
    }

    const KNOWN: &str = "sha256=0a1152045507c9d212f0e2f33292b4ee70467996bb07e42515db0213ff595222";

    #[test]
    fn round_trip_and_refusals() {
        let secret = Secret::new("whsec_test_0123456789abcdef");
        let body = br#"{"id":"a1","summary":"x"}"#;
        let ts = 1_714_564_800;
        let sig = sign(&secret, ts, body);
        let ok = |t: &str, b: &[u8], h: &str, now: u64| {
            verify_signature(&secret, t, b, h, at(now), FIVE_MINUTES)
        };
        assert_eq!(ok("1714564800", body, &sig, ts), Ok(()));
        assert_eq!(
            ok(" 1714564800 ", body, &format!(" {sig} "), ts + 300),
            Ok(())
        );
        assert_eq!(
            ok(
                "1714564800",
                body,
                &sig.to_uppercase().replace("SHA256=", "sha256="),
                ts
            ),
            Ok(())
        );
        assert_eq!(
            ok("1714564800", body, &sig, ts - 300),
            Ok(()),
            "clock skew either way"
        );
        // Tampered body, timestamp moved, wrong secret.
        assert_eq!(
            ok("1714564800", br#"{"id":"a2","summary":"x"}"#, &sig, ts),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            ok("1714564801", body, &sig, ts),
            Err(SignatureError::Mismatch)
        );
        let other = Secret::new("whsec_other_0123456789abcdef");
        assert_eq!(
            verify_signature(&other, "1714564800", body, &sig, at(ts), FIVE_MINUTES),
            Err(SignatureError::Mismatch)
        );
        // Stale (a replay) and from the future.
        assert_eq!(
            ok("1714564800", body, &sig, ts + 301),
            Err(SignatureError::Stale {
                age_secs: 301,
                tolerance_secs: 300
            })
        );
        assert!(matches!(
            ok("1714564800", body, &sig, ts - 3600),
            Err(SignatureError::Stale { age_secs: 3600, .. })
        ));
        // Malformed headers.
        for bad_ts in ["", "-1", "1.5", "abc", "99999999999999999999", "0x10"] {
            assert_eq!(
                ok(bad_ts, body, &sig, ts),
                Err(SignatureError::BadTimestamp),
                "{bad_ts}"
            );
        }
        for bad in [
            "",
            "sha256=",
            &sig[7..],
            &sig[..70],
            &format!("{sig}0"),
            &sig.replace("sha256=", "sha1="),
            &format!("sha256={}", "g".repeat(64)),
        ] {
            assert_eq!(
                ok("1714564800", body, bad, ts),
                Err(SignatureError::BadHeader),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_never_show_the_secret() {
        let secret = Secret::new("whsec_test_0123456789abcdef");
        let sig = sign(&secret, 10, b"x");
        for e in [
            verify_signature(&secret, "10", b"y", &sig, at(10), FIVE_MINUTES).unwrap_err(),
            verify_signature(&secret, "10", b"x", &sig, at(10_000), FIVE_MINUTES).unwrap_err(),
        ] {
            for shown in [e.to_string(), format!("{e:?}")] {
                assert!(
                    !shown.contains("whsec") && !shown.contains(&sig[7..]),
                    "{shown}"
                );
            }
        }
    }
}
