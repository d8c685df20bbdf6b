//! Directory clean-up after a reconcile tick (issue 14).
//!
//! [`reconcile_with_directory`] runs the ordinary [`crate::reconcile`] tick first, so
//! every terminate and create of the tick has been sent before the directory is asked
//! anything: a slow or unreachable directory never delays or blocks a re-create. Then
//! [`clean`] hands the due clean-ups to the [`Directory`] port and records each outcome
//! on its desk's journal record (re-read, then written conditionally like every write),
//! with back-off for failures and an admin notice when one persists
//! (`core::directory::on_cleanup_result`).

use blankslate_core::config::Config;
use blankslate_core::directory::{self, CleanupItem};
use blankslate_core::reconcile::Write;
use blankslate_core::Timestamp;

use crate::execute::Report;
use crate::functions::{reconcile, HandlerError};
use crate::ports::{Alarms, Directory, ErrorKind, Journal, Notifier, Ports, Workspaces};

/// The reconciler with directory clean-up: the tick, then its due clean-ups. With
/// `directory` absent (or `Config::directory` unset, when nothing is ever due) this is
/// exactly [`crate::reconcile`].
pub async fn reconcile_with_directory<W: Workspaces, A: Alarms, J: Journal, N: Notifier, D: Directory>(
    ports: Ports<'_, W, A, J, N>,
    directory: Option<&D>,
    config: &Config,
    now: Timestamp,
) -> Result<Report, HandlerError> {
    let mut report = reconcile(ports, config, now).await?;
    let due = std::mem::take(&mut report.directory_due);
    if let Some(directory) = directory {
        clean(ports.journal, ports.notifier, directory, &due, now, &mut report).await;
    }
    Ok(report)
}

/// Carries out `items` and records their outcomes. A lost write race leaves the
/// clean-up pending; the next tick sees it due again, and the guard makes a repeated
/// delete harmless (the object is gone: nothing to delete).
pub async fn clean<J: Journal, N: Notifier, D: Directory>(
    journal: &J,
    notifier: &N,
    directory: &D,
    items: &[CleanupItem],
    now: Timestamp,
    report: &mut Report,
) {
    if items.is_empty() {
        return;
    }
    let outcomes = directory.delete_computers(items).await;
    if outcomes.len() != items.len() {
        report.error(
            "directory clean-up",
            format!("{} outcomes for {} items; retried next tick", outcomes.len(), items.len()),
        );
        return;
    }
    for (item, outcome) in items.iter().zip(outcomes) {
        let record = match journal.get(&item.desk).await {
            Ok(Some(record)) => record,
            Ok(None) => continue,
            Err(e) => {
                report.error(format!("journal read for {}", item.desk), e);
                continue;
            }
        };
        let Some((next, notice)) = directory::on_cleanup_result(&record, item, outcome, now) else { continue };
        let line = next
            .cleanups
            .iter()
            .find(|c| c.item.workspace_id == item.workspace_id)
            .map(|c| c.describe())
            .unwrap_or_default();
        match journal.write(&Write::Update(next)).await {
            Ok(_) => {
                report.writes += 1;
                tracing::info!(desk = %item.desk, "{line}");
                report.directory_done.push(format!("{}: {line}", item.desk));
            }
            // Not recorded: the clean-up stays pending and is retried (and notified) later.
            Err(e) if e.kind == ErrorKind::Conflict => {
                report.conflicts += 1;
                continue;
            }
            Err(e) => {
                report.error(format!("journal write for {}", item.desk), e);
                continue;
            }
        }
        if let Some(notice) = notice {
            match notifier.notify(&notice).await {
                Ok(()) => report.notices += 1,
                Err(e) => report.error("notifying the admins", e),
            }
        }
    }
}
