//! The fleet-scale scenarios, throttling, injected faults and campaigns: the invariants
//! hold, the API budget is respected, and a seed replays a run exactly.

use blankslate_core::config::AlarmMode;
use blankslate_sim::campaign::campaign;
use blankslate_sim::file::ScenarioFile;
use blankslate_sim::scenario::Faults;
use blankslate_sim::{report, run, scenarios, Policy};

#[test]
fn a_school_rush_under_throttling_rebuilds_every_desktop() {
    let scenario = scenarios::school_rush(400, 24, 3).expect("scenario builds");
    let o = run(scenario.clone(), Policy::Blankslate, 3);
    assert!(o.violations.is_empty(), "{:#?}", o.violations);
    let m = &o.metrics;
    assert_eq!(m.rebuilds, 400, "every pupil's desktop is rebuilt once");
    assert_eq!(m.fresh_ready_share(), 100.0);
    // The reconciler learns the limit by probing it, so it meets the bucket now and then,
    // but rarely.
    let workspaces = [
        "DescribeWorkspaces",
        "DescribeWorkspacesConnectionStatus",
        "DescribeTags",
        "TerminateWorkspaces",
        "CreateWorkspaces",
    ];
    let calls: u64 = workspaces.iter().map(|op| m.calls(op)).sum();
    let throttled: u64 = m.throttled.values().sum();
    assert!(throttled * 100 <= calls, "{throttled} of {calls} WorkSpaces calls throttled: {:?}", m.throttled);
    assert!(!m.series.learned_rate.is_empty(), "the learned rate was never stored");
    let s = report::summarize(&scenario, &o);
    assert!(s.calls_per_rebuild.unwrap() <= 2.1, "{:?}", s.calls_per_rebuild);
}

#[test]
fn the_seed_loses_desktops_in_the_same_rush() {
    let scenario = scenarios::school_rush(200, 24, 4).expect("scenario builds");
    let o = run(scenario, Policy::Seed, 4);
    assert!(o.metrics.lost_desktops > 0, "the seed's fixed 4-minute wait loses desktops");
    assert!(o.metrics.fresh_ready_share() < 100.0);
}

#[test]
fn alarm_free_mode_stays_within_the_api_budget() {
    let mut scenario = scenarios::call_centre(600, 12, 5).expect("scenario builds");
    scenario.config.alarm_mode = AlarmMode::Off;
    let budget = scenario.config.api_budget_per_tick as u32;
    let o = run(scenario, Policy::Blankslate, 5);
    assert!(o.violations.is_empty(), "{:#?}", o.violations);
    assert!(o.metrics.rebuilds >= 150, "{} rebuilds", o.metrics.rebuilds);
    assert_eq!(o.metrics.calls("PutMetricAlarm"), 0);
    let conn = &o.metrics.series.calls_per_minute["DescribeWorkspacesConnectionStatus"];
    assert!(conn.iter().all(|&n| n <= budget), "a minute exceeded the budget: {:?}", conn.iter().max());
}

#[test]
fn every_fault_on_keeps_every_invariant_and_ends_every_rebuild() {
    let mut scenario = scenarios::kiosk(120, 12, 6).expect("scenario builds");
    scenario.faults = Faults::all();
    let o = run(scenario, Policy::Blankslate, 6);
    assert!(
        o.violations.is_empty(),
        "{:#?}\nreplay: blankslate simulate kiosk --workspaces 120 --hours 12 --faults --seed 6",
        o.violations
    );
    let m = &o.metrics;
    assert!(m.crashes > 0 && m.events_dropped > 0 && m.events_duplicated > 0, "faults were injected: {m:?}");
    assert!(m.server_errors.values().sum::<u64>() > 0);
    assert!(m.rebuilds > 300, "{} rebuilds", m.rebuilds);
}

