//! The adapters against a tiny hand-written HTTP/1.1 server on loopback, for what no
//! emulator does on demand: throttling, silence, 5xx, answers our validation refuses,
//! connection states, and CloudWatch refusing a batch delete for one missing alarm.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use blankslate_aws::{AwsWorkspaces, CloudWatchAlarms, Policy};
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::observe::{ConnectionState, WorkspaceState};
use blankslate_core::spec::WorkspaceSpec;
use blankslate_core::Timestamp;
use blankslate_handlers::ports::{Alarms, ErrorKind, Workspaces};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request the stub received.
#[derive(Clone, Debug)]
struct Request {
    /// `X-Amz-Target` (JSON protocols) or the path (RPC v2 CBOR).
    target: String,
    body: Vec<u8>,
}

/// What the stub does with a request.
enum Reply {
    /// Answer with this status, content type and body.
    Answer(u16, &'static str, Vec<u8>),
    /// Read the request and never answer.
    Silence,
}

type Responder = dyn Fn(usize, &Request) -> Reply + Send + Sync;

/// A server on 127.0.0.1:<free port> answering each request with `respond(n, request)`,
/// `n` counting requests from 0. It lives as long as the test's runtime.
struct Stub {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Stub {
    async fn start(respond: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let respond: Arc<Responder> = Arc::new(respond);
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, seen.clone(), respond.clone()));
            }
        });
        Stub { url, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// Serves requests on one connection (the SDK keeps connections alive) until it closes.
async fn serve(mut stream: TcpStream, seen: Arc<Mutex<Vec<Request>>>, respond: Arc<Responder>) {
    let mut buffer = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let header = |name: &str| {
            head.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
            })
        };
        let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        while buffer.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let request = Request {
            target: header("x-amz-target").unwrap_or(path),
            body: buffer[head_end..head_end + length].to_vec(),
        };
        buffer.drain(..head_end + length);
        let n = {
            let mut seen = seen.lock().expect("request log");
            seen.push(request.clone());
            seen.len() - 1
        };
        match respond(n, &request) {
            Reply::Silence => std::future::pending::<()>().await,
            Reply::Answer(status, content_type, body) => {
                let head = format!(
                    "HTTP/1.1 {status} Stub\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                     smithy-protocol: rpc-v2-cbor\r\nx-amzn-requestid: stub-{n}\r\n\r\n",
                    body.len()
                );
                if stream.write_all(head.as_bytes()).await.is_err() || stream.write_all(&body).await.is_err() {
                    return;
                }
            }
        }
    }
}

const JSON: &str = "application/x-amz-json-1.1";

fn json(status: u16, body: &str) -> Reply {
    Reply::Answer(status, JSON, body.as_bytes().to_vec())
}

fn throttled() -> Reply {
    json(400, r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#)
}

/// Short waits, production attempt count: what the production policy does, in seconds.
fn quick_policy() -> Policy {
    Policy {
        initial_backoff: Duration::from_millis(10),
        attempt_timeout: Duration::from_millis(500),
        operation_timeout: Duration::from_secs(3),
        ..Policy::default()
    }
}

async fn workspaces(stub: &Stub, policy: &Policy) -> AwsWorkspaces {
    AwsWorkspaces::new(&common::sdk_config_with(&stub.url, policy).await)
}

fn ids(n: usize) -> Vec<WorkspaceId> {
    (0..n).map(|i| WorkspaceId::new(format!("ws-{i:09}")).expect("valid")).collect()
}

/// A DescribeWorkspaces answer with one valid WorkSpace and two our validation refuses.
const DESCRIBED: &str = r#"{"Workspaces":[
    {"WorkspaceId":"ws-000000000","DirectoryId":"d-9067083b4b","UserName":"tester2","BundleId":"wsb-vw0mb86zg",
     "State":"AVAILABLE","VolumeEncryptionKey":"alias/ws","RootVolumeEncryptionEnabled":true,
     "WorkspaceProperties":{"RunningMode":"AUTO_STOP","RunningModeAutoStopTimeoutInMinutes":60}},
    {"WorkspaceId":"ws-000000001","DirectoryId":"d-9067083b4b","UserName":"tester3","BundleId":"wsb-vw0mb86zg",
     "State":"AVAILABLE","RootVolumeEncryptionEnabled":true},
    {"WorkspaceId":"ws-000000002","DirectoryId":"d-9067083b4b","UserName":"tester4","BundleId":"wsb-vw0mb86zg",
     "State":"HIBERNATING"}
]}"#;

