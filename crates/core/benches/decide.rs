//! The reconciler's decision on a 10,000-desk journal (`cargo bench -p blankslate-core`).
//!
//! The journal is a school at 15:45 on a rush day: most desks active, many users gone,
//! a third of those past their grace period, some rebuilds terminating or creating. Two
//! ticks are measured: an ordinary one (targeted reads only) and a sweep tick (the whole
//! fleet listed with its tags, connection states and alarms), plus the read planning that
//! precedes each. `cargo test --all-targets` runs every benchmark once on 100 desks.
//! Measured figures and the command are in docs/BENCHMARKS.md.

use blankslate_core::alarm::{Listed, Owner};
use blankslate_core::config::Config;
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::{Phase, Record};
use blankslate_core::observe::{ConnectionObservation, ConnectionState, WorkspaceDescription, WorkspaceState};
use blankslate_core::reconcile::{self, Observations};
use blankslate_core::spec::{Tags, WorkspaceSpec};
use blankslate_core::Timestamp;
use divan::{black_box, Bencher};

fn main() {
    divan::main();
}

const DESKS: usize = 10_000;

/// 1,000 and 10,000 desks under `cargo bench` (which passes `--bench`); 100 under
/// `cargo test`, which runs each benchmark once in a debug build as a smoke test.
fn sizes() -> Vec<usize> {
    if std::env::args().any(|arg| arg == "--bench") {
        vec![1_000, DESKS]
    } else {
        vec![100]
    }
}
/// 2026-11-23T15:45:00Z, a sweep instant (a multiple of 15 minutes).
const NOW: i64 = 1_795_448_700_000;
const MINUTE: i64 = 60_000;

struct Tick {
    now: Timestamp,
    config: Config,
    records: Vec<Record>,
    /// What an ordinary tick reads: the IDs its read plan names.
    targeted: Observations,
    /// What a sweep tick reads: everything.
    sweep: Observations,
}

fn at(minutes_ago: i64) -> Timestamp {
    Timestamp::from_millis(NOW - minutes_ago * MINUTE)
}

fn id(n: usize, generation: u8) -> WorkspaceId {
    WorkspaceId::new(format!("ws-{n:08}{generation}")).unwrap()
}

fn tags() -> Tags {
    Tags::from_pairs([("blankslate", "on"), ("class", "7b")]).unwrap()
}

fn spec(n: usize) -> WorkspaceSpec {
    let mut spec = WorkspaceSpec::new(
        DirectoryId::new("d-9067083b4b").unwrap(),
        UserName::new(format!("pupil{n:05}")).unwrap(),
        BundleId::new("wsb-vw0mb86zg").unwrap(),
    );
    spec.tags = tags();
    spec
}

/// 60% active, 30% disconnected (a third of them past grace), 5% terminating, 5% creating.
fn tick(desks: usize) -> Tick {
    let now = at(0);
    let config = Config::new("tag:blankslate=on".parse().unwrap());
    let mut records = Vec::with_capacity(desks);
    let mut targeted = Observations::default();
    let mut sweep = Observations { fleet_listed: true, alarms: Some(Vec::new()), ..Observations::default() };
    for n in 0..desks {
        let ws = id(n, 0);
        let mut record = Record { version: 3, ..Record::enrol(spec(n), ws.clone(), at(8 * 60)) };
        let mut described = Some(WorkspaceState::Available);
        let mut connection = (ConnectionState::Connected, at(8 * 60 - 5));
        record.phase = match n % 20 {
            0..=11 => Phase::Active { workspace_id: ws.clone() },
            12..=17 => {
                let gone_for = if n % 20 < 14 { 12 + (n % 7) as i64 } else { (n % 9) as i64 };
                connection = (ConnectionState::Disconnected, at(gone_for + 30));
                Phase::Disconnected { workspace_id: ws.clone(), at: at(gone_for) }
            }
            18 => {
                described = (n % 40 == 18).then_some(WorkspaceState::Terminating);
                Phase::Terminating {
                    workspace_id: ws.clone(),
                    disconnected_at: at(20),
                    started_at: at(9),
                    requested_at: at(4),
                    attempts: 1,
                }
            }
            _ => {
                described = None;
                Phase::Creating {
                    replaces: ws.clone(),
                    disconnected_at: at(25),
                    started_at: at(14),
                    attempts: 1,
                    retry_at: at(1),
                    maybe_created: n % 40 == 19,
                }
            }
        };
        let description = described.map(|state| {
            let mut spec = spec(n);
            spec.tags = Tags::default();
            WorkspaceDescription { id: ws.clone(), state, spec, computer_name: None }
        });
        let conn = ConnectionObservation {
            id: ws.clone(),
            state: connection.0,
            checked_at: Some(now),
            last_user_connection: Some(connection.1),
        };
        if let Some(d) = &description {
            sweep.workspaces.insert(ws.clone(), d.clone());
            sweep.tags.insert(ws.clone(), tags());
            sweep.connections.insert(ws.clone(), conn.clone());
            sweep.alarms.as_mut().unwrap().push(Listed { workspace: ws.clone(), owner: Owner::Legacy });
        }
        if let Phase::Creating { maybe_created: true, .. } = record.phase {
            sweep.desks.insert(record.desk.clone(), None);
        }
        records.push(record);
        // The ordinary tick reads what its plan names (below).
        if let Some(d) = description {
            targeted.workspaces.insert(ws.clone(), d);
        }
        targeted.connections.insert(ws.clone(), conn);
    }
    let plan = reconcile::plan_reads(now, &config, &records, false);
    targeted.workspaces.retain(|id, _| plan.describe.contains(id));
    targeted.connections.retain(|id, _| plan.connections.contains(id));
    targeted.described = plan.describe.iter().cloned().collect();
    targeted.tags = plan.tags.iter().map(|id| (id.clone(), tags())).collect();
    targeted.desks = plan.desks.iter().map(|desk| (desk.clone(), None)).collect();
    Tick { now, config, records, targeted, sweep }
}

#[divan::bench(args = sizes())]
fn plan_reads(bencher: Bencher, desks: usize) {
    let t = tick(desks);
    bencher.bench_local(|| reconcile::plan_reads(t.now, &t.config, black_box(&t.records), false));
}

#[divan::bench(args = sizes())]
fn decide_ordinary_tick(bencher: Bencher, desks: usize) {
    let t = tick(desks);
    let d = reconcile::decide(t.now, &t.config, &t.records, &t.targeted);
    assert!(d.steps.len() > desks / 20, "the journal should keep the reconciler busy: {} steps", d.steps.len());
    bencher.bench_local(|| reconcile::decide(t.now, &t.config, black_box(&t.records), black_box(&t.targeted)));
}

#[divan::bench(args = sizes())]
fn decide_sweep_tick(bencher: Bencher, desks: usize) {
    let t = tick(desks);
    bencher.bench_local(|| reconcile::decide(t.now, &t.config, black_box(&t.records), black_box(&t.sweep)));
}
