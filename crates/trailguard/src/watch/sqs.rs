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

/// What to read, and the index in [`Received::done`] of the message it came from
/// (`None`: a message left on the queue anyway).
pub struct RemoteInput {
    /// For messages: `s3://BUCKET/KEY`, or `sqs message ID`.
    pub name: String,
    pub bytes: Vec<u8>,
    pub message: Option<usize>,
}

/// What one receive gave.
#[derive(Default)]
pub struct Received {
    pub inputs: Vec<RemoteInput>,
    /// Messages done once their inputs are read and their alerts recorded (a message
    /// with an input of which nothing could be read is kept: see [`Received::keep`]).
    pub done: Vec<SqsMessage>,
    /// Messages left on the queue (each reported on stderr).
    pub left: usize,
    /// Announced objects left out by name (digests, Insights, other files).
    pub skipped_objects: usize,
    /// Indexes in `done` kept on the queue after all.
    kept: Vec<usize>,
}

impl Received {
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty() && self.done.is_empty() && self.left == 0
    }

    /// Leaves the message of input `i` on the queue (nothing of it could be read: a
    /// truncated or corrupt object, which the dead-letter queue keeps for a person).
    pub fn keep(&mut self, i: usize) {
        let Some(m) = self.inputs[i].message else {
            return;
        };
        if let Some(message) = self.done.get(m) {
            eprintln!(
                "warning: {}: nothing could be read; message {} left on the queue (received {} times)",
                self.inputs[i].name, message.id, message.receive_count
            );
            self.kept.push(m);
        }
    }

    /// The messages to delete.
    pub fn to_delete(&self) -> Vec<SqsMessage> {
        self.done
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.kept.contains(i))
            .map(|(_, m)| m.clone())
            .collect()
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
                    out.inputs.push(RemoteInput {
                        name: format!("sqs message {}", m.id),
                        bytes: text.into_bytes(),
                        message: Some(out.done.len()),
                    });
                    out.done.push(m);
                }
                Ok(Work::Objects(objects)) => {
                    let mut all_read = true;
                    let first_input = out.inputs.len();
                    for o in objects {
                        if KeyKind::of(&o.key) != KeyKind::Log {
                            out.skipped_objects += 1;
                            continue;
                        }
                        match self.objects.fetch(&o.bucket, &o.key) {
                            Ok(bytes) => out.inputs.push(RemoteInput {
                                name: o.to_string(),
                                bytes,
                                message: Some(out.done.len()),
                            }),
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
                        // Its objects that were fetched are read all the same (their
                        // alerts are not held back); the message comes back for the rest.
                        for input in &mut out.inputs[first_input..] {
                            input.message = None;
                        }
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
