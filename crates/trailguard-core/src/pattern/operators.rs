//! One element of a field's value array -> [`Condition`], with the reasons AWS's
//! `InvalidEventPatternException` gives for what it rejects.

use serde_json::{Map, Value};

use super::compile::invalid;
use super::condition::{Affix, AnythingBut, Condition, Range};
use super::ip::{parse_ip, IpRange};
use super::wildcard::Wildcard;
use super::PatternError;

type Result<T> = std::result::Result<T, PatternError>;

pub(super) fn condition(v: &Value, path: &[String]) -> Result<Condition> {
    match v {
        Value::Object(op) => operator(op, path),
        Value::Array(_) => Err(invalid(
            path,
            "Match value must be String, number, true, false, or null",
        )),
        _ => literal(v, path),
    }
}

fn literal(v: &Value, path: &[String]) -> Result<Condition> {
    Ok(match v {
        Value::String(s) => Condition::Str {
            value: s.clone(),
            ip: parse_ip(s),
        },
        Value::Number(n) => Condition::Num(number(n, path)?),
        Value::Bool(b) => Condition::Bool(*b),
        Value::Null => Condition::Null,
        _ => {
            return Err(invalid(
                path,
                "Match value must be String, number, true, false, or null",
            ))
        }
    })
}

fn number(n: &serde_json::Number, path: &[String]) -> Result<f64> {
    n.as_f64()
        .filter(|f| f.is_finite())
        .ok_or_else(|| invalid(path, format!("number {n} is out of range")))
}

fn operator(op: &Map<String, Value>, path: &[String]) -> Result<Condition> {
    let mut entries = op.iter();
    let (name, operand) = match (entries.next(), entries.next()) {
        (Some(only), None) => only,
        (None, _) => return Err(invalid(path, "Empty objects are not allowed")),
        (Some(_), Some(_)) => {
            let names: Vec<&str> = op.keys().map(String::as_str).collect();
            return Err(invalid(
                path,
                format!(
                    "a match object holds exactly one operator, found {}",
                    names.join(", ")
                ),
            ));
        }
    };
    let must_be_string =
        |what: &str| invalid(path, format!("{what} match pattern must be a string"));
    Ok(match name.as_str() {
        "prefix" | "suffix" => {
            let affix = match operand {
                Value::String(s) => Affix {
                    value: s.clone(),
                    ignore_case: false,
                },
                Value::Object(m) => match single(m) {
                    Some(("equals-ignore-case", Value::String(s))) => Affix {
                        value: s.to_lowercase(),
                        ignore_case: true,
                    },
                    Some(("equals-ignore-case", _)) => {
                        return Err(must_be_string("equals-ignore-case"))
                    }
                    _ => return Err(must_be_string(name)),
                },
                _ => return Err(must_be_string(name)),
            };
            if name == "prefix" {
                Condition::Prefix(affix)
            } else {
                Condition::Suffix(affix)
            }
        }
        "equals-ignore-case" => match operand {
            Value::String(s) => Condition::EqualsIgnoreCase(s.to_lowercase()),
            _ => return Err(must_be_string(name)),
        },
        "wildcard" => match operand {
            Value::String(s) => {
                let w = wildcard(s, path)?;
                match w.as_exact() {
                    // No star: an exact (indexable) string, compared byte for byte.
                    Some(text) => Condition::Str {
                        value: text.to_owned(),
                        ip: None,
                    },
                    None => Condition::Wildcard(w),
                }
            }
            _ => return Err(must_be_string(name)),
        },
        "exists" => match operand {
            Value::Bool(b) => Condition::Exists(*b),
            _ => {
                return Err(invalid(
                    path,
                    "exists match pattern must be either true or false.",
                ))
            }
        },
        "cidr" => match operand {
            Value::String(s) => {
                Condition::Cidr(IpRange::parse_cidr(s).map_err(|why| invalid(path, why))?)
            }
            _ => return Err(must_be_string(name)),
        },
        "anything-but" => Condition::AnythingBut(anything_but(operand, path)?),
        "numeric" => Condition::Numeric(numeric(operand, path)?),
        other => return Err(invalid(path, format!("Unrecognized match type {other}"))),
    })
}

fn single(m: &Map<String, Value>) -> Option<(&str, &Value)> {
    let mut it = m.iter();
    match (it.next(), it.next()) {
        (Some((k, v)), None) => Some((k.as_str(), v)),
        _ => None,
    }
}

fn wildcard(s: &str, path: &[String]) -> Result<Wildcard> {
    Wildcard::parse(s).map_err(|e| invalid(path, e.to_string()))
}

const ANYTHING_BUT_SHAPE: &str =
    "Value of anything-but must be an array or single string/number value.";

