//! [`SecretsManagerSecrets`]: webhook URLs and signing secrets read from Secrets
//! Manager at the Lambda's init, by ARN or name.
//!
//! The value is returned to the caller and nowhere else: it is not kept here, not
//! logged, and no error carries it (errors name the secret, never its content).

use aws_sdk_secretsmanager::Client;

use crate::error::{classify, AwsError};
use crate::AwsOptions;

pub struct SecretsManagerSecrets {
    runtime: crate::SharedRuntime,
    client: Client,
}

/// Nothing secret is held, but say so rather than derive.
impl std::fmt::Debug for SecretsManagerSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsManagerSecrets")
            .finish_non_exhaustive()
    }
}

impl SecretsManagerSecrets {
    /// Makes the client; calls nothing.
    pub fn connect(options: &AwsOptions) -> Result<SecretsManagerSecrets, AwsError> {
        let runtime = crate::runtime()?;
        let config = crate::block_on(&runtime, crate::load_config(options));
        Ok(SecretsManagerSecrets {
            runtime,
            client: Client::new(&config),
        })
    }

    /// The current `SecretString` of the secret `arn_or_name`.
    pub fn get(&self, arn_or_name: &str) -> Result<String, AwsError> {
        let what = format!("secret `{arn_or_name}`");
        let out = crate::block_on(
            &self.runtime,
            self.client.get_secret_value().secret_id(arn_or_name).send(),
        )
        .map_err(|e| classify(e, "secretsmanager:GetSecretValue").about(&what))?;
        match out.secret_string {
            Some(v) => Ok(v),
            None => Err(AwsError::Unexpected {
                what,
                message: "holds no SecretString (binary secrets are not supported: \
                          store the URL as a string)"
                    .into(),
            }),
        }
    }
}
