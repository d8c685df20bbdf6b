//! The simulated AWS account: one model of WorkSpaces, CloudWatch, CloudTrail, the
//! journal table and the users, on a virtual clock. Every API call is checked against
//! the invariants at the moment it is made.

use std::collections::BTreeMap;
use std::time::Duration;

use blankslate_core::alarm::alarm_name;
use blankslate_core::config::AlarmMode;
use blankslate_core::events::{self, EmitContext};
use blankslate_core::ids::{DeskKey, WorkspaceId};
use blankslate_core::journal::{Phase, Record};
use blankslate_core::observe::{ConnectionObservation, ConnectionState, WorkspaceDescription, WorkspaceState};
use blankslate_core::reconcile::{Notice, Write, RESOURCE_EXISTS};
use blankslate_core::spec::{Tags, WorkspaceSpec};
use blankslate_core::Timestamp;
use blankslate_handlers::ports::{CreateAnswer, ErrorKind, FailedItem, PortError, PortResult};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::gate::{Pass, Service};
use crate::metrics::Metrics;
use crate::scenario::Scenario;
use crate::timeline::{Actor, Entry, EntryKind};

/// A function an event can be delivered to. The names are the seed's roles; which code
/// runs behind them depends on the policy.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Function {
    /// `Workspace_Alarm_Create`.
    AlarmCreate,
    /// `Workspace_Alarm_Del`.
    AlarmDelete,
    /// `Workspace_Term_Rebuild`.
    TermRebuild,
}

/// Something scheduled on the virtual clock.
#[derive(Clone, Debug)]
pub enum Due {
    /// PENDING → AVAILABLE.
    Ready(WorkspaceId),
    /// TERMINATING → TERMINATED.
    TerminateDone(WorkspaceId),
    /// TERMINATED → gone.
    Removed(WorkspaceId),
    /// The user of desk `n` wants to connect.
    UserArrives(usize),
    /// The user of desk `n` leaves (session `generation`, to ignore stale departures).
    UserLeaves(usize, u64),
    /// CloudWatch evaluates this WorkSpace's alarm.
    AlarmEval(WorkspaceId),
    /// An event reaches a function.
    Deliver(Function, serde_json::Value),
    /// The reconciler's schedule fires.
    Reconcile,
    /// The admin creates desk `n`'s WorkSpace.
    AdminCreate(usize),
    /// A seed function invocation wakes from its sleep.
    SeedWake(u64),
    /// Lambda retries an event whose invocation failed (attempt 1 or 2), or delivers one
    /// it had to throttle.
    Retry(Function, serde_json::Value, u8),
    /// Sample the fleet's states for the report.
    Sample,
    /// Lambda's SQS poller looks at the alarm queue (`crate::queue`).
    Poll,
}

/// A WorkSpace as the simulated service holds it.
#[derive(Clone, Debug)]
pub(crate) struct SimWorkspace {
    pub spec: WorkspaceSpec,
    pub state: WorkspaceState,
    pub visible_at: Timestamp,
    pub used: bool,
    pub last_user_connection: Option<Timestamp>,
    /// Times of successful connections (the ConnectionSuccess metric).
    pub connections: Vec<Timestamp>,
    /// Times of disconnects (the SessionDisconnect metric).
    pub disconnects: Vec<Timestamp>,
    /// The policy's rebuild this WorkSpace completes: (disconnect time).
    pub completes_rebuild: Option<Timestamp>,
    /// AWS's own time in that rebuild: terminating the old WorkSpace, its TERMINATED
    /// spell, and creating this one (what no policy can shorten).
    pub aws_time: Duration,
    /// How long terminating this WorkSpace takes, overriding its desk's and the fleet's
    /// timing (set by the wall-clock face for slow-termination tests).
    pub terminate_after: Option<Duration>,
}

/// A simulated user's desk.
#[derive(Clone, Debug)]
pub(crate) struct SimDesk {
    pub key: DeskKey,
    pub current: Option<WorkspaceId>,
    pub connected: bool,
    pub last_disconnect: Option<Timestamp>,
    pub next_session: usize,
    pub generation: u64,
    pub waiting_since: Option<Timestamp>,
    /// The managed desk's user left at this time and has not been back since: whether a
    /// rebuild became due is judged when they come back or the run ends
    /// ([`World::settle_absence`]).
    pub away_since: Option<Timestamp>,
    /// Spec of the WorkSpace a policy terminated, until the policy re-creates it (S3, L1).
    pub awaiting_rebuild: Option<(WorkspaceSpec, Timestamp)>,
    /// The admin terminated it: nobody may bring it back.
    pub retired: bool,
    /// AWS's time terminating the WorkSpace a policy terminated last (for overhead).
    pub aws_time: Duration,
}

impl SimDesk {
    /// A desk nobody has used yet, with no WorkSpace.
    pub(crate) fn new(key: DeskKey) -> Self {
        Self {
            key,
            current: None,
            connected: false,
            last_disconnect: None,
            next_session: 0,
            generation: 0,
            waiting_since: None,
            away_since: None,
            awaiting_rebuild: None,
            retired: false,
            aws_time: Duration::ZERO,
        }
    }
}

/// An invariant broken during a run.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize)]
pub struct Violation {
    /// When.
    pub at: Timestamp,
    /// `S1` .. `S5`, `L1`, `alarms`, `journal`.
    pub invariant: &'static str,
    /// What exactly.
    pub detail: String,
}

