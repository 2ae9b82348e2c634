//! Finding AWS credentials in files before they leak: access key ids (`AKIA`, `ASIA`,
//! `ABIA`, `ACCA`), the secret access keys and session tokens near them, with the
//! account each key id encodes (`trailguard_core::keyid`).
//!
//! [`detect`] finds credentials in bytes, [`archive`] opens what a file or blob holds
//! (gzip, tar, zip, nested), [`walk`] reads files and folders, [`git`] a repository's
//! history, [`filter`] applies allowlists and a baseline, [`render`] writes table,
//! JSON, SARIF. Verification against AWS is not in this version.

pub mod archive;
pub mod detect;
pub mod filter;
pub mod finding;
pub mod git;
pub mod render;
pub mod walk;

pub use detect::Scanner;
pub use filter::{Baseline, BaselineError, Filter, FilterError};
pub use finding::{CommitInfo, Confidence, Finding, LivePair, Masked, Rule, Verification};
pub use git::{GitError, GitOptions, GitReport};
pub use walk::{FileReport, Problem, WalkOptions};
