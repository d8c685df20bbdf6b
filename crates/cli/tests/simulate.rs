//! `blankslate simulate` as a user runs it: the summary, replay from a seed, a report,
//! a small campaign, and bad input named clearly.

use std::process::{Command, Output};

fn blankslate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blankslate")).args(args).output().expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn simulate_compares_both_policies_and_replays_from_its_seed() {
    let args = ["simulate", "school-rush", "--workspaces", "60", "--hours", "12", "--policy", "both", "--seed", "5"];
    let a = blankslate(&args);
    assert!(a.status.success(), "{}\n{}", stdout(&a), String::from_utf8_lossy(&a.stderr));
    let text = stdout(&a);
    for line in [
        "policy",
        "blankslate",
        "seed",
        "overhead p99",
        "rate bound (API limit)",
        "overhead p99 / rate bound",
        "terminate+create calls/rebuild",
        "$/month per 1,000",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(text.contains("replay: blankslate simulate school-rush --workspaces 60 --hours 12 --policy both --seed 5"));
    // Wall-clock lines differ between runs; everything else replays exactly.
    let strip = |t: String| t.lines().filter(|l| !l.contains("wall")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(text), strip(stdout(&blankslate(&args))));
}

#[test]
fn simulate_writes_a_report_and_metrics() {
    let dir = std::env::temp_dir().join(format!("blankslate-simulate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (html, json) = (dir.join("report.html"), dir.join("metrics.json"));
    let o = blankslate(&[
        "simulate",
        "kiosk",
        "--workspaces",
        "30",
        "--hours",
        "6",
        "--policy",
        "both",
        "--report",
        html.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && !page.contains("<script"));
    let metrics: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(metrics["summaries"].as_array().map(Vec::len), Some(2));
    for summary in metrics["summaries"].as_array().unwrap() {
        // Kiosk users leave all day: some rebuilds come due, so there is a bound to compare with.
        assert!(summary["rate_bound"]["seconds"].as_f64().is_some_and(|s| s > 0.0), "{summary}");
        assert!(summary["overhead_p99_to_bound"].is_number() || summary["overhead_p99"].is_null(), "{summary}");
        assert!(summary["peak_concurrency"].as_u64().is_some_and(|n| n > 0), "{summary}");
    }
    // Both runs on one time axis: 6 hours, one value a minute through the last.
    for series in metrics["series"].as_array().unwrap() {
        assert_eq!(series["minutes"], 360);
        assert_eq!(series["concurrency_per_minute"].as_array().map(Vec::len), Some(361));
    }
    assert!(page.contains("first due + bound"), "the bound is marked");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_campaign_prints_its_size_and_no_violations() {
    let o = blankslate(&["simulate", "school-rush", "--workspaces", "40", "--hours", "8", "--campaign", "4"]);
    let text = stdout(&o);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("4 seeds") && text.contains("0 violations"), "{text}");
}

#[test]
fn bad_input_is_named() {
    let o = blankslate(&["simulate", "lab"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unknown scenario \"lab\"") && err.contains("school-rush"), "{err}");
    let o = blankslate(&["simulate", "--file", "/nonexistent/x.toml"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/x.toml"));
    let o = blankslate(&["simulate", "--policy", "nobody"]);
    assert_eq!(o.status.code(), Some(2), "bad usage");
}
