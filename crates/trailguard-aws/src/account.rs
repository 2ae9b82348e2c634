//! [`AwsAccount`]: a remediation plan carried out against a real account (IAM, EC2,
//! STS), an implementation of `trailguard_core::remedy::Account`.

use std::time::Duration;

use aws_config::{Region, SdkConfig};
use trailguard_core::remedy::{Account, AccountError, Action, Caller, StepState};

use crate::error::{self, AwsError};
use crate::{ec2, iam, load_config, runtime, AwsOptions};

/// An account reached through the AWS SDK.
pub struct AwsAccount {
    runtime: crate::SharedRuntime,
    config: SdkConfig,
    iam: aws_sdk_iam::Client,
}

impl AwsAccount {
    /// Loads the credential chain and makes the clients; calls nothing yet.
    pub fn connect(options: &AwsOptions) -> Result<AwsAccount, AwsError> {
        let runtime = runtime()?;
        let config = crate::block_on(&runtime, load_config(options));
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
        let creds = crate::block_on(&self.runtime, provider.provide_credentials()).ok()?;
        Some(creds.access_key_id().to_string())
    }
}

impl Account for AwsAccount {
    fn caller(&mut self) -> Result<Caller, AccountError> {
        let sts = aws_sdk_sts::Client::new(&self.config);
        let out = crate::block_on(&self.runtime, sts.get_caller_identity().send())
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
                    crate::block_on(&self.runtime, ec2::check(&client, action))
                } else {
                    crate::block_on(&self.runtime, iam::check(&self.iam, action))
                }
            }
            Action::Manual => Ok(StepState::Done),
            _ => crate::block_on(&self.runtime, iam::check(&self.iam, action)),
        };
        r.map_err(AwsError::into_account)
    }

    fn apply(&mut self, action: &Action, now: &str) -> Result<(), AccountError> {
        let r = match ec2::region_of(action) {
            Some(region) => {
                let client = self.ec2(region);
                crate::block_on(&self.runtime, ec2::apply(&client, action))
            }
            None => crate::block_on(&self.runtime, iam::apply(&self.iam, action, now)),
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
        crate::block_on(&self.runtime, iam::active_keys(&self.iam, user))
            .map_err(AwsError::into_account)
    }
}
