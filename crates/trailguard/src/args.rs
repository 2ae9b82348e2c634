//! Raw command-line arguments, as clap parses them. Validation into typed
//! configuration happens in each command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::detect_args::DetectArgs;
pub use crate::investigate_args::{InvestigateArgs, ReportFormat};

const EXIT_CODES: &str = "\
Exit codes:
  0  ran clean (alerts may have been raised; none at or above --fail-on)
  1  alerts at or above --fail-on were raised (`pattern test`: the event does not match;
     `scan`: a key was found)
  2  bad usage, no input could be read, or an alert could not be delivered
Each command's --help gives its own.";

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
    #[command(after_long_help = crate::detect_args::DETECT_EXAMPLES)]
    Detect(DetectArgs),
    /// Replay the bundled leaked-admin-key incident through the whole pipeline.
    Demo(DemoArgs),
    /// List, show, test and export detection rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Generate synthetic CloudTrail to measure the rules on (a benign week: `background`).
    #[command(after_long_help = SIMULATE_EXAMPLES)]
    Simulate(SimulateArgs),
    /// Work with EventBridge event patterns.
    #[command(subcommand)]
    Pattern(PatternCommand),
    /// Run continuously: follow a folder CloudTrail files land in, or JSON Lines on stdin.
    #[command(after_long_help = WATCH_EXAMPLES)]
    Watch(WatchArgs),
    /// Alerts and their delivery: the outbox of a --state file (list, show, retry) and
    /// the suppressions in force.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// What one access key, principal or address did: activity, blast radius, lineage.
    #[command(after_long_help = crate::investigate_args::INVESTIGATE_HELP)]
    Investigate(InvestigateArgs),
    /// What an access key id (or any AWS unique id) says offline: its kind and account.
    #[command(name = "key-info", after_long_help = KEY_INFO_HELP)]
    KeyInfo(KeyInfoArgs),
    /// Find AWS access keys, secrets and session tokens in files before they leak.
    #[command(after_long_help = crate::scan_args::SCAN_HELP)]
    Scan(crate::scan_args::ScanArgs),
    /// A remediation plan for a leaked key (dry run); --execute carries it out.
    #[command(after_long_help = crate::respond_args::RESPOND_HELP)]
    Respond(crate::respond_args::RespondArgs),
    /// Run trailguard on AWS: the CloudFormation templates of the Lambda function
    /// (central region) and of the per-region event forwarders.
    #[command(subcommand)]
    Deploy(crate::deploy_args::DeployCommand),
}

const KEY_INFO_HELP: &str = "\
An access key id is a 4-letter prefix (AKIA long-term, ASIA temporary; AIDA a user,
AROA a role, ...) and a base32 body. Ids of the current format (the fifth character is
Q-Z or 2-7) encode the 12-digit account that owns them: decoded here, without any AWS
call. Older ids (AKIAI..., AKIAJ...) do not encode it, and the output says so.

Examples:
  trailguard key-info AKIAWCZC6J72ODEC6IFU
  trailguard key-info --format json ASIAY34FZKBOKMUTVV7A AROAWCZC6J72MT4NAOIHV

Exit codes:
  0  every id was decoded (an older one, without account, too)
  2  an argument is not an AWS identifier (16-128 upper-case letters and digits)";

#[derive(Args, Debug)]
pub struct KeyInfoArgs {
    /// Access key ids (or other AWS unique ids: AIDA..., AROA...).
    #[arg(value_name = "KEY", required = true)]
    pub keys: Vec<String>,
    /// Output format [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    pub format: Option<ListFormat>,
}

/// `trailguard alerts ...`. One variant per subcommand, each with its own args struct,
/// so that subcommands added later (list, show, retry) merge as new lines.
#[derive(Subcommand, Debug)]
pub enum AlertsCommand {
    /// List the alerts in the outbox, newest first, with where each was delivered.
    #[command(after_long_help = ALERTS_LIST_HELP)]
    List(AlertsListArgs),
    /// Show one alert (its JSON) and the history of its deliveries.
    #[command(after_long_help = ALERTS_SHOW_HELP)]
    Show(AlertsShowArgs),
    /// Queue alerts again and deliver them now: failed, expired or pending ones
    /// (--all), or the alerts named (sent again even if delivered).
    #[command(after_long_help = ALERTS_RETRY_HELP)]
    Retry(AlertsRetryArgs),
    /// List the suppressions of the config file: active ones (with --all, expired too).
    #[command(after_long_help = SUPPRESSIONS_HELP)]
    Suppressions(SuppressionsArgs),
}

