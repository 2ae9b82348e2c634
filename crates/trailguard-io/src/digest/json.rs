//! The digest as JSON: what the webhook sink sends as the body and the JSON Lines
//! sink writes as a line (`{"type":"digest", ..., "alerts":[ids]}`).

use super::Digest;

/// Compact JSON on one line (newlines in values are escaped), like an alert's: the
/// webhook body and the JSON Lines line are the same bytes.
pub fn digest_json(digest: &Digest) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(digest)
}

#[cfg(test)]
mod tests {
    use super::super::tests::burst;
    use super::super::*;

    #[test]
    fn digest_json_shape() {
        let d = burst(30, 5).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&digest_json(&d).unwrap()).unwrap();
        assert_eq!(v["type"], "digest");
        assert!(v["id"].as_str().unwrap().starts_with("digest-"));
        assert_eq!(v["count"], 25);
        assert_eq!(v["alerts"].as_array().unwrap().len(), 25);
        assert_eq!(v["severities"]["high"], 25);
        assert_eq!(v["severities"]["critical"], 0);
        assert_eq!(
            v["policy"],
            serde_json::json!({"max": 5, "within_seconds": 60})
        );
        let line = &v["lines"][0];
        assert_eq!(line["severity"], "high");
        assert_eq!(line["rule"]["id"], "aws-ec2-run-instances");
        assert!(line["actor"]["arn"].is_string());
        assert!(line.get("region").is_some());
        assert_eq!(v["rules"][0]["count"], 25);
        // Round trip: the JSON is the struct.
        let back: Digest = serde_json::from_value(v).unwrap();
        assert_eq!(back, d);
        assert!(!String::from_utf8(digest_json(&d).unwrap())
            .unwrap()
            .contains('\n'));
    }
}
