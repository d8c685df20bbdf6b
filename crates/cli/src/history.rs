//! `blankslate history`: the rebuilds the journal remembers.

use std::io::Write;

use anyhow::Context;
use blankslate_core::history::Outcome;
use blankslate_core::status::parse_since;
use blankslate_core::time::human_duration;

use crate::args::{runtime, wall_clock, OutputFormat, StackArgs};
use crate::Finding;

/// Options of `blankslate history`.
#[derive(clap::Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
    /// Only rebuilds started since: an RFC 3339 time (2026-11-25T17:00:00Z) or a duration
    /// back from now (30m, 12h, 7d, 2w).
    #[arg(long, value_parser = since)]
    since: Option<blankslate_core::Timestamp>,
}

fn since(text: &str) -> Result<blankslate_core::Timestamp, String> {
    parse_since(text, wall_clock()).map_err(|e| e.to_string())
}

/// Runs `blankslate history`.
pub fn run(args: &HistoryArgs, out: &mut dyn Write) -> anyhow::Result<Finding> {
    let since = args.since;
    let entries = runtime()?.block_on(async {
        let stack = args.stack.open().await?;
        anyhow::Ok(blankslate_ops::history::history(&stack, since).await?)
    })?;
    if args.output == OutputFormat::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&entries).context("encoding the JSON output")?)?;
        return Ok(Finding::Clean);
    }
    let secs = |s: Option<u64>| s.map_or("-".to_owned(), |s| human_duration(std::time::Duration::from_secs(s)));
    let rows: Vec<[String; 8]> = entries
        .iter()
        .map(|e| {
            [
                e.started_at.to_rfc3339(),
                e.user.clone(),
                e.directory.clone(),
                e.reason.name().to_owned(),
                format!(
                    "{} -> {}",
                    e.old_workspace_id,
                    e.new_workspace_id.as_ref().map_or("…".to_owned(), |w| w.as_str().to_owned())
                ),
                secs(e.rebuild_seconds),
                secs(e.total_seconds),
                match &e.outcome {
                    Outcome::Completed => "completed".to_owned(),
                    Outcome::InProgress { phase } => format!("in progress ({phase})"),
                    Outcome::Failing { phase, error } => format!("failing ({phase}): {error}"),
                } + &e.cleanup.as_ref().map(|c| format!("; {c}")).unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["STARTED", "USER", "DIRECTORY", "WHY", "WORKSPACE", "REBUILD", "TOTAL", "OUTCOME"];
    let widths: Vec<usize> =
        (0..7).map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0)).collect();
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i < 7 {
                text.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            } else {
                text.push_str(cell);
            }
        }
        text
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for r in &rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    writeln!(
        out,
        "{} rebuild(s); REBUILD = terminate + create, TOTAL = disconnect (or admin request) to new WorkSpace",
        rows.len()
    )?;
    Ok(Finding::Clean)
}
