//! `trailguard respond`'s arguments, as clap parses them.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::args::RulesArgs;
use crate::sources::{AwsArgs, S3Args};

pub const RESPOND_HELP: &str = "\
respond investigates the leaked key (like `investigate`), then prints a remediation
plan: each step with what it does, why (the CloudTrail event ids), what it breaks
for the key's owner, and the equivalent `aws` command. Nothing is changed unless
--execute is given.

The plan, in order:
  1. keep evidence: tag what the incident touched (tags change nothing else)
  2. deactivate the leaked key (Inactive, never deleted first)
  3. deactivate every key in its lineage (keys it created, keys of users it created)
  4. revoke sessions issued before now (inline deny on aws:TokenIssueTime)
  5. remove console passwords, policies and MFA devices the attacker added
  6. stop the instances it launched in every region (terminate: --destructive),
     revoke the firewall rules it opened
  7. undo shares of snapshots and images
  8. disable the users and roles it created (delete: --destructive)
  9. follow-ups for a person: rotate the key where it was used, billing, support

--execute carries it out with the AWS SDK (the standard credential chain,
--profile, --region; --endpoint-url for an emulator), step by step: each step is
read first (already in place: nothing to do), shown, confirmed ([y]es, [n]o,
[a]ll, [q]uit), made, and read back. A failed step stops only the steps that depend
on it. Every step is written to the audit log (JSON Lines). A second run finds
nothing to do and says so.

Guards, always on: what --protect or the config's [respond] protect lists is never
touched; neither is the identity trailguard runs as; the last active key of a
break-glass user (--break-glass, [respond] break_glass, or a name containing
\"break-glass\"/\"breakglass\") is kept unless --force.

Exit codes: 0 the plan was shown, or every step is done or was declined;
1 a step failed, was refused by a guard, could not be verified, or was skipped
because one it depends on did not succeed; 2 bad usage, no input could be read, or
the AWS identity could not be read (nothing was changed).

The logs may be files, folders or s3://BUCKET[/PREFIX] as for `detect` (see
`trailguard detect --help`: --accounts, --regions, --since/--until narrow the
listing); the same --profile, --region and --endpoint-url reach both S3 and the
account.

Examples:
  trailguard respond --access-key AKIAWCZC6J72ODEC6IFU examples/leaked-admin-key/AWSLogs
  trailguard respond --access-key AKIA... s3://org-trail/AWSLogs/o-abc123xyz --accounts 111122223333 --since 7d
  trailguard respond --access-key AKIA... ./logs --format md --out plan.md
  trailguard respond --access-key AKIA... ./logs --execute --profile ir
  trailguard respond --access-key AKIA... ./logs --execute --yes --protect arn:aws:iam::123456789012:user/ci";

#[derive(Args, Debug)]
pub struct RespondArgs {
    /// The leaked access key id (AKIA...).
    #[arg(long, value_name = "KEY")]
    pub access_key: String,
    /// CloudTrail files or folders, s3://BUCKET[/PREFIX] (or - for standard input) to
    /// investigate. Without any, the plan covers the key alone.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    #[command(flatten)]
    pub rule_set: RulesArgs,
    /// Only events at or after this time: RFC 3339 or an age (90m, 24h, 7d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events before this time: RFC 3339 or an age.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Output format of the plan [default: table on a terminal, json otherwise; or
    /// from the --out extension].
    #[arg(long, value_enum)]
    pub format: Option<PlanFormat>,
    /// Write the plan to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Plan deletions and terminations (users, roles, instances) instead of
    /// disabling and stopping them. Each waits for its evidence step.
    #[arg(long)]
    pub destructive: bool,
    /// Carry the plan out against AWS (asks before each step).
    #[arg(long)]
    pub execute: bool,
    /// With --execute: carry out every step without asking (required when standard
    /// input is not a terminal).
    #[arg(long, requires = "execute")]
    pub yes: bool,
    /// With --execute: deactivate the last active key of a break-glass user too.
    #[arg(long, requires = "execute")]
    pub force: bool,
    /// Never touch this identity or resource (an ARN, a user or role name, an access
    /// key id, an instance/group/snapshot/image id). Repeatable.
    #[arg(long, value_name = "ARN")]
    pub protect: Vec<String>,
    /// A break-glass user: its last active key is kept unless --force. Repeatable.
    #[arg(long, value_name = "USER")]
    pub break_glass: Vec<String>,
    /// Read [respond] protect and break_glass from this config file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub s3: S3Args,
    /// Append the audit log (JSON Lines) to this file [default:
    /// trailguard-audit.jsonl in the current folder].
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// No progress bar and no summary on stderr (errors are still reported).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanFormat {
    /// Numbered steps for a person at a terminal.
    Table,
    /// The plan as JSON (docs/architecture.md).
    Json,
    /// Markdown, for the incident ticket.
    Md,
}
