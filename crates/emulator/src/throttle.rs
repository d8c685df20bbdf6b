//! The WorkSpaces API's rate limit on the wall clock: the simulator's token buckets
//! (`blankslate_sim::ApiBuckets`, the same code and the same shapes a simulation uses)
//! in front of every WorkSpaces operation, keyed by the operation's name when the limit
//! is per operation. A call that finds no token is answered `ThrottlingException`
//! (`ApiError::throttled`) before its input is read, and counted per operation so a test
//! can see what its client was refused.
//!
//! There is no waiting: the real service does not queue a call for a token, so a caller
//! has zero patience here; pacing and retrying is the client's business (the SDK's retry
//! mode, the reconciler's budget).

use std::collections::BTreeMap;
use std::time::Duration;

use blankslate_core::Timestamp;
use blankslate_sim::limits::ApiLimits;
use blankslate_sim::ApiBuckets;
use serde::{Deserialize, Serialize};

/// What one WorkSpaces operation met at the limit so far.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OperationStats {
    /// Calls received (throttled or not; also while there is no limit).
    pub calls: u64,
    /// Of those, answered `ThrottlingException`.
    pub throttled: u64,
}

/// The limit in force and what each operation met, as `GET /_control/stats` shows it.
#[derive(Clone, Default, PartialEq, Debug, Serialize, Deserialize)]
pub struct Throttling {
    /// The limit in force; `None`: no limit.
    pub limit: Option<ApiLimits>,
    /// Per WorkSpaces operation (`DescribeWorkspaces`, `CreateWorkspaces`, ...), since the
    /// start or the last reset.
    pub operations: BTreeMap<String, OperationStats>,
}

impl Throttling {
    /// Calls of every operation answered `ThrottlingException`.
    pub fn throttled(&self) -> u64 {
        self.operations.values().map(|s| s.throttled).sum()
    }
}

/// Checks a limit the emulator is given: the simulator's ranges, and no scheduled
/// changes (a wall-clock test changes the limit when it wants to, through
/// `POST /_control/limit`). A rate of 0 means no limit.
pub(crate) fn check(limit: &ApiLimits, now: Timestamp) -> Result<Option<ApiLimits>, String> {
    if !limit.changes.is_empty() {
        return Err("scheduled changes are not supported on the wall clock: \
                    change the limit when it should change (POST /_control/limit)"
            .into());
    }
    limit.validate(now)?;
    Ok(limit.is_on().then(|| limit.clone()))
}

/// The limit and its buckets.
#[derive(Default)]
pub(crate) struct Throttle {
    limit: Option<(ApiLimits, ApiBuckets)>,
    operations: BTreeMap<&'static str, OperationStats>,
}

impl Throttle {
    /// Sets, changes or (with `None`) lifts the limit at `now`. A new rate or burst of the
    /// same shape is a change of the account's limit: each bucket keeps what it holds, up
    /// to the new burst. Another shape starts with full buckets.
    pub(crate) fn set(&mut self, limit: Option<ApiLimits>, now: Timestamp) {
        self.limit = match (self.limit.take(), limit) {
            (_, None) => None,
            (Some((old, mut buckets)), Some(new)) if old.per_operation == new.per_operation => {
                buckets.change(now, Some(new.rate_per_second), Some(new.burst));
                Some((new, buckets))
            }
            (_, Some(new)) => {
                let buckets = ApiBuckets::new(&new, now);
                Some((new, buckets))
            }
        };
    }

    /// One call of `operation` at `now`: false when it is throttled.
    pub(crate) fn admit(&mut self, operation: &'static str, now: Timestamp) -> bool {
        let stats = self.operations.entry(operation).or_default();
        stats.calls += 1;
        let Some((_, buckets)) = &mut self.limit else {
            return true;
        };
        let admitted = buckets.take(operation, now, Duration::ZERO).is_some();
        if !admitted {
            stats.throttled += 1;
        }
        admitted
    }

    /// Counts a call of an API this limit does not cover (the tagging API's own).
    pub(crate) fn count(&mut self, operation: &'static str) {
        self.operations.entry(operation).or_default().calls += 1;
    }

    /// Full buckets and zeroed counters, the limit kept (`POST /_control/reset`).
    pub(crate) fn reset(&mut self, now: Timestamp) {
        self.operations.clear();
        if let Some((limit, buckets)) = &mut self.limit {
            *buckets = ApiBuckets::new(limit, now);
        }
    }

    /// What the control endpoints and `Running::throttling` show.
    pub(crate) fn snapshot(&self) -> Throttling {
        Throttling {
            limit: self.limit.as_ref().map(|(limit, _)| limit.clone()),
            operations: self.operations.iter().map(|(op, stats)| ((*op).to_owned(), *stats)).collect(),
        }
    }
}
