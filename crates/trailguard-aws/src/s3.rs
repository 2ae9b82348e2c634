//! [`S3Objects`]: CloudTrail objects read from S3 as bytes, for the Lambda (one object
//! per S3 notification) and the CLI's `s3://` sources.
//!
//! An object is held whole in memory (the engine's readers take a slice), so every
//! fetch has a size limit: the object's announced length is checked before its body
//! is read, and the body is counted as it arrives in case the length was not
//! announced. The bytes are returned as stored: a `.json.gz` log stays gzipped (the
//! readers recognise gzip by its content), whatever `Content-Encoding` says.
//!
//! A role without `s3:ListBucket` on the bucket (the Lambda's, which only reads the
//! objects it is told about) gets `AccessDenied`, not `NoSuchKey`, for a key that does
//! not exist: S3 will not say whether it exists. Both errors name the object.
//!
//! **Retries.** Every call goes through the SDK's standard retry mode, set explicitly
//! here: at most [`MAX_ATTEMPTS`] attempts with exponential backoff and jitter for
//! transient errors (throttling such as `SlowDown` and 503, other 5xx, timeouts,
//! connection errors and resets before the answer). A connection lost while the body
//! of an object is arriving happens after the SDK has handed the answer over, so
//! [`S3Objects::fetch_limited`] asks again itself (the same number of attempts).
//! What still fails is an error naming the `s3://` object or prefix; the CLI reports
//! it and reads the rest.
//!
//! **Listing.** [`S3Objects::folders`] is `ListObjectsV2` with `Delimiter=/` (the
//! common prefixes), [`S3Objects::list`] lists keys; both go through every page.
//! [`BucketLister`] is the two as a `trailguard_io::s3_layout::Lister`, which walks
//! the CloudTrail layout without listing the whole bucket. One `S3Objects` serves any
//! number of threads at once: every client shares the process's runtime and HTTP
//! connections.

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::Client;
use trailguard_io::s3_layout::{Lister, S3Object};

use crate::error::{classify, AwsError};
use crate::AwsOptions;

/// Attempts per call (the first and two retries): the SDK's standard mode default,
/// made explicit so that it does not change with the SDK's behaviour version.
pub const MAX_ATTEMPTS: u32 = 3;

/// CloudTrail writes a log object every 5 minutes per region and account; even busy
/// accounts stay within a few MB gzipped. 64 MB leaves room and still fits a Lambda.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 64 << 20;

pub struct S3Objects {
    runtime: crate::SharedRuntime,
    client: Client,
    max_bytes: u64,
    page_size: i32,
}

impl std::fmt::Debug for S3Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Objects")
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

/// How a connection lost while an object's body arrives is told apart (and retried).
const BODY_LOST: &str = "reading the body";

