//! What a simulation runs: the fleet, the users' sessions, and how long AWS takes.

use std::time::Duration;

use blankslate_core::config::Config;
use blankslate_core::selector::Selector;
use blankslate_core::spec::WorkspaceSpec;
use blankslate_core::Timestamp;
use rand::Rng;
use rand_distr::{Distribution, LogNormal};
use serde::{Deserialize, Serialize};

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
        }
    }
}
