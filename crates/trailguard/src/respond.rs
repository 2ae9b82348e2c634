//! `trailguard respond`: investigate the leaked key, build the remediation plan, show
//! it; with `--execute`, carry it out through the AWS SDK one confirmed step at a
//! time, writing every step to the audit log.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use trailguard_aws::{AwsAccount, AwsOptions};
use trailguard_core::remedy::{
    execute, Decision, ExecuteOptions, Guards, Outcome, Plan, Step, Summary,
};
use trailguard_core::time::format_millis;
use trailguard_investigate::plan::{write_plan_markdown, write_plan_table};
use trailguard_investigate::{build_plan, PlanOptions};
use trailguard_io::config::Config;

use crate::args::{InvestigateArgs, ReportFormat};
use crate::exit;
use crate::investigate::{investigate, InvestigateConfig, Investigation};
use crate::respond_args::{PlanFormat, RespondArgs};
use crate::time_arg::now_ms;

/// `respond`'s arguments, validated.
struct RespondConfig {
    investigate: InvestigateConfig,
    format: PlanFormat,
    out: Option<PathBuf>,
    destructive: bool,
    execute: bool,
    yes: bool,
    guards: Guards,
    aws: AwsOptions,
    audit_log: PathBuf,
    quiet: bool,
}

impl RespondConfig {
    fn from_args(a: RespondArgs) -> Result<RespondConfig> {
        if !a.access_key.starts_with("AKIA") {
            bail!(
                "--access-key: {} is not a long-term access key id (AKIA...): temporary keys (ASIA...) cannot be deactivated; respond to the key or user that made them",
                a.access_key
            );
        }
        if a.execute && !a.yes && !io::stdin().is_terminal() {
            bail!("--execute asks before each step, and standard input is not a terminal: give --yes to carry out every step without asking");
        }
        if a.execute && a.paths.iter().any(|p| p == "-") && !a.yes {
            bail!("--execute reads its confirmations from standard input, which is the CloudTrail input here: give --yes, or read the logs from a file");
        }
        let mut guards = Guards {
            protected: a.protect.clone(),
            break_glass: a.break_glass.clone(),
            force: a.force,
        };
        if let Some(path) = &a.config {
            let config = Config::load_suppressions(path)?;
            guards.protected.extend(config.respond.protect);
            guards.break_glass.extend(config.respond.break_glass);
        }
        for p in guards.protected.iter().chain(&guards.break_glass) {
            if p.trim().is_empty() {
                bail!(
                    "--protect and --break-glass take an ARN, a name or an id, not an empty value"
                );
            }
        }
        let by_extension = a.out.as_ref().and_then(|p| {
            match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
                "md" | "markdown" => Some(PlanFormat::Md),
                "json" => Some(PlanFormat::Json),
                "txt" => Some(PlanFormat::Table),
                _ => None,
            }
        });
        let format = a.format.or(by_extension).unwrap_or_else(|| {
            if a.out.is_none() && io::stdout().is_terminal() {
                PlanFormat::Table
            } else {
                PlanFormat::Json
            }
        });
        let investigate = InvestigateConfig::from_args(InvestigateArgs {
            access_key: Some(a.access_key.clone()),
            principal: None,
            ip: None,
            paths: a.paths.clone(),
            rule_set: a.rule_set,
            s3: a.s3.clone(),
            aws: a.aws.clone(),
            since: a.since,
            until: a.until,
            baseline_until: None,
            format: Some(ReportFormat::Json),
            out: None,
            timeline_limit: 10_000,
            quiet: a.quiet,
        })?;
        Ok(RespondConfig {
            investigate,
            format,
            out: a.out,
            destructive: a.destructive,
            execute: a.execute,
            yes: a.yes,
            guards,
            aws: a.aws.options(),
            audit_log: a
                .audit_log
                .unwrap_or_else(|| PathBuf::from("trailguard-audit.jsonl")),
            quiet: a.quiet,
        })
    }
}

pub fn run(args: RespondArgs) -> Result<u8> {
    let c = RespondConfig::from_args(args)?;
    if c.investigate.inputs.is_empty() && !c.quiet {
        eprintln!(
            "warning: no CloudTrail input: the plan covers the key alone (give the logs to find what it created)"
        );
    }
    let Some(Investigation { report, .. }) = investigate(&c.investigate)? else {
        return Ok(exit::ERROR);
    };
    let plan = build_plan(
        &report,
        &PlanOptions {
            destructive: c.destructive,
            evidence_sources: c.investigate.inputs.names(),
        },
    );
    write_plan(&c, &plan)?;
    if !c.execute {
        if !c.quiet {
            eprintln!(
                "trailguard: {} steps to carry out, {} for a person; nothing was changed (--execute to carry it out)",
                plan.actionable().count(),
                plan.steps.len() - plan.actionable().count()
            );
        }
        return Ok(exit::OK);
    }
    carry_out(&c, &plan)
}

