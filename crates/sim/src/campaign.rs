//! Fault campaigns: the same scenario under many seeds with faults on, every invariant
//! checked in every run, each violation reported with the seed that replays it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::run::{run, Policy};
use crate::scenario::Scenario;
use crate::world::Violation;

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
                let o = run(scenario, Policy::Blankslate, seed);
                let m = &o.metrics;
                let result = SeedResult {
                    seed,
                    violations: o.violations,
                    rebuilds: m.rebuilds,
                    crashes: m.crashes,
                    throttled: m.throttled.values().sum(),
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
