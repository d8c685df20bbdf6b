//! Property tests of the reconciler's decision (`blankslate_core::reconcile::decide`).
//!
//! Each case generates a small account: desks with or without a journal record (in every
//! phase, with times around the grace period and the retry windows), the WorkSpaces that
//! exist for them (any state, sometimes a replacement nobody told us about), connection
//! states with last-connection times, tags that opt in or out, and which of all that the
//! shell managed to read this tick. Then it checks what must hold whatever the inputs:
//!
//! - every Terminate and Create follows a journal write that announces it (durable intent);
//! - S1: a termination is backed by a connection state read this tick that says nobody is
//!   connected and nobody connected after the recorded disconnect, after the grace period;
//! - S2: nothing is terminated, created, alarmed or enrolled outside the selector, and no
//!   WorkSpace without a journal record is ever terminated;
//! - S3: a create carries the recorded spec, refreshed from AWS at termination;
//! - S4: at most one create per desk per tick, never while the desk may have one already;
//! - the in-flight cap holds, writes target distinct desks, every call fits in 25 items;
//! - replay: deciding again on the journal after this tick's writes, with the same
//!   observations, decides no new termination or creation; deciding twice is identical.
//!
//! The generated world respects AWS's own rule (one live WorkSpace per user and directory),
//! so a failure here is the reconciler's, not an impossible input's. A failing case is
//! shrunk by proptest and saved under `proptest-regressions/`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use blankslate_core::alarm::Listed;
use blankslate_core::config::{AlarmMode, Config, MAX_BATCH};
use blankslate_core::ids::{BundleId, DeskKey, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::{Phase, Record};
use blankslate_core::observe::{ConnectionObservation, ConnectionState, WorkspaceDescription, WorkspaceState};
use blankslate_core::reconcile::{self, batches, Action, Decision, Observations, Write};
use blankslate_core::spec::{Tags, WorkspaceSpec};
use blankslate_core::Timestamp;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestCaseError;

/// 2026-01-01T00:00:00Z.
const BASE: i64 = 1_767_225_600_000;
const MINUTE: i64 = 60_000;
const DIRECTORIES: [&str; 2] = ["d-9067083b4b", "d-1234567890"];
const BUNDLES: [&str; 2] = ["wsb-vw0mb86zg", "wsb-0123abcd9"];

const STATES: [WorkspaceState; 17] = [
    WorkspaceState::Pending,
    WorkspaceState::Available,
    WorkspaceState::Impaired,
    WorkspaceState::Unhealthy,
    WorkspaceState::Rebooting,
    WorkspaceState::Starting,
    WorkspaceState::Rebuilding,
    WorkspaceState::Restoring,
    WorkspaceState::Maintenance,
    WorkspaceState::AdminMaintenance,
    WorkspaceState::Terminating,
    WorkspaceState::Terminated,
    WorkspaceState::Suspended,
    WorkspaceState::Updating,
    WorkspaceState::Stopping,
    WorkspaceState::Stopped,
    WorkspaceState::Error,
];

const CONNECTION_STATES: [ConnectionState; 3] =
    [ConnectionState::Connected, ConnectionState::Disconnected, ConnectionState::Unknown];

// ---------------------------------------------------------------------------------------
// Generated inputs: plain numbers, so proptest shrinks them towards small worlds
// ---------------------------------------------------------------------------------------

/// A journal record, times in minutes before `now` (negative: a skewed clock's future).
#[derive(Clone, Debug)]
struct RecordGen {
    /// 0 Active, 1 Disconnected, 2 Terminating, 3 Creating.
    phase: u8,
    a: i64,
    b: i64,
    c: i64,
    attempts: u32,
    maybe_created: bool,
    since_ago: i64,
    version: u64,
}

/// One desk (user in a directory): its record, its WorkSpaces and what was read of them.
#[derive(Clone, Debug)]
struct DeskGen {
    record: Option<RecordGen>,
    /// Directory and bundle index.
    dir: usize,
    /// Opt-in tag now: 0 `blankslate=on`, 1 `blankslate=off`, 2 absent.
    tag: u8,
    /// State of the desk's known WorkSpace; `None`: it no longer exists.
    old: Option<usize>,
    /// State of a second WorkSpace for the desk that the journal does not know.
    replacement: Option<usize>,
    /// Connection state index and last user connection (minutes before now).
    conn: Option<(usize, Option<i64>)>,
    described: bool,
    tags_read: bool,
    desk_read: bool,
    alarmed: bool,
}

#[derive(Clone, Debug)]
struct ConfigGen {
    /// 0 tag, 1 directory, 2 all, 3 bundle.
    selector: u8,
    grace_min: u64,
    in_flight: usize,
    alarms: bool,
    batch: usize,
    retry_min: u64,
    visibility_min: u64,
    lag_min: u64,
}

#[derive(Clone, Debug)]
struct CaseGen {
    config: ConfigGen,
    /// Minutes after BASE.
    now_min: i64,
    fleet_listed: bool,
    alarms_listed: bool,
    desks: Vec<DeskGen>,
}

fn record_gen() -> impl Strategy<Value = RecordGen> {
    (0u8..4, -3i64..60, -3i64..60, -12i64..40, 0u32..12, any::<bool>(), -2i64..240, 1u64..6).prop_map(
        |(phase, a, b, c, attempts, maybe_created, since_ago, version)| RecordGen {
            phase,
            a,
            b,
            c,
            attempts,
            maybe_created,
            since_ago,
            version,
        },
    )
}

fn desk_gen() -> impl Strategy<Value = DeskGen> {
    let state = 0..STATES.len();
    (
        proptest::option::weighted(0.85, record_gen()),
        0usize..2,
        prop_oneof![4 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        proptest::option::weighted(0.85, state.clone()),
        proptest::option::weighted(0.25, state),
        proptest::option::weighted(0.8, (0..CONNECTION_STATES.len(), proptest::option::weighted(0.8, -1i64..120))),
        proptest::bool::weighted(0.8),
        proptest::bool::weighted(0.8),
        proptest::bool::weighted(0.7),
        any::<bool>(),
    )
        .prop_map(|(record, dir, tag, old, replacement, conn, described, tags_read, desk_read, alarmed)| DeskGen {
            record,
            dir,
            tag,
            old,
            replacement,
            conn,
            described,
            tags_read,
            desk_read,
            alarmed,
        })
}

fn config_gen() -> impl Strategy<Value = ConfigGen> {
    (0u8..4, 1u64..20, prop_oneof![1usize..6, Just(500)], any::<bool>(), 1usize..=MAX_BATCH, 1u64..6, 1u64..15, 0u64..8)
        .prop_map(|(selector, grace_min, in_flight, alarms, batch, retry_min, visibility_min, lag_min)| ConfigGen {
            selector,
            grace_min,
            in_flight,
            alarms,
            batch,
            retry_min,
            visibility_min,
            lag_min,
        })
}

fn case_gen(desks: std::ops::Range<usize>) -> impl Strategy<Value = CaseGen> {
    (config_gen(), 0i64..(24 * 60), any::<bool>(), any::<bool>(), proptest::collection::vec(desk_gen(), desks))
        .prop_map(|(config, now_min, fleet_listed, alarms_listed, desks)| CaseGen {
            config,
            now_min,
            fleet_listed,
            alarms_listed,
            desks,
        })
}

// ---------------------------------------------------------------------------------------
// From numbers to the reconciler's inputs
// ---------------------------------------------------------------------------------------

/// What `decide` is given.
#[derive(Clone, Debug)]
struct Case {
    now: Timestamp,
    config: Config,
    records: Vec<Record>,
    obs: Observations,
}

fn ws(desk: usize, which: &str) -> WorkspaceId {
    WorkspaceId::new(format!("ws-d{desk:04}{which}")).unwrap()
}

fn ago(now: Timestamp, minutes: i64) -> Timestamp {
    Timestamp::from_millis(now.as_millis() - minutes * MINUTE)
}

fn tags_of(tag: u8) -> Tags {
    match tag {
        0 => Tags::from_pairs([("blankslate", "on"), ("team", "physics")]).unwrap(),
        1 => Tags::from_pairs([("blankslate", "off"), ("team", "physics")]).unwrap(),
        _ => Tags::from_pairs([("team", "physics")]).unwrap(),
    }
}

/// The spec of desk `i` (no tags: DescribeWorkspaces does not return them).
fn spec_of(i: usize, dir: usize) -> WorkspaceSpec {
    WorkspaceSpec::new(
        DirectoryId::new(DIRECTORIES[dir]).unwrap(),
        UserName::new(format!("user{i}")).unwrap(),
        BundleId::new(BUNDLES[dir]).unwrap(),
    )
}

fn build_config(g: &ConfigGen) -> Config {
    let selector = match g.selector {
        0 => "tag:blankslate=on".to_owned(),
        1 => format!("directory:{}", DIRECTORIES[0]),
        2 => "all".to_owned(),
        _ => format!("bundle:{}", BUNDLES[1]),
    };
    let mut config = Config::new(selector.parse().unwrap());
    config.grace = Duration::from_secs(60 * g.grace_min);
    config.max_in_flight_rebuilds = g.in_flight;
    config.alarm_mode = if g.alarms { AlarmMode::PerWorkspace } else { AlarmMode::Off };
    config.batch_size = g.batch;
    config.terminate_retry_after = Duration::from_secs(60 * g.retry_min);
    config.visibility_window = Duration::from_secs(60 * g.visibility_min);
    config.alarm_lag_allowance = Duration::from_secs(60 * g.lag_min);
    config.validate().expect("generated configs are valid")
}

fn build(g: &CaseGen) -> Case {
    let now = Timestamp::from_millis(BASE + g.now_min * MINUTE);
    let config = build_config(&g.config);
    let mut records = Vec::new();
    let mut obs = Observations { fleet_listed: g.fleet_listed, ..Observations::default() };
    let mut alarms = BTreeSet::new();
    for (i, d) in g.desks.iter().enumerate() {
        let (old_id, new_id) = (ws(i, "old"), ws(i, "new"));
        let mut recorded = spec_of(i, d.dir);
        recorded.tags = tags_of(0); // enrolled while opted in
        if let Some(r) = &d.record {
            let mut record = Record::enrol(recorded.clone(), old_id.clone(), ago(now, r.since_ago));
            record.version = r.version;
            record.phase = match r.phase {
                0 => Phase::Active { workspace_id: old_id.clone() },
                1 => Phase::Disconnected { workspace_id: old_id.clone(), at: ago(now, r.a) },
                2 => Phase::Terminating {
                    workspace_id: old_id.clone(),
                    disconnected_at: ago(now, r.a),
                    started_at: ago(now, r.b),
                    requested_at: ago(now, r.c),
                    attempts: r.attempts,
                },
                _ => Phase::Creating {
                    replaces: old_id.clone(),
                    disconnected_at: ago(now, r.a),
                    started_at: ago(now, r.b),
                    attempts: r.attempts,
                    retry_at: ago(now, r.c),
                    maybe_created: r.maybe_created,
                },
            };
            records.push(record);
        }

        // The world: one live WorkSpace per desk at most (AWS's rule), plus going ones.
        let old = d.old.map(|s| STATES[s]);
        let old_live = old.is_some_and(|s| !s.is_going());
        let replacement = d.replacement.map(|s| STATES[s]).filter(|s| !old_live || s.is_going());
        let describe = |id: &WorkspaceId, state| WorkspaceDescription {
            id: id.clone(),
            state,
            spec: spec_of(i, d.dir),
            computer_name: None,
        };
        let present: Vec<WorkspaceDescription> = [(old_id.clone(), old), (new_id.clone(), replacement)]
            .into_iter()
            .filter_map(|(id, state)| state.map(|s| describe(&id, s)))
            .collect();

        // What this tick read of it.
        if g.fleet_listed {
            for w in &present {
                obs.workspaces.insert(w.id.clone(), w.clone());
            }
        } else if d.described {
            obs.described.insert(old_id.clone());
            if let Some(s) = old {
                obs.workspaces.insert(old_id.clone(), describe(&old_id, s));
            }
        }
        if d.tags_read {
            for w in &present {
                if w.id == old_id || g.fleet_listed {
                    obs.tags.insert(w.id.clone(), tags_of(d.tag));
                }
            }
        }
        if let (Some((state, last)), Some(_)) = (d.conn, old) {
            obs.connections.insert(
                old_id.clone(),
                ConnectionObservation {
                    id: old_id.clone(),
                    state: CONNECTION_STATES[state],
                    checked_at: Some(now),
                    last_user_connection: last.map(|m| ago(now, m)),
                },
            );
        }
        if d.desk_read {
            // DescribeWorkspaces by user: the live one if any, else one on its way out.
            let found = present.iter().find(|w| !w.state.is_going()).or(present.first()).cloned();
            obs.desks.insert(spec_of(i, d.dir).desk(), found);
        }
        if d.alarmed {
            alarms.insert(old_id);
        }
    }
    if g.alarms_listed {
        let owner = config.alarm_owner();
        obs.alarms = Some(alarms.into_iter().map(|workspace| Listed { workspace, owner: owner.clone() }).collect());
    }
    Case { now, config, records, obs }
}

// ---------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------

fn terminations(d: &Decision) -> Vec<&WorkspaceId> {
    d.steps
        .iter()
        .flat_map(|s| &s.actions)
        .filter_map(|a| if let Action::Terminate(id) = a { Some(id) } else { None })
        .collect()
}

fn creations(d: &Decision) -> Vec<&WorkspaceSpec> {
    d.steps
        .iter()
        .flat_map(|s| &s.actions)
        .filter_map(|a| if let Action::Create(spec) = a { Some(&**spec) } else { None })
        .collect()
}

/// The disconnect a record's rebuild answers, if it is in a phase that can terminate.
fn disconnect_of(record: &Record) -> Option<Timestamp> {
    match record.phase {
        Phase::Disconnected { at, .. } => Some(at),
        Phase::Terminating { disconnected_at, .. } => Some(disconnected_at),
        _ => None,
    }
}

/// The journal once the decision's writes are stored (the store bumps versions).
fn apply(records: &[Record], d: &Decision) -> Vec<Record> {
    let mut by_desk: BTreeMap<DeskKey, Record> = records.iter().map(|r| (r.desk.clone(), r.clone())).collect();
    for write in d.steps.iter().filter_map(|s| s.write.as_ref()) {
        let r = write.record();
        match write {
            Write::Insert(r) => {
                by_desk.insert(r.desk.clone(), Record { version: 1, ..r.clone() });
            }
            Write::Update(_) => {
                by_desk.insert(r.desk.clone(), Record { version: r.version + 1, ..r.clone() });
            }
            Write::Delete(_) => {
                by_desk.remove(&r.desk);
            }
        }
    }
    by_desk.into_values().collect()
}

fn check(case: &Case, d: &Decision) -> Result<(), TestCaseError> {
    let Case { now, config, records, obs } = case;
    let record_of_ws = |id: &WorkspaceId| records.iter().find(|r| r.workspace_id() == Some(id));
    let record_of_desk = |desk: &DeskKey| records.iter().find(|r| &r.desk == desk);

    // Writes target distinct desks: two conditional writes on one record in one tick
    // would have the second fail, or worse, both succeed from different versions.
    let mut written = BTreeSet::new();
    for w in d.steps.iter().filter_map(|s| s.write.as_ref()) {
        prop_assert!(written.insert(w.record().desk.clone()), "two writes for desk {}", w.record().desk);
    }

    for step in &d.steps {
        for action in &step.actions {
            match action {
                Action::Terminate(id) => {
                    // Durable intent: the step writes Terminating for this very WorkSpace.
                    let Some(Write::Update(next)) = &step.write else {
                        return Err(TestCaseError::fail(format!("terminate {id} without an update")));
                    };
                    prop_assert!(
                        matches!(&next.phase, Phase::Terminating { workspace_id, .. } if workspace_id == id),
                        "terminate {id} announced as {:?}",
                        next.phase
                    );
                    // S2: only a WorkSpace the journal manages.
                    let record = record_of_ws(id);
                    prop_assert!(record.is_some(), "terminate {id}, which has no journal record");
                    let record = record.unwrap();
                    let disconnected = disconnect_of(record);
                    prop_assert!(disconnected.is_some(), "terminate {id} from phase {:?}", record.phase);
                    let disconnected = disconnected.unwrap();
                    // S1: after grace, on a connection state read now.
                    prop_assert!(*now >= disconnected + config.grace, "terminate {id} before grace ends");
                    let conn = obs.connections.get(id);
                    prop_assert!(conn.is_some(), "terminate {id} without reading its connection state");
                    let conn = conn.unwrap();
                    prop_assert_ne!(conn.state, ConnectionState::Connected, "terminate {} while connected", id);
                    if let Some(last) = conn.last_user_connection {
                        prop_assert!(
                            last <= disconnected - config.alarm_lag_allowance,
                            "terminate {id}: user connected at {last} after the disconnect at {disconnected}"
                        );
                    }
                    let desc = obs.workspaces.get(id);
                    prop_assert!(desc.is_some(), "terminate {id} without describing it");
                    let desc = desc.unwrap();
                    prop_assert!(desc.state.can_terminate(), "terminate {id} in state {}", desc.state);
                    if conn.state == ConnectionState::Unknown {
                        prop_assert_eq!(desc.state, WorkspaceState::Stopped, "UNKNOWN connection of {}", id);
                    }
                    if let Phase::Terminating { .. } = record.phase {
                        // A resent termination (the first call was lost) re-checks S1 above;
                        // S2 and S3 were checked when the rebuild started, and the spec to
                        // re-create stays the one recorded then.
                        prop_assert_eq!(&next.spec, &record.spec, "a resent terminate of {} changed the spec", id);
                        continue;
                    }
                    // S2 and S3 on freshly read tags: still opted in, and the spec to re-create
                    // is what exists now.
                    let tags = obs.tags.get(id);
                    prop_assert!(tags.is_some(), "terminate {id} without reading its tags");
                    let mut fresh = desc.spec.clone();
                    fresh.tags = tags.unwrap().clone();
                    prop_assert!(config.selector.matches(&fresh), "terminate {id}, which the selector excludes");
                    prop_assert_eq!(&next.spec, &fresh, "terminate {} records a stale spec", id);
                }
                Action::Create(spec) => {
                    let Some(Write::Update(next)) = &step.write else {
                        return Err(TestCaseError::fail(format!("create for {} without an update", spec.desk())));
                    };
                    prop_assert!(
                        matches!(next.phase, Phase::Creating { maybe_created: true, .. }),
                        "create announced as {:?}",
                        next.phase
                    );
                    // S3: exactly the recorded spec, of a desk the journal manages.
                    let record = record_of_desk(&spec.desk());
                    prop_assert!(record.is_some(), "create for {}, which has no record", spec.desk());
                    let record = record.unwrap();
                    prop_assert_eq!(&record.spec, &**spec, "create differs from the recorded spec");
                    prop_assert_eq!(&next.spec, &**spec);
                    // S4: only when the old WorkSpace is known gone, or a lost answer was
                    // checked by looking the desk up and finding nothing.
                    match &record.phase {
                        Phase::Terminating { workspace_id, .. } => {
                            let gone = !obs.workspaces.contains_key(workspace_id)
                                && (obs.fleet_listed || obs.described.contains(workspace_id));
                            prop_assert!(gone, "create while {workspace_id} was not seen gone");
                        }
                        Phase::Creating { retry_at, maybe_created, .. } => {
                            prop_assert!(*now >= *retry_at, "create before its retry time");
                            if *maybe_created {
                                prop_assert_eq!(
                                    obs.desks.get(&record.desk),
                                    Some(&None),
                                    "create for {} without looking the desk up",
                                    &record.desk
                                );
                            }
                        }
                        other => prop_assert!(false, "create from phase {:?}", other),
                    }
                }
                Action::PutAlarm(id) => {
                    prop_assert_eq!(config.alarm_mode, AlarmMode::PerWorkspace, "alarm {} in alarm-free mode", id);
                }
                Action::DeleteAlarm(_) | Action::DeleteLegacyAlarm(_) | Action::Notify(_) => {}
            }
        }
        // Releasing a desk never touches its WorkSpace.
        if let Some(Write::Delete(_)) = &step.write {
            prop_assert!(step.actions.iter().all(|a| matches!(a, Action::DeleteAlarm(_))), "{:?}", step.actions);
        }
        // S2 for enrolment: only opted-in WorkSpaces, judged on tags that were read.
        if let Some(Write::Insert(r)) = &step.write {
            prop_assert!(record_of_desk(&r.desk).is_none(), "insert over an existing record of {}", r.desk);
            prop_assert!(config.selector.matches(&r.spec), "enrolled {}, which the selector excludes", r.desk);
            let id = r.workspace_id().unwrap();
            if config.selector.needs_tags() {
                prop_assert_eq!(obs.tags.get(id), Some(&r.spec.tags), "enrolled {} on unread tags", id);
            }
            let desc = obs.workspaces.get(id);
            prop_assert!(desc.is_some_and(|w| !w.state.is_going()), "enrolled {id}, not seen alive");
        }
    }

    // S4: one create per desk per tick.
    let mut created = BTreeSet::new();
    for spec in creations(d) {
        prop_assert!(created.insert(spec.desk()), "two creates for {}", spec.desk());
    }

    // PutAlarm only for a WorkSpace that is managed once the writes are stored.
    let after = apply(records, d);
    let managed: BTreeSet<&WorkspaceId> = after.iter().filter_map(Record::workspace_id).collect();
    for step in &d.steps {
        for action in &step.actions {
            if let Action::PutAlarm(id) = action {
                prop_assert!(managed.contains(id), "alarm on {id}, which is not managed");
            }
        }
    }

    // In-flight cap: new rebuilds start only below it (existing ones may exceed it).
    let before = records.iter().filter(|r| r.phase.is_rebuilding()).count();
    let started = d
        .steps
        .iter()
        .filter_map(|s| s.write.as_ref())
        .filter(|w| matches!(w.record().phase, Phase::Terminating { .. }))
        .filter(|w| record_of_desk(&w.record().desk).is_some_and(|r| !r.phase.is_rebuilding()))
        .count();
    prop_assert!(
        started <= config.max_in_flight_rebuilds.saturating_sub(before),
        "{started} rebuilds started with {before} in flight and a cap of {}",
        config.max_in_flight_rebuilds
    );

    // Batches: each TerminateWorkspaces / CreateWorkspaces call carries 1 to 25 items,
    // no WorkSpace twice.
    let terminate: Vec<WorkspaceId> = terminations(d).into_iter().cloned().collect();
    let unique: BTreeSet<&WorkspaceId> = terminate.iter().collect();
    prop_assert_eq!(unique.len(), terminate.len(), "a WorkSpace terminated twice in one tick");
    check_batches(terminate, config.batch_size)?;
    check_batches(creations(d), config.batch_size)?;
    Ok(())
}

/// The shell splits calls with `reconcile::batches`: 1 to `min(size, 25)` items each,
/// nothing lost, nothing reordered.
fn check_batches<T: Clone + PartialEq + std::fmt::Debug>(items: Vec<T>, size: usize) -> Result<(), TestCaseError> {
    let calls = batches(items.clone(), size);
    for call in &calls {
        prop_assert!(!call.is_empty() && call.len() <= MAX_BATCH.min(size.max(1)), "a call of {} items", call.len());
    }
    prop_assert_eq!(calls.into_iter().flatten().collect::<Vec<_>>(), items);
    Ok(())
}

/// What the shell reads: no ID twice (a wasted slot in a 25-ID call), within 25 per call,
/// and every due disconnect gets what its termination check needs.
fn check_reads(case: &Case, sweep: bool) -> Result<(), TestCaseError> {
    let plan = reconcile::plan_reads(case.now, &case.config, &case.records, sweep);
    for (what, ids) in [("describe", &plan.describe), ("connections", &plan.connections), ("tags", &plan.tags)] {
        let unique: BTreeSet<&WorkspaceId> = ids.iter().collect();
        prop_assert_eq!(unique.len(), ids.len(), "{} lists an ID twice", what);
        check_batches(ids.clone(), case.config.batch_size)?;
    }
    for record in &case.records {
        if let Phase::Disconnected { workspace_id, at } = &record.phase {
            if case.now >= *at + case.config.grace {
                for (what, ids) in
                    [("describe", &plan.describe), ("connections", &plan.connections), ("tags", &plan.tags)]
                {
                    prop_assert!(ids.contains(workspace_id), "due {workspace_id} not in {what}");
                }
            }
        }
    }
    Ok(())
}

/// `n` cases, or `PROPTEST_CASES` when set (for a longer search than CI's).
/// What the reconciler actually reads (`plan_reads_within`, the budgeted plan the shell
/// performs): no ID twice, nothing the unbudgeted plan would not read, and, on an ordinary
/// tick, reads plus the terminations and creations they can lead to within the budget, in
/// calls as the shell makes them (25 IDs per batched call, one call per DescribeTags and
/// per desk look-up).
fn check_budget(case: &Case, sweep: bool, budget: usize) -> Result<(), TestCaseError> {
    let (now, config, records) = (case.now, &case.config, &case.records);
    let plan = reconcile::plan_reads_within(now, config, records, sweep, budget);
    let full = reconcile::plan_reads(now, config, records, sweep);
    for (what, ids, all) in [
        ("describe", &plan.describe, &full.describe),
        ("connections", &plan.connections, &full.connections),
        ("tags", &plan.tags, &full.tags),
    ] {
        let unique: BTreeSet<&WorkspaceId> = ids.iter().collect();
        prop_assert_eq!(unique.len(), ids.len(), "{} lists an ID twice", what);
        prop_assert!(ids.iter().all(|id| all.contains(id)), "{what} reads more than the full plan");
    }
    prop_assert!(plan.desks.iter().all(|d| full.desks.contains(d)), "desk look-ups beyond the full plan");
    if plan.sweep {
        return Ok(()); // a listing's cost depends on the fleet, which the planner cannot see
    }
    let calls = |n: usize| n.div_ceil(MAX_BATCH);
    let reads = calls(plan.describe.len()) + calls(plan.connections.len()) + plan.desks.len();
    // Terminations: due disconnects read for one, and terminations overdue for a resend.
    let terminations = plan.tags.len() + records
        .iter()
        .filter(|r| matches!(&r.phase, Phase::Terminating { workspace_id, .. } if plan.connections.contains(workspace_id)))
        .count();
    // Creations: due creates, and terminations that may be found complete.
    let creations = records
        .iter()
        .filter(|r| match &r.phase {
            // A create whose answer was lost is made only after its desk look-up.
            Phase::Creating { retry_at, maybe_created, .. } => {
                now >= *retry_at && (!maybe_created || plan.desks.contains(&r.desk))
            }
            Phase::Terminating { workspace_id, .. } => plan.describe.contains(workspace_id),
            _ => false,
        })
        .count();
    // Due creates that need no read are decided whatever the budget (they come first);
    // when they alone fill it, nothing else may be planned.
    let due_creates = records
        .iter()
        .filter(|r| matches!(r.phase, Phase::Creating { retry_at, maybe_created: false, .. } if now >= retry_at))
        .count();
    if calls(due_creates) >= budget {
        prop_assert!(reads == 0 && terminations == 0, "{reads} reads planned beside {due_creates} due creates");
        return Ok(());
    }
    let total = reads + calls(terminations) + calls(creations);
    prop_assert!(
        total <= budget,
        "{total} calls planned for a budget of {budget}: {reads} reads ({} describe, {} connections, {} tags, {} desks), \
         {terminations} terminations, {creations} creations",
        plan.describe.len(),
        plan.connections.len(),
        plan.tags.len(),
        plan.desks.len()
    );
    Ok(())
}

fn cases(n: u32) -> ProptestConfig {
    let default = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_some() {
        default
    } else {
        ProptestConfig { cases: n, ..default }
    }
}

proptest! {
    #![proptest_config(cases(1000))]

    #[test]
    fn every_decision_keeps_the_invariants(g in case_gen(0..24)) {
        let case = build(&g);
        let d = reconcile::decide(case.now, &case.config, &case.records, &case.obs);
        check(&case, &d)?;
    }

    #[test]
    fn replaying_a_tick_decides_nothing_destructive(g in case_gen(0..24)) {
        let case = build(&g);
        let first = reconcile::decide(case.now, &case.config, &case.records, &case.obs);
        // Deterministic: a retried invocation decides the same, so its writes conflict
        // with the first one's and nothing runs twice.
        prop_assert_eq!(&reconcile::decide(case.now, &case.config, &case.records, &case.obs), &first);
        // Once the writes are stored, the same observations ask for nothing destructive.
        let replay = Case { records: apply(&case.records, &first), ..case.clone() };
        let second = reconcile::decide(replay.now, &replay.config, &replay.records, &replay.obs);
        // The one exception: a rebuild that ended in the first tick (the user came back, the
        // new WorkSpace was found) frees an in-flight slot, which the first tick, counting
        // from the journal it was given, did not yet use. Such a start is a new rebuild of
        // a desk the first tick held back at the cap, never a repeat.
        let terminated = terminations(&second);
        if !terminated.is_empty() {
            let written: BTreeSet<&DeskKey> =
                first.steps.iter().filter_map(|s| s.write.as_ref()).map(|w| &w.record().desk).collect();
            let rebuilding = |records: &[Record]| records.iter().filter(|r| r.phase.is_rebuilding()).count();
            let cap = case.config.max_in_flight_rebuilds;
            let started = |d: &Decision, records: &[Record]| {
                d.steps.iter().filter_map(|s| s.write.as_ref()).filter(|w| {
                    matches!(w.record().phase, Phase::Terminating { .. })
                        && records.iter().any(|r| r.desk == w.record().desk && !r.phase.is_rebuilding())
                }).count()
            };
            prop_assert_eq!(started(&first, &case.records), cap.saturating_sub(rebuilding(&case.records)),
                "replay terminates {:?} though the first tick was not held back by the cap", terminated);
            prop_assert!(rebuilding(&replay.records) < cap, "replay terminates {:?} at the cap", terminated);
            for id in terminated {
                let record = replay.records.iter().find(|r| r.workspace_id() == Some(id)).unwrap();
                prop_assert!(!written.contains(&record.desk), "replay terminates {} again", id);
                prop_assert!(matches!(record.phase, Phase::Disconnected { .. }), "replay resends to {}", id);
            }
        }
        prop_assert!(creations(&second).is_empty(), "replay creates for {:?}",
            creations(&second).iter().map(|s| s.desk()).collect::<Vec<_>>());
        check(&replay, &second)?;
    }

    #[test]
    fn read_plans_are_minimal_and_complete(g in case_gen(0..24), sweep in any::<bool>()) {
        check_reads(&build(&g), sweep)?;
    }

    #[test]
    fn budgeted_read_plans_stay_within_the_budget(g in case_gen(0..24), sweep in any::<bool>(), budget in 4usize..40) {
        check_budget(&build(&g), sweep, budget)?;
    }

    #[test]
    fn batches_never_exceed_25_and_keep_every_item(len in 0usize..200, size in 0usize..100) {
        check_batches((0..len).collect::<Vec<_>>(), size)?;
    }
}

proptest! {
    #![proptest_config(cases(200))]

    /// A rush: hundreds of due disconnects, a few rebuilds under way, a tight budget
    /// (the mixed worlds above rarely have enough due desks for the budget to bind).
    #[test]
    fn a_rush_stays_within_the_budget(
        due in 0usize..400,
        rebuilding in 0usize..30,
        config in config_gen(),
        budget in 4usize..150,
        minute in 0i64..(24 * 60),
    ) {
        let config = ConfigGen { in_flight: 500, ..config };
        let g = CaseGen {
            now_min: minute,
            fleet_listed: false,
            alarms_listed: false,
            desks: (0..due + rebuilding)
                .map(|i| DeskGen {
                    record: Some(RecordGen {
                        phase: if i < due { 1 } else { 2 + (i % 2) as u8 },
                        a: 30 + (i % 7) as i64,
                        b: 10,
                        c: (i % 5) as i64,
                        attempts: 1,
                        maybe_created: i % 3 == 0,
                        since_ago: 240,
                        version: 1,
                    }),
                    dir: i % 2,
                    tag: 0,
                    old: Some(1),
                    replacement: None,
                    conn: Some((1, Some(100))),
                    described: true,
                    tags_read: true,
                    desk_read: true,
                    alarmed: true,
                })
                .collect(),
            config,
        };
        check_budget(&build(&g), false, budget)?;
    }
}

/// A large tick still keeps the invariants (the in-flight cap, batching and the API budget
/// bind here).
#[test]
fn a_crowded_tick_keeps_the_invariants() {
    let mut runner = proptest::test_runner::TestRunner::new(cases(12));
    runner
        .run(&(case_gen(200..300), 4usize..120), |(g, budget)| {
            let case = build(&g);
            let d = reconcile::decide(case.now, &case.config, &case.records, &case.obs);
            check(&case, &d)?;
            check_budget(&case, false, budget)
        })
        .unwrap();
}

/// The generator reaches the decisions the properties are about: without this, a change
/// to the inputs could leave every property vacuously true.
#[test]
fn generated_ticks_reach_every_kind_of_decision() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seen = BTreeMap::<&str, u32>::new();
    for _ in 0..500 {
        let g = case_gen(0..24).new_tree(&mut runner).unwrap().current();
        let case = build(&g);
        let d = reconcile::decide(case.now, &case.config, &case.records, &case.obs);
        for step in &d.steps {
            let write = step.write.as_ref().map(|w| match (w, &w.record().phase) {
                (Write::Insert(_), _) => "enrol",
                (Write::Delete(_), _) => "release",
                (Write::Update(_), p) => p.name(),
            });
            for kind in write.into_iter().chain(step.actions.iter().map(|a| match a {
                Action::Terminate(_) => "terminate",
                Action::Create(_) => "create",
                Action::PutAlarm(_) => "put alarm",
                Action::DeleteAlarm(_) => "delete alarm",
                Action::DeleteLegacyAlarm(_) => "delete legacy alarm",
                Action::Notify(_) => "notify",
            })) {
                *seen.entry(kind).or_default() += 1;
            }
        }
    }
    for kind in ["enrol", "release", "active", "disconnected", "terminating", "creating", "terminate", "create"] {
        assert!(seen.get(kind).copied().unwrap_or(0) >= 20, "only {:?} of {kind} in {seen:?}", seen.get(kind));
    }
}

/// A deliberate damage to a case or its decision.
type Mutant = Box<dyn Fn(&mut Case, &mut Decision)>;

/// The checker itself fails on the violations it is meant to catch.
#[test]
fn the_checker_rejects_unsafe_decisions() {
    let g = CaseGen {
        config: ConfigGen {
            selector: 0,
            grace_min: 10,
            in_flight: 1,
            alarms: true,
            batch: 25,
            retry_min: 3,
            visibility_min: 10,
            lag_min: 5,
        },
        now_min: 600,
        fleet_listed: false,
        alarms_listed: false,
        desks: (0..2)
            .map(|_| DeskGen {
                record: Some(RecordGen {
                    phase: 1,
                    a: 30,
                    b: 0,
                    c: 0,
                    attempts: 0,
                    maybe_created: false,
                    since_ago: 120,
                    version: 1,
                }),
                dir: 0,
                tag: 0,
                old: Some(1),
                replacement: None,
                conn: Some((1, Some(60))),
                described: true,
                tags_read: true,
                desk_read: true,
                alarmed: true,
            })
            .collect(),
    };
    let case = build(&g);
    let good = reconcile::decide(case.now, &case.config, &case.records, &case.obs);
    check(&case, &good).unwrap();
    assert_eq!(terminations(&good).len(), 1, "the in-flight cap of 1 admits one of two due desks: {good:?}");

    let mutants: Vec<(&str, Mutant)> = vec![
        (
            "connected",
            Box::new(|c, _| c.obs.connections.values_mut().for_each(|o| o.state = ConnectionState::Connected)),
        ),
        (
            "came back",
            Box::new(|c, _| c.obs.connections.values_mut().for_each(|o| o.last_user_connection = Some(c.now))),
        ),
        ("opted out", Box::new(|c, _| c.obs.tags.values_mut().for_each(|t| *t = tags_of(1)))),
        ("before grace", Box::new(|c, _| c.config.grace = Duration::from_secs(3600))),
        ("no intent", Box::new(|_, d| d.steps.iter_mut().for_each(|s| s.write = None))),
        ("over the cap", Box::new(|c, _| c.config.max_in_flight_rebuilds = 0)),
        (
            "twice",
            Box::new(|_, d| {
                let step =
                    d.steps.iter().find(|s| s.actions.iter().any(|a| matches!(a, Action::Terminate(_)))).unwrap();
                let mut again = step.clone();
                again.write = None;
                d.steps.push(again);
            }),
        ),
    ];
    for (name, mutate) in mutants {
        let (mut c, mut d) = (case.clone(), good.clone());
        mutate(&mut c, &mut d);
        assert!(check(&c, &d).is_err(), "the checker accepted a decision that is wrong: {name}");
    }
}
