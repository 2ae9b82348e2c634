//! `trailguard simulate`: synthetic CloudTrail for measuring the rules, written as a
//! CloudTrail archive (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz`,
//! one gzipped log file per region and hour) that `detect` reads like the real thing.

mod background;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use serde_json::Value;
use trailguard_core::time::parse_rfc3339_millis;

use crate::args::{Scenario, SimulateArgs};
use crate::exit;
pub use background::{generate, BackgroundSpec};

pub fn run(a: SimulateArgs) -> Result<u8> {
    let Scenario::Background = a.scenario;
    let start_ms = parse_rfc3339_millis(&a.start)
        .with_context(|| format!("--start `{}` is not an RFC 3339 time", a.start))?;
    if a.account.len() != 12 || !a.account.bytes().all(|b| b.is_ascii_digit()) {
        bail!("--account `{}` is not a 12-digit AWS account id", a.account);
    }
    if a.days == 0 || a.days > 366 {
        bail!("--days must be between 1 and 366");
    }
    let spec = BackgroundSpec {
        account: a.account.clone(),
        start_ms,
        days: a.days,
        events: a.events,
        seed: a.seed,
    };
    let records = generate(&spec);
    let files = write_archive(&a.out, &a.account, &records)?;
    eprintln!(
        "trailguard: {} benign events over {} days written to {} ({files} log files)",
        records.len(),
        a.days,
        a.out.display()
    );
    Ok(exit::OK)
}

/// Writes records (sorted by time) as CloudTrail log files; returns how many.
pub fn write_archive(out: &Path, account: &str, records: &[Value]) -> Result<usize> {
    let mut files: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for r in records {
        let region = r["awsRegion"].as_str().unwrap_or("us-east-1").to_owned();
        let time = r["eventTime"].as_str().unwrap_or("1970-01-01T00:00:00Z");
        let hour = time.get(..13).unwrap_or("1970-01-01T00").to_owned();
        files.entry((region, hour)).or_default().push(r);
    }
    for ((region, hour), recs) in &files {
        let (date, hh) = hour.split_once('T').unwrap_or((hour.as_str(), "00"));
        let ymd: Vec<&str> = date.split('-').collect();
        let [y, m, d] = ymd[..] else {
            bail!("bad event time {hour}");
        };
        let dir = out
            .join("AWSLogs")
            .join(account)
            .join("CloudTrail")
            .join(region)
            .join(y)
            .join(m)
            .join(d);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let name = format!("{account}_CloudTrail_{region}_{y}{m}{d}T{hh}00Z_trailguardsim.json.gz");
        let body = serde_json::to_vec(&serde_json::json!({ "Records": recs }))?;
        let path = dir.join(name);
        let file =
            fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        let mut gz = GzEncoder::new(file, flate2::Compression::fast());
        gz.write_all(&body)
            .and_then(|()| gz.finish().map(drop))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(files.len())
}
