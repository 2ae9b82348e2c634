//! `--since` / `--until`: an RFC 3339 time or an age such as `90m`, `24h`, `7d`.

use std::time::{SystemTime, UNIX_EPOCH};

use trailguard_core::time::parse_rfc3339_millis;

pub fn parse_time_arg(s: &str, now_ms: i64) -> Result<i64, String> {
    if let Some(ms) = parse_rfc3339_millis(s) {
        return Ok(ms);
    }
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("`{s}` is neither an RFC 3339 time nor an age like 24h"))?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return Err(format!("`{s}`: the unit of an age is s, m, h, d or w")),
    };
    n.checked_mul(unit_ms)
        .map(|age| now_ms - age)
        .ok_or_else(|| format!("`{s}` is too large"))
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
