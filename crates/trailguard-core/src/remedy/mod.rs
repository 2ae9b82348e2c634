//! The remediation plan, as pure data: what to change in the account, in which order,
//! why (the CloudTrail event ids), what it breaks for the key's owner, and the `aws`
//! command a person would type instead. Built from an investigation (by
//! `trailguard-investigate`), shown as a dry run, and carried out step by step by
//! [`execute`] against an [`Account`] (the AWS SDK one lives in `trailguard-aws`).
//!
//! Every [`Action`] is written so that carrying it out twice changes nothing the
//! second time: an account reports whether the step's effect is already there
//! ([`Account::check`]) before and after making it.

mod cli;
mod execute;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use cli::aws_cli;
pub use execute::{
    api_of, deny_all_policy, execute, revoke_sessions_policy, Account, AccountError, AuditRecord,
    Caller, Decision, ExecuteOptions, Guards, Outcome, StepReport, StepState, Summary,
    QUARANTINE_POLICY, REVOKE_SESSIONS_POLICY,
};

/// An IAM identity an action applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum Principal {
    User(String),
    Role(String),
    Group(String),
}

impl Principal {
    pub fn name(&self) -> &str {
        match self {
            Principal::User(n) | Principal::Role(n) | Principal::Group(n) => n,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Principal::User(_) => "user",
            Principal::Role(_) => "role",
            Principal::Group(_) => "group",
        }
    }

    /// The principal's ARN in `account` (IAM names are unique per account, whatever
    /// their path, so the path is left out: matching against a protected list
    /// compares names and kinds).
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:{}/{}", self.kind(), self.name())
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind(), self.name())
    }
}

/// Something the plan tags as evidence before anything is changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Resource {
    User { name: String },
    Role { name: String },
    Instances { region: String, ids: Vec<String> },
}

/// `ingress` or `egress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Ingress,
    Egress,
}

/// One permission of a security group rule, as `AuthorizeSecurityGroup*` gave it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Permission {
    /// `tcp`, `udp`, `icmp`, `-1` (all), or a protocol number.
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    /// IPv4 ranges.
    #[serde(default)]
    pub cidrs: Vec<String>,
    #[serde(default)]
    pub ipv6_cidrs: Vec<String>,
    /// Source (or destination) security groups.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proto = if self.protocol == "-1" {
            "all"
        } else {
            &self.protocol
        };
        write!(f, "{proto}")?;
        match (self.from_port, self.to_port) {
            (Some(a), Some(b)) if a == b => write!(f, " {a}")?,
            (Some(a), Some(b)) => write!(f, " {a}-{b}")?,
            _ => {}
        }
        let from: Vec<&str> = self
            .cidrs
            .iter()
            .chain(&self.ipv6_cidrs)
            .chain(&self.groups)
            .map(String::as_str)
            .collect();
        write!(f, " from {}", from.join(", "))
    }
}

/// What a step changes. Each is idempotent and can be checked afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Adds tags (changes nothing else) so the resources are found again later.
    Tag {
        resource: Resource,
        tags: BTreeMap<String, String>,
    },
    /// `UpdateAccessKey --status Inactive`: reversible, unlike deleting the key.
    DeactivateAccessKey {
        user: Option<String>,
        access_key_id: String,
    },
    /// An inline deny-all policy conditioned on `aws:TokenIssueTime` before the moment
    /// it is carried out: AWS's documented way to revoke temporary credentials.
    RevokeSessions {
        principal: Principal,
    },
    DeleteLoginProfile {
        user: String,
    },
    DetachPolicy {
        principal: Principal,
        policy_arn: String,
    },
    DeleteInlinePolicy {
        principal: Principal,
        policy_name: String,
    },
    DeactivateMfaDevice {
        user: String,
        serial_number: String,
    },
    StopInstances {
        region: String,
        instance_ids: Vec<String>,
    },
    TerminateInstances {
        region: String,
        instance_ids: Vec<String>,
    },
    RevokeSecurityGroupRule {
        region: String,
        group_id: String,
        direction: Direction,
        permission: Permission,
    },
    /// Removes `createVolumePermission` for these accounts (`all`: public).
    UnshareSnapshot {
        region: String,
        snapshot_id: String,
        accounts: Vec<String>,
    },
    /// Removes `launchPermission` for these accounts (`all`: public).
    UnshareImage {
        region: String,
        image_id: String,
        accounts: Vec<String>,
    },
    /// Every access key inactive, the console password removed, and an inline
    /// deny-all policy: the user can do nothing, and nothing is lost.
    DisableUser {
        user: String,
    },
    /// Deletes the user and what it holds (keys, password, policies, MFA, groups).
    DeleteUser {
        user: String,
    },
    /// An inline deny-all policy on a role: no session of it can do anything.
    QuarantineRole {
        role: String,
    },
    /// Deletes the role and its policies (and removes it from instance profiles).
    DeleteRole {
        role: String,
    },
    /// What a tool cannot do for you: listed, never carried out.
    Manual,
}

