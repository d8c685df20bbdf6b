//! Scenario files: a TOML description of a fleet and of AWS's behaviour, built on one of
//! the generators in [`crate::scenarios`]. Unknown keys are refused by name, so a typo
//! never silently runs the default.
//!
//! ```toml
//! name = "district-schools"
//! kind = "school-rush"        # school-rush | call-centre | kiosk | office-day
//! workspaces = 2000
//! hours = 24
//! selector = "tag:blankslate" # what blankslate manages
//! alarm_mode = "off"          # per-workspace | off
//! grace_minutes = 10
//! max_in_flight = 2000
//! api_budget_per_tick = 90
//!
//! [api]                       # the WorkSpaces API's rate limit (see `limits`)
//! rate_per_second = 2.0       # 0.25 to 10 requests/s; 0 turns the limit off
//! burst = 5                   # 1 to 20
//! per_operation = false       # one bucket per operation instead of one shared
//!
//! [[api.change]]              # from 15:35 (on the scenario's day) another tool uses
//! at = "15:35"                # part of the budget; repeat for more changes, in order
//! rate_per_second = 0.5       # either or both of rate_per_second and burst
//! burst = 2
//!
//! [timings]
//! create_median_minutes = 20
//! terminate_median_minutes = 5
//!
//! [faults]                    # rates from 0 to 1 (see `Faults`)
//! throttle = 0.05
//! drop = 0.05
//! ```

use std::time::Duration;

use blankslate_core::config::AlarmMode;
use blankslate_core::selector::Selector;
use serde::Deserialize;

use crate::limits::ApiLimits;
use crate::scenario::{DurationDist, Faults, Scenario};
use crate::scenarios;

/// A parsed scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// A name for reports (default: the kind).
    pub name: Option<String>,
    /// The generator: `school-rush`, `call-centre`, `kiosk` or `office-day`.
    pub kind: String,
    /// Managed desktops (default 1,000).
    pub workspaces: Option<usize>,
    /// Simulated hours (default 24).
    pub hours: Option<u64>,
    /// The opt-in selector (the generated desks carry the tag `blankslate=on`).
    pub selector: Option<String>,
    /// `per-workspace` or `off`.
    pub alarm_mode: Option<AlarmMode>,
    /// Grace period in minutes.
    pub grace_minutes: Option<u64>,
    /// The most rebuilds at once.
    pub max_in_flight: Option<usize>,
    /// WorkSpaces calls one reconcile tick may plan.
    pub api_budget_per_tick: Option<usize>,
    /// The account's Lambda concurrency limit.
    pub lambda_concurrency: Option<usize>,
    /// The WorkSpaces API's rate limit: shape, rate, burst and changes.
    pub api: Option<ApiLimits>,
    /// AWS's timings.
    pub timings: Option<TimingsFile>,
    /// Injected faults.
    pub faults: Option<Faults>,
}

/// Timing overrides, in minutes and seconds as people write them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimingsFile {
    /// Median CreateWorkspaces → AVAILABLE.
    pub create_median_minutes: Option<f64>,
    /// Median TerminateWorkspaces → TERMINATED.
    pub terminate_median_minutes: Option<f64>,
    /// CloudTrail delivery delay, uniform between these bounds (seconds).
    pub cloudtrail_delay_seconds: Option<(u64, u64)>,
    /// SessionDisconnect datapoint publishing delay (seconds).
    pub metric_delay_seconds: Option<u64>,
}

impl ScenarioFile {
    /// Parses TOML text; the error names the line and the key.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Builds the scenario, `workspaces` and `hours` overriding the file's.
    pub fn build(&self, workspaces: Option<usize>, hours: Option<u64>, seed: u64) -> Result<Scenario, String> {
        let n = workspaces.or(self.workspaces).unwrap_or(1000);
        let hours = hours.or(self.hours).unwrap_or(24);
        if self.kind == "demo" {
            return Err("kind = \"demo\" has a fixed fleet; run `blankslate simulate demo` instead".into());
        }
        let mut scenario =
            scenarios::built_in(&self.kind, n, hours, seed).map_err(|e| e.to_string())?.ok_or_else(|| {
                format!("kind = {:?}: expected one of school-rush, call-centre, kiosk, office-day", self.kind)
            })?;
        if let Some(name) = &self.name {
            scenario.name = name.clone();
        }
        if let Some(text) = &self.selector {
            scenario.config.selector = text.parse::<Selector>().map_err(|e| format!("selector: {e}"))?;
        }
        if let Some(mode) = self.alarm_mode {
            scenario.config.alarm_mode = mode;
        }
        if let Some(m) = self.grace_minutes {
            scenario.config.grace = Duration::from_secs(60 * m);
        }
        if let Some(n) = self.max_in_flight {
            scenario.config.max_in_flight_rebuilds = n;
        }
        if let Some(n) = self.api_budget_per_tick {
            scenario.config.api_budget_per_tick = n;
        }
        scenario.config = scenario.config.clone().validate().map_err(|e| e.to_string())?;
        if let Some(n) = self.lambda_concurrency {
            scenario.lambda_concurrency = n;
        }
        if let Some(api) = &self.api {
            api.validate(scenario.start)?;
            scenario.api = api.clone();
        }
        if let Some(t) = &self.timings {
            let minutes = |m: f64| Duration::from_secs_f64(60.0 * m.max(0.0));
            if let Some(m) = t.create_median_minutes {
                scenario.timings.create = DurationDist::LogNormal { median: minutes(m), sigma: 0.25 };
            }
            if let Some(m) = t.terminate_median_minutes {
                scenario.timings.terminate = DurationDist::LogNormal { median: minutes(m), sigma: 0.35 };
            }
            if let Some((lo, hi)) = t.cloudtrail_delay_seconds {
                scenario.timings.cloudtrail_delay =
                    DurationDist::Uniform(Duration::from_secs(lo), Duration::from_secs(hi.max(lo)));
            }
            if let Some(s) = t.metric_delay_seconds {
                scenario.timings.metric_delay = Duration::from_secs(s);
            }
        }
        if let Some(faults) = self.faults {
            faults.validate()?;
            scenario.faults = faults;
        }
        Ok(scenario)
    }
}