/// The whole simulated account.
pub struct World {
    /// The virtual clock.
    pub now: Timestamp,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) scenario: Scenario,
    queue: BTreeMap<(Timestamp, u64), Due>,
    seq: u64,
    pub(crate) workspaces: BTreeMap<WorkspaceId, SimWorkspace>,
    pub(crate) desks: Vec<SimDesk>,
    desk_index: BTreeMap<DeskKey, usize>,
    pub(crate) alarms: BTreeMap<WorkspaceId, bool>,
    pub(crate) journal: BTreeMap<DeskKey, Record>,
    /// The reconciler's learned API rate: the journal's one item beside the desks.
    pub(crate) pacing: Option<blankslate_core::pacing::Pacing>,
    journal_by_ws: BTreeMap<WorkspaceId, DeskKey>,
    /// Who is calling the API right now.
    pub(crate) caller: Actor,
    /// What happened.
    pub timeline: Vec<Entry>,
    /// Broken invariants.
    pub violations: Vec<Violation>,
    /// Counters.
    pub metrics: Metrics,
    /// Notices published to the admin topic.
    pub notices: Vec<Notice>,
    emitted: u64,
    /// The wall-clock face's account: the fleet grows with every CreateWorkspaces for a
    /// new user and the model reports what leaves it (see [`World::open`]).
    pub(crate) open: bool,
    /// What left the model for the outside world since the last `take_outputs` (only
    /// filled in an open world; a simulation keeps everything inside).
    pub(crate) outbox: Vec<crate::open::Output>,
    /// The WorkSpaces API's token buckets.
    pub(crate) buckets: crate::gate::ApiBuckets,
    /// The Resource Groups Tagging API's GetResources bucket.
    pub(crate) tagging: crate::gate::TokenBucket,
    /// How long the function now calling may wait for a token (its retries and pacing).
    pub(crate) patience: Duration,
    /// The longest the current invocation waited for a token (billed as Lambda time).
    pub(crate) waited: Duration,
    /// The current invocation died at an injected crash: its later calls never happen.
    pub(crate) crashed: bool,
    /// The call of the current invocation an injected crash strikes at, if it does.
    pub(crate) crash_at: Option<u32>,
    /// Calls the current invocation has made.
    pub(crate) calls_in_invocation: u32,
    /// Faults are injected until then (the end of the scenario's `duration`).
    pub(crate) faults_until: Timestamp,
    /// WorkSpaces gone in the last two minutes, for stale reads.
    recently_removed: BTreeMap<WorkspaceId, (SimWorkspace, Timestamp)>,
    /// Each desk's WorkSpaces (one, or two while a rebuild overlaps), for O(log n) look-ups.
    by_desk: BTreeMap<DeskKey, Vec<WorkspaceId>>,
    /// The directory the WorkSpaces join (issue 14).
    pub(crate) directory: crate::directory::SimDirectory,
    /// The alarm queue between the disconnect topic and Workspace_Term_Rebuild (issue 11).
    pub(crate) alarm_queue: crate::queue::AlarmQueue,
}

impl World {
    pub(crate) fn new(scenario: Scenario, rng: ChaCha8Rng) -> Self {
        let desks: Vec<SimDesk> = scenario.desks.iter().map(|plan| SimDesk::new(plan.spec.desk())).collect();
        let desk_index = desks.iter().enumerate().map(|(i, d)| (d.key.clone(), i)).collect();
        let buckets = crate::gate::ApiBuckets::new(&scenario.api, scenario.start);
        let scenario_start = scenario.start;
        Self {
            now: scenario.start,
            rng,
            scenario,
            queue: BTreeMap::new(),
            seq: 0,
            workspaces: BTreeMap::new(),
            desks,
            desk_index,
            alarms: BTreeMap::new(),
            journal: BTreeMap::new(),
            pacing: None,
            journal_by_ws: BTreeMap::new(),
            caller: Actor::Admin,
            timeline: Vec::new(),
            violations: Vec::new(),
            metrics: Metrics::default(),
            notices: Vec::new(),
            emitted: 0,
            open: false,
            outbox: Vec::new(),
            buckets,
            tagging: crate::gate::TokenBucket::new(
                crate::gate::TAGGING_RATE,
                crate::gate::TAGGING_RATE,
                scenario_start,
            ),
            patience: Duration::ZERO,
            waited: Duration::ZERO,
            crashed: false,
            crash_at: None,
            calls_in_invocation: 0,
            faults_until: Timestamp::from_millis(0),
            recently_removed: BTreeMap::new(),
            by_desk: BTreeMap::new(),
            directory: Default::default(),
            alarm_queue: Default::default(),
        }
    }

    // ----- inspection, for tests and reports -----

    /// The journal's records.
    pub fn journal_records(&self) -> impl Iterator<Item = &Record> {
        self.journal.values()
    }

    /// The WorkSpaces that have a disconnect alarm.
    pub fn alarmed(&self) -> impl Iterator<Item = &WorkspaceId> {
        self.alarms.keys()
    }

    /// The current WorkSpace of `user`'s desk: its ID, state and spec (with tags).
    pub fn workspace_of(&self, user: &str) -> Option<(&WorkspaceId, WorkspaceState, &WorkspaceSpec)> {
        let desk = self.desks.iter().find(|d| d.key.user_name.as_str() == user)?;
        let id = desk.current.as_ref()?;
        self.workspaces.get(id).map(|w| (id, w.state, &w.spec))
    }

    /// The user disconnects now (outside the scenario's plan), as a test's fault.
    pub fn end_session(&mut self, user: &str) {
        if let Some(i) = self.desks.iter().position(|d| d.key.user_name.as_str() == user) {
            let generation = self.desks[i].generation;
            self.user_leaves(i, generation);
        }
    }

    // ----- the clock -----

