//! Emulated Graph: the Teams app catalog and people's installed apps —
//! what a bot needs to install itself for someone who never opened it
//! (msteams-docs "Proactive installation of apps using Graph API"):
//!
//! - `GET /appCatalogs/teamsApps` (`$filter=externalId eq '…'`): the
//!   organisation's catalog, which holds the sandbox's stagegate app under a
//!   catalog id of its own, its manifest id (the bot's app id) as
//!   `externalId` (api/appcatalogs-list-teamsapps.md);
//! - `GET /users/{id}/teamwork/installedApps` (`$expand=teamsApp`,
//!   `$filter=teamsApp/id eq '…'`) and `POST` with `teamsApp@odata.bind`
//!   (api/userteamwork-post-installedapps.md): `201` and no body; `409`
//!   when installed; `404` for an unknown user or app; `403` without the
//!   permission, or when the app is blocked for the user by policy.
//!
//! Installs live in the emulated Teams' store, the one the Bot Connector
//! reads: installing here is what lets the bot open a 1:1 chat. The bot
//! then gets the `conversationUpdate` of the install, as from Teams.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::GraphJson;
use super::auth::{Caller, Permission};
use super::directory::query::{context, with_context};
use super::error::{GraphError, GraphResult};
use super::odata::{ODataQuery, Supported};
use crate::SimState;
use crate::teams::store::Install;
use crate::world::World;

/// The stagegate app's id in the sandbox's org catalog (Graph generates
/// one; it differs from the manifest id, as Microsoft warns).
pub const CATALOG_APP_ID: &str = "c47a1e0f-5d2b-4b8e-9f3a-71c6e2d4a8b5";

pub fn routes() -> Router<SimState> {
    Router::new()
        .route("/appCatalogs/teamsApps", get(list_catalog))
        .route(
            "/users/{id}/teamwork/installedApps",
            get(list_installed).post(install),
        )
}

