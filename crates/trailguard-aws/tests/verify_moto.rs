//! `Verifier` against STS in moto (IAM enforced, so unknown keys and wrong secrets
//! are refused as AWS refuses them).

#[path = "../../trailguard/tests/moto_support/mod.rs"]
mod moto_support;

use moto_support::Moto;
use trailguard_aws::{Verdict, Verifier};

#[test]
fn live_refused_and_unreachable_pairs() {
    // Two unauthenticated calls (the user and its key), then IAM is enforced.
    let Some(moto) = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "2")]) else {
        return;
    };
    let made: serde_json::Value =
        serde_json::from_str(&moto.python("make_key.py", &["leaky"])).unwrap();
    let (key, secret) = (
        made["key"].as_str().unwrap(),
        made["secret"].as_str().unwrap(),
    );
    let v = Verifier::new(Some(moto.endpoint.clone()), None).unwrap();
    assert_eq!(
        v.verify(key, secret, None),
        Verdict::Live {
            arn: "arn:aws:iam::123456789012:user/leaky".into(),
            account: "123456789012".into()
        }
    );
    let wrong = format!("{}A", &secret[..secret.len() - 1]);
    let w = v.verify(key, &wrong, None);
    assert!(matches!(w, Verdict::Refused { .. }), "{w:?}");
    assert!(matches!(
        v.verify("AKIAWCZC6J72ODEC6IFU", secret, None),
        Verdict::Refused { .. }
    ));
    // Nothing listening: unknown, not refused (a dead network says nothing of the key).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = Verifier::new(Some(format!("http://127.0.0.1:{port}")), None).unwrap();
    match dead.verify(key, secret, None) {
        Verdict::Unknown { reason } => assert!(!reason.contains(secret)),
        other => panic!("{other:?}"),
    }
}