    /// Schedules `due` at `at` (never in the past).
    pub(crate) fn schedule(&mut self, at: Timestamp, due: Due) {
        let mut at = at;
        if matches!(due, Due::Deliver(..)) && !self.open && self.now < self.faults_until && self.scenario.faults.any() {
            let faults = self.scenario.faults;
            if self.chance(faults.drop) {
                self.metrics.events_dropped += 1;
                return;
            }
            if self.chance(faults.duplicate) {
                self.metrics.events_duplicated += 1;
                let again = at + Duration::from_secs(self.rng.random_range(0..=60));
                self.seq += 1;
                self.queue.insert((again.max(self.now), self.seq), due.clone());
            }
            if self.chance(faults.delay) {
                self.metrics.events_delayed += 1;
                at = at + Duration::from_secs(self.rng.random_range(0..=faults.max_delay_seconds.max(1)));
            }
        }
        self.seq += 1;
        self.queue.insert((at.max(self.now), self.seq), due);
    }

    pub(crate) fn schedule_in(&mut self, after: Duration, due: Due) {
        self.schedule(self.now + after, due);
    }

    /// The next scheduled item, advancing the clock to it.
    pub(crate) fn pop(&mut self, until: Timestamp) -> Option<Due> {
        let (&(at, seq), _) = self.queue.first_key_value()?;
        if at > until {
            return None;
        }
        self.now = at;
        self.queue.remove(&(at, seq))
    }

    // ----- bookkeeping -----

    pub(crate) fn record(&mut self, user: String, workspace: Option<WorkspaceId>, kind: EntryKind) {
        self.timeline.push(Entry { at: self.now, user, workspace, kind });
    }

    pub(crate) fn note_for_ws(&mut self, id: &WorkspaceId, kind: EntryKind) {
        let user = self.workspaces.get(id).map(|w| w.spec.user_name.to_string()).unwrap_or_default();
        self.record(user, Some(id.clone()), kind);
    }

    pub(crate) fn violation(&mut self, invariant: &'static str, user: String, id: Option<WorkspaceId>, detail: String) {
        self.violations.push(Violation { at: self.now, invariant, detail: format!("{user}: {detail}") });
        self.record(user, id, EntryKind::Violation(format!("{invariant}: {detail}")));
    }

    pub(crate) fn desk_of(&self, key: &DeskKey) -> Option<usize> {
        self.desk_index.get(key).copied()
    }

    pub(crate) fn index_desk(&mut self, key: DeskKey, i: usize) {
        self.desk_index.insert(key, i);
    }

    pub(crate) fn count_call(&mut self, operation: &'static str) {
        *self.metrics.api_calls.entry(operation).or_default() += 1;
        let minute = self.minute();
        self.metrics.series.count_call(minute, operation);
    }

    /// Minutes since the scenario's start (for the per-minute series).
    pub(crate) fn minute(&self) -> usize {
        self.minute_of(self.now)
    }

    /// The minute of the per-minute series `at` falls in.
    pub(crate) fn minute_of(&self, at: Timestamp) -> usize {
        (at.since(self.scenario.start).as_secs() / 60) as usize
    }

    /// The user of desk `i` is back (or the run ends) at `back`: if they stayed away
    /// longer than the grace period, their disconnect made a rebuild due at its end.
    pub(crate) fn settle_absence(&mut self, i: usize, back: Timestamp) {
        let Some(left) = self.desks[i].away_since.take() else { return };
        let grace = self.scenario.config.grace;
        if back.since(left) > grace {
            let due = left + grace;
            self.metrics.rebuilds_due.push(due.since(self.scenario.start));
            let minute = self.minute_of(due);
            self.metrics.series.rebuild_due(minute);
        }
    }

    /// The WorkSpaces of a desk (the service's own index by user and directory).
    pub(crate) fn workspaces_of_desk(&self, desk: &DeskKey) -> &[WorkspaceId] {
        self.by_desk.get(desk).map_or(&[], Vec::as_slice)
    }

    /// Takes a WorkSpace out of the service (its ID is no longer returned).
    pub(crate) fn take_workspace(&mut self, id: &WorkspaceId) -> Option<SimWorkspace> {
        let w = self.workspaces.remove(id)?;
        let desk = w.spec.desk();
        if let Some(ids) = self.by_desk.get_mut(&desk) {
            ids.retain(|x| x != id);
            if ids.is_empty() {
                self.by_desk.remove(&desk);
            }
        }
        let now = self.now;
        self.recently_removed.retain(|_, (_, at)| now.since(*at) < Duration::from_secs(120));
        if !self.open {
            self.recently_removed.insert(id.clone(), (w.clone(), now));
        }
        Some(w)
    }

    /// The alarm queue moved a message to its dead-letter queue. The reconciler's sweeps
    /// catch the disconnect anyway; a message no function could ever read is a bug worth
    /// a violation (only garbage is unreadable: every real message parses).
    pub(crate) fn dead_letter(&mut self, id: &str, body: &str) {
        self.metrics.dead_letters += 1;
        let delivery = blankslate_core::events::sqs::Delivery {
            message_id: id.to_owned(),
            body: body.to_owned(),
            sent_at: self.now,
            receive_count: crate::queue::MAX_RECEIVE_COUNT,
        };
        let event = blankslate_core::events::sqs::sqs_event("", "", "", &[delivery]);
        if let Ok([message]) = blankslate_core::events::sqs::parse_sqs(&event).as_deref() {
            if let Err(e) = &message.events {
                let detail = format!("Workspace_Term_Rebuild: message {id} moved to the dead-letter queue: {e}");
                self.violation("handler", String::new(), None, detail);
            }
        }
    }

    pub(crate) fn emit_context(&mut self) -> EmitContext {
        self.emitted += 1;
        EmitContext {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            event_id: format!("00000000-0000-4000-8000-{:012x}", self.emitted),
        }
    }

