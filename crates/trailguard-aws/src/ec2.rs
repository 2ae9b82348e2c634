//! The EC2 side of a plan, each call in the region of its resources: tags,
//! stopping or terminating instances, revoking firewall rules, undoing shares.

use aws_sdk_ec2::types::{
    ImageAttributeName, InstanceStateName, IpPermission, IpRange, Ipv6Range, OperationType,
    PermissionGroup, SnapshotAttributeName, Tag, UserIdGroupPair,
};
use aws_sdk_ec2::Client;
use trailguard_core::remedy::{Action, Direction, Permission, Resource, StepState};

use crate::error::{classify, AwsError};

type Result<T> = std::result::Result<T, AwsError>;

/// The region an EC2 action runs in; `None` for IAM actions.
pub(crate) fn region_of(action: &Action) -> Option<&str> {
    match action {
        Action::Tag {
            resource: Resource::Instances { region, .. },
            ..
        }
        | Action::StopInstances { region, .. }
        | Action::TerminateInstances { region, .. }
        | Action::RevokeSecurityGroupRule { region, .. }
        | Action::UnshareSnapshot { region, .. }
        | Action::UnshareImage { region, .. } => Some(region),
        _ => None,
    }
}

/// The state of each instance that still exists.
async fn states(c: &Client, ids: &[String]) -> Result<Vec<(String, InstanceStateName)>> {
    let mut out = Vec::new();
    // One at a time: a single missing id fails a batched call for all of them.
    for id in ids {
        let r = c.describe_instances().instance_ids(id).send().await;
        let r = match r.map_err(|e| classify(e, "ec2:DescribeInstances")) {
            Ok(r) => r,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e),
        };
        for res in r.reservations() {
            for i in res.instances() {
                if let (Some(id), Some(state)) = (i.instance_id(), i.state().and_then(|s| s.name()))
                {
                    out.push((id.to_string(), state.clone()));
                }
            }
        }
    }
    Ok(out)
}

/// The ids among `ids` that still exist (a call naming a missing one fails whole).
async fn existing(c: &Client, ids: &[String]) -> Result<Vec<String>> {
    Ok(states(c, ids)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect())
}

fn ip_permission(p: &Permission) -> IpPermission {
    let mut b = IpPermission::builder().ip_protocol(&p.protocol);
    if let Some(f) = p.from_port {
        b = b.from_port(f);
    }
    if let Some(t) = p.to_port {
        b = b.to_port(t);
    }
    for c in &p.cidrs {
        b = b.ip_ranges(IpRange::builder().cidr_ip(c).build());
    }
    for c in &p.ipv6_cidrs {
        b = b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).build());
    }
    for g in &p.groups {
        b = b.user_id_group_pairs(UserIdGroupPair::builder().group_id(g).build());
    }
    b.build()
}

/// Whether any source of `p` is still allowed by the group's rules.
fn still_open(rules: &[IpPermission], p: &Permission) -> bool {
    let proto = |r: &IpPermission| r.ip_protocol().unwrap_or("-1").to_string();
    rules.iter().any(|r| {
        proto(r) == p.protocol
            && (p.protocol == "-1" || (r.from_port() == p.from_port && r.to_port() == p.to_port))
            && (p
                .cidrs
                .iter()
                .any(|c| r.ip_ranges().iter().any(|x| x.cidr_ip() == Some(c)))
                || p.ipv6_cidrs
                    .iter()
                    .any(|c| r.ipv6_ranges().iter().any(|x| x.cidr_ipv6() == Some(c)))
                || p.groups.iter().any(|g| {
                    r.user_id_group_pairs()
                        .iter()
                        .any(|x| x.group_id() == Some(g))
                }))
    })
}

/// `all` (the public group) apart from account ids.
fn split_all(accounts: &[String]) -> (Vec<String>, Vec<String>) {
    let (all, users): (Vec<String>, Vec<String>) =
        accounts.iter().cloned().partition(|a| a == "all");
    (all, users)
}

