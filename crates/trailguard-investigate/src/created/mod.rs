//! The blast radius: what a subject's successful calls created or opened (credentials,
//! users, policies, roles and trust, compute, key pairs, firewall rules, shared
//! snapshots and images, Lambda code), each with the event that did it.
//!
//! Only the few event names that create something are parsed further (their
//! parameters and response, once, into JSON values): every other event costs one
//! string comparison.

use serde::Serialize;
use serde_json::Value;
use trailguard_core::remedy::Permission;
use trailguard_core::Event;

/// One list per kind of thing, in the report's `created` object.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Created {
    pub access_keys: Vec<AccessKeyItem>,
    pub users: Vec<UserItem>,
    pub login_profiles: Vec<UserItem>,
    pub policies_attached: Vec<PolicyItem>,
    pub roles: Vec<RoleItem>,
    pub instances: Vec<InstanceItem>,
    pub key_pairs: Vec<NamedItem>,
    pub security_group_rules: Vec<RuleItem>,
    pub snapshots_images_shared: Vec<SharedItem>,
    pub lambda_functions: Vec<NamedItem>,
    /// Session credentials (`ASIA...`) from AssumeRole*, GetSessionToken,
    /// GetFederationToken.
    pub session_credentials: Vec<SessionItem>,
    /// MFA devices enabled for a user (`EnableMFADevice`): an attacker's device keeps
    /// console access after a password reset.
    pub mfa_devices: Vec<MfaItem>,
    /// Items not kept because a list reached its limit.
    #[serde(skip_serializing_if = "is_zero")]
    pub omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Where an item came from: every item carries the event that did it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    pub time: Option<String>,
    pub event_id: Option<String>,
    pub event_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AccessKeyItem {
    pub access_key_id: String,
    pub user_name: Option<String>,
    #[serde(flatten)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserItem {
    pub user_name: String,
    #[serde(flatten)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PolicyItem {
    /// `user/NAME`, `role/NAME` or `group/NAME`.
    pub target: String,
    /// A managed policy attached; `None` for an inline policy (see `policy_name`).
    pub policy_arn: Option<String>,
    pub policy_name: Option<String>,
    #[serde(flatten)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RoleItem {
    pub role_name: String,
    /// `created` or `trust policy updated`.
    pub change: &'static str,
    /// Principals the trust policy lets assume the role (as written in it).
    pub trusts: Vec<String>,
    #[serde(flatten)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MfaItem {
    pub user_name: String,
    pub serial_number: String,
    #[serde(flatten)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InstanceItem {
    pub instance_id: String,
    pub region: Option<String>,
    pub instance_type: Option<String>,
    #[serde(flatten)]
    pub origin: Origin,
}

/// A key pair or Lambda function: a name, where, and the event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NamedItem {
    pub name: String,
    pub region: Option<String>,
    #[serde(flatten)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleItem {
    pub group_id: String,
    /// `ingress` or `egress`.
    pub direction: &'static str,
    /// One line per permission: `tcp 22-22 from 0.0.0.0/0`.
    pub rules: Vec<String>,
    /// The same permissions, structured (what a remediation revokes).
    pub permissions: Vec<Permission>,
    pub region: Option<String>,
    #[serde(flatten)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SharedItem {
    pub resource_id: String,
    /// `snapshot`, `image` or `db-snapshot`.
    pub kind: &'static str,
    /// Accounts (or `all`) given access.
    pub shared_with: Vec<String>,
    pub region: Option<String>,
    #[serde(flatten)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionItem {
    pub access_key_id: String,
    /// The role assumed (AssumeRole*), else `None`.
    pub role_arn: Option<String>,
    /// The session's ARN (`assumed-role/...`, `federated-user/...`).
    pub arn: Option<String>,
    #[serde(flatten)]
    pub origin: Origin,
}

