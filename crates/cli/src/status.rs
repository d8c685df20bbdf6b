//! `blankslate status`: every managed WorkSpace and what happens to it next.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use blankslate_core::status::{seconds_until, FleetStatus};
use blankslate_core::Timestamp;
use blankslate_ops::status::{Filter, PHASES};
use blankslate_ops::ConfigSource;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::{runtime, wall_clock, OutputFormat, StackArgs};
use crate::Finding;

/// Options of `blankslate status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
    /// Only WorkSpaces in this directory (d-… or wsd-…).
    #[arg(long)]
    directory: Option<String>,
    /// Only this user's WorkSpaces.
    #[arg(long)]
    user: Option<String>,
    /// Only desks in this phase.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(PHASES))]
    phase: Option<String>,
}

/// Runs `blankslate status`.
pub fn run(args: &StatusArgs, out: &mut dyn Write) -> anyhow::Result<Finding> {
    let filter = Filter { directory: args.directory.clone(), user: args.user.clone(), phase: args.phase.clone() };
    let now = wall_clock();
    let (stack, status) = runtime()?.block_on(async {
        // Shown only on a terminal: a fleet of thousands takes a while (25 per call).
        let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} reading the journal and the fleet [{elapsed}]") {
            spinner.set_style(style);
        }
        spinner.enable_steady_tick(Duration::from_millis(120));
        let stack = args.stack.open().await?;
        let status = blankslate_ops::status::status(&stack, now, &filter).await;
        spinner.finish_and_clear();
        anyhow::Ok((stack, status?))
    })?;
    match args.output {
        OutputFormat::Json => {
            let mut json = to_json(&stack.name, &stack.region, now, &status);
            json["config_source"] = match &stack.config_source {
                ConfigSource::Reconciler => "reconciler".into(),
                ConfigSource::Parameters(why) => format!("parameters ({why})").into(),
            };
            writeln!(out, "{}", serde_json::to_string_pretty(&json).context("encoding the JSON output")?)?;
        }
        OutputFormat::Table => {
            print(&stack.name, &stack.region, &stack.config, now, &status, out)?;
            if let ConfigSource::Parameters(why) = &stack.config_source {
                writeln!(out, "(settings from the stack's parameters: the reconciler's could not be read: {why})")?;
            }
        }
    }
    Ok(Finding::Clean)
}

fn to_json(stack: &str, region: &str, now: Timestamp, status: &FleetStatus) -> serde_json::Value {
    let desks: Vec<serde_json::Value> = status
        .desks
        .iter()
        .map(|d| {
            let mut v = serde_json::to_value(d).unwrap_or_default();
            if let (Some(obj), Some(at)) = (v.get_mut("next").and_then(|n| n.as_object_mut()), d.next.at) {
                obj.insert("at".into(), at.to_rfc3339().into());
                obj.insert("in_seconds".into(), seconds_until(now, at).into());
            }
            v
        })
        .collect();
    serde_json::json!({
        "stack": stack,
        "region": region,
        "now": now.to_rfc3339(),
        "desks": desks,
        "managed": status.desks.iter().filter(|d| d.phase != "unenrolled").count(),
        "unenrolled": status.desks.iter().filter(|d| d.phase == "unenrolled").count(),
        "unmanaged": status.unmanaged,
        "unchecked": status.unchecked,
        "in_flight": status.in_flight,
        "max_in_flight": status.max_in_flight,
        "next_sweep": status.next_sweep.to_rfc3339(),
        "api_rate": {
            "calls_per_tick": status.api_rate.calls_per_tick,
            "ceiling": status.api_rate.ceiling,
            "updated_at": status.api_rate.updated_at.map(Timestamp::to_rfc3339),
            "throttled_ticks": status.api_rate.throttled_ticks,
        },
    })
}

fn print(
    stack: &str,
    region: &str,
    config: &blankslate_core::config::Config,
    now: Timestamp,
    status: &FleetStatus,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "stack {stack} in {region} at {} — selector {}, grace {} min",
        now.clock_time(),
        config.selector,
        config.grace.as_secs() / 60
    )?;
    let rows: Vec<[String; 7]> = status
        .desks
        .iter()
        .map(|d| {
            [
                d.workspace_id.as_ref().map_or("-".into(), |w| w.as_str().to_owned()),
                d.user.clone(),
                d.directory.clone(),
                d.state.map_or("-".into(), |s| s.as_api_str().to_owned()),
                d.connection.map_or("-".into(), |c| c.as_api_str().to_owned()),
                d.phase.to_owned(),
                match &d.last_error {
                    Some(e) => format!("{} (last error: {e})", d.next.text),
                    None => d.next.text.clone(),
                },
            ]
        })
        .collect();
    let header = ["WORKSPACE", "USER", "DIRECTORY", "STATE", "CONNECTION", "PHASE", "NEXT"];
    let widths: Vec<usize> =
        (0..6).map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0)).collect();
    let line = |cells: [&str; 7]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i < 6 {
                text.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            } else {
                text.push_str(cell);
            }
        }
        text
    };
    writeln!(out, "{}", line(header))?;
    for r in &rows {
        writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6]]))?;
    }
    let managed = status.desks.iter().filter(|d| d.phase != "unenrolled").count();
    if status.unchecked > 0 {
        writeln!(
            out,
            "{} WorkSpaces not in the journal were not checked against the tag selector (at most {} tag reads \
             per status); the next sweep enrols those that match",
            status.unchecked,
            blankslate_ops::status::MAX_TAG_READS
        )?;
    }
    writeln!(
        out,
        "{managed} managed, {} awaiting enrolment, {} unmanaged (never touched); {} of at most {} rebuilds under way; next sweep {}",
        status.desks.len() - managed,
        status.unmanaged,
        status.in_flight,
        status.max_in_flight,
        status.next_sweep.clock_time()
    )?;
    let rate = &status.api_rate;
    let per_second = rate.calls_per_tick as f64 / config.reconcile_period.as_secs_f64().max(1.0);
    let learned = match rate.updated_at {
        Some(at) if rate.throttled_ticks > 0 => {
            format!("learned, cut at {} after {} throttled tick(s)", at.clock_time(), rate.throttled_ticks)
        }
        Some(at) => format!("learned, last changed {}", at.clock_time()),
        None => "not learned yet: the start rate".to_owned(),
    };
    writeln!(
        out,
        "WorkSpaces API: {} calls a tick ({per_second:.2} requests/s; {learned}), ceiling {}",
        rate.calls_per_tick, rate.ceiling
    )
}
