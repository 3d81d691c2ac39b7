//! The bot's Slack endpoints: `POST /api/slack/commands` and
//! `POST /api/slack/interactions`. Slack signs every request and gives the
//! bot 3 s to answer, so each handler verifies first (the [`SlackRequest`]
//! extractor), refuses requests of another app or workspace
//! ([`SlackOrigin`]) and replays ([`ReplayGuard`]), and runs the engine in
//! a task: an instant answer is returned directly, anything slower is
//! acknowledged at once and delivered later through the `response_url`
//! (only Slack's own, see [`ResponseUrl`]) or the Web API.

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
use super::verify::VerifiedRequest;
use super::{OriginError, ReplayGuard, ResponseUrl, SlackOrigin, SlackRequest, SlackVerifier};
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{CardAction, ChatPort, Message, Recipient};
use crate::engine::Engine;
use crate::store::ReplayStore;

/// How long a handler waits for the engine before acknowledging with
/// "working on it" instead: well inside Slack's 3 s, leaving room for the
/// network both ways.
const ANSWER_BUDGET: Duration = Duration::from_millis(1500);

/// The slash commands the manifest registers.
const COMMANDS: [&str; 2] = ["/request", "/stagegate"];

#[derive(Clone)]
pub struct SlackInbound {
    verifier: Arc<SlackVerifier>,
    origin: Arc<SlackOrigin>,
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
    pub fn new(
        verifier: SlackVerifier,
        origin: SlackOrigin,
        store: Arc<dyn ReplayStore>,
        engine: Arc<Engine>,
        port: Arc<SlackPort>,
    ) -> Self {
        Self {
            verifier: Arc::new(verifier),
            origin: Arc::new(origin),
            replay: Arc::new(ReplayGuard::new(store)),
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

pub(crate) fn router(state: SlackInbound) -> Router {
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

const OUR_FAULT: &str = "Something went wrong on our side; nothing was changed.";

fn bad_payload(e: &impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "unreadable Slack payload");
    (StatusCode::BAD_REQUEST, "unreadable payload").into_response()
}

/// `Ok` the first time `request` is seen; otherwise the answer to give
/// instead of acting (an empty 200 for a replay, as Slack expects an ack).
async fn first_sight(state: &SlackInbound, request: &VerifiedRequest) -> Result<(), Response> {
    match state.replay.first_sight(request).await {
        Ok(true) => Ok(()),
        Ok(false) => {
            tracing::warn!("a replayed Slack request was ignored");
            Err(StatusCode::OK.into_response())
        }
        Err(e) => {
            // Without the record a replay could act twice: refuse instead.
            tracing::error!(error = %e, "cannot record a Slack request against replays");
            Err((StatusCode::SERVICE_UNAVAILABLE, OUR_FAULT).into_response())
        }
    }
}

/// Anyone Slack signed for, in app `slack.app_id` from a workspace of
/// `slack.team_ids`, may call: runs a slash command as the signed
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
    let (app, team) = (
        command.api_app_id.as_deref(),
        Some(command.team_id.as_str()),
    );
    if let Err(refused) = state.origin.admit(app, team).await {
        return Json(say(refused.answer())).into_response();
    }
    if let Err(answer) = first_sight(&state, &request).await {
        return answer;
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
    let url = state.origin.response_url(Some(&command.response_url));
    let input = format!("{} {}", command.command, command.text);
    let (engine, asker) = (state.engine.clone(), who.clone());
    let mut task = tokio::spawn(async move { engine.command(&asker, input.trim()).await });
    match tokio::time::timeout(ANSWER_BUDGET, &mut task).await {
        Ok(Ok(reply)) => Json(ephemeral(&reply)).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "command task failed");
            Json(say(OUR_FAULT)).into_response()
        }
        Err(_) => {
            tokio::spawn(async move {
                let reply = task.await.unwrap_or_else(|_| Message::Text {
                    text: OUR_FAULT.into(),
                });
                deliver(&state, &who, url.as_ref(), &reply).await;
            });
            Json(say("Working on it…")).into_response()
        }
    }
}

/// Posts a later answer to a `response_url` (the URL is the credential:
/// never logged).
async fn respond(http: &reqwest::Client, url: &ResponseUrl, body: &Value) {
    match http.post(url.as_url().clone()).json(body).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::warn!(status = %r.status(), "response_url refused the answer"),
        Err(e) => tracing::warn!(error = %e.without_url(), "response_url unreachable"),
    }
}

