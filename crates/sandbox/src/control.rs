//! Sandbox control (`/sim/…`): the emulated clock, the tenant summary, and
//! minting a persona's tokens. Sandbox only; none of this exists in `serve`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::SimState;
use super::clock::{format_iso_duration, graph_time, parse_iso_duration};
use super::entra::mint::{self, SignIn};

pub fn router() -> Router<SimState> {
    Router::new()
        .route("/clock", get(clock))
        .route("/clock/advance", post(advance))
        .route("/tenant", get(tenant))
        .route("/tokens", post(tokens))
        .route("/bot", post(connect_bot))
        .merge(super::entra::sim::router())
}

fn problem(status: StatusCode, detail: impl Into<String>) -> Response {
    (status, Json(json!({ "error": detail.into() }))).into_response()
}

/// Anyone on loopback: the emulated clock.
async fn clock(State(state): State<SimState>) -> Json<Value> {
    Json(json!({
        "now": graph_time(state.clock.now()),
        "offset": format_iso_duration(state.clock.offset()),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    /// ISO-8601 duration, e.g. `PT1H`, `P1D`.
    duration: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BotAt {
    url: String,
}

/// Anyone on loopback: where the bot listens (`{"url":"http://127.0.0.1:3978"}`);
/// the emulated Teams, Slack and callout relay deliver there from now on.
/// Used when the bot runs as its own process (`--emulators-only`).
async fn connect_bot(State(state): State<SimState>, body: axum::body::Bytes) -> Response {
    let at: BotAt = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"url\": \"http://127.0.0.1:3978\"}}: {e}"),
            );
        }
    };
    match url::Url::parse(&at.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "url must be an absolute http(s) URL",
            );
        }
    }
    state.connect_bot(&at.url);
    Json(json!({ "url": at.url })).into_response()
}

/// Anyone on loopback: moves emulated time forward and applies everything
/// that falls due (automatic denial, escalation, expiry).
async fn advance(State(state): State<SimState>, body: axum::body::Bytes) -> Response {
    let advance: Advance = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"duration\": \"PT1H\"}}: {e}"),
            );
        }
    };
    let by = match parse_iso_duration(&advance.duration) {
        Ok(d) => d,
        Err(e) => return problem(StatusCode::BAD_REQUEST, e),
    };
    let now = state.clock.advance(by);
    drop(state.world());
    Json(json!({ "now": graph_time(now), "offset": format_iso_duration(state.clock.offset()) }))
        .into_response()
}

/// Anyone on loopback: everything a script needs to drive the sandbox.
async fn tenant(State(state): State<SimState>) -> Json<Value> {
    let world = state.world();
    let personas: Vec<Value> = world
        .users
        .values()
        .map(|u| {
            json!({
                "key": u.key, "id": u.id, "displayName": u.display_name,
                "userPrincipalName": u.user_principal_name, "mail": u.mail,
                "jobTitle": u.job_title, "accountEnabled": u.account_enabled,
                "managerId": u.manager_id,
                "teamsUserId": super::teams::teams_user_id(&world.app.client_id, &u.id),
            })
        })
        .collect();
    let groups: Vec<Value> = world
        .groups
        .values()
        .map(|g| {
            json!({
                "key": g.key, "id": g.id, "displayName": g.display_name,
                "isAssignableToRole": g.is_assignable_to_role, "pimManaged": g.pim.is_some(),
            })
        })
        .collect();
    let packages: Vec<Value> = world
        .access_packages
        .values()
        .map(|p| {
            let policies: Vec<&str> = world
                .policies
                .values()
                .filter(|pol| pol.access_package_id == p.id)
                .map(|pol| pol.id.as_str())
                .collect();
            json!({
                "alias": p.key, "id": p.id, "displayName": p.display_name,
                "isHidden": p.is_hidden, "catalogId": p.catalog_id, "policyIds": policies,
            })
        })
        .collect();
    Json(json!({
        "tenantId": world.tenant_id,
        "domain": world.domain,
        "app": {
            "clientId": world.app.client_id,
            "clientSecret": world.app.client_secret,
            "displayName": world.app.display_name,
            "servicePrincipalId": world.app.service_principal_id,
        },
        "endpoints": {
            "login": state.login_base_url(),
            "graph": state.graph_url(""),
        },
        "teams": {
            "botAppId": world.app.client_id,
            "botId": super::teams::bot_id(&world.app.client_id),
            "serviceUrl": format!("{}/teams/", state.base_url),
            "openIdMetadataUrl": super::teams::metadata::openid_metadata_url(&state),
        },
        "personas": personas,
        "groups": groups,
        "accessPackages": packages,
        "slack": state.slack.summary(&state.base_url),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintRequest {
    /// Persona key (`alex`), user id or UPN; omit for an app-only token.
    persona: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    mfa: bool,
    #[serde(default)]
    acrs: Vec<String>,
}

/// Anyone on loopback (sandbox only): a token as the emulated Entra would
/// issue it after that sign-in, without the browser page. Scopes default to
/// every delegated permission consented for the app.
async fn tokens(State(state): State<SimState>, body: axum::body::Bytes) -> Response {
    let request: MintRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("invalid body: {e}")),
    };
    let Some(persona) = request.persona else {
        let (token, claims) = mint::app_graph_token(&state);
        return Json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": claims.exp - claims.iat })).into_response();
    };
    let (user_id, consented) = {
        let world = state.world();
        let user = world.user_by_key(&persona).or_else(|| world.user(&persona));
        match user {
            Some(u) if u.account_enabled => (u.id.clone(), world.app.delegated_permissions.clone()),
            Some(_) => {
                return problem(
                    StatusCode::FORBIDDEN,
                    format!("persona `{persona}` is disabled"),
                );
            }
            None => return problem(StatusCode::NOT_FOUND, format!("no persona `{persona}`")),
        }
    };
    let scopes = request.scopes.unwrap_or_else(|| {
        consented
            .iter()
            .filter(|s| {
                !matches!(
                    s.as_str(),
                    "openid" | "profile" | "offline_access" | "email"
                )
            })
            .cloned()
            .collect()
    });
    if let Some(missing) = scopes.iter().find(|s| !consented.contains(s)) {
        return problem(
            StatusCode::BAD_REQUEST,
            format!("scope `{missing}` is not consented for the app"),
        );
    }
    let sign_in = SignIn {
        mfa: request.mfa,
        acrs: request.acrs,
    };
    match mint::user_graph_token(&state, &user_id, &scopes, &sign_in) {
        Ok((token, claims)) => Json(json!({
            "access_token": token, "token_type": "Bearer",
            "expires_in": claims.exp - claims.iat, "scope": scopes.join(" "),
        }))
        .into_response(),
        Err(e) => problem(StatusCode::BAD_REQUEST, e),
    }
}
