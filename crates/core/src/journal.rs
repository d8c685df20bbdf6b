//! The journal: one record per managed desk, holding the full spec and the rebuild phase.
//!
//! The journal is the durable intent of the system. A phase that leads to a destructive
//! call (`Terminating`, `Creating`) is written *before* the call is made, so a function
//! that dies between two steps leaves a record that says exactly what to check and redo
//! (invariant L1). Writes are conditional on [`Record::version`], so two functions racing
//! on one desk cannot both act.

use serde::{Deserialize, Serialize};

use crate::ids::{DeskKey, WorkspaceId};
use crate::spec::WorkspaceSpec;
use crate::time::Timestamp;

/// One managed desk.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Record {
    /// Directory and user: the key, stable across rebuilds.
    pub desk: DeskKey,
    /// What a rebuild re-creates (S3). Refreshed from AWS right before each termination.
    pub spec: WorkspaceSpec,
    /// Where the desk is in its life cycle.
    pub phase: Phase,
    /// When the current WorkSpace was created or enrolled. A user connection after this
    /// instant is what makes a desktop "used", and so due for a rebuild once left.
    pub workspace_since: Timestamp,
    /// Completed rebuilds of this desk.
    pub rebuilds: u32,
    /// The last rebuild's outcome, for status and history.
    pub last_rebuild: Option<RebuildSummary>,
    /// The last error met while rebuilding, cleared when the rebuild completes.
    pub last_error: Option<String>,
    /// Optimistic-concurrency version: the store accepts a write only if the stored
    /// version still equals this one, and then stores `version + 1`. 0 means "new".
    pub version: u64,
    /// When the record was last changed.
    pub updated_at: Timestamp,
}

/// The life cycle of a desk. Each variant carries what the next decision needs.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// The WorkSpace exists and is not being rebuilt.
    Active {
        /// The current WorkSpace.
        workspace_id: WorkspaceId,
    },
    /// The user disconnected at `at`; the grace period runs until `at + grace`.
    Disconnected {
        /// The current WorkSpace.
        workspace_id: WorkspaceId,
        /// When the disconnect was observed (never earlier than it happened).
        at: Timestamp,
    },
    /// `TerminateWorkspaces` was (or is about to be) sent; waiting for the ID to vanish.
    Terminating {
        /// The WorkSpace being terminated.
        workspace_id: WorkspaceId,
        /// The disconnect this rebuild answers; a connection after it aborts a retry.
        disconnected_at: Timestamp,
        /// When the rebuild began (the first terminate decision).
        started_at: Timestamp,
        /// When the last terminate call was decided.
        requested_at: Timestamp,
        /// Terminate calls decided so far.
        attempts: u32,
    },
    /// The old WorkSpace is gone; `CreateWorkspaces` is due or awaiting its answer.
    Creating {
        /// The WorkSpace this rebuild replaces (already gone).
        replaces: WorkspaceId,
        /// The disconnect this rebuild answers.
        disconnected_at: Timestamp,
        /// When the rebuild began.
        started_at: Timestamp,
        /// Create calls decided so far.
        attempts: u32,
        /// Not before this instant is the next create (or look-up) decided.
        retry_at: Timestamp,
        /// A create call may have succeeded without its answer being recorded (the
        /// function died, or the call timed out). Before creating again, the desk is looked
        /// up, so a desk never gets two WorkSpaces from us (S4).
        maybe_created: bool,
    },
}

impl Phase {
    /// The WorkSpace this phase is about, if one exists.
    pub fn workspace_id(&self) -> Option<&WorkspaceId> {
        match self {
            Self::Active { workspace_id }
            | Self::Disconnected { workspace_id, .. }
            | Self::Terminating { workspace_id, .. } => Some(workspace_id),
            Self::Creating { .. } => None,
        }
    }

    /// True while a rebuild is under way (counts against the in-flight cap).
    pub fn is_rebuilding(&self) -> bool {
        matches!(self, Self::Terminating { .. } | Self::Creating { .. })
    }

    /// A short name for displays and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Active { .. } => "active",
            Self::Disconnected { .. } => "disconnected",
            Self::Terminating { .. } => "terminating",
            Self::Creating { .. } => "creating",
        }
    }
}

/// How one completed rebuild went.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RebuildSummary {
    /// The WorkSpace that was terminated.
    pub old_workspace_id: WorkspaceId,
    /// The WorkSpace that replaced it.
    pub new_workspace_id: WorkspaceId,
    /// When the user's disconnect was observed.
    pub disconnected_at: Timestamp,
    /// When the first terminate was decided.
    pub started_at: Timestamp,
    /// When the new WorkSpace's ID was recorded.
    pub finished_at: Timestamp,
}

impl Record {
    /// A new record for a WorkSpace that has just become managed.
    pub fn enrol(spec: WorkspaceSpec, workspace_id: WorkspaceId, now: Timestamp) -> Self {
        Self {
            desk: spec.desk(),
            spec,
            phase: Phase::Active { workspace_id },
            workspace_since: now,
            rebuilds: 0,
            last_rebuild: None,
            last_error: None,
            version: 0,
            updated_at: now,
        }
    }

    /// The current WorkSpace, if one exists.
    pub fn workspace_id(&self) -> Option<&WorkspaceId> {
        self.phase.workspace_id()
    }

    /// This record moved to `phase` at `now` (same version: the store bumps it).
    pub fn with_phase(&self, phase: Phase, now: Timestamp) -> Self {
        Self { phase, updated_at: now, ..self.clone() }
    }
}
