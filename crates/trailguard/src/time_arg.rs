//! `--since` / `--until`: an RFC 3339 time or an age such as `90m`, `24h`, `7d`.

use std::time::{SystemTime, UNIX_EPOCH};

use trailguard_core::rule::parse_duration;
use trailguard_core::time::parse_rfc3339_millis;

pub fn parse_time_arg(s: &str, now_ms: i64) -> Result<i64, String> {
    if let Some(ms) = parse_rfc3339_millis(s) {
        return Ok(ms);
    }
    let age = parse_duration(s).map_err(|e| format!("{e}, or an RFC 3339 time"))?;
    Ok(now_ms - age)
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_times() {
        assert_eq!(
            parse_time_arg("24h", 100_000_000).unwrap(),
            100_000_000 - 86_400_000
        );
        assert_eq!(parse_time_arg("1970-01-01T00:01:00Z", 0).unwrap(), 60_000);
        assert!(parse_time_arg("yesterday", 0).is_err());
        assert!(parse_time_arg("5y", 0).unwrap_err().contains("unit"));
        assert!(parse_time_arg("99999999999999999999d", 0).is_err());
    }
}
