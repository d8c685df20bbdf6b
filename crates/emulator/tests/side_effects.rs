//! What the emulator sends out: session datapoints to CloudWatch and events to the three
//! functions by Lambda Invoke.
//!
//! Two tests need ministack (`bash scripts/emulators start && source .emulators/env`, or
//! the whole suite with `bash scripts/test`) and fail, saying so, when it is not there.
//! The others run against a recording fake Invoke endpoint and a closed port.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_workspaces::types::TerminateRequest;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use blankslate_core::events::{parse_eventbridge, Event};
use blankslate_emulator::{start, FunctionNames, Options, Running};
use common::*;
use serde_json::{json, Value};

fn ministack() -> String {
    std::env::var("BLANKSLATE_MINISTACK").unwrap_or_else(|_| {
        panic!(
            "BLANKSLATE_MINISTACK is not set: this test needs ministack. Start it with \
             `bash scripts/emulators start && source .emulators/env` (reuse it if .emulators/env exists), \
             or run the whole suite with `bash scripts/test`."
        )
    })
}

/// Something unique to this run, for names in a shared ministack.
fn unique() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{}-{nanos}", std::process::id())
}

async fn available(emulator: &Running, users: &[&str]) -> Vec<String> {
    let client = workspaces(&emulator.url());
    let ids = create(&client, users).await;
    for id in &ids {
        wait_for(Duration::from_secs(10), "AVAILABLE", || async {
            (state(&client, id).await.as_deref() == Some("AVAILABLE")).then_some(())
        })
        .await;
    }
    ids
}

async fn settle(emulator: &Running, done: impl Fn(&blankslate_emulator::EffectCounts) -> bool) {
    wait_for(Duration::from_secs(30), "the side effects", || async {
        let counts = emulator.effects();
        done(&counts).then_some(())
    })
    .await;
}

fn functions(prefix: &str) -> FunctionNames {
    FunctionNames {
        alarm_create: format!("{prefix}Workspace_Alarm_Create"),
        alarm_delete: format!("{prefix}Workspace_Alarm_Del"),
        term_rebuild: format!("{prefix}Workspace_Term_Rebuild"),
    }
}

/// One recorded Invoke: (function name from the path, X-Amz-Invocation-Type, event, when).
type Recorded = Arc<Mutex<Vec<(String, String, Value, Instant)>>>;

