//! What `blankslate status` says about each desk: its next action and when.
//!
//! The next action is derived from the same rules the reconciler applies
//! ([`crate::reconcile`]): the grace period, the alarm lag allowance, the in-flight cap,
//! the terminate retry and create back-off, the sweep schedule ([`is_sweep_tick`]). It is
//! a forecast from what was read just now, not a promise: the reconciler re-reads the
//! connection state right before terminating (S1), so "terminates in 4 min" always means
//! "unless the user reconnects".
//!
//! [`is_sweep_tick`]: crate::reconcile::is_sweep_tick

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use crate::config::{AlarmMode, Config};
use crate::ids::WorkspaceId;
use crate::journal::{Phase, Record};
use crate::observe::{ConnectionObservation, ConnectionState, WorkspaceDescription, WorkspaceState};
use crate::pacing::Pacing;
use crate::reconcile::{due_check, Verdict};
use crate::spec::Tags;
use crate::time::{human_duration, Timestamp};

/// What will happen to a desk next.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NextKind {
    /// Nothing until the user disconnects (and stays away for the grace period).
    AwaitDisconnect,
    /// The user is disconnected but the journal does not know yet: a sweep (or, alarm-free,
    /// the next run) records it and starts the grace period.
    RecordDisconnect,
    /// Terminated (then re-created) when the grace period ends, unless the user reconnects.
    Terminate,
    /// The user is connected: the WorkSpace is kept (at the next run, or when grace ends).
    Keep,
    /// The user came back after the disconnect and left again: the grace period restarts.
    RestartGrace,
    /// Due, but the in-flight cap is reached: waits for a rebuild to finish.
    WaitForSlot,
    /// Due, but the WorkSpace's state or connection state does not allow a terminate yet.
    WaitForState,
    /// Terminate sent: waiting for the WorkSpace to disappear (re-sent if it does not).
    ConfirmTerminated,
    /// The old WorkSpace is gone: create the new one.
    Create,
    /// A create may have succeeded unseen: look the desk up before creating again (S4).
    LookUp,
    /// Matches the selector but is not in the journal: enrolled by the next sweep.
    Enrol,
    /// No longer matches the selector: released (record and alarm dropped, WorkSpace kept).
    Release,
    /// Another stack's selector claims the WorkSpace too: neither starts a rebuild.
    Claimed,
}

/// The next action of one desk, with its time when the rules fix one.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct NextAction {
    /// What.
    pub kind: NextKind,
    /// Not before this instant (`None`: at the next run, or on an event).
    pub at: Option<Timestamp>,
    /// One line for people, e.g. "terminates in 4m00s (at 17:14:00) unless the user reconnects".
    pub text: String,
}

impl NextAction {
    fn new(kind: NextKind, at: Option<Timestamp>, text: impl Into<String>) -> Self {
        Self { kind, at, text: text.into() }
    }
}

/// One row of `blankslate status`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct DeskStatus {
    /// The current WorkSpace (none while the replacement is being created).
    pub workspace_id: Option<WorkspaceId>,
    /// The user.
    pub user: String,
    /// The directory.
    pub directory: String,
    /// The WorkSpace's state as described now (`None`: not found or not described).
    pub state: Option<WorkspaceState>,
    /// The connection state read now.
    pub connection: Option<ConnectionState>,
    /// The journal phase (`active`, `disconnected`, `terminating`, `creating`), or
    /// `unenrolled` for a selected WorkSpace the journal does not have yet.
    pub phase: &'static str,
    /// What happens next.
    pub next: NextAction,
    /// Completed rebuilds of this desk.
    pub rebuilds: u32,
    /// The last error met while rebuilding.
    pub last_error: Option<String>,
}

/// What was read for `blankslate status`: the journal, the whole fleet, connection states
/// of the managed WorkSpaces, and tags where the selector needs them.
#[derive(Clone, Debug, Default)]
pub struct StatusInput {
    /// Every journal record.
    pub records: Vec<Record>,
    /// Every WorkSpace described (DescribeWorkspaces without a filter).
    pub workspaces: Vec<WorkspaceDescription>,
    /// Connection states read now.
    pub connections: BTreeMap<WorkspaceId, ConnectionObservation>,
    /// Tags read now (for a tag selector: of the WorkSpaces not in the journal).
    pub tags: BTreeMap<WorkspaceId, Tags>,
    /// The reconciler's learned API rate, if one is stored.
    pub pacing: Option<Pacing>,
}

/// The WorkSpaces API rate the reconciler spends (`crate::pacing`), as `status` shows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct ApiRate {
    /// Calls the next tick may plan: the learned rate over the reconcile period.
    pub calls_per_tick: usize,
    /// The operator's ceiling (`BLANKSLATE_API_BUDGET`).
    pub ceiling: usize,
    /// When the rate last changed; `None` before the reconciler stored one (it starts at
    /// `pacing::START_PER_SECOND`).
    pub updated_at: Option<Timestamp>,
    /// Ticks in a row that met throttling (0 after a clean tick).
    pub throttled_ticks: u32,
}

