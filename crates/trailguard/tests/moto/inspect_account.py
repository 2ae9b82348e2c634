"""Prints the account state the respond test checks, as JSON (read through the API).

Usage: inspect_account.py ENDPOINT IDS_JSON
"""

import json
import sys

import boto3

ENDPOINT = sys.argv[1]
ids = json.load(open(sys.argv[2]))
creds = {"aws_access_key_id": ids["responder_key"], "aws_secret_access_key": ids["responder_secret"]}


def client(service, region="us-east-1"):
    return boto3.client(service, region_name=region, endpoint_url=ENDPOINT, **creds)


iam = client("iam")
state = {"keys": {}, "users": {}, "roles": {}, "instances": {}}
for u in ["admin", "ops-admin", "backdoor", "responder"]:
    for k in iam.list_access_keys(UserName=u)["AccessKeyMetadata"]:
        state["keys"][k["AccessKeyId"]] = k["Status"]
    try:
        iam.get_login_profile(UserName=u)
        login = True
    except iam.exceptions.NoSuchEntityException:
        login = False
    state["users"][u] = {
        "login_profile": login,
        "attached": [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=u)["AttachedPolicies"]],
        "inline": iam.list_user_policies(UserName=u)["PolicyNames"],
        "mfa": [d["SerialNumber"] for d in iam.list_mfa_devices(UserName=u)["MFADevices"]],
        "tags": {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=u)["Tags"]},
    }
state["roles"]["evil-role"] = {"inline": iam.list_role_policies(RoleName="evil-role")["PolicyNames"]}
doc = iam.get_user_policy(UserName="admin", PolicyName="TrailguardRevokeOlderSessions")["PolicyDocument"] \
    if "TrailguardRevokeOlderSessions" in state["users"]["admin"]["inline"] else None
state["admin_revoke_policy"] = doc
for region in ["us-east-1", "eu-west-1"]:
    ec2 = client("ec2", region)
    for r in ec2.describe_instances()["Reservations"]:
        for i in r["Instances"]:
            state["instances"][i["InstanceId"]] = {
                "state": i["State"]["Name"],
                "tags": {t["Key"]: t["Value"] for t in i.get("Tags", [])},
            }
ec2 = client("ec2")
g = ec2.describe_security_groups(GroupIds=[ids["security_group"]])["SecurityGroups"][0]
state["ingress_ports"] = sorted(p.get("FromPort", -1) for p in g["IpPermissions"])
perms = ec2.describe_snapshot_attribute(SnapshotId=ids["snapshot"], Attribute="createVolumePermission")
state["snapshot_shared_with"] = perms["CreateVolumePermissions"]
print(json.dumps(state, default=str))
