//! The reconciler's decisions, and the decisions the event handlers make.
//!
//! A reconcile tick is two pure steps around the shell's reads:
//! [`plan_reads`] says what to look at (targeted IDs from the journal, and on a sweep tick
//! the whole fleet), the shell reads it into [`Observations`], then [`decide`] returns
//! [`Step`]s: a conditional journal write and the actions to perform *only if that write
//! succeeded*. The write is the durable intent; the action follows it. The shell reports
//! each call's outcome back through [`on_terminate_result`] and [`on_create_result`].
//!
//! Invariants enforced here:
//! - S1: a termination is decided only from a connection state read in the same tick,
//!   never for CONNECTED, never for a user who connected after the disconnect that
//!   started the grace period, never for UNKNOWN unless the WorkSpace is STOPPED.
//! - S2: the selector is re-checked on freshly read tags and properties right before a
//!   termination; a desk that no longer matches is released, not rebuilt.
//! - S3: the spec is refreshed from AWS at the same moment, so the re-create carries the
//!   WorkSpace's current properties, encryption and tags.
//! - S4: a create whose answer was lost is followed by a look-up of the desk, never by a
//!   blind second create.
//! - L1: every phase after the first termination ends in `Creating`, which retries with
//!   back-off until a WorkSpace exists for the desk.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::alarm::{Listed, Owner, StackName};
use crate::config::{AlarmMode, Config, TagReads};
use crate::ids::{DeskKey, WorkspaceId};
use crate::journal::{Phase, RebuildRequest, RebuildSummary, Record};
use crate::observe::{ConnectionObservation, ConnectionState, WorkspaceDescription, WorkspaceState};
use crate::spec::{Tags, WorkspaceSpec};
use crate::time::Timestamp;

/// CreateWorkspaces' per-item error code for "this user already has a WorkSpace here".
pub const RESOURCE_EXISTS: &str = "ResourceExists.WorkSpace";

/// What the shell should read before [`decide`].
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ReadPlan {
    /// DescribeWorkspaces by ID (batches of 25).
    pub describe: Vec<WorkspaceId>,
    /// DescribeWorkspacesConnectionStatus by ID (batches of 25).
    pub connections: Vec<WorkspaceId>,
    /// Tags to read: WorkSpaces about to be terminated (fresh spec, S2/S3). Read in bulk
    /// through the Resource Groups Tagging API ([`TAGS_BATCH`] a call, its own rate
    /// limit), so they cost no WorkSpaces API call; see [`settle_bulk_tags`].
    pub tags: Vec<WorkspaceId>,
    /// DescribeWorkspaces by directory and user: desks whose create answer was lost.
    pub desks: Vec<DeskKey>,
    /// List the whole fleet (and its tags when the selector needs them) and every alarm.
    pub sweep: bool,
    /// True when that listing does not fit in what the budget left: a quiet tick, or the
    /// backstop's turn through a backlog. Its throttling says nothing about whether the
    /// budget fits the limit (`pacing`), so the shell keeps it out of what the rate learns.
    pub sweep_over_budget: bool,
    /// True when the budget left due work out of this tick: the tick tested the rate
    /// (`pacing::TickUse::budget_bound`).
    pub budget_bound: bool,
}

/// The stages of one reconcile tick, in the order the shell runs them. Each stage reads
/// its part of the plan, decides and performs its calls before the next begins, so the
/// calls that finish rebuilds under way reach AWS first in every tick: when the API's
/// limit is lower than the budget, what is throttled is new work, never a started
/// rebuild (L1 at any rate; ARCHITECTURE.md).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stage {
    /// Due creates that need no read: the old WorkSpace is known to be gone.
    Creates,
    /// Rebuilds under way: confirm terminations (then create), look up desks whose
    /// create answer was lost (then create, or record the new WorkSpace).
    UnderWay,
    /// Everything else: due disconnects (re-check, terminate), connection reads of active
    /// desks.
    New,
    /// The sweep: the fleet listing (enrolment, WorkSpaces gone without an event) and the
    /// alarms. Last, because a listing larger than the budget may drain the API's bucket:
    /// run after the tick's other calls, it delays none of them.
    Sweep,
}

impl Stage {
    /// The stages in the order a tick runs them.
    pub const ALL: [Stage; 4] = [Stage::Creates, Stage::UnderWay, Stage::New, Stage::Sweep];

    fn covers(self, phase: &Phase) -> bool {
        match self {
            Self::Creates | Self::UnderWay => phase.is_rebuilding(),
            Self::New | Self::Sweep => !phase.is_rebuilding(),
        }
    }
}

impl ReadPlan {
    /// The part of this plan that `stage` reads: nothing for [`Stage::Creates`]; the
    /// desk look-ups and the reads of WorkSpaces being terminated for
    /// [`Stage::UnderWay`]; the listing and the alarms for [`Stage::Sweep`]; the rest for
    /// [`Stage::New`].
    pub fn for_stage(&self, stage: Stage, records: &[Record]) -> ReadPlan {
        let terminating: BTreeSet<&WorkspaceId> = records
            .iter()
            .filter_map(|r| match &r.phase {
                Phase::Terminating { workspace_id, .. } => Some(workspace_id),
                _ => None,
            })
            .collect();
        let part = |ids: &[WorkspaceId], under_way: bool| -> Vec<WorkspaceId> {
            ids.iter().filter(|id| terminating.contains(id) == under_way).cloned().collect()
        };
        match stage {
            Stage::Creates => ReadPlan::default(),
            Stage::UnderWay => ReadPlan {
                describe: part(&self.describe, true),
                connections: part(&self.connections, true),
                desks: self.desks.clone(),
                ..ReadPlan::default()
            },
            Stage::New => ReadPlan {
                describe: part(&self.describe, false),
                connections: part(&self.connections, false),
                tags: self.tags.clone(),
                budget_bound: self.budget_bound,
                ..ReadPlan::default()
            },
            Stage::Sweep => {
                ReadPlan { sweep: self.sweep, sweep_over_budget: self.sweep_over_budget, ..ReadPlan::default() }
            }
        }
    }
}

/// What the shell read. A WorkSpace asked for but absent from `workspaces` was not found.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Observations {
    /// Descriptions from targeted and sweep reads.
    pub workspaces: BTreeMap<WorkspaceId, WorkspaceDescription>,
    /// IDs whose targeted DescribeWorkspaces call succeeded (absent from `workspaces` means gone).
    pub described: BTreeSet<WorkspaceId>,
    /// True when the whole fleet was listed (absent from `workspaces` means gone, for every ID).
    pub fleet_listed: bool,
    /// Connection states read this tick.
    pub connections: BTreeMap<WorkspaceId, ConnectionObservation>,
    /// Tags read this tick.
    pub tags: BTreeMap<WorkspaceId, Tags>,
    /// Desk look-ups: `None` when the desk has no WorkSpace.
    pub desks: BTreeMap<DeskKey, Option<WorkspaceDescription>>,
    /// Every SessionDisconnect alarm in the Region, ours and other stacks' (and the seed's
    /// naming), when alarms were listed.
    pub alarms: Option<Vec<Listed>>,
}

enum Seen<'a> {
    Present(&'a WorkspaceDescription),
    Gone,
    NotRead,
}

