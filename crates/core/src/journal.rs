//! The journal: one record per managed desk, holding the full spec and the rebuild phase.
//!
//! The journal is the durable intent of the system. A phase that leads to a destructive
//! call (`Terminating`, `Creating`) is written *before* the call is made, so a function
//! that dies between two steps leaves a record that says exactly what to check and redo
//! (invariant L1). Writes are conditional on [`Record::version`], so two functions racing
//! on one desk cannot both act.

pub mod stored;

use serde::{Deserialize, Serialize};

use crate::directory::{Cleanup, ComputerName};
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
    /// The last [`HISTORY_LIMIT`] completed rebuilds, oldest first (`blankslate history`).
    /// Bounded, so a desk rebuilt every hour for years keeps a record of constant size
    /// (DynamoDB items stop at 400 KB). Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<RebuildSummary>,
    /// An admin's `blankslate rebuild`, while it is pending. It is honoured only while
    /// the desk is `Disconnected` on the same WorkSpace with a disconnect no later than the
    /// request ([`Record::live_request`]); any later connection voids it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RebuildRequest>,
    /// The last error met while rebuilding, cleared when the rebuild completes.
    pub last_error: Option<String>,
    /// Optimistic-concurrency version: the store accepts a write only if the stored
    /// version still equals this one, and then stores `version + 1`. 0 means "new".
    pub version: u64,
    /// When the record was last changed.
    pub updated_at: Timestamp,
    /// The current WorkSpace's `ComputerName`, recorded with the terminate intent (from the
    /// same DescribeWorkspaces read as the refreshed spec): the name of the computer object
    /// to delete once that WorkSpace is gone. Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer_name: Option<ComputerName>,
    /// Directory clean-ups of this desk's terminated WorkSpaces: pending ones, and the last
    /// finished ones with their outcome (`core::directory`; `blankslate history` shows them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cleanups: Vec<Cleanup>,
    /// The latest login a "WorkSpaces Access" event reported: an alarm whose datapoint
    /// period ended before it is about a disconnect the login already answered, and must not
    /// start a grace period again. Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<Timestamp>,
    /// Another stack's alarm watches this desk's WorkSpace too: both stacks' selectors claim
    /// it, so neither starts a rebuild until the admin resolves it (issue 12). Set and
    /// cleared by the sweep, from the alarms it lists; absent when no other stack claims it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<crate::alarm::StackName>,
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
    /// What started it. Absent in summaries written before it existed: a disconnect.
    #[serde(default)]
    pub reason: RebuildReason,
}

/// What started a rebuild.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RebuildReason {
    /// The user disconnected and did not come back within the grace period.
    #[default]
    Disconnect,
    /// An admin asked for it (`blankslate rebuild`).
    Admin {
        /// The admin overrode the connection check (`--force`): the user may have been
        /// connected when the WorkSpace was terminated.
        force: bool,
        /// When the admin asked (the summary's `disconnected_at` is this minus the grace
        /// period, by construction of the request).
        requested_at: Timestamp,
    },
}

impl RebuildReason {
    /// Where the user's wait began: the disconnect, or the admin's request.
    pub fn wait_began(self, disconnected_at: Timestamp) -> Timestamp {
        match self {
            Self::Disconnect => disconnected_at,
            Self::Admin { requested_at, .. } => requested_at,
        }
    }

    /// A short name for displays: `disconnect`, `admin`, `admin --force`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Disconnect => "disconnect",
            Self::Admin { force: false, .. } => "admin",
            Self::Admin { force: true, .. } => "admin --force",
        }
    }
}

/// An admin's request to rebuild a desk now, written by `blankslate rebuild` together with
/// a `Disconnected` phase whose grace period is already over.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RebuildRequest {
    /// The WorkSpace the admin asked to rebuild.
    pub workspace_id: WorkspaceId,
    /// When the request was made.
    pub requested_at: Timestamp,
    /// Terminate even if the user is connected (S1 is waived, by name, for this desk).
    pub force: bool,
}

/// How many completed rebuilds a record keeps in [`Record::history`].
pub const HISTORY_LIMIT: usize = 20;

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
            history: Vec::new(),
            request: None,
            last_error: None,
            version: 0,
            updated_at: now,
            computer_name: None,
            cleanups: Vec::new(),
            last_login: None,
            claimed_by: None,
        }
    }

    /// The current WorkSpace, if one exists.
    pub fn workspace_id(&self) -> Option<&WorkspaceId> {
        self.phase.workspace_id()
    }

    /// The admin request that applies to the current phase, if any: the desk is
    /// `Disconnected` on the requested WorkSpace and the disconnect is no later than the
    /// request. A later disconnect means the user connected after the request (an alarm
    /// moved it forward, or a sweep found the user back and gone again), which voids it.
    pub fn live_request(&self) -> Option<&RebuildRequest> {
        let request = self.request.as_ref()?;
        match &self.phase {
            Phase::Disconnected { workspace_id, at }
                if *workspace_id == request.workspace_id && *at <= request.requested_at =>
            {
                Some(request)
            }
            _ => None,
        }
    }

    /// What the rebuild under way (or just completed) answers: an admin request whose
    /// disconnect is the one the rebuild started from, or else a disconnect.
    pub fn rebuild_reason(&self, disconnected_at: Timestamp) -> RebuildReason {
        match &self.request {
            Some(r) if disconnected_at <= r.requested_at => {
                RebuildReason::Admin { force: r.force, requested_at: r.requested_at }
            }
            _ => RebuildReason::Disconnect,
        }
    }

    /// Records a completed rebuild: the last one, and the bounded history.
    pub fn push_rebuild(&mut self, summary: RebuildSummary) {
        self.history.push(summary.clone());
        if self.history.len() > HISTORY_LIMIT {
            let excess = self.history.len() - HISTORY_LIMIT;
            self.history.drain(..excess);
        }
        self.last_rebuild = Some(summary);
    }

    /// This record moved to `phase` at `now` (same version: the store bumps it).
    pub fn with_phase(&self, phase: Phase, now: Timestamp) -> Self {
        Self { phase, updated_at: now, ..self.clone() }
    }
}
