//! The alarm queue's side of the events: the batch Lambda's SQS event source mapping
//! hands Workspace_Term_Rebuild, and the partial batch response it answers.
//!
//! The disconnect alarms reach the rebuild function through an SQS queue subscribed to
//! the seed's SNS topic, so a rush of 10,000 alarms is a few hundred invocations instead
//! of 10,000 concurrent ones. Each message is read on its own: a message that cannot be
//! read fails alone (`Err` in [`QueuedMessage::events`]) and is named in the batch
//! response, so SQS redelivers it until the queue's redrive policy moves it to the
//! dead-letter queue, while the rest of its batch is deleted. Only a batch that is not an
//! SQS event at all fails as a whole.
//!
//! A body is the CloudWatch alarm message itself (the subscription's raw message
//! delivery, as deployed) or SNS's JSON envelope around it (raw delivery off): both are
//! read, so flipping the subscription attribute never strands a message.

use serde_json::{json, Value};

use super::node::json_type;
use super::{parse_alarm_message, Event, EventError};
use crate::time::Timestamp;

const SQS_SOURCE: &str = "aws:sqs";

/// One record of an SQS batch.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct QueuedMessage {
    /// `messageId`: what the batch response names when this message failed.
    pub message_id: String,
    /// What the body says (nothing for an alarm that is not a disconnect), or why it
    /// cannot be read.
    pub events: Result<Vec<Event>, EventError>,
}

/// True when `value` looks like a batch from an SQS event source mapping (its first
/// record's `eventSource` is `aws:sqs`), so one function can take both the queue's batches
/// and the EventBridge rule's login events.
pub fn is_sqs_event(value: &Value) -> bool {
    value.pointer("/Records/0/eventSource").and_then(Value::as_str) == Some(SQS_SOURCE)
}

/// Reads a batch from an SQS event source mapping. `Err` only when the batch itself is
/// malformed (no `Records`, a record without `messageId`, or not from SQS): then no
/// message can be named, and the invocation fails.
pub fn parse_sqs(value: &Value) -> Result<Vec<QueuedMessage>, EventError> {
    let records = value.get("Records").ok_or_else(|| EventError::MissingField { path: "Records".into() })?;
    let records = records.as_array().ok_or_else(|| wrong_type("Records", "array", records))?;
    records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let field = |key: &str| -> Result<&str, EventError> {
                let path = format!("Records[{i}].{key}");
                let found =
                    record.get(key).filter(|v| !v.is_null()).ok_or(EventError::MissingField { path: path.clone() })?;
                found.as_str().ok_or_else(|| wrong_type(&path, "string", found))
            };
            let source = field("eventSource")?;
            if source != SQS_SOURCE {
                return Err(EventError::UnrecognisedEvent(format!(
                    "Records[{i}].eventSource is {source:?}, not {SQS_SOURCE:?}"
                )));
            }
            let message_id = field("messageId")?.to_owned();
            let events = field("body").and_then(|body| read_body(body, &format!("Records[{i}].body")));
            Ok(QueuedMessage { message_id, events })
        })
        .collect()
}

/// A message body: the alarm notification, raw or in SNS's envelope.
fn read_body(body: &str, path: &str) -> Result<Vec<Event>, EventError> {
    let value: Value = serde_json::from_str(body).map_err(|e| EventError::NotJson(format!("{path}: {e}")))?;
    let (message, path) = match value.get("Type").and_then(Value::as_str) {
        Some("Notification") => {
            let path = format!("{path}.Message");
            let message = value.get("Message").ok_or(EventError::MissingField { path: path.clone() })?;
            (message.as_str().ok_or_else(|| wrong_type(&path, "string", message))?, path)
        }
        _ => (body, path.to_owned()),
    };
    parse_alarm_message(message).map(|event| event.into_iter().collect()).map_err(|e| within(&path, e))
}

/// `error`, found in text read from `prefix`, with its path starting there.
fn within(prefix: &str, error: EventError) -> EventError {
    let join = |path: String| if path.is_empty() { prefix.to_owned() } else { format!("{prefix}.{path}") };
    match error {
        EventError::NotJson(m) => EventError::NotJson(format!("{prefix}: {m}")),
        EventError::MissingField { path } => EventError::MissingField { path: join(path) },
        EventError::WrongType { path, expected, found } => EventError::WrongType { path: join(path), expected, found },
        EventError::InvalidValue { path, source } => EventError::InvalidValue { path: join(path), source },
        EventError::UnrecognisedEvent(m) => EventError::UnrecognisedEvent(format!("{prefix}: {m}")),
    }
}

fn wrong_type(path: &str, expected: &'static str, found: &Value) -> EventError {
    EventError::WrongType { path: path.to_owned(), expected, found: json_type(found) }
}

