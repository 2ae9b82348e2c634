//! Secrets named by ARN in the environment: `NAME_SECRET_ARN=arn:...` makes `NAME`
//! (a webhook URL, a signing secret) the value of that secret, read once at init and
//! kept for the life of the execution environment (every warm invocation reuses it;
//! a rotated secret is seen by new environments, or by all after any configuration
//! change of the function).
//!
//! Secrets Manager is reached through [`SecretSource`] ([`crate::aws::SecretsManagerSource`]
//! in the function; a fake in tests).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// The suffix that marks a variable as naming a secret.
pub const ARN_SUFFIX: &str = "_SECRET_ARN";

/// The future a [`SecretSource`] returns: the secret's string value.
pub type SecretFuture<'a> = Pin<Box<dyn Future<Output = Result<String, SecretError>> + Send + 'a>>;

/// Where `*_SECRET_ARN` values are read (Secrets Manager's `GetSecretValue`).
pub trait SecretSource: Send + Sync {
    /// The `SecretString` of the secret `arn` (its current version). The value is a
    /// secret: implementations never log it or put it in an error.
    fn get<'a>(&'a self, arn: &'a str) -> SecretFuture<'a>;
}

/// Why a secret could not be read. Names the ARN, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret {arn}: {reason}")]
pub struct SecretError {
    pub arn: String,
    pub reason: String,
}

/// The Secrets Manager client of the function's role, made only when some variable
/// names a secret (a function without any spends no init time on it), at
/// `TRAILGUARD_AWS_ENDPOINT_URL` when set. `None` when it cannot be made: a
/// `*_SECRET_ARN` variable is then an init error naming the variable and the reason.
pub fn default_secret_source(
    env: &BTreeMap<String, String>,
) -> Result<Option<Box<dyn SecretSource>>, String> {
    if !env.keys().any(|k| k.ends_with(ARN_SUFFIX)) {
        return Ok(None);
    }
    // Checked as the configuration checks it, before any request goes there.
    let endpoint =
        crate::config::endpoint_url(env, crate::config::ENDPOINT_ENV).map_err(|e| e.to_string())?;
    let options = crate::aws::options(endpoint.as_deref());
    crate::aws::SecretsManagerSource::connect(&options)
        .map(|s| Some(Box::new(s) as Box<dyn SecretSource>))
        .map_err(|e| format!("Secrets Manager: {e}"))
}

/// Why a variable could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{var}: set together with {target}; give one of them")]
    Both { var: String, target: String },
    #[error(
        "{var}: no Secrets Manager client (its setup failed, see the log); set {target} instead"
    )]
    NoSource { var: String, target: String },
    #[error("{var}: `{arn}` is not a Secrets Manager ARN (arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME)")]
    NotAnArn { var: String, arn: String },
    #[error("{var}: {source}")]
    Read {
        var: String,
        #[source]
        source: SecretError,
    },
    #[error("{var}: the secret is empty")]
    Empty { var: String },
}

/// For every `NAME_SECRET_ARN` in `env`, reads the secret and sets `NAME` to its
/// value (trimmed). Returns the names set. Read one after the other: a handful of
/// secrets, once per execution environment.
pub async fn resolve_secret_arns(
    env: &mut BTreeMap<String, String>,
    source: Option<&dyn SecretSource>,
) -> Result<Vec<String>, ResolveError> {
    let wanted: Vec<(String, String, String)> = env
        .iter()
        .filter_map(|(k, v)| {
            let target = k.strip_suffix(ARN_SUFFIX)?;
            (!target.is_empty() && !v.trim().is_empty())
                .then(|| (k.clone(), target.to_owned(), v.trim().to_owned()))
        })
        .collect();
    let mut set = Vec::new();
    for (var, target, arn) in wanted {
        if env.get(&target).is_some_and(|v| !v.trim().is_empty()) {
            return Err(ResolveError::Both { var, target });
        }
        if !is_secret_arn(&arn) {
            return Err(ResolveError::NotAnArn { var, arn });
        }
        let Some(source) = source else {
            return Err(ResolveError::NoSource { var, target });
        };
        let value = source
            .get(&arn)
            .await
            .map_err(|source| ResolveError::Read {
                var: var.clone(),
                source,
            })?;
        let value = value.trim();
        if value.is_empty() {
            return Err(ResolveError::Empty { var });
        }
        env.insert(target.clone(), value.to_owned());
        set.push(target);
    }
    Ok(set)
}

