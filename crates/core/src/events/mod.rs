//! Reading the events AWS delivers to our functions, and writing them in AWS's own shape.
//!
//! Three kinds of event reach blankslate: CloudTrail records of `CreateWorkspaces` and
//! `TerminateWorkspaces` calls and WorkSpaces' own "WorkSpaces Access" login events, both
//! through EventBridge, and the SessionDisconnect alarm's notification, through SNS. The
//! parsers reduce each to an [`Event`], or to nothing when the event is well-formed but
//! says nothing we act on. They read only IDs, times and the fields that classify an
//! event, because CloudTrail may redact everything else, and every error names the JSON
//! path of what was wrong, so a malformed event ends in a log line an admin can act on
//! instead of a panic or a silently dropped WorkSpace.
//!
//! The emitters write the same shapes, so the simulator and the HTTP emulator hand our
//! functions events that look like the real thing, and the parsers are tested on them.
//!
//! One file per job: `eventbridge` reads what EventBridge rules deliver (CloudTrail
//! records, logins), `cloudwatch` reads the alarm notification and `datapoint` the
//! disconnect's time in it, `sns` unwraps the SNS
//! envelope around it, `node` walks JSON with the path at hand for errors, and `emit`
//! writes all of these shapes.

mod cloudwatch;
mod datapoint;
mod emit;
mod eventbridge;
mod node;
mod sns;
pub mod sqs;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{DirectoryId, WorkspaceId};
use crate::time::Timestamp;
use crate::ValidationError;

pub use cloudwatch::parse_alarm_message;
pub use datapoint::AlarmTime;
pub use emit::{
    alarm_message, cloudtrail_create_workspaces, cloudtrail_terminate_workspaces, sns_event, workspaces_access_login,
    EmitContext,
};
pub use eventbridge::parse_eventbridge;
use node::Node;
pub use sns::parse_sns;

/// A fact an event tells us, reduced to what the decisions need.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Event {
    /// `CreateWorkspaces` succeeded for these WorkSpaces (CloudTrail via EventBridge).
    WorkspacesCreated {
        /// Every ID in `responseElements.pendingRequests`.
        ids: Vec<WorkspaceId>,
        /// `detail.eventTime`.
        at: Timestamp,
    },
    /// `TerminateWorkspaces` was called for these WorkSpaces.
    WorkspacesTerminated {
        /// Every ID in `requestParameters.terminateWorkspaceRequests` that is not in
        /// `responseElements.failedRequests`.
        ids: Vec<WorkspaceId>,
        /// `detail.eventTime`.
        at: Timestamp,
    },
    /// A SessionDisconnect alarm went to ALARM (SNS-wrapped CloudWatch notification).
    DisconnectAlarm {
        /// The alarm's `WorkspaceId` dimension.
        workspace_id: WorkspaceId,
        /// The latest instant the disconnect can have happened: the end of the evaluated
        /// datapoint's period, or `StateChangeTime` when that is earlier or no datapoint
        /// can be read. Never earlier than the disconnect, so grace is never shortened.
        at: Timestamp,
        /// Where `at` came from.
        #[serde(default)]
        time_from: AlarmTime,
    },
    /// A user logged in ("WorkSpaces Access", sent by WorkSpaces to EventBridge).
    UserLoggedIn {
        /// `detail.workspaceId`.
        workspace_id: WorkspaceId,
        /// `detail.directoryId`, when present.
        directory_id: Option<DirectoryId>,
        /// `detail.loginTime`.
        at: Timestamp,
    },
}

/// Why an event could not be read.
///
/// Each variant names the JSON path (`detail.responseElements.pendingRequests[2].workspaceId`)
/// so the log line of a failed invocation points at the field to look at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The text is not JSON; carries where the text came from (when nested) and the
    /// parser's complaint.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// A field we need is absent or `null`.
    #[error("missing field {path}")]
    MissingField {
        /// Where the field should be.
        path: String,
    },
    /// A field holds the wrong kind of JSON value.
    #[error("wrong type at {path}: expected {expected}, found {found}")]
    WrongType {
        /// Where the field is.
        path: String,
        /// The JSON type we need there.
        expected: &'static str,
        /// The JSON type we found.
        found: &'static str,
    },
    /// A field has the right type but a value that fails validation.
    #[error("invalid value at {path}: {source}")]
    InvalidValue {
        /// Where the field is.
        path: String,
        /// The rule the value broke.
        #[source]
        source: ValidationError,
    },
    /// Well-formed JSON, but not an event shape this function is meant to receive; a
    /// sign of a mis-wired rule or subscription rather than of a bad event.
    #[error("unrecognised event: {0}")]
    UnrecognisedEvent(String),
}

const WORKSPACES_SOURCE: &str = "aws.workspaces";
const API_CALL: &str = "AWS API Call via CloudTrail";
const ACCESS: &str = "WorkSpaces Access";
const WORKSPACES_API: &str = "workspaces.amazonaws.com";
const CREATE: &str = "CreateWorkspaces";
const TERMINATE: &str = "TerminateWorkspaces";
const SUCCESSFUL_LOGIN: &str = "successfulLogin";
const ALARM: &str = "ALARM";
const METRIC: &str = "SessionDisconnect";
const NAMESPACE: &str = "AWS/WorkSpaces";
const DIMENSION: &str = "WorkspaceId";
const SNS_SOURCE: &str = "aws:sns";
/// What CloudTrail writes in place of user names in WorkSpaces requests and responses.
const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Reads either an SNS or an EventBridge event, so one function can be the target of both
/// the alarm topic and the rules.
pub fn parse_any(value: &Value) -> Result<Vec<Event>, EventError> {
    let root = Node::root(value, "");
    let object = root.object()?;
    if object.contains_key("Records") {
        parse_sns(value)
    } else if object.contains_key("detail-type") {
        Ok(parse_eventbridge(value)?.into_iter().collect())
    } else {
        Err(EventError::UnrecognisedEvent(
            "neither an SNS event (no \"Records\") nor an EventBridge event (no \"detail-type\")".to_owned(),
        ))
    }
}
