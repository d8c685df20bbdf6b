//! Writing the events AWS delivers, in AWS's own shape, for the simulator and the emulator.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::datapoint::REASON_TIME;
use super::{ACCESS, ALARM, API_CALL, CREATE, DIMENSION, HIDDEN, METRIC, NAMESPACE, SNS_SOURCE, SUCCESSFUL_LOGIN};
use super::{TERMINATE, WORKSPACES_API, WORKSPACES_SOURCE};
use crate::ids::{DirectoryId, WorkspaceId};
use crate::time::Timestamp;

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
/// `new_state` and `old_state` are `ALARM`, `OK` or `INSUFFICIENT_DATA`; `at` is the state
/// change and `datapoint` the START of the one-minute period the alarm evaluated. The state
/// reason quotes that datapoint the way CloudWatch words it for the alarm blankslate
/// creates (maximum of SessionDisconnect >= 1 in one 60-second period), which is where the
/// parser reads the disconnect's time. No `NewStateReasonData`: AWS's documented
/// metric-alarm SNS messages carry none (see ARCHITECTURE.md, "The disconnect's time").
pub fn alarm_message(
    alarm_name: &str,
    id: &WorkspaceId,
    new_state: &str,
    old_state: &str,
    at: Timestamp,
    datapoint: Timestamp,
    ctx: &EmitContext,
) -> String {
    json!({
        "AlarmName": alarm_name,
        "AlarmDescription": null,
        "AWSAccountId": ctx.account,
        "NewStateValue": new_state,
        "NewStateReason": state_reason(new_state, datapoint),
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

/// CloudWatch's `NewStateReason` for a transition of our alarm on the period starting at
/// `datapoint` (`dd/MM/yy HH:mm:ss`, UTC, to the second as CloudWatch writes it).
fn state_reason(new_state: &str, datapoint: Timestamp) -> String {
    let datapoint = DateTime::<Utc>::from_timestamp_millis(datapoint.as_millis())
        .map_or_else(String::new, |t| t.format(REASON_TIME).to_string());
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
pub(super) fn derived_uuid(seed: &str, purpose: &str) -> String {
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
