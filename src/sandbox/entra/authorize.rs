//! `GET /{tenant}/oauth2/v2.0/authorize`: validates the request, then signs
//! the person in silently from their session or sends them through the
//! pages in `signin.rs`.
//!
//! Errors about the client or the redirect URI are shown on a page, never
//! redirected (the redirect target is what is in doubt); everything else
//! goes back to the app as `error` / `error_description` on its redirect URI.

use std::time::Instant;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::discovery::require_our_tenant;
use super::error::EntraError;
use super::pages;
use super::scopes::{ClaimsDemand, Requested, parse_claims, parse_delegated, resolve_graph};
use super::state::{Authn, CodeGrant};
use crate::sandbox::SimState;

pub const SESSION_COOKIE: &str = "ESTSAUTH";

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

/// Anyone (a browser): starts a sign-in. See the module comment for which
/// errors are shown and which are redirected.
pub async fn authorize(
    State(state): State<SimState>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = require_our_tenant(&state, &tenant) {
        return pages::error_page(&e.correlated(&headers));
    }
    let params = Params::parse(query.as_deref().unwrap_or(""));
    let pending = match validate(&state, &params) {
        Ok(p) => p,
        Err(Failure::Page(e)) => return pages::error_page(&e.correlated(&headers)),
        Err(Failure::Redirect(uri, e, st)) => return redirect_error(&uri, &e, st.as_deref()),
    };
    let session = current_session(&state, &headers);
    let hint_ok = |authn: &Authn| {
        pending
            .hinted_user
            .as_ref()
            .is_none_or(|h| *h == authn.user_id)
    };
    match pending.prompt {
        Some(Prompt::None) => {
            let fail = |code: u32, error: &'static str, message: &str| {
                redirect_error(
                    &pending.redirect_uri,
                    &EntraError::bad(error, code, message),
                    pending.state.as_deref(),
                )
            };
            let Some(authn) = session.filter(|a| hint_ok(a)) else {
                return fail(
                    50058,
                    "login_required",
                    "A silent sign-in request was sent but no user is signed in.",
                );
            };
            if pending.demand.needs_mfa() && !authn.mfa {
                return fail(
                    50076,
                    "interaction_required",
                    "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.",
                );
            }
            if let Some(p) = &pending.unconsented {
                return fail(
                    65001,
                    "consent_required",
                    &format!(
                        "The user or administrator has not consented to use the application with ID '{}'. Send an interactive authorization request for this user and resource. Missing permission: {p}.",
                        pending.client_id
                    ),
                );
            }
            complete(&state, pending, authn, false)
        }
        Some(Prompt::Login) | Some(Prompt::SelectAccount) => show_picker(&state, &tenant, pending),
        _ => match session.filter(|a| hint_ok(a)) {
            Some(authn) => proceed(&state, &tenant, pending, authn, false),
            None => show_picker(&state, &tenant, pending),
        },
    }
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

enum Failure {
    Page(EntraError),
    /// Redirect URI, error, `state`.
    Redirect(String, EntraError, Option<String>),
}

fn validate(state: &SimState, params: &Params) -> Result<Pending, Failure> {
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

/// The signed-in user of the browser's session cookie, while the session is
/// unrevoked and the account enabled.
fn current_session(state: &SimState, headers: &HeaderMap) -> Option<Authn> {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())?;
    let authn = {
        let entra = state.entra.lock().unwrap_or_else(|p| p.into_inner());
        let authn = entra.session(&cookie)?.authn.clone();
        (authn.epoch == entra.epoch(&authn.user_id)).then_some(authn)?
    };
    let enabled = state
        .world()
        .users
        .get(&authn.user_id)
        .is_some_and(|u| u.account_enabled);
    enabled.then_some(authn)
}

pub fn show_picker(state: &SimState, tenant: &str, mut pending: Pending) -> Response {
    pending.step = Step::Picker;
    let selected = pending.hinted_user.clone();
    let ctx = state
        .entra
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert_pending(pending);
    let (users, app_name) = {
        let world = state.world();
        (
            world.users.values().cloned().collect::<Vec<_>>(),
            world.app.display_name.clone(),
        )
    };
    let base = action_base(state, tenant);
    let form = pages::Form {
        action_base: &base,
        ctx: &ctx,
        app_name: &app_name,
    };
    pages::picker(&form, &users, selected.as_deref(), None)
}

