use serde_json::json;

use super::*;

const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TOKEN: &str =
    "IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQDxSESSIONtokenTOKENtoken0123456789abcdefABCDEF+/==";
const OLD_TOKEN: &str = "FwoGZXIvYXdzEBaaDOLDtokenOLDtoken0123456789abcdefghijklmnopq";
const PASSWORD: &str = "Hunter2!Corr3ct-Horse";
const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAPEMSECRETmaterial\n-----END RSA PRIVATE KEY-----";

/// None of the secrets, nor their distinctive parts, in `text`.
fn assert_clean(text: &str) {
    for secret in [
        "wJalrXUtnFEMI",
        "EXAMPLEKEY",
        "SESSIONtoken",
        "OLDtoken",
        "Hunter2",
        "Corr3ct",
        "PEMSECRET",
        "MIIEow",
    ] {
        assert!(!text.contains(secret), "`{secret}` left in: {text}");
    }
}

fn redacted(text: &str) -> String {
    redact_text(text).unwrap_or_else(|| text.to_owned())
}

#[test]
fn key_names() {
    for k in [
        "secretAccessKey",
        "SecretAccessKey",
        "aws_secret_access_key",
        "sessionToken",
        "SessionToken",
        "x-amz-security-token",
        "X-Amz-Security-Token",
        "password",
        "Password",
        "newPassword",
        "oldPassword",
        "masterUserPassword",
        "MasterUserPassword",
        "privateKey",
        "private_key",
        "clientSecret",
        "passwordData",
    ] {
        assert!(is_secret_key(k), "{k}");
    }
    for k in [
        "accessKeyId",
        "userName",
        "passwordResetRequired",
        "passwordLastUsed",
        "PasswordPolicy",
        "MinimumPasswordLength",
        "MaxPasswordAge",
        "sessionContext",
        "sessionIssuer",
        "type",
        "privateKeyId",
    ] {
        assert!(!is_secret_key(k), "{k}");
    }
}

#[test]
fn text_forms() {
    let cases = [
        format!("aws_secret_access_key = {SECRET_KEY}"),
        format!("aws_secret_access_key={SECRET_KEY}\naws_session_token={TOKEN}"),
        format!("AWS_SECRET_ACCESS_KEY: {SECRET_KEY}"),
        format!("{{\"secretAccessKey\":\"{SECRET_KEY}\",\"sessionToken\":\"{TOKEN}\"}}"),
        format!("{{\"SecretAccessKey\": \"{SECRET_KEY}\"}}"),
        format!("x-amz-security-token: {OLD_TOKEN}"),
        format!("https://s3.amazonaws.com/b/k?X-Amz-Security-Token={TOKEN}&X-Amz-Signature=abc"),
        format!("password={PASSWORD}&user=bob"),
        format!("login failed for bob (password: '{PASSWORD}')"),
        format!("{{\"newPassword\":\"{PASSWORD}\",\"oldPassword\":\"{PASSWORD}\"}}"),
        format!("MasterUserPassword => \"{PASSWORD}\""),
        format!("aws configure set aws_secret_access_key {SECRET_KEY}"),
        // Escaped JSON, once and twice.
        format!("{{\\\"password\\\":\\\"{PASSWORD}\\\"}}"),
        format!("{{\\\\\\\"password\\\\\\\":\\\\\\\"{PASSWORD}\\\\\\\"}}"),
        // A quote inside a quoted password does not end it.
        "{\"password\":\"Hunter2\\\"Corr3ct\"}".to_owned(),
        // Bare shapes, no key.
        format!("assumed role with {TOKEN} from laptop"),
        format!("user agent boto3 {SECRET_KEY} x"),
        PEM.to_owned(),
        format!("key: {}", PEM.replace('\n', "\\n")),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEPEMSECRET".to_owned(),
        "-----BEGIN PRIVATE KEY-----MIIEowPEMSECRET-----END PRIVATE KEY-----".to_owned(),
    ];
    for text in cases {
        let r = redacted(&text);
        assert_clean(&r);
        assert!(r.contains(REDACTED), "{r}");
    }
    // What stays.
    let r = redacted(&format!(
        "url?X-Amz-Security-Token={TOKEN}&X-Amz-Signature=abc"
    ));
    assert!(r.ends_with("&X-Amz-Signature=abc"), "{r}");
    let r = redacted(&format!("password={PASSWORD}&user=bob"));
    assert_eq!(r, "password=[redacted]&user=bob");
    assert_eq!(
        redacted("{\"password\":\"Hunter2\\\"Corr3ct\",\"user\":\"bob\"}"),
        "{\"password\":\"[redacted]\",\"user\":\"bob\"}"
    );
    assert_eq!(
        redacted(&format!(
            "{{\\\"password\\\":\\\"{PASSWORD}\\\",\\\"u\\\":1}}"
        )),
        "{\\\"password\\\":\\\"[redacted]\\\",\\\"u\\\":1}"
    );
    assert_eq!(
        redacted(&format!("before {PEM} after")),
        "before [redacted] after"
    );
}

