//! One condition of a pattern field, and whether one leaf value satisfies it.
//!
//! String operators only ever match JSON strings; `numeric` only JSON numbers;
//! `anything-but` matches any present value that is not excluded, whatever its type
//! (so `null` and numbers pass a string `anything-but`), as EventBridge does.

use std::net::IpAddr;

use super::ip::{parse_ip, IpRange};
use super::wildcard::Wildcard;
use crate::json::Leaf;

#[derive(Debug, Clone)]
pub(crate) enum Condition {
    /// An exact string; `ip` is set when the string is an IP address, which then also
    /// matches other spellings of the same address.
    Str {
        value: String,
        ip: Option<IpAddr>,
    },
    /// An exact number, compared numerically (`300` matches `300.0`).
    Num(f64),
    Bool(bool),
    Null,
    Prefix(Affix),
    Suffix(Affix),
    /// Held lowercased.
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    AnythingBut(AnythingBut),
    Numeric(Range),
    /// `exists: true` matches any leaf; `exists: false` is decided by the field (no
    /// leaf at all), never by one leaf.
    Exists(bool),
    Cidr(IpRange),
}

/// A string an index can file a condition under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexKey<'a> {
    Exact(&'a str),
    Prefix(&'a str),
    Suffix(&'a str),
    /// `equals-ignore-case`, held lowercased: found by the value lowercased.
    IgnoreCase(&'a str),
}

#[derive(Debug, Clone)]
pub(crate) struct Affix {
    pub(crate) value: String,
    pub(crate) ignore_case: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum AnythingBut {
    Strings(Vec<(String, Option<IpAddr>)>),
    Numbers(Vec<f64>),
    Prefixes(Vec<String>),
    Suffixes(Vec<String>),
    /// Held lowercased.
    IgnoreCase(Vec<String>),
    Wildcards(Vec<Wildcard>),
}

/// A numeric range: `=` is a range whose bounds are both the value, inclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Range {
    pub(crate) low: Option<(f64, bool)>,
    pub(crate) high: Option<(f64, bool)>,
}

impl Condition {
    pub(crate) fn matches(&self, leaf: &Leaf<'_>) -> bool {
        match (self, leaf) {
            (Condition::Str { value, ip }, Leaf::Str(s)) => {
                value == s || ip.is_some_and(|ip| parse_ip(s) == Some(ip))
            }
            (Condition::Num(p), Leaf::Num(n)) => p == n,
            (Condition::Bool(p), Leaf::Bool(b)) => p == b,
            (Condition::Null, Leaf::Null) => true,
            (Condition::Prefix(a), Leaf::Str(s)) => a.is_prefix_of(s),
            (Condition::Suffix(a), Leaf::Str(s)) => a.is_suffix_of(s),
            (Condition::EqualsIgnoreCase(p), Leaf::Str(s)) => eq_ignore_case(s, p),
            (Condition::Wildcard(w), Leaf::Str(s)) => w.matches(s),
            (Condition::AnythingBut(ab), _) => !ab.excludes(leaf),
            (Condition::Numeric(r), Leaf::Num(n)) => r.contains(*n),
            (Condition::Exists(present), _) => *present,
            (Condition::Cidr(range), Leaf::Str(s)) => {
                parse_ip(s).is_some_and(|a| range.contains(a))
            }
            _ => false,
        }
    }

    /// The string this condition pins, when it is a plain exact string (indexable).
    pub(crate) fn exact_str(&self) -> Option<&str> {
        match self {
            Condition::Str { value, ip: None } => Some(value),
            _ => None,
        }
    }

    /// How the index can find events this condition may match, if it can.
    pub(crate) fn index_key(&self) -> Option<IndexKey<'_>> {
        match self {
            Condition::Str { value, ip: None } => Some(IndexKey::Exact(value)),
            Condition::Prefix(Affix {
                value,
                ignore_case: false,
            }) if !value.is_empty() => Some(IndexKey::Prefix(value)),
            Condition::Suffix(Affix {
                value,
                ignore_case: false,
            }) if !value.is_empty() => Some(IndexKey::Suffix(value)),
            Condition::EqualsIgnoreCase(lower) => Some(IndexKey::IgnoreCase(lower)),
            _ => None,
        }
    }
}

impl Affix {
    fn is_prefix_of(&self, s: &str) -> bool {
        if !self.ignore_case {
            return s.starts_with(&self.value);
        }
        let mut hay = s.chars().flat_map(char::to_lowercase);
        self.value.chars().all(|c| hay.next() == Some(c))
    }

    fn is_suffix_of(&self, s: &str) -> bool {
        if !self.ignore_case {
            return s.ends_with(&self.value);
        }
        let mut hay = s.chars().rev().flat_map(|c| c.to_lowercase().rev());
        self.value.chars().rev().all(|c| hay.next() == Some(c))
    }
}

impl AnythingBut {
    fn excludes(&self, leaf: &Leaf<'_>) -> bool {
        match (self, leaf) {
            (AnythingBut::Strings(values), Leaf::Str(s)) => values
                .iter()
                .any(|(v, ip)| v == s || ip.is_some_and(|ip| parse_ip(s) == Some(ip))),
            (AnythingBut::Numbers(values), Leaf::Num(n)) => values.contains(n),
            (AnythingBut::Prefixes(ps), Leaf::Str(s)) => ps.iter().any(|p| s.starts_with(p)),
            (AnythingBut::Suffixes(ps), Leaf::Str(s)) => ps.iter().any(|p| s.ends_with(p)),
            (AnythingBut::IgnoreCase(vs), Leaf::Str(s)) => vs.iter().any(|v| eq_ignore_case(s, v)),
            (AnythingBut::Wildcards(ws), Leaf::Str(s)) => ws.iter().any(|w| w.matches(s)),
            _ => false,
        }
    }
}

impl Range {
    pub(crate) fn contains(&self, n: f64) -> bool {
        let above = match self.low {
            None => true,
            Some((b, inclusive)) => n > b || (inclusive && n == b),
        };
        let below = match self.high {
            None => true,
            Some((b, inclusive)) => n < b || (inclusive && n == b),
        };
        above && below
    }
}

/// `s` lowercased as [`eq_ignore_case`] compares it (character by character), borrowed
/// when it already is.
pub(crate) fn lowercased(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(s.chars().flat_map(char::to_lowercase).collect())
}

/// `s` equals `lower` (already lowercased) ignoring case, without allocating.
fn eq_ignore_case(s: &str, lower: &str) -> bool {
    if s.is_ascii() && lower.is_ascii() {
        return s.eq_ignore_ascii_case(lower);
    }
    s.chars().flat_map(char::to_lowercase).eq(lower.chars())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Leaf<'_> {
        Leaf::Str(v.into())
    }

    #[test]
    fn ignore_case_affixes_and_equality() {
        let p = Affix {
            value: "créate".into(),
            ignore_case: true,
        };
        assert!(p.is_prefix_of("CRÉATEAccessKey") && !p.is_prefix_of("CRÉ"));
        let sfx = Affix {
            value: ".png".into(),
            ignore_case: true,
        };
        assert!(sfx.is_suffix_of("a.PNG") && !sfx.is_suffix_of("PNG"));
        assert!(eq_ignore_case("ÉLODIE", "élodie") && !eq_ignore_case("ÉLODIE", "elodie"));
    }

    #[test]
    fn types_never_cross() {
        let str300 = Condition::Str {
            value: "300".into(),
            ip: None,
        };
        assert!(!str300.matches(&Leaf::Num(300.0)));
        assert!(!Condition::Num(300.0).matches(&s("300")));
        assert!(Condition::Num(300.0).matches(&Leaf::Num(300.0)));
        let ab = Condition::AnythingBut(AnythingBut::Strings(vec![("x".into(), None)]));
        assert!(ab.matches(&Leaf::Null) && ab.matches(&Leaf::Num(1.0)) && !ab.matches(&s("x")));
    }

    #[test]
    fn ranges_honour_inclusivity() {
        let r = Range {
            low: Some((0.0, false)),
            high: Some((5.0, true)),
        };
        assert!(!r.contains(0.0) && r.contains(0.1) && r.contains(5.0) && !r.contains(5.1));
    }
}
