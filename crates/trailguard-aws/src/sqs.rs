//! [`SqsQueue`]: the queue a trail bucket's S3 notifications land on, read by
//! `trailguard watch sqs://...` as the Lambda's SQS event source reads it.
//!
//! A message is deleted only when the caller says its objects were processed; any
//! other message becomes visible again when its visibility timeout ends, and the
//! queue's redrive policy (`maxReceiveCount`, a dead-letter queue) is what stops one
//! that can never be processed from coming back forever.

use aws_config::Region;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use aws_sdk_sqs::Client;

use crate::error::{classify, AwsError};
use crate::AwsOptions;

/// A queue URL: `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME` (the region is taken
/// from it), or any `http(s)://HOST/ACCOUNT/NAME` (an emulator, a VPC endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrl {
    pub url: String,
    /// The region in the host name, when it has one.
    pub region: Option<String>,
}

/// Why a queue URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{url}: {reason}")]
pub struct QueueUrlError {
    pub url: String,
    pub reason: &'static str,
}

impl QueueUrl {
    /// `sqs://HOST/ACCOUNT/NAME` (HTTPS), or the queue's own `https://` URL.
    pub fn parse(source: &str) -> Result<QueueUrl, QueueUrlError> {
        let bad = |reason| QueueUrlError {
            url: source.to_owned(),
            reason,
        };
        let (scheme, rest) = if let Some(r) = source.strip_prefix("sqs://") {
            ("https", r)
        } else if let Some(r) = source.strip_prefix("https://") {
            ("https", r)
        } else if let Some(r) = source.strip_prefix("http://") {
            ("http", r)
        } else {
            return Err(bad("not a queue URL (sqs://HOST/ACCOUNT/NAME or https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"));
        };
        let rest = rest.trim_end_matches('/');
        let parts: Vec<&str> = rest.split('/').collect();
        let [host, account, name] = parts[..] else {
            return Err(bad("expected HOST/ACCOUNT/NAME after the scheme"));
        };
        if host.is_empty() || host.contains('@') {
            return Err(bad("no host, or a user or password in the URL"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the account is not 12 digits"));
        }
        if name.is_empty()
            || name.len() > 80
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Err(bad(
                "not a queue name (1 to 80 letters, digits, - and _; .fifo at the end)",
            ));
        }
        let region = host
            .strip_prefix("sqs.")
            .and_then(|h| h.split_once('.'))
            .map(|(r, _)| r.to_owned())
            .filter(|r| r.contains('-'));
        Ok(QueueUrl {
            url: format!("{scheme}://{host}/{account}/{name}"),
            region,
        })
    }
}

/// One message received.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    /// Needed to delete it; valid until the message becomes visible again.
    pub receipt: String,
    pub body: String,
    /// How many times SQS has handed it out, this time included.
    pub receive_count: u32,
}

pub struct SqsQueue {
    runtime: crate::SharedRuntime,
    client: Client,
    url: String,
}

impl std::fmt::Debug for SqsQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsQueue")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl SqsQueue {
    /// Makes the client (in the queue's region, when its URL names one); calls nothing.
    pub fn connect(options: &AwsOptions, queue: &QueueUrl) -> Result<SqsQueue, AwsError> {
        let runtime = crate::runtime()?;
        let mut options = options.clone();
        if options.region.is_none() {
            options.region.clone_from(&queue.region);
        }
        let config = crate::block_on(&runtime, crate::load_config(&options));
        let mut conf = aws_sdk_sqs::config::Builder::from(&config);
        if let Some(r) = &options.region {
            conf = conf.region(Region::new(r.clone()));
        }
        Ok(SqsQueue {
            runtime,
            client: Client::from_conf(conf.build()),
            url: queue.url.clone(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Up to `max` messages (1 to 10), waiting up to `wait_s` seconds (long polling,
    /// 0 to 20) for the first; each is hidden from other readers for `visibility_s`
    /// seconds (the queue's own setting when `None`).
    pub fn receive(
        &self,
        max: i32,
        wait_s: i32,
        visibility_s: Option<i32>,
    ) -> Result<Vec<Message>, AwsError> {
        let req = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait_s.clamp(0, 20))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .set_visibility_timeout(visibility_s);
        let out = crate::block_on(&self.runtime, req.send())
            .map_err(|e| classify(e, "sqs:ReceiveMessage").about(&self.url))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let receive_count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                Some(Message {
                    id: m.message_id?,
                    receipt: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                    receive_count,
                })
            })
            .collect())
    }

    /// Deletes `messages` (ten per request); returns the ids SQS refused, with why.
    pub fn delete(&self, messages: &[&Message]) -> Result<Vec<(String, String)>, AwsError> {
        let mut refused = Vec::new();
        for chunk in messages.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&m.receipt)
                        .build()
                        .map_err(|e| AwsError::Setup(format!("sqs:DeleteMessageBatch: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let req = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries));
            let out = crate::block_on(&self.runtime, req.send())
                .map_err(|e| classify(e, "sqs:DeleteMessageBatch").about(&self.url))?;
            for f in out.failed() {
                let id = f
                    .id()
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| chunk.get(i))
                    .map_or_else(|| f.id().to_owned(), |m| m.id.clone());
                refused.push((id, format!("{}: {}", f.code(), f.message().unwrap_or(""))));
            }
        }
        Ok(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls() {
        let q = QueueUrl::parse("sqs://sqs.eu-west-1.amazonaws.com/123456789012/trail-notices")
            .unwrap();
        assert_eq!(
            q.url,
            "https://sqs.eu-west-1.amazonaws.com/123456789012/trail-notices"
        );
        assert_eq!(q.region.as_deref(), Some("eu-west-1"));
        let q = QueueUrl::parse("http://127.0.0.1:5000/123456789012/q.fifo/").unwrap();
        assert_eq!(
            (q.url.as_str(), q.region),
            ("http://127.0.0.1:5000/123456789012/q.fifo", None)
        );
        for (bad, why) in [
            ("s3://bucket/key", "not a queue URL"),
            (
                "sqs://sqs.us-east-1.amazonaws.com/trail-notices",
                "expected HOST/ACCOUNT/NAME",
            ),
            ("sqs://sqs.us-east-1.amazonaws.com/12345/q", "12 digits"),
            (
                "sqs://sqs.us-east-1.amazonaws.com/123456789012/a b",
                "not a queue name",
            ),
            (
                "https://me:pw@sqs.us-east-1.amazonaws.com/123456789012/q",
                "user or password",
            ),
        ] {
            let e = QueueUrl::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(bad) && e.contains(why), "{bad}: {e}");
        }
    }
}
