//! What `detect`, `investigate` and `respond` read: local paths and stdin, and
//! `s3://BUCKET[/PREFIX]` inputs. An S3 input is listed along the CloudTrail layout
//! (`trailguard_io::s3_layout::plan_listing`: organization trails, `--accounts`,
//! `--regions`, and the days of `--since/--until` as folder prefixes), then its
//! objects are fetched a few at a time and read as they arrive
//! (`trailguard_io::reader::read_objects`): memory holds at most `--s3-downloads`
//! objects, each refused past [`MAX_OBJECT_BYTES`]. The SDK retries transient errors
//! (throttling, 5xx, connection resets; 3 attempts); an object or folder that still
//! fails is reported by its `s3://` name and the rest is read.

use anyhow::{bail, Result};
use clap::Args;
use trailguard_aws::{AwsOptions, S3Objects};
use trailguard_core::Event;
use trailguard_io::reader::{
    read_events, read_objects, Input, ReadOptions, ReadSummary, RemoteObject,
};
use trailguard_io::s3_layout::{plan_listing, LayoutFilter, S3Url};

use crate::progress::BarProgress;

/// The largest object read from S3 (gzipped, as stored). CloudTrail's own objects
/// stay within a few MB; the SDK crate's default.
pub const MAX_OBJECT_BYTES: u64 = trailguard_aws::S3_DEFAULT_MAX_OBJECT_BYTES;

/// Which part of an `s3://` trail to read.
#[derive(Args, Debug, Clone, Default)]
pub struct S3Args {
    /// With s3:// inputs: only these accounts (12-digit ids, comma-separated).
    #[arg(long, value_name = "ID,...", value_delimiter = ',')]
    pub accounts: Vec<String>,
    /// With s3:// inputs: only these regions (comma-separated, e.g. us-east-1,eu-west-1).
    #[arg(long, value_name = "REGION,...", value_delimiter = ',')]
    pub regions: Vec<String>,
    /// With s3:// inputs: objects downloaded at once (each held in memory while read).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub s3_downloads: usize,
    /// With s3:// inputs: objects larger than this (as stored) are refused and
    /// reported [default: 64 MiB].
    #[arg(long, value_name = "BYTES", hide = true)]
    pub s3_max_object_bytes: Option<u64>,
}

/// How AWS is reached: the standard credential chain, or these.
#[derive(Args, Debug, Clone, Default)]
pub struct AwsArgs {
    /// The AWS profile to use (else the standard credential chain: environment,
    /// profile `default`, SSO, container or instance role).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The region of the AWS calls (S3 finds a bucket's own region; IAM is global).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (a VPC endpoint, or an emulator such as
    /// moto for testing).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    pub fn options(&self) -> AwsOptions {
        AwsOptions {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            credentials: None,
        }
    }
}

/// Every input of one run, validated.
pub struct Sources {
    pub local: Vec<Input>,
    pub s3: Vec<S3Url>,
    pub filter: LayoutFilter,
    pub aws: AwsOptions,
    pub downloads: usize,
    pub max_object_bytes: u64,
    pub quiet: bool,
}

/// A 12-digit account id.
pub fn check_account(s: &str) -> Result<String> {
    let s = s.trim();
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        bail!("--accounts: `{s}` is not an AWS account id (12 digits)")
    }
}

/// A region name: `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`.
pub fn check_region(s: &str) -> Result<String> {
    let s = s.trim();
    let parts: Vec<&str> = s.split('-').collect();
    let letters = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && letters(parts[0])
        && parts[1..parts.len() - 1].iter().all(|p| letters(p))
        && parts[parts.len() - 1].len() <= 2
        && !parts[parts.len() - 1].is_empty()
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(s.to_string())
    } else {
        bail!("--regions: `{s}` is not an AWS region name (like us-east-1 or eu-west-2)")
    }
}

impl Sources {
    /// Local inputs only (the demo).
    pub fn local(local: Vec<Input>) -> Sources {
        Sources {
            local,
            s3: Vec::new(),
            filter: LayoutFilter::default(),
            aws: AwsOptions::default(),
            downloads: 1,
            max_object_bytes: MAX_OBJECT_BYTES,
            quiet: true,
        }
    }

