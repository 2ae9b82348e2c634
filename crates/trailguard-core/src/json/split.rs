//! One level of JSON text that is already known to be valid, split without a parser.
//!
//! Every raw value an event holds was validated when the record was read (serde_json
//! checks a `RawValue` completely), so taking one apart again only needs to find where
//! each member starts and ends: strings by their quotes, containers by their brackets.
//! That is several times cheaper than running serde over the text a second time, and
//! rules split the same few objects (`userIdentity` above all) of nearly every event.
//! Strings with escapes and numbers still go through serde_json, so that a value reads
//! exactly as serde reads it.

use std::borrow::Cow;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::Leaf;

/// JSON text known to be valid: a `RawValue` of a parsed record, or a part of one
/// found by [`RawNode::parse`]. Nothing else may construct it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawJson<'a>(&'a str);

impl<'a> RawJson<'a> {
    /// The text of a value serde_json validated.
    pub fn of(raw: &'a serde_json::value::RawValue) -> Self {
        RawJson(raw.get())
    }

    /// Text serde_json has just parsed in full (as a struct, which validates every
    /// value it skips). Only for such text.
    pub(crate) fn parsed_by_serde(text: &'a str) -> Self {
        RawJson(text)
    }

    pub fn get(self) -> &'a str {
        self.0
    }

    /// An address identifying this value within its event (arrays are told apart by it).
    pub(crate) fn id(self) -> usize {
        self.0.as_ptr() as usize
    }
}

