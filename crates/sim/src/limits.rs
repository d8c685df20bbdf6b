//! The WorkSpaces API's rate limit as the simulator and the emulator impose it.
//!
//! AWS publishes no request rate for the WorkSpaces API and does not say whether the
//! limit is one bucket shared by every action or one per action (DESIGN.md), so the limit
//! is a *shape* the policy must not be told: one shared token bucket or one per operation,
//! a rate from [`MIN_RATE`] to [`MAX_RATE`] requests a second, a burst from [`MIN_BURST`] to
//! [`MAX_BURST`], and changes during a run ("another tool in the account starts using the
//! API at 15:35": from then on the rate or burst is different; a competing caller taking
//! part of the budget is a lower rate). Campaigns draw it per seed
//! ([`crate::campaign::draw_limits`]) over exactly these ranges.
//!
//! The same limit is written three ways, all read and written here so they cannot drift:
//! a scenario file's `[api]` table, the command-line flags of `blankslate simulate`
//! ([`ApiLimits::flags`]: `--api-rate 0.7 --api-burst 3 --api-per-operation
//! --api-change 15:35=0.5/2`), and [`Display`](std::fmt::Display) for reports.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use blankslate_core::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The lowest rate a limit may have (requests a second), 0 apart ("no limit").
pub const MIN_RATE: f64 = 0.25;
/// The highest rate a limit may have (requests a second).
pub const MAX_RATE: f64 = 10.0;
/// The smallest burst (bucket size).
pub const MIN_BURST: f64 = 1.0;
/// The largest burst (bucket size).
pub const MAX_BURST: f64 = 20.0;

/// The WorkSpaces API's rate limit, modelled as token buckets per account and Region:
/// a steady rate with a burst, one shared bucket or one per operation (keyed by the
/// WorkSpaces operation name, e.g. `DescribeWorkspaces`), and the changes it goes
/// through during the run.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiLimits {
    /// Requests per second the buckets refill at; 0 turns the limit off for the whole run.
    pub rate_per_second: f64,
    /// Bucket size: the most calls that go through at once after a quiet spell.
    pub burst: f64,
    /// One bucket per operation instead of one shared by every WorkSpaces operation.
    pub per_operation: bool,
    /// Changes from a time of day on, in time order (`[[api.change]]` in a file).
    #[serde(rename = "change", skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ApiChange>,
}

impl Default for ApiLimits {
    /// 2 requests/s, bursts of 5, one shared bucket, no change: an assumption kept as the
    /// simulator's default shape only (AWS documents no figure, see DESIGN.md).
    fn default() -> Self {
        Self { rate_per_second: 2.0, burst: 5.0, per_operation: false, changes: Vec::new() }
    }
}

/// From a time of day on, the limit's rate and/or burst are different. What a change
/// leaves out stays as it was.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiChange {
    /// When, on the scenario's day (`"15:35"`; hours past 23 are the following days).
    pub at: ClockTime,
    /// The new rate, requests per second.
    pub rate_per_second: Option<f64>,
    /// The new burst.
    pub burst: Option<f64>,
}

/// A time of day on the scenario's first day, `HH:MM` or `HH:MM:SS` (UTC, like the
/// scenario's start). Hours past 23 are the following days (`27:00` is 03:00 the next
/// day), so a change in a 48-hour run can be written without a date.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct ClockTime(Duration);

const DAY_MILLIS: i64 = 86_400_000;

/// Midnight (UTC) of the day `t` falls on.
fn midnight(t: Timestamp) -> Timestamp {
    Timestamp::from_millis(t.as_millis() - t.as_millis().rem_euclid(DAY_MILLIS))
}

impl ClockTime {
    /// The time since midnight.
    pub fn since_midnight(self) -> Duration {
        self.0
    }

    /// The time of day (on `start`'s day, or later days) of `at`, rounded down to the
    /// second.
    pub fn of(start: Timestamp, at: Timestamp) -> Self {
        Self(Duration::from_secs(at.since(midnight(start)).as_secs()))
    }

    /// The minute this time falls in (`15:35:20` is `15:35`), as people write changes.
    pub fn whole_minute(self) -> Self {
        Self(Duration::from_secs(self.0.as_secs() / 60 * 60))
    }

    /// The instant this time names in a run that starts at `start`.
    pub fn on_day_of(self, start: Timestamp) -> Timestamp {
        midnight(start) + self.0
    }
}

impl FromStr for ClockTime {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("{text:?} is not a time of day (HH:MM or HH:MM:SS): {why}");
        let parts: Vec<&str> = text.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(bad("expected two or three numbers separated by ':'"));
        }
        let number = |part: &str, what: &str| {
            if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(&format!("{what} {part:?} is not a number")));
            }
            part.parse::<u64>().map_err(|e| bad(&e.to_string()))
        };
        let hours = number(parts[0], "hours")?;
        let minutes = number(parts[1], "minutes")?;
        let seconds = parts.get(2).map(|s| number(s, "seconds")).transpose()?.unwrap_or(0);
        if minutes > 59 || seconds > 59 {
            return Err(bad("minutes and seconds go from 00 to 59"));
        }
        Ok(Self(Duration::from_secs(hours * 3600 + minutes * 60 + seconds)))
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        write!(f, "{:02}:{:02}", s / 3600, (s / 60) % 60)?;
        if s % 60 != 0 {
            write!(f, ":{:02}", s % 60)?;
        }
        Ok(())
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

fn check_rate(field: &str, rate: f64) -> Result<(), String> {
    if (MIN_RATE..=MAX_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(format!("{field} = {rate}: must be between {MIN_RATE} and {MAX_RATE} requests/s"))
    }
}

