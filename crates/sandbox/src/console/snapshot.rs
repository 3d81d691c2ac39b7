//! `GET /sim/console/state`: what the console shows besides the chats —
//! the clock, the personas, the requests as Graph holds them (state, stage,
//! who decided), who holds an active privileged membership, and the Teams
//! and Slack channels to show. Chats themselves come from the drivers.

use axum::extract::State;
use axum::response::Json;
use serde::Serialize;
use serde_json::Value;

use crate::SimState;
use crate::clock::{format_iso_duration, graph_time};
use crate::slack::state::ChannelKind;
use crate::world::{AssignmentRequest, World};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ConsoleState {
    generation: u64,
    clock: Clock,
    personas: Vec<Persona>,
    requests: Vec<RequestView>,
    privileged_groups: Vec<GroupView>,
    teams_channels: Vec<TeamsChannel>,
    slack_channels: Vec<SlackChannel>,
}

#[derive(Serialize)]
struct Clock {
    now: String,
    offset: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Persona {
    #[serde(skip)]
    object_id: String,
    key: String,
    name: String,
    job_title: Option<String>,
    enabled: bool,
    teams_installed: bool,
    slack_user_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestView {
    id: String,
    package: String,
    requester: String,
    state: String,
    status: String,
    created: String,
    ticket: Option<String>,
    justification: Option<String>,
    stages: Vec<StageView>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StageView {
    status: String,
    result: String,
    approvers: Vec<String>,
    reviewed_by: Option<String>,
    justification: String,
}

#[derive(Serialize)]
struct GroupView {
    name: String,
    active: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TeamsChannel {
    id: String,
    name: String,
    team: String,
    bot_installed: bool,
}

#[derive(Serialize)]
struct SlackChannel {
    id: String,
    name: String,
}

/// Anyone on loopback (the console): a snapshot of the sandbox.
pub(super) async fn state(State(state): State<SimState>) -> Json<ConsoleState> {
    Json(snapshot(&state))
}

/// Reads the world, then the Teams store, then the Slack workspace: never
/// two of those locks at once.
pub(super) fn snapshot(state: &SimState) -> ConsoleState {
    let generation = *state.watch_changes().borrow();
    let (mut personas, requests, privileged_groups) = {
        let world = state.world();
        let personas: Vec<Persona> = world
            .users
            .values()
            .map(|u| Persona {
                object_id: u.id.clone(),
                key: u.key.clone(),
                name: u.display_name.clone(),
                job_title: u.job_title.clone(),
                enabled: u.account_enabled,
                teams_installed: false,
                slack_user_id: None,
            })
            .collect();
        let mut requests: Vec<(chrono::DateTime<chrono::Utc>, RequestView)> = world
            .requests
            .values()
            .map(|r| (r.created, request_view(&world, r)))
            .collect();
        requests.sort_by_key(|r| std::cmp::Reverse(r.0));
        let groups = world
            .groups
            .values()
            .filter(|g| g.pim.is_some())
            .map(|g| GroupView {
                name: g.display_name.clone(),
                active: g.members.iter().map(|id| name_of(&world, id)).collect(),
            })
            .collect();
        (
            personas,
            requests.into_iter().map(|(_, r)| r).collect(),
            groups,
        )
    };
    let teams_channels = {
        let store = state.teams.store();
        for persona in &mut personas {
            persona.teams_installed = store
                .installs
                .get(&persona.object_id)
                .is_some_and(|install| !install.blocked);
        }
        store
            .teams
            .iter()
            .flat_map(|t| {
                t.channels.iter().map(|c| TeamsChannel {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    team: t.name.clone(),
                    bot_installed: t.bot_installed,
                })
            })
            .collect()
    };
    let slack_channels = {
        let slack = state.slack.lock();
        for persona in &mut personas {
            persona.slack_user_id = slack
                .user_by_key(&persona.key)
                .filter(|u| !u.deleted)
                .map(|u| u.id.clone());
        }
        slack
            .channels
            .values()
            .filter(|c| c.kind == ChannelKind::Public)
            .map(|c| SlackChannel {
                id: c.id.clone(),
                name: c.name.clone(),
            })
            .collect()
    };
    ConsoleState {
        generation,
        clock: Clock {
            now: graph_time(state.clock.now()),
            offset: format_iso_duration(state.clock.offset()),
        },
        personas,
        requests,
        privileged_groups,
        teams_channels,
        slack_channels,
    }
}

fn name_of(world: &World, id: &str) -> String {
    world
        .users
        .get(id)
        .map_or_else(|| id.to_owned(), |u| u.display_name.clone())
}

fn request_view(world: &World, request: &AssignmentRequest) -> RequestView {
    let package = world
        .access_packages
        .get(&request.access_package_id)
        .map_or_else(
            || request.access_package_id.clone(),
            |p| p.display_name.clone(),
        );
    let ticket = request
        .answers
        .iter()
        .find_map(|a| a.get("value").and_then(Value::as_str))
        .map(str::to_owned);
    RequestView {
        id: request.id.clone(),
        package,
        requester: name_of(world, &request.target_id),
        state: request.state.clone(),
        status: request.status.clone(),
        created: graph_time(request.created),
        ticket,
        justification: request.justification.clone(),
        stages: request
            .stages
            .iter()
            .map(|s| StageView {
                status: s.status.clone(),
                result: s.review_result.clone(),
                approvers: s.approver_ids.iter().map(|id| name_of(world, id)).collect(),
                reviewed_by: s.reviewed_by.as_deref().map(|id| name_of(world, id)),
                justification: s.justification.clone(),
            })
            .collect(),
    }
}
