//! The rate bound: the least time the WorkSpaces API limit in force leaves for a run's
//! rebuilds, the figure the control-plane overhead is judged against (issue 11:
//! "overhead p99 at most 1.2 × the rate bound").
//!
//! Every rebuild needs at least one item in each of [`REBUILD_OPERATIONS`] once it is due
//! (the connection re-check, the terminate, the read that finds the old WorkSpace gone,
//! the create), and each call carries at most [`BATCH`] items. So a rebuild costs at
//! least 4/25 of a call of the one shared bucket, or 1/25 of a call of each operation's
//! own bucket (the four buckets then have the same work and the same rate, so one of
//! them stands for all).
//!
//! **Definition.** Take the rebuilds in the order they become due (the user's disconnect
//! plus the grace period, for a user who did not come back within it) and serve their
//! calls, no call before its rebuild is due, as fast as the rate in force at each instant
//! allows (a fluid queue: the limit's scheduled changes apply from their instant). The
//! queue empties now and then; a *stretch* is a spell from a rebuild becoming due with
//! the queue empty to the queue emptying again, and its rebuilds are the ones due within
//! it. The bound is the length of the longest stretch: from its first rebuild becoming
//! due to the least instant by which all of its rebuilds' minimum calls can have been
//! made. In a stretch the API is never idle, so at a constant rate r the bound is
//! exactly N × c / r for its N rebuilds (c = 4/25 shared, 1/25 per operation): the
//! 10,000-desk rush at 2 requests/s shared gives 800 s, at 1 request/s per operation 400 s.
//!
//! **Why the busiest stretch and not every rebuild of the run.** Rebuilds in different
//! stretches never compete for the API (the queue emptied between them), so summing a
//! whole day's rebuilds (21,000 kiosk rebuilds spread over 24 hours) would give a time
//! no rebuild ever has to wait. Within the busiest stretch they all compete, and in a
//! rush it holds nearly every rebuild of the run, so its p99 overhead is that stretch's.
//!
//! Left out, each on the side of a smaller bound: the bucket's burst (at most `burst / r`
//! seconds once, 2.5 s at the default), the rounding up of partial batches, every other
//! call (sweeps, tags, enrolment, other tools). The bound limits the time of the
//! *calls*; a single rebuild's overhead can be shorter, because AWS's own time (which
//! the overhead leaves out) overlaps other rebuilds' calls.

use std::time::Duration;

use blankslate_core::Timestamp;
use serde::Serialize;

use crate::limits::{ApiLimits, ClockTime};

/// The WorkSpaces operations every rebuild needs at least once after it is due.
pub const REBUILD_OPERATIONS: [&str; 4] =
    ["DescribeWorkspacesConnectionStatus", "TerminateWorkspaces", "DescribeWorkspaces", "CreateWorkspaces"];

/// Items per call of each of them (the service model's limit).
pub const BATCH: f64 = 25.0;

/// The rate bound of a run; see the module documentation for its definition.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RateBound {
    /// The bound, seconds.
    pub seconds: f64,
    /// Rebuilds that became due in the busiest stretch (N).
    pub rebuilds: u64,
    /// When the first of them became due, seconds after the run's start.
    pub first_due: f64,
    /// The same instant as a time of day (`15:40:12`).
    pub from: ClockTime,
    /// Calls of the busiest bucket per rebuild (4/25 shared, 1/25 per operation).
    pub calls_per_rebuild: f64,
    /// The rates in force during the stretch, requests/s per bucket, in time order.
    pub rates: Vec<f64>,
}

