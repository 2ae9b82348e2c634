//! SDK errors, reduced to what a person and the plan's executor need: which call,
//! whether it was refused, whether the target is gone, and AWS's own words.

use std::error::Error;
use std::fmt::Debug;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use trailguard_core::remedy::AccountError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    #[error("{0}")]
    Setup(String),
    #[error("{call}: {code}: {message}")]
    AccessDenied {
        call: &'static str,
        code: String,
        message: String,
    },
    /// The target does not exist (any more).
    #[error("{call}: {code}: {message}")]
    NotFound {
        call: &'static str,
        code: String,
        message: String,
    },
    #[error("{call}: {code}: {message}")]
    Api {
        call: &'static str,
        code: String,
        message: String,
    },
    /// No answer (connection, timeout, credentials could not be loaded).
    #[error("{call}: {message}")]
    Transport { call: &'static str, message: String },
    /// An object bigger than the caller accepts; nothing past the limit was read.
    #[error("{what}: {size} bytes, over the limit of {limit} bytes")]
    TooLarge { what: String, size: u64, limit: u64 },
    /// An answer that is not what the call promises (a secret without a string, an
    /// item of the state table that trailguard did not write).
    #[error("{what}: {message}")]
    Unexpected { what: String, message: String },
}

impl AwsError {
    pub fn into_account(self) -> AccountError {
        match self {
            AwsError::AccessDenied { .. } => AccountError::AccessDenied(self.to_string()),
            other => AccountError::Failed(other.to_string()),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, AwsError::NotFound { .. })
    }

    /// AWS's error code, when AWS answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::AccessDenied { code, .. }
            | AwsError::NotFound { code, .. }
            | AwsError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The same error with `context` (the bucket and key, the table, the secret) put
    /// before AWS's message, which often does not name what it is about.
    pub(crate) fn about(self, context: &str) -> AwsError {
        match self {
            AwsError::AccessDenied {
                call,
                code,
                message,
            } => AwsError::AccessDenied {
                call,
                code,
                message: format!("{context}: {message}"),
            },
            AwsError::NotFound {
                call,
                code,
                message,
            } => AwsError::NotFound {
                call,
                code,
                message: format!("{context}: {message}"),
            },
            AwsError::Api {
                call,
                code,
                message,
            } => AwsError::Api {
                call,
                code,
                message: format!("{context}: {message}"),
            },
            AwsError::Transport { call, message } => AwsError::Transport {
                call,
                message: format!("{context}: {message}"),
            },
            other => other,
        }
    }
}

const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
];

/// IAM's `NoSuchEntity`, EC2's `InvalidX.NotFound`, S3's `NoSuchKey`/`NoSuchBucket`
/// (and a bare `NotFound` for a HEAD without a body), DynamoDB's and Secrets Manager's
/// `ResourceNotFoundException`.
fn is_not_found_code(code: &str) -> bool {
    code.starts_with("NoSuch") || code.ends_with("NotFound") || code.ends_with("NotFoundException")
}

/// An error and its sources, `: `-joined, without the SDK's `Debug` dump of the
/// whole response (which `DisplayErrorContext` appends).
fn chain(e: &dyn Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Sorts an SDK error by its AWS error code.
pub(crate) fn classify<E, R>(e: SdkError<E, R>, call: &'static str) -> AwsError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
    R: Debug,
{
    let code = e.code().map(str::to_string);
    let message = e.message().map(str::to_string).unwrap_or_else(|| chain(&e));
    match code {
        Some(code) if DENIED.contains(&code.as_str()) => AwsError::AccessDenied {
            call,
            code,
            message,
        },
        Some(code) if is_not_found_code(&code) => AwsError::NotFound {
            call,
            code,
            message,
        },
        Some(code) => AwsError::Api {
            call,
            code,
            message,
        },
        None => AwsError::Transport { call, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_codes_of_iam_and_ec2() {
        for c in [
            "NoSuchEntity",
            "InvalidInstanceID.NotFound",
            "InvalidGroup.NotFound",
            "InvalidSnapshot.NotFound",
            "InvalidAMIID.NotFound",
        ] {
            assert!(is_not_found_code(c), "{c}");
        }
        for c in [
            "NoSuchKey",
            "NoSuchBucket",
            "NotFound",
            "ResourceNotFoundException",
        ] {
            assert!(is_not_found_code(c), "{c}");
        }
        assert!(!is_not_found_code("Throttling"));
        assert!(!is_not_found_code("ConditionalCheckFailedException"));
    }

    #[test]
    fn denied_is_an_account_access_denied() {
        let e = AwsError::AccessDenied {
            call: "iam:UpdateAccessKey",
            code: "AccessDenied".into(),
            message: "no".into(),
        };
        assert!(
            matches!(e.into_account(), AccountError::AccessDenied(m) if m.contains("iam:UpdateAccessKey"))
        );
    }
}
