//! How many WorkSpaces API calls the reconciler may spend: a rate it learns.
//!
//! AWS publishes no request rate for the WorkSpaces API, nor whether its limit is one
//! bucket shared by every action or one per action, and the rate left to us changes
//! whenever another tool in the account starts calling. So the reconciler does not
//! assume a rate: it starts low, adds a little after each tick that needed more than it
//! was given and met no throttling, and halves the rate after any tick in which a call
//! was throttled (additive increase, multiplicative decrease, as TCP and the AWS SDKs'
//! adaptive retry mode do). The rate is kept in one journal item between invocations and
//! never exceeds the operator's ceiling (`BLANKSLATE_API_BUDGET`, calls a tick).
//!
//! Why one rate works for both shapes of limit: with one shared bucket, throttling means
//! the sum of our calls is too high, which is what the cut lowers. With one bucket per
//! action, throttling of any action lowers the total, so the rate settles where the
//! busiest action's share of our calls fits its bucket: conservative for the others, never
//! starving. Either way the planner spends the budget by priority (rebuilds under way
//! first), and the shell issues those calls first in the tick, so what a throttled tick
//! loses is new work, never a started rebuild (ARCHITECTURE.md, L1).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// The rate a fresh deployment starts from: low, so a small account's limit is not
/// hammered while the rate is found (0.5 requests/s; AWS's own samples pace below 1.5).
pub const START_PER_SECOND: f64 = 0.5;
/// Added after each clean tick that needed more calls than it had, as a share of the
/// rate (at least one call a tick): small enough to spend most ticks under the limit,
/// large enough to climb from the start to 10 requests/s within about an hour.
pub const INCREASE_SHARE: f64 = 0.05;
/// The factor a throttled tick's rate is cut by (the AWS SDKs' adaptive retry mode uses 0.7).
pub const DECREASE_FACTOR: f64 = 0.7;
/// The fewest calls a tick plans, whatever was learned: a check, a terminate, a
/// confirmation and a create. Below the account's rate this still makes progress, because
/// a throttled call costs no token and the tick's first calls are the rebuilds under way.
pub const FLOOR_CALLS_PER_TICK: usize = 4;

/// The learned rate, as stored in the journal between invocations.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
pub struct Pacing {
    /// WorkSpaces API calls per second the reconciler may spend.
    pub per_second: f64,
    /// When it last changed or was confirmed.
    pub updated_at: Timestamp,
    /// Ticks in a row that met throttling (0 after a clean tick).
    #[serde(default)]
    pub throttled_ticks: u32,
}

/// What a tick saw, for the next tick's rate.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct TickUse {
    /// WorkSpaces calls answered with ThrottlingException (after the SDK's retries).
    pub throttled: usize,
    /// True when the planner left work out for lack of budget (the rate was tested).
    pub budget_bound: bool,
}

impl Pacing {
    /// A fresh deployment's rate, capped by the ceiling.
    pub fn start(now: Timestamp, ceiling: usize, period: Duration) -> Self {
        Self {
            per_second: START_PER_SECOND.min(ceiling_per_second(ceiling, period)),
            updated_at: now,
            throttled_ticks: 0,
        }
    }

    /// The calls one tick of `period` may plan: the learned rate over the period, at least
    /// the floor, at most the ceiling.
    pub fn budget(&self, ceiling: usize, period: Duration) -> usize {
        let calls = (self.per_second * period.as_secs_f64()).floor();
        let calls = if calls.is_finite() && calls > 0.0 { calls as usize } else { 0 };
        calls.clamp(FLOOR_CALLS_PER_TICK, ceiling.max(FLOOR_CALLS_PER_TICK))
    }

    /// The rate for the next tick. Throttled: halve it (down to the floor). Clean and
    /// short of budget: add a step (up to the ceiling). Clean with budget to spare: keep
    /// it, since an idle tick says nothing about the limit.
    pub fn after_tick(self, used: TickUse, ceiling: usize, period: Duration, now: Timestamp) -> Self {
        let floor = FLOOR_CALLS_PER_TICK as f64 / period.as_secs_f64().max(1.0);
        let top = ceiling_per_second(ceiling, period).max(floor);
        let current = if self.per_second.is_finite() { self.per_second.clamp(floor, top) } else { floor };
        if used.throttled > 0 {
            let per_second = (current * DECREASE_FACTOR).max(floor);
            return Self { per_second, updated_at: now, throttled_ticks: self.throttled_ticks.saturating_add(1) };
        }
        let step = (current * INCREASE_SHARE).max(1.0 / period.as_secs_f64().max(1.0));
        let per_second = if used.budget_bound { (current + step).min(top) } else { current };
        if per_second == self.per_second && self.throttled_ticks == 0 {
            return self; // Nothing learned: nothing to store.
        }
        Self { per_second, updated_at: now, throttled_ticks: 0 }
    }
}

