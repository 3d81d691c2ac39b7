//! Whether a sign-in completed MFA, read from the tokens Entra returned,
//! and whether a step-up must make Entra authenticate again.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Extra claims Entra puts in ID tokens that the OIDC crate does not type.
#[derive(Deserialize)]
pub(super) struct EntraIdClaims {
    pub(super) tid: String,
    pub(super) oid: String,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) preferred_username: Option<String>,
    /// v1.0 tokens only; v2.0 ID tokens carry no `amr` (see [`mfa_evidence`]).
    #[serde(default)]
    amr: Vec<String>,
    #[serde(default)]
    auth_time: Option<i64>,
}

/// The authentication facts of Graph's (v1.0) access token.
#[derive(Deserialize)]
struct AuthenticationClaims {
    #[serde(default)]
    amr: Vec<String>,
    #[serde(default)]
    auth_time: Option<i64>,
}

/// When the sign-in that produced these tokens completed MFA, if it did.
///
/// v2.0 ID tokens have no `amr` claim (Entra documents `amr` for v1.0
/// tokens only), so the evidence comes from the ID token when it has it and
/// otherwise from the v1.0 Graph access token of the same response. Both
/// arrived directly from the token endpoint over TLS in exchange for our
/// code and PKCE verifier, which authenticates them (OpenID Connect Core
/// §3.1.3.7). The claims only decide whether to ask for MFA again; they
/// never grant anything. An opaque or unreadable access token is no
/// evidence, so the person is asked again.
pub(super) fn mfa_evidence(id: &EntraIdClaims, access_token: &str) -> Option<DateTime<Utc>> {
    let (amr, auth_time) = if id.amr.is_empty() {
        let access: AuthenticationClaims = jsonwebtoken::dangerous::insecure_decode(access_token)
            .ok()?
            .claims;
        (access.amr, access.auth_time)
    } else {
        (id.amr.clone(), id.auth_time)
    };
    amr.iter().any(|m| m == "mfa").then_some(())?;
    DateTime::from_timestamp(auth_time?, 0)
}

/// The `claims` request for a fresh MFA sign-in (OpenID Connect §5.5):
/// `amr` containing `mfa`, essential, for both tokens.
pub const MFA_CLAIMS: &str = r#"{"id_token":{"amr":{"essential":true,"values":["mfa"]}},"access_token":{"amr":{"essential":true,"values":["mfa"]}}}"#;

/// A step-up that demands MFA must make Entra authenticate again: an SSO
/// session whose MFA is hours old would satisfy the claim silently.
pub(super) fn demands_fresh_mfa(claims: &str) -> bool {
    let Ok(serde_json::Value::Object(sections)) = serde_json::from_str(claims) else {
        return false;
    };
    sections
        .values()
        .any(|section| section.get("amr").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn id_claims(amr: &[&str], auth_time: Option<i64>) -> EntraIdClaims {
        EntraIdClaims {
            tid: "t".into(),
            oid: "o".into(),
            name: None,
            preferred_username: None,
            amr: amr.iter().map(|s| (*s).to_owned()).collect(),
            auth_time,
        }
    }

    /// An unsigned JWT-shaped string with these claims (only the payload
    /// is read).
    fn access_token(claims: serde_json::Value) -> String {
        let part = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.sig",
            part(&serde_json::json!({"alg": "RS256", "typ": "JWT"})),
            part(&claims)
        )
    }

    #[test]
    fn mfa_evidence_needs_mfa_in_amr_and_an_auth_time() {
        let none = id_claims(&[], None);
        let at = 1_800_000_000;
        let with =
            |amr: serde_json::Value| access_token(serde_json::json!({"amr": amr, "auth_time": at}));
        assert_eq!(
            mfa_evidence(&none, &with(serde_json::json!(["pwd", "mfa"]))),
            DateTime::from_timestamp(at, 0)
        );
        assert_eq!(mfa_evidence(&none, &with(serde_json::json!(["pwd"]))), None);
        assert_eq!(mfa_evidence(&none, "opaque-token"), None);
        assert_eq!(
            mfa_evidence(&none, &access_token(serde_json::json!({"amr": ["mfa"]}))),
            None,
            "no auth_time, no evidence"
        );
        // A v1.0 ID token's own amr wins over the access token's.
        assert_eq!(
            mfa_evidence(
                &id_claims(&["pwd"], Some(at)),
                &with(serde_json::json!(["mfa"]))
            ),
            None
        );
    }

    #[test]
    fn only_an_amr_demand_forces_a_fresh_sign_in() {
        assert!(demands_fresh_mfa(MFA_CLAIMS));
        assert!(!demands_fresh_mfa(
            r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#
        ));
        assert!(!demands_fresh_mfa("not json"));
    }
}
