//! The reconciler's decisions under sustained throttling: every rebuild that has started
//! finishes at any rate above zero (L1), and a throttled tick spends less next time.
//!
//! A table of single decisions first (what a throttled terminate or create leads to),
//! then ticks of the planner, the stages and the pacing against a toy API that answers
//! only the first `limit` calls of each tick: the rest are throttled, as a token bucket
//! that refills `limit` tokens between ticks does (a throttled call costs no token).

use std::collections::BTreeMap;

use blankslate_core::config::Config;
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::{Phase, Record};
use blankslate_core::observe::{ConnectionObservation, ConnectionState, WorkspaceDescription, WorkspaceState};
use blankslate_core::pacing::{Pacing, TickUse};
use blankslate_core::reconcile::{self, Action, Observations, Outcome, ReadPlan, Stage, Step, Write};
use blankslate_core::selector::Selector;
use blankslate_core::spec::{Tags, WorkspaceSpec};
use blankslate_core::Timestamp;

/// 2026-01-01T00:00:00Z.
const BASE: i64 = 1_767_225_600_000;

fn t(minute: i64) -> Timestamp {
    Timestamp::from_millis(BASE + minute * 60_000)
}

fn tagged() -> Tags {
    Tags::from_pairs([("blankslate", "on")]).unwrap()
}

fn spec(n: usize) -> WorkspaceSpec {
    let mut s = WorkspaceSpec::new(
        DirectoryId::new("d-9067083b4b").unwrap(),
        UserName::new(format!("pupil{n:04}")).unwrap(),
        BundleId::new("wsb-vw0mb86zg").unwrap(),
    );
    s.tags = tagged();
    s
}

fn id(n: usize, generation: usize) -> WorkspaceId {
    WorkspaceId::new(format!("ws-{generation}{n:08}")).unwrap()
}

fn config() -> Config {
    let mut c = Config::new("tag:blankslate=on".parse::<Selector>().unwrap());
    c.max_in_flight_rebuilds = 100_000;
    c
}

fn creating(attempts: u32) -> Record {
    let mut r = Record::enrol(spec(0), id(0, 0), t(-60));
    r.phase = Phase::Creating {
        replaces: id(0, 0),
        disconnected_at: t(0),
        started_at: t(10),
        attempts,
        retry_at: t(20),
        maybe_created: true,
    };
    r
}

#[test]
fn a_throttled_call_is_retried_next_tick_without_back_off_or_notice() {
    let config = config();
    // A throttled create, at each attempt: retried at the next tick, the attempt not
    // counted, no look-up (nothing happened), no "keeps failing" notice. Before, each was
    // a refusal: 1, 2, 4 ... 30 minutes of back-off and a notice at the third.
    for attempts in [1, 3, 10, 30] {
        let step = reconcile::on_create_result(&creating(attempts), &Outcome::Deferred, t(20), &config).unwrap();
        let Some(Write::Update(next)) = &step.write else { panic!("attempt {attempts}: {step:?}") };
        let Phase::Creating { attempts: after, retry_at, maybe_created, .. } = next.phase else { panic!() };
        assert_eq!((after, maybe_created), (attempts - 1, false), "attempt {attempts}");
        assert!(retry_at > t(20) && retry_at <= t(21), "attempt {attempts}: retry at {retry_at:?}");
        assert!(step.actions.is_empty(), "attempt {attempts}: {:?}", step.actions);
    }
    // A throttled terminate did nothing: back to a due disconnect, re-checked next tick.
    let mut terminating = creating(0);
    terminating.phase = Phase::Terminating {
        workspace_id: id(0, 0),
        disconnected_at: t(0),
        started_at: t(10),
        requested_at: t(10),
        attempts: 1,
    };
    let next = reconcile::on_terminate_result(&terminating, &Outcome::Deferred, t(10)).unwrap();
    assert_eq!(next.phase, Phase::Disconnected { workspace_id: id(0, 0), at: t(0) });
}

