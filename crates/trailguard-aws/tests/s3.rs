//! `S3Objects` against S3 in moto (server mode, 127.0.0.1): a CloudTrail object read
//! back byte for byte (gzipped, as CloudTrail writes it), listing page after page, a
//! missing key or bucket named in the error, an oversized object refused.

#[path = "../../trailguard/tests/moto_support/mod.rs"]
mod moto_support;

mod common;

use std::io::{Read, Write};

use aws_sdk_s3::primitives::ByteStream;
use moto_support::Moto;
use trailguard_aws::{AwsError, S3Objects};

const BUCKET: &str = "org-trail";
const PREFIX: &str = "o-abc123/AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/15/";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// A bucket with `n` gzipped log objects under [`PREFIX`] and one elsewhere.
fn bucket(moto: &Moto, n: usize) -> Vec<(String, Vec<u8>)> {
    let c = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&common::sdk_config(&moto.endpoint))
            .force_path_style(true)
            .build(),
    );
    let rt = common::runtime();
    rt.block_on(c.create_bucket().bucket(BUCKET).send())
        .unwrap();
    let mut objects = Vec::new();
    for i in 0..n {
        let key = format!("{PREFIX}111122223333_CloudTrail_us-east-1_20260115T00{i:02}Z_x.json.gz");
        let body = gzip(format!(r#"{{"Records":[{{"eventID":"{i}"}}]}}"#).as_bytes());
        rt.block_on(
            c.put_object()
                .bucket(BUCKET)
                .key(&key)
                .content_type("application/x-gzip")
                .content_encoding("gzip")
                .body(ByteStream::from(body.clone()))
                .send(),
        )
        .unwrap();
        objects.push((key, body));
    }
    rt.block_on(
        c.put_object()
            .bucket(BUCKET)
            .key("o-abc123/AWSLogs/111122223333/CloudTrail-Digest/x.json.gz")
            .body(ByteStream::from_static(b"digest"))
            .send(),
    )
    .unwrap();
    objects
}

fn objects(moto: &Moto) -> S3Objects {
    S3Objects::connect(&common::options(&moto.endpoint)).unwrap()
}

#[test]
fn a_gzipped_log_comes_back_as_stored() {
    let Some(moto) = Moto::start(&[]) else { return };
    let stored = bucket(&moto, 1);
    let (key, body) = &stored[0];
    let got = objects(&moto).fetch(BUCKET, key).unwrap();
    assert_eq!(&got, body, "the bytes as stored, still gzipped");
    let mut json = String::new();
    flate2::read::GzDecoder::new(&got[..])
        .read_to_string(&mut json)
        .unwrap();
    assert_eq!(json, r#"{"Records":[{"eventID":"0"}]}"#);
}

#[test]
fn listing_goes_through_every_page() {
    let Some(moto) = Moto::start(&[]) else { return };
    let stored = bucket(&moto, 7);
    let listed = objects(&moto)
        .with_page_size(3)
        .list(BUCKET, PREFIX)
        .unwrap();
    let expected: Vec<(String, u64)> = stored
        .iter()
        .map(|(k, b)| (k.clone(), b.len() as u64))
        .collect();
    assert_eq!(
        listed, expected,
        "7 keys over 3 pages, digest folder left out"
    );
    assert!(objects(&moto).list(BUCKET, "nothing/").unwrap().is_empty());
}

#[test]
fn missing_keys_and_buckets_are_named() {
    let Some(moto) = Moto::start(&[]) else { return };
    bucket(&moto, 1);
    let s3 = objects(&moto);
    let e = s3.fetch(BUCKET, "AWSLogs/gone.json.gz").unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("s3://org-trail/AWSLogs/gone.json.gz") && msg.contains("NoSuchKey"),
        "{msg}"
    );
    let e = s3.fetch("no-such-bucket", "k").unwrap_err();
    assert!(
        e.is_not_found() && e.to_string().contains("s3://no-such-bucket/k"),
        "{e}"
    );
    let e = s3.list("no-such-bucket", "AWSLogs/").unwrap_err();
    assert!(
        e.is_not_found() && e.to_string().contains("s3://no-such-bucket/AWSLogs/"),
        "{e}"
    );
}

#[test]
fn an_object_over_the_limit_is_refused() {
    let Some(moto) = Moto::start(&[]) else { return };
    let stored = bucket(&moto, 1);
    let (key, body) = &stored[0];
    let size = body.len() as u64;
    let s3 = objects(&moto).with_max_bytes(size - 1);
    match s3.fetch(BUCKET, key) {
        Err(AwsError::TooLarge {
            what,
            size: s,
            limit,
        }) => {
            assert_eq!(what, format!("s3://{BUCKET}/{key}"));
            assert_eq!((s, limit), (size, size - 1));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let e = s3.fetch_limited(BUCKET, key, 10).unwrap_err().to_string();
    assert!(
        e.contains("over the limit of 10 bytes") && e.contains(key.as_str()),
        "{e}"
    );
    // At the limit exactly, it is read.
    assert_eq!(
        &objects(&moto)
            .with_max_bytes(size)
            .fetch(BUCKET, key)
            .unwrap(),
        body
    );
}

#[test]
fn folders_are_the_common_prefixes_page_after_page() {
    let Some(moto) = Moto::start(&[]) else { return };
    bucket(&moto, 2);
    let s3 = objects(&moto).with_page_size(1);
    let account = "o-abc123/AWSLogs/111122223333/";
    assert_eq!(
        s3.folders(BUCKET, account).unwrap(),
        [
            format!("{account}CloudTrail-Digest/"),
            format!("{account}CloudTrail/")
        ]
    );
    assert_eq!(s3.folders(BUCKET, "").unwrap(), ["o-abc123/"]);
    let e = s3.folders("no-such-bucket", "AWSLogs/").unwrap_err();
    assert!(
        e.to_string().contains("s3://no-such-bucket/AWSLogs/"),
        "{e}"
    );
}

#[test]
fn the_layout_is_walked_through_the_lister() {
    use trailguard_io::s3_layout::{plan_listing, LayoutFilter, S3Url};
    let Some(moto) = Moto::start(&[]) else { return };
    let stored = bucket(&moto, 3);
    let s3 = objects(&moto);
    let planned = plan_listing(
        &S3Url::parse("s3://org-trail").unwrap(),
        &LayoutFilter {
            regions: vec!["us-east-1".into()],
            ..LayoutFilter::default()
        },
        &mut s3.lister(BUCKET),
    );
    assert!(planned.errors.is_empty(), "{:?}", planned.errors);
    let keys: Vec<&str> = planned.objects.iter().map(|o| o.key.as_str()).collect();
    let expected: Vec<&str> = stored.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, expected, "the digest is not read");
    let failed = plan_listing(
        &S3Url::parse("s3://no-such-bucket").unwrap(),
        &LayoutFilter::default(),
        &mut s3.lister("no-such-bucket"),
    );
    assert_eq!(failed.errors.len(), 1);
    assert!(
        failed.errors[0].1.contains("NoSuchBucket"),
        "{:?}",
        failed.errors
    );
}
