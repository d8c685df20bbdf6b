//! What a run measured.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Lambda memory the seed's functions are costed at (its 128 MB).
pub const SEED_LAMBDA_GB: f64 = 0.125;
/// Memory of our event functions, as `deploy/blankslate.yaml` sizes them (256 MB).
pub const EVENT_FUNCTION_GB: f64 = 0.25;
/// Memory of our reconciler, as `deploy/blankslate.yaml` sizes it (512 MB).
pub const RECONCILER_GB: f64 = 0.5;

/// Counters of one run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Metrics {
    /// API calls by operation (WorkSpaces, CloudWatch, journal, SNS).
    pub api_calls: BTreeMap<&'static str, u64>,
    /// Sessions users started.
    pub sessions: u64,
    /// Sessions that started on a WorkSpace nobody had used: the product's promise.
    pub fresh_sessions: u64,
    /// Sessions that started on a used WorkSpace.
    pub used_sessions: u64,
    /// Planned sessions that never started: the user found no desktop all day.
    pub sessions_missed: u64,
    /// Sessions whose user had to wait for a desktop, and the total wait.
    pub waits: u64,
    /// Total time users waited.
    pub wait_total: Duration,
    /// Rebuilds completed (the new WorkSpace became AVAILABLE).
    pub rebuilds: u64,
    /// Per rebuild: from the user's disconnect to the fresh desktop.
    pub time_to_fresh: Vec<Duration>,
    /// Function invocations by function.
    pub invocations: BTreeMap<&'static str, u64>,
    /// Estimated Lambda GB-seconds.
    pub lambda_gb_seconds: f64,
    /// Most function instances running at once.
    pub peak_concurrency: usize,
    /// Desks left without a WorkSpace at the end although a policy terminated theirs.
    pub lost_desktops: u64,
    /// Seed function runs that failed.
    pub seed_failures: u64,
}

impl Metrics {
    /// The share of sessions that started on a fresh desktop, in percent.
    pub fn fresh_percent(&self) -> f64 {
        if self.sessions == 0 {
            100.0
        } else {
            100.0 * self.fresh_sessions as f64 / self.sessions as f64
        }
    }

    /// The `p`-th percentile (0-100) of time to a fresh desktop.
    pub fn time_to_fresh_percentile(&self, p: f64) -> Option<Duration> {
        let mut sorted = self.time_to_fresh.clone();
        sorted.sort();
        let last = sorted.len().checked_sub(1)?;
        let index = ((p / 100.0) * last as f64).round() as usize;
        sorted.get(index.min(last)).copied()
    }

    /// WorkSpaces Terminate + Create calls per completed rebuild.
    pub fn calls_per_rebuild(&self) -> Option<f64> {
        let calls = self.calls("TerminateWorkspaces") + self.calls("CreateWorkspaces");
        (self.rebuilds > 0).then(|| calls as f64 / self.rebuilds as f64)
    }

    /// Calls of one operation.
    pub fn calls(&self, operation: &str) -> u64 {
        self.api_calls.get(operation).copied().unwrap_or(0)
    }
}
