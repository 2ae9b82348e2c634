//! Finding AWS credentials in files before they leak: access key ids (`AKIA`, `ASIA`,
//! `ABIA`, `ACCA`), the secret access keys and session tokens near them, with the
//! account each key id encodes (`trailguard_core::keyid`).
//!
//! [`detect`] finds credentials in bytes, [`walk`] reads files and folders into it,
//! [`filter`] applies allowlists and a baseline, [`render`] writes table, JSON, SARIF.
//! Git history and verification against AWS are not in this version.

pub mod archive;
pub mod detect;
pub mod filter;
pub mod finding;
pub mod render;
pub mod walk;

pub use detect::Scanner;
pub use filter::{Baseline, BaselineError, Filter, FilterError};
pub use finding::{Confidence, Finding, Masked, Rule};
pub use walk::{FileReport, Problem, WalkOptions};