impl ApiRate {
    fn of(config: &Config, pacing: Option<&Pacing>) -> Self {
        let (ceiling, period) = (config.api_budget_per_tick, config.reconcile_period);
        let start = Pacing::start(Timestamp::from_millis(0), ceiling, period);
        let pacing = pacing.unwrap_or(&start);
        Self {
            calls_per_tick: pacing.budget(ceiling, period),
            ceiling,
            updated_at: (pacing != &start).then_some(pacing.updated_at),
            throttled_ticks: pacing.throttled_ticks,
        }
    }
}

/// The whole answer of `blankslate status`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct FleetStatus {
    /// Managed desks (journal), then selected WorkSpaces awaiting enrolment.
    pub desks: Vec<DeskStatus>,
    /// WorkSpaces outside the selector: never touched.
    pub unmanaged: usize,
    /// WorkSpaces not in the journal whose tags were not read (a tag selector cannot tell
    /// whether they are selected): the next sweep enrols those that match.
    pub unchecked: usize,
    /// Rebuilds under way, and the cap.
    pub in_flight: usize,
    /// The in-flight cap.
    pub max_in_flight: usize,
    /// The next sweep (enrolment, missed disconnects, alarm repair).
    pub next_sweep: Timestamp,
    /// The WorkSpaces API rate the reconciler has learned.
    pub api_rate: ApiRate,
}

/// The first sweep tick at or after `now` ([`crate::reconcile::is_sweep_tick`] with a
/// non-empty journal): the start of the next sweep period, or `now` inside the first tick.
pub fn next_sweep(now: Timestamp, config: &Config) -> Timestamp {
    let sweep = config.sweep_period.as_millis().max(1) as i64;
    let tick = config.reconcile_period.as_millis() as i64;
    let into = now.as_millis().rem_euclid(sweep);
    if into < tick {
        now
    } else {
        Timestamp::from_millis(now.as_millis() - into + sweep)
    }
}

fn when(now: Timestamp, at: Timestamp) -> String {
    if at <= now {
        "at the next run".to_owned()
    } else {
        format!("in {} (at {})", human_duration(at.since(now)), at.clock_time())
    }
}

/// What the reconciler's connection check (`reconcile::due_check`) will say about a due
/// desk, and whether the WorkSpace can be terminated, as `decide_disconnected` asks.
enum Due {
    /// Connected: back to active.
    Keep,
    /// Connected since the disconnect (or the request) and gone again: grace restarts.
    Restart,
    /// Cannot decide yet.
    Wait(String),
    /// Terminated, if the in-flight cap admits it.
    Go,
}

fn due_verdict(
    config: &Config,
    record: &Record,
    at: Timestamp,
    desc: Option<&WorkspaceDescription>,
    conn: Option<&ConnectionObservation>,
) -> Due {
    let Some(desc) = desc else { return Due::Wait("the WorkSpace was not found".into()) };
    let Some(conn) = conn else { return Due::Wait("no connection state was read".into()) };
    match due_check(config, record, at, conn, desc.state) {
        Verdict::Back => Due::Keep,
        Verdict::LeftAgain => Due::Restart,
        Verdict::Wait => Due::Wait("connection state UNKNOWN".into()),
        Verdict::Gone if !desc.state.can_terminate() => {
            Due::Wait(format!("the WorkSpace is {}", desc.state.as_api_str()))
        }
        Verdict::Gone => Due::Go,
    }
}

/// Which of the due desks the in-flight cap admits this run, as `decide` orders them:
/// oldest disconnect first, each one that will be terminated taking a slot.
fn admitted(
    config: &Config,
    now: Timestamp,
    input: &StatusInput,
    by_id: &BTreeMap<&WorkspaceId, &WorkspaceDescription>,
) -> BTreeSet<WorkspaceId> {
    let records = &input.records;
    let mut slots =
        config.max_in_flight_rebuilds.saturating_sub(records.iter().filter(|r| r.phase.is_rebuilding()).count());
    let mut due: Vec<(Timestamp, &WorkspaceId, &Record)> = records
        .iter()
        .filter_map(|r| match &r.phase {
            Phase::Disconnected { workspace_id, at }
                if r.claimed_by.is_none() && (now >= *at + config.grace || r.live_request().is_some()) =>
            {
                Some((*at, workspace_id, r))
            }
            _ => None,
        })
        .collect();
    due.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut out = BTreeSet::new();
    for (at, id, record) in due {
        let go = matches!(due_verdict(config, record, at, by_id.get(id).copied(), input.connections.get(id)), Due::Go);
        if go && slots > 0 {
            slots -= 1;
            out.insert(id.clone());
        }
    }
    out
}

