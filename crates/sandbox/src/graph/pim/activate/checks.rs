//! Validation of assignment schedule requests: the body's shape, who may
//! make the request, and the group policy's rules.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};

use super::{CreateBody, ScheduleIn, Validated};
use crate::clock::parse_iso_duration;
use crate::graph::auth::Caller;
use crate::graph::error::{GraphError, GraphResult};
use crate::graph::pim::RequestedSchedule;
use crate::graph::pim::policy::GroupPolicy;
use crate::world::World;

/// Members of the CSDL enum `scheduleRequestActions`.
const ACTIONS: &[&str] = &[
    "adminAssign",
    "adminUpdate",
    "adminRemove",
    "selfActivate",
    "selfDeactivate",
    "adminExtend",
    "adminRenew",
    "selfExtend",
    "selfRenew",
    "unknownFutureValue",
];
const EMULATED: &[&str] = &[
    "adminAssign",
    "adminRemove",
    "selfActivate",
    "selfDeactivate",
];

pub(super) fn pim_error(code: &str, message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, code, message)
}

/// `400 RoleAssignmentRequestPolicyValidationFailed` listing `rules`.
pub(super) fn rules_failed(rules: &[&str]) -> GraphError {
    let list = rules
        .iter()
        .map(|r| format!("\"{r}\""))
        .collect::<Vec<_>>()
        .join(",");
    pim_error(
        "RoleAssignmentRequestPolicyValidationFailed",
        format!("The following policy rules failed: [{list}]"),
    )
}

fn required<'a>(value: &'a Option<String>, name: &str) -> GraphResult<&'a str> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(GraphError::bad_request(format!(
            "The property '{name}' is required."
        ))),
    }
}

fn enum_member(
    value: &str,
    members: &'static [&'static str],
    name: &str,
) -> GraphResult<&'static str> {
    members
        .iter()
        .find(|m| m.eq_ignore_ascii_case(value))
        .copied()
        .ok_or_else(|| {
            GraphError::bad_request(format!(
                "Requested value '{value}' was not found for property '{name}'."
            ))
        })
}

fn parse_time(text: &str, name: &str) -> GraphResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            GraphError::bad_request(format!(
                "Cannot convert the literal '{text}' to the expected type 'Edm.DateTimeOffset' ({name})."
            ))
        })
}

/// Checks the body's shape and normalises it; nothing about the tenant.
pub(super) fn shape(body: CreateBody, now: DateTime<Utc>) -> GraphResult<Validated> {
    let action = enum_member(required(&body.action, "action")?, ACTIONS, "action")?;
    if !EMULATED.contains(&action) {
        return Err(GraphError::bad_request(format!(
            "The sandbox does not emulate the action '{action}'; it supports {}.",
            EMULATED.join(", ")
        )));
    }
    let access_id = enum_member(
        required(&body.access_id, "accessId")?,
        &["owner", "member"],
        "accessId",
    )?;
    let group_id = required(&body.group_id, "groupId")?.to_owned();
    let principal_id = required(&body.principal_id, "principalId")?.to_owned();
    let schedule = body
        .schedule_info
        .as_ref()
        .map(|s| schedule(s, now))
        .transpose()?;
    Ok(Validated {
        action,
        access_id,
        group_id,
        principal_id,
        schedule,
        body,
    })
}

fn schedule(info: &ScheduleIn, now: DateTime<Utc>) -> GraphResult<RequestedSchedule> {
    if info.recurrence.as_ref().is_some_and(|r| !r.is_null()) {
        return Err(GraphError::bad_request(
            "Recurring schedules are currently unsupported.",
        ));
    }
    // A start in the past means "now": the documented selfActivate
    // response carries the processing time as startDateTime, not the
    // requested one, and a duration counts from there.
    let start = match &info.start_date_time {
        Some(t) => parse_time(t, "scheduleInfo.startDateTime")?.max(now),
        None => now,
    };
    let Some(expiration) = &info.expiration else {
        return Ok(RequestedSchedule {
            start,
            expiration_type: "notSpecified".into(),
            duration: None,
            end: None,
        });
    };
    let kind = enum_member(
        expiration.kind.as_deref().unwrap_or("notSpecified"),
        &[
            "notSpecified",
            "noExpiration",
            "afterDateTime",
            "afterDuration",
        ],
        "expiration.type",
    )?;
    let end = match kind {
        "afterDuration" => {
            let text = required(&expiration.duration, "expiration.duration")?;
            let duration = parse_iso_duration(text).map_err(|e| {
                GraphError::bad_request(format!("Invalid expiration.duration: {e}"))
            })?;
            Some(start + duration)
        }
        "afterDateTime" => {
            let text = required(&expiration.end_date_time, "expiration.endDateTime")?;
            let end = parse_time(text, "expiration.endDateTime")?;
            if end <= start {
                return Err(GraphError::bad_request(
                    "The expiration endDateTime must be later than the startDateTime.",
                ));
            }
            Some(end)
        }
        _ => None,
    };
    Ok(RequestedSchedule {
        start,
        expiration_type: kind.into(),
        duration: expiration
            .duration
            .clone()
            .filter(|_| kind == "afterDuration"),
        end,
    })
}

