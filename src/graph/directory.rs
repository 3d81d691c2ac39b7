//! Directory reads for approver resolution (app token,
//! `User.Read.All` / `GroupMember.Read.All`).

use super::models::{DirectoryObject, Page, User};
use super::{Auth, GraphClient, GraphError};
use stagegate_domain::ids::ObjectId;

const USER_SELECT: &str = "$select=id,displayName,accountEnabled,userPrincipalName,mail";

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

/// Several users in as few round trips as `$batch` allows; `None` for an
/// id Graph does not know. A sub-request that failed transiently (429, 503)
/// is retried on its own, with the client's backoff.
pub async fn users(graph: &GraphClient, ids: &[ObjectId]) -> Result<Vec<Option<User>>, GraphError> {
    let paths: Vec<String> = ids
        .iter()
        .map(|id| format!("/users/{id}?{USER_SELECT}"))
        .collect();
    let answers = graph.batch_get::<User>(Auth::App, &paths).await?;
    let mut out = Vec::with_capacity(ids.len());
    for (id, answer) in ids.iter().zip(answers) {
        out.push(match answer {
            Ok(user) => Some(user),
            Err(GraphError::NotFound { .. }) => None,
            Err(e) if e.is_transient() => user(graph, id).await?,
            Err(e) => return Err(e),
        });
    }
    Ok(out)
}

/// [`transitive_user_members`] for several groups: the first page of each
/// by `$batch`, further pages by `@odata.nextLink`.
pub async fn transitive_user_members_many(
    graph: &GraphClient,
    groups: &[ObjectId],
) -> Result<Vec<Option<Vec<String>>>, GraphError> {
    let paths: Vec<String> = groups
        .iter()
        .map(|g| format!("/groups/{g}/transitiveMembers?$select=id"))
        .collect();
    let answers = graph
        .batch_get::<Page<DirectoryObject>>(Auth::App, &paths)
        .await?;
    let mut out = Vec::with_capacity(groups.len());
    for (group, answer) in groups.iter().zip(answers) {
        let page = match answer {
            Ok(page) => page,
            Err(GraphError::NotFound { .. }) => {
                out.push(None);
                continue;
            }
            Err(e) if e.is_transient() => {
                out.push(transitive_user_members(graph, group).await?);
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut objects = page.value;
        if let Some(link) = page.next_link {
            let path = graph.relative(&link).ok_or_else(|| {
                GraphError::Decode("a next link points outside Microsoft Graph".into())
            })?;
            objects.extend(
                graph
                    .get_all::<DirectoryObject>(Auth::App, path, 49)
                    .await?,
            );
        }
        out.push(Some(
            objects
                .into_iter()
                .filter(DirectoryObject::is_user)
                .map(|o| o.id)
                .collect(),
        ));
    }
    Ok(out)
}
