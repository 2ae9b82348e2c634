//! Raw arguments of `trailguard scan`, as clap parses them (validated in `scan_cmd`).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

pub const SCAN_HELP: &str = "\
What is found:
  access key ids (AKIA long-term, ASIA temporary, ABIA, ACCA: the prefix and 16 base32
  characters, bounded by non-alphanumerics), each with the account it encodes; the
  secret access key near one (40 characters of base64 assigned within 4 lines, e.g.
  `aws_secret_access_key = `, `AWS_SECRET_ACCESS_KEY=`, `\"SecretAccessKey\": \"`, with an
  entropy floor) and the session token (`aws_session_token`). Secrets and tokens are
  never printed: only their first 4 characters and length (`wJal…(40)`).
  Not reported: documentation examples (AKIAIOSFODNN7EXAMPLE, anything ending EXAMPLE)
  and IAM unique ids (AIDA users, AROA roles, ...), which are not secret.

Confidence: high = key id with its secret; medium = key id in a credentials-like file
(~/.aws/credentials, .env, .tf/.tfvars, CI workflows, shell history) or on a line naming
an access key, or a lone secret or token; low = a key id mentioned anywhere else.

Files: folders are walked honouring .gitignore/.ignore (`.git` itself is skipped; a file
named on the command line is scanned even if ignored); binaries (a NUL in the first
8 KB) are skipped and counted. Archives are opened, gzip, tar (.tar, .tar.gz, .tgz)
and zip, and archives inside them up to 5 deep; a member is reported by its name,
`backup.tar.gz!site/config.zip!.env`. Everything decompressed from one file shares one
budget (64 MiB, and 100x the file's size): a bomb, flat or nested, is cut off and
reported. Files are read in 8 MiB chunks (memory stays bounded, a key on a chunk
boundary is found). Unreadable files, broken symlinks and loops are reported on stderr
and skipped.

History (--git): every blob ever committed, on every branch and tag (or --branch REV),
is scanned once, even when a later commit deleted it: a key that was pushed once must be
rotated whatever the tip says. Each finding names the first commit that holds it (id,
author, date) and its path there; a key kept through later edits of the file is
reported once. --since-commit BASE leaves out BASE's history and what its tree holds,
so a pull request is judged by what it adds. A damaged repository (missing objects, a
truncated pack, a garbage HEAD) is scanned as far as it can be read; each problem is
reported with its commit and path. Blobs over 64 MiB are reported and not read.

Formats: table (default on a terminal), json (a JSON array of findings, default
otherwise), sarif (SARIF 2.1.0 for GitHub code scanning; rule ids aws-access-key-pair,
aws-access-key-id, aws-secret-access-key, aws-session-token).

Verifying (--verify, never by default): each key id found with its secret is asked of
STS (GetCallerIdentity, signed with the pair; it changes nothing and needs no
permission): `live` (with the identity it belongs to), `refused` (STS does not take the
pair: unknown, deactivated or deleted key, wrong secret), or `unknown` (no answer that
says). The call appears in the key owner's CloudTrail, and canary tokens alert on it:
--never-verify-account ID keeps the pairs of that account from being asked. The pair is
held in memory only until it is asked, and is never printed.

Examples:
  trailguard scan                                     # the current folder
  trailguard scan ~/.aws ./src --format json | jq '.[].key_id'
  trailguard scan --format sarif > trailguard.sarif   # upload with github/codeql-action
  trailguard scan --update-baseline --baseline .trailguard-baseline.json
  trailguard scan --baseline .trailguard-baseline.json   # only new findings fail
  trailguard scan --staged                            # a pre-commit hook
  trailguard scan --git                               # this repository's whole history
  trailguard scan --git --since-commit origin/main --branch HEAD   # what a branch adds
  trailguard scan --allow-path 'tests/fixtures/**' --allow-regex '^AKIAWCZC6J72'
  trailguard scan ./leak --verify --never-verify-account 111122223333   # is it live?

Exit codes:
  0  nothing found (after allowlists and the baseline), or --update-baseline written
  1  at least one finding
  2  bad usage, a PATH that does not exist, an unreadable baseline, git failing for
     --staged, a repository that cannot be opened or a --branch/--since-commit that is
     not a commit there (files and objects that cannot be read are reported and do
     not change the code)";

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanFormat {
    /// One line per finding, for a person.
    Table,
    /// A JSON array of findings.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Files and folders to scan, or with --git the repositories [default: .].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Scan the repository's history: every blob of every commit, once. Findings
    /// carry the commit that brought them in.
    #[arg(long, conflicts_with = "staged")]
    pub git: bool,
    /// With --git: only the history of this branch, tag or commit (repeatable)
    /// [default: every ref and HEAD].
    #[arg(long, value_name = "REV", requires = "git")]
    pub branch: Vec<String>,
    /// With --git: leave out this commit's history and what its tree holds (repeatable),
    /// e.g. the base of a pull request.
    #[arg(long, value_name = "REV", requires = "git")]
    pub since_commit: Vec<String>,
    /// Scan the files staged for commit (`git diff --cached`), as they are in the
    /// index: what the commit will hold. For a pre-commit hook.
    #[arg(long, conflicts_with = "paths")]
    pub staged: bool,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<ScanFormat>,
    /// Do not read files matching this glob (repeatable), e.g. 'tests/fixtures/**'.
    #[arg(long, value_name = "GLOB")]
    pub allow_path: Vec<String>,
    /// Do not report key ids matching this regex (repeatable).
    #[arg(long, value_name = "RE")]
    pub allow_regex: Vec<String>,
    /// Do not report the finding with this fingerprint (repeatable).
    #[arg(long, value_name = "FP")]
    pub allow_fingerprint: Vec<String>,
    /// Do not report findings whose fingerprint is in this baseline file.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write every current finding's fingerprint to --baseline FILE and exit 0.
    #[arg(long, requires = "baseline")]
    pub update_baseline: bool,
    /// Ask STS whether each key pair found is live (GetCallerIdentity). Never by
    /// default: the call shows in the key owner's CloudTrail.
    #[arg(long)]
    pub verify: bool,
    /// With --verify: send the STS calls to this endpoint (a VPC endpoint, or an
    /// emulator in tests) [default: AWS's].
    #[arg(long, value_name = "URL", requires = "verify")]
    pub verify_endpoint: Option<String>,
    /// With --verify: never ask about keys of this account (canary tokens; repeatable).
    #[arg(long, value_name = "ID", requires = "verify")]
    pub never_verify_account: Vec<String>,
    /// No summary on stderr (problems are still reported).
    #[arg(long, short)]
    pub quiet: bool,
}
