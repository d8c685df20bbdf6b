//! The WorkSpaces API limit's shape: scenario-file keys and their errors, token buckets
//! that change at a time of day, shared and per-operation buckets, the limits campaigns
//! draw per seed, and the flags a replay line prints for them.

use std::time::Duration;

use blankslate_core::Timestamp;
use blankslate_sim::campaign::draw_limits;
use blankslate_sim::file::ScenarioFile;
use blankslate_sim::limits::{ApiChange, ApiLimits, ClockTime};
use blankslate_sim::{run, scenarios, ApiBuckets, Policy};

const KIOSK: &str = "kind = \"kiosk\"\nworkspaces = 5\nhours = 6\n";

fn change(at: &str, rate: Option<f64>, burst: Option<f64>) -> ApiChange {
    ApiChange { at: at.parse().unwrap(), rate_per_second: rate, burst }
}

/// The `[api]` table of a scenario file (the kiosk starts at 06:00) → the limit, or the
/// words the error must contain.
#[test]
fn scenario_file_keys_give_the_limit_or_name_the_field() {
    let ok: &[(&str, ApiLimits)] = &[
        ("", ApiLimits::default()),
        (
            "[api]\nrate_per_second = 0.25\nburst = 1\n",
            ApiLimits { rate_per_second: 0.25, burst: 1.0, ..ApiLimits::default() },
        ),
        (
            "[api]\nrate_per_second = 10\nburst = 20\nper_operation = true\n",
            ApiLimits { rate_per_second: 10.0, burst: 20.0, per_operation: true, changes: vec![] },
        ),
        ("[api]\nrate_per_second = 0\n", ApiLimits::off()),
        (
            "[api]\nrate_per_second = 1.0\n[[api.change]]\nat = \"09:35\"\nrate_per_second = 0.5\nburst = 2\n\
             [[api.change]]\nat = \"27:00:30\"\nburst = 8\n",
            ApiLimits {
                rate_per_second: 1.0,
                changes: vec![change("09:35", Some(0.5), Some(2.0)), change("27:00:30", None, Some(8.0))],
                ..ApiLimits::default()
            },
        ),
    ];
    for (table, expected) in ok {
        let s = ScenarioFile::parse(&format!("{KIOSK}{table}"))
            .and_then(|f| f.build(None, None, 1))
            .unwrap_or_else(|e| panic!("{table:?}: {e}"));
        assert_eq!(&s.api, expected, "{table:?}");
    }
    let bad: &[(&str, &[&str])] = &[
        ("[api]\nrate_per_second = 0.2\n", &["api.rate_per_second", "0.2", "0.25", "10"]),
        ("[api]\nrate_per_second = 11\n", &["api.rate_per_second", "11"]),
        ("[api]\nrate_per_second = -1\n", &["api.rate_per_second", "-1"]),
        ("[api]\nrate_per_second = nan\n", &["api.rate_per_second", "NaN"]),
        ("[api]\nburst = 0\n", &["api.burst", "0", "between 1 and 20"]),
        ("[api]\nburst = 21\n", &["api.burst", "21"]),
        ("[api]\nrate = 2\n", &["rate"]),
        ("[api]\nper_operation = \"yes\"\n", &["per_operation"]),
        ("[[api.change]]\nat = \"09:35\"\nrate_per_second = 40\n", &["api.change[0].rate_per_second", "40"]),
        ("[[api.change]]\nat = \"09:35\"\nburst = 0.5\n", &["api.change[0].burst", "0.5"]),
        (
            "[[api.change]]\nat = \"05:59\"\nburst = 2\n",
            &["api.change[0].at", "05:59", "before the scenario starts (06:00)"],
        ),
        ("[[api.change]]\nat = \"9h35\"\nburst = 2\n", &["9h35", "HH:MM"]),
        ("[[api.change]]\nat = \"09:75\"\nburst = 2\n", &["09:75", "00 to 59"]),
        ("[[api.change]]\nat = \"09:35\"\n", &["api.change[0]", "rate_per_second, burst or both"]),
        ("[[api.change]]\nburst = 2\n", &["at"]),
        ("[[api.change]]\nat = \"09:35\"\nburst = 2\nwhen = 1\n", &["when"]),
        (
            "[[api.change]]\nat = \"10:00\"\nburst = 2\n[[api.change]]\nat = \"09:00\"\nburst = 3\n",
            &["api.change[1].at", "09:00", "time order"],
        ),
        ("[api]\nrate_per_second = 0\n[[api.change]]\nat = \"09:35\"\nburst = 2\n", &["api.change", "off"]),
    ];
    for (table, words) in bad {
        let err = match ScenarioFile::parse(&format!("{KIOSK}{table}")).and_then(|f| f.build(None, None, 1)) {
            Ok(s) => panic!("{table:?} was accepted: {:?}", s.api),
            Err(e) => e,
        };
        for word in *words {
            assert!(err.contains(word), "{table:?}: {err:?} does not say {word:?}");
        }
    }
}