/// List teamsApp (api/appcatalogs-list-teamsapps.md).
pub const CATALOG_READ: Permission = Permission {
    delegated: &[
        "AppCatalog.Submit",
        "AppCatalog.Read.All",
        "AppCatalog.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
    application: Some(&["AppCatalog.Read.All", "AppCatalog.ReadWrite.All"]),
};

/// Permissions that install only the calling app itself.
const SELF_ONLY: &[&str] = &[
    "TeamsAppInstallation.ReadWriteSelfForUser.All",
    "TeamsAppInstallation.ReadWriteAndConsentSelfForUser.All",
    "TeamsAppInstallation.ReadWriteSelfForUser",
    "TeamsAppInstallation.ReadWriteAndConsentSelfForUser",
];

/// Install app for user (api/userteamwork-post-installedapps.md).
pub const INSTALL: Permission = Permission {
    delegated: &[
        "TeamsAppInstallation.ReadWriteSelfForUser",
        "TeamsAppInstallation.ReadWriteAndConsentForUser",
        "TeamsAppInstallation.ReadWriteAndConsentSelfForUser",
        "TeamsAppInstallation.ReadWriteForUser",
        "TeamsAppInstallation.ReadWriteSelectedForUser",
    ],
    application: Some(&[
        "TeamsAppInstallation.ReadWriteSelfForUser.All",
        "TeamsAppInstallation.ReadWriteAndConsentForUser.All",
        "TeamsAppInstallation.ReadWriteAndConsentSelfForUser.All",
        "TeamsAppInstallation.ReadWriteForUser.All",
        "TeamsAppInstallation.ReadWriteSelectedForUser.All",
    ]),
};

/// List apps installed for user (api/userteamwork-list-installedapps.md).
pub const INSTALLED_READ: Permission = Permission {
    delegated: &[
        "TeamsAppInstallation.ReadForUser",
        "TeamsAppInstallation.ReadWriteSelfForUser",
        "TeamsAppInstallation.ReadWriteAndConsentForUser",
        "TeamsAppInstallation.ReadWriteAndConsentSelfForUser",
        "TeamsAppInstallation.ReadWriteForUser",
        "TeamsAppInstallation.ReadWriteSelectedForUser",
    ],
    application: Some(&[
        "TeamsAppInstallation.ReadForUser.All",
        "TeamsAppInstallation.ReadWriteSelfForUser.All",
        "TeamsAppInstallation.ReadWriteAndConsentForUser.All",
        "TeamsAppInstallation.ReadWriteAndConsentSelfForUser.All",
        "TeamsAppInstallation.ReadWriteForUser.All",
        "TeamsAppInstallation.ReadWriteSelectedForUser.All",
    ]),
};

/// The catalog's one app, `teamsApp` as the CSDL names its properties.
/// `None` when an administrator removed it ([`crate::teams::store::TeamsStore::catalog_removed`]).
fn catalog_app(world: &World, removed: bool) -> Option<Value> {
    (!removed).then(|| {
        json!({
            "id": CATALOG_APP_ID,
            "externalId": world.app.client_id,
            "displayName": world.app.display_name,
            "distributionMethod": "organization",
        })
    })
}

async fn list_catalog(
    caller: Caller,
    State(state): State<SimState>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Response> {
    caller.require(&CATALOG_READ)?;
    let query = ODataQuery::parse(raw.as_deref(), Supported::LIST)?;
    let removed = state.teams.store().catalog_removed;
    let items: Vec<Value> = catalog_app(&state.world(), removed).into_iter().collect();
    let path = "/appCatalogs/teamsApps";
    let body = query.collection(items, &state.graph_url(path));
    let ctx = context(&state, "appCatalogs/teamsApps", &query, false);
    Ok(Json(with_context(body, ctx)).into_response())
}

/// The user a path names (object id or UPN), as Graph finds them.
fn user_id(world: &World, id: &str) -> GraphResult<String> {
    world
        .user(id)
        .filter(|u| u.account_enabled)
        .map(|u| u.id.clone())
        .ok_or_else(|| GraphError::not_found(format!("User '{id}' not found.")))
}

async fn list_installed(
    caller: Caller,
    State(state): State<SimState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Response> {
    caller.require(&INSTALLED_READ)?;
    let supported = Supported::LIST.with_expand(&["teamsApp"]);
    let query = ODataQuery::parse(raw.as_deref(), supported)?;
    let (user, app) = {
        let world = state.world();
        let removed = state.teams.store().catalog_removed;
        (user_id(&world, &id)?, catalog_app(&world, removed))
    };
    let installed = state.teams.store().installs.contains_key(&user);
    let items: Vec<Value> = app
        .filter(|_| installed)
        .map(|app| {
            json!({
                "@odata.type": "#microsoft.graph.userScopeTeamsAppInstallation",
                "id": installation_id(&user),
                "consentedPermissionSet": null,
                "teamsApp": app,
            })
        })
        .into_iter()
        .collect();
    let path = format!("/users/{id}/teamwork/installedApps");
    let mut body = query.collection(items, &state.graph_url(&path));
    // Filtered with the navigation in place; shown only when expanded.
    if !query.expands("teamsApp")
        && let Some(items) = body.get_mut("value").and_then(Value::as_array_mut)
    {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            item.remove("teamsApp");
        }
    }
    let ctx = context(
        &state,
        &format!("users('{user}')/teamwork/installedApps"),
        &query,
        false,
    );
    Ok(Json(with_context(body, ctx)).into_response())
}

/// Graph's installation ids are opaque; this one is stable per user.
fn installation_id(user: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}##{CATALOG_APP_ID}"))
}

async fn install(
    caller: Caller,
    State(state): State<SimState>,
    Path(id): Path<String>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Response> {
    caller.require(&INSTALL)?;
    let bind = body
        .get("teamsApp@odata.bind")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::bad_request("teamsApp@odata.bind is required."))?;
    let app_id = bound_app(&state, bind)?;
    let (user, app_client_id) = {
        let world = state.world();
        (user_id(&world, &id)?, world.app.client_id.clone())
    };
    let mut store = state.teams.store();
    if store.catalog_removed || app_id != CATALOG_APP_ID {
        return Err(GraphError::not_found(format!(
            "The app '{app_id}' was not found in the app catalog."
        )));
    }
    // A *Self* permission installs only the caller's own app (the one
    // whose manifest `webApplicationInfo.id` is the caller).
    let granted: Vec<String> = caller
        .claims
        .roles
        .clone()
        .unwrap_or_default()
        .into_iter()
        .chain(caller.claims.scopes().into_iter().map(str::to_owned))
        .collect();
    let installs_any = INSTALL
        .application
        .unwrap_or_default()
        .iter()
        .chain(INSTALL.delegated)
        .any(|p| !SELF_ONLY.contains(p) && granted.iter().any(|g| g == p));
    let only_self = !installs_any;
    if only_self && caller.app_id() != app_client_id {
        return Err(GraphError::request_denied());
    }
    if store.app_blocked_for.contains(&user) {
        return Err(GraphError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "The app is blocked for this user by the organization's Teams app permission policy.",
        ));
    }
    if store.installs.contains_key(&user) {
        return Err(GraphError::conflict(
            "Conflict",
            "The app is already installed for this user.",
        ));
    }
    store.installs.insert(user.clone(), Install::default());
    // Installing opens the person's 1:1 chat with the bot, as in Teams.
    let chat = crate::teams::personal_conversation_id(&app_client_id, &user);
    store.personal_mut(&chat, &user);
    drop(store);
    // After answering, as Teams does: the bot hears of the install from
    // the Bot Connector, not from Graph's answer.
    let state = state.clone();
    tokio::spawn(async move {
        crate::teams::driver::announce_personal_install(&state, &user).await;
    });
    Ok(StatusCode::CREATED.into_response())
}

/// The catalog id in `…/appCatalogs/teamsApps/{id}`, bound by URL on Graph
/// (`https://graph.microsoft.com/v1.0/…`) or on this sandbox's Graph.
fn bound_app(state: &SimState, bind: &str) -> GraphResult<String> {
    let own = state.graph_url("/appCatalogs/teamsApps/");
    let id = bind
        .strip_prefix("https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/")
        .or_else(|| bind.strip_prefix("https://graph.microsoft.com/beta/appCatalogs/teamsApps/"))
        .or_else(|| bind.strip_prefix(own.as_str()))
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| {
            GraphError::bad_request(format!(
                "Invalid teamsApp@odata.bind '{bind}': expected https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/{{id}}."
            ))
        })?;
    Ok(id.to_owned())
}