/// The next action of a journal desk. `desc` and `conn` are what was read now for its
/// current WorkSpace; `admitted` whether the in-flight cap lets it start a rebuild.
pub fn next_action(
    now: Timestamp,
    config: &Config,
    record: &Record,
    desc: Option<&WorkspaceDescription>,
    conn: Option<&ConnectionObservation>,
    admitted: bool,
) -> NextAction {
    let alarms = config.alarm_mode == AlarmMode::PerWorkspace;
    let connected = conn.is_some_and(|c| c.state == ConnectionState::Connected);
    let grace = human_duration(config.grace);
    if let (Some(stack), Phase::Active { .. } | Phase::Disconnected { .. }) = (&record.claimed_by, &record.phase) {
        return NextAction::new(
            NextKind::Claimed,
            None,
            format!(
                "held: stack {stack} manages this WorkSpace too; neither stack rebuilds it until one's selector \
                 leaves it out"
            ),
        );
    }
    match &record.phase {
        Phase::Active { .. } => {
            let used = conn.is_some_and(|c| c.last_user_connection.is_some_and(|t| t > record.workspace_since));
            if conn.is_some_and(|c| c.state == ConnectionState::Disconnected) && used {
                let at = if alarms { next_sweep(now, config) } else { now };
                let by = if alarms { "the alarm or the next sweep" } else { "the next run" };
                return NextAction::new(
                    NextKind::RecordDisconnect,
                    Some(at),
                    format!("user disconnected: {by} starts the {grace} grace period {}", when(now, at)),
                );
            }
            NextAction::new(NextKind::AwaitDisconnect, None, format!("rebuilt once the user leaves for {grace}"))
        }
        Phase::Disconnected { at, .. } => {
            let request = record.live_request();
            let due = if request.is_some() { now } else { *at + config.grace };
            let who = match request {
                Some(r) if r.force => " (admin request, --force: even if connected)",
                Some(_) => " (admin request)",
                None => "",
            };
            if due > now {
                let back =
                    conn.is_some_and(|c| c.last_user_connection.is_some_and(|t| t > *at - config.alarm_lag_allowance));
                return if connected {
                    NextAction::new(
                        NextKind::Keep,
                        Some(due),
                        format!("the user is back: kept when the grace period ends {}", when(now, due)),
                    )
                } else if back {
                    NextAction::new(
                        NextKind::RestartGrace,
                        Some(due),
                        format!("the user came back and left: the grace period restarts {}", when(now, due)),
                    )
                } else {
                    NextAction::new(
                        NextKind::Terminate,
                        Some(due),
                        format!("terminates {} unless the user reconnects{who}", when(now, due)),
                    )
                };
            }
            match due_verdict(config, record, *at, desc, conn) {
                Due::Keep => NextAction::new(NextKind::Keep, None, "kept at the next run: the user is connected again"),
                Due::Restart => NextAction::new(
                    NextKind::RestartGrace,
                    None,
                    "the user came back and left: the grace period restarts at the next run",
                ),
                Due::Wait(why) => NextAction::new(NextKind::WaitForState, None, format!("due, waiting: {why}")),
                Due::Go if !admitted => NextAction::new(
                    NextKind::WaitForSlot,
                    None,
                    format!("due, waiting for a rebuild slot (at most {} at once)", config.max_in_flight_rebuilds),
                ),
                Due::Go => NextAction::new(NextKind::Terminate, None, format!("terminates at the next run{who}")),
            }
        }
        Phase::Terminating { requested_at, .. } => {
            // The reconciler looks at a terminate once it has had time to show.
            let resend = *requested_at + config.terminate_retry_after;
            if desc.is_none() {
                return if resend > now {
                    NextAction::new(
                        NextKind::Create,
                        Some(resend),
                        format!(
                            "terminated: the new WorkSpace is created at the first run after {}",
                            resend.clock_time()
                        ),
                    )
                } else {
                    NextAction::new(NextKind::Create, None, "terminated: the new WorkSpace is created at the next run")
                };
            }
            let going = desc.is_some_and(|d| d.state.is_going());
            NextAction::new(
                NextKind::ConfirmTerminated,
                if going { None } else { Some(resend) },
                if going {
                    "terminating: created again once it is gone".to_owned()
                } else {
                    format!("terminate sent; re-checked and re-sent {} if still there", when(now, resend))
                },
            )
        }
        Phase::Creating { retry_at, maybe_created, attempts, .. } => {
            let at = (*retry_at > now).then_some(*retry_at);
            if *maybe_created {
                NextAction::new(
                    NextKind::LookUp,
                    at,
                    format!("create #{attempts} sent; looked up {} before any new create", when(now, *retry_at)),
                )
            } else {
                NextAction::new(NextKind::Create, at, format!("creates the new WorkSpace {}", when(now, *retry_at)))
            }
        }
    }
}

