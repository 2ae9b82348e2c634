#!/usr/bin/env python3
"""Generate the `leaked-admin-key` example: an IAM user's long-term access key
leaks and is used from an attacker's laptop, hidden in two days of ordinary
CloudTrail activity of the same account.

Deterministic: fixed seed and fixed dates; gzip is written with mtime=0, so
re-running the script produces byte-identical files.

    python3 examples/leaked-admin-key/generate.py            # writes next to this script
    python3 examples/leaked-admin-key/generate.py --out DIR  # writes elsewhere
    python3 examples/leaked-admin-key/generate.py --self-test

Python 3.11, standard library only. All data is synthetic; IP addresses come
from the documentation ranges (RFC 5737), ids are random but well-formed.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gzip
import hashlib
import json
import os
import random
import shutil
import sys
import uuid
from pathlib import Path

SEED = 20250917
ACCOUNT = "418295730164"
ORG_TRAIL_BUCKET = "northwind-cloudtrail-logs-418295730164"
TRAIL_NAME = "management-events"
DAY1 = dt.date(2025, 9, 16)
DAY2 = dt.date(2025, 9, 17)

OFFICE_IP = "203.0.113.24"      # office NAT (RFC 5737 TEST-NET-3)
OFFICE_IP_2 = "203.0.113.25"    # second office NAT address
CI_IP = "192.0.2.140"           # CI runner egress (TEST-NET-1)
NAT_US = "192.0.2.61"           # VPC NAT gateway, us-east-1
NAT_EU = "192.0.2.88"           # VPC NAT gateway, eu-west-1
ATTACKER_IP = "198.51.100.73"   # attacker laptop (TEST-NET-2)

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

# --------------------------------------------------------------------------
# Access key ids <-> account id
#
# An access key id is a 4-char prefix (AKIA long-term, ASIA temporary) and 16
# base32 chars (RFC 4648 alphabet A-Z2-7) = 10 bytes. The first 6 bytes, as a
# big-endian integer, hold the account id in bits 46..7: account =
# (int(bytes[0:6]) & 0x7fffffffff80) >> 7. (Aidan Steele, 2020; Tal Be'ery's
# correction, 2021.) The top bit is set in keys issued since ~2019 (ids start
# with Q..Z, 2..7 after the prefix); the low 7 bits and last 4 bytes vary.
# --------------------------------------------------------------------------

def account_from_key_id(key_id: str) -> str:
    raw = base64.b32decode(key_id[4:20])
    z = int.from_bytes(raw[0:6], "big")
    return "%012d" % ((z & 0x7FFFFFFFFF80) >> 7)


def make_key_id(prefix: str, account: str, rng: random.Random, length: int = 20) -> str:
    acct = int(account)
    assert 0 <= acct < 1 << 40
    head = (1 << 47) | (acct << 7) | rng.getrandbits(7)
    raw = head.to_bytes(6, "big") + rng.getrandbits(32).to_bytes(4, "big")
    body = base64.b32encode(raw).decode()  # 16 chars, no padding for 10 bytes
    extra = "".join(rng.choice(B32) for _ in range(length - 20))
    key = prefix + body + extra
    assert account_from_key_id(key) == account, key
    assert not key.endswith("EXAMPLE")
    return key


def self_test() -> None:
    # Published example (awsteele.com, 2020): ASIAY34FZKBOKMUTVV7A -> 609629065308
    assert account_from_key_id("ASIAY34FZKBOKMUTVV7A") == "609629065308"
    rng = random.Random(1)
    for _ in range(2000):
        acct = "%012d" % rng.randrange(0, 10**12)
        for p in ("AKIA", "ASIA"):
            k = make_key_id(p, acct, rng)
            assert len(k) == 20 and all(c in B32 for c in k[4:]), k
            assert account_from_key_id(k) == acct
    print("self-test ok: encoder/decoder round-trip, published example decodes")


# --------------------------------------------------------------------------
# Random but deterministic ids
# --------------------------------------------------------------------------

class Ids:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def alnum(self, n: int) -> str:
        a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choice(a) for _ in range(n))

    def upper(self, n: int) -> str:
        return "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(n))

    def unique_id(self, prefix: str) -> str:
        # IAM unique ids (AIDA.., AROA..) are 21 chars, same alphabet.
        return make_key_id(prefix, ACCOUNT, self.rng, length=21)

    def akia(self) -> str:
        return make_key_id("AKIA", ACCOUNT, self.rng)

    def asia(self) -> str:
        return make_key_id("ASIA", ACCOUNT, self.rng)

    def session_token(self) -> str:
        # shape of an STS session token; random bytes, not a credential
        raw = bytes(self.rng.getrandbits(8) for _ in range(300))
        return "IQoJb3JpZ2luX2VjE" + base64.b64encode(raw).decode()[:380]

    def s3_request_id(self) -> str:
        return self.upper(16)

    def amz_id_2(self) -> str:
        raw = bytes(self.rng.getrandbits(8) for _ in range(56))
        return base64.b64encode(raw).decode()


# --------------------------------------------------------------------------
# Time helpers
# --------------------------------------------------------------------------

def ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def java_date(t: dt.datetime, comma: bool = False) -> str:
    # CloudTrail renders IAM/STS dates like "Sep 17, 2025 11:13:55 PM"
    hour = t.hour % 12 or 12
    ampm = "AM" if t.hour < 12 else "PM"
    sep = ", " if comma else " "
    return f"{t.strftime('%b')} {t.day}, {t.year}{sep}{hour}:{t.minute:02d}:{t.second:02d} {ampm}"


def at(day: dt.date, h: int, m: int, s: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, h, m, s, tzinfo=dt.timezone.utc)


# --------------------------------------------------------------------------
# Principals
# --------------------------------------------------------------------------

class Principal:
    """Something that calls AWS. `identity(t)` renders userIdentity."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def iam_user(ids: Ids, name: str) -> Principal:
    return Principal(kind="IAMUser", name=name, principal_id=ids.unique_id("AIDA"),
                     arn=f"arn:aws:iam::{ACCOUNT}:user/{name}")


def user_identity_iam_key(u: Principal, key: str) -> dict:
    return {"type": "IAMUser", "principalId": u.principal_id, "arn": u.arn,
            "accountId": ACCOUNT, "accessKeyId": key, "userName": u.name}


def user_identity_console(u: Principal, key: str, session_start: dt.datetime) -> dict:
    return {"type": "IAMUser", "principalId": u.principal_id, "arn": u.arn,
            "accountId": ACCOUNT, "accessKeyId": key, "userName": u.name,
            "sessionContext": {"sessionIssuer": {}, "webIdFederationData": {},
                               "attributes": {"creationDate": ts(session_start),
                                              "mfaAuthenticated": "true"}}}


