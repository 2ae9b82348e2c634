//! A week of ordinary CloudTrail activity for one account, with nothing malicious in
//! it: what the rule pack must stay quiet on.
//!
//! The cast, modelled on a small company's production account:
//! - three people who sign in to the console with MFA from the office (workdays),
//!   browse, and sometimes change things;
//! - a CI role assumed by GitHub Actions (web identity) that builds and deploys;
//! - application roles (EC2 instance profiles, Lambda) reading secrets, parameters and
//!   KMS keys around the clock from the VPC's NAT addresses;
//! - AWS services on the account's behalf: Auto Scaling launching and terminating
//!   instances, CloudTrail and Config writing, KMS rotating keys;
//! - a reporting job on an office server using an IAM user's long-term key, whose key
//!   an administrator rotates mid-week from the console (create, switch, deactivate,
//!   delete), all from the office.
//!
//! Deterministic for a seed. IP addresses come from the documentation ranges.

use serde_json::{json, Value};

/// What to generate.
#[derive(Debug, Clone)]
pub struct BackgroundSpec {
    pub account: String,
    pub start_ms: i64,
    pub days: u32,
    /// About this many events in all.
    pub events: u64,
    pub seed: u64,
}

const OFFICE_IPS: [&str; 2] = ["203.0.113.24", "203.0.113.25"];
const NAT_IPS: [(&str, &str); 2] = [("us-east-1", "192.0.2.61"), ("eu-west-1", "192.0.2.88")];
const GITHUB_IP: &str = "192.0.2.140";
const BROWSER: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36";
const CONSOLE_UA: &str = "AWS Internal";
const SDK_UA: &str = "aws-sdk-java/2.25.6 Linux/6.1.79 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS";
const CLI_UA: &str = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-azure exe/x86_64.ubuntu.22";
const BOTO_UA: &str =
    "Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#5.15.0 md/arch#x86_64 lang/python#3.11.8";
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// SplitMix64: small, fast, good enough for synthetic data, and stable across
/// platforms and releases (unlike a library's default generator).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..]
        )
    }
    fn key(&mut self, prefix: &str) -> String {
        const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let tail: String = (0..16)
            .map(|_| char::from(B32[self.below(32) as usize]))
            .collect();
        format!("{prefix}{tail}")
    }
}

/// One person, role or service acting.
#[derive(Clone)]
struct Actor {
    identity: Value,
    ip: String,
    agent: String,
    console: bool,
}

pub fn generate(spec: &BackgroundSpec) -> Vec<Value> {
    let mut g = Gen {
        rng: Rng(spec.seed),
        account: spec.account.clone(),
        out: Vec::new(),
    };
    let per_day = spec.events / u64::from(spec.days.max(1));
    let people = ["alice.ng", "bob.okafor", "carol.schmidt"];
    let bot_key_old = g.rng.key("AKIA");
    let bot_key_new = g.rng.key("AKIA");
    for day in 0..spec.days {
        let day_ms = spec.start_ms + i64::from(day) * DAY;
        let workday = day % 7 < 5;
        // Background services and applications: every hour, all week (~70%).
        let app_per_hour = (per_day * 70 / 100 / 24).max(1);
        for hour in 0..24 {
            let t = day_ms + hour * HOUR;
            for (region, nat) in NAT_IPS {
                let n = if region == "us-east-1" {
                    app_per_hour * 3 / 4
                } else {
                    app_per_hour / 4
                };
                for _ in 0..n {
                    let at = t + g.rng.below(HOUR as u64) as i64;
                    g.app_call(at, region, nat);
                }
            }
            // Auto Scaling follows the daily load: out in the morning, in at night.
            if hour == 7 || hour == 13 || hour == 22 {
                let region = if hour == 13 { "eu-west-1" } else { "us-east-1" };
                g.autoscaling(t + 600_000, region, hour != 22);
            }
            g.service_events(t, hour);
        }
        if workday {
            // People (~20%): a console day each, from the office.
            let console_calls = (per_day * 20 / 100 / people.len() as u64).max(1);
            for (i, who) in people.iter().enumerate() {
                let start = day_ms + 8 * HOUR + i as i64 * 900_000 + g.rng.below(1_800_000) as i64;
                g.console_day(who, start, console_calls);
            }
            // CI (~7%): deploys through the working day.
            let deploys = (per_day * 7 / 100 / 12).max(1);
            for _ in 0..deploys {
                let at = day_ms + 9 * HOUR + g.rng.below(9 * HOUR as u64) as i64;
                g.ci_deploy(at);
            }
        }
        // The reporting job (~3%), with the key rotated on day 2 (Wednesday).
        let key = if day < 2 { &bot_key_old } else { &bot_key_new };
        let runs = (per_day * 3 / 100 / 6).max(1);
        for _ in 0..runs {
            let at = day_ms + g.rng.below(DAY as u64) as i64;
            g.reporting_job(at, key);
        }
        if day == 2 {
            g.rotate_bot_key(day_ms + 10 * HOUR, &bot_key_old, &bot_key_new);
        }
    }
    let mut out = g.out;
    out.sort_by(|a, b| a["eventTime"].as_str().cmp(&b["eventTime"].as_str()));
    out
}