/// A stand-in for the Lambda Invoke API on loopback that records each call.
async fn fake_lambda() -> (String, Recorded) {
    let recorded: Recorded = Arc::default();
    let sink = recorded.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let sink = sink.clone();
        async move {
            let name = uri
                .path()
                .strip_prefix("/2015-03-31/functions/")
                .and_then(|rest| rest.strip_suffix("/invocations"))
                .unwrap_or("?")
                .to_owned();
            let kind = headers.get("x-amz-invocation-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let event = serde_json::from_slice(&body).unwrap_or(Value::Null);
            sink.lock().unwrap().push((name, kind, event, Instant::now()));
            StatusCode::ACCEPTED
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, recorded)
}

#[tokio::test]
async fn events_reach_each_role_at_a_lambda_invoke_endpoint() {
    let (lambda, recorded) = fake_lambda().await;
    let names = functions("t-");
    let options = Options {
        create: Duration::from_millis(200),
        cloudtrail_delay: Duration::from_millis(500),
        lambda_endpoint: Some(lambda),
        functions: names.clone(),
        ..Options::default()
    };
    let emulator = start(options).await.unwrap();
    let client = workspaces(&emulator.url());
    let created_at = Instant::now();
    let ids = available(&emulator, &["alice", "bob"]).await;
    settle(&emulator, |c| c.invocations_sent == 1).await;

    // One batch call, one CloudTrail event naming both new WorkSpaces, after the delay.
    let calls = recorded.lock().unwrap().clone();
    let (name, kind, event, at) = &calls[0];
    assert_eq!((name.as_str(), kind.as_str()), (names.alarm_create.as_str(), "Event"));
    assert!(at.duration_since(created_at) >= Duration::from_millis(450), "delivered before the CloudTrail delay");
    assert_eq!(event["detail-type"], "AWS API Call via CloudTrail");
    assert_eq!(event["detail"]["eventName"], "CreateWorkspaces");
    let pending: Vec<&str> = event["detail"]["responseElements"]["pendingRequests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["workspaceId"].as_str().unwrap())
        .collect();
    assert_eq!(pending, [ids[0].as_str(), ids[1].as_str()]);
    // Our own parser reads what we emitted.
    match parse_eventbridge(event).unwrap() {
        Some(Event::WorkspacesCreated { ids: parsed, .. }) => {
            assert_eq!(parsed.iter().map(|id| id.as_str()).collect::<Vec<_>>(), pending)
        }
        other => panic!("{other:?}"),
    }

    // A login: "WorkSpaces Access" to the rebuild function. A disconnect sends no event.
    control(&emulator.url(), "/_control/connect", json!({"workspace_id": ids[0]})).await;
    control(&emulator.url(), "/_control/disconnect", json!({"workspace_id": ids[0]})).await;
    settle(&emulator, |c| c.invocations_sent == 2).await;
    let (name, _, event, _) = recorded.lock().unwrap()[1].clone();
    assert_eq!(name, names.term_rebuild);
    assert_eq!(event["detail-type"], "WorkSpaces Access");
    assert_eq!(event["detail"]["workspaceId"], ids[0].as_str());
    match parse_eventbridge(&event).unwrap() {
        Some(Event::UserLoggedIn { workspace_id, .. }) => assert_eq!(workspace_id.as_str(), ids[0]),
        other => panic!("{other:?}"),
    }

    // TerminateWorkspaces: the CloudTrail event to Alarm_Del.
    client
        .terminate_workspaces()
        .terminate_workspace_requests(TerminateRequest::builder().workspace_id(&ids[1]).build().unwrap())
        .send()
        .await
        .unwrap();
    settle(&emulator, |c| c.invocations_sent == 3).await;
    let (name, _, event, _) = recorded.lock().unwrap()[2].clone();
    assert_eq!(name, names.alarm_delete);
    assert_eq!(event["detail"]["eventName"], "TerminateWorkspaces");
    match parse_eventbridge(&event).unwrap() {
        Some(Event::WorkspacesTerminated { ids: parsed, .. }) => assert_eq!(parsed[0].as_str(), ids[1]),
        other => panic!("{other:?}"),
    }

    let counts = emulator.effects();
    assert_eq!((counts.invocations_failed, counts.queued), (0, 0), "{counts:?}");
    assert_eq!(counts.invoked.values().sum::<u64>(), 3);
    // No CloudWatch endpoint: the two datapoints were dropped, and counted.
    assert_eq!(counts.datapoints_skipped, 2, "{counts:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn failed_side_effects_are_counted_and_the_api_keeps_answering() {
    // A port nobody listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let options = Options {
        create: Duration::from_millis(200),
        cloudwatch_endpoint: Some(closed.clone()),
        lambda_endpoint: Some(closed),
        ..Options::default()
    };
    let emulator = start(options).await.unwrap();
    let ids = available(&emulator, &["alice"]).await;
    control(&emulator.url(), "/_control/connect", json!({"workspace_id": ids[0]})).await;
    control(&emulator.url(), "/_control/disconnect", json!({"workspace_id": ids[0]})).await;
    settle(&emulator, |c| c.queued == 0 && c.invocations_failed == 2 && c.datapoints_failed == 2).await;

    let counts = control_get(&emulator.url(), "/_control/effects").await;
    assert_eq!(counts["invocations_sent"], 0);
    assert_eq!(counts["datapoints_sent"], 0);
    assert!(counts["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{counts}");
    // Still serving.
    let client = workspaces(&emulator.url());
    assert_eq!(state(&client, &ids[0]).await.as_deref(), Some("AVAILABLE"));
    emulator.shutdown().await;
}

fn cloudwatch(endpoint: &str) -> aws_sdk_cloudwatch::Client {
    use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    aws_sdk_cloudwatch::Client::from_conf(config)
}

/// Sum of `metric` for `id` over the last and next ten minutes.
async fn datapoints(client: &aws_sdk_cloudwatch::Client, metric: &str, id: &str) -> f64 {
    let now = SystemTime::now();
    let out = client
        .get_metric_statistics()
        .namespace("AWS/WorkSpaces")
        .metric_name(metric)
        .dimensions(Dimension::builder().name("WorkspaceId").value(id).build())
        .start_time((now - Duration::from_secs(600)).into())
        .end_time((now + Duration::from_secs(600)).into())
        .period(60)
        .statistics(Statistic::Sum)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetMetricStatistics: {}", aws_sdk_cloudwatch::error::DisplayErrorContext(e)));
    out.datapoints().iter().filter_map(|d| d.sum()).sum()
}

#[tokio::test]
async fn a_disconnect_reaches_cloudwatch_in_ministack() {
    let endpoint = ministack();
    let options = Options {
        create: Duration::from_millis(200),
        cloudwatch_endpoint: Some(endpoint.clone()),
        ..Options::default()
    };
    let emulator = start(options).await.unwrap();
    let ids = available(&emulator, &["alice"]).await;
    let id = &ids[0];
    control(&emulator.url(), "/_control/connect", json!({"workspace_id": id})).await;
    control(&emulator.url(), "/_control/disconnect", json!({"workspace_id": id})).await;
    settle(&emulator, |c| c.queued == 0 && c.datapoints_sent + c.datapoints_failed == 2).await;
    let counts = emulator.effects();
    assert_eq!(counts.datapoints_sent, 2, "{counts:?}");

    let client = cloudwatch(&endpoint);
    let disconnects = wait_for(Duration::from_secs(20), "the SessionDisconnect datapoint", || async {
        let sum = datapoints(&client, "SessionDisconnect", id).await;
        (sum >= 1.0).then_some(sum)
    })
    .await;
    assert_eq!(disconnects, 1.0);
    assert_eq!(datapoints(&client, "ConnectionSuccess", id).await, 1.0);
    emulator.shutdown().await;
}

/// A Python function that stores each event it gets, with its role, in a DynamoDB table.
fn recorder_zip() -> Vec<u8> {
    let code = r#"
import json, os, uuid
import boto3

def handler(event, context):
    boto3.client("dynamodb").put_item(
        TableName=os.environ["TABLE"],
        Item={"id": {"S": str(uuid.uuid4())}, "role": {"S": os.environ["ROLE"]}, "event": {"S": json.dumps(event)}},
    )
"#;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("index.py", options).unwrap();
    zip.write_all(code.as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

#[tokio::test]
async fn events_invoke_real_functions_in_ministack() {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};

    let endpoint = ministack();
    let run = unique();
    let table = format!("emulator-events-{run}");
    let dynamo = {
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(&endpoint)
                .credentials_provider(Credentials::new("test", "test", None, None, "test"))
                .build(),
        )
    };
    dynamo
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("id").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("CreateTable in ministack");

    let lambda = {
        use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
        aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(&endpoint)
                .credentials_provider(Credentials::new("test", "test", None, None, "test"))
                .build(),
        )
    };
    let names = functions(&format!("e{run}-"));
    let zip = recorder_zip();
    for (name, role) in
        [(&names.alarm_create, "create"), (&names.alarm_delete, "delete"), (&names.term_rebuild, "rebuild")]
    {
        let variables = [("TABLE".to_owned(), table.clone()), ("ROLE".to_owned(), role.to_owned())].into();
        lambda
            .create_function()
            .function_name(name)
            .runtime(Runtime::Python312)
            .handler("index.handler")
            .role("arn:aws:iam::000000000000:role/emulator-test")
            .timeout(30)
            .code(FunctionCode::builder().zip_file(aws_sdk_lambda::primitives::Blob::new(zip.clone())).build())
            .environment(Environment::builder().set_variables(Some(variables)).build())
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateFunction {name}: {}", aws_sdk_lambda::error::DisplayErrorContext(e)));
    }

    let options = Options {
        create: Duration::from_millis(200),
        lambda_endpoint: Some(endpoint.clone()),
        functions: names.clone(),
        ..Options::default()
    };
    let emulator = start(options).await.unwrap();
    let ids = available(&emulator, &["alice"]).await;
    let id = &ids[0];
    control(&emulator.url(), "/_control/connect", json!({"workspace_id": id})).await;
    workspaces(&emulator.url())
        .terminate_workspaces()
        .terminate_workspace_requests(TerminateRequest::builder().workspace_id(id).build().unwrap())
        .send()
        .await
        .unwrap();
    settle(&emulator, |c| c.queued == 0 && c.invocations_sent + c.invocations_failed == 3).await;
    let counts = emulator.effects();
    assert_eq!(counts.invocations_sent, 3, "{counts:?}");

    // Each function ran with the event meant for its role.
    let stored = wait_for(Duration::from_secs(60), "three stored events", || async {
        let items = dynamo.scan().table_name(&table).send().await.expect("Scan").items().to_vec();
        (items.len() >= 3).then_some(items)
    })
    .await;
    let mut by_role: Vec<(String, Value)> = stored
        .iter()
        .map(|item| {
            let role = item["role"].as_s().unwrap().clone();
            let event: Value = serde_json::from_str(item["event"].as_s().unwrap()).unwrap();
            (role, event)
        })
        .collect();
    by_role.sort_by(|a, b| a.0.cmp(&b.0));
    let roles: Vec<&str> = by_role.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(roles, ["create", "delete", "rebuild"]);
    assert_eq!(by_role[0].1["detail"]["eventName"], "CreateWorkspaces");
    assert_eq!(by_role[0].1["detail"]["responseElements"]["pendingRequests"][0]["workspaceId"], id.as_str());
    assert_eq!(by_role[1].1["detail"]["eventName"], "TerminateWorkspaces");
    assert_eq!(by_role[2].1["detail-type"], "WorkSpaces Access");
    assert_eq!(by_role[2].1["detail"]["workspaceId"], id.as_str());
    emulator.shutdown().await;

    for name in [&names.alarm_create, &names.alarm_delete, &names.term_rebuild] {
        let _ = lambda.delete_function().function_name(name).send().await;
    }
    let _ = dynamo.delete_table().table_name(&table).send().await;
}
