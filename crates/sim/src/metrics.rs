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
    /// When rebuilds became due, after the run's start: a managed desk's user left and
    /// stayed away for the grace period. What the workload asks for, whichever policy
    /// runs (the rate bound's input, `crate::bound`); not in time order.
    pub rebuilds_due: Vec<Duration>,
    /// Function invocations by function.
    pub invocations: BTreeMap<&'static str, u64>,
    /// Estimated Lambda GB-seconds.
    pub lambda_gb_seconds: f64,
    /// Most function instances running at once.
    pub peak_concurrency: usize,
    /// Desks left without a WorkSpace at the end although a policy terminated theirs.
    pub lost_desktops: u64,
    /// Rebuilds our journal shows under way when the run ends, started within the settle
    /// period (a backlog still draining, not a loss).
    pub unfinished_at_end: u64,
    /// Seed function runs that failed.
    pub seed_failures: u64,
    /// Calls refused with ThrottlingException, by operation.
    pub throttled: BTreeMap<&'static str, u64>,
    /// Injected 5xx answers, by operation.
    pub server_errors: BTreeMap<&'static str, u64>,
    /// Invocations that died at an injected crash.
    pub crashes: u64,
    /// Invocations that failed (crash, or an error they could not absorb); Lambda retries
    /// an event twice, the schedule runs the reconciler again anyway.
    pub failed_invocations: u64,
    /// Events injected faults dropped, duplicated or delayed.
    pub events_dropped: u64,
    /// Events delivered twice by an injected fault.
    pub events_duplicated: u64,
    /// Events delivered late by an injected fault.
    pub events_delayed: u64,
    /// Batches Lambda's SQS poller handed Workspace_Term_Rebuild from the alarm queue.
    pub queue_batches: u64,
    /// Alarm messages moved to the alarm queue's dead-letter queue.
    pub dead_letters: u64,
    /// Per rebuild: the control plane's overhead, the time to a fresh desktop beyond the
    /// grace period and AWS's own terminate and create time.
    pub overhead: Vec<Duration>,
    /// Sessions owed a fresh desktop: managed desks whose user left longer than the grace
    /// period ago (or never used the desktop), and how many of them got one.
    pub owed_fresh: u64,
    /// Of `owed_fresh`, the sessions that started on a fresh desktop.
    pub got_fresh: u64,
    /// Per disconnect the policy noticed: from the user's real disconnect to the moment the
    /// grace period was started from (alarm pipeline or connection-state read).
    pub detection_lag: Vec<Duration>,
    /// Managed desks whose user had left at the end of the run.
    pub left_users: u64,
    /// Of `left_users`, those with a fresh desktop ready (AVAILABLE or still being created).
    pub left_with_fresh: u64,
    /// Computer objects left in the directory at the end whose WorkSpace is gone (issue 14).
    pub stale_computer_objects: u64,
    /// Computer objects the policy deleted.
    pub computer_objects_deleted: u64,
    /// Time series for charts.
    pub series: Series,
}

/// Per-minute and sampled series of one run (index 0 is the scenario's start).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Series {
    /// API calls per minute, by operation.
    pub calls_per_minute: BTreeMap<&'static str, Vec<u32>>,
    /// Most function instances running at once, per minute (an instance counts in every
    /// minute it runs through, so the seed's sleeping functions show while they sleep).
    pub concurrency_per_minute: Vec<u32>,
    /// Instances running after the last change of [`Series::concurrency_per_minute`].
    #[serde(skip)]
    running: u32,
    /// Rebuilds that became due, per minute (see `Metrics::rebuilds_due`).
    pub rebuilds_due_per_minute: Vec<u32>,
    /// Rebuilds completed, per minute.
    pub rebuilds_per_minute: Vec<u32>,
    /// The run's length in minutes: once the run has ended every per-minute series holds
    /// one more value (the minute the run ends in), so runs of different policies share
    /// one time axis.
    pub minutes: u32,
    /// Every `sample_minutes`: managed WorkSpaces by state (`in use`, `fresh`, `used idle`,
    /// `pending`, `terminating`) and users waiting for a desktop.
    pub states: BTreeMap<&'static str, Vec<u32>>,
    /// Minutes between two state samples.
    pub sample_minutes: u32,
    /// The reconciler's learned WorkSpaces API rate (requests/s) as it changed: (minute, rate).
    pub learned_rate: Vec<(u32, f64)>,
}

