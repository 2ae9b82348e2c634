//! `trailguard key-info KEY...`: the kind and account of AWS identifiers, offline.

use std::io::{self, IsTerminal, Write};

use anyhow::{Context, Result};
use serde_json::json;
use trailguard_core::keyid;

use crate::args::{KeyInfoArgs, ListFormat};
use crate::exit;

pub fn run(a: KeyInfoArgs) -> Result<u8> {
    let format = a.format.unwrap_or(if io::stdout().is_terminal() {
        ListFormat::Table
    } else {
        ListFormat::Jsonl
    });
    let mut code = exit::OK;
    let mut out = io::BufWriter::new(io::stdout().lock());
    for key in &a.keys {
        let info = match keyid::decode(key) {
            Ok(i) => i,
            Err(e) => {
                eprintln!(
                    "error: `{}`: {e}",
                    key.chars().take(140).collect::<String>()
                );
                code = exit::ERROR;
                continue;
            }
        };
        let kind = info.kind.unwrap_or("unknown prefix");
        match format {
            ListFormat::Jsonl => {
                let v = json!({
                    "id": info.id,
                    "prefix": info.prefix,
                    "type": info.kind,
                    "account": info.account,
                    "note": info.no_account_reason,
                });
                writeln!(out, "{v}")?;
            }
            ListFormat::Table => {
                writeln!(out, "{}", info.id)?;
                writeln!(out, "  type     {} ({kind})", info.prefix)?;
                match (&info.account, info.no_account_reason) {
                    (Some(a), _) => writeln!(out, "  account  {a}")?,
                    (None, Some(why)) => writeln!(out, "  account  unknown: {why}")?,
                    (None, None) => writeln!(out, "  account  unknown")?,
                }
            }
        }
    }
    out.flush().context("cannot write to standard output")?;
    Ok(code)
}
