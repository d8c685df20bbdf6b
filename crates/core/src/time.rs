//! Time as plain values. The core never reads a clock: every decision takes `now`.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// A point in time, in milliseconds since the Unix epoch (UTC).
///
/// Milliseconds are what AWS timestamps carry and what the simulator's virtual clock
/// ticks in; an integer keeps arithmetic exact and the journal encoding stable.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Parses the timestamp shapes AWS puts in events: RFC 3339 (`2024-01-02T03:04:05Z`,
    /// with or without fractions) and CloudWatch's `2024-01-02T03:04:05.678+0000`.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let parsed = DateTime::parse_from_rfc3339(text)
            .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
            .map_err(|e| ValidationError::new("timestamp", text, e.to_string()))?;
        Ok(Self(parsed.timestamp_millis()))
    }

    /// The duration from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// RFC 3339 text in UTC with millisecond precision.
    pub fn to_rfc3339(self) -> String {
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
            None => format!("{}ms", self.0),
        }
    }

    /// `HH:MM:SS` of the UTC day, for timelines.
    pub fn clock_time(self) -> String {
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(t) => t.format("%H:%M:%S").to_string(),
            None => format!("{}ms", self.0),
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(millis(rhs)))
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(millis(rhs)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Formats a duration for people: `45s`, `4m05s`, `2h03m`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_shapes_aws_sends() {
        let cases = [
            ("2019-12-19T18:47:07Z", 1_576_781_227_000),
            ("2019-12-19T18:47:07.123Z", 1_576_781_227_123),
            ("2019-12-19T18:47:07.123+0000", 1_576_781_227_123),
            ("2019-12-19T19:47:07+01:00", 1_576_781_227_000),
        ];
        for (text, millis) in cases {
            assert_eq!(Timestamp::parse(text).unwrap().as_millis(), millis, "{text}");
        }
    }

    #[test]
    fn rejects_garbage_with_the_value_named() {
        let err = Timestamp::parse("yesterday").unwrap_err();
        assert!(err.to_string().contains("yesterday"), "{err}");
    }

    #[test]
    fn arithmetic_saturates_and_round_trips() {
        let t = Timestamp::from_millis(1_000);
        assert_eq!((t + Duration::from_secs(2)).as_millis(), 3_000);
        assert_eq!(t.since(t + Duration::from_secs(5)), Duration::ZERO);
        assert_eq!(Timestamp::parse(&t.to_rfc3339()).unwrap(), t);
        assert_eq!(human_duration(Duration::from_secs(245)), "4m05s");
    }
}
