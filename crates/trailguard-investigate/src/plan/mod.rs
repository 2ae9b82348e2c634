//! From an investigation to a remediation [`Plan`]: every credential, identity,
//! policy, instance, firewall rule and share the report found becomes a step, in the
//! order an incident responder would take them (evidence first, then the leaked key,
//! its lineage, sessions, added access, compute, shares, identities, follow-ups).
//!
//! The plan depends on the report alone, so the same input gives the same plan.

mod render;

use std::collections::{BTreeMap, BTreeSet};

use trailguard_core::remedy::{aws_cli, Action, Direction, Phase, Plan, Principal, Resource, Step};

use crate::report::Report;

pub use render::{write_plan_markdown, write_plan_table};

/// How to plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Plan deletions and terminations instead of disabling and stopping.
    pub destructive: bool,
    /// The files or objects the investigation read (kept as evidence).
    pub evidence_sources: Vec<String>,
}

/// The tag key the evidence steps put on what the incident touched.
pub const INCIDENT_TAG: &str = "trailguard:incident";

/// A step before it is numbered.
struct Draft {
    phase: Phase,
    title: String,
    action: Action,
    because: BTreeSet<String>,
    reason: String,
    risk: String,
    destructive: bool,
    /// Evidence steps (by tagged resource) this one must wait for.
    after_tag: Option<Resource>,
}

/// The user name in an IAM user ARN (`arn:aws:iam::1:user/path/NAME`).
fn user_of_arn(arn: &str) -> Option<String> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let rest = resource.strip_prefix("user/")?;
    Some(rest.rsplit('/').next()?.to_string())
}

fn principal_of_target(target: &str) -> Option<Principal> {
    let (kind, name) = target.split_once('/')?;
    Some(match kind {
        "user" => Principal::User(name.to_string()),
        "role" => Principal::Role(name.to_string()),
        "group" => Principal::Group(name.to_string()),
        _ => return None,
    })
}

fn role_of_arn(arn: &str) -> Option<String> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let rest = resource.strip_prefix("role/")?;
    Some(rest.rsplit('/').next()?.to_string())
}

fn ids(id: &Option<String>) -> BTreeSet<String> {
    id.iter().cloned().collect()
}

/// Collects drafts, merging one action's evidence when several events call for it.
#[derive(Default)]
struct Drafts(Vec<Draft>);

impl Drafts {
    fn add(&mut self, d: Draft) {
        // One step per action (follow-ups, which carry no action, per title).
        let same =
            |x: &Draft| x.action == d.action && (!d.action.is_manual() || x.title == d.title);
        if let Some(same) = self.0.iter_mut().find(|x| same(x)) {
            same.because.extend(d.because);
            return;
        }
        self.0.push(d);
    }
}

