use serde_json::json;

use super::*;

#[path = "../../tests/samples/mod.rs"]
mod samples;

use samples::*;

const LOG_KEY: &str = "AWSLogs/418295730164/CloudTrail/us-east-1/2025/09/17/418295730164_CloudTrail_us-east-1_20250917T2318Z_T0yfKKhiCnOjf2Cd.json.gz";

fn objects(work: &Work) -> Vec<(String, String)> {
    match work {
        Work::Objects(o) => o
            .iter()
            .map(|o| (o.bucket.clone(), o.key.clone()))
            .collect(),
        other => panic!("not objects: {other:?}"),
    }
}

#[test]
fn keys_are_url_decoded() {
    assert_eq!(
        decode_key("a+b%2Bc%20d.json.gz").unwrap(),
        "a b+c d.json.gz"
    );
    assert_eq!(decode_key("caf%C3%A9").unwrap(), "café");
    assert_eq!(decode_key("plain/key.json").unwrap(), "plain/key.json");
    assert!(decode_key("bad%2").unwrap_err().contains("byte 3"));
    assert!(decode_key("bad%zz").is_err());
    assert_eq!(decode_key("%FF").unwrap_err(), "not UTF-8 once decoded");
}

#[test]
fn a_direct_s3_notification_names_its_objects() {
    let payload = s3_event(vec![s3_record(
        "trail-bucket",
        "AWSLogs/x/CloudTrail/a+b%2Bc.json.gz",
        10,
    )]);
    let Payload::Direct(work) = parse_payload(&payload.to_string()).unwrap() else {
        panic!("not direct")
    };
    assert_eq!(
        objects(&work),
        [(
            "trail-bucket".to_owned(),
            "AWSLogs/x/CloudTrail/a b+c.json.gz".to_owned()
        )]
    );
    match work {
        Work::Objects(o) => assert_eq!(o[0].size, Some(10)),
        _ => unreachable!(),
    }
}

#[test]
fn deletions_are_nothing_to_read() {
    let mut record = s3_record("b", LOG_KEY, 10);
    record["eventName"] = json!("ObjectRemoved:Delete");
    let Payload::Direct(work) = parse_payload(&s3_event(vec![record]).to_string()).unwrap() else {
        panic!()
    };
    assert_eq!(work, Work::Nothing("S3 notification of no new object"));
}

#[test]
fn sqs_messages_are_unwrapped_one_by_one() {
    let s3 = s3_event(vec![s3_record("b", LOG_KEY, 10)]).to_string();
    let sns = sns_envelope(
        &s3_event(vec![s3_record("org", "k%3D1.json.gz", 5)]),
        "sns-1",
    )
    .to_string();
    let notice = sns_envelope(
        &cloudtrail_notice("org", &["AWSLogs/o-1/1/CloudTrail/a b.json.gz"]),
        "sns-2",
    )
    .to_string();
    let eventbridge =
        json!({"version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam", "account": "1", "time": "2025-09-17T23:13:55Z", "region": "us-east-1",
        "resources": [], "detail": {"eventName": "CreateUser"}})
        .to_string();
    let payload = sqs_event(vec![
        sqs_message("m-s3", &s3),
        sqs_message("m-test", &s3_test_event("b").to_string()),
        sqs_message("m-sns", &sns),
        sqs_message("m-notice", &notice),
        sqs_message("m-eb", &eventbridge),
        sqs_message("m-junk", "not json at all"),
        sqs_message("m-other", r#"{"hello": "world"}"#),
    ]);
    let Payload::Sqs(items) = parse_payload(&payload.to_string()).unwrap() else {
        panic!("not SQS")
    };
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        ids,
        ["m-s3", "m-test", "m-sns", "m-notice", "m-eb", "m-junk", "m-other"]
    );
    assert_eq!(objects(items[0].work.as_ref().unwrap())[0].1, LOG_KEY);
    assert_eq!(items[1].work, Ok(Work::Nothing("s3:TestEvent")));
    assert_eq!(
        objects(items[2].work.as_ref().unwrap())[0],
        ("org".to_owned(), "k=1.json.gz".to_owned())
    );
    // CloudTrail's notice is not URL-encoded.
    assert_eq!(
        objects(items[3].work.as_ref().unwrap())[0].1,
        "AWSLogs/o-1/1/CloudTrail/a b.json.gz"
    );
    assert!(matches!(items[4].work, Ok(Work::Event(_))));
    let junk = items[5].work.as_ref().unwrap_err();
    assert_eq!(junk.to_string(), "Records[5].body: not a JSON object");
    let other = items[6].work.as_ref().unwrap_err().to_string();
    assert!(
        other.starts_with("Records[6].body: not an EventBridge event"),
        "{other}"
    );
}

