//! No desktop is lost at a small account's rate: the reproduction of a school rush whose
//! account allows one WorkSpaces request a second. Before the reconciler learned the rate,
//! its fixed budget (90 calls a minute) spent every token on new terminations' reads,
//! so the creates of desks already terminated were throttled tick after tick, backed off
//! up to 30 minutes and lost: 273 to 292 desktops a seed on seeds 1, 4, 5, 8, 9, 11, 12.

use blankslate_sim::file::ScenarioFile;
use blankslate_sim::{run, Policy};

const RUSH_AT_ONE_PER_SECOND: &str = r#"
name = "school-rush-1rps"
kind = "school-rush"
workspaces = 1000
hours = 24
selector = "tag:blankslate"
alarm_mode = "per-workspace"
max_in_flight = 10000

[api]
rate_per_second = 1.0
burst = 5.0
"#;

#[test]
fn a_rush_at_one_request_a_second_loses_no_desktop() {
    let file = ScenarioFile::parse(RUSH_AT_ONE_PER_SECOND).expect("scenario parses");
    for seed in [1, 4, 5] {
        let o = run(file.build(None, None, seed).expect("scenario builds"), Policy::Blankslate, seed);
        let m = &o.metrics;
        let replay = format!("replay: blankslate simulate --file <the scenario above> --seed {seed}");
        assert!(o.violations.is_empty(), "seed {seed}: {:#?}\n{replay}", &o.violations[..o.violations.len().min(5)]);
        assert_eq!(m.lost_desktops, 0, "seed {seed}: {replay}");
        assert_eq!(m.fresh_ready_share(), 100.0, "seed {seed}: {replay}");
        assert!(m.rebuilds >= 900, "seed {seed}: {} rebuilds", m.rebuilds);
    }
}
