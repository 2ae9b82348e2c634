//! trailguard's I/O: readers that turn files, folders and stdin into [`Event`]s,
//! sinks that deliver [`Alert`]s, the outbox that makes sure they are delivered, and
//! the SQLite state file of `--state`.
//!
//! [`Event`]: trailguard_core::Event
//! [`Alert`]: trailguard_core::Alert

pub mod config;
pub mod digest;
pub mod objects;
pub mod outbox;
pub mod reader;
pub mod redact;
pub mod render;
pub mod route;
pub mod rules;
pub mod s3_layout;
pub mod scanner;
pub mod sink;
pub mod state;
