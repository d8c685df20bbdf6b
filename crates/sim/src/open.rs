//! The model's second face: an open account on a clock someone else owns.
//!
//! A [`Simulation`](crate::Simulation) owns its virtual clock, its fleet and the functions
//! it delivers events to. The WorkSpaces emulator (`crates/emulator`) serves the same model
//! over HTTP on the wall clock instead: callers create WorkSpaces for users the model has
//! never heard of, a test connects and disconnects users by hand, and the events and
//! datapoints the model produces leave it for real Lambda functions and a real CloudWatch.
//! This module is that face's API. It adds no rules of its own: states, durations, one
//! WorkSpace per desk, visibility lag, connection states and the CloudTrail and login
//! events all come from the code the simulation runs.

use std::time::Duration;

use blankslate_core::ids::{DeskKey, WorkspaceId};
use blankslate_core::observe::{ConnectionObservation, WorkspaceState};
use blankslate_core::selector::Selector;
use blankslate_core::spec::{TagKey, Tags, WorkspaceSpec};
use blankslate_core::Timestamp;
use blankslate_handlers::ports::{CreateAnswer, FailedItem, PortResult};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::run::Policy;
use crate::scenario::{DeskPlan, Scenario, Timings};
use crate::timeline::Actor;
use crate::world::{Due, Function, SimDesk, World};

/// A CloudWatch datapoint WorkSpaces publishes about a session (namespace `AWS/WorkSpaces`,
/// dimension `WorkspaceId`, value 1).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Metric {
    /// `ConnectionSuccess`: a user connected.
    ConnectionSuccess,
    /// `SessionDisconnect`: a user's session ended.
    SessionDisconnect,
}

impl Metric {
    /// The metric's name in `AWS/WorkSpaces`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ConnectionSuccess => "ConnectionSuccess",
            Self::SessionDisconnect => "SessionDisconnect",
        }
    }
}

/// Something the open model sends to the outside world.
#[derive(Clone, PartialEq, Debug)]
pub enum Output {
    /// An event reaches one of the three functions: a CloudTrail record of
    /// CreateWorkspaces or TerminateWorkspaces, or a "WorkSpaces Access" login.
    Deliver {
        /// The role the event is for.
        function: Function,
        /// The event, exactly as EventBridge hands it to Lambda.
        event: serde_json::Value,
        /// When it was delivered on the model's clock.
        at: Timestamp,
    },
    /// WorkSpaces publishes a session datapoint.
    Datapoint {
        /// The WorkSpace it is about.
        workspace: WorkspaceId,
        /// Which metric.
        metric: Metric,
        /// Its timestamp.
        at: Timestamp,
    },
}

/// Why a user could not connect or disconnect.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SessionError {
    /// No visible WorkSpace has this ID (or the desk has none).
    NotFound,
    /// The WorkSpace is not AVAILABLE, so nobody can log in.
    NotAvailable(WorkspaceState),
    /// Nobody is connected to it.
    NotConnected,
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound => f.write_str("no such WorkSpace"),
            Self::NotAvailable(state) => write!(f, "the WorkSpace is {state}, not AVAILABLE"),
            Self::NotConnected => f.write_str("no user is connected to the WorkSpace"),
        }
    }
}

impl std::error::Error for SessionError {}

/// Why tags could not be changed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum TagError {
    /// No visible WorkSpace has this ID.
    NotFound,
    /// The WorkSpace would carry more than [`Tags::MAX`] tags.
    TooMany(usize),
}

/// One WorkSpace as the open model holds it, for listings.
#[derive(Clone, Debug)]
pub struct WorkspaceView<'a> {
    /// Its ID.
    pub id: &'a WorkspaceId,
    /// Its state.
    pub state: WorkspaceState,
    /// What it was created with, tags included (DescribeWorkspaces leaves them out).
    pub spec: &'a WorkspaceSpec,
    /// False while eventual consistency still hides a new WorkSpace from Describe calls.
    pub visible: bool,
    /// When a user last connected.
    pub last_user_connection: Option<Timestamp>,
    /// Its own termination time, if one was set.
    pub terminate_after: Option<Duration>,
}