def user_identity_role(role_name: str, role_id: str, session: str, key: str | None,
                       session_start: dt.datetime, path: str = "/",
                       invoked_by: str | None = None, ec2_delivery: bool = False) -> dict:
    ui = {"type": "AssumedRole", "principalId": f"{role_id}:{session}",
          "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session}",
          "accountId": ACCOUNT}
    if key:
        ui["accessKeyId"] = key
    ctx = {"sessionIssuer": {"type": "Role", "principalId": role_id,
                             "arn": f"arn:aws:iam::{ACCOUNT}:role{path}{role_name}",
                             "accountId": ACCOUNT, "userName": role_name},
           "attributes": {"creationDate": ts(session_start), "mfaAuthenticated": "false"}}
    if ec2_delivery:
        ctx["ec2RoleDelivery"] = "2.0"
    else:
        ctx["webIdFederationData"] = {}
    ui["sessionContext"] = ctx
    if invoked_by:
        ui["invokedBy"] = invoked_by
    return ui


# --------------------------------------------------------------------------
# Record builder: field order follows the order AWS writes them in log files
# --------------------------------------------------------------------------

EVENT_VERSION = {"ec2.amazonaws.com": "1.10", "s3.amazonaws.com": "1.10"}
TLS13 = ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
TLS12 = ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")


def host_header(source: str, region: str) -> str:
    svc = source.split(".")[0]
    if svc in ("iam",):
        return "iam.amazonaws.com"
    if svc == "signin":
        return f"{region}.signin.aws.amazon.com"
    if svc == "monitoring":
        return f"monitoring.{region}.amazonaws.com"
    if svc == "ecr":
        return f"api.ecr.{region}.amazonaws.com"
    return f"{svc}.{region}.amazonaws.com"


def record(ids: Ids, *, t: dt.datetime, source: str, name: str, region: str,
           identity: dict | None, ip: str, ua: str, req=None, resp=None,
           read_only: bool, error: tuple[str, str] | None = None,
           additional: dict | None = None, resources: list | None = None,
           event_type: str = "AwsApiCall", request_id: str | None = "uuid",
           tls: tuple[str, str] | None = TLS13, host: str | None = None,
           console: bool = False, service_details: dict | None = None,
           shared_event_id: str | None = None, vpc_endpoint: str | None = None) -> dict:
    r: dict = {"eventVersion": EVENT_VERSION.get(source, "1.09")}
    if identity is not None:
        r["userIdentity"] = identity
    r["eventTime"] = ts(t)
    r["eventSource"] = source
    r["eventName"] = name
    r["awsRegion"] = region
    r["sourceIPAddress"] = ip
    r["userAgent"] = ua
    if error:
        r["errorCode"], r["errorMessage"] = error
    r["requestParameters"] = req
    r["responseElements"] = resp
    if additional is not None:
        r["additionalEventData"] = additional
    if request_id == "uuid":
        r["requestID"] = ids.uuid()
    elif request_id:
        r["requestID"] = request_id
    r["eventID"] = ids.uuid()
    r["readOnly"] = read_only
    if resources is not None:
        r["resources"] = resources
    r["eventType"] = event_type
    r["managementEvent"] = True
    r["recipientAccountId"] = ACCOUNT
    if shared_event_id:
        r["sharedEventID"] = shared_event_id
    if vpc_endpoint:
        r["vpcEndpointId"] = vpc_endpoint
    if service_details is not None:
        r["serviceEventDetails"] = service_details
    r["eventCategory"] = "Management"
    if tls:
        r["tlsDetails"] = {"tlsVersion": tls[0], "cipherSuite": tls[1],
                           "clientProvidedHostHeader": host or host_header(source, region)}
    if console:
        r["sessionCredentialFromConsole"] = "true"
    return r


# --------------------------------------------------------------------------
# Shapes of specific calls
# --------------------------------------------------------------------------

AMI_US = "ami-0b09ffb6d8b58ca91"   # shaped like an Amazon Linux 2023 AMI id
AMI_EU = "ami-0a89c0e1fe86ef74e"
AZS = {"us-east-1": ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"],
       "eu-west-1": ["eu-west-1a", "eu-west-1b", "eu-west-1c"]}
VPC = {"us-east-1": "vpc-0c3f2a9e71d45b812", "eu-west-1": "vpc-07e1d5a33b2f90c4e"}
SUBNETS = {"us-east-1": {"us-east-1a": "subnet-0a1b7e3c5d9f24681", "us-east-1b": "subnet-03d94c2e8b1a5f607",
                         "us-east-1c": "subnet-0f6e2d8a4c1b97350", "us-east-1d": "subnet-09b3c5e7a2d14f86b"},
           "eu-west-1": {"eu-west-1a": "subnet-0e4a9c1d7b3f52068", "eu-west-1b": "subnet-05c8e2b6a9d1f3074",
                         "eu-west-1c": "subnet-0b7d3f1e5a9c26840"}}
DEFAULT_SG = {"us-east-1": "sg-0d2e61f8a4b9c3175", "eu-west-1": "sg-0a94b3e7c1d52f806"}
WEB_SG = {"us-east-1": "sg-06f1c8b3e9a2d4057", "eu-west-1": "sg-0c5a2e9d7b1f34860"}


def private_ip(rng: random.Random, region: str) -> str:
    base = "172.31" if region == "us-east-1" else "10.20"
    return f"{base}.{rng.randrange(0, 64)}.{rng.randrange(4, 250)}"


def private_dns(ipaddr: str, region: str) -> str:
    host = "ip-" + ipaddr.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"