fn anything_but(operand: &Value, path: &[String]) -> Result<AnythingBut> {
    match operand {
        Value::String(s) => Ok(AnythingBut::Strings(vec![(s.clone(), parse_ip(s))])),
        Value::Number(n) => Ok(AnythingBut::Numbers(vec![number(n, path)?])),
        Value::Array(items) => anything_but_list(items, path),
        Value::Object(m) => {
            let Some((name, inner)) = single(m) else {
                return Err(invalid(path, ANYTHING_BUT_SHAPE));
            };
            match name {
                "prefix" | "suffix" => {
                    let values =
                        strings(inner, path, "prefix/suffix match pattern must be a string")
                            .map_err(|e| match inner {
                                Value::Object(_) => invalid(path, ANYTHING_BUT_SHAPE),
                                _ => e,
                            })?;
                    if values.iter().any(String::is_empty) {
                        return Err(invalid(path, "Null prefix/suffix not allowed"));
                    }
                    Ok(if name == "prefix" {
                        AnythingBut::Prefixes(values)
                    } else {
                        AnythingBut::Suffixes(values)
                    })
                }
                "equals-ignore-case" => {
                    let why = "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.";
                    let values = strings(inner, path, why)?;
                    Ok(AnythingBut::IgnoreCase(
                        values.iter().map(|v| v.to_lowercase()).collect(),
                    ))
                }
                "wildcard" => {
                    let values = strings(inner, path, "wildcard match pattern must be a string")?;
                    let parsed = values
                        .iter()
                        .map(|v| wildcard(v, path))
                        .collect::<Result<_>>()?;
                    Ok(AnythingBut::Wildcards(parsed))
                }
                other => Err(invalid(
                    path,
                    format!("Unsupported anything-but pattern: {other}"),
                )),
            }
        }
        Value::Null | Value::Bool(_) => Err(invalid(path, ANYTHING_BUT_SHAPE)),
    }
}

fn anything_but_list(items: &[Value], path: &[String]) -> Result<AnythingBut> {
    if items.is_empty() {
        return Err(invalid(path, "Empty arrays are not allowed"));
    }
    if items
        .iter()
        .any(|v| !matches!(v, Value::String(_) | Value::Number(_)))
    {
        return Err(invalid(
            path,
            "Inside anything but list, start|null|boolean is not supported.",
        ));
    }
    if items.iter().all(Value::is_string) {
        let values = items
            .iter()
            .filter_map(Value::as_str)
            .map(|s| (s.to_owned(), parse_ip(s)))
            .collect();
        return Ok(AnythingBut::Strings(values));
    }
    if items.iter().all(Value::is_number) {
        let values = items
            .iter()
            .filter_map(|v| v.as_number())
            .map(|n| number(n, path))
            .collect::<Result<_>>()?;
        return Ok(AnythingBut::Numbers(values));
    }
    Err(invalid(
        path,
        "Inside anything but list, either all values are number or string, mixed type is not supported",
    ))
}

/// A string or a non-empty list of strings.
fn strings(v: &Value, path: &[String], why: &str) -> Result<Vec<String>> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(path, why))
            })
            .collect(),
        Value::Array(_) => Err(invalid(path, "Empty arrays are not allowed")),
        _ => Err(invalid(path, why)),
    }
}

/// `["=", n]`, `[op, n]` or `[">"|">=", low, "<"|"<=", high]`, low first.
fn numeric(operand: &Value, path: &[String]) -> Result<Range> {
    let Value::Array(items) = operand else {
        return Err(invalid(path, "Value of numeric must be an array."));
    };
    if items.is_empty() {
        return Err(invalid(path, "Empty arrays are not allowed"));
    }
    let mut range = Range {
        low: None,
        high: None,
    };
    let mut i = 0;
    let mut equals = false;
    while i < items.len() {
        let Some(op) = items[i].as_str() else {
            return Err(invalid(
                path,
                format!("Invalid member in numeric match: {}", items[i]),
            ));
        };
        let value = match items.get(i + 1) {
            Some(Value::Number(n)) => number(n, path)?,
            _ => return Err(invalid(path, format!("Value of {op} must be numeric"))),
        };
        let first = i == 0;
        match op {
            "=" if first => {
                range = Range {
                    low: Some((value, true)),
                    high: Some((value, true)),
                };
                equals = true;
                i += 2;
                break;
            }
            ">" | ">=" if first => range.low = Some((value, op == ">=")),
            ">" | ">=" => return Err(invalid(path, format!("Bad numeric range operator: {op}"))),
            "<" | "<=" => {
                range.high = Some((value, op == "<="));
                i += 2;
                break;
            }
            "=" => return Err(invalid(path, "Bad numeric range operator: =")),
            other => {
                return Err(invalid(
                    path,
                    format!("Unrecognized numeric range operator: {other}"),
                ))
            }
        }
        i += 2;
    }
    if i < items.len() {
        return Err(invalid(path, "Too many elements in numeric expression"));
    }
    if let (Some((low, _)), Some((high, _))) = (range.low, range.high) {
        if !equals && low >= high {
            return Err(invalid(path, "Bottom must be less than top"));
        }
    }
    Ok(range)
}