impl World {
    /// An account with no fleet, starting at `start`, whose clock the caller advances
    /// with [`World::advance_to`]. Every CreateWorkspaces for a new user adds that user's
    /// desk, so connections can be made to any WorkSpace; CloudTrail and login events and
    /// session datapoints are collected for [`World::take_outputs`]. All API calls count as
    /// the admin's: the model cannot tell who calls it over the wire, so the invariant
    /// checks a simulation makes on its policies do not apply here.
    pub fn open(start: Timestamp, timings: Timings, seed: u64) -> World {
        let mut scenario = Scenario::new("wall clock", start, Duration::ZERO, Selector::All);
        scenario.timings = timings;
        let mut world = World::new(scenario, ChaCha8Rng::seed_from_u64(seed));
        world.open = true;
        world
    }

    /// Lets everything scheduled up to `until` happen (WorkSpaces become AVAILABLE,
    /// TERMINATED, gone; events reach their delivery time) and moves the clock there.
    /// Events due for a function are collected as [`Output::Deliver`]. The clock never
    /// goes back: an `until` in the past only releases what is already due.
    pub fn advance_to(&mut self, until: Timestamp) {
        while let Some(due) = self.pop(until) {
            match due {
                Due::Deliver(function, event) => self.outbox.push(Output::Deliver { function, event, at: self.now }),
                Due::Reconcile | Due::SeedWake(_) => {}
                other => self.advance(other, Policy::Blankslate),
            }
        }
        self.now = self.now.max(until);
    }

