//! `blankslate enrol` and `blankslate release`: flags in, `blankslate_ops::enrol` does the
//! work; this file prints the plan, asks, and shows progress.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use blankslate_core::ids::{DirectoryId, UserName, WorkspaceId};
use blankslate_ops::enrol::{self, Direction, OptInTag, Outcome, Planned, Selection};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::{runtime, OutputFormat, StackArgs};
use crate::Finding;

/// Options of `blankslate enrol` and `blankslate release`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("selection").required(true).multiple(true).args(["workspace_ids", "directory", "user"])))]
pub struct TagArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// A WorkSpace, by ID (repeatable).
    #[arg(long = "workspace-id", value_name = "ID", value_parser = workspace_id)]
    workspace_ids: Vec<WorkspaceId>,
    /// Every WorkSpace in this directory (with --user: that user's).
    #[arg(long, value_name = "ID", value_parser = directory)]
    directory: Option<DirectoryId>,
    /// The WorkSpaces of this user (in --directory, or in any directory).
    #[arg(long, value_name = "NAME", value_parser = user)]
    user: Option<UserName>,
    /// Show what would change (per WorkSpace: user, directory, tag before and after), change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    yes: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

fn workspace_id(text: &str) -> Result<WorkspaceId, String> {
    WorkspaceId::new(text).map_err(|e| e.to_string())
}

fn directory(text: &str) -> Result<DirectoryId, String> {
    DirectoryId::new(text).map_err(|e| e.to_string())
}

fn user(text: &str) -> Result<UserName, String> {
    UserName::new(text).map_err(|e| e.to_string())
}

/// A progress bar on stderr, shown only for many WorkSpaces (and only on a terminal:
/// indicatif draws nothing to a pipe).
fn bar(total: usize, message: &'static str) -> Option<ProgressBar> {
    const SHOWN_FROM: usize = 10;
    if total < SHOWN_FROM {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} [{elapsed}]") {
        bar.set_style(style);
    }
    bar.set_message(message);
    Some(bar)
}

fn tag_text(tag: &OptInTag, value: &Option<blankslate_core::spec::TagValue>) -> String {
    match value {
        Some(v) if v.as_str().is_empty() => format!("{}=\"\"", tag.key),
        Some(v) => format!("{}={v}", tag.key),
        None => "(none)".to_owned(),
    }
}

fn print_plan(out: &mut dyn Write, tag: &OptInTag, plan: &[Planned]) -> std::io::Result<()> {
    let rows: Vec<[String; 7]> = plan
        .iter()
        .map(|p| {
            let (what, why) = match &p.outcome {
                Outcome::Change => ("change".to_owned(), String::new()),
                Outcome::Unchanged { reason } => ("unchanged".to_owned(), reason.clone()),
                Outcome::Refused { reason } => ("REFUSED".to_owned(), reason.clone()),
            };
            [
                p.workspace_id.to_string(),
                p.user.to_string(),
                p.directory.to_string(),
                p.state.to_string(),
                p.phase.unwrap_or("-").to_owned(),
                format!("{} -> {}", tag_text(tag, &p.before), tag_text(tag, &p.after)),
                if why.is_empty() { what } else { format!("{what}: {why}") },
            ]
        })
        .collect();
    let header = ["WORKSPACE", "USER", "DIRECTORY", "STATE", "JOURNAL", "TAG", "RESULT"];
    let widths: Vec<usize> =
        (0..6).map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0)).collect();
    let line = |cells: [&str; 7]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate().take(6) {
            text.push_str(&format!("{cell:<w$}  ", w = widths[i]));
        }
        text.push_str(cells[6]);
        text
    };
    writeln!(out, "{}", line(header))?;
    for r in &rows {
        writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6]]))?;
    }
    Ok(())
}

/// What happens next, by the reconciler's own rules.
fn afterwards(direction: Direction, sweep_minutes: u64) -> String {
    match direction {
        Direction::Enrol => format!(
            "next: the reconciler's next sweep (at most {sweep_minutes} min) enrols them in the journal and arms \
             their alarms; only connections after that make a desktop due for a rebuild"
        ),
        Direction::Release => "next: they are no longer rebuilt. Their journal records stay until the reconciler \
                               next reads their tags (at the latest when the user leaves and the grace period ends): \
                               it then releases each desk, deleting its record and alarm, instead of rebuilding it"
            .to_owned(),
    }
}