    fn new_workspace_id(&mut self) -> WorkspaceId {
        loop {
            let suffix: String = (0..9)
                .map(|_| {
                    let n = self.rng.random_range(0..36u32);
                    char::from_digit(n, 36).unwrap_or('0')
                })
                .collect();
            if let Ok(id) = WorkspaceId::new(format!("ws-{suffix}")) {
                if !self.workspaces.contains_key(&id) {
                    return id;
                }
            }
        }
    }

    fn visible(&self, id: &WorkspaceId) -> Option<&SimWorkspace> {
        self.workspaces.get(id).filter(|w| w.visible_at <= self.now)
    }

    fn describe_one(&self, id: &WorkspaceId) -> Option<WorkspaceDescription> {
        // DescribeWorkspaces does not return tags: the caller reads them separately.
        self.visible(id).map(|w| {
            let mut spec = w.spec.clone();
            spec.tags = Tags::default();
            WorkspaceDescription { id: id.clone(), state: w.state, spec, computer_name: computer_name_of(id) }
        })
    }

    // ----- WorkSpaces API -----

    fn check_batch(operation: &'static str, n: usize) -> PortResult<()> {
        if n == 0 || n > 25 {
            return Err(PortError::new(ErrorKind::Rejected, operation, format!("{n} items; 1 to 25 allowed")));
        }
        Ok(())
    }

    pub(crate) fn api_describe(&mut self, ids: &[WorkspaceId]) -> PortResult<Vec<WorkspaceDescription>> {
        self.gate("DescribeWorkspaces", Service::WorkSpaces, false)?;
        Self::check_batch("DescribeWorkspaces", ids.len())?;
        let stale = self.faults_on() && self.scenario.faults.stale_read > 0.0 && {
            let rate = self.scenario.faults.stale_read;
            self.rng.random_bool(rate)
        };
        Ok(ids
            .iter()
            .filter_map(|id| {
                self.describe_one(id).or_else(|| {
                    // A stale replica still shows a WorkSpace that is gone.
                    let (w, _) = self.recently_removed.get(id).filter(|_| stale)?;
                    let mut spec = w.spec.clone();
                    spec.tags = Tags::default();
                    Some(WorkspaceDescription {
                        id: id.clone(),
                        state: WorkspaceState::Terminated,
                        spec,
                        computer_name: computer_name_of(id),
                    })
                })
            })
            .collect())
    }

    pub(crate) fn api_describe_all(&mut self) -> PortResult<Vec<WorkspaceDescription>> {
        let ids: Vec<WorkspaceId> = self.workspaces.keys().filter(|id| self.visible(id).is_some()).cloned().collect();
        for _ in 0..ids.len().div_ceil(25).max(1) {
            // The SDK's paginator fails the listing when one page fails.
            self.gate("DescribeWorkspaces", Service::WorkSpaces, false)?;
        }
        Ok(ids.iter().filter_map(|id| self.describe_one(id)).collect())
    }

    pub(crate) fn api_describe_desk(&mut self, desk: &DeskKey) -> PortResult<Option<WorkspaceDescription>> {
        self.gate("DescribeWorkspaces", Service::WorkSpaces, false)?;
        let id = self
            .workspaces_of_desk(desk)
            .iter()
            .find(|id| self.workspaces.get(*id).is_some_and(|w| w.visible_at <= self.now))
            .cloned();
        Ok(id.and_then(|id| self.describe_one(&id)))
    }

    pub(crate) fn api_connection_status(&mut self, ids: &[WorkspaceId]) -> PortResult<Vec<ConnectionObservation>> {
        self.gate("DescribeWorkspacesConnectionStatus", Service::WorkSpaces, false)?;
        Self::check_batch("DescribeWorkspacesConnectionStatus", ids.len())?;
        Ok(ids.iter().filter_map(|id| self.connection_of(id)).collect())
    }

    /// The connection state of a visible WorkSpace, as DescribeWorkspacesConnectionStatus
    /// reports it: CONNECTED while its desk's user is on it, UNKNOWN while it is stopped
    /// or still being created, DISCONNECTED otherwise.
    pub(crate) fn connection_of(&self, id: &WorkspaceId) -> Option<ConnectionObservation> {
        let w = self.visible(id)?;
        let desk = self.desk_of(&w.spec.desk()).map(|i| &self.desks[i]);
        let connected = desk.is_some_and(|d| d.connected && d.current.as_ref() == Some(id));
        let state = if connected {
            ConnectionState::Connected
        } else if matches!(w.state, WorkspaceState::Stopped | WorkspaceState::Pending) {
            ConnectionState::Unknown
        } else {
            ConnectionState::Disconnected
        };
        Some(ConnectionObservation {
            id: id.clone(),
            state,
            checked_at: Some(self.now),
            last_user_connection: w.last_user_connection,
        })
    }

    pub(crate) fn api_tags(&mut self, id: &WorkspaceId) -> PortResult<Tags> {
        self.gate("DescribeTags", Service::WorkSpaces, false)?;
        match self.visible(id) {
            Some(w) => Ok(w.spec.tags.clone()),
            None => Err(PortError::new(ErrorKind::Rejected, "DescribeTags", format!("ResourceNotFound: {id}"))),
        }
    }

