use std::collections::HashMap;
use std::path::Path;

use trailguard_core::{Alert, Severity};

use super::*;

const DISCORD: &str = "https://discord.com/api/webhooks/123/DISCORD_TOKEN_s3cr3t";
const SIGNING: &str = "whsec_SIGNING_s3cr3t_0123456789";

fn env(name: &str) -> Option<String> {
    let vars: HashMap<&str, &str> = [
        ("DISCORD_WEBHOOK_URL", DISCORD),
        (
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/T0/B0/SLACK_TOKEN_s3cr3t",
        ),
        (
            "TRAILGUARD_WEBHOOK_URL",
            "https://hooks.example.test/in?token=QUERY_s3cr3t",
        ),
        ("TRAILGUARD_WEBHOOK_SECRET", SIGNING),
        ("EMPTY", ""),
    ]
    .into();
    vars.get(name).map(|v| v.to_string())
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, "tg.toml", Path::new("/etc/trailguard"), &env)
}

fn err(text: &str) -> String {
    let e = parse(text).unwrap_err();
    let shown = format!("{e} {e:?}");
    for secret in [
        "DISCORD_TOKEN",
        "SLACK_TOKEN",
        "QUERY_s3cr3t",
        "SIGNING_s3cr3t",
        "INLINE",
    ] {
        assert!(!shown.contains(secret), "`{secret}` in {shown}");
    }
    e.to_string()
}

const FULL: &str = r#"
[[sink]]
name = "oncall"
kind = "discord"
url_env = "DISCORD_WEBHOOK_URL"
mention_role = 123456789012345678
min_severity = "high"
digest = { max = 10, within = "60s" }

[[sink]]
name = "iam-team"
kind = "slack"
url_env = "SLACK_WEBHOOK_URL"
rules = ["aws-iam-*"]
exclude_rules = ["aws-iam-user-created"]
tags = ["attack.persistence"]

[[sink]]
name = "siem"
kind = "webhook"
url_env = "TRAILGUARD_WEBHOOK_URL"
secret_env = "TRAILGUARD_WEBHOOK_SECRET"

[[sink]]
name = "archive"
kind = "jsonl"
path = "alerts.jsonl"

[delivery]
expiry = "12h"

[[suppress]]
rule = "aws-ec2-*"
actor = "arn:aws:iam::111122223333:role/autoscaling"
ip = "10.0.0.0/8"
reason = "Auto Scaling launches"
by = "alice"
until = 2030-01-01T00:00:00Z

[[suppress]]
actor = "AKIAIOSFODNN7EXAMPLE"
reason = "pen test, ticket SEC-42"
until = "2020-01-01T00:00:00Z"
"#;

