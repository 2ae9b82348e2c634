"""Builds a compromised account in a moto server, and the CloudTrail records of it.

Usage: build_account.py ENDPOINT OUT_DIR [--deny ACTION]

The account: `admin` (the owner of the leaked key), the attacker's second key for
`admin`, a backdoor user `backdoor` (console password, AdministratorAccess, an
inline policy, a key, an MFA device), a key it made for the protected `ops-admin`,
a role trusting an outside account, instances in two regions, SSH opened to the
world, a snapshot made public. `responder` is the identity trailguard runs as
(the attacker made a key for it too, so the own-identity guard is exercised).
With --deny ACTION, `responder` is explicitly denied that action (the server must
enforce IAM then).

Writes OUT_DIR/logs/cloudtrail.json (the records) and OUT_DIR/ids.json (the ids,
and the responder's credentials for the test to run trailguard with).
"""

import json
import os
import sys
import uuid

import boto3

ENDPOINT = sys.argv[1]
OUT = sys.argv[2]
DENY = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--deny" else None
ACCOUNT = "123456789012"
ATTACKER_IP = "198.51.100.73"


def client(service, region="us-east-1", creds=None):
    creds = creds or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client(service, region_name=region, endpoint_url=ENDPOINT, **creds)


iam = client("iam")
records = []
minute = [0]


def record(key, user, source, name, region="us-east-1", req=None, resp=None):
    minute[0] += 1
    records.append(
        {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": "AIDAEXAMPLE",
                "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
                "accountId": ACCOUNT,
                "accessKeyId": key,
                "userName": user,
            },
            "eventTime": f"2026-11-20T23:{minute[0]:02d}:00Z",
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ATTACKER_IP,
            "userAgent": "aws-cli/2.15.30 exe/x86_64.kali.2024",
            "requestParameters": req,
            "responseElements": resp,
            "requestID": str(uuid.uuid4()),
            "eventID": f"ev-{name}-{minute[0]}",
            "eventType": "AwsApiCall",
            "recipientAccountId": ACCOUNT,
        }
    )


def new_key(user):
    k = iam.create_access_key(UserName=user)["AccessKey"]
    return k["AccessKeyId"], k["SecretAccessKey"]


# The responder first, with every right (and the denied action, if any).
iam.create_user(UserName="responder")
iam.put_user_policy(
    UserName="responder",
    PolicyName="ir",
    PolicyDocument=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
            + ([{"Effect": "Deny", "Action": DENY, "Resource": "*"}] if DENY else []),
        }
    ),
)
responder_key, responder_secret = new_key("responder")
# From here on, calls are signed by the responder (the server may enforce IAM).
creds = {"aws_access_key_id": responder_key, "aws_secret_access_key": responder_secret}
iam = client("iam", creds=creds)

for u in ["admin", "ops-admin"]:
    iam.create_user(UserName=u)
leaked, _ = new_key("admin")
ops_key, _ = new_key("ops-admin")

record(leaked, "admin", "sts.amazonaws.com", "GetCallerIdentity")
second, _ = new_key("admin")
record(leaked, "admin", "iam.amazonaws.com", "CreateAccessKey", req={"userName": "admin"},
       resp={"accessKey": {"accessKeyId": second, "userName": "admin", "status": "Active"}})

iam.create_user(UserName="backdoor")
record(leaked, "admin", "iam.amazonaws.com", "CreateUser", req={"userName": "backdoor"})
iam.create_login_profile(UserName="backdoor", Password="Attacker-Pass-123!")
record(leaked, "admin", "iam.amazonaws.com", "CreateLoginProfile",
       req={"userName": "backdoor", "passwordResetRequired": False})
admin_policy = "arn:aws:iam::aws:policy/AdministratorAccess"
iam.attach_user_policy(UserName="backdoor", PolicyArn=admin_policy)
record(leaked, "admin", "iam.amazonaws.com", "AttachUserPolicy",
       req={"userName": "backdoor", "policyArn": admin_policy})
