//! What a simulation runs: the fleet, the users' sessions, and how long AWS takes.

use std::time::Duration;

use blankslate_core::config::Config;
use blankslate_core::selector::Selector;
use blankslate_core::spec::WorkspaceSpec;
use blankslate_core::Timestamp;
use rand::Rng;
use rand_distr::{Distribution, LogNormal};
use serde::{Deserialize, Serialize};

use crate::limits::ApiLimits;

/// A duration drawn from a distribution, so AWS's own timings vary run to run (by seed).
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationDist {
    /// Always this long.
    Fixed(Duration),
    /// Uniform between the two bounds.
    Uniform(Duration, Duration),
    /// Log-normal with this median; `sigma` is the spread of the underlying normal.
    LogNormal {
        /// The median.
        median: Duration,
        /// Spread (0.2 is tight, 1.0 is wide).
        sigma: f64,
    },
}

impl DurationDist {
    /// Draws one duration.
    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        match *self {
            Self::Fixed(d) => d,
            Self::Uniform(lo, hi) if hi > lo => rng.random_range(lo..=hi),
            Self::Uniform(lo, _) => lo,
            Self::LogNormal { median, sigma } => match LogNormal::new(median.as_secs_f64().max(1e-3).ln(), sigma) {
                Ok(dist) => Duration::from_secs_f64(dist.sample(rng).min(7.0 * 86_400.0)),
                Err(_) => median,
            },
        }
    }
}

/// How long AWS takes, and how late it tells.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Timings {
    /// CreateWorkspaces until AVAILABLE (real: about 20 minutes).
    pub create: DurationDist,
    /// TerminateWorkspaces until TERMINATED (real: about 5 minutes).
    pub terminate: DurationDist,
    /// How long TERMINATED shows before the ID is gone.
    pub terminated_visible: Duration,
    /// How long a new ID stays invisible to DescribeWorkspaces (eventual consistency).
    pub visibility_lag: DurationDist,
    /// API call until its CloudTrail event reaches EventBridge targets.
    pub cloudtrail_delay: DurationDist,
    /// Session event until its datapoint is visible in CloudWatch.
    pub metric_delay: Duration,
    /// Login until the "WorkSpaces Access" event reaches its target.
    pub login_event_delay: DurationDist,
}

impl Default for Timings {
    fn default() -> Self {
        let secs = Duration::from_secs;
        Self {
            create: DurationDist::LogNormal { median: secs(20 * 60), sigma: 0.25 },
            terminate: DurationDist::LogNormal { median: secs(5 * 60), sigma: 0.35 },
            terminated_visible: secs(60),
            visibility_lag: DurationDist::Uniform(secs(0), secs(20)),
            cloudtrail_delay: DurationDist::Uniform(secs(30), secs(180)),
            metric_delay: secs(60),
            login_event_delay: DurationDist::Uniform(secs(1), secs(10)),
        }
    }
}

/// One connection of a user to their desktop.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Session {
    /// When the user wants to connect, from the scenario's start.
    pub start: Duration,
    /// How long they stay once connected.
    pub length: Duration,
}

/// One desk (user + directory) of the fleet.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct DeskPlan {
    /// The WorkSpace the admin creates for the user.
    pub spec: WorkspaceSpec,
    /// When the admin creates it, from the start; `None` when it exists (AVAILABLE)
    /// before blankslate is deployed, so only a sweep can find it.
    pub created_at: Option<Duration>,
    /// The user's sessions, in order.
    pub sessions: Vec<Session>,
    /// Overrides the fleet's termination time for this desk's WorkSpaces.
    pub terminate_override: Option<Duration>,
    /// The CloudTrail event of the admin's CreateWorkspaces for this desk is lost.
    pub lose_create_event: bool,
    /// What this desk shows, for people reading a timeline.
    #[serde(default)]
    pub note: String,
}

