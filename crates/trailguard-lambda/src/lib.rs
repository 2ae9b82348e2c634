//! trailguard as an AWS Lambda function: the same rules, engine, redaction, routing and
//! sinks as the command line, behind EventBridge (near real time) and S3 notifications
//! (directly, through SQS, or SNS in SQS: everything a trail writes).
//!
//! The binary (`bootstrap`, `src/main.rs`) reads the configuration once
//! ([`config::LambdaConfig`]), builds an [`handler::App`] and serves invocations from
//! the Lambda Runtime API. The library holds everything else, so that tests drive the
//! handler directly as well as through a local Runtime API.
//!
//! Seams for the AWS SDK (`trailguard-aws`), each returning nothing or memory today:
//! [`object_source`] (S3 `GetObject`), [`state_store`] (DynamoDB) and
//! [`secrets::default_secret_source`] (Secrets Manager).

pub mod config;
pub mod envelope;
pub mod handler;
pub mod log;
pub mod secrets;

use trailguard_core::state::{MemoryStore, Store};
use trailguard_io::objects::{LocalDirSource, ObjectSource};

use config::LambdaConfig;

/// Where S3 objects are fetched: `TRAILGUARD_LOCAL_OBJECTS_DIR` when set (tests,
/// local runs), else S3.
///
/// SEAM(trailguard-aws): return the S3 client here (`Some(Box::new(S3Objects::new(&sdk_config)))`,
/// implementing [`ObjectSource`] with `GetObject`, refusing objects over `max_bytes`
/// from the `Content-Length` before reading the body). Until then S3 notifications
/// fail with "no object source", and SQS delivers them again later.
pub async fn object_source(config: &LambdaConfig) -> Option<Box<dyn ObjectSource>> {
    config
        .local_objects
        .as_ref()
        .map(|dir| Box::new(LocalDirSource::new(dir)) as Box<dyn ObjectSource>)
}

/// The state stateful rules judge against.
///
/// SEAM(trailguard-aws): return the DynamoDB store (table schema in
/// `docs/architecture.md`, "DynamoDB state table") so that every execution
/// environment shares first-seen values, windows and sequences. Until then each
/// environment keeps its own in memory, lost when it is recycled.
pub async fn state_store(_config: &LambdaConfig) -> Box<dyn Store + Send> {
    Box::new(MemoryStore::new())
}
