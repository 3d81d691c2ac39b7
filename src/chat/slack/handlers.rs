//! The bot's Slack endpoints: `POST /api/slack/commands` and
//! `POST /api/slack/interactions`. Slack signs every request and gives the
//! bot 3 s to answer, so each handler verifies first (the [`SlackRequest`]
//! extractor), refuses replays, and runs the engine in a task: an instant
//! answer is returned directly, anything slower is acknowledged at once
//! and delivered later through the `response_url` or the Web API.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::adapter::SlackPort;
use super::extract::{COMMAND_BODY_LIMIT, INTERACTION_BODY_LIMIT};
use super::modal::{Submission, decision_view, read_submission};
use super::payload::{BlockActions, Inbound, Interaction, SlashCommand, ViewSubmission};
use super::render::{SIGN_IN, render};
use super::{ReplayGuard, SlackRequest, SlackVerifier};
use crate::engine::Engine;
use crate::engine::port::{CardAction, ChatPort, Message, Recipient};
use crate::store::links::ChatIdentity;

/// How long a handler waits for the engine before acknowledging with
/// "working on it" instead: well inside Slack's 3 s, leaving room for the
/// network both ways.
const ANSWER_BUDGET: Duration = Duration::from_millis(1500);

/// The slash commands the manifest registers.
const COMMANDS: [&str; 2] = ["/request", "/stagegate"];

#[derive(Clone)]
pub struct SlackInbound {
    verifier: Arc<SlackVerifier>,
    replay: Arc<ReplayGuard>,
    engine: Arc<Engine>,
    port: Arc<SlackPort>,
    http: reqwest::Client,
}

impl FromRef<SlackInbound> for Arc<SlackVerifier> {
    fn from_ref(state: &SlackInbound) -> Self {
        state.verifier.clone()
    }
}

impl SlackInbound {
    #[must_use]
    pub fn new(verifier: SlackVerifier, engine: Arc<Engine>, port: Arc<SlackPort>) -> Self {
        Self {
            verifier: Arc::new(verifier),
            replay: Arc::new(ReplayGuard::new()),
            engine,
            port,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }
}

pub fn router(state: SlackInbound) -> Router {
    Router::new()
        .route("/api/slack/commands", post(commands))
        .route("/api/slack/interactions", post(interactions))
        .with_state(state)
}

fn identity(team: &str, user: &str) -> ChatIdentity {
    ChatIdentity {
        platform: "slack".into(),
        workspace: team.to_owned(),
        user: user.to_owned(),
    }
}

/// A message as a command answer or `response_url` body: only the person
/// sees it.
fn ephemeral(message: &Message) -> Value {
    let rendered = render(message);
    json!({ "response_type": "ephemeral", "text": rendered.text, "blocks": rendered.blocks })
}

fn say(text: &str) -> Value {
    json!({ "response_type": "ephemeral", "text": text })
}

fn bad_payload(e: &impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "unreadable Slack payload");
    (StatusCode::BAD_REQUEST, "unreadable payload").into_response()
}

/// Anyone Slack signed for may call: runs a slash command as the signed
/// `user_id` of `team_id`.
async fn commands(
    State(state): State<SlackInbound>,
    SlackRequest(request): SlackRequest<COMMAND_BODY_LIMIT>,
) -> Response {
    let command = match Inbound::parse(&request) {
        Ok(Inbound::Command(c)) => c,
        Ok(Inbound::Interaction(_)) => return bad_payload(&"an interaction sent as a command"),
        Err(e) => return bad_payload(&e),
    };
    if !state.replay.first_sight(&request) {
        tracing::warn!("a replayed Slack command was ignored");
        return StatusCode::OK.into_response();
    }
    run_command(state, command).await
}

async fn run_command(state: SlackInbound, command: SlashCommand) -> Response {
    if !COMMANDS.contains(&command.command.as_str()) {
        return Json(say(&format!(
            "I don't know `{}`. Try `/stagegate help`.",
            command.command
        )))
        .into_response();
    }
    let who = identity(&command.team_id, &command.user_id);
    let input = format!("{} {}", command.command, command.text);
    let engine = state.engine.clone();
    let mut task = tokio::spawn(async move { engine.command(&who, input.trim()).await });
    match tokio::time::timeout(ANSWER_BUDGET, &mut task).await {
        Ok(Ok(reply)) => Json(ephemeral(&reply)).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "command task failed");
            Json(say(
                "Something went wrong on our side; nothing was changed.",
            ))
            .into_response()
        }
        Err(_) => {
            let url = command.response_url.clone();
            tokio::spawn(async move {
                let body = match task.await {
                    Ok(reply) => ephemeral(&reply),
                    Err(_) => say("Something went wrong on our side; nothing was changed."),
                };
                respond(&state.http, &url, &body).await;
            });
            Json(say("Working on it…")).into_response()
        }
    }
}

/// Posts a later answer to a `response_url` (the URL is the credential:
/// never logged).
async fn respond(http: &reqwest::Client, url: &str, body: &Value) {
    match http.post(url).json(body).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::warn!(status = %r.status(), "response_url refused the answer"),
        Err(e) => tracing::warn!(error = %e.without_url(), "response_url unreachable"),
    }
}

