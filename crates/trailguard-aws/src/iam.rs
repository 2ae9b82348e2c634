//! The IAM side of a plan: keys, sessions, passwords, policies, MFA devices, users
//! and roles. Each action has a read that says whether its effect is in place
//! ([`check`]) and the calls that make it ([`apply`]).

use aws_sdk_iam::types::{StatusType, Tag};
use aws_sdk_iam::Client;
use trailguard_core::remedy::{
    deny_all_policy, revoke_sessions_policy, Action, Principal, Resource, StepState,
    QUARANTINE_POLICY, REVOKE_SESSIONS_POLICY,
};

use crate::error::{classify, AwsError};

type Result<T> = std::result::Result<T, AwsError>;

/// `Ok(None)` for a target that does not exist.
fn found<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

async fn user_exists(c: &Client, user: &str) -> Result<bool> {
    Ok(found(
        c.get_user()
            .user_name(user)
            .send()
            .await
            .map_err(|e| classify(e, "iam:GetUser")),
    )?
    .is_some())
}

async fn role_exists(c: &Client, role: &str) -> Result<bool> {
    Ok(found(
        c.get_role()
            .role_name(role)
            .send()
            .await
            .map_err(|e| classify(e, "iam:GetRole")),
    )?
    .is_some())
}

/// The user an access key belongs to (`None`: no such key).
async fn owner_of_key(c: &Client, key: &str) -> Result<Option<String>> {
    let out = found(
        c.get_access_key_last_used()
            .access_key_id(key)
            .send()
            .await
            .map_err(|e| classify(e, "iam:GetAccessKeyLastUsed")),
    )?;
    Ok(out.and_then(|o| o.user_name().map(str::to_string)))
}

/// The user's keys and whether each is active (`None`: no such user).
async fn keys(c: &Client, user: &str) -> Result<Option<Vec<(String, bool)>>> {
    let out = found(
        c.list_access_keys()
            .user_name(user)
            .send()
            .await
            .map_err(|e| classify(e, "iam:ListAccessKeys")),
    )?;
    Ok(out.map(|o| {
        o.access_key_metadata()
            .iter()
            .filter_map(|k| {
                Some((
                    k.access_key_id()?.to_string(),
                    k.status() == Some(&StatusType::Active),
                ))
            })
            .collect()
    }))
}

pub(crate) async fn active_keys(c: &Client, user: &str) -> Result<Vec<String>> {
    Ok(keys(c, user)
        .await?
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, active)| *active)
        .map(|(k, _)| k)
        .collect())
}

/// Whether an inline policy of this name is on the principal (`None`: no principal).
async fn has_inline(c: &Client, p: &Principal, name: &str) -> Result<Option<bool>> {
    let exists = match p {
        Principal::User(u) => user_exists(c, u).await?,
        Principal::Role(r) => role_exists(c, r).await?,
        Principal::Group(g) => found(
            c.get_group()
                .group_name(g)
                .send()
                .await
                .map_err(|e| classify(e, "iam:GetGroup")),
        )?
        .is_some(),
    };
    if !exists {
        return Ok(None);
    }
    let got = match p {
        Principal::User(u) => found(
            c.get_user_policy()
                .user_name(u)
                .policy_name(name)
                .send()
                .await
                .map_err(|e| classify(e, "iam:GetUserPolicy")),
        )?
        .is_some(),
        Principal::Role(r) => found(
            c.get_role_policy()
                .role_name(r)
                .policy_name(name)
                .send()
                .await
                .map_err(|e| classify(e, "iam:GetRolePolicy")),
        )?
        .is_some(),
        Principal::Group(g) => found(
            c.get_group_policy()
                .group_name(g)
                .policy_name(name)
                .send()
                .await
                .map_err(|e| classify(e, "iam:GetGroupPolicy")),
        )?
        .is_some(),
    };
    Ok(Some(got))
}