/// Builds the plan for `report` (an access key investigation, with its lineage).
pub fn build_plan(report: &Report, options: &PlanOptions) -> Plan {
    let subject = report
        .subject
        .access_key_id
        .clone()
        .or_else(|| report.subject.principal_arn.clone())
        .unwrap_or_default();
    let owner = report
        .subject
        .principal_arn
        .as_deref()
        .and_then(user_of_arn);
    let all = report.walk();
    let mut d = Drafts::default();
    let tag = |resource: Resource, because: BTreeSet<String>, what: &str| Draft {
        phase: Phase::KeepEvidence,
        title: format!("Tag {what} as evidence"),
        action: Action::Tag {
            resource,
            tags: BTreeMap::from([(INCIDENT_TAG.to_string(), subject.clone())]),
        },
        because,
        reason: "marks what the incident touched, so it is found again before anything is changed"
            .into(),
        risk: "none: tags change nothing else".into(),
        destructive: false,
        after_tag: None,
    };

    // Identities the attacker created: never the owner's.
    let mut created_users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut created_roles: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &all {
        for u in &r.created.users {
            if Some(&u.user_name) != owner.as_ref() {
                created_users
                    .entry(u.user_name.clone())
                    .or_default()
                    .extend(ids(&u.origin.event_id));
            }
        }
        for role in r.created.roles.iter().filter(|x| x.change == "created") {
            created_roles
                .entry(role.role_name.clone())
                .or_default()
                .extend(ids(&role.origin.event_id));
        }
    }

    // 1. Evidence.
    if let Some(o) = &owner {
        d.add(tag(
            Resource::User { name: o.clone() },
            BTreeSet::new(),
            &format!("the key's owner {o}"),
        ));
    }
    for (u, ev) in &created_users {
        d.add(tag(
            Resource::User { name: u.clone() },
            ev.clone(),
            &format!("user {u}"),
        ));
    }
    for (role, ev) in &created_roles {
        d.add(tag(
            Resource::Role { name: role.clone() },
            ev.clone(),
            &format!("role {role}"),
        ));
    }
    let mut instances: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for r in &all {
        for i in &r.created.instances {
            let region = i.region.clone().unwrap_or_else(|| "us-east-1".into());
            instances
                .entry(region)
                .or_default()
                .entry(i.instance_id.clone())
                .or_default()
                .extend(ids(&i.origin.event_id));
        }
    }
    for (region, found) in &instances {
        d.add(tag(
            Resource::Instances {
                region: region.clone(),
                ids: found.keys().cloned().collect(),
            },
            found.values().flatten().cloned().collect(),
            &format!("{} instance(s) in {region}", found.len()),
        ));
    }

    // 2. The leaked key.
    if let Some(key) = report
        .subject
        .access_key_id
        .as_ref()
        .filter(|k| k.starts_with("AKIA"))
    {
        d.add(Draft {
            phase: Phase::DeactivateLeakedKey,
            title: format!("Deactivate the leaked key {key}"),
            action: Action::DeactivateAccessKey {
                user: owner.clone(),
                access_key_id: key.clone(),
            },
            because: report
                .alerts
                .iter()
                .flat_map(|a| a.event_ids.iter().take(3).cloned())
                .collect(),
            reason: "the key is in an attacker's hands; Inactive (not deleted) keeps it reversible and its history readable".into(),
            risk: format!(
                "whatever uses this key{} stops working until it gets a new one",
                owner.as_deref().map(|o| format!(" (user {o})")).unwrap_or_default()
            ),
            destructive: false,
            after_tag: None,
        });
    }

    // 3. Keys in its lineage (created by the key, or by credentials it created).
    for r in &all {
        for k in &r.created.access_keys {
            d.add(Draft {
                phase: Phase::DeactivateLineage,
                title: format!(
                    "Deactivate {} created{}",
                    k.access_key_id,
                    k.user_name
                        .as_deref()
                        .map(|u| format!(" for {u}"))
                        .unwrap_or_default()
                ),
                action: Action::DeactivateAccessKey {
                    user: k.user_name.clone(),
                    access_key_id: k.access_key_id.clone(),
                },
                because: ids(&k.origin.event_id),
                reason: "a key made with the leaked credentials: the attacker holds its secret"
                    .into(),
                risk: if k.user_name.is_some() && k.user_name == owner {
                    "a second key of the owner: anything the owner moved to it stops working".into()
                } else {
                    "none expected: the key was made during the incident".into()
                },
                destructive: false,
                after_tag: None,
            });
        }
    }

    // 4. Sessions issued before now.
    let mut sessions: BTreeMap<Principal, BTreeSet<String>> = BTreeMap::new();
    if let Some(o) = &owner {
        sessions.entry(Principal::User(o.clone())).or_default();
    }
    for r in &all {
        for s in &r.created.session_credentials {
            let p = match s.role_arn.as_deref().and_then(role_of_arn) {
                Some(role) => Principal::Role(role),
                None => match r.subject.principal_arn.as_deref().and_then(user_of_arn) {
                    Some(u) => Principal::User(u),
                    None => continue,
                },
            };
            sessions
                .entry(p)
                .or_default()
                .extend(ids(&s.origin.event_id));
        }
        for k in &r.created.access_keys {
            if let Some(u) = &k.user_name {
                sessions.entry(Principal::User(u.clone())).or_default();
            }
        }
    }
    for (p, ev) in sessions {
        let risk = match &p {
            Principal::Role(_) => "every session of this role issued before now ends, legitimate ones too: services and people assume it again",
            _ => "temporary credentials this user made before now stop working; its long-term keys are not affected",
        };
        d.add(Draft {
            phase: Phase::RevokeSessions,
            title: format!("Revoke sessions of {p} issued before now"),
            action: Action::RevokeSessions { principal: p },
            because: ev,
            reason: "temporary credentials outlive the key that made them (up to 36 hours for GetSessionToken)".into(),
            risk: risk.into(),
            destructive: false,
            after_tag: None,
        });
    }

    remove_access(&all, &owner, &created_users, &mut d);
    compute_and_shares(&instances, &all, options.destructive, &mut d);
    identities(&created_users, &created_roles, options.destructive, &mut d);
    follow_ups(report, &all, &owner, options, &mut d);

    number(subject, report, owner, options, d)
}

