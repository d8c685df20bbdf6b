//! The envelope Lambda receives from an SNS subscription.

use serde_json::Value;

use super::cloudwatch::alarm_text;
use super::SNS_SOURCE;
use super::{Event, EventError, Node};

/// Reads the event Lambda receives from an SNS subscription.
///
/// Every record is read (Lambda delivers one per invocation today, but the shape allows
/// more), and an error names the record it came from, e.g. `Records[1].Sns.Message`.
pub fn parse_sns(value: &Value) -> Result<Vec<Event>, EventError> {
    let mut events = Vec::new();
    for record in Node::root(value, "").get("Records")?.items()? {
        let source = record.get("EventSource")?.str()?;
        if source != SNS_SOURCE {
            return Err(EventError::UnrecognisedEvent(format!(
                "{}.EventSource is {source:?}, not {SNS_SOURCE:?}",
                record.path
            )));
        }
        let message = record.get("Sns")?.get("Message")?;
        events.extend(alarm_text(message.str()?, &message.path)?);
    }
    Ok(events)
}