async fn put_inline(c: &Client, p: &Principal, name: &str, doc: &str) -> Result<()> {
    match p {
        Principal::User(u) => c
            .put_user_policy()
            .user_name(u)
            .policy_name(name)
            .policy_document(doc)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(e, "iam:PutUserPolicy")),
        Principal::Role(r) => c
            .put_role_policy()
            .role_name(r)
            .policy_name(name)
            .policy_document(doc)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(e, "iam:PutRolePolicy")),
        Principal::Group(g) => c
            .put_group_policy()
            .group_name(g)
            .policy_name(name)
            .policy_document(doc)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(e, "iam:PutGroupPolicy")),
    }
}

async fn attached(c: &Client, p: &Principal) -> Result<Option<Vec<String>>> {
    let arns = |v: &[aws_sdk_iam::types::AttachedPolicy]| -> Vec<String> {
        v.iter()
            .filter_map(|a| a.policy_arn().map(str::to_string))
            .collect()
    };
    match p {
        Principal::User(u) => found(
            c.list_attached_user_policies()
                .user_name(u)
                .send()
                .await
                .map_err(|e| classify(e, "iam:ListAttachedUserPolicies")),
        )
        .map(|o| o.map(|o| arns(o.attached_policies()))),
        Principal::Role(r) => found(
            c.list_attached_role_policies()
                .role_name(r)
                .send()
                .await
                .map_err(|e| classify(e, "iam:ListAttachedRolePolicies")),
        )
        .map(|o| o.map(|o| arns(o.attached_policies()))),
        Principal::Group(g) => found(
            c.list_attached_group_policies()
                .group_name(g)
                .send()
                .await
                .map_err(|e| classify(e, "iam:ListAttachedGroupPolicies")),
        )
        .map(|o| o.map(|o| arns(o.attached_policies()))),
    }
}

async fn has_login_profile(c: &Client, user: &str) -> Result<bool> {
    Ok(found(
        c.get_login_profile()
            .user_name(user)
            .send()
            .await
            .map_err(|e| classify(e, "iam:GetLoginProfile")),
    )?
    .is_some())
}

async fn mfa_serials(c: &Client, user: &str) -> Result<Option<Vec<String>>> {
    let out = found(
        c.list_mfa_devices()
            .user_name(user)
            .send()
            .await
            .map_err(|e| classify(e, "iam:ListMFADevices")),
    )?;
    Ok(out.map(|o| {
        o.mfa_devices()
            .iter()
            .map(|d| d.serial_number().to_string())
            .collect()
    }))
}

fn gone(what: String) -> StepState {
    StepState::Gone(format!("{what} does not exist"))
}

