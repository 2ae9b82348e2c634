//! `trailguard detect`'s arguments and help, as clap parses them.

use std::path::PathBuf;

use clap::Args;

use crate::args::{AlertArgs, DeliveryArgs, Format, RulesArgs};

pub const DETECT_EXAMPLES: &str = "\
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