    /// GetResources by ARN: the tags of the visible WorkSpaces among `ids` that carry any
    /// (the tagging API returns only tagged resources). Its index is modelled as current as
    /// DescribeWorkspaces' view; AWS documents no lag for it.
    pub(crate) fn api_tags_in_bulk(&mut self, ids: &[WorkspaceId]) -> PortResult<BTreeMap<WorkspaceId, Tags>> {
        const OP: &str = "GetResources";
        self.gate(OP, Service::Tagging, false)?;
        if ids.len() > blankslate_core::reconcile::TAGS_BATCH {
            let message =
                format!("InvalidParameterException: ResourceARNList takes at most 100 ARNs, got {}", ids.len());
            return Err(PortError::new(ErrorKind::Rejected, OP, message));
        }
        Ok(ids
            .iter()
            .filter_map(|id| {
                self.visible(id).filter(|w| !w.spec.tags.is_empty()).map(|w| (id.clone(), w.spec.tags.clone()))
            })
            .collect())
    }

    pub(crate) fn api_terminate(&mut self, ids: &[WorkspaceId]) -> PortResult<Vec<FailedItem<WorkspaceId>>> {
        let pass = self.gate("TerminateWorkspaces", Service::WorkSpaces, true)?;
        Self::check_batch("TerminateWorkspaces", ids.len())?;
        let mut failed = Vec::new();
        let mut accepted = Vec::new();
        for id in ids {
            let Some(w) = self.workspaces.get(id) else {
                failed.push(FailedItem {
                    key: id.clone(),
                    code: "ResourceNotFound".into(),
                    message: format!("{id} not found"),
                });
                continue;
            };
            match w.state {
                WorkspaceState::Terminating | WorkspaceState::Terminated => accepted.push(id.clone()),
                WorkspaceState::Suspended => failed.push(FailedItem {
                    key: id.clone(),
                    code: "InvalidResourceState".into(),
                    message: "cannot terminate a SUSPENDED WorkSpace".into(),
                }),
                _ => {
                    let override_ = w.terminate_after.or_else(|| {
                        self.desk_of(&w.spec.desk()).and_then(|i| self.scenario.desks[i].terminate_override)
                    });
                    if self.open {
                        self.end_session_on(id);
                    }
                    self.check_terminate(id);
                    if self.caller != Actor::Admin {
                        self.directory.terminated_by_policy.insert(id.clone());
                    }
                    let mut took = override_.unwrap_or_else(|| self.scenario.timings.terminate.sample(&mut self.rng));
                    if self.faults_on() && self.rng.random_bool(self.scenario.faults.slow_terminate.clamp(0.0, 1.0)) {
                        took = Duration::from_secs(30 * 60);
                    }
                    self.note_aws_time(id, took);
                    if let Some(w) = self.workspaces.get_mut(id) {
                        w.state = WorkspaceState::Terminating;
                    }
                    self.schedule_in(took, Due::TerminateDone(id.clone()));
                    let by = self.caller;
                    self.note_for_ws(id, EntryKind::TerminateCalled { by });
                    accepted.push(id.clone());
                }
            }
        }
        if !accepted.is_empty() {
            let ctx = self.emit_context();
            let event = events::cloudtrail_terminate_workspaces(&ctx, self.now, &accepted);
            let delay = self.scenario.timings.cloudtrail_delay.sample(&mut self.rng);
            self.schedule_in(delay, Due::Deliver(Function::AlarmDelete, event));
        }
        match pass {
            Pass::Go => Ok(failed),
            Pass::ThenFail(e) => Err(e),
        }
    }

    /// Remembers how long AWS takes over a policy's termination of `id` (plus the
    /// TERMINATED spell before the ID is gone), for the rebuild's overhead.
    fn note_aws_time(&mut self, id: &WorkspaceId, took: Duration) {
        let visible = self.scenario.timings.terminated_visible;
        if let Some(i) = self.workspaces.get(id).and_then(|w| self.desk_of(&w.spec.desk())) {
            self.desks[i].aws_time = took + visible;
        }
    }

    /// S1 and S2 at the moment a policy terminates; remembers the spec for S3 and L1.
    fn check_terminate(&mut self, id: &WorkspaceId) {
        let Some(w) = self.workspaces.get(id) else { return };
        let spec = w.spec.clone();
        let user = spec.user_name.to_string();
        if self.caller == Actor::Admin {
            if let Some(i) = self.desk_of(&spec.desk()) {
                self.desks[i].retired = true;
            }
            return;
        }
        let grace = self.scenario.config.grace;
        if !self.scenario.config.selector.matches(&spec) {
            self.violation("S2", user.clone(), Some(id.clone()), "terminated a WorkSpace outside the selector".into());
        }
        if let Some(i) = self.desk_of(&spec.desk()) {
            let desk = &self.desks[i];
            if desk.connected && desk.current.as_ref() == Some(id) {
                self.violation("S1", user, Some(id.clone()), "terminated while the user was connected".into());
            } else if desk.last_disconnect.is_some_and(|t| self.now < t + grace) {
                self.violation(
                    "S1",
                    user,
                    Some(id.clone()),
                    "terminated within grace of the user's last session".into(),
                );
            }
            let disconnected = self.desks[i].last_disconnect.unwrap_or(self.now);
            self.desks[i].awaiting_rebuild = Some((spec, disconnected));
        }
    }

