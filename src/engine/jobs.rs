//! Outbox jobs: what to send, to whom, and how (post, or update what an
//! earlier job posted). Built at plan time from a fresh snapshot, so the
//! worker needs no Graph reads to deliver them.

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use super::render;
use super::view::{Snapshot, stage_result};
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{ApprovalCard, Message, MessageRef, PersonRef, StageHistory};
use crate::config::SecurityChannelSettings;
use stagegate_domain::ids::{ObjectId, RequestId};
use stagegate_domain::planner::{Effect, RequesterEvent};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Job {
    /// An approval card to every chat identity of `approver` (one per
    /// platform, ever).
    PostCard {
        request: RequestId,
        stage: u8,
        approver: ObjectId,
        card: ApprovalCard,
    },
    /// Update every card of the stage to its decided form.
    RetireCards {
        request: RequestId,
        stage: u8,
        outcome: String,
        /// The stage's approvers when it was planned (whose chats the
        /// retirement waits on; the cards themselves are read when it is
        /// delivered).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        approvers: Vec<ObjectId>,
    },
    /// A message to every chat identity of a person.
    ToPerson { person: ObjectId, message: Message },
    /// A message to one chat identity (a reply that outlived its request).
    ToIdentity {
        identity: ChatIdentity,
        message: Message,
    },
    /// Replace what the job with key `key` posted.
    UpdateOf { key: String, message: Message },
    /// After a click: the clicked message as last sent, with the click's
    /// outcome on top, once the request's own updates have gone out.
    ClickOutcome {
        request: RequestId,
        identity: ChatIdentity,
        at: MessageRef,
        note: String,
        clicked_at: DateTime<Utc>,
        /// The click's answer carried `note` (it came within the invoke's
        /// wait), so the clicker has read it already.
        #[serde(default)]
        answered: bool,
    },
    /// Post to a security channel: `channel`, set by [`fan_out`] (jobs
    /// queued before several channels existed have none: every channel).
    Security {
        message: Message,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<SecurityChannelSettings>,
    },
}

impl Job {
    /// Where the rate limit applies.
    #[must_use]
    pub fn destination(&self) -> String {
        match self {
            Self::PostCard { approver, .. } => format!("person:{approver}"),
            Self::ToPerson { person, .. } => format!("person:{person}"),
            Self::ToIdentity { identity, .. } => format!("identity:{identity}"),
            // Updates replace messages already delivered; they are not
            // new messages to anyone, so they share one generous bucket.
            Self::RetireCards { .. } | Self::UpdateOf { .. } | Self::ClickOutcome { .. } => {
                "updates".into()
            }
            Self::Security {
                channel: Some(c), ..
            } => format!("security:{}:{}", c.platform, c.channel),
            Self::Security { channel: None, .. } => "security".into(),
        }
    }

    /// The chats the job waits on. The worker delivers only a few jobs of
    /// one lane at once, so the jobs of a person whose chat is throttled
    /// (hundreds of cards for a security approver) wait their turn without
    /// holding up messages to everyone else.
    #[must_use]
    pub fn lane(&self) -> String {
        match self {
            Self::RetireCards {
                approvers,
                request,
                stage,
                ..
            } => {
                if approvers.is_empty() {
                    format!("retire:{request}:{stage}")
                } else {
                    let mut ids: Vec<String> = approvers.iter().map(ToString::to_string).collect();
                    ids.sort();
                    ids.dedup();
                    format!("people:{}", ids.join(","))
                }
            }
            Self::UpdateOf { key, .. } => format!("update:{key}"),
            Self::ClickOutcome { at, .. } => format!("click:{}", at.0),
            other => other.destination(),
        }
    }
}

pub(super) fn person(snapshot: &Snapshot, id: &ObjectId) -> PersonRef {
    PersonRef {
        id: *id,
        name: snapshot.name(id),
    }
}

/// The card for stage `k` as `snapshot` shows it.
pub fn approval_card(snapshot: &Snapshot, k: u8) -> Option<ApprovalCard> {
    let view = &snapshot.view;
    let (_, stage) = view.numbered_stages().find(|(n, _)| *n == k)?;
    let history = view
        .numbered_stages()
        .filter(|(n, _)| *n < k)
        .map(|(n, s)| StageHistory {
            stage: n,
            result: stage_result(s).unwrap_or("NotReviewed").to_owned(),
            by: s.reviewed_by.map(|by| person(snapshot, &by)),
            justification: s.justification.clone(),
        })
        .collect();
    Some(ApprovalCard {
        request: view.id,
        stage_id: stage.id,
        stage: k,
        stages: snapshot.stage_count().max(k),
        requester: person(snapshot, &view.requester),
        package: snapshot.package.entry.display_name.clone(),
        role: snapshot.package.role.clone(),
        ticket: view.ticket.clone(),
        justification: view.justification.clone(),
        deadline: snapshot.deadline(k),
        history,
        justification_required: snapshot.justification_required(k),
        escalated: stage.escalated,
    })
}

