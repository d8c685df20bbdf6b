//! What the emulator's tests share: the real WorkSpaces client pointed at an emulator, a
//! raw HTTP client for what an SDK will not send, and waiting on the wall clock.

#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_workspaces::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_workspaces::types::{Tag, WorkspaceRequest};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const DIRECTORY: &str = "d-9067083b4b";
pub const BUNDLE: &str = "wsb-clj85qzj1";

/// The real WorkSpaces client, as the adapters configure it, aimed at `url`.
pub fn workspaces(url: &str) -> aws_sdk_workspaces::Client {
    let config = aws_sdk_workspaces::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    aws_sdk_workspaces::Client::from_conf(config)
}

/// A plain request for `user` in the test directory.
pub fn request(user: &str) -> WorkspaceRequest {
    WorkspaceRequest::builder().directory_id(DIRECTORY).user_name(user).bundle_id(BUNDLE).build().unwrap()
}

pub fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

/// Creates one WorkSpace per user in one call; returns their IDs in order.
pub async fn create(client: &aws_sdk_workspaces::Client, users: &[&str]) -> Vec<String> {
    let out = client
        .create_workspaces()
        .set_workspaces(Some(users.iter().map(|u| request(u)).collect()))
        .send()
        .await
        .expect("CreateWorkspaces");
    assert!(out.failed_requests().is_empty(), "{:?}", out.failed_requests());
    out.pending_requests().iter().map(|w| w.workspace_id().unwrap().to_owned()).collect()
}

/// The state DescribeWorkspaces reports for `id` (None: not returned).
pub async fn state(client: &aws_sdk_workspaces::Client, id: &str) -> Option<String> {
    let out = client.describe_workspaces().workspace_ids(id).send().await.expect("DescribeWorkspaces");
    out.workspaces().first().and_then(|w| w.state()).map(|s| s.as_str().to_owned())
}

/// Polls `check` every 50 ms until it returns Some, for at most `limit`.
pub async fn wait_for<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One HTTP/1.1 request over a fresh connection; returns (status, JSON body, raw head).
pub async fn http(url: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value, String) {
    let authority = url.strip_prefix("http://").expect("an http URL");
    let mut stream = tokio::net::TcpStream::connect(authority).await.expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body).await.expect("write body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let body = if body.is_empty() { Value::Null } else { serde_json::from_str(body).expect("a JSON body") };
    (status, body, head.to_owned())
}

/// A WorkSpaces call with a raw body.
pub async fn aws_raw(url: &str, target: Option<&str>, body: &str) -> (u16, Value, String) {
    let mut headers = vec![("Content-Type", "application/x-amz-json-1.1")];
    if let Some(target) = target {
        headers.push(("X-Amz-Target", target));
    }
    http(url, "POST", "/", &headers, body.as_bytes()).await
}

/// A control call; returns (status, body).
pub async fn control(url: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, body, _) =
        http(url, "POST", path, &[("Content-Type", "application/json")], body.to_string().as_bytes()).await;
    (status, body)
}

/// `GET /_control/...`.
pub async fn control_get(url: &str, path: &str) -> Value {
    let (status, body, _) = http(url, "GET", path, &[], b"").await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}
