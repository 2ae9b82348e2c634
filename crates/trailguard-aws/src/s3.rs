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

use aws_sdk_s3::Client;

use crate::error::{classify, AwsError};
use crate::AwsOptions;

/// CloudTrail writes a log object every 5 minutes per region and account; even busy
/// accounts stay within a few MB gzipped. 64 MB leaves room and still fits a Lambda.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 64 << 20;

pub struct S3Objects {
    runtime: crate::OwnRuntime,
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
                    message: format!("{what}: reading the body: {e}"),
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
}