impl Observations {
    fn seen(&self, id: &WorkspaceId) -> Seen<'_> {
        match self.workspaces.get(id) {
            Some(d) => Seen::Present(d),
            None if self.fleet_listed || self.described.contains(id) => Seen::Gone,
            None => Seen::NotRead,
        }
    }

    /// The description with freshly read tags, if both were read.
    fn fresh_spec(&self, id: &WorkspaceId) -> Option<(&WorkspaceDescription, WorkspaceSpec)> {
        let desc = self.workspaces.get(id)?;
        let tags = self.tags.get(id)?;
        let mut spec = desc.spec.clone();
        spec.tags = tags.clone();
        Some((desc, spec))
    }
}

/// Something the shell does at AWS.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Action {
    /// TerminateWorkspaces for this ID.
    Terminate(WorkspaceId),
    /// CreateWorkspaces with this request.
    Create(Box<WorkspaceSpec>),
    /// PutMetricAlarm: the SessionDisconnect alarm for this WorkSpace.
    PutAlarm(WorkspaceId),
    /// DeleteAlarms: this stack's alarm of this WorkSpace, and one of the seed's naming.
    DeleteAlarm(WorkspaceId),
    /// DeleteAlarms: only the seed's naming of this WorkSpace's alarm (adopted: ours exists).
    DeleteLegacyAlarm(WorkspaceId),
    /// Publish to the admin topic.
    Notify(Notice),
}

/// A message for the admins (failed or stuck rebuilds).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Notice {
    /// The desk concerned.
    pub desk: DeskKey,
    /// One line.
    pub subject: String,
    /// What happened and what to check.
    pub message: String,
}

/// A conditional journal write.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Write {
    /// Store a new record; fails if the desk already has one.
    Insert(Record),
    /// Replace the record; fails unless the stored version equals `record.version`.
    Update(Record),
    /// Remove the record; fails unless the stored version equals `record.version`.
    Delete(Record),
}

impl Write {
    /// The record written (or deleted).
    pub fn record(&self) -> &Record {
        match self {
            Self::Insert(r) | Self::Update(r) | Self::Delete(r) => r,
        }
    }
}

/// One decision about one desk: perform `actions` only if `write` (when present) succeeds.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Step {
    /// The durable intent, written first.
    pub write: Option<Write>,
    /// What to do once the intent is stored.
    pub actions: Vec<Action>,
}

impl Step {
    fn write(write: Write) -> Self {
        Self { write: Some(write), actions: Vec::new() }
    }

    fn then(mut self, action: Action) -> Self {
        self.actions.push(action);
        self
    }
}

/// The outcome of a decide call.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Decision {
    /// Per-desk steps.
    pub steps: Vec<Step>,
    /// The earliest instant at which a decision will change without new observations.
    pub next_wakeup: Option<Timestamp>,
    /// Directory clean-ups due now, for the shell to hand to its directory port after the
    /// tick's steps (so never before a create). Empty unless `Config::directory` is set.
    pub cleanups: Vec<crate::directory::CleanupItem>,
}

/// Whether this tick lists the whole fleet. Derived from the clock so that a stateless
/// scheduled function sweeps about once per `sweep_period` without remembering when it
/// last did; an empty journal always sweeps, so a fresh deploy enrols at once.
pub fn is_sweep_tick(now: Timestamp, config: &Config, journal_is_empty: bool) -> bool {
    let sweep = config.sweep_period.as_millis().max(1) as i64;
    let tick = config.reconcile_period.as_millis() as i64;
    journal_is_empty || now.as_millis().rem_euclid(sweep) < tick
}

fn alarms_on(config: &Config) -> bool {
    config.alarm_mode == AlarmMode::PerWorkspace
}

/// What to read this tick.
pub fn plan_reads(now: Timestamp, config: &Config, records: &[Record], sweep: bool) -> ReadPlan {
    let mut plan = ReadPlan { sweep, ..ReadPlan::default() };
    let scan_connections = sweep || !alarms_on(config);
    for record in records {
        match &record.phase {
            Phase::Active { workspace_id } if scan_connections => plan.connections.push(workspace_id.clone()),
            Phase::Active { .. } => {}
            Phase::Disconnected { workspace_id, at } => {
                if now >= *at + config.grace && record.claimed_by.is_none() {
                    plan.describe.push(workspace_id.clone());
                    plan.connections.push(workspace_id.clone());
                    plan.tags.push(workspace_id.clone());
                }
            }
            Phase::Terminating { workspace_id, .. } => plan.describe.push(workspace_id.clone()),
            Phase::Creating { retry_at, maybe_created: true, .. } if now >= *retry_at => {
                plan.desks.push(record.desk.clone())
            }
            Phase::Creating { .. } => {}
        }
    }
    plan
}

/// The most items one batched WorkSpaces call takes.
const CALL: usize = crate::config::MAX_BATCH;

/// The most WorkSpaces one GetResources call of the Resource Groups Tagging API reads
/// (its `ResourceARNList` takes up to 100 ARNs).
pub const TAGS_BATCH: usize = 100;

/// What a bulk tag read (`found`, the answer for `asked`) tells: the tags known now
/// (untagged WorkSpaces included, with no tags), and the WorkSpaces whose tags must be
/// read again one by one (DescribeTags) before anything is decided on them.
///
/// GetResources returns only resources that are or have been tagged, and its index is
/// the tagging service's, not WorkSpaces' own: a WorkSpace left out of its answer either
/// has no tags or is not indexed yet. The journal tells the two apart for a managed desk:
/// a desk whose recorded spec carries tags (every desk under a tag selector, and every
/// tagged WorkSpace we re-created) was tagged when last read, so its absence means "not
/// known" and is confirmed through WorkSpaces itself; a WorkSpace recorded with no tags,
/// or not recorded at all, is taken to have none. Without this, a lagging index would
/// re-create a tagged desk without its tags (S3) or release it as unselected (S2).
pub fn settle_bulk_tags(
    records: &[Record],
    asked: &[WorkspaceId],
    mut found: BTreeMap<WorkspaceId, Tags>,
) -> (BTreeMap<WorkspaceId, Tags>, Vec<WorkspaceId>) {
    let recorded_tagged: BTreeSet<&WorkspaceId> =
        records.iter().filter(|r| !r.spec.tags.is_empty()).filter_map(|r| r.workspace_id()).collect();
    let mut confirm = Vec::new();
    let missing: Vec<&WorkspaceId> = asked.iter().filter(|id| !found.contains_key(*id)).collect();
    for id in missing {
        if recorded_tagged.contains(id) {
            confirm.push(id.clone());
        } else {
            found.insert(id.clone(), Tags::default());
        }
    }
    found.retain(|id, _| asked.contains(id));
    (found, confirm)
}

/// What a plan has spent, in whole WorkSpaces calls: a batched kind costs a call per 25
/// items (its first item a whole call, the next 24 nothing more), a call that takes one
/// ID (a desk look-up, a page of the fleet listing, a DescribeTags) a call each. Tags
/// read in bulk go through the tagging API and cost nothing here.
#[derive(Default)]
struct Spend {
    left: usize,
    describe: usize,
    connections: usize,
    terminates: usize,
    creates: usize,
    short: bool,
}

/// Items of one kind a piece of work adds: (describe, connections, singles, terminates, creates).
type Items = (usize, usize, usize, usize, usize);

impl Spend {
    fn cost(&self, (describe, connections, singles, terminates, creates): Items) -> usize {
        let more = |have: usize, add: usize| (have + add).div_ceil(CALL) - have.div_ceil(CALL);
        more(self.describe, describe)
            + more(self.connections, connections)
            + singles
            + more(self.terminates, terminates)
            + more(self.creates, creates)
    }

