//! Leaf values and lazy navigation through raw JSON.
//!
//! EventBridge patterns see an event as (path, leaf) pairs with arrays "crushed":
//! every element of an array is a value at the same path. [`FieldSource`] gives that
//! view over any event representation without building a JSON tree for the whole
//! event: raw sub-objects are scanned one level at a time, only along the path asked for.

use std::borrow::Cow;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

mod split;

pub use split::{RawJson, RawNode};

/// A JSON leaf value at some path of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Leaf<'a> {
    Str(Cow<'a, str>),
    Num(f64),
    Bool(bool),
    Null,
}

impl Leaf<'_> {
    /// The value as a person reads it (`null` for null).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Leaf::Str(s) => Cow::Borrowed(s),
            Leaf::Num(n) => Cow::Owned(n.to_string()),
            Leaf::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Leaf::Null => Cow::Borrowed("null"),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Leaf::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Calls `f` with `path` as `&[&str]`, on the stack for ordinary path lengths: paths
/// are held as `String`s and looked up for every candidate event.
pub fn with_segments<R>(path: &[String], f: impl FnOnce(&[&str]) -> R) -> R {
    const INLINE: usize = 12;
    if path.len() <= INLINE {
        let mut buf = [""; INLINE];
        for (slot, seg) in buf.iter_mut().zip(path) {
            *slot = seg;
        }
        f(&buf[..path.len()])
    } else {
        let v: Vec<&str> = path.iter().map(String::as_str).collect();
        f(&v)
    }
}

/// Where a leaf sits among the arrays of its event: for each array crossed on the way
/// down, the array's identity (an address, unique within one event) and the index of
/// the element taken. EventBridge matches JSON "array-consistently": two values one
/// pattern relies on must come from the same element of every array they share.
pub type ArrayStep = (usize, u32);