fn check_burst(field: &str, burst: f64) -> Result<(), String> {
    if (MIN_BURST..=MAX_BURST).contains(&burst) {
        Ok(())
    } else {
        Err(format!("{field} = {burst}: must be between {MIN_BURST} and {MAX_BURST}"))
    }
}

impl ApiLimits {
    /// No limit at all (`--no-throttling`).
    pub fn off() -> Self {
        Self { rate_per_second: 0.0, changes: Vec::new(), ..Self::default() }
    }

    /// True when calls meet token buckets at all.
    pub fn is_on(&self) -> bool {
        self.rate_per_second > 0.0
    }

    /// Checks every value against the ranges above, and that the changes fall in time
    /// order no earlier than `start` (the run's first instant). The error names the field
    /// as a scenario file writes it (`api.change[1].burst = 30: ...`).
    pub fn validate(&self, start: Timestamp) -> Result<(), String> {
        if self.rate_per_second == 0.0 {
            if !self.changes.is_empty() {
                return Err("api.change: the limit is off (rate_per_second = 0), so it cannot change".into());
            }
        } else {
            check_rate("api.rate_per_second", self.rate_per_second)?;
        }
        check_burst("api.burst", self.burst)?;
        let first = ClockTime::of(start, start);
        let mut previous: Option<ClockTime> = None;
        for (i, change) in self.changes.iter().enumerate() {
            let field = |name: &str| format!("api.change[{i}].{name}");
            if change.at.on_day_of(start) < start {
                return Err(format!("{} = \"{}\": before the scenario starts ({first})", field("at"), change.at));
            }
            if previous.is_some_and(|p| change.at <= p) {
                return Err(format!("{} = \"{}\": changes must be in time order", field("at"), change.at));
            }
            previous = Some(change.at);
            if change.rate_per_second.is_none() && change.burst.is_none() {
                return Err(format!("api.change[{i}]: give rate_per_second, burst or both"));
            }
            if let Some(rate) = change.rate_per_second {
                check_rate(&field("rate_per_second"), rate)?;
            }
            if let Some(burst) = change.burst {
                check_burst(&field("burst"), burst)?;
            }
        }
        Ok(())
    }

    /// The rate in force from each instant on, in a run that starts at `start`: the first
    /// entry is `start` itself, then every change that sets a rate (empty when the limit is
    /// off). A change of burst alone keeps the rate, so it does not appear.
    pub fn rates(&self, start: Timestamp) -> Vec<(Timestamp, f64)> {
        if !self.is_on() {
            return Vec::new();
        }
        let changes = self.changes.iter().filter_map(|c| c.rate_per_second.map(|r| (c.at.on_day_of(start), r)));
        std::iter::once((start, self.rate_per_second)).chain(changes).collect()
    }

    /// The command-line flags that give exactly this limit (`--no-throttling` when off),
    /// for replay lines: parsing them back yields an equal `ApiLimits`.
    pub fn flags(&self) -> String {
        if !self.is_on() {
            return "--no-throttling".into();
        }
        let mut out = format!("--api-rate {} --api-burst {}", self.rate_per_second, self.burst);
        if self.per_operation {
            out.push_str(" --api-per-operation");
        }
        for change in &self.changes {
            out.push_str(&format!(" --api-change {change}"));
        }
        out
    }
}

impl fmt::Display for ApiLimits {
    /// `0.7 req/s (burst 3) per operation; from 15:35 0.5 req/s (burst 2)`, or `off`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.is_on() {
            return f.write_str("off");
        }
        let shape = if self.per_operation { "per operation" } else { "shared" };
        write!(f, "{} req/s (burst {}) {shape}", self.rate_per_second, self.burst)?;
        for change in &self.changes {
            write!(f, "; from {}", change.at)?;
            if let Some(rate) = change.rate_per_second {
                write!(f, " {rate} req/s")?;
            }
            if let Some(burst) = change.burst {
                write!(f, " (burst {burst})")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for ApiChange {
    /// The `--api-change` form: `15:35=0.5/2`, `15:35=0.5` (burst kept), `15:35=/2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}=", self.at)?;
        if let Some(rate) = self.rate_per_second {
            write!(f, "{rate}")?;
        }
        if let Some(burst) = self.burst {
            write!(f, "/{burst}")?;
        }
        Ok(())
    }
}

impl FromStr for ApiChange {
    type Err = String;

    /// Reads the `--api-change` form (see [`Display`](fmt::Display)); ranges are checked
    /// by [`ApiLimits::validate`].
    fn from_str(text: &str) -> Result<Self, String> {
        let usage = "expected AT=RATE/BURST, AT=RATE or AT=/BURST, e.g. 15:35=0.5/2";
        let (at, values) = text.split_once('=').ok_or_else(|| format!("{text:?}: {usage}"))?;
        let at: ClockTime = at.parse()?;
        let (rate, burst) = match values.split_once('/') {
            Some((rate, burst)) => (rate, Some(burst)),
            None => (values, None),
        };
        let number = |what: &str, s: &str| {
            s.parse::<f64>().map_err(|e| format!("{text:?}: the {what} {s:?} is not a number ({e}); {usage}"))
        };
        let rate = if rate.is_empty() { None } else { Some(number("rate", rate)?) };
        let burst = burst.map(|b| number("burst", b)).transpose()?;
        if rate.is_none() && burst.is_none() {
            return Err(format!("{text:?}: {usage}"));
        }
        Ok(Self { at, rate_per_second: rate, burst })
    }
}