#[test]
fn the_stages_read_the_rebuilds_under_way_before_anything_new() {
    let config = config();
    let mut records: Vec<Record> = (0..3).map(|n| Record::enrol(spec(n), id(n, 0), t(-60))).collect();
    records[0].phase = Phase::Disconnected { workspace_id: id(0, 0), at: t(-20) };
    records[1].phase = Phase::Terminating {
        workspace_id: id(1, 0),
        disconnected_at: t(-30),
        started_at: t(-20),
        requested_at: t(-20),
        attempts: 1,
    };
    records[2].phase = Phase::Creating {
        replaces: id(2, 0),
        disconnected_at: t(-30),
        started_at: t(-20),
        attempts: 1,
        retry_at: t(-1),
        maybe_created: false,
    };
    let plan = reconcile::plan_reads_within(t(0), &config, &records, false, 90);
    // (stage, describe, connections, tags)
    type Reads = Vec<WorkspaceId>;
    let cases: [(Stage, Reads, Reads, Reads); 3] = [
        (Stage::Creates, vec![], vec![], vec![]),
        // No connection read is planned for it: only a describe showing its terminate
        // lost calls for one (`lost_terminates`, read after the describes).
        (Stage::UnderWay, vec![id(1, 0)], vec![], vec![]),
        (Stage::New, vec![id(0, 0)], vec![id(0, 0)], vec![id(0, 0)]),
    ];
    for (stage, describe, connections, tags) in cases {
        let part = plan.for_stage(stage, &records);
        assert_eq!((part.describe, part.connections, part.tags), (describe, connections, tags), "{stage:?}");
    }
    // The first stage reads nothing and creates what is due.
    let creates = reconcile::decide_stage(t(0), &config, &records, &Observations::default(), Stage::Creates);
    let actions: Vec<&Action> = creates.steps.iter().flat_map(|s| &s.actions).collect();
    assert!(matches!(actions[..], [Action::Create(ref s)] if s.user_name == spec(2).user_name), "{actions:?}");
}

/// A toy WorkSpaces API: each tick answers its first `limit` calls; WorkSpaces take five
/// ticks to terminate. Users never come back.
struct Toy {
    limit: usize,
    left: usize,
    throttled: usize,
    /// WorkSpace -> the tick it is gone at (absent: present and AVAILABLE).
    going: BTreeMap<WorkspaceId, i64>,
    gone: Vec<WorkspaceId>,
    generation: BTreeMap<usize, usize>,
}

impl Toy {
    fn call(&mut self) -> bool {
        if self.left == 0 {
            self.throttled += 1;
            return false;
        }
        self.left -= 1;
        true
    }

    fn observe(&mut self, part: &ReadPlan, tick: i64, records: &[Record]) -> Observations {
        let mut obs = Observations::default();
        for chunk in part.describe.chunks(25) {
            if self.call() {
                obs.described.extend(chunk.iter().cloned());
                for ws in chunk.iter().filter(|ws| !self.gone.contains(ws)) {
                    let n = records.iter().position(|r| r.workspace_id() == Some(ws)).unwrap_or(0);
                    let state = match self.going.get(ws) {
                        Some(at) if tick >= *at => continue,
                        Some(_) => WorkspaceState::Terminating,
                        None => WorkspaceState::Available,
                    };
                    let mut s = spec(n);
                    s.tags = Tags::default();
                    obs.workspaces.insert(
                        ws.clone(),
                        WorkspaceDescription { id: ws.clone(), state, spec: s, computer_name: None },
                    );
                }
            }
        }
        // As the shell does: the re-checks of lost terminates, known from the describes.
        let mut connections = part.connections.clone();
        connections.extend(reconcile::lost_terminates(t(tick), &config(), records, &part.describe, &obs));
        for chunk in connections.chunks(25) {
            if self.call() {
                obs.connections.extend(chunk.iter().map(|ws| {
                    let conn = ConnectionObservation {
                        id: ws.clone(),
                        state: ConnectionState::Disconnected,
                        checked_at: Some(t(tick)),
                        last_user_connection: Some(t(-100)),
                    };
                    (ws.clone(), conn)
                }));
            }
        }
        // Tags come from the tagging API, whose limit is not the one under test.
        for ws in &part.tags {
            obs.tags.insert(ws.clone(), tagged());
        }
        assert!(part.desks.is_empty(), "no create answer is lost here");
        obs
    }
}

/// Applies a stored write to the toy journal.
fn store(records: &mut Vec<Record>, write: &Write) -> Record {
    let stored = Record { version: write.record().version + 1, ..write.record().clone() };
    match records.iter_mut().find(|r| r.desk == stored.desk) {
        Some(slot) => *slot = stored.clone(),
        None => records.push(stored.clone()),
    }
    stored
}

