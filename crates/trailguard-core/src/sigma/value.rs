//! Sigma values: wildcard strings, regular expressions, CIDR ranges and numeric
//! comparisons, and how one field's values (as read from the event) meet them.

use std::net::IpAddr;

use regex::{Regex, RegexBuilder};
use serde_norway::Value as Yaml;

use crate::json::Leaf;

use super::matcher::show;

/// Compiled regexes may take at most this much memory each.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// A regex longer than this is refused before compiling.
pub const MAX_REGEX_CHARS: usize = 4096;

/// Where a value must sit in the field's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Affix {
    Whole,
    Contains,
    Starts,
    Ends,
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// Matches a field that is absent or null.
    Null,
    Glob(Glob),
    Regex(Box<Regex>),
    Cidr(Cidr),
    Num(NumOp, f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumOp {
    Lt,
    Lte,
    Gt,
    Gte,
}

/// A leaf of the event, owned (read once per test).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Owned {
    Null,
    Text(String),
    Num(f64),
}

impl Owned {
    pub(super) fn new(leaf: Leaf<'_>) -> Owned {
        match leaf {
            Leaf::Null => Owned::Null,
            Leaf::Num(n) => Owned::Num(n),
            other => Owned::Text(other.text().into_owned()),
        }
    }

    pub(super) fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Owned::Null => None,
            Owned::Text(s) => Some(s.into()),
            Owned::Num(n) => Some(Leaf::Num(*n).text().into_owned().into()),
        }
    }
}

pub(super) fn scalar_text(v: &Yaml) -> Result<String, String> {
    match v {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Bool(b) => Ok(b.to_string()),
        Yaml::Number(n) => Ok(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            // As the event's numbers read: 1.0 is "1".
            (_, _, Some(f)) => Leaf::Num(f).text().into_owned(),
            _ => n.to_string(),
        }),
        Yaml::Tagged(t) => scalar_text(&t.value),
        other => Err(format!("{} is not a plain value", show(other))),
    }
}

pub(super) fn compile_regex(v: &Yaml, flags: &str) -> Result<Value, String> {
    let Some(text) = v.as_str() else {
        return Err(format!("`re` takes a string, not {}", show(v)));
    };
    if text.chars().count() > MAX_REGEX_CHARS {
        return Err(format!(
            "regular expression longer than {MAX_REGEX_CHARS} characters"
        ));
    }
    RegexBuilder::new(text)
        .case_insensitive(flags.contains('i'))
        .multi_line(flags.contains('m'))
        .dot_matches_new_line(flags.contains('s'))
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .nest_limit(64)
        .build()
        .map(|r| Value::Regex(Box::new(r)))
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => {
                format!("regular expression too large once compiled (over {limit} bytes)")
            }
            other => {
                let text = other.to_string();
                let last = text.lines().rev().find(|l| !l.trim().is_empty());
                format!("invalid regular expression: {}", last.unwrap_or("").trim())
            }
        })
}

impl Value {
    pub(super) fn matches(&self, leaves: &[Owned]) -> bool {
        match self {
            Value::Null => leaves.iter().all(|l| *l == Owned::Null),
            Value::Glob(g) => leaves.iter().filter_map(Owned::text).any(|t| g.matches(&t)),
            Value::Regex(r) => leaves
                .iter()
                .filter_map(Owned::text)
                .any(|t| r.is_match(&t)),
            Value::Cidr(c) => leaves
                .iter()
                .filter_map(Owned::text)
                .any(|t| t.parse().is_ok_and(|ip| c.contains(ip))),
            Value::Num(op, want) => leaves.iter().any(|l| {
                let n = match l {
                    Owned::Num(n) => *n,
                    Owned::Text(s) => match s.trim().parse::<f64>() {
                        Ok(n) if n.is_finite() => n,
                        _ => return false,
                    },
                    Owned::Null => return false,
                };
                match op {
                    NumOp::Lt => n < *want,
                    NumOp::Lte => n <= *want,
                    NumOp::Gt => n > *want,
                    NumOp::Gte => n >= *want,
                }
            }),
        }
    }
}

fn lower(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

pub(super) fn affix_match(hay: &str, needle: &str, how: Affix, cased: bool) -> bool {
    let (hay, needle) = if cased {
        (hay.to_owned(), needle.to_owned())
    } else {
        (lower(hay), lower(needle))
    };
    match how {
        Affix::Whole => hay == needle,
        Affix::Contains => hay.contains(&needle),
        Affix::Starts => hay.starts_with(&needle),
        Affix::Ends => hay.ends_with(&needle),
    }
}

/// A Sigma string value: literal runs, `?` (one character) and `*` (any run).
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    /// The pieces between `*`s; `None` in a piece is `?`. Lowercased unless `cased`.
    pieces: Vec<Vec<Option<char>>>,
    /// The value had no wildcard at all: its text, and that text as compared.
    exact: Option<(String, String)>,
    pub(super) cased: bool,
}