pub(crate) async fn check(c: &Client, action: &Action) -> Result<StepState> {
    Ok(match action {
        Action::Tag { resource, tags } => {
            let (have, what) = match resource {
                Resource::User { name } => (
                    found(
                        c.list_user_tags()
                            .user_name(name)
                            .send()
                            .await
                            .map_err(|e| classify(e, "iam:ListUserTags")),
                    )?
                    .map(|o| {
                        o.tags()
                            .iter()
                            .map(|t| (t.key().to_string(), t.value().to_string()))
                            .collect::<Vec<_>>()
                    }),
                    format!("user {name}"),
                ),
                Resource::Role { name } => (
                    found(
                        c.list_role_tags()
                            .role_name(name)
                            .send()
                            .await
                            .map_err(|e| classify(e, "iam:ListRoleTags")),
                    )?
                    .map(|o| {
                        o.tags()
                            .iter()
                            .map(|t| (t.key().to_string(), t.value().to_string()))
                            .collect::<Vec<_>>()
                    }),
                    format!("role {name}"),
                ),
                Resource::Instances { .. } => unreachable!("EC2 tags are checked in ec2.rs"),
            };
            match have {
                None => gone(what),
                Some(have)
                    if tags
                        .iter()
                        .all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && hv == v)) =>
                {
                    StepState::Done
                }
                Some(_) => StepState::ToDo(format!("{what} gets the incident tag")),
            }
        }
        Action::DeactivateAccessKey {
            user,
            access_key_id,
        } => {
            let user = match user {
                Some(u) => Some(u.clone()),
                None => owner_of_key(c, access_key_id).await?,
            };
            let Some(user) = user else {
                return Ok(gone(format!("access key {access_key_id}")));
            };
            match keys(c, &user).await? {
                None => gone(format!("user {user}")),
                Some(ks) => match ks.iter().find(|(k, _)| k == access_key_id) {
                    None => gone(format!("access key {access_key_id} of {user}")),
                    Some((_, true)) => {
                        StepState::ToDo(format!("{access_key_id} of {user}: Active -> Inactive"))
                    }
                    Some((_, false)) => StepState::Done,
                },
            }
        }
        Action::RevokeSessions { principal } => {
            match has_inline(c, principal, REVOKE_SESSIONS_POLICY).await? {
                None => gone(principal.to_string()),
                Some(true) => StepState::Done,
                Some(false) => StepState::ToDo(format!(
                    "{principal} gets inline policy {REVOKE_SESSIONS_POLICY} (deny sessions issued before now)"
                )),
            }
        }
        Action::DeleteLoginProfile { user } => {
            if has_login_profile(c, user).await? {
                StepState::ToDo(format!("the console password of {user} is deleted"))
            } else {
                StepState::Done
            }
        }
        Action::DetachPolicy {
            principal,
            policy_arn,
        } => match attached(c, principal).await? {
            None => gone(principal.to_string()),
            Some(arns) if arns.contains(policy_arn) => {
                StepState::ToDo(format!("{policy_arn} is detached from {principal}"))
            }
            Some(_) => StepState::Done,
        },
        Action::DeleteInlinePolicy {
            principal,
            policy_name,
        } => match has_inline(c, principal, policy_name).await? {
            None => gone(principal.to_string()),
            Some(true) => StepState::ToDo(format!(
                "inline policy {policy_name} of {principal} is deleted"
            )),
            Some(false) => StepState::Done,
        },
        Action::DeactivateMfaDevice {
            user,
            serial_number,
        } => match mfa_serials(c, user).await? {
            None => gone(format!("user {user}")),
            Some(s) if s.contains(serial_number) => {
                StepState::ToDo(format!("MFA device {serial_number} is removed from {user}"))
            }
            Some(_) => StepState::Done,
        },
        Action::DisableUser { user } => {
            let Some(ks) = keys(c, user).await? else {
                return Ok(gone(format!("user {user}")));
            };
            let mut todo = Vec::new();
            let active = ks.iter().filter(|(_, a)| *a).count();
            if active > 0 {
                todo.push(format!("{active} active key(s) -> Inactive"));
            }
            if has_login_profile(c, user).await? {
                todo.push("console password deleted".to_string());
            }
            if has_inline(c, &Principal::User(user.clone()), QUARANTINE_POLICY).await?
                == Some(false)
            {
                todo.push(format!("inline policy {QUARANTINE_POLICY} (deny all)"));
            }
            if todo.is_empty() {
                StepState::Done
            } else {
                StepState::ToDo(format!("user {user}: {}", todo.join(", ")))
            }
        }
        Action::DeleteUser { user } => {
            if user_exists(c, user).await? {
                StepState::ToDo(format!("user {user} and everything it holds are deleted"))
            } else {
                StepState::Done
            }
        }
        Action::QuarantineRole { role } => {
            match has_inline(c, &Principal::Role(role.clone()), QUARANTINE_POLICY).await? {
                None => gone(format!("role {role}")),
                Some(true) => StepState::Done,
                Some(false) => StepState::ToDo(format!(
                    "role {role} gets inline policy {QUARANTINE_POLICY} (deny all)"
                )),
            }
        }
        Action::DeleteRole { role } => {
            if role_exists(c, role).await? {
                StepState::ToDo(format!("role {role} and its policies are deleted"))
            } else {
                StepState::Done
            }
        }
        other => unreachable!("not an IAM action: {other:?}"),
    })
}