struct Gen {
    rng: Rng,
    account: String,
    out: Vec<Value>,
}

impl Gen {
    fn arn(&self, kind: &str, name: &str) -> String {
        format!("arn:aws:{kind}::{}:{name}", self.account)
    }

    fn user(&mut self, name: &str, key: &str, console: bool) -> Value {
        let mut id = json!({
            "type": "IAMUser",
            "principalId": format!("AIDA{}", name.len() * 7919),
            "arn": self.arn("iam", &format!("user/{name}")),
            "accountId": self.account,
            "accessKeyId": key,
            "userName": name,
        });
        if console {
            id["sessionContext"] = json!({"attributes": {"creationDate": "2025-03-03T08:00:00Z", "mfaAuthenticated": "true"}});
        }
        id
    }

    fn role(&mut self, role: &str, session: &str, invoked_by: Option<&str>) -> Value {
        let key = self.rng.key("ASIA");
        let mut id = json!({
            "type": "AssumedRole",
            "principalId": format!("AROA{}:{session}", role.len() * 104_729),
            "arn": format!("arn:aws:sts::{}:assumed-role/{role}/{session}", self.account),
            "accountId": self.account,
            "accessKeyId": key,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": format!("AROA{}", role.len() * 104_729),
                    "arn": self.arn("iam", &format!("role/{role}")), "accountId": self.account, "userName": role},
                "attributes": {"creationDate": "2025-03-03T00:00:00Z", "mfaAuthenticated": "false"}
            }
        });
        if let Some(service) = invoked_by {
            id["invokedBy"] = json!(service);
        }
        id
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        at: i64,
        actor: &Actor,
        source: &str,
        name: &str,
        region: &str,
        read_only: bool,
        request: Value,
        response: Value,
    ) {
        let mut r = json!({
            "eventVersion": "1.09",
            "userIdentity": actor.identity,
            "eventTime": trailguard_core::time::format_millis(at - at % 1000),
            "eventSource": format!("{source}.amazonaws.com"),
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": actor.ip,
            "userAgent": actor.agent,
            "requestParameters": request,
            "responseElements": response,
            "requestID": self.rng.uuid(),
            "eventID": self.rng.uuid(),
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": self.account,
            "eventCategory": "Management",
        });
        if actor.console {
            r["sessionCredentialFromConsole"] = json!("true");
        }
        self.out.push(r);
    }

    fn app_call(&mut self, at: i64, region: &str, nat: &str) {
        let roles = [
            "orders-api-ec2",
            "billing-worker-ec2",
            "thumbnailer-lambda",
            "reports-lambda",
        ];
        let role = *self.rng.pick(&roles);
        let session = format!("i-0{}", self.rng.hex(16));
        let actor = Actor {
            identity: self.role(role, &session, None),
            ip: nat.into(),
            agent: if role.ends_with("lambda") {
                BOTO_UA.into()
            } else {
                SDK_UA.into()
            },
            console: false,
        };
        let kms_key = format!(
            "arn:aws:kms:{region}:{}:key/{}",
            self.account, "5f1c0b1e-7d1a-4b0e-9b7e-2f7f2f0c1a11"
        );
        match self.rng.below(10) {
            0..=3 => self.emit(at, &actor, "kms", "Decrypt", region, true,
                json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "keyId": kms_key}), Value::Null),
            4..=5 => self.emit(at, &actor, "kms", "GenerateDataKey", region, true,
                json!({"keyId": kms_key, "keySpec": "AES_256"}), Value::Null),
            6 => self.emit(at, &actor, "secretsmanager", "GetSecretValue", region, true,
                json!({"secretId": format!("prod/{role}/db")}), Value::Null),
            7 => self.emit(at, &actor, "ssm", "GetParameter", region, true,
                json!({"name": format!("/prod/{role}/config"), "withDecryption": true}), Value::Null),
            8 => self.emit(at, &actor, "sts", "AssumeRole", region, true,
                json!({"roleArn": self.arn("iam", "role/shared-reader"), "roleSessionName": role, "durationSeconds": 3600}),
                json!({"assumedRoleUser": {"arn": format!("arn:aws:sts::{}:assumed-role/shared-reader/{role}", self.account)}})),
            _ => self.emit(at, &actor, "dynamodb", "DescribeTable", region, true,
                json!({"tableName": "orders"}), Value::Null),
        }
    }

    fn autoscaling(&mut self, at: i64, region: &str, scale_out: bool) {
        let actor = Actor {
            identity: self.role(
                "AWSServiceRoleForAutoScaling",
                "AutoScaling",
                Some("autoscaling.amazonaws.com"),
            ),
            ip: "autoscaling.amazonaws.com".into(),
            agent: "autoscaling.amazonaws.com".into(),
            console: false,
        };
        let count = 1 + self.rng.below(3);
        for k in 0..count {
            let t = at + k as i64 * 4000;
            let instance = format!("i-0{}", self.rng.hex(16));
            if scale_out {
                let itype = *self.rng.pick(&["m6i.large", "c6i.xlarge", "t3.medium"]);
                self.emit(t, &actor, "ec2", "RunInstances", region, false,
                    json!({"instancesSet": {"items": [{"imageId": "ami-0c55b159cbfafe1f0", "minCount": 1, "maxCount": 1}]},
                           "instanceType": itype, "launchTemplate": {"launchTemplateId": "lt-0a1b2c3d4e5f67890", "version": "7"}}),
                    json!({"instancesSet": {"items": [{"instanceId": instance, "instanceType": itype}]}}));
            } else {
                self.emit(
                    t,
                    &actor,
                    "ec2",
                    "TerminateInstances",
                    region,
                    false,
                    json!({"instancesSet": {"items": [{"instanceId": instance}]}}),
                    Value::Null,
                );
            }
        }
    }

    fn service_events(&mut self, t: i64, hour: i64) {
        // Config and CloudTrail reading the account's configuration, as services.
        let region = "us-east-1";
        let config = Actor {
            identity: self.role(
                "AWSServiceRoleForConfig",
                "AWSConfig-Describe",
                Some("config.amazonaws.com"),
            ),
            ip: "config.amazonaws.com".into(),
            agent: "config.amazonaws.com".into(),
            console: false,
        };
        for _ in 0..3 {
            let at = t + self.rng.below(HOUR as u64) as i64;
            let name = *self.rng.pick(&[
                "DescribeInstances",
                "DescribeSecurityGroups",
                "DescribeVolumes",
            ]);
            self.emit(
                at,
                &config,
                "ec2",
                name,
                region,
                true,
                Value::Null,
                Value::Null,
            );
        }
        if hour == 3 {
            let kms = Actor {
                identity: json!({"accountId": self.account, "invokedBy": "kms.amazonaws.com"}),
                ip: "kms.amazonaws.com".into(),
                agent: "kms.amazonaws.com".into(),
                console: false,
            };
            self.emit(
                t,
                &kms,
                "kms",
                "RotateKey",
                region,
                false,
                Value::Null,
                Value::Null,
            );
            if let Some(last) = self.out.last_mut() {
                last["eventType"] = json!("AwsServiceEvent");
                last["userIdentity"] =
                    json!({"accountId": self.account, "invokedBy": "kms.amazonaws.com"});
            }
        }
    }

    fn console_day(&mut self, who: &str, start: i64, calls: u64) {
        let ip = self.rng.pick(&OFFICE_IPS).to_string();
        let login = Actor {
            identity: self.user(who, "", false),
            ip: ip.clone(),
            agent: BROWSER.into(),
            console: false,
        };
        self.emit(
            start,
            &login,
            "signin",
            "ConsoleLogin",
            "us-east-1",
            false,
            Value::Null,
            json!({"ConsoleLogin": "Success"}),
        );
        if let Some(last) = self.out.last_mut() {
            last["eventType"] = json!("AwsConsoleSignIn");
            last["additionalEventData"] = json!({"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "Yes"});
            last["userIdentity"]
                .as_object_mut()
                .map(|o| o.remove("accessKeyId"));
        }
        let key = self.rng.key("ASIA");
        let actor = Actor {
            identity: self.user(who, &key, true),
            ip,
            agent: CONSOLE_UA.into(),
            console: true,
        };
        let reads: [(&str, &str); 12] = [
            ("ec2", "DescribeInstances"),
            ("ec2", "DescribeSecurityGroups"),
            ("ec2", "DescribeVpcs"),
            ("s3", "ListBuckets"),
            ("s3", "GetBucketLocation"),
            ("cloudwatch", "GetMetricData"),
            ("logs", "DescribeLogGroups"),
            ("iam", "ListRoles"),
            ("iam", "GetRole"),
            ("lambda", "ListFunctions20150331"),
            ("rds", "DescribeDBInstances"),
            ("cloudformation", "DescribeStacks"),
        ];
        let writes: [(&str, &str); 5] = [
            ("ec2", "CreateTags"),
            ("ec2", "StopInstances"),
            ("ec2", "StartInstances"),
            ("cloudwatch", "PutMetricAlarm"),
            ("logs", "PutRetentionPolicy"),
        ];
        let mut t = start + 20_000;
        for _ in 0..calls {
            t += 5_000 + self.rng.below(150_000) as i64;
            let region = if self.rng.chance(80) {
                "us-east-1"
            } else {
                "eu-west-1"
            };
            if self.rng.chance(4) {
                let (source, name) = *self.rng.pick(&writes);
                self.emit(
                    t,
                    &actor,
                    source,
                    name,
                    region,
                    false,
                    json!({}),
                    Value::Null,
                );
            } else {
                let (source, name) = *self.rng.pick(&reads);
                let source = if source == "cloudwatch" {
                    "monitoring"
                } else {
                    source
                };
                self.emit(
                    t,
                    &actor,
                    source,
                    name,
                    region,
                    true,
                    Value::Null,
                    Value::Null,
                );
                // Now and then a page asks for something the person may not see.
                if self.rng.chance(2) {
                    if let Some(last) = self.out.last_mut() {
                        last["errorCode"] = json!("AccessDenied");
                        last["errorMessage"] =
                            json!("User is not authorized to perform this action");
                    }
                }
            }
        }
    }

    fn ci_deploy(&mut self, at: i64) {
        let session = format!("GitHubActions-{}", self.rng.hex(8));
        let web = Actor {
            identity: json!({"type": "WebIdentityUser", "principalId": "token.actions.githubusercontent.com:sts.amazonaws.com:repo:northwind/shop:ref:refs/heads/main",
                             "userName": "repo:northwind/shop:ref:refs/heads/main", "identityProvider": "token.actions.githubusercontent.com"}),
            ip: GITHUB_IP.into(),
            agent: CLI_UA.into(),
            console: false,
        };
        self.emit(at, &web, "sts", "AssumeRoleWithWebIdentity", "us-east-1", true,
            json!({"roleArn": self.arn("iam", "role/github-actions-deploy"), "roleSessionName": session}),
            json!({"assumedRoleUser": {"arn": format!("arn:aws:sts::{}:assumed-role/github-actions-deploy/{session}", self.account)}}));
        let actor = Actor {
            identity: self.role("github-actions-deploy", &session, None),
            ip: GITHUB_IP.into(),
            agent: CLI_UA.into(),
            console: false,
        };
        let steps: [(&str, &str, bool); 9] = [
            ("ecr", "GetAuthorizationToken", true),
            ("ecr", "BatchCheckLayerAvailability", true),
            ("ecr", "InitiateLayerUpload", false),
            ("ecr", "PutImage", false),
            ("cloudformation", "DescribeStacks", true),
            ("cloudformation", "CreateChangeSet", false),
            ("cloudformation", "ExecuteChangeSet", false),
            ("ecs", "UpdateService", false),
            ("lambda", "UpdateFunctionCode20150331v2", false),
        ];
        let mut t = at + 2_000;
        for (source, name, ro) in steps {
            t += 3_000 + self.rng.below(20_000) as i64;
            self.emit(
                t,
                &actor,
                source,
                name,
                "us-east-1",
                ro,
                json!({}),
                Value::Null,
            );
        }
    }

    fn reporting_job(&mut self, at: i64, key: &str) {
        let actor = Actor {
            identity: self.user("reporting-bot", key, false),
            ip: OFFICE_IPS[0].into(),
            agent: BOTO_UA.into(),
            console: false,
        };
        let calls: [(&str, &str); 5] = [
            ("s3", "ListBuckets"),
            ("s3", "GetBucketLocation"),
            ("athena", "StartQueryExecution"),
            ("athena", "GetQueryExecution"),
            ("glue", "GetTable"),
        ];
        let mut t = at;
        for (source, name) in calls {
            t += 1_000 + self.rng.below(10_000) as i64;
            let ro = name.starts_with("Get") || name.starts_with("List");
            self.emit(
                t,
                &actor,
                source,
                name,
                "us-east-1",
                ro,
                json!({}),
                Value::Null,
            );
        }
    }

    /// An administrator rotates the reporting job's key from the console, with MFA,
    /// from the office; the job switches over from the same office server.
    fn rotate_bot_key(&mut self, at: i64, old: &str, new: &str) {
        let key = self.rng.key("ASIA");
        let admin = Actor {
            identity: self.user("carol.schmidt", &key, true),
            ip: OFFICE_IPS[0].into(),
            agent: CONSOLE_UA.into(),
            console: true,
        };
        self.emit(
            at,
            &admin,
            "iam",
            "ListAccessKeys",
            "us-east-1",
            true,
            json!({"userName": "reporting-bot"}),
            Value::Null,
        );
        self.emit(at + 30_000, &admin, "iam", "CreateAccessKey", "us-east-1", false,
            json!({"userName": "reporting-bot"}),
            json!({"accessKey": {"accessKeyId": new, "status": "Active", "userName": "reporting-bot", "createDate": "Mar 5, 2025 10:00:30 AM"}}));
        self.emit(
            at + 3_600_000,
            &admin,
            "iam",
            "UpdateAccessKey",
            "us-east-1",
            false,
            json!({"userName": "reporting-bot", "accessKeyId": old, "status": "Inactive"}),
            Value::Null,
        );
        self.emit(
            at + 2 * DAY,
            &admin,
            "iam",
            "DeleteAccessKey",
            "us-east-1",
            false,
            json!({"userName": "reporting-bot", "accessKeyId": old}),
            Value::Null,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(events: u64) -> BackgroundSpec {
        BackgroundSpec {
            account: "111122223333".into(),
            start_ms: 1_740_960_000_000, // 2025-03-03T00:00:00Z, a Monday
            days: 7,
            events,
            seed: 7,
        }
    }

    #[test]
    fn deterministic_sorted_and_about_the_size_asked() {
        let a = generate(&spec(20_000));
        assert_eq!(a, generate(&spec(20_000)));
        assert!((15_000..=25_000).contains(&a.len()), "{}", a.len());
        assert!(a
            .windows(2)
            .all(|w| w[0]["eventTime"].as_str() <= w[1]["eventTime"].as_str()));
        let ids: std::collections::HashSet<&str> =
            a.iter().map(|r| r["eventID"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), a.len(), "event ids are unique");
    }

    #[test]
    fn nothing_secret_looking() {
        let text = serde_json::to_string(&generate(&spec(5_000))).unwrap();
        for word in ["secretAccessKey", "sessionToken", "password"] {
            assert!(!text.contains(word), "{word}");
        }
    }
}
