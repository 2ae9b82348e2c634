"""Creates an IAM user with an access key in a moto server; prints them as JSON.

Usage: make_key.py ENDPOINT USER
"""

import json
import sys

import boto3

iam = boto3.client("iam", region_name="us-east-1", endpoint_url=sys.argv[1],
                   aws_access_key_id="testing", aws_secret_access_key="testing")
iam.create_user(UserName=sys.argv[2])
k = iam.create_access_key(UserName=sys.argv[2])["AccessKey"]
print(json.dumps({"key": k["AccessKeyId"], "secret": k["SecretAccessKey"]}))
