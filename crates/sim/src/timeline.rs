//! The simulation's record of what happened, for the demo and for assertions.

use std::fmt;
use std::time::Duration;

use blankslate_core::ids::WorkspaceId;
use blankslate_core::time::human_duration;
use blankslate_core::Timestamp;
use serde::Serialize;

/// Who made an API call.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub enum Actor {
    /// Our functions.
    Blankslate,
    /// The seed's functions (the baseline policy).
    Seed,
    /// The admin (the scenario's own actions).
    Admin,
}

/// One line of the timeline.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct Entry {
    /// When.
    pub at: Timestamp,
    /// The user of the desk concerned.
    pub user: String,
    /// The WorkSpace concerned, if any.
    pub workspace: Option<WorkspaceId>,
    /// What happened.
    pub kind: EntryKind,
}

/// What happened.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub enum EntryKind {
    /// CreateWorkspaces accepted. `same_spec` compares a re-create with what it replaces.
    Created {
        /// Who called it.
        by: Actor,
        /// For a re-create: whether the spec is identical (S3).
        same_spec: Option<bool>,
    },
    /// The WorkSpace became AVAILABLE.
    Available,
    /// Its disconnect alarm was put.
    AlarmArmed,
    /// Its disconnect alarm was deleted.
    AlarmDeleted,
    /// The desk entered the journal.
    Enrolled,
    /// The desk left the journal.
    Released,
    /// The user connected.
    Connected {
        /// True when no one had used this WorkSpace before.
        fresh: bool,
    },
    /// The user wanted to connect but the desk had no usable WorkSpace.
    Waiting,
    /// The user disconnected.
    Disconnected,
    /// The SessionDisconnect alarm went to ALARM.
    AlarmFired,
    /// The journal recorded the disconnect; the grace period runs until `until`.
    GraceStarted {
        /// End of the grace period.
        until: Timestamp,
    },
    /// The user came back within grace: the WorkSpace is kept.
    Kept,
    /// TerminateWorkspaces accepted.
    TerminateCalled {
        /// Who called it.
        by: Actor,
    },
    /// The WorkSpace's ID is gone.
    Gone,
    /// The new WorkSpace is AVAILABLE: the rebuild is done.
    Rebuilt {
        /// From the user's disconnect to the fresh desktop.
        took: Duration,
    },
    /// A seed function gave up or failed.
    SeedFailed(String),
    /// A notice to the admins.
    Notice(String),
    /// An invariant was broken.
    Violation(String),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Blankslate => "blankslate",
            Self::Seed => "seed",
            Self::Admin => "admin",
        })
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Created { by, same_spec: None } => write!(f, "created by {by}"),
            Self::Created { by, same_spec: Some(true) } => write!(f, "re-created by {by} with the same spec"),
            Self::Created { by, same_spec: Some(false) } => write!(f, "re-created by {by} with a DIFFERENT spec"),
            Self::Available => f.write_str("available"),
            Self::AlarmArmed => f.write_str("alarm armed"),
            Self::AlarmDeleted => f.write_str("alarm deleted"),
            Self::Enrolled => f.write_str("enrolled (managed)"),
            Self::Released => f.write_str("released (no longer managed)"),
            Self::Connected { fresh: true } => f.write_str("user connected to a fresh desktop"),
            Self::Connected { fresh: false } => f.write_str("user connected to a USED desktop"),
            Self::Waiting => f.write_str("user waiting: no desktop"),
            Self::Disconnected => f.write_str("user disconnected"),
            Self::AlarmFired => f.write_str("SessionDisconnect alarm fired"),
            Self::GraceStarted { until } => write!(f, "grace running until {}", until.clock_time()),
            Self::Kept => f.write_str("user reconnected within grace: kept"),
            Self::TerminateCalled { by } => write!(f, "terminated by {by}"),
            Self::Gone => f.write_str("gone"),
            Self::Rebuilt { took } => write!(f, "fresh desktop ready ({} after disconnect)", human_duration(*took)),
            Self::SeedFailed(why) => write!(f, "seed function failed: {why}"),
            Self::Notice(text) => write!(f, "admin notified: {text}"),
            Self::Violation(text) => write!(f, "VIOLATION {text}"),
        }
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ws = self.workspace.as_ref().map(WorkspaceId::as_str).unwrap_or("");
        write!(f, "{}  {:<8} {:<14} {}", self.at.clock_time(), self.user, ws, self.kind)
    }
}
