//! trailguard's I/O: readers that turn files, folders and stdin into [`Event`]s, and
//! sinks that deliver [`Alert`]s.
//!
//! [`Event`]: trailguard_core::Event
//! [`Alert`]: trailguard_core::Alert

pub mod reader;
pub mod render;
pub mod sink;
