//! trailguard as an AWS Lambda function: the same rules, engine, redaction, routing and
//! sinks as the command line, behind EventBridge (near real time) and S3 notifications
//! (directly, through SQS, or SNS in SQS: everything a trail writes).
//!
//! The binary (`bootstrap`, `src/main.rs`) reads the configuration once
//! ([`config::LambdaConfig`]), builds an [`handler::App`] and serves invocations from
//! the Lambda Runtime API. The library holds everything else, so that tests drive the
//! handler directly as well as through a local Runtime API.
//!
//! AWS is reached through `trailguard-aws` ([`aws`]): S3 for the objects named by
//! notifications ([`object_source`]), DynamoDB for the state every execution
//! environment shares ([`state_store`]), Secrets Manager for `*_SECRET_ARN` variables
//! ([`secrets::default_secret_source`]).

pub mod aws;
pub mod config;
pub mod envelope;
pub mod handler;
pub mod log;
pub mod secrets;

use trailguard_aws::{DynamoOptions, DynamoStore};
use trailguard_core::state::{MemoryStore, Store};
use trailguard_io::objects::{LocalDirSource, ObjectSource};

use config::LambdaConfig;

/// Where S3 objects are fetched: `TRAILGUARD_LOCAL_OBJECTS_DIR` when set (tests,
/// local runs), else S3 with the function's role.
pub fn object_source(config: &LambdaConfig) -> Result<Box<dyn ObjectSource>, InitError> {
    if let Some(dir) = &config.local_objects {
        return Ok(Box::new(LocalDirSource::new(dir)));
    }
    let options = aws::options(config.aws_endpoint_url.as_deref());
    let s3 = aws::S3Source::connect(&options).map_err(|e| InitError {
        what: "S3",
        message: e.to_string(),
    })?;
    Ok(Box::new(s3))
}

/// The state stateful rules judge against, and where sends are claimed: the
/// DynamoDB table `TRAILGUARD_STATE_TABLE` (schema in `docs/architecture.md`,
/// "DynamoDB state table"), shared by every execution environment. Without it, each
/// environment keeps its own in memory, lost when it is recycled (and the init logs a
/// warning saying so).
pub fn state_store(config: &LambdaConfig) -> Result<Box<dyn Store + Send>, InitError> {
    let Some(table) = &config.state_table else {
        return Ok(Box::new(MemoryStore::new()));
    };
    let options = aws::options(config.aws_endpoint_url.as_deref());
    let store =
        DynamoStore::open(&options, DynamoOptions::new(table.clone())).map_err(|e| InitError {
            what: "DynamoDB",
            message: e.to_string(),
        })?;
    Ok(Box::new(store))
}

/// An AWS client that could not be made (no credentials are read yet: this is the
/// SDK's own setup failing).
#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct InitError {
    pub what: &'static str,
    pub message: String,
}
