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
    /// No alarms: the reconciler reads connection states with the API budget a tick has
    /// left, rotating through the fleet (one call per 25 desks; at 10,000 desks every desk
    /// about every five quiet ticks). Free of alarm charges; disconnects are found later.
    Off,
}

/// Where the tags S2 and S3 need are read: a property of the deployment's adapter, so
/// the planner counts what they cost against the WorkSpaces budget only when they are
/// WorkSpaces calls.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TagReads {
    /// The Resource Groups Tagging API's GetResources, 100 WorkSpaces a call on its own
    /// limit: no WorkSpaces call (the template gives the reconciler what it needs).
    #[default]
    Bulk,
    /// DescribeTags, one WorkSpaces call per WorkSpace: where the tagging API is not
    /// configured. Unbudgeted, a rush's tag reads alone would overdraw every tick.
    OneByOne,
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
    /// How much later than the real disconnect an alarm-recorded disconnect may be: a
    /// datapoint period plus CloudWatch's publishing and evaluation delay. A connection
    /// within this much before the recorded disconnect may be a return the alarm hid, so
    /// it counts as one (which at worst restarts the grace period of a very short session).
    pub alarm_lag_allowance: Duration,
    /// The most WorkSpaces API calls one reconcile tick may plan (reads and writes
    /// together): the operator's ceiling (`BLANKSLATE_API_BUDGET`). Within it the
    /// reconciler spends the rate it has learned (`pacing`), because AWS publishes none.
    #[serde(default = "default_api_budget_per_tick")]
    pub api_budget_per_tick: usize,
    /// Directory clean-up (issue 14): when set, the computer object of every WorkSpace
    /// blankslate terminated is deleted once it is gone (`core::directory`). Off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<crate::directory::DirectorySettings>,
    /// Where tags are read, and so whether they cost WorkSpaces calls.
    #[serde(default)]
    pub tag_reads: TagReads,
    /// The deployment's stack, whose name the per-WorkSpace alarms carry so that stacks in
    /// one Region never take each other's alarms for orphans. Absent (a configuration from
    /// before, a hand-made one): the seed's unowned naming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<crate::alarm::StackName>,
}

/// 600 calls a minute (10 requests/s, the top of the range anyone reports): a ceiling,
/// not a rate; the learned rate stays below whatever the account allows.
pub const DEFAULT_API_BUDGET_PER_TICK: usize = 600;

fn default_api_budget_per_tick() -> usize {
    DEFAULT_API_BUDGET_PER_TICK
}

impl Config {
    /// Whose per-WorkSpace alarms this deployment puts, lists as its own and deletes.
    pub fn alarm_owner(&self) -> crate::alarm::Owner {
        match &self.stack {
            Some(stack) => crate::alarm::Owner::Stack(stack.clone()),
            None => crate::alarm::Owner::Legacy,
        }
    }

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
            alarm_lag_allowance: Duration::from_secs(5 * 60),
            api_budget_per_tick: DEFAULT_API_BUDGET_PER_TICK,
            directory: None,
            tag_reads: TagReads::Bulk,
            stack: None,
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
        if self.alarm_lag_allowance > Duration::from_secs(3600) {
            return Err(ValidationError::new(
                "alarm lag allowance",
                minutes(self.alarm_lag_allowance),
                "must be at most 1 hour",
            ));
        }
        if self.api_budget_per_tick < 4 {
            return Err(ValidationError::new(
                "API budget per tick",
                self.api_budget_per_tick,
                "must be at least 4 (check, terminate, confirm, create)",
            ));
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
        let cases: [(&str, Config); 5] = [
            ("grace period", Config { grace: Duration::from_secs(5), ..base.clone() }),
            ("batch size", Config { batch_size: 26, ..base.clone() }),
            ("batch size", Config { batch_size: 0, ..base.clone() }),
            ("sweep period", Config { sweep_period: Duration::from_secs(10), ..base.clone() }),
            ("alarm lag allowance", Config { alarm_lag_allowance: Duration::from_secs(3601), ..base.clone() }),
        ];
        for (field, config) in cases {
            let err = config.validate().unwrap_err();
            assert_eq!(err.field, field);
        }
    }
}