fn remove_access(
    all: &[&Report],
    owner: &Option<String>,
    created_users: &BTreeMap<String, BTreeSet<String>>,
    d: &mut Drafts,
) {
    for r in all {
        for lp in &r.created.login_profiles {
            let attackers = created_users.contains_key(&lp.user_name);
            d.add(Draft {
                phase: Phase::RemoveAccess,
                title: format!("Remove the console password of {}", lp.user_name),
                action: Action::DeleteLoginProfile {
                    user: lp.user_name.clone(),
                },
                because: ids(&lp.origin.event_id),
                reason: format!(
                    "{} set a console password for {}",
                    lp.origin.event_name.as_deref().unwrap_or("the attacker"),
                    lp.user_name
                ),
                risk: if attackers {
                    "none: the user was created by the attacker".into()
                } else {
                    format!(
                        "{} can no longer sign in to the console until a password is set again",
                        lp.user_name
                    )
                },
                destructive: false,
                after_tag: None,
            });
        }
        for p in &r.created.policies_attached {
            let Some(principal) = principal_of_target(&p.target) else {
                continue;
            };
            let action = match (&p.policy_arn, &p.policy_name) {
                (Some(arn), _) => Action::DetachPolicy {
                    principal: principal.clone(),
                    policy_arn: arn.clone(),
                },
                (None, Some(name)) => Action::DeleteInlinePolicy {
                    principal: principal.clone(),
                    policy_name: name.clone(),
                },
                _ => continue,
            };
            let what = p
                .policy_arn
                .clone()
                .or_else(|| p.policy_name.clone())
                .unwrap_or_default();
            let owner_affected =
                matches!(&principal, Principal::User(u) if Some(u) == owner.as_ref());
            d.add(Draft {
                phase: Phase::RemoveAccess,
                title: format!("Remove {what} from {principal}"),
                action,
                because: ids(&p.origin.event_id),
                reason: "a policy the attacker attached or wrote, to raise its rights".into(),
                risk: if owner_affected {
                    "the owner loses what this policy granted, if it was meant to have it".into()
                } else {
                    format!("{principal} loses what this policy granted")
                },
                destructive: false,
                after_tag: None,
            });
        }
        for m in &r.created.mfa_devices {
            d.add(Draft {
                phase: Phase::RemoveAccess,
                title: format!("Remove MFA device {} from {}", m.serial_number, m.user_name),
                action: Action::DeactivateMfaDevice {
                    user: m.user_name.clone(),
                    serial_number: m.serial_number.clone(),
                },
                because: ids(&m.origin.event_id),
                reason: "an MFA device the attacker registered keeps its console access".into(),
                risk: format!(
                    "{} signs in without this device until a new one is registered",
                    m.user_name
                ),
                destructive: false,
                after_tag: None,
            });
        }
    }
}