/// The event names worth a closer look, by event source (Lambda's carry API versions:
/// `CreateFunction20150331`, `UpdateFunctionCode20150331v2`).
fn interesting(source: &str, name: &str) -> bool {
    match source {
        "iam.amazonaws.com" => matches!(
            name,
            "CreateAccessKey"
                | "CreateUser"
                | "CreateLoginProfile"
                | "UpdateLoginProfile"
                | "AttachUserPolicy"
                | "AttachRolePolicy"
                | "AttachGroupPolicy"
                | "PutUserPolicy"
                | "PutRolePolicy"
                | "PutGroupPolicy"
                | "CreateRole"
                | "UpdateAssumeRolePolicy"
                | "EnableMFADevice"
        ),
        "sts.amazonaws.com" => {
            name.starts_with("AssumeRole")
                || name == "GetSessionToken"
                || name == "GetFederationToken"
        }
        "ec2.amazonaws.com" => matches!(
            name,
            "RunInstances"
                | "CreateKeyPair"
                | "ImportKeyPair"
                | "AuthorizeSecurityGroupIngress"
                | "AuthorizeSecurityGroupEgress"
                | "ModifySnapshotAttribute"
                | "ModifyImageAttribute"
        ),
        "rds.amazonaws.com" => {
            name == "ModifyDBSnapshotAttribute" || name == "ModifyDBClusterSnapshotAttribute"
        }
        "lambda.amazonaws.com" => {
            name.starts_with("CreateFunction")
                || name.starts_with("UpdateFunctionCode")
                || name.starts_with("UpdateFunctionConfiguration")
                || name.starts_with("AddPermission")
        }
        _ => false,
    }
}

fn parse(raw: Option<&serde_json::value::RawValue>) -> Value {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or(Value::Null)
}

fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut v = v;
    for p in path {
        v = v.get(p)?;
    }
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `{"items": [...]}` (EC2's lists) or a bare array, as a slice.
fn items(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Array(a)) => a,
        Some(Value::Object(o)) => match o.get("items") {
            Some(Value::Array(a)) => a,
            _ => &[],
        },
        _ => &[],
    }
}

impl Created {
    /// Adds what `ev` (a call that succeeded) created, if anything.
    pub fn extract(&mut self, ev: &Event<'_>, limit: usize) {
        let (Some(source), Some(name)) = (ev.event_source(), ev.event_name()) else {
            return;
        };
        if !interesting(source, name) {
            return;
        }
        let origin = Origin {
            time: ev.time_str().map(str::to_owned),
            event_id: ev.event_id().map(str::to_owned),
            event_name: Some(name.to_owned()),
        };
        let req = parse(ev.record.request_parameters);
        let resp = parse(ev.record.response_elements);
        let region = ev.region().map(str::to_owned);
        let before = self.len();
        self.extract_parsed(source, name, &req, &resp, origin, region);
        // Over the limit: keep the count, not the items (merged lists are cut later).
        while self.len() > before && self.len_max() > limit {
            self.pop_last_added();
        }
    }

