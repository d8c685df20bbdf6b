//! The emulator's WorkSpaces API limit: `ThrottlingException` in the real awsJson 1.1
//! error shape, shared and per-operation buckets, and the limit set, changed, lifted and
//! counted through `/_control/limit` and `/_control/stats`.

mod common;

use std::time::Duration;

use aws_sdk_workspaces::config::retry::RetryConfig;
use aws_sdk_workspaces::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_workspaces::error::ProvideErrorMetadata;
use blankslate_emulator::{client, start, Options};
use blankslate_sim::limits::ApiLimits;
use common::*;
use serde_json::json;

const DESCRIBE: &str = "WorkspacesService.DescribeWorkspaces";
const TAGS: &str = "WorkspacesService.DescribeTags";
const DESCRIBE_BODY: &str = r#"{"WorkspaceIds": ["ws-abcd12345"]}"#;
const TAGS_BODY: &str = r#"{"ResourceId": "ws-abcd12345"}"#;

fn limit(rate_per_second: f64, burst: f64, per_operation: bool) -> ApiLimits {
    ApiLimits { rate_per_second, burst, per_operation, changes: vec![] }
}

async fn limited(limit: ApiLimits) -> blankslate_emulator::Running {
    start(Options { api_limit: Some(limit), ..Options::default() }).await.expect("the emulator starts")
}

/// Status codes of `n` DescribeWorkspaces calls in a row.
async fn describe_statuses(url: &str, n: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        statuses.push(aws_raw(url, Some(DESCRIBE), DESCRIBE_BODY).await.0);
    }
    statuses
}

#[tokio::test]
async fn beyond_the_burst_calls_get_throttling_exception_in_the_aws_shape() {
    let emulator = limited(limit(0.25, 2.0, false)).await;
    let url = emulator.url();
    assert_eq!(describe_statuses(&url, 2).await, [200, 200], "the burst goes through");
    let (status, body, head) = aws_raw(&url, Some(DESCRIBE), DESCRIBE_BODY).await;
    assert_eq!(status, 400);
    assert_eq!(body, json!({ "__type": "ThrottlingException", "message": "Rate exceeded" }));
    let head = head.to_ascii_lowercase();
    assert!(head.contains("x-amzn-errortype: throttlingexception"), "{head}");
    assert!(head.contains("content-type: application/x-amz-json-1.1"), "{head}");
    assert!(head.contains("x-amzn-requestid: "), "{head}");
    // Throttled before its input is read: even a malformed call is only throttled.
    assert_eq!(aws_raw(&url, Some(DESCRIBE), "{").await.1["__type"], "ThrottlingException");

    // The real client sees the code and message (retries off, so its first answer).
    let config = aws_sdk_workspaces::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&url)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    let err = aws_sdk_workspaces::Client::from_conf(config)
        .describe_workspaces()
        .workspace_ids("ws-abcd12345")
        .send()
        .await
        .expect_err("throttled");
    assert_eq!((err.code(), err.message()), (Some("ThrottlingException"), Some("Rate exceeded")), "{err:?}");

    let stats = client::stats(&url).await.expect("stats");
    assert_eq!(stats.limit, Some(limit(0.25, 2.0, false)));
    let describe = stats.operations["DescribeWorkspaces"];
    assert_eq!((describe.calls, describe.throttled), (5, 3), "{stats:?}");
}

#[tokio::test]
async fn a_shared_bucket_is_drained_by_any_operation_a_per_operation_one_by_its_own() {
    for per_operation in [false, true] {
        let emulator = limited(limit(0.25, 1.0, per_operation)).await;
        let url = emulator.url();
        assert_eq!(describe_statuses(&url, 2).await, [200, 400], "per_operation {per_operation}");
        // DescribeTags of a WorkSpace that does not exist: ResourceNotFoundException when
        // it passes the limit.
        let code = aws_raw(&url, Some(TAGS), TAGS_BODY).await.1["__type"].clone();
        let expected = if per_operation { "ResourceNotFoundException" } else { "ThrottlingException" };
        assert_eq!(code, expected, "per_operation {per_operation}");
        let stats = emulator.throttling();
        assert_eq!(stats.operations["DescribeTags"].throttled, u64::from(!per_operation), "{stats:?}");
        assert_eq!(stats.throttled(), 1 + u64::from(!per_operation), "{stats:?}");
    }
}

#[tokio::test]
async fn the_limit_is_set_changed_and_lifted_through_the_control_endpoints() {
    let emulator = start(Options::default()).await.expect("the emulator starts");
    let url = emulator.url();
    assert_eq!(control_get(&url, "/_control/limit").await, json!({ "limit": null }));
    assert_eq!(describe_statuses(&url, 10).await, [200; 10], "no limit by default");

    // Out of range, with a scheduled change, or not a limit: refused, naming the field.
    let refused = [
        (json!({ "rate_per_second": 20 }), "api.rate_per_second"),
        (json!({ "rate_per_second": 1, "burst": 0.5 }), "api.burst"),
        (json!({ "rate": 1 }), "rate"),
        (json!({ "change": [{ "at": "10:00", "burst": 2 }] }), "scheduled changes"),
    ];
    for (body, words) in refused {
        let (status, answer) = control(&url, "/_control/limit", body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| m.contains(words)), "{body}: {answer}");
    }

    let (status, answer) = control(&url, "/_control/limit", json!({ "rate_per_second": 0.25, "burst": 1 })).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["limit"], json!({ "rate_per_second": 0.25, "burst": 1.0, "per_operation": false }));
    assert_eq!(describe_statuses(&url, 3).await, [200, 400, 400]);

    // Raised: the empty bucket now fills at 10 req/s.
    client::set_limit(&url, &limit(10.0, 20.0, false)).await.expect("raised");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(describe_statuses(&url, 3).await, [200; 3]);

    // Lifted, and counted all along.
    client::clear_limit(&url).await.expect("lifted");
    assert_eq!(describe_statuses(&url, 30).await, [200; 30]);
    let stats = client::stats(&url).await.expect("stats");
    assert_eq!(stats.limit, None);
    assert_eq!(stats.operations["DescribeWorkspaces"].throttled, 2, "{stats:?}");
    assert_eq!(stats.operations["DescribeWorkspaces"].calls, 10 + 3 + 3 + 30, "{stats:?}");

    // A reset zeroes the counters and keeps the limit.
    client::set_limit(&url, &limit(0.25, 1.0, true)).await.expect("set");
    let (status, _) = control(&url, "/_control/reset", json!({})).await;
    assert_eq!(status, 200);
    let stats = client::stats(&url).await.expect("stats");
    assert_eq!((stats.limit, stats.operations.len()), (Some(limit(0.25, 1.0, true)), 0));
}