impl Series {
    pub(crate) fn count_call(&mut self, minute: usize, operation: &'static str) {
        bump(self.calls_per_minute.entry(operation).or_default(), minute);
    }

    pub(crate) fn learned_rate(&mut self, minute: usize, per_second: f64) {
        self.learned_rate.push((minute as u32, per_second));
    }

    /// From minute `minute` on, `running` instances run. Changes must come in time order:
    /// the minutes since the last one are filled with the count it left.
    pub(crate) fn concurrency(&mut self, minute: usize, running: usize) {
        if self.concurrency_per_minute.len() <= minute {
            self.concurrency_per_minute.resize(minute + 1, self.running);
        }
        let running = running as u32;
        let slot = &mut self.concurrency_per_minute[minute];
        *slot = (*slot).max(running);
        self.running = running;
    }

    pub(crate) fn rebuild_due(&mut self, minute: usize) {
        bump(&mut self.rebuilds_due_per_minute, minute);
    }

    pub(crate) fn rebuilt(&mut self, minute: usize) {
        bump(&mut self.rebuilds_per_minute, minute);
    }

    /// Pads every per-minute series through the run's last minute, `minutes` after its
    /// start (no calls, no rebuilds, the instances still running), so each run's charts
    /// end where the run ends.
    pub(crate) fn finish(&mut self, minutes: usize) {
        self.minutes = minutes as u32;
        let minutes = minutes + 1;
        for row in
            self.calls_per_minute.values_mut().chain([&mut self.rebuilds_due_per_minute, &mut self.rebuilds_per_minute])
        {
            row.resize(row.len().max(minutes), 0);
        }
        let running = self.running;
        let conc = &mut self.concurrency_per_minute;
        conc.resize(conc.len().max(minutes), running);
    }
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
        percentile(&self.time_to_fresh, p)
    }

    /// The share of sessions owed a fresh desktop that got one, in percent.
    pub fn fresh_share(&self) -> f64 {
        if self.owed_fresh == 0 {
            100.0
        } else {
            100.0 * self.got_fresh as f64 / self.owed_fresh as f64
        }
    }

    /// The share of users who had left by the end whose fresh desktop is there (or on
    /// its way), in percent.
    pub fn fresh_ready_share(&self) -> f64 {
        if self.left_users == 0 {
            100.0
        } else {
            100.0 * self.left_with_fresh as f64 / self.left_users as f64
        }
    }

    /// The `p`-th percentile (0-100) of the control-plane overhead.
    pub fn overhead_percentile(&self, p: f64) -> Option<Duration> {
        percentile(&self.overhead, p)
    }

    /// Lambda GB-seconds per completed rebuild.
    pub fn gb_seconds_per_rebuild(&self) -> Option<f64> {
        (self.rebuilds > 0).then(|| self.lambda_gb_seconds / self.rebuilds as f64)
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

fn bump(row: &mut Vec<u32>, minute: usize) {
    if row.len() <= minute {
        row.resize(minute + 1, 0);
    }
    row[minute] += 1;
}

/// The `p`-th percentile (0-100, nearest rank) of `values`.
pub fn percentile(values: &[Duration], p: f64) -> Option<Duration> {
    let mut sorted = values.to_vec();
    sorted.sort();
    let last = sorted.len().checked_sub(1)?;
    let index = ((p / 100.0) * last as f64).round() as usize;
    sorted.get(index.min(last)).copied()
}
