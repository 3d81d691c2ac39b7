//! Directory reads for approver resolution (app token,
//! `User.Read.All` / `GroupMember.Read.All`).

use super::models::{DirectoryObject, User};
use super::{Auth, GraphClient, GraphError};
use crate::domain::ids::ObjectId;

const USER_SELECT: &str = "$select=id,displayName,accountEnabled,userPrincipalName";

pub async fn user(graph: &GraphClient, id: &ObjectId) -> Result<Option<User>, GraphError> {
    match graph
        .get(Auth::App, &format!("/users/{id}?{USER_SELECT}"))
        .await
    {
        Ok(user) => Ok(Some(user)),
        Err(GraphError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The user's manager; `None` when none is on file (Graph answers 404).
pub async fn manager(graph: &GraphClient, id: &ObjectId) -> Result<Option<User>, GraphError> {
    match graph
        .get(Auth::App, &format!("/users/{id}/manager?{USER_SELECT}"))
        .await
    {
        Ok(user) => Ok(Some(user)),
        Err(GraphError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Users among a group's transitive members; `None` for an unknown group.
pub async fn transitive_user_members(
    graph: &GraphClient,
    group: &ObjectId,
) -> Result<Option<Vec<String>>, GraphError> {
    match graph
        .get_all::<DirectoryObject>(
            Auth::App,
            &format!("/groups/{group}/transitiveMembers?$select=id"),
            50,
        )
        .await
    {
        Ok(objects) => Ok(Some(
            objects
                .into_iter()
                .filter(DirectoryObject::is_user)
                .map(|o| o.id)
                .collect(),
        )),
        Err(GraphError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Direct user members of a group.
pub async fn user_members(
    graph: &GraphClient,
    group: &ObjectId,
) -> Result<Vec<String>, GraphError> {
    let objects: Vec<DirectoryObject> = graph
        .get_all(
            Auth::App,
            &format!("/groups/{group}/members?$select=id"),
            50,
        )
        .await?;
    Ok(objects
        .into_iter()
        .filter(DirectoryObject::is_user)
        .map(|o| o.id)
        .collect())
}
