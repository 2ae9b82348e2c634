//! `SecretsManagerSecrets` against Secrets Manager in moto (server mode, 127.0.0.1):
//! the value is returned, and appears in no error and no `Debug` output.

#[path = "../../trailguard/tests/moto_support/mod.rs"]
mod moto_support;

mod common;

use aws_sdk_secretsmanager::primitives::Blob;
use moto_support::Moto;
use trailguard_aws::SecretsManagerSecrets;

const VALUE: &str = "https://discord.com/api/webhooks/123/s3cr3t-T0KEN-never-printed";
const BINARY: &str = "binary-s3cr3t-never-printed";

/// Two secrets: one string (the webhook URL), one binary; returns the string's ARN.
fn secrets(moto: &Moto) -> String {
    let c = aws_sdk_secretsmanager::Client::new(&common::sdk_config(&moto.endpoint));
    let rt = common::runtime();
    let out = rt
        .block_on(
            c.create_secret()
                .name("trailguard/discord")
                .secret_string(VALUE)
                .send(),
        )
        .unwrap();
    rt.block_on(
        c.create_secret()
            .name("trailguard/binary")
            .secret_binary(Blob::new(BINARY.as_bytes()))
            .send(),
    )
    .unwrap();
    out.arn().unwrap().to_string()
}

#[test]
fn the_value_by_arn_or_name() {
    let Some(moto) = Moto::start(&[]) else { return };
    let arn = secrets(&moto);
    let s = SecretsManagerSecrets::connect(&common::options(&moto.endpoint)).unwrap();
    assert_eq!(s.get(&arn).unwrap(), VALUE);
    assert_eq!(s.get("trailguard/discord").unwrap(), VALUE);
    assert!(!format!("{s:?}").contains("s3cr3t"), "{s:?}");
}

#[test]
fn errors_name_the_secret_never_its_value() {
    let Some(moto) = Moto::start(&[]) else { return };
    secrets(&moto);
    let s = SecretsManagerSecrets::connect(&common::options(&moto.endpoint)).unwrap();
    let missing = s.get("trailguard/missing").unwrap_err();
    assert!(missing.is_not_found(), "{missing:?}");
    assert!(
        missing.to_string().contains("secret `trailguard/missing`"),
        "{missing}"
    );
    let binary = s.get("trailguard/binary").unwrap_err();
    assert!(
        binary.to_string().contains("secret `trailguard/binary`")
            && binary.to_string().contains("no SecretString"),
        "{binary}"
    );
    for e in [&missing, &binary] {
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains("s3cr3t"), "a secret leaked: {text}");
        }
    }
    // The options that reach Secrets Manager do not show their credentials either.
    let options = format!("{:?}", common::options(&moto.endpoint));
    assert!(
        !options.contains(common::SECRET_KEY) && options.contains("redacted"),
        "{options}"
    );
}