/// Anything patterns can be matched against.
pub trait FieldSource {
    /// Calls `f` with every leaf value found at `path` and where it sits among arrays
    /// (arrays crushed; objects, empty arrays and missing fields give nothing; an
    /// event key `"a.b"` is the same path as `{"a":{"b":..}}`, as in EventBridge).
    fn visit(&self, path: &[&str], f: &mut dyn FnMut(Leaf<'_>, &[ArrayStep]));

    /// [`FieldSource::visit`] for callers that do not care about arrays.
    fn leaves(&self, path: &[&str], f: &mut dyn FnMut(Leaf<'_>)) {
        self.visit(path, &mut |leaf, _| f(leaf))
    }

    /// Every leaf at `path` and, where `path` holds an object, every leaf inside it at
    /// any depth (arrays crushed). EventBridge patterns never look inside an object;
    /// Sigma rules do (`requestParameters|contains: Suspended`). Sources that cannot
    /// open objects give the leaves at `path` only.
    fn leaves_within(&self, path: &[&str], f: &mut dyn FnMut(Leaf<'_>)) {
        self.leaves(path, f)
    }

    /// The first string leaf at `path`, owned. Convenience for templates and alerts.
    fn first_string(&self, path: &[&str]) -> Option<String> {
        let mut out = None;
        self.leaves(path, &mut |l| {
            if out.is_none() {
                if let Leaf::Str(s) = l {
                    out = Some(s.into_owned());
                }
            }
        });
        out
    }
}

/// [`members_on_path`], and with `deep` and an empty `path` every member (a repeated
/// key once, its last value), with a span of 0: an object opened by
/// [`FieldSource::leaves_within`].
pub(crate) fn members_within<V: Copy>(
    members: &[(Cow<'_, str>, V)],
    path: &[&str],
    deep: bool,
    mut go: impl FnMut(V, usize),
) {
    if !path.is_empty() {
        return members_on_path(members, path, go);
    }
    if deep {
        for (i, (key, child)) in members.iter().enumerate() {
            if !members[i + 1..].iter().any(|(k, _)| k == key) {
                go(*child, 0);
            }
        }
    }
}

/// How many segments of `path` the object key `key` stands for: 1 for the plain key,
/// more for a dotted key spelling several segments, `None` when it is not on the path.
pub(crate) fn key_span(key: &str, path: &[&str]) -> Option<usize> {
    let first = path.first()?;
    if key.len() <= first.len() {
        return (key == *first).then_some(1);
    }
    // Longer than the segment: only a dotted key spelling this segment and more.
    if key.as_bytes()[first.len()] != b'.' || !key.starts_with(first) {
        return None;
    }
    let mut rest = &key[first.len() + 1..];
    let mut n = 1;
    loop {
        rest = rest.strip_prefix(path.get(n)?)?;
        n += 1;
        if rest.is_empty() {
            return Some(n);
        }
        rest = rest.strip_prefix('.')?;
    }
}

/// Calls `go` with each member of an object that continues `path`, and the rest of
/// the path. A key that repeats counts once, its last value winning (as serde and
/// EventBridge read such objects); dotted keys are followed too.
pub(crate) fn members_on_path<V: Copy>(
    members: &[(Cow<'_, str>, V)],
    path: &[&str],
    mut go: impl FnMut(V, usize),
) {
    for (i, (key, child)) in members.iter().enumerate() {
        let Some(span) = key_span(key, path) else {
            continue;
        };
        if members[i + 1..].iter().any(|(k, _)| k == key) {
            continue;
        }
        go(*child, span);
    }
}

impl FieldSource for serde_json::Value {
    fn visit(&self, path: &[&str], f: &mut dyn FnMut(Leaf<'_>, &[ArrayStep])) {
        value_visit(self, path, false, f, &mut Vec::new())
    }

    fn leaves_within(&self, path: &[&str], f: &mut dyn FnMut(Leaf<'_>)) {
        value_visit(self, path, true, &mut |leaf, _| f(leaf), &mut Vec::new())
    }
}

fn value_visit(
    v: &serde_json::Value,
    path: &[&str],
    deep: bool,
    f: &mut dyn FnMut(Leaf<'_>, &[ArrayStep]),
    steps: &mut Vec<ArrayStep>,
) {
    use serde_json::Value;
    match v {
        Value::Array(items) if steps.len() < MAX_ARRAY_NESTING => {
            let id = items.as_ptr() as usize;
            for (i, item) in items.iter().enumerate() {
                steps.push((id, i as u32));
                value_visit(item, path, deep, f, steps);
                steps.pop();
            }
        }
        Value::Array(_) => {}
        Value::Object(map) if path.is_empty() => {
            if deep {
                for child in map.values() {
                    value_visit(child, path, deep, f, steps);
                }
            }
        }
        Value::Object(map) => {
            for (key, child) in map {
                if let Some(span) = key_span(key, path) {
                    value_visit(child, &path[span..], deep, f, steps);
                }
            }
        }
        _ if !path.is_empty() => {}
        Value::String(s) => f(Leaf::Str(Cow::Borrowed(s)), steps),
        Value::Number(n) => f(Leaf::Num(n.as_f64().unwrap_or(f64::NAN)), steps),
        Value::Bool(b) => f(Leaf::Bool(*b), steps),
        Value::Null => f(Leaf::Null, steps),
    }
}

/// For `#[serde(deserialize_with)]` on `Option<Cow<str>>` fields: serde's derive does
/// not borrow through `Option`, this does. A value of another type reads as absent
/// rather than failing the whole record: patterns still see it exactly (they read the
/// raw text), and one odd field must not hide an event from every rule.
pub(crate) fn opt_cow<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_element::<de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// Arrays nested deeper than this inside one value are not crushed further: no real
/// CloudTrail field comes close, and hostile input must not cost the stack.
pub const MAX_ARRAY_NESTING: usize = 64;

/// Leaves of a raw JSON value at `path` (arrays crushed at every level).
pub fn raw_leaves(raw: &RawValue, path: &[&str], f: &mut dyn FnMut(Leaf<'_>)) {
    raw_visit(raw, path, &mut |leaf, _| f(leaf))
}

/// [`FieldSource::visit`] over a raw JSON value.
pub fn raw_visit(raw: &RawValue, path: &[&str], f: &mut dyn FnMut(Leaf<'_>, &[ArrayStep])) {
    raw_visit_at(RawJson::of(raw), path, false, f, &mut Vec::new())
}

/// [`raw_visit`], or with `deep` [`FieldSource::leaves_within`], over a raw JSON value.
pub(crate) fn raw_visit_deep(
    raw: RawJson<'_>,
    path: &[&str],
    deep: bool,
    f: &mut dyn FnMut(Leaf<'_>, &[ArrayStep]),
) {
    raw_visit_at(raw, path, deep, f, &mut Vec::new())
}

/// [`raw_visit_deep`] over the members of an already parsed raw object.
pub(crate) fn raw_visit_members(
    members: &[(Cow<'_, str>, RawJson<'_>)],
    path: &[&str],
    deep: bool,
    f: &mut dyn FnMut(Leaf<'_>, &[ArrayStep]),
) {
    let mut steps = Vec::new();
    members_within(members, path, deep, |child, span| {
        raw_visit_at(child, &path[span..], deep, f, &mut steps)
    });
}

fn raw_visit_at(
    raw: RawJson<'_>,
    path: &[&str],
    deep: bool,
    f: &mut dyn FnMut(Leaf<'_>, &[ArrayStep]),
    steps: &mut Vec<ArrayStep>,
) {
    if let Some(node) = RawNode::parse(raw) {
        node_visit_at(&node, raw.id(), path, deep, f, steps)
    }
}

/// [`raw_visit_deep`] over a value already split one level.
pub(crate) fn node_visit(
    node: &RawNode<'_>,
    path: &[&str],
    deep: bool,
    f: &mut dyn FnMut(Leaf<'_>, &[ArrayStep]),
) {
    // The node's own address tells its array apart from any other in the event.
    let id = node as *const RawNode<'_> as usize;
    node_visit_at(node, id, path, deep, f, &mut Vec::new())
}

fn node_visit_at(
    node: &RawNode<'_>,
    id: usize,
    path: &[&str],
    deep: bool,
    f: &mut dyn FnMut(Leaf<'_>, &[ArrayStep]),
    steps: &mut Vec<ArrayStep>,
) {
    match node {
        RawNode::Leaf(leaf) => {
            if path.is_empty() {
                f(leaf.clone(), steps)
            }
        }
        RawNode::Array(items) if steps.len() < MAX_ARRAY_NESTING => {
            for (i, item) in items.iter().enumerate() {
                steps.push((id, i as u32));
                raw_visit_at(*item, path, deep, f, steps);
                steps.pop();
            }
        }
        RawNode::Array(_) => {}
        RawNode::Object(members) => {
            members_within(members, path, deep, |child, span| {
                raw_visit_at(child, &path[span..], deep, f, steps)
            });
        }
    }
}

/// The raw child of an object at `path`, if every step is an object.
pub fn raw_get<'a>(raw: RawJson<'a>, path: &[&str]) -> Option<RawJson<'a>> {
    let Some((first, rest)) = path.split_first() else {
        return Some(raw);
    };
    match RawNode::parse(raw)? {
        RawNode::Object(members) => {
            let (_, child) = members.into_iter().rev().find(|(k, _)| k == first)?;
            raw_get(child, rest)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(json: &str, path: &[&str]) -> Vec<Leaf<'static>> {
        let raw: Box<RawValue> = serde_json::from_str(json).unwrap();
        let mut out = Vec::new();
        raw_leaves(&raw, path, &mut |l| {
            out.push(match l {
                Leaf::Str(s) => Leaf::Str(Cow::Owned(s.into_owned())),
                Leaf::Num(n) => Leaf::Num(n),
                Leaf::Bool(b) => Leaf::Bool(b),
                Leaf::Null => Leaf::Null,
            })
        });
        out
    }

    #[test]
    fn crushes_arrays_at_every_level() {
        let json = r#"{"items":[{"id":"a"},{"id":["b","c"]},{"x":1}],"n":null}"#;
        let got = collect(json, &["items", "id"]);
        assert_eq!(got.len(), 3);
        assert_eq!(collect(json, &["n"]), vec![Leaf::Null]);
        assert!(
            collect(json, &["items"]).is_empty(),
            "objects are not leaves"
        );
        assert!(collect(json, &["missing"]).is_empty());
    }

    #[test]
    fn escaped_keys_and_values() {
        let json = r#"{"a\"b":"x\ny"}"#;
        assert_eq!(collect(json, &["a\"b"]), vec![Leaf::Str("x\ny".into())]);
    }

    #[test]
    fn value_source_matches_raw_source() {
        let json = r#"{"a":[{"b":1},{"b":true}],"c":"s"}"#;
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let mut n = 0;
        v.leaves(&["a", "b"], &mut |_| n += 1);
        assert_eq!(n, 2);
        let raw: Box<RawValue> = serde_json::from_str(json).unwrap();
        let (mut from_value, mut from_raw) = (vec![], vec![]);
        v.visit(&["a", "b"], &mut |l, s| {
            from_value.push((l.text().into_owned(), s.len()))
        });
        raw_visit(&raw, &["a", "b"], &mut |l, s| {
            from_raw.push((l.text().into_owned(), s.len()))
        });
        assert_eq!(from_value, from_raw);
        assert_eq!(v.first_string(&["c"]).as_deref(), Some("s"));
    }

    #[test]
    fn hostile_nesting_does_not_overflow() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let raw: Box<RawValue> = serde_json::from_str(&deep).unwrap();
        let mut n = 0;
        raw_leaves(&raw, &["a"], &mut |_| n += 1);
        assert_eq!(n, 0);
        let ok = format!("{{\"a\":{}1{}}}", "[".repeat(10), "]".repeat(10));
        assert_eq!(collect(&ok, &["a"]), vec![Leaf::Num(1.0)]);
    }

    #[test]
    fn long_paths_take_the_heap_path() {
        let path: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
        let mut json = String::from("\"v\"");
        for k in path.iter().rev() {
            json = format!("{{\"{k}\":{json}}}");
        }
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let got = with_segments(&path, |p| v.first_string(p));
        assert_eq!(got.as_deref(), Some("v"));
        let short = with_segments(&path[..2], |p| p.join("."));
        assert_eq!(short, "k0.k1");
    }

    #[test]
    fn dotted_keys_are_nesting() {
        let json = r#"{"a.b":"x","a":{"b":"y","b.c":"z"},"a.bc":"no"}"#;
        let got = collect(json, &["a", "b"]);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(collect(json, &["a", "b", "c"]), vec![Leaf::Str("z".into())]);
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let mut n = 0;
        v.leaves(&["a", "b"], &mut |_| n += 1);
        assert_eq!(n, 2);
        assert_eq!(key_span("a.b", &["a", "b", "c"]), Some(2));
        assert_eq!(key_span("a.b", &["a"]), None);
        assert_eq!(key_span("a.", &["a", ""]), Some(2));
    }

    #[test]
    fn array_steps_tell_elements_apart() {
        let json = r#"{"r":[{"t":"u","a":"1"},{"t":"v","a":["2","3"]}]}"#;
        let raw: Box<RawValue> = serde_json::from_str(json).unwrap();
        let mut got = vec![];
        raw_visit(&raw, &["r", "a"], &mut |l, s| {
            got.push((
                l.text().into_owned(),
                s.iter().map(|x| x.1).collect::<Vec<_>>(),
            ))
        });
        assert_eq!(
            got,
            vec![
                ("1".into(), vec![0]),
                ("2".into(), vec![1, 0]),
                ("3".into(), vec![1, 1])
            ]
        );
    }

    #[test]
    fn leaves_within_open_objects_at_any_depth() {
        let json = r#"{"a":{"b":[{"c":"x"},{"d":{"e":1}}],"f":null,"g":"y","g":"z"},"h":"i"}"#;
        let raw: Box<RawValue> = serde_json::from_str(json).unwrap();
        let mut from_raw = vec![];
        raw_visit_deep(RawJson::of(&raw), &["a"], true, &mut |l, _| {
            from_raw.push(l.text().into_owned())
        });
        assert_eq!(from_raw, vec!["x", "1", "null", "z"]);
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let mut from_value = vec![];
        v.leaves_within(&["a"], &mut |l| from_value.push(l.text().into_owned()));
        assert_eq!(from_value.len(), 4, "{from_value:?}");
        let mut plain = 0;
        raw_visit_deep(RawJson::of(&raw), &["a"], false, &mut |_, _| plain += 1);
        assert_eq!(plain, 0);
    }

    #[test]
    fn last_duplicate_key_wins() {
        assert_eq!(collect(r#"{"a":1,"a":2}"#, &["a"]), vec![Leaf::Num(2.0)]);
    }

    #[test]
    fn raw_get_walks_objects() {
        let raw: Box<RawValue> = serde_json::from_str(r#"{"a":{"b":{"c":1}}}"#).unwrap();
        assert_eq!(
            raw_get(RawJson::of(&raw), &["a", "b"]).unwrap().get(),
            r#"{"c":1}"#
        );
        assert!(raw_get(RawJson::of(&raw), &["a", "x"]).is_none());
    }
}