/// Anyone Slack signed for may call: button clicks and modal submissions,
/// acted on as the payload's signed `user.id`.
async fn interactions(
    State(state): State<SlackInbound>,
    SlackRequest(request): SlackRequest<INTERACTION_BODY_LIMIT>,
) -> Response {
    let interaction = match Inbound::parse(&request) {
        Ok(Inbound::Interaction(i)) => i,
        Ok(Inbound::Command(_)) => return bad_payload(&"a command sent as an interaction"),
        Err(e) => return bad_payload(&e),
    };
    if !state.replay.first_sight(&request) {
        tracing::warn!("a replayed Slack interaction was ignored");
        return StatusCode::OK.into_response();
    }
    match interaction {
        Interaction::BlockActions(click) => clicked(state, click).await,
        Interaction::ViewSubmission(submission) => submitted(state, submission).await,
        Interaction::ViewClosed(_) | Interaction::Other => StatusCode::OK.into_response(),
    }
}

fn team_of(team: Option<&super::payload::Team>, user: &super::payload::User) -> String {
    team.map(|t| t.id.clone())
        .or_else(|| user.team_id.clone())
        .unwrap_or_default()
}

async fn clicked(state: SlackInbound, click: BlockActions) -> Response {
    let Some(pressed) = click.actions.first() else {
        return StatusCode::OK.into_response();
    };
    // A URL button opens the link in the browser; Slack still tells us.
    if pressed.action_id == SIGN_IN {
        return StatusCode::OK.into_response();
    }
    let who = identity(&team_of(click.team.as_ref(), &click.user), &click.user.id);
    let action = pressed
        .value
        .as_deref()
        .and_then(|v| serde_json::from_str::<CardAction>(v).ok());
    let Some(action) = action else {
        tell(
            &state,
            &who,
            click.response_url.as_deref(),
            &Message::Text {
                text: "That button isn't one I know (the message may be out of date).".into(),
            },
        );
        return StatusCode::OK.into_response();
    };
    if let Some(view) = decision_view(&action, None) {
        // The trigger expires 3 s after the click: open the modal now. The
        // client waits at most 1.5 s for views.open's rate-limit slot, so
        // the acknowledgement still comes inside Slack's 3 s.
        if let Err(e) = state
            .port
            .client()
            .open_view(&click.trigger_id, &view)
            .await
        {
            tracing::warn!(error = %e, "views.open failed");
            tell(
                &state,
                &who,
                click.response_url.as_deref(),
                &Message::Text {
                    text: "I couldn't open the decision form; please click again.".into(),
                },
            );
        }
        return StatusCode::OK.into_response();
    }
    let url = click.response_url.clone();
    tokio::spawn(async move {
        let reply = state.engine.action(&who, &action, None).await;
        deliver(&state, &who, url.as_deref(), &reply).await;
    });
    StatusCode::OK.into_response()
}

/// How long a submitted decision may take before the form answers that
/// it is still being recorded (Slack's deadline is 3 s).
const DECISION_ANSWER_WAIT: std::time::Duration = std::time::Duration::from_millis(2000);

async fn submitted(state: SlackInbound, submission: ViewSubmission) -> Response {
    match read_submission(&submission.view) {
        Submission::Invalid(answer) => Json(answer).into_response(),
        Submission::Unknown => Json(json!({
            "response_action": "update",
            "view": {
                "type": "modal",
                "title": { "type": "plain_text", "text": "stagegate" },
                "blocks": [ { "type": "section", "text": { "type": "mrkdwn",
                    "text": "This form is no longer in use; nothing was changed." } } ],
            },
        }))
        .into_response(),
        Submission::Decide {
            action,
            justification,
        } => {
            let who = identity(
                &team_of(submission.team.as_ref(), &submission.user),
                &submission.user.id,
            );
            // Close the form only once the decision is recorded: a form
            // closed earlier would tell the approver it was done while a
            // crash could still lose it. Slack wants the answer within 3 s;
            // past that the form says it is still being recorded, and the
            // answer arrives as a message.
            let (recorded, answered) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                let reply = state
                    .engine
                    .action(&who, &action, Some(&justification))
                    .await;
                let _ = recorded.send(());
                deliver(&state, &who, None, &reply).await;
            });
            match tokio::time::timeout(DECISION_ANSWER_WAIT, answered).await {
                Ok(Ok(())) => Json(json!({ "response_action": "clear" })).into_response(),
                Ok(Err(_)) | Err(_) => Json(json!({
                    "response_action": "update",
                    "view": {
                        "type": "modal",
                        "title": { "type": "plain_text", "text": "stagegate" },
                        "blocks": [ { "type": "section", "text": { "type": "mrkdwn",
                            "text": "Still recording your decision with Microsoft Entra. \
                                     I'll message you when it's done; if no message comes, \
                                     the card will still have its buttons." } } ],
                    },
                }))
                .into_response(),
            }
        }
    }
}

/// Sends `message` to the person in the background.
fn tell(state: &SlackInbound, who: &ChatIdentity, url: Option<&str>, message: &Message) {
    let (state, who, url, message) = (
        state.clone(),
        who.clone(),
        url.map(str::to_owned),
        message.clone(),
    );
    tokio::spawn(async move { deliver(&state, &who, url.as_deref(), &message).await });
}

/// An answer for the person: through the `response_url` when the
/// interaction gave one, else as a DM.
async fn deliver(state: &SlackInbound, who: &ChatIdentity, url: Option<&str>, message: &Message) {
    if let Some(url) = url {
        respond(&state.http, url, &ephemeral(message)).await;
        return;
    }
    let to = Recipient::Person {
        identity: who.clone(),
    };
    if let Err(e) = state.port.post(&to, message).await {
        tracing::warn!(error = %e, "could not deliver an answer in Slack");
    }
}
