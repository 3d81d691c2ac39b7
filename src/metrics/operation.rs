//! Operation names for outbound calls: the method and the path with every
//! id replaced by `{id}`, so a label never holds a person, a request or a
//! conversation, and the number of label values stays that of the code's
//! call sites.

/// `GET /users/{id}/manager` for `GET /users/5f…?$select=…`: the query
/// goes, and a path segment is kept only when it is a name (letters and
/// dots, as Graph's entity sets, navigation properties and casts are) or
/// `$batch`-like; a function call keeps its name (`filterByCurrentUser()`).
pub(crate) fn graph_operation(method: &str, path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut out = String::from(method);
    out.push(' ');
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        let (name, call) = match segment.split_once('(') {
            Some((name, _)) => (name, true),
            None => (segment, false),
        };
        let dollar = name.strip_prefix('$').unwrap_or(name);
        let is_name = !dollar.is_empty()
            && dollar.len() <= 80
            && dollar.starts_with(|c: char| c.is_ascii_alphabetic())
            && dollar.chars().all(|c| c.is_ascii_alphabetic() || c == '.');
        match (is_name, call) {
            (true, true) => {
                out.push_str(name);
                out.push_str("()");
            }
            (true, false) => out.push_str(name),
            (false, _) => out.push_str("{id}"),
        }
    }
    if path.is_empty() || path == "/" {
        out.push('/');
    }
    out
}

/// The Bot Connector's paths name conversations and activities: only the
/// REST API's own words are kept.
pub(crate) fn connector_operation(method: &str, segments: &[&str]) -> String {
    const WORDS: [&str; 6] = [
        "v3",
        "conversations",
        "activities",
        "members",
        "attachments",
        "pagedmembers",
    ];
    let mut out = String::from(method);
    out.push(' ');
    for segment in segments {
        out.push('/');
        out.push_str(WORDS.iter().find(|w| **w == *segment).unwrap_or(&"{id}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_ids_queries_and_names_of_people_never_reach_a_label() {
        let id = "5f2b1c9e-0d4a-4f4e-9a51-3c1d2e3f4a5b";
        for (path, want) in [
            (
                format!("/users/{id}?$select=id,displayName"),
                "GET /users/{id}",
            ),
            (format!("/users/{id}/manager"), "GET /users/{id}/manager"),
            (
                "/users/alice@contoso.com".to_owned(),
                "GET /users/{id}",
            ),
            (
                format!("/identityGovernance/entitlementManagement/assignmentRequests/{id}"),
                "GET /identityGovernance/entitlementManagement/assignmentRequests/{id}",
            ),
            (
                "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/filterByCurrentUser(on='approver')".to_owned(),
                "GET /identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/filterByCurrentUser()",
            ),
            ("/$batch".to_owned(), "GET /$batch"),
            (format!("/groups/{id}/microsoft.graph.group"), "GET /groups/{id}/microsoft.graph.group"),
            ("/subscriptions/7".to_owned(), "GET /subscriptions/{id}"),
            ("/".to_owned(), "GET /"),
        ] {
            assert_eq!(graph_operation("GET", &path), want, "{path}");
        }
    }

    #[test]
    fn connector_conversations_and_activities_become_ids() {
        let path = [
            "v3",
            "conversations",
            "a:1Xyz;messageid=2",
            "activities",
            "1700",
        ];
        assert_eq!(
            connector_operation("PUT", &path),
            "PUT /v3/conversations/{id}/activities/{id}"
        );
        assert_eq!(
            connector_operation("POST", &["v3", "conversations"]),
            "POST /v3/conversations"
        );
    }
}
