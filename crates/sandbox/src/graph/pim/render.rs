//! PIM for Groups objects in Graph's JSON (names from the CSDL:
//! `privilegedAccessGroupEligibilitySchedule`, `…Instance`,
//! `privilegedAccessGroupAssignmentSchedule`, `…Instance`, `…Request`).
//!
//! `memberType` is written `direct`: the CSDL enum
//! `privilegedAccessGroupMemberType` has lowercase members and OData
//! serialises enums by member name, although the docs' examples show
//! `"Direct"` (copied from the Entra-roles type, whose memberType is a
//! string).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{AssignmentSchedule, CreatedBy, EligibilitySchedule, ScheduleRequest};
use crate::clock::graph_time;
use crate::world::World;

fn time(t: DateTime<Utc>) -> Value {
    json!(graph_time(t))
}

fn opt_time(t: Option<DateTime<Utc>>) -> Value {
    t.map(time).unwrap_or(Value::Null)
}

/// `requestSchedule` of a schedule that runs from `start` to `end`.
pub(crate) fn schedule_info(start: DateTime<Utc>, end: Option<DateTime<Utc>>) -> Value {
    let expiration = match end {
        Some(end) => json!({ "type": "afterDateTime", "endDateTime": time(end), "duration": null }),
        None => json!({ "type": "noExpiration", "endDateTime": null, "duration": null }),
    };
    json!({ "startDateTime": time(start), "recurrence": null, "expiration": expiration })
}

pub(crate) fn eligibility_schedule(e: &EligibilitySchedule) -> Value {
    json!({
        "id": e.id,
        "scheduleInfo": schedule_info(e.start, e.end),
        "createdUsing": e.source_assignment_id,
        "createdDateTime": time(e.created),
        "modifiedDateTime": time(e.created),
        "status": "Provisioned",
        "memberType": "direct",
        "accessId": e.access_id,
        "principalId": e.principal_id,
        "groupId": e.group_id,
    })
}

pub(crate) fn eligibility_instance(e: &EligibilitySchedule) -> Value {
    json!({
        "id": e.instance_id,
        "startDateTime": time(e.start),
        "endDateTime": opt_time(e.end),
        "memberType": "direct",
        "principalId": e.principal_id,
        "accessId": e.access_id,
        "groupId": e.group_id,
        "eligibilityScheduleId": e.id,
    })
}

pub(crate) fn assignment_schedule(s: &AssignmentSchedule) -> Value {
    json!({
        "id": s.id,
        "createdDateTime": time(s.created),
        "createdUsing": s.request_id,
        "modifiedDateTime": time(s.created),
        "scheduleInfo": schedule_info(s.start, s.end),
        "status": "Provisioned",
        "accessId": s.access_id,
        "assignmentType": s.assignment_type,
        "groupId": s.group_id,
        "memberType": "direct",
        "principalId": s.principal_id,
    })
}

pub(crate) fn assignment_instance(s: &AssignmentSchedule) -> Value {
    json!({
        "id": s.instance_id,
        "startDateTime": time(s.start),
        "endDateTime": opt_time(s.end),
        "accessId": s.access_id,
        "assignmentScheduleId": s.id,
        "assignmentType": s.assignment_type,
        "groupId": s.group_id,
        "memberType": "direct",
        "principalId": s.principal_id,
    })
}

/// The request in the shape of the documented selfActivate response.
pub(crate) fn request(r: &ScheduleRequest) -> Value {
    let created_by = match &r.created_by {
        CreatedBy::User(id) => json!({
            "application": null, "device": null,
            "user": { "displayName": null, "id": id },
        }),
        CreatedBy::Application(id) => json!({
            "application": { "displayName": null, "id": id },
            "device": null, "user": null,
        }),
    };
    let schedule_info = match &r.schedule {
        Some(s) => json!({
            "startDateTime": time(s.start),
            "recurrence": null,
            "expiration": {
                "type": s.expiration_type,
                "endDateTime": opt_time(s.end),
                "duration": s.duration,
            },
        }),
        None => Value::Null,
    };
    json!({
        "id": r.id,
        "status": r.status,
        "completedDateTime": opt_time(r.completed),
        "createdDateTime": time(r.created),
        "approvalId": null,
        "customData": r.custom_data,
        "createdBy": created_by,
        "action": r.action,
        "isValidationOnly": r.is_validation_only,
        "justification": r.justification,
        "scheduleInfo": schedule_info,
        "ticketInfo": { "ticketNumber": r.ticket_number, "ticketSystem": r.ticket_system },
        "accessId": r.access_id,
        "principalId": r.principal_id,
        "groupId": r.group_id,
        "targetScheduleId": r.target_schedule_id,
    })
}

/// A `directoryObject` for `$expand=principal` / `group`: the user or group
/// with its basic properties; `null` when it no longer exists.
pub(crate) fn directory_object(world: &World, id: &str) -> Value {
    if let Some(u) = world.users.get(id) {
        return json!({
            "@odata.type": "#microsoft.graph.user",
            "id": u.id,
            "displayName": u.display_name,
            "userPrincipalName": u.user_principal_name,
            "mail": u.mail,
        });
    }
    if let Some(g) = world.groups.get(id) {
        return json!({
            "@odata.type": "#microsoft.graph.group",
            "id": g.id,
            "displayName": g.display_name,
            "description": g.description,
            "mailNickname": g.mail_nickname,
            "mailEnabled": false,
            "securityEnabled": true,
            "groupTypes": [],
            "isAssignableToRole": g.is_assignable_to_role,
        });
    }
    Value::Null
}