#[test]
fn ordinary_text_is_left_alone() {
    for text in [
        "IAM user password changed",
        "admin reset the password for bob",
        "UpdateAccountPasswordPolicy",
        "sessionToken expired",
        "{\"passwordResetRequired\":true,\"password\":null}",
        "arn:aws:iam::123456789012:user/admin",
        "AKIAIOSFODNN7EXAMPLE",
        "aws-cli/2.15.0 Python/3.11.6 Linux/5.15.0-1051-aws exe/x86_64.ubuntu.22 prompt/off",
        "0f0e0d0c-0000-4000-8000-000000000002",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709", // a SHA-1: no upper case, no slash
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "password: [redacted]",
        "",
    ] {
        assert_eq!(redact_text(text), None, "{text}");
    }
}

/// An alert built from a hostile record: secrets everywhere a log line can reach.
fn hostile_alert() -> Alert {
    let mut a = Alert::example();
    a.summary = format!("admin called CreateAccessKey with password={PASSWORD}");
    a.actor.user_agent = Some(format!("aws-cli/2.15 token/{TOKEN}"));
    a.actor.arn = Some(format!("arn:aws:iam::1:user/{SECRET_KEY}"));
    a.event_name = Some(format!("x-amz-security-token: {OLD_TOKEN}"));
    let ctx = json!({
        "requestParameters": {
            "userName": "bob",
            "password": PASSWORD,
            "passwordResetRequired": true,
            "nested": [{"credentials": {"accessKeyId": "ASIAEXAMPLE", "secretAccessKey": SECRET_KEY,
                                        "sessionToken": TOKEN, "expiration": "2024-05-01T13:00:00Z"}}],
            "masterUserPassword": 12345678,
            "privateKey": {"material": PEM, "format": ["pem", PEM]},
        },
        "responseElements": format!("{{\"accessKey\":{{\"accessKeyId\":\"AKIANEW\",\"secretAccessKey\":\"{SECRET_KEY}\"}}}}"),
        "errorMessage": format!("The security token included in the request is invalid: {TOKEN}"),
        "arrays": [[["deep", format!("aws_secret_access_key={SECRET_KEY}")]]],
        "escaped": format!("{{\\\"oldPassword\\\":\\\"{PASSWORD}\\\",\\\"newPassword\\\":\\\"{PASSWORD}\\\"}}"),
        "pem": PEM,
    });
    a.context = ctx.as_object().unwrap().clone();
    a
}

#[test]
fn hostile_alert_leaves_with_no_secret() {
    let mut a = hostile_alert();
    let n = redact_alert(&mut a);
    assert!(n >= 12, "{n}");
    let json = serde_json::to_string(&a).unwrap();
    assert_clean(&json);
    // Everything else is kept.
    assert_eq!(a.id, Alert::example().id);
    assert_eq!(
        a.actor.access_key_id.as_deref(),
        Some("AKIAIOSFODNN7EXAMPLE")
    );
    let rp = &a.context["requestParameters"];
    assert_eq!(rp["userName"], "bob");
    assert_eq!(rp["password"], REDACTED);
    assert_eq!(rp["passwordResetRequired"], true);
    assert_eq!(rp["masterUserPassword"], REDACTED);
    let creds = &rp["nested"][0]["credentials"];
    assert_eq!(creds["accessKeyId"], "ASIAEXAMPLE");
    assert_eq!(creds["expiration"], "2024-05-01T13:00:00Z");
    assert_eq!(creds["secretAccessKey"], REDACTED);
    assert_eq!(rp["privateKey"]["format"], json!([REDACTED, REDACTED]));
    assert!(a.context["responseElements"]
        .as_str()
        .unwrap()
        .contains("AKIANEW"));
    assert!(a
        .summary
        .starts_with("admin called CreateAccessKey with password="));
    assert!(a
        .actor
        .arn
        .as_deref()
        .unwrap()
        .starts_with("arn:aws:iam::1:user/"));
    // A second pass finds nothing more.
    assert_eq!(redact_alert(&mut a), 0);
}

#[test]
fn a_clean_alert_is_untouched() {
    let mut a = Alert::example();
    let before = a.clone();
    assert_eq!(redact_alert(&mut a), 0);
    assert_eq!(a, before);
    let mut all = vec![hostile_alert(), Alert::example()];
    assert!(redact_alerts(&mut all) > 0);
    assert_eq!(all[1], before);
}

#[test]
fn no_alert_field_is_named_like_a_credential() {
    // redact_alert relies on it: the JSON shape of an alert never changes.
    let v = serde_json::to_value(Alert::example()).unwrap();
    fn keys(v: &Value, out: &mut Vec<String>) {
        if let Value::Object(m) = v {
            for (k, v) in m {
                out.push(k.clone());
                keys(v, out);
            }
        }
    }
    let mut all = Vec::new();
    keys(&v, &mut all);
    assert!(all.len() > 15);
    for k in all {
        assert!(!is_secret_key(&k), "{k}");
    }
}

#[test]
fn secret_keys_long_and_short_agree() {
    for key in [
        "password",
        "newPassword",
        "x_Secret_Access-Key",
        "passwordPolicy",
        "userName",
        "sessionToken",
    ] {
        let long = format!("{}{key}", "a".repeat(200));
        assert_eq!(is_secret_key(key), is_secret_key_long(key), "{key}");
        assert_eq!(is_secret_key(&long), is_secret_key_long(&long), "{long}");
    }
}
