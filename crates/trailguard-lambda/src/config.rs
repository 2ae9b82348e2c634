//! The function's configuration, read from its environment once at init into a typed
//! [`LambdaConfig`]. A bad value stops the init with an error naming the variable
//! (reported to Lambda's `/init/error`), never with its value when it is a secret.
//!
//! Variables (defaults in brackets):
//!
//! | variable | meaning |
//! |---|---|
//! | `TRAILGUARD_MIN_SEVERITY` [info] | alerts below are not raised |
//! | `TRAILGUARD_WINDOW_MINUTES` [60] | events of one rule and key within it fold into one alert |
//! | `TRAILGUARD_RULES_DIRS`, `TRAILGUARD_SIGMA_DIRS` | extra rule folders, `:`-separated |
//! | `TRAILGUARD_NO_BUILTIN` [false] | leave out the built-in pack |
//! | `DISCORD_WEBHOOK_URL`, `SLACK_WEBHOOK_URL`, `TRAILGUARD_WEBHOOK_URL` (+ `TRAILGUARD_WEBHOOK_SECRET`) | sinks, as for the CLI; each may instead be `NAME_SECRET_ARN` (see `secrets`) |
//! | `DISCORD_MENTION_ROLE` | Discord role id to ping |
//! | `TRAILGUARD_ROUTES` | per-sink minimum severity: `discord=high,webhook=info` |
//! | `TRAILGUARD_CONFIG` | a TOML config file instead (sinks, routes, digests, suppressions), relative to `LAMBDA_TASK_ROOT` |
//! | `TRAILGUARD_S3_KEYS` [cloudtrail] | `cloudtrail`: read only CloudTrail log keys; `all`: any key |
//! | `TRAILGUARD_MAX_OBJECT_BYTES` [33554432] | largest object fetched (as stored) |
//! | `TRAILGUARD_MAX_DECOMPRESSED_BYTES` [100663296] | largest object once decompressed |
//! | `TRAILGUARD_SEND_TIMEOUT_SECS` [20] | longest one send may take, retries included |
//! | `TRAILGUARD_LOCAL_OBJECTS_DIR` | read objects from `DIR/BUCKET/KEY` (tests, local runs) |
//! | `TRAILGUARD_LOG_ALERTS` [true] | write each alert as a JSON line to the function's log |
//! | `TRAILGUARD_STATE_TABLE` | the DynamoDB table of the rules' state and of delivery claims, shared by every execution environment (the template sets it); unset: each environment keeps its own state in memory |
//! | `TRAILGUARD_AWS_ENDPOINT_URL` | another endpoint for S3, DynamoDB and Secrets Manager (an emulator in tests, a VPC endpoint); S3 is then addressed by path |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use trailguard_core::{Rule, Severity};
use trailguard_io::config::{Config, RouteFilter, SinkConfig, SinkTarget};
use trailguard_io::rules::{load_rule_set, RuleSources};
use trailguard_io::sink::{Secret, WEBHOOK_MIN_SECRET_CHARS};

pub const DISCORD_ENV: &str = "DISCORD_WEBHOOK_URL";
pub const SLACK_ENV: &str = "SLACK_WEBHOOK_URL";
pub const WEBHOOK_ENV: &str = "TRAILGUARD_WEBHOOK_URL";
pub const WEBHOOK_SECRET_ENV: &str = "TRAILGUARD_WEBHOOK_SECRET";
pub const ENDPOINT_ENV: &str = "TRAILGUARD_AWS_ENDPOINT_URL";

/// The environment as read at init (secrets named by ARN already resolved).
pub type Env = BTreeMap<String, String>;

/// Which keys of a bucket are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFilter {
    /// CloudTrail log objects only (digests, Insights files and other keys skipped).
    CloudTrail,
    /// Every key (the format is read from the content, as the CLI does).
    All,
}

/// The validated configuration.
#[derive(Debug)]
pub struct LambdaConfig {
    pub rules: Vec<Rule>,
    pub min_severity: Severity,
    pub window_ms: i64,
    /// Sinks with their routes and digests, and the suppressions.
    pub routing: Config,
    pub keys: KeyFilter,
    pub max_object_bytes: u64,
    pub max_decompressed_bytes: u64,
    pub send_timeout: Duration,
    pub local_objects: Option<PathBuf>,
    pub log_alerts: bool,
    /// `TRAILGUARD_STATE_TABLE`.
    pub state_table: Option<String>,
    /// `TRAILGUARD_AWS_ENDPOINT_URL`.
    pub aws_endpoint_url: Option<String>,
    /// What a person should know that does not stop the function (logged at init).
    pub warnings: Vec<String>,
}