fn tags_of(tags: &std::collections::BTreeMap<String, String>) -> Result<Vec<Tag>> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::Setup(format!("bad tag {k}: {e}")))
        })
        .collect()
}

async fn deactivate(c: &Client, user: &str, key: &str) -> Result<()> {
    c.update_access_key()
        .user_name(user)
        .access_key_id(key)
        .status(StatusType::Inactive)
        .send()
        .await
        .map(drop)
        .map_err(|e| classify(e, "iam:UpdateAccessKey"))
}

/// Ignores "no such entity": the thing to remove is already gone.
fn ok_if_gone(r: Result<()>) -> Result<()> {
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

async fn delete_login_profile(c: &Client, user: &str) -> Result<()> {
    ok_if_gone(
        c.delete_login_profile()
            .user_name(user)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(e, "iam:DeleteLoginProfile")),
    )
}

async fn detach(c: &Client, p: &Principal, arn: &str) -> Result<()> {
    ok_if_gone(match p {
        Principal::User(u) => c
            .detach_user_policy()
            .user_name(u)
            .policy_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(e, "iam:DetachUserPolicy")),
        Principal::Role(r) => c
            .detach_role_policy()
            .role_name(r)
            .policy_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(e, "iam:DetachRolePolicy")),
        Principal::Group(g) => c
            .detach_group_policy()
            .group_name(g)
            .policy_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(e, "iam:DetachGroupPolicy")),
    })
}

async fn delete_inline(c: &Client, p: &Principal, name: &str) -> Result<()> {
    ok_if_gone(match p {
        Principal::User(u) => c
            .delete_user_policy()
            .user_name(u)
            .policy_name(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(e, "iam:DeleteUserPolicy")),
        Principal::Role(r) => c
            .delete_role_policy()
            .role_name(r)
            .policy_name(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(e, "iam:DeleteRolePolicy")),
        Principal::Group(g) => c
            .delete_group_policy()
            .group_name(g)
            .policy_name(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(e, "iam:DeleteGroupPolicy")),
    })
}

async fn inline_names(c: &Client, p: &Principal) -> Result<Vec<String>> {
    Ok(match p {
        Principal::User(u) => c
            .list_user_policies()
            .user_name(u)
            .send()
            .await
            .map_err(|e| classify(e, "iam:ListUserPolicies"))?
            .policy_names()
            .to_vec(),
        Principal::Role(r) => c
            .list_role_policies()
            .role_name(r)
            .send()
            .await
            .map_err(|e| classify(e, "iam:ListRolePolicies"))?
            .policy_names()
            .to_vec(),
        Principal::Group(g) => c
            .list_group_policies()
            .group_name(g)
            .send()
            .await
            .map_err(|e| classify(e, "iam:ListGroupPolicies"))?
            .policy_names()
            .to_vec(),
    })
}

async fn deactivate_mfa(c: &Client, user: &str, serial: &str) -> Result<()> {
    ok_if_gone(
        c.deactivate_mfa_device()
            .user_name(user)
            .serial_number(serial)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(e, "iam:DeactivateMFADevice")),
    )
}

