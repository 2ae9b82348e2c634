//! Raw command-line arguments, as clap parses them. Validation into typed
//! configuration happens in each command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  ran clean (alerts may have been raised; none at or above --fail-on)
  1  alerts at or above --fail-on were raised
  2  bad usage, or no input could be read";

#[derive(Parser, Debug)]
#[command(
    name = "trailguard",
    version,
    about = "Detect, investigate and contain leaked AWS access keys from CloudTrail",
    long_about = "trailguard reads CloudTrail (log files, folders of them, EventBridge events, \
                  JSON Lines, `aws cloudtrail lookup-events` output), matches detection rules \
                  written as EventBridge event patterns, and alerts people where they are.\n\n\
                  Start with `trailguard demo` to watch it catch a leaked admin key.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Match CloudTrail events against the rules and report alerts.
    #[command(after_long_help = DETECT_EXAMPLES)]
    Detect(DetectArgs),
    /// Replay the bundled leaked-admin-key incident through the whole pipeline.
    Demo(DemoArgs),
    /// List, show and test detection rules.
    #[command(subcommand)]
    Rules(RulesCommand),
}

const DETECT_EXAMPLES: &str = "\
Inputs (the format is detected from the content, not the name):
  CloudTrail log files (.json or .json.gz, {\"Records\":[...]}), folders of them (the
  AWSLogs/... layout is walked recursively; digest files are skipped), JSON Lines of
  records or EventBridge events, a single EventBridge event, a JSON array of records,
  `aws cloudtrail lookup-events` output, or - for standard input.

Examples:
  trailguard detect ./AWSLogs/
  trailguard detect --since 24h --min-severity high ./AWSLogs/111122223333/
  aws cloudtrail lookup-events --max-results 50 | trailguard detect -
  trailguard detect --format jsonl ./logs > alerts.jsonl
  DISCORD_WEBHOOK_URL=... trailguard detect --sink discord ./logs
  trailguard detect --fail-on critical ./logs || page-the-on-call

Sinks (--sink, repeatable):
  discord[=URL]   one Discord message per alert; the URL defaults to $DISCORD_WEBHOOK_URL.
                  Prefer the environment: a URL on the command line shows in `ps`.
  jsonl=PATH      append one alert JSON object per line to PATH.

Exit codes:
  0  ran clean (alerts may have been raised; none at or above --fail-on)
  1  alerts at or above --fail-on were raised
  2  bad usage, or no input could be read";

#[derive(Args, Debug)]
pub struct DetectArgs {
    /// Files, folders, or - for standard input.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<String>,
    /// Also load the rules (*.yml) in this folder. Repeatable.
    #[arg(long, value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Do not load the built-in rule pack (use only --rules).
    #[arg(long)]
    pub no_builtin: bool,
    /// Only events at or after this time: RFC 3339 (2024-05-01T00:00:00Z) or an age (90m, 24h, 7d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events before this time: RFC 3339 or an age (90m, 24h, 7d).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Output format [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Report only alerts of this severity or above.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    pub min_severity: String,
    /// Exit with 1 when an alert of this severity or above is raised.
    #[arg(long, value_name = "LEVEL")]
    pub fail_on: Option<String>,
    /// Deliver alerts: discord[=URL] or jsonl=PATH. Repeatable.
    #[arg(long, value_name = "KIND=TARGET")]
    pub sink: Vec<String>,
    /// Fold events of the same rule and access key within this many minutes into one alert.
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    pub window: u32,
    /// No progress bar and no summary on stderr (errors are still reported).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Output format [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// List the rules: id, severity, title.
    List(RulesArgs),
    /// Print one rule's YAML.
    Show {
        id: String,
        #[command(flatten)]
        rules: RulesArgs,
    },
    /// Run every rule's own test events; exit 1 when one fails.
    Test(RulesArgs),
}

#[derive(Args, Debug)]
pub struct RulesArgs {
    /// Also load the rules (*.yml) in this folder. Repeatable.
    #[arg(long, value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Do not load the built-in rule pack.
    #[arg(long)]
    pub no_builtin: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a person at a terminal.
    Table,
    /// One JSON array.
    Json,
    /// One alert JSON object per line.
    Jsonl,
}
