//! `/auth/start` and `/auth/callback`: the browser side of account linking.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::link::LinkError;
use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/start", get(start))
        .route("/auth/callback", get(callback))
}

#[derive(Deserialize)]
struct StartQuery {
    t: Option<String>,
}

/// Anyone holding a valid, unused sign-in link token (the token is the
/// authorisation); it is consumed on first use.
async fn start(State(state): State<AppState>, Query(query): Query<StartQuery>) -> Response {
    let Some(token) = query.t.filter(|t| !t.is_empty() && t.len() <= 128) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in link incomplete",
            "This link has no sign-in token. Ask the bot for a new one.",
        );
    };
    match state.links.start(&token).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => error_page(e),
    }
}

/// Parses the query strings of `/auth/start` and `/auth/callback` as their
/// handlers do (for the fuzzer).
pub fn parse_queries(raw: &str) -> Result<(), String> {
    serde_urlencoded::from_str::<StartQuery>(raw).map_err(|e| e.to_string())?;
    serde_urlencoded::from_str::<CallbackQuery>(raw).map_err(|e| e.to_string())?;
    Ok(())
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Microsoft Entra's redirect after sign-in; authorised by the one-time
/// `state` this server issued at `/auth/start`.
async fn callback(State(state): State<AppState>, Query(query): Query<CallbackQuery>) -> Response {
    if let Some(error) = query.error {
        let detail = query.error_description.unwrap_or_default();
        tracing::info!(%error, "sign-in refused or cancelled at Entra");
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in not completed",
            &format!("Microsoft Entra answered: {error}. {detail}"),
        );
    }
    let (Some(code), Some(flow_state)) = (query.code, query.state) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in incomplete",
            "The sign-in answer is missing its code or state. Start again from chat.",
        );
    };
    match state.links.callback(&code, &flow_state).await {
        Ok(linked) => {
            tracing::info!(platform = %linked.identity.platform, "account linked");
            let _ = state
                .store
                .audit(
                    &linked.object_id,
                    "link",
                    &format!(
                        "{}:{}:{}",
                        linked.identity.platform, linked.identity.workspace, linked.identity.user
                    ),
                    "ok",
                    &serde_json::json!({}),
                )
                .await;
            // Continue what the link was for (submit the request, record
            // the decision, activate); the result is posted in chat.
            state.engine.after_link(&linked).await;
            page(
                StatusCode::OK,
                "You're signed in",
                &format!(
                    "stagegate can now act as {} when you ask it to. You can close this tab and return to chat.",
                    linked.display_name
                ),
            )
        }
        Err(e) => error_page(e),
    }
}

fn error_page(error: LinkError) -> Response {
    let status = match error {
        LinkError::Upstream(_) => StatusCode::BAD_GATEWAY,
        LinkError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        LinkError::WrongAccount | LinkError::WrongTenant => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    if status.is_server_error() {
        tracing::error!(error = %error, "sign-in failed");
    } else {
        tracing::info!(error = %error, "sign-in refused");
    }
    let message = match &error {
        LinkError::Store(_) => {
            "Something went wrong on our side. Try again in a minute.".to_owned()
        }
        other => other.to_string(),
    };
    page(status, "Sign-in failed", &message)
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let title = html_escape::encode_text(title);
    let message = html_escape::encode_text(message);
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} – stagegate</title>\
             <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}}</style></head>\
             <body><h1>{title}</h1><p>{message}</p></body></html>"
        )),
    )
        .into_response()
}
