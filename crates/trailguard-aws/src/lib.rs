//! trailguard's only contact with the AWS SDK for Rust. Everything else builds and
//! tests without it. This crate carries a remediation plan out against a real account
//! ([`AwsAccount`], an implementation of `trailguard_core::remedy::Account`), keeps
//! the rules' state in DynamoDB ([`DynamoStore`], a `trailguard_core::state::Store`
//! shared by concurrent Lambda invocations), reads CloudTrail objects from S3
//! ([`S3Objects`]) and webhook URLs from Secrets Manager ([`SecretsManagerSecrets`]).
//!
//! The SDK is async; its callers here are not (the plan's executor asks a person
//! before each step, the rules' judging pass is sequential). Each client owns a small
//! current-thread tokio runtime and blocks on each call.

mod dynamo;
mod ec2;
mod error;
mod iam;
mod s3;
mod secrets;
mod verify;

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use trailguard_core::remedy::{Account, AccountError, Action, Caller, StepState};

pub use dynamo::{DynamoOptions, DynamoStore};
pub use error::AwsError;
pub use s3::{
    BucketLister, ParallelFetch, S3Objects,
    DEFAULT_MAX_OBJECT_BYTES as S3_DEFAULT_MAX_OBJECT_BYTES, MAX_ATTEMPTS as S3_MAX_ATTEMPTS,
};
pub use secrets::SecretsManagerSecrets;
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

/// A current-thread runtime: each client blocks on one call at a time, so one thread
/// is enough and nothing is spawned behind the caller's back.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, AwsError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AwsError::Setup(format!("cannot start the async runtime: {e}")))
}

/// The SDK configuration every client of this crate shares: one HTTP client (rustls
/// with ring, no aws-lc), the credential chain or `options.credentials`, the region
/// (us-east-1 when none is configured: IAM and STS answer there whatever the
/// account's regions) and the endpoint override.
pub async fn load_config(options: &AwsOptions) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
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

/// An account reached through the AWS SDK.
pub struct AwsAccount {
    runtime: tokio::runtime::Runtime,
    config: SdkConfig,
    iam: aws_sdk_iam::Client,
}

impl AwsAccount {
    /// Loads the credential chain and makes the clients; calls nothing yet.
    pub fn connect(options: &AwsOptions) -> Result<AwsAccount, AwsError> {
        let runtime = runtime()?;
        let config = runtime.block_on(load_config(options));
        let iam = aws_sdk_iam::Client::new(&config);
        Ok(AwsAccount {
            runtime,
            config,
            iam,
        })
    }

    /// EC2 in `region` (clients are cheap: they share the HTTP connector).
    fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let conf = aws_sdk_ec2::config::Builder::from(&self.config)
            .region(Region::new(region.to_string()))
            .build();
        aws_sdk_ec2::Client::from_conf(conf)
    }

    /// The access key id of the credentials in use (never the secret).
    fn access_key_in_use(&self) -> Option<String> {
        use aws_credential_types::provider::ProvideCredentials;
        let provider = self.config.credentials_provider()?;
        let creds = self.runtime.block_on(provider.provide_credentials()).ok()?;
        Some(creds.access_key_id().to_string())
    }
}

impl Account for AwsAccount {
    fn caller(&mut self) -> Result<Caller, AccountError> {
        let sts = aws_sdk_sts::Client::new(&self.config);
        let out = self
            .runtime
            .block_on(sts.get_caller_identity().send())
            .map_err(|e| error::classify(e, "sts:GetCallerIdentity").into_account())?;
        Ok(Caller {
            arn: out.arn().unwrap_or_default().to_string(),
            account: out.account().unwrap_or_default().to_string(),
            user_id: out.user_id().unwrap_or_default().to_string(),
            access_key_id: self.access_key_in_use(),
        })
    }

    fn check(&mut self, action: &Action) -> Result<StepState, AccountError> {
        let r = match action {
            Action::Tag { .. }
            | Action::StopInstances { .. }
            | Action::TerminateInstances { .. }
            | Action::RevokeSecurityGroupRule { .. }
            | Action::UnshareSnapshot { .. }
            | Action::UnshareImage { .. } => {
                if let Some(region) = ec2::region_of(action) {
                    let client = self.ec2(region);
                    self.runtime.block_on(ec2::check(&client, action))
                } else {
                    self.runtime.block_on(iam::check(&self.iam, action))
                }
            }
            Action::Manual => Ok(StepState::Done),
            _ => self.runtime.block_on(iam::check(&self.iam, action)),
        };
        r.map_err(AwsError::into_account)
    }

    fn apply(&mut self, action: &Action, now: &str) -> Result<(), AccountError> {
        let r = match ec2::region_of(action) {
            Some(region) => {
                let client = self.ec2(region);
                self.runtime.block_on(ec2::apply(&client, action))
            }
            None => self.runtime.block_on(iam::apply(&self.iam, action, now)),
        };
        r.map_err(AwsError::into_account)
    }

    /// IAM reads are eventually consistent: a change may take a moment to show.
    fn verify(&mut self, action: &Action) -> Result<StepState, AccountError> {
        let mut state = self.check(action)?;
        for wait in [200, 500, 1000, 2000] {
            if !matches!(state, StepState::ToDo(_)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(wait));
            state = self.check(action)?;
        }
        Ok(state)
    }

    fn active_keys(&mut self, user: &str) -> Result<Vec<String>, AccountError> {
        self.runtime
            .block_on(iam::active_keys(&self.iam, user))
            .map_err(AwsError::into_account)
    }
}
