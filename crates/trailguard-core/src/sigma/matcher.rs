//! Sigma search identifiers compiled into field tests, and matched against an event.
//!
//! A map is an AND of its fields, a list of maps an OR of them, a list of plain values
//! (keywords) a search over every value of the record. A field's values are ORed
//! (ANDed with `|all`). Strings match case-insensitively unless `|cased`, with `*` and
//! `?` wildcards and `\` escapes; numbers and booleans in a rule compare as their text
//! (`22` matches the event's number 22 and the string "22"); `null` matches a field that
//! is absent or null. A field naming an object matches against every value inside it.

use std::net::IpAddr;

use regex::{Regex, RegexBuilder};
use serde_norway::Value as Yaml;

use crate::json::{with_segments, FieldSource, Leaf};

/// Compiled regexes may take at most this much memory each.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// A regex longer than this is refused before compiling.
pub const MAX_REGEX_CHARS: usize = 4096;

/// One search identifier (`selection:`), compiled.
#[derive(Debug, Clone)]
pub(crate) enum Search {
    /// A map: every field must match.
    All(Vec<FieldTest>),
    /// A list: one element must match.
    Any(Vec<Search>),
}

/// One `field|modifiers: values` entry.
#[derive(Debug, Clone)]
pub(crate) struct FieldTest {
    /// The event path (`detail.` + the Sigma field); `detail` alone for keywords.
    pub(crate) field: String,
    path: Vec<String>,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    /// ORed (or with `all`, ANDed) values; with `neq`, none may match.
    Values {
        values: Vec<Value>,
        all: bool,
        neq: bool,
    },
    /// `|exists: true|false`: a value (even null) is present, or not.
    Exists(bool),
    /// `|fieldref`: compared with the values of other fields.
    FieldRef {
        others: Vec<Vec<String>>,
        how: Affix,
        cased: bool,
        all: bool,
        neq: bool,
    },
}

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
enum Owned {
    Null,
    Text(String),
    Num(f64),
}

impl Owned {
    fn new(leaf: Leaf<'_>) -> Owned {
        match leaf {
            Leaf::Null => Owned::Null,
            Leaf::Num(n) => Owned::Num(n),
            other => Owned::Text(other.text().into_owned()),
        }
    }

    fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Owned::Null => None,
            Owned::Text(s) => Some(s.into()),
            Owned::Num(n) => Some(Leaf::Num(*n).text().into_owned().into()),
        }
    }
}

impl Search {
    pub(crate) fn matches(&self, event: &dyn FieldSource) -> bool {
        match self {
            Search::All(fields) => fields.iter().all(|f| f.matches(event)),
            Search::Any(items) => items.iter().any(|s| s.matches(event)),
        }
    }

    /// Every field test, for the pre-filter.
    pub(crate) fn alternatives(&self) -> Vec<&[FieldTest]> {
        match self {
            Search::All(fields) => vec![fields.as_slice()],
            Search::Any(items) => items.iter().flat_map(Search::alternatives).collect(),
        }
    }

    /// Compiles one search identifier's YAML.
    pub(crate) fn compile(yaml: &Yaml) -> Result<Search, String> {
        match yaml {
            Yaml::Mapping(map) => {
                if map.is_empty() {
                    return Err("an empty map".into());
                }
                let mut fields = Vec::with_capacity(map.len());
                for (key, values) in map {
                    let Some(key) = key.as_str() else {
                        return Err(format!("field name {} is not a string", show(key)));
                    };
                    fields.push(FieldTest::compile(key, values)?);
                }
                Ok(Search::All(fields))
            }
            Yaml::Sequence(items) if items.iter().all(|i| i.is_mapping()) => {
                if items.is_empty() {
                    return Err("an empty list".into());
                }
                items
                    .iter()
                    .map(Search::compile)
                    .collect::<Result<_, _>>()
                    .map(Search::Any)
            }
            Yaml::Sequence(items) if items.iter().any(|i| i.is_mapping()) => {
                Err("a list mixing maps and plain values".into())
            }
            Yaml::Sequence(_) | Yaml::String(_) | Yaml::Number(_) | Yaml::Bool(_) => {
                // Keywords: plain values searched for anywhere in the record.
                Ok(Search::All(vec![FieldTest::compile("", yaml)?]))
            }
            Yaml::Tagged(t) => Search::compile(&t.value),
            Yaml::Null => Err("no value".into()),
        }
    }
}

