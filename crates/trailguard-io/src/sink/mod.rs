//! Sinks: see the helper brief.
