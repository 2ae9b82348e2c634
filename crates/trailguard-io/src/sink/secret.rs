//! [`Secret`]: a value (a webhook URL) that must never be printed, logged or put in an error.

use std::fmt;

/// A secret string, such as a webhook URL whose path holds a token.
///
/// `Debug` and `Display` print `[redacted]` and nothing of the value (not even the
/// scheme or host). The only way to read it is [`Secret::expose`], which should be
/// called right where the value is handed to the HTTP client.
///
/// Deliberately not `Serialize`, `PartialEq` or `Hash`, so that it cannot end up in a
/// JSON document, a log line or a map key by accident.
#[derive(Clone)]
pub struct Secret(Box<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into().into_boxed_str())
    }

    /// The secret value. Never print or log what this returns.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("https://discord.com/api/webhooks/123/TOKEN");
        for shown in [
            format!("{s}"),
            format!("{s:?}"),
            format!("{s:#?}"),
            format!("{:?}", Some(&s)),
        ] {
            assert!(!shown.contains("TOKEN"), "{shown}");
            assert!(!shown.contains("discord"), "{shown}");
            assert!(!shown.contains("https"), "{shown}");
        }
        assert_eq!(s.to_string(), "[redacted]");
        assert_eq!(s.expose(), "https://discord.com/api/webhooks/123/TOKEN");
        assert!(!s.is_empty());
        assert!(Secret::new("  ").is_empty());
    }
}
