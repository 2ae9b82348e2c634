//! The function's AWS clients from `trailguard-aws`, behind the seams the handler
//! uses: [`S3Source`] (an [`ObjectSource`]), [`SecretsManagerSource`] (a
//! [`SecretSource`]) and the DynamoDB store.
//!
//! `trailguard-aws`'s clients block (each on a small runtime of its own), and the
//! handler is async: every call goes to tokio's blocking pool, so that the function's
//! runtime keeps its thread for sends and timeouts.

use std::sync::Arc;

use trailguard_aws::{AwsError, AwsOptions, S3Objects, SecretsManagerSecrets};
use trailguard_io::objects::{FetchError, FetchFuture, ObjectSource};

use crate::secrets::{SecretError, SecretFuture, SecretSource};

/// The credentials and region of the function's role (the standard chain: Lambda sets
/// them in the environment), and `TRAILGUARD_AWS_ENDPOINT_URL` when set.
pub fn options(endpoint_url: Option<&str>) -> AwsOptions {
    AwsOptions {
        endpoint_url: endpoint_url.map(str::to_owned),
        ..AwsOptions::default()
    }
}

/// CloudTrail objects from S3 (`s3:GetObject` only: the function lists nothing).
pub struct S3Source {
    objects: Arc<S3Objects>,
}

impl S3Source {
    pub fn connect(options: &AwsOptions) -> Result<S3Source, AwsError> {
        Ok(S3Source {
            objects: Arc::new(S3Objects::connect(options)?),
        })
    }
}

/// The handler's errors name the object; the SDK's message says why.
fn fetch_error(bucket: &str, key: &str, e: AwsError) -> FetchError {
    let (bucket, key) = (bucket.to_owned(), key.to_owned());
    match e {
        AwsError::TooLarge { size, limit, .. } => FetchError::TooLarge {
            bucket,
            key,
            size,
            limit,
        },
        AwsError::NotFound { .. } => FetchError::NotFound { bucket, key },
        AwsError::AccessDenied { .. } => FetchError::AccessDenied { bucket, key },
        other => FetchError::Other {
            bucket,
            key,
            detail: other.to_string(),
        },
    }
}

impl ObjectSource for S3Source {
    fn name(&self) -> &str {
        "s3"
    }

    fn fetch<'a>(&'a self, bucket: &'a str, key: &'a str, max_bytes: u64) -> FetchFuture<'a> {
        let objects = Arc::clone(&self.objects);
        let (b, k) = (bucket.to_owned(), key.to_owned());
        Box::pin(async move {
            let fetched =
                tokio::task::spawn_blocking(move || objects.fetch_limited(&b, &k, max_bytes))
                    .await
                    .map_err(|e| FetchError::Other {
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                        detail: format!("the fetch did not finish: {e}"),
                    })?;
            fetched.map_err(|e| fetch_error(bucket, key, e))
        })
    }
}

/// `*_SECRET_ARN` values from Secrets Manager (`secretsmanager:GetSecretValue`).
pub struct SecretsManagerSource {
    secrets: Arc<SecretsManagerSecrets>,
}

impl SecretsManagerSource {
    pub fn connect(options: &AwsOptions) -> Result<SecretsManagerSource, AwsError> {
        Ok(SecretsManagerSource {
            secrets: Arc::new(SecretsManagerSecrets::connect(options)?),
        })
    }
}

impl SecretSource for SecretsManagerSource {
    fn get<'a>(&'a self, arn: &'a str) -> SecretFuture<'a> {
        let secrets = Arc::clone(&self.secrets);
        let id = arn.to_owned();
        Box::pin(async move {
            let read = tokio::task::spawn_blocking(move || secrets.get(&id))
                .await
                .map_err(|e| SecretError {
                    arn: arn.to_owned(),
                    reason: format!("the read did not finish: {e}"),
                })?;
            // The SDK's error names the secret and the reason, never its value.
            read.map_err(|e| SecretError {
                arn: arn.to_owned(),
                reason: e.to_string(),
            })
        })
    }
}
