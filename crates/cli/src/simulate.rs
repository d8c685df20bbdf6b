//! `blankslate simulate`: a fleet on simulated AWS (virtual clock, seeded), under our
//! policy, the seed's, or both; fault campaigns over many seeds; an HTML report.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use blankslate_core::config::AlarmMode;
use blankslate_sim::campaign::campaign;
use blankslate_sim::file::ScenarioFile;
use blankslate_sim::report::{self, Summary};
use blankslate_sim::scenario::{Faults, Scenario};
use blankslate_sim::{scenarios, Outcome, Policy, Simulation};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::Finding;

/// Which policy runs the fleet.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum PolicyArg {
    /// Ours.
    Blankslate,
    /// The seed's algorithm as written.
    Seed,
    /// Both, on the same fleet and the same AWS behaviour, side by side.
    Both,
}

/// How disconnects are noticed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum AlarmModeArg {
    /// A SessionDisconnect alarm per WorkSpace.
    PerWorkspace,
    /// No alarms: the reconciler reads connection states within its API budget.
    Off,
}

/// Options of `blankslate simulate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A built-in scenario: school-rush, call-centre, kiosk, office-day, demo.
    #[arg(default_value = "school-rush", conflicts_with = "file")]
    scenario: String,
    /// A scenario file (TOML; see scenarios/*.toml) instead of a built-in scenario.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Who runs the fleet.
    #[arg(long, value_enum, default_value_t = PolicyArg::Blankslate)]
    policy: PolicyArg,
    /// Seed of every random choice (fleet, sessions, AWS timings, faults): the same seed
    /// replays the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Managed desktops (default: the file's, else 1,000).
    #[arg(long)]
    workspaces: Option<usize>,
    /// Simulated hours, the last two without new sessions (default: the file's, else 24).
    #[arg(long)]
    hours: Option<u64>,
    /// Overrides the scenario's alarm mode.
    #[arg(long, value_enum)]
    alarm_mode: Option<AlarmModeArg>,
    /// Turns every fault on (throttling, 5xx, crashes, event faults, slow terminations,
    /// failed creates, stale reads) while users keep coming.
    #[arg(long)]
    faults: bool,
    /// Turns the WorkSpaces API's rate limit off (it is on by default: 2 req/s, burst 5).
    #[arg(long)]
    no_throttling: bool,
    /// Runs this many seeds (from --seed on) with every fault on and prints each
    /// violation with the seed that replays it.
    #[arg(long, value_name = "N")]
    campaign: Option<u64>,
    /// Threads for a campaign.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Writes a self-contained HTML report here.
    #[arg(long, value_name = "PATH")]
    report: Option<PathBuf>,
    /// Writes the figures (and the time series) as JSON here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
}

