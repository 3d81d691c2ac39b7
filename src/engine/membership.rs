//! Joins to watched groups that no activation through the bot explains,
//! reported to the security channel.

use super::activation::approval_alert_lines;
use super::jobs::Job;
use super::{Engine, EngineError};
use crate::chat::port::Message;
use stagegate_domain::ids::ObjectId;

impl Engine {
    /// A member joined or left a watched group. Joins that no activation
    /// through the bot explains are reported to the security channel, once
    /// per change: keyed by the notification's id when Graph gave one (a
    /// redelivery has the same id), else by the second it was seen.
    pub(super) async fn on_membership(
        &self,
        group: &ObjectId,
        member: &ObjectId,
        added: bool,
        notification: Option<&str>,
    ) -> Result<(), EngineError> {
        if !added || !self.ctx.packages.iter().any(|p| p.group == *group) {
            return Ok(());
        }
        let explained = self
            .ctx
            .store
            .activation_of(member, group)
            .await?
            .is_some_and(|a| a.state.explains_membership());
        if explained {
            return Ok(());
        }
        let name = self.display_name(member).await;
        let at = self.ctx.clock.now();
        let key = match notification {
            Some(id) => format!("membership:{group}:{member}:notification:{id}"),
            None => format!("membership:{group}:{member}:{}", at.timestamp()),
        };
        let seen = format!("Seen at: {}", at.format("%Y-%m-%d %H:%M UTC"));
        // Activated elsewhere (the PIM portal, PowerShell) by someone whose
        // request was approved: an activation alert naming that approval.
        if let Some(lines) = self.approval_explaining(group, member).await? {
            let mut lines = lines;
            lines.push(seen);
            let job = Job::Security {
                channel: None,
                message: Message::SecurityAlert {
                    title: "Privileged role activated outside chat".into(),
                    lines,
                },
            };
            return self.queue_unattached(&[(key, job)]).await;
        }
        let job = Job::Security {
            channel: None,
            message: Message::SecurityAlert {
                title: "Privileged group membership not made through stagegate".into(),
                lines: vec![
                    format!("Group: {group}"),
                    format!("Member: {name} ({member})"),
                    seen,
                ],
            },
        };
        self.queue_unattached(&[(key, job)]).await
    }

    /// The delivered request that makes `member` eligible for `group`, as
    /// alert lines (request, requester, package, approvers, ticket).
    async fn approval_explaining(
        &self,
        group: &ObjectId,
        member: &ObjectId,
    ) -> Result<Option<Vec<String>>, EngineError> {
        let aliases: Vec<String> = self
            .ctx
            .packages
            .iter()
            .filter(|p| p.group == *group)
            .map(|p| p.alias.to_string())
            .collect();
        let Some(request) = self
            .ctx
            .store
            .delivered_request_of(member, &aliases)
            .await?
        else {
            return Ok(None);
        };
        let Some(snapshot) = self.snapshot(&request).await? else {
            return Ok(None);
        };
        let lines = approval_alert_lines(&snapshot, member, group);
        Ok(Some(lines))
    }
}