#[tokio::test]
async fn throttling_is_retried_and_workspaces_failing_validation_are_skipped() {
    let stub = Stub::start(|n, _| if n < 2 { throttled() } else { json(200, DESCRIBED) }).await;
    // The production policy (`with_policy`): its jittered back-off waits about 1.5 s here.
    let ws = AwsWorkspaces::new(&common::sdk_config(&stub.url).await);
    let started = Instant::now();
    let found = ws.describe(&ids(3)).await.expect("Ok after two throttles");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert_eq!(stub.requests().len(), 3, "two throttled attempts, then the answer");
    assert!(stub.requests().iter().all(|r| r.target == "WorkspacesService.DescribeWorkspaces"));
    // The flag without a key and the unknown state are skipped; the call still succeeds.
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].id.as_str(), "ws-000000000");
    assert_eq!(found[0].state, WorkspaceState::Available);
}

#[tokio::test]
async fn constant_throttling_ends_as_throttled_after_five_attempts() {
    let stub = Stub::start(|_, _| throttled()).await;
    let err = workspaces(&stub, &quick_policy()).await.describe_all().await.expect_err("throttled");
    assert_eq!(err.kind, ErrorKind::Throttled, "{err}");
    assert_eq!(err.operation, "DescribeWorkspaces");
    assert!(err.message.contains("ThrottlingException") && err.message.contains("Rate exceeded"), "{err}");
    assert_eq!(stub.requests().len(), 5, "the policy's five attempts");
}

#[tokio::test]
async fn server_errors_are_retried_then_unavailable_and_refusals_are_not_retried() {
    let stub = Stub::start(|_, _| json(503, r#"{"__type":"ServiceUnavailableException","message":"busy"}"#)).await;
    let err = workspaces(&stub, &quick_policy()).await.terminate(&ids(2)).await.expect_err("unavailable");
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    assert!(err.message.contains("ServiceUnavailableException"), "{err}");
    assert_eq!(stub.requests().len(), 5);

    let refused = r#"{"__type":"InvalidParameterValuesException","message":"bad bundle"}"#;
    let stub = Stub::start(move |_, _| json(400, refused)).await;
    let err = workspaces(&stub, &quick_policy()).await.terminate(&ids(2)).await.expect_err("rejected");
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    assert!(err.message.contains("InvalidParameterValuesException: bad bundle"), "{err}");
    assert_eq!(stub.requests().len(), 1, "a refusal is final");

    let stub = Stub::start(|_, _| json(200, "{not json")).await;
    let err = workspaces(&stub, &quick_policy()).await.describe_all().await.expect_err("unreadable");
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
}

#[tokio::test]
async fn a_silent_endpoint_is_unavailable_within_the_operation_timeout() {
    let stub = Stub::start(|_, _| Reply::Silence).await;
    let policy = quick_policy();
    let started = Instant::now();
    let err = workspaces(&stub, &policy).await.describe(&ids(1)).await.expect_err("timed out");
    let elapsed = started.elapsed();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    assert!(elapsed < policy.operation_timeout + Duration::from_secs(2), "took {elapsed:?}");
    assert!(stub.requests().len() >= 2, "attempts time out and are retried: {}", stub.requests().len());
}

#[tokio::test]
async fn a_closed_port_is_unavailable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let config = common::sdk_config_with(&url, &quick_policy()).await;
    let err = AwsWorkspaces::new(&config).describe_all().await.expect_err("nothing listens");
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
}

#[tokio::test]
async fn oversized_batches_are_refused_and_empty_ones_answered_without_a_call() {
    let stub = Stub::start(|_, _| json(200, "{}")).await;
    let ws = workspaces(&stub, &quick_policy()).await;
    let spec = WorkspaceSpec::new(
        DirectoryId::new("d-9067083b4b").expect("valid"),
        UserName::new("tester2").expect("valid"),
        BundleId::new("wsb-vw0mb86zg").expect("valid"),
    );
    let too_many = ids(26);
    let errors = [
        ws.describe(&too_many).await.map(|_| ()),
        ws.connection_status(&too_many).await.map(|_| ()),
        ws.terminate(&too_many).await.map(|_| ()),
        ws.create(&vec![spec; 26]).await.map(|_| ()),
    ];
    for result in errors {
        let err = result.expect_err("26 items");
        assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
        assert!(err.message.contains("26") && err.message.contains("25"), "{err}");
    }
    // Empty: nothing to do, and above all no unfiltered DescribeWorkspaces of the fleet.
    assert!(ws.describe(&[]).await.expect("empty").is_empty());
    assert!(ws.connection_status(&[]).await.expect("empty").is_empty());
    assert!(ws.terminate(&[]).await.expect("empty").is_empty());
    assert_eq!(ws.create(&[]).await.expect("empty"), Default::default());
    assert!(stub.requests().is_empty(), "no call was made: {:?}", stub.requests());
}

#[tokio::test]
async fn connection_states_and_timestamps_are_read() {
    let answer = r#"{"WorkspacesConnectionStatus":[
        {"WorkspaceId":"ws-000000000","ConnectionState":"CONNECTED",
         "ConnectionStateCheckTimestamp":1700000000.123,"LastKnownUserConnectionTimestamp":1699999000},
        {"WorkspaceId":"ws-000000001","ConnectionState":"DISCONNECTED","ConnectionStateCheckTimestamp":1700000060},
        {"WorkspaceId":"ws-000000002","ConnectionState":"UNKNOWN"},
        {"WorkspaceId":"ws-000000003","ConnectionState":"ASLEEP"},
        {"WorkspaceId":"nonsense","ConnectionState":"CONNECTED"}
    ]}"#;
    let stub = Stub::start(move |_, _| json(200, answer)).await;
    let seen = workspaces(&stub, &quick_policy()).await.connection_status(&ids(4)).await.expect("status");
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].target, "WorkspacesService.DescribeWorkspacesConnectionStatus");
    let sent: serde_json::Value = serde_json::from_slice(&requests[0].body).expect("a JSON request");
    assert_eq!(sent["WorkspaceIds"].as_array().map(Vec::len), Some(4), "{sent}");

    assert_eq!(seen.len(), 3, "the unknown state and the bad ID are skipped: {seen:?}");
    assert_eq!(seen[0].state, ConnectionState::Connected);
    assert_eq!(seen[0].checked_at, Some(Timestamp::from_millis(1_700_000_000_123)));
    assert_eq!(seen[0].last_user_connection, Some(Timestamp::from_millis(1_699_999_000_000)));
    assert_eq!(seen[1].state, ConnectionState::Disconnected);
    assert_eq!(seen[1].last_user_connection, None);
    assert_eq!(seen[2].state, ConnectionState::Unknown);
    assert_eq!(seen[2].checked_at, None);
}