    pub(crate) fn api_create(&mut self, specs: &[WorkspaceSpec]) -> PortResult<CreateAnswer> {
        let pass = self.gate("CreateWorkspaces", Service::WorkSpaces, true)?;
        Self::check_batch("CreateWorkspaces", specs.len())?;
        let mut answer = CreateAnswer::default();
        let mut pending = Vec::new();
        for spec in specs {
            let desk = spec.desk();
            if self.faults_on() && self.rng.random_bool(self.scenario.faults.create_failure.clamp(0.0, 1.0)) {
                answer.failed.push(FailedItem {
                    key: desk,
                    code: "InternalFailure".into(),
                    message: "injected: the request could not be completed".into(),
                });
                continue;
            }
            if !self.workspaces_of_desk(&desk).is_empty() {
                answer.failed.push(FailedItem {
                    key: desk,
                    code: RESOURCE_EXISTS.into(),
                    message: "The specified WorkSpace already exists for this user in this directory".into(),
                });
                continue;
            }
            let completes = self.check_create(spec);
            let lag = self.scenario.timings.visibility_lag.sample(&mut self.rng);
            let took = self.scenario.timings.create.sample(&mut self.rng);
            let id = self.insert_workspace(spec, WorkspaceState::Pending, self.now + lag);
            let aws_time =
                completes.and_then(|_| self.desk_of(&desk)).map_or(Duration::ZERO, |i| self.desks[i].aws_time);
            if let Some(w) = self.workspaces.get_mut(&id) {
                w.completes_rebuild = completes.map(|(_, at)| at);
                w.aws_time = aws_time + took;
            }
            self.schedule_in(took, Due::Ready(id.clone()));
            let by = self.caller;
            self.note_for_ws(&id, EntryKind::Created { by, same_spec: completes.map(|(same, _)| same) });
            pending.push((id.clone(), spec.clone()));
            answer.pending.push((desk, id));
        }
        if !pending.is_empty() {
            let ctx = self.emit_context();
            let items: Vec<_> = pending
                .iter()
                .map(|(id, s)| (id.clone(), s.directory_id.clone(), s.user_name.to_string(), s.bundle_id.to_string()))
                .collect();
            let event = events::cloudtrail_create_workspaces(&ctx, self.now, &items, &[]);
            let lost = self.caller == Actor::Admin
                && pending
                    .iter()
                    .all(|(_, s)| self.desk_of(&s.desk()).is_some_and(|i| self.scenario.desks[i].lose_create_event));
            if !lost {
                let delay = self.scenario.timings.cloudtrail_delay.sample(&mut self.rng);
                self.schedule_in(delay, Due::Deliver(Function::AlarmCreate, event));
            }
        }
        match pass {
            Pass::Go => Ok(answer),
            Pass::ThenFail(e) => Err(e),
        }
    }

    /// Puts a WorkSpace into the service and makes it its desk's current one.
    fn insert_workspace(&mut self, spec: &WorkspaceSpec, state: WorkspaceState, visible_at: Timestamp) -> WorkspaceId {
        let id = self.new_workspace_id();
        let workspace = SimWorkspace {
            spec: spec.clone(),
            state,
            visible_at,
            used: false,
            last_user_connection: None,
            connections: Vec::new(),
            disconnects: Vec::new(),
            completes_rebuild: None,
            terminate_after: None,
            aws_time: Duration::ZERO,
        };
        self.workspaces.insert(id.clone(), workspace);
        self.by_desk.entry(spec.desk()).or_default().push(id.clone());
        let now = self.now;
        self.directory.join(&id, now);
        if self.open && self.desk_of(&spec.desk()).is_none() {
            self.add_desk(spec);
        }
        if let Some(i) = self.desk_of(&spec.desk()) {
            self.desks[i].current = Some(id.clone());
        }
        id
    }

    /// An AVAILABLE WorkSpace that existed before blankslate was deployed: no CloudTrail
    /// event will ever announce it, so only a sweep can find it.
    pub(crate) fn insert_existing(&mut self, desk: usize) -> WorkspaceId {
        let spec = self.scenario.desks[desk].spec.clone();
        let id = self.insert_workspace(&spec, WorkspaceState::Available, self.now);
        self.note_for_ws(&id, EntryKind::Available);
        id
    }

    /// Counts managed desks by the state of their WorkSpace, and users waiting.
    pub(crate) fn sample_states(&mut self) {
        const KEYS: [&str; 7] = ["in use", "fresh", "used, idle", "pending", "terminating", "none", "users waiting"];
        let mut counts = [0u32; 7];
        for (i, desk) in self.desks.iter().enumerate() {
            if desk.waiting_since.is_some() {
                counts[6] += 1;
            }
            let managed = self.scenario.desks.get(i).is_some_and(|p| self.scenario.config.selector.matches(&p.spec));
            if !managed {
                continue;
            }
            let w = desk.current.as_ref().and_then(|id| self.workspaces.get(id));
            let k = match w {
                None => 5,
                Some(_) if desk.connected => 0,
                Some(w) => match w.state {
                    WorkspaceState::Available if !w.used => 1,
                    WorkspaceState::Pending => 3,
                    WorkspaceState::Terminating | WorkspaceState::Terminated => 4,
                    _ => 2,
                },
            };
            counts[k] += 1;
        }
        for (key, n) in KEYS.iter().zip(counts) {
            self.metrics.series.states.entry(key).or_default().push(n);
        }
    }

    /// S2/S3 for a policy's create; returns (same spec?, disconnect time) for a re-create.
    fn check_create(&mut self, spec: &WorkspaceSpec) -> Option<(bool, Timestamp)> {
        if self.caller == Actor::Admin {
            return None;
        }
        let user = spec.user_name.to_string();
        let Some(i) = self.desk_of(&spec.desk()) else {
            self.violation("S2", user, None, "created a WorkSpace for a desk that is not in the fleet".into());
            return None;
        };
        if self.desks[i].retired {
            self.violation("S2", user.clone(), None, "re-created a desktop the admin had terminated".into());
        }
        match self.desks[i].awaiting_rebuild.take() {
            Some((old, disconnected)) => {
                let same = old == *spec;
                if !same {
                    self.violation("S3", user, None, describe_difference(&old, spec));
                }
                Some((same, disconnected))
            }
            None => {
                self.violation("S4", user, None, "created a WorkSpace for a desk that was not being rebuilt".into());
                None
            }
        }
    }