impl Args {
    fn build(&self, seed: u64) -> anyhow::Result<Scenario> {
        let mut scenario = match &self.file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                let file = ScenarioFile::parse(&text)
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("in {}", path.display()))?;
                file.build(self.workspaces, self.hours, seed)
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("in {}", path.display()))?
            }
            None => {
                let n = self.workspaces.unwrap_or(1000);
                if n == 0 {
                    bail!("--workspaces 0: a fleet needs at least one desktop");
                }
                match scenarios::built_in(&self.scenario, n, self.hours.unwrap_or(24), seed)? {
                    Some(s) => s,
                    None => bail!(
                        "unknown scenario {:?}: expected one of {} (or --file PATH)",
                        self.scenario,
                        scenarios::BUILT_IN.join(", ")
                    ),
                }
            }
        };
        if let Some(mode) = self.alarm_mode {
            scenario.config.alarm_mode = match mode {
                AlarmModeArg::PerWorkspace => AlarmMode::PerWorkspace,
                AlarmModeArg::Off => AlarmMode::Off,
            };
        }
        if self.faults || self.campaign.is_some() {
            scenario.faults = Faults::all();
        }
        if self.no_throttling {
            scenario.api.rate_per_second = 0.0;
        }
        Ok(scenario)
    }

    /// The command that replays a run with `seed`.
    fn replay(&self, seed: u64, policy: Option<PolicyArg>) -> String {
        let mut cmd = String::from("blankslate simulate");
        match &self.file {
            Some(path) => cmd.push_str(&format!(" --file {}", path.display())),
            None => cmd.push_str(&format!(" {}", self.scenario)),
        }
        if let Some(n) = self.workspaces {
            cmd.push_str(&format!(" --workspaces {n}"));
        }
        if let Some(h) = self.hours {
            cmd.push_str(&format!(" --hours {h}"));
        }
        if let Some(mode) = self.alarm_mode {
            cmd.push_str(match mode {
                AlarmModeArg::PerWorkspace => " --alarm-mode per-workspace",
                AlarmModeArg::Off => " --alarm-mode off",
            });
        }
        if self.faults || self.campaign.is_some() {
            cmd.push_str(" --faults");
        }
        if self.no_throttling {
            cmd.push_str(" --no-throttling");
        }
        match policy.unwrap_or(self.policy) {
            PolicyArg::Blankslate => {}
            PolicyArg::Seed => cmd.push_str(" --policy seed"),
            PolicyArg::Both => cmd.push_str(" --policy both"),
        }
        cmd.push_str(&format!(" --seed {seed}"));
        cmd
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// Runs one policy with a progress bar (simulated minutes).
fn run_one(scenario: &Scenario, policy: Policy, seed: u64) -> Outcome {
    let mut sim = Simulation::new(scenario.clone(), policy, seed);
    let start = sim.now();
    let total = sim.end().since(start).as_secs() / 60;
    let bar = bar(total, &format!("{policy:?}: simulated minutes"));
    while sim.now() < sim.end() {
        sim.run_until(sim.now() + Duration::from_secs(30 * 60));
        bar.set_position(sim.now().since(start).as_secs() / 60);
    }
    bar.finish_and_clear();
    sim.finish()
}

/// Runs `blankslate simulate`.
pub fn run(args: &Args, out: &mut impl Write) -> anyhow::Result<Finding> {
    if let Some(n) = args.campaign {
        return run_campaign(args, n, out);
    }
    let scenario = args.build(args.seed)?;
    let policies: &[Policy] = match args.policy {
        PolicyArg::Blankslate => &[Policy::Blankslate],
        PolicyArg::Seed => &[Policy::Seed],
        PolicyArg::Both => &[Policy::Blankslate, Policy::Seed],
    };
    let managed = scenario.desks.iter().filter(|d| scenario.config.selector.matches(&d.spec)).count();
    writeln!(
        out,
        "scenario {}: {} desks ({} managed), {:.0} simulated hours, grace {} min, alarm mode {:?}, WorkSpaces API {} req/s (burst {}){}",
        scenario.name,
        scenario.desks.len(),
        managed,
        (scenario.duration + scenario.settle).as_secs_f64() / 3600.0,
        scenario.config.grace.as_secs() / 60,
        scenario.config.alarm_mode,
        scenario.api.rate_per_second,
        scenario.api.burst,
        if scenario.faults.any() { ", faults on" } else { "" }
    )?;
    let mut outcomes = Vec::new();
    let mut walls = Vec::new();
    for &policy in policies {
        let started = Instant::now();
        outcomes.push(run_one(&scenario, policy, args.seed));
        walls.push(started.elapsed());
    }
    let summaries: Vec<Summary> = outcomes.iter().map(|o| report::summarize(&scenario, o)).collect();
    write!(out, "\n{}", report::table(&summaries))?;
    for ((o, wall), policy) in outcomes.iter().zip(&walls).zip(policies) {
        writeln!(out, "{policy:?}: simulated in {:.2} s wall", wall.as_secs_f64())?;
        for v in o.violations.iter().take(20) {
            writeln!(out, "  violation {} at {}: {}", v.invariant, v.at, v.detail)?;
        }
        if o.violations.len() > 20 {
            writeln!(out, "  ... and {} more", o.violations.len() - 20)?;
        }
    }
    writeln!(out, "replay: {}", args.replay(args.seed, None))?;
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "scenario": scenario.name,
            "command": args.replay(args.seed, None),
            "summaries": summaries,
            "series": outcomes.iter().map(|o| &o.metrics.series).collect::<Vec<_>>(),
            "violations": outcomes.iter().map(|o| &o.violations).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(out, "metrics written to {}", path.display())?;
    }
    if let Some(path) = &args.report {
        let runs: Vec<(&Outcome, &Summary)> = outcomes.iter().zip(&summaries).collect();
        let html = report::html(&scenario, &args.replay(args.seed, None), &runs);
        std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))?;
        writeln!(out, "report written to {}", path.display())?;
    }
    // The seed breaking invariants is the baseline's known behaviour, not a finding.
    let ours_clean = outcomes.iter().filter(|o| o.policy == Policy::Blankslate).all(|o| o.violations.is_empty());
    Ok(if ours_clean { Finding::Clean } else { Finding::Problem })
}

fn run_campaign(args: &Args, n: u64, out: &mut impl Write) -> anyhow::Result<Finding> {
    if n == 0 {
        bail!("--campaign 0: run at least one seed");
    }
    if args.policy != PolicyArg::Blankslate {
        bail!("--campaign runs blankslate's policy only (the seed's breaks invariants by design)");
    }
    let first = args.scenario_for_header()?;
    writeln!(out, "campaign: {n} seeds from {} of {} with every fault on", args.seed, first)?;
    let started = Instant::now();
    let bar = bar(n, "seeds");
    let results = campaign(
        args.seed..args.seed + n,
        args.threads,
        |seed| args.build(seed).map_err(|e| format!("{e:#}")),
        || bar.inc(1),
    )
    .map_err(anyhow::Error::msg)?;
    bar.finish_and_clear();
    let violations: usize = results.iter().map(|r| r.violations.len()).sum();
    let rebuilds: u64 = results.iter().map(|r| r.rebuilds).sum();
    let crashes: u64 = results.iter().map(|r| r.crashes).sum();
    let throttled: u64 = results.iter().map(|r| r.throttled).sum();
    for r in results.iter().filter(|r| !r.violations.is_empty()) {
        for v in &r.violations {
            writeln!(out, "seed {}: {} at {}: {}", r.seed, v.invariant, v.at, v.detail)?;
        }
        writeln!(out, "  replay: {}", args.replay(r.seed, Some(PolicyArg::Blankslate)))?;
    }
    let failing = results.iter().filter(|r| !r.violations.is_empty()).count();
    writeln!(
        out,
        "{n} seeds, {rebuilds} rebuilds, {crashes} injected crashes, {throttled} throttled calls: \
         {violations} violations in {failing} seeds ({:.1} s wall)",
        started.elapsed().as_secs_f64()
    )?;
    Ok(if violations == 0 { Finding::Clean } else { Finding::Problem })
}

impl Args {
    fn scenario_for_header(&self) -> anyhow::Result<String> {
        Ok(match &self.file {
            Some(p) => p.display().to_string(),
            None => format!("{} ({} desks)", self.scenario, self.workspaces.unwrap_or(1000)),
        })
    }
}
