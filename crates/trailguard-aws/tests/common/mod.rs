//! What the moto tests of this crate share: options pointing at a server, static
//! credentials on the config (not in the process environment, which tests running in
//! parallel threads share), and a runtime for the fixtures made through the SDK.
#![allow(dead_code)]

use trailguard_aws::{AwsOptions, Credentials};

/// The emulator accepts any secret; this one is recognisable if it ever leaks.
pub const SECRET_KEY: &str = "test-secret-key-never-printed";

pub fn options(endpoint: &str) -> AwsOptions {
    AwsOptions {
        profile: None,
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.to_string()),
        credentials: Some(Credentials::new("testing", SECRET_KEY, None, None, "tests")),
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    runtime().block_on(trailguard_aws::load_config(&options(endpoint)))
}
