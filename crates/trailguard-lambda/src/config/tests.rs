use super::*;

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const TOKEN: &str = "tOkEn-s3cr3t-s3cr3t-s3cr3t";

#[test]
fn defaults_need_nothing() {
    let c = LambdaConfig::from_env(&Env::new()).unwrap();
    assert!(c.rules.len() > 50);
    assert_eq!(c.min_severity, Severity::Info);
    assert_eq!(c.window_ms, 3_600_000);
    assert_eq!(c.keys, KeyFilter::CloudTrail);
    assert!(c.routing.sinks.is_empty());
    assert!(c
        .warnings
        .iter()
        .any(|w| w.starts_with("no sink configured")));
    assert!(c.log_alerts);
    assert_eq!((c.state_table, c.aws_endpoint_url), (None, None));
    let c = LambdaConfig::from_env(&env(&[
        ("TRAILGUARD_STATE_TABLE", " trailguard-state "),
        ("TRAILGUARD_AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
    ]))
    .unwrap();
    assert_eq!(c.state_table.as_deref(), Some("trailguard-state"));
    assert_eq!(c.aws_endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
}

#[test]
fn sinks_and_routes_from_the_environment() {
    let e = env(&[
        (
            "DISCORD_WEBHOOK_URL",
            &format!("https://discord.com/api/webhooks/1/{TOKEN}"),
        ),
        (
            "TRAILGUARD_WEBHOOK_URL",
            &format!("https://example.org/hook/{TOKEN}"),
        ),
        ("TRAILGUARD_WEBHOOK_SECRET", "0123456789abcdef0123"),
        ("TRAILGUARD_ROUTES", "discord=high, webhook=info"),
        ("TRAILGUARD_MIN_SEVERITY", "low"),
        ("TRAILGUARD_S3_KEYS", "ALL"),
    ]);
    let c = LambdaConfig::from_env(&e).unwrap();
    let names: Vec<&str> = c.routing.sinks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["discord", "webhook"]);
    assert_eq!(c.routing.sinks[0].filter.min_severity, Severity::High);
    assert_eq!(c.routing.sinks[1].filter.min_severity, Severity::Info);
    assert_eq!(c.min_severity, Severity::Low);
    assert_eq!(c.keys, KeyFilter::All);
    assert!(!format!("{c:?}").contains(TOKEN));
}

#[test]
fn bad_values_name_the_variable_and_never_a_secret() {
    let url = format!("https://discord.com/api/webhooks/1/{TOKEN}");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("TRAILGUARD_MIN_SEVERITY", "urgent")],
            "TRAILGUARD_MIN_SEVERITY: `urgent` is not a severity",
        ),
        (
            &[("TRAILGUARD_WINDOW_MINUTES", "0")],
            "TRAILGUARD_WINDOW_MINUTES: 0 is out of range",
        ),
        (
            &[("TRAILGUARD_WINDOW_MINUTES", "1h")],
            "TRAILGUARD_WINDOW_MINUTES: `1h` is not a whole number",
        ),
        (
            &[("TRAILGUARD_LOG_ALERTS", "maybe")],
            "TRAILGUARD_LOG_ALERTS: `maybe` is not true or false",
        ),
        (
            &[("TRAILGUARD_S3_KEYS", "some")],
            "TRAILGUARD_S3_KEYS: `some` is neither",
        ),
        (
            &[
                ("DISCORD_WEBHOOK_URL", &url),
                ("TRAILGUARD_ROUTES", "slack=high"),
            ],
            "TRAILGUARD_ROUTES: no sink named `slack` (configured: discord)",
        ),
        (
            &[
                ("DISCORD_WEBHOOK_URL", &url),
                ("TRAILGUARD_ROUTES", "discord:high"),
            ],
            "TRAILGUARD_ROUTES: `discord:high` is not SINK=SEVERITY",
        ),
        (
            &[
                ("DISCORD_WEBHOOK_URL", &url),
                ("DISCORD_MENTION_ROLE", "ops"),
            ],
            "DISCORD_MENTION_ROLE: `ops` is not a role id",
        ),
        (
            &[
                ("TRAILGUARD_WEBHOOK_URL", &url),
                ("TRAILGUARD_WEBHOOK_SECRET", "short"),
            ],
            "TRAILGUARD_WEBHOOK_SECRET: must be at least 16 characters",
        ),
        (
            &[("TRAILGUARD_NO_BUILTIN", "true")],
            "rules: no rules loaded",
        ),
        (
            &[("TRAILGUARD_RULES_DIRS", "/nonexistent-rules")],
            "rules: cannot read rules folder /nonexistent-rules",
        ),
        (
            &[("TRAILGUARD_AWS_ENDPOINT_URL", "localhost:5000")],
            "TRAILGUARD_AWS_ENDPOINT_URL: not an http:// or https:// URL",
        ),
        (
            &[(
                "TRAILGUARD_AWS_ENDPOINT_URL",
                &format!("http://me:{TOKEN}@127.0.0.1:5000"),
            )],
            "TRAILGUARD_AWS_ENDPOINT_URL: give http(s)://HOST[:PORT], with no user",
        ),
        (
            &[("TRAILGUARD_CONFIG", "/nonexistent/trailguard.toml")],
            "TRAILGUARD_CONFIG: cannot read /nonexistent/trailguard.toml",
        ),
    ];
    for (pairs, want) in cases {
        let e = LambdaConfig::from_env(&env(pairs)).unwrap_err().to_string();
        assert!(e.starts_with(want), "{pairs:?}: {e}");
        assert!(!e.contains(TOKEN), "{e}");
    }
}

#[test]
fn a_config_file_reads_its_secrets_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trailguard.toml"),
        "[[sink]]\nname = \"oncall\"\nkind = \"slack\"\nurl_env = \"ONCALL_URL\"\nmin_severity = \"high\"\n",
    )
    .unwrap();
    let root = dir.path().display().to_string();
    let url = format!("https://hooks.slack.com/services/T0/B0/{TOKEN}");
    let ok = env(&[
        ("LAMBDA_TASK_ROOT", &root),
        ("TRAILGUARD_CONFIG", "trailguard.toml"),
        ("ONCALL_URL", &url),
    ]);
    let c = LambdaConfig::from_env(&ok).unwrap();
    assert_eq!(c.routing.sinks[0].name, "oncall");
    assert_eq!(c.routing.sinks[0].filter.min_severity, Severity::High);
    let missing = env(&[
        ("LAMBDA_TASK_ROOT", &root),
        ("TRAILGUARD_CONFIG", "trailguard.toml"),
    ]);
    let e = LambdaConfig::from_env(&missing).unwrap_err().to_string();
    assert!(e.contains("ONCALL_URL"), "{e}");
    let both = env(&[
        ("LAMBDA_TASK_ROOT", &root),
        ("TRAILGUARD_CONFIG", "trailguard.toml"),
        ("ONCALL_URL", &url),
        ("TRAILGUARD_ROUTES", "oncall=low"),
    ]);
    let e = LambdaConfig::from_env(&both).unwrap_err().to_string();
    assert!(
        e.starts_with("TRAILGUARD_ROUTES: give routes in the TRAILGUARD_CONFIG file"),
        "{e}"
    );
}
