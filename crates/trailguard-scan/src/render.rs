//! Writing findings: a table for a person, JSON for scripts, SARIF 2.1.0 for GitHub
//! code scanning. Only masked secrets exist in a [`Finding`], so none can be printed.

use std::io::{self, Write};

use serde_json::{json, Value};

use crate::finding::{Confidence, Finding, Rule};

/// One line per finding: `path:line:col  rule  key  account  secret  confidence`.
pub fn table(out: &mut impl Write, findings: &[Finding]) -> io::Result<()> {
    for f in findings {
        let key = f.key_id.as_deref().unwrap_or("-");
        let account = f.account.as_deref().unwrap_or("-");
        let mut extra = String::new();
        if let Some(s) = &f.secret {
            extra.push_str(&format!("  secret {s}"));
        }
        if let Some(t) = &f.session_token {
            extra.push_str(&format!("  token {t}"));
        }
        if let Some(c) = &f.commit {
            extra.push_str(&format!(
                "  commit {} {} <{}> {}",
                c.id.get(..12).unwrap_or(&c.id),
                c.author,
                c.email,
                c.date
            ));
        }
        if let Some(v) = &f.verification {
            extra.push_str(&format!("  verify {}: {}", v.status, v.detail));
        }
        writeln!(
            out,
            "{}:{}:{}  {}  {key}  account {account}  {}{extra}",
            f.path,
            f.line,
            f.column,
            f.rule.id(),
            f.confidence
        )?;
    }
    Ok(())
}

/// A JSON array of findings (the fields of [`Finding`]), pretty-printed.
pub fn json(out: &mut impl Write, findings: &[Finding]) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, findings)?;
    writeln!(out)
}

fn level(c: Confidence) -> &'static str {
    match c {
        Confidence::High => "error",
        Confidence::Medium => "warning",
        Confidence::Low => "note",
    }
}

fn message(f: &Finding) -> String {
    let mut m = match &f.key_id {
        Some(k) => format!("AWS access key id {k}"),
        None => Rule::description(f.rule).to_owned(),
    };
    if let Some(a) = &f.account {
        m.push_str(&format!(" (account {a})"));
    }
    if let Some(s) = &f.secret {
        m.push_str(&format!(", secret access key {s}"));
    }
    if let Some(t) = &f.session_token {
        m.push_str(&format!(", session token {t}"));
    }
    m.push_str(&format!("; confidence {}", f.confidence));
    if let Some(v) = &f.verification {
        m.push_str(&format!("; STS says {}: {}", v.status, v.detail));
    }
    if let Some(c) = &f.commit {
        m.push_str(&format!(
            "; in git history since commit {} ({} <{}>, {})",
            c.id, c.author, c.email, c.date
        ));
    }
    m
}

/// SARIF 2.1.0: one run, the four rules, one result per finding with its region and a
/// partial fingerprint (so code scanning tracks a finding across commits). A finding
/// from history keeps its path as the location (code scanning shows it against the
/// file) and carries its commit in `properties`; the commit is left out of the
/// fingerprint on purpose: the same key in the same file is one alert, whichever
/// commit a later scan first sees it in.
pub fn sarif(out: &mut impl Write, findings: &[Finding]) -> io::Result<()> {
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.id(),
                "name": r.id(),
                "shortDescription": {"text": r.description()},
                "help": {"text": "Deactivate the key (aws iam update-access-key --status Inactive), \
                                  rotate it, remove it from the file and its history, then check \
                                  CloudTrail for its use: trailguard investigate --access-key KEY"},
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.rule.id(),
                "ruleIndex": Rule::ALL.iter().position(|r| *r == f.rule),
                "level": level(f.confidence),
                "message": {"text": message(f)},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": uri(&f.path)},
                    "region": {"startLine": f.line, "startColumn": f.column},
                }}],
                "partialFingerprints": {"trailguardFingerprint/v1": f.fingerprint},
                "properties": properties(f),
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "trailguard",
                "informationUri": "https://github.com/trailguard/trailguard",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

fn properties(f: &Finding) -> Value {
    let mut p = json!({"confidence": f.confidence, "account": f.account});
    if let Some(v) = &f.verification {
        p["verification"] = json!(v);
    }
    if let Some(c) = &f.commit {
        p["commit"] = json!(c.id);
        p["author"] = json!(c.author);
        p["email"] = json!(c.email);
        p["date"] = json!(c.date);
    }
    p
}

/// A URI: relative (forward slashes, no leading `./`), or `file://` for an absolute path.
fn uri(path: &str) -> String {
    let p = path.replace('\\', "/");
    if p.starts_with('/') {
        return format!("file://{p}");
    }
    p.strip_prefix("./").unwrap_or(&p).to_owned()
}
