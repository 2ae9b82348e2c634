//! Readers: see the helper brief.