impl Glob {
    /// `plain` values (numbers, booleans) have no wildcards; `affix` adds `*` around.
    pub(crate) fn new(text: &str, plain: bool, affix: Affix, cased: bool) -> Glob {
        let fold = |c: char| -> Vec<char> {
            if cased {
                vec![c]
            } else {
                c.to_lowercase().collect()
            }
        };
        let mut pieces: Vec<Vec<Option<char>>> = vec![Vec::new()];
        if matches!(affix, Affix::Contains | Affix::Ends) {
            pieces.push(Vec::new());
        }
        let mut wild = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if !plain => match chars.peek() {
                    Some(&e @ ('*' | '?' | '\\')) => {
                        chars.next();
                        pieces
                            .last_mut()
                            .unwrap()
                            .extend(fold(e).into_iter().map(Some));
                    }
                    _ => pieces.last_mut().unwrap().push(Some('\\')),
                },
                '*' if !plain => {
                    wild = true;
                    pieces.push(Vec::new());
                }
                '?' if !plain => {
                    wild = true;
                    pieces.last_mut().unwrap().push(None);
                }
                c => pieces
                    .last_mut()
                    .unwrap()
                    .extend(fold(c).into_iter().map(Some)),
            }
        }
        if matches!(affix, Affix::Contains | Affix::Starts) {
            pieces.push(Vec::new());
        }
        let exact = (affix == Affix::Whole && !wild).then(|| {
            let text = if plain {
                text.to_owned()
            } else {
                unescape(text)
            };
            let folded = if cased { text.clone() } else { lower(&text) };
            (text, folded)
        });
        Glob {
            pieces,
            exact,
            cased,
        }
    }

    /// The value, when it is a whole-field string without wildcards.
    pub(crate) fn exact(&self) -> Option<&str> {
        self.exact.as_ref().map(|(text, _)| text.as_str())
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        if let Some((_, folded)) = &self.exact {
            return if self.cased {
                text == folded
            } else {
                text.chars().flat_map(char::to_lowercase).eq(folded.chars())
            };
        }
        let hay: Vec<char> = if self.cased {
            text.chars().collect()
        } else {
            text.chars().flat_map(char::to_lowercase).collect()
        };
        let fits = |at: usize, piece: &[Option<char>]| {
            hay.len() >= at + piece.len()
                && piece
                    .iter()
                    .zip(&hay[at..])
                    .all(|(p, h)| p.is_none_or(|p| p == *h))
        };
        let n = self.pieces.len();
        let (first, last) = (&self.pieces[0], &self.pieces[n - 1]);
        if n == 1 {
            return hay.len() == first.len() && fits(0, first);
        }
        if !fits(0, first) || hay.len() < first.len() + last.len() {
            return false;
        }
        let end = hay.len() - last.len();
        if !fits(end, last) {
            return false;
        }
        // The middle pieces, each at its leftmost place: optimal for `*`.
        let mut at = first.len();
        for piece in &self.pieces[1..n - 1] {
            if piece.is_empty() {
                continue;
            }
            if at + piece.len() > end {
                return false;
            }
            let found = (at..=end - piece.len()).find(|&i| fits(i, piece));
            match found {
                Some(i) => at = i + piece.len(),
                None => return false,
            }
        }
        true
    }
}

/// A plain value's text once `\*`, `\?` and `\\` are read.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&e @ ('*' | '?' | '\\')) = chars.peek() {
                chars.next();
                out.push(e);
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// An IPv4 or IPv6 network, `/32` and `/128` included.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cidr {
    v6: bool,
    network: u128,
    mask: u128,
}

impl Cidr {
    pub(super) fn parse(text: &str) -> Result<Cidr, String> {
        let bad = || format!("`{text}` is not a CIDR range like 10.0.0.0/8");
        let (ip, bits) = text.trim().split_once('/').ok_or_else(bad)?;
        let ip: IpAddr = ip.parse().map_err(|_| bad())?;
        let bits: u32 = bits.parse().map_err(|_| bad())?;
        let (v6, width, all) = match ip {
            IpAddr::V4(_) => (false, 32, u32::MAX as u128),
            IpAddr::V6(_) => (true, 128, u128::MAX),
        };
        if bits > width {
            return Err(bad());
        }
        let mask = if bits == 0 { 0 } else { all & !(all >> bits) };
        Ok(Cidr {
            v6,
            network: bits_of(ip) & mask,
            mask,
        })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv6() == self.v6 && bits_of(ip) & self.mask == self.network
    }
}

fn bits_of(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}
