"""Uploads a folder into an S3 bucket (moto), keys = PREFIX + the relative paths.

    python upload_tree.py ENDPOINT BUCKET DIR [PREFIX] [--threads N]

Creates the bucket if it does not exist. Files are uploaded as they are (a .json.gz
stays gzipped, with the Content-Type and Content-Encoding CloudTrail sets). Prints
the number of objects and bytes uploaded as JSON. Used by the s3:// tests (an
organization trail: PREFIX `o-xxxx/` before `AWSLogs/`) and by bench/s3.sh.
"""

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config


def main() -> None:
    args = sys.argv[1:]
    threads = 16
    if "--threads" in args:
        i = args.index("--threads")
        threads = int(args[i + 1])
        del args[i : i + 2]
    endpoint, bucket, root = args[0], args[1], args[2]
    prefix = args[3] if len(args) > 3 else ""
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(max_pool_connections=threads, retries={"mode": "standard"}),
    )
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    files = []
    for d, _, names in os.walk(root):
        for n in names:
            path = os.path.join(d, n)
            files.append((path, prefix + os.path.relpath(path, root).replace(os.sep, "/")))
    files.sort()

    def put(item):
        path, key = item
        with open(path, "rb") as f:
            body = f.read()
        extra = {}
        if key.endswith(".gz"):
            extra = {"ContentType": "application/x-gzip", "ContentEncoding": "gzip"}
        s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
        return len(body)

    with ThreadPoolExecutor(threads) as pool:
        sizes = list(pool.map(put, files))
    print(json.dumps({"objects": len(files), "bytes": sum(sizes)}))


if __name__ == "__main__":
    main()
