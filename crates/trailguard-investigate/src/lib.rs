//! What one leaked key, principal or address did, from CloudTrail, in one pass.
//!
//! An [`Investigator`] is fed every event of the input (from any number of threads)
//! and folds the subject's events into an [`Activity`]: counts, addresses, user
//! agents, regions, calls, the blast radius ([`Created`]) and a bounded timeline. In
//! the same pass it indexes what the lineage needs (every other key's bounded
//! activity, every `CreateAccessKey`), so that [`report::build`] can follow the
//! credentials the subject created, and those they created, without reading the
//! input again. [`render`] writes the [`Report`] as a table, Markdown or a
//! self-contained HTML page; its JSON form is the investigation contract of
//! `docs/architecture.md`.
//!
//! No I/O beyond the writers given to the renderers: the reading, the rule pack and
//! the command line live in the `trailguard` binary.

pub mod activity;
pub mod candidate;
pub mod created;
pub mod investigator;
pub mod plan;
pub mod render;
pub mod report;
pub mod subject;

pub use activity::{Activity, Limits};
pub use candidate::{Candidate, CandidateLimits};
pub use created::Created;
pub use investigator::{Findings, Investigator, Options};
pub use plan::{build_plan, PlanOptions};
pub use report::{build, BuildOptions, Report};
pub use subject::{Subject, SubjectError};
