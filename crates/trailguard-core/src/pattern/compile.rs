//! Pattern JSON -> [`Pattern`], rejecting what EventBridge would reject, with the
//! path and the reason (as `InvalidEventPatternException` does).

use serde_json::{Map, Value};

use super::{AnythingBut, Condition, FieldMatcher, NumOp, Pattern};

/// EventBridge's limit on the size of a pattern (bytes of JSON).
pub const MAX_PATTERN_BYTES: usize = 2048;
/// Nesting deeper than this is rejected before it can cost stack.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("pattern is not valid JSON: {0}")]
    Json(String),
    #[error("pattern must be a JSON object")]
    NotAnObject,
    #[error("pattern is {0} bytes, over the {MAX_PATTERN_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("pattern is nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("at `{path}`: {reason}")]
    Invalid { path: String, reason: String },
}

fn invalid(path: &[String], reason: impl Into<String>) -> PatternError {
    PatternError::Invalid {
        path: if path.is_empty() {
            "(root)".into()
        } else {
            path.join(".")
        },
        reason: reason.into(),
    }
}

pub(super) fn compile_str(json: &str) -> Result<Pattern, PatternError> {
    if json.len() > MAX_PATTERN_BYTES {
        return Err(PatternError::TooLarge(json.len()));
    }
    let value: Value = serde_json::from_str(json).map_err(|e| PatternError::Json(e.to_string()))?;
    compile_value(&value)
}

pub(super) fn compile_value(value: &Value) -> Result<Pattern, PatternError> {
    let Value::Object(map) = value else {
        return Err(PatternError::NotAnObject);
    };
    let size = serde_json::to_string(value).map(|s| s.len()).unwrap_or(0);
    if size > MAX_PATTERN_BYTES {
        return Err(PatternError::TooLarge(size));
    }
    let mut fields = Vec::new();
    compile_object(map, &mut Vec::new(), &mut fields)?;
    if fields.is_empty() {
        return Err(invalid(
            &[],
            "empty pattern: a rule must match on at least one field",
        ));
    }
    Ok(Pattern { fields })
}

fn compile_object(
    map: &Map<String, Value>,
    path: &mut Vec<String>,
    out: &mut Vec<FieldMatcher>,
) -> Result<(), PatternError> {
    if path.len() > MAX_DEPTH {
        return Err(PatternError::TooDeep);
    }
    for (key, value) in map {
        if key.starts_with('$') {
            path.push(key.clone());
            let err = invalid(path, format!("`{key}` is not supported by this version"));
            return Err(err);
        }
        let depth = path.len();
        // A dotted key is the same path as the nesting it spells.
        path.extend(key.split('.').map(str::to_owned));
        match value {
            Value::Object(inner) => compile_object(inner, path, out)?,
            Value::Array(items) => {
                if items.is_empty() {
                    return Err(invalid(
                        path,
                        "empty array: a field needs at least one value",
                    ));
                }
                let conditions = items
                    .iter()
                    .map(|v| compile_condition(v, path))
                    .collect::<Result<Vec<_>, _>>()?;
                out.push(FieldMatcher {
                    path: path.clone(),
                    conditions,
                });
            }
            _ => {
                return Err(invalid(
                    path,
                    "match values must be in an array, e.g. [\"value\"]",
                ))
            }
        }
        path.truncate(depth);
    }
    Ok(())
}

fn literal(v: &Value, path: &[String]) -> Result<Condition, PatternError> {
    Ok(match v {
        Value::String(s) => Condition::Str(s.clone()),
        Value::Number(n) => Condition::Num(
            n.as_f64()
                .ok_or_else(|| invalid(path, "number out of range"))?,
        ),
        Value::Bool(b) => Condition::Bool(*b),
        Value::Null => Condition::Null,
        _ => return Err(invalid(path, "expected a string, number, boolean or null")),
    })
}