/// The names under which a deployment passes its configuration (Lambda environment
/// variables, template parameters). One list, so the functions, the template and
/// `blankslate deploy` cannot drift apart.
pub mod settings {
    /// The opt-in selector, e.g. `tag:blankslate` (required).
    pub const SELECTOR: &str = "BLANKSLATE_SELECTOR";
    /// Grace period in minutes (default 10).
    pub const GRACE_MINUTES: &str = "BLANKSLATE_GRACE_MINUTES";
    /// Reconcile period in seconds (default 60).
    pub const RECONCILE_SECONDS: &str = "BLANKSLATE_RECONCILE_SECONDS";
    /// Sweep period in minutes (default 15).
    pub const SWEEP_MINUTES: &str = "BLANKSLATE_SWEEP_MINUTES";
    /// `per-workspace` (default) or `off`.
    pub const ALARM_MODE: &str = "BLANKSLATE_ALARM_MODE";
    /// Items per Create/Terminate call (default 25).
    pub const BATCH_SIZE: &str = "BLANKSLATE_BATCH_SIZE";
    /// Most rebuilds at once (default 500).
    pub const MAX_IN_FLIGHT: &str = "BLANKSLATE_MAX_IN_FLIGHT";
    /// WorkSpaces API calls one reconcile tick may plan (default 90).
    pub const API_BUDGET: &str = "BLANKSLATE_API_BUDGET";
    /// The alarm lag allowance in seconds (default 300). Not a template parameter: only an
    /// AWS without CloudWatch's alarm delay (a local emulator) warrants less.
    pub const ALARM_LAG_SECONDS: &str = "BLANKSLATE_ALARM_LAG_SECONDS";
    /// Directory clean-up: the base DN (the WorkSpaces OU). Absent: clean-up off.
    pub const DIRECTORY_BASE_DN: &str = "BLANKSLATE_DIRECTORY_BASE_DN";
    /// Directory clean-up: the computer-name prefix of WorkSpaces (default `WSAMZN-`).
    pub const DIRECTORY_PREFIX: &str = "BLANKSLATE_DIRECTORY_PREFIX";
    /// The stack's name, carried by its per-WorkSpace alarms (the template sets it).
    pub const STACK_NAME: &str = "BLANKSLATE_STACK_NAME";
}

fn setting<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ValidationError> {
    match get(name) {
        None => Ok(default),
        Some(text) => {
            text.trim().parse().map_err(|_| ValidationError::new(name, &text, "is not a valid number or value"))
        }
    }
}

impl Config {
    /// Reads and validates the configuration from named settings (`get` is typically
    /// `std::env::var`), defaults for what is absent. The error names the setting.
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<Self, ValidationError> {
        let selector_text = get(settings::SELECTOR)
            .ok_or_else(|| ValidationError::new(settings::SELECTOR, "", "is required: it names what is managed"))?;
        let selector: Selector = selector_text.parse()?;
        let defaults = Config::new(selector);
        let alarm_mode = match get(settings::ALARM_MODE).as_deref().map(str::trim) {
            None | Some("per-workspace") => AlarmMode::PerWorkspace,
            Some("off") => AlarmMode::Off,
            Some(other) => {
                return Err(ValidationError::new(settings::ALARM_MODE, other, "expected per-workspace or off"))
            }
        };
        Config {
            grace: Duration::from_secs(60 * setting(&get, settings::GRACE_MINUTES, defaults.grace.as_secs() / 60)?),
            reconcile_period: Duration::from_secs(setting(
                &get,
                settings::RECONCILE_SECONDS,
                defaults.reconcile_period.as_secs(),
            )?),
            sweep_period: Duration::from_secs(
                60 * setting(&get, settings::SWEEP_MINUTES, defaults.sweep_period.as_secs() / 60)?,
            ),
            batch_size: setting(&get, settings::BATCH_SIZE, defaults.batch_size)?,
            max_in_flight_rebuilds: setting(&get, settings::MAX_IN_FLIGHT, defaults.max_in_flight_rebuilds)?,
            api_budget_per_tick: setting(&get, settings::API_BUDGET, defaults.api_budget_per_tick)?,
            alarm_lag_allowance: Duration::from_secs(setting(
                &get,
                settings::ALARM_LAG_SECONDS,
                defaults.alarm_lag_allowance.as_secs(),
            )?),
            alarm_mode,
            directory: match get(settings::DIRECTORY_BASE_DN).filter(|dn| !dn.trim().is_empty()) {
                None => None,
                Some(dn) => Some(crate::directory::DirectorySettings::new(
                    dn.trim(),
                    get(settings::DIRECTORY_PREFIX).as_deref().unwrap_or(crate::directory::WORKSPACES_PREFIX),
                )?),
            },
            stack: match get(settings::STACK_NAME).filter(|name| !name.trim().is_empty()) {
                None => None,
                Some(name) => Some(
                    crate::alarm::StackName::new(name.trim())
                        .map_err(|e| ValidationError::new(settings::STACK_NAME, name.trim(), e.reason))?,
                ),
            },
            ..defaults
        }
        .validate()
    }
}

