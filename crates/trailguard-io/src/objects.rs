//! Objects in a bucket (S3 or a stand-in): fetching one, and telling a CloudTrail log
//! object from the digests, Insights files and other things trails write beside them.
//!
//! [`ObjectSource`] is the one seam between what reads CloudTrail objects (the Lambda
//! behind S3 notifications; `detect s3://` later) and what fetches them. The real S3
//! client lives in `trailguard-aws` (AWS SDK); [`LocalDirSource`] serves a folder laid
//! out as `ROOT/BUCKET/KEY` so that everything above the fetch is tested without
//! AWS and without pretending to be S3.

use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;

/// The future an [`ObjectSource`] returns: the whole object, as stored (gzip or not).
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, FetchError>> + Send + 'a>>;

/// Where objects come from.
///
/// Whole objects rather than readers: a CloudTrail log object is one JSON document
/// (`{"Records":[...]}`) that is parsed whole anyway, and the caller bounds its size
/// (`max_bytes`) before memory is spent on it.
pub trait ObjectSource: Send + Sync {
    /// A short name for messages (`s3`, `local:/path`). Never a credential.
    fn name(&self) -> &str;

    /// The object's bytes as stored. An object larger than `max_bytes` is refused with
    /// [`FetchError::TooLarge`] without reading it whole.
    fn fetch<'a>(&'a self, bucket: &'a str, key: &'a str, max_bytes: u64) -> FetchFuture<'a>;
}

/// Why an object could not be fetched. Names the object, never a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    #[error("s3://{bucket}/{key}: no such object")]
    NotFound { bucket: String, key: String },
    #[error("s3://{bucket}/{key}: access denied")]
    AccessDenied { bucket: String, key: String },
    #[error("s3://{bucket}/{key}: {size} bytes, over the limit of {limit}")]
    TooLarge {
        bucket: String,
        key: String,
        size: u64,
        limit: u64,
    },
    /// A bucket or key that cannot name an object here (`..`, an absolute path).
    #[error("s3://{bucket}/{key}: {reason}")]
    BadName {
        bucket: String,
        key: String,
        reason: &'static str,
    },
    /// Anything else (I/O, network, throttling): trying again later may work.
    #[error("s3://{bucket}/{key}: {detail}")]
    Other {
        bucket: String,
        key: String,
        detail: String,
    },
}

/// Objects under a local folder: `ROOT/BUCKET/KEY`. For tests and local runs of the
/// Lambda (`TRAILGUARD_LOCAL_OBJECTS_DIR`); it is not S3 and does not pretend to be.
#[derive(Debug, Clone)]
pub struct LocalDirSource {
    root: PathBuf,
    name: String,
}

impl LocalDirSource {
    pub fn new(root: impl Into<PathBuf>) -> LocalDirSource {
        let root = root.into();
        let name = format!("local:{}", root.display());
        LocalDirSource { root, name }
    }

    /// The file for `bucket`/`key`, refusing any name that would leave the root: a
    /// key comes from a notification, which is input like any other.
    fn path_of(&self, bucket: &str, key: &str) -> Result<PathBuf, &'static str> {
        if bucket.is_empty() || key.is_empty() {
            return Err("empty bucket or key");
        }
        if bucket.contains(['/', '\\']) {
            return Err("bucket name holds a path separator");
        }
        if key.contains('\0') || bucket.contains('\0') {
            return Err("name holds a NUL byte");
        }
        let mut path = self.root.join(bucket);
        for c in Path::new(key).components() {
            match c {
                Component::Normal(part) => path.push(part),
                Component::CurDir => {}
                _ => return Err("key leaves the bucket (`..` or an absolute path)"),
            }
        }
        if Path::new(bucket)
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err("bucket is not a plain name");
        }
        Ok(path)
    }
}

impl ObjectSource for LocalDirSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn fetch<'a>(&'a self, bucket: &'a str, key: &'a str, max_bytes: u64) -> FetchFuture<'a> {
        Box::pin(async move {
            let names = || (bucket.to_owned(), key.to_owned());
            let path = self.path_of(bucket, key).map_err(|reason| {
                let (bucket, key) = names();
                FetchError::BadName {
                    bucket,
                    key,
                    reason,
                }
            })?;
            let io_error = |e: std::io::Error| {
                let (bucket, key) = names();
                match e.kind() {
                    std::io::ErrorKind::NotFound => FetchError::NotFound { bucket, key },
                    std::io::ErrorKind::PermissionDenied => {
                        FetchError::AccessDenied { bucket, key }
                    }
                    _ => FetchError::Other {
                        bucket,
                        key,
                        detail: e.to_string(),
                    },
                }
            };
            let meta = std::fs::metadata(&path).map_err(io_error)?;
            if !meta.is_file() {
                let (bucket, key) = names();
                return Err(FetchError::NotFound { bucket, key });
            }
            if meta.len() > max_bytes {
                let (bucket, key) = names();
                return Err(FetchError::TooLarge {
                    bucket,
                    key,
                    size: meta.len(),
                    limit: max_bytes,
                });
            }
            std::fs::read(&path).map_err(io_error)
        })
    }
}

