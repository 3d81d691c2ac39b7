//! Chat commands: `request`, `status`, `cancel`, `pending`, `link`,
//! `unlink`, `help`, limited per person. Everything done in Graph is done
//! as the person, with their delegated token; an unlinked person gets a
//! sign-in link whose completion resumes what they asked for.

use chrono::Utc;
use governor::DefaultKeyedRateLimiter;
use secrecy::SecretString;

use super::guard::{Actor, Guard};
use super::resume::Resume;
use super::{Engine, EngineError, per_minute};
use crate::chat::identity::ChatIdentity;
use crate::chat::port::Message;
use crate::config::EngineSettings;
use crate::graph::models::AssignmentRequest;
use crate::graph::{GraphError, em};
use crate::identity::link::Linked;
use crate::store::engine::RequestRow;
use stagegate_domain::approval::RequestState;
use stagegate_domain::approvers::resolve_approvers;
use stagegate_domain::catalog::{ValidatedRequest, validate_request};
use stagegate_domain::command::{Command, RequestCommand, help_text, parse};
use stagegate_domain::ids::{ObjectId, RequestId};

fn text(text: impl Into<String>) -> Message {
    Message::Text { text: text.into() }
}

/// The request workflow's own state.
pub(super) struct Requests {
    /// Commands per person per minute, so one person's flood costs Graph
    /// and chat no more than the configured budget.
    pub(super) throttle: DefaultKeyedRateLimiter<String>,
}

impl Requests {
    pub(super) fn new(settings: &EngineSettings) -> Self {
        Self {
            throttle: DefaultKeyedRateLimiter::keyed(per_minute(settings.commands_per_minute)),
        }
    }
}

impl Engine {
    /// A message typed by `who` (whoever the platform authenticated).
    /// Anyone may type; what each command may do is checked inside.
    pub async fn command(&self, who: &ChatIdentity, input: &str) -> Message {
        if self.requests.throttle.check_key(&who.to_string()).is_err() {
            return text(
                "Slow down: you've sent a lot of commands in the last minute. Try again shortly.",
            );
        }
        let command = match parse(input) {
            Ok(c) => c,
            Err(e) => return text(e.to_string()),
        };
        let verb = command.verb().name();
        let reply = match self.run(who, input, command).await {
            Ok(reply) => reply,
            Err(e) => {
                tracing::error!(error = %e, verb, "command failed");
                text(
                    "Something went wrong on our side; nothing was changed. Try again in a minute.",
                )
            }
        };
        self.audit_reply(who, &format!("command.{verb}"), verb, &reply)
            .await;
        reply
    }

    async fn run(
        &self,
        who: &ChatIdentity,
        input: &str,
        command: Command,
    ) -> Result<Message, EngineError> {
        let resume = Resume::Command {
            text: input.to_owned(),
        };
        match command {
            Command::Help { topic: None } => Ok(Message::Help { text: help_text() }),
            Command::Help { topic: Some(verb) } => Ok(Message::Help {
                text: format!("`{}` — {}", verb.usage(), verb.summary()),
            }),
            Command::Link => Ok(self
                .sign_in_prompt(
                    who,
                    "Sign in to link your Microsoft account to stagegate.",
                    None,
                    None,
                )
                .await),
            Command::Unlink => Ok(text(if self.ctx.links.unlink(who).await? {
                "Unlinked: stagegate can no longer act as you. `link` to sign in again."
            } else {
                "You weren't linked."
            })),
            Command::Request(cmd) => self.request(who, &cmd, &resume).await,
            Command::Status { request } => self.status(who, request, &resume).await,
            Command::Cancel { request } => self.cancel(who, &request, &resume).await,
            Command::Pending => self.pending(who, &resume).await,
        }
    }

