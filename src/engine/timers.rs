//! Timers: reminders before a stage's decision time runs out, and the
//! warning (with an "extend" action) before an assignment expires. They are
//! judged at every reconcile by the engine's clock, which in the sandbox is
//! the emulated one, so tests drive them by advancing the sandbox clock;
//! each is keyed, so it is sent once however often reconcile runs.

use std::collections::BTreeSet;

use chrono::Duration;

use super::Engine;
use super::jobs::Job;
use super::view::Snapshot;
use crate::chat::port::Message;
use stagegate_domain::approval::{AssignmentState, RequestState};

impl Engine {
    /// Reminders before a stage's automatic denial, and the warning before
    /// an assignment expires, by the engine's clock.
    pub(super) fn timer_jobs(
        &self,
        snapshot: &Snapshot,
        done: &BTreeSet<String>,
        jobs: &mut Vec<(String, Job)>,
    ) {
        let now = self.ctx.clock.now();
        let view = &snapshot.view;
        let r = view.id;
        let lead = Duration::minutes(self.ctx.settings.reminder_lead_minutes);
        if let Some((k, stage)) = view.current_stage()
            && let Some(deadline) = snapshot.deadline(k)
            && now >= deadline - lead
            && now < deadline
        {
            for approver in stage.approvers.iter().filter(|a| **a != view.requester) {
                let key = format!("remind:{r}:{k}:{approver}");
                if !done.contains(&key) && done.contains(&format!("card:{r}:{k}:{approver}")) {
                    jobs.push((
                        key,
                        Job::ToPerson {
                            person: *approver,
                            message: Message::Reminder {
                                request: r,
                                stage: k,
                                deadline,
                            },
                        },
                    ));
                }
            }
        }
        let warn = Duration::minutes(self.ctx.settings.expiry_warning_minutes);
        if view.state == RequestState::Delivered
            && view.assignment == Some(AssignmentState::Delivered)
            && let Some(end) = snapshot
                .request
                .assignment
                .as_ref()
                .and_then(|a| a.ends_at())
            && now >= end - warn
            && now < end
        {
            let key = format!("expiry-warning:{r}");
            if !done.contains(&key) {
                jobs.push((
                    key,
                    Job::ToPerson {
                        person: view.requester,
                        message: Message::ExpiryWarning {
                            request: r,
                            package: snapshot.package.entry.display_name.clone(),
                            expires: end,
                        },
                    },
                ));
            }
        }
    }
}
