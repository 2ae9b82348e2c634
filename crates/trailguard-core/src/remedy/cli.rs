//! The `aws` CLI commands equivalent to each [`Action`]: what an analyst would type,
//! shown in the plan so that a step can be checked, or carried out by hand.

use super::execute::{deny_all_policy, revoke_sessions_policy};
use super::{Action, Direction, Permission, Principal, Resource};
use super::{QUARANTINE_POLICY, REVOKE_SESSIONS_POLICY};

/// Quotes a value for a POSIX shell when it needs it.
fn sh(v: &str) -> String {
    let plain = !v.is_empty()
        && v.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'_' | b'.' | b'/' | b':' | b'@' | b'=' | b',' | b'+'
                )
        });
    if plain {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

fn principal_flag(p: &Principal) -> (&'static str, String) {
    match p {
        Principal::User(n) => ("user", format!("--user-name {}", sh(n))),
        Principal::Role(n) => ("role", format!("--role-name {}", sh(n))),
        Principal::Group(n) => ("group", format!("--group-name {}", sh(n))),
    }
}

fn permissions_json(p: &Permission) -> String {
    let mut v = serde_json::json!({ "IpProtocol": p.protocol });
    if let Some(f) = p.from_port {
        v["FromPort"] = f.into();
    }
    if let Some(t) = p.to_port {
        v["ToPort"] = t.into();
    }
    if !p.cidrs.is_empty() {
        v["IpRanges"] = p
            .cidrs
            .iter()
            .map(|c| serde_json::json!({ "CidrIp": c }))
            .collect();
    }
    if !p.ipv6_cidrs.is_empty() {
        v["Ipv6Ranges"] = p
            .ipv6_cidrs
            .iter()
            .map(|c| serde_json::json!({ "CidrIpv6": c }))
            .collect();
    }
    if !p.groups.is_empty() {
        v["UserIdGroupPairs"] = p
            .groups
            .iter()
            .map(|g| serde_json::json!({ "GroupId": g }))
            .collect();
    }
    serde_json::Value::Array(vec![v]).to_string()
}

/// `{"Remove": [...]}` for a snapshot's or image's permission attribute.
fn unshare_json(accounts: &[String]) -> String {
    let remove: Vec<serde_json::Value> = accounts
        .iter()
        .map(|a| {
            if a == "all" {
                serde_json::json!({ "Group": "all" })
            } else {
                serde_json::json!({ "UserId": a })
            }
        })
        .collect();
    serde_json::json!({ "Remove": remove }).to_string()
}

/// The commands for `action`, with `TIME` standing for the moment a
/// session-revoking step is carried out.
pub fn aws_cli(action: &Action) -> Vec<String> {
    match action {
        Action::Tag { resource, tags } => {
            let tag_args: Vec<String> = tags
                .iter()
                .map(|(k, v)| sh(&format!("Key={k},Value={v}")))
                .collect();
            match resource {
                Resource::User { name } => vec![format!(
                    "aws iam tag-user --user-name {} --tags {}",
                    sh(name),
                    tag_args.join(" ")
                )],
                Resource::Role { name } => vec![format!(
                    "aws iam tag-role --role-name {} --tags {}",
                    sh(name),
                    tag_args.join(" ")
                )],
                Resource::Instances { region, ids } => vec![format!(
                    "aws ec2 create-tags --region {} --resources {} --tags {}",
                    sh(region),
                    ids.iter().map(|i| sh(i)).collect::<Vec<_>>().join(" "),
                    tag_args.join(" ")
                )],
            }
        }
        Action::DeactivateAccessKey {
            user,
            access_key_id,
        } => vec![format!(
            "aws iam update-access-key{} --access-key-id {} --status Inactive",
            user.as_deref()
                .map(|u| format!(" --user-name {}", sh(u)))
                .unwrap_or_default(),
            sh(access_key_id)
        )],
        Action::RevokeSessions { principal } => {
            let (kind, flag) = principal_flag(principal);
            vec![format!(
                "aws iam put-{kind}-policy {flag} --policy-name {REVOKE_SESSIONS_POLICY} --policy-document {}",
                sh(&revoke_sessions_policy("TIME"))
            )]
        }
        Action::DeleteLoginProfile { user } => {
            vec![format!("aws iam delete-login-profile --user-name {}", sh(user))]
        }
        Action::DetachPolicy {
            principal,
            policy_arn,
        } => {
            let (kind, flag) = principal_flag(principal);
            vec![format!(
                "aws iam detach-{kind}-policy {flag} --policy-arn {}",
                sh(policy_arn)
            )]
        }
        Action::DeleteInlinePolicy {
            principal,
            policy_name,
        } => {
            let (kind, flag) = principal_flag(principal);
            vec![format!(
                "aws iam delete-{kind}-policy {flag} --policy-name {}",
                sh(policy_name)
            )]
        }
        Action::DeactivateMfaDevice {
            user,
            serial_number,
        } => vec![format!(
            "aws iam deactivate-mfa-device --user-name {} --serial-number {}",
            sh(user),
            sh(serial_number)
        )],
        Action::StopInstances {
            region,
            instance_ids,
        } => vec![format!(
            "aws ec2 stop-instances --region {} --instance-ids {}",
            sh(region),
            instance_ids.iter().map(|i| sh(i)).collect::<Vec<_>>().join(" ")
        )],
        Action::TerminateInstances {
            region,
            instance_ids,
        } => vec![format!(
            "aws ec2 terminate-instances --region {} --instance-ids {}",
            sh(region),
            instance_ids.iter().map(|i| sh(i)).collect::<Vec<_>>().join(" ")
        )],
        Action::RevokeSecurityGroupRule {
            region,
            group_id,
            direction,
            permission,
        } => vec![format!(
            "aws ec2 revoke-security-group-{} --region {} --group-id {} --ip-permissions {}",
            match direction {
                Direction::Ingress => "ingress",
                Direction::Egress => "egress",
            },
            sh(region),
            sh(group_id),
            sh(&permissions_json(permission))
        )],
        Action::UnshareSnapshot {
            region,
            snapshot_id,
            accounts,
        } => vec![format!(
            "aws ec2 modify-snapshot-attribute --region {} --snapshot-id {} --attribute createVolumePermission --create-volume-permission {}",
            sh(region),
            sh(snapshot_id),
            sh(&unshare_json(accounts))
        )],
        Action::UnshareImage {
            region,
            image_id,
            accounts,
        } => vec![format!(
            "aws ec2 modify-image-attribute --region {} --image-id {} --launch-permission {}",
            sh(region),
            sh(image_id),
            sh(&unshare_json(accounts))
        )],
        Action::DisableUser { user } => vec![
            format!(
                "aws iam list-access-keys --user-name {0}  # then, for each key: aws iam update-access-key --user-name {0} --access-key-id KEY --status Inactive",
                sh(user)
            ),
            format!("aws iam delete-login-profile --user-name {}", sh(user)),
            format!(
                "aws iam put-user-policy --user-name {} --policy-name {QUARANTINE_POLICY} --policy-document {}",
                sh(user),
                sh(&deny_all_policy())
            ),
        ],
        Action::DeleteUser { user } => vec![format!(
            "# detach and delete its policies, keys, login profile, MFA devices and group memberships first\naws iam delete-user --user-name {}",
            sh(user)
        )],
        Action::QuarantineRole { role } => vec![format!(
            "aws iam put-role-policy --role-name {} --policy-name {QUARANTINE_POLICY} --policy-document {}",
            sh(role),
            sh(&deny_all_policy())
        )],
        Action::DeleteRole { role } => vec![format!(
            "# detach and delete its policies and remove it from instance profiles first\naws iam delete-role --role-name {}",
            sh(role)
        )],
        Action::Manual => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_for_a_shell() {
        assert_eq!(sh("alice"), "alice");
        assert_eq!(sh("it's"), r"'it'\''s'");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh(""), "''");
        let c = aws_cli(&Action::DeleteLoginProfile {
            user: "x; rm -rf /".into(),
        });
        assert_eq!(
            c,
            vec!["aws iam delete-login-profile --user-name 'x; rm -rf /'"]
        );
    }

    #[test]
    fn unshare_removes_the_accounts_given() {
        let c = aws_cli(&Action::UnshareSnapshot {
            region: "us-east-1".into(),
            snapshot_id: "snap-1".into(),
            accounts: vec!["all".into(), "111122223333".into()],
        });
        assert!(
            c[0].ends_with(r#"'{"Remove":[{"Group":"all"},{"UserId":"111122223333"}]}'"#),
            "{}",
            c[0]
        );
    }

    #[test]
    fn a_security_group_rule_is_revoked_as_it_was_given() {
        let c = aws_cli(&Action::RevokeSecurityGroupRule {
            region: "eu-west-1".into(),
            group_id: "sg-1".into(),
            direction: Direction::Ingress,
            permission: Permission {
                protocol: "tcp".into(),
                from_port: Some(22),
                to_port: Some(22),
                cidrs: vec!["0.0.0.0/0".into()],
                ipv6_cidrs: vec![],
                groups: vec![],
            },
        });
        assert_eq!(
            c[0],
            r#"aws ec2 revoke-security-group-ingress --region eu-west-1 --group-id sg-1 --ip-permissions '[{"FromPort":22,"IpProtocol":"tcp","IpRanges":[{"CidrIp":"0.0.0.0/0"}],"ToPort":22}]'"#
        );
    }
}
