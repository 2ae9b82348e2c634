//! The plan for a person: a terminal listing and Markdown for the incident ticket.
//! (Its JSON form is serde's, documented in `docs/architecture.md`.)

use std::io::{self, Write};

use trailguard_core::remedy::{Phase, Plan};

use crate::render::clean;

fn header(p: &Plan) -> Vec<String> {
    let mut out = vec![format!("REMEDIATION PLAN  {}", clean(&p.subject, 120))];
    if let Some(a) = &p.account {
        out.push(format!("account           {a}"));
    }
    if let Some(o) = &p.owner {
        out.push(format!("owner             user {}", clean(o, 120)));
    }
    let actionable = p.actionable().count();
    out.push(format!(
        "steps             {actionable} to carry out, {} for a person{}",
        p.steps.len() - actionable,
        if p.destructive {
            " (--destructive: deletions and terminations planned)"
        } else {
            ""
        }
    ));
    out
}

/// A listing for a terminal: phases, numbered steps, why, risk, command.
pub fn write_plan_table(out: &mut dyn Write, p: &Plan) -> io::Result<()> {
    for line in header(p) {
        writeln!(out, "{line}")?;
    }
    let mut phase: Option<Phase> = None;
    for s in &p.steps {
        if phase != Some(s.phase) {
            phase = Some(s.phase);
            writeln!(out, "\n== {}", s.phase.title())?;
        }
        writeln!(
            out,
            "{:>3}. {}{}",
            s.n,
            clean(&s.title, 200),
            if s.destructive { "  [destructive]" } else { "" }
        )?;
        if !s.reason.is_empty() {
            writeln!(out, "     why:   {}", clean(&s.reason, 400))?;
        }
        if !s.because.is_empty() {
            let shown: Vec<String> = s.because.iter().take(5).map(|e| clean(e, 80)).collect();
            let more = s.because.len().saturating_sub(5);
            writeln!(
                out,
                "     event: {}{}",
                shown.join(", "),
                if more > 0 {
                    format!(" (+{more})")
                } else {
                    String::new()
                }
            )?;
        }
        if !s.risk.is_empty() {
            writeln!(out, "     risk:  {}", clean(&s.risk, 400))?;
        }
        if !s.depends_on.is_empty() {
            let deps: Vec<String> = s.depends_on.iter().map(|d| d.to_string()).collect();
            writeln!(out, "     after: step {}", deps.join(", "))?;
        }
        for c in &s.aws_cli {
            for line in c.lines() {
                writeln!(out, "     $ {}", clean(line, 2000))?;
            }
        }
    }
    writeln!(
        out,
        "\nThis is a dry run: nothing was changed. Carry it out with --execute (each step is confirmed; --yes for all)."
    )
}

fn md(s: &str) -> String {
    clean(s, 2000)
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('*', "\\*")
        .replace('_', "\\_")
        .replace('`', "'")
        .replace('<', "&lt;")
}

/// Markdown, for the incident ticket.
pub fn write_plan_markdown(out: &mut dyn Write, p: &Plan) -> io::Result<()> {
    writeln!(out, "# Remediation plan for {}\n", md(&p.subject))?;
    for line in header(p).into_iter().skip(1) {
        writeln!(out, "- {}", md(&line))?;
    }
    let mut phase: Option<Phase> = None;
    for s in &p.steps {
        if phase != Some(s.phase) {
            phase = Some(s.phase);
            writeln!(out, "\n## {}\n", s.phase.title())?;
        }
        writeln!(
            out,
            "{}. **{}**{}",
            s.n,
            md(&s.title),
            if s.destructive {
                " _(destructive)_"
            } else {
                ""
            }
        )?;
        if !s.reason.is_empty() {
            writeln!(out, "   - Why: {}", md(&s.reason))?;
        }
        if !s.because.is_empty() {
            let ev: Vec<String> = s.because.iter().map(|e| md(e)).collect();
            writeln!(out, "   - Events: {}", ev.join(", "))?;
        }
        if !s.risk.is_empty() {
            writeln!(out, "   - Risk: {}", md(&s.risk))?;
        }
        for c in &s.aws_cli {
            // Fenced: the command is shown as is (a fence cannot be closed from
            // inside, since backticks never occur in it).
            writeln!(
                out,
                "\n   ```sh\n   {}\n   ```",
                c.replace('`', "'").replace('\n', "\n   ")
            )?;
        }
    }
    Ok(())
}
