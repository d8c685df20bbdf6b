use serde_json::{json, Value};

use super::emit::derived_uuid;
use super::*;
use crate::ids::{DirectoryId, WorkspaceId};
use crate::time::Timestamp;

const CREATE_SAMPLE: &str = include_str!("../../tests/fixtures/events/cloudtrail_create_workspaces.json");
const TERMINATE_SAMPLE: &str = include_str!("../../tests/fixtures/events/cloudtrail_terminate_workspaces.json");
const LOGIN_SAMPLE: &str = include_str!("../../tests/fixtures/events/workspaces_access_login.json");
const SNS_SAMPLE: &str = include_str!("../../tests/fixtures/events/sns_disconnect_alarm.json");

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

fn disconnected(id: &str, at: &str, time_from: AlarmTime) -> Event {
    Event::DisconnectAlarm { workspace_id: ws(id), at: t(at), time_from }
}

/// The sample alarm's disconnect: the end of its datapoint's period (18:46:00 + 60 s).
fn sample_disconnected(id: &str) -> Event {
    disconnected(id, ALARM_DISCONNECT, AlarmTime::ReasonText)
}

/// The start of the minute before `at`: the datapoint an alarm changing state at `at`
/// evaluated (one-minute period, published within the minute).
fn minute_before(at: Timestamp) -> Timestamp {
    let millis = at.as_millis();
    Timestamp::from_millis(millis - millis.rem_euclid(60_000) - 60_000)
}

