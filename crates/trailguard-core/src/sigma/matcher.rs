//! Sigma search identifiers compiled into field tests, and matched against an event.
//!
//! A map is an AND of its fields, a list of maps an OR of them, a list of plain values
//! (keywords) a search over every value of the record. A field's values are ORed
//! (ANDed with `|all`). Strings match case-insensitively unless `|cased`, with `*` and
//! `?` wildcards and `\` escapes; numbers and booleans in a rule compare as their text
//! (`22` matches the event's number 22 and the string "22"); `null` matches a field that
//! is absent or null. A field naming an object matches against every value inside it.

use serde_norway::Value as Yaml;

use crate::json::{with_segments, FieldSource};

use super::value::{
    affix_match, compile_regex, scalar_text, Affix, Cidr, Glob, NumOp, Owned, Value,
};
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
