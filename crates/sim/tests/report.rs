//! What a run's report shows: the rate bound from the rebuilds the workload made due (the
//! same for both policies), the overhead's ratio to it, concurrency measured for the seed
//! too, and every run's series on one time axis.

use blankslate_sim::bound::rate_bound;
use blankslate_sim::limits::ApiLimits;
use blankslate_sim::report::{self, Summary};
use blankslate_sim::scenario::Scenario;
use blankslate_sim::{run, scenarios, Outcome, Policy};

fn both(scenario: &Scenario, seed: u64) -> [(Outcome, Summary); 2] {
    [Policy::Blankslate, Policy::Seed].map(|policy| {
        let o = run(scenario.clone(), policy, seed);
        let s = report::summarize(scenario, &o);
        (o, s)
    })
}

#[test]
fn the_rate_bound_comes_from_the_rebuilds_due_whichever_policy_runs() {
    let scenario = scenarios::school_rush(120, 24, 7).expect("scenario builds");
    let [(ours, a), (seed, b)] = both(&scenario, 7);
    // Every pupil leaves for the day; those who step away come back within grace.
    assert_eq!(ours.metrics.rebuilds_due.len(), 120, "one rebuild due per pupil");
    let mut due = [ours.metrics.rebuilds_due.clone(), seed.metrics.rebuilds_due.clone()];
    due.iter_mut().for_each(|d| d.sort());
    assert_eq!(due[0], due[1], "the workload, not the policy, makes rebuilds due");
    assert!(seed.metrics.rebuilds < 120, "the seed finishes few of them, yet its bound is the same");
    assert_eq!(a.rate_bound, b.rate_bound);

    let bound = a.rate_bound.clone().expect("a limit and rebuilds due give a bound");
    assert_eq!(Some(&bound), rate_bound(&scenario.api, scenario.start, &ours.metrics.rebuilds_due).as_ref());
    assert_eq!(bound.calls_per_rebuild, 4.0 / 25.0);
    assert_eq!(bound.rates, [2.0]);
    // The pupils leave a few a minute: the API keeps up, so the busiest stretch is short.
    assert!(bound.rebuilds >= 1 && bound.rebuilds < 120, "{bound:?}");
    let at_least = bound.rebuilds as f64 * 0.16 / 2.0;
    assert!(bound.seconds >= at_least - 1e-9 && bound.seconds < at_least + 0.08 * 120.0, "{bound:?}");
    let first = bound.first_due;
    assert!(ours.metrics.rebuilds_due.iter().any(|d| (d.as_secs_f64() - first).abs() < 1e-9), "{bound:?}");

    let ratio = a.overhead_p99_to_bound.expect("a ratio");
    assert!((ratio - a.overhead_p99.expect("overhead") / bound.seconds).abs() < 1e-9);
    let ratio50 = a.overhead_p50_to_bound.expect("a ratio");
    assert!((ratio50 - a.overhead_p50.expect("overhead") / bound.seconds).abs() < 1e-9);

    let table = report::table(&[a.clone(), b.clone()]);
    for row in ["rate bound (API limit)", "rebuilds due in busiest stretch", "overhead p99 / rate bound"] {
        assert!(table.contains(row), "{row} missing:\n{table}");
    }
    assert!(table.contains(&format!("{} from {}", bound.rebuilds, bound.from)), "{table}");
    let json = serde_json::to_value(&a).expect("serializes");
    assert_eq!(json["rate_bound"]["rebuilds"], bound.rebuilds);
    assert!(json["overhead_p99_to_bound"].is_number(), "{json}");
}

#[test]
fn per_operation_buckets_and_no_limit_change_the_bound() {
    let mut scenario = scenarios::school_rush(60, 24, 8).expect("scenario builds");
    scenario.api = ApiLimits { rate_per_second: 1.0, per_operation: true, ..ApiLimits::default() };
    let o = run(scenario.clone(), Policy::Blankslate, 8);
    let s = report::summarize(&scenario, &o);
    let bound = s.rate_bound.expect("a bound");
    assert_eq!(bound.calls_per_rebuild, 1.0 / 25.0);
    assert!((bound.seconds - bound.rebuilds as f64 * 0.04).abs() < 0.04 * 60.0, "{bound:?}");

    scenario.api = ApiLimits::off();
    let o = run(scenario.clone(), Policy::Blankslate, 8);
    let s = report::summarize(&scenario, &o);
    assert_eq!((&s.rate_bound, s.overhead_p99_to_bound), (&None, None));
    assert!(report::table(&[s]).lines().any(|l| l.starts_with("rate bound") && l.trim_end().ends_with('-')));
}

#[test]
fn every_run_is_measured_over_the_whole_run_the_seed_s_concurrency_included() {
    let scenario = scenarios::school_rush(80, 24, 9).expect("scenario builds");
    let minutes = ((scenario.duration + scenario.settle).as_secs() / 60) as u32;
    let values = minutes as usize + 1;
    let runs = both(&scenario, 9);
    for (o, s) in &runs {
        let series = &o.metrics.series;
        assert_eq!(series.minutes, minutes, "{:?}", o.policy);
        for (op, row) in &series.calls_per_minute {
            assert_eq!(row.len(), values, "{:?} {op}", o.policy);
        }
        for row in [&series.concurrency_per_minute, &series.rebuilds_per_minute, &series.rebuilds_due_per_minute] {
            assert_eq!(row.len(), values, "{:?}", o.policy);
        }
        let peak = series.concurrency_per_minute.iter().copied().max().unwrap_or(0);
        assert!(peak > 0, "{:?}: concurrency never measured", o.policy);
        assert_eq!(peak as usize, s.peak_concurrency, "{:?}", o.policy);
        assert_eq!(series.rebuilds_per_minute.iter().sum::<u32>() as u64, o.metrics.rebuilds);
        assert_eq!(series.rebuilds_due_per_minute.iter().sum::<u32>() as usize, o.metrics.rebuilds_due.len());
    }
    // The seed's rebuild functions sleep 10 minutes, then 4: each is counted in every
    // minute it sleeps through, not only in the minute it started.
    let seed = &runs[1].0.metrics.series.concurrency_per_minute;
    let busy = seed.iter().filter(|&&n| n > 0).count();
    assert!(busy >= 10, "the seed's sleeping functions show for {busy} minutes only");

    let pairs: Vec<(&Outcome, &Summary)> = runs.iter().map(|(o, s)| (o, s)).collect();
    let html = report::html(&scenario, "blankslate simulate school-rush --workspaces 80 --policy both", &pairs);
    assert!(html.contains("Rebuilds due and done (running totals), whole run"));
    assert!(html.contains("around the busiest stretch"));
    assert!(html.contains("first due + bound"), "the bound is marked");
    assert!(html.contains(">12:00<") && html.contains(">18:00<"), "the time axis is labelled with times of day");
    assert!(!html.contains("<script"));
}