    fn extract_parsed(
        &mut self,
        source: &str,
        name: &str,
        req: &Value,
        resp: &Value,
        origin: Origin,
        region: Option<String>,
    ) {
        match (source, name) {
            (_, "CreateAccessKey") => {
                if let Some(id) = text(resp, &["accessKey", "accessKeyId"]) {
                    self.access_keys.push(AccessKeyItem {
                        access_key_id: id,
                        user_name: text(resp, &["accessKey", "userName"])
                            .or_else(|| text(req, &["userName"])),
                        origin,
                    });
                }
            }
            (_, "CreateUser") => {
                if let Some(u) =
                    text(req, &["userName"]).or_else(|| text(resp, &["user", "userName"]))
                {
                    self.users.push(UserItem {
                        user_name: u,
                        origin,
                    });
                }
            }
            (_, "CreateLoginProfile" | "UpdateLoginProfile") => {
                if let Some(u) =
                    text(req, &["userName"]).or_else(|| text(resp, &["loginProfile", "userName"]))
                {
                    self.login_profiles.push(UserItem {
                        user_name: u,
                        origin,
                    });
                }
            }
            ("iam.amazonaws.com", n) if n.starts_with("Attach") || n.starts_with("Put") => {
                let target = [
                    ("userName", "user"),
                    ("roleName", "role"),
                    ("groupName", "group"),
                ]
                .iter()
                .find_map(|(k, kind)| text(req, &[k]).map(|v| format!("{kind}/{v}")));
                if let Some(target) = target {
                    self.policies_attached.push(PolicyItem {
                        target,
                        policy_arn: text(req, &["policyArn"]),
                        policy_name: text(req, &["policyName"]),
                        origin,
                    });
                }
            }
            (_, "EnableMFADevice") => {
                if let (Some(user_name), Some(serial_number)) =
                    (text(req, &["userName"]), text(req, &["serialNumber"]))
                {
                    self.mfa_devices.push(MfaItem {
                        user_name,
                        serial_number,
                        origin,
                    });
                }
            }
            (_, "CreateRole" | "UpdateAssumeRolePolicy") => {
                let Some(role) = text(req, &["roleName"]) else {
                    return;
                };
                let doc = req
                    .get("assumeRolePolicyDocument")
                    .or_else(|| req.get("policyDocument"));
                self.roles.push(RoleItem {
                    role_name: role,
                    change: if name == "CreateRole" {
                        "created"
                    } else {
                        "trust policy updated"
                    },
                    trusts: trusted_principals(doc),
                    origin,
                });
            }
            ("sts.amazonaws.com", _) => {
                if let Some(id) = text(resp, &["credentials", "accessKeyId"]) {
                    let arn = text(resp, &["assumedRoleUser", "arn"])
                        .or_else(|| text(resp, &["federatedUser", "arn"]));
                    self.session_credentials.push(SessionItem {
                        access_key_id: id,
                        role_arn: text(req, &["roleArn"]),
                        arn,
                        origin,
                    });
                }
            }
            (_, "RunInstances") => {
                for i in items(resp.get("instancesSet")) {
                    if let Some(id) = text(i, &["instanceId"]) {
                        self.instances.push(InstanceItem {
                            instance_id: id,
                            region: region.clone(),
                            instance_type: text(i, &["instanceType"])
                                .or_else(|| text(req, &["instanceType"])),
                            origin: origin.clone(),
                        });
                    }
                }
            }
            (_, "CreateKeyPair" | "ImportKeyPair") => {
                if let Some(k) = text(req, &["keyName"]).or_else(|| text(resp, &["keyName"])) {
                    self.key_pairs.push(NamedItem {
                        name: k,
                        region,
                        origin,
                    });
                }
            }
            (_, "AuthorizeSecurityGroupIngress" | "AuthorizeSecurityGroupEgress") => {
                let group = text(req, &["groupId"]).or_else(|| text(req, &["groupName"]));
                if let Some(group_id) = group {
                    self.security_group_rules.push(RuleItem {
                        group_id,
                        direction: if name.ends_with("Ingress") {
                            "ingress"
                        } else {
                            "egress"
                        },
                        rules: permissions(req),
                        permissions: structured_permissions(req),
                        region,
                        origin,
                    });
                }
            }
            (_, "ModifySnapshotAttribute" | "ModifyImageAttribute") => {
                let (id_key, attr, kind) = if name == "ModifySnapshotAttribute" {
                    ("snapshotId", "createVolumePermission", "snapshot")
                } else {
                    ("imageId", "launchPermission", "image")
                };
                let added = items(req.get(attr).and_then(|p| p.get("add")));
                let shared_with: Vec<String> = added
                    .iter()
                    .filter_map(|a| text(a, &["userId"]).or_else(|| text(a, &["group"])))
                    .collect();
                if let (Some(id), false) = (text(req, &[id_key]), shared_with.is_empty()) {
                    self.snapshots_images_shared.push(SharedItem {
                        resource_id: id,
                        kind,
                        shared_with,
                        region,
                        origin,
                    });
                }
            }
            ("rds.amazonaws.com", _) => {
                let id = text(req, &["dBSnapshotIdentifier"])
                    .or_else(|| text(req, &["dBClusterSnapshotIdentifier"]));
                let shared_with: Vec<String> = items(req.get("valuesToAdd"))
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect();
                if let (Some(id), false) = (id, shared_with.is_empty()) {
                    self.snapshots_images_shared.push(SharedItem {
                        resource_id: id,
                        kind: "db-snapshot",
                        shared_with,
                        region,
                        origin,
                    });
                }
            }
            ("lambda.amazonaws.com", _) => {
                if let Some(f) =
                    text(req, &["functionName"]).or_else(|| text(resp, &["functionName"]))
                {
                    self.lambda_functions.push(NamedItem {
                        name: f,
                        region,
                        origin,
                    });
                }
            }
            _ => {}
        }
    }