pub(crate) async fn apply(c: &Client, action: &Action, now: &str) -> Result<()> {
    match action {
        Action::Tag { resource, tags } => {
            let tags = tags_of(tags)?;
            match resource {
                Resource::User { name } => c
                    .tag_user()
                    .user_name(name)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| classify(e, "iam:TagUser")),
                Resource::Role { name } => c
                    .tag_role()
                    .role_name(name)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| classify(e, "iam:TagRole")),
                Resource::Instances { .. } => unreachable!("EC2 tags are made in ec2.rs"),
            }
        }
        Action::DeactivateAccessKey {
            user,
            access_key_id,
        } => {
            let user = match user {
                Some(u) => u.clone(),
                None => owner_of_key(c, access_key_id)
                    .await?
                    .ok_or_else(|| AwsError::Api {
                        call: "iam:GetAccessKeyLastUsed",
                        code: "NoSuchEntity".into(),
                        message: format!("no user owns {access_key_id}"),
                    })?,
            };
            deactivate(c, &user, access_key_id).await
        }
        Action::RevokeSessions { principal } => {
            put_inline(
                c,
                principal,
                REVOKE_SESSIONS_POLICY,
                &revoke_sessions_policy(now),
            )
            .await
        }
        Action::DeleteLoginProfile { user } => delete_login_profile(c, user).await,
        Action::DetachPolicy {
            principal,
            policy_arn,
        } => detach(c, principal, policy_arn).await,
        Action::DeleteInlinePolicy {
            principal,
            policy_name,
        } => delete_inline(c, principal, policy_name).await,
        Action::DeactivateMfaDevice {
            user,
            serial_number,
        } => deactivate_mfa(c, user, serial_number).await,
        Action::DisableUser { user } => {
            for (key, active) in keys(c, user).await?.unwrap_or_default() {
                if active {
                    deactivate(c, user, &key).await?;
                }
            }
            delete_login_profile(c, user).await?;
            put_inline(
                c,
                &Principal::User(user.clone()),
                QUARANTINE_POLICY,
                &deny_all_policy(),
            )
            .await
        }
        Action::DeleteUser { user } => delete_user(c, user).await,
        Action::QuarantineRole { role } => {
            put_inline(
                c,
                &Principal::Role(role.clone()),
                QUARANTINE_POLICY,
                &deny_all_policy(),
            )
            .await
        }
        Action::DeleteRole { role } => delete_role(c, role).await,
        other => unreachable!("not an IAM action: {other:?}"),
    }
}

/// IAM deletes a user only once it holds nothing: keys, password, policies, MFA
/// devices and group memberships go first.
async fn delete_user(c: &Client, user: &str) -> Result<()> {
    let p = Principal::User(user.to_string());
    for (key, _) in keys(c, user).await?.unwrap_or_default() {
        ok_if_gone(
            c.delete_access_key()
                .user_name(user)
                .access_key_id(&key)
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(e, "iam:DeleteAccessKey")),
        )?;
    }
    delete_login_profile(c, user).await?;
    for arn in attached(c, &p).await?.unwrap_or_default() {
        detach(c, &p, &arn).await?;
    }
    for name in inline_names(c, &p).await? {
        delete_inline(c, &p, &name).await?;
    }
    for serial in mfa_serials(c, user).await?.unwrap_or_default() {
        deactivate_mfa(c, user, &serial).await?;
    }
    let groups = c
        .list_groups_for_user()
        .user_name(user)
        .send()
        .await
        .map_err(|e| classify(e, "iam:ListGroupsForUser"))?;
    for g in groups.groups() {
        ok_if_gone(
            c.remove_user_from_group()
                .user_name(user)
                .group_name(g.group_name())
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(e, "iam:RemoveUserFromGroup")),
        )?;
    }
    ok_if_gone(
        c.delete_user()
            .user_name(user)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(e, "iam:DeleteUser")),
    )
}

/// A role is deleted once its policies are gone and no instance profile holds it.
async fn delete_role(c: &Client, role: &str) -> Result<()> {
    let p = Principal::Role(role.to_string());
    for arn in attached(c, &p).await?.unwrap_or_default() {
        detach(c, &p, &arn).await?;
    }
    for name in inline_names(c, &p).await? {
        delete_inline(c, &p, &name).await?;
    }
    let profiles = c
        .list_instance_profiles_for_role()
        .role_name(role)
        .send()
        .await
        .map_err(|e| classify(e, "iam:ListInstanceProfilesForRole"))?;
    for ip in profiles.instance_profiles() {
        ok_if_gone(
            c.remove_role_from_instance_profile()
                .role_name(role)
                .instance_profile_name(ip.instance_profile_name())
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(e, "iam:RemoveRoleFromInstanceProfile")),
        )?;
    }
    ok_if_gone(
        c.delete_role()
            .role_name(role)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(e, "iam:DeleteRole")),
    )
}
