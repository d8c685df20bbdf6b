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

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::ids::{DirectoryId, WorkspaceId};
use crate::time::Timestamp;
use crate::ValidationError;

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
        /// `StateChangeTime`.
        at: Timestamp,
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

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

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

/// Reads the CloudWatch alarm notification that SNS carries as `Message`.
///
/// Only a transition to `ALARM` means a user disconnected; `OK` and `INSUFFICIENT_DATA`
/// transitions give `Ok(None)`. An alarm on any other metric is an error, because it means
/// a foreign alarm publishes to our topic.
pub fn parse_alarm_message(message: &str) -> Result<Option<Event>, EventError> {
    alarm_text(message, "")
}

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

/// A CloudWatch alarm notification, given as text found at `path`.
fn alarm_text(text: &str, path: &str) -> Result<Option<Event>, EventError> {
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
    Ok(Some(Event::DisconnectAlarm {
        workspace_id: workspace_dimension(&trigger)?,
        at: root.get("StateChangeTime")?.parse(Timestamp::parse)?,
    }))
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

/// A JSON value together with the path that reached it, so every error can say where.
#[derive(Clone)]
struct Node<'a> {
    value: &'a Value,
    /// Dotted path from the event's top, e.g. `detail.responseElements`; empty at the top.
    path: String,
}

impl<'a> Node<'a> {
    fn root(value: &'a Value, path: &str) -> Self {
        Self { value, path: path.to_owned() }
    }

    fn shown_path(&self) -> String {
        if self.path.is_empty() {
            "(top level)".to_owned()
        } else {
            self.path.clone()
        }
    }

    fn wrong_type(&self, expected: &'static str) -> EventError {
        let found = match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        EventError::WrongType { path: self.shown_path(), expected, found }
    }

    fn object(&self) -> Result<&'a Map<String, Value>, EventError> {
        self.value.as_object().ok_or_else(|| self.wrong_type("object"))
    }

    /// The member `key`, or `None` when it is absent or `null` (AWS writes both for
    /// "nothing here", e.g. `responseElements` of a failed call).
    fn get_opt(&self, key: &str) -> Result<Option<Node<'a>>, EventError> {
        let member = self.object()?.get(key).filter(|v| !v.is_null());
        Ok(member.map(|value| Node { value, path: self.child_path(key) }))
    }

    fn get(&self, key: &str) -> Result<Node<'a>, EventError> {
        self.get_opt(key)?.ok_or_else(|| EventError::MissingField { path: self.child_path(key) })
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Follows `keys` down from here.
    fn at(&self, keys: &[&str]) -> Result<Node<'a>, EventError> {
        let mut node = self.clone();
        for key in keys {
            node = node.get(key)?;
        }
        Ok(node)
    }

    fn str(&self) -> Result<&'a str, EventError> {
        self.value.as_str().ok_or_else(|| self.wrong_type("string"))
    }

    fn items(&self) -> Result<Vec<Node<'a>>, EventError> {
        let items = self.value.as_array().ok_or_else(|| self.wrong_type("array"))?;
        Ok(items.iter().enumerate().map(|(i, value)| Node { value, path: format!("{}[{i}]", self.path) }).collect())
    }

    /// The string here, validated by `parse` (an ID or timestamp constructor).
    fn parse<T>(&self, parse: fn(&str) -> Result<T, ValidationError>) -> Result<T, EventError> {
        parse(self.str()?).map_err(|source| EventError::InvalidValue { path: self.shown_path(), source })
    }
}

// ---------------------------------------------------------------------------------------
// Emitting
// ---------------------------------------------------------------------------------------

/// Who and where an emitted event claims to come from, and its unique ID.
///
/// Emitters take everything as arguments (no clock, no randomness), so a simulation that
/// passes the same values gets byte-identical events and can be replayed from its seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmitContext {
    /// The AWS account ID, used for `account`, `recipientAccountId` and ARNs.
    pub account: String,
    /// The Region code, e.g. `us-east-1`.
    pub region: String,
    /// The event's unique ID (EventBridge `id`). The other IDs a shape needs (CloudTrail
    /// `eventID` and `requestID`, the SNS subscription) are derived from it, so one value
    /// gives distinct, stable, UUID-shaped IDs as in real events.
    pub event_id: String,
}

/// The CloudTrail record of a `CreateWorkspaces` call as EventBridge delivers it, so the
/// simulator can announce its creations exactly as AWS would.
///
/// `pending` holds (WorkSpace, directory, user, bundle) per created WorkSpace; `failed`
/// holds (errorCode, errorMessage) per refused request, e.g.
/// `("ResourceExists.WorkSpace", ...)`. The refused requests' directory and bundle are not
/// given, so their `workspaceRequest` carries only the user name, which CloudTrail redacts
/// in requests anyway.
pub fn cloudtrail_create_workspaces(
    ctx: &EmitContext,
    at: Timestamp,
    pending: &[(WorkspaceId, DirectoryId, String, String)],
    failed: &[(String, String)],
) -> Value {
    let failed_request = || json!({ "userName": HIDDEN });
    let mut requests: Vec<Value> = pending
        .iter()
        .map(|(_, directory, _, bundle)| {
            json!({ "directoryId": directory.as_str(), "userName": HIDDEN, "bundleId": bundle })
        })
        .collect();
    requests.extend(failed.iter().map(|_| failed_request()));
    let pending_requests: Vec<Value> = pending
        .iter()
        .map(|(id, directory, user, bundle)| {
            json!({
                "workspaceId": id.as_str(),
                "directoryId": directory.as_str(),
                "userName": user,
                "bundleId": bundle,
                "state": "PENDING",
            })
        })
        .collect();
    let failed_requests: Vec<Value> = failed
        .iter()
        .map(|(code, message)| {
            json!({ "workspaceRequest": failed_request(), "errorCode": code, "errorMessage": message })
        })
        .collect();
    api_call_event(
        ctx,
        at,
        CREATE,
        json!({ "workspaces": requests }),
        json!({ "failedRequests": failed_requests, "pendingRequests": pending_requests }),
    )
}

