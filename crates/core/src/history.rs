//! What `blankslate history` shows: the rebuilds the journal remembers.
//!
//! Each record keeps its last [`HISTORY_LIMIT`] completed rebuilds (older records only
//! `last_rebuild`); a rebuild under way is shown from its phase, with the last error when
//! a step keeps failing (a rebuild never gives up: L1).
//!
//! [`HISTORY_LIMIT`]: crate::journal::HISTORY_LIMIT

use serde::Serialize;

use crate::ids::WorkspaceId;
use crate::journal::{Phase, RebuildReason, Record};
use crate::time::Timestamp;

/// How a rebuild ended, or where it is.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The new WorkSpace exists.
    Completed,
    /// Under way, no error so far.
    InProgress {
        /// `terminating` or `creating`.
        phase: &'static str,
    },
    /// Under way, and the last step failed (retried with back-off).
    Failing {
        /// `terminating` or `creating`.
        phase: &'static str,
        /// The error.
        error: String,
    },
}

/// One rebuild.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct HistoryEntry {
    /// The user.
    pub user: String,
    /// The directory.
    pub directory: String,
    /// Why.
    pub reason: RebuildReason,
    /// The terminated WorkSpace.
    pub old_workspace_id: WorkspaceId,
    /// Its replacement (when created).
    pub new_workspace_id: Option<WorkspaceId>,
    /// When the disconnect was observed, or the admin asked.
    pub since: Timestamp,
    /// When the first terminate was decided.
    pub started_at: Timestamp,
    /// When the new WorkSpace was recorded.
    pub finished_at: Option<Timestamp>,
    /// Terminate + create: `finished_at - started_at`.
    pub rebuild_seconds: Option<u64>,
    /// Disconnect (or request) to new WorkSpace: `finished_at - since`.
    pub total_seconds: Option<u64>,
    /// How it went.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The old WorkSpace's computer object, when directory clean-up is on
    /// (`Cleanup::describe`: pending, retrying, deleted, nothing to delete, refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<String>,
}

/// The rebuilds started at or after `since`, oldest first.
pub fn history(records: &[Record], since: Option<Timestamp>) -> Vec<HistoryEntry> {
    let mut out = Vec::new();
    for r in records {
        let user = r.desk.user_name.as_str().to_owned();
        let directory = r.desk.directory_id.as_str().to_owned();
        let cleanup = |old: &WorkspaceId| {
            r.cleanups.iter().rev().find(|c| &c.item.workspace_id == old).map(crate::directory::Cleanup::describe)
        };
        let completed =
            if r.history.is_empty() { r.last_rebuild.iter().collect::<Vec<_>>() } else { r.history.iter().collect() };
        for s in completed {
            out.push(HistoryEntry {
                user: user.clone(),
                directory: directory.clone(),
                reason: s.reason,
                old_workspace_id: s.old_workspace_id.clone(),
                new_workspace_id: Some(s.new_workspace_id.clone()),
                since: s.reason.wait_began(s.disconnected_at),
                started_at: s.started_at,
                finished_at: Some(s.finished_at),
                rebuild_seconds: Some(s.finished_at.since(s.started_at).as_secs()),
                total_seconds: Some(s.finished_at.since(s.reason.wait_began(s.disconnected_at)).as_secs()),
                outcome: Outcome::Completed,
                cleanup: cleanup(&s.old_workspace_id),
            });
        }
        let (old, disconnected_at, started_at) = match &r.phase {
            Phase::Terminating { workspace_id, disconnected_at, started_at, .. } => {
                (workspace_id, *disconnected_at, *started_at)
            }
            Phase::Creating { replaces, disconnected_at, started_at, .. } => (replaces, *disconnected_at, *started_at),
            Phase::Active { .. } | Phase::Disconnected { .. } => continue,
        };
        let phase = r.phase.name();
        let reason = r.rebuild_reason(disconnected_at);
        out.push(HistoryEntry {
            user,
            directory,
            reason,
            old_workspace_id: old.clone(),
            new_workspace_id: None,
            since: reason.wait_began(disconnected_at),
            started_at,
            finished_at: None,
            rebuild_seconds: None,
            total_seconds: None,
            outcome: match &r.last_error {
                Some(error) => Outcome::Failing { phase, error: error.clone() },
                None => Outcome::InProgress { phase },
            },
            cleanup: cleanup(old),
        });
    }
    out.retain(|e| since.is_none_or(|s| e.started_at >= s));
    out.sort_by(|a, b| (a.started_at, &a.directory, &a.user).cmp(&(b.started_at, &b.directory, &b.user)));
    out
}
