//! The CloudWatch alarm notification of a SessionDisconnect alarm.

use std::str::FromStr;

use serde_json::Value;

use super::datapoint::disconnect_time;
use super::{Event, EventError, Node};
use super::{ALARM, DIMENSION, METRIC, NAMESPACE};
use crate::ids::WorkspaceId;
use crate::time::Timestamp;

/// Reads the CloudWatch alarm notification that SNS carries as `Message`.
///
/// Only a transition to `ALARM` means a user disconnected; `OK` and `INSUFFICIENT_DATA`
/// transitions give `Ok(None)`. The disconnect's time comes from the evaluated datapoint
/// (`datapoint`), falling back to `StateChangeTime`, so an unreadable reason is no error. An alarm on any other metric is an error, because it means
/// a foreign alarm publishes to our topic.
pub fn parse_alarm_message(message: &str) -> Result<Option<Event>, EventError> {
    alarm_text(message, "")
}

/// A CloudWatch alarm notification, given as text found at `path`.
pub(super) fn alarm_text(text: &str, path: &str) -> Result<Option<Event>, EventError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| EventError::NotJson(if path.is_empty() { e.to_string() } else { format!("{path}: {e}") }))?;
    alarm(&Node::root(&value, path))
}

fn alarm(root: &Node<'_>) -> Result<Option<Event>, EventError> {
    let trigger = root.get("Trigger")?;
    let namespace = trigger.get("Namespace")?.str()?;
    let metric = trigger.get("MetricName")?.str()?;
    if (namespace, metric) != (NAMESPACE, METRIC) {
        return Err(EventError::UnrecognisedEvent(format!("alarm on {namespace} {metric}, not {NAMESPACE} {METRIC}")));
    }
    if root.get("NewStateValue")?.str()? != ALARM {
        return Ok(None);
    }
    let workspace_id = workspace_dimension(&trigger)?;
    let changed = root.get("StateChangeTime")?.parse(Timestamp::parse)?;
    let (at, time_from) = disconnect_time(root, &trigger, changed);
    Ok(Some(Event::DisconnectAlarm { workspace_id, at, time_from }))
}

/// The value of the alarm's `WorkspaceId` dimension. CloudWatch's notification spells a
/// dimension `{"name", "value"}`; PutMetricAlarm's spelling `{"Name", "Value"}`, which
/// ministack 1.5.33 echoes into its notifications, is read too: it names the same thing.
fn workspace_dimension(trigger: &Node<'_>) -> Result<WorkspaceId, EventError> {
    let dimensions = trigger.get("Dimensions")?;
    for dimension in dimensions.items()? {
        let request_spelling = dimension.get_opt("name")?.is_none() && dimension.get_opt("Name")?.is_some();
        let (name, value) = if request_spelling { ("Name", "Value") } else { ("name", "value") };
        if dimension.get(name)?.str()? == DIMENSION {
            return dimension.get(value)?.parse(WorkspaceId::from_str);
        }
    }
    Err(EventError::MissingField { path: format!("{}[name={DIMENSION}]", dimensions.path) })
}
