//! How many WorkSpaces API calls the reconciler may spend: a rate it learns.
//!
//! AWS publishes no request rate for the WorkSpaces API, nor whether its limit is one
//! bucket shared by every action or one per action, and the rate left to us changes
//! whenever another tool in the account starts calling. So the reconciler does not
//! assume a rate: it learns one the way the AWS SDKs' adaptive retry mode does (CUBIC,
//! RFC 9438, with the SDKs' cut to 0.7 of the rate on throttling), counted in ticks
//! instead of seconds because a tick is our round trip:
//!
//! - until the first throttling it doubles the rate after each tick that needed more than
//!   it was given (slow start): a rush must not wait half an hour for a rate the account
//!   has allowed all along;
//! - a tick in which a call was throttled cuts the rate to 0.7 of itself and remembers the
//!   rate it was cut from (the limit is near there);
//! - after a cut, each clean tick that needed more moves along a cubic curve through the
//!   remembered rate: quickly back towards it (93% after two ticks), a few ticks on a
//!   plateau around it, then faster and faster beyond it, so a limit that was raised is
//!   found again and one that was not costs one throttled tick in about six.
//!
//! An idle tick says nothing about the limit and changes nothing. The rate is kept in one
//! journal item between invocations and never exceeds the operator's ceiling
//! (`BLANKSLATE_API_BUDGET`, calls a tick).
//!
//! Why one rate works for both shapes of limit: with one shared bucket, throttling means
//! the sum of our calls is too high, which is what the cut lowers. With one bucket per
//! action, throttling of any action lowers the total, so the rate settles where the
//! busiest action's share of our calls fits its bucket: conservative for the others, never
//! starving. Either way the planner spends the budget by priority (rebuilds under way
//! first), and the shell issues those calls first in the tick, so what a throttled tick
//! loses is new work, never a started rebuild (ARCHITECTURE.md, L1). Only throttling
//! within the budget teaches: calls the tick knowingly made beyond it (a sweep's fleet
//! listing larger than the budget) say nothing about whether the budget fits, and the
//! shell leaves them out of [`TickUse::throttled`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// The rate a fresh deployment starts from: low, so a small account's limit is not
/// hammered while the rate is found (0.5 requests/s; AWS's own samples pace below 1.5).
pub const START_PER_SECOND: f64 = 0.5;
/// The factor a clean tick that needed more raises the rate by until the first throttling
/// (slow start), and the most any tick raises it by: from the start to 10 requests/s in
/// five ticks.
pub const SLOW_START_FACTOR: f64 = 2.0;
/// The factor a throttled tick's rate is cut by (the AWS SDKs' adaptive retry mode uses 0.7).
pub const DECREASE_FACTOR: f64 = 0.7;
/// Clean ticks that needed more after which the rate is back at the rate it was last cut
/// from (CUBIC's K). The curve is scaled to that rate, so the climb takes as many ticks at
/// 0.25 requests/s as at 10: 85% and 93% of the old rate after one and two ticks, within
/// 2% of it from the third to the seventh, then 7%, 15% and 30% above it.
pub const RECOVERY_TICKS: f64 = 5.0;
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
    /// The rate of the last throttled tick (CUBIC's W_max): where the limit was met. None
    /// until the first throttling (and in items stored before it was kept): slow start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_from: Option<f64>,
    /// Clean ticks that needed more since that cut: how far along the curve the rate is.
    #[serde(default)]
    pub since_cut: u32,
}

/// What a tick saw, for the next tick's rate.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct TickUse {
    /// WorkSpaces calls within the tick's budget answered with ThrottlingException (after
    /// the SDK's retries).
    pub throttled: usize,
    /// True when the planner left work out for lack of budget (the rate was tested).
    pub budget_bound: bool,
}

impl Pacing {
    /// A fresh deployment's rate, capped by the ceiling.
    pub fn start(now: Timestamp, ceiling: usize, period: Duration) -> Self {
        Self::at(START_PER_SECOND.min(ceiling_per_second(ceiling, period)), now)
    }