    /// What the model sent out since the last call, in order.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outbox)
    }

    /// Counts an API call the caller answered from the views below, so the per-operation
    /// counters (`metrics.api_calls`) cover every call.
    pub fn count_api_call(&mut self, operation: &'static str) {
        *self.metrics.api_calls.entry(operation).or_default() += 1;
    }

    /// Every WorkSpace the service holds with an ID after `after` (all when `None`), in
    /// ID order, including those not yet visible. Paginated listings resume from the last
    /// ID they returned, which stays a valid position even after that WorkSpace is gone.
    pub fn views(&self, after: Option<&WorkspaceId>) -> impl Iterator<Item = WorkspaceView<'_>> {
        use std::ops::Bound;
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.workspaces.range((lower, Bound::Unbounded)).map(|(id, w)| WorkspaceView {
            id,
            state: w.state,
            spec: &w.spec,
            visible: w.visible_at <= self.now,
            last_user_connection: w.last_user_connection,
            terminate_after: w.terminate_after,
        })
    }

    /// The connection state of a visible WorkSpace.
    pub fn connection(&self, id: &WorkspaceId) -> Option<ConnectionObservation> {
        self.connection_of(id)
    }

    /// The WorkSpace a desk (directory + user) currently has, visible or not.
    pub fn desk_workspace(&self, desk: &DeskKey) -> Option<&WorkspaceId> {
        self.desk_of(desk).and_then(|i| self.desks[i].current.as_ref())
    }

    /// CreateWorkspaces for 1 to 25 requests: one WorkSpace per desk, refused per item
    /// with `ResourceExists.WorkSpace` while the desk still has one.
    pub fn create_workspaces(&mut self, specs: &[WorkspaceSpec]) -> PortResult<CreateAnswer> {
        self.caller = Actor::Admin;
        self.api_create(specs)
    }

    /// TerminateWorkspaces for 1 to 25 IDs; returns the refused ones. A connected user's
    /// session ends when termination starts.
    pub fn terminate_workspaces(&mut self, ids: &[WorkspaceId]) -> PortResult<Vec<FailedItem<WorkspaceId>>> {
        self.caller = Actor::Admin;
        self.api_terminate(ids)
    }

    /// DescribeTags of a visible WorkSpace.
    pub fn describe_tags(&mut self, id: &WorkspaceId) -> Option<Tags> {
        self.count_api_call("DescribeTags");
        self.workspaces.get(id).filter(|w| w.visible_at <= self.now).map(|w| w.spec.tags.clone())
    }

    /// CreateTags: adds `tags` to a visible WorkSpace, replacing the values of keys it
    /// already has. Nothing changes when the result would exceed [`Tags::MAX`].
    pub fn create_tags(&mut self, id: &WorkspaceId, tags: &Tags) -> Result<(), TagError> {
        self.count_api_call("CreateTags");
        let now = self.now;
        let w = self.workspaces.get_mut(id).filter(|w| w.visible_at <= now).ok_or(TagError::NotFound)?;
        let mut merged: std::collections::BTreeMap<_, _> = w.spec.tags.clone().into();
        merged.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        let count = merged.len();
        w.spec.tags = Tags::try_from(merged).map_err(|_| TagError::TooMany(count))?;
        Ok(())
    }

    /// DeleteTags: removes `keys` from a visible WorkSpace (absent keys are ignored, as AWS does).
    pub fn delete_tags(&mut self, id: &WorkspaceId, keys: &[TagKey]) -> Result<(), TagError> {
        self.count_api_call("DeleteTags");
        let now = self.now;
        let w = self.workspaces.get_mut(id).filter(|w| w.visible_at <= now).ok_or(TagError::NotFound)?;
        let mut kept: std::collections::BTreeMap<_, _> = w.spec.tags.clone().into();
        for key in keys {
            kept.remove(key);
        }
        // Fewer tags than before always fit.
        if let Ok(tags) = Tags::try_from(kept) {
            w.spec.tags = tags;
        }
        Ok(())
    }

    /// Sets how long terminating this WorkSpace will take (`None`: the fleet's timing).
    /// Returns false when the service holds no such WorkSpace.
    pub fn set_terminate_after(&mut self, id: &WorkspaceId, took: Option<Duration>) -> bool {
        match self.workspaces.get_mut(id) {
            Some(w) => {
                w.terminate_after = took;
                true
            }
            None => false,
        }
    }

    /// The desk's user logs in to `id` now: CONNECTED, a ConnectionSuccess datapoint and,
    /// after the login event delay, the "WorkSpaces Access" event for the rebuild
    /// function. Returns false when the user was already connected (nothing happens).
    pub fn connect(&mut self, id: &WorkspaceId) -> Result<bool, SessionError> {
        let w = self.workspaces.get(id).filter(|w| w.visible_at <= self.now).ok_or(SessionError::NotFound)?;
        if w.state != WorkspaceState::Available {
            return Err(SessionError::NotAvailable(w.state));
        }
        let i = self.desk_of(&w.spec.desk()).ok_or(SessionError::NotFound)?;
        if self.desks[i].current.as_ref() != Some(id) {
            return Err(SessionError::NotFound);
        }
        if self.desks[i].connected {
            return Ok(false);
        }
        self.begin_session(i, id);
        self.announce_login(id);
        Ok(true)
    }

    /// The user connected to `id` disconnects now: DISCONNECTED and a SessionDisconnect
    /// datapoint. WorkSpaces sends no event for a disconnect.
    pub fn disconnect(&mut self, id: &WorkspaceId) -> Result<(), SessionError> {
        if !self.end_session_on(id) {
            return Err(SessionError::NotConnected);
        }
        Ok(())
    }

    /// Ends the session of the user connected to `id`, if there is one.
    pub(crate) fn end_session_on(&mut self, id: &WorkspaceId) -> bool {
        let Some(i) = self.desks.iter().position(|d| d.connected && d.current.as_ref() == Some(id)) else {
            return false;
        };
        let generation = self.desks[i].generation;
        self.user_leaves(i, generation);
        true
    }

    /// Adds the desk of a user the model has not seen yet (an open world's fleet grows
    /// with its creates). The plan has no sessions: users come and go by hand.
    pub(crate) fn add_desk(&mut self, spec: &WorkspaceSpec) {
        let key = spec.desk();
        self.scenario.desks.push(DeskPlan {
            spec: spec.clone(),
            created_at: Some(Duration::ZERO),
            sessions: Vec::new(),
            terminate_override: None,
            lose_create_event: false,
            note: String::new(),
        });
        self.desks.push(SimDesk::new(key.clone()));
        self.index_desk(key, self.desks.len() - 1);
    }

    /// Queues a session datapoint for the outside world (open worlds only).
    pub(crate) fn emit_metric(&mut self, id: &WorkspaceId, metric: Metric) {
        if self.open {
            self.outbox.push(Output::Datapoint { workspace: id.clone(), metric, at: self.now });
        }
    }
}