    // ----- CloudWatch -----

    pub(crate) fn api_put_alarm(&mut self, id: &WorkspaceId) -> PortResult<()> {
        if let Pass::ThenFail(e) = self.gate("PutMetricAlarm", Service::Other, true)? {
            self.alarms.insert(id.clone(), false);
            return Err(e);
        }
        if self.alarms.insert(id.clone(), false).is_none() {
            self.note_for_ws(id, EntryKind::AlarmArmed);
        }
        Ok(())
    }

    pub(crate) fn api_delete_alarms(&mut self, ids: &[WorkspaceId]) -> PortResult<()> {
        let pass = self.gate("DeleteAlarms", Service::Other, true)?;
        if ids.len() > 100 {
            return Err(PortError::new(ErrorKind::Rejected, "DeleteAlarms", "at most 100 alarm names"));
        }
        for id in ids {
            if self.alarms.remove(id).is_some() {
                self.note_for_ws(id, EntryKind::AlarmDeleted);
            }
        }
        match pass {
            Pass::Go => Ok(()),
            Pass::ThenFail(e) => Err(e),
        }
    }

    pub(crate) fn api_list_alarms(&mut self) -> PortResult<Vec<WorkspaceId>> {
        for _ in 0..self.alarms.len().div_ceil(100).max(1) {
            self.gate("DescribeAlarms", Service::Other, false)?;
        }
        Ok(self.alarms.keys().cloned().collect())
    }

    /// CloudWatch evaluates `id`'s alarm over the last complete minute, as far as its
    /// datapoints are published (`metric_delay`). Missing data is not breaching.
    pub(crate) fn evaluate_alarm(&mut self, id: &WorkspaceId) {
        let Some(&in_alarm) = self.alarms.get(id) else { return };
        let delay = self.scenario.timings.metric_delay;
        let window_end = self.now - delay;
        let window_start = window_end - Duration::from_secs(60);
        let breaching =
            self.workspaces.get(id).is_some_and(|w| w.disconnects.iter().any(|&t| t >= window_start && t < window_end));
        if breaching && !in_alarm {
            self.alarms.insert(id.clone(), true);
            self.note_for_ws(id, EntryKind::AlarmFired);
            let ctx = self.emit_context();
            // The datapoint CloudWatch quotes is the evaluated period's start.
            let name = alarm_name(&self.scenario.config.alarm_owner(), id);
            let message = events::alarm_message(&name, id, "ALARM", "OK", self.now, window_start, &ctx);
            let topic = format!("arn:aws:sns:{}:{}:Workspace_Disconnected_Topic", ctx.region, ctx.account);
            let event = events::sns_event(&ctx, &topic, &[(ctx.event_id.clone(), message, self.now)]);
            // To the topic's subscriber: the alarm queue for blankslate (`Simulation::enqueue`),
            // the function itself for the seed.
            self.schedule_in(crate::queue::SNS_DELIVERY, Due::Deliver(Function::TermRebuild, event));
        } else if !breaching && in_alarm {
            self.alarms.insert(id.clone(), false);
        }
        if breaching {
            self.schedule_in(Duration::from_secs(60), Due::AlarmEval(id.clone()));
        }
    }

    /// Sum of ConnectionSuccess datapoints for `id` published in `[from, now]`.
    pub(crate) fn connection_successes(&mut self, id: &WorkspaceId, from: Timestamp) -> usize {
        self.count_call("GetMetricStatistics");
        let published_before = self.now - self.scenario.timings.metric_delay;
        self.workspaces
            .get(id)
            .map_or(0, |w| w.connections.iter().filter(|&&t| t >= from && t <= published_before).count())
    }

    // ----- the journal table -----

    pub(crate) fn journal_list(&mut self) -> PortResult<Vec<Record>> {
        self.journal_scan_pages()?;
        Ok(self.journal.values().cloned().collect())
    }

    /// The pages of a journal scan: a page reads 1 MB, a record is about 1 KB.
    pub(crate) fn journal_scan_pages(&mut self) -> PortResult<()> {
        for _ in 0..self.journal.len().div_ceil(1000).max(1) {
            self.gate("Journal.Scan", Service::Other, false)?;
        }
        Ok(())
    }

    /// True when a reconcile tick now would only list the journal: alarms on, not a
    /// sweep tick, no fault that could strike, and every desk `Active` or in a grace
    /// period that has not ended (nothing due, nothing under way, no admin request). Such a tick reads and changes nothing, so
    /// the simulator accounts for it without copying the journal (a 10,000-desk fleet
    /// spends most of a day in such ticks).
    pub(crate) fn reconcile_tick_is_idle(&self) -> bool {
        let config = &self.scenario.config;
        config.alarm_mode == AlarmMode::PerWorkspace
            && !self.journal.is_empty()
            && !self.faults_on()
            && !blankslate_core::reconcile::is_sweep_tick(self.now, config, false)
            && self.journal.values().all(|r| {
                r.request.is_none()
                    && !r.cleanups.iter().any(|c| c.is_due(self.now))
                    && match r.phase {
                        Phase::Active { .. } => true,
                        Phase::Disconnected { at, .. } => self.now < at + config.grace,
                        _ => false,
                    }
            })
    }

    pub(crate) fn journal_get(&mut self, desk: &DeskKey) -> PortResult<Option<Record>> {
        self.gate("Journal.GetItem", Service::Other, false)?;
        Ok(self.journal.get(desk).cloned())
    }

    pub(crate) fn journal_pacing(&mut self) -> PortResult<Option<blankslate_core::pacing::Pacing>> {
        self.gate("Journal.GetItem", Service::Other, false)?;
        Ok(self.pacing)
    }