const SUPPRESSIONS_HELP: &str = "\
Each [[suppress]] entry of the config file silences the alerts it matches (rule,
actor and ip, all that are given) until its `until`, for its `reason`. Expired
entries are ignored by detect (which says so on stderr) and listed here with --all.

Columns: #, status (active or expired), until, rule, actor, ip, by, reason.
--format jsonl writes one object per suppression:
  {\"number\", \"status\", \"until\", \"rule\", \"actor\", \"ip\", \"by\", \"reason\", \"line\"}
(absent criteria are null). The sinks' secrets are not needed to list them.

Examples:
  trailguard alerts suppressions --config /etc/trailguard.toml
  TRAILGUARD_CONFIG=/etc/trailguard.toml trailguard alerts suppressions --all --format jsonl

Exit codes:
  0  listed (possibly none)
  2  no config file given, or it cannot be read or is invalid";

#[derive(Args, Debug)]
pub struct SuppressionsArgs {
    /// The config file (TOML; see examples/trailguard.toml).
    #[arg(long, value_name = "FILE", env = "TRAILGUARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Also list expired suppressions.
    #[arg(long)]
    pub all: bool,
    /// Output format [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    pub format: Option<ListFormat>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    /// Aligned columns for a person at a terminal.
    Table,
    /// One JSON object per line.
    Jsonl,
}

const WATCH_EXAMPLES: &str = "\
How it runs:
  A folder is polled every --poll; a file is read once it has not changed for one poll
  (so half-written files are never read), and again if it changes later.

  sqs://HOST/ACCOUNT/QUEUE (or the queue's https:// URL) reads the S3 notifications of
  a trail bucket from SQS, as the Lambda does (S3 event notifications, SNS in SQS,
  CloudTrail's own SNS notice; s3:TestEvent is skipped), fetches each new log object
  from S3 and reads it. A message is deleted only once its objects are read and their
  alerts recorded (with --state, in the outbox: delivered even after a restart); a
  message that fails comes back after the queue's visibility timeout, and the queue's
  redrive policy (a dead-letter queue) stops one that never succeeds. Credentials:
  the standard AWS chain, or --profile. With `-`,
  JSON Lines (CloudTrail records or EventBridge events) are read from standard input
  and matched as soon as the input pauses (2 ms), and at least every --batch. Each batch is judged against the
  same state, so stateful rules (first use of a key from a new address, bursts,
  created keys used elsewhere) work across batches; give --state to keep that state
  (and the alerts already sent) across restarts.

  An incident (rule + access key) is alerted when it starts; more of it within
  --window is folded in, a higher severity is alerted at once, and when the window
  closes with more events than were alerted, one update gives the totals.

  SIGTERM or SIGINT (Ctrl-C) stops cleanly: the current batch is finished and its
  alerts delivered, open incidents are closed, the state is saved.

Examples:
  trailguard watch /var/log/cloudtrail --state /var/lib/trailguard/state.db --sink discord
  aws s3 sync s3://my-trail-bucket/AWSLogs ./AWSLogs   # in a loop elsewhere; then:
  trailguard watch ./AWSLogs --state state.db --metrics 127.0.0.1:9464
  my-eventbridge-forwarder | trailguard watch - --sink slack --min-severity high
  trailguard watch sqs://sqs.us-east-1.amazonaws.com/111122223333/trail-notices \
      --state state.db --sink discord";

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Folder to follow, - for JSON Lines on standard input, or an SQS queue of S3
    /// notifications (sqs://HOST/ACCOUNT/QUEUE).
    #[arg(value_name = "DIR|-|sqs://QUEUE")]
    pub source: String,
    #[command(flatten)]
    pub rule_set: RulesArgs,
    /// Also read the files already in the folder when starting (else only new ones).
    #[arg(long)]
    pub from_start: bool,
    /// How often to look for new files (e.g. 500ms, 2s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "2s")]
    pub poll: String,
    /// With `-`: the longest a line waits to be matched (a pause in the input hands
    /// lines over at once; this bounds a steady stream). E.g. 200ms, 1s.
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub batch: String,
    /// Output format of the alerts on stdout [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    #[command(flatten)]
    pub alerts: AlertArgs,
    /// Keep what stateful rules learn, and the alerts already sent, in this SQLite file
    /// (created if missing), so that a restart carries on where it stopped.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464), path /metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// With sqs://: the AWS profile, region (when the queue URL names none) and
    /// endpoint (SQS and S3).
    #[command(flatten)]
    pub aws: crate::sources::AwsArgs,
    /// No summary lines on stderr (errors are still reported).
    #[arg(long, short)]
    pub quiet: bool,
}

/// Which alerts are raised and where they go: shared by `detect` and `watch`.
#[derive(Args, Debug, Clone)]
pub struct AlertArgs {
    /// Report only alerts of this severity or above.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    pub min_severity: String,
    /// Deliver alerts: discord[=URL], slack[=URL], webhook[=URL] or jsonl=PATH.
    /// Repeatable; added to the sinks of --config.
    #[arg(long, value_name = "KIND=TARGET")]
    pub sink: Vec<String>,
    /// Sinks, routes, digests and suppressions from this TOML file (see
    /// examples/trailguard.toml).
    #[arg(long, value_name = "FILE", env = "TRAILGUARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Fold events of the same rule and access key within this many minutes into one
    /// alert (one incident).
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    pub window: u32,
}

/// How long a command delivers, and how long an alert is retried.
#[derive(Args, Debug, Clone)]
pub struct DeliveryArgs {
    /// Stop delivering after this long (10s, 5m, 1h); what is left stays pending in the
    /// --state file.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub delivery_timeout: String,
    /// Give up on an alert still undelivered this long after it was recorded, and
    /// report it as expired [default: the config file's [delivery] expiry, else 24h].
    #[arg(long, value_name = "DURATION")]
    pub expire_after: Option<String>,
}

const ALERTS_LIST_HELP: &str = "\
Each alert has one delivery per sink it was sent to, in one of these states:
  pending    not delivered yet; retried (by the next detect run with that --sink,
             or `alerts retry`) until it expires
  delivered  the sink confirmed it
  failed     refused in a way retrying will not fix (HTTP 400, ...): see `alerts show`
  expired    not delivered within --expire-after (24 h by default)

Examples:
  trailguard alerts list --state tg.db
  trailguard alerts list --state tg.db --status pending
  trailguard alerts list --state tg.db --status failed --format jsonl | jq -r .id

Exit codes:
  0  listed (possibly nothing)
  2  bad usage, or the --state file cannot be used";

const ALERTS_SHOW_HELP: &str = "\
ID may be the start of an alert id, as long as only one alert id starts with it.

Examples:
  trailguard alerts show --state tg.db 3f9a2c
  trailguard alerts show --state tg.db 3f9a2c --format json | jq .alert

Exit codes:
  0  shown
  2  bad usage, no such alert (or the start of several ids), or the --state file
     cannot be used";

const ALERTS_RETRY_HELP: &str = "\
Sinks are given again (--sink and/or --config, as for detect): the outbox names
sinks (discord, slack, webhook, jsonl:PATH, a config file's sink names) but never
stores their URLs or secrets. With --all, every delivery to those sinks that is not delivered
(pending, failed, expired) is queued again with a fresh expiry; with IDs, those
alerts are sent to each --sink whatever their state (a replay: receivers that
deduplicate on the alert id ignore a copy), including sinks they never had.

Examples:
  DISCORD_WEBHOOK_URL=... trailguard alerts retry --all --state tg.db --sink discord
  trailguard alerts retry --all --state tg.db --config /etc/trailguard.toml
  trailguard alerts retry 3f9a2c --state tg.db --sink jsonl=replay.jsonl

Exit codes:
  0  everything queued was delivered (or there was nothing to retry)
  2  bad usage (no sink given), no such alert, the --state file cannot be used, or
     an alert could not be delivered (reported on stderr; it stays in the outbox)";

#[derive(Args, Debug)]
pub struct AlertsListArgs {
    /// The state file of detect --state.
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,
    /// Only alerts with a delivery in this state.
    #[arg(long, value_enum)]
    pub status: Option<DeliveryStatus>,
    /// Only alerts with a delivery to this sink (discord, jsonl:PATH, a config sink's name).
    #[arg(long, value_name = "NAME")]
    pub sink: Option<String>,
    /// At most this many alerts (the newest).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Output format [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    pub format: Option<ListFormat>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
    Expired,
}

#[derive(Args, Debug)]
pub struct AlertsShowArgs {
    /// The alert id, or its start.
    pub id: String,
    /// The state file of detect --state.
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,
    /// text for a person, json for a program.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ShowFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShowFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct AlertsRetryArgs {
    /// Alert ids (or their starts) to send again.
    #[arg(
        value_name = "ID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub ids: Vec<String>,
    /// Every delivery to the given sinks that is not delivered.
    #[arg(long)]
    pub all: bool,
    /// The state file of detect --state.
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,
    /// Deliver to: discord[=URL], slack[=URL], webhook[=URL] or jsonl=PATH.
    /// Repeatable; added to the sinks of --config.
    #[arg(long, value_name = "KIND=TARGET")]
    pub sink: Vec<String>,
    /// The sinks of this TOML file, by the names their deliveries were recorded under.
    #[arg(long, value_name = "FILE", env = "TRAILGUARD_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    /// No summary on stderr (errors are still reported).
    #[arg(long, short)]
    pub quiet: bool,
}

const SIMULATE_EXAMPLES: &str = "\
Scenarios:
  background   a week of ordinary activity of one account: console users with MFA from
               the office, a CI role deploying, application roles reading secrets and
               keys, Auto Scaling launching instances, a reporting job whose long-term
               key is rotated mid-week. Nothing malicious: every high alert on it is noise.

Examples:
  trailguard simulate background --out /tmp/benign
  trailguard detect --min-severity high /tmp/benign      # should stay (nearly) silent
  trailguard simulate background --events 1000000 --days 30 --out /tmp/month";

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// What to generate.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Folder to write the CloudTrail archive into (AWSLogs/... below it).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// About how many events in all.
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// How many days, from --start.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// First day (RFC 3339, UTC). The default is a Monday.
    #[arg(long, default_value = "2025-03-03T00:00:00Z")]
    pub start: String,
    /// The account the activity belongs to.
    #[arg(long, default_value = "111122223333")]
    pub account: String,
    /// The same seed gives the same archive.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// A benign week of one account.
    Background,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Output format [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Deliver the demo's alerts as this config file says (sinks, routes, digests,
    /// suppressions) instead of to $DISCORD_WEBHOOK_URL.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
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
    /// Export every rule's pattern for EventBridge: JSON Lines or a CloudFormation fragment.
    #[command(after_long_help = EXPORT_HELP)]
    Export(ExportArgs),
}

const EXPORT_HELP: &str = "\
Formats:
  eventbridge     JSON Lines, one object per rule:
                    {\"rule\": ID, \"title\": ..., \"severity\": ..., \"event_pattern\": {...},
                     \"bytes\": N}
                  bytes is the length of the compact pattern JSON (EventBridge allows 2048).
                  A rule whose logic cannot be one pattern (stateful rules, Sigma rules)
                  carries \"prefilter_only\": true and a \"note\": its pattern only
                  pre-filters, and trailguard must still judge what it delivers.
  cloudformation  a CloudFormation template fragment (YAML): one AWS::Events::Rule per
                  rule (Name trailguard-<id>, at most 64 characters; State ENABLED),
                  each targeting the TrailguardTargetArn parameter. The permissions the
                  target needs and the rest of the deployment are not part of it.

The severity exported is the rule's base severity; escalations (`escalate:`) are
applied by trailguard when it judges a delivered event.

Examples:
  trailguard rules export --format eventbridge
  trailguard rules export --format eventbridge | jq -c .event_pattern
  trailguard rules export --format cloudformation --rules ./my-rules --out rules.yml

Exit codes:
  0  every rule was exported
  2  bad usage, the rules could not be loaded, the output could not be written, or
     a rule's pattern is over 2048 bytes (reported on stderr; the others are
     still exported)";

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// What to write.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub rules: RulesArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// JSON Lines: one {"rule", "title", "severity", "event_pattern", "bytes"} per rule.
    Eventbridge,
    /// A CloudFormation template fragment (YAML) with one AWS::Events::Rule per rule.
    Cloudformation,
}

#[derive(Subcommand, Debug)]
pub enum PatternCommand {
    /// Match an event against a pattern, as EventBridge's TestEventPattern does.
    #[command(after_long_help = PATTERN_TEST_HELP)]
    Test(PatternTestArgs),
}

const PATTERN_TEST_HELP: &str = "\
One pattern, one event:
  Prints `true` or `false`. The event may be any JSON object (an EventBridge event,
  a CloudTrail record, anything): it is matched as it is, with no envelope added.
  The pattern may be at most 2048 bytes, counted on its text as given.

Many cases (--cases FILE.jsonl, or - for standard input):
  Each input line is one JSON object {\"pattern\": ..., \"event\": ...}; other keys
  are ignored. The pattern is a JSON object, or a JSON string holding the pattern's
  text (to send a pattern with a duplicate key, which EventBridge reads as the last
  one). Each input line gets exactly one output line, in order, so output line N
  always answers input line N:
    {\"match\":true}   {\"match\":false}   {\"error\":\"reason\"}
  A line that is blank, not JSON, not an object, missing `pattern` or `event`, whose
  event is not an object, whose pattern is invalid, or longer than 1 MiB gets an error
  line, and the run goes on. The file is streamed; answers are flushed whenever the
  input has nothing more buffered, so a program can feed cases one at a time.

Examples:
  trailguard pattern test --pattern p.json --event e.json
  trailguard pattern test --pattern-json '{\"source\":[\"aws.iam\"]}' --event e.json
  aws events describe-rule --name my-rule --query EventPattern --output text \\
      | trailguard pattern test --pattern - --event e.json
  trailguard pattern test --cases cases.jsonl > answers.jsonl
  trailguard pattern test --cases cases.jsonl | grep -n error   # line numbers = case numbers

Exit codes (one pattern, one event):
  0  the event matches
  1  the event does not match
  2  the pattern is invalid (stderr names the path and the reason), a file cannot be
     read, or the event is not a JSON object
Exit codes (--cases):
  0  every line was answered (matches, no matches and error lines alike)
  2  the cases cannot be read (stderr says where reading stopped), or bad usage";

#[derive(Args, Debug)]
pub struct PatternTestArgs {
    /// The pattern's JSON file, or - for standard input.
    #[arg(long, value_name = "FILE", conflicts_with = "pattern_json")]
    pub pattern: Option<String>,
    /// The pattern's JSON text, inline.
    #[arg(long, value_name = "JSON")]
    pub pattern_json: Option<String>,
    /// The event's JSON file, or - for standard input.
    #[arg(long, value_name = "FILE", conflicts_with = "event_json")]
    pub event: Option<String>,
    /// The event's JSON text, inline.
    #[arg(long, value_name = "JSON")]
    pub event_json: Option<String>,
    /// JSON Lines of {"pattern", "event"} cases, or - for standard input.
    #[arg(
        long,
        value_name = "FILE.jsonl",
        conflicts_with_all = ["pattern", "pattern_json", "event", "event_json"]
    )]
    pub cases: Option<String>,
}

#[derive(Args, Debug)]
pub struct RulesArgs {
    /// Also load the rules (*.yml) in this folder. Repeatable.
    #[arg(long, value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Also load the Sigma rules for AWS CloudTrail in this folder (searched
    /// recursively) or file. Repeatable. Rules that cannot run are reported and skipped.
    #[arg(long, value_name = "DIR")]
    pub sigma: Vec<PathBuf>,
    /// Do not load the built-in rule pack (use only --rules and --sigma).
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