    /// Spends what `items` cost if it fits; a refusal marks the tick as short of budget.
    fn take(&mut self, items: Items) -> bool {
        if self.cost(items) > self.left {
            self.short = true;
            return false;
        }
        self.spend(items);
        true
    }

    /// Spends what `items` cost whether it fits or not (down to nothing left).
    fn spend(&mut self, items: Items) {
        self.left = self.left.saturating_sub(self.cost(items));
        self.describe += items.0;
        self.connections += items.1;
        self.terminates += items.3;
        self.creates += items.4;
    }
}

/// What to read this tick when at most `budget` WorkSpaces API calls may be spent on the
/// tick's reads *and* the terminations and creations they lead to. The budget is spent by
/// priority, so a rush never starves the rebuilds already under way:
///
/// 1. due creates (and the desk look-ups of creates whose answer was lost): a user is
///    waiting for a desktop and nothing else stands in the way;
/// 2. WorkSpaces being terminated whose terminate has had time to show
///    (`terminate_retry_after`): confirm they are gone (then create);
/// 3. due disconnects, oldest first, no more than the in-flight cap admits: describe,
///    connection re-check, tags (S2, S3: in bulk through the tagging API, outside this
///    budget; one by one, a call each), terminate;
/// 4. WorkSpaces terminated more recently, if the budget has room: a termination
///    faster than usual is confirmed at once where the rate allows;
/// 5. the sweep's full listing, when it fits (or when nothing else needs the budget),
///    at most an eighth of the budget over time (a large fleet sweeps less often), and
///    on every fourth turn whatever the backlog;
/// 6. connection reads of active desks with what is left: every tick in alarm-free mode,
///    on sweep ticks otherwise. Which desks is a function of the desk and the tick, so a
///    stateless function covers the whole fleet every `ceil(active / room)` ticks.
///
/// Calls are counted whole (a batch of 25 is one call), so even the smallest budget
/// serves the rebuilds under way first. A desk left out this tick waits for a later one;
/// nothing is decided on data not read.
pub fn plan_reads_within(now: Timestamp, config: &Config, records: &[Record], sweep: bool, budget: usize) -> ReadPlan {
    let mut plan = ReadPlan::default();
    let mut spend = Spend { left: budget, ..Spend::default() };
    let mut work = 0usize;

    let mut creating: Vec<&Record> =
        records.iter().filter(|r| matches!(r.phase, Phase::Creating { retry_at, .. } if now >= retry_at)).collect();
    creating.sort_by_key(|r| match r.phase {
        Phase::Creating { disconnected_at, .. } => disconnected_at,
        _ => now,
    });
    // Creates that need no read first: they are decided whatever the budget (the tick's
    // first calls; beyond the account's rate they are throttled and simply retried next
    // tick), so they are counted before anything else is let in.
    let (look_up, create): (Vec<&Record>, Vec<&Record>) =
        creating.into_iter().partition(|r| matches!(r.phase, Phase::Creating { maybe_created: true, .. }));
    for _ in &create {
        work += 1;
        spend.spend((0, 0, 0, 0, 1));
    }
    for record in look_up {
        work += 1;
        if spend.take((0, 0, 1, 0, 1)) {
            plan.desks.push(record.desk.clone());
        }
    }

    // Terminations are confirmed once they have had time to show; sooner only with what
    // the budget leaves (below). The describe that finds one gone is planned with the
    // create that follows. A lost terminate's re-check and resend ([`lost_terminates`])
    // are not planned: they are known only from this describe, and rare.
    let mut early = Vec::new();
    for record in records {
        if let Phase::Terminating { workspace_id, requested_at, .. } = &record.phase {
            work += 1;
            if !terminate_had_time(now, config, *requested_at) {
                early.push(workspace_id);
            } else if spend.take((1, 0, 0, 0, 1)) {
                plan.describe.push(workspace_id.clone());
            }
        }
    }

    let mut slots =
        config.max_in_flight_rebuilds.saturating_sub(records.iter().filter(|r| r.phase.is_rebuilding()).count());
    let mut due: Vec<(&Record, &WorkspaceId, Timestamp)> = records
        .iter()
        .filter_map(|r| match &r.phase {
            // Claimed by another stack too: held, so its reads would decide nothing.
            Phase::Disconnected { workspace_id, at } if now >= *at + config.grace && r.claimed_by.is_none() => {
                Some((r, workspace_id, *at))
            }
            _ => None,
        })
        .collect();
    due.sort_by_key(|(r, _, at)| (*at, &r.desk));
    for (_, id, _) in due {
        work += 1;
        // Tags are read before every termination whatever the selector: the re-create
        // must carry them (S3). In bulk they come from the tagging API, outside this
        // budget; one by one they are a DescribeTags call each.
        let tags = usize::from(config.tag_reads == TagReads::OneByOne);
        if slots == 0 || !spend.take((1, 1, tags, 1, 0)) {
            continue;
        }
        slots -= 1;
        plan.describe.push(id.clone());
        plan.connections.push(id.clone());
        plan.tags.push(id.clone());
    }

    // Termination takes about five minutes, so a describe in the first minutes after the
    // terminate nearly always finds it still terminating: in a rush such reads would be
    // most of the budget (issue 11). They are made only where the budget has room after
    // the due work, and wanting them does not make the tick budget-bound.
    for id in early {
        if spend.cost((1, 0, 0, 0, 1)) <= spend.left {
            spend.spend((1, 0, 0, 0, 1));
            plan.describe.push(id.clone());
        }
    }

    if sweep {
        // The sweep is a backstop (missed events, orphaned alarms, new WorkSpaces), and its
        // listing costs a call per 25 WorkSpaces: it may take an eighth of the budget of a
        // sweep period, so a large fleet sweeps every few sweep periods instead.
        let listing = records.len() / CALL + 1;
        let ticks = (config.sweep_period.as_millis() / config.reconcile_period.as_millis().max(1)).max(1) as usize;
        let every = listing.div_ceil((budget * ticks / 8).max(1)).max(1) as i64;
        let period = config.sweep_period.as_millis().max(1) as i64;
        let index = now.as_millis().div_euclid(period);
        let turn = index.rem_euclid(every) == 0;
        // A backstop that never runs is none: through a long backlog, every fourth turn
        // sweeps anyway (orphaned alarms, missed events), overdrawing the tick's budget.
        let overdue = index.rem_euclid(4 * every) == 0;
        let fits = turn && spend.take((0, 0, listing, 0, 0));
        plan.sweep = fits || (turn && (work == 0 || overdue));
        plan.sweep_over_budget = plan.sweep && !fits;
    }

    if plan.sweep || !alarms_on(config) {
        let active: Vec<&WorkspaceId> = records
            .iter()
            .filter_map(|r| match &r.phase {
                Phase::Active { workspace_id } => Some(workspace_id),
                _ => None,
            })
            .collect();
        // What is left, and the rest of the connection call already paid for.
        let has_active = !active.is_empty();
        let room = spend.left * CALL + (spend.connections.div_ceil(CALL) * CALL - spend.connections);
        let every = active.len().div_ceil(room.max(1)).max(1) as u64;
        let tick = (now.as_millis().max(0) as u64) / (config.reconcile_period.as_millis().max(1) as u64);
        plan.connections
            .extend(active.into_iter().filter(|id| (spread(id.as_str()) + tick) % every == 0).take(room).cloned());
        // Alarm-free, a desk left out of this tick's connection reads is a disconnect
        // found later: more rate would be spent.
        spend.short |= (every > 1 || room == 0) && has_active && !alarms_on(config);
    }
    // A due desk the in-flight cap held back did not test the rate: only the budget's
    // refusals count.
    plan.budget_bound = spend.short;
    plan
}

