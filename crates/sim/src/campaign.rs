//! Fault campaigns: the same scenario under many seeds with faults on, every invariant
//! checked in every run, each violation reported with the seed that replays it.
//!
//! The WorkSpaces API's limit is not known (DESIGN.md), so a campaign does not run at one
//! assumed rate: [`draw_limits`] gives every seed its own limit, drawn over the whole range
//! AWS could plausibly have ([`crate::limits`]), and the seed's replay line names it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::limits::{ApiChange, ApiLimits, ClockTime, MAX_BURST, MAX_RATE, MIN_BURST, MIN_RATE};
use crate::run::{run, Policy};
use crate::scenario::Scenario;
use crate::world::Violation;

/// The share of seeds whose limit changes once while users keep coming.
const CHANGE_SHARE: f64 = 0.5;

/// The WorkSpaces API limit for `seed` in `scenario`, the same every time: one shared
/// bucket or one per operation (even odds); a rate log-uniform from 0.25 to 10 requests/s,
/// so each factor of two is as likely as any other and the slow accounts are as well
/// covered as the fast; a burst uniform from 1 to 20; and for half the seeds one change,
/// at a whole minute while users keep coming (`duration`), to a rate and burst drawn the
/// same way (up or down: another tool starting or stopping). Rates are rounded to 0.01
/// so a replay line prints them exactly. Drawn from its own stream, so the fleet, the
/// sessions and the faults of a seed are the same whatever limit it gets.
pub fn draw_limits(seed: u64, scenario: &Scenario) -> ApiLimits {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0a91_1a11);
    let rate = |rng: &mut ChaCha8Rng| {
        let r = (MIN_RATE.ln() + rng.random::<f64>() * (MAX_RATE.ln() - MIN_RATE.ln())).exp();
        ((r * 100.0).round() / 100.0).clamp(MIN_RATE, MAX_RATE)
    };
    let burst = |rng: &mut ChaCha8Rng| f64::from(rng.random_range(MIN_BURST as u32..=MAX_BURST as u32));
    let per_operation = rng.random_bool(0.5);
    let rate_per_second = rate(&mut rng);
    let burst_size = burst(&mut rng);
    let mut changes = Vec::new();
    let minutes = scenario.duration.as_secs() / 60;
    if rng.random_bool(CHANGE_SHARE) && minutes > 1 {
        let at = scenario.start + Duration::from_secs(60 * rng.random_range(1..minutes));
        let at = ClockTime::of(scenario.start, at).whole_minute();
        changes.push(ApiChange { at, rate_per_second: Some(rate(&mut rng)), burst: Some(burst(&mut rng)) });
    }
    ApiLimits { rate_per_second, burst: burst_size, per_operation, changes }
}

/// One seed's result.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SeedResult {
    /// The seed (it also generated the fleet).
    pub seed: u64,
    /// What broke.
    pub violations: Vec<Violation>,
    /// Rebuilds completed.
    pub rebuilds: u64,
    /// Function invocations that crashed (injected).
    pub crashes: u64,
    /// Calls refused with ThrottlingException.
    pub throttled: u64,
    /// The WorkSpaces API limit the seed ran at.
    pub api: ApiLimits,
}

/// Runs `build(seed)` for each seed in `seeds` on `threads` threads, calling `done` after
/// each run (for a progress bar). Results come back in seed order, so a campaign's output
/// does not depend on the thread count.
pub fn campaign(
    seeds: std::ops::Range<u64>,
    threads: usize,
    build: impl Fn(u64) -> Result<Scenario, String> + Sync,
    done: impl Fn() + Sync,
) -> Result<Vec<SeedResult>, String> {
    let next = AtomicU64::new(seeds.start);
    let results = Mutex::new(Vec::new());
    let failure = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= seeds.end {
                    break;
                }
                let scenario = match build(seed) {
                    Ok(s) => s,
                    Err(e) => {
                        *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        break;
                    }
                };
                let api = scenario.api.clone();
                let o = run(scenario, Policy::Blankslate, seed);
                let m = &o.metrics;
                let result = SeedResult {
                    seed,
                    violations: o.violations,
                    rebuilds: m.rebuilds,
                    crashes: m.crashes,
                    throttled: m.throttled.values().sum(),
                    api,
                };
                results.lock().unwrap_or_else(|p| p.into_inner()).push(result);
                done();
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|r| r.seed);
    Ok(results)
}
