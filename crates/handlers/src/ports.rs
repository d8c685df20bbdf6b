//! The narrow traits through which the functions reach AWS.
//!
//! One trait per AWS capability, each with two implementations: the AWS SDK adapters
//! and the simulator. The traits speak in core types only, so neither the SDK's types
//! nor the simulator's leak into the functions. Futures are `Send` so the same handler
//! runs on the multi-threaded Lambda runtime and on the simulator's inline executor.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use blankslate_core::alarm::Listed;
use blankslate_core::ids::{DeskKey, WorkspaceId};
use blankslate_core::journal::Record;
use blankslate_core::observe::{ConnectionObservation, WorkspaceDescription};
use blankslate_core::pacing::Pacing;
use blankslate_core::reconcile::{Notice, Write};
use blankslate_core::spec::{Tags, WorkspaceSpec};

/// Why a call failed, as far as the caller's decision is concerned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ErrorKind {
    /// Rate exceeded. Nothing happened; try later.
    Throttled,
    /// A 5xx, a timeout or a lost connection, after the SDK's own retries. The call may
    /// or may not have taken effect.
    Unavailable,
    /// A conditional journal write lost a race: someone else changed the record.
    Conflict,
    /// The request was refused as invalid (4xx). Nothing happened.
    Rejected,
}

/// A failed call: which operation, why, and AWS's message.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub struct PortError {
    /// The kind, which decides whether the effect is known.
    pub kind: ErrorKind,
    /// The AWS operation, e.g. `TerminateWorkspaces`.
    pub operation: &'static str,
    /// What AWS (or the transport) said.
    pub message: String,
}

impl PortError {
    /// Builds an error.
    pub fn new(kind: ErrorKind, operation: &'static str, message: impl Into<String>) -> Self {
        Self { kind, operation, message: message.into() }
    }

    /// True when the call certainly had no effect.
    pub fn nothing_happened(&self) -> bool {
        matches!(self.kind, ErrorKind::Throttled | ErrorKind::Rejected | ErrorKind::Conflict)
    }
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed ({:?}): {}", self.operation, self.kind, self.message)
    }
}

/// Shorthand for port results.
pub type PortResult<T> = Result<T, PortError>;

/// One item CreateWorkspaces or TerminateWorkspaces refused (`FailedRequests`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FailedItem<K> {
    /// The item: a WorkSpace ID, or the desk of a create request.
    pub key: K,
    /// `ErrorCode`.
    pub code: String,
    /// `ErrorMessage`.
    pub message: String,
}

/// What CreateWorkspaces answered.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CreateAnswer {
    /// `PendingRequests`: the new WorkSpace of each accepted desk.
    pub pending: Vec<(DeskKey, WorkspaceId)>,
    /// `FailedRequests`.
    pub failed: Vec<FailedItem<DeskKey>>,
}

/// Amazon WorkSpaces. Batch methods take at most 25 items; callers split.
pub trait Workspaces: Sync {
    /// DescribeWorkspaces by ID. IDs not returned do not exist (or are not visible yet).
    fn describe(&self, ids: &[WorkspaceId]) -> impl Future<Output = PortResult<Vec<WorkspaceDescription>>> + Send;
    /// DescribeWorkspaces without a filter, every page.
    fn describe_all(&self) -> impl Future<Output = PortResult<Vec<WorkspaceDescription>>> + Send;
    /// DescribeWorkspaces filtered by directory and user: the desk's WorkSpace, if any.
    fn describe_desk(&self, desk: &DeskKey) -> impl Future<Output = PortResult<Option<WorkspaceDescription>>> + Send;
    /// DescribeWorkspacesConnectionStatus by ID.
    fn connection_status(
        &self,
        ids: &[WorkspaceId],
    ) -> impl Future<Output = PortResult<Vec<ConnectionObservation>>> + Send;
    /// DescribeTags of one WorkSpace.
    fn tags(&self, id: &WorkspaceId) -> impl Future<Output = PortResult<Tags>> + Send;
    /// The tags of up to [`TAGS_BATCH`](blankslate_core::reconcile::TAGS_BATCH) WorkSpaces in one call of the Resource Groups
    /// Tagging API (GetResources by ARN), which has its own rate limit, not the WorkSpaces
    /// API's. The answer holds only WorkSpaces the tagging API knows as tagged: one left
    /// out was never tagged or is not indexed yet (`reconcile::settle_bulk_tags` decides
    /// which to read again with [`Workspaces::tags`]).
    fn tags_in_bulk(&self, ids: &[WorkspaceId])
        -> impl Future<Output = PortResult<BTreeMap<WorkspaceId, Tags>>> + Send;
    /// TerminateWorkspaces; returns the refused items.
    fn terminate(&self, ids: &[WorkspaceId]) -> impl Future<Output = PortResult<Vec<FailedItem<WorkspaceId>>>> + Send;
    /// CreateWorkspaces.
    fn create(&self, specs: &[WorkspaceSpec]) -> impl Future<Output = PortResult<CreateAnswer>> + Send;
    /// Spread the calls that follow at most this many a second (the reconciler's learned
    /// rate, set at the start of each tick). A shell whose calls cannot burst (the
    /// simulator models pacing in its token buckets) may ignore it.
    fn pace(&self, _calls_per_second: f64) {}
}