fn write_plan(c: &RespondConfig, plan: &Plan) -> Result<()> {
    let render = |out: &mut dyn Write| -> io::Result<()> {
        match c.format {
            PlanFormat::Table => write_plan_table(out, plan),
            PlanFormat::Md => write_plan_markdown(out, plan),
            PlanFormat::Json => {
                serde_json::to_writer_pretty(&mut *out, plan)?;
                out.write_all(b"\n")
            }
        }?;
        out.flush()
    };
    match &c.out {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            render(&mut BufWriter::new(file))
                .with_context(|| format!("cannot write {}", path.display()))?;
            if !c.quiet {
                eprintln!("trailguard: plan written to {}", path.display());
            }
        }
        None => {
            let stdout = io::stdout();
            render(&mut stdout.lock()).context("cannot write the plan")?;
        }
    }
    Ok(())
}

/// Asks on stderr, reads the answer from stdin.
fn ask(step: &Step, what: &str, total: usize) -> Decision {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "\nStep {}/{total}: {}", step.n, step.title);
    let _ = writeln!(err, "  will:  {what}");
    if !step.risk.is_empty() {
        let _ = writeln!(err, "  risk:  {}", step.risk);
    }
    for cmd in &step.aws_cli {
        let _ = writeln!(err, "  $ {}", cmd.replace('\n', "\n  $ "));
    }
    let stdin = io::stdin();
    loop {
        let _ = write!(err, "Carry it out? [y]es, [n]o, [a]ll remaining, [q]uit: ");
        let _ = err.flush();
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => return Decision::Quit,
            Ok(_) => {}
        }
        match line.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => return Decision::Yes,
            "n" | "no" => return Decision::No,
            "a" | "all" => return Decision::All,
            "q" | "quit" => return Decision::Quit,
            _ => {}
        }
    }
}

fn carry_out(c: &RespondConfig, plan: &Plan) -> Result<u8> {
    let mut account = match AwsAccount::connect(&c.aws) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::ERROR);
        }
    };
    let audit_file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&c.audit_log)
        .with_context(|| format!("cannot open the audit log {}", c.audit_log.display()))?;
    let mut audit = BufWriter::new(audit_file);
    let mut audit_error: Option<io::Error> = None;
    let total = plan.steps.len();
    let options = ExecuteOptions {
        guards: c.guards.clone(),
        now: format_millis(now_ms()),
    };
    let quiet = c.quiet;
    let yes = c.yes;
    let result = execute(
        plan,
        &mut account,
        &options,
        &mut |step, what| {
            if yes {
                Decision::All
            } else {
                ask(step, what, total)
            }
        },
        &mut |record| {
            let mut record = record.clone();
            record.time = format_millis(now_ms());
            let line = serde_json::to_string(&record).expect("an audit record serializes");
            // Each line is on disk before the next step starts.
            if let Err(e) = writeln!(audit, "{line}")
                .and_then(|_| audit.flush())
                .and_then(|_| audit.get_ref().sync_data())
            {
                audit_error.get_or_insert(e);
            }
        },
        &mut |step, outcome| {
            if !quiet || outcome.is_problem() {
                eprintln!("{}", outcome_line(step, outcome));
            }
        },
    );
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read the identity trailguard runs as (sts:GetCallerIdentity): {e}; nothing was changed");
            return Ok(exit::ERROR);
        }
    };
    if let Some(e) = audit_error {
        eprintln!(
            "error: the audit log {} could not be written completely: {e}",
            c.audit_log.display()
        );
    }
    print_summary(c, &summary);
    Ok(if summary.has_problems() {
        exit::ALERTS
    } else {
        exit::OK
    })
}

fn outcome_line(step: &Step, o: &Outcome) -> String {
    let mark = match o {
        Outcome::Done => "done",
        Outcome::AlreadyDone => "already done",
        Outcome::Gone(_) => "nothing to do",
        Outcome::Declined => "declined",
        Outcome::Manual => "for a person",
        _ => o.label(),
    };
    match o.detail() {
        Some(d) => format!("  [{mark}] {}. {}: {d}", step.n, step.title),
        None => format!("  [{mark}] {}. {}", step.n, step.title),
    }
}

fn print_summary(c: &RespondConfig, s: &Summary) {
    let n = |f: fn(&Outcome) -> bool| s.count(f);
    if let Some(caller) = &s.caller {
        if !c.quiet {
            eprintln!("trailguard: ran as {}", caller.arn);
        }
    }
    if s.nothing_to_do() {
        let refused = n(|o| matches!(o, Outcome::Refused(_)));
        eprintln!(
            "trailguard: nothing to do: every step is already in place{}",
            if refused > 0 {
                format!(" ({refused} refused by a guard)")
            } else {
                String::new()
            }
        );
    } else {
        eprintln!(
            "trailguard: {} done, {} already done, {} declined, {} refused, {} failed, {} not verified, {} skipped; {} for a person",
            n(|o| matches!(o, Outcome::Done)),
            n(|o| matches!(o, Outcome::AlreadyDone | Outcome::Gone(_))),
            n(|o| matches!(o, Outcome::Declined)),
            n(|o| matches!(o, Outcome::Refused(_))),
            n(|o| matches!(o, Outcome::Failed(_))),
            n(|o| matches!(o, Outcome::NotVerified(_))),
            n(|o| matches!(o, Outcome::Skipped(_))),
            n(|o| matches!(o, Outcome::Manual)),
        );
    }
    eprintln!("trailguard: audit log: {}", c.audit_log.display());
}
