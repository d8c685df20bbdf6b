//! `blankslate rebuild`: rebuild WorkSpaces now, through the journal and the reconciler.

use std::io::Write;
use std::time::Duration;

use blankslate_core::ids::WorkspaceId;
use blankslate_ops::rebuild::{self, Progress, Requested};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::{runtime, wall_clock, StackArgs};
use crate::Finding;

/// Options of `blankslate rebuild`.
#[derive(clap::Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// The WorkSpaces to rebuild (ws-…), managed by the stack.
    #[arg(required = true, value_name = "WORKSPACE_ID", value_parser = workspace_id)]
    ids: Vec<WorkspaceId>,
    /// Rebuild even if the user is connected (their session ends and their data goes):
    /// waives S1 for these WorkSpaces; recorded in the journal and the history.
    #[arg(long)]
    force: bool,
    /// Write the requests and start the reconciler, but do not wait for the new WorkSpaces.
    #[arg(long)]
    no_wait: bool,
    /// Stop waiting after this many minutes (the rebuild goes on).
    #[arg(long, default_value_t = 30)]
    wait_minutes: u64,
}

fn workspace_id(text: &str) -> Result<WorkspaceId, String> {
    WorkspaceId::new(text).map_err(|e| e.to_string())
}

/// Runs `blankslate rebuild`: exit 0 when every rebuild was requested (and, when waiting,
/// completed), 3 when any was refused, 1 when one was cancelled or the wait ran out.
pub fn run(args: &RebuildArgs, out: &mut dyn Write) -> anyhow::Result<Finding> {
    let now = wall_clock();
    runtime()?.block_on(async {
        let stack = args.stack.open().await?;
        let results = rebuild::request(&stack, &args.ids, args.force, now).await?;
        let mut refused = false;
        let mut accepted = Vec::new();
        for (id, outcome) in &results {
            match outcome {
                Requested::Accepted { desk, .. } => {
                    let how = if args.force { " (--force: even if the user is connected)" } else { "" };
                    writeln!(out, "{id} ({desk}): rebuild requested{how}")?;
                    accepted.push((desk.clone(), id.clone(), now));
                }
                Requested::Refused { reason } => {
                    refused = true;
                    writeln!(out, "{id}: refused: {reason}")?;
                }
                Requested::NotManaged => {
                    refused = true;
                    writeln!(
                        out,
                        "{id}: refused: not managed by stack {} (not in its journal); `blankslate enrol` opts it in",
                        stack.name
                    )?;
                }
                Requested::NotFound => {
                    refused = true;
                    writeln!(out, "{id}: refused: no such WorkSpace in {}", stack.region)?;
                }
            }
        }
        if accepted.is_empty() {
            return Ok(if refused { Finding::Refused } else { Finding::Clean });
        }
        rebuild::kick_reconciler(&stack).await?;
        if args.no_wait {
            writeln!(out, "the reconciler was started; follow with `blankslate status` or `blankslate history`")?;
            return Ok(if refused { Finding::Refused } else { Finding::Clean });
        }
        let bar = ProgressBar::with_draw_target(Some(accepted.len() as u64), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed}] {pos}/{len} rebuilt: {msg}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        let limit = Duration::from_secs(args.wait_minutes.saturating_mul(60));
        let last = rebuild::wait(&stack, &accepted, Duration::from_secs(5), limit, |progress| {
            let done = progress.iter().filter(|(_, p)| matches!(p, Progress::Done(_))).count();
            bar.set_position(done as u64);
            let phases: Vec<String> = progress
                .iter()
                .filter(|(_, p)| !matches!(p, Progress::Done(_)))
                .map(|(desk, p)| format!("{desk} {}", name(p)))
                .collect();
            bar.set_message(phases.join(", "));
        })
        .await?;
        bar.finish_and_clear();
        let mut failed = false;
        for (desk, p) in &last {
            match p {
                Progress::Done(new) => writeln!(out, "{desk}: rebuilt as {new}")?,
                Progress::Cancelled(why) => {
                    failed = true;
                    writeln!(out, "{desk}: not rebuilt: {why}")?;
                }
                other => {
                    failed = true;
                    writeln!(
                        out,
                        "{desk}: still {} after {} min; the rebuild goes on (see `blankslate status`)",
                        name(other),
                        args.wait_minutes
                    )?;
                }
            }
        }
        Ok(if refused {
            Finding::Refused
        } else if failed {
            Finding::Problem
        } else {
            Finding::Clean
        })
    })
}

fn name(p: &Progress) -> String {
    match p {
        Progress::Pending => "waiting for the reconciler".into(),
        Progress::Terminating => "terminating".into(),
        Progress::Creating(None) => "creating".into(),
        Progress::Creating(Some(e)) => format!("creating (last error: {e})"),
        Progress::Done(id) => format!("done ({id})"),
        Progress::Cancelled(why) => format!("cancelled ({why})"),
    }
}
