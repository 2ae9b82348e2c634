//! Where CloudTrail objects are in a bucket, found without listing the whole bucket.
//!
//! CloudTrail writes `[PREFIX/]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/
//! file.json.gz`. A day of one region of one account is one folder, so `--accounts`,
//! `--regions` and `--since/--until` become folder prefixes: the walk lists folders
//! (S3's `Delimiter=/`) down to the regions, then lists only the day folders in the
//! time range. `CloudTrail-Digest/` and `CloudTrail-Insight/` are never read.
//!
//! A prefix with no `AWSLogs/` folder within a few levels (logs copied elsewhere, an
//! export) is listed recursively instead: every `.json` and `.json.gz` object under it
//! (`--accounts` and `--regions` cannot narrow that; [`Planned::layout`] says so). A
//! URL naming one object (ending in `.json` or `.json.gz`) reads that object.
//!
//! The listing itself is behind [`Lister`], so this logic is tested on an in-memory
//! bucket; `trailguard-aws` lists real buckets.

/// More days than this in `--since/--until` and a region's folder is listed whole
/// (one paginated listing costs less than hundreds of day listings).
const MAX_DAY_LISTINGS: i64 = 400;

/// CloudTrail files a log within about 15 minutes of the call, in the folder of the
/// day it delivers it: a call just before midnight can be in the next day's folder.
/// The listing reaches this far past `until` (the events are filtered exactly later).
const DELIVERY_DELAY_MS: i64 = 3_600_000;

/// Folder listings spent looking for `AWSLogs/` above the layout before giving up
/// and listing the prefix whole.
const MAX_SEARCH_LISTINGS: u64 = 64;

/// The UTC days from `since` to `until` (now when absent), or `None` to list
/// everything (no `since`, or a range too long to be worth it).
fn days_between(since_ms: Option<i64>, until_ms: Option<i64>) -> Option<Vec<(i32, u8, u8)>> {
    let since = since_ms?;
    let until = until_ms.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    });
    let day = |ms: i64| {
        time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
            .ok()
            .map(|t| t.date())
    };
    let until = until.saturating_add(DELIVERY_DELAY_MS);
    let (first, last) = (day(since)?, day(until.max(since))?);
    if (last - first).whole_days() > MAX_DAY_LISTINGS {
        return None;
    }
    let mut out = Vec::new();
    let mut d = first;
    loop {
        out.push((d.year(), u8::from(d.month()), d.day()));
        if d >= last {
            break;
        }
        d = d.next_day()?;
    }
    Some(out)
}