/// CloudWatch: the per-WorkSpace SessionDisconnect alarms.
///
/// An implementation belongs to one stack (`Config::alarm_owner`): it puts and lists that
/// stack's alarms, and deletes them with any of the seed's naming for the same WorkSpaces.
pub trait Alarms: Sync {
    /// PutMetricAlarm for `id`'s SessionDisconnect alarm, publishing to the disconnect
    /// topic. Idempotent.
    fn put_disconnect_alarm(&self, id: &WorkspaceId) -> impl Future<Output = PortResult<()>> + Send;
    /// DeleteAlarms for these WorkSpaces' alarms of this stack and of the seed's naming (at
    /// most 100 WorkSpaces). Missing alarms are ignored.
    fn delete_disconnect_alarms(&self, ids: &[WorkspaceId]) -> impl Future<Output = PortResult<()>> + Send;
    /// DeleteAlarms for only the seed's naming of these WorkSpaces' alarms (at most 100): the
    /// ones adopted, whose own alarm exists. Missing alarms are ignored.
    fn delete_legacy_alarms(&self, ids: &[WorkspaceId]) -> impl Future<Output = PortResult<()>> + Send;
    /// DescribeAlarms by this stack's name prefix, every page: the WorkSpaces it alarms.
    fn list_disconnect_alarms(&self) -> impl Future<Output = PortResult<Vec<WorkspaceId>>> + Send;
    /// DescribeAlarms by the family's prefix, every page: every stack's SessionDisconnect
    /// alarms and the seed's, with their owners (the sweep's view, `core::alarm`).
    fn list_alarm_family(&self) -> impl Future<Output = PortResult<Vec<Listed>>> + Send;
}

/// The journal table. Every write is conditional on the record's version.
pub trait Journal: Sync {
    /// Every record.
    fn list(&self) -> impl Future<Output = PortResult<Vec<Record>>> + Send;
    /// The record of a desk.
    fn get(&self, desk: &DeskKey) -> impl Future<Output = PortResult<Option<Record>>> + Send;
    /// The record whose current WorkSpace is `id`.
    fn find_by_workspace(&self, id: &WorkspaceId) -> impl Future<Output = PortResult<Option<Record>>> + Send;
    /// Performs the write if the stored version matches; returns the stored record
    /// (version incremented), or `None` after a delete. A lost race is `ErrorKind::Conflict`.
    fn write(&self, write: &Write) -> impl Future<Output = PortResult<Option<Record>>> + Send;
    /// The reconciler's learned API rate, if one was stored (one item beside the desks).
    fn pacing(&self) -> impl Future<Output = PortResult<Option<Pacing>>> + Send;
    /// Stores the learned rate. Only the reconciler writes it, so the last writer wins.
    fn store_pacing(&self, pacing: &Pacing) -> impl Future<Output = PortResult<()>> + Send;
}

/// The admin-notification topic.
pub trait Notifier: Sync {
    /// Publishes a notice.
    fn notify(&self, notice: &Notice) -> impl Future<Output = PortResult<()>> + Send;
}

/// The ports one function needs, borrowed from wherever the shell keeps them.
pub struct Ports<'a, W, A, J, N> {
    /// WorkSpaces.
    pub workspaces: &'a W,
    /// CloudWatch alarms.
    pub alarms: &'a A,
    /// The journal.
    pub journal: &'a J,
    /// Admin notifications.
    pub notifier: &'a N,
}

impl<W, A, J, N> Clone for Ports<'_, W, A, J, N> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<W, A, J, N> Copy for Ports<'_, W, A, J, N> {}

/// The directory the WorkSpaces join (issue 14): deletes the computer objects of
/// WorkSpaces blankslate terminated. Implementations search for each name, apply
/// `blankslate_core::directory::guard` (S5) to what they found, and delete only the DN
/// it returns; every item gets its own outcome, and an unreachable directory is an
/// outcome (`Failed { kind: Unreachable }`), never an error of the whole call.
pub trait Directory: Sync {
    /// Deletes these computer objects, guarded; one outcome per item, in order.
    fn delete_computers(
        &self,
        items: &[blankslate_core::directory::CleanupItem],
    ) -> impl Future<Output = Vec<blankslate_core::directory::Outcome>> + Send;
}
