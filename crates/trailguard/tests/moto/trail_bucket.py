"""Builds what a deployed trailguard reads in a moto server: a trail bucket whose
new objects are announced on an SQS queue (S3 event notifications, as the template
configures them), and a Secrets Manager secret. Then uploads the given files and
collects every message S3 put on the queue (the `s3:TestEvent` that S3 sends when the
notification is configured included), as the Lambda's SQS event source would.

Usage: trail_bucket.py ENDPOINT BUCKET SECRET_VALUE [--leave] KEY=FILE [KEY=FILE ...]

--leave: leave the messages on the queue (for a reader under test) and print none.

Prints JSON: {"queue_url", "queue_arn", "secret_arn",
              "messages": [{"messageId", "receiptHandle", "body"}]}.
The secret's value comes in on the command line (a test's local webhook URL) and is
never printed.
"""

import json
import sys
import time

import boto3

endpoint, bucket, secret_value = sys.argv[1], sys.argv[2], sys.argv[3]
leave = "--leave" in sys.argv[4:]
uploads = [a.split("=", 1) for a in sys.argv[4:] if a != "--leave"]
kw = dict(region_name="us-east-1", endpoint_url=endpoint,
          aws_access_key_id="testing", aws_secret_access_key="testing")
s3, sqs, sm = boto3.client("s3", **kw), boto3.client("sqs", **kw), boto3.client("secretsmanager", **kw)

s3.create_bucket(Bucket=bucket)
queue_url = sqs.create_queue(QueueName=f"{bucket}-notices")["QueueUrl"]
queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
    "Attributes"]["QueueArn"]
s3.put_bucket_notification_configuration(
    Bucket=bucket,
    NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]},
)
secret_arn = sm.create_secret(Name="trailguard/webhook", SecretString=secret_value)["ARN"]
for key, path in uploads:
    with open(path, "rb") as f:
        s3.put_object(Bucket=bucket, Key=key, Body=f.read())

messages = []
deadline = time.time() + 20
while not leave and len(messages) < len(uploads) + 1 and time.time() < deadline:
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    for m in got.get("Messages", []):
        messages.append({"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                         "body": m["Body"]})
print(json.dumps({"queue_url": queue_url, "queue_arn": queue_arn,
                  "secret_arn": secret_arn, "messages": messages}))
if leave:
    # S3 delivers asynchronously in moto too: wait until every notice is queued.
    while time.time() < deadline:
        attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
        if int(attrs["Attributes"]["ApproximateNumberOfMessages"]) >= len(uploads) + 1:
            break
        time.sleep(0.1)