/// Anyone Slack signed for, in app `slack.app_id` from a workspace of
/// `slack.team_ids`, may call: button clicks and modal submissions, acted
/// on as the payload's signed `user.id`.
async fn interactions(
    State(state): State<SlackInbound>,
    SlackRequest(request): SlackRequest<INTERACTION_BODY_LIMIT>,
) -> Response {
    let interaction = match Inbound::parse(&request) {
        Ok(Inbound::Interaction(i)) => i,
        Ok(Inbound::Command(_)) => return bad_payload(&"a command sent as an interaction"),
        Err(e) => return bad_payload(&e),
    };
    let (app, team) = match &interaction {
        Interaction::BlockActions(c) => (c.api_app_id.as_str(), team_of(c.team.as_ref(), &c.user)),
        Interaction::ViewSubmission(s) => {
            (s.api_app_id.as_str(), team_of(s.team.as_ref(), &s.user))
        }
        // Acknowledged and otherwise ignored: nothing runs.
        Interaction::ViewClosed(_) | Interaction::Other => return StatusCode::OK.into_response(),
    };
    if let Err(refused) = state.origin.admit(Some(app), team).await {
        return refuse_interaction(&interaction, &refused);
    }
    if let Err(answer) = first_sight(&state, &request).await {
        return answer;
    }
    match interaction {
        Interaction::BlockActions(click) => clicked(state, click).await,
        Interaction::ViewSubmission(submission) => submitted(state, submission).await,
        Interaction::ViewClosed(_) | Interaction::Other => StatusCode::OK.into_response(),
    }
}

/// A modal shows the refusal in place; a click gets a 403, which Slack
/// shows as a failed action (nothing is posted anywhere for a workspace
/// this stagegate does not serve).
fn refuse_interaction(interaction: &Interaction, refused: &OriginError) -> Response {
    match interaction {
        Interaction::ViewSubmission(_) => Json(notice_view(refused.answer())).into_response(),
        _ => (StatusCode::FORBIDDEN, refused.answer()).into_response(),
    }
}

/// The payload's workspace: `team.id`, or for an org-wide install (where
/// `team` is null) the user's own workspace.
fn team_of<'p>(
    team: Option<&'p super::payload::Team>,
    user: &'p super::payload::User,
) -> Option<&'p str> {
    team.map(|t| t.id.as_str())
        .or(user.team_id.as_deref())
        .filter(|t| !t.is_empty())
}

async fn clicked(state: SlackInbound, click: BlockActions) -> Response {
    let Some(pressed) = click.actions.first() else {
        return StatusCode::OK.into_response();
    };
    // A URL button opens the link in the browser; Slack still tells us.
    if pressed.action_id == SIGN_IN {
        return StatusCode::OK.into_response();
    }
    let team = team_of(click.team.as_ref(), &click.user).unwrap_or_default();
    let who = identity(team, &click.user.id);
    let url = state.origin.response_url(click.response_url.as_deref());
    let action = pressed
        .value
        .as_deref()
        .and_then(|v| serde_json::from_str::<CardAction>(v).ok());
    let Some(action) = action else {
        tell(
            &state,
            &who,
            url.clone(),
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
                url.clone(),
                &Message::Text {
                    text: "I couldn't open the decision form; please click again.".into(),
                },
            );
        }
        return StatusCode::OK.into_response();
    }
    tokio::spawn(async move {
        let reply = state.engine.action(&who, &action, None).await;
        deliver(&state, &who, url.as_ref(), &reply).await;
    });
    StatusCode::OK.into_response()
}

/// How long a submitted decision may take before the form answers that
/// it is still being recorded (Slack's deadline is 3 s).
const DECISION_ANSWER_WAIT: std::time::Duration = std::time::Duration::from_millis(2000);

async fn submitted(state: SlackInbound, submission: ViewSubmission) -> Response {
    match read_submission(&submission.view) {
        Submission::Invalid(answer) => Json(answer).into_response(),
        Submission::Unknown => Json(notice_view(
            "This form is no longer in use; nothing was changed.",
        ))
        .into_response(),
        Submission::Decide {
            action,
            justification,
        } => {
            let who = identity(
                team_of(submission.team.as_ref(), &submission.user).unwrap_or_default(),
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
                Ok(Err(_)) | Err(_) => Json(notice_view(
                    "Still recording your decision with Microsoft Entra. \
                     I'll message you when it's done; if no message comes, \
                     the card will still have its buttons.",
                ))
                .into_response(),
            }
        }
    }
}

/// A view_submission answer replacing the form with `text`.
fn notice_view(text: &str) -> Value {
    json!({
        "response_action": "update",
        "view": {
            "type": "modal",
            "title": { "type": "plain_text", "text": "stagegate" },
            "blocks": [ { "type": "section", "text": { "type": "mrkdwn", "text": text } } ],
        },
    })
}

/// Sends `message` to the person in the background.
fn tell(state: &SlackInbound, who: &ChatIdentity, url: Option<ResponseUrl>, message: &Message) {
    let (state, who, message) = (state.clone(), who.clone(), message.clone());
    tokio::spawn(async move { deliver(&state, &who, url.as_ref(), &message).await });
}

/// An answer for the person: through the `response_url` when the
/// interaction gave one, else as a DM.
async fn deliver(
    state: &SlackInbound,
    who: &ChatIdentity,
    url: Option<&ResponseUrl>,
    message: &Message,
) {
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
