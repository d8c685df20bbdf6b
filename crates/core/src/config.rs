//! The configuration every decision reads. Validated once, at start-up.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::selector::Selector;
use crate::ValidationError;

/// The most items WorkSpaces accepts in one Create/Terminate/Describe call.
pub const MAX_BATCH: usize = 25;

/// How a disconnect is noticed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlarmMode {
    /// The seed's way: a SessionDisconnect alarm per WorkSpace, published to SNS.
    /// Fast, but about $0.10 per desktop per month.
    PerWorkspace,
    /// No alarms: the reconciler reads the connection state of every managed desk on
    /// every tick (one call per 25 desks). Free of alarm charges, but it spends WorkSpaces
    /// API budget in proportion to the fleet.
    Off,
}

/// The settings of one deployment.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Config {
    /// What is managed (S2).
    pub selector: Selector,
    /// How long a disconnected user has to come back before the WorkSpace is rebuilt.
    pub grace: Duration,
    /// How often the reconciler runs.
    pub reconcile_period: Duration,
    /// How often the reconciler lists the whole fleet (enrolment, missed disconnects,
    /// orphaned alarms). Rare, because a full listing costs one call per 25 WorkSpaces.
    pub sweep_period: Duration,
    /// Items per Create/Terminate call, 1 to 25.
    pub batch_size: usize,
    /// The most rebuilds (terminating or creating) at once.
    pub max_in_flight_rebuilds: usize,
    /// Per-WorkSpace alarms, or alarm-free.
    pub alarm_mode: AlarmMode,
    /// How long after a TerminateWorkspaces call a WorkSpace may still look untouched
    /// before the call is taken as lost and tried again (after a fresh connection check).
    pub terminate_retry_after: Duration,
    /// How long a just-created WorkSpace may be missing from DescribeWorkspaces before
    /// "not found" is believed (eventual consistency).
    pub visibility_window: Duration,
}

impl Config {
    /// The defaults of the design: 10-minute grace, 1-minute reconcile, 15-minute sweep,
    /// batches of 25, alarms on.
    pub fn new(selector: Selector) -> Self {
        Self {
            selector,
            grace: Duration::from_secs(10 * 60),
            reconcile_period: Duration::from_secs(60),
            sweep_period: Duration::from_secs(15 * 60),
            batch_size: MAX_BATCH,
            max_in_flight_rebuilds: 500,
            alarm_mode: AlarmMode::PerWorkspace,
            terminate_retry_after: Duration::from_secs(3 * 60),
            visibility_window: Duration::from_secs(10 * 60),
        }
    }

    /// Checks the bounds; the error names the setting.
    pub fn validate(self) -> Result<Self, ValidationError> {
        let minutes = |d: Duration| format!("{}s", d.as_secs());
        if self.grace < Duration::from_secs(60) || self.grace > Duration::from_secs(24 * 3600) {
            return Err(ValidationError::new(
                "grace period",
                minutes(self.grace),
                "must be between 1 minute and 24 hours",
            ));
        }
        if self.reconcile_period < Duration::from_secs(10) || self.reconcile_period > Duration::from_secs(3600) {
            return Err(ValidationError::new(
                "reconcile period",
                minutes(self.reconcile_period),
                "must be between 10 seconds and 1 hour",
            ));
        }
        if self.sweep_period < self.reconcile_period {
            return Err(ValidationError::new(
                "sweep period",
                minutes(self.sweep_period),
                "must not be shorter than the reconcile period",
            ));
        }
        if !(1..=MAX_BATCH).contains(&self.batch_size) {
            return Err(ValidationError::new("batch size", self.batch_size, "must be between 1 and 25"));
        }
        if self.max_in_flight_rebuilds == 0 {
            return Err(ValidationError::new("max in-flight rebuilds", 0, "must be at least 1"));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bounds_are_enforced() {
        let base = Config::new(Selector::All);
        assert!(base.clone().validate().is_ok());
        let cases: [(&str, Config); 4] = [
            ("grace period", Config { grace: Duration::from_secs(5), ..base.clone() }),
            ("batch size", Config { batch_size: 26, ..base.clone() }),
            ("batch size", Config { batch_size: 0, ..base.clone() }),
            ("sweep period", Config { sweep_period: Duration::from_secs(10), ..base.clone() }),
        ];
        for (field, config) in cases {
            let err = config.validate().unwrap_err();
            assert_eq!(err.field, field);
        }
    }
}