#[test]
fn full_config_validates() {
    let c = parse(FULL).unwrap();
    assert_eq!(c.origin, "tg.toml");
    assert_eq!(c.sinks.len(), 4);
    let oncall = c.sink("oncall").unwrap();
    match &oncall.target {
        SinkTarget::Discord { url, mention_role } => {
            assert_eq!(url.expose(), DISCORD);
            assert_eq!(*mention_role, Some(123456789012345678));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(oncall.filter.min_severity, Severity::High);
    assert_eq!(
        oncall.digest,
        Some(DigestPolicy {
            max: 10,
            within_ms: 60_000
        })
    );
    let iam = c.sink("iam-team").unwrap();
    assert_eq!(iam.target.kind(), "slack");
    assert_eq!(iam.filter.rules[0].as_str(), "aws-iam-*");
    assert_eq!(iam.filter.tags, ["attack.persistence"]);
    match &c.sink("siem").unwrap().target {
        SinkTarget::Webhook { secret, .. } => {
            assert_eq!(secret.as_ref().unwrap().expose(), SIGNING)
        }
        other => panic!("{other:?}"),
    }
    match &c.sink("archive").unwrap().target {
        SinkTarget::Jsonl { path } => {
            assert_eq!(
                path,
                Path::new("/etc/trailguard/alerts.jsonl"),
                "relative to the file"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.delivery.expiry_ms, 12 * 3_600_000);
    assert_eq!(c.suppressions.len(), 2);
    let s = &c.suppressions[0];
    assert_eq!((s.number, s.line), (1, Some(32)));
    assert_eq!(s.by.as_deref(), Some("alice"));
    assert_eq!(s.until(), "2030-01-01T00:00:00Z");
    assert_eq!(
        s.criteria(),
        "rule aws-ec2-* actor arn:aws:iam::111122223333:role/autoscaling ip 10.0.0.0/8"
    );
    let now = parse_rfc3339("2025-06-01T00:00:00Z");
    assert_eq!(c.active_suppressions(now).count(), 1);
    assert_eq!(c.expired_suppressions(now).next().unwrap().number, 2);
    assert!(c.warnings.is_empty());
    // Debug of the whole config shows no secret.
    let shown = format!("{c:?} {c:#?}");
    for secret in [
        "DISCORD_TOKEN",
        "SLACK_TOKEN",
        "QUERY_s3cr3t",
        "SIGNING_s3cr3t",
    ] {
        assert!(!shown.contains(secret), "{secret} in Debug");
    }
}

fn parse_rfc3339(s: &str) -> i64 {
    trailguard_core::time::parse_rfc3339_millis(s).unwrap()
}

#[test]
fn empty_file_is_an_empty_config() {
    let c = parse("").unwrap();
    assert!(c.sinks.is_empty() && c.suppressions.is_empty());
    assert_eq!(c.delivery.expiry_ms, DEFAULT_EXPIRY_MS);
}

#[test]
fn unknown_keys_are_errors_naming_key_and_line() {
    let e = err("[[sink]]\nname = \"a\"\nkind = \"jsonl\"\npath = \"x\"\nmin_sevrity = \"high\"\n");
    assert!(e.starts_with("tg.toml:5:"), "{e}");
    assert!(e.contains("unknown field `min_sevrity`"), "{e}");
    assert!(e.contains("`min_severity`"), "lists the keys it knows: {e}");

    let e = err("[delivery]\nexpiry = \"1h\"\nretries = 3\n");
    assert!(
        e.starts_with("tg.toml:3:") && e.contains("`retries`"),
        "{e}"
    );
    let e = err("[[sinks]]\nname = \"a\"\n");
    assert!(e.contains("unknown field `sinks`"), "{e}");
    let e = err("[[sink]]\nname = \"a\"\nkind = \"pagerduty\"\n");
    assert!(
        e.starts_with("tg.toml:3:") && e.contains("pagerduty"),
        "{e}"
    );
    let e = err("[[suppress]]\nrule = \"x\"\nreason = \"r\"\nuntil = 2030-01-01T00:00:00Z\nforever = true\n");
    assert!(
        e.starts_with("tg.toml:5:") && e.contains("`forever`"),
        "{e}"
    );
}

#[test]
fn a_secret_under_a_wrong_key_is_not_echoed() {
    // An inline URL on a misspelled key, and one where a number is expected.
    let e = err("[[sink]]\nname = \"a\"\nkind = \"discord\"\nurll = \"https://x.test/INLINE\"\n");
    assert!(e.contains("`urll`"), "{e}");
    let e = err(
        "[[sink]]\nname = \"a\"\nkind = \"discord\"\nurl_env = \"DISCORD_WEBHOOK_URL\"\n\
         digest = { max = \"https://x.test/INLINE\", within = \"60s\" }\n",
    );
    assert!(e.starts_with("tg.toml:5:"), "{e}");
    // Not TOML at all, on a line holding a secret.
    let e = err("[[sink]]\nurl = \"https://x.test/INLINE\" trailing\n");
    assert!(e.starts_with("tg.toml:2:"), "{e}");
}

#[test]
fn bad_values_name_file_line_key_and_reason() {
    let sink = |extra: &str| {
        format!("[[sink]]\nname = \"oncall\"\nkind = \"discord\"\nurl_env = \"DISCORD_WEBHOOK_URL\"\n{extra}\n")
    };
    let cases = [
        (sink("digest = { max = 10, within = \"6Os\" }"), "tg.toml:5: sink \"oncall\".digest.within: `6Os`: the unit of a duration"),
        (sink("digest = { max = 0, within = \"60s\" }"), "tg.toml:5: sink \"oncall\".digest.max: at least 1"),
        (sink("digest = { max = 5 }"), "missing field `within`"),
        (sink("min_severity = \"urgent\""), "tg.toml:5: sink \"oncall\".min_severity: unknown severity `urgent`"),
        (sink("rules = [\"\"]"), "tg.toml:5: sink \"oncall\".rules: an empty pattern"),
        (sink("tags = [\"attack.*\"]"), "tg.toml:5: sink \"oncall\".tags: a tag is matched exactly"),
        (sink("mention_role = \"@oncall\""), "tg.toml:5: sink \"oncall\".mention_role: a Discord role id"),
        (sink("path = \"x.jsonl\""), "sink \"oncall\".path: only jsonl sinks take `path` (this one is discord)"),
        (sink("secret_env = \"X\""), "only webhook sinks take `secret_env`"),
        (sink("url = \"https://x.test/INLINE\""), "tg.toml:5: sink \"oncall\".url: give url_env or url, not both"),
        ("[delivery]\nexpiry = \"forever\"\n".into(), "tg.toml:2: delivery.expiry: `forever` is not a duration"),
        ("[[sink]]\nname = \"a b\"\nkind = \"jsonl\"\npath = \"x\"\n".into(), "tg.toml:2: sink.name: a sink name is"),
        ("[[sink]]\nname = \"a\"\nkind = \"jsonl\"\npath = \"x\"\n[[sink]]\nname = \"a\"\nkind = \"jsonl\"\npath = \"y\"\n".into(), "tg.toml:6: sink.name: another sink is already named `a`"),
        ("[[sink]]\nname = \"a\"\nkind = \"jsonl\"\n".into(), "tg.toml:1: sink \"a\".path: a jsonl sink needs path"),
        ("[[sink]]\nname = \"a\"\nkind = \"slack\"\n".into(), "tg.toml:1: sink \"a\".url_env: a webhook URL is needed"),
        ("[[sink]]\nname = \"w\"\nkind = \"webhook\"\nurl_env = \"TRAILGUARD_WEBHOOK_URL\"\n".into(), "sink \"w\".secret_env: webhook requests are signed"),
        ("[[sink]]\nname = \"w\"\nkind = \"webhook\"\nurl_env = \"TRAILGUARD_WEBHOOK_URL\"\nsecret = \"INLINE-short\"\n".into(), "tg.toml:5: sink \"w\".secret: a signing secret is at least 16 characters"),
        ("[[sink]]\nname = \"w\"\nkind = \"webhook\"\nurl_env = \"TRAILGUARD_WEBHOOK_URL\"\nsecret_env = \"TRAILGUARD_WEBHOOK_SECRET\"\nunsigned = true\n".into(), "unsigned = true and a signing secret contradict"),
        ("[[sink]]\nname = \"d\"\nkind = \"discord\"\nurl = \"http://discord.example/INLINE\"\n".into(), "tg.toml:4: sink \"d\".url: invalid webhook URL: plain http is allowed only to a loopback address"),
        ("[[sink]]\nname = \"d\"\nkind = \"discord\"\nurl = \"INLINE\"\n".into(), "tg.toml:4: sink \"d\".url: invalid webhook URL: not a URL"),
    ];
    for (text, expected) in cases {
        let e = err(&text);
        assert!(
            e.contains(expected),
            "expected `{expected}` in `{e}`\n{text}"
        );
    }
}

#[test]
fn environment_variables_are_named_never_their_values() {
    let e = err("[[sink]]\nname = \"d\"\nkind = \"discord\"\nurl_env = \"NO_SUCH_VARIABLE\"\n");
    assert_eq!(
        e,
        "tg.toml:4: sink \"d\".url_env: the environment variable NO_SUCH_VARIABLE is not set (or is empty)"
    );
    let e = err("[[sink]]\nname = \"d\"\nkind = \"discord\"\nurl_env = \"EMPTY\"\n");
    assert!(e.contains("EMPTY is not set (or is empty)"), "{e}");
    // The URL itself pasted where the variable's name goes: refused, not echoed.
    let e = err("[[sink]]\nname = \"d\"\nkind = \"discord\"\nurl_env = \"https://discord.com/api/webhooks/1/INLINE\"\n");
    assert!(e.contains("names an environment variable"), "{e}");
    // A variable holding a bad URL: named, the value not shown.
    let e = Config::parse(
        "[[sink]]\nname = \"d\"\nkind = \"slack\"\nurl_env = \"BAD\"\n",
        "tg.toml",
        Path::new(""),
        &|_| Some("ftp://hooks.slack.com/services/BAD_TOKEN".into()),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "tg.toml:4: sink \"d\".url_env: invalid webhook URL: the scheme must be https"
    );
}

#[test]
fn suppressions_need_reason_until_and_a_criterion() {
    let cases = [
        ("rule = \"x\"\nuntil = 2030-01-01T00:00:00Z", "tg.toml:1: suppress #1.reason: every suppression says why"),
        ("rule = \"x\"\nreason = \"  \"\nuntil = 2030-01-01T00:00:00Z", "tg.toml:3: suppress #1.reason: is empty"),
        ("rule = \"x\"\nreason = \"r\"", "tg.toml:1: suppress #1.until: every suppression ends"),
        ("rule = \"x\"\nreason = \"r\"\nuntil = 2030-01-01", "tg.toml:4: suppress #1.until: a date and time with its zone"),
        ("rule = \"x\"\nreason = \"r\"\nuntil = 2030-01-01T00:00:00", "suppress #1.until: a date and time with its zone"),
        ("rule = \"x\"\nreason = \"r\"\nuntil = \"next week\"", "suppress #1.until: a date and time"),
        ("reason = \"r\"\nuntil = 2030-01-01T00:00:00Z", "suppress #1.rule: a suppression needs at least one of rule, actor or ip"),
        ("ip = \"10.0.0.0/33\"\nreason = \"r\"\nuntil = 2030-01-01T00:00:00Z", "tg.toml:2: suppress #1.ip: `10.0.0.0/33`: the prefix length must be a number from 0 to 32"),
        ("ip = \"10.1.2.3/8\"\nreason = \"r\"\nuntil = 2030-01-01T00:00:00Z", "did you mean 10.0.0.0/8"),
        ("ip = \"bastion\"\nreason = \"r\"\nuntil = 2030-01-01T00:00:00Z", "`bastion` is not an IP address"),
    ];
    for (body, expected) in cases {
        let e = err(&format!("[[suppress]]\n{body}\n"));
        assert!(e.contains(expected), "expected `{expected}` in `{e}`");
    }
    // Offsets other than Z are understood.
    let c = parse(
        "[[suppress]]\nrule = \"x\"\nreason = \"r\"\nuntil = \"2030-01-01T02:00:00+02:00\"\n",
    )
    .unwrap();
    assert_eq!(c.suppressions[0].until(), "2030-01-01T00:00:00Z");
}

#[test]
fn suppression_matching() {
    let c = parse(FULL).unwrap();
    let s = &c.suppressions[0];
    let mut a = Alert::example();
    a.rule.id = "aws-ec2-run-instances".into();
    a.actor.arn = Some("arn:aws:iam::111122223333:role/autoscaling".into());
    a.actor.source_ip = Some("10.1.2.3".into());
    assert!(s.matches(&a));
    a.actor.source_ip = Some("203.0.113.7".into());
    assert!(!s.matches(&a), "every criterion must hold");
    a.actor.source_ip = None;
    assert!(!s.matches(&a), "an ip criterion needs an address");
    let key = &c.suppressions[1];
    let mut b = Alert::example();
    assert!(key.matches(&b), "the access key id");
    b.actor.access_key_id = Some("AKIAOTHER".into());
    assert!(!key.matches(&b));
    assert!(
        !key.is_active(parse_rfc3339("2020-01-01T00:00:00Z")),
        "until is exclusive"
    );
    assert!(key.is_active(parse_rfc3339("2019-12-31T23:59:59Z")));
}

#[test]
fn route_filters() {
    let c = parse(FULL).unwrap();
    let iam = &c.sink("iam-team").unwrap().filter;
    let mut a = Alert::example(); // aws-iam-access-key-created-by-unusual-ip, attack.persistence
    assert!(iam.accepts(&a));
    a.rule.tags = vec!["attack.persistence.sub".into()];
    assert!(iam.accepts(&a), "dotted prefix");
    a.rule.tags = vec!["attack.persistencex".into()];
    assert!(!iam.accepts(&a));
    a.rule.tags = vec!["attack.persistence".into()];
    a.rule.id = "aws-iam-user-created".into();
    assert!(!iam.accepts(&a), "excluded");
    a.rule.id = "aws-ec2-x".into();
    assert!(!iam.accepts(&a), "not in rules");
    let oncall = &c.sink("oncall").unwrap().filter;
    a.rule.severity = Severity::Medium;
    assert!(!oncall.accepts(&a));
    a.rule.severity = Severity::High;
    assert!(oncall.accepts(&a));
    assert!(RouteFilter::default().accepts(&a));
}

#[test]
fn permission_warnings_for_inline_secrets_and_writable_files() {
    assert!(permission_warnings("f", 0o600, true).is_empty());
    assert!(
        permission_warnings("f", 0o644, false).is_empty(),
        "nothing secret in it"
    );
    let w = permission_warnings("f", 0o644, true);
    assert_eq!(w.len(), 1);
    assert!(
        w[0].contains("mode 0644") && w[0].contains("chmod 600 f"),
        "{w:?}"
    );
    let w = permission_warnings("f", 0o666, false);
    assert!(w[0].contains("can be written by other users"), "{w:?}");
}

#[cfg(unix)]
#[test]
fn load_warns_about_a_readable_file_with_inline_secrets() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tg.toml");
    std::fs::write(
        &path,
        "[[sink]]\nname = \"d\"\nkind = \"discord\"\nurl = \"https://discord.com/api/webhooks/1/INLINE_TOKEN_x\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(c.warnings[0].contains("can be read by other users"));
    assert!(!c.warnings[0].contains("INLINE_TOKEN"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(Config::load(&path).unwrap().warnings.is_empty());

    let e = Config::load(&dir.path().join("missing.toml")).unwrap_err();
    assert!(
        e.to_string().starts_with("cannot read the config file"),
        "{e}"
    );
}

#[test]
fn suppressions_alone_load_without_the_sinks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tg.toml");
    std::fs::write(
        &path,
        FULL.replace("DISCORD_WEBHOOK_URL", "TG_TEST_UNSET_VARIABLE"),
    )
    .unwrap();
    assert!(Config::load(&path)
        .unwrap_err()
        .to_string()
        .contains("TG_TEST_UNSET_VARIABLE"));
    let c = Config::load_suppressions(&path).unwrap();
    assert!(c.sinks.is_empty());
    assert_eq!(c.suppressions.len(), 2);
    // Still strict about the rest of the file.
    std::fs::write(&path, "[[suppress]]\nrule = \"x\"\nreason = \"r\"\n").unwrap();
    assert!(Config::load_suppressions(&path)
        .unwrap_err()
        .to_string()
        .contains("until"));
}

#[test]
fn targets_build_their_sinks() {
    let c = parse(FULL).unwrap();
    for s in &c.sinks {
        if let SinkTarget::Jsonl { .. } = s.target {
            continue; // /etc/trailguard does not exist here
        }
        let sink = s.target.build().unwrap();
        assert_eq!(sink.name(), s.target.kind());
    }
    let dir = tempfile::tempdir().unwrap();
    let jsonl = SinkTarget::Jsonl {
        path: dir.path().join("a.jsonl"),
    };
    assert!(jsonl.build().is_ok());
}

/// `examples/trailguard.toml` documents every key: it must always load.
#[test]
fn the_commented_example_loads() {
    let text = include_str!("../../../../examples/trailguard.toml");
    let c = Config::parse(text, "examples/trailguard.toml", Path::new("/srv"), &env).unwrap();
    let names: Vec<&str> = c.sinks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["oncall", "iam-team", "siem", "archive"]);
    let kinds: Vec<&str> = c.sinks.iter().map(|s| s.target.kind()).collect();
    assert_eq!(kinds, ["discord", "slack", "webhook", "jsonl"]);
    assert!(c.sink("oncall").unwrap().digest.is_some());
    assert_eq!(c.delivery.expiry_ms, DEFAULT_EXPIRY_MS);
    assert_eq!(c.suppressions.len(), 2);
    assert_eq!(c.suppressions[1].until(), "2025-06-30T16:00:00Z");
    // Every key the file format knows appears in it.
    for key in [
        "name",
        "kind",
        "url_env",
        "url",
        "secret_env",
        "secret",
        "unsigned",
        "mention_role",
        "path",
        "min_severity",
        "rules",
        "exclude_rules",
        "tags",
        "digest",
        "max",
        "within",
        "[delivery]",
        "expiry",
        "[[suppress]]",
        "rule",
        "actor",
        "ip",
        "reason",
        "until",
        "by",
    ] {
        assert!(
            text.contains(key),
            "`{key}` is not documented in the example"
        );
    }
}

#[test]
fn respond_guards_are_read_and_checked() {
    let c = parse(
        "[respond]\nprotect = [\"arn:aws:iam::111122223333:user/ops\", \"i-0abc\"]\nbreak_glass = [\"emergency\"]\n",
    )
    .unwrap();
    assert_eq!(
        c.respond.protect,
        ["arn:aws:iam::111122223333:user/ops", "i-0abc"]
    );
    assert_eq!(c.respond.break_glass, ["emergency"]);
    let e = err("[respond]\nprotect = [\"\"]\n");
    assert!(
        e.contains("respond.protect") && e.contains("tg.toml:2"),
        "{e}"
    );
    let e = err("[respond]\nprotct = []\n");
    assert!(e.contains("protct"), "{e}");
    assert_eq!(parse("").unwrap().respond, Default::default());
}
