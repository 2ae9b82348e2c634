//! Raw command-line arguments, as clap parses them. Validation into typed
//! configuration happens in each command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    #[command(after_long_help = DETECT_EXAMPLES)]
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
    #[command(after_long_help = INVESTIGATE_HELP)]
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

const INVESTIGATE_HELP: &str = "\
Subjects (exactly one):
  --access-key KEY   every call made with this key (AKIA... long-term, ASIA... temporary)
  --principal ARN    an IAM user, a role (its sessions too), an assumed-role session
                     (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION), a federated user, root
  --ip IP            every call from this address, whichever key or principal made it

What the report holds (the investigation JSON contract of docs/architecture.md):
  first and last seen, event and error counts; source IPs, user agents and regions with
  counts and first/last seen, `new` when first seen at or after `suspicious_since` (the
  first event of an alert of medium severity or above raised by the rule pack on the
  subject's events, or --baseline-until); calls by service and API with errors; the
  blast radius (keys, users, login profiles, policies, roles and trust, instances, key
  pairs, security group rules, shared snapshots and images, Lambda functions, session
  credentials), each with the event that did it; the alerts; the lineage: every
  credential the subject created (keys, keys of users it created, AssumeRole,
  GetSessionToken and GetFederationToken sessions) as a `derived` report, followed
  recursively, each credential once; the timeline (at most --timeline-limit entries:
  beyond it the earliest and latest halves, and the report says how many were left out).

The input is read once, in parallel, as by `detect`: an investigation of an archive
costs about one `detect` over it.

Formats: table (default on a terminal), json (default otherwise), md (a ticket), html
(one self-contained page with an activity chart and a searchable event table; written
to --out FILE, or stdout). An HTML page opened as report.html#q=RunInstances starts
filtered.

Input: files, folders, - (standard input), and s3://BUCKET[/PREFIX] as for `detect`
(see `trailguard detect --help`): --accounts, --regions and --since/--until narrow
what is listed, --profile, --region and --endpoint-url reach AWS.

Examples:
  trailguard investigate --access-key AKIAWCZC6J72ODEC6IFU ./AWSLogs/
  trailguard investigate --access-key AKIA... s3://org-trail/AWSLogs/o-abc123xyz \\
      --accounts 111122223333 --regions eu-west-1 --since 2025-09-17T00:00:00Z --until 2025-09-18T00:00:00Z
  trailguard investigate --access-key AKIA... ./AWSLogs --format html --out incident.html
  trailguard investigate --ip 198.51.100.73 ./AWSLogs --format json | jq '.access_keys'
  trailguard investigate --principal arn:aws:iam::123456789012:user/ci ./logs --since 7d
  trailguard investigate --access-key AKIA... ./logs --baseline-until 2025-09-17T20:00:00Z --format md

Exit codes:
  0  the report was written (an empty one, with a note on stderr, when the subject
     never appears in the input)
  2  bad usage (a malformed key id, ARN or IP is one), no input could be read, or the
     report could not be written";

#[derive(Args, Debug)]
pub struct InvestigateArgs {
    /// Investigate this access key id (AKIA... or ASIA...).
    #[arg(long, value_name = "KEY")]
    pub access_key: Option<String>,
    /// Investigate this principal (user, role, assumed-role session, federated user, root).
    #[arg(long, value_name = "ARN")]
    pub principal: Option<String>,
    /// Investigate every key and principal that used this source address.
    #[arg(long, value_name = "IP")]
    pub ip: Option<String>,
    /// Files, folders, s3://BUCKET[/PREFIX], or - for standard input.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<String>,
    #[command(flatten)]
    pub rule_set: RulesArgs,
    #[command(flatten)]
    pub s3: crate::sources::S3Args,
    #[command(flatten)]
    pub aws: crate::sources::AwsArgs,
    /// Only events at or after this time: RFC 3339 or an age (90m, 24h, 7d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events before this time: RFC 3339 or an age.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Judge `new` against activity before this time, instead of the first
    /// suspicious event the rules find.
    #[arg(long, value_name = "TIME")]
    pub baseline_until: Option<String>,
    /// Output format [default: from the --out extension (.html, .md, .json), else
    /// table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Timeline entries kept per report (beyond: the earliest and latest halves).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub timeline_limit: usize,
    /// No progress bar and no summary on stderr (errors are still reported).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// A summary, then the details, for a person at a terminal.
    Table,
    /// The investigation JSON contract.
    Json,
    /// Markdown, for an incident ticket.
    Md,
    /// One self-contained HTML page (chart, searchable events).
    Html,
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
  (so half-written files are never read), and again if it changes later. With `-`,
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
  my-eventbridge-forwarder | trailguard watch - --sink slack --min-severity high";

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Folder to follow, or - for JSON Lines on standard input.
    #[arg(value_name = "DIR|-")]
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
    /// No summary lines on stderr (errors are still reported).
    #[arg(long, short)]
    pub quiet: bool,
}

const DETECT_EXAMPLES: &str = "\
Inputs (the format is detected from the content, not the name):
  CloudTrail log files (.json or .json.gz, {\"Records\":[...]}), folders of them (the
  AWSLogs/... layout is walked recursively; digest files are skipped), JSON Lines of
  records or EventBridge events, a single EventBridge event, a JSON array of records,
  `aws cloudtrail lookup-events` output, or - for standard input.

S3 (s3://BUCKET[/PREFIX], beside or instead of paths):
  The CloudTrail layout is walked, not the whole bucket: [PREFIX/]AWSLogs/[o-ORGID/]
  ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/. --accounts and --regions pick folders, and
  --since/--until become day folders (to an hour past --until: CloudTrail delivers
  late), so one day of one region of one account is one listing. The URL may point
  anywhere in the layout (a bucket, a prefix above AWSLogs/, an organization, an
  account, a region, a day) or at one object; a prefix with no AWSLogs/ under it is
  listed whole. Digest and Insights files are never read. Objects are downloaded
  --s3-downloads at a time (8; each held in memory while it is read, at most 64 MiB as
  stored) and read as they arrive; throttling, 5xx and dropped connections are retried
  (3 attempts). An object or folder that still fails is named on stderr and the rest is
  read (exit 0, as for unreadable files). Credentials come from the standard chain
  (environment, --profile, SSO, instance or container role); --endpoint-url for a VPC
  endpoint or an emulator. The caller needs s3:ListBucket and s3:GetObject.

Examples:
  trailguard detect ./AWSLogs/
  # an organization trail: one account, one region, one day
  trailguard detect s3://org-trail/AWSLogs/o-abc123xyz --accounts 111122223333 \\
      --regions eu-west-1 --since 2025-09-17T00:00:00Z --until 2025-09-18T00:00:00Z
  trailguard detect --profile ir --since 24h s3://my-trail-bucket   # every account and region
  trailguard detect --since 24h --min-severity high ./AWSLogs/111122223333/
  aws cloudtrail lookup-events --max-results 50 | trailguard detect -
  trailguard detect --format jsonl ./logs > alerts.jsonl
  DISCORD_WEBHOOK_URL=... trailguard detect --sink discord ./logs
  trailguard detect --config /etc/trailguard.toml ./logs   # routes, digests, suppressions
  trailguard detect --fail-on critical ./logs || page-the-on-call
  trailguard detect --state trailguard.db ./AWSLogs/.../2025/09/17/   # hourly, new files only
  trailguard detect --state tg.db --sink discord --delivery-timeout 5m ./logs
  trailguard detect --sigma ./sigma/rules/cloud/aws ./logs   # Sigma rules for CloudTrail too

State (--state FILE):
  Without it each run starts knowing nothing: a key's usual addresses, windows and
  sequences are learned from the files given. With it, what stateful rules learned
  (first-seen values, sliding windows, sequence steps) and the ids of alerts already
  reported are kept in FILE (SQLite; created if missing), so that running detect
  every hour on the new files behaves like one long run, and an alert is reported
  once. The state is saved once the alerts are written and recorded in the
  outbox (before they are sent): after a failure before that, run again on the
  same files. Two runs on one file take turns (the second waits up to 5 minutes).
  A file that is not a trailguard state file, or is damaged, is refused (exit 2)
  and left as it is.

Sinks (--sink, repeatable):
  discord[=URL]   one Discord message per alert; the URL defaults to $DISCORD_WEBHOOK_URL.
                  Prefer the environment: a URL on the command line shows in `ps`.
  slack[=URL]     one Slack message per alert; the URL defaults to $SLACK_WEBHOOK_URL.
  webhook[=URL]   POST each alert's JSON; the URL defaults to $TRAILGUARD_WEBHOOK_URL,
                  signed with $TRAILGUARD_WEBHOOK_SECRET (unsigned, with a warning, without).
  jsonl=PATH      append one alert JSON object per line to PATH.

Config file (--config FILE, or $TRAILGUARD_CONFIG; see examples/trailguard.toml):
  [[sink]] entries with routes (min_severity, rules, exclude_rules, tags) and digests
  (more than N alerts within a window to one sink become one summary message),
  [[suppress]] entries (rule, actor, ip; a reason and an end date, always) and
  [delivery]. Secrets come from the environment (url_env, secret_env) or the file
  (which should then be readable by its owner only). Precedence: --min-severity
  filters first (what is reported at all); --sink adds sinks that take every
  reported alert, without digest, after the file's (a name used twice is an error);
  suppressions apply to every sink and to standard output, and are counted on stderr.

Delivery (never lose an alert):
  Every alert is recorded in an outbox before anything is sent: in the --state file
  (with the state, in one commit), or in memory without --state. Each sink gets each
  alert (or the digest folding it) at least once: failures are retried with growing
  pauses (1 s doubling up to 10 min, randomised; a wait the service asks for is
  honoured), one sink never waits for another, a refusal that retrying cannot fix
  (HTTP 400) is reported at once, and an alert not delivered within --expire-after
  ([delivery] expiry in the config file; 24 h by default) is reported as expired.
  The run stops delivering after --delivery-timeout; with --state what is left
  stays pending in FILE and is sent by the next run with the same sinks, or now
  with `trailguard alerts retry --all --state FILE --sink ...`. Without --state it
  is lost when the run ends (it was printed). An alert is sent twice only if the
  run dies between a service confirming it and the outbox recording that:
  receivers deduplicate on the alert id. Secrets are never stored: the outbox
  names sinks (discord, slack, webhook, jsonl:PATH, a config sink's name), not
  their URLs.

Exit codes:
  0  ran clean (alerts may have been raised; none at or above --fail-on)
  1  alerts at or above --fail-on were raised
  2  bad usage, no input could be read, the --state file cannot be used, or an
     alert could not be delivered (failed, expired, or still pending at
     --delivery-timeout; reported on stderr)";

#[derive(Args, Debug)]
pub struct DetectArgs {
    /// Files, folders, s3://BUCKET[/PREFIX], or - for standard input.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<String>,
    #[command(flatten)]
    pub rule_set: RulesArgs,
    #[command(flatten)]
    pub s3: crate::sources::S3Args,
    #[command(flatten)]
    pub aws: crate::sources::AwsArgs,
    /// Only events at or after this time: RFC 3339 (2024-05-01T00:00:00Z) or an age (90m, 24h, 7d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events before this time: RFC 3339 or an age (90m, 24h, 7d).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Output format [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Exit with 1 when an alert of this severity or above is raised.
    #[arg(long, value_name = "LEVEL")]
    pub fail_on: Option<String>,
    #[command(flatten)]
    pub alerts: AlertArgs,
    /// Keep what stateful rules learn, the alerts already reported and the outbox of
    /// alerts to deliver in this SQLite file between runs (created if missing).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    /// No progress bar and no summary on stderr (errors are still reported).
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