fn ceiling_per_second(ceiling: usize, period: Duration) -> f64 {
    ceiling as f64 / period.as_secs_f64().max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn at(n: i64) -> Timestamp {
        Timestamp::from_millis(n * 60_000)
    }

    #[test]
    fn each_tick_moves_the_rate_as_the_table_says() {
        let p = |per_second| Pacing { per_second, updated_at: at(0), throttled_ticks: 0 };
        let bound = TickUse { throttled: 0, budget_bound: true };
        let idle = TickUse { throttled: 0, budget_bound: false };
        let hit = TickUse { throttled: 3, budget_bound: true };
        // (rate before, what the tick saw, ceiling per tick, rate after)
        let cases = [
            (0.5, bound, 600, 0.525),
            (0.2, bound, 600, 0.2 + 1.0 / 60.0),
            (4.0, bound, 600, 4.2),
            (0.5, idle, 600, 0.5),
            (2.0, hit, 600, 1.4),
            (0.08, hit, 600, FLOOR_CALLS_PER_TICK as f64 / 60.0),
            (9.95, bound, 600, 10.0),
            (5.0, bound, 90, 1.5),
            (f64::NAN, bound, 600, (FLOOR_CALLS_PER_TICK + 1) as f64 / 60.0),
        ];
        for (before, used, ceiling, after) in cases {
            let next = p(before).after_tick(used, ceiling, MINUTE, at(1));
            assert!(
                (next.per_second - after).abs() < 1e-9,
                "{before} {used:?} {ceiling}: {} != {after}",
                next.per_second
            );
        }
    }

    #[test]
    fn an_idle_tick_changes_nothing_so_nothing_is_stored() {
        let p = Pacing { per_second: 1.0, updated_at: at(0), throttled_ticks: 0 };
        assert_eq!(p.after_tick(TickUse::default(), 600, MINUTE, at(5)), p);
        let after_throttling = Pacing { throttled_ticks: 2, ..p }.after_tick(TickUse::default(), 600, MINUTE, at(5));
        assert_eq!((after_throttling.throttled_ticks, after_throttling.updated_at), (0, at(5)));
    }

    #[test]
    fn the_budget_stays_between_the_floor_and_the_ceiling() {
        let p = |per_second| Pacing { per_second, updated_at: at(0), throttled_ticks: 0 };
        assert_eq!(p(0.5).budget(600, MINUTE), 30);
        assert_eq!(p(0.01).budget(600, MINUTE), FLOOR_CALLS_PER_TICK);
        assert_eq!(p(100.0).budget(90, MINUTE), 90);
        assert_eq!(p(f64::INFINITY).budget(90, MINUTE), FLOOR_CALLS_PER_TICK);
        assert_eq!(Pacing::start(at(0), 20, MINUTE).per_second, 20.0 / 60.0);
    }

    #[test]
    fn sustained_throttling_converges_below_any_limit_and_recovers() {
        // A toy account: `limit` calls a tick pass, the rest are throttled.
        for limit in [5usize, 15, 60, 120, 600] {
            let mut p = Pacing::start(at(0), 600, MINUTE);
            let (mut throttled_late, mut passed_late) = (0, 0);
            for tick in 0..400 {
                let budget = p.budget(600, MINUTE);
                let used = TickUse { throttled: budget.saturating_sub(limit), budget_bound: true };
                if tick >= 200 {
                    throttled_late += usize::from(used.throttled > 0);
                    passed_late += budget.min(limit);
                }
                p = p.after_tick(used, 600, MINUTE, at(tick + 1));
            }
            // AIMD probes the limit for ever, but spends most ticks below it and, once the
            // limit is found, passes at least half of what the limit allows.
            assert!(throttled_late * 10 <= 200 * 4, "limit {limit}: throttled in {throttled_late} of 200 late ticks");
            assert!(passed_late * 2 >= 200 * limit, "limit {limit}: {passed_late} calls passed in 200 ticks");
        }
    }
}
