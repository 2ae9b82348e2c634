//! `watch sqs://...`: a trail bucket's S3 notifications, read from the queue they land
//! on, the objects they announce fetched from S3.
//!
//! The messages are the ones the Lambda's SQS event source would hand it, read with the
//! function's own envelope parser. A message is done (deleted, after the batch's alerts
//! are recorded) when everything it asks for was read or is nothing to read (a test
//! event, a digest); one with an object that could not be fetched, or that cannot be
//! read at all, stays on the queue: it comes back after the visibility timeout, and
//! the queue's redrive policy ends the attempts.

use std::time::Duration;

use anyhow::{Context, Result};
use trailguard_aws::{AwsOptions, QueueUrl, S3Objects, SqsMessage, SqsQueue};
use trailguard_io::objects::KeyKind;
use trailguard_lambda::envelope::{parse_message, Work};

/// Objects larger than this are refused (as the Lambda's default): a CloudTrail log
/// object is a few MB at most.
const MAX_OBJECT_BYTES: u64 = 64 << 20;

pub struct SqsSource {
    queue: SqsQueue,
    objects: S3Objects,
}

/// What one receive gave.
#[derive(Default)]
pub struct Received {
    /// What to read: (name for messages, bytes as stored).
    pub inputs: Vec<(String, Vec<u8>)>,
    /// Messages done once the inputs are read and their alerts recorded.
    pub done: Vec<SqsMessage>,
    /// Messages left on the queue (each reported on stderr).
    pub left: usize,
    /// Announced objects left out by name (digests, Insights, other files).
    pub skipped_objects: usize,
}

impl Received {
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty() && self.done.is_empty() && self.left == 0
    }
}

impl SqsSource {
    /// Connects and receives nothing yet.
    pub fn connect(source: &str, aws: &AwsOptions) -> Result<SqsSource> {
        let url = QueueUrl::parse(source)?;
        let queue = SqsQueue::connect(aws, &url).context("SQS")?;
        let mut s3_options = aws.clone();
        if s3_options.region.is_none() {
            s3_options.region.clone_from(&url.region);
        }
        let objects = S3Objects::connect(&s3_options)
            .context("S3")?
            .with_max_bytes(MAX_OBJECT_BYTES);
        Ok(SqsSource { queue, objects })
    }

    pub fn url(&self) -> &str {
        self.queue.url()
    }

    /// Up to ten messages, waiting up to `wait` (at most 20 s) for the first, and the
    /// objects they announce.
    pub fn receive(&self, wait: Duration) -> Result<Received> {
        let wait_s = wait.as_secs().min(20) as i32;
        let messages = self.queue.receive(10, wait_s, None)?;
        let mut out = Received::default();
        for m in messages {
            match parse_message(&m.body) {
                Err(e) => {
                    eprintln!(
                        "warning: {}: message {}: {e}; left on the queue (received {} times)",
                        self.queue.url(),
                        m.id,
                        m.receive_count
                    );
                    out.left += 1;
                }
                Ok(Work::Nothing(_)) => out.done.push(m),
                Ok(Work::Event(text)) => {
                    out.inputs
                        .push((format!("sqs message {}", m.id), text.into_bytes()));
                    out.done.push(m);
                }
                Ok(Work::Objects(objects)) => {
                    let mut all_read = true;
                    for o in objects {
                        if KeyKind::of(&o.key) != KeyKind::Log {
                            out.skipped_objects += 1;
                            continue;
                        }
                        match self.objects.fetch(&o.bucket, &o.key) {
                            Ok(bytes) => out.inputs.push((o.to_string(), bytes)),
                            Err(e) => {
                                eprintln!(
                                    "warning: {o}: {e}; message {} left on the queue (received {} times)",
                                    m.id, m.receive_count
                                );
                                all_read = false;
                            }
                        }
                    }
                    if all_read {
                        out.done.push(m);
                    } else {
                        out.left += 1;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Deletes the messages whose work is recorded. A refusal is reported: the message
    /// comes back and is read again (its alerts are then deduplicated by the state).
    pub fn delete(&self, done: &[SqsMessage]) {
        if done.is_empty() {
            return;
        }
        let refs: Vec<&SqsMessage> = done.iter().collect();
        match self.queue.delete(&refs) {
            Ok(refused) => {
                for (id, why) in refused {
                    eprintln!(
                        "warning: {}: message {id} could not be deleted ({why}); it will be read again",
                        self.queue.url()
                    );
                }
            }
            Err(e) => eprintln!(
                "warning: {} messages could not be deleted ({e}); they will be read again",
                done.len()
            ),
        }
    }
}