/// What a key in a trail bucket holds, judged from its name (the layout CloudTrail
/// writes: `[PREFIX/]AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/FILE.json.gz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A log file of events: read it.
    Log,
    /// `CloudTrail-Digest/`: hashes for integrity validation, no events.
    Digest,
    /// `CloudTrail-Insight/`: Insights events (unusual call rates), which no rule
    /// reads; skipped rather than paid for.
    Insight,
    /// Anything else: a folder marker, `ConfigWritabilityCheckFile`, another
    /// service's logs in the same bucket.
    Other,
}

impl KeyKind {
    pub fn of(key: &str) -> KeyKind {
        let mut parts = key.split('/');
        let file = parts.next_back().unwrap_or("");
        let dirs: Vec<&str> = parts.collect();
        let has = |name: &str| dirs.contains(&name);
        let log_file = file.ends_with(".json.gz") || file.ends_with(".json");
        if has("CloudTrail-Digest") {
            KeyKind::Digest
        } else if has("CloudTrail-Insight") {
            KeyKind::Insight
        } else if has("CloudTrail") && log_file {
            KeyKind::Log
        } else {
            KeyKind::Other
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Log => "CloudTrail log",
            KeyKind::Digest => "CloudTrail digest",
            KeyKind::Insight => "CloudTrail Insights",
            KeyKind::Other => "not a CloudTrail log",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_kinds_follow_the_trail_layout() {
        let log = "AWSLogs/111122223333/CloudTrail/us-east-1/2025/09/18/111122223333_CloudTrail_us-east-1_20250918T0005Z_abc.json.gz";
        assert_eq!(KeyKind::of(log), KeyKind::Log);
        assert_eq!(KeyKind::of(&format!("prefix/{log}")), KeyKind::Log);
        assert_eq!(
            KeyKind::of("AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/2025/01/01/x.json.gz"),
            KeyKind::Log
        );
        assert_eq!(
            KeyKind::of("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2025/09/18/d.json.gz"),
            KeyKind::Digest
        );
        assert_eq!(
            KeyKind::of("AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2025/09/18/i.json.gz"),
            KeyKind::Insight
        );
        for other in [
            "AWSLogs/111122223333/CloudTrail/",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2025/09/18/",
            "AWSLogs/111122223333/ConfigWritabilityCheckFile",
            "AWSLogs/111122223333/elasticloadbalancing/us-east-1/x.log.gz",
            "CloudTrail.json.gz",
            "",
        ] {
            assert_eq!(KeyKind::of(other), KeyKind::Other, "{other}");
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn local_objects_stay_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/AWSLogs")).unwrap();
        std::fs::write(dir.path().join("b/AWSLogs/x.json"), b"{}").unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"no").unwrap();
        let src = LocalDirSource::new(dir.path());
        assert_eq!(
            block_on(src.fetch("b", "AWSLogs/x.json", 10)).unwrap(),
            b"{}"
        );
        let too_large = block_on(src.fetch("b", "AWSLogs/x.json", 1)).unwrap_err();
        assert!(
            matches!(too_large, FetchError::TooLarge { size: 2, .. }),
            "{too_large}"
        );
        let missing = block_on(src.fetch("b", "AWSLogs/y.json", 10)).unwrap_err();
        assert_eq!(missing.to_string(), "s3://b/AWSLogs/y.json: no such object");
        for (bucket, key) in [
            ("b", "../secret.txt"),
            ("b", "AWSLogs/../../secret.txt"),
            ("b", "/etc/passwd"),
            ("..", "secret.txt"),
            ("b/..", "secret.txt"),
            ("", "x"),
            ("b", "a\0b"),
        ] {
            let e = block_on(src.fetch(bucket, key, 10)).unwrap_err();
            assert!(
                matches!(e, FetchError::BadName { .. }),
                "{bucket} {key}: {e}"
            );
        }
        // A folder is not an object.
        assert!(matches!(
            block_on(src.fetch("b", "AWSLogs", 10)).unwrap_err(),
            FetchError::NotFound { .. }
        ));
    }
}