/// The CloudTrail record of a successful `TerminateWorkspaces` call as EventBridge
/// delivers it, so the simulator can announce its terminations exactly as AWS would.
pub fn cloudtrail_terminate_workspaces(ctx: &EmitContext, at: Timestamp, ids: &[WorkspaceId]) -> Value {
    let requests: Vec<Value> = ids.iter().map(|id| json!({ "workspaceId": id.as_str() })).collect();
    api_call_event(
        ctx,
        at,
        TERMINATE,
        json!({ "terminateWorkspaceRequests": requests }),
        json!({ "failedRequests": [] }),
    )
}

/// The "WorkSpaces Access" event WorkSpaces sends on a successful login, so the simulator
/// can give the fast "user is back" hint the real service gives.
pub fn workspaces_access_login(ctx: &EmitContext, at: Timestamp, id: &WorkspaceId, directory: &DirectoryId) -> Value {
    let detail = json!({
        "actionType": SUCCESSFUL_LOGIN,
        "clientIpAddress": "198.51.100.7",
        "clientPlatform": "Windows",
        "directoryId": directory.as_str(),
        "loginTime": rfc3339_seconds(at),
        "workspaceId": id.as_str(),
        "workspacesClientProductName": "WorkSpaces Desktop client",
    });
    let workspace_arn = format!("arn:aws:workspaces:{}:{}:workspace/{id}", ctx.region, ctx.account);
    eventbridge_envelope(ctx, ACCESS, at, vec![json!(workspace_arn)], detail)
}

/// The JSON text CloudWatch publishes to SNS when the SessionDisconnect alarm of `id`
/// changes state, so the simulator's alarms notify the rebuild function as real ones do.
///
/// `new_state` and `old_state` are `ALARM`, `OK` or `INSUFFICIENT_DATA`; the state reason
/// is written the way CloudWatch words it for the alarm blankslate creates (maximum of
/// SessionDisconnect >= 1 in one 60-second period).
pub fn alarm_message(
    alarm_name: &str,
    id: &WorkspaceId,
    new_state: &str,
    old_state: &str,
    at: Timestamp,
    ctx: &EmitContext,
) -> String {
    json!({
        "AlarmName": alarm_name,
        "AlarmDescription": null,
        "AWSAccountId": ctx.account,
        "NewStateValue": new_state,
        "NewStateReason": state_reason(new_state, at),
        "StateChangeTime": cloudwatch_time(at),
        "Region": region_name(&ctx.region),
        "AlarmArn": format!("arn:aws:cloudwatch:{}:{}:alarm:{alarm_name}", ctx.region, ctx.account),
        "OldStateValue": old_state,
        "Trigger": {
            "MetricName": METRIC,
            "Namespace": NAMESPACE,
            "StatisticType": "Statistic",
            "Statistic": "MAXIMUM",
            "Unit": null,
            "Dimensions": [{ "value": id.as_str(), "name": DIMENSION }],
            "Period": 60,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 1.0,
            "TreatMissingData": "notBreaching",
            "EvaluateLowSampleCountPercentile": "",
        },
    })
    .to_string()
}

/// The event Lambda receives from an SNS subscription to `topic_arn`, one record per
/// (message ID, message, publish time), so the rebuild function can be driven exactly as
/// the alarm topic drives it. A CloudWatch alarm message gets the subject CloudWatch gives
/// it (`ALARM: "name" in US East (N. Virginia)`); other messages get none.
pub fn sns_event(ctx: &EmitContext, topic_arn: &str, messages: &[(String, String, Timestamp)]) -> Value {
    let subscription = format!("{topic_arn}:{}", derived_uuid(&ctx.event_id, "subscription"));
    let endpoint = format!("https://sns.{}.amazonaws.com", ctx.region);
    let records: Vec<Value> = messages
        .iter()
        .map(|(message_id, message, at)| {
            json!({
                "EventSource": SNS_SOURCE,
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": alarm_subject(message),
                    "Message": message,
                    "Timestamp": at.to_rfc3339(),
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": format!(
                        "{endpoint}/SimpleNotificationService-{}.pem",
                        derived_uuid(topic_arn, "certificate").replace('-', "")
                    ),
                    "UnsubscribeUrl": format!(
                        "{endpoint}/?Action=Unsubscribe&SubscriptionArn={subscription}"
                    ),
                    "MessageAttributes": {},
                },
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The EventBridge envelope every WorkSpaces event shares.
fn eventbridge_envelope(
    ctx: &EmitContext,
    detail_type: &str,
    at: Timestamp,
    resources: Vec<Value>,
    detail: Value,
) -> Value {
    json!({
        "version": "0",
        "id": ctx.event_id,
        "detail-type": detail_type,
        "source": WORKSPACES_SOURCE,
        "account": ctx.account,
        "time": rfc3339_seconds(at),
        "region": ctx.region,
        "resources": resources,
        "detail": detail,
    })
}

/// A CloudTrail management event for a WorkSpaces API call made by blankslate's own role.
fn api_call_event(ctx: &EmitContext, at: Timestamp, name: &str, request: Value, response: Value) -> Value {
    const ROLE: &str = "blankslate";
    const ROLE_ID: &str = "AROAEXAMPLEBLANKSLATE";
    let detail = json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": format!("{ROLE_ID}:{ROLE}"),
            "arn": format!("arn:aws:sts::{}:assumed-role/{ROLE}/{ROLE}", ctx.account),
            "accountId": ctx.account,
            "accessKeyId": "ASIAEXAMPLEBLANKSLATE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": ROLE_ID,
                    "arn": format!("arn:aws:iam::{}:role/{ROLE}", ctx.account),
                    "accountId": ctx.account,
                    "userName": ROLE,
                },
                "webIdFederationData": {},
                "attributes": { "creationDate": rfc3339_seconds(at), "mfaAuthenticated": "false" },
            },
        },
        "eventTime": rfc3339_seconds(at),
        "eventSource": WORKSPACES_API,
        "eventName": name,
        "awsRegion": ctx.region,
        "sourceIPAddress": "198.51.100.10",
        "userAgent": "aws-sdk-rust/1.3.0 os/linux lang/rust/1.85.0",
        "requestParameters": request,
        "responseElements": response,
        "requestID": derived_uuid(&ctx.event_id, "requestID"),
        "eventID": derived_uuid(&ctx.event_id, "eventID"),
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ctx.account,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": format!("workspaces.{}.amazonaws.com", ctx.region),
        },
    });
    eventbridge_envelope(ctx, API_CALL, at, Vec::new(), detail)
}

