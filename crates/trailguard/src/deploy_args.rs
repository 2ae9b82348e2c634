//! Arguments of `trailguard deploy` (kept apart from `args.rs`, which is long enough).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::args::RulesArgs;

#[derive(Subcommand, Debug)]
pub enum DeployCommand {
    /// Write a CloudFormation template (YAML) that runs trailguard as a Lambda function
    /// behind EventBridge and S3 notifications, or the per-region forwarder of events.
    #[command(after_long_help = DEPLOY_TEMPLATE_HELP)]
    Template(DeployTemplateArgs),
}

pub const DEPLOY_TEMPLATE_HELP: &str = "\
Two templates, because AWS delivers CloudTrail events to EventBridge in the region where
they happen, and IAM, STS (global endpoint), Organizations and other global services
deliver theirs in us-east-1 only: a rule in one region sees neither half of the other.

  central (default)  deploy once, in --central-region (us-east-1 by default):
    - the function (provided.al2023, arm64 or --arch x86_64, bootstrap from the zip
      at CodeS3Bucket/CodeS3Key), its log group, its role;
    - one EventBridge rule per exportable rule of the pack (the patterns of
      `trailguard rules export`), each targeting the function with a retry policy and
      a dead-letter queue; rules that can match read-only calls (GetCallerIdentity,
      List*, Describe*, or any call) use the state
      ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS, the others ENABLED;
    - the SQS queue the trail bucket's S3 notifications go to (its policy lets S3 and,
      with TrailTopicArn, the trail's SNS topic send), read by the function with
      partial batch failures; the dead-letter queue everything ends in after retries;
    - the DynamoDB state table (pk, sk, TTL on expires_at) and the Secrets Manager
      secret holding the webhook URL;
    - a least-privilege role: read the trail bucket (and decrypt with TrailKmsKeyArn),
      the queue, the table, the secret, write its logs. No remediation rights unless
      --allow-remediation.
  --forwarder        deploy in every other enabled region (a StackSet, or one stack per
                     region): the same patterns, each forwarding what it matches to the
                     central region's default event bus, with a role and a dead-letter
                     queue. The central rules then judge them like local events.

Deploying (deploy/README.md has every step, with StackSets):
  cargo lambda build --profile lambda-release --arm64 --output-format zip -p trailguard-lambda
  aws s3 cp target/lambda/bootstrap/bootstrap.zip s3://ARTIFACTS/trailguard/bootstrap.zip
  trailguard deploy template --out trailguard.yml
  aws cloudformation deploy --region us-east-1 --stack-name trailguard \\
      --template-file trailguard.yml --capabilities CAPABILITY_NAMED_IAM \\
      --parameter-overrides CodeS3Bucket=ARTIFACTS CodeS3Key=trailguard/bootstrap.zip \\
      TrailBucketName=MY-TRAIL-BUCKET
  aws secretsmanager put-secret-value --secret-id trailguard/webhook-url \\
      --secret-string \"$DISCORD_WEBHOOK_URL\"
  trailguard deploy template --forwarder --out forwarder.yml   # then a StackSet

Examples:
  trailguard deploy template > trailguard.yml
  trailguard deploy template --arch x86_64 --memory 512 --sink slack --out trailguard.yml
  trailguard deploy template --forwarder --out forwarder.yml
  trailguard deploy template --rules ./our-rules --allow-remediation --out trailguard.yml

Exit codes:
  0  template written
  2  bad usage, the rules could not be loaded, a rule's pattern is over EventBridge's
     2048 characters (named on stderr; no template is written), or the file could not
     be written";

#[derive(Args, Debug)]
pub struct DeployTemplateArgs {
    /// Write the forwarder template (deploy in every region but the central one)
    /// instead of the central one.
    #[arg(long)]
    pub forwarder: bool,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The region that runs the function and receives every other region's events.
    /// IAM and other global services deliver their events only in us-east-1.
    #[arg(long, value_name = "REGION", default_value = "us-east-1")]
    pub central_region: String,
    /// Processor architecture of the function (Graviton arm64 is cheaper per ms).
    #[arg(long, value_enum, default_value_t = Arch::Arm64)]
    pub arch: Arch,
    /// Memory of the function in MB (128 is enough for EventBridge events; large
    /// CloudTrail objects are held decompressed, hence the default).
    #[arg(long, value_name = "MB", default_value_t = 256, value_parser = clap::value_parser!(u32).range(128..=10240))]
    pub memory: u32,
    /// Timeout of one invocation in seconds (sends retry within it); the notification
    /// queue's visibility timeout is six times this.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(10..=900))]
    pub timeout: u32,
    /// Where alerts go: the secret holds this sink's webhook URL.
    #[arg(long, value_enum, default_value_t = SinkKind::Discord)]
    pub sink: SinkKind,
    /// Days the function's logs (alert JSON lines included) are kept.
    #[arg(long, value_name = "DAYS", default_value_t = 90)]
    pub log_retention: u32,
    /// Also grant what `trailguard respond --execute` needs (deactivate access keys,
    /// attach a deny-all quarantine policy, stop instances). Off by default: the
    /// function only reads and alerts.
    #[arg(long)]
    pub allow_remediation: bool,
    #[command(flatten)]
    pub rules: RulesArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    Arm64,
    #[value(name = "x86_64")]
    X86_64,
}

impl Arch {
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Arm64 => "arm64",
            Arch::X86_64 => "x86_64",
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkKind {
    Discord,
    Slack,
    Webhook,
}

impl SinkKind {
    /// The variable the function reads the URL from (`*_SECRET_ARN` names the secret).
    pub fn url_env(self) -> &'static str {
        match self {
            SinkKind::Discord => "DISCORD_WEBHOOK_URL",
            SinkKind::Slack => "SLACK_WEBHOOK_URL",
            SinkKind::Webhook => "TRAILGUARD_WEBHOOK_URL",
        }
    }
}