/// A whole simulated day (or week).
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Scenario {
    /// A short name for reports.
    pub name: String,
    /// Wall-clock instant the simulation starts at.
    pub start: Timestamp,
    /// How long users keep coming.
    pub duration: Duration,
    /// How long the system then runs with no new sessions, to show every rebuild ends (L1).
    pub settle: Duration,
    /// blankslate's configuration (its selector also defines what the seed *should* manage).
    pub config: Config,
    /// The fleet.
    pub desks: Vec<DeskPlan>,
    /// AWS's timings.
    pub timings: Timings,
    /// The Lambda concurrency limit (the seed's sleeping functions run into it).
    pub lambda_concurrency: usize,
    /// The WorkSpaces API's rate limit (token buckets; ThrottlingException when empty).
    #[serde(default)]
    pub api: ApiLimits,
    /// Faults injected while users keep coming (`duration`); the settle period runs
    /// without them, so every rebuild must end (L1) once AWS behaves.
    #[serde(default)]
    pub faults: Faults,
    /// The fleet was enrolled on an earlier day: the run starts with every managed desk
    /// in the journal and alarmed, as a fleet in steady state is (no enrolment storm).
    #[serde(default)]
    pub enrolled_at_start: bool,
}

/// Fault rates (0 to 1), applied to our functions' calls and events while faults are on.
/// Rates are "after the SDK's own retries": a throttle here is one the SDK gave up on.
#[derive(Clone, Copy, PartialEq, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// A WorkSpaces call fails with ThrottlingException although the bucket had room.
    pub throttle: f64,
    /// A call (WorkSpaces, CloudWatch, journal) fails with a 5xx; for a write the effect
    /// is unknown (it happened or not, even odds).
    pub server_error: f64,
    /// An invocation dies at one of its first 64 calls, chosen at random (that call may
    /// or may not take effect) and makes no more.
    pub crash: f64,
    /// An event is delivered twice.
    pub duplicate: f64,
    /// An event is delivered late (up to `max_delay_seconds`), so events arrive out of order.
    pub delay: f64,
    /// How late a delayed event may be.
    pub max_delay_seconds: u64,
    /// An event is never delivered.
    pub drop: f64,
    /// A termination takes 30 minutes.
    pub slow_terminate: f64,
    /// A CreateWorkspaces item comes back in FailedRequests.
    pub create_failure: f64,
    /// DescribeWorkspaces answers from a stale replica: a WorkSpace gone in the last
    /// two minutes still shows as TERMINATED.
    pub stale_read: f64,
}

impl Faults {
    /// Every fault on, at rates that make each happen hundreds of times in a fleet day.
    pub fn all() -> Self {
        Self {
            throttle: 0.05,
            server_error: 0.02,
            crash: 0.02,
            duplicate: 0.05,
            delay: 0.05,
            max_delay_seconds: 900,
            drop: 0.05,
            slow_terminate: 0.05,
            create_failure: 0.05,
            stale_read: 0.1,
        }
    }

    /// True when any fault is on.
    pub fn any(&self) -> bool {
        [
            self.throttle,
            self.server_error,
            self.crash,
            self.duplicate,
            self.delay,
            self.drop,
            self.slow_terminate,
            self.create_failure,
            self.stale_read,
        ]
        .iter()
        .any(|&r| r > 0.0)
    }

    /// Checks every rate is a probability; the error names the fault.
    pub fn validate(&self) -> Result<(), String> {
        let rates = [
            ("throttle", self.throttle),
            ("server_error", self.server_error),
            ("crash", self.crash),
            ("duplicate", self.duplicate),
            ("delay", self.delay),
            ("drop", self.drop),
            ("slow_terminate", self.slow_terminate),
            ("create_failure", self.create_failure),
            ("stale_read", self.stale_read),
        ];
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("fault rate {name} = {rate}: must be between 0 and 1"));
            }
        }
        Ok(())
    }
}

impl Scenario {
    /// A scenario with the default timings and limits.
    pub fn new(name: impl Into<String>, start: Timestamp, duration: Duration, selector: Selector) -> Self {
        Self {
            name: name.into(),
            start,
            duration,
            settle: Duration::from_secs(3 * 3600),
            config: Config::new(selector),
            desks: Vec::new(),
            timings: Timings::default(),
            lambda_concurrency: 1000,
            api: ApiLimits::default(),
            faults: Faults::default(),
            enrolled_at_start: false,
        }
    }
}
