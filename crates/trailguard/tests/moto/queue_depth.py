"""Prints the messages of a queue in moto: visible and in flight, as JSON.

Usage: queue_depth.py ENDPOINT QUEUE_URL
"""

import json
import sys

import boto3

sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=sys.argv[1],
                   aws_access_key_id="testing", aws_secret_access_key="testing")
a = sqs.get_queue_attributes(QueueUrl=sys.argv[2], AttributeNames=[
    "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
print(json.dumps({"visible": int(a["ApproximateNumberOfMessages"]),
                  "in_flight": int(a["ApproximateNumberOfMessagesNotVisible"])}))