    async fn request(
        &self,
        who: &ChatIdentity,
        cmd: &RequestCommand,
        resume: &Resume,
    ) -> Result<Message, EngineError> {
        let valid = match validate_request(cmd, &self.ctx.catalog) {
            Ok(v) => v,
            Err(refusal) => return Ok(text(refusal.to_string())),
        };
        let sign_in = "Sign in once so I can submit requests as you. Your request is submitted as soon as you're signed in.";
        let Actor { me, token } = match self.signed_in(who, sign_in, Some(resume)).await? {
            Ok(actor) => actor,
            Err(refusal) => return Ok(refusal),
        };
        if valid.dry_run {
            return self.dry_run(&valid, &me).await;
        }
        let created = match self.submit(who, &valid, &me, &token, resume).await? {
            Ok(created) => created,
            Err(refusal) => return Ok(refusal),
        };
        let Ok(id) = created.id.parse::<RequestId>() else {
            return Err(EngineError::Data(format!(
                "Graph returned request id `{}`",
                created.id
            )));
        };
        let state = created.state.parse().unwrap_or_else(|e| match e {});
        self.record_submitted(&valid, me, id, state).await?;
        if let Err(e) = self.reconcile(&id).await {
            tracing::warn!(request = %id, error = %e, "first reconcile failed; the poller will retry");
        }
        Ok(text(format!(
            "Submitted request {id} for {}. I'll keep you posted here.",
            valid.display_name
        )))
    }

    /// Creates the request in Graph as `me`; a refusal or a claims
    /// challenge comes back as the reply to send instead.
    async fn submit(
        &self,
        who: &ChatIdentity,
        valid: &ValidatedRequest,
        me: &ObjectId,
        token: &SecretString,
        resume: &Resume,
    ) -> Result<Result<AssignmentRequest, Message>, EngineError> {
        let new = em::NewRequest {
            target: me,
            package: &valid.package,
            policy: &valid.policy,
            ticket_question: &valid.ticket_question,
            ticket: valid.ticket.as_str(),
            justification: valid.justification.as_ref().map(|j| j.as_str()),
        };
        match em::create_request(&self.ctx.graph, token, &new, None).await {
            Ok(c) => Ok(Ok(c)),
            Err(GraphError::ClaimsChallenge { claims }) => Ok(Err(self
                .sign_in_prompt(
                    who,
                    "Microsoft Entra asks for a stronger sign-in first.",
                    Some(&claims),
                    Some(resume),
                )
                .await)),
            Err(
                GraphError::InvalidRequest { message, .. } | GraphError::Forbidden { message, .. },
            ) => Ok(Err(text(format!(
                "Microsoft Entra refused the request: {message}"
            )))),
            Err(e) => Err(e.into()),
        }
    }

    /// Remembers a submitted request and audits it; written before the
    /// first reconcile, which reads the row.
    async fn record_submitted(
        &self,
        valid: &ValidatedRequest,
        me: ObjectId,
        id: RequestId,
        state: RequestState,
    ) -> Result<(), EngineError> {
        self.ctx
            .store
            .insert_request(
                &RequestRow {
                    id,
                    requester: me,
                    alias: Some(valid.alias.to_string()),
                    ticket: Some(valid.ticket.to_string()),
                    justification: valid.justification.as_ref().map(ToString::to_string),
                    state,
                },
                Utc::now(),
            )
            .await?;
        self.audit(
            &me.to_string(),
            "request.submitted",
            &id.to_string(),
            "ok",
            serde_json::json!({ "alias": valid.alias.to_string(), "ticket": valid.ticket.to_string() }),
        )
        .await;
        Ok(())
    }

    /// Each stage and who would be asked, submitting nothing.
    async fn dry_run(
        &self,
        valid: &ValidatedRequest,
        me: &ObjectId,
    ) -> Result<Message, EngineError> {
        let policy = em::get_policy(&self.ctx.graph, &valid.policy).await?;
        let (facts, names) = self.directory_facts(&policy, me).await?;
        let mut out = format!(
            "Dry run — nothing submitted. {} with ticket {}:",
            valid.display_name, valid.ticket
        );
        for (i, stage) in policy.stages().iter().enumerate() {
            let resolution = resolve_approvers(
                &super::view::stage_approvers(stage),
                me,
                &facts,
                chrono::Duration::zero(),
            );
            let who: Vec<String> = resolution
                .ids()
                .iter()
                .map(|id| names.get(id).cloned().unwrap_or_else(|| id.to_string()))
                .collect();
            let who = if who.is_empty() {
                "nobody could be resolved".to_owned()
            } else {
                who.join(", ")
            };
            out.push_str(&format!("\nStage {}: {who}", i + 1));
        }
        Ok(text(out))
    }