/// Hand-encoded CBOR (RPC v2 CBOR is CloudWatch's protocol): a map of short text strings.
fn cbor_map(entries: &[(&str, &str)]) -> Vec<u8> {
    fn text(out: &mut Vec<u8>, s: &str) {
        assert!(s.len() < 256, "short strings only");
        if s.len() < 24 {
            out.push(0x60 | s.len() as u8);
        } else {
            out.extend_from_slice(&[0x78, s.len() as u8]);
        }
        out.extend_from_slice(s.as_bytes());
    }
    assert!(entries.len() < 24);
    let mut out = vec![0xa0 | entries.len() as u8];
    for (k, v) in entries {
        text(&mut out, k);
        text(&mut out, v);
    }
    out
}

fn names_in(body: &[u8]) -> usize {
    body.windows(b"Workspace_Disconnected_id_".len()).filter(|w| *w == b"Workspace_Disconnected_id_").count()
}

#[tokio::test]
async fn a_batch_delete_refused_for_one_missing_alarm_falls_back_to_one_by_one() {
    let missing = "ws-000000001";
    let stub = Stub::start(move |_, request| {
        let names = names_in(&request.body);
        let names_missing = request.body.windows(missing.len()).any(|w| w == missing.as_bytes());
        if names_missing {
            let body = cbor_map(&[("__type", "ResourceNotFound"), ("message", "Alarm not found")]);
            Reply::Answer(404, "application/cbor", body)
        } else if names >= 1 {
            Reply::Answer(200, "application/cbor", cbor_map(&[]))
        } else {
            Reply::Answer(400, "application/cbor", cbor_map(&[("__type", "ValidationError")]))
        }
    })
    .await;
    let config = common::sdk_config_with(&stub.url, &quick_policy()).await;
    let alarms = CloudWatchAlarms::new(&config, "arn:aws:sns:us-east-1:123456789012:topic".into());

    alarms.delete_disconnect_alarms(&ids(3)).await.expect("a missing alarm is not an error");
    let requests = stub.requests();
    assert!(requests[0].target.ends_with("/operation/DeleteAlarms"), "{}", requests[0].target);
    let per_request: Vec<usize> = requests.iter().map(|r| names_in(&r.body)).collect();
    assert_eq!(per_request, [3, 1, 1, 1], "the batch, then each alarm alone");
}

#[tokio::test]
async fn alarms_are_deleted_one_hundred_per_call() {
    let stub = Stub::start(|_, _| Reply::Answer(200, "application/cbor", cbor_map(&[]))).await;
    let config = common::sdk_config_with(&stub.url, &quick_policy()).await;
    let alarms = CloudWatchAlarms::new(&config, "arn:aws:sns:us-east-1:123456789012:topic".into());
    alarms.delete_disconnect_alarms(&ids(250)).await.expect("delete");
    let per_request: Vec<usize> = stub.requests().iter().map(|r| names_in(&r.body)).collect();
    assert_eq!(per_request, [100, 100, 50]);
}
