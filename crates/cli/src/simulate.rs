//! `blankslate simulate`: a fleet on simulated AWS (virtual clock, seeded), under our
//! policy, the seed's, or both; fault campaigns over many seeds; an HTML report.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use blankslate_core::config::AlarmMode;
use blankslate_sim::campaign::{campaign, draw_limits};
use blankslate_sim::file::ScenarioFile;
use blankslate_sim::limits::{ApiChange, ApiLimits};
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
    /// Turns the WorkSpaces API's rate limit off (it is on by default: 2 req/s, burst 5,
    /// shared, unless the scenario file says otherwise).
    #[arg(long, conflicts_with_all = ["api_rate", "api_burst", "api_per_operation", "api_change"])]
    no_throttling: bool,
    /// The WorkSpaces API's rate limit, requests/s (0.25 to 10). Any --api-* flag gives
    /// the whole limit: it replaces the scenario's, and what the flags leave out is the
    /// default (2 req/s, burst 5, shared, no change).
    #[arg(long, value_name = "R")]
    api_rate: Option<f64>,
    /// The limit's burst (bucket size, 1 to 20).
    #[arg(long, value_name = "B")]
    api_burst: Option<f64>,
    /// One bucket per WorkSpaces operation instead of one shared bucket.
    #[arg(long)]
    api_per_operation: bool,
    /// A change of the limit during the run, AT=RATE/BURST (AT=RATE or AT=/BURST keep the
    /// other): from that time of day on the scenario's day (hours past 23 for later days).
    /// Repeat for more, in time order. Example: 15:35=0.5/2.
    #[arg(long, value_name = "AT=R/B")]
    api_change: Vec<ApiChange>,
    /// Runs this many seeds (from --seed on) with every fault on and prints each
    /// violation with the seed that replays it. Each seed runs at its own WorkSpaces API
    /// limit, drawn from the seed (shared or per operation, 0.25 to 10 req/s, burst 1 to
    /// 20, for half the seeds a change mid-run), unless --api-* flags or --no-throttling
    /// give one for every seed.
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
        if let Some(limits) = self.api_limits() {
            scenario.api = limits;
        } else if self.campaign.is_some() {
            scenario.api = draw_limits(seed, &scenario);
        }
        scenario.api.validate(scenario.start).map_err(anyhow::Error::msg).context("the --api-* flags")?;
        Ok(scenario)
    }

    /// The limit the command line gives, if it gives one (`--no-throttling` or any
    /// `--api-*` flag).
    fn api_limits(&self) -> Option<ApiLimits> {
        if self.no_throttling {
            return Some(ApiLimits::off());
        }
        let given = self.api_rate.is_some() || self.api_burst.is_some() || self.api_per_operation;
        if !given && self.api_change.is_empty() {
            return None;
        }
        let default = ApiLimits::default();
        Some(ApiLimits {
            rate_per_second: self.api_rate.unwrap_or(default.rate_per_second),
            burst: self.api_burst.unwrap_or(default.burst),
            per_operation: self.api_per_operation,
            changes: self.api_change.clone(),
        })
    }

    /// The command that replays a run with `seed`; `api` is the limit it ran at when that
    /// is not what the scenario alone gives (drawn by a campaign, or given by flags).
    fn replay(&self, seed: u64, policy: Option<PolicyArg>, api: Option<&ApiLimits>) -> String {
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
        if let Some(api) = api {
            cmd.push(' ');
            cmd.push_str(&api.flags());
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
        "scenario {}: {} desks ({} managed), {:.0} simulated hours, grace {} min, alarm mode {:?}, WorkSpaces API limit {}{}",
        scenario.name,
        scenario.desks.len(),
        managed,
        (scenario.duration + scenario.settle).as_secs_f64() / 3600.0,
        scenario.config.grace.as_secs() / 60,
        scenario.config.alarm_mode,
        scenario.api,
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
    let given = args.api_limits().map(|_| &scenario.api);
    let replay = args.replay(args.seed, None, given);
    writeln!(out, "replay: {replay}")?;
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "scenario": scenario.name,
            "command": replay,
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
        let html = report::html(&scenario, &replay, &runs);
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
    let limit = match args.api_limits() {
        Some(limits) => format!("the WorkSpaces API limit {limits}"),
        None => "the WorkSpaces API limit drawn per seed".to_owned(),
    };
    writeln!(out, "campaign: {n} seeds from {} of {} with every fault on, {limit}", args.seed, first)?;
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
        writeln!(out, "  limit: {}", r.api)?;
        writeln!(out, "  replay: {}", args.replay(r.seed, Some(PolicyArg::Blankslate), Some(&r.api)))?;
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// `blankslate simulate`'s flags alone, as the binary parses them.
    #[derive(clap::Parser)]
    struct Simulate {
        #[command(flatten)]
        args: Args,
    }

    fn parse(line: &str) -> Args {
        let words = line.strip_prefix("blankslate simulate").unwrap_or(line).split_whitespace();
        match Simulate::try_parse_from(std::iter::once("simulate").chain(words)) {
            Ok(s) => s.args,
            Err(e) => panic!("{line}: {e}"),
        }
    }

    #[test]
    fn a_campaign_seed_s_replay_line_runs_the_same_scenario_at_the_limit_it_drew() {
        let campaign = parse("blankslate simulate kiosk --workspaces 5 --hours 30 --campaign 60");
        let mut shapes = std::collections::BTreeSet::new();
        for seed in 1..=60 {
            let drawn = campaign.build(seed).expect("builds");
            let line = campaign.replay(seed, Some(PolicyArg::Blankslate), Some(&drawn.api));
            assert!(line.contains(&drawn.api.flags()), "{line} does not name {}", drawn.api);
            let replay = parse(&line);
            assert_eq!(replay.campaign, None, "{line}");
            assert_eq!(replay.build(replay.seed).expect("builds"), drawn, "{line}");
            shapes.insert((drawn.api.per_operation, drawn.api.changes.is_empty()));
        }
        assert_eq!(shapes.len(), 4, "shared and per operation, with and without a change: {shapes:?}");
    }

    #[test]
    fn limit_flags_fix_every_seed_of_a_campaign_and_replace_the_file_s_limit() {
        let fixed = parse("blankslate simulate kiosk --workspaces 5 --campaign 3 --api-rate 1 --api-change 09:00=/2");
        let expected = ApiLimits {
            rate_per_second: 1.0,
            changes: vec!["09:00=/2".parse().expect("a change")],
            ..ApiLimits::default()
        };
        for seed in 1..=3 {
            assert_eq!(fixed.build(seed).expect("builds").api, expected);
        }
        let file = format!("{}/../../scenarios/school-rush.toml", env!("CARGO_MANIFEST_DIR"));
        let single = parse(&format!("--file {file} --workspaces 5 --api-per-operation --seed 4"));
        let scenario = single.build(4).expect("builds");
        assert_eq!(scenario.api, ApiLimits { per_operation: true, ..ApiLimits::default() });
        let line = single.replay(4, None, single.api_limits().as_ref());
        assert_eq!(parse(&line).build(4).expect("builds"), scenario, "{line}");
        let off = parse("blankslate simulate kiosk --workspaces 5 --campaign 2 --no-throttling");
        assert!(!off.build(1).expect("builds").api.is_on());
        for bad in ["--api-rate 0.1", "--api-burst 25", "--api-change 05:00=1"] {
            let err = parse(&format!("kiosk --workspaces 5 {bad}")).build(1).unwrap_err();
            assert!(format!("{err:#}").contains("--api-* flags"), "{bad}: {err:#}");
        }
        assert!(Simulate::try_parse_from(["simulate", "--no-throttling", "--api-rate", "1"]).is_err());
    }
}