/// A stable spread of IDs over rotation slots (FNV-1a): the same ID always lands in the
/// same slot, whatever order the journal lists it in.
fn spread(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The reconciler's decision for this tick, every stage at once on one set of
/// observations (what [`decide_stage`] decides stage by stage).
pub fn decide(now: Timestamp, config: &Config, records: &[Record], obs: &Observations) -> Decision {
    decide_desks(now, config, records, obs, |_| true, true)
}

/// The decision of one [`Stage`] of a tick: only the desks the stage covers, and on
/// [`Stage::Sweep`] enrolment and alarm repair too. `records` are the journal as the earlier
/// stages of the tick left it.
pub fn decide_stage(now: Timestamp, config: &Config, records: &[Record], obs: &Observations, stage: Stage) -> Decision {
    decide_desks(now, config, records, obs, |phase| stage.covers(phase), stage == Stage::Sweep)
}

fn decide_desks(
    now: Timestamp,
    config: &Config,
    records: &[Record],
    obs: &Observations,
    covers: impl Fn(&Phase) -> bool,
    housekeeping: bool,
) -> Decision {
    let mut in_flight = records.iter().filter(|r| r.phase.is_rebuilding()).count();

    // Oldest disconnects first, so the in-flight cap serves users in arrival order.
    let mut order: Vec<&Record> = records.iter().collect();
    order.sort_by_key(|r| match r.phase {
        Phase::Disconnected { at, .. } => (1, at),
        _ => (0, Timestamp::from_millis(0)),
    });

    let mut steps = Vec::new();
    for record in order.into_iter().filter(|r| covers(&r.phase)) {
        let step = match &record.phase {
            Phase::Active { workspace_id } => decide_active(now, config, record, workspace_id, obs),
            Phase::Disconnected { workspace_id, at } => {
                decide_disconnected(now, config, record, workspace_id, *at, obs, &mut in_flight)
            }
            Phase::Terminating { workspace_id, disconnected_at, requested_at, .. } => {
                decide_terminating(now, config, record, workspace_id, *disconnected_at, *requested_at, obs)
            }
            Phase::Creating { .. } => decide_creating(now, config, record, obs),
        };
        steps.extend(step);
    }

    if housekeeping && obs.fleet_listed {
        steps.extend(enrol_new(now, config, records, obs));
    }
    if let Some(alarms) = obs.alarms.as_ref().filter(|_| housekeeping) {
        steps.extend(claims(now, config, records, &steps, alarms));
        steps.extend(repair_alarms(config, records, &steps, alarms, obs));
    }
    // Directory clean-up (issue 14): due items, from the records as this tick leaves them.
    let cleanups = crate::directory::due(now, config, records, &steps);
    Decision { next_wakeup: next_wakeup(config, records, &steps), steps, cleanups }
}

/// The earliest time-driven change of these records (as stored after a tick).
pub fn next_wakeup_of(config: &Config, records: &[Record]) -> Option<Timestamp> {
    next_wakeup(config, records, &[])
}

/// The earliest time-driven change once this tick's writes are stored.
fn next_wakeup(config: &Config, records: &[Record], steps: &[Step]) -> Option<Timestamp> {
    let written: BTreeMap<&DeskKey, Option<&Record>> = steps
        .iter()
        .filter_map(|s| s.write.as_ref())
        .map(|w| (&w.record().desk, if matches!(w, Write::Delete(_)) { None } else { Some(w.record()) }))
        .collect();
    let after = records.iter().filter_map(|r| written.get(&r.desk).copied().unwrap_or(Some(r)));
    // Indexed, not searched: a linear search per write made a 10,000-desk tick quadratic.
    let known: BTreeSet<&DeskKey> = records.iter().map(|r| &r.desk).collect();
    let inserted = written.values().flatten().filter(|r| !known.contains(&r.desk)).copied();
    after
        .chain(inserted)
        .filter_map(|r| match &r.phase {
            Phase::Active { .. } => None,
            Phase::Disconnected { at, .. } => Some(*at + config.grace),
            Phase::Terminating { requested_at, .. } => Some(*requested_at + config.terminate_retry_after),
            Phase::Creating { retry_at, .. } => Some(*retry_at),
        })
        .min()
}

/// Drops a desk from management: its record and its alarm. Never touches the WorkSpace.
fn release(record: &Record) -> Step {
    let step = Step::write(Write::Delete(record.clone()));
    match record.workspace_id() {
        Some(id) => step.then(Action::DeleteAlarm(id.clone())),
        None => step,
    }
}

fn old_enough_to_believe_gone(now: Timestamp, config: &Config, record: &Record) -> bool {
    now >= record.workspace_since + config.visibility_window
}

/// Whether a terminate sent at `requested_at` has had time to show: the WorkSpace gone, or
/// still there untouched (the call lost). Termination takes about five minutes (DESIGN.md),
/// so a WorkSpace described sooner is, in nearly every case, still terminating: such reads
/// come last in a budget-bound tick ([`plan_reads_within`]), and a lost terminate is not
/// suspected before this.
fn terminate_had_time(now: Timestamp, config: &Config, requested_at: Timestamp) -> bool {
    now >= requested_at + config.terminate_retry_after
}

/// The WorkSpaces being terminated whose terminate looks lost in this tick's `described`
/// reads: still there, not going, long after the call. Only these need a connection
/// re-check (S1) before the terminate is sent again ([`decide_stage`] for
/// [`Stage::UnderWay`]); one that is terminating needs none, so the shell reads their
/// connections after the describes instead of planning a read for every desk in flight.
pub fn lost_terminates(
    now: Timestamp,
    config: &Config,
    records: &[Record],
    described: &[WorkspaceId],
    obs: &Observations,
) -> Vec<WorkspaceId> {
    let asked: BTreeSet<&WorkspaceId> = described.iter().collect();
    records
        .iter()
        .filter_map(|r| match &r.phase {
            Phase::Terminating { workspace_id, requested_at, disconnected_at, .. }
                if asked.contains(workspace_id)
                    && terminate_had_time(now, config, *requested_at)
                    && now >= *disconnected_at + config.grace =>
            {
                match obs.seen(workspace_id) {
                    Seen::Present(desc) if !desc.state.is_going() => Some(workspace_id.clone()),
                    _ => None,
                }
            }
            _ => None,
        })
        .collect()
}

fn decide_active(
    now: Timestamp,
    config: &Config,
    record: &Record,
    id: &WorkspaceId,
    obs: &Observations,
) -> Option<Step> {
    match obs.seen(id) {
        Seen::Gone if old_enough_to_believe_gone(now, config, record) => {
            // Terminated by someone else (its CloudTrail event was missed), or replaced.
            return Some(adopt_replacement(now, config, record, obs).unwrap_or_else(|| release(record)));
        }
        Seen::Present(desc) if desc.state.is_going() => return None,
        Seen::Present(desc) if !config.selector.needs_tags() && !config.selector.matches(&desc.spec) => {
            return Some(release(record));
        }
        _ => {}
    }
    if let Some(tags) = obs.tags.get(id) {
        let mut spec = record.spec.clone();
        spec.tags = tags.clone();
        if !config.selector.matches(&spec) {
            return Some(release(record));
        }
    }
    let conn = obs.connections.get(id)?;
    let used = conn.last_user_connection.is_some_and(|t| t > record.workspace_since);
    if conn.state == ConnectionState::Disconnected && used {
        // A disconnect whose alarm never fired (or alarm-free mode). The grace period
        // counts from now: the moment the disconnect happened is not known, and later is safe.
        let phase = Phase::Disconnected { workspace_id: id.clone(), at: now };
        return Some(Step::write(Write::Update(record.with_phase(phase, now))));
    }
    None
}

/// The desk's WorkSpace was replaced by one we did not create: manage the new one.
fn adopt_replacement(now: Timestamp, config: &Config, record: &Record, obs: &Observations) -> Option<Step> {
    if !obs.fleet_listed {
        return None;
    }
    let desc = obs
        .workspaces
        .values()
        .find(|d| d.spec.desk() == record.desk && !d.state.is_going() && Some(&d.id) != record.workspace_id())?;
    let tags = obs.tags.get(&desc.id);
    on_workspace_seen(now, config, Some(record), desc, tags)
}

/// A disconnected desk once its grace period is over, or at once for a live admin
/// request: the WorkSpace gone (adopt its replacement or release), opted out (release,
/// S2), or by the connection check back, gone again, or terminated (S1; S3 from fresh
/// tags; the in-flight cap). A request is checked by [`check_request`] instead of the
/// grace period's check; a user found connected cancels it (the desk goes back to
/// `Active`, the reason kept in `last_error`), one who came and went restarts an ordinary
/// grace period.
#[allow(clippy::too_many_arguments)]
fn decide_disconnected(
    now: Timestamp,
    config: &Config,
    record: &Record,
    id: &WorkspaceId,
    at: Timestamp,
    obs: &Observations,
    in_flight: &mut usize,
) -> Option<Step> {
    let request = record.live_request();
    if request.is_none() && now < at + config.grace {
        return None;
    }
    if record.claimed_by.is_some() {
        return None; // Another stack's selector claims it too: neither rebuilds it (issue 12).
    }
    match obs.seen(id) {
        Seen::Gone if old_enough_to_believe_gone(now, config, record) => {
            return Some(adopt_replacement(now, config, record, obs).unwrap_or_else(|| release(record)));
        }
        Seen::Present(_) => {}
        _ => return None,
    }
    let (desc, spec) = obs.fresh_spec(id)?;
    if !config.selector.matches(&spec) {
        return Some(release(record)); // S2: opted out while disconnected, or since the request.
    }
    let conn = obs.connections.get(id)?;
    // Back or gone again ends a request.
    let settled = |phase| {
        let mut next = record.with_phase(phase, now);
        if request.is_some() {
            next.request = None;
        }
        next
    };
    match due_check(config, record, at, conn, desc.state) {
        Verdict::Back => {
            let mut next = settled(Phase::Active { workspace_id: id.clone() });
            if let Some(request) = request {
                next.last_error =
                    Some(format!("rebuild requested at {} cancelled: the user was connected", request.requested_at));
            }
            Some(Step::write(Write::Update(next)))
        }
        Verdict::LeftAgain => {
            Some(Step::write(Write::Update(settled(Phase::Disconnected { workspace_id: id.clone(), at: now }))))
        }
        Verdict::Wait => None,
        Verdict::Gone if !desc.state.can_terminate() || *in_flight >= config.max_in_flight_rebuilds => None,
        Verdict::Gone => {
            *in_flight += 1;
            let phase = Phase::Terminating {
                workspace_id: id.clone(),
                disconnected_at: at,
                started_at: now,
                requested_at: now,
                attempts: 1,
            };
            let mut next = record.with_phase(phase, now);
            next.spec = spec; // S3: re-create what exists now, not what was enrolled.
            next.computer_name = desc.computer_name.clone(); // Issue 14: the object to clean up.
            Some(Step::write(Write::Update(next)).then(Action::Terminate(id.clone())))
        }
    }
}

/// What a connection read says about terminating a disconnected desk.
pub(crate) enum Verdict {
    /// Connected now: keep the WorkSpace.
    Back,
    /// Connected after the disconnect and gone again: restart the grace period.
    LeftAgain,
    /// Cannot tell: decide next tick.
    Wait,
    /// Away since the disconnect: may be terminated (S1 holds).
    Gone,
}

/// The connection check a disconnected desk is due, at `at`: its live admin request's,
/// else the grace period's. `status` forecasts with it too.
pub(crate) fn due_check(
    config: &Config,
    record: &Record,
    at: Timestamp,
    conn: &ConnectionObservation,
    state: WorkspaceState,
) -> Verdict {
    match record.live_request() {
        Some(request) => check_request(conn, state, request),
        None => check_connection(config, conn, state, at),
    }
}

/// S1 in one place: what a connection state read right now says about terminating. A
/// connection up to `config.alarm_lag_allowance` before the recorded disconnect counts
/// as a return the alarm's delay may have hidden.
fn check_connection(
    config: &Config,
    conn: &ConnectionObservation,
    state: WorkspaceState,
    disconnected_at: Timestamp,
) -> Verdict {
    let reconnected = conn.last_user_connection.is_some_and(|t| t > disconnected_at - config.alarm_lag_allowance);
    match conn.state {
        ConnectionState::Connected => Verdict::Back,
        _ if reconnected => Verdict::LeftAgain,
        ConnectionState::Disconnected => Verdict::Gone,
        ConnectionState::Unknown if state == WorkspaceState::Stopped => Verdict::Gone,
        ConnectionState::Unknown => Verdict::Wait,
    }
}

fn decide_terminating(
    now: Timestamp,
    config: &Config,
    record: &Record,
    id: &WorkspaceId,
    disconnected_at: Timestamp,
    requested_at: Timestamp,
    obs: &Observations,
) -> Option<Step> {
    let Phase::Terminating { started_at, attempts, .. } = record.phase else { return None };
    let desc = match obs.seen(id) {
        Seen::Gone => {
            let phase = Phase::Creating {
                replaces: id.clone(),
                disconnected_at,
                started_at,
                attempts: 0,
                retry_at: now,
                maybe_created: false,
            };
            // Issue 14: the old ID has vanished, so its computer object may now be cleaned up.
            let record = crate::directory::queue_on_gone(config, &record.with_phase(phase, now), id, now);
            return Some(create_step(now, config, &record));
        }
        Seen::NotRead => return None,
        Seen::Present(desc) => desc,
    };
    // The grace check is repeated so that a record written by a function with a skewed
    // clock (or by hand) still never terminates early (S1).
    let waited = terminate_had_time(now, config, requested_at) && now >= disconnected_at + config.grace;
    if desc.state.is_going() || !waited {
        return None;
    }
    // Still there long after the call: the call was lost. Re-check S1 before resending.
    let conn = obs.connections.get(id)?;
    let next = |phase| record.with_phase(phase, now);
    match check_connection(config, conn, desc.state, disconnected_at) {
        Verdict::Back => {
            // A sweep may have removed the alarm while the desk looked terminated.
            let step = Step::write(Write::Update(next(Phase::Active { workspace_id: id.clone() })));
            Some(if alarms_on(config) { step.then(Action::PutAlarm(id.clone())) } else { step })
        }
        Verdict::LeftAgain => {
            Some(Step::write(Write::Update(next(Phase::Disconnected { workspace_id: id.clone(), at: now }))))
        }
        Verdict::Wait => None,
        Verdict::Gone if !desc.state.can_terminate() => None,
        Verdict::Gone => {
            let phase = Phase::Terminating {
                workspace_id: id.clone(),
                disconnected_at,
                started_at,
                requested_at: now,
                attempts: attempts + 1,
            };
            Some(Step::write(Write::Update(next(phase))).then(Action::Terminate(id.clone())))
        }
    }
}

/// The intent to create (attempt + 1, answer possibly lost until recorded) and the call.
fn create_step(now: Timestamp, config: &Config, record: &Record) -> Step {
    let mut next = record.clone();
    if let Phase::Creating { attempts, retry_at, maybe_created, .. } = &mut next.phase {
        *attempts += 1;
        *retry_at = now + config.visibility_window;
        *maybe_created = true;
    }
    next.updated_at = now;
    let spec = Box::new(next.spec.clone());
    Step::write(Write::Update(next)).then(Action::Create(spec))
}

fn decide_creating(now: Timestamp, config: &Config, record: &Record, obs: &Observations) -> Option<Step> {
    let Phase::Creating { retry_at, maybe_created, .. } = record.phase else { return None };
    if now < retry_at {
        return None;
    }
    if maybe_created {
        let replaces = match &record.phase {
            Phase::Creating { replaces, .. } => Some(replaces),
            _ => None,
        };
        match obs.desks.get(&record.desk)? {
            Some(desc) if desc.state.is_going() || Some(&desc.id) == replaces => return None,
            Some(desc) => return Some(complete_rebuild(now, config, record, &desc.id)),
            None => {}
        }
    }
    Some(create_step(now, config, record))
}

/// The desk has its new WorkSpace: record it and arm its alarm.
fn complete_rebuild(now: Timestamp, config: &Config, record: &Record, new_id: &WorkspaceId) -> Step {
    let mut next = record.with_phase(Phase::Active { workspace_id: new_id.clone() }, now);
    next.workspace_since = now;
    next.last_error = None;
    if let Phase::Creating { replaces, disconnected_at, started_at, .. } = &record.phase {
        next.rebuilds += 1;
        next.push_rebuild(RebuildSummary {
            old_workspace_id: replaces.clone(),
            new_workspace_id: new_id.clone(),
            disconnected_at: *disconnected_at,
            started_at: *started_at,
            finished_at: now,
            reason: record.rebuild_reason(*disconnected_at),
        });
        next.request = None;
    }
    let step = Step::write(Write::Update(next));
    if alarms_on(config) {
        step.then(Action::PutAlarm(new_id.clone()))
    } else {
        step
    }
}

fn enrol_new(now: Timestamp, config: &Config, records: &[Record], obs: &Observations) -> Vec<Step> {
    let desks: BTreeSet<&DeskKey> = records.iter().map(|r| &r.desk).collect();
    obs.workspaces
        .values()
        .filter(|d| !desks.contains(&d.spec.desk()))
        .filter_map(|d| on_workspace_seen(now, config, None, d, obs.tags.get(&d.id)))
        .collect()
}

/// Records which desks another stack's alarm claims too, and clears what no longer does
/// (issue 12). Both stacks' selectors match such a WorkSpace; each sees the other's alarm on
/// its sweep, so both hold it (no new rebuild starts) until the admin narrows a selector,
/// and each stack's alarm stays as its claim. A desk written this tick is left for the next
/// sweep.
fn claims(now: Timestamp, config: &Config, records: &[Record], steps: &[Step], alarms: &[Listed]) -> Vec<Step> {
    let me = config.alarm_owner();
    let foreign: BTreeMap<&WorkspaceId, &StackName> = alarms
        .iter()
        .filter_map(|l| match &l.owner {
            Owner::Stack(stack) if l.owner != me => Some((&l.workspace, stack)),
            _ => None,
        })
        .collect();
    let written: BTreeSet<&DeskKey> = steps.iter().filter_map(|s| s.write.as_ref()).map(|w| &w.record().desk).collect();
    records
        .iter()
        .filter(|r| !written.contains(&r.desk))
        .filter_map(|r| {
            let claimed = r.workspace_id().and_then(|id| foreign.get(id)).map(|s| (*s).clone());
            (claimed != r.claimed_by).then(|| {
                let mut next = r.clone();
                next.claimed_by = claimed;
                next.updated_at = now;
                Step::write(Write::Update(next))
            })
        })
        .collect()
}

/// Puts missing alarms on managed WorkSpaces, deletes alarms of this stack that nobody
/// needs, and adopts the seed's naming: such an alarm of a managed WorkSpace is deleted
/// once ours exists, and one of a WorkSpace that is gone is deleted outright (no stack can
/// need it). Other stacks' alarms are never touched.
fn repair_alarms(
    config: &Config,
    records: &[Record],
    steps: &[Step],
    alarms: &[Listed],
    obs: &Observations,
) -> Vec<Step> {
    let me = config.alarm_owner();
    let owned_by = |owner: &Owner| -> BTreeSet<&WorkspaceId> {
        alarms.iter().filter(|l| &l.owner == owner).map(|l| &l.workspace).collect()
    };
    let own = owned_by(&me);
    let legacy = if me == Owner::Legacy { BTreeSet::new() } else { owned_by(&Owner::Legacy) };
    // The managed set after this tick's writes.
    let mut managed: BTreeMap<&DeskKey, Option<&WorkspaceId>> =
        records.iter().map(|r| (&r.desk, watched(&r.phase))).collect();
    for write in steps.iter().filter_map(|s| s.write.as_ref()) {
        let r = write.record();
        match write {
            Write::Delete(_) => managed.remove(&r.desk),
            Write::Insert(_) | Write::Update(_) => managed.insert(&r.desk, watched(&r.phase)),
        };
    }
    let wanted: BTreeSet<&WorkspaceId> =
        if alarms_on(config) { managed.values().flatten().copied().collect() } else { BTreeSet::new() };
    // A desk written this tick looks after its own alarms, and only if its write holds.
    // The journal has one record per desk; indexed so a sweep tick stays linear.
    let by_desk: BTreeMap<&DeskKey, &Record> = records.iter().map(|r| (&r.desk, r)).collect();
    let handled: BTreeSet<&WorkspaceId> = steps
        .iter()
        .filter_map(|s| s.write.as_ref())
        .flat_map(|w| {
            let old = by_desk.get(&w.record().desk).and_then(|r| r.workspace_id());
            old.into_iter().chain(w.record().workspace_id())
        })
        .collect();
    let already_put: BTreeSet<&WorkspaceId> = steps
        .iter()
        .flat_map(|s| &s.actions)
        .filter_map(|a| if let Action::PutAlarm(id) = a { Some(id) } else { None })
        .collect();
    let mut actions: Vec<Action> = wanted
        .iter()
        .filter(|id| !own.contains(**id) && !already_put.contains(**id) && !handled.contains(**id))
        .map(|id| Action::PutAlarm((*id).clone()))
        .collect();
    actions.extend(
        own.iter()
            .filter(|id| !wanted.contains(*id) && !handled.contains(*id))
            .map(|id| Action::DeleteAlarm((*id).clone())),
    );
    let gone = |id: &WorkspaceId| obs.fleet_listed && !obs.workspaces.contains_key(id);
    actions.extend(
        legacy
            .iter()
            .filter(|id| (wanted.contains(*id) && own.contains(*id)) || gone(id))
            .map(|id| Action::DeleteLegacyAlarm((*id).clone())),
    );
    if actions.is_empty() {
        Vec::new()
    } else {
        vec![Step { write: None, actions }]
    }
}

/// The WorkSpace whose alarm a phase needs: only one a user can still disconnect from.
fn watched(phase: &Phase) -> Option<&WorkspaceId> {
    match phase {
        Phase::Active { workspace_id } | Phase::Disconnected { workspace_id, .. } => Some(workspace_id),
        Phase::Terminating { .. } | Phase::Creating { .. } => None,
    }
}

/// A WorkSpace came into view (CloudTrail CreateWorkspaces event, or a sweep): enrol it,
/// adopt it as the desk's new WorkSpace, arm its alarm, or release the desk. `tags` are
/// the WorkSpace's tags if they were read; a tag selector cannot decide without them.
pub fn on_workspace_seen(
    now: Timestamp,
    config: &Config,
    record: Option<&Record>,
    desc: &WorkspaceDescription,
    tags: Option<&Tags>,
) -> Option<Step> {
    if desc.state.is_going() {
        return None;
    }
    if tags.is_none() && record.is_some_and(|r| r.workspace_id() == Some(&desc.id)) {
        // Already this desk's WorkSpace (our own create, typically): nothing to decide
        // about management, so no tags need reading; only make sure its alarm is there.
        return alarms_on(config).then(|| Step { write: None, actions: vec![Action::PutAlarm(desc.id.clone())] });
    }
    if config.selector.needs_tags() && tags.is_none() {
        return None;
    }
    let mut spec = desc.spec.clone();
    if let Some(tags) = tags {
        spec.tags = tags.clone();
    }
    let managed = config.selector.matches(&spec);
    let arm = |step: Step| if alarms_on(config) { step.then(Action::PutAlarm(desc.id.clone())) } else { step };
    let Some(record) = record else {
        return managed.then(|| arm(Step::write(Write::Insert(Record::enrol(spec, desc.id.clone(), now)))));
    };
    if !managed {
        return match record.phase {
            Phase::Active { .. } | Phase::Disconnected { .. } => Some(release(record)),
            // Mid-rebuild the old WorkSpace matched; L1 finishes what S2 allowed to start.
            Phase::Terminating { .. } | Phase::Creating { .. } => None,
        };
    }
    if record.workspace_id() == Some(&desc.id) {
        return alarms_on(config).then(|| Step { write: None, actions: vec![Action::PutAlarm(desc.id.clone())] });
    }
    match &record.phase {
        Phase::Creating { .. } => Some(complete_rebuild(now, config, record, &desc.id)),
        Phase::Terminating { workspace_id, disconnected_at, started_at, .. } => {
            // Someone created the desk's next WorkSpace before we did: that ends our rebuild.
            let creating = record.with_phase(
                Phase::Creating {
                    replaces: workspace_id.clone(),
                    disconnected_at: *disconnected_at,
                    started_at: *started_at,
                    attempts: 0,
                    retry_at: now,
                    maybe_created: false,
                },
                now,
            );
            Some(complete_rebuild(now, config, &creating, &desc.id))
        }
        Phase::Active { workspace_id } | Phase::Disconnected { workspace_id, .. } => {
            let old = workspace_id.clone();
            let mut next = record.with_phase(Phase::Active { workspace_id: desc.id.clone() }, now);
            next.spec = spec;
            next.workspace_since = now;
            Some(arm(Step::write(Write::Update(next))).then(Action::DeleteAlarm(old)))
        }
    }
}

/// A SessionDisconnect alarm fired for `id`, for a disconnect no later than `at` (the end
/// of the evaluated datapoint's period, `events::AlarmTime`): start the grace period, or
/// restart it if the alarm is newer than the disconnect it runs from. Late, repeated and
/// stale alarms change nothing; an alarm whose period ended before the last login is stale,
/// because that login came after the disconnect it reports.
pub fn on_disconnect_alarm(record: &Record, id: &WorkspaceId, at: Timestamp, now: Timestamp) -> Option<Step> {
    match &record.phase {
        Phase::Active { workspace_id }
            if workspace_id == id && at >= record.workspace_since && record.last_login.is_none_or(|l| at > l) =>
        {
            let phase = Phase::Disconnected { workspace_id: id.clone(), at };
            Some(Step::write(Write::Update(record.with_phase(phase, now))))
        }
        // A newer alarm during grace: the user came back and left again, so grace restarts.
        // A late alarm for a disconnect before an admin's request changes nothing: the
        // request stands (`decide_disconnected` re-checks the connection anyway).
        Phase::Disconnected { workspace_id, at: since }
            if workspace_id == id && at > *since && record.live_request().is_none_or(|r| at > r.requested_at) =>
        {
            let phase = Phase::Disconnected { workspace_id: id.clone(), at };
            Some(Step::write(Write::Update(record.with_phase(phase, now))))
        }
        _ => None,
    }
}

/// A user logged in to `id` at `at`: a fast hint that ends a running grace period, and
/// the time a later-arriving alarm about an earlier disconnect is judged stale against.
/// The connection state read before terminating stays the authority (S1), so a lost login
/// event is harmless and a stale one only delays a rebuild until the next sweep.
pub fn on_login(record: &Record, id: &WorkspaceId, at: Timestamp, now: Timestamp) -> Option<Step> {
    if record.last_login.is_some_and(|l| l >= at) {
        return None; // Repeated or out of order: a later login is already recorded.
    }
    let remember = |phase: Phase| {
        let mut next = record.with_phase(phase, now);
        next.last_login = Some(at);
        Some(Step::write(Write::Update(next)))
    };
    match &record.phase {
        // A late login event from before an admin's request leaves the request standing.
        Phase::Disconnected { workspace_id, at: since }
            if workspace_id == id && at >= *since && record.live_request().is_none_or(|r| at > r.requested_at) =>
        {
            remember(Phase::Active { workspace_id: id.clone() })
        }
        Phase::Active { workspace_id } if workspace_id == id && at >= record.workspace_since => {
            remember(record.phase.clone())
        }
        _ => None,
    }
}

/// A TerminateWorkspaces call for `id` was seen in CloudTrail. Ours are announced by a
/// `Terminating` record written before the call; anyone else's means the admin removed
/// the desktop, so the desk is released rather than rebuilt.
pub fn on_terminated(record: &Record, id: &WorkspaceId) -> Option<Step> {
    match &record.phase {
        Phase::Active { workspace_id } | Phase::Disconnected { workspace_id, .. } if workspace_id == id => {
            Some(release(record))
        }
        _ => None,
    }
}

/// The outcome of one item of a call whose effect may be unknown.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Outcome<T> {
    /// AWS accepted the item.
    Accepted(T),
    /// AWS refused the item (FailedRequests) or the whole call failed before it was
    /// accepted: nothing happened.
    Refused {
        /// `ErrorCode`, or the error's kind.
        code: String,
        /// `ErrorMessage`.
        message: String,
    },
    /// No answer (timeout, connection lost): it may or may not have happened.
    Unknown,
    /// The API's rate limit refused the call (ThrottlingException after the SDK's
    /// retries): nothing happened, and nothing is wrong with the item. Tried again next
    /// tick without back-off or notice, because a throttled create says nothing about the
    /// bundle or the directory.
    Deferred,
}