def run_instances_response(ids: Ids, rng: random.Random, *, t: dt.datetime, region: str,
                           request_id: str, instance_type: str, image_id: str, az: str,
                           count: int, client_token: str, sg: tuple[str, str],
                           tags: list | None = None, key_name: str | None = None,
                           requester_id: str | None = None) -> tuple[dict, list[str]]:
    launch_ms = int(t.timestamp() * 1000)
    subnet = SUBNETS[region][az]
    items, instance_ids = [], []
    vcpus = {"t3.micro": (1, 2), "t3.small": (1, 2), "m7i-flex.large": (1, 2), "t3.medium": (1, 2)}
    core, tpc = vcpus.get(instance_type, (1, 2))
    for i in range(count):
        iid = "i-0" + ids.hex(16)
        instance_ids.append(iid)
        pip = private_ip(rng, region)
        pdns = private_dns(pip, region)
        mac = "0e:" + ":".join(ids.hex(2) for _ in range(5))
        eni = "eni-0" + ids.hex(16)
        item = {
            "instanceId": iid, "imageId": image_id, "currentInstanceBootMode": "uefi",
            "instanceState": {"code": 0, "name": "pending"},
            "privateDnsName": pdns,
        }
        if key_name:
            item["keyName"] = key_name
        item.update({
            "amiLaunchIndex": i, "productCodes": {}, "instanceType": instance_type,
            "launchTime": launch_ms,
            "placement": {"availabilityZone": az, "tenancy": "default"},
            "monitoring": {"state": "disabled"},
            "subnetId": subnet, "vpcId": VPC[region], "privateIpAddress": pip,
            "stateReason": {"code": "pending", "message": "pending"},
            "architecture": "x86_64", "rootDeviceType": "ebs", "rootDeviceName": "/dev/xvda",
            "blockDeviceMapping": {}, "virtualizationType": "hvm", "hypervisor": "xen",
        })
        if tags:
            item["tagSet"] = {"items": tags}
        item.update({
            "clientToken": client_token,
            "groupSet": {"items": [{"groupId": sg[0], "groupName": sg[1]}]},
            "sourceDestCheck": True,
            "networkInterfaceSet": {"items": [{
                "networkInterfaceId": eni, "subnetId": subnet, "vpcId": VPC[region],
                "ownerId": ACCOUNT, "status": "in-use", "macAddress": mac,
                "privateIpAddress": pip, "privateDnsName": pdns, "sourceDestCheck": True,
                "interfaceType": "interface",
                "groupSet": {"items": [{"groupId": sg[0], "groupName": sg[1]}]},
                "attachment": {"attachmentId": "eni-attach-0" + ids.hex(16), "deviceIndex": 0,
                               "networkCardIndex": 0, "status": "attaching",
                               "attachTime": launch_ms, "deleteOnTermination": True},
                "privateIpAddressesSet": {"item": [{"privateIpAddress": pip,
                                                    "privateDnsName": pdns, "primary": True}]},
                "ipv6AddressesSet": {}, "tagSet": {}}]},
            "ebsOptimized": False, "enaSupport": True,
            "cpuOptions": {"coreCount": core, "threadsPerCore": tpc},
            "capacityReservationSpecification": {"capacityReservationPreference": "open"},
            "enclaveOptions": {"enabled": False},
            "metadataOptions": {"state": "pending", "httpTokens": "required",
                                "httpPutResponseHopLimit": 2, "httpEndpoint": "enabled",
                                "httpProtocolIpv4": "enabled", "httpProtocolIpv6": "disabled",
                                "instanceMetadataTags": "disabled"},
            "maintenanceOptions": {"autoRecovery": "default"},
            "privateDnsNameOptions": {"hostnameType": "ip-name",
                                      "enableResourceNameDnsARecord": False,
                                      "enableResourceNameDnsAAAARecord": False},
        })
        items.append(item)
    resp = {"requestId": request_id, "reservationId": "r-0" + ids.hex(16), "ownerId": ACCOUNT}
    if requester_id:
        resp["requesterId"] = requester_id
    resp["groupSet"] = {}
    resp["instancesSet"] = {"items": items}
    return resp, instance_ids


def s3_additional(ids: Ids, out_bytes: int) -> dict:
    return {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": ids.amz_id_2(), "bytesTransferredOut": out_bytes}


# --------------------------------------------------------------------------
# The scenario
# --------------------------------------------------------------------------

UA_ATTACKER = ("aws-cli/2.15.30 Python/3.11.8 Linux/6.6.15-amd64 exe/x86_64.kali.2024 "
               "prompt/off command/{cmd}")
UA_OWNER = "aws-cli/2.15.17 Python/3.11.6 Darwin/23.3.0 exe/x86_64 prompt/off command/{cmd}"
UA_CI = ("Boto3/1.40.11 md/Botocore#1.40.11 ua/2.1 os/linux#6.11.0-1018-azure md/arch#x86_64 "
         "lang/python#3.12.11 md/pyimpl#CPython m/Z,b,D cfg/retry-mode#legacy Botocore/1.40.11")
UA_CI_CFN = "aws-sdk-js/3.864.0 ua/2.1 os/linux#6.11.0-1018-azure lang/js md/nodejs#20.19.4 api/cloudformation#3.864.0 m/E"
UA_APP = ("aws-sdk-java/2.32.16 md/io#sync md/http#Apache ua/2.1 api/{api}#2.32.x os/Linux#6.1.141-155.222.amzn2023.x86_64 "
          "lang/java#21.0.8 md/OpenJDK_64-Bit_Server_VM#21.0.8+9-LTS md/vendor#Amazon.com_Inc. md/en_US m/E,N")
UA_BROWSER = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/139.0.0.0 Safari/537.36")
UA_BROWSER_2 = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:142.0) Gecko/20100101 Firefox/142.0"