fn at(hh_mm_ss: &str) -> Timestamp {
    Timestamp::parse(&format!("2026-11-23T{hh_mm_ss}Z")).unwrap()
}

/// Calls one every `every` from `from` for `count` calls; how many get through.
fn passed(buckets: &mut ApiBuckets, operation: &'static str, from: Timestamp, every: Duration, count: u32) -> u32 {
    (0..count).filter(|&i| buckets.take(operation, from + every * i, Duration::ZERO).is_some()).count() as u32
}

#[test]
fn a_change_takes_effect_at_its_time_of_day() {
    let limits = ApiLimits {
        rate_per_second: 2.0,
        burst: 1.0,
        per_operation: false,
        changes: vec![change("09:00", Some(0.5), None), change("10:00", Some(4.0), Some(3.0))],
    };
    let mut b = ApiBuckets::new(&limits, at("06:00:00"));
    let half = Duration::from_millis(500);
    // Before 09:00: a call every 0.5 s, all through at 2 req/s.
    assert_eq!(passed(&mut b, "DescribeWorkspaces", at("08:58:00"), half, 240), 240);
    assert_eq!(b.rate(), 2.0, "not changed before its time");
    // From 09:00: one in four at 0.5 req/s (the burst of 1 gives no more).
    assert_eq!(passed(&mut b, "DescribeWorkspaces", at("09:00:00"), half, 240), 60);
    assert_eq!((b.rate(), b.burst()), (0.5, 1.0), "the burst was kept");
    // From 10:00, 4 req/s with a burst of 3: three at once after a quiet spell, then all
    // calls every 0.25 s.
    let at_once = (0..5).filter(|_| b.take("DescribeWorkspaces", at("10:00:30"), Duration::ZERO).is_some()).count();
    assert_eq!(at_once, 3);
    assert_eq!(passed(&mut b, "DescribeWorkspaces", at("10:01:00"), Duration::from_millis(250), 400), 400);
}

#[test]
fn a_change_at_a_time_the_run_skips_still_applies_at_the_next_call() {
    let limits = ApiLimits { changes: vec![change("09:00", Some(0.25), Some(1.0))], ..ApiLimits::default() };
    let mut b = ApiBuckets::new(&limits, at("06:00:00"));
    assert!(b.take("CreateWorkspaces", at("08:00:00"), Duration::ZERO).is_some());
    assert!(b.take("CreateWorkspaces", at("11:00:00"), Duration::ZERO).is_some());
    assert!(b.take("CreateWorkspaces", at("11:00:01"), Duration::ZERO).is_none(), "at 0.25 req/s, burst 1");
    // A paced caller waits for its token instead: the quarter that arrived leaves three
    // seconds to wait.
    assert_eq!(b.take("CreateWorkspaces", at("11:00:01"), Duration::from_secs(10)), Some(Duration::from_secs(3)));
}