/// One level of a raw JSON value: scalars decoded, containers left as raw children.
#[derive(Debug)]
pub enum RawNode<'a> {
    Leaf(Leaf<'a>),
    Array(Vec<RawJson<'a>>),
    Object(Vec<(Cow<'a, str>, RawJson<'a>)>),
}

impl<'a> RawNode<'a> {
    /// One level of `raw`; `None` only for a string or key whose escapes serde refuses
    /// (a lone surrogate), which serde would refuse too.
    pub fn parse(raw: RawJson<'a>) -> Option<RawNode<'a>> {
        let text = raw.0.trim_matches(is_ws);
        let bytes = text.as_bytes();
        match bytes.first()? {
            b'{' => {
                let mut members = Vec::new();
                let mut pos = skip_ws(bytes, 1);
                if bytes.get(pos) == Some(&b'}') {
                    return Some(RawNode::Object(members));
                }
                loop {
                    let key_end = string_end(bytes, pos);
                    let key = string_value(&text[pos..key_end])?;
                    pos = skip_ws(bytes, key_end);
                    pos = skip_ws(bytes, pos + 1); // ':'
                    let end = value_end(bytes, pos);
                    members.push((key, RawJson(&text[pos..end])));
                    pos = skip_ws(bytes, end);
                    if bytes.get(pos) != Some(&b',') {
                        return Some(RawNode::Object(members));
                    }
                    pos = skip_ws(bytes, pos + 1);
                }
            }
            b'[' => {
                let mut items = Vec::new();
                let mut pos = skip_ws(bytes, 1);
                if bytes.get(pos) == Some(&b']') {
                    return Some(RawNode::Array(items));
                }
                loop {
                    let end = value_end(bytes, pos);
                    items.push(RawJson(&text[pos..end]));
                    pos = skip_ws(bytes, end);
                    if bytes.get(pos) != Some(&b',') {
                        return Some(RawNode::Array(items));
                    }
                    pos = skip_ws(bytes, pos + 1);
                }
            }
            b'"' => string_value(text).map(|s| RawNode::Leaf(Leaf::Str(s))),
            b't' => Some(RawNode::Leaf(Leaf::Bool(true))),
            b'f' => Some(RawNode::Leaf(Leaf::Bool(false))),
            b'n' => Some(RawNode::Leaf(Leaf::Null)),
            _ => serde_json::from_str::<f64>(text)
                .ok()
                .map(|n| RawNode::Leaf(Leaf::Num(n))),
        }
    }

    /// One level of `text`, which must be valid JSON: validated here, for text that
    /// did not come from a `RawValue`.
    pub fn parse_str(text: &'a str) -> Option<RawNode<'a>> {
        let raw: &serde_json::value::RawValue = serde_json::from_str(text).ok()?;
        Self::parse(RawJson::of(raw))
    }
}

/// One level read by serde while the record itself is parsed: for the object every
/// rule reads (`userIdentity`), splitting it in the same pass costs less than keeping
/// it raw and splitting it again for nearly every event.
impl<'de: 'a, 'a> Deserialize<'de> for RawNode<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RawNode<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(RawNode::Leaf(Leaf::Str(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawNode::Leaf(Leaf::Str(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(RawNode::Leaf(Leaf::Str(Cow::Owned(v))))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(RawNode::Leaf(Leaf::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RawNode::Leaf(Leaf::Num(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RawNode::Leaf(Leaf::Num(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(RawNode::Leaf(Leaf::Num(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(RawNode::Leaf(Leaf::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = a.next_element::<&'de RawValue>()? {
                    items.push(RawJson::of(item));
                }
                Ok(RawNode::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(8);
                while let Some(key) = a.next_key::<KeyCow<'de>>()? {
                    members.push((key.0, RawJson::of(a.next_value::<&'de RawValue>()?)));
                }
                Ok(RawNode::Object(members))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// serde's own `Cow<str>` always allocates; keys are borrowed when they carry no escapes.
struct KeyCow<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for KeyCow<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyCow<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(KeyCow(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KeyCow(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(pos) {
        pos += 1;
    }
    pos
}

/// A string's contents: borrowed when it has no escapes, else decoded by serde.
fn string_value(quoted: &str) -> Option<Cow<'_, str>> {
    let inner = quoted.get(1..quoted.len().saturating_sub(1))?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(quoted).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// The position just past the string starting (with its quote) at `start`. Most
/// strings are short, so a plain loop over their first bytes comes before `memchr`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut pos = start + 1;
    loop {
        let short_end = (pos + 32).min(bytes.len());
        while pos < short_end {
            match bytes[pos] {
                b'"' => return pos + 1,
                b'\\' => pos += 2,
                _ => pos += 1,
            }
        }
        if pos >= bytes.len() {
            return bytes.len();
        }
        match memchr::memchr2(b'"', b'\\', &bytes[pos..]) {
            Some(i) if bytes[pos + i] == b'"' => return pos + i + 1,
            Some(i) => pos += i + 2,
            None => return bytes.len(),
        }
    }
}

/// The position just past the value starting at `start`.
fn value_end(bytes: &[u8], start: usize) -> usize {
    match bytes.get(start) {
        Some(b'"') => string_end(bytes, start),
        Some(&open @ (b'{' | b'[')) => {
            // In valid JSON brackets nest properly, so the match of an object's `{` is
            // found counting `{` and `}` alone (outside strings), and likewise for
            // arrays: three bytes to look for, which `memchr3` finds many at a time.
            let close = if open == b'{' { b'}' } else { b']' };
            let mut depth = 0usize;
            let mut pos = start;
            while let Some(i) = memchr::memchr3(b'"', open, close, &bytes[pos..]) {
                pos += i;
                match bytes[pos] {
                    b'"' => {
                        pos = string_end(bytes, pos);
                        continue;
                    }
                    b if b == open => depth += 1,
                    _ => {
                        depth -= 1;
                        if depth == 0 {
                            return pos + 1;
                        }
                    }
                }
                pos += 1;
            }
            bytes.len()
        }
        _ => {
            let mut pos = start;
            while let Some(b) = bytes.get(pos) {
                if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                pos += 1;
            }
            pos
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    /// What serde makes of one level, to compare against.
    fn by_serde(text: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        match v {
            serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
                let map: Vec<(Option<String>, String)> =
                    match serde_json::from_str::<Vec<&RawValue>>(text) {
                        Ok(items) => items.iter().map(|r| (None, r.get().to_owned())).collect(),
                        Err(_) => {
                            let pairs: Vec<(String, &RawValue)> =
                                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(
                                    text,
                                )
                                .map(|_| ())
                                .map(|()| object_pairs(text))
                                .unwrap();
                            pairs
                                .into_iter()
                                .map(|(k, r)| (Some(k), r.get().to_owned()))
                                .collect()
                        }
                    };
                format!("{map:?}")
            }
            serde_json::Value::Number(n) => format!("{}", serde_json::json!(n.as_f64())),
            other => format!("{other}"),
        }
    }

    fn object_pairs(text: &str) -> Vec<(String, &RawValue)> {
        struct Pairs<'a>(Vec<(String, &'a RawValue)>);
        impl<'de> serde::Deserialize<'de> for Pairs<'de> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = Pairs<'de>;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut a: A,
                    ) -> Result<Self::Value, A::Error> {
                        let mut out = Vec::new();
                        while let Some(k) = a.next_key::<String>()? {
                            out.push((k, a.next_value::<&'de RawValue>()?));
                        }
                        Ok(Pairs(out))
                    }
                }
                d.deserialize_map(V)
            }
        }
        serde_json::from_str::<Pairs>(text).unwrap().0
    }

    fn by_split(text: &str) -> String {
        let raw: &RawValue = serde_json::from_str(text).unwrap();
        match RawNode::parse(RawJson::of(raw)).unwrap() {
            RawNode::Object(m) => {
                let v: Vec<(Option<String>, String)> = m
                    .into_iter()
                    .map(|(k, r)| (Some(k.into_owned()), r.get().to_owned()))
                    .collect();
                format!("{v:?}")
            }
            RawNode::Array(items) => {
                let v: Vec<(Option<String>, String)> = items
                    .into_iter()
                    .map(|r| (None, r.get().to_owned()))
                    .collect();
                format!("{v:?}")
            }
            RawNode::Leaf(Leaf::Str(s)) => format!("{}", serde_json::Value::String(s.into())),
            RawNode::Leaf(Leaf::Num(n)) => format!("{}", serde_json::json!(n)),
            RawNode::Leaf(Leaf::Bool(b)) => format!("{b}"),
            RawNode::Leaf(Leaf::Null) => "null".into(),
        }
    }

    #[test]
    fn splits_like_serde() {
        for text in [
            r#"{}"#,
            r#"[]"#,
            r#" { } "#,
            r#"{"a":1,"b":"x","c":[1,{"d":"]}"}],"e":{"f":"\"}"},"g":null,"h":true}"#,
            r#"{ "a" : [ 1 , 2 ] , "b\"k" : "v\\" , "c\u00e9" : -1.5e3 }"#,
            r#"["a",{"b":[]},[[["x"]]],"\\\"",false]"#,
            "\"plain\"",
            "\"esc\\n\\u00e9\"",
            "12345678901234567890",
            "-0.0",
            "null",
            r#"{"a":"a","a":"b"}"#,
            "{\"k\":\"\u{1F600}\",\"\u{e9}\":[\"}\"]}",
        ] {
            assert_eq!(by_split(text), by_serde(text), "{text}");
        }
    }

    #[test]
    fn keys_with_escapes_are_decoded() {
        let raw: &RawValue = serde_json::from_str(r#"{"a\u0062":1,"c\"d":2}"#).unwrap();
        let Some(RawNode::Object(m)) = RawNode::parse(RawJson::of(raw)) else {
            panic!()
        };
        assert_eq!(m[0].0, "ab");
        assert_eq!(m[1].0, "c\"d");
        assert!(matches!(m[0].0, Cow::Owned(_)));
    }

    #[test]
    fn lone_surrogates_read_as_nothing() {
        let raw: &RawValue = serde_json::from_str(r#""\ud800""#).unwrap();
        assert!(RawNode::parse(RawJson::of(raw)).is_none());
    }

    #[test]
    fn deep_nesting_is_skipped_without_recursion() {
        let deep = format!(
            "{{\"a\":{}1{},\"b\":2}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let Some(RawNode::Object(m)) = RawNode::parse_str(&deep) else {
            panic!()
        };
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].1.get(), "2");
        let ok = format!("{{\"a\":{}1{},\"b\":2}}", "[".repeat(100), "]".repeat(100));
        let Some(RawNode::Object(m)) = RawNode::parse_str(&ok) else {
            panic!()
        };
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].1.get(), "2");
    }
}