fn compute_and_shares(
    instances: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    all: &[&Report],
    destructive: bool,
    d: &mut Drafts,
) {
    for (region, found) in instances {
        let instance_ids: Vec<String> = found.keys().cloned().collect();
        let because = found.values().flatten().cloned().collect();
        let tagged = Resource::Instances {
            region: region.clone(),
            ids: instance_ids.clone(),
        };
        d.add(if destructive {
            Draft {
                phase: Phase::StopCompute,
                title: format!("Terminate {} instance(s) in {region}", instance_ids.len()),
                action: Action::TerminateInstances {
                    region: region.clone(),
                    instance_ids,
                },
                because,
                reason: "instances the leaked credentials launched".into(),
                risk: "their disks and memory are gone for good: take snapshots first if you need forensics".into(),
                destructive: true,
                after_tag: Some(tagged),
            }
        } else {
            Draft {
                phase: Phase::StopCompute,
                title: format!("Stop {} instance(s) in {region}", instance_ids.len()),
                action: Action::StopInstances {
                    region: region.clone(),
                    instance_ids,
                },
                because,
                reason: "instances the leaked credentials launched (stopped, not terminated: their disks stay for forensics)".into(),
                risk: "none expected: launched during the incident; EBS volumes still cost money".into(),
                destructive: false,
                after_tag: None,
            }
        });
    }
    for r in all {
        for rule in &r.created.security_group_rules {
            let direction = if rule.direction == "egress" {
                Direction::Egress
            } else {
                Direction::Ingress
            };
            for p in &rule.permissions {
                d.add(Draft {
                    phase: Phase::StopCompute,
                    title: format!("Revoke {} rule {p} on {}", rule.direction, rule.group_id),
                    action: Action::RevokeSecurityGroupRule {
                        region: rule.region.clone().unwrap_or_else(|| "us-east-1".into()),
                        group_id: rule.group_id.clone(),
                        direction,
                        permission: p.clone(),
                    },
                    because: ids(&rule.origin.event_id),
                    reason: "a firewall rule the attacker opened".into(),
                    risk: "traffic that relied on this rule is blocked".into(),
                    destructive: false,
                    after_tag: None,
                });
            }
        }
        for s in &r.created.snapshots_images_shared {
            let region = s.region.clone().unwrap_or_else(|| "us-east-1".into());
            let action = match s.kind {
                "snapshot" => Action::UnshareSnapshot {
                    region,
                    snapshot_id: s.resource_id.clone(),
                    accounts: s.shared_with.clone(),
                },
                "image" => Action::UnshareImage {
                    region,
                    image_id: s.resource_id.clone(),
                    accounts: s.shared_with.clone(),
                },
                _ => continue,
            };
            d.add(Draft {
                phase: Phase::Unshare,
                title: format!(
                    "Stop sharing {} {} with {}",
                    s.kind,
                    s.resource_id,
                    s.shared_with.join(", ")
                ),
                action,
                because: ids(&s.origin.event_id),
                reason:
                    "data made public or given to another account: a copy may already exist there"
                        .into(),
                risk: "the accounts named lose access, legitimate ones too".into(),
                destructive: false,
                after_tag: None,
            });
        }
    }
}

fn identities(
    users: &BTreeMap<String, BTreeSet<String>>,
    roles: &BTreeMap<String, BTreeSet<String>>,
    destructive: bool,
    d: &mut Drafts,
) {
    for (u, ev) in users {
        let tagged = Resource::User { name: u.clone() };
        d.add(if destructive {
            Draft {
                phase: Phase::DisableIdentities,
                title: format!("Delete user {u}"),
                action: Action::DeleteUser { user: u.clone() },
                because: ev.clone(),
                reason: "a user the attacker created to stay in".into(),
                risk: "the user, its keys and policies are gone for good (its CloudTrail history stays)".into(),
                destructive: true,
                after_tag: Some(tagged),
            }
        } else {
            Draft {
                phase: Phase::DisableIdentities,
                title: format!("Disable user {u}"),
                action: Action::DisableUser { user: u.clone() },
                because: ev.clone(),
                reason: "a user the attacker created to stay in: every key inactive, no console password, deny-all policy".into(),
                risk: "none expected: created during the incident".into(),
                destructive: false,
                after_tag: None,
            }
        });
    }
    for (role, ev) in roles {
        let tagged = Resource::Role { name: role.clone() };
        d.add(if destructive {
            Draft {
                phase: Phase::DisableIdentities,
                title: format!("Delete role {role}"),
                action: Action::DeleteRole { role: role.clone() },
                because: ev.clone(),
                reason: "a role the attacker created (a way back in through its trust policy)".into(),
                risk: "the role and its policies are gone for good".into(),
                destructive: true,
                after_tag: Some(tagged),
            }
        } else {
            Draft {
                phase: Phase::DisableIdentities,
                title: format!("Quarantine role {role}"),
                action: Action::QuarantineRole { role: role.clone() },
                because: ev.clone(),
                reason: "a role the attacker created (a way back in through its trust policy): a deny-all policy stops every session of it".into(),
                risk: "none expected: created during the incident".into(),
                destructive: false,
                after_tag: None,
            }
        });
    }
}

fn manual(title: String, reason: String, because: BTreeSet<String>) -> Draft {
    Draft {
        phase: Phase::FollowUp,
        title,
        action: Action::Manual,
        because,
        reason,
        risk: String::new(),
        destructive: false,
        after_tag: None,
    }
}