fn url(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

impl S3Objects {
    /// Makes the client; calls nothing.
    pub fn connect(options: &AwsOptions) -> Result<S3Objects, AwsError> {
        let runtime = crate::runtime()?;
        let config = crate::block_on(&runtime, crate::load_config(options));
        let conf = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(options.endpoint_url.is_some())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .build();
        Ok(S3Objects {
            runtime,
            client: Client::from_conf(conf),
            max_bytes: DEFAULT_MAX_OBJECT_BYTES,
            page_size: 1000,
        })
    }

    /// The largest object [`S3Objects::fetch`] accepts.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> S3Objects {
        self.max_bytes = max_bytes;
        self
    }

    /// Keys per `ListObjectsV2` page (1 to 1,000; S3's own maximum is 1,000).
    pub fn with_page_size(mut self, keys: i32) -> S3Objects {
        self.page_size = keys.clamp(1, 1000);
        self
    }

    /// The object's bytes, refused past the configured limit.
    pub fn fetch(&self, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
        self.fetch_limited(bucket, key, self.max_bytes)
    }

    /// The object's bytes, refused past `max_bytes` (an error naming the object, its
    /// size and the limit; nothing past the limit is read).
    pub fn fetch_limited(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, AwsError> {
        let mut attempt = 1;
        loop {
            let got = self.fetch_once(bucket, key, max_bytes);
            let body_lost = matches!(&got, Err(AwsError::Transport { message, .. }) if message.contains(BODY_LOST));
            if !body_lost || attempt >= MAX_ATTEMPTS {
                return got;
            }
            attempt += 1;
            std::thread::sleep(std::time::Duration::from_millis(100 << attempt));
        }
    }

    fn fetch_once(&self, bucket: &str, key: &str, max_bytes: u64) -> Result<Vec<u8>, AwsError> {
        crate::block_on(&self.runtime, async {
            let what = url(bucket, key);
            let out = self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| classify(e, "s3:GetObject").about(&what))?;
            let announced = out.content_length().and_then(|n| u64::try_from(n).ok());
            if let Some(size) = announced.filter(|&n| n > max_bytes) {
                return Err(AwsError::TooLarge {
                    what,
                    size,
                    limit: max_bytes,
                });
            }
            let mut body = out.body;
            let mut bytes = Vec::with_capacity(announced.unwrap_or(0) as usize);
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| AwsError::Transport {
                    call: "s3:GetObject",
                    message: format!("{what}: {BODY_LOST}: {e}"),
                })?;
                if (bytes.len() + chunk.len()) as u64 > max_bytes {
                    return Err(AwsError::TooLarge {
                        what,
                        size: (bytes.len() + chunk.len()) as u64,
                        limit: max_bytes,
                    });
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(bytes)
        })
    }

    /// Every key under `prefix` with its size in bytes, in S3's (lexical) order, page
    /// after page. Callers keep prefixes narrow (a day of one region, as the
    /// CloudTrail layout allows): the answer is held in memory.
    pub fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, u64)>, AwsError> {
        crate::block_on(&self.runtime, async {
            let what = url(bucket, prefix);
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .max_keys(self.page_size)
                .into_paginator()
                .send();
            let mut keys = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| classify(e, "s3:ListObjectsV2").about(&what))?;
                for o in page.contents() {
                    let Some(key) = o.key() else { continue };
                    let size = o.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
                    keys.push((key.to_string(), size));
                }
            }
            Ok(keys)
        })
    }

    /// The folders right under `prefix` (`ListObjectsV2` with `Delimiter=/`: the
    /// common prefixes, each ending in `/`), page after page, in S3's order.
    pub fn folders(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, AwsError> {
        crate::block_on(&self.runtime, async {
            let what = url(bucket, prefix);
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .delimiter("/")
                .max_keys(self.page_size)
                .into_paginator()
                .send();
            let mut folders = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| classify(e, "s3:ListObjectsV2").about(&what))?;
                folders.extend(
                    page.common_prefixes()
                        .iter()
                        .filter_map(|p| p.prefix().map(str::to_string)),
                );
            }
            Ok(folders)
        })
    }

    /// This client as a [`Lister`] of `bucket`.
    pub fn lister<'a>(&'a self, bucket: &str) -> BucketLister<'a> {
        BucketLister {
            s3: self,
            bucket: bucket.to_string(),
        }
    }
}

/// One bucket, listed for `trailguard_io::s3_layout::plan_listing`. Errors are the
/// [`AwsError`]'s text: the call, AWS's code, and the `s3://` URL listed.
#[derive(Debug)]
pub struct BucketLister<'a> {
    s3: &'a S3Objects,
    bucket: String,
}

impl Lister for BucketLister<'_> {
    fn folders(&mut self, prefix: &str) -> Result<Vec<String>, String> {
        self.s3
            .folders(&self.bucket, prefix)
            .map_err(|e| e.to_string())
    }

    fn objects(&mut self, prefix: &str) -> Result<Vec<S3Object>, String> {
        let keys = self
            .s3
            .list(&self.bucket, prefix)
            .map_err(|e| e.to_string())?;
        Ok(keys
            .into_iter()
            .map(|(key, size)| S3Object { key, size })
            .collect())
    }
}
