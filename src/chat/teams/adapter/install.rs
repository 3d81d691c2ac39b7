//! Installing the bot's Teams app for a person who never opened it, so a
//! 1:1 chat can be created with their Entra object id (Teams refuses one
//! where the app is not installed). Microsoft's proactive-installation
//! steps: the app's id in the organisation's catalog (not the manifest id)
//! is looked up once by `externalId`, then `POST
//! /users/{id}/teamwork/installedApps` with a bind to it; `409 Conflict`
//! means it is already installed. Needs the application permissions
//! `AppCatalog.Read.All` and `TeamsAppInstallation.ReadWriteSelfForUser.All`
//! (docs/deploy.md).

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::TeamsPort;
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{ChatError, DirectoryPerson};
use crate::graph::models::Page;
use crate::graph::{Auth, GraphClient, GraphError};
use stagegate_domain::chat_ids::Platform;
use stagegate_domain::ids::ObjectId;

/// What an administrator must grant for [`AppInstaller`] to work.
const PERMISSIONS: &str = "AppCatalog.Read.All and TeamsAppInstallation.ReadWriteSelfForUser.All";

/// `teamsApp`, as far as the lookup needs it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TeamsApp {
    id: String,
}

/// Installs the bot's Teams app (manifest id `external_id`) for people.
pub(crate) struct AppInstaller {
    graph: GraphClient,
    external_id: String,
    /// The app's catalog id, once found. A mutex (not a once-cell) so that
    /// concurrent first lookups make one call and a stale id can be dropped
    /// (the app republished under a new catalog id).
    catalog_id: tokio::sync::Mutex<Option<String>>,
}

impl std::fmt::Debug for AppInstaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppInstaller")
            .field("external_id", &self.external_id)
            .finish_non_exhaustive()
    }
}

impl AppInstaller {
    #[must_use]
    pub(crate) fn new(graph: GraphClient, external_id: &str) -> Self {
        Self {
            graph,
            external_id: external_id.to_owned(),
            catalog_id: tokio::sync::Mutex::new(None),
        }
    }

    /// Makes sure the app is installed in `person`'s personal scope.
    /// [`ChatError::Unreachable`] when Graph says it cannot be (no such
    /// user, the permission not granted, the app blocked for them or not in
    /// the catalog); throttling and outages are transient.
    pub(crate) async fn ensure_installed(&self, person: &ObjectId) -> Result<(), ChatError> {
        let catalog_id = self.catalog_id().await?;
        let body = json!({
            "teamsApp@odata.bind": self.graph.url(&format!("/appCatalogs/teamsApps/{catalog_id}")),
        });
        let path = format!("/users/{person}/teamwork/installedApps");
        match self
            .graph
            .send_no_content(Auth::App, Method::POST, &path, Some(&body))
            .await
        {
            Ok(()) => {
                tracing::info!(%person, "installed the Teams app for a person");
                Ok(())
            }
            // Installing what is installed is refused with 409: it is there.
            Err(GraphError::Conflict { .. }) => Ok(()),
            Err(GraphError::NotFound { message, .. }) => {
                // The user, or the catalog entry (the app was removed or
                // republished): look the app up afresh next time.
                *self.catalog_id.lock().await = None;
                Err(unreachable(format!(
                    "Microsoft Graph found no Teams user (or no stagegate app) to install for: {message}"
                )))
            }
            Err(GraphError::Forbidden { message, .. }) => {
                let reason = format!(
                    "Microsoft Graph refused to install the stagegate Teams app for them ({message}); \
                     an administrator must grant {PERMISSIONS} with admin consent and allow the app \
                     for them in the Teams app permission policies (docs/deploy.md)"
                );
                tracing::error!(%person, %reason, "cannot install the Teams app for a person");
                Err(unreachable(reason))
            }
            Err(GraphError::InvalidRequest { message, .. }) => Err(unreachable(format!(
                "Microsoft Graph cannot install the stagegate Teams app for them: {message}"
            ))),
            Err(e) => Err(graph_failure(e)),
        }
    }

    /// The app's id in the organisation's app catalog, looked up once.
    async fn catalog_id(&self) -> Result<String, ChatError> {
        let mut cached = self.catalog_id.lock().await;
        if let Some(id) = cached.as_ref() {
            return Ok(id.clone());
        }
        let filter = crate::graph::encode(&format!("externalId eq '{}'", self.external_id));
        let page: Page<TeamsApp> = match self
            .graph
            .get(
                Auth::App,
                &format!("/appCatalogs/teamsApps?$filter={filter}"),
            )
            .await
        {
            Ok(page) => page,
            Err(GraphError::Forbidden { message, .. }) => {
                let reason = format!(
                    "Microsoft Graph refused to read the Teams app catalog ({message}); an \
                     administrator must grant {PERMISSIONS} with admin consent (docs/deploy.md)"
                );
                tracing::error!(%reason, "cannot look the Teams app up in the catalog");
                return Err(unreachable(reason));
            }
            Err(e) => return Err(graph_failure(e)),
        };
        let Some(app) = page.value.into_iter().next() else {
            let reason = format!(
                "the stagegate Teams app (manifest id {}) is not in the organisation's app \
                 catalog; an administrator must upload it (docs/deploy.md)",
                self.external_id
            );
            tracing::error!(%reason, "cannot install the Teams app");
            return Err(unreachable(reason));
        };
        *cached = Some(app.id.clone());
        Ok(app.id)
    }
}

impl TeamsPort {
    /// Teams' side of [`crate::chat::port::ChatPort::find_person`]: the
    /// app installed for them, they are reached by their object id in this
    /// tenant, filed as the identity their own activities are filed under.
    pub(super) async fn find_by_directory(
        &self,
        person: &DirectoryPerson,
    ) -> Result<ChatIdentity, ChatError> {
        let Some(installer) = &self.installer else {
            return Err(unreachable(
                "the bot cannot install its Teams app (no Graph client configured)".into(),
            ));
        };
        installer.ensure_installed(&person.id).await?;
        Ok(ChatIdentity {
            platform: Platform::Teams.as_str().into(),
            workspace: self.tenant_id.clone(),
            user: person.id.to_string(),
        })
    }
}

fn unreachable(reason: String) -> ChatError {
    ChatError::Unreachable {
        platform: Platform::Teams,
        reason,
    }
}

/// Graph's other answers in the engine's terms: throttling waits, outages
/// and token trouble are retried later, anything else fails the job.
fn graph_failure(error: GraphError) -> ChatError {
    match error {
        GraphError::Throttled { retry_after } => ChatError::RateLimited {
            retry_after: retry_after.unwrap_or(std::time::Duration::from_secs(1)),
        },
        e @ (GraphError::Unavailable { .. }
        | GraphError::Transport(_)
        | GraphError::Token(_)
        | GraphError::Unauthorized { .. }) => {
            ChatError::Transient(format!("installing the Teams app: {e}"))
        }
        e => ChatError::Permanent(format!("installing the Teams app: {e}")),
    }
}