/// Runs `steps` as the shell does: write, then terminates and creates in calls of 25,
/// each answered or throttled, and the writes their outcomes call for.
fn execute(toy: &mut Toy, records: &mut Vec<Record>, steps: Vec<Step>, tick: i64, config: &Config) {
    let now = t(tick);
    let mut round = steps;
    while !round.is_empty() {
        let mut terminate = Vec::new();
        let mut create = Vec::new();
        for step in round.drain(..) {
            let Some(write) = &step.write else { continue };
            let stored = store(records, write);
            for action in step.actions {
                match action {
                    Action::Terminate(ws) => terminate.push((stored.clone(), ws)),
                    Action::Create(_) => create.push(stored.clone()),
                    _ => {}
                }
            }
        }
        for batch in terminate.chunks(25) {
            let answered = toy.call();
            for (record, ws) in batch {
                let outcome = if answered { Outcome::Accepted(()) } else { Outcome::Deferred };
                if answered {
                    toy.going.insert(ws.clone(), tick + 5);
                }
                if let Some(next) = reconcile::on_terminate_result(record, &outcome, now) {
                    store(records, &Write::Update(next));
                }
            }
        }
        for batch in create.chunks(25) {
            let answered = toy.call();
            for record in batch {
                let outcome = if answered {
                    let n: usize = record.desk.user_name.as_str()[5..].parse().unwrap();
                    let generation = toy.generation.entry(n).or_insert(0);
                    *generation += 1;
                    Outcome::Accepted(id(n, *generation))
                } else {
                    Outcome::Deferred
                };
                round.extend(reconcile::on_create_result(record, &outcome, now, config));
            }
        }
    }
    toy.gone.extend(toy.going.iter().filter(|(_, at)| tick >= **at).map(|(ws, _)| ws.clone()));
}

#[test]
fn every_started_rebuild_finishes_at_any_rate_and_the_rate_is_cut_when_throttled() {
    let config = config();
    // (desks disconnected at once, WorkSpaces calls the account answers a tick). A new
    // rebuild needs three answered calls in one tick (describe, connection re-check,
    // terminate; its tags come from the tagging API): below that none starts, which is
    // safe; at or above it every one finishes. A desk costs at most four calls (one each
    // when batches hold one item, the create included; about 0.16 when they hold 25), spent at the rate AIMD keeps (at least 0.7 of the limit once found): three
    // times that, plus the terminations' five ticks and the climb from the start rate.
    let cases = [(300, 1), (300, 3), (100, 8), (300, 15), (1000, 30), (1000, 120)];
    for (desks, limit) in cases {
        let ticks = (3 * desks * 4 / limit + 40) as i64;
        let mut took = ticks;
        let mut records: Vec<Record> = (0..desks)
            .map(|n| {
                let mut r = Record::enrol(spec(n), id(n, 0), t(-60));
                r.phase = Phase::Disconnected { workspace_id: id(n, 0), at: t(-20) };
                r
            })
            .collect();
        let mut toy =
            Toy { limit, left: 0, throttled: 0, going: BTreeMap::new(), gone: vec![], generation: BTreeMap::new() };
        let mut pacing = Pacing::start(t(0), config.api_budget_per_tick, config.reconcile_period);
        let mut budgets = Vec::new();
        for tick in 0..ticks {
            toy.left = toy.limit;
            let before = toy.throttled;
            let budget = pacing.budget(config.api_budget_per_tick, config.reconcile_period);
            budgets.push((budget, false));
            let plan = reconcile::plan_reads_within(t(tick), &config, &records, false, budget);
            let stages = Stage::ALL.map(|stage| (stage, plan.for_stage(stage, &records)));
            for (stage, part) in stages {
                let obs = toy.observe(&part, tick, &records);
                let decision = reconcile::decide_stage(t(tick), &config, &records, &obs, stage);
                execute(&mut toy, &mut records, decision.steps, tick, &config);
            }
            let throttled = toy.throttled - before;
            budgets.last_mut().unwrap().1 = throttled > 0;
            let used = TickUse { throttled, budget_bound: plan.budget_bound };
            pacing = pacing.after_tick(used, config.api_budget_per_tick, config.reconcile_period, t(tick + 1));
            if records.iter().all(|r| matches!(r.phase, Phase::Active { .. })) {
                took = tick + 1;
                break;
            }
        }
        let under_way = records.iter().filter(|r| r.phase.is_rebuilding()).count();
        assert_eq!(under_way, 0, "{desks} desks at {limit} calls a tick: {under_way} rebuilds started and unfinished");
        let rebuilt = records.iter().filter(|r| r.rebuilds == 1 && matches!(r.phase, Phase::Active { .. })).count();
        let expected = if limit < 3 { 0 } else { desks };
        println!("{desks} desks at {limit} calls a tick: {rebuilt} rebuilt in {took} ticks (allowed {ticks})");
        assert_eq!(rebuilt, expected, "{desks} desks at {limit} calls a tick, {ticks} ticks");
        // Never two WorkSpaces for a desk: each desk was created exactly once.
        assert!(toy.generation.values().all(|g| *g == 1), "{desks} desks at {limit}: a desk was created twice");
        // A throttled tick spends less next time, down to the floor.
        for pair in budgets.windows(2) {
            let ((before, throttled), (after, _)) = (pair[0], pair[1]);
            if throttled {
                assert!(after < before || after == blankslate_core::pacing::FLOOR_CALLS_PER_TICK, "{budgets:?}");
            }
        }
    }
}
