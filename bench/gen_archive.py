#!/usr/bin/env python3
"""Generate a large, realistic CloudTrail archive for throughput benchmarks.

    python3 bench/gen_archive.py --out bench/data/archive --size-mb 1100   # >= 1 GB uncompressed
    python3 bench/gen_archive.py --out bench/data/issue --events 60000     # ~2,000 small files

Layout is what CloudTrail writes to S3:
    AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
        <account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<16 chars>.json.gz
each file `{"Records":[...]}` holding one ~5-minute batch of one region. A few
accounts, several regions each. Records are 500 B - 3 KB, a few larger (EC2
RunInstances responses), with a realistic event mix that includes some
CreateAccessKey and RunInstances calls by IAM users (AKIA keys) and by roles.

Deterministic for a given --seed and size. Work is split by (account, region,
day) over --workers processes. A summary (including the ground-truth counts of
the two Lambda rules) is printed and written to `<OUT>.manifest.json`, next to
the archive, not inside it. Python 3.11, standard library only.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gzip
import json
import math
import os
import random
import sys
import time
from multiprocessing import Pool
from pathlib import Path

# --------------------------------------------------------------------------
# Accounts and regions (a few multi-region accounts)
# --------------------------------------------------------------------------

ACCOUNTS = [
    ("418295730164", [("us-east-1", 10), ("eu-west-1", 4), ("us-west-2", 2)]),
    ("731064298215", [("us-east-1", 7), ("eu-central-1", 3)]),
    ("209583746102", [("us-east-1", 5), ("ap-southeast-2", 2), ("eu-west-1", 2)]),
    ("650917283344", [("us-east-1", 3), ("us-east-2", 1)]),
]
STREAMS = [(acct, region, w) for acct, regions in ACCOUNTS for region, w in regions]
START = dt.datetime(2025, 6, 2, tzinfo=dt.timezone.utc)
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
HEX = "0123456789abcdef"
# Activity by hour of day (UTC): a working day plus a steady machine floor.
DIURNAL = [3, 2, 2, 2, 2, 3, 5, 8, 11, 13, 14, 14, 13, 14, 14, 13, 12, 10, 8, 6, 5, 4, 4, 3]


def key_id(prefix: str, account: str, rng: random.Random, length: int = 20) -> str:
    """AKIA/ASIA id whose base32 body encodes `account` (bits 46..7 of the first 6 bytes)."""
    head = (1 << 47) | (int(account) << 7) | rng.getrandbits(7)
    raw = head.to_bytes(6, "big") + rng.getrandbits(32).to_bytes(4, "big")
    body = base64.b32encode(raw).decode()
    return prefix + body + "".join(rng.choice(B32) for _ in range(length - 20))


def dumps(o) -> str:
    return json.dumps(o, separators=(",", ":"))


# --------------------------------------------------------------------------
# Per-account principals (same for every task of one account)
# --------------------------------------------------------------------------

class Account:
    def __init__(self, acct: str, seed: int):
        rng = random.Random(f"{seed}/{acct}")
        self.id = acct
        self.rng = rng
        uid = lambda p: key_id(p, acct, rng, 21)  # noqa: E731
        self.users = []  # (name, principalId, long-term key, kind)
        for name, kind in (("admin", "cli"), ("ci-deployer", "ci"), ("terraform", "ci"),
                           ("backup-agent", "ci"), ("datadog-integration", "ci"),
                           ("alice", "console"), ("bob", "console"), ("carol", "console"),
                           ("dmitri", "console"), ("eve.ops", "cli")):
            self.users.append((name, uid("AIDA"), key_id("AKIA", acct, rng), kind))
        self.roles = []  # (name, roleId, path, session names)
        for name, sess in (("app-server", "i-0"), ("orders-api-task", "ecs-"),
                           ("lambda-ingest", "lambda-ingest"), ("lambda-thumbnailer", "lambda-thumbnailer"),
                           ("ci-deploy", "gha-"), ("OrganizationAccountAccessRole", "admin-"),
                           ("eks-node-group", "i-0"), ("karpenter", "aws-go-sdk-"),
                           ("datadog-integration-role", "DatadogAWSIntegration"),
                           ("AWSReservedSSO_AdministratorAccess_3f2a9c1d7b5e4a60", "jane.doe@example.com")):
            self.roles.append((name, uid("AROA"), "/", sess))
        self.asg_role = ("AWSServiceRoleForAutoScaling", uid("AROA"),
                         "/aws-service-role/autoscaling.amazonaws.com/", "AutoScaling")
        self.kms_keys = ["%08x-%04x-4%03x-%04x-%012x" % (rng.getrandbits(32), rng.getrandbits(16),
                                                          rng.getrandbits(12), 0x8000 | rng.getrandbits(14),
                                                          rng.getrandbits(48)) for _ in range(4)]
        self.buckets = [f"{p}-{acct}" for p in ("logs", "data-lake-raw", "web-assets",
                                                "terraform-state", "backups", "athena-results")]
        self.office_ip = f"203.0.113.{rng.randrange(2, 250)}"
        self.ci_ip = f"192.0.2.{rng.randrange(2, 250)}"
        self.nat_ip = f"198.51.100.{rng.randrange(2, 250)}"


# --------------------------------------------------------------------------
# Event generator
# --------------------------------------------------------------------------

UA_SDK = [
    "aws-sdk-go-v2/1.36.3 ua/2.1 os/linux lang/go#1.24.2 md/GOOS#linux md/GOARCH#amd64 api/{svc}#1.210.1 m/E",
    "Boto3/1.38.27 md/Botocore#1.38.27 ua/2.1 os/linux#5.10.236-228.935.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.10 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.38.27",
    "aws-sdk-java/2.31.50 md/io#sync md/http#Apache ua/2.1 api/{svc}#2.31.x os/Linux#6.1.134-152.225.amzn2023.x86_64 lang/java#21.0.7 md/OpenJDK_64-Bit_Server_VM#21.0.7+6-LTS md/vendor#Amazon.com_Inc. md/en_US m/D,N",
    "aws-sdk-js/3.821.0 ua/2.1 os/linux#5.10.236-228.935.amzn2.x86_64 lang/js md/nodejs#20.19.1 api/{svc}#3.821.0 m/E,N",
]
UA_CLI = "aws-cli/2.27.20 md/awscrt#0.26.1 ua/2.1 os/linux#6.8.0-1029-aws md/arch#x86_64 lang/python#3.13.3 md/pyimpl#CPython exe/x86_64.ubuntu.24 cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#{cmd}"
UA_TF = "APN/1.0 HashiCorp/1.0 Terraform/1.12.1 (+https://www.terraform.io) terraform-provider-aws/5.99.1 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.36.3 ua/2.1 os/linux lang/go#1.24.2 md/GOOS#linux md/GOARCH#amd64 api/{svc}#1.210.1 m/E,g"
UA_BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36"

READ_CALLS = [
    ("ec2.amazonaws.com", "DescribeInstances", {"instancesSet": {}, "filterSet": {"items": [{"name": "tag:Environment", "valueSet": {"items": [{"value": "prod"}]}}]}}),
    ("ec2.amazonaws.com", "DescribeVolumes", {"volumeSet": {}, "filterSet": {}, "maxResults": 500}),
    ("ec2.amazonaws.com", "DescribeNetworkInterfaces", {"networkInterfaceIdSet": {}, "filterSet": {"items": [{"name": "vpc-id", "valueSet": {"items": [{"value": "vpc-0c3f2a9e71d45b812"}]}}]}}),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", {"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}}),
    ("ec2.amazonaws.com", "DescribeTags", {"filterSet": {"items": [{"name": "resource-id", "valueSet": {"items": [{"value": "i-0a1b2c3d4e5f60718"}]}}]}}),
    ("ssm.amazonaws.com", "GetParameter", {"name": "/prod/service/config", "withDecryption": True}),
    ("ssm.amazonaws.com", "GetParametersByPath", {"path": "/prod/orders-api/", "recursive": True, "withDecryption": True}),
    ("ssm.amazonaws.com", "UpdateInstanceInformation", {"instanceId": "i-0a1b2c3d4e5f60718", "agentVersion": "3.3.2299.0", "agentStatus": "Active", "platformType": "Linux", "platformName": "Amazon Linux", "platformVersion": "2023", "iPAddress": "172.31.9.22", "computerName": "ip-172-31-9-22.ec2.internal", "agentName": "amazon-ssm-agent", "availabilityZone": "us-east-1a", "availabilityZoneId": "use1-az4"}),
    ("secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": "prod/orders-api/database"}),
    ("secretsmanager.amazonaws.com", "DescribeSecret", {"secretId": "prod/orders-api/database"}),
    ("sts.amazonaws.com", "GetCallerIdentity", None),
    ("logs.amazonaws.com", "DescribeLogStreams", {"logGroupName": "/aws/lambda/ingest", "orderBy": "LastEventTime", "descending": True, "limit": 1}),
    ("logs.amazonaws.com", "DescribeLogGroups", {"logGroupNamePrefix": "/aws/", "limit": 50}),
    ("cloudwatch.amazonaws.com", "DescribeAlarms", {"alarmNames": ["orders-api-5xx", "orders-api-latency-p99"]}),
    ("dynamodb.amazonaws.com", "DescribeTable", {"tableName": "orders"}),
    ("lambda.amazonaws.com", "GetFunction20150331v2", {"functionName": "ingest"}),
    ("lambda.amazonaws.com", "ListFunctions20150331", {"functionVersion": "ALL", "maxItems": 50}),
    ("ecr.amazonaws.com", "GetAuthorizationToken", {"registryIds": []}),
    ("ecr.amazonaws.com", "BatchGetImage", {"repositoryName": "orders-api", "imageIds": [{"imageTag": "v1.42.0"}], "acceptedMediaTypes": ["application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json"]}),
    ("ecs.amazonaws.com", "DescribeServices", {"cluster": "prod", "services": ["orders-api", "billing-worker"]}),
    ("elasticloadbalancing.amazonaws.com", "DescribeTargetHealth", {"targetGroupArn": "arn:aws:elasticloadbalancing:{region}:{acct}:targetgroup/orders-api/5f3c2a1b9d8e7f60"}),
    ("autoscaling.amazonaws.com", "DescribeAutoScalingGroups", {"autoScalingGroupNames": ["web-asg"]}),
    ("iam.amazonaws.com", "GetRole", {"roleName": "lambda-ingest"}),
    ("iam.amazonaws.com", "ListAttachedRolePolicies", {"roleName": "app-server"}),
    ("cloudformation.amazonaws.com", "DescribeStacks", {"stackName": "orders-api-prod"}),
    ("route53.amazonaws.com", "ListResourceRecordSets", {"hostedZoneId": "Z04417252G1XQ0R7O5D3M", "maxItems": "300"}),
    ("rds.amazonaws.com", "DescribeDBInstances", {"dBInstanceIdentifier": "orders-prod"}),
    ("eks.amazonaws.com", "DescribeCluster", {"name": "prod"}),
]
WRITE_CALLS = [
    ("logs.amazonaws.com", "CreateLogStream", {"logGroupName": "/aws/lambda/ingest", "logStreamName": "2025/06/02/[$LATEST]{hex32}"}),
    ("ec2.amazonaws.com", "CreateTags", {"resourcesSet": {"items": [{"resourceId": "i-0{hex16}"}]}, "tagSet": {"items": [{"key": "Owner", "value": "platform"}]}}),
    ("ssm.amazonaws.com", "PutParameter", {"name": "/prod/feature-flags/checkout-v2", "type": "String", "overwrite": True, "tier": "Standard"}),
    ("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", {"functionName": "ingest", "memorySize": 1024, "timeout": 60}),
    ("dynamodb.amazonaws.com", "UpdateTimeToLive", {"tableName": "sessions", "timeToLiveSpecification": {"enabled": True, "attributeName": "expiresAt"}}),
    ("ec2.amazonaws.com", "CreateNetworkInterface", {"subnetId": "subnet-0a1b7e3c5d9f24681", "description": "AWS Lambda VPC ENI-ingest-{hex8}", "groupSet": {"items": [{"groupId": "sg-06f1c8b3e9a2d4057"}]}, "privateIpAddressesSet": {}, "ipv6AddressCount": 0}),
    ("ecs.amazonaws.com", "UpdateService", {"cluster": "prod", "service": "orders-api", "desiredCount": 6, "forceNewDeployment": False}),
]


class Gen:
    def __init__(self, acct: Account, region: str, rng: random.Random):
        self.a = acct
        self.region = region
        self.rng = rng
        self.counts = {"CreateAccessKey": 0, "RunInstances_IAMUser_AKIA": 0}
        # session keys rotate: reuse per (role, hour)
        self._sessions: dict = {}

    # ids
    def uuid(self) -> str:
        h = "%032x" % self.rng.getrandbits(128)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def hexs(self, n: int) -> str:
        return "%0*x" % (n, self.rng.getrandbits(4 * n))

    def alnum(self, n: int) -> str:
        return "".join(self.rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", k=n))

    # identities
    def role_identity(self, t: dt.datetime, role=None, invoked_by: str | None = None) -> tuple[dict, str]:
        rng = self.rng
        name, rid, path, sess = role or rng.choice(self.a.roles)
        slot = (name, t.hour, rng.randrange(3))
        if slot not in self._sessions:
            if sess == "i-0":
                s = "i-0" + self.hexs(16)
            elif sess.endswith("-"):
                s = sess + str(rng.randrange(10**12, 10**13))
            else:
                s = sess
            self._sessions[slot] = (s, key_id("ASIA", self.a.id, rng),
                                    t.replace(minute=rng.randrange(0, t.minute + 1), second=rng.randrange(60)))
        s, k, created = self._sessions[slot]
        ui = {"type": "AssumedRole", "principalId": f"{rid}:{s}",
              "arn": f"arn:aws:sts::{self.a.id}:assumed-role/{name}/{s}", "accountId": self.a.id}
        if not invoked_by:
            ui["accessKeyId"] = k
        ui["sessionContext"] = {
            "sessionIssuer": {"type": "Role", "principalId": rid,
                              "arn": f"arn:aws:iam::{self.a.id}:role{path}{name}",
                              "accountId": self.a.id, "userName": name},
            "webIdFederationData": {},
            "attributes": {"creationDate": ts(created), "mfaAuthenticated": "false"}}
        if sess == "i-0" and not invoked_by:
            ui["sessionContext"]["ec2RoleDelivery"] = "2.0"
        if invoked_by:
            ui["invokedBy"] = invoked_by
        return ui, name

    def user_identity(self, user=None, console_key: str | None = None, t=None) -> tuple[dict, tuple]:
        u = user or self.rng.choice(self.a.users)
        name, pid, key, kind = u
        ui = {"type": "IAMUser", "principalId": pid, "arn": f"arn:aws:iam::{self.a.id}:user/{name}",
              "accountId": self.a.id, "accessKeyId": console_key or key, "userName": name}
        if console_key:
            ui["sessionContext"] = {"sessionIssuer": {}, "webIdFederationData": {},
                                    "attributes": {"creationDate": ts(t - dt.timedelta(minutes=self.rng.randrange(1, 240))),
                                                   "mfaAuthenticated": "true"}}
        return ui, u

    def base(self, ui: dict | None, t: dt.datetime, src: str, name: str, ip: str, ua: str,
             req, resp, read_only: bool, err=None, extra_after_resp=None, resources=None,
             event_type="AwsApiCall", tls=True, console=False, request_id=True, region=None) -> dict:
        r = {"eventVersion": "1.10" if src in ("ec2.amazonaws.com", "s3.amazonaws.com") else "1.09"}
        if ui is not None:
            r["userIdentity"] = ui
        region = region or self.region
        r.update({"eventTime": ts(t), "eventSource": src, "eventName": name, "awsRegion": region,
                  "sourceIPAddress": ip, "userAgent": ua})
        if err:
            r["errorCode"], r["errorMessage"] = err
        r["requestParameters"] = req
        r["responseElements"] = resp
        if extra_after_resp:
            r["additionalEventData"] = extra_after_resp
        if request_id:
            r["requestID"] = self.uuid() if request_id is True else request_id
        r["eventID"] = self.uuid()
        r["readOnly"] = read_only
        if resources:
            r["resources"] = resources
        r["eventType"] = event_type
        r["managementEvent"] = True
        r["recipientAccountId"] = self.a.id
        r["eventCategory"] = "Management"
        if tls:
            svc = src.split(".")[0]
            host = "iam.amazonaws.com" if svc == "iam" else f"{svc}.{region}.amazonaws.com"
            r["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                               "clientProvidedHostHeader": host}
        if console:
            r["sessionCredentialFromConsole"] = "true"
        return r

    def fill(self, req):
        if req is None:
            return None
        s = dumps(req)
        if "{" in s[1:]:
            s = (s.replace("{region}", self.region).replace("{acct}", self.a.id)
                 .replace("{hex16}", self.hexs(16)).replace("{hex32}", self.hexs(32))
                 .replace("{hex8}", self.hexs(8)))
        return json.loads(s)

    # event kinds ----------------------------------------------------------
    def ev_role_read(self, t):
        src, name, req = self.rng.choice(READ_CALLS)
        ui, _ = self.role_identity(t)
        svc = src.split(".")[0]
        return self.base(ui, t, src, name, self.a.nat_ip, self.rng.choice(UA_SDK).format(svc=svc),
                         self.fill(req), None, True)

    def ev_role_write(self, t):
        src, name, req = self.rng.choice(WRITE_CALLS)
        ui, _ = self.role_identity(t)
        svc = src.split(".")[0]
        resp = None
        if name == "CreateNetworkInterface":
            resp = {"requestId": self.uuid(), "networkInterface": {
                "networkInterfaceId": "eni-0" + self.hexs(16), "subnetId": "subnet-0a1b7e3c5d9f24681",
                "vpcId": "vpc-0c3f2a9e71d45b812", "availabilityZone": self.region + "a",
                "description": req["description"] if req else "", "ownerId": self.a.id,
                "requesterId": "AROA" + self.hexs(8).upper() + ":ingest", "requesterManaged": False,
                "status": "pending", "macAddress": "12:" + ":".join(self.hexs(2) for _ in range(5)),
                "privateIpAddress": f"10.0.{self.rng.randrange(256)}.{self.rng.randrange(4, 250)}",
                "sourceDestCheck": True, "interfaceType": "lambda",
                "groupSet": {"items": [{"groupId": "sg-06f1c8b3e9a2d4057", "groupName": "lambda-ingest"}]},
                "privateIpAddressesSet": {}, "ipv6AddressesSet": {}, "tagSet": {}}}
        elif name in ("CreateTags", "UpdateTimeToLive"):
            resp = {"requestId": self.uuid(), "_return": True} if name == "CreateTags" else None
        return self.base(ui, t, src, name, self.a.nat_ip, self.rng.choice(UA_SDK).format(svc=svc),
                         self.fill(req), resp, False)

    def ev_kms(self, t):
        rng = self.rng
        kid = rng.choice(self.a.kms_keys)
        karn = f"arn:aws:kms:{self.region}:{self.a.id}:key/{kid}"
        b = rng.choice(self.a.buckets)
        if rng.random() < 0.5:
            ui, _ = self.role_identity(t, invoked_by="s3.amazonaws.com")
            return self.base(ui, t, "kms.amazonaws.com", rng.choice(["GenerateDataKey", "Decrypt"]),
                             "s3.amazonaws.com", "s3.amazonaws.com",
                             {"encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{b}/year=2025/month=06/part-{self.hexs(8)}.snappy.parquet"},
                              "keyId": karn, "keySpec": "AES_256"} if rng.random() < .5 else
                             {"encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{b}"},
                              "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                             None, True, tls=False,
                             resources=[{"accountId": self.a.id, "type": "AWS::KMS::Key", "ARN": karn}])
        ui, _ = self.role_identity(t)
        return self.base(ui, t, "kms.amazonaws.com", "Decrypt", self.a.nat_ip,
                         rng.choice(UA_SDK).format(svc="KMS"),
                         {"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                          "encryptionContext": {"SecretARN": f"arn:aws:secretsmanager:{self.region}:{self.a.id}:secret:prod/orders-api/database-{self.alnum(6)}",
                                                "SecretVersionId": self.uuid()}},
                         None, True, resources=[{"accountId": self.a.id, "type": "AWS::KMS::Key", "ARN": karn}])

    def ev_assume_role(self, t):
        rng = self.rng
        role = rng.choice(self.a.roles)
        sess = f"{role[3].rstrip('-')}-{rng.randrange(10**9, 10**10)}"
        if rng.random() < 0.4:
            ui, u = self.user_identity(user=rng.choice([x for x in self.a.users if x[3] == "ci"]))
            ip, ua = self.a.ci_ip, UA_SDK[1]
        else:
            ui, _ = self.role_identity(t)
            ip, ua = self.a.nat_ip, rng.choice(UA_SDK).format(svc="STS")
        role_arn = f"arn:aws:iam::{self.a.id}:role/{role[0]}"
        exp = t + dt.timedelta(hours=1)
        tok = base64.b64encode(rng.randbytes(rng.randrange(280, 420))).decode()
        return self.base(ui, t, "sts.amazonaws.com", "AssumeRole", ip, ua,
                         {"roleArn": role_arn, "roleSessionName": sess, "durationSeconds": 3600},
                         {"credentials": {"accessKeyId": key_id("ASIA", self.a.id, rng),
                                          "sessionToken": "IQoJb3JpZ2luX2Vj" + tok,
                                          "expiration": exp.strftime("%b %d, %Y, %I:%M:%S %p")},
                          "assumedRoleUser": {"assumedRoleId": f"{role[1]}:{sess}",
                                              "arn": f"arn:aws:sts::{self.a.id}:assumed-role/{role[0]}/{sess}"}},
                         True, resources=[{"accountId": self.a.id, "type": "AWS::IAM::Role", "ARN": role_arn}])

    def ev_s3(self, t):
        rng = self.rng
        b = rng.choice(self.a.buckets)
        name, param = rng.choice([("GetBucketAcl", "acl"), ("GetBucketLocation", "location"),
                                  ("GetBucketPolicy", "policy"), ("GetBucketVersioning", "versioning"),
                                  ("ListBuckets", None), ("GetBucketEncryption", "encryption")])
        ui, _ = self.role_identity(t) if rng.random() < .7 else self.user_identity()
        req = {"Host": "s3.amazonaws.com"} if param is None else {param: "", "bucketName": b, "Host": f"{b}.s3.{self.region}.amazonaws.com"}
        r = self.base(ui, t, "s3.amazonaws.com", name, self.a.nat_ip, rng.choice(UA_SDK).format(svc="S3"),
                      req, None, True,
                      extra_after_resp={"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                        "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                                        "x-amz-id-2": base64.b64encode(rng.randbytes(56)).decode(),
                                        "bytesTransferredOut": rng.randrange(100, 3000)},
                      resources=None if param is None else [{"accountId": self.a.id, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{b}"}],
                      request_id=self.alnum(16).upper())
        return r

    def ev_user_read(self, t):
        rng = self.rng
        u = rng.choice([x for x in self.a.users if x[3] in ("ci", "cli")])
        ui, _ = self.user_identity(user=u)
        src, name, req = rng.choice(READ_CALLS)
        svc = src.split(".")[0]
        ua = UA_TF.format(svc=svc) if u[0] == "terraform" else (
            UA_CLI.format(cmd=f"{svc}.{name.lower()}") if u[3] == "cli" else UA_SDK[1])
        ip = self.a.office_ip if u[3] == "cli" else self.a.ci_ip
        return self.base(ui, t, src, name, ip, ua, self.fill(req), None, True)

    def ev_console(self, t):
        rng = self.rng
        u = rng.choice([x for x in self.a.users if x[3] == "console"])
        ui, _ = self.user_identity(user=u, console_key=key_id("ASIA", self.a.id, rng), t=t)
        src, name, req = rng.choice(READ_CALLS)
        return self.base(ui, t, src, name, self.a.office_ip, UA_BROWSER, self.fill(req), None, True,
                         console=True)

    def ev_console_login(self, t):
        rng = self.rng
        u = rng.choice([x for x in self.a.users if x[3] == "console"])
        return self.base({"type": "IAMUser", "principalId": u[1], "arn": f"arn:aws:iam::{self.a.id}:user/{u[0]}",
                          "accountId": self.a.id, "userName": u[0]},
                         t, "signin.amazonaws.com", "ConsoleLogin", self.a.office_ip, UA_BROWSER, None,
                         {"ConsoleLogin": "Success"}, False,
                         extra_after_resp={"LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_" + self.hexs(16),
                                           "MobileVersion": "No", "MFAIdentifier": f"arn:aws:iam::{self.a.id}:mfa/{u[0]}",
                                           "MFAUsed": "Yes"},
                         event_type="AwsConsoleSignIn", request_id=False, region="us-east-1")

    def ev_error(self, t):
        rng = self.rng
        src, name, req = rng.choice(READ_CALLS)
        ui, role = self.role_identity(t)
        svc = src.split(".")[0]
        msg = (f"User: {ui['arn']} is not authorized to perform: {svc}:{name} on resource: "
               f"arn:aws:{svc}:{self.region}:{self.a.id}:* because no identity-based policy allows "
               f"the {svc}:{name} action")
        code = "Client.UnauthorizedOperation" if svc == "ec2" else "AccessDenied"
        return self.base(ui, t, src, name, self.a.nat_ip, rng.choice(UA_SDK).format(svc=svc),
                         self.fill(req), None, True, err=(code, msg))

    def _run_instances(self, t, ui, ip, ua, itype, count, tags, fail=None, lt=None):
        rng = self.rng
        az = self.region + rng.choice("abc")
        ct = self.uuid()
        ami = "ami-0" + self.hexs(16)
        req = {"instancesSet": {"items": [{"imageId": ami, "minCount": count, "maxCount": count}]},
               "instanceType": itype, "blockDeviceMapping": {}, "availabilityZone": az,
               "monitoring": {"enabled": False}, "disableApiTermination": False, "disableApiStop": False,
               "clientToken": ct}
        if lt:
            req["launchTemplate"] = {"launchTemplateId": lt, "version": "7"}
        if tags:
            req["tagSpecificationSet"] = {"items": [{"resourceType": "instance", "tags": tags}]}
        rid = self.uuid()
        if fail:
            return self.base(ui, t, "ec2.amazonaws.com", "RunInstances", ip, ua, req, None, False,
                             err=fail, request_id=rid, tls=ip[0].isdigit())
        ms = int(t.timestamp() * 1000)
        subnet = "subnet-0" + self.hexs(16)
        vpc = "vpc-0" + self.hexs(16)
        items = []
        for i in range(count):
            pip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(4, 250)}"
            dns = "ip-" + pip.replace(".", "-") + (".ec2.internal" if self.region == "us-east-1" else f".{self.region}.compute.internal")
            items.append({
                "instanceId": "i-0" + self.hexs(16), "imageId": ami, "currentInstanceBootMode": "legacy-bios",
                "instanceState": {"code": 0, "name": "pending"}, "privateDnsName": dns,
                "amiLaunchIndex": i, "productCodes": {}, "instanceType": itype, "launchTime": ms,
                "placement": {"availabilityZone": az, "tenancy": "default"},
                "monitoring": {"state": "disabled"}, "subnetId": subnet, "vpcId": vpc, "privateIpAddress": pip,
                "stateReason": {"code": "pending", "message": "pending"}, "architecture": "x86_64",
                "rootDeviceType": "ebs", "rootDeviceName": "/dev/xvda", "blockDeviceMapping": {},
                "virtualizationType": "hvm", "hypervisor": "xen", "tagSet": {"items": tags or []},
                "clientToken": ct, "groupSet": {"items": [{"groupId": "sg-0" + self.hexs(16), "groupName": "default"}]},
                "sourceDestCheck": True,
                "networkInterfaceSet": {"items": [{
                    "networkInterfaceId": "eni-0" + self.hexs(16), "subnetId": subnet, "vpcId": vpc,
                    "ownerId": self.a.id, "status": "in-use", "macAddress": "0e:" + ":".join(self.hexs(2) for _ in range(5)),
                    "privateIpAddress": pip, "privateDnsName": dns, "sourceDestCheck": True,
                    "interfaceType": "interface", "groupSet": {"items": [{"groupId": "sg-0" + self.hexs(16), "groupName": "default"}]},
                    "attachment": {"attachmentId": "eni-attach-0" + self.hexs(16), "deviceIndex": 0, "networkCardIndex": 0,
                                   "status": "attaching", "attachTime": ms, "deleteOnTermination": True},
                    "privateIpAddressesSet": {"item": [{"privateIpAddress": pip, "privateDnsName": dns, "primary": True}]},
                    "ipv6AddressesSet": {}, "tagSet": {}}]},
                "ebsOptimized": False, "enaSupport": True, "cpuOptions": {"coreCount": 1, "threadsPerCore": 2},
                "capacityReservationSpecification": {"capacityReservationPreference": "open"},
                "enclaveOptions": {"enabled": False},
                "metadataOptions": {"state": "pending", "httpTokens": "required", "httpPutResponseHopLimit": 2,
                                    "httpEndpoint": "enabled", "httpProtocolIpv4": "enabled",
                                    "httpProtocolIpv6": "disabled", "instanceMetadataTags": "disabled"},
                "maintenanceOptions": {"autoRecovery": "default"},
                "privateDnsNameOptions": {"hostnameType": "ip-name", "enableResourceNameDnsARecord": False,
                                          "enableResourceNameDnsAAAARecord": False}})
        resp = {"requestId": rid, "reservationId": "r-0" + self.hexs(16), "ownerId": self.a.id,
                "groupSet": {}, "instancesSet": {"items": items}}
        return self.base(ui, t, "ec2.amazonaws.com", "RunInstances", ip, ua, req, resp, False,
                         request_id=rid, tls=ip[0].isdigit())

    def ev_run_asg(self, t):
        ui, _ = self.role_identity(t, role=self.a.asg_role, invoked_by="autoscaling.amazonaws.com")
        return self._run_instances(t, ui, "autoscaling.amazonaws.com", "autoscaling.amazonaws.com",
                                   self.rng.choice(["m6i.large", "c6i.xlarge", "m7g.large"]), 1,
                                   [{"key": "aws:autoscaling:groupName", "value": "web-asg"}],
                                   lt="lt-0" + self.hexs(16))

    def ev_run_role(self, t):
        rng = self.rng
        role = rng.choice([r for r in self.a.roles if r[0] in ("karpenter", "ci-deploy", "karpenter")])
        ui, _ = self.role_identity(t, role=role)
        n = rng.choice([1, 1, 1, 2, 3, 4])
        return self._run_instances(t, ui, self.a.nat_ip, UA_SDK[0].format(svc="ec2"),
                                   rng.choice(["m6i.xlarge", "c7i.2xlarge", "r6i.large"]), n,
                                   [{"key": "karpenter.sh/nodepool", "value": "default"},
                                    {"key": "Name", "value": "karpenter-node"}])

    def ev_run_user(self, t):
        rng = self.rng
        u = rng.choice([x for x in self.a.users if x[0] in ("terraform", "admin", "eve.ops")])
        ui, _ = self.user_identity(user=u)
        ua = UA_TF.format(svc="ec2") if u[0] == "terraform" else UA_CLI.format(cmd="ec2.run-instances")
        ip = self.a.ci_ip if u[0] == "terraform" else self.a.office_ip
        self.counts["RunInstances_IAMUser_AKIA"] += 1
        fail = None
        if rng.random() < 0.25:
            fail = ("Client.InsufficientInstanceCapacity",
                    "We currently do not have sufficient g5.xlarge capacity in the Availability Zone you requested. "
                    "Our system will be working on provisioning additional capacity.")
        return self._run_instances(t, ui, ip, ua, rng.choice(["t3.medium", "g5.xlarge", "m6i.large"]),
                                   1, [{"key": "Name", "value": "adhoc-" + self.hexs(4)}], fail=fail)

    def ev_create_key(self, t):
        rng = self.rng
        self.counts["CreateAccessKey"] += 1
        if rng.random() < 0.5:
            u = rng.choice([x for x in self.a.users if x[3] == "console"])
            ui, _ = self.user_identity(user=u, console_key=key_id("ASIA", self.a.id, rng), t=t)
            target, ip, ua, console = u[0], self.a.office_ip, "AWS Internal", True
        else:
            ui, _ = self.user_identity(user=next(x for x in self.a.users if x[0] == "admin"))
            target = rng.choice([x[0] for x in self.a.users if x[3] == "ci"])
            ip, ua, console = self.a.office_ip, UA_CLI.format(cmd="iam.create-access-key"), False
        return self.base(ui, t, "iam.amazonaws.com", "CreateAccessKey", ip, ua, {"userName": target},
                         {"accessKey": {"accessKeyId": key_id("AKIA", self.a.id, rng), "status": "Active",
                                        "userName": target, "createDate": t.strftime("%b %d, %Y %I:%M:%S %p")}},
                         False, console=console, region="us-east-1")

    def ev_service(self, t):
        kid = self.rng.choice(self.a.kms_keys)
        karn = f"arn:aws:kms:{self.region}:{self.a.id}:key/{kid}"
        r = self.base(None, t, "kms.amazonaws.com", "RotateKey", "kms.amazonaws.com", "kms.amazonaws.com",
                      None, None, False, resources=[{"accountId": self.a.id, "type": "AWS::KMS::Key", "ARN": karn}],
                      event_type="AwsServiceEvent", tls=False, request_id=False)
        r["serviceEventDetails"] = {"keyId": kid}
        return r


KINDS = [("ev_role_read", 400), ("ev_role_write", 80), ("ev_kms", 130), ("ev_assume_role", 80),
         ("ev_s3", 80), ("ev_user_read", 80), ("ev_console", 50), ("ev_console_login", 3),
         ("ev_error", 30), ("ev_run_asg", 10), ("ev_run_role", 6), ("ev_run_user", 2),
         ("ev_create_key", 1), ("ev_service", 2)]
KIND_NAMES = [k for k, _ in KINDS]
KIND_CUM = []
_c = 0
for _, w in KINDS:
    _c += w
    KIND_CUM.append(_c)


def ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------

_ACCT_CACHE: dict = {}


def get_account(acct: str, seed: int) -> Account:
    k = (acct, seed)
    if k not in _ACCT_CACHE:
        _ACCT_CACHE[k] = Account(acct, seed)
    return _ACCT_CACHE[k]


def run_task(task: tuple) -> dict:
    out, seed, day, si, n_events, epf = task
    acct_id, region, _ = STREAMS[si]
    rng = random.Random(f"{seed}/{day}/{si}")
    gen = Gen(get_account(acct_id, seed), region, rng)
    day0 = START + dt.timedelta(days=day)
    n_files = max(1, min(288, round(n_events / epf)))
    # pick busy 5-minute slots (weighted by hour of day), without replacement
    keyed = sorted(range(288), key=lambda s: -rng.random() ** (1.0 / DIURNAL[s // 12]))
    slots = sorted(keyed[:n_files])
    # uneven file sizes, at least one event each
    w = [rng.lognormvariate(0, 0.6) for _ in slots]
    ws = sum(w)
    per = [1 + int((n_events - n_files) * x / ws) for x in w]
    for i in range(n_events - sum(per)):
        per[i % n_files] += 1
    files = raw_total = gz_total = 0
    kinds = rng.choices(KIND_NAMES, cum_weights=KIND_CUM, k=n_events)
    ki = 0
    for slot, cnt in zip(slots, per):
        start = day0 + dt.timedelta(minutes=5 * slot)
        secs = sorted(rng.randrange(300) for _ in range(cnt))
        recs = []
        for s in secs:
            recs.append(getattr(gen, kinds[ki])(start + dt.timedelta(seconds=s)))
            ki += 1
        delivered = start + dt.timedelta(minutes=5 + rng.randrange(0, 6), seconds=rng.randrange(60))
        raw = ('{"Records":[' + ",".join(dumps(r) for r in recs) + "]}").encode()
        body = gzip.compress(raw, compresslevel=6, mtime=0)
        d = Path(out) / "AWSLogs" / acct_id / "CloudTrail" / region / delivered.strftime("%Y/%m/%d")
        d.mkdir(parents=True, exist_ok=True)
        name = f"{acct_id}_CloudTrail_{region}_{delivered.strftime('%Y%m%dT%H%MZ')}_{gen.alnum(16)}.json.gz"
        (d / name).write_bytes(body)
        files += 1
        raw_total += len(raw)
        gz_total += len(body)
    return {"files": files, "events": n_events, "raw": raw_total, "gz": gz_total, **gen.counts}


def calibrate(seed: int) -> float:
    rng = random.Random(f"{seed}/calibrate")
    gen = Gen(Account(STREAMS[0][0], seed), STREAMS[0][1], rng)
    t = START + dt.timedelta(hours=10)
    kinds = rng.choices(KIND_NAMES, cum_weights=KIND_CUM, k=6000)
    total = sum(len(dumps(getattr(gen, k)(t))) + 1 for k in kinds)
    return total / len(kinds)


def main() -> int:
    ap = argparse.ArgumentParser(description="Generate a CloudTrail archive for benchmarks.")
    ap.add_argument("--out", required=True, type=Path, help="output directory (AWSLogs/ goes inside)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--size-mb", type=float, help="target uncompressed size in MB (10^6 bytes); default 1100")
    g.add_argument("--events", type=int, help="exact number of events (about 30 per file)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--events-per-file", type=float, help="mean events per file (default 40, or 30 with --events)")
    args = ap.parse_args()

    t0 = time.time()
    if args.out.exists() and any(args.out.iterdir()):
        print(f"error: {args.out} exists and is not empty; remove it first", file=sys.stderr)
        return 2
    if args.events is not None:
        if args.events < 1:
            ap.error("--events must be positive")
        total = args.events
        epf = args.events_per_file or 30
    else:
        size = (args.size_mb or 1100) * 1e6
        avg = calibrate(args.seed)
        total = math.ceil(size * 1.005 / avg)
        epf = args.events_per_file or 40
    n_streams = len(STREAMS)
    days = max(1, math.ceil(total / epf / (n_streams * 150)))
    wsum = sum(w for _, _, w in STREAMS)
    # exact split of `total` over (day, stream)
    shares = []
    for day in range(days):
        for si, (_, _, w) in enumerate(STREAMS):
            shares.append([day, si, total * w / wsum / days])
    counts = [int(s[2]) for s in shares]
    rem = total - sum(counts)
    order = sorted(range(len(shares)), key=lambda i: shares[i][2] - counts[i], reverse=True)
    for i in order[:rem]:
        counts[i] += 1
    tasks = [(str(args.out), args.seed, s[0], s[1], c, epf) for s, c in zip(shares, counts) if c > 0]
    tasks.sort(key=lambda x: -x[4])  # biggest first, for balance
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"generating {total:,} events over {days} day(s), {n_streams} account/region streams, "
          f"{len(ACCOUNTS)} accounts, {args.workers} worker(s) ...", file=sys.stderr)
    agg = {"files": 0, "events": 0, "raw": 0, "gz": 0, "CreateAccessKey": 0, "RunInstances_IAMUser_AKIA": 0}
    with Pool(args.workers) as pool:
        for res in pool.imap_unordered(run_task, tasks):
            for k in agg:
                agg[k] += res[k]
    secs = time.time() - t0
    manifest = {"out": str(args.out), "seed": args.seed, "files": agg["files"], "events": agg["events"],
                "uncompressed_bytes": agg["raw"], "compressed_bytes": agg["gz"],
                "accounts": [a for a, _ in ACCOUNTS], "streams": [f"{a}/{r}" for a, r, _ in STREAMS],
                "days": days, "start": START.date().isoformat(),
                "expected_matches": {"CreateAccessKey": agg["CreateAccessKey"],
                                     "RunInstances_by_IAMUser_AKIA": agg["RunInstances_IAMUser_AKIA"]},
                "generation_seconds": round(secs, 1)}
    Path(str(args.out).rstrip("/") + ".manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {agg['files']:,} files, {agg['events']:,} events, "
          f"{agg['raw'] / 1e6:,.1f} MB uncompressed, {agg['gz'] / 1e6:,.1f} MB compressed "
          f"(ratio {agg['raw'] / max(agg['gz'], 1):.1f}x, {agg['raw'] / max(agg['events'], 1):,.0f} B/event) "
          f"to {args.out} in {secs:.1f} s")
    print(f"ground truth: CreateAccessKey={agg['CreateAccessKey']} "
          f"RunInstances by IAMUser/AKIA={agg['RunInstances_IAMUser_AKIA']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