/// Whether `id` is still shared with any of `accounts` (`all`: public), from its
/// permissions as (public group?, account id) pairs.
fn still_shared<'a>(
    id: &str,
    accounts: &[String],
    perms: impl Iterator<Item = (bool, Option<&'a str>)>,
) -> StepState {
    let (mut public, mut users) = (false, Vec::new());
    for (all, user) in perms {
        public |= all;
        users.extend(user);
    }
    let left: Vec<&str> = accounts
        .iter()
        .map(String::as_str)
        .filter(|a| {
            if *a == "all" {
                public
            } else {
                users.contains(a)
            }
        })
        .collect();
    if left.is_empty() {
        StepState::Done
    } else {
        StepState::ToDo(format!("{id}: stop sharing with {}", left.join(", ")))
    }
}

pub(crate) async fn check(c: &Client, action: &Action) -> Result<StepState> {
    Ok(match action {
        Action::Tag {
            resource: Resource::Instances { ids, .. },
            tags,
        } => {
            let mut missing = Vec::new();
            let existing = states(c, ids).await?;
            for (id, _) in &existing {
                let r = c
                    .describe_tags()
                    .filters(
                        aws_sdk_ec2::types::Filter::builder()
                            .name("resource-id")
                            .values(id)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| classify(e, "ec2:DescribeTags"))?;
                let has = |k: &str, v: &str| {
                    r.tags()
                        .iter()
                        .any(|t| t.key() == Some(k) && t.value() == Some(v))
                };
                if !tags.iter().all(|(k, v)| has(k, v)) {
                    missing.push(id.clone());
                }
            }
            if existing.is_empty() {
                StepState::Gone(format!("instances {} do not exist", ids.join(", ")))
            } else if missing.is_empty() {
                StepState::Done
            } else {
                StepState::ToDo(format!("{} get the incident tag", missing.join(", ")))
            }
        }
        Action::StopInstances { instance_ids, .. }
        | Action::TerminateInstances { instance_ids, .. } => {
            let terminate = matches!(action, Action::TerminateInstances { .. });
            let existing = states(c, instance_ids).await?;
            let running: Vec<String> = existing
                .iter()
                .filter(|(_, s)| {
                    if terminate {
                        !matches!(
                            s,
                            InstanceStateName::Terminated | InstanceStateName::ShuttingDown
                        )
                    } else {
                        !matches!(
                            s,
                            InstanceStateName::Stopped
                                | InstanceStateName::Stopping
                                | InstanceStateName::Terminated
                                | InstanceStateName::ShuttingDown
                        )
                    }
                })
                .map(|(id, s)| format!("{id} ({})", s.as_str()))
                .collect();
            if existing.is_empty() {
                StepState::Gone(format!(
                    "instances {} do not exist",
                    instance_ids.join(", ")
                ))
            } else if running.is_empty() {
                StepState::Done
            } else {
                StepState::ToDo(format!(
                    "{} {}",
                    if terminate { "terminate" } else { "stop" },
                    running.join(", ")
                ))
            }
        }
        Action::RevokeSecurityGroupRule {
            group_id,
            direction,
            permission,
            ..
        } => {
            let r = c
                .describe_security_groups()
                .group_ids(group_id)
                .send()
                .await;
            let r = match r.map_err(|e| classify(e, "ec2:DescribeSecurityGroups")) {
                Ok(r) => r,
                Err(e) if e.is_not_found() => {
                    return Ok(StepState::Gone(format!(
                        "security group {group_id} does not exist"
                    )))
                }
                Err(e) => return Err(e),
            };
            let Some(g) = r.security_groups().first() else {
                return Ok(StepState::Gone(format!(
                    "security group {group_id} does not exist"
                )));
            };
            let rules = match direction {
                Direction::Ingress => g.ip_permissions(),
                Direction::Egress => g.ip_permissions_egress(),
            };
            if still_open(rules, permission) {
                StepState::ToDo(format!("{group_id}: revoke {permission}"))
            } else {
                StepState::Done
            }
        }
        Action::UnshareSnapshot {
            snapshot_id,
            accounts,
            ..
        } => {
            let r = c
                .describe_snapshot_attribute()
                .snapshot_id(snapshot_id)
                .attribute(SnapshotAttributeName::CreateVolumePermission)
                .send()
                .await;
            let r = match r.map_err(|e| classify(e, "ec2:DescribeSnapshotAttribute")) {
                Ok(r) => r,
                Err(e) if e.is_not_found() => {
                    return Ok(StepState::Gone(format!(
                        "snapshot {snapshot_id} does not exist"
                    )))
                }
                Err(e) => return Err(e),
            };
            let perms = r.create_volume_permissions().iter();
            still_shared(
                snapshot_id,
                accounts,
                perms.map(|p| (p.group() == Some(&PermissionGroup::All), p.user_id())),
            )
        }
        Action::UnshareImage {
            image_id, accounts, ..
        } => {
            let r = c
                .describe_image_attribute()
                .image_id(image_id)
                .attribute(ImageAttributeName::LaunchPermission)
                .send()
                .await;
            let r = match r.map_err(|e| classify(e, "ec2:DescribeImageAttribute")) {
                Ok(r) => r,
                Err(e) if e.is_not_found() => {
                    return Ok(StepState::Gone(format!("image {image_id} does not exist")))
                }
                Err(e) => return Err(e),
            };
            let perms = r.launch_permissions().iter();
            still_shared(
                image_id,
                accounts,
                perms.map(|p| (p.group() == Some(&PermissionGroup::All), p.user_id())),
            )
        }
        other => unreachable!("not an EC2 action: {other:?}"),
    })
}

