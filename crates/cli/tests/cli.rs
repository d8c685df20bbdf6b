//! The `blankslate` binary as a user runs it: the process, its output and its exit code.

use std::process::{Command, Output};

fn blankslate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blankslate")).args(args).output().expect("the binary runs")
}

#[test]
fn the_demo_prints_every_case_and_exits_cleanly() {
    let out = blankslate(&["demo"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}\n{text}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    for expected in [
        "the fleet:",
        "enrolled (managed)",
        "alarm armed",
        "user disconnected",
        "grace running until",
        "user reconnected within grace: kept",
        "terminated by blankslate",
        "re-created by blankslate with the same spec",
        "fresh desktop ready",
        "summary",
        "seed broke these invariants:",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("VIOLATION"), "{text}");
    assert!(!text.contains("blankslate broke"), "{text}");
}

#[test]
fn the_demo_replays_from_its_seed_and_prints_json() {
    let a = blankslate(&["demo", "--seed", "7", "--json"]);
    let b = blankslate(&["demo", "--seed", "7", "--json"]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout, "the same seed printed different days");
    let runs: serde_json::Value = serde_json::from_slice(&a.stdout).expect("valid JSON");
    assert_eq!(runs[0]["policy"], "Blankslate");
    assert_eq!(runs[1]["policy"], "Seed");
    assert_eq!(runs[0]["violations"].as_array().map(Vec::len), Some(0));
}

#[test]
fn a_bad_flag_is_a_usage_error_naming_the_flag() {
    let out = blankslate(&["demo", "--seed", "tomorrow"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--seed") && err.contains("tomorrow"), "{err}");
}

#[test]
fn template_prints_the_cloudformation_template() {
    let out = blankslate(&["template"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text,
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/blankslate.yaml")).unwrap()
    );
    for resource in [
        "Workspace_Alarm_Create",
        "Workspace_Alarm_Del",
        "Workspace_Term_Rebuild",
        "CreateWorkspaces",
        "TerminateWorkspaces",
    ] {
        assert!(text.contains(resource), "template lacks {resource}");
    }
}