/// The rate bound for rebuilds that became due at `due` (after the run's `start`) under
/// `limits`; `None` when the limit is off or no rebuild became due.
pub fn rate_bound(limits: &ApiLimits, start: Timestamp, due: &[Duration]) -> Option<RateBound> {
    let rates: Vec<(f64, f64)> =
        limits.rates(start).into_iter().map(|(at, r)| (at.since(start).as_secs_f64(), r)).collect();
    if rates.is_empty() || rates.iter().any(|&(_, r)| !(r.is_finite() && r > 0.0)) {
        return None;
    }
    let per_rebuild = if limits.per_operation { 1.0 } else { REBUILD_OPERATIONS.len() as f64 } / BATCH;
    let mut due: Vec<f64> = due.iter().map(Duration::as_secs_f64).collect();
    due.sort_by(f64::total_cmp);

    // (first due, rebuilds, end) of the longest stretch so far, and of the open one.
    let mut best: Option<(f64, u64, f64)> = None;
    let mut close = |first: f64, n: u64, end: f64| {
        if best.is_none_or(|(f, _, e)| end - first > e - f) {
            best = Some((first, n, end));
        }
    };
    let mut open: Option<(f64, u64)> = None;
    let (mut work, mut at) = (0.0, 0.0);
    for d in due {
        if let Some((first, n)) = open {
            match serve(&rates, at, work, d) {
                Served::By(end) => {
                    close(first, n, end);
                    open = None;
                    work = 0.0;
                }
                Served::Left(left) => work = left,
            }
        }
        at = d;
        let (_, n) = open.get_or_insert((d, 0));
        *n += 1;
        work += per_rebuild;
    }
    if let Some((first, n)) = open {
        match serve(&rates, at, work, f64::INFINITY) {
            Served::By(end) => close(first, n, end),
            Served::Left(_) => return None,
        }
    }
    let (first_due, rebuilds, end) = best?;
    let in_force = rates.partition_point(|&(t, _)| t <= first_due).saturating_sub(1);
    let rates = rates[in_force..].iter().take_while(|&&(t, _)| t <= first_due || t < end).map(|&(_, r)| r).collect();
    let from = ClockTime::of(start, start + Duration::from_secs_f64(first_due));
    Some(RateBound { seconds: end - first_due, rebuilds, first_due, from, calls_per_rebuild: per_rebuild, rates })
}

/// What serving a backlog of calls came to.
enum Served {
    /// All served by this instant.
    By(f64),
    /// This much work was left at the deadline.
    Left(f64),
}