    /// `paths` as given on the command line: `-`, `s3://...`, or a path.
    pub fn from_args(
        paths: &[String],
        s3: &S3Args,
        aws: &AwsArgs,
        (since_ms, until_ms): (Option<i64>, Option<i64>),
        quiet: bool,
    ) -> Result<Sources> {
        if paths.iter().filter(|p| *p == "-").count() > 1 {
            bail!("`-` (standard input) can be given only once");
        }
        let mut local = Vec::new();
        let mut urls = Vec::new();
        for p in paths {
            if p.get(..3).is_some_and(|s| s.eq_ignore_ascii_case("s3:")) {
                urls.push(S3Url::parse(p)?);
            } else {
                local.push(Input::from_arg(p));
            }
        }
        let accounts = s3
            .accounts
            .iter()
            .map(|a| check_account(a))
            .collect::<Result<Vec<_>>>()?;
        let regions = s3
            .regions
            .iter()
            .map(|r| check_region(r))
            .collect::<Result<Vec<_>>>()?;
        if urls.is_empty() && !(accounts.is_empty() && regions.is_empty()) {
            bail!("--accounts and --regions choose what to list in an s3:// input; give one (s3://BUCKET/PREFIX)");
        }
        if !(1..=64).contains(&s3.s3_downloads) {
            bail!("--s3-downloads: from 1 to 64");
        }
        Ok(Sources {
            local,
            s3: urls,
            filter: LayoutFilter {
                accounts,
                regions,
                since_ms,
                until_ms,
            },
            aws: aws.options(),
            downloads: s3.s3_downloads,
            max_object_bytes: s3.s3_max_object_bytes.unwrap_or(MAX_OBJECT_BYTES),
            quiet,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.local.is_empty() && self.s3.is_empty()
    }

    /// The inputs as the user named them (a plan's evidence sources).
    pub fn names(&self) -> Vec<String> {
        let local = self.local.iter().map(|i| match i {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "standard input".to_string(),
        });
        local.chain(self.s3.iter().map(S3Url::to_string)).collect()
    }

    /// Reads every input: local ones first (in parallel), then the objects of every
    /// `s3://` input, listed first, fetched `downloads` at a time.
    pub fn read(
        &self,
        progress: &BarProgress,
        on_event: &(dyn Fn(&Event<'_>) + Sync),
    ) -> ReadSummary {
        let opts = ReadOptions::default();
        let mut summary = if self.local.is_empty() {
            ReadSummary::default()
        } else {
            read_events(&self.local, &opts, progress, on_event)
        };
        if self.s3.is_empty() {
            return summary;
        }
        let max = opts.max_errors;
        let s3 = match S3Objects::connect(&self.aws) {
            Ok(s3) => s3,
            Err(e) => {
                for url in &self.s3 {
                    summary.list_failed(url.to_string(), e.to_string(), max);
                }
                return summary;
            }
        };
        let objects = self.list(&s3, progress, &mut summary);
        // One client for every download thread: they share its connections.
        let fetch = s3.with_max_bytes(self.max_object_bytes);
        let read = read_objects(
            &objects,
            self.downloads,
            |o| {
                let (bucket, key) = split_name(&o.name);
                // The error names the object already; the report names it once.
                fetch
                    .fetch(bucket, key)
                    .map_err(|e| e.to_string().replace(&format!("{}: ", o.name), ""))
            },
            &opts,
            progress,
            on_event,
        );
        summary.absorb(read, max);
        summary
    }

    /// The objects to read, every input listed along the layout; what cannot be
    /// listed goes into `summary`. One line per input on stderr unless quiet.
    fn list(
        &self,
        s3: &S3Objects,
        progress: &BarProgress,
        summary: &mut ReadSummary,
    ) -> Vec<RemoteObject> {
        let max = ReadOptions::default().max_errors;
        let mut objects = Vec::new();
        for url in &self.s3 {
            progress.note(&format!("listing {url}"));
            let planned = plan_listing(url, &self.filter, &mut s3.lister(&url.bucket));
            for (prefix, reason) in planned.errors {
                let name = format!("s3://{}/{prefix}", url.bucket);
                summary.list_failed(name.clone(), reason.replace(&format!("{name}: "), ""), max);
            }
            let narrowed = !(self.filter.accounts.is_empty() && self.filter.regions.is_empty());
            if !planned.layout && narrowed && !planned.objects.is_empty() {
                eprintln!(
                    "warning: {url}: no CloudTrail layout (AWSLogs/) under it: listed whole, --accounts and --regions do not narrow it"
                );
            }
            if !self.quiet {
                let bytes: u64 = planned.objects.iter().map(|o| o.size).sum();
                eprintln!(
                    "trailguard: {url}: {} objects to read ({}), {} listing {}",
                    planned.objects.len(),
                    human_bytes(bytes),
                    planned.list_calls,
                    if planned.list_calls == 1 {
                        "call"
                    } else {
                        "calls"
                    }
                );
            }
            objects.extend(planned.objects.into_iter().map(|o| RemoteObject {
                name: format!("s3://{}/{}", url.bucket, o.key),
                size: o.size,
            }));
        }
        objects
    }
}

/// `s3://BUCKET/KEY` into the bucket and the key.
fn split_name(name: &str) -> (&str, &str) {
    let rest = name.strip_prefix("s3://").unwrap_or(name);
    rest.split_once('/').unwrap_or((rest, ""))
}

fn human_bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} KB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.2} GB", n as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(paths: &[&str], s3: S3Args) -> Result<Sources> {
        let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        Sources::from_args(&paths, &s3, &AwsArgs::default(), (None, None), true)
    }