    /// A rate with nothing learned about the limit yet.
    pub fn at(per_second: f64, now: Timestamp) -> Self {
        Self { per_second, updated_at: now, throttled_ticks: 0, cut_from: None, since_cut: 0 }
    }

    /// The calls one tick of `period` may plan: the learned rate over the period, at least
    /// the floor, at most the ceiling.
    pub fn budget(&self, ceiling: usize, period: Duration) -> usize {
        let calls = (self.per_second * period.as_secs_f64()).floor();
        let calls = if calls.is_finite() && calls > 0.0 { calls as usize } else { 0 };
        calls.clamp(FLOOR_CALLS_PER_TICK, ceiling.max(FLOOR_CALLS_PER_TICK))
    }

    /// The rate for the next tick. Throttled: cut it (down to the floor) and remember where.
    /// Clean and short of budget: double it before any throttling, else follow the curve
    /// through the rate last cut from (up to the ceiling). Clean with budget to spare: keep
    /// it, since an idle tick says nothing about the limit.
    pub fn after_tick(self, used: TickUse, ceiling: usize, period: Duration, now: Timestamp) -> Self {
        let floor = FLOOR_CALLS_PER_TICK as f64 / period.as_secs_f64().max(1.0);
        let top = ceiling_per_second(ceiling, period).max(floor);
        let current = if self.per_second.is_finite() { self.per_second.clamp(floor, top) } else { floor };
        if used.throttled > 0 {
            return Self {
                per_second: (current * DECREASE_FACTOR).max(floor),
                updated_at: now,
                throttled_ticks: self.throttled_ticks.saturating_add(1),
                cut_from: Some(current),
                since_cut: 0,
            };
        }
        if !used.budget_bound {
            if current == self.per_second && self.throttled_ticks == 0 {
                return self; // Nothing learned: nothing to store.
            }
            return Self { per_second: current, updated_at: now, throttled_ticks: 0, ..self };
        }
        let since_cut = self.since_cut.saturating_add(1);
        let cut_from = self.cut_from.filter(|w| w.is_finite() && *w > 0.0);
        let target = match cut_from {
            None => current * SLOW_START_FACTOR,
            Some(w) => {
                let scale = (1.0 - DECREASE_FACTOR) / RECOVERY_TICKS.powi(3);
                w * (1.0 + scale * (f64::from(since_cut) - RECOVERY_TICKS).powi(3))
            }
        };
        // Never below the rate that just served a clean tick, never more than double it: one
        // tick never leaps far past a limit it has not met.
        let per_second = target.max(current).min(current * SLOW_START_FACTOR).min(top);
        Self { per_second, updated_at: now, throttled_ticks: 0, cut_from, since_cut }
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

    const BOUND: TickUse = TickUse { throttled: 0, budget_bound: true };
    const IDLE: TickUse = TickUse { throttled: 0, budget_bound: false };
    const HIT: TickUse = TickUse { throttled: 3, budget_bound: true };

    #[test]
    fn each_tick_moves_the_rate_as_the_table_says() {
        let fresh = |per_second| Pacing::at(per_second, at(0));
        let cut = |per_second, cut_from, since_cut| Pacing { cut_from: Some(cut_from), since_cut, ..fresh(per_second) };
        // The curve through 2.0 after k clean ticks: 2 * (1 + 0.3 / 125 * (k - 5)^3).
        let curve = |k: f64| 2.0 * (1.0 + 0.3 / 125.0 * (k - 5.0).powi(3));
        // (before, what the tick saw, ceiling per tick, rate after, cut from after)
        let cases = [
            (fresh(0.5), BOUND, 600, 1.0, None),
            (fresh(4.0), BOUND, 600, 8.0, None),
            (fresh(6.0), BOUND, 600, 10.0, None),
            (fresh(5.0), BOUND, 90, 1.5, None),
            (fresh(0.5), IDLE, 600, 0.5, None),
            (fresh(2.0), HIT, 600, 1.4, Some(2.0)),
            (fresh(0.08), HIT, 600, FLOOR_CALLS_PER_TICK as f64 / 60.0, Some(0.08)),
            (fresh(f64::NAN), BOUND, 600, 2.0 * FLOOR_CALLS_PER_TICK as f64 / 60.0, None),
            (cut(1.4, 2.0, 0), BOUND, 600, curve(1.0), Some(2.0)),
            (cut(curve(1.0), 2.0, 1), BOUND, 600, curve(2.0), Some(2.0)),
            (cut(2.0, 2.0, 5), BOUND, 600, curve(6.0), Some(2.0)),
            (cut(2.6, 2.0, 9), BOUND, 600, curve(10.0), Some(2.0)),
            (cut(1.9, 2.0, 3), IDLE, 600, 1.9, Some(2.0)),
            (cut(1.9, 2.0, 3), HIT, 600, 1.9 * 0.7, Some(1.9)),
            // Far along the curve: never more than double in one tick.
            (cut(2.0, 2.0, 40), BOUND, 600, 4.0, Some(2.0)),
        ];
        for (before, used, ceiling, after, cut_from) in cases {
            let next = before.after_tick(used, ceiling, MINUTE, at(1));
            assert!(
                (next.per_second - after).abs() < 1e-9 && next.cut_from == cut_from,
                "{before:?} {used:?} {ceiling}: {next:?}, expected {after} cut from {cut_from:?}"
            );
        }
    }

    #[test]
    fn an_idle_tick_changes_nothing_so_nothing_is_stored() {
        let p = Pacing { cut_from: Some(1.2), since_cut: 3, ..Pacing::at(1.0, at(0)) };
        assert_eq!(p.after_tick(IDLE, 600, MINUTE, at(5)), p);
        let after_throttling = Pacing { throttled_ticks: 2, ..p }.after_tick(IDLE, 600, MINUTE, at(5));
        assert_eq!((after_throttling.throttled_ticks, after_throttling.updated_at), (0, at(5)));
        assert_eq!((after_throttling.cut_from, after_throttling.since_cut), (Some(1.2), 3), "the curve is kept");
    }

    #[test]
    fn the_budget_stays_between_the_floor_and_the_ceiling() {
        let p = |per_second| Pacing::at(per_second, at(0));
        assert_eq!(p(0.5).budget(600, MINUTE), 30);
        assert_eq!(p(0.01).budget(600, MINUTE), FLOOR_CALLS_PER_TICK);
        assert_eq!(p(100.0).budget(90, MINUTE), 90);
        assert_eq!(p(f64::INFINITY).budget(90, MINUTE), FLOOR_CALLS_PER_TICK);
        assert_eq!(Pacing::start(at(0), 20, MINUTE).per_second, 20.0 / 60.0);
    }

    #[test]
    fn an_item_stored_before_the_curve_was_kept_reads_as_slow_start() {
        let old = r#"{"per_second":1.5,"updated_at":300000,"throttled_ticks":2}"#;
        let read: Pacing = serde_json::from_str(old).expect("an item of the earlier shape");
        assert_eq!((read.per_second, read.cut_from, read.since_cut), (1.5, None, 0));
        let stored = serde_json::to_string(&Pacing { cut_from: Some(2.0), since_cut: 4, ..read }).expect("json");
        assert_eq!(serde_json::from_str::<Pacing>(&stored).expect("read back").cut_from, Some(2.0));
    }

    /// A toy account: `limit` calls a tick pass, the rest are throttled. Runs `ticks` busy
    /// ticks from `start` and returns the pacing after each.
    fn against(limit: impl Fn(usize) -> usize, start: Pacing, ticks: usize) -> Vec<(usize, usize, Pacing)> {
        let mut p = start;
        let mut out = Vec::new();
        for tick in 0..ticks {
            let budget = p.budget(600, MINUTE);
            let used = TickUse { throttled: budget.saturating_sub(limit(tick)), budget_bound: true };
            p = p.after_tick(used, 600, MINUTE, at(tick as i64 + 1));
            out.push((budget, limit(tick), p));
        }
        out
    }

    #[test]
    fn sustained_throttling_converges_below_any_limit_and_recovers() {
        for limit in [5usize, 15, 60, 120, 125, 300, 600] {
            let ticks = against(|_| limit, Pacing::start(at(0), 600, MINUTE), 400);
            let late = &ticks[200..];
            let throttled_late = late.iter().filter(|(budget, limit, _)| budget > limit).count();
            let passed_late: usize = late.iter().map(|(budget, limit, _)| budget.min(limit)).sum();
            // The curve probes the limit for ever, but spends most ticks below it and, once
            // the limit is found, passes most of what the limit allows (AIMD at 5% a tick
            // passed 86%; a limit of 5 is barely above the floor of 4).
            assert!(throttled_late * 10 <= 200 * 2, "limit {limit}: throttled in {throttled_late} of 200 late ticks");
            assert!(passed_late * 10 >= 200 * limit * 9, "limit {limit}: {passed_late} calls passed in 200 ticks");
        }
    }

    #[test]
    fn a_fresh_deployment_finds_the_limit_within_a_few_ticks() {
        // 2 requests/s: 120 calls a minute (AIMD at 5% a tick took 28 ticks to get there).
        let ticks = against(|_| 120, Pacing::start(at(0), 600, MINUTE), 10);
        let first = ticks.iter().position(|(budget, _, _)| *budget >= 100).expect("reached");
        assert!(first <= 3, "{first} ticks to 100 calls a tick: {ticks:?}");
        // Slow start overshoots once, as TCP's does; the throttled ticks still pass the
        // limit's calls. AIMD passed 377 calls in these ten ticks.
        let throttled = ticks.iter().filter(|(budget, limit, _)| budget > limit).count();
        assert!(throttled <= 4, "{throttled} throttled ticks: {ticks:?}");
        let passed: usize = ticks.iter().map(|(budget, limit, _)| budget.min(limit)).sum();
        assert!(passed >= 900, "{passed} of 1,200 calls passed: {ticks:?}");
    }

    #[test]
    fn after_a_cut_the_rate_is_back_near_where_it_was_within_three_ticks() {
        // A cut for one tick (another tool's burst), then the limit is back at 120 a tick.
        let was = Pacing { cut_from: Some(2.0), since_cut: 8, ..Pacing::at(2.0, at(0)) };
        let ticks = against(|tick| if tick == 0 { 60 } else { 120 }, was, 6);
        assert!(ticks[0].2.per_second < 1.5, "cut: {ticks:?}");
        assert!(ticks[3].0 >= 110, "three clean ticks later: {ticks:?}");
    }

    #[test]
    fn a_limit_raised_later_is_found_and_one_lowered_is_kept_to() {
        // 60 a tick, then 600 from tick 100, then 15 from tick 200.
        let limit = |tick| match tick {
            0..100 => 60,
            100..200 => 600,
            _ => 15,
        };
        let ticks = against(limit, Pacing::start(at(0), 600, MINUTE), 300);
        let raised = ticks[100..].iter().position(|(budget, _, _)| *budget >= 500).expect("the raised limit is found");
        assert!(raised <= 25, "{raised} ticks to find the raised limit");
        // From 600 to 15 at 0.7 a tick: ln 40 / ln (1 / 0.7) = 10.3 ticks.
        let lowered = ticks[200..].iter().position(|(budget, limit, _)| budget <= limit).expect("kept to");
        assert!(lowered <= 11, "{lowered} ticks to fall below the lowered limit");
        let throttled = ticks[220..].iter().filter(|(budget, limit, _)| budget > limit).count();
        assert!(throttled * 5 <= 80, "{throttled} of 80 throttled after the fall");
    }
}