/// Serves `work` calls from `from` on at the rates in force (`rates`: from each instant
/// on, in time order, all positive), stopping at `until`.
fn serve(rates: &[(f64, f64)], from: f64, mut work: f64, until: f64) -> Served {
    let mut t = from;
    let mut i = rates.partition_point(|&(at, _)| at <= t).saturating_sub(1);
    loop {
        let rate = rates[i].1;
        let segment_end = rates.get(i + 1).map_or(f64::INFINITY, |&(at, _)| at).min(until);
        let capacity = rate * (segment_end - t);
        if capacity >= work {
            return Served::By(t + work / rate);
        }
        work -= capacity;
        if segment_end >= until {
            return Served::Left(work);
        }
        t = segment_end;
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> Timestamp {
        Timestamp::parse("2026-11-20T00:00:00Z").expect("a timestamp")
    }

    fn secs(values: impl IntoIterator<Item = f64>) -> Vec<Duration> {
        values.into_iter().map(Duration::from_secs_f64).collect()
    }

    fn limits(rate: f64, per_operation: bool, changes: &[&str]) -> ApiLimits {
        ApiLimits {
            rate_per_second: rate,
            per_operation,
            changes: changes.iter().map(|c| c.parse().expect("a change")).collect(),
            ..ApiLimits::default()
        }
    }

    fn bound(limits: &ApiLimits, due: &[Duration]) -> RateBound {
        rate_bound(limits, start(), due).expect("a bound")
    }

    const RUSH: f64 = 15.0 * 3600.0 + 40.0 * 60.0;

    #[test]
    fn a_rush_at_once_costs_four_calls_in_25_at_the_shared_rate() {
        let b = bound(&limits(2.0, false, &[]), &secs(std::iter::repeat_n(RUSH, 10_000)));
        assert!((b.seconds - 800.0).abs() < 1e-6, "{b:?}");
        assert_eq!((b.rebuilds, b.first_due, b.rates.as_slice()), (10_000, RUSH, &[2.0][..]));
        assert_eq!(b.calls_per_rebuild, 0.16);
    }

    #[test]
    fn per_operation_buckets_each_carry_one_call_in_25() {
        let b = bound(&limits(1.0, true, &[]), &secs(std::iter::repeat_n(RUSH, 10_000)));
        assert!((b.seconds - 400.0).abs() < 1e-6, "{b:?}");
        assert_eq!(b.calls_per_rebuild, 0.04);
    }

    #[test]
    fn a_rush_spread_over_ten_minutes_keeps_the_api_busy_so_the_bound_is_n_c_over_r() {
        // 10,000 due over 600 s need 1,600 calls: more than 2/s delivers, so no idle gap.
        let due = secs((0..10_000).map(|i| RUSH + 600.0 * f64::from(i) / 10_000.0));
        let b = bound(&limits(2.0, false, &[]), &due);
        assert!((b.seconds - 800.0).abs() < 1e-6, "{b:?}");
        assert_eq!(b.rebuilds, 10_000);
    }

    #[test]
    fn a_change_while_the_rebuilds_are_due_counts_from_its_instant() {
        // 1,000 at 15:40 need 160 calls: 40 s at 2/s serve 80, the other 80 take 80 s at 1/s.
        let b = bound(&limits(2.0, false, &["15:40:40=1"]), &secs(std::iter::repeat_n(RUSH, 1000)));
        assert!((b.seconds - 120.0).abs() < 1e-6, "{b:?}");
        assert_eq!(b.rates, [2.0, 1.0]);
        // A change after the stretch, or a burst alone, leaves it alone.
        let later = bound(&limits(2.0, false, &["18:00=0.5", "19:00=/3"]), &secs(std::iter::repeat_n(RUSH, 1000)));
        assert!((later.seconds - 80.0).abs() < 1e-6, "{later:?}");
        assert_eq!(later.rates, [2.0]);
        // The limit in force is the changed one when the rush comes after the change.
        let before = bound(&limits(2.0, false, &["12:00=0.5"]), &secs(std::iter::repeat_n(RUSH, 1000)));
        assert!((before.seconds - 320.0).abs() < 1e-6, "{before:?}");
        assert_eq!(before.rates, [0.5]);
    }

    #[test]
    fn the_busiest_stretch_is_the_longest_and_spread_rebuilds_do_not_add_up() {
        // A rebuild every 10 minutes all day never waits for another: one rebuild's calls.
        let day = secs((0..144).map(|i| 600.0 * f64::from(i)));
        let spread = bound(&limits(2.0, false, &[]), &day);
        assert!((spread.seconds - 0.08).abs() < 1e-9, "{spread:?}");
        assert_eq!(spread.rebuilds, 1);
        // Two waves an hour apart: the bigger one is the bound.
        let waves: Vec<f64> = std::iter::repeat_n(3600.0, 500)
            .chain(std::iter::repeat_n(7200.0, 2000))
            .chain(day.iter().map(|d| d.as_secs_f64() + 1.0))
            .collect();
        let b = bound(&limits(2.0, false, &[]), &secs(waves));
        assert_eq!(b.first_due, 7200.0);
        assert!(b.seconds >= 160.0 && b.seconds < 160.2, "{b:?}");
        assert!((2000..=2001).contains(&b.rebuilds), "{b:?}");
    }

    #[test]
    fn no_limit_or_no_rebuild_has_no_bound() {
        assert_eq!(rate_bound(&ApiLimits::off(), start(), &secs([10.0])), None);
        assert_eq!(rate_bound(&ApiLimits::default(), start(), &[]), None);
    }
}