fn follow_ups(
    report: &Report,
    all: &[&Report],
    owner: &Option<String>,
    options: &PlanOptions,
    d: &mut Drafts,
) {
    let key = report.subject.access_key_id.clone().unwrap_or_default();
    d.add(manual(
        format!(
            "Rotate {key} in the application that owned it{}",
            owner.as_deref().map(|o| format!(" (user {o})")).unwrap_or_default()
        ),
        "make a new key for the legitimate owner, deploy it, then delete the leaked one; find and remove the leak itself (`trailguard scan --git`)".into(),
        BTreeSet::new(),
    ));
    d.add(manual(
        "Keep the CloudTrail logs this plan is based on".into(),
        if options.evidence_sources.is_empty() {
            "copy the trail's log files for the incident period out of reach of lifecycle rules and of the leaked credentials".into()
        } else {
            format!(
                "copy {} out of reach of lifecycle rules and of the leaked credentials; check the trail still logs every region",
                options.evidence_sources.join(", ")
            )
        },
        BTreeSet::new(),
    ));
    for r in all {
        for role in r.created.roles.iter().filter(|x| x.change != "created") {
            d.add(manual(
                format!("Restore the trust policy of role {}", role.role_name),
                format!(
                    "the attacker rewrote it to trust {}; CloudTrail does not hold the previous one: restore it from your infrastructure code",
                    if role.trusts.is_empty() { "?".to_string() } else { role.trusts.join(", ") }
                ),
                ids(&role.origin.event_id),
            ));
        }
        for s in r
            .created
            .snapshots_images_shared
            .iter()
            .filter(|s| s.kind == "db-snapshot")
        {
            d.add(manual(
                format!("Stop sharing RDS snapshot {} with {}", s.resource_id, s.shared_with.join(", ")),
                format!(
                    "aws rds modify-db-snapshot-attribute --db-snapshot-identifier {} --attribute-name restore --values-to-remove {}",
                    s.resource_id,
                    s.shared_with.join(" ")
                ),
                ids(&s.origin.event_id),
            ));
        }
        for k in &r.created.key_pairs {
            d.add(manual(
                format!(
                    "Delete key pair {}{}",
                    k.name,
                    k.region
                        .as_deref()
                        .map(|r| format!(" in {r}"))
                        .unwrap_or_default()
                ),
                "a key pair the attacker made or imported: it opens any instance launched with it"
                    .into(),
                ids(&k.origin.event_id),
            ));
        }
        for f in &r.created.lambda_functions {
            d.add(manual(
                format!("Review Lambda function {}", f.name),
                format!(
                    "{} by the leaked credentials: compare its code, layers, permissions and environment with your deployment",
                    f.origin.event_name.as_deref().unwrap_or("changed")
                ),
                ids(&f.origin.event_id),
            ));
        }
    }
    d.add(manual(
        "Check billing".into(),
        "look for charges in unused regions (instances, GPUs, Bedrock): AWS may credit fraud reported quickly".into(),
        BTreeSet::new(),
    ));
    d.add(manual(
        "Open an AWS support case if AWS quarantined the key".into(),
        "if AWSCompromisedKeyQuarantine (V2/V3) is attached to the user, AWS saw the leak: answer its case before removing the policy".into(),
        BTreeSet::new(),
    ));
}

/// Orders the drafts by phase (stable within a phase), numbers them, and turns "after
/// this tag" into step numbers.
fn number(
    subject: String,
    report: &Report,
    owner: Option<String>,
    options: &PlanOptions,
    d: Drafts,
) -> Plan {
    let mut drafts = d.0;
    drafts.sort_by_key(|x| x.phase);
    let tag_step: Vec<(Resource, usize)> = drafts
        .iter()
        .enumerate()
        .filter_map(|(i, x)| match &x.action {
            Action::Tag { resource, .. } => Some((resource.clone(), i + 1)),
            _ => None,
        })
        .collect();
    let steps = drafts
        .into_iter()
        .enumerate()
        .map(|(i, x)| Step {
            n: i + 1,
            phase: x.phase,
            aws_cli: aws_cli(&x.action),
            depends_on: x
                .after_tag
                .as_ref()
                .and_then(|r| tag_step.iter().find(|(t, _)| t == r).map(|(_, n)| *n))
                .into_iter()
                .collect(),
            title: x.title,
            action: x.action,
            because: x.because.into_iter().collect(),
            reason: x.reason,
            risk: x.risk,
            destructive: x.destructive,
        })
        .collect();
    Plan {
        subject,
        account: report.subject.account.clone(),
        owner,
        evidence_sources: options.evidence_sources.clone(),
        destructive: options.destructive,
        steps,
    }
}

#[cfg(test)]
mod tests;