const CREATED_AT: &str = "2019-12-19T18:05:41Z";
const ALARM_AT: &str = "2019-12-19T18:47:07.123+0000";
/// The end of the period of the sample alarm's datapoint `[1.0 (19/12/19 18:46:00)]`.
const ALARM_DISCONNECT: &str = "2019-12-19T18:47:00Z";

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
                alarm_message("a", &ws("ws-bfh7rjnt9"), "ALARM", "OK", t(ALARM_AT), minute_before(t(ALARM_AT)), &ctx()),
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
                    t("2019-12-19T18:47:00Z"),
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
        ("ALARM transition", Alarm, sample_alarm(), Events(vec![sample_disconnected("ws-bfh7rjnt9")])),
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
            Events(vec![sample_disconnected("ws-c2mx8p4qd")]),
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
            Events(vec![sample_disconnected("ws-c2mx8p4qd")]),
        ),
        ("SNS sample", Sns, SNS_SAMPLE.into(), Events(vec![sample_disconnected("ws-bfh7rjnt9")])),
        (
            "SNS event with two records",
            Sns,
            two_alarms.to_string(),
            Events(vec![
                sample_disconnected("ws-bfh7rjnt9"),
                // The period ends with the state change: the state change is kept.
                disconnected("ws-c2mx8p4qd", "2019-12-19T18:48:00Z", AlarmTime::StateChange),
            ]),
        ),
        ("SNS event without records", Sns, r#"{"Records": []}"#.into(), Events(vec![])),
        ("any: SNS", Any, SNS_SAMPLE.into(), Events(vec![sample_disconnected("ws-bfh7rjnt9")])),
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
        ("a string, any shape", Any, "\"hi\"".into(), fails("wrong type at (top level): expected object, found str")),
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
        ("record without Sns", Sns, edit(SNS_SAMPLE, remove("/Records/0/Sns")), fails("missing field Records[0].Sns")),
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
    let pending = |id: &WorkspaceId| (id.clone(), directory.clone(), "tester2".to_owned(), "wsb-vw0mb86zg".to_owned());
    let refused = ("ResourceExists.WorkSpace".to_owned(), "The specified user already has a WorkSpace.".to_owned());
    let alarm_at = t("2024-03-11T17:00:05.678Z");
    let topic = "arn:aws:sns:us-east-1:715757123466:Workspace_Disconnected_Topic";
    let alarm = |state: &str| {
        alarm_message("Workspace_Disconnected_id_ws-bfh7rjnt9", &a, state, "OK", alarm_at, minute_before(alarm_at), &c)
    };
    // The datapoint 16:59:00 quoted to the second, plus its 60-second period.
    let alarmed = Event::DisconnectAlarm {
        workspace_id: a.clone(),
        at: t("2024-03-11T17:00:00Z"),
        time_from: AlarmTime::ReasonText,
    };
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
        ("alarm: the end of the datapoint's period", Alarm, alarm("ALARM"), Events(vec![alarmed.clone()])),
        ("alarm back to OK", Alarm, alarm("OK"), Events(vec![])),
        ("SNS", Sns, sns.to_string(), Events(vec![alarmed.clone(); 2])),
        ("SNS, any shape", Any, sns.to_string(), Events(vec![alarmed; 2])),
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
        t("2019-12-19T18:46:00Z"),
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
    assert_eq!(cloudtrail_terminate_workspaces(&ctx(), at, &ids), cloudtrail_terminate_workspaces(&ctx(), at, &ids));
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
    let message = alarm_message("n", &ws("ws-bfh7rjnt9"), "ALARM", "OK", at, minute_before(at), &c);
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

/// What a disconnect time case must give: the time, and its source (for a fallback, a
/// part of the reason it names).
enum Source {
    Data,
    Text,
    Change,
    Fallback(&'static str),
}

/// The disconnect time of `message`, checked against `at` and `from`, every mismatch at once.
fn check_times<'a>(cases: impl IntoIterator<Item = (&'a str, String, &'a str, Source)>) {
    let mut failures = Vec::new();
    for (name, message, at, from) in cases {
        let got = parse_alarm_message(&message);
        let ok = match (&got, &from) {
            (Ok(Some(Event::DisconnectAlarm { at: got_at, time_from, .. })), _) if *got_at == t(at) => {
                match (time_from, &from) {
                    (AlarmTime::ReasonData, Source::Data)
                    | (AlarmTime::ReasonText, Source::Text)
                    | (AlarmTime::StateChange, Source::Change) => true,
                    (AlarmTime::Fallback(why), Source::Fallback(part)) => why.contains(part),
                    _ => false,
                }
            }
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{name}: expected {at} ({}), got {got:?}",
                match from {
                    Source::Data => "reason data".to_owned(),
                    Source::Text => "reason text".to_owned(),
                    Source::Change => "state change".to_owned(),
                    Source::Fallback(part) => format!("fallback naming {part:?}"),
                }
            ));
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

/// The structured state-reason data with its list of evaluated datapoints, as newer
/// "CloudWatch Alarm State Change" events and Lambda alarm actions carry it
/// (`state.reasonData`, a JSON text), for one datapoint at `start`.
fn reason_data(start: &str, period: u64) -> String {
    json!({
        "version": "1.0",
        "queryDate": "2019-12-19T18:47:07.120+0000",
        "startDate": start,
        "statistic": "Maximum",
        "period": period,
        "recentDatapoints": [1.0],
        "threshold": 1.0,
        "evaluatedDatapoints": [{ "timestamp": start, "sampleCount": 1.0, "value": 1.0 }],
    })
    .to_string()
}

/// The notification ministack 1.5.33 publishes when our alarm (Sum >= 1 over 60 s) fires,
/// as its `services/cloudwatch.py` (`_evaluate_alarm`, `_dispatch_alarm_actions`) writes
/// it with `json.dumps`: a reason without a datapoint time, a state change to the second.
const MINISTACK_MESSAGE: &str = r#"{"AlarmName": "Workspace_Disconnected_id_ws-bfh7rjnt9", "AlarmDescription": "blankslate: SessionDisconnect of ws-bfh7rjnt9", "AWSAccountId": "000000000000", "NewStateValue": "ALARM", "NewStateReason": "Threshold Crossed: Sum 1.0 GreaterThanOrEqualToThreshold 1.0", "StateChangeTime": "2026-12-03T09:41:00Z", "Region": "us-east-1", "OldStateValue": "INSUFFICIENT_DATA", "Trigger": {"MetricName": "SessionDisconnect", "Namespace": "AWS/WorkSpaces", "Statistic": "Sum", "Unit": null, "Period": 60, "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 1.0, "Dimensions": [{"Name": "WorkspaceId", "Value": "ws-bfh7rjnt9"}]}}"#;

#[test]
fn the_disconnect_time_is_the_end_of_the_evaluated_datapoints_period() {
    let alarm = |change: Box<dyn FnOnce(&mut Value)>| edit(&sample_alarm(), change);
    let reason = |text: &'static str| alarm(Box::new(set("/NewStateReason", json!(text))));
    let with_data = |data: Value| alarm(Box::new(set("/NewStateReasonData", data)));
    let crossed = |points: &str| {
        format!("Threshold Crossed: 1 out of the last 1 datapoints [{points}] was greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition).")
    };
    check_times([
        ("the AWS sample: text, 18:46:00 + 60 s", sample_alarm(), ALARM_DISCONNECT, Source::Text),
        (
            "reason data as JSON text (EventBridge's reasonData shape)",
            with_data(json!(reason_data("2019-12-19T18:46:00.000+0000", 60))),
            ALARM_DISCONNECT,
            Source::Data,
        ),
        (
            "reason data as an object (CloudWatch's Log Alarm SNS example)",
            with_data(serde_json::from_str(&reason_data("2019-12-19T18:46:00.000+0000", 60)).unwrap()),
            ALARM_DISCONNECT,
            Source::Data,
        ),
        (
            // The documented EventBridge sample's reasonData: startDate and period, no list.
            "reason data without evaluatedDatapoints (AWS's 2019 sample): the text",
            with_data(json!(
                "{\"version\":\"1.0\",\"queryDate\":\"2019-12-19T18:47:07.120+0000\",\"startDate\":\"2019-12-19T18:45:00.000+0000\",\"statistic\":\"Maximum\",\"period\":60,\"recentDatapoints\":[1.0],\"threshold\":1.0}"
            )),
            ALARM_DISCONNECT,
            Source::Text,
        ),
        (
            "reason data wins over the text",
            with_data(json!(reason_data("2019-12-19T18:45:00.000+0000", 60))),
            "2019-12-19T18:46:00Z",
            Source::Data,
        ),
        (
            "reason data's own period wins over Trigger.Period",
            with_data(json!(reason_data("2019-12-19T18:40:00.000+0000", 300))),
            "2019-12-19T18:45:00Z",
            Source::Data,
        ),
        (
            "reason data not JSON: the text",
            with_data(json!("{\"version\": \"1.0\", \"queryDate: \"2023-08-04")),
            ALARM_DISCONNECT,
            Source::Text,
        ),
        (
            "reason data without datapoints: the text",
            with_data(json!({ "version": "1.0", "evaluatedDatapoints": [] })),
            ALARM_DISCONNECT,
            Source::Text,
        ),
        (
            "reason data with a garbled timestamp: the text",
            with_data(json!({ "evaluatedDatapoints": [{ "timestamp": "2019-12-19 18:45" }] })),
            ALARM_DISCONNECT,
            Source::Text,
        ),
        ("reason data a number: the text", with_data(json!(7)), ALARM_DISCONNECT, Source::Text),
        (
            "several datapoints: the latest",
            alarm(Box::new(set(
                "/NewStateReason",
                json!(crossed("1.0 (19/12/19 18:44:00), 1.0 (19/12/19 18:45:00), 1.0 (19/12/19 18:43:00)")),
            ))),
            "2019-12-19T18:46:00Z",
            Source::Text,
        ),
        (
            // aws-lambda-go's SNS sample: a datapoint at 17:43:27 and the change 123 ms later.
            "the period ends after the state change: the state change",
            reason("Threshold Crossed: 1 out of the last 1 datapoints [1234.0 (19/12/19 18:47:07)] was greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition)."),
            ALARM_AT,
            Source::Change,
        ),
        (
            "a datapoint later than StateChangeTime",
            reason("Threshold Crossed: 1 out of the last 1 datapoints [1.0 (19/12/19 18:50:00)] was greater."),
            ALARM_AT,
            Source::Fallback("later than StateChangeTime"),
        ),
        (
            "ministack 1.5.33's notification: the state change",
            MINISTACK_MESSAGE.to_owned(),
            "2026-12-03T09:41:00Z",
            Source::Fallback("NewStateReason quotes no datapoint time"),
        ),
        ("garbage reason", reason("(((( )) (19/19/19 99:99:99) (é"), ALARM_AT, Source::Fallback("quotes no datapoint")),
        ("an impossible date", reason("[1.0 (31/02/19 18:46:00)]"), ALARM_AT, Source::Fallback("quotes no datapoint")),
        ("unterminated", reason("[1.0 (19/12/19 18:46:00"), ALARM_AT, Source::Fallback("quotes no datapoint")),
        ("empty reason", reason(""), ALARM_AT, Source::Fallback("quotes no datapoint")),
        (
            "no reason at all",
            alarm(Box::new(remove("/NewStateReason"))),
            ALARM_AT,
            Source::Fallback("missing field NewStateReason"),
        ),
        (
            "reason not a string",
            alarm(Box::new(set("/NewStateReason", json!(["x"])))),
            ALARM_AT,
            Source::Fallback("expected string"),
        ),
        (
            "no Trigger.Period",
            alarm(Box::new(remove("/Trigger/Period"))),
            ALARM_AT,
            Source::Fallback("no valid Trigger.Period"),
        ),
        (
            "Trigger.Period zero",
            alarm(Box::new(set("/Trigger/Period", json!(0)))),
            ALARM_AT,
            Source::Fallback("no valid Trigger.Period"),
        ),
        (
            "Trigger.Period a string",
            alarm(Box::new(set("/Trigger/Period", json!("60")))),
            ALARM_AT,
            Source::Fallback("no valid Trigger.Period"),
        ),
    ]);
}

#[test]
fn the_emitted_reason_quotes_the_datapoint_as_cloudwatch_does() {
    let at = t("2026-02-12T15:32:31.250Z");
    let message = alarm_message("n", &ws("ws-bfh7rjnt9"), "ALARM", "OK", at, t("2026-02-12T15:31:00Z"), &ctx());
    let value: Value = serde_json::from_str(&message).unwrap();
    let reason = value["NewStateReason"].as_str().unwrap();
    assert!(reason.contains("[1.0 (12/02/26 15:31:00)]"), "{reason}");
    assert_eq!(value["StateChangeTime"], json!("2026-02-12T15:32:31.250+0000"));
    let parsed = parse_alarm_message(&message).unwrap();
    let expected = disconnected("ws-bfh7rjnt9", "2026-02-12T15:32:00Z", AlarmTime::ReasonText);
    assert_eq!(parsed, Some(expected));
}
