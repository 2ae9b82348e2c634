//! `trailguard demo`: the leaked-admin-key incident, replayed through the same
//! pipeline as `detect` (gzip, folder walk, rules, folding, sinks).

use std::fs;

use anyhow::{bail, Context, Result};
use trailguard_core::Severity;
use trailguard_io::reader::Input;

use crate::args::DemoArgs;
use crate::detect::{default_format, execute, DetectConfig};
use crate::rules_cmd::{load_rule_set, RuleSources};
use crate::sinks::{run_config, SinkSpec};

include!(concat!(env!("OUT_DIR"), "/incident.rs"));

pub fn run(args: DemoArgs) -> Result<u8> {
    if INCIDENT_FILES.is_empty() {
        bail!("this build has no bundled incident (examples/leaked-admin-key/AWSLogs was missing at build time)");
    }
    let dir = tempfile::tempdir().context("cannot create a temporary folder for the demo")?;
    for (rel, bytes) in INCIDENT_FILES {
        let path = dir.path().join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let log_files = INCIDENT_FILES.len();
    eprintln!(
        "trailguard demo: replaying examples/leaked-admin-key ({log_files} files in the AWSLogs layout).\n\
         An IAM user's long-term access key leaked. From a laptop, someone called\n\
         sts:GetCallerIdentity, created a second access key, then launched EC2 instances\n\
         (a t2.micro refused, a t3.micro started), among a day of ordinary activity.\n"
    );
    let mut sinks = Vec::new();
    if args.config.is_some() {
        eprintln!("--config: the alerts are delivered as the config file says.\n");
    } else if std::env::var_os("DISCORD_WEBHOOK_URL").is_some() {
        eprintln!("DISCORD_WEBHOOK_URL is set: the alerts are posted to Discord too.\n");
        sinks.push(SinkSpec::parse("discord")?);
    }
    let routing = run_config(args.config.as_deref(), sinks, false)?;
    let config = DetectConfig {
        inputs: crate::sources::Sources::local(vec![Input::Path(dir.path().join("AWSLogs"))]),
        rules: load_rule_set(RuleSources {
            rules: &[],
            sigma: &[],
            no_builtin: false,
            quiet: false,
        })?,
        since_ms: None,
        until_ms: None,
        format: args.format.unwrap_or_else(default_format),
        min_severity: Severity::Info,
        fail_on: None,
        routing,
        window_ms: trailguard_core::fold::DEFAULT_WINDOW_MS,
        state: None,
        delivery: Default::default(),
        quiet: false,
    };
    let code = execute(&config)?;
    eprintln!(
        "\nNext: run the same on your own logs, e.g.\n  \
         trailguard detect ./AWSLogs/ --since 24h\n  \
         trailguard detect examples/leaked-admin-key/eventbridge.jsonl --format json"
    );
    Ok(code)
}