/// Records what a TerminateWorkspaces call did for `record` (as written before the call).
pub fn on_terminate_result(record: &Record, outcome: &Outcome<()>, now: Timestamp) -> Option<Record> {
    let Phase::Terminating { workspace_id, disconnected_at, .. } = &record.phase else { return None };
    let error = match outcome {
        Outcome::Accepted(()) | Outcome::Unknown => return None,
        Outcome::Refused { code, message } => format!("TerminateWorkspaces: {code}: {message}"),
        Outcome::Deferred => "TerminateWorkspaces: throttled; retried next tick".to_owned(),
    };
    // Back to a due disconnect: the next tick re-checks everything (S1) and retries.
    let mut next =
        record.with_phase(Phase::Disconnected { workspace_id: workspace_id.clone(), at: *disconnected_at }, now);
    next.last_error = Some(error);
    Some(next)
}

/// Back-off between refused creates: 1, 2, 4 ... minutes, at most 30.
pub fn create_backoff(attempts: u32) -> Duration {
    Duration::from_secs(60 * (1u64 << attempts.saturating_sub(1).min(5)).min(30))
}

/// Records what a CreateWorkspaces call did for `record` (as written before the call).
pub fn on_create_result(
    record: &Record,
    outcome: &Outcome<WorkspaceId>,
    now: Timestamp,
    config: &Config,
) -> Option<Step> {
    let Phase::Creating { attempts, .. } = record.phase else { return None };
    match outcome {
        Outcome::Accepted(id) => Some(complete_rebuild(now, config, record, id)),
        Outcome::Unknown => None,
        Outcome::Deferred => {
            // Nothing happened: undo the attempt the intent counted, and create next tick
            // (not in a later stage of this one, whose calls would meet the same limit).
            let mut next = record.clone();
            if let Phase::Creating { attempts, retry_at, maybe_created, .. } = &mut next.phase {
                *attempts = attempts.saturating_sub(1);
                *retry_at = now + Duration::from_secs(1);
                *maybe_created = false;
            }
            next.last_error = Some("CreateWorkspaces: throttled; retried next tick".to_owned());
            next.updated_at = now;
            Some(Step::write(Write::Update(next)))
        }
        Outcome::Refused { code, message } => {
            let exists = code == RESOURCE_EXISTS;
            let mut next = record.clone();
            if let Phase::Creating { retry_at, maybe_created, .. } = &mut next.phase {
                // ResourceExists: a WorkSpace is there already (the old one still going, or
                // an earlier create of ours): look the desk up next tick.
                *retry_at = if exists { now } else { now + create_backoff(attempts) };
                *maybe_created = exists;
            }
            next.last_error = Some(format!("CreateWorkspaces: {code}: {message}"));
            next.updated_at = now;
            let step = Step::write(Write::Update(next));
            Some(if !exists && (attempts == 3 || attempts % 10 == 0) {
                step.then(Action::Notify(Notice {
                    desk: record.desk.clone(),
                    subject: format!("blankslate: re-creating {} keeps failing", record.desk),
                    message: format!(
                        "CreateWorkspaces was refused {attempts} times for {}: {code}: {message}. \
                         blankslate keeps retrying with back-off; check the bundle, directory and quotas.",
                        record.desk
                    ),
                }))
            } else {
                step
            })
        }
    }
}

