//! Events EventBridge rules deliver: CloudTrail records of WorkSpaces API calls and
//! WorkSpaces' own "WorkSpaces Access" logins.

use std::collections::HashSet;
use std::str::FromStr;

use serde_json::Value;

use super::{Event, EventError, Node};
use super::{ACCESS, API_CALL, CREATE, SUCCESSFUL_LOGIN, TERMINATE, WORKSPACES_API, WORKSPACES_SOURCE};
use crate::ids::{DirectoryId, WorkspaceId};
use crate::time::Timestamp;

/// Reads an event delivered by an EventBridge rule.
///
/// `Ok(None)` is a well-formed event that asks nothing of us (a failed API call, another
/// WorkSpaces API, a login attempt that did not succeed), so the caller can acknowledge it;
/// `Err` is an event that should not have reached us or is broken, which is worth a log
/// line. Every WorkSpace of a batch call is returned, once, in the order AWS listed them.
pub fn parse_eventbridge(value: &Value) -> Result<Option<Event>, EventError> {
    let root = Node::root(value, "");
    let source = root.get("source")?.str()?;
    let detail_type = root.get("detail-type")?.str()?;
    match (source, detail_type) {
        (WORKSPACES_SOURCE, API_CALL) => api_call(&root.get("detail")?),
        (WORKSPACES_SOURCE, ACCESS) => access(&root.get("detail")?),
        _ => Err(EventError::UnrecognisedEvent(format!("source {source:?} with detail-type {detail_type:?}"))),
    }
}

/// A CloudTrail record of a WorkSpaces API call.
fn api_call(detail: &Node<'_>) -> Result<Option<Event>, EventError> {
    type Make = fn(Vec<WorkspaceId>, Timestamp) -> Event;
    let service = detail.get("eventSource")?.str()?;
    if service != WORKSPACES_API {
        return Err(EventError::UnrecognisedEvent(format!(
            "CloudTrail event from {service:?}, not {WORKSPACES_API:?}"
        )));
    }
    let (ids_at, make): (&[&str], Make) = match detail.get("eventName")?.str()? {
        CREATE => (&["responseElements", "pendingRequests"], |ids, at| Event::WorkspacesCreated { ids, at }),
        TERMINATE => {
            (&["requestParameters", "terminateWorkspaceRequests"], |ids, at| Event::WorkspacesTerminated { ids, at })
        }
        _ => return Ok(None),
    };
    // A call that failed as a whole changed nothing, whatever else the record holds.
    if detail.get_opt("errorCode")?.is_some() {
        return Ok(None);
    }
    let at = detail.get("eventTime")?.parse(Timestamp::parse)?;
    let mut ids = workspace_ids(detail, ids_at)?;
    if ids_at[0] == "requestParameters" {
        // A termination AWS refused item by item did not happen: that WorkSpace still exists.
        let refused = refused_terminations(detail)?;
        ids.retain(|id| !refused.contains(id));
    }
    Ok((!ids.is_empty()).then(|| make(ids, at)))
}

/// The IDs in `responseElements.failedRequests` of a TerminateWorkspaces record (none when
/// the response is absent, as CloudTrail sometimes leaves it).
fn refused_terminations(detail: &Node<'_>) -> Result<HashSet<WorkspaceId>, EventError> {
    let Some(response) = detail.get_opt("responseElements")? else { return Ok(HashSet::new()) };
    let Some(failed) = response.get_opt("failedRequests")? else { return Ok(HashSet::new()) };
    failed.items()?.iter().map(|item| item.get("workspaceId")?.parse(WorkspaceId::from_str)).collect()
}

/// A "WorkSpaces Access" event, sent by WorkSpaces itself.
fn access(detail: &Node<'_>) -> Result<Option<Event>, EventError> {
    if detail.get("actionType")?.str()? != SUCCESSFUL_LOGIN {
        return Ok(None);
    }
    Ok(Some(Event::UserLoggedIn {
        workspace_id: detail.get("workspaceId")?.parse(WorkspaceId::from_str)?,
        directory_id: detail.get_opt("directoryId")?.map(|node| node.parse(DirectoryId::from_str)).transpose()?,
        at: detail.get("loginTime")?.parse(Timestamp::parse)?,
    }))
}

/// The `workspaceId` of every item of the array at `keys`, each once, first-seen order:
/// a batch call lists up to 25, and a repeated ID must not become a repeated decision.
fn workspace_ids(detail: &Node<'_>, keys: &[&str]) -> Result<Vec<WorkspaceId>, EventError> {
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    for item in detail.at(keys)?.items()? {
        let id = item.get("workspaceId")?.parse(WorkspaceId::from_str)?;
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    Ok(ids)
}