class Scenario:
    def __init__(self, seed: int = SEED):
        self.rng = random.Random(seed)
        self.ids = Ids(self.rng)
        self.events: list[dict] = []
        ids = self.ids
        # --- principals --------------------------------------------------
        self.admin = iam_user(ids, "admin")
        self.leaked_key = ids.akia()
        self.alice = iam_user(ids, "alice.nguyen")
        self.bob = iam_user(ids, "bob.martins")
        self.carol = iam_user(ids, "carol.schmidt")
        self.carol_old_key = ids.akia()
        self.ci_user = iam_user(ids, "ci-deployer")
        self.ci_key = ids.akia()
        self.ci_role_id = ids.unique_id("AROA")
        self.app_role_id = ids.unique_id("AROA")
        self.asg_role_id = ids.unique_id("AROA")
        self.kms_keys = {"us-east-1": [ids.uuid(), ids.uuid()], "eu-west-1": [ids.uuid()]}
        self.facts: dict = {}

    # -- helpers ----------------------------------------------------------
    def add(self, **kw) -> dict:
        r = record(self.ids, **kw)
        self.events.append(r)
        return r

    def jitter(self, t: dt.datetime, lo: int, hi: int) -> dt.datetime:
        return t + dt.timedelta(seconds=self.rng.randint(lo, hi))

    # -- console users ------------------------------------------------------
    def console_login(self, u: Principal, t: dt.datetime, ua: str, ip: str) -> None:
        self.add(t=t, source="signin.amazonaws.com", name="ConsoleLogin", region="us-east-1",
                 identity={"type": "IAMUser", "principalId": u.principal_id, "arn": u.arn,
                           "accountId": ACCOUNT, "userName": u.name},
                 ip=ip, ua=ua, req=None, resp={"ConsoleLogin": "Success"},
                 additional={"LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_" + self.ids.hex(16),
                             "MobileVersion": "No",
                             "MFAIdentifier": f"arn:aws:iam::{ACCOUNT}:mfa/{u.name}",
                             "MFAUsed": "Yes"},
                 read_only=False, event_type="AwsConsoleSignIn", request_id=None,
                 host="us-east-1.signin.aws.amazon.com")

    def console_calls(self, u: Principal, start: dt.datetime, n: int, ua: str, ip: str,
                      region_weights=(("us-east-1", 8), ("eu-west-1", 2))) -> dt.datetime:
        rng, ids = self.rng, self.ids
        key = ids.asia()
        t = start
        regions = [r for r, w in region_weights for _ in range(w)]
        buckets = ["northwind-web-assets", "northwind-data-lake-raw", "northwind-terraform-state",
                   ORG_TRAIL_BUCKET, "northwind-backups-eu"]
        for _ in range(n):
            t = self.jitter(t, 4, 140)
            region = rng.choice(regions)
            ident = user_identity_console(u, key, start)
            kind = rng.randrange(10)
            internal = rng.random() < 0.35
            c_ua = "AWS Internal" if internal else ua
            c_ip = "AWS Internal" if internal else ip
            if kind <= 2:
                self.add(t=t, source="ec2.amazonaws.com",
                         name=rng.choice(["DescribeInstances", "DescribeInstanceStatus",
                                          "DescribeSecurityGroups", "DescribeVolumes",
                                          "DescribeAddresses", "DescribeLaunchTemplates"]),
                         region=region, identity=ident, ip=ip, ua=ua,
                         req={"maxResults": 1000, "filterSet": {}} if rng.random() < .5 else {"filterSet": {}},
                         resp=None, read_only=True, console=True)
            elif kind == 3:
                self.add(t=t, source="monitoring.amazonaws.com", name="GetMetricData",
                         region=region, identity=ident, ip=c_ip, ua=c_ua,
                         req={"metricDataQueries": [{"id": "m1", "metricStat": {
                             "metric": {"namespace": "AWS/EC2", "metricName": "CPUUtilization",
                                        "dimensions": [{"name": "AutoScalingGroupName",
                                                        "value": "web-asg"}]},
                             "period": 300, "stat": "Average"}, "returnData": True}],
                              "startTime": ts(t - dt.timedelta(hours=3)), "endTime": ts(t)},
                         resp=None, read_only=True, console=True,
                         tls=None if internal else TLS13)
            elif kind == 4:
                b = rng.choice(buckets)
                nm = rng.choice(["GetBucketPolicy", "GetBucketEncryption", "GetBucketVersioning",
                                 "GetBucketPublicAccessBlock", "GetBucketLocation"])
                param = {"GetBucketPolicy": "policy", "GetBucketEncryption": "encryption",
                         "GetBucketVersioning": "versioning",
                         "GetBucketPublicAccessBlock": "publicAccessBlock",
                         "GetBucketLocation": "location"}[nm]
                self.add(t=t, source="s3.amazonaws.com", name=nm, region="us-east-1",
                         identity=ident, ip=ip, ua="[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.788 Linux/5.10.238-211.955.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.452-b09 java/1.8.0_452 vendor/Oracle_Corporation cfg/retry-mode/standard]",
                         req={param: "", "bucketName": b, "Host": f"{b}.s3.amazonaws.com"},
                         resp=None, read_only=True, console=True,
                         additional=s3_additional(ids, rng.randrange(200, 900)),
                         request_id=ids.s3_request_id(),
                         resources=[{"accountId": ACCOUNT, "type": "AWS::S3::Bucket",
                                     "ARN": f"arn:aws:s3:::{b}"}],
                         host=f"{b}.s3.amazonaws.com")
            elif kind == 5:
                self.add(t=t, source="s3.amazonaws.com", name="ListBuckets", region="us-east-1",
                         identity=ident, ip=ip, ua="[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.788 Linux/5.10.238-211.955.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.452-b09 java/1.8.0_452 vendor/Oracle_Corporation cfg/retry-mode/standard]",
                         req={"Host": "s3.amazonaws.com"}, resp=None, read_only=True, console=True,
                         additional=s3_additional(ids, rng.randrange(1200, 2400)),
                         request_id=ids.s3_request_id(), host="s3.amazonaws.com")
            elif kind == 6:
                nm = rng.choice(["ListUsers", "ListRoles", "GetAccountSummary",
                                 "ListAccessKeys", "GetAccountPasswordPolicy", "ListPolicies"])
                req = None
                if nm == "ListAccessKeys":
                    req = {"userName": rng.choice(["ci-deployer", u.name, "admin"])}
                elif nm == "ListPolicies":
                    req = {"scope": "Local", "onlyAttached": False}
                self.add(t=t, source="iam.amazonaws.com", name=nm, region="us-east-1",
                         identity=ident, ip=c_ip, ua=c_ua, req=req, resp=None, read_only=True,
                         console=True, tls=None if internal else TLS13)
            elif kind == 7:
                self.add(t=t, source="cloudformation.amazonaws.com",
                         name=rng.choice(["DescribeStacks", "ListStacks", "DescribeStackEvents"]),
                         region=region, identity=ident, ip=c_ip, ua=c_ua,
                         req={"stackName": rng.choice(["web-prod", "data-pipeline", "network-baseline"])},
                         resp=None, read_only=True, console=True, tls=None if internal else TLS13)
            elif kind == 8:
                self.add(t=t, source="lambda.amazonaws.com", name="ListFunctions20150331",
                         region=region, identity=ident, ip=ip, ua=ua,
                         req={"functionVersion": "ALL"} if rng.random() < .5 else None,
                         resp=None, read_only=True, console=True)
            else:
                self.add(t=t, source="logs.amazonaws.com", name="DescribeLogGroups",
                         region=region, identity=ident, ip=c_ip, ua=c_ua,
                         req={"limit": 50, "includeLinkedAccounts": False},
                         resp=None, read_only=True, console=True, tls=None if internal else TLS13)
        return t

    def carol_key_rotation(self, start: dt.datetime) -> None:
        ids, rng = self.ids, self.rng
        u = self.carol
        key = ids.asia()
        t = self.jitter(start, 30, 90)
        ident = user_identity_console(u, key, start)
        self.add(t=t, source="iam.amazonaws.com", name="ListAccessKeys", region="us-east-1",
                 identity=ident, ip=OFFICE_IP, ua="AWS Internal", req={"userName": u.name},
                 resp=None, read_only=True, console=True)
        t = self.jitter(t, 20, 60)
        new_key = ids.akia()
        r = self.add(t=t, source="iam.amazonaws.com", name="CreateAccessKey", region="us-east-1",
                     identity=ident, ip=OFFICE_IP, ua="AWS Internal", req={"userName": u.name},
                     resp={"accessKey": {"accessKeyId": new_key, "status": "Active",
                                         "userName": u.name, "createDate": java_date(t)}},
                     read_only=False, console=True)
        self.facts["rotation"] = {"user": u.name, "new_access_key_id": new_key,
                                  "old_access_key_id": self.carol_old_key,
                                  "event_id": r["eventID"], "time": r["eventTime"]}
        t = self.jitter(t, 240, 420)
        self.add(t=t, source="iam.amazonaws.com", name="UpdateAccessKey", region="us-east-1",
                 identity=ident, ip=OFFICE_IP, ua="AWS Internal",
                 req={"userName": u.name, "accessKeyId": self.carol_old_key, "status": "Inactive"},
                 resp=None, read_only=False, console=True)
        return t

    # -- CI pipeline --------------------------------------------------------
    def ci_run(self, start: dt.datetime) -> None:
        ids, rng = self.ids, self.rng
        session = f"gha-{rng.randrange(16_800_000_000, 17_900_000_000)}-1"
        t = start
        role_key = ids.asia()
        exp = t + dt.timedelta(hours=1)
        role_arn = f"arn:aws:iam::{ACCOUNT}:role/ci-deploy"
        self.add(t=t, source="sts.amazonaws.com", name="AssumeRole", region="us-east-1",
                 identity=user_identity_iam_key(self.ci_user, self.ci_key), ip=CI_IP, ua=UA_CI,
                 req={"roleArn": role_arn, "roleSessionName": session, "durationSeconds": 3600},
                 resp={"credentials": {"accessKeyId": role_key, "sessionToken": ids.session_token(),
                                       "expiration": java_date(exp, comma=True)},
                       "assumedRoleUser": {"assumedRoleId": f"{self.ci_role_id}:{session}",
                                           "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deploy/{session}"}},
                 read_only=True,
                 resources=[{"accountId": ACCOUNT, "type": "AWS::IAM::Role", "ARN": role_arn}],
                 host="sts.us-east-1.amazonaws.com")
        ident = lambda: user_identity_role("ci-deploy", self.ci_role_id, session, role_key, start)  # noqa: E731
        repo = rng.choice(["web-frontend", "orders-api", "billing-worker"])
        calls = [("ecr.amazonaws.com", "GetAuthorizationToken", {"registryIds": [ACCOUNT]}),
                 ("ecr.amazonaws.com", "DescribeRepositories", {"repositoryNames": [repo]}),
                 ("ecr.amazonaws.com", "BatchCheckLayerAvailability",
                  {"repositoryName": repo, "registryId": ACCOUNT,
                   "layerDigests": ["sha256:" + ids.hex(64) for _ in range(rng.randint(2, 4))]}),
                 ("ecr.amazonaws.com", "DescribeImages",
                  {"repositoryName": repo, "imageIds": [{"imageTag": "sha-" + ids.hex(7)}]})]
        if rng.random() < 0.7:
            calls += [("s3.amazonaws.com", "GetBucketLocation", None),
                      ("cloudformation.amazonaws.com", "DescribeStacks", {"stackName": "web-prod"}),
                      ("cloudformation.amazonaws.com", "GetTemplateSummary", {"stackName": "web-prod"}),
                      ("cloudformation.amazonaws.com", "DescribeStackEvents", {"stackName": "web-prod"}),
                      ("cloudformation.amazonaws.com", "DescribeStacks", {"stackName": "web-prod"})]
        for src, nm, req in calls:
            t = self.jitter(t, 1, 25)
            if src == "s3.amazonaws.com":
                b = "northwind-ci-artifacts"
                self.add(t=t, source=src, name=nm, region="us-east-1", identity=ident(), ip=CI_IP,
                         ua=UA_CI, req={"location": "", "bucketName": b, "Host": f"{b}.s3.amazonaws.com"},
                         resp=None, read_only=True, additional=s3_additional(ids, 137),
                         request_id=ids.s3_request_id(),
                         resources=[{"accountId": ACCOUNT, "type": "AWS::S3::Bucket",
                                     "ARN": f"arn:aws:s3:::{b}"}], host=f"{b}.s3.amazonaws.com")
            else:
                self.add(t=t, source=src, name=nm, region="us-east-1", identity=ident(), ip=CI_IP,
                         ua=UA_CI_CFN if src.startswith("cloudformation") else UA_CI,
                         req=req, resp=None, read_only=True)

    # -- EC2 instance role (application) --------------------------------------
    def app_calls(self, day: dt.date, region: str, n: int) -> None:
        ids, rng = self.ids, self.rng
        keys = self.kms_keys[region]
        nat = NAT_US if region == "us-east-1" else NAT_EU
        sessions = ["i-0" + ids.hex(16) for _ in range(3)]
        role_keys = {s: ids.asia() for s in sessions}
        starts = {s: at(day, rng.randrange(0, 6), rng.randrange(60)) for s in sessions}
        for _ in range(n):
            s = rng.choice(sessions)
            t = at(day, 6, 0) + dt.timedelta(seconds=rng.randrange(0, 17 * 3600))
            ident = user_identity_role("app-server", self.app_role_id, s, role_keys[s],
                                       starts[s], ec2_delivery=True)
            kid = rng.choice(keys)
            karn = f"arn:aws:kms:{region}:{ACCOUNT}:key/{kid}"
            kind = rng.randrange(6)
            if kind <= 1:
                self.add(t=t, source="kms.amazonaws.com", name="Decrypt", region=region,
                         identity=ident, ip=nat, ua=UA_APP.format(api="KMS"),
                         req={"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                              "encryptionContext": {"service": "orders-api", "env": "prod"}},
                         resp=None, read_only=True,
                         resources=[{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": karn}])
            elif kind == 2:
                # S3 using the role's KMS key for SSE-KMS (invokedBy s3)
                b = "northwind-data-lake-raw" if region == "us-east-1" else "northwind-backups-eu"
                ident2 = dict(ident)
                ident2["invokedBy"] = "s3.amazonaws.com"
                self.add(t=t, source="kms.amazonaws.com", name="GenerateDataKey", region=region,
                         identity=ident2, ip="s3.amazonaws.com", ua="s3.amazonaws.com",
                         req={"keyId": karn, "encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{b}/orders/{day.isoformat()}/{ids.hex(12)}.parquet"},
                              "keySpec": "AES_256"},
                         resp=None, read_only=True, tls=None,
                         resources=[{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": karn}])
            elif kind == 3:
                name = rng.choice(["/prod/orders-api/db-host", "/prod/orders-api/feature-flags",
                                   "/prod/shared/log-level"])
                self.add(t=t, source="ssm.amazonaws.com", name="GetParameter", region=region,
                         identity=ident, ip=nat, ua=UA_APP.format(api="SSM"),
                         req={"name": name, "withDecryption": True}, resp=None, read_only=True)
            elif kind == 4:
                self.add(t=t, source="secretsmanager.amazonaws.com", name="GetSecretValue",
                         region=region, identity=ident, ip=nat, ua=UA_APP.format(api="SecretsManager"),
                         req={"secretId": f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:prod/orders-api/db-{ids.alnum(6)}"},
                         resp=None, read_only=True)
            else:
                self.add(t=t, source="sts.amazonaws.com", name="GetCallerIdentity", region=region,
                         identity=ident, ip=nat, ua=UA_APP.format(api="STS"), req=None, resp=None,
                         read_only=True)

    # -- autoscaling ------------------------------------------------------------
    def asg_launch(self, t: dt.datetime, region: str, group: str, count: int) -> None:
        ids, rng = self.ids, self.rng
        ident = user_identity_role("AWSServiceRoleForAutoScaling", self.asg_role_id, "AutoScaling",
                                   None, t - dt.timedelta(seconds=2),
                                   path="/aws-service-role/autoscaling.amazonaws.com/",
                                   invoked_by="autoscaling.amazonaws.com")
        lt = "lt-0" + ids.hex(16)
        for _ in range(count):
            t = self.jitter(t, 1, 20)
            az = rng.choice(AZS[region])
            ct = "fleet-" + ids.uuid()
            tags = [{"key": "aws:autoscaling:groupName", "value": group},
                    {"key": "aws:ec2launchtemplate:id", "value": lt},
                    {"key": "aws:ec2launchtemplate:version", "value": "14"}]
            req = {"instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]},
                   "blockDeviceMapping": {}, "availabilityZone": az,
                   "monitoring": {"enabled": False}, "subnetId": SUBNETS[region][az],
                   "disableApiTermination": False, "disableApiStop": False,
                   "clientToken": ct,
                   "tagSpecificationSet": {"items": [{"resourceType": "instance", "tags": [
                       {"key": "aws:autoscaling:groupName", "value": group}]}]},
                   "launchTemplate": {"launchTemplateId": lt, "version": "14"}}
            rid = ids.uuid()
            resp, _ = run_instances_response(ids, rng, t=t, region=region, request_id=rid,
                                             instance_type="m7i-flex.large",
                                             image_id=AMI_US if region == "us-east-1" else AMI_EU,
                                             az=az, count=1, client_token=ct,
                                             sg=(WEB_SG[region], "web-instances"), tags=tags)
            self.add(t=t, source="ec2.amazonaws.com", name="RunInstances", region=region,
                     identity=ident, ip="autoscaling.amazonaws.com", ua="autoscaling.amazonaws.com",
                     req=req, resp=resp, read_only=False, request_id=rid, tls=None)

    def asg_terminate(self, t: dt.datetime, region: str) -> None:
        ids = self.ids
        ident = user_identity_role("AWSServiceRoleForAutoScaling", self.asg_role_id, "AutoScaling",
                                   None, t - dt.timedelta(seconds=1),
                                   path="/aws-service-role/autoscaling.amazonaws.com/",
                                   invoked_by="autoscaling.amazonaws.com")
        iid = "i-0" + ids.hex(16)
        rid = ids.uuid()
        self.add(t=t, source="ec2.amazonaws.com", name="TerminateInstances", region=region,
                 identity=ident, ip="autoscaling.amazonaws.com", ua="autoscaling.amazonaws.com",
                 req={"instancesSet": {"items": [{"instanceId": iid}]}},
                 resp={"requestId": rid, "instancesSet": {"items": [{
                     "instanceId": iid, "currentState": {"code": 32, "name": "shutting-down"},
                     "previousState": {"code": 16, "name": "running"}}]}},
                 read_only=False, request_id=rid, tls=None)

    # -- service events (no userIdentity) ---------------------------------------
    def kms_rotation(self, t: dt.datetime, region: str, kid: str) -> None:
        karn = f"arn:aws:kms:{region}:{ACCOUNT}:key/{kid}"
        self.add(t=t, source="kms.amazonaws.com", name="RotateKey", region=region, identity=None,
                 ip="kms.amazonaws.com", ua="kms.amazonaws.com", req=None, resp=None,
                 read_only=False, event_type="AwsServiceEvent", request_id=None, tls=None,
                 resources=[{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": karn}],
                 service_details={"keyId": kid})

    # -- the legitimate owner of admin's key -----------------------------------
    def admin_owner(self, start: dt.datetime) -> None:
        ids, rng = self.ids, self.rng
        t = start
        seq = [("sts.amazonaws.com", "GetCallerIdentity", "us-east-1", None, "sts.get-caller-identity"),
               ("iam.amazonaws.com", "GetAccountSummary", "us-east-1", None, "iam.get-account-summary"),
               ("iam.amazonaws.com", "ListUsers", "us-east-1", None, "iam.list-users"),
               ("iam.amazonaws.com", "ListAttachedUserPolicies", "us-east-1",
                {"userName": "ci-deployer"}, "iam.list-attached-user-policies"),
               ("ec2.amazonaws.com", "DescribeInstances", "us-east-1",
                {"instancesSet": {}, "filterSet": {}}, "ec2.describe-instances"),
               ("ec2.amazonaws.com", "DescribeInstances", "eu-west-1",
                {"instancesSet": {}, "filterSet": {}}, "ec2.describe-instances"),
               ("ec2.amazonaws.com", "DescribeSecurityGroups", "us-east-1",
                {"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}},
                "ec2.describe-security-groups"),
               ("s3.amazonaws.com", "ListBuckets", "us-east-1", {"Host": "s3.amazonaws.com"}, "s3.ls"),
               ("cloudformation.amazonaws.com", "DescribeStacks", "us-east-1", None,
                "cloudformation.describe-stacks"),
               ("cloudformation.amazonaws.com", "DescribeStacks", "eu-west-1", None,
                "cloudformation.describe-stacks"),
               ("logs.amazonaws.com", "DescribeLogGroups", "us-east-1",
                {"logGroupNamePrefix": "/aws/lambda/"}, "logs.describe-log-groups"),
               ("iam.amazonaws.com", "GetUser", "us-east-1", None, "iam.get-user")]
        ident = user_identity_iam_key(self.admin, self.leaked_key)
        for src, nm, region, req, cmd in seq:
            t = self.jitter(t, 8, 160)
            ua = UA_OWNER.format(cmd=cmd)
            if src == "s3.amazonaws.com":
                self.add(t=t, source=src, name=nm, region=region, identity=ident, ip=OFFICE_IP,
                         ua=ua, req=req, resp=None, read_only=True,
                         additional=s3_additional(ids, 1893), request_id=ids.s3_request_id(),
                         host="s3.amazonaws.com")
            else:
                self.add(t=t, source=src, name=nm, region=region, identity=ident, ip=OFFICE_IP,
                         ua=ua, req=req, resp=None, read_only=True)

    # -- the attack ----------------------------------------------------------------
    def attack(self, start: dt.datetime) -> None:
        ids, rng = self.ids, self.rng
        ident = lambda: user_identity_iam_key(self.admin, self.leaked_key)  # noqa: E731
        ev = {}
        t = start
        ev["GetCallerIdentity"] = self.add(
            t=t, source="sts.amazonaws.com", name="GetCallerIdentity", region="us-east-1",
            identity=ident(), ip=ATTACKER_IP, ua=UA_ATTACKER.format(cmd="sts.get-caller-identity"),
            req=None, resp=None, read_only=True, host="sts.us-east-1.amazonaws.com")
        t += dt.timedelta(seconds=74)
        new_key = ids.akia()
        ev["CreateAccessKey"] = self.add(
            t=t, source="iam.amazonaws.com", name="CreateAccessKey", region="us-east-1",
            identity=ident(), ip=ATTACKER_IP, ua=UA_ATTACKER.format(cmd="iam.create-access-key"),
            req={"userName": "admin"},
            resp={"accessKey": {"accessKeyId": new_key, "status": "Active", "userName": "admin",
                                "createDate": java_date(t)}},
            read_only=False)
        user_data = "<sensitiveDataRemoved>"
        t += dt.timedelta(seconds=145)
        ct1 = ids.uuid()
        base_req = lambda itype, ct: {  # noqa: E731
            "instancesSet": {"items": [{"imageId": AMI_US, "minCount": 1, "maxCount": 1}]},
            "userData": user_data, "instanceType": itype, "blockDeviceMapping": {},
            "monitoring": {"enabled": False}, "disableApiTermination": False,
            "disableApiStop": False, "clientToken": ct}
        ev["RunInstances_refused"] = self.add(
            t=t, source="ec2.amazonaws.com", name="RunInstances", region="us-east-1",
            identity=ident(), ip=ATTACKER_IP, ua=UA_ATTACKER.format(cmd="ec2.run-instances"),
            error=("Client.InvalidParameterCombination",
                   "The specified instance type is not eligible for Free Tier. For a list of "
                   "Free Tier instance types, run 'describe-instance-types' with the filter "
                   "'free-tier-eligible=true'."),
            req=base_req("t2.micro", ct1), resp=None, read_only=False)
        t += dt.timedelta(seconds=28)
        ct2 = ids.uuid()
        rid = ids.uuid()
        resp, iids = run_instances_response(ids, rng, t=t, region="us-east-1", request_id=rid,
                                            instance_type="t3.micro", image_id=AMI_US,
                                            az="us-east-1c", count=1, client_token=ct2,
                                            sg=(DEFAULT_SG["us-east-1"], "default"))
        ev["RunInstances"] = self.add(
            t=t, source="ec2.amazonaws.com", name="RunInstances", region="us-east-1",
            identity=ident(), ip=ATTACKER_IP, ua=UA_ATTACKER.format(cmd="ec2.run-instances"),
            req=base_req("t3.micro", ct2), resp=resp, read_only=False, request_id=rid)
        self.facts.update({"new_access_key_id": new_key, "instance_ids": iids,
                           "attacker_events": ev})

    # -- the two days ---------------------------------------------------------------
    def build(self) -> list[dict]:
        rng = self.rng
        for day in (DAY1, DAY2):
            # console users: morning and afternoon sessions
            for u, ua, ip, (h, m) in ((self.alice, UA_BROWSER, OFFICE_IP, (8, 12)),
                                      (self.bob, UA_BROWSER_2, OFFICE_IP_2, (9, 3)),
                                      (self.alice, UA_BROWSER, OFFICE_IP, (13, 41)),
                                      (self.carol, UA_BROWSER, OFFICE_IP, (10, 27))):
                t0 = at(day, h, m + rng.randrange(0, 10), rng.randrange(60))
                self.console_login(u, t0, ua, ip)
                t_end = self.console_calls(u, t0, rng.randint(16, 28), ua, ip)
                if u is self.carol and day == DAY2:
                    self.carol_key_rotation(t_end)
            # CI pipeline runs during the working day
            for _ in range(rng.randint(9, 12)):
                self.ci_run(at(day, rng.randrange(7, 19), rng.randrange(60), rng.randrange(60)))
            # application role
            self.app_calls(day, "us-east-1", 34)
            self.app_calls(day, "eu-west-1", 12)
            # autoscaling: scale out in the morning, in at night
            m = lambda: rng.randrange(60)  # noqa: E731
            self.asg_launch(at(day, 7, m(), m()), "us-east-1", "web-asg", 2)
            self.asg_launch(at(day, 12, m(), m()), "us-east-1", "web-asg", 1)
            self.asg_launch(at(day, 8, m(), m()), "eu-west-1", "web-asg-eu", 1)
            self.asg_terminate(at(day, 20, m(), m()), "us-east-1")
            self.asg_terminate(at(day, 20, m(), m()), "us-east-1")
            self.asg_terminate(at(day, 21, m(), m()), "eu-west-1")
            # KMS automatic rotation (AwsServiceEvent, no userIdentity)
            self.kms_rotation(at(day, 3, 17, 44), "us-east-1", self.kms_keys["us-east-1"][0 if day == DAY1 else 1])
            if day == DAY2:
                self.kms_rotation(at(day, 4, 2, 9), "eu-west-1", self.kms_keys["eu-west-1"][0])
        # admin's owner, from the office, on the day of the incident
        self.admin_owner(at(DAY1, 15, 20, 5))
        self.admin_owner(at(DAY2, 10, 4, 51))
        # the attacker, that night
        self.attack(at(DAY2, 23, 12, 41))
        self.events.sort(key=lambda r: (r["eventTime"], r["eventID"]))
        return self.events


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------

def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def parse_ts(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def write_log_files(events: list[dict], out: Path, ids: Ids, rng: random.Random) -> list[dict]:
    """Batch events into ~5-minute files per region, as CloudTrail delivers them."""
    batches: dict[tuple[str, dt.datetime], list[dict]] = {}
    for r in events:
        t = parse_ts(r["eventTime"])
        start = t.replace(minute=t.minute - t.minute % 5, second=0)
        batches.setdefault((r["awsRegion"], start), []).append(r)
    files = []
    for (region, start), recs in sorted(batches.items()):
        # AWS delivers a few minutes after the batch closes; order inside a
        # file is only roughly chronological.
        delivered = start + dt.timedelta(minutes=5 + rng.randrange(0, 5), seconds=rng.randrange(60))
        recs = sorted(recs, key=lambda r: (r["eventTime"], rng.random()))
        if len(recs) > 2 and rng.random() < 0.3:
            i = rng.randrange(len(recs) - 1)
            recs[i], recs[i + 1] = recs[i + 1], recs[i]
        name = (f"{ACCOUNT}_CloudTrail_{region}_{delivered.strftime('%Y%m%dT%H%MZ')}_"
                f"{ids.alnum(16)}.json.gz")
        rel = (f"AWSLogs/{ACCOUNT}/CloudTrail/{region}/{delivered.strftime('%Y/%m/%d')}/{name}")
        raw = dumps({"Records": recs}).encode()
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(gz(raw))
        times = [r["eventTime"] for r in recs]
        files.append({"key": rel, "region": region, "delivered": delivered,
                      "sha256": hashlib.sha256(raw).hexdigest(),
                      "oldest": min(times), "newest": max(times), "count": len(recs)})
    return files


def write_digest(files: list[dict], out: Path, ids: Ids, region: str,
                 end: dt.datetime) -> str:
    """One hourly digest for `region` covering the hour before `end`."""
    start = end - dt.timedelta(hours=1)
    covered = [f for f in files if f["region"] == region and start <= f["delivered"] < end]
    prev_end = start
    prev_key = (f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/{region}/{prev_end.strftime('%Y/%m/%d')}/"
                f"{ACCOUNT}_CloudTrail-Digest_{region}_{TRAIL_NAME}_{region}_"
                f"{prev_end.strftime('%Y%m%dT%H%M%SZ')}.json.gz")
    key = (f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/{region}/{end.strftime('%Y/%m/%d')}/"
           f"{ACCOUNT}_CloudTrail-Digest_{region}_{TRAIL_NAME}_{region}_"
           f"{end.strftime('%Y%m%dT%H%M%SZ')}.json.gz")
    digest = {
        "awsAccountId": ACCOUNT,
        "digestStartTime": ts(start),
        "digestEndTime": ts(end),
        "digestS3Bucket": ORG_TRAIL_BUCKET,
        "digestS3Object": key,
        "digestPublicKeyFingerprint": ids.hex(32),
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": max(f["newest"] for f in covered),
        "oldestEventTime": min(f["oldest"] for f in covered),
        "previousDigestS3Bucket": ORG_TRAIL_BUCKET,
        "previousDigestS3Object": prev_key,
        "previousDigestHashValue": ids.hex(64),
        "previousDigestHashAlgorithm": "SHA-256",
        "previousDigestSignature": ids.hex(512),
        "logFiles": [{"s3Bucket": ORG_TRAIL_BUCKET, "s3Object": f["key"],
                      "hashValue": f["sha256"], "hashAlgorithm": "SHA-256",
                      "newestEventTime": f["newest"], "oldestEventTime": f["oldest"]}
                     for f in covered],
    }
    p = out / key
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(gz(dumps(digest).encode()))
    return key


DETAIL_TYPE = {"AwsApiCall": "AWS API Call via CloudTrail",
               "AwsConsoleSignIn": "AWS Console Sign In via CloudTrail",
               "AwsServiceEvent": "AWS Service Event via CloudTrail"}


# EventBridge's `source` for a CloudTrail event is "aws." + the eventSource's service
# prefix (its event reference: monitoring.amazonaws.com -> aws.monitoring).


def eventbridge_lines(events: list[dict], ids: Ids) -> str:
    lines = []
    for r in events:
        prefix = r["eventSource"].split(".")[0]
        env = {"version": "0", "id": ids.uuid(), "detail-type": DETAIL_TYPE[r["eventType"]],
               "source": "aws." + prefix, "account": ACCOUNT,
               "time": r["eventTime"], "region": r["awsRegion"], "resources": [], "detail": r}
        lines.append(dumps(env))
    return "\n".join(lines) + "\n"


def lookup_events(ev: dict, new_key: str, iids: list[str]) -> dict:
    def resources(name: str) -> list:
        if name == "CreateAccessKey":
            return [{"ResourceType": "AWS::IAM::AccessKey", "ResourceName": new_key},
                    {"ResourceType": "AWS::IAM::User", "ResourceName": "admin"}]
        if name == "RunInstances_ok":
            return [{"ResourceType": "AWS::EC2::Ami", "ResourceName": AMI_US}] + \
                   [{"ResourceType": "AWS::EC2::Instance", "ResourceName": i} for i in iids]
        if name == "RunInstances_refused":
            return [{"ResourceType": "AWS::EC2::Ami", "ResourceName": AMI_US}]
        return []
    out = []
    # LookupEvents returns the newest first
    for label in ("RunInstances", "RunInstances_refused", "CreateAccessKey", "GetCallerIdentity"):
        r = ev[label]
        res_label = "RunInstances_ok" if label == "RunInstances" else label
        out.append({"EventId": r["eventID"], "EventName": r["eventName"],
                    "ReadOnly": "true" if r["readOnly"] else "false",
                    "AccessKeyId": r["userIdentity"]["accessKeyId"],
                    "EventTime": parse_ts(r["eventTime"]).isoformat(),
                    "EventSource": r["eventSource"], "Username": r["userIdentity"]["userName"],
                    "Resources": resources(res_label), "CloudTrailEvent": dumps(r)})
    return {"Events": out}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                    help="output directory (default: this script's directory)")
    ap.add_argument("--self-test", action="store_true", help="check the key-id encoder and exit")
    args = ap.parse_args()
    self_test()
    if args.self_test:
        return 0

    sc = Scenario()
    events = sc.build()
    # every key id in the data must decode to this account
    for r in events:
        k = r.get("userIdentity", {}).get("accessKeyId")
        if k:
            assert account_from_key_id(k) == ACCOUNT, k
    assert account_from_key_id(sc.facts["new_access_key_id"]) == ACCOUNT

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if (out / "AWSLogs").exists():
        shutil.rmtree(out / "AWSLogs")
    out_rng = random.Random(SEED + 1)
    out_ids = Ids(out_rng)
    files = write_log_files(events, out, out_ids, out_rng)
    attack_t = parse_ts(sc.facts["attacker_events"]["RunInstances"]["eventTime"])
    digest_end = attack_t.replace(minute=0, second=0) + dt.timedelta(hours=1)
    # the digest for the hour whose files hold the attack; AWS names it by its end time
    digest_key = write_digest(files, out, out_ids, "us-east-1",
                              digest_end + dt.timedelta(minutes=9, seconds=17))
    (out / "eventbridge.jsonl").write_text(eventbridge_lines(events, out_ids))
    ev = sc.facts["attacker_events"]
    (out / "lookup-events.json").write_text(
        json.dumps(lookup_events(ev, sc.facts["new_access_key_id"], sc.facts["instance_ids"]),
                   indent=4) + "\n")
    expected = {
        "account": ACCOUNT,
        "leaked_access_key_id": sc.leaked_key,
        "leaked_user_arn": sc.admin.arn,
        "new_access_key_id": sc.facts["new_access_key_id"],
        "attacker_ip": ATTACKER_IP,
        "attacker_user_agent_contains": "kali",
        "office_ips": [OFFICE_IP, OFFICE_IP_2],
        "instance_ids": sc.facts["instance_ids"],
        "attacker_event_ids": {k: v["eventID"] for k, v in ev.items()},
        "attacker_event_times": {k: v["eventTime"] for k, v in ev.items()},
        "routine_key_rotation": sc.facts["rotation"],
        "expected_alerts": [
            {"event_name": "CreateAccessKey", "event_source": "iam.amazonaws.com",
             "severity": "critical", "count": 1,
             "event_ids": [ev["CreateAccessKey"]["eventID"]]},
            {"event_name": "RunInstances", "event_source": "ec2.amazonaws.com",
             "count": 2,
             "event_ids": [ev["RunInstances_refused"]["eventID"], ev["RunInstances"]["eventID"]]},
        ],
        "total_events": len(events),
        "log_files": len(files),
        "digest_files": 1,
        "digest_file": digest_key,
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    print(f"wrote {len(events)} events in {len(files)} log files + 1 digest to {out}")
    print(f"leaked key {sc.leaked_key}, new key {sc.facts['new_access_key_id']}, "
          f"instance {', '.join(sc.facts['instance_ids'])}, attacker {ATTACKER_IP}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