    async fn status(
        &self,
        who: &ChatIdentity,
        request: Option<RequestId>,
        resume: &Resume,
    ) -> Result<Message, EngineError> {
        let sign_in = "Sign in so I can look up your requests.";
        if let Some(id) = request {
            let guard = Guard {
                sign_in,
                resume: Some(resume),
                requester_only: Some("You can only see the status of your own requests."),
            };
            let s = match self.guard(who, &id, &guard).await? {
                Ok(guarded) => guarded.snapshot,
                Err(refusal) => return Ok(refusal),
            };
            let mut out = format!(
                "Request {id} for {}: {}",
                s.package.entry.display_name, s.view.state
            );
            for (k, stage) in s.view.numbered_stages() {
                let result = super::view::stage_result(stage).unwrap_or("waiting");
                let by = stage
                    .reviewed_by
                    .map(|b| format!(" by {}", s.name(&b)))
                    .unwrap_or_default();
                out.push_str(&format!("\nStage {k}: {result}{by}"));
            }
            return Ok(text(out));
        }
        let token = match self.signed_in(who, sign_in, Some(resume)).await? {
            Ok(actor) => actor.token,
            Err(refusal) => return Ok(refusal),
        };
        let mine = em::my_requests(&self.ctx.graph, &token).await?;
        if mine.is_empty() {
            return Ok(text("You have no access package requests."));
        }
        let lines: Vec<String> = mine
            .iter()
            .map(|r| {
                let package = r
                    .access_package
                    .as_ref()
                    .and_then(|p| p.display_name.clone())
                    .unwrap_or_default();
                format!("{} {package}: {}", r.id, r.state)
            })
            .collect();
        Ok(text(format!("Your requests:\n{}", lines.join("\n"))))
    }

    async fn cancel(
        &self,
        who: &ChatIdentity,
        id: &RequestId,
        resume: &Resume,
    ) -> Result<Message, EngineError> {
        let sign_in = "Sign in so I can cancel as you.";
        let Actor { me, token } = match self.signed_in(who, sign_in, Some(resume)).await? {
            Ok(actor) => actor,
            Err(refusal) => return Ok(refusal),
        };
        match em::cancel_request(&self.ctx.graph, &token, id).await {
            Ok(()) => {
                self.audit(
                    &me.to_string(),
                    "request.cancel",
                    &id.to_string(),
                    "ok",
                    serde_json::json!({}),
                )
                .await;
                let _ = self.reconcile(id).await;
                Ok(text(format!("Request {id} is cancelled.")))
            }
            Err(GraphError::NotFound { .. }) => Ok(text(format!("There is no request {id}."))),
            Err(
                GraphError::InvalidRequest { message, .. } | GraphError::Forbidden { message, .. },
            ) => Ok(text(format!(
                "Microsoft Entra refused to cancel it: {message}"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    async fn pending(&self, who: &ChatIdentity, resume: &Resume) -> Result<Message, EngineError> {
        let sign_in = "Sign in so I can list what awaits your decision.";
        let token = match self.signed_in(who, sign_in, Some(resume)).await? {
            Ok(actor) => actor.token,
            Err(refusal) => return Ok(refusal),
        };
        let approvals = em::approvals_awaiting_me(&self.ctx.graph, &token).await?;
        if approvals.is_empty() {
            return Ok(text("Nothing awaits your decision."));
        }
        let lines: Vec<String> = approvals
            .iter()
            .map(|a| format!("• request {}", a.id))
            .collect();
        Ok(text(format!(
            "Awaiting your decision:\n{}",
            lines.join("\n")
        )))
    }

    /// After a completed link ([`Engine::complete_sign_in`]): continue
    /// what the link was for. The outcome is sent to the person in chat.
    pub async fn after_link(&self, linked: &Linked) {
        let Some(resume) = linked.resume.as_deref() else {
            self.tell(
                &linked.identity,
                text(format!("You're linked as {}.", linked.display_name)),
            )
            .await;
            return;
        };
        let reply = match serde_json::from_str::<Resume>(resume) {
            Ok(Resume::Command { text }) => self.command(&linked.identity, &text).await,
            Ok(Resume::Action {
                action,
                justification,
            }) => {
                self.action(&linked.identity, &action, justification.as_deref())
                    .await
            }
            Err(e) => {
                tracing::warn!(error = %e, "unreadable resume state");
                return;
            }
        };
        self.tell(&linked.identity, reply).await;
    }
}