/// The job that carries out `effect`, or `None` when it cannot be done
/// yet (it will be planned again by a later reconcile).
pub fn job_for(snapshot: &Snapshot, effect: &Effect) -> Option<Job> {
    let package = snapshot.package.entry.display_name.clone();
    Some(match effect {
        Effect::PostApprovalCard {
            request,
            stage,
            approver,
            ..
        } => Job::PostCard {
            request: *request,
            stage: *stage,
            approver: *approver,
            card: approval_card(snapshot, *stage)?,
        },
        Effect::RetireStageCards {
            request,
            stage,
            outcome,
        } => Job::RetireCards {
            request: *request,
            stage: *stage,
            outcome: render::outcome(snapshot, outcome),
            approvers: snapshot
                .view
                .numbered_stages()
                .find(|(n, _)| n == stage)
                .map(|(_, s)| s.approvers.clone())
                .unwrap_or_default(),
        },
        Effect::NotifyRequester {
            request,
            requester,
            event,
        } => Job::ToPerson {
            person: *requester,
            message: Message::RequestStatus {
                request: *request,
                package,
                text: render::requester_event(snapshot, event),
            },
        },
        Effect::PromptActivation { .. } => return None,
        Effect::RetireActivationPrompt { request, .. } => Job::UpdateOf {
            key: format!("activate:{request}"),
            message: Message::ActivationClosed {
                request: *request,
                text: "The assignment has expired; this activation offer is closed.".into(),
            },
        },
        Effect::SecurityAlert { request, kind } => Job::Security {
            message: render::alert(snapshot, request, kind),
            channel: None,
        },
    })
}

/// Whether the event ends the request for the requester (used in texts).
#[must_use]
pub fn is_final(event: &RequesterEvent) -> bool {
    !matches!(
        event,
        RequesterEvent::Submitted | RequesterEvent::StagePassed { .. }
    )
}

/// One job per security channel for every security alert in `jobs`: the
/// first channel keeps the key the planner knows (so it is not planned
/// again), the others get `{key}@{platform}:{channel}`. With no channel the
/// alert stays one job, which the worker only logs.
#[must_use]
pub fn fan_out(channels: &[SecurityChannelSettings], jobs: &[(String, Job)]) -> Vec<(String, Job)> {
    let mut out = Vec::with_capacity(jobs.len());
    for (key, job) in jobs {
        match job {
            Job::Security {
                message,
                channel: None,
            } if !channels.is_empty() => {
                for (i, channel) in channels.iter().enumerate() {
                    let key = if i == 0 {
                        key.clone()
                    } else {
                        format!("{key}@{}:{}", channel.platform, channel.channel)
                    };
                    out.push((
                        key,
                        Job::Security {
                            message: message.clone(),
                            channel: Some(channel.clone()),
                        },
                    ));
                }
            }
            other => out.push((key.clone(), other.clone())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(platform: &str, id: &str) -> SecurityChannelSettings {
        SecurityChannelSettings {
            platform: platform.into(),
            channel: id.into(),
        }
    }

    fn alert() -> Job {
        Job::Security {
            message: Message::Text { text: "x".into() },
            channel: None,
        }
    }

    #[test]
    fn a_retirement_waits_in_the_lane_of_its_approvers_in_any_order() {
        let id = |n: u8| {
            format!("a1e0a1e0-0000-4000-8000-0000000000{n:02}")
                .parse::<ObjectId>()
                .unwrap()
        };
        let request: RequestId = "2b7f0c1e-5d4a-4c3b-9e8f-0a1b2c3d4e5f".parse().unwrap();
        let retire = |approvers: Vec<ObjectId>| Job::RetireCards {
            request,
            stage: 2,
            outcome: "Approved".into(),
            approvers,
        };
        let a = retire(vec![id(2), id(1)]).lane();
        assert_eq!(a, retire(vec![id(1), id(2), id(1)]).lane());
        assert!(a.starts_with("people:"), "{a}");
        assert_ne!(a, retire(vec![id(1)]).lane());
        // Queued before lanes named approvers: a lane of its own.
        let old: Job = serde_json::from_str(&format!(
            r#"{{"job":"retireCards","request":"{request}","stage":2,"outcome":"x"}}"#
        ))
        .unwrap();
        assert_eq!(old.lane(), format!("retire:{request}:2"));
        // A message to a person waits in that person's lane.
        let card_to = Job::ToPerson {
            person: id(1),
            message: Message::Text { text: "x".into() },
        };
        assert_eq!(card_to.lane(), format!("person:{}", id(1)));
    }

    #[test]
    fn one_job_per_channel_first_keeps_the_key() {
        let channels = [channel("teams", "19:t"), channel("slack", "C1")];
        let out = fan_out(&channels, &[("alert:r:denied".into(), alert())]);
        let keys: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["alert:r:denied", "alert:r:denied@slack:C1"]);
        assert_eq!(out[1].1.destination(), "security:slack:C1");
    }

    #[test]
    fn without_channels_and_for_other_jobs_nothing_changes() {
        let other = Job::ToPerson {
            person: "a1e0a1e0-0000-4000-8000-00000000a1e0"
                .parse::<stagegate_domain::ids::ObjectId>()
                .unwrap(),
            message: Message::Text { text: "y".into() },
        };
        let jobs = [("alert:r".to_owned(), alert()), ("n".to_owned(), other)];
        assert_eq!(fan_out(&[], &jobs), jobs.to_vec());
        let out = fan_out(&[channel("slack", "C1")], &jobs);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], jobs[1]);
    }
}
