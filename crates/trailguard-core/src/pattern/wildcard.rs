//! Placeholder until the wildcard branch lands (same API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wildcard {
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WildcardError {
    #[error("Consecutive wildcard characters at pos {0}")]
    Consecutive(usize),
}

impl Wildcard {
    pub(crate) fn parse(pattern: &str) -> Result<Wildcard, WildcardError> {
        if let Some(p) = pattern.find("**") {
            return Err(WildcardError::Consecutive(p + 1));
        }
        Ok(Wildcard {
            text: pattern.to_owned(),
        })
    }

    pub(crate) fn matches(&self, s: &str) -> bool {
        let parts: Vec<&str> = self.text.split('*').collect();
        if parts.len() == 1 {
            return s == self.text;
        }
        let (first, last) = (parts[0], parts[parts.len() - 1]);
        if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
            return false;
        }
        let mut rest = &s[first.len()..s.len() - last.len()];
        for mid in &parts[1..parts.len() - 1] {
            match rest.find(mid) {
                Some(i) => rest = &rest[i + mid.len()..],
                None => return false,
            }
        }
        true
    }

    pub(crate) fn as_exact(&self) -> Option<&str> {
        (!self.text.contains('*')).then_some(self.text.as_str())
    }
}