/// `arn:aws:secretsmanager:us-east-1:123456789012:secret:name-AbCdEf` (any partition).
fn is_secret_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    parts.len() == 7
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "secretsmanager"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5] == "secret"
        && !parts[6].is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ARN: &str =
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:trailguard/discord-AbCdEf";

    struct Fake {
        calls: AtomicUsize,
        value: Result<String, SecretError>,
    }

    impl SecretSource for Fake {
        fn get<'a>(&'a self, _arn: &'a str) -> SecretFuture<'a> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let v = self.value.clone();
            Box::pin(async move { v })
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_arn_becomes_the_variable_it_names() {
        let fake = Fake {
            calls: AtomicUsize::new(0),
            value: Ok(" https://discord.com/api/webhooks/1/s3cr3t-token\n".into()),
        };
        let mut e = env(&[("DISCORD_WEBHOOK_URL_SECRET_ARN", ARN)]);
        let set = block_on(resolve_secret_arns(&mut e, Some(&fake))).unwrap();
        assert_eq!(set, ["DISCORD_WEBHOOK_URL"]);
        assert_eq!(
            e["DISCORD_WEBHOOK_URL"],
            "https://discord.com/api/webhooks/1/s3cr3t-token"
        );
        assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn without_a_source_the_error_says_what_to_do_and_no_value() {
        let mut e = env(&[("DISCORD_WEBHOOK_URL_SECRET_ARN", ARN)]);
        let msg = block_on(resolve_secret_arns(&mut e, None))
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("DISCORD_WEBHOOK_URL_SECRET_ARN: no Secrets Manager client"),
            "{msg}"
        );
        assert!(msg.contains("set DISCORD_WEBHOOK_URL instead"), "{msg}");
    }

    #[test]
    fn conflicts_bad_arns_and_failures_are_named() {
        let fake = Fake {
            calls: AtomicUsize::new(0),
            value: Err(SecretError {
                arn: ARN.into(),
                reason: "AccessDeniedException".into(),
            }),
        };
        let mut both = env(&[
            ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/x"),
            ("SLACK_WEBHOOK_URL_SECRET_ARN", ARN),
        ]);
        let e = block_on(resolve_secret_arns(&mut both, Some(&fake))).unwrap_err();
        assert!(matches!(e, ResolveError::Both { .. }), "{e}");
        assert!(!e.to_string().contains("hooks.slack.com"));
        let mut bad = env(&[("SLACK_WEBHOOK_URL_SECRET_ARN", "my-secret")]);
        let e = block_on(resolve_secret_arns(&mut bad, Some(&fake))).unwrap_err();
        assert!(matches!(e, ResolveError::NotAnArn { .. }), "{e}");
        let mut denied = env(&[("SLACK_WEBHOOK_URL_SECRET_ARN", ARN)]);
        let e = block_on(resolve_secret_arns(&mut denied, Some(&fake)))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("AccessDeniedException")
                && e.starts_with("SLACK_WEBHOOK_URL_SECRET_ARN: secret arn:"),
            "{e}"
        );
        let empty = Fake {
            calls: AtomicUsize::new(0),
            value: Ok("  ".into()),
        };
        let mut blank = env(&[("SLACK_WEBHOOK_URL_SECRET_ARN", ARN)]);
        let e = block_on(resolve_secret_arns(&mut blank, Some(&empty))).unwrap_err();
        assert!(matches!(e, ResolveError::Empty { .. }), "{e}");
    }
}