#[test]
fn sns_records_delivered_directly() {
    let payload = sns_direct(
        &cloudtrail_notice("org", &["AWSLogs/1/CloudTrail/x.json.gz"]),
        "sns-9",
    );
    let Payload::Sns(items) = parse_payload(&payload.to_string()).unwrap() else {
        panic!("not SNS")
    };
    assert_eq!(items[0].id, "sns-9");
    assert_eq!(objects(items[0].work.as_ref().unwrap())[0].0, "org");
}

#[test]
fn bad_payloads_say_where_and_why_without_quoting() {
    let secretish = "hooks.slack.com/services/T000/B000/XXXXsecretXXXX";
    let cases: Vec<(String, &str)> = vec![
        ("[1,2]".into(), "payload: not a JSON object"),
        ("{\"Records\": []}".into(), "payload: `Records` is empty"),
        (
            json!({"Records": [{"eventSource": "aws:kinesis"}]}).to_string(),
            "payload.Records[0]: eventSource is not aws:s3, aws:sqs or aws:sns",
        ),
        (
            json!({"Records": [{"eventSource": "aws:s3"}, {"eventSource": "aws:sqs"}]}).to_string(),
            "payload.Records[1]: records of different sources in one payload",
        ),
        (
            json!({"detail-type": "x", "source": "aws.iam", "time": secretish, "detail": {}}).to_string(),
            "payload: unexpected shape at line 1 column",
        ),
        (
            json!({"detail-type": "x", "detail": {}}).to_string(),
            "payload: unexpected shape (missing field `source`)",
        ),
        ("{\"detail-type\": \"x\", \"source\": ".into(), "payload: truncated JSON"),
        (
            json!({"Event": "s3:ObjectCreated:Put"}).to_string(),
            "payload: an `Event` other than s3:TestEvent",
        ),
        (
            json!({"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": json!({"Type": "Notification", "Message": sns_envelope(&json!({}), "x").to_string()}).to_string()}]}).to_string(),
            "",
        ),
    ];
    for (payload, want) in cases {
        match parse_payload(&payload) {
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.starts_with(want), "{payload}: {msg}");
                assert!(!msg.contains(secretish), "{msg}");
            }
            Ok(Payload::Sqs(items)) => {
                // An SNS envelope inside an SNS envelope fails that message alone.
                let e = items[0].work.as_ref().unwrap_err().to_string();
                assert_eq!(
                    e,
                    "Records[0].body.Message: an SNS envelope inside another one"
                );
            }
            Ok(p) => panic!("{payload}: accepted as {p:?}"),
        }
    }
}

#[test]
fn hostile_sizes_and_depths_are_refused() {
    let huge = format!("{{\"detail-type\": \"{}\"}}", "x".repeat(MAX_PAYLOAD_BYTES));
    assert!(parse_payload(&huge)
        .unwrap_err()
        .reason
        .contains("over the limit"));
    let deep = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    assert!(parse_payload(&deep).is_err());
    let keys: Vec<String> = (0..=MAX_OBJECTS_PER_MESSAGE)
        .map(|i| format!("AWSLogs/1/CloudTrail/{i}.json.gz"))
        .collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let e = parse_payload(&cloudtrail_notice("b", &keys).to_string()).unwrap_err();
    assert!(e.reason.contains("over the limit of 1000"), "{e}");
    let long_key = "k".repeat(MAX_KEY_BYTES + 1);
    let e = parse_payload(&s3_event(vec![s3_record("b", &long_key, 1)]).to_string()).unwrap_err();
    assert!(e.reason.contains("over 1024 bytes"), "{e}");
    let e = parse_payload(&s3_event(vec![s3_record("b", "bad%zzkey", 1)]).to_string()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "payload.Records[0].s3.object.key: bad %-escape at byte 3"
    );
}

/// What moto sends (and what a hand-made notification may look like): no
/// `userIdentity`, `requestParameters` or `responseElements`. A bucket and a key are
/// enough; a record without a key is named.
#[test]
fn s3_notifications_need_only_a_bucket_and_a_key() {
    let body = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "trail"}, "object": {"key": "AWSLogs%2Fx+y.json.gz", "size": 9}}
    }]})
    .to_string();
    let work = parse_message(&body).unwrap();
    assert_eq!(
        objects(&work),
        [("trail".to_owned(), "AWSLogs/x y.json.gz".to_owned())]
    );
    let no_key = json!({"Records": [{
        "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "trail"}, "object": {}}
    }]})
    .to_string();
    let e = parse_message(&no_key).unwrap_err().to_string();
    assert_eq!(e, "message.Records[0]: no s3.object.key");
    let huge = "x".repeat(MAX_PAYLOAD_BYTES + 1);
    assert!(parse_message(&huge)
        .unwrap_err()
        .to_string()
        .contains("over the limit"));
}
