//! `AwsWorkspaces` against the WorkSpaces emulator throttling at a configured limit, over
//! HTTP on loopback: beyond the limit the SDK's own retries are spent and the adapter
//! answers `ErrorKind::Throttled`; once the limit is raised through the control endpoint
//! the same calls go through again. The emulator counts every attempt per operation
//! (`/_control/stats`), which shows the SDK did retry before giving up.

mod common;

use std::time::Duration;

use blankslate_aws::AwsWorkspaces;
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::spec::WorkspaceSpec;
use blankslate_emulator::{client, start, ApiLimits, Options};
use blankslate_handlers::ports::{ErrorKind, Workspaces};

fn limit(rate_per_second: f64, burst: f64, per_operation: bool) -> ApiLimits {
    ApiLimits { rate_per_second, burst, per_operation, changes: vec![] }
}

fn spec(user: &str) -> WorkspaceSpec {
    WorkspaceSpec::new(
        DirectoryId::new("d-9067083b4b").unwrap(),
        UserName::new(user).unwrap(),
        BundleId::new("wsb-clj85qzj1").unwrap(),
    )
}

#[tokio::test]
async fn beyond_the_limit_the_adapter_is_throttled_and_recovers_once_it_is_raised() {
    let emulator = start(Options { api_limit: Some(limit(0.25, 2.0, false)), ..Options::default() })
        .await
        .expect("the emulator starts");
    let url = emulator.url();
    let ws = AwsWorkspaces::new(&common::sdk_config_with(&url, &common::FAST).await);
    let ids = [WorkspaceId::new("ws-abcd12345").unwrap()];

    // The burst goes through; the third call finds the bucket empty on both attempts
    // (a token takes 4 s at 0.25 req/s).
    ws.describe(&ids).await.expect("first call: the burst");
    ws.create(&[spec("alice")]).await.expect("second call: the burst");
    let err = ws.describe(&ids).await.expect_err("throttled");
    assert_eq!(err.kind, ErrorKind::Throttled, "{err}");
    assert!(err.message.contains("ThrottlingException") && err.message.contains("Rate exceeded"), "{err}");
    // Shared: every operation meets the same empty bucket.
    for result in [
        ws.connection_status(&ids).await.map(|_| ()),
        ws.tags(&ids[0]).await.map(|_| ()),
        ws.create(&[spec("bob")]).await.map(|_| ()),
        ws.terminate(&ids).await.map(|_| ()),
    ] {
        assert_eq!(result.expect_err("throttled").kind, ErrorKind::Throttled);
    }
    let stats = client::stats(&url).await.expect("stats");
    let describe = stats.operations["DescribeWorkspaces"];
    assert_eq!((describe.calls, describe.throttled), (3, 2), "the SDK retried once before giving up: {stats:?}");
    for op in ["DescribeWorkspacesConnectionStatus", "DescribeTags", "TerminateWorkspaces"] {
        assert_eq!(stats.operations[op].throttled, 2, "{op}: {stats:?}");
    }

    // Raised through the control endpoint: the empty bucket fills at 10 req/s.
    client::set_limit(&url, &limit(10.0, 20.0, false)).await.expect("raised");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(ws.describe(&ids).await.expect("after the raise").is_empty());
    let answer = ws.create(&[spec("bob")]).await.expect("after the raise");
    assert!(answer.failed.is_empty() && answer.pending.len() == 1, "{answer:?}");

    // Lifted: a burst far beyond any limit goes through.
    client::clear_limit(&url).await.expect("lifted");
    for _ in 0..40 {
        ws.describe(&ids).await.expect("no limit");
    }
    let after = client::stats(&url).await.expect("stats");
    assert_eq!(after.throttled(), stats.throttled(), "nothing throttled since the raise: {after:?}");
}

#[tokio::test]
async fn per_operation_limits_throttle_one_operation_and_not_the_others() {
    let emulator = start(Options { api_limit: Some(limit(0.25, 1.0, true)), ..Options::default() })
        .await
        .expect("the emulator starts");
    let url = emulator.url();
    let ws = AwsWorkspaces::new(&common::sdk_config_with(&url, &common::FAST).await);
    let ids = [WorkspaceId::new("ws-abcd12345").unwrap()];
    ws.describe(&ids).await.expect("DescribeWorkspaces' own burst");
    assert_eq!(ws.describe(&ids).await.expect_err("throttled").kind, ErrorKind::Throttled);
    // The other operations have buckets of their own.
    ws.connection_status(&ids).await.expect("DescribeWorkspacesConnectionStatus' own burst");
    let created = ws.create(&[spec("carol")]).await.expect("CreateWorkspaces' own burst");
    assert_eq!(created.pending.len(), 1, "{created:?}");
    let stats = emulator.throttling();
    assert_eq!(stats.throttled(), 2, "only DescribeWorkspaces, on both attempts: {stats:?}");
    assert_eq!(stats.operations["DescribeWorkspaces"].throttled, 2);
}
