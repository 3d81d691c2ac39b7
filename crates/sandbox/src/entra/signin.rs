//! The POSTs of the sign-in pages: pick a persona, pass the MFA step,
//! answer the consent prompt. Each one only accepts the step its sign-in is
//! at (a sign-in waiting for MFA cannot jump to consent), identified by the
//! unguessable `ctx` the previous page carried.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::authorize::{Params, Pending, Step, action_base, complete, proceed, redirect_error};
use super::discovery::require_our_tenant;
use super::error::EntraError;
use super::pages;
use super::state::Authn;
use crate::SimState;

const MAX_MFA_ATTEMPTS: u8 = 3;

/// Takes the pending sign-in named by the form's `ctx`, or the error to
/// show when there is none.
fn take(
    state: &SimState,
    tenant: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Params, Pending), EntraError> {
    require_our_tenant(state, tenant).map_err(|e| e.correlated(headers))?;
    let params = Params::parse(std::str::from_utf8(body).unwrap_or(""));
    let expired = EntraError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        50089,
        "Flow token expired: the sign-in took too long or was already completed. Go back to the application and sign in again.",
    );
    let Some(ctx) = params.get("ctx").map(str::to_owned) else {
        return Err(expired);
    };
    let pending = state
        .entra
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take_pending(&ctx);
    match pending {
        Some(p) => Ok((params, p)),
        None => Err(expired),
    }
}

fn wrong_step() -> Response {
    pages::error_page(&EntraError::bad(
        "invalid_request",
        90013,
        "The input from the user is not valid for this step of the sign-in.",
    ))
}

fn cancel(pending: &Pending, code: u32, message: &str) -> Response {
    redirect_error(
        &pending.redirect_uri,
        &EntraError::bad("access_denied", code, message),
        pending.state.as_deref(),
    )
}

/// Anyone (the browser of a sign-in in progress): the persona picked on the
/// account picker, or Cancel.
pub(super) async fn signin(
    State(state): State<SimState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, pending) = match take(&state, &tenant, &headers, &body) {
        Ok(t) => t,
        Err(e) => return pages::error_page(&e),
    };
    if !matches!(pending.step, Step::Picker) {
        return wrong_step();
    }
    if params.get("action") == Some("cancel") {
        // Entra's picker has no Cancel; declining to sign in to the app is
        // reported the way a declined consent is.
        return cancel(
            &pending,
            65004,
            "User declined to consent to access the app.",
        );
    }
    let persona = params.get("persona").unwrap_or_default().to_owned();
    let user = {
        let world = state.world();
        world
            .user_by_key(&persona)
            .or_else(|| world.user(&persona))
            .cloned()
    };
    let refusal = match &user {
        None => Some(EntraError::bad(
            "invalid_request",
            50034,
            "The user account does not exist in the directory. Pick an account from the list.",
        )),
        Some(u) if !u.account_enabled => Some(EntraError::user_disabled()),
        Some(_) => None,
    };
    if let Some(error) = refusal {
        let error = error.correlated(&headers);
        let (users, app_name) = {
            let world = state.world();
            (
                world.users.values().cloned().collect::<Vec<_>>(),
                world.app.display_name.clone(),
            )
        };
        let ctx = state
            .entra
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert_pending(pending);
        let base = action_base(&state, &tenant);
        let form = pages::Form {
            action_base: &base,
            ctx: &ctx,
            app_name: &app_name,
        };
        return pages::picker(&form, &users, None, Some(&error));
    }
    let Some(user) = user else {
        return wrong_step();
    };
    let epoch = state
        .entra
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .epoch(&user.id);
    let authn = Authn {
        user_id: user.id.clone(),
        mfa: false,
        acrs: vec![],
        auth_time: chrono::Utc::now().timestamp(),
        epoch,
    };
    proceed(&state, &tenant, pending, authn, true)
}

/// Anyone (the browser of a sign-in in progress): the number typed into the
/// emulated Authenticator, or Deny.
pub(super) async fn mfa(
    State(state): State<SimState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, mut pending) = match take(&state, &tenant, &headers, &body) {
        Ok(t) => t,
        Err(e) => return pages::error_page(&e),
    };
    let Step::Mfa {
        authn,
        number,
        attempts,
    } = pending.step.clone()
    else {
        return wrong_step();
    };
    if params.get("action") == Some("deny") {
        return cancel(
            &pending,
            500121,
            "Authentication failed during strong authentication request.",
        );
    }
    let typed = params.get("number").unwrap_or_default().trim().to_owned();
    let expected = number.to_string();
    if !bool::from(typed.as_bytes().ct_eq(expected.as_bytes())) {
        if attempts + 1 >= MAX_MFA_ATTEMPTS {
            return cancel(
                &pending,
                500121,
                "Authentication failed during strong authentication request.",
            );
        }
        let user = state.world().users.get(&authn.user_id).cloned();
        let app_name = state.world().app.display_name.clone();
        pending.step = Step::Mfa {
            authn,
            number,
            attempts: attempts + 1,
        };
        let ctx = state
            .entra
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert_pending(pending);
        let base = action_base(&state, &tenant);
        let form = pages::Form {
            action_base: &base,
            ctx: &ctx,
            app_name: &app_name,
        };
        return match user {
            Some(u) => pages::mfa(&form, &u, number, true),
            None => wrong_step(),
        };
    }
    let mut acrs = authn.acrs.clone();
    for a in &pending.demand.acrs {
        if !acrs.contains(a) {
            acrs.push(a.clone());
        }
    }
    let authn = Authn {
        mfa: true,
        acrs,
        ..authn
    };
    pending.step = Step::Picker;
    proceed(&state, &tenant, pending, authn, true)
}

/// Anyone (the browser of a sign-in in progress): Accept or Cancel on the
/// consent prompt, or leaving the "Need admin approval" page.
pub(super) async fn consent(
    State(state): State<SimState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, pending) = match take(&state, &tenant, &headers, &body) {
        Ok(t) => t,
        Err(e) => return pages::error_page(&e),
    };
    match pending.step.clone() {
        Step::AdminApproval => cancel(
            &pending,
            65004,
            "User declined to consent to access the app.",
        ),
        Step::Consent { authn } => {
            if params.get("action") == Some("accept") {
                // The session was opened (or kept) before consent; a fresh
                // sign-in re-issues the cookie only when it changed.
                complete(&state, pending, authn, true)
            } else {
                cancel(
                    &pending,
                    65004,
                    "User declined to consent to access the app.",
                )
            }
        }
        _ => wrong_step(),
    }
}