/// RFC 3339 to the second with `Z`, as EventBridge and CloudTrail write times. Sub-second
/// precision is dropped, as AWS drops it.
fn rfc3339_seconds(at: Timestamp) -> String {
    DateTime::<Utc>::from_timestamp_millis(at.as_millis())
        .map_or_else(|| at.to_rfc3339(), |t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// CloudWatch's alarm time form, `2019-12-19T18:47:07.123+0000`.
fn cloudwatch_time(at: Timestamp) -> String {
    DateTime::<Utc>::from_timestamp_millis(at.as_millis())
        .map_or_else(|| at.to_rfc3339(), |t| t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string())
}

/// CloudWatch's `NewStateReason` for a transition of our alarm at `at`, quoting the
/// datapoint of the minute before the change as CloudWatch does.
fn state_reason(new_state: &str, at: Timestamp) -> String {
    let millis = at.as_millis();
    let minute_before = millis.saturating_sub(millis.rem_euclid(60_000)).saturating_sub(60_000);
    let datapoint = DateTime::<Utc>::from_timestamp_millis(minute_before)
        .map_or_else(String::new, |t| t.format("%d/%m/%y %H:%M:%S").to_string());
    let crossed = "Threshold Crossed: 1 out of the last 1 datapoints";
    match new_state {
        ALARM => format!(
            "{crossed} [1.0 ({datapoint})] was greater than or equal to the threshold (1.0) \
             (minimum 1 datapoint for OK -> ALARM transition)."
        ),
        "OK" => format!(
            "{crossed} [0.0 ({datapoint})] was not greater than or equal to the threshold (1.0) \
             (minimum 1 datapoint for ALARM -> OK transition)."
        ),
        _ => "Insufficient Data: 1 datapoint was unknown.".to_owned(),
    }
}

/// The Region's long name, which CloudWatch writes in alarm notifications (`Region`) and
/// their SNS subjects; unknown codes are written as given.
fn region_name(code: &str) -> &str {
    match code {
        "us-east-1" => "US East (N. Virginia)",
        "us-west-2" => "US West (Oregon)",
        "ca-central-1" => "Canada (Central)",
        "sa-east-1" => "South America (Sao Paulo)",
        "eu-central-1" => "EU (Frankfurt)",
        "eu-west-1" => "EU (Ireland)",
        "eu-west-2" => "EU (London)",
        "af-south-1" => "Africa (Cape Town)",
        "il-central-1" => "Israel (Tel Aviv)",
        "ap-south-1" => "Asia Pacific (Mumbai)",
        "ap-northeast-1" => "Asia Pacific (Tokyo)",
        "ap-northeast-2" => "Asia Pacific (Seoul)",
        "ap-southeast-1" => "Asia Pacific (Singapore)",
        "ap-southeast-2" => "Asia Pacific (Sydney)",
        "us-gov-west-1" => "AWS GovCloud (US-West)",
        other => other,
    }
}

/// The subject CloudWatch gives an alarm notification (SNS caps subjects at 100
/// characters); `None` for a message that is not one.
fn alarm_subject(message: &str) -> Option<String> {
    let value: Value = serde_json::from_str(message).ok()?;
    let field = |key: &str| value.get(key).and_then(Value::as_str);
    let subject = format!("{}: \"{}\" in {}", field("NewStateValue")?, field("AlarmName")?, field("Region")?);
    Some(subject.chars().take(100).collect())
}

/// A UUID-shaped ID derived from `seed` and `purpose` (FNV-1a), so emitted events carry
/// distinct, stable IDs without a random number generator.
fn derived_uuid(seed: &str, purpose: &str) -> String {
    let hash = |salt: u64| {
        seed.bytes()
            .chain([0])
            .chain(purpose.bytes())
            .fold(0xcbf2_9ce4_8422_2325 ^ salt, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    };
    let (hi, lo) = (hash(0), hash(0x9e37_79b9_7f4a_7c15));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0x0fff,
        0x8000 | ((lo >> 48) & 0x3fff),
        lo & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE_SAMPLE: &str = include_str!("../tests/fixtures/events/cloudtrail_create_workspaces.json");
    const TERMINATE_SAMPLE: &str = include_str!("../tests/fixtures/events/cloudtrail_terminate_workspaces.json");
    const LOGIN_SAMPLE: &str = include_str!("../tests/fixtures/events/workspaces_access_login.json");
    const SNS_SAMPLE: &str = include_str!("../tests/fixtures/events/sns_disconnect_alarm.json");

    fn ws(id: &str) -> WorkspaceId {
        WorkspaceId::new(id).unwrap()
    }

    fn dir(id: &str) -> DirectoryId {
        DirectoryId::new(id).unwrap()
    }

    fn t(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    fn ctx() -> EmitContext {
        EmitContext {
            account: "715757123466".into(),
            region: "us-east-1".into(),
            event_id: "0f6a3b1e-2c4d-4e8f-9a0b-1c2d3e4f5a6b".into(),
        }
    }

    /// The parser a case goes through.
    #[derive(Clone, Copy, Debug)]
    enum Via {
        EventBridge,
        Alarm,
        Sns,
        Any,
    }

    /// What a case must produce: these events, or an error whose message contains this.
    enum Expect {
        Events(Vec<Event>),
        Error(String),
    }
    use Expect::{Error, Events};

    fn fails(text: impl Into<String>) -> Expect {
        Error(text.into())
    }

    fn run(via: Via, input: &str) -> Result<Vec<Event>, EventError> {
        let json = || serde_json::from_str::<Value>(input).expect("case input is JSON");
        match via {
            Via::EventBridge => parse_eventbridge(&json()).map(|e| e.into_iter().collect()),
            Via::Alarm => parse_alarm_message(input).map(|e| e.into_iter().collect()),
            Via::Sns => parse_sns(&json()),
            Via::Any => parse_any(&json()),
        }
    }

    /// The one helper every table goes through: runs each (name, parser, input, expected)
    /// and reports every mismatch at once.
    fn check<'a>(cases: impl IntoIterator<Item = (&'a str, Via, String, Expect)>) {
        let mut failures = Vec::new();
        for (name, via, input, expected) in cases {
            let actual = run(via, &input);
            let ok = match (&actual, &expected) {
                (Ok(events), Events(want)) => events == want,
                (Err(err), Error(want)) => err.to_string().contains(want.as_str()),
                _ => false,
            };
            if !ok {
                let want = match expected {
                    Events(events) => format!("{events:?}"),
                    Error(text) => format!("an error containing {text:?}"),
                };
                let got = match actual {
                    Ok(events) => format!("{events:?}"),
                    Err(err) => format!("error: {err}"),
                };
                failures.push(format!("{name} ({via:?}):\n  expected {want}\n  got      {got}"));
            }
        }
        assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
    }

    /// `sample` with `change` applied to its parsed JSON, as text.
    fn edit(sample: &str, change: impl FnOnce(&mut Value)) -> String {
        let mut value: Value = serde_json::from_str(sample).unwrap();
        change(&mut value);
        value.to_string()
    }

    /// Sets the value at a JSON pointer, creating the last key if needed.
    fn set(pointer: &'static str, new: Value) -> impl FnOnce(&mut Value) {
        move |value| {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            match value.pointer_mut(parent).unwrap() {
                Value::Object(map) => {
                    map.insert(key.to_owned(), new);
                }
                Value::Array(items) => items[key.parse::<usize>().unwrap()] = new,
                other => panic!("cannot set {pointer} in {other}"),
            }
        }
    }

    fn remove(pointer: &'static str) -> impl FnOnce(&mut Value) {
        move |value| {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            value.pointer_mut(parent).unwrap().as_object_mut().unwrap().remove(key).unwrap();
        }
    }

    /// The alarm notification inside the SNS sample.
    fn sample_alarm() -> String {
        let sns: Value = serde_json::from_str(SNS_SAMPLE).unwrap();
        sns["Records"][0]["Sns"]["Message"].as_str().unwrap().to_owned()
    }

    fn created(ids: &[&str], at: &str) -> Event {
        Event::WorkspacesCreated { ids: ids.iter().map(|id| ws(id)).collect(), at: t(at) }
    }

    fn terminated(ids: &[&str], at: &str) -> Event {
        Event::WorkspacesTerminated { ids: ids.iter().map(|id| ws(id)).collect(), at: t(at) }
    }

    fn disconnected(id: &str, at: &str) -> Event {
        Event::DisconnectAlarm { workspace_id: ws(id), at: t(at) }
    }

    const CREATED_AT: &str = "2019-12-19T18:05:41Z";
    const ALARM_AT: &str = "2019-12-19T18:47:07.123+0000";

    #[test]
    fn reads_the_events_we_act_on_and_skips_the_rest() {
        use Via::*;
        let sample_ids = ["ws-bfh7rjnt9", "ws-c2mx8p4qd", "ws-7tq3w9zlk"];
        let failed_call = |sample| {
            edit(sample, |v| {
                set("/detail/errorCode", json!("ThrottlingException"))(v);
                set("/detail/errorMessage", json!("Rate exceeded"))(v);
                set("/detail/responseElements", Value::Null)(v);
            })
        };
        let pending =
            |ids: &[&str]| -> Value { ids.iter().map(|id| json!({ "workspaceId": id, "state": "PENDING" })).collect() };
        let two_alarms = sns_event(
            &ctx(),
            "arn:aws:sns:us-east-1:715757123466:Workspace_Disconnected_Topic",
            &[
                (
                    "m-1".into(),
                    alarm_message("a", &ws("ws-bfh7rjnt9"), "ALARM", "OK", t(ALARM_AT), &ctx()),
                    t(ALARM_AT),
                ),
                (
                    "m-2".into(),
                    alarm_message(
                        "b",
                        &ws("ws-c2mx8p4qd"),
                        "ALARM",
                        "INSUFFICIENT_DATA",
                        t("2019-12-19T18:48:00Z"),
                        &ctx(),
                    ),
                    t("2019-12-19T18:48:00Z"),
                ),
            ],
        );
        check([
            (
                "batch create: every pending ID, failed ignored",
                EventBridge,
                CREATE_SAMPLE.into(),
                Events(vec![created(&sample_ids, CREATED_AT)]),
            ),
            ("create that failed as a whole", EventBridge, failed_call(CREATE_SAMPLE), Events(vec![])),
            (
                "terminate with 4 IDs",
                EventBridge,
                TERMINATE_SAMPLE.into(),
                Events(vec![terminated(
                    &["ws-bfh7rjnt9", "ws-c2mx8p4qd", "ws-7tq3w9zlk", "ws-4kd82hs0v"],
                    "2019-12-19T19:00:12Z",
                )]),
            ),
            ("terminate that failed as a whole", EventBridge, failed_call(TERMINATE_SAMPLE), Events(vec![])),
            (
                "terminate: items AWS refused did not happen",
                EventBridge,
                edit(
                    TERMINATE_SAMPLE,
                    set(
                        "/detail/responseElements/failedRequests",
                        json!([{"workspaceId": "ws-c2mx8p4qd", "errorCode": "InvalidResourceState", "errorMessage": "SUSPENDED"},
                               {"workspaceId": "ws-4kd82hs0v", "errorCode": "ResourceNotFound", "errorMessage": "gone"}]),
                    ),
                ),
                Events(vec![terminated(&["ws-bfh7rjnt9", "ws-7tq3w9zlk"], "2019-12-19T19:00:12Z")]),
            ),
            (
                "terminate: every item refused",
                EventBridge,
                edit(
                    TERMINATE_SAMPLE,
                    set(
                        "/detail/responseElements/failedRequests",
                        json!(["ws-bfh7rjnt9", "ws-c2mx8p4qd", "ws-7tq3w9zlk", "ws-4kd82hs0v"]
                            .map(|id| json!({"workspaceId": id, "errorCode": "X", "errorMessage": "x"}))),
                    ),
                ),
                Events(vec![]),
            ),
            (
                "repeated IDs once each, first-seen order",
                EventBridge,
                edit(
                    CREATE_SAMPLE,
                    set(
                        "/detail/responseElements/pendingRequests",
                        pending(&["ws-c2mx8p4qd", "ws-bfh7rjnt9", "ws-c2mx8p4qd", "ws-7tq3w9zlk", "ws-bfh7rjnt9"]),
                    ),
                ),
                Events(vec![created(&["ws-c2mx8p4qd", "ws-bfh7rjnt9", "ws-7tq3w9zlk"], CREATED_AT)]),
            ),
            (
                "nothing pending",
                EventBridge,
                edit(CREATE_SAMPLE, set("/detail/responseElements/pendingRequests", json!([]))),
                Events(vec![]),
            ),
            (
                "other WorkSpaces API",
                EventBridge,
                edit(TERMINATE_SAMPLE, set("/detail/eventName", json!("RebootWorkspaces"))),
                Events(vec![]),
            ),
            (
                "fractional eventTime",
                EventBridge,
                edit(CREATE_SAMPLE, set("/detail/eventTime", json!("2019-12-19T18:05:41.250Z"))),
                Events(vec![created(&sample_ids, "2019-12-19T18:05:41.250Z")]),
            ),
            (
                "login",
                EventBridge,
                LOGIN_SAMPLE.into(),
                Events(vec![Event::UserLoggedIn {
                    workspace_id: ws("ws-bfh7rjnt9"),
                    directory_id: Some(dir("d-9067083b4b")),
                    at: t("2019-12-19T18:52:03Z"),
                }]),
            ),
            (
                "login without directoryId",
                EventBridge,
                edit(LOGIN_SAMPLE, remove("/detail/directoryId")),
                Events(vec![Event::UserLoggedIn {
                    workspace_id: ws("ws-bfh7rjnt9"),
                    directory_id: None,
                    at: t("2019-12-19T18:52:03Z"),
                }]),
            ),
            (
                "other actionType",
                EventBridge,
                edit(LOGIN_SAMPLE, set("/detail/actionType", json!("failedLogin"))),
                Events(vec![]),
            ),
            ("ALARM transition", Alarm, sample_alarm(), Events(vec![disconnected("ws-bfh7rjnt9", ALARM_AT)])),
            ("OK transition", Alarm, edit(&sample_alarm(), set("/NewStateValue", json!("OK"))), Events(vec![])),
            (
                "INSUFFICIENT_DATA transition",
                Alarm,
                edit(&sample_alarm(), set("/NewStateValue", json!("INSUFFICIENT_DATA"))),
                Events(vec![]),
            ),
            (
                "WorkspaceId is not the first dimension",
                Alarm,
                edit(
                    &sample_alarm(),
                    set(
                        "/Trigger/Dimensions",
                        json!([{ "value": "x", "name": "Other" }, { "value": "ws-c2mx8p4qd", "name": "WorkspaceId" }]),
                    ),
                ),
                Events(vec![disconnected("ws-c2mx8p4qd", ALARM_AT)]),
            ),
            (
                "dimensions spelt as in PutMetricAlarm (ministack's notifications)",
                Alarm,
                edit(
                    &sample_alarm(),
                    set(
                        "/Trigger/Dimensions",
                        json!([{ "Value": "x", "Name": "Other" }, { "Value": "ws-c2mx8p4qd", "Name": "WorkspaceId" }]),
                    ),
                ),
                Events(vec![disconnected("ws-c2mx8p4qd", ALARM_AT)]),
            ),
            ("SNS sample", Sns, SNS_SAMPLE.into(), Events(vec![disconnected("ws-bfh7rjnt9", ALARM_AT)])),
            (
                "SNS event with two records",
                Sns,
                two_alarms.to_string(),
                Events(vec![
                    disconnected("ws-bfh7rjnt9", ALARM_AT),
                    disconnected("ws-c2mx8p4qd", "2019-12-19T18:48:00Z"),
                ]),
            ),
            ("SNS event without records", Sns, r#"{"Records": []}"#.into(), Events(vec![])),
            ("any: SNS", Any, SNS_SAMPLE.into(), Events(vec![disconnected("ws-bfh7rjnt9", ALARM_AT)])),
            ("any: EventBridge", Any, CREATE_SAMPLE.into(), Events(vec![created(&sample_ids, CREATED_AT)])),
            (
                "any: EventBridge with nothing for us",
                Any,
                edit(LOGIN_SAMPLE, set("/detail/actionType", json!("x"))),
                Events(vec![]),
            ),
        ]);
    }

    #[test]
    fn garbage_is_an_error_naming_the_path_and_the_problem() {
        use Via::*;
        const PENDING: &str = "detail.responseElements.pendingRequests";
        const REQUESTS: &str = "detail.requestParameters.terminateWorkspaceRequests";
        const MESSAGE: &str = "Records[1].Sns.Message";
        const TOP_ARRAY: &str = "wrong type at (top level): expected object, found array";
        let create = |change: fn(&mut Value)| edit(CREATE_SAMPLE, change);
        let alarm = |change: fn(&mut Value)| edit(&sample_alarm(), change);
        // The sample with a second record whose message is `message`.
        let sns_message = |message: Value| {
            edit(SNS_SAMPLE, move |v| {
                let record = v["Records"][0].clone();
                v["Records"].as_array_mut().unwrap().push(record);
                v["Records"][1]["Sns"]["Message"] = message;
            })
        };
        // The reconciler's schedule wired to the wrong function.
        let foreign = json!({ "source": "aws.events", "detail-type": "Scheduled Event", "detail": {} });
        check([
            ("not JSON", Alarm, "{\"AlarmName\": ".into(), fails("not JSON: EOF while parsing")),
            ("JSON array", EventBridge, "[1, 2]".into(), fails(TOP_ARRAY)),
            ("JSON array as alarm", Alarm, "[]".into(), fails(TOP_ARRAY)),
            (
                "a string, any shape",
                Any,
                "\"hi\"".into(),
                fails("wrong type at (top level): expected object, found str"),
            ),
            ("empty object", EventBridge, "{}".into(), fails("missing field source")),
            ("empty object, any shape", Any, "{}".into(), fails("unrecognised event: neither an SNS event")),
            ("missing detail", EventBridge, edit(CREATE_SAMPLE, remove("/detail")), fails("missing field detail")),
            ("null detail", EventBridge, create(|v| v["detail"] = Value::Null), fails("missing field detail")),
            (
                "missing eventTime",
                EventBridge,
                edit(CREATE_SAMPLE, remove("/detail/eventTime")),
                fails("missing field detail.eventTime"),
            ),
            (
                "bad eventTime",
                EventBridge,
                create(|v| v["detail"]["eventTime"] = json!("yesterday")),
                fails("invalid value at detail.eventTime: invalid timestamp \"yesterday\""),
            ),
            (
                "missing pendingRequests",
                EventBridge,
                edit(CREATE_SAMPLE, remove("/detail/responseElements/pendingRequests")),
                fails(format!("missing field {PENDING}")),
            ),
            (
                "pendingRequests not an array",
                EventBridge,
                create(|v| v["detail"]["responseElements"]["pendingRequests"] = json!({})),
                fails(format!("wrong type at {PENDING}: expected array, found object")),
            ),
            (
                "workspaceId a number",
                EventBridge,
                create(|v| v["detail"]["responseElements"]["pendingRequests"][1]["workspaceId"] = json!(42)),
                fails(format!("wrong type at {PENDING}[1].workspaceId: expected string, found number")),
            ),
            (
                "workspaceId missing",
                EventBridge,
                create(|v| v["detail"]["responseElements"]["pendingRequests"][0]["workspaceId"] = Value::Null),
                fails(format!("missing field {PENDING}[0].workspaceId")),
            ),
            (
                "invalid workspace id",
                EventBridge,
                create(|v| v["detail"]["responseElements"]["pendingRequests"][2]["workspaceId"] = json!("x")),
                fails(format!("invalid value at {PENDING}[2].workspaceId: invalid WorkspaceId \"x\"")),
            ),
            (
                "invalid terminate id",
                EventBridge,
                edit(TERMINATE_SAMPLE, |v| {
                    let requests = &mut v["detail"]["requestParameters"]["terminateWorkspaceRequests"];
                    requests[3]["workspaceId"] = json!("ws-UPPER123");
                }),
                fails(format!("invalid value at {REQUESTS}[3].workspaceId: invalid WorkspaceId \"ws-UPPER123\"")),
            ),
            (
                "unknown source",
                EventBridge,
                foreign.to_string(),
                fails("unrecognised event: source \"aws.events\" with detail-type \"Scheduled Event\""),
            ),
            (
                "CloudTrail event of another service",
                EventBridge,
                create(|v| v["detail"]["eventSource"] = json!("ec2.amazonaws.com")),
                fails("unrecognised event: CloudTrail event from \"ec2.amazonaws.com\""),
            ),
            (
                "detail a string",
                EventBridge,
                create(|v| v["detail"] = json!("{}")),
                fails("wrong type at detail: expected object, found string"),
            ),
            (
                "responseElements an array",
                EventBridge,
                create(|v| v["detail"]["responseElements"] = json!([[{}]])),
                fails("wrong type at detail.responseElements: expected object, found array"),
            ),
            (
                "eventName a boolean",
                EventBridge,
                create(|v| v["detail"]["eventName"] = json!(true)),
                fails("wrong type at detail.eventName: expected string, found boolean"),
            ),
            (
                "pending item a string",
                EventBridge,
                create(|v| v["detail"]["responseElements"]["pendingRequests"][1] = json!("ws-bfh7rjnt9")),
                fails(format!("wrong type at {PENDING}[1]: expected object, found string")),
            ),
            (
                "detail-type a number",
                EventBridge,
                edit(LOGIN_SAMPLE, |v| v["detail-type"] = json!(7)),
                fails("wrong type at detail-type: expected string, found number"),
            ),
            (
                "login without loginTime",
                EventBridge,
                edit(LOGIN_SAMPLE, remove("/detail/loginTime")),
                fails("missing field detail.loginTime"),
            ),
            (
                "login with a bad directoryId",
                EventBridge,
                edit(LOGIN_SAMPLE, |v| v["detail"]["directoryId"] = json!("d-XYZ")),
                fails("invalid value at detail.directoryId: invalid DirectoryId \"d-XYZ\""),
            ),
            (
                "alarm on another metric",
                Alarm,
                alarm(|v| v["Trigger"] = json!({ "MetricName": "CPUUtilization", "Namespace": "AWS/EC2" })),
                fails("unrecognised event: alarm on AWS/EC2 CPUUtilization, not AWS/WorkSpaces SessionDisconnect"),
            ),
            ("alarm without Trigger", Alarm, alarm(|v| v["Trigger"] = Value::Null), fails("missing field Trigger")),
            (
                "alarm without WorkspaceId dimension",
                Alarm,
                alarm(|v| v["Trigger"]["Dimensions"] = json!([])),
                fails("missing field Trigger.Dimensions[name=WorkspaceId]"),
            ),
            (
                "alarm with a bad time",
                Alarm,
                alarm(|v| v["StateChangeTime"] = json!("19/12/2019")),
                fails("invalid value at StateChangeTime: invalid timestamp"),
            ),
            (
                "Records a number",
                Sns,
                json!({ "Records": 3 }).to_string(),
                fails("wrong type at Records: expected array, found number"),
            ),
            (
                "record from SQS",
                Sns,
                edit(SNS_SAMPLE, |v| v["Records"][0]["EventSource"] = json!("aws:sqs")),
                fails("unrecognised event: Records[0].EventSource is \"aws:sqs\""),
            ),
            (
                "record without Sns",
                Sns,
                edit(SNS_SAMPLE, remove("/Records/0/Sns")),
                fails("missing field Records[0].Sns"),
            ),
            (
                "second message not JSON",
                Sns,
                sns_message(json!("Workspace disconnected!")),
                fails(format!("not JSON: {MESSAGE}: expected value")),
            ),
            (
                "second message an object",
                Sns,
                sns_message(json!({})),
                fails(format!("wrong type at {MESSAGE}: expected string, found object")),
            ),
            (
                "second message without Trigger",
                Sns,
                sns_message(json!("{}")),
                fails(format!("missing field {MESSAGE}.Trigger")),
            ),
            (
                "dimension name an array, deep in a message",
                Sns,
                sns_message(json!(alarm(|v| v["Trigger"]["Dimensions"][0]["name"] = json!(["WorkspaceId"])))),
                fails(format!("wrong type at {MESSAGE}.Trigger.Dimensions[0].name: expected string, found array")),
            ),
        ]);
    }

    #[test]
    fn invalid_values_keep_the_validation_error_as_their_source() {
        let input = edit(CREATE_SAMPLE, |v| {
            v["detail"]["responseElements"]["pendingRequests"][2]["workspaceId"] = json!("x");
        });
        let err = parse_eventbridge(&serde_json::from_str(&input).unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value at detail.responseElements.pendingRequests[2].workspaceId: \
             invalid WorkspaceId \"x\": must start with \"ws-\""
        );
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("invalid WorkspaceId \"x\": must start with \"ws-\""));
    }

    #[test]
    fn every_emitter_round_trips_through_its_parser() {
        use Via::*;
        let c = ctx();
        let (a, b, d) = (ws("ws-bfh7rjnt9"), ws("ws-c2mx8p4qd"), ws("ws-7tq3w9zlk"));
        let directory = dir("d-9067083b4b");
        let at = t("2024-03-11T17:00:05Z");
        let pending =
            |id: &WorkspaceId| (id.clone(), directory.clone(), "tester2".to_owned(), "wsb-vw0mb86zg".to_owned());
        let refused = ("ResourceExists.WorkSpace".to_owned(), "The specified user already has a WorkSpace.".to_owned());
        let alarm_at = t("2024-03-11T17:00:05.678Z");
        let topic = "arn:aws:sns:us-east-1:715757123466:Workspace_Disconnected_Topic";
        let alarm =
            |state: &str| alarm_message("Workspace_Disconnected_id_ws-bfh7rjnt9", &a, state, "OK", alarm_at, &c);
        let sns = sns_event(
            &c,
            topic,
            &[
                ("m-1".into(), alarm("ALARM"), alarm_at),
                ("m-2".into(), alarm("OK"), alarm_at),
                ("m-3".into(), alarm("ALARM"), alarm_at),
            ],
        );
        let created = Event::WorkspacesCreated { ids: vec![a.clone(), b.clone(), d.clone()], at };
        check([
            (
                "create",
                EventBridge,
                cloudtrail_create_workspaces(
                    &c,
                    at,
                    &[pending(&a), pending(&b), pending(&d)],
                    std::slice::from_ref(&refused),
                )
                .to_string(),
                Events(vec![created.clone()]),
            ),
            (
                "create, repeated IDs",
                EventBridge,
                cloudtrail_create_workspaces(&c, at, &[pending(&a), pending(&b), pending(&a), pending(&d)], &[])
                    .to_string(),
                Events(vec![created]),
            ),
            (
                "create, everything refused",
                EventBridge,
                cloudtrail_create_workspaces(&c, at, &[], &[refused]).to_string(),
                Events(vec![]),
            ),
            (
                "terminate",
                EventBridge,
                cloudtrail_terminate_workspaces(&c, at, &[d.clone(), a.clone()]).to_string(),
                Events(vec![Event::WorkspacesTerminated { ids: vec![d, a.clone()], at }]),
            ),
            (
                "login",
                EventBridge,
                workspaces_access_login(&c, at, &b, &directory).to_string(),
                Events(vec![Event::UserLoggedIn { workspace_id: b, directory_id: Some(directory.clone()), at }]),
            ),
            (
                "alarm, keeping milliseconds",
                Alarm,
                alarm("ALARM"),
                Events(vec![Event::DisconnectAlarm { workspace_id: a.clone(), at: alarm_at }]),
            ),
            ("alarm back to OK", Alarm, alarm("OK"), Events(vec![])),
            (
                "SNS",
                Sns,
                sns.to_string(),
                Events(vec![Event::DisconnectAlarm { workspace_id: a.clone(), at: alarm_at }; 2]),
            ),
            (
                "SNS, any shape",
                Any,
                sns.to_string(),
                Events(vec![Event::DisconnectAlarm { workspace_id: a, at: alarm_at }; 2]),
            ),
        ]);
    }

    /// Every key path of `value`'s objects (arrays looked into), for comparing shapes.
    fn key_paths(value: &Value, here: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let path = format!("{here}/{key}");
                    key_paths(child, &path, out);
                    out.push(path);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| key_paths(item, &format!("{here}[]"), out)),
            _ => {}
        }
    }

    #[test]
    fn emitted_events_have_every_field_of_the_real_samples() {
        let c = ctx();
        let pending = [(ws("ws-bfh7rjnt9"), dir("d-9067083b4b"), "tester2".to_owned(), "wsb-vw0mb86zg".to_owned())];
        let refused = [("ResourceExists.WorkSpace".to_owned(), "exists".to_owned())];
        let at = t(CREATED_AT);
        let alarm_at = t(ALARM_AT);
        let message = alarm_message(
            "Workspace_Disconnected_id_ws-bfh7rjnt9",
            &ws("ws-bfh7rjnt9"),
            "ALARM",
            "INSUFFICIENT_DATA",
            alarm_at,
            &c,
        );
        let topic = "arn:aws:sns:us-east-1:715757123466:Workspace_Disconnected_Topic";
        // Fields the hand-written samples carry that our emitters deliberately leave out:
        // the console session flag, request details we do not model, and alarm actions
        // (the emitter is not told the topic).
        let optional = [
            "sessionCredentialFromConsole",
            "userVolumeEncryptionEnabled",
            "rootVolumeEncryptionEnabled",
            "workspaceProperties",
            "tags",
            "directoryId",
            "bundleId",
            "AlarmConfigurationUpdatedTimestamp",
            "OKActions",
            "AlarmActions",
            "InsufficientDataActions",
            "DatapointsToAlarm",
        ];
        let pairs = [
            (CREATE_SAMPLE.to_owned(), cloudtrail_create_workspaces(&c, at, &pending, &refused).to_string()),
            (TERMINATE_SAMPLE.to_owned(), cloudtrail_terminate_workspaces(&c, at, &[ws("ws-bfh7rjnt9")]).to_string()),
            (
                LOGIN_SAMPLE.to_owned(),
                workspaces_access_login(&c, at, &ws("ws-bfh7rjnt9"), &dir("d-9067083b4b")).to_string(),
            ),
            (SNS_SAMPLE.to_owned(), sns_event(&c, topic, &[("m-1".into(), message.clone(), alarm_at)]).to_string()),
            (sample_alarm(), message.clone()),
        ];
        for (sample, emitted) in pairs {
            let paths = |text: &str| {
                let mut out = Vec::new();
                key_paths(&serde_json::from_str(text).unwrap(), "", &mut out);
                out
            };
            let emitted_paths = paths(&emitted);
            let missing: Vec<String> = paths(&sample)
                .into_iter()
                .filter(|p| !emitted_paths.contains(p))
                .filter(|p| !optional.iter().any(|o| p.contains(&format!("/{o}"))))
                .collect();
            assert!(missing.is_empty(), "emitted event lacks {missing:?}:\n{emitted}");
        }

        let create = cloudtrail_create_workspaces(&c, at, &pending, &refused);
        assert_eq!(create["time"], json!("2019-12-19T18:05:41Z"));
        assert_eq!(create["detail"]["eventTime"], json!("2019-12-19T18:05:41Z"));
        assert_eq!(create["detail"]["readOnly"], json!(false));
        assert_eq!(create["detail"]["requestParameters"]["workspaces"][0]["userName"], json!(HIDDEN));
        assert_eq!(
            create["detail"]["responseElements"]["failedRequests"][0]["errorCode"],
            json!("ResourceExists.WorkSpace")
        );
        assert_ne!(create["detail"]["eventID"], create["detail"]["requestID"]);

        let sample: Value = serde_json::from_str(&sample_alarm()).unwrap();
        let emitted: Value = serde_json::from_str(&message).unwrap();
        for key in ["StateChangeTime", "NewStateReason", "Region", "AlarmArn"] {
            assert_eq!(emitted[key], sample[key], "{key}");
        }
        let sns = sns_event(&c, topic, &[("m-1".into(), message, alarm_at)]);
        let sample: Value = serde_json::from_str(SNS_SAMPLE).unwrap();
        assert_eq!(sns["Records"][0]["Sns"]["Subject"], sample["Records"][0]["Sns"]["Subject"]);
        assert_eq!(
            sns_event(&c, topic, &[("m".into(), "hello".into(), alarm_at)])["Records"][0]["Sns"]["Subject"],
            Value::Null
        );
    }

    #[test]
    fn emitters_are_deterministic_and_ids_follow_the_event_id() {
        let at = t(CREATED_AT);
        let ids = [ws("ws-bfh7rjnt9")];
        let other = EmitContext { event_id: "another".into(), ..ctx() };
        assert_eq!(
            cloudtrail_terminate_workspaces(&ctx(), at, &ids),
            cloudtrail_terminate_workspaces(&ctx(), at, &ids)
        );
        let (one, two) =
            (cloudtrail_terminate_workspaces(&ctx(), at, &ids), cloudtrail_terminate_workspaces(&other, at, &ids));
        assert_eq!(one["id"], json!(ctx().event_id));
        assert_ne!(one["detail"]["eventID"], two["detail"]["eventID"]);
        let uuid = derived_uuid("x", "eventID");
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{uuid}");
    }

    /// A small deterministic generator, so the mutation test replays exactly.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(self.0 >> 33).unwrap() % n.max(1)
        }
    }

    /// JSON pointers to every node of `value`, the root included.
    fn pointers(value: &Value, here: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    pointers(child, format!("{here}/{}", key.replace('~', "~0").replace('/', "~1")), out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    pointers(child, format!("{here}/{i}"), out);
                }
            }
            _ => {}
        }
        out.push(here);
    }

    /// One random damage: delete a key or item, change a type, truncate a string, or
    /// damage the JSON inside a string (SNS carries the alarm as text).
    fn mutate(value: &mut Value, rng: &mut Lcg) {
        let mut all = Vec::new();
        pointers(value, String::new(), &mut all);
        let pointer = all[rng.below(all.len())].clone();
        let op = rng.below(8);
        if op == 0 {
            if let Some((parent, key)) = pointer.rsplit_once('/') {
                match value.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&key.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(items)) => {
                        items.remove(key.parse::<usize>().unwrap());
                    }
                    _ => {}
                }
            }
            return;
        }
        let Some(node) = value.pointer_mut(&pointer) else { return };
        *node = match (op, node.take()) {
            (1, _) => Value::Null,
            (2, _) => json!(rng.below(1000)),
            (3, _) => json!(["ws-", "", "x", "ALARM", "2019-12-19"][rng.below(5)]),
            (4, old) => json!([old]),
            (5, _) => json!({}),
            (6, _) => json!(rng.below(2) == 0),
            (_, Value::String(text)) => match serde_json::from_str::<Value>(&text) {
                Ok(mut inner) if inner.is_object() => {
                    mutate(&mut inner, rng);
                    json!(inner.to_string())
                }
                _ => json!(text.chars().take(rng.below(text.chars().count() + 1)).collect::<String>()),
            },
            (_, Value::Array(mut items)) => {
                if let Some(first) = items.first().cloned() {
                    items.push(first);
                }
                Value::Array(items)
            }
            (_, old) => old,
        };
    }

    #[test]
    fn hundreds_of_mutated_events_never_panic() {
        let c = ctx();
        let at = t(CREATED_AT);
        let pending = [(ws("ws-bfh7rjnt9"), dir("d-9067083b4b"), "u".to_owned(), "wsb-vw0mb86zg".to_owned())];
        let message = alarm_message("n", &ws("ws-bfh7rjnt9"), "ALARM", "OK", at, &c);
        let bases: Vec<Value> = [
            CREATE_SAMPLE.to_owned(),
            TERMINATE_SAMPLE.to_owned(),
            LOGIN_SAMPLE.to_owned(),
            SNS_SAMPLE.to_owned(),
            sample_alarm(),
            cloudtrail_create_workspaces(&c, at, &pending, &[]).to_string(),
            sns_event(
                &c,
                "arn:aws:sns:us-east-1:715757123466:t",
                &[("m".into(), message.clone(), at), ("n".into(), message, at)],
            )
            .to_string(),
        ]
        .iter()
        .map(|text| serde_json::from_str(text).unwrap())
        .collect();
        let mut rng = Lcg(0x5eed);
        let (mut oks, mut errs) = (0, 0);
        for _ in 0..600 {
            let mut value = bases[rng.below(bases.len())].clone();
            for _ in 0..=rng.below(3) {
                mutate(&mut value, &mut rng);
            }
            let text = value.to_string();
            let cut: String = text.chars().take(rng.below(text.chars().count() + 1)).collect();
            let results = [
                parse_eventbridge(&value).map(|_| ()),
                parse_sns(&value).map(|_| ()),
                parse_any(&value).map(|_| ()),
                parse_alarm_message(&text).map(|_| ()),
                parse_alarm_message(&cut).map(|_| ()),
            ];
            for result in results {
                match result {
                    Ok(()) => oks += 1,
                    Err(err) => {
                        assert!(!err.to_string().is_empty());
                        errs += 1;
                    }
                }
            }
        }
        // Both outcomes occur, so the mutations neither always break nor never reach the parsers.
        assert!(oks > 100 && errs > 100, "ok {oks}, err {errs}");
    }
}