pub fn action_base(state: &SimState, tenant: &str) -> String {
    let tenant: String = url::form_urlencoded::byte_serialize(tenant.as_bytes()).collect();
    format!("{}/{tenant}/oauth2/v2.0/authorize", state.login_base_url())
}

/// After the person is known: the MFA step if the request demands it, then
/// consent, then the code. `signed_in` is true when `authn` is new (a fresh
/// sign-in or step-up), so the session cookie must be (re)issued.
pub fn proceed(
    state: &SimState,
    tenant: &str,
    mut pending: Pending,
    authn: Authn,
    signed_in: bool,
) -> Response {
    let (user, app_name) = {
        let world = state.world();
        (
            world.users.get(&authn.user_id).cloned(),
            world.app.display_name.clone(),
        )
    };
    let Some(user) = user else {
        return pages::error_page(&EntraError::bad(
            "invalid_request",
            50034,
            "The user account does not exist in the directory.",
        ));
    };
    let base = action_base(state, tenant);
    if pending.demand.needs_mfa() && !authn.mfa {
        let number = rand::Rng::gen_range(&mut rand::rngs::OsRng, 10..100u8);
        pending.step = Step::Mfa {
            authn,
            number,
            attempts: 0,
        };
        let ctx = state
            .entra
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert_pending(pending);
        let form = pages::Form {
            action_base: &base,
            ctx: &ctx,
            app_name: &app_name,
        };
        return pages::mfa(&form, &user, number, false);
    }
    if let Some(permission) = pending.unconsented.clone() {
        pending.step = Step::AdminApproval;
        let ctx = state
            .entra
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert_pending(pending);
        let form = pages::Form {
            action_base: &base,
            ctx: &ctx,
            app_name: &app_name,
        };
        return pages::admin_approval(&form, &permission);
    }
    if pending.prompt == Some(Prompt::Consent) && !matches!(pending.step, Step::Consent { .. }) {
        let mut scopes = pending.requested.oidc.clone();
        scopes.extend(pending.graph_scopes.iter().cloned());
        pending.step = Step::Consent { authn };
        let ctx = state
            .entra
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert_pending(pending);
        let form = pages::Form {
            action_base: &base,
            ctx: &ctx,
            app_name: &app_name,
        };
        return pages::consent(&form, &user, &scopes);
    }
    complete(state, pending, authn, signed_in)
}

/// Issues the code and sends the browser back to the app.
pub fn complete(state: &SimState, pending: Pending, authn: Authn, signed_in: bool) -> Response {
    let token_authn = Authn {
        acrs: if pending.demand.needs_mfa() {
            pending.demand.acrs.clone()
        } else {
            vec![]
        },
        ..authn.clone()
    };
    let (code, cookie) = {
        let mut entra = state.entra.lock().unwrap_or_else(|p| p.into_inner());
        let code = entra.issue_code(CodeGrant {
            client_id: pending.client_id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            code_challenge: pending.code_challenge.clone(),
            authn: token_authn,
            graph_scopes: pending.graph_scopes.clone(),
            oidc_scopes: pending.requested.oidc.clone(),
            nonce: pending.nonce.clone(),
            issued: Instant::now(),
            redeemed: false,
        });
        let cookie = signed_in.then(|| entra.open_session(authn));
        (code, cookie)
    };
    let mut pairs = vec![("code", code)];
    if let Some(s) = pending.state {
        pairs.push(("state", s));
    }
    let mut response = redirect(&pending.redirect_uri, &pairs);
    if let Some(cookie) = cookie {
        let value = format!("{SESSION_COOKIE}={cookie}; Path=/login; HttpOnly; SameSite=Lax");
        if let Ok(v) = value.parse() {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    response
}

pub fn redirect_error(redirect_uri: &str, error: &EntraError, state: Option<&str>) -> Response {
    let mut pairs = error.redirect_pairs();
    if let Some(s) = state {
        pairs.push(("state", s.to_owned()));
    }
    redirect(redirect_uri, &pairs)
}

fn redirect(redirect_uri: &str, pairs: &[(&str, String)]) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return pages::error_page(&EntraError::bad(
            "invalid_request",
            90102,
            "The value must be a valid absolute URI.",
        ));
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(v) = url.as_str().parse() {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-store, no-cache".parse().expect("static header"),
    );
    response
}
