//! trailguard's only contact with the AWS SDK for Rust. Everything else builds and
//! tests without it. This crate carries a remediation plan out against a real account
//! ([`AwsAccount`], an implementation of `trailguard_core::remedy::Account`), keeps
//! the rules' state in DynamoDB ([`DynamoStore`], a `trailguard_core::state::Store`
//! shared by concurrent Lambda invocations), reads CloudTrail objects from S3
//! ([`S3Objects`]), their notifications from SQS ([`SqsQueue`]) and webhook URLs from
//! Secrets Manager ([`SecretsManagerSecrets`]).
//!
//! The SDK is async; its callers here are not (the plan's executor asks a person
//! before each step, the rules' judging pass is sequential). Every client blocks on
//! each call, on one runtime shared by the process ([`runtime`]), also when called
//! from inside another runtime ([`block_on`]).

#[cfg(feature = "remedy")]
mod account;
#[cfg(feature = "state")]
mod dynamo;
#[cfg(feature = "remedy")]
mod ec2;
mod error;
#[cfg(feature = "remedy")]
mod iam;
#[cfg(feature = "objects")]
mod s3;
#[cfg(feature = "secrets")]
mod secrets;
#[cfg(feature = "queue")]
mod sqs;
#[cfg(feature = "remedy")]
mod verify;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

#[cfg(feature = "remedy")]
pub use account::AwsAccount;
#[cfg(feature = "state")]
pub use dynamo::{DynamoOptions, DynamoStore};
pub use error::AwsError;
#[cfg(feature = "objects")]
pub use s3::{
    BucketLister, S3Objects, DEFAULT_MAX_OBJECT_BYTES as S3_DEFAULT_MAX_OBJECT_BYTES,
    MAX_ATTEMPTS as S3_MAX_ATTEMPTS,
};
#[cfg(feature = "secrets")]
pub use secrets::SecretsManagerSecrets;
#[cfg(feature = "queue")]
pub use sqs::{Message as SqsMessage, QueueUrl, QueueUrlError, SqsQueue};
#[cfg(feature = "remedy")]
pub use verify::{Verdict, Verifier};

/// Static credentials, for tests against an emulator (set on the client's config
/// rather than in the process environment, which parallel tests share). Its `Debug`
/// redacts the secret.
pub use aws_credential_types::Credentials;

/// Where the credentials and the API come from.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// A profile of `~/.aws/config` (else the standard chain: environment, profile
    /// `default`, SSO, container, instance metadata).
    pub profile: Option<String>,
    /// The region for regional calls without one of their own (IAM is global).
    pub region: Option<String>,
    /// Another endpoint for every service (an emulator such as moto in tests, or a
    /// VPC endpoint). S3 is then addressed by path (`ENDPOINT/BUCKET/KEY`), since an
    /// emulator or an IP address has no per-bucket host names.
    pub endpoint_url: Option<String>,
    /// Credentials to use instead of the chain (tests); `None` in real use.
    pub credentials: Option<Credentials>,
}

/// The runtime every client of this crate blocks on: one per process, made on first
/// use, whose workers drive the shared HTTP client's connections (so a connection
/// opened for one client serves another, whichever thread calls). Up to four: parallel
/// downloads decode their bodies there.
pub(crate) fn runtime() -> Result<SharedRuntime, AwsError> {
    static RUNTIME: std::sync::OnceLock<Result<tokio::runtime::Runtime, String>> =
        std::sync::OnceLock::new();
    let made = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(
                std::thread::available_parallelism()
                    .map_or(1, |n| n.get())
                    .min(4),
            )
            .thread_name("trailguard-aws")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))
    });
    match made {
        Ok(r) => Ok(SharedRuntime(r)),
        Err(e) => Err(AwsError::Setup(e.clone())),
    }
}

/// A client's handle on the process's runtime.
#[derive(Clone, Copy)]
pub(crate) struct SharedRuntime(&'static tokio::runtime::Runtime);

impl std::ops::Deref for SharedRuntime {
    type Target = tokio::runtime::Runtime;
    fn deref(&self) -> &tokio::runtime::Runtime {
        self.0
    }
}

/// Blocks on `fut` with `runtime`. Called from inside another tokio runtime (the
/// Lambda's, a test's) a runtime may not block its own thread, so the call then runs
/// on a short-lived thread of its own while the caller's thread waits: these clients
/// can be used from synchronous code anywhere.
pub(crate) fn block_on<F>(runtime: &tokio::runtime::Runtime, fut: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return runtime.block_on(fut);
    }
    std::thread::scope(|scope| {
        scope
            .spawn(|| runtime.block_on(fut))
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The SDK configuration every client of this crate shares: one HTTP client (rustls
/// with ring, no aws-lc), the credential chain or `options.credentials`, the region
/// (us-east-1 when none is configured: IAM and STS answer there whatever the
/// account's regions) and the endpoint override.
pub async fn load_config(options: &AwsOptions) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client());
    if let Some(p) = &options.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &options.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(u) = &options.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    if let Some(c) = &options.credentials {
        loader = loader.credentials_provider(c.clone());
    }
    let config = loader.load().await;
    if config.region().is_some() {
        return config;
    }
    config
        .into_builder()
        .region(Region::from_static("us-east-1"))
        .build()
}

/// The one HTTP client of the process: made once, because making one reads the
/// system's root certificates (tens of milliseconds, which a Lambda's cold start
/// would pay once per service), and shared by every SDK client.
fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    static CLIENT: std::sync::OnceLock<aws_smithy_runtime_api::client::http::SharedHttpClient> =
        std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                .build_https()
        })
        .clone()
}