fn compile_condition(v: &Value, path: &[String]) -> Result<Condition, PatternError> {
    let Value::Object(op) = v else {
        return literal(v, path);
    };
    let mut entries = op.iter();
    let (Some((name, operand)), None) = (entries.next(), entries.next()) else {
        return Err(invalid(
            path,
            "an operator object must hold exactly one operator",
        ));
    };
    let string = |what: &str| -> Result<String, PatternError> {
        operand
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| invalid(path, format!("`{what}` takes a string")))
    };
    Ok(match name.as_str() {
        "prefix" | "suffix" => {
            let (value, ignore_case) = match operand {
                Value::String(s) => (s.clone(), false),
                Value::Object(m) if m.len() == 1 && m.contains_key("equals-ignore-case") => {
                    match &m["equals-ignore-case"] {
                        Value::String(s) => (s.clone(), true),
                        _ => return Err(invalid(path, "`equals-ignore-case` takes a string")),
                    }
                }
                _ => return Err(invalid(path, format!("`{name}` takes a string"))),
            };
            if name == "prefix" {
                Condition::Prefix { value, ignore_case }
            } else {
                Condition::Suffix { value, ignore_case }
            }
        }
        "equals-ignore-case" => Condition::EqualsIgnoreCase(string(name)?),
        "exists" => match operand {
            Value::Bool(b) => Condition::Exists(*b),
            _ => return Err(invalid(path, "`exists` takes true or false")),
        },
        "anything-but" => Condition::AnythingBut(compile_anything_but(operand, path)?),
        "numeric" => Condition::Numeric(compile_numeric(operand, path)?),
        other => {
            let known = ["wildcard", "cidr"];
            let reason = if known.contains(&other) {
                format!("operator `{other}` is not supported by this version")
            } else {
                format!("unknown operator `{other}`")
            };
            return Err(invalid(path, reason));
        }
    })
}

fn compile_anything_but(operand: &Value, path: &[String]) -> Result<AnythingBut, PatternError> {
    match operand {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(invalid(path, "`anything-but` list is empty"));
            }
            let values = items
                .iter()
                .map(|v| match v {
                    Value::String(_) | Value::Number(_) => literal(v, path),
                    _ => Err(invalid(
                        path,
                        "`anything-but` lists hold strings or numbers",
                    )),
                })
                .collect::<Result<_, _>>()?;
            Ok(AnythingBut::Values(values))
        }
        Value::Object(m) if m.len() == 1 => {
            let (k, v) = m.iter().next().expect("len checked");
            match (k.as_str(), v) {
                ("prefix", Value::String(s)) => Ok(AnythingBut::Prefix(s.clone())),
                ("suffix", Value::String(s)) => Ok(AnythingBut::Suffix(s.clone())),
                ("equals-ignore-case", Value::String(s)) => {
                    Ok(AnythingBut::EqualsIgnoreCase(vec![s.clone()]))
                }
                ("equals-ignore-case", Value::Array(a)) if !a.is_empty() => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| invalid(path, "`equals-ignore-case` takes strings"))
                    })
                    .collect::<Result<_, _>>()
                    .map(AnythingBut::EqualsIgnoreCase),
                _ => Err(invalid(
                    path,
                    format!("unsupported `anything-but` operand `{k}`"),
                )),
            }
        }
        Value::String(_) | Value::Number(_) => {
            Ok(AnythingBut::Values(vec![literal(operand, path)?]))
        }
        _ => Err(invalid(
            path,
            "`anything-but` takes a value, a list or an operator",
        )),
    }
}

fn compile_numeric(operand: &Value, path: &[String]) -> Result<Vec<(NumOp, f64)>, PatternError> {
    let Value::Array(items) = operand else {
        return Err(invalid(
            path,
            "`numeric` takes an array like [\">\", 0, \"<=\", 5]",
        ));
    };
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return Err(invalid(
            path,
            "`numeric` takes one or two (operator, number) pairs",
        ));
    }
    let mut out = Vec::new();
    for pair in items.chunks(2) {
        let op = match pair[0].as_str() {
            Some("=") => NumOp::Eq,
            Some("<") => NumOp::Lt,
            Some("<=") => NumOp::Le,
            Some(">") => NumOp::Gt,
            Some(">=") => NumOp::Ge,
            _ => return Err(invalid(path, "`numeric` operators are =, <, <=, >, >=")),
        };
        let n = pair[1]
            .as_f64()
            .ok_or_else(|| invalid(path, "`numeric` bounds must be numbers"))?;
        out.push((op, n));
    }
    if out.len() == 2 && (out[0].0 == NumOp::Eq || out[1].0 == NumOp::Eq) {
        return Err(invalid(
            path,
            "`numeric` `=` cannot be combined with a range",
        ));
    }
    Ok(out)
}