/// A variable that cannot be used. Secret values are never included.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}: {reason}")]
    Invalid { var: String, reason: String },
    #[error("rules: {0}")]
    Rules(#[from] trailguard_io::rules::RuleSetError),
    #[error("{0}")]
    File(#[from] trailguard_io::config::ConfigError),
    #[error("{0}")]
    Secret(#[from] crate::secrets::ResolveError),
}

fn invalid(var: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var: var.to_owned(),
        reason: reason.into(),
    }
}

fn get<'e>(env: &'e Env, var: &str) -> Option<&'e str> {
    env.get(var).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// An `http://` or `https://` URL with a host, and no credentials in it.
pub(crate) fn endpoint_url(env: &Env, var: &str) -> Result<Option<String>, ConfigError> {
    let Some(v) = get(env, var) else {
        return Ok(None);
    };
    let rest = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.split('/').next().unwrap_or_default().contains('@') => {
            Ok(Some(v.to_owned()))
        }
        Some(_) => Err(invalid(
            var,
            "give http(s)://HOST[:PORT], with no user or password",
        )),
        None => Err(invalid(var, "not an http:// or https:// URL")),
    }
}

fn number(
    env: &Env,
    var: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(v) = get(env, var) else {
        return Ok(default);
    };
    let n: u64 = v
        .parse()
        .map_err(|_| invalid(var, format!("`{v}` is not a whole number")))?;
    if !range.contains(&n) {
        return Err(invalid(
            var,
            format!("{n} is out of range ({} to {})", range.start(), range.end()),
        ));
    }
    Ok(n)
}

fn flag(env: &Env, var: &str, default: bool) -> Result<bool, ConfigError> {
    match get(env, var).map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(invalid(var, format!("`{other}` is not true or false"))),
    }
}

fn severity(var: &str, v: &str) -> Result<Severity, ConfigError> {
    v.parse().map_err(|_| {
        invalid(
            var,
            format!("`{v}` is not a severity (info, low, medium, high, critical)"),
        )
    })
}

fn folders(env: &Env, var: &str) -> Vec<PathBuf> {
    get(env, var)
        .map(|v| {
            v.split(':')
                .filter(|p| !p.trim().is_empty())
                .map(|p| PathBuf::from(p.trim()))
                .collect()
        })
        .unwrap_or_default()
}

impl LambdaConfig {
    /// Reads `env` (the process environment with `*_SECRET_ARN`s resolved).
    pub fn from_env(env: &Env) -> Result<LambdaConfig, ConfigError> {
        let mut warnings = Vec::new();
        let min_severity = match get(env, "TRAILGUARD_MIN_SEVERITY") {
            Some(v) => severity("TRAILGUARD_MIN_SEVERITY", v)?,
            None => Severity::Info,
        };
        let window_min = number(env, "TRAILGUARD_WINDOW_MINUTES", 60, 1..=10_080)?;
        let rule_dirs = folders(env, "TRAILGUARD_RULES_DIRS");
        let sigma_dirs = folders(env, "TRAILGUARD_SIGMA_DIRS");
        let no_builtin = flag(env, "TRAILGUARD_NO_BUILTIN", false)?;
        let set = load_rule_set(RuleSources {
            rules: &rule_dirs,
            sigma: &sigma_dirs,
            no_builtin,
        })?;
        warnings.extend(set.warnings());
        warnings.extend(set.sigma_summary());
        let routing = match get(env, "TRAILGUARD_CONFIG") {
            Some(file) => {
                if get(env, "TRAILGUARD_ROUTES").is_some() {
                    return Err(invalid(
                        "TRAILGUARD_ROUTES",
                        "give routes in the TRAILGUARD_CONFIG file (min_severity per sink), not both",
                    ));
                }
                config_file(env, file)?
            }
            None => sinks_from_env(env, &mut warnings)?,
        };
        warnings.extend(routing.warnings.iter().cloned());
        let keys = match get(env, "TRAILGUARD_S3_KEYS")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("cloudtrail") => KeyFilter::CloudTrail,
            Some("all") => KeyFilter::All,
            Some(other) => {
                return Err(invalid(
                    "TRAILGUARD_S3_KEYS",
                    format!("`{other}` is neither cloudtrail nor all"),
                ))
            }
        };
        Ok(LambdaConfig {
            rules: set.rules,
            min_severity,
            window_ms: window_min as i64 * 60_000,
            routing,
            keys,
            max_object_bytes: number(env, "TRAILGUARD_MAX_OBJECT_BYTES", 32 << 20, 1..=(5 << 30))?,
            max_decompressed_bytes: number(
                env,
                "TRAILGUARD_MAX_DECOMPRESSED_BYTES",
                96 << 20,
                1..=(8 << 30),
            )?,
            send_timeout: Duration::from_secs(number(
                env,
                "TRAILGUARD_SEND_TIMEOUT_SECS",
                20,
                1..=900,
            )?),
            local_objects: get(env, "TRAILGUARD_LOCAL_OBJECTS_DIR").map(PathBuf::from),
            log_alerts: flag(env, "TRAILGUARD_LOG_ALERTS", true)?,
            state_table: get(env, "TRAILGUARD_STATE_TABLE").map(str::to_owned),
            aws_endpoint_url: endpoint_url(env, ENDPOINT_ENV)?,
            warnings,
        })
    }
}

