use super::*;

/// A bucket in memory: keys, and a count of listing calls by kind.
struct Bucket {
    keys: Vec<String>,
    folder_calls: Vec<String>,
    object_calls: Vec<String>,
    fail: Option<String>,
}

impl Bucket {
    fn new(keys: &[&str]) -> Bucket {
        Bucket {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            folder_calls: vec![],
            object_calls: vec![],
            fail: None,
        }
    }
}

impl Lister for Bucket {
    fn folders(&mut self, prefix: &str) -> Result<Vec<String>, String> {
        self.folder_calls.push(prefix.to_string());
        if self.fail.as_deref() == Some(prefix) {
            return Err("AccessDenied".into());
        }
        let mut out: Vec<String> = self
            .keys
            .iter()
            .filter_map(|k| {
                let rest = k.strip_prefix(prefix)?;
                let (dir, _) = rest.split_once('/')?;
                Some(format!("{prefix}{dir}/"))
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
    fn objects(&mut self, prefix: &str) -> Result<Vec<S3Object>, String> {
        self.object_calls.push(prefix.to_string());
        Ok(self
            .keys
            .iter()
            .filter(|k| k.starts_with(prefix))
            .map(|k| S3Object {
                key: k.clone(),
                size: 1,
            })
            .collect())
    }
}

const A: &str = "111122223333";
const B: &str = "444455556666";

fn trail() -> Vec<String> {
    let mut keys = vec![];
    for (root, acct) in [("AWSLogs/o-abc123/", A), ("AWSLogs/o-abc123/", B)] {
        for region in ["us-east-1", "eu-west-1"] {
            for day in ["2026/11/27", "2026/11/28", "2026/11/29"] {
                keys.push(format!(
                    "org/{root}{acct}/CloudTrail/{region}/{day}/{acct}_CloudTrail_{region}_x.json.gz"
                ));
            }
        }
        keys.push(format!(
            "org/{root}{acct}/CloudTrail-Digest/us-east-1/2026/11/28/{acct}_digest.json.gz"
        ));
        keys.push(format!(
            "org/{root}{acct}/CloudTrail-Insight/us-east-1/2026/11/28/{acct}_insight.json.gz"
        ));
    }
    keys.push(
        "org/AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/2026/11/28/readme.txt".into(),
    );
    keys
}

fn ms(s: &str) -> i64 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
        * 1000
}

#[test]
fn urls_are_parsed_and_checked() {
    assert_eq!(
        S3Url::parse("s3://my-trail/org/AWSLogs").unwrap(),
        S3Url {
            bucket: "my-trail".into(),
            prefix: "org/AWSLogs".into()
        }
    );
    assert_eq!(S3Url::parse("s3://my-trail").unwrap().prefix, "");
    assert!(matches!(S3Url::parse("/tmp/x"), Err(S3UrlError::NotS3(_))));
    for bad in [
        "s3://",
        "s3://ab",
        "s3://Upper",
        "s3://a_b_c",
        "s3://x\u{0}y/k",
    ] {
        let e = S3Url::parse(bad).unwrap_err().to_string();
        assert!(e.contains("bucket name"), "{bad}: {e}");
    }
}

#[test]
fn an_organization_trail_is_walked_without_digests_insights_or_other_files() {
    let keys = trail();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut b = Bucket::new(&refs);
    let p = plan_listing(
        &S3Url::parse("s3://trail/org").unwrap(),
        &LayoutFilter::default(),
        &mut b,
    );
    assert!(p.errors.is_empty());
    assert_eq!(p.objects.len(), 2 * 2 * 3);
    assert!(p
        .objects
        .iter()
        .all(|o| o.key.contains("/CloudTrail/") && o.key.ends_with(".json.gz")));
}

#[test]
fn accounts_regions_and_days_become_prefixes() {
    let keys = trail();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut b = Bucket::new(&refs);
    let filter = LayoutFilter {
        accounts: vec![B.into()],
        regions: vec!["eu-west-1".into()],
        since_ms: Some(ms("2026-11-28T10:00:00Z")),
        until_ms: Some(ms("2026-11-28T22:00:00Z")),
    };
    let p = plan_listing(&S3Url::parse("s3://trail/org/").unwrap(), &filter, &mut b);
    assert_eq!(p.objects.len(), 1, "{:?}", p.objects);
    assert!(p.objects[0]
        .key
        .contains(&format!("{B}/CloudTrail/eu-west-1/2026/11/28/")));
    // Only that day of that region was listed for objects; nothing else was read.
    assert_eq!(
        b.object_calls,
        [format!(
            "org/AWSLogs/o-abc123/{B}/CloudTrail/eu-west-1/2026/11/28/"
        )]
    );
    // No region folder was listed (they are named after the regions).
    assert!(!b.folder_calls.iter().any(|c| c.ends_with("/CloudTrail/")));
}

#[test]
fn a_url_deep_in_the_layout_starts_there() {
    let keys = trail();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    for (url, n) in [
        (format!("s3://trail/org/AWSLogs/o-abc123/{A}"), 6),
        (format!("s3://trail/org/AWSLogs/o-abc123/{A}/CloudTrail"), 6),
        (
            format!("s3://trail/org/AWSLogs/o-abc123/{A}/CloudTrail/us-east-1/2026/11/28"),
            1,
        ),
        ("s3://trail/org/AWSLogs/o-abc123".to_string(), 12),
        ("s3://trail/org/AWSLogs/".to_string(), 12),
    ] {
        let mut b = Bucket::new(&refs);
        let p = plan_listing(
            &S3Url::parse(&url).unwrap(),
            &LayoutFilter::default(),
            &mut b,
        );
        assert_eq!(p.objects.len(), n, "{url}: {:?}", p.objects);
    }
}

#[test]
fn a_folder_that_cannot_be_listed_is_reported_and_the_rest_read() {
    let keys = trail();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut b = Bucket::new(&refs);
    b.fail = Some(format!("org/AWSLogs/o-abc123/{A}/CloudTrail/"));
    let p = plan_listing(
        &S3Url::parse("s3://trail/org").unwrap(),
        &LayoutFilter::default(),
        &mut b,
    );
    assert_eq!(p.errors.len(), 1);
    assert_eq!(p.errors[0].1, "AccessDenied");
    assert_eq!(p.objects.len(), 6, "account B still read");
}

#[test]
fn days_cover_the_range_and_long_ranges_list_whole() {
    let d = days_between(
        Some(ms("2026-02-27T23:00:00Z")),
        Some(ms("2026-03-01T01:00:00Z")),
    )
    .unwrap();
    assert_eq!(d, [(2026, 2, 27), (2026, 2, 28), (2026, 3, 1)]);
    assert_eq!(days_between(None, Some(0)), None);
    assert_eq!(
        days_between(Some(0), Some(ms("2026-01-01T00:00:00Z"))),
        None
    );
    // until before since: the one day of since.
    assert_eq!(
        days_between(Some(ms("2026-01-02T00:00:00Z")), Some(0))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_listing_reaches_past_until_for_late_deliveries() {
    // A call at 23:50 is delivered in the next day's folder.
    let d = days_between(
        Some(ms("2026-11-28T10:00:00Z")),
        Some(ms("2026-11-28T23:30:00Z")),
    )
    .unwrap();
    assert_eq!(d, [(2026, 11, 28), (2026, 11, 29)]);
}

#[test]
fn a_prefix_without_the_layout_is_listed_whole_without_digests() {
    let mut b = Bucket::new(&[
        "exports/2026/a.json.gz",
        "exports/2026/b.json",
        "exports/2026/notes.txt",
        "exports/CloudTrail-Digest/d.json.gz",
        "exports/x/CloudTrail-Digest/2026/d.json.gz",
        "other/c.json.gz",
    ]);
    let p = plan_listing(
        &S3Url::parse("s3://trail/exports").unwrap(),
        &LayoutFilter::default(),
        &mut b,
    );
    assert!(!p.layout);
    let keys: Vec<&str> = p.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["exports/2026/a.json.gz", "exports/2026/b.json"]);
    assert_eq!(b.object_calls, ["exports/"]);
}

#[test]
fn a_bucket_that_cannot_be_listed_is_one_error() {
    let mut b = Bucket::new(&["a.json.gz"]);
    b.fail = Some(String::new());
    let p = plan_listing(
        &S3Url::parse("s3://trail").unwrap(),
        &LayoutFilter::default(),
        &mut b,
    );
    assert_eq!(p.errors.len(), 1);
    assert!(
        b.object_calls.is_empty(),
        "no second listing after the error"
    );
}

#[test]
fn a_url_naming_one_object_reads_it() {
    let keys = trail();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let key = format!("org/AWSLogs/o-abc123/{A}/CloudTrail/us-east-1/2026/11/28/{A}_CloudTrail_us-east-1_x.json.gz");
    let mut b = Bucket::new(&refs);
    let p = plan_listing(
        &S3Url::parse(&format!("s3://trail/{key}")).unwrap(),
        &LayoutFilter::default(),
        &mut b,
    );
    assert_eq!(p.objects.len(), 1);
    assert_eq!(p.objects[0].key, key);
}

#[test]
fn the_layout_walk_says_it_found_the_layout() {
    let keys = trail();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut b = Bucket::new(&refs);
    let p = plan_listing(
        &S3Url::parse("s3://trail").unwrap(),
        &LayoutFilter::default(),
        &mut b,
    );
    assert!(p.layout);
    assert_eq!(p.objects.len(), 12);
}