/// Splits items into calls of at most `size` (WorkSpaces takes 1 to 25 per call).
pub fn batches<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let size = size.clamp(1, crate::config::MAX_BATCH);
    let mut out = Vec::with_capacity(items.len().div_ceil(size));
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        out.push(items.by_ref().take(size).collect());
    }
    out
}

// ---------------------------------------------------------------------------------------
// Admin requests (`blankslate rebuild`): the same path as a disconnect whose grace is over.

/// Why `blankslate rebuild` refuses to write a request for a desk.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Refusal {
    /// The user is connected (pass `--force` to terminate anyway).
    Connected,
    /// WorkSpaces cannot say whether the user is connected (and the WorkSpace is not
    /// stopped): the connection check cannot pass (pass `--force` to rebuild anyway).
    ConnectionUnknown,
    /// A rebuild of this desk is already under way.
    AlreadyRebuilding(&'static str),
    /// The WorkSpace is in a state that cannot be terminated now (e.g. SUSPENDED, PENDING).
    NotTerminable(WorkspaceState),
    /// The WorkSpace no longer matches the selector.
    NotSelected,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connected => write!(f, "the user is connected (S1); pass --force to terminate the session anyway"),
            Self::ConnectionUnknown => {
                write!(f, "the connection state is UNKNOWN, so S1 cannot be checked; pass --force to rebuild anyway")
            }
            Self::AlreadyRebuilding(phase) => write!(f, "a rebuild is already under way (phase {phase})"),
            Self::NotTerminable(state) => {
                write!(f, "the WorkSpace is {}, which cannot be terminated now; try again later", state.as_api_str())
            }
            Self::NotSelected => write!(f, "the WorkSpace no longer matches the stack's selector (S2)"),
        }
    }
}

