//! `blankslate demo`: the simulated working day, printed as a timeline and a summary.

use std::io::Write;

use anyhow::Context;
use blankslate_core::time::human_duration;
use blankslate_sim::metrics::Metrics;
use blankslate_sim::scenario::Scenario;
use blankslate_sim::{scenarios, Outcome, Policy};

use crate::Finding;

/// Options of `blankslate demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Seed of the simulation's random choices; the same seed replays the same day.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the outcome of both policies as JSON instead of the timeline.
    #[arg(long)]
    json: bool,
}

/// Runs the demo day under both policies and prints it to `out`.
pub fn run(args: &Args, out: &mut impl Write) -> anyhow::Result<Finding> {
    let scenario = scenarios::demo().context("building the demo scenario")?;
    let ours = blankslate_sim::run(scenario.clone(), Policy::Blankslate, args.seed);
    let seed = blankslate_sim::run(scenario.clone(), Policy::Seed, args.seed);
    if args.json {
        let json = serde_json::to_string_pretty(&[&ours, &seed])?;
        writeln!(out, "{json}")?;
    } else {
        timeline(&scenario, &ours, args.seed, out)?;
        summary(&ours, &seed, out)?;
    }
    Ok(if ours.violations.is_empty() { Finding::Clean } else { Finding::Problem })
}

fn timeline(scenario: &Scenario, ours: &Outcome, seed: u64, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "blankslate demo: {} desks, {} simulated, grace {}, selector {}",
        scenario.desks.len(),
        human_duration(scenario.duration + scenario.settle),
        human_duration(scenario.config.grace),
        scenario.config.selector
    )?;
    writeln!(out, "(simulated AWS on a virtual clock, seed {seed}; replay with `blankslate demo --seed {seed}`)\n")?;
    writeln!(out, "the fleet:")?;
    for desk in &scenario.desks {
        let managed = if scenario.config.selector.matches(&desk.spec) { "managed" } else { "unmanaged" };
        writeln!(out, "  {:<8} {:<10} {}", desk.spec.user_name, managed, desk.note)?;
    }
    writeln!(out, "\ntimeline (blankslate):")?;
    for entry in &ours.timeline {
        writeln!(out, "{entry}")?;
    }
    writeln!(out)
}

fn percentile(m: &Metrics, p: f64) -> String {
    m.time_to_fresh_percentile(p).map_or("-".into(), human_duration)
}

/// A summary row: its label and how to read it off an outcome.
type Row = (&'static str, fn(&Outcome) -> String);

fn summary(ours: &Outcome, seed: &Outcome, out: &mut impl Write) -> std::io::Result<()> {
    let rows: [Row; 10] = [
        ("sessions", |o| o.metrics.sessions.to_string()),
        ("... on a fresh desktop", |o| format!("{} ({:.0}%)", o.metrics.fresh_sessions, o.metrics.fresh_percent())),
        ("rebuilds completed", |o| o.metrics.rebuilds.to_string()),
        ("time to fresh desktop p50", |o| percentile(&o.metrics, 50.0)),
        ("desktops lost", |o| o.metrics.lost_desktops.to_string()),
        ("sessions that found no desktop", |o| o.metrics.sessions_missed.to_string()),
        ("users who waited for a desktop", |o| o.metrics.waits.to_string()),
        ("Terminate+Create calls", |o| {
            (o.metrics.calls("TerminateWorkspaces") + o.metrics.calls("CreateWorkspaces")).to_string()
        }),
        ("Lambda GB-seconds (estimate)", |o| format!("{:.1}", o.metrics.lambda_gb_seconds)),
        ("invariant violations", |o| o.violations.len().to_string()),
    ];
    writeln!(out, "{:<32} {:>14} {:>14}", "summary", "blankslate", "seed")?;
    writeln!(out, "{}", "-".repeat(62))?;
    for (label, value) in rows {
        writeln!(out, "{label:<32} {:>14} {:>14}", value(ours), value(seed))?;
    }
    for (name, outcome) in [("blankslate", ours), ("seed", seed)] {
        if !outcome.violations.is_empty() {
            writeln!(out, "\n{name} broke these invariants:")?;
            for v in &outcome.violations {
                writeln!(out, "  {} {:<7} {}", v.at.clock_time(), v.invariant, v.detail)?;
            }
        }
    }
    Ok(())
}
