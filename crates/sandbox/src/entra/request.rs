//! Reading and validating an authorization request into a [`Pending`]
//! sign-in: client, redirect URI, response type, scopes, PKCE, `claims`,
//! `prompt` and `login_hint`.

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::EntraError;
use super::scopes::{ClaimsDemand, Requested, parse_claims, parse_delegated, resolve_graph};
use super::state::Authn;
use crate::SimState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    Login,
    SelectAccount,
    Consent,
    None,
}

/// What the next POST of a sign-in in progress may do.
#[derive(Debug, Clone)]
pub enum Step {
    Picker,
    Mfa {
        authn: Authn,
        number: u8,
        attempts: u8,
    },
    Consent {
        authn: Authn,
    },
    AdminApproval,
}

/// A validated authorization request waiting for the person.
#[derive(Debug, Clone)]
pub struct Pending {
    pub created: Instant,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub requested: Requested,
    /// Consented Graph permissions the token will carry.
    pub graph_scopes: Vec<String>,
    /// A requested permission nobody consented to.
    pub unconsented: Option<String>,
    pub demand: ClaimsDemand,
    pub prompt: Option<Prompt>,
    /// The user id `login_hint` names, when it names one.
    pub hinted_user: Option<String>,
    pub step: Step,
}

/// The query parameters, first occurrence of each.
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(raw: &str) -> Self {
        Self(
            url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

pub enum Failure {
    Page(EntraError),
    /// Redirect URI, error, `state`.
    Redirect(String, EntraError, Option<String>),
}

pub fn validate(state: &SimState, params: &Params) -> Result<Pending, Failure> {
    let (app_client_id, registered, consented, domain, users) = {
        let world = state.world();
        let users: Vec<(String, String, String)> = world
            .users
            .values()
            .map(|u| (u.id.clone(), u.key.clone(), u.user_principal_name.clone()))
            .collect();
        (
            world.app.client_id.clone(),
            world.app.redirect_uris.clone(),
            world.app.delegated_permissions.clone(),
            world.domain.clone(),
            users,
        )
    };
    let client_id = params
        .get("client_id")
        .ok_or_else(|| Failure::Page(EntraError::missing_parameter("client_id")))?;
    if !client_id.eq_ignore_ascii_case(&app_client_id) {
        return Err(Failure::Page(EntraError::unknown_client(
            client_id,
            &state.tenant_id(),
        )));
    }
    let redirect_uri = params.get("redirect_uri").ok_or_else(|| {
        Failure::Page(EntraError::bad(
            "invalid_request",
            900971,
            "No reply address provided.",
        ))
    })?;
    if !redirect_uri_registered(redirect_uri, &registered) {
        return Err(Failure::Page(EntraError::bad(
            "invalid_request",
            50011,
            format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{app_client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this."
            ),
        )));
    }
    let app_state = params.get("state").map(str::to_owned);
    let fail = |e: EntraError| Failure::Redirect(redirect_uri.to_owned(), e, app_state.clone());
    match params.get("response_type") {
        None => return Err(fail(EntraError::missing_parameter("response_type"))),
        Some("code") => {}
        Some(other) => {
            return Err(fail(EntraError::bad(
                "unsupported_response_type",
                700051,
                format!("response_type '{other}' is not enabled for the application."),
            )));
        }
    }
    if let Some(mode) = params.get("response_mode").filter(|m| *m != "query") {
        // The sandbox answers only with a query-string redirect.
        return Err(fail(EntraError::bad(
            "invalid_request",
            70007,
            format!(
                "The application returned an unsupported value '{mode}' for response_mode. The sandbox supports 'query'."
            ),
        )));
    }
    let scope = params
        .get("scope")
        .ok_or_else(|| fail(EntraError::missing_parameter("scope")))?;
    let requested = parse_delegated(scope, &domain).map_err(fail)?;
    let (graph_scopes, unconsented) = match resolve_graph(&requested, &consented) {
        Ok(g) => (g, None),
        Err(missing) => (vec![], Some(missing)),
    };
    let code_challenge = check_pkce(params).map_err(fail)?;
    let demand = match params.get("claims") {
        Some(raw) => parse_claims(raw).map_err(fail)?,
        None => ClaimsDemand::default(),
    };
    let prompt = match params.get("prompt") {
        None => None,
        Some("login") => Some(Prompt::Login),
        Some("select_account") => Some(Prompt::SelectAccount),
        Some("consent") => Some(Prompt::Consent),
        Some("none") => Some(Prompt::None),
        Some(other) => {
            return Err(fail(EntraError::bad(
                "invalid_request",
                90023,
                format!("Unsupported 'prompt' value '{other}'."),
            )));
        }
    };
    let hinted_user = params.get("login_hint").and_then(|hint| {
        users
            .iter()
            .find(|(id, key, upn)| {
                upn.eq_ignore_ascii_case(hint) || key.eq_ignore_ascii_case(hint) || id == hint
            })
            .map(|(id, _, _)| id.clone())
    });
    Ok(Pending {
        created: Instant::now(),
        client_id: app_client_id,
        redirect_uri: redirect_uri.to_owned(),
        state: app_state.clone(),
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge,
        requested,
        graph_scopes,
        unconsented,
        demand,
        prompt,
        hinted_user,
        step: Step::Picker,
    })
}

/// PKCE is required for this app, with S256 (the sandbox refuses `plain`,
/// which Entra still accepts, because nothing we build should use it).
fn check_pkce(params: &Params) -> Result<String, EntraError> {
    let challenge = params.get("code_challenge").ok_or_else(|| {
        EntraError::bad(
            "invalid_request",
            50147,
            "Proof Key for Code Exchange is required for this application: the request must contain 'code_challenge'.",
        )
    })?;
    if params.get("code_challenge_method") != Some("S256") {
        return Err(EntraError::bad(
            "invalid_request",
            50149,
            "Invalid Code_Challenge_method parameter. This application requires 'S256'.",
        ));
    }
    let decoded = URL_SAFE_NO_PAD.decode(challenge).ok();
    if challenge.len() != 43 || decoded.is_none_or(|d| d.len() != 32) {
        return Err(EntraError::bad(
            "invalid_request",
            501491,
            "Invalid size of Code_Challenge parameter.",
        ));
    }
    Ok(challenge.to_owned())
}

/// Exact match, except that loopback URIs (`127.0.0.1`, `localhost`, `[::1]`)
/// match on any port, as Entra allows for native and local apps.
pub fn redirect_uri_registered(candidate: &str, registered: &[String]) -> bool {
    let Ok(c) = url::Url::parse(candidate) else {
        return false;
    };
    registered.iter().any(|r| {
        if r == candidate {
            return true;
        }
        let Ok(r) = url::Url::parse(r) else {
            return false;
        };
        let loopback = matches!(r.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        loopback
            && r.scheme() == c.scheme()
            && r.host_str() == c.host_str()
            && r.path() == c.path()
            && r.query() == c.query()
    })
}
