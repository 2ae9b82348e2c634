//! Pattern JSON -> [`Pattern`]: the object structure, `$or`, dotted keys and the
//! limits, rejecting what EventBridge rejects with the path and the reason (as
//! `InvalidEventPatternException` does). Operators are in `operators.rs`.

use serde_json::{Map, Value};

use super::operators;
use super::{Conjunct, FieldMatcher, Pattern};

/// EventBridge's default limit on the size of a pattern, in characters.
pub const MAX_PATTERN_CHARS: usize = 2048;
/// Kept for callers of the first version.
pub const MAX_PATTERN_BYTES: usize = MAX_PATTERN_CHARS;
/// EventBridge's limit on the rules one pattern's `$or` clauses expand to.
pub const MAX_COMBINATIONS: usize = 1000;
/// Nesting deeper than this is rejected before it can cost stack.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("pattern is not valid JSON: {0}")]
    Json(String),
    #[error("Filter is not an object: a pattern must be a JSON object")]
    NotAnObject,
    #[error("pattern is {0} characters, over EventBridge's limit of {MAX_PATTERN_CHARS}")]
    TooLarge(usize),
    #[error("pattern is nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("at `{path}`: {reason}")]
    Invalid { path: String, reason: String },
}

pub(super) fn invalid(path: &[String], reason: impl Into<String>) -> PatternError {
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
    let chars = json.chars().count();
    if chars > MAX_PATTERN_CHARS {
        return Err(PatternError::TooLarge(chars));
    }
    let value: Value = serde_json::from_str(json).map_err(|e| PatternError::Json(e.to_string()))?;
    compile(&value)
}

pub(super) fn compile_value(value: &Value) -> Result<Pattern, PatternError> {
    if !value.is_object() {
        return Err(PatternError::NotAnObject);
    }
    let chars = serde_json::to_string(value)
        .map(|s| s.chars().count())
        .unwrap_or(0);
    if chars > MAX_PATTERN_CHARS {
        return Err(PatternError::TooLarge(chars));
    }
    compile(value)
}

fn compile(value: &Value) -> Result<Pattern, PatternError> {
    let Value::Object(map) = value else {
        return Err(PatternError::NotAnObject);
    };
    if map.is_empty() {
        return Err(invalid(
            &[],
            "empty pattern: a rule must match on at least one field",
        ));
    }
    let alternatives = object(map, &mut Vec::new(), 0)?;
    Ok(Pattern {
        conjuncts: alternatives.into_iter().map(Conjunct::new).collect(),
    })
}

/// Every way the object can be satisfied: one list of fields per `$or` combination.
type Alternatives = Vec<Vec<FieldMatcher>>;

fn object(
    map: &Map<String, Value>,
    path: &mut Vec<String>,
    depth: usize,
) -> Result<Alternatives, PatternError> {
    if depth > MAX_DEPTH {
        return Err(PatternError::TooDeep);
    }
    if map.is_empty() {
        return Err(invalid(path, "Empty objects are not allowed"));
    }
    let mut alternatives: Alternatives = vec![Vec::new()];
    for (key, value) in map {
        if key == "$or" {
            let branches = or_branches(value, path, depth)?;
            alternatives = product(alternatives, branches, path)?;
            continue;
        }
        let mark = path.len();
        // A dotted key is the same path as the nesting it spells.
        path.extend(key.split('.').map(str::to_owned));
        match value {
            Value::Object(inner) => {
                let inner = object(inner, path, depth + 1)?;
                alternatives = product(alternatives, inner, path)?;
            }
            Value::Array(items) => {
                let field = field(items, path)?;
                for fields in &mut alternatives {
                    fields.push(field.clone());
                }
            }
            _ => {
                return Err(invalid(
                    path,
                    format!("\"{key}\" must be an object or an array"),
                ))
            }
        }
        path.truncate(mark);
    }
    Ok(alternatives)
}

fn or_branches(
    value: &Value,
    path: &mut Vec<String>,
    depth: usize,
) -> Result<Alternatives, PatternError> {
    let shape = "$or takes an array of at least two pattern objects";
    let Value::Array(branches) = value else {
        return Err(invalid(path, shape));
    };
    if branches.len() < 2 {
        return Err(invalid(path, shape));
    }
    let mut out = Vec::new();
    for branch in branches {
        let Value::Object(branch) = branch else {
            return Err(invalid(path, shape));
        };
        out.extend(object(branch, path, depth + 1)?);
        if out.len() > MAX_COMBINATIONS {
            return Err(too_many(path, out.len()));
        }
    }
    Ok(out)
}

/// Every combination of one alternative from `a` and one from `b`.
fn product(
    a: Alternatives,
    b: Alternatives,
    path: &[String],
) -> Result<Alternatives, PatternError> {
    if b.len() == 1 {
        let extra = b.into_iter().next().unwrap_or_default();
        return Ok(a
            .into_iter()
            .map(|mut fields| {
                fields.extend(extra.iter().cloned());
                fields
            })
            .collect());
    }
    let n = a.len().saturating_mul(b.len());
    if n > MAX_COMBINATIONS {
        return Err(too_many(path, n));
    }
    let mut out = Vec::with_capacity(n);
    for left in &a {
        for right in &b {
            let mut fields = left.clone();
            fields.extend(right.iter().cloned());
            out.push(fields);
        }
    }
    Ok(out)
}

fn too_many(path: &[String], n: usize) -> PatternError {
    invalid(
        path,
        format!(
            "the $or clauses expand to {n} or more combinations, over EventBridge's limit of {MAX_COMBINATIONS}"
        ),
    )
}

fn field(items: &[Value], path: &[String]) -> Result<FieldMatcher, PatternError> {
    if items.is_empty() {
        return Err(invalid(path, "Empty arrays are not allowed"));
    }
    let conditions = items
        .iter()
        .map(|v| operators::condition(v, path))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FieldMatcher::new(path.to_vec(), conditions))
}