/// A YAML value, shortened, for messages.
pub(crate) fn show(v: &Yaml) -> String {
    let text = match v {
        Yaml::String(s) => format!("`{s}`"),
        other => serde_norway::to_string(other)
            .map(|s| format!("`{}`", s.trim_end()))
            .unwrap_or_else(|_| "a value".into()),
    };
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...`")
    } else {
        text
    }
}

/// Modifiers trailguard cannot apply, and why.
fn unsupported_modifier(m: &str) -> Option<&'static str> {
    Some(match m {
        "windash" => "Windows command-line dash permutations mean nothing in CloudTrail",
        "base64" | "base64offset" => "Base64-encoded search values are not supported",
        "utf16le" | "utf16be" | "utf16" | "wide" => "UTF-16 encoded values are not supported",
        "expand" => "placeholders need values from a processing pipeline trailguard does not have",
        "minute" | "hour" | "day" | "week" | "month" | "year" => {
            "time-part modifiers are not supported"
        }
        _ => return None,
    })
}

impl FieldTest {
    fn compile(key: &str, values: &Yaml) -> Result<FieldTest, String> {
        let mut parts = key.split('|');
        let name = parts.next().unwrap_or_default().trim();
        let mut affix = None;
        let (mut all, mut cased, mut re, mut neq, mut fieldref) =
            (false, false, false, false, false);
        let (mut exists, mut cidr, mut num) = (false, false, None);
        let mut flags = String::new();
        for m in parts {
            let set_affix = |a: &mut Option<Affix>, v: Affix| match a {
                Some(_) => Err(format!(
                    "`{key}`: give one of contains, startswith, endswith"
                )),
                None => {
                    *a = Some(v);
                    Ok(())
                }
            };
            match m {
                "contains" => set_affix(&mut affix, Affix::Contains)?,
                "startswith" => set_affix(&mut affix, Affix::Starts)?,
                "endswith" => set_affix(&mut affix, Affix::Ends)?,
                "all" => all = true,
                "cased" => cased = true,
                "re" => re = true,
                "i" | "m" | "s" if re => flags.push_str(m),
                "neq" => neq = true,
                "fieldref" => fieldref = true,
                "exists" => exists = true,
                "cidr" => cidr = true,
                "lt" | "lte" | "gt" | "gte" if num.is_none() => {
                    num = Some(match m {
                        "lt" => NumOp::Lt,
                        "lte" => NumOp::Lte,
                        "gt" => NumOp::Gt,
                        _ => NumOp::Gte,
                    })
                }
                other => {
                    return Err(match unsupported_modifier(other) {
                        Some(why) => format!("modifier `{other}` in `{key}`: {why}"),
                        None => format!("unknown modifier `{other}` in `{key}`"),
                    })
                }
            }
        }
        let keyword = name.is_empty();
        let path: Vec<String> = std::iter::once("detail")
            .chain(name.split('.').filter(|_| !keyword))
            .map(str::to_owned)
            .collect();
        let field = path.join(".");
        if !keyword && name.split('.').any(str::is_empty) {
            return Err(format!("`{key}`: empty segment in the field name"));
        }
        let list: Vec<&Yaml> = match values {
            Yaml::Sequence(items) => items.iter().collect(),
            single => vec![single],
        };
        if list.is_empty() {
            return Err(format!("`{key}`: an empty list of values"));
        }
        let alone = |what: &str| -> Result<(), String> {
            if affix.is_some() || all || re || neq || fieldref || cidr || num.is_some() || cased {
                return Err(format!(
                    "`{key}`: `{what}` cannot be combined with other modifiers"
                ));
            }
            Ok(())
        };
        if keyword && (exists || fieldref) {
            return Err(format!("`{key}`: keywords take no `exists` or `fieldref`"));
        }
        if exists {
            alone("exists")?;
            return match list.as_slice() {
                [Yaml::Bool(b)] => Ok(FieldTest {
                    field,
                    path,
                    test: Test::Exists(*b),
                }),
                _ => Err(format!("`{key}`: `exists` takes true or false")),
            };
        }
        if fieldref {
            if re || cidr || num.is_some() {
                return Err(format!("`{key}`: `fieldref` compares text only"));
            }
            let others = list
                .iter()
                .map(|v| match v.as_str() {
                    Some(f) if !f.is_empty() && !f.split('.').any(str::is_empty) => {
                        Ok(std::iter::once("detail")
                            .chain(f.split('.'))
                            .map(str::to_owned)
                            .collect())
                    }
                    _ => Err(format!(
                        "`{key}`: `fieldref` takes field names, not {}",
                        show(v)
                    )),
                })
                .collect::<Result<_, _>>()?;
            return Ok(FieldTest {
                field,
                path,
                test: Test::FieldRef {
                    others,
                    how: affix.unwrap_or(Affix::Whole),
                    cased,
                    all,
                    neq,
                },
            });
        }
        if re && (affix.is_some() || cidr || num.is_some()) {
            return Err(format!("`{key}`: `re` cannot be combined with contains, startswith, endswith, cidr or numbers"));
        }
        if cidr && (affix.is_some() || num.is_some()) {
            return Err(format!(
                "`{key}`: `cidr` cannot be combined with other value modifiers"
            ));
        }
        // Keywords search the whole record for the value anywhere in a field's text.
        let affix = match affix {
            None if keyword && !re && !cidr && num.is_none() => Affix::Contains,
            a => a.unwrap_or(Affix::Whole),
        };
        let values = list
            .into_iter()
            .map(|v| {
                let err = |e: String| format!("`{key}`: {e}");
                if v.is_null() {
                    return if affix == Affix::Whole && !re && !cidr && num.is_none() && !keyword {
                        Ok(Value::Null)
                    } else {
                        Err(err("null only stands alone (field absent or null)".into()))
                    };
                }
                if re {
                    return compile_regex(v, &flags).map_err(err);
                }
                if cidr {
                    let text = scalar_text(v).map_err(err)?;
                    return Cidr::parse(&text).map(Value::Cidr).map_err(err);
                }
                if let Some(op) = num {
                    return match v {
                        Yaml::Number(n) => n
                            .as_f64()
                            .map(|n| Value::Num(op, n))
                            .ok_or_else(|| err("not a number".into())),
                        other => Err(err(format!("{} is not a number", show(other)))),
                    };
                }
                let (text, plain) = match v {
                    Yaml::String(s) => (s.clone(), false),
                    other => (scalar_text(other).map_err(err)?, true),
                };
                Ok(Value::Glob(Glob::new(&text, plain, affix, cased)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FieldTest {
            field,
            path,
            test: Test::Values { values, all, neq },
        })
    }

    pub(crate) fn matches(&self, event: &dyn FieldSource) -> bool {
        let leaves = read(event, &self.path);
        match &self.test {
            Test::Exists(want) => leaves.is_empty() != *want,
            Test::Values { values, all, neq } => {
                let hit = |v: &Value| v.matches(&leaves);
                if *neq {
                    // A value must be there, and none of the values listed.
                    return leaves.iter().any(|l| *l != Owned::Null) && !values.iter().any(hit);
                }
                if *all {
                    values.iter().all(hit)
                } else {
                    values.iter().any(hit)
                }
            }
            Test::FieldRef {
                others,
                how,
                cased,
                all,
                neq,
            } => {
                let hit = |other: &Vec<String>| {
                    let theirs = read(event, other);
                    leaves.iter().filter_map(Owned::text).any(|mine| {
                        theirs
                            .iter()
                            .filter_map(Owned::text)
                            .any(|t| affix_match(&mine, &t, *how, *cased))
                    })
                };
                if *neq {
                    return leaves.iter().any(|l| *l != Owned::Null) && !others.iter().any(hit);
                }
                if *all {
                    others.iter().all(hit)
                } else {
                    others.iter().any(hit)
                }
            }
        }
    }

    /// The exact values this field requires, when it requires some (for the pre-filter):
    /// plain strings without wildcards, and whether they are case-sensitive.
    pub(crate) fn exact_values(&self) -> Option<(Vec<&str>, bool)> {
        let Test::Values {
            values,
            all: false,
            neq: false,
        } = &self.test
        else {
            return None;
        };
        let mut out = Vec::with_capacity(values.len());
        let mut cased = None;
        for v in values {
            let Value::Glob(g) = v else { return None };
            let text = g.exact()?;
            if *cased.get_or_insert(g.cased) != g.cased {
                return None;
            }
            out.push(text);
        }
        Some((out, cased.unwrap_or(false)))
    }
}

/// Every value at `path` (inside objects too), owned.
fn read(event: &dyn FieldSource, path: &[String]) -> Vec<Owned> {
    let mut out = Vec::new();
    with_segments(path, |p| {
        event.leaves_within(p, &mut |l| out.push(Owned::new(l)))
    });
    out
}

fn scalar_text(v: &Yaml) -> Result<String, String> {
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

fn compile_regex(v: &Yaml, flags: &str) -> Result<Value, String> {
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
    fn matches(&self, leaves: &[Owned]) -> bool {
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

fn affix_match(hay: &str, needle: &str, how: Affix, cased: bool) -> bool {
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
    cased: bool,
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
    fn parse(text: &str) -> Result<Cidr, String> {
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