/// Every managed desk with its next action, the selected WorkSpaces awaiting enrolment,
/// and the count of unmanaged ones. Desks are sorted by directory and user.
pub fn fleet_status(now: Timestamp, config: &Config, input: &StatusInput) -> FleetStatus {
    let by_id: BTreeMap<&WorkspaceId, &WorkspaceDescription> = input.workspaces.iter().map(|d| (&d.id, d)).collect();
    let admitted = admitted(config, now, input, &by_id);
    let mut desks: Vec<DeskStatus> = input
        .records
        .iter()
        .map(|record| {
            let id = record.workspace_id();
            let desc = id.and_then(|id| by_id.get(id).copied());
            let conn = id.and_then(|id| input.connections.get(id));
            let mut next = next_action(now, config, record, desc, conn, id.is_some_and(|id| admitted.contains(id)));
            // A tag removed since enrolment: the reconciler releases the desk when it next
            // reads the tags (before terminating, or on a sweep).
            let tags = id.and_then(|id| input.tags.get(id));
            if let (Some(tags), Some(desc), Phase::Active { .. } | Phase::Disconnected { .. }) =
                (tags, desc, &record.phase)
            {
                let mut spec = desc.spec.clone();
                spec.tags = tags.clone();
                if !config.selector.matches(&spec) {
                    next = NextAction::new(NextKind::Release, None, "no longer selected: released (never terminated)");
                }
            }
            DeskStatus {
                workspace_id: id.cloned(),
                user: record.desk.user_name.as_str().to_owned(),
                directory: record.desk.directory_id.as_str().to_owned(),
                state: desc.map(|d| d.state),
                connection: conn.map(|c| c.state),
                phase: record.phase.name(),
                next,
                rebuilds: record.rebuilds,
                last_error: record.last_error.clone(),
            }
        })
        .collect();
    let journal_desks: BTreeSet<_> = input.records.iter().map(|r| r.desk.clone()).collect();
    let journal_ids: BTreeSet<&WorkspaceId> = input.records.iter().filter_map(|r| r.workspace_id()).collect();
    let sweep = next_sweep(now, config);
    let (mut unmanaged, mut unchecked) = (0, 0);
    for desc in &input.workspaces {
        if journal_ids.contains(&desc.id) || journal_desks.contains(&desc.spec.desk()) {
            continue; // the desk's current WorkSpace, or its replacement being created
        }
        let mut spec = desc.spec.clone();
        if let Some(tags) = input.tags.get(&desc.id) {
            spec.tags = tags.clone();
        }
        if config.selector.needs_tags() && !input.tags.contains_key(&desc.id) && !desc.state.is_going() {
            unchecked += 1;
            continue;
        }
        let selected = !desc.state.is_going() && config.selector.matches(&spec);
        if !selected {
            unmanaged += 1;
            continue;
        }
        desks.push(DeskStatus {
            workspace_id: Some(desc.id.clone()),
            user: desc.spec.user_name.as_str().to_owned(),
            directory: desc.spec.directory_id.as_str().to_owned(),
            state: Some(desc.state),
            connection: input.connections.get(&desc.id).map(|c| c.state),
            phase: "unenrolled",
            next: NextAction::new(
                NextKind::Enrol,
                Some(sweep),
                format!("enrolled by the next sweep ({})", when(now, sweep)),
            ),
            rebuilds: 0,
            last_error: None,
        });
    }
    desks.sort_by(|a, b| (&a.directory, &a.user).cmp(&(&b.directory, &b.user)));
    FleetStatus {
        desks,
        unmanaged,
        unchecked,
        in_flight: input.records.iter().filter(|r| r.phase.is_rebuilding()).count(),
        max_in_flight: config.max_in_flight_rebuilds,
        next_sweep: sweep,
        api_rate: ApiRate::of(config, input.pacing.as_ref()),
    }
}

/// How long until `at`, for JSON output (negative when past).
pub fn seconds_until(now: Timestamp, at: Timestamp) -> i64 {
    (at.as_millis() - now.as_millis()) / 1000
}

/// Parses `--since`: an RFC 3339 instant, or a duration back from `now` such as `90m`,
/// `12h`, `7d`, `2w`. The error says which forms are accepted.
pub fn parse_since(text: &str, now: Timestamp) -> Result<Timestamp, crate::ValidationError> {
    let text = text.trim();
    if let Ok(t) = Timestamp::parse(text) {
        return Ok(t);
    }
    let bad = || {
        crate::ValidationError::new(
            "--since",
            text,
            "expected an RFC 3339 time (2026-11-25T17:00:00Z) or a duration like 30m, 12h, 7d, 2w",
        )
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    Ok(now - Duration::from_secs(n.saturating_mul(unit_secs)))
}
