//! Reading the `scope` and `claims` parameters.
//!
//! Scopes without a resource prefix belong to Microsoft Graph, as on the
//! Microsoft identity platform; `openid`, `profile`, `email` and
//! `offline_access` are OpenID Connect scopes that shape the response rather
//! than the access token.

use serde_json::Value;

use super::error::EntraError;
use crate::tokens::{GRAPH_APP_ID, GRAPH_AUDIENCE};

pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
pub const BOTFRAMEWORK_RESOURCE: &str = "https://api.botframework.com";

/// A delegated request's scopes, split by meaning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requested {
    /// Graph permission names as requested (no resource prefix).
    pub graph: Vec<String>,
    /// `https://graph.microsoft.com/.default`: every consented permission.
    pub graph_default: bool,
    pub oidc: Vec<String>,
}

impl Requested {
    pub fn has(&self, oidc: &str) -> bool {
        self.oidc.iter().any(|s| s == oidc)
    }
}

fn is_graph_resource(resource: &str) -> bool {
    let r = resource.trim_end_matches('/');
    r.eq_ignore_ascii_case(GRAPH_AUDIENCE)
        || r.eq_ignore_ascii_case(GRAPH_APP_ID)
        || r.eq_ignore_ascii_case("https://graph.microsoft.com/v1.0")
}

/// Parses a delegated `scope` value. Resources other than Graph are not
/// registered in the sandbox tenant, so they fail as Entra fails for a
/// resource it cannot find.
pub fn parse_delegated(raw: &str, tenant_name: &str) -> Result<Requested, EntraError> {
    let mut out = Requested::default();
    for scope in raw.split_whitespace() {
        if let Some(oidc) = OIDC_SCOPES.iter().find(|s| s.eq_ignore_ascii_case(scope)) {
            if !out.has(oidc) {
                out.oidc.push((*oidc).to_owned());
            }
            continue;
        }
        let (resource, permission) = match scope.rfind('/') {
            Some(i) => (&scope[..i], &scope[i + 1..]),
            None => (GRAPH_AUDIENCE, scope),
        };
        if !is_graph_resource(resource) {
            return Err(EntraError::unknown_resource(resource, tenant_name));
        }
        if permission.is_empty() || permission.contains(':') {
            return Err(EntraError::invalid_scope(scope));
        }
        if permission == ".default" {
            out.graph_default = true;
        } else if !out.graph.iter().any(|g| g.eq_ignore_ascii_case(permission)) {
            out.graph.push(permission.to_owned());
        }
    }
    if out.graph_default && !out.graph.is_empty() {
        // Entra refuses mixing `/.default` with named scopes of one resource.
        return Err(EntraError::bad(
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {raw} is not valid. static scope limit exceeded."
            ),
        ));
    }
    Ok(out)
}

/// Resolves requested Graph scopes against the consented ones (case-
/// insensitively, returned in the tenant's spelling). `Err` carries the
/// first requested permission nobody consented to.
pub fn resolve_graph(requested: &Requested, consented: &[String]) -> Result<Vec<String>, String> {
    let graph_consented = consented
        .iter()
        .filter(|c| !OIDC_SCOPES.contains(&c.as_str()));
    if requested.graph_default {
        return Ok(graph_consented.cloned().collect());
    }
    let mut out = Vec::new();
    for want in &requested.graph {
        match consented.iter().find(|c| c.eq_ignore_ascii_case(want)) {
            Some(c) => out.push(c.clone()),
            None => return Err(want.clone()),
        }
    }
    Ok(out)
}

/// What a `claims` request asks of the sign-in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimsDemand {
    pub mfa: bool,
    /// Authentication context class references (`c1` … `c99`).
    pub acrs: Vec<String>,
}

impl ClaimsDemand {
    /// True when a sign-in with `mfa` and `acrs` satisfies this demand.
    pub fn satisfied_by(&self, mfa: bool, acrs: &[String]) -> bool {
        (!self.mfa || mfa) && self.acrs.iter().all(|a| acrs.contains(a))
    }