/// The record `blankslate rebuild` writes (conditionally, at `record.version`) to ask
/// for an immediate rebuild: `Disconnected` with the grace period already over, and the
/// request. From there the reconciler takes the automatic path (fresh tags and selector
/// check, spec refresh, in-flight cap, terminate, create), with [`check_request`]
/// instead of the grace period's check. Checked here on what the caller read
/// just now; the reconciler checks again before terminating.
pub fn request_rebuild(
    now: Timestamp,
    config: &Config,
    record: &Record,
    desc: &WorkspaceDescription,
    spec_with_fresh_tags: &WorkspaceSpec,
    conn: &ConnectionObservation,
    force: bool,
) -> Result<Record, Refusal> {
    if record.phase.is_rebuilding() {
        return Err(Refusal::AlreadyRebuilding(record.phase.name()));
    }
    if !config.selector.matches(spec_with_fresh_tags) {
        return Err(Refusal::NotSelected);
    }
    if !desc.state.can_terminate() {
        return Err(Refusal::NotTerminable(desc.state));
    }
    if !force {
        match conn.state {
            ConnectionState::Connected => return Err(Refusal::Connected),
            ConnectionState::Unknown if desc.state != WorkspaceState::Stopped => {
                return Err(Refusal::ConnectionUnknown)
            }
            _ => {}
        }
    }
    let mut next =
        record.with_phase(Phase::Disconnected { workspace_id: desc.id.clone(), at: now - config.grace }, now);
    next.request = Some(RebuildRequest { workspace_id: desc.id.clone(), requested_at: now, force });
    Ok(next)
}

/// S1 for an admin request: the user must not be connected now nor have connected since
/// the request (the request, unlike an alarm, is timed exactly: no lag allowance). A
/// forced request skips the check, by the admin's explicit choice.
fn check_request(conn: &ConnectionObservation, state: WorkspaceState, request: &RebuildRequest) -> Verdict {
    if request.force {
        return Verdict::Gone;
    }
    match conn.state {
        ConnectionState::Connected => Verdict::Back,
        _ if conn.last_user_connection.is_some_and(|t| t > request.requested_at) => Verdict::LeftAgain,
        ConnectionState::Disconnected => Verdict::Gone,
        ConnectionState::Unknown if state == WorkspaceState::Stopped => Verdict::Gone,
        ConnectionState::Unknown => Verdict::Wait,
    }
}
