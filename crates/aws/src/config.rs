//! The one retry and timeout policy every client is built with.
//!
//! The WorkSpaces API allows about 2 requests/s per account and Region, and a whole
//! fleet's rebuilds share that budget, so throttling is normal at 17:00 rather than
//! exceptional. The SDK's standard retry mode already backs off exponentially with
//! jitter on throttling, 5xx and transient errors; we give it five attempts. Beyond that
//! the journal and the next reconcile tick are the retry loop, so an invocation must
//! fail fast enough to leave time for the rest of its batch: hence bounded connect,
//! per-attempt and whole-operation timeouts.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};

/// Retry and timeout settings. [`Policy::default`] is the production policy; tests
/// shorten the waits so a throttling or hanging endpoint is proved in seconds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Policy {
    /// Attempts per operation, the first included.
    pub max_attempts: u32,
    /// The base of the standard mode's exponential back-off (jittered, doubled per retry).
    pub initial_backoff: Duration,
    /// Establishing a TCP/TLS connection.
    pub connect_timeout: Duration,
    /// One attempt, from sending the request to reading the whole response.
    pub attempt_timeout: Duration,
    /// The whole operation, retries and back-off included.
    pub operation_timeout: Duration,
}

impl Default for Policy {
    /// Five attempts with the SDK's standard 1 s back-off base; 3 s to connect, 10 s per
    /// attempt, 30 s in all: well inside a Lambda timeout, and long enough for DynamoDB's
    /// and WorkSpaces' slow tails.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(30),
        }
    }
}

impl Policy {
    /// The SDK's retry configuration for this policy (standard mode).
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard().with_max_attempts(self.max_attempts).with_initial_backoff(self.initial_backoff)
    }

    /// The SDK's timeout configuration for this policy.
    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    /// Applies this policy to `loader`, leaving region, credentials and endpoint to it.
    pub fn apply(&self, loader: ConfigLoader) -> ConfigLoader {
        loader.retry_config(self.retry_config()).timeout_config(self.timeout_config())
    }
}

/// SdkConfig from the standard credential/region chain, with our retry and timeout policy.
///
/// The chain includes `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`, which is how
/// local set-ups point the adapters at emulators without code changes.
pub async fn load_sdk_config() -> SdkConfig {
    with_policy(aws_config::defaults(BehaviorVersion::latest())).load().await
}

/// Same policy, for a given loader (tests pass endpoint_url, region, test credentials).
pub fn with_policy(loader: ConfigLoader) -> ConfigLoader {
    Policy::default().apply(loader)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_production_policy_is_what_the_design_promises() {
        let policy = Policy::default();
        let retry = policy.retry_config();
        assert_eq!(retry.mode(), aws_config::retry::RetryMode::Standard);
        assert_eq!(retry.max_attempts(), 5);
        let timeouts = policy.timeout_config();
        assert_eq!(timeouts.connect_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(Duration::from_secs(10)));
        assert_eq!(timeouts.operation_timeout(), Some(Duration::from_secs(30)));
    }
}