/// The partial batch response (`FunctionResponseTypes: [ReportBatchItemFailures]`):
/// exactly the messages to redeliver. An empty list deletes the whole batch.
pub fn batch_response(failed: &[String]) -> Value {
    json!({ "batchItemFailures": failed.iter().map(|id| json!({ "itemIdentifier": id })).collect::<Vec<_>>() })
}

/// One message as the event source mapping delivers it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Delivery {
    /// SQS's message ID.
    pub message_id: String,
    /// The body (with raw delivery, the alarm message itself).
    pub body: String,
    /// When SNS sent it to the queue.
    pub sent_at: Timestamp,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
}

/// The event Lambda's SQS poller hands the function for `messages` from `queue_arn`, in
/// the documented shape, so the simulator and the tests drive the rebuild function
/// exactly as the event source mapping does.
pub fn sqs_event(queue_arn: &str, region: &str, account: &str, messages: &[Delivery]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id,
                "receiptHandle": format!("{}#{}", m.message_id, m.receive_count),
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": m.receive_count.to_string(),
                    "SentTimestamp": m.sent_at.as_millis().to_string(),
                    "SenderId": account,
                    "ApproximateFirstReceiveTimestamp": m.sent_at.as_millis().to_string(),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": SQS_SOURCE,
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    json!({ "Records": records })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{alarm_message, EmitContext};

    fn alarm(id: &str, state: &str) -> String {
        let ctx = EmitContext { account: "123456789012".into(), region: "us-east-1".into(), event_id: "e".into() };
        let at = Timestamp::parse("2026-11-20T18:06:10Z").unwrap();
        let datapoint = Timestamp::parse("2026-11-20T18:04:00Z").unwrap();
        alarm_message(&format!("blankslate-disconnect-{id}"), &id.parse().unwrap(), state, "OK", at, datapoint, &ctx)
    }

    fn delivery(id: &str, body: String) -> Delivery {
        Delivery { message_id: id.into(), body, sent_at: Timestamp::from_millis(0), receive_count: 1 }
    }

    fn envelope(message: &str) -> String {
        json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": message})
            .to_string()
    }

    #[test]
    fn each_message_is_read_on_its_own() {
        let event = sqs_event(
            "arn:aws:sqs:us-east-1:123456789012:q",
            "us-east-1",
            "123456789012",
            &[
                delivery("raw", alarm("ws-abc123def", "ALARM")),
                delivery("wrapped", envelope(&alarm("ws-abc123dee", "ALARM"))),
                delivery("ok", alarm("ws-abc123def", "OK")),
                delivery("junk", "not json".into()),
                delivery("bad-message", envelope("{}")),
            ],
        );
        assert!(is_sqs_event(&event));
        let read = parse_sqs(&event).unwrap();
        let ids: Vec<&str> = read.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(ids, ["raw", "wrapped", "ok", "junk", "bad-message"]);
        let workspace = |m: &QueuedMessage| match m.events.as_ref().unwrap().as_slice() {
            [Event::DisconnectAlarm { workspace_id, .. }] => workspace_id.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!((workspace(&read[0]), workspace(&read[1])), ("ws-abc123def".into(), "ws-abc123dee".into()));
        assert_eq!(read[2].events, Ok(vec![]));
        assert!(matches!(&read[3].events, Err(EventError::NotJson(m)) if m.starts_with("Records[3].body: ")));
        assert_eq!(read[4].events, Err(EventError::MissingField { path: "Records[4].body.Message.Trigger".into() }));
    }

    #[test]
    fn a_batch_that_is_not_from_sqs_fails_whole() {
        let cases = [
            (json!({}), "missing field Records"),
            (json!({"Records": {}}), "wrong type at Records: expected array, found object"),
            (json!({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}), "missing field Records[0].messageId"),
            (json!({"Records": [{"EventSource": "aws:sns"}]}), "missing field Records[0].eventSource"),
            (
                json!({"Records": [{"eventSource": "aws:kinesis", "messageId": "x"}]}),
                "unrecognised event: Records[0].eventSource is \"aws:kinesis\", not \"aws:sqs\"",
            ),
        ];
        for (event, expected) in cases {
            assert!(!is_sqs_event(&event) || event["Records"][0]["messageId"].is_null(), "{event}");
            assert_eq!(parse_sqs(&event).unwrap_err().to_string(), expected, "{event}");
        }
    }

    #[test]
    fn the_batch_response_names_exactly_the_failures() {
        assert_eq!(batch_response(&[]), json!({"batchItemFailures": []}));
        assert_eq!(
            batch_response(&["a".into(), "b".into()]),
            json!({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]})
        );
    }
}
