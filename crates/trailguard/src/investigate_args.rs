//! `trailguard investigate`'s arguments and help, as clap parses them.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::args::RulesArgs;

pub const INVESTIGATE_HELP: &str = "\
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
