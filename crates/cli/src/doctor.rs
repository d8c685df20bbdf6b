//! `blankslate doctor`: runs `blankslate_ops::doctor` and prints its checks.

use std::io::Write;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use blankslate_ops::doctor::{self, Report, Verdict};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::{runtime, OutputFormat, StackArgs};
use crate::Finding;

/// Options of `blankslate doctor`.
#[derive(clap::Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

/// Runs `blankslate doctor`: exit 0 when no check failed (warnings allowed), 1 otherwise.
pub fn run(args: &DoctorArgs, out: &mut dyn Write) -> anyhow::Result<Finding> {
    let report = runtime()?.block_on(async {
        let stack = args.stack.open().await?;
        let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} checking {msg} [{elapsed}]") {
            spinner.set_style(style);
        }
        spinner.enable_steady_tick(Duration::from_millis(120));
        let report = doctor::run(&stack, SystemTime::now(), |step| spinner.set_message(step.to_owned())).await;
        spinner.finish_and_clear();
        anyhow::Ok(report)
    })?;
    match args.output {
        OutputFormat::Json => {
            writeln!(out, "{}", serde_json::to_string_pretty(&report).context("encoding the JSON output")?)?;
        }
        OutputFormat::Table => print(&report, out)?,
    }
    Ok(if report.failed() { Finding::Problem } else { Finding::Clean })
}

fn print(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "doctor: stack {} in {}", report.stack, report.region)?;
    let width = report.checks.iter().map(|c| c.name.chars().count()).max().unwrap_or(0);
    for check in &report.checks {
        writeln!(out, "{}  {:<width$}  {}", check.verdict.label(), check.name, check.found)?;
        if let Some(fix) = &check.fix {
            writeln!(out, "{:<pad$}fix: {fix}", "", pad = width + 8)?;
        }
    }
    let count = |v: Verdict| report.checks.iter().filter(|c| c.verdict == v).count();
    writeln!(
        out,
        "{} passed, {} warning(s), {} failed",
        count(Verdict::Pass),
        count(Verdict::Warn),
        count(Verdict::Fail)
    )
}
