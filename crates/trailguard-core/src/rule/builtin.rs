//! The built-in rule pack: `rules/*.yml`, embedded at build time.

use super::{load_rules, Rule};

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// The built-in rules, compiled. They are tested at build time (`cargo test`), so a
/// failure here is a bug in the pack, reported rather than panicking.
pub fn builtin_rules() -> Result<Vec<Rule>, super::RuleError> {
    load_rules(
        BUILTIN
            .iter()
            .map(|(name, text)| (format!("rules/{name} (built-in)"), *text)),
    )
}

/// The embedded YAML texts, by file name.
pub fn builtin_sources() -> &'static [(&'static str, &'static str)] {
    BUILTIN
}
