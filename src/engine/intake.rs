//! The seam between intake (Graph change notifications, custom-extension
//! callouts, the poller) and the engine.
//!
//! Intake only says *that* something may have changed; the engine then reads
//! Graph and reconciles. Every method is therefore idempotent and safe to
//! call any number of times, in any order, concurrently: duplicate and
//! reordered triggers are expected and harmless.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use stagegate_domain::ids::{ObjectId, RequestId};

/// `accessPackageCustomExtensionStage` from Graph's v1.0 schema: the point in
/// a request's life at which a custom extension was called out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CustomExtensionStage {
    AssignmentRequestCreated,
    AssignmentRequestApproved,
    AssignmentRequestGranted,
    AssignmentRequestRemoved,
    AssignmentFourteenDaysBeforeExpiration,
    AssignmentOneDayBeforeExpiration,
    /// Graph's evolvable-enum sentinel; also what any value this build does
    /// not know yet deserializes to, so a new stage never breaks intake.
    #[serde(other)]
    UnknownFutureValue,
}

/// Why a reconcile was asked for. Only for logs, metrics and the audit
/// trail: the engine's behaviour never depends on the cause, because Graph,
/// not the trigger, is the truth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Cause {
    /// A custom-extension callout relayed from Entra.
    Callout { stage: CustomExtensionStage },
    /// A Graph change notification.
    Notification,
    /// The periodic poller.
    Poll,
    /// Start-up catch-up of every open request.
    Startup,
    /// A chat command (request, cancel, status).
    Command,
    /// An approver's decision was recorded or relayed.
    Decision,
    /// A person completed a sign-in that resumes an action.
    SignIn,
    /// A timer (reminder, expiry warning) fired.
    Timer,
}

/// What intake calls. Implemented by the engine; intake holds it as
/// `Arc<dyn IntakeSink>`.
#[async_trait]
pub trait IntakeSink: Send + Sync {
    /// Something about this request may have changed: read Graph and bring
    /// chat in line. Errors are handled (logged, retried) inside the engine.
    async fn reconcile(&self, request: RequestId, cause: Cause);

    /// A member was added to or removed from a watched (privileged) group.
    async fn membership_changed(&self, group: ObjectId, member: ObjectId, added: bool);

    /// [`Self::membership_changed`], told by a Graph change notification
    /// that carried an id (`{subscriptionId}/{id}`): Graph redelivers a
    /// notification with the same id, so the id names the change and a
    /// redelivery — even hours later, even after a restart — is the same
    /// change, not a new one.
    async fn membership_notified(
        &self,
        group: ObjectId,
        member: ObjectId,
        added: bool,
        notification: Option<String>,
    ) {
        let _ = notification;
        self.membership_changed(group, member, added).await;
    }

    /// Reconcile every open request of the configured packages (the poller's
    /// safety net and start-up catch-up).
    async fn reconcile_open(&self);
}