    pub(crate) fn journal_store_pacing(&mut self, pacing: &blankslate_core::pacing::Pacing) -> PortResult<()> {
        let pass = self.gate("Journal.PutItem", Service::Other, true)?;
        self.pacing = Some(*pacing);
        let minute = self.minute();
        self.metrics.series.learned_rate(minute, pacing.per_second);
        match pass {
            Pass::Go => Ok(()),
            Pass::ThenFail(e) => Err(e),
        }
    }

    pub(crate) fn journal_find(&mut self, id: &WorkspaceId) -> PortResult<Option<Record>> {
        self.gate("Journal.Query", Service::Other, false)?;
        Ok(self.journal_by_ws.get(id).and_then(|d| self.journal.get(d)).cloned())
    }

    pub(crate) fn journal_write(&mut self, write: &Write) -> PortResult<Option<Record>> {
        let pass = self.gate("Journal.PutItem", Service::Other, true)?;
        let stored = self.journal_store(write)?;
        match pass {
            Pass::Go => Ok(stored),
            Pass::ThenFail(e) => Err(e),
        }
    }

    /// Puts a record in the table directly (a fleet enrolled before the run starts).
    pub(crate) fn journal_seed(&mut self, record: Record) {
        if let Some(id) = record.workspace_id() {
            self.journal_by_ws.insert(id.clone(), record.desk.clone());
        }
        self.journal.insert(record.desk.clone(), record);
    }

    fn journal_store(&mut self, write: &Write) -> PortResult<Option<Record>> {
        let record = write.record();
        let stored_version = self.journal.get(&record.desk).map(|r| r.version);
        let expected = match write {
            Write::Insert(_) => None,
            Write::Update(r) | Write::Delete(r) => Some(r.version),
        };
        if stored_version != expected {
            return Err(PortError::new(
                ErrorKind::Conflict,
                "PutItem",
                format!("{} changed concurrently", record.desk),
            ));
        }
        let old = self.journal.get(&record.desk).cloned();
        if let Some(id) = old.as_ref().and_then(|r| r.workspace_id()) {
            self.journal_by_ws.remove(id);
        }
        let stored = match write {
            Write::Delete(_) => {
                self.journal.remove(&record.desk);
                None
            }
            Write::Insert(r) | Write::Update(r) => {
                let mut r = r.clone();
                r.version += 1;
                if let Some(id) = r.workspace_id() {
                    self.journal_by_ws.insert(id.clone(), r.desk.clone());
                }
                self.journal.insert(r.desk.clone(), r.clone());
                Some(r)
            }
        };
        self.note_journal_change(old.as_ref(), stored.as_ref());
        Ok(stored)
    }

    /// Timeline entries for the journal transitions people care about.
    fn note_journal_change(&mut self, old: Option<&Record>, new: Option<&Record>) {
        let grace = self.scenario.config.grace;
        let (user, ws) = match (old, new) {
            (_, Some(r)) | (Some(r), None) => (r.desk.user_name.to_string(), r.workspace_id().cloned()),
            (None, None) => return,
        };
        let kind = match (old.map(|r| &r.phase), new.map(|r| &r.phase)) {
            (None, Some(_)) => EntryKind::Enrolled,
            (Some(_), None) => EntryKind::Released,
            (Some(Phase::Active { .. }), Some(Phase::Disconnected { at, .. })) => {
                let left = new.and_then(|r| self.desk_of(&r.desk)).map(|i| &self.desks[i]);
                if let Some(t) = left.filter(|d| !d.connected).and_then(|d| d.last_disconnect) {
                    if *at >= t {
                        self.metrics.detection_lag.push(at.since(t));
                    }
                }
                EntryKind::GraceStarted { until: *at + grace }
            }
            // A later alarm (or a return the alarm lag hid) moves the grace period on.
            (Some(Phase::Disconnected { at: before, .. }), Some(Phase::Disconnected { at, .. })) if at > before => {
                EntryKind::GraceStarted { until: *at + grace }
            }
            (Some(Phase::Disconnected { .. } | Phase::Terminating { .. }), Some(Phase::Active { .. })) => {
                EntryKind::Kept
            }
            _ => return,
        };
        self.record(user, ws, kind);
    }

    pub(crate) fn publish_notice(&mut self, notice: &Notice) -> PortResult<()> {
        self.gate("SNS.Publish", Service::Other, false)?;
        let user = notice.desk.user_name.to_string();
        self.record(user, None, EntryKind::Notice(notice.subject.clone()));
        self.notices.push(notice.clone());
        Ok(())
    }
}

fn describe_difference(old: &WorkspaceSpec, new: &WorkspaceSpec) -> String {
    let mut lost = Vec::new();
    if old.encryption != new.encryption {
        lost.push("volume encryption");
    }
    if old.tags != new.tags {
        lost.push("tags");
    }
    if old.properties != new.properties {
        lost.push("properties");
    }
    if old.bundle_id != new.bundle_id {
        lost.push("bundle");
    }
    if old.workspace_name != new.workspace_name {
        lost.push("name");
    }
    format!("re-created without the original {}", lost.join(", "))
}

/// The simulated `ComputerName` of a WorkSpace: `WSAMZN-` and the first eight characters
/// of its ID, upper-cased (real WorkSpaces draw them at random; a function of the ID keeps
/// runs replayable and needs no state).
pub fn computer_name_of(id: &WorkspaceId) -> Option<blankslate_core::directory::ComputerName> {
    let suffix = id.as_str().strip_prefix("ws-")?;
    let eight: String = suffix.chars().take(8).collect::<String>().to_ascii_uppercase();
    blankslate_core::directory::ComputerName::new(format!("WSAMZN-{eight}")).ok()
}