/// Runs `blankslate enrol` or `blankslate release`. `input` answers the confirmation when
/// `interactive` (stdin is a terminal); otherwise `--yes` is required.
pub fn run(
    direction: Direction,
    args: &TagArgs,
    input: &mut dyn BufRead,
    interactive: bool,
    out: &mut dyn Write,
) -> anyhow::Result<Finding> {
    let verb = match direction {
        Direction::Enrol => "enrol",
        Direction::Release => "release",
    };
    runtime()?.block_on(async {
        let stack = args.stack.open().await?;
        let tag = OptInTag::from_selector(&stack.config.selector)?;
        let selection =
            Selection { ids: args.workspace_ids.clone(), directory: args.directory.clone(), user: args.user.clone() };
        let workspaces = stack.workspaces();
        let journal = stack.journal();
        let journal = (direction == Direction::Release).then_some(&journal);
        let mut reading: Option<Option<ProgressBar>> = None;
        let candidates = enrol::resolve(&workspaces, journal, &selection, &stack.region, |done, total| {
            let bar = reading.get_or_insert_with(|| bar(total, "reading tags"));
            if let Some(bar) = bar {
                bar.set_position(done as u64);
            }
        })
        .await?;
        if let Some(Some(bar)) = reading {
            bar.finish_and_clear();
        }
        let plan = enrol::plan(direction, &tag, &candidates);
        let changes = plan.iter().filter(|p| p.outcome == Outcome::Change).count();
        let refused = plan.iter().filter(|p| matches!(p.outcome, Outcome::Refused { .. })).count();
        let json = args.output == OutputFormat::Json;
        let sweep_minutes = stack.config.sweep_period.as_secs() / 60;
        if !json {
            let action = match direction {
                Direction::Enrol => format!("sets {}={}", tag.key, tag.enrol_value()),
                Direction::Release => format!("removes {}", tag.key),
            };
            writeln!(
                out,
                "stack {} in {}, selector {}: {verb} {action}; {} matched {}:",
                stack.name,
                stack.region,
                stack.config.selector,
                selection.describe(),
                plan.len()
            )?;
            print_plan(out, &tag, &plan)?;
        }
        let mut applied = Vec::new();
        if args.dry_run {
            if !json {
                writeln!(out, "dry run: nothing changed ({changes} WorkSpace(s) would change)")?;
            }
        } else if changes > 0 {
            if !args.yes {
                if !interactive {
                    anyhow::bail!(
                        "not confirmed: stdin is not a terminal, so there is no one to ask. Pass --yes to {verb} \
                         {changes} WorkSpace(s) without asking (or --dry-run to look first); nothing was changed"
                    );
                }
                confirm(verb, changes, input)?;
            }
            let mut bar = bar(changes, "tagging");
            applied = enrol::apply(&workspaces, direction, &tag, &plan, |done, _| {
                if let Some(bar) = &bar {
                    bar.set_position(done as u64);
                }
            })
            .await;
            if let Some(bar) = bar.take() {
                bar.finish_and_clear();
            }
        }
        let failed: Vec<&enrol::Applied> = applied.iter().filter(|a| a.error.is_some()).collect();
        if json {
            let document = serde_json::json!({
                "stack": stack.name,
                "region": stack.region,
                "selector": stack.config.selector.to_string(),
                "direction": direction,
                "dry_run": args.dry_run,
                "plan": plan,
                "applied": applied,
                "next": afterwards(direction, sweep_minutes),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&document).context("encoding the JSON output")?)?;
        } else if !args.dry_run {
            if changes == 0 {
                writeln!(out, "nothing to change")?;
            } else {
                let done = applied.len() - failed.len();
                writeln!(out, "{verb}: {done} of {changes} WorkSpace(s) changed")?;
                for f in &failed {
                    writeln!(out, "  failed {}: {}", f.workspace_id, f.error.as_deref().unwrap_or_default())?;
                }
                if done > 0 {
                    writeln!(out, "{}", afterwards(direction, sweep_minutes))?;
                }
            }
        }
        Ok(if !failed.is_empty() {
            Finding::Problem
        } else if refused > 0 {
            Finding::Refused
        } else {
            Finding::Clean
        })
    })
}

/// Asks on stderr; anything but y/yes aborts.
fn confirm(verb: &str, changes: usize, input: &mut dyn BufRead) -> anyhow::Result<()> {
    let mut err = std::io::stderr().lock();
    write!(err, "{verb} {changes} WorkSpace(s)? [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    input.read_line(&mut answer).context("reading the confirmation")?;
    if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        anyhow::bail!("not confirmed: nothing was changed");
    }
    Ok(())
}

/// Whether stdin is a terminal someone can answer on.
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}