impl Action {
    /// A follow-up for a person: listed in the plan, never carried out.
    pub fn is_manual(&self) -> bool {
        matches!(self, Action::Manual)
    }

    /// The principals a step changes (for the protected list and the own-identity
    /// guard).
    pub fn principals(&self) -> Vec<Principal> {
        match self {
            Action::Tag { resource, .. } => match resource {
                Resource::User { name } => vec![Principal::User(name.clone())],
                Resource::Role { name } => vec![Principal::Role(name.clone())],
                Resource::Instances { .. } => vec![],
            },
            Action::DeactivateAccessKey { user, .. } => {
                user.iter().map(|u| Principal::User(u.clone())).collect()
            }
            Action::RevokeSessions { principal }
            | Action::DetachPolicy { principal, .. }
            | Action::DeleteInlinePolicy { principal, .. } => vec![principal.clone()],
            Action::DeleteLoginProfile { user }
            | Action::DeactivateMfaDevice { user, .. }
            | Action::DisableUser { user }
            | Action::DeleteUser { user } => vec![Principal::User(user.clone())],
            Action::QuarantineRole { role } | Action::DeleteRole { role } => {
                vec![Principal::Role(role.clone())]
            }
            _ => vec![],
        }
    }

    /// Resource ids (instances, groups, snapshots, images, keys) a step changes.
    pub fn resource_ids(&self) -> Vec<&str> {
        match self {
            Action::Tag {
                resource: Resource::Instances { ids, .. },
                ..
            } => ids.iter().map(String::as_str).collect(),
            Action::DeactivateAccessKey { access_key_id, .. } => vec![access_key_id],
            Action::StopInstances { instance_ids, .. }
            | Action::TerminateInstances { instance_ids, .. } => {
                instance_ids.iter().map(String::as_str).collect()
            }
            Action::RevokeSecurityGroupRule { group_id, .. } => vec![group_id],
            Action::UnshareSnapshot { snapshot_id, .. } => vec![snapshot_id],
            Action::UnshareImage { image_id, .. } => vec![image_id],
            _ => vec![],
        }
    }
}

/// The plan's sections, in the order they are carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Note and tag what was found, before anything changes.
    KeepEvidence,
    /// The leaked key.
    DeactivateLeakedKey,
    /// Keys in its lineage.
    DeactivateLineage,
    /// Temporary credentials issued before now.
    RevokeSessions,
    /// Console access, policies and MFA devices the attacker added.
    RemoveAccess,
    /// Instances and firewall rules.
    StopCompute,
    /// Snapshots and images made public or shared.
    Unshare,
    /// Users and roles the attacker created.
    DisableIdentities,
    /// Left to a person.
    FollowUp,
}

impl Phase {
    pub fn title(self) -> &'static str {
        match self {
            Phase::KeepEvidence => "Keep evidence",
            Phase::DeactivateLeakedKey => "Deactivate the leaked key",
            Phase::DeactivateLineage => "Deactivate the keys in its lineage",
            Phase::RevokeSessions => "Revoke sessions issued before now",
            Phase::RemoveAccess => "Remove the access the attacker added",
            Phase::StopCompute => "Stop the attacker's compute and close its firewall rules",
            Phase::Unshare => "Undo shares of snapshots and images",
            Phase::DisableIdentities => "Disable the users and roles the attacker created",
            Phase::FollowUp => "Follow-ups a tool cannot do",
        }
    }
}

/// One step: what, why, what it breaks, and the equivalent command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// 1-based, in plan order.
    pub n: usize,
    pub phase: Phase,
    pub title: String,
    #[serde(flatten)]
    pub action: Action,
    /// The evidence: CloudTrail event ids that call for this step.
    pub because: Vec<String>,
    /// Why, in a sentence.
    pub reason: String,
    /// What it breaks for the legitimate owner.
    pub risk: String,
    /// Deletes or terminates something (only planned with `--destructive`).
    pub destructive: bool,
    /// Steps that must have succeeded first (by `n`).
    pub depends_on: Vec<usize>,
    /// The equivalent `aws` CLI commands (empty for a manual step).
    pub aws_cli: Vec<String>,
}

/// The remediation plan for one investigation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The investigated subject (the leaked access key id).
    pub subject: String,
    pub account: Option<String>,
    /// The user the leaked key belongs to, when the events say.
    pub owner: Option<String>,
    /// Where the evidence came from (files, S3 objects): keep them.
    pub evidence_sources: Vec<String>,
    /// Whether deleting and terminating steps were planned (`--destructive`).
    pub destructive: bool,
    pub steps: Vec<Step>,
}

impl Plan {
    /// Steps that change something (not manual follow-ups).
    pub fn actionable(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| !s.action.is_manual())
    }
}