pub(crate) async fn apply(c: &Client, action: &Action) -> Result<()> {
    match action {
        Action::Tag {
            resource: Resource::Instances { ids, .. },
            tags,
        } => {
            let existing = existing(c, ids).await?;
            let tags: Vec<Tag> = tags
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            c.create_tags()
                .set_resources(Some(existing))
                .set_tags(Some(tags))
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(e, "ec2:CreateTags"))
        }
        Action::StopInstances { instance_ids, .. } => {
            let existing = existing(c, instance_ids).await?;
            c.stop_instances()
                .set_instance_ids(Some(existing))
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(e, "ec2:StopInstances"))
        }
        Action::TerminateInstances { instance_ids, .. } => {
            let existing = existing(c, instance_ids).await?;
            c.terminate_instances()
                .set_instance_ids(Some(existing))
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(e, "ec2:TerminateInstances"))
        }
        Action::RevokeSecurityGroupRule {
            group_id,
            direction,
            permission,
            ..
        } => match direction {
            Direction::Ingress => c
                .revoke_security_group_ingress()
                .group_id(group_id)
                .ip_permissions(ip_permission(permission))
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(e, "ec2:RevokeSecurityGroupIngress")),
            Direction::Egress => c
                .revoke_security_group_egress()
                .group_id(group_id)
                .ip_permissions(ip_permission(permission))
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(e, "ec2:RevokeSecurityGroupEgress")),
        },
        // The operation-type form of both calls: every EC2 endpoint (and emulator)
        // takes it, while the structured one is newer.
        Action::UnshareSnapshot {
            snapshot_id,
            accounts,
            ..
        } => {
            let (groups, users) = split_all(accounts);
            c.modify_snapshot_attribute()
                .snapshot_id(snapshot_id)
                .attribute(SnapshotAttributeName::CreateVolumePermission)
                .operation_type(OperationType::Remove)
                .set_group_names((!groups.is_empty()).then_some(groups))
                .set_user_ids((!users.is_empty()).then_some(users))
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(e, "ec2:ModifySnapshotAttribute"))
        }
        Action::UnshareImage {
            image_id, accounts, ..
        } => {
            let (groups, users) = split_all(accounts);
            c.modify_image_attribute()
                .image_id(image_id)
                .attribute("launchPermission")
                .operation_type(OperationType::Remove)
                .set_user_groups((!groups.is_empty()).then_some(groups))
                .set_user_ids((!users.is_empty()).then_some(users))
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(e, "ec2:ModifyImageAttribute"))
        }
        other => unreachable!("not an EC2 action: {other:?}"),
    }
}