/// `s3://BUCKET[/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    /// Without a leading `/`; empty for the whole bucket.
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3UrlError {
    #[error("{0}: not an s3:// URL")]
    NotS3(String),
    #[error("{url}: {reason}")]
    Bucket { url: String, reason: &'static str },
}

impl S3Url {
    pub fn parse(s: &str) -> Result<S3Url, S3UrlError> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| S3UrlError::NotS3(s.to_string()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's bucket naming rules, enough to catch typos and hostile input.
        let reason = if !(3..=63).contains(&bucket.len()) {
            Some("a bucket name is 3 to 63 characters")
        } else if !bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            Some("a bucket name has only lowercase letters, digits, `.` and `-`")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(S3UrlError::Bucket {
                url: s.to_string(),
                reason,
            });
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// An object to read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct S3Object {
    pub key: String,
    pub size: u64,
}

/// Lists a bucket. Errors are the lister's, as text (named by the caller).
pub trait Lister {
    /// The folders right under `prefix` (common prefixes for `Delimiter=/`), each
    /// ending in `/`.
    fn folders(&mut self, prefix: &str) -> Result<Vec<String>, String>;
    /// Every object under `prefix`, recursively.
    fn objects(&mut self, prefix: &str) -> Result<Vec<S3Object>, String>;
}

/// Which part of the trail to read.
#[derive(Debug, Clone, Default)]
pub struct LayoutFilter {
    /// 12-digit account ids; empty: all.
    pub accounts: Vec<String>,
    /// Region names; empty: all.
    pub regions: Vec<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

/// What the walk found, and how much listing it took.
#[derive(Debug, Default)]
pub struct Planned {
    pub objects: Vec<S3Object>,
    /// Listing calls made (each one page or more).
    pub list_calls: u64,
    /// Folders that could not be listed, with the reason: reported, the rest read.
    pub errors: Vec<(String, String)>,
    /// True when the CloudTrail layout (`AWSLogs/`) was found and walked; false when
    /// the prefix was listed whole (or named one object), so `accounts`, `regions`
    /// and the days did not narrow it.
    pub layout: bool,
}

fn last_segment(folder: &str) -> &str {
    folder
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_org(s: &str) -> bool {
    s.starts_with("o-") && s.len() > 2
}

/// A log object: `.json` or `.json.gz`, and not a digest or Insights file.
fn is_log(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    (k.ends_with(".json.gz") || k.ends_with(".json"))
        && !k.contains("/cloudtrail-digest/")
        && !k.contains("/cloudtrail-insight/")
        && !k.starts_with("cloudtrail-digest/")
        && !k.starts_with("cloudtrail-insight/")
}

struct Walk<'a> {
    lister: &'a mut dyn Lister,
    filter: &'a LayoutFilter,
    out: Planned,
}

impl Walk<'_> {
    fn folders(&mut self, prefix: &str) -> Vec<String> {
        self.out.list_calls += 1;
        match self.lister.folders(prefix) {
            Ok(f) => f,
            Err(e) => {
                self.out.errors.push((prefix.to_string(), e));
                Vec::new()
            }
        }
    }

    fn objects(&mut self, prefix: &str) {
        self.out.list_calls += 1;
        match self.lister.objects(prefix) {
            Ok(o) => self
                .out
                .objects
                .extend(o.into_iter().filter(|o| is_log(&o.key))),
            Err(e) => self.out.errors.push((prefix.to_string(), e)),
        }
    }

    /// Somewhere above `AWSLogs/`: find it (at most a few levels of user prefix).
    fn above(&mut self, prefix: &str, depth: u32) {
        let folders = self.folders(prefix);
        if let Some(logs) = folders.iter().find(|f| last_segment(f) == "AWSLogs") {
            return self.aws_logs(&logs.clone());
        }
        if depth >= 3 {
            return;
        }
        for f in folders {
            if self.out.list_calls >= MAX_SEARCH_LISTINGS {
                return;
            }
            self.above(&f, depth + 1);
        }
    }

    /// `AWSLogs/`: accounts, or organization ids holding accounts.
    fn aws_logs(&mut self, prefix: &str) {
        self.out.layout = true;
        for f in self.folders(prefix) {
            let seg = last_segment(&f).to_string();
            if is_org(&seg) {
                for a in self.folders(&f) {
                    if is_account(last_segment(&a)) {
                        self.account(&a);
                    }
                }
            } else if is_account(&seg) {
                self.account(&f);
            }
        }
    }

    fn account(&mut self, prefix: &str) {
        let id = last_segment(prefix);
        if !self.filter.accounts.is_empty() && !self.filter.accounts.iter().any(|a| a == id) {
            return;
        }
        self.cloudtrail(&format!("{prefix}CloudTrail/"));
    }

    /// `CloudTrail/`: regions, then the day folders in range.
    fn cloudtrail(&mut self, prefix: &str) {
        let regions: Vec<String> = if self.filter.regions.is_empty() {
            self.folders(prefix)
        } else {
            // No listing needed: the folders are named after the regions.
            self.filter
                .regions
                .iter()
                .map(|r| format!("{prefix}{r}/"))
                .collect()
        };
        for r in regions {
            match days_between(self.filter.since_ms, self.filter.until_ms) {
                Some(days) => {
                    for (y, m, d) in days {
                        self.objects(&format!("{r}{y:04}/{m:02}/{d:02}/"));
                    }
                }
                None => self.objects(&r),
            }
        }
    }
}

/// The CloudTrail objects under `url` that `filter` selects, in key order.
pub fn plan_listing(url: &S3Url, filter: &LayoutFilter, lister: &mut dyn Lister) -> Planned {
    let mut walk = Walk {
        lister,
        filter,
        out: Planned::default(),
    };
    let prefix = if url.prefix.is_empty() || url.prefix.ends_with('/') {
        url.prefix.clone()
    } else {
        format!("{}/", url.prefix)
    };
    // Where in the layout the URL points, from its own segments.
    let segs: Vec<&str> = prefix.trim_end_matches('/').split('/').collect();
    let at = segs.iter().rposition(|s| *s == "AWSLogs");
    if at.is_some() {
        walk.out.layout = true;
    }
    let lower = url.prefix.to_ascii_lowercase();
    if lower.ends_with(".json") || lower.ends_with(".json.gz") {
        // One object, named: read it (a digest named explicitly is still skipped).
        walk.out.layout = false;
        walk.objects(&url.prefix);
        walk.out.objects.retain(|o| o.key == url.prefix);
        return walk.out;
    }
    match at.map(|i| &segs[i + 1..]) {
        None => {
            walk.above(&prefix, 0);
            // No CloudTrail layout here (and the bucket answered): read it all.
            if !walk.out.layout && walk.out.errors.is_empty() {
                walk.objects(&prefix);
            }
        }
        Some([]) => walk.aws_logs(&prefix),
        Some([org]) if is_org(org) => {
            for a in walk.folders(&prefix) {
                if is_account(last_segment(&a)) {
                    walk.account(&a);
                }
            }
        }
        Some([acct]) | Some([_, acct]) if is_account(acct) => walk.account(&prefix),
        Some(rest) if rest.last() == Some(&"CloudTrail") => walk.cloudtrail(&prefix),
        // Deeper (a region, a day): read everything under it.
        Some(_) => walk.objects(&prefix),
    }
    let mut out = walk.out;
    out.objects.sort();
    out.objects.dedup();
    out
}

#[cfg(test)]
mod tests;