/// `TRAILGUARD_CONFIG`: the CLI's TOML format; `url_env`/`secret_env` read from `env`
/// (so they may name `*_SECRET_ARN`-resolved variables).
fn config_file(env: &Env, file: &str) -> Result<Config, ConfigError> {
    let root = get(env, "LAMBDA_TASK_ROOT").unwrap_or(".");
    let path = Path::new(root).join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        invalid(
            "TRAILGUARD_CONFIG",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let lookup = |name: &str| env.get(name).cloned();
    Ok(Config::parse(
        &text,
        &path.display().to_string(),
        base,
        &lookup,
    )?)
}

/// Sinks from the CLI's variables, routed by `TRAILGUARD_ROUTES`.
fn sinks_from_env(env: &Env, warnings: &mut Vec<String>) -> Result<Config, ConfigError> {
    let mut config = Config::empty();
    config.origin = "environment".into();
    let url = |var: &str| get(env, var).map(|v| Secret::new(v.to_owned()));
    if let Some(url) = url(DISCORD_ENV) {
        let mention_role = get(env, "DISCORD_MENTION_ROLE")
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| invalid("DISCORD_MENTION_ROLE", format!("`{v}` is not a role id")))
            })
            .transpose()?;
        config
            .sinks
            .push(sink("discord", SinkTarget::Discord { url, mention_role }));
    }
    if let Some(url) = url(SLACK_ENV) {
        config.sinks.push(sink("slack", SinkTarget::Slack { url }));
    }
    if let Some(url) = url(WEBHOOK_ENV) {
        let secret = get(env, WEBHOOK_SECRET_ENV);
        match secret {
            Some(s) if s.chars().count() < WEBHOOK_MIN_SECRET_CHARS => {
                return Err(invalid(
                    WEBHOOK_SECRET_ENV,
                    format!("must be at least {WEBHOOK_MIN_SECRET_CHARS} characters (use a long random value)"),
                ))
            }
            Some(_) => {}
            None => warnings.push(format!(
                "{WEBHOOK_SECRET_ENV} is not set: webhook requests are sent unsigned, and \
                 receivers cannot tell them from forged ones"
            )),
        }
        config.sinks.push(sink(
            "webhook",
            SinkTarget::Webhook {
                url,
                secret: secret.map(|s| Secret::new(s.to_owned())),
            },
        ));
    }
    if let Some(routes) = get(env, "TRAILGUARD_ROUTES") {
        for part in routes.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, level)) = part.split_once('=') else {
                return Err(invalid(
                    "TRAILGUARD_ROUTES",
                    format!("`{part}` is not SINK=SEVERITY (e.g. discord=high)"),
                ));
            };
            let level = severity("TRAILGUARD_ROUTES", level.trim())?;
            let known: Vec<String> = config.sinks.iter().map(|s| s.name.clone()).collect();
            let Some(s) = config.sinks.iter_mut().find(|s| s.name == name.trim()) else {
                return Err(invalid(
                    "TRAILGUARD_ROUTES",
                    format!(
                        "no sink named `{}` (configured: {})",
                        name.trim(),
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            };
            s.filter.min_severity = level;
        }
    }
    if config.sinks.is_empty() {
        warnings.push(
            "no sink configured (DISCORD_WEBHOOK_URL, SLACK_WEBHOOK_URL, TRAILGUARD_WEBHOOK_URL or \
             their _SECRET_ARN forms, or TRAILGUARD_CONFIG): alerts only go to the log"
                .into(),
        );
    }
    Ok(config)
}

fn sink(name: &str, target: SinkTarget) -> SinkConfig {
    SinkConfig {
        name: name.to_owned(),
        target,
        filter: RouteFilter::default(),
        digest: None,
    }
}

#[cfg(test)]
mod tests;
