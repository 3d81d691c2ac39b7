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

use super::discovery::require_our_tenant;
use super::error::EntraError;
use super::pages;
use super::request::{Failure, validate};
pub use super::request::{Params, Pending, Prompt, Step};
use super::state::{Authn, CodeGrant};
use crate::SimState;

pub const SESSION_COOKIE: &str = "ESTSAUTH";

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