    fn s3(accounts: &[&str], regions: &[&str]) -> S3Args {
        S3Args {
            accounts: accounts.iter().map(|a| a.to_string()).collect(),
            regions: regions.iter().map(|r| r.to_string()).collect(),
            s3_downloads: 8,
            s3_max_object_bytes: None,
        }
    }

    #[test]
    fn accounts_are_twelve_digits() {
        assert_eq!(check_account("111122223333").unwrap(), "111122223333");
        for bad in [
            "11112222333",
            "1111222233334",
            "11112222333a",
            "",
            "o-abc123",
        ] {
            let e = check_account(bad).unwrap_err().to_string();
            assert!(e.contains("12 digits"), "{bad}: {e}");
        }
    }

    #[test]
    fn regions_look_like_regions() {
        for good in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "cn-north-1",
            "ap-southeast-4",
            "us-isob-east-1",
        ] {
            assert_eq!(check_region(good).unwrap(), good);
        }
        for bad in [
            "US-EAST-1",
            "us-east",
            "useast1",
            "us-east-1/",
            "us--1",
            "us-east-123",
            "../x",
            "",
            "us-east-1a",
        ] {
            assert!(check_region(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inputs_are_split_into_paths_and_urls() {
        let s = parse(
            &["./logs", "s3://trail/org/AWSLogs", "-"],
            s3(&["111122223333"], &["eu-west-1"]),
        )
        .unwrap();
        assert_eq!(s.local, [Input::Path("./logs".into()), Input::Stdin]);
        assert_eq!(s.s3.len(), 1);
        assert_eq!(s.s3[0].bucket, "trail");
        assert_eq!(s.filter.accounts, ["111122223333"]);
        assert_eq!(s.filter.regions, ["eu-west-1"]);
        assert_eq!(
            s.names(),
            ["./logs", "standard input", "s3://trail/org/AWSLogs"]
        );
    }

    #[test]
    fn bad_urls_and_filters_are_usage_errors() {
        for (paths, args, want) in [
            (vec!["s3://Bad_Bucket/x"], s3(&[], &[]), "bucket name"),
            (vec!["s3:/trail/x"], s3(&[], &[]), "not an s3:// URL"),
            (vec!["s3://ab"], s3(&[], &[]), "3 to 63"),
            (
                vec!["./logs"],
                s3(&["111122223333"], &[]),
                "give one (s3://",
            ),
            (vec!["s3://trail"], s3(&["1234"], &[]), "12 digits"),
            (vec!["s3://trail"], s3(&[], &["moon-1"]), "region name"),
            (vec!["-", "-"], s3(&[], &[]), "only once"),
        ] {
            let e = parse(&paths, args)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(want), "{paths:?}: {e}");
        }
        let zero = S3Args {
            s3_downloads: 0,
            ..S3Args::default()
        };
        assert!(parse(&["s3://trail"], zero).is_err());
    }

    #[test]
    fn object_names_split_into_bucket_and_key() {
        assert_eq!(
            split_name("s3://trail/a/b.json.gz"),
            ("trail", "a/b.json.gz")
        );
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
    }
}