#[test]
fn a_small_campaign_finds_no_violation() {
    let results = campaign(
        1..21,
        2,
        |seed| {
            let mut s = scenarios::school_rush(60, 12, seed).map_err(|e| e.to_string())?;
            s.faults = Faults::all();
            // As every `--campaign` does: the limit drawn per seed (issue 13).
            s.api = blankslate_sim::campaign::draw_limits(seed, &s);
            Ok(s)
        },
        || {},
    )
    .expect("campaign runs");
    assert_eq!(results.len(), 20);
    let bad: Vec<_> = results.iter().filter(|r| !r.violations.is_empty()).collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn the_same_seed_replays_the_same_faulty_run() {
    let build = |seed| {
        let mut s = scenarios::kiosk(50, 6, seed).expect("scenario builds");
        s.faults = Faults::all();
        s
    };
    let a = serde_json::to_string(&run(build(9), Policy::Blankslate, 9).metrics).unwrap();
    let b = serde_json::to_string(&run(build(9), Policy::Blankslate, 9).metrics).unwrap();
    let c = serde_json::to_string(&run(build(10), Policy::Blankslate, 10).metrics).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn scenario_files_build_and_name_what_is_wrong() {
    let file = ScenarioFile::parse(
        "kind = \"kiosk\"\nworkspaces = 30\nhours = 6\nalarm_mode = \"off\"\n[faults]\ndrop = 0.5\n[api]\nrate_per_second = 1.0\n",
    )
    .expect("parses");
    let s = file.build(None, None, 1).expect("builds");
    assert_eq!(s.desks.len(), 30);
    assert_eq!(s.config.alarm_mode, AlarmMode::Off);
    assert_eq!(s.faults.drop, 0.5);
    assert_eq!(s.api.rate_per_second, 1.0);
    let typo = ScenarioFile::parse("kind = \"kiosk\"\nworkspace = 3\n").unwrap_err();
    assert!(typo.contains("workspace"), "{typo}");
    let kind = ScenarioFile::parse("kind = \"lab\"\n").unwrap().build(None, None, 1).unwrap_err();
    assert!(kind.contains("lab"), "{kind}");
    let rate =
        ScenarioFile::parse("kind = \"kiosk\"\n[faults]\ncrash = 2.0\n").unwrap().build(None, None, 1).unwrap_err();
    assert!(rate.contains("crash"), "{rate}");
    for path in
        ["school-rush.toml", "call-centre-alarm-free.toml", "kiosk-faults.toml", "school-rush-another-tool.toml"]
    {
        let text = std::fs::read_to_string(format!("{}/../../scenarios/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        ScenarioFile::parse(&text)
            .and_then(|f| f.build(Some(10), Some(4), 1))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

#[test]
fn the_report_is_self_contained_html_with_charts() {
    let scenario = scenarios::school_rush(40, 12, 2).expect("scenario builds");
    let ours = run(scenario.clone(), Policy::Blankslate, 2);
    let seed = run(scenario.clone(), Policy::Seed, 2);
    let (a, b) = (report::summarize(&scenario, &ours), report::summarize(&scenario, &seed));
    let html = report::html(&scenario, "blankslate simulate school-rush --workspaces 40", &[(&ours, &a), (&seed, &b)]);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.matches("<svg").count() >= 7, "three charts per policy and the histogram");
    assert!(!html.contains("<script"), "no scripts");
    assert!(html.contains("Blankslate") && html.contains("Seed"));
    assert!(html.contains("\"fresh_share\""), "metrics JSON embedded");
}

/// Issue 11: the grace period counts from the end of the datapoint the alarm evaluated,
/// not from the alarm's state change about 90 s later. Every terminate is checked against
/// the user's real disconnect (S1: never within grace of it), so the earlier start never
/// shortens a grace period.
#[test]
fn alarm_disconnects_count_from_the_end_of_their_datapoint() {
    let scenario = scenarios::kiosk(200, 12, 6).expect("scenario builds");
    let o = run(scenario, Policy::Blankslate, 6);
    assert!(o.violations.is_empty(), "{:#?}", o.violations);
    let lags = &o.metrics.detection_lag;
    assert!(lags.len() >= 100, "{} disconnects detected", lags.len());
    let within_the_minute = lags.iter().filter(|lag| lag.as_secs() <= 60).count();
    // The alarm's datapoint ends at most one period after the disconnect; StateChangeTime
    // was always later (publishing delay, evaluation on the minute: 120 s here, where
    // sessions end on the minute). The rest are disconnects a sweep found (7% with this
    // seed), whose grace counts from the sweep.
    assert!(within_the_minute * 100 >= lags.len() * 90, "{within_the_minute} of {} within 60 s", lags.len());
    let p50 = blankslate_sim::metrics::percentile(lags, 50.0).unwrap();
    assert!(p50.as_secs() <= 60, "detection lag p50 {p50:?}");
}