#[cfg(test)]
mod settings_tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ValidationError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_settings(|name| map.get(name).cloned())
    }

    #[test]
    fn settings_have_defaults_and_name_what_is_wrong() {
        let c = from(&[("BLANKSLATE_SELECTOR", "tag:blankslate")]).unwrap();
        assert_eq!(c, Config::new("tag:blankslate".parse().unwrap()));
        let c = from(&[
            ("BLANKSLATE_SELECTOR", "directory:d-9067083b4b"),
            ("BLANKSLATE_GRACE_MINUTES", "2"),
            ("BLANKSLATE_RECONCILE_SECONDS", "20"),
            ("BLANKSLATE_SWEEP_MINUTES", "1"),
            ("BLANKSLATE_ALARM_MODE", "off"),
            ("BLANKSLATE_ALARM_LAG_SECONDS", "15"),
        ])
        .unwrap();
        assert_eq!((c.grace.as_secs(), c.reconcile_period.as_secs(), c.alarm_mode), (120, 20, AlarmMode::Off));
        assert_eq!(c.alarm_lag_allowance.as_secs(), 15);
        assert_eq!(c.alarm_owner(), crate::alarm::Owner::Legacy, "no stack name: the seed's naming");
        let c = from(&[("BLANKSLATE_SELECTOR", "all"), ("BLANKSLATE_STACK_NAME", " lab-2 ")]).unwrap();
        assert_eq!(c.alarm_owner(), crate::alarm::Owner::Stack(crate::alarm::StackName::new("lab-2").unwrap()));
        for (pairs, field) in [
            (&[][..], "BLANKSLATE_SELECTOR"),
            (&[("BLANKSLATE_SELECTOR", "everything")][..], "selector"),
            (&[("BLANKSLATE_SELECTOR", "all"), ("BLANKSLATE_GRACE_MINUTES", "ten")][..], "BLANKSLATE_GRACE_MINUTES"),
            (&[("BLANKSLATE_SELECTOR", "all"), ("BLANKSLATE_GRACE_MINUTES", "0")][..], "grace period"),
            (&[("BLANKSLATE_SELECTOR", "all"), ("BLANKSLATE_ALARM_MODE", "sometimes")][..], "BLANKSLATE_ALARM_MODE"),
            (&[("BLANKSLATE_SELECTOR", "all"), ("BLANKSLATE_BATCH_SIZE", "30")][..], "batch size"),
            (&[("BLANKSLATE_SELECTOR", "all"), ("BLANKSLATE_STACK_NAME", "lab_2")][..], "BLANKSLATE_STACK_NAME"),
        ] {
            assert_eq!(from(pairs).unwrap_err().field, field, "{pairs:?}");
        }
    }
}
