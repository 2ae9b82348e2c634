use super::*;

fn created(rec: &str) -> Created {
    let ev = Event::from_json(rec.as_bytes()).unwrap();
    let mut c = Created::default();
    c.extract(&ev, 100);
    c.finish();
    c
}

#[test]
fn keys_sessions_and_instances() {
    let c = created(
        r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","eventTime":"2025-09-17T23:13:55Z","eventID":"k","requestParameters":{"userName":"admin"},"responseElements":{"accessKey":{"accessKeyId":"AKIAWCZC6J72CNUTOL7P","userName":"admin"}}}"#,
    );
    assert_eq!(c.access_keys[0].access_key_id, "AKIAWCZC6J72CNUTOL7P");
    assert_eq!(c.access_keys[0].user_name.as_deref(), Some("admin"));
    assert_eq!(c.access_keys[0].origin.event_id.as_deref(), Some("k"));
    let c = created(
        r#"{"eventSource":"sts.amazonaws.com","eventName":"AssumeRole","requestParameters":{"roleArn":"arn:aws:iam::1:role/r"},"responseElements":{"credentials":{"accessKeyId":"ASIAX","sessionToken":"secret"},"assumedRoleUser":{"arn":"arn:aws:sts::1:assumed-role/r/s"}}}"#,
    );
    assert_eq!(c.session_credentials[0].access_key_id, "ASIAX");
    assert!(!serde_json::to_string(&c).unwrap().contains("secret"));
    let c = created(
        r#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"us-east-1","responseElements":{"instancesSet":{"items":[{"instanceId":"i-1","instanceType":"t3.micro"},{"instanceId":"i-2","instanceType":"t3.micro"}]}}}"#,
    );
    assert_eq!(c.instances.len(), 2);
    assert_eq!(c.instances[1].region.as_deref(), Some("us-east-1"));
}

#[test]
fn policies_roles_rules_and_sharing() {
    let c = created(
        r#"{"eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","requestParameters":{"userName":"x","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}"#,
    );
    assert_eq!(c.policies_attached[0].target, "user/x");
    let c = created(
        r#"{"eventSource":"iam.amazonaws.com","eventName":"UpdateAssumeRolePolicy","requestParameters":{"roleName":"r","policyDocument":"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::999988887777:root\"},\"Action\":\"sts:AssumeRole\"}]}"}}"#,
    );
    assert_eq!(c.roles[0].trusts, ["arn:aws:iam::999988887777:root"]);
    assert_eq!(c.roles[0].change, "trust policy updated");
    let c = created(
        r#"{"eventSource":"ec2.amazonaws.com","eventName":"AuthorizeSecurityGroupIngress","requestParameters":{"groupId":"sg-1","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}}]}}}"#,
    );
    assert_eq!(c.security_group_rules[0].rules, ["tcp 22 from 0.0.0.0/0"]);
    let c = created(
        r#"{"eventSource":"ec2.amazonaws.com","eventName":"ModifySnapshotAttribute","requestParameters":{"snapshotId":"snap-1","createVolumePermission":{"add":{"items":[{"userId":"999988887777"}]}}}}"#,
    );
    assert_eq!(c.snapshots_images_shared[0].shared_with, ["999988887777"]);
    let c = created(
        r#"{"eventSource":"lambda.amazonaws.com","eventName":"UpdateFunctionCode20150331v2","requestParameters":{"functionName":"f"}}"#,
    );
    assert_eq!(c.lambda_functions[0].name, "f");
}

#[test]
fn limits_count_what_is_left_out() {
    let rec = r#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","responseElements":{"instancesSet":{"items":[{"instanceId":"i-1"},{"instanceId":"i-2"},{"instanceId":"i-3"}]}}}"#;
    let ev = Event::from_json(rec.as_bytes()).unwrap();
    let mut c = Created::default();
    c.extract(&ev, 2);
    assert_eq!((c.instances.len(), c.omitted), (2, 1));
    let none =
        Event::from_json(br#"{"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances"}"#)
            .unwrap();
    c.extract(&none, 2);
    assert_eq!(c.len(), 2);
}
