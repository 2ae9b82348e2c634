//! Is a found key pair live? `sts:GetCallerIdentity` signed with it: the one call
//! every credential may make, which changes nothing and needs no permission. Only
//! on request (`scan --verify`): the call shows up in the key owner's CloudTrail, and
//! canary tokens alert on it.

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_sts::error::ProvideErrorMetadata;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// What STS said of a key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The pair works: who it is.
    Live { arn: String, account: String },
    /// STS refused the pair (unknown key, wrong secret, expired or inactive key).
    Refused { code: String },
    /// No answer, or an answer that says nothing about the key (throttling, network).
    Unknown { reason: String },
}

/// Asks STS about key pairs, one at a time.
pub struct Verifier {
    runtime: crate::SharedRuntime,
    http: aws_smithy_runtime_api::client::http::SharedHttpClient,
    endpoint_url: Option<String>,
    region: String,
}

/// Codes that mean "this pair is not valid", as opposed to "could not tell".
const REFUSED: &[&str] = &[
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
];

impl Verifier {
    /// `endpoint_url`: another STS endpoint (an emulator in tests, a VPC endpoint).
    pub fn new(endpoint_url: Option<String>, region: Option<String>) -> Result<Verifier, String> {
        let runtime = crate::runtime().map_err(|e| e.to_string())?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        Ok(Verifier {
            runtime,
            http,
            endpoint_url,
            region: region.unwrap_or_else(|| "us-east-1".to_string()),
        })
    }

    /// Signs `GetCallerIdentity` with the pair (and session token, for `ASIA` keys).
    /// The secret goes only into the request signature.
    pub fn verify(
        &self,
        access_key_id: &str,
        secret: &str,
        session_token: Option<&str>,
    ) -> Verdict {
        let creds = Credentials::new(
            access_key_id,
            secret,
            session_token.map(str::to_string),
            None,
            "trailguard-scan",
        );
        let mut conf = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(creds)
            .http_client(self.http.clone());
        if let Some(u) = &self.endpoint_url {
            conf = conf.endpoint_url(u);
        }
        let sts = aws_sdk_sts::Client::from_conf(conf.build());
        match crate::block_on(&self.runtime, sts.get_caller_identity().send()) {
            Ok(out) => Verdict::Live {
                arn: out.arn().unwrap_or_default().to_string(),
                account: out.account().unwrap_or_default().to_string(),
            },
            Err(e) => match e.code() {
                Some(code) if REFUSED.contains(&code) => Verdict::Refused {
                    code: code.to_string(),
                },
                Some(code) => Verdict::Unknown {
                    reason: code.to_string(),
                },
                // An error body the SDK could not read (emulators word theirs
                // differently): a 403 still refuses the pair; the code is taken from
                // the XML when it is there.
                None => match e.raw_response() {
                    Some(raw) if raw.status().as_u16() == 403 => Verdict::Refused {
                        code: raw
                            .body()
                            .bytes()
                            .and_then(code_in_xml)
                            .unwrap_or_else(|| "HTTP 403".to_string()),
                    },
                    Some(raw) => Verdict::Unknown {
                        reason: format!("HTTP {} from STS", raw.status().as_u16()),
                    },
                    None => Verdict::Unknown {
                        reason: "no answer from STS".to_string(),
                    },
                },
            },
        }
    }
}

/// `<Code>X</Code>` in an error body, when X is a plain error code.
fn code_in_xml(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    let code = &text[start..start + len];
    (!code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
    .then(|| code.to_string())
}

#[cfg(test)]
mod tests {
    use super::code_in_xml;

    #[test]
    fn error_codes_are_read_from_xml_bodies_and_nothing_else() {
        assert_eq!(
            code_in_xml(
                b"<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>"
            )
            .as_deref(),
            Some("SignatureDoesNotMatch")
        );
        assert_eq!(code_in_xml(b"<Code><script></Code>"), None);
        assert_eq!(code_in_xml(b"<Code>"), None);
        assert_eq!(code_in_xml(&[0xff, 0xfe]), None);
    }
}