    fn lens(&self) -> [usize; 12] {
        [
            self.access_keys.len(),
            self.users.len(),
            self.login_profiles.len(),
            self.policies_attached.len(),
            self.roles.len(),
            self.instances.len(),
            self.key_pairs.len(),
            self.security_group_rules.len(),
            self.snapshots_images_shared.len(),
            self.lambda_functions.len(),
            self.session_credentials.len(),
            self.mfa_devices.len(),
        ]
    }

    /// Items in all lists.
    pub fn len(&self) -> usize {
        self.lens().iter().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn len_max(&self) -> usize {
        self.lens().into_iter().max().unwrap_or(0)
    }

    /// Drops the last item of the longest list, counting it as omitted.
    fn pop_last_added(&mut self) {
        let lens = self.lens();
        let Some((i, _)) = lens.iter().enumerate().max_by_key(|(_, n)| **n) else {
            return;
        };
        match i {
            0 => drop(self.access_keys.pop()),
            1 => drop(self.users.pop()),
            2 => drop(self.login_profiles.pop()),
            3 => drop(self.policies_attached.pop()),
            4 => drop(self.roles.pop()),
            5 => drop(self.instances.pop()),
            6 => drop(self.key_pairs.pop()),
            7 => drop(self.security_group_rules.pop()),
            8 => drop(self.snapshots_images_shared.pop()),
            9 => drop(self.lambda_functions.pop()),
            10 => drop(self.session_credentials.pop()),
            _ => drop(self.mfa_devices.pop()),
        }
        self.omitted += 1;
    }

    pub fn merge(&mut self, o: Created, limit: usize) {
        fn cat<T>(a: &mut Vec<T>, b: Vec<T>, limit: usize, omitted: &mut u64) {
            for item in b {
                if a.len() < limit {
                    a.push(item);
                } else {
                    *omitted += 1;
                }
            }
        }
        let om = &mut self.omitted;
        *om += o.omitted;
        cat(&mut self.access_keys, o.access_keys, limit, om);
        cat(&mut self.users, o.users, limit, om);
        cat(&mut self.login_profiles, o.login_profiles, limit, om);
        cat(&mut self.policies_attached, o.policies_attached, limit, om);
        cat(&mut self.roles, o.roles, limit, om);
        cat(&mut self.instances, o.instances, limit, om);
        cat(&mut self.key_pairs, o.key_pairs, limit, om);
        cat(
            &mut self.security_group_rules,
            o.security_group_rules,
            limit,
            om,
        );
        cat(
            &mut self.snapshots_images_shared,
            o.snapshots_images_shared,
            limit,
            om,
        );
        cat(&mut self.lambda_functions, o.lambda_functions, limit, om);
        cat(
            &mut self.session_credentials,
            o.session_credentials,
            limit,
            om,
        );
        cat(&mut self.mfa_devices, o.mfa_devices, limit, om);
    }

    /// Time order (then event id); one item per event and thing when the same event
    /// was delivered twice.
    pub fn finish(&mut self) {
        macro_rules! tidy {
            ($v:expr, $key:expr) => {{
                $v.sort_by(|a, b| (&a.origin, $key(a)).cmp(&(&b.origin, $key(b))));
                $v.dedup_by(|a, b| a.origin.event_id.is_some() && a == b);
            }};
        }
        tidy!(self.access_keys, |i: &AccessKeyItem| i
            .access_key_id
            .clone());
        tidy!(self.users, |i: &UserItem| i.user_name.clone());
        tidy!(self.login_profiles, |i: &UserItem| i.user_name.clone());
        tidy!(self.policies_attached, |i: &PolicyItem| i.target.clone());
        tidy!(self.roles, |i: &RoleItem| i.role_name.clone());
        tidy!(self.instances, |i: &InstanceItem| i.instance_id.clone());
        tidy!(self.key_pairs, |i: &NamedItem| i.name.clone());
        tidy!(self.security_group_rules, |i: &RuleItem| i.group_id.clone());
        tidy!(self.snapshots_images_shared, |i: &SharedItem| i
            .resource_id
            .clone());
        tidy!(self.lambda_functions, |i: &NamedItem| i.name.clone());
        tidy!(self.session_credentials, |i: &SessionItem| i
            .access_key_id
            .clone());
        tidy!(self.mfa_devices, |i: &MfaItem| i.serial_number.clone());
    }
}

/// The principals a trust policy names (`Principal: {"AWS": [...], "Service": ...}` or
/// `"*"`), as written. The document comes as a JSON string in CloudTrail.
fn trusted_principals(doc: Option<&Value>) -> Vec<String> {
    let parsed;
    let doc = match doc {
        Some(Value::String(s)) => {
            parsed = serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
            &parsed
        }
        Some(v) => v,
        None => return Vec::new(),
    };
    let mut out = Vec::new();
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    for st in statements {
        match st.get("Principal") {
            Some(Value::String(s)) => out.push(s.clone()),
            Some(Value::Object(o)) => {
                for v in o.values() {
                    match v {
                        Value::String(s) => out.push(s.clone()),
                        Value::Array(a) => {
                            out.extend(a.iter().filter_map(|x| x.as_str().map(str::to_owned)))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `ipPermissions` of a security group call, one line each.
fn permissions(req: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for p in items(req.get("ipPermissions")) {
        let proto = text(p, &["ipProtocol"]).unwrap_or_else(|| "?".into());
        let proto = if proto == "-1" { "all".into() } else { proto };
        let ports = match (text(p, &["fromPort"]), text(p, &["toPort"])) {
            (Some(f), Some(t)) if f == t => format!(" {f}"),
            (Some(f), Some(t)) => format!(" {f}-{t}"),
            _ => String::new(),
        };
        let mut from: Vec<String> = Vec::new();
        for r in items(p.get("ipRanges")) {
            from.extend(text(r, &["cidrIp"]));
        }
        for r in items(p.get("ipv6Ranges")) {
            from.extend(text(r, &["cidrIpv6"]));
        }
        for g in items(p.get("groups")) {
            from.extend(text(g, &["groupId"]));
        }
        out.push(format!("{proto}{ports} from {}", from.join(", ")));
    }
    // The single-rule form (`cidrIp`, `ipProtocol`, ports at the top level).
    if out.is_empty() {
        if let Some(cidr) = text(req, &["cidrIp"]) {
            let proto = text(req, &["ipProtocol"]).unwrap_or_else(|| "all".into());
            out.push(format!("{proto} from {cidr}"));
        }
    }
    out
}

/// `ipPermissions` of a security group call, structured; the single-rule form
/// (`cidrIp` at the top level) too.
fn structured_permissions(req: &Value) -> Vec<Permission> {
    let port = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64).map(|n| n as i32);
    let mut out: Vec<Permission> = items(req.get("ipPermissions"))
        .iter()
        .map(|p| Permission {
            protocol: text(p, &["ipProtocol"]).unwrap_or_else(|| "-1".into()),
            from_port: port(p, "fromPort"),
            to_port: port(p, "toPort"),
            cidrs: items(p.get("ipRanges"))
                .iter()
                .filter_map(|r| text(r, &["cidrIp"]))
                .collect(),
            ipv6_cidrs: items(p.get("ipv6Ranges"))
                .iter()
                .filter_map(|r| text(r, &["cidrIpv6"]))
                .collect(),
            groups: items(p.get("groups"))
                .iter()
                .filter_map(|g| text(g, &["groupId"]))
                .collect(),
        })
        .collect();
    if out.is_empty() {
        if let Some(cidr) = text(req, &["cidrIp"]) {
            out.push(Permission {
                protocol: text(req, &["ipProtocol"]).unwrap_or_else(|| "-1".into()),
                from_port: port(req, "fromPort"),
                to_port: port(req, "toPort"),
                cidrs: vec![cidr],
                ipv6_cidrs: vec![],
                groups: vec![],
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