/// Who may make the request (see `create`'s doc comment).
pub(super) fn authorize(world: &World, caller: &Caller, v: &Validated) -> GraphResult<()> {
    if !world.groups.contains_key(&v.group_id) {
        return Err(GraphError::not_found(format!(
            "The group '{}' was not found.",
            v.group_id
        )));
    }
    if !world.users.contains_key(&v.principal_id) {
        return Err(GraphError::not_found(format!(
            "The principal '{}' was not found.",
            v.principal_id
        )));
    }
    if v.action.starts_with("self") {
        let Some(user) = caller.user_id() else {
            return Err(GraphError::new(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                format!(
                    "{} is made by the principal itself and requires a signed-in user (delegated token); an application token cannot make it.",
                    v.action
                ),
            ));
        };
        if user != v.principal_id {
            return Err(GraphError::new(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                format!(
                    "The principalId of a {} request must be the signed-in user.",
                    v.action
                ),
            ));
        }
        return Ok(());
    }
    match caller.user_id() {
        Some(user) if !world.groups[&v.group_id].owners.contains(user) => {
            Err(GraphError::request_denied())
        }
        _ => Ok(()),
    }
}

/// The rules of the group's policy for an activation (`EndUser` rules) or
/// an admin assignment (`Admin` rules).
pub(super) fn policy_rules(
    policy: &GroupPolicy,
    activation: bool,
    body: &CreateBody,
    schedule: Option<&RequestedSchedule>,
    caller: &Caller,
) -> GraphResult<()> {
    let blank = |v: Option<&str>| v.is_none_or(|v| v.trim().is_empty());
    let mut failed = Vec::new();
    let maximum = if activation {
        policy.max_activation
    } else {
        policy.max_admin_assignment
    };
    // Expiration is required for both (isExpirationRequired: true): "without
    // expiry date returns a 400 … for violation of the expiration rule".
    let length = schedule.and_then(|s| s.end.map(|end| end - s.start));
    if length.is_none_or(|l| l > maximum) {
        failed.push("ExpirationRule");
    }
    let enabled = if activation {
        &policy.enduser_enabled_rules
    } else {
        &policy.admin_enabled_rules
    };
    let requires = |rule: &str| enabled.iter().any(|r| r == rule);
    if requires("Justification") && blank(body.justification.as_deref()) {
        failed.push("JustificationRule");
    }
    let ticket = body
        .ticket_info
        .as_ref()
        .and_then(|t| t.ticket_number.as_deref());
    if requires("Ticketing") && blank(ticket) {
        failed.push("TicketingRule");
    }
    if requires("MultiFactorAuthentication") && !caller.claims.has_mfa() {
        failed.push("MfaRule");
    }
    if !failed.is_empty() {
        return Err(rules_failed(&failed));
    }
    if let (true, Some(claim)) = (activation, &policy.authentication_context) {
        let satisfied = caller
            .claims
            .acrs
            .as_ref()
            .is_some_and(|acrs| acrs.iter().any(|a| a == claim));
        if !satisfied {
            return Err(acrs_challenge(claim));
        }
    }
    Ok(())
}

/// `RoleAssignmentRequestAcrsValidationFailed` carrying the claims request
/// the client must satisfy. Graph's body for this is undocumented; the
/// shape is PIM's as Azure/azure-powershell#25421 shows it (same PIM
/// service and error code as the Graph report in
/// microsoftgraph/msgraph-sdk-powershell#2800): the message is
/// `&claims=` followed by the URL-encoded claims request
/// `{"access_token":{"acrs":{"essential":true, "value":"c1"}}}`, ready to
/// append to an authorize URL. Status 400 like PIM's other validation
/// failures. No `WWW-Authenticate` header: none is reported for PIM, and a
/// client relying on one here would break against Microsoft.
pub(super) fn acrs_challenge(claim: &str) -> GraphError {
    let claims =
        format!("{{\"access_token\":{{\"acrs\":{{\"essential\":true, \"value\":\"{claim}\"}}}}}}");
    pim_error(
        "RoleAssignmentRequestAcrsValidationFailed",
        format!("&claims={}", percent_encode(&claims)),
    )
}

/// RFC 3986 percent-encoding of everything but unreserved characters
/// (`%20` for space, as in the reported message).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acrs_message_matches_the_reported_shape() {
        let e = acrs_challenge("c1");
        assert_eq!(
            e.message,
            "&claims=%7B%22access_token%22%3A%7B%22acrs%22%3A%7B%22essential%22%3Atrue%2C%20%22value%22%3A%22c1%22%7D%7D%7D"
        );
        assert_eq!(
            rules_failed(&["ExpirationRule", "MfaRule"]).message,
            "The following policy rules failed: [\"ExpirationRule\",\"MfaRule\"]"
        );
    }
}
