//! The disconnect alarms of a rush reach Workspace_Term_Rebuild through the alarm queue
//! (SNS → SQS → the event source mapping), in batches: the functions' peak concurrency
//! stays far below the account's 1,000, and every rebuild still happens.

use blankslate_sim::{run, scenarios, Policy};

/// Peak concurrency, invocations of Term_Rebuild, overhead p99 and violations of one rush.
fn rush(workspaces: usize, seed: u64) -> (usize, u64, Option<std::time::Duration>, usize, u64) {
    let scenario = scenarios::school_rush(workspaces, 24, seed).expect("scenario builds");
    let o = run(scenario, Policy::Blankslate, seed);
    let rebuild = o.metrics.invocations.get("Workspace_Term_Rebuild").copied().unwrap_or(0);
    (o.metrics.peak_concurrency, rebuild, o.metrics.overhead_percentile(99.0), o.violations.len(), o.metrics.rebuilds)
}

#[test]
fn a_rush_of_alarms_is_a_few_batches_not_a_storm() {
    let (peak, invocations, _, violations, rebuilds) = rush(2_000, 1);
    assert_eq!(violations, 0);
    assert!(rebuilds >= 1_800, "{rebuilds} rebuilds");
    assert!(peak <= 20, "peak concurrency {peak}");
    // 2,000 alarms (and about as many logins, which keep their own path): far fewer
    // invocations than events.
    assert!(invocations < 3_000, "{invocations} Term_Rebuild invocations");
}

/// The figure issue 11 asks for, at full size (release build: about a minute).
/// `cargo test -p blankslate-sim --release --test alarm_queue -- --ignored --nocapture`
#[test]
#[ignore]
fn the_10000_desk_rush_peak_concurrency() {
    let (peak, invocations, p99, violations, rebuilds) = rush(10_000, 1);
    println!("school rush 10,000 x 24 h seed 1: peak concurrency {peak}, Term_Rebuild invocations {invocations}, overhead p99 {p99:?}, rebuilds {rebuilds}, violations {violations}");
}