iam.put_user_policy(UserName="backdoor", PolicyName="keep",
                    PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}))
record(leaked, "admin", "iam.amazonaws.com", "PutUserPolicy",
       req={"userName": "backdoor", "policyName": "keep"})
mfa = iam.create_virtual_mfa_device(VirtualMFADeviceName="evil")["VirtualMFADevice"]["SerialNumber"]
iam.enable_mfa_device(UserName="backdoor", SerialNumber=mfa, AuthenticationCode1="123456",
                      AuthenticationCode2="654321")
record(leaked, "admin", "iam.amazonaws.com", "EnableMFADevice",
       req={"userName": "backdoor", "serialNumber": mfa})
backdoor_key, _ = new_key("backdoor")
record(leaked, "admin", "iam.amazonaws.com", "CreateAccessKey", req={"userName": "backdoor"},
       resp={"accessKey": {"accessKeyId": backdoor_key, "userName": "backdoor"}})
ops_second, _ = new_key("ops-admin")
record(leaked, "admin", "iam.amazonaws.com", "CreateAccessKey", req={"userName": "ops-admin"},
       resp={"accessKey": {"accessKeyId": ops_second, "userName": "ops-admin"}})
responder_second, _ = new_key("responder")
record(leaked, "admin", "iam.amazonaws.com", "CreateAccessKey", req={"userName": "responder"},
       resp={"accessKey": {"accessKeyId": responder_second, "userName": "responder"}})

trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
    "AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}]})
iam.create_role(RoleName="evil-role", AssumeRolePolicyDocument=trust)
record(leaked, "admin", "iam.amazonaws.com", "CreateRole",
       req={"roleName": "evil-role", "assumeRolePolicyDocument": trust})

instances = {}
for region in ["us-east-1", "eu-west-1"]:
    ec2 = client("ec2", region, creds)
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    out = ec2.run_instances(ImageId=ami, InstanceType="p3.2xlarge", MinCount=2, MaxCount=2)
    ids = [i["InstanceId"] for i in out["Instances"]]
    instances[region] = ids
    record(leaked, "admin", "ec2.amazonaws.com", "RunInstances", region=region,
           req={"instanceType": "p3.2xlarge"},
           resp={"instancesSet": {"items": [{"instanceId": i, "instanceType": "p3.2xlarge"} for i in ids]}})

ec2 = client("ec2", "us-east-1", creds)
# An instance of the owner's, launched before: never touched.
own = ec2.run_instances(ImageId=ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"],
                        InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
sg = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
perm = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[perm])
# The owner's own rule on the same group: stays.
ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
record(leaked, "admin", "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress",
       req={"groupId": sg, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                                                        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}})
vol = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
snap = ec2.create_snapshot(VolumeId=vol)["SnapshotId"]
ec2.modify_snapshot_attribute(SnapshotId=snap, Attribute="createVolumePermission",
                              OperationType="add", GroupNames=["all"])
record(leaked, "admin", "ec2.amazonaws.com", "ModifySnapshotAttribute",
       req={"snapshotId": snap, "createVolumePermission": {"add": {"items": [{"group": "all"}]}}})

os.makedirs(os.path.join(OUT, "logs"), exist_ok=True)
with open(os.path.join(OUT, "logs", "cloudtrail.json"), "w") as f:
    json.dump({"Records": records}, f)
with open(os.path.join(OUT, "ids.json"), "w") as f:
    json.dump({
        "leaked": leaked, "second": second, "backdoor_key": backdoor_key, "ops_key": ops_key,
        "ops_second": ops_second, "responder_key": responder_key, "responder_secret": responder_secret,
        "responder_second": responder_second, "mfa": mfa, "instances": instances, "own_instance": own,
        "security_group": sg, "snapshot": snap,
    }, f)