#[test]
fn shared_buckets_are_drained_by_every_operation_per_operation_ones_by_their_own() {
    let operations = [
        "DescribeWorkspaces",
        "DescribeWorkspacesConnectionStatus",
        "DescribeTags",
        "TerminateWorkspaces",
        "CreateWorkspaces",
    ];
    for (per_operation, expected) in [(false, 1), (true, 5)] {
        let limits = ApiLimits { rate_per_second: 0.25, burst: 1.0, per_operation, changes: vec![] };
        let mut b = ApiBuckets::new(&limits, at("06:00:00"));
        let through = operations.iter().filter(|op| b.take(op, at("07:00:00"), Duration::ZERO).is_some()).count();
        assert_eq!(through, expected, "per_operation {per_operation}");
    }
}

#[test]
fn per_operation_buckets_are_keyed_by_the_real_workspaces_operation_names() {
    // 300 pupils leaving at 15:30 against 0.25 req/s per operation: some calls wait
    // longer than their caller may (the reconciler paces for up to 5 minutes).
    let mut scenario = scenarios::school_rush(300, 12, 2).expect("scenario builds");
    scenario.api = ApiLimits { rate_per_second: 0.25, burst: 1.0, per_operation: true, changes: vec![] };
    let o = run(scenario, Policy::Blankslate, 2);
    let real = [
        "DescribeWorkspaces",
        "DescribeWorkspacesConnectionStatus",
        "DescribeTags",
        "TerminateWorkspaces",
        "CreateWorkspaces",
    ];
    assert!(!o.metrics.throttled.is_empty(), "0.25 req/s throttles a 300-desk rush");
    for operation in o.metrics.throttled.keys() {
        assert!(real.contains(operation), "{operation} is not a WorkSpaces operation the buckets know");
    }
}

#[test]
fn campaigns_draw_a_limit_per_seed_over_the_whole_range_and_every_shape() {
    let scenario = scenarios::school_rush(10, 24, 1).expect("scenario builds");
    let drawn: Vec<ApiLimits> = (1..=400).map(|seed| draw_limits(seed, &scenario)).collect();
    let again: Vec<ApiLimits> = (1..=400).map(|seed| draw_limits(seed, &scenario)).collect();
    assert_eq!(drawn, again, "the same seed draws the same limit");
    // The limit does not depend on the fleet's size: a seed names one account.
    let other = scenarios::school_rush(50, 24, 1).expect("scenario builds");
    assert_eq!(draw_limits(7, &other), drawn[6]);
    let end = scenario.start + scenario.duration;
    for (seed, limits) in (1..).zip(&drawn) {
        limits.validate(scenario.start).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(limits.is_on() && limits.changes.len() <= 1, "seed {seed}: {limits}");
        for c in &limits.changes {
            let when = c.at.on_day_of(scenario.start);
            assert!(when > scenario.start && when < end, "seed {seed}: a change at {} is outside the run", c.at);
            assert!(c.rate_per_second.is_some() && c.burst.is_some(), "seed {seed}");
        }
    }
    let count = |f: &dyn Fn(&ApiLimits) -> bool| drawn.iter().filter(|l| f(l)).count();
    // Each share is near its expectation (per-operation 1/2, change 1/2, rate below 1
    // req/s ln 4 / ln 40 = 38%, at 10 req/s' end the same share as at the slow end).
    assert!((160..=240).contains(&count(&|l| l.per_operation)), "per-operation {}", count(&|l| l.per_operation));
    assert!((160..=240).contains(&count(&|l| !l.changes.is_empty())), "with a change");
    assert!(
        (110..=190).contains(&count(&|l| l.rate_per_second < 1.0)),
        "below 1 req/s {}",
        count(&|l| l.rate_per_second < 1.0)
    );
    assert!(count(&|l| l.rate_per_second < 0.35) > 20 && count(&|l| l.rate_per_second > 7.0) > 20, "both ends");
    assert!(count(&|l| l.burst == 1.0) > 5 && count(&|l| l.burst == 20.0) > 5, "both ends of the burst");
    let distinct: std::collections::BTreeSet<String> = drawn.iter().map(|l| l.to_string()).collect();
    assert!(distinct.len() > 390, "{} distinct limits in 400 seeds", distinct.len());
}

