//! Invocation payloads shaped as AWS sends them (every field of the documented
//! envelopes, not only those trailguard reads), built around given buckets, keys and
//! events. Shared by the unit tests (`src/envelope/tests.rs`) and the Runtime API
//! test. CloudTrail content itself comes from the repository's examples and the
//! shared corpora, read at test time.

#![allow(dead_code)] // each test uses its own part

use serde_json::{json, Value};

pub const ACCOUNT: &str = "418295730164";
pub const REGION: &str = "us-east-1";

/// An S3 `ObjectCreated:Put` notification record (event version 2.1). `key` is given
/// as S3 writes it: form-URL-encoded.
pub fn s3_record(bucket: &str, encoded_key: &str, size: u64) -> Value {
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "2025-09-17T23:23:04.512Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AROAWCZC6J72CLOUDTRL:regional-delivery"},
        "requestParameters": {"sourceIPAddress": "192.0.2.44"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "trailguard-new-logs",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKEXAMPLE"},
                "arn": format!("arn:aws:s3:::{bucket}")
            },
            "object": {
                "key": encoded_key,
                "size": size,
                "eTag": "0f343b0931126a20f133d67c2b018a3b",
                "sequencer": "0068CB42B87D3E1F2A"
            }
        }
    })
}

/// An S3 notification (one or more records), as a direct invocation or an SQS body.
pub fn s3_event(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

/// The message S3 sends first to a new notification destination.
pub fn s3_test_event(bucket: &str) -> Value {
    json!({
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2025-09-17T23:00:01.123Z",
        "Bucket": bucket,
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"
    })
}

/// CloudTrail's own SNS notice of new log files.
pub fn cloudtrail_notice(bucket: &str, keys: &[&str]) -> Value {
    json!({ "s3Bucket": bucket, "s3ObjectKey": keys })
}

/// An SNS notification as SNS delivers it to an SQS queue (raw delivery off).
pub fn sns_envelope(message: &Value, id: &str) -> Value {
    json!({
        "Type": "Notification",
        "MessageId": id,
        "TopicArn": format!("arn:aws:sns:{REGION}:{ACCOUNT}:org-trail-notifications"),
        "Subject": "Amazon S3 Notification",
        "Message": message.to_string(),
        "Timestamp": "2025-09-17T23:23:05.120Z",
        "SignatureVersion": "1",
        "Signature": "FMvG7Klr6k0Tn3yHfqK8FZqnIEcTnFbEXAMPLESIGNATUREbase64==",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
        "UnsubscribeURL": format!("https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:{REGION}:{ACCOUNT}:org-trail-notifications:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55")
    })
}

/// One SQS message record of a Lambda SQS event; `body` is any JSON text.
pub fn sqs_message(id: &str, body: &str) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a{id}"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1758151385120",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1758151385131"
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:trailguard-objects"),
        "awsRegion": REGION
    })
}

pub fn sqs_event(messages: Vec<Value>) -> Value {
    json!({ "Records": messages })
}

/// SNS records delivered to the function directly.
pub fn sns_direct(message: &Value, id: &str) -> Value {
    let envelope = sns_envelope(message, id);
    json!({"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": format!("arn:aws:sns:{REGION}:{ACCOUNT}:org-trail-notifications:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"),
        "Sns": {
            "Type": envelope["Type"], "MessageId": envelope["MessageId"],
            "TopicArn": envelope["TopicArn"], "Subject": envelope["Subject"],
            "Message": envelope["Message"], "Timestamp": envelope["Timestamp"],
            "SignatureVersion": "1", "Signature": envelope["Signature"],
            "SigningCertUrl": envelope["SigningCertURL"],
            "UnsubscribeUrl": envelope["UnsubscribeURL"],
            "MessageAttributes": {}
        }
    }]})
}

/// The EventBridge event CloudTrail emits for a record (`AWS API Call via
/// CloudTrail`, `AWS Console Sign In via CloudTrail`...).
pub fn eventbridge_of(record: &Value) -> Value {
    let detail_type = match record["eventType"].as_str().unwrap_or("AwsApiCall") {
        "AwsConsoleSignIn" => "AWS Console Sign In via CloudTrail",
        "AwsServiceEvent" => "AWS Service Event via CloudTrail",
        "AwsConsoleAction" => "AWS Console Action via CloudTrail",
        _ => "AWS API Call via CloudTrail",
    };
    let service = record["eventSource"]
        .as_str()
        .unwrap_or("")
        .split('.')
        .next()
        .unwrap_or("");
    json!({
        "version": "0",
        "id": format!("eb-{}", record["eventID"].as_str().unwrap_or("x")),
        "detail-type": detail_type,
        "source": format!("aws.{service}"),
        "account": record["recipientAccountId"].as_str().unwrap_or(ACCOUNT),
        "time": record["eventTime"],
        "region": record["awsRegion"],
        "resources": [],
        "detail": record
    })
}