    pub fn needs_mfa(&self) -> bool {
        // The sandbox tenant's Conditional Access policy for every
        // authentication context is "require multifactor authentication".
        self.mfa || !self.acrs.is_empty()
    }
}

/// Parses the OpenID Connect `claims` parameter: `acrs` (auth context) and
/// `amr` containing `mfa` in `access_token` or `id_token`. Other claims
/// (`xms_cc`, …) are accepted and ignored, as Entra ignores what it does
/// not act on.
pub fn parse_claims(raw: &str) -> Result<ClaimsDemand, EntraError> {
    let invalid = || {
        EntraError::bad(
            "invalid_request",
            90100,
            "The 'claims' parameter is empty or not valid. It must be a JSON object.",
        )
    };
    let value: Value = serde_json::from_str(raw).map_err(|_| invalid())?;
    let Value::Object(sections) = value else {
        return Err(invalid());
    };
    let mut demand = ClaimsDemand::default();
    for section in ["access_token", "id_token", "userinfo"] {
        let Some(claims) = sections.get(section) else {
            continue;
        };
        let Value::Object(claims) = claims else {
            return Err(invalid());
        };
        if let Some(acrs) = claims.get("acrs") {
            for v in requested_values(acrs).ok_or_else(invalid)? {
                if is_auth_context(&v) && !demand.acrs.contains(&v) {
                    demand.acrs.push(v);
                }
            }
        }
        if let Some(amr) = claims.get("amr") {
            let values = requested_values(amr).ok_or_else(invalid)?;
            if values.iter().any(|v| v == "mfa") {
                demand.mfa = true;
            }
        }
    }
    Ok(demand)
}

/// `{"essential":true,"value":"c1"}` or `{"values":["c1","c2"]}`.
fn requested_values(claim: &Value) -> Option<Vec<String>> {
    match claim {
        Value::Null => Some(vec![]),
        Value::Object(o) => {
            let mut out = Vec::new();
            if let Some(v) = o.get("value") {
                out.push(v.as_str()?.to_owned());
            }
            if let Some(vs) = o.get("values") {
                for v in vs.as_array()? {
                    out.push(v.as_str()?.to_owned());
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// Entra's authentication context ids are `c1` to `c99`.
fn is_auth_context(value: &str) -> bool {
    value
        .strip_prefix('c')
        .and_then(|n| n.parse::<u8>().ok())
        .is_some_and(|n| (1..=99).contains(&n) && !value[1..].starts_with('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_by_resource() {
        let r = parse_delegated(
            "openid offline_access User.Read https://graph.microsoft.com/EntitlementManagement.ReadWrite.All",
            "t",
        )
        .unwrap();
        assert_eq!(r.oidc, ["openid", "offline_access"]);
        assert_eq!(
            r.graph,
            ["User.Read", "EntitlementManagement.ReadWrite.All"]
        );
        assert_eq!(
            parse_delegated("api://other/x", "t").unwrap_err().code,
            500011
        );
        assert!(
            parse_delegated("https://graph.microsoft.com/.default", "t")
                .unwrap()
                .graph_default
        );
    }

    #[test]
    fn claims_acrs_and_mfa() {
        let d =
            parse_claims(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#).unwrap();
        assert_eq!(d.acrs, ["c1"]);
        assert!(d.needs_mfa());
        let d =
            parse_claims(r#"{"id_token":{"amr":{"essential":true,"values":["mfa"]}}}"#).unwrap();
        assert!(d.mfa && d.acrs.is_empty());
        let d = parse_claims(r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#).unwrap();
        assert!(!d.needs_mfa());
        assert!(parse_claims("not json").is_err());
        assert!(parse_claims(r#"{"access_token":{"acrs":5}}"#).is_err());
        assert!(!is_auth_context("c0") && !is_auth_context("c100") && !is_auth_context("c01"));
    }
}