/// Reads the flags [`ApiLimits::flags`] prints the way `blankslate simulate` reads them:
/// any `--api-*` flag gives the whole limit, the rest the default.
fn parse_flags(line: &str) -> ApiLimits {
    let mut limits = ApiLimits::default();
    let mut words = line.split_whitespace();
    while let Some(word) = words.next() {
        let mut value = || words.next().expect("a value");
        match word {
            "--no-throttling" => limits = ApiLimits::off(),
            "--api-rate" => limits.rate_per_second = value().parse().unwrap(),
            "--api-burst" => limits.burst = value().parse().unwrap(),
            "--api-per-operation" => limits.per_operation = true,
            "--api-change" => limits.changes.push(value().parse().unwrap()),
            other => panic!("unexpected {other:?} in {line:?}"),
        }
    }
    limits
}

#[test]
fn the_replay_flags_give_back_the_same_limit() {
    let scenario = scenarios::kiosk(10, 48, 1).expect("scenario builds");
    let mut limits: Vec<ApiLimits> = (1..=200).map(|seed| draw_limits(seed, &scenario)).collect();
    limits.push(ApiLimits::off());
    limits.push(ApiLimits::default());
    limits.push(ApiLimits {
        rate_per_second: 0.3,
        burst: 7.0,
        per_operation: true,
        changes: vec![
            change("15:35", Some(0.5), Some(2.0)),
            change("30:10:05", None, Some(1.0)),
            change("31:00", Some(9.99), None),
        ],
    });
    for l in &limits {
        assert_eq!(&parse_flags(&l.flags()), l, "{}", l.flags());
    }
    assert_eq!(
        limits.last().unwrap().flags(),
        "--api-rate 0.3 --api-burst 7 --api-per-operation --api-change 15:35=0.5/2 --api-change 30:10:05=/1 \
         --api-change 31:00=9.99"
    );
}

#[test]
fn times_of_day_and_changes_read_back_what_they_print() {
    let times: &[(&str, u64, &str)] = &[
        ("00:00", 0, "00:00"),
        ("6:05", 6 * 3600 + 300, "06:05"),
        ("15:35:09", 56_109, "15:35:09"),
        ("27:00", 97_200, "27:00"),
    ];
    for &(text, secs, shown) in times {
        let t: ClockTime = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(t.since_midnight(), Duration::from_secs(secs), "{text}");
        assert_eq!(t.to_string(), shown);
    }
    for bad in ["", "15", "15:", ":30", "15:60", "15:30:60", "-1:00", "1:2:3:4", "a:00", "1000:00"] {
        assert!(bad.parse::<ClockTime>().is_err(), "{bad:?} was accepted");
    }
    let changes: &[(&str, Option<f64>, Option<f64>)] =
        &[("15:35=0.5/2", Some(0.5), Some(2.0)), ("15:35=0.5", Some(0.5), None), ("15:35=/2", None, Some(2.0))];
    for &(text, rate, burst) in changes {
        let c: ApiChange = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!((c.rate_per_second, c.burst), (rate, burst), "{text}");
        assert_eq!(c.to_string(), text);
    }
    for bad in ["15:35", "15:35=", "15:35=/", "15:35=x/2", "15:35=1/y", "x=1/2"] {
        let err = bad.parse::<ApiChange>().unwrap_err();
        assert!(err.contains(bad.split('=').next().unwrap()), "{bad:?}: {err}");
    }
}
