//! Shared set-up of the wire tests: where the emulators are, an SdkConfig pointing at
//! one, and names no other test uses, so every test can run in parallel against one
//! emulator process.

// Each test binary uses part of this module.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use blankslate_aws::{with_policy, Policy};

/// The ministack endpoint (CloudWatch, DynamoDB, SNS, SQS), from `BLANKSLATE_MINISTACK`.
pub fn ministack() -> String {
    endpoint("BLANKSLATE_MINISTACK", "ministack")
}

/// The moto endpoint (WorkSpaces, Directory Service, EC2), from `BLANKSLATE_MOTO`.
pub fn moto() -> String {
    endpoint("BLANKSLATE_MOTO", "moto")
}

/// A missing emulator fails the test: a wire test that skips itself proves nothing.
fn endpoint(variable: &str, emulator: &str) -> String {
    match std::env::var(variable) {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => panic!(
            "{variable} is not set, so the {emulator} emulator is missing. Start the emulators with \
             `bash scripts/emulators start && source .emulators/env` (from the repository root), \
             or run the whole suite with `bash scripts/test`."
        ),
    }
}

/// Two attempts, 50 ms apart: the production policy's shape with waits short enough
/// that a throttled call is proved in well under a second.
pub const FAST: Policy = Policy {
    max_attempts: 2,
    initial_backoff: Duration::from_millis(50),
    connect_timeout: Duration::from_secs(2),
    attempt_timeout: Duration::from_secs(5),
    operation_timeout: Duration::from_secs(10),
};

/// An SdkConfig for `endpoint` in us-east-1 with static test credentials and the
/// production retry and timeout policy. The host's environment is ignored, so an
/// `AWS_ENDPOINT_URL` or profile there cannot send a test anywhere but loopback.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    configured(with_policy(aws_config::defaults(BehaviorVersion::latest())), endpoint).await
}

/// As [`sdk_config`], with another policy (short timeouts for the failure tests).
pub async fn sdk_config_with(endpoint: &str, policy: &Policy) -> SdkConfig {
    configured(policy.apply(aws_config::defaults(BehaviorVersion::latest())), endpoint).await
}

async fn configured(loader: aws_config::ConfigLoader, endpoint: &str) -> SdkConfig {
    loader
        .empty_test_environment()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await
}

/// A name no other test (in this or a concurrent run) uses: lowercase letters and digits.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{:x}{:x}{n:x}", std::process::id(), nanos % 0xffff_ffff_ffff)
}
