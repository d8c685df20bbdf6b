//! The reconciler's read plan under an API budget (`reconcile::plan_reads_within`): it
//! never plans more WorkSpaces calls than the budget, serves rebuilds under way first,
//! and in alarm-free mode covers every active desk within a bounded number of ticks.

use std::collections::BTreeSet;

use blankslate_core::config::{AlarmMode, Config, TagReads};
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::{Phase, Record};
use blankslate_core::reconcile::{plan_reads_within, ReadPlan, Stage};
use blankslate_core::selector::Selector;
use blankslate_core::spec::WorkspaceSpec;
use blankslate_core::Timestamp;

/// 2026-01-01T00:00:00Z.
const BASE: i64 = 1_767_225_600_000;

fn t(minute: i64) -> Timestamp {
    Timestamp::from_millis(BASE + minute * 60_000)
}

fn record(n: usize, phase: impl Fn(WorkspaceId) -> Phase) -> Record {
    let spec = WorkspaceSpec::new(
        DirectoryId::new("d-9067083b4b").unwrap(),
        UserName::new(format!("user{n:05}")).unwrap(),
        BundleId::new("wsb-clj85qzj1").unwrap(),
    );
    let id = WorkspaceId::new(format!("ws-{n:09}")).unwrap();
    let mut r = Record::enrol(spec, id.clone(), t(-600));
    r.phase = phase(id);
    r
}

fn config() -> Config {
    let mut c = Config::new("tag:blankslate".parse::<Selector>().unwrap());
    c.max_in_flight_rebuilds = 100_000;
    c
}

/// WorkSpaces calls the plan and the writes it can lead to take: batched reads and the
/// terminates and creates (one per due desk at most) in calls of 25, desk look-ups one
/// call each. Tags come from the tagging API and cost no WorkSpaces call.
fn calls(plan: &ReadPlan, creates: usize) -> usize {
    let terminates = plan.tags.len();
    plan.describe.len().div_ceil(25)
        + plan.connections.len().div_ceil(25)
        + plan.desks.len()
        + terminates.div_ceil(25)
        + creates.div_ceil(25)
}

#[test]
fn a_rush_of_due_disconnects_is_planned_within_the_budget_oldest_first() {
    let records: Vec<Record> = (0..5000)
        .map(|n| record(n, |id| Phase::Disconnected { workspace_id: id, at: t(-(n as i64 % 60) - 11) }))
        .collect();
    for budget in [4, 10, 90, 500] {
        let plan = plan_reads_within(t(0), &config(), &records, false, budget);
        assert!(calls(&plan, 0) <= budget, "budget {budget}: {} calls planned", calls(&plan, 0));
        assert!(!plan.tags.is_empty() || budget < 10, "budget {budget} planned nothing");
        // Oldest disconnects (largest n % 60) come first.
        let oldest = records.iter().map(|r| r.phase.clone()).filter_map(|p| match p {
            Phase::Disconnected { at, .. } => Some(at),
            _ => None,
        });
        let oldest = oldest.min().unwrap();
        if let Some(first) = plan.tags.first() {
            let r = records.iter().find(|r| r.workspace_id() == Some(first)).unwrap();
            assert!(matches!(r.phase, Phase::Disconnected { at, .. } if at == oldest));
        }
    }
}

#[test]
fn tags_read_one_by_one_are_counted_as_workspaces_calls() {
    // Without the tagging API every due desk's tags are a DescribeTags call: a plan that
    // left them out would overdraw the tick by one call per desk, and throttled tag reads
    // leave the desks undecided, tick after tick.
    let records: Vec<Record> =
        (0..60).map(|n| record(n, |id| Phase::Disconnected { workspace_id: id, at: t(-20) })).collect();
    let mut one_by_one = config();
    one_by_one.tag_reads = TagReads::OneByOne;
    for budget in [4, 10, 20, 90] {
        let plan = plan_reads_within(t(0), &one_by_one, &records, false, budget);
        let planned = calls(&plan, 0) + plan.tags.len();
        assert!(planned <= budget, "budget {budget}: {planned} calls planned");
        assert!(!plan.tags.is_empty(), "budget {budget} planned nothing");
    }
    // In bulk the same budget admits more desks: their tags cost no WorkSpaces call.
    let bulk = plan_reads_within(t(0), &config(), &records, false, 20);
    let single = plan_reads_within(t(0), &one_by_one, &records, false, 20);
    assert!(bulk.tags.len() > single.tags.len(), "{} vs {}", bulk.tags.len(), single.tags.len());
}

#[test]
fn rebuilds_under_way_are_served_before_new_ones() {
    let mut records: Vec<Record> =
        (0..3000).map(|n| record(n, |id| Phase::Disconnected { workspace_id: id, at: t(-20) })).collect();
    records.extend((3000..3100).map(|n| {
        record(n, |id| Phase::Terminating {
            workspace_id: id,
            disconnected_at: t(-30),
            started_at: t(-4),
            requested_at: t(-4),
            attempts: 1,
        })
    }));
    let plan = plan_reads_within(t(0), &config(), &records, false, 20);
    let terminating: BTreeSet<&WorkspaceId> = records[3000..].iter().filter_map(|r| r.workspace_id()).collect();
    assert!(terminating.iter().all(|id| plan.describe.contains(id)), "every terminating desk is confirmed");
    assert!(calls(&plan, 100) <= 20, "{} calls", calls(&plan, 100));
}

#[test]
fn alarm_free_mode_covers_every_active_desk_within_a_few_ticks() {
    let mut c = config();
    c.alarm_mode = AlarmMode::Off;
    let records: Vec<Record> = (0..10_000).map(|n| record(n, |id| Phase::Active { workspace_id: id })).collect();
    let mut seen = BTreeSet::new();
    let mut ticks = 0;
    while seen.len() < records.len() {
        let plan = plan_reads_within(t(ticks), &c, &records, false, c.api_budget_per_tick);
        assert!(calls(&plan, 0) <= c.api_budget_per_tick, "{} calls", calls(&plan, 0));
        seen.extend(plan.connections);
        ticks += 1;
        assert!(ticks <= 12, "only {} of 10,000 desks read in 12 ticks", seen.len());
    }
    // 10,000 desks at 25 per call within 90 calls a tick: about five ticks.
    assert!(ticks <= 8, "{ticks} ticks");
}

#[test]
fn the_sweep_waits_for_a_quiet_tick_and_keeps_to_its_share() {
    let quiet: Vec<Record> = (0..3000).map(|n| record(n, |id| Phase::Active { workspace_id: id })).collect();
    // (sweeps, beyond the budget): a listing of 121 calls does not fit in 90, and the rate
    // must not learn from the throttling it meets (`pacing`).
    let sweeps = |plan: ReadPlan| (plan.sweep, plan.sweep_over_budget);
    assert_eq!(sweeps(plan_reads_within(t(0), &config(), &quiet, true, 90)), (true, true), "nothing else to do: sweep");
    let mut busy = quiet.clone();
    busy[0].phase = Phase::Disconnected { workspace_id: busy[0].workspace_id().unwrap().clone(), at: t(-30) };
    assert_eq!(sweeps(plan_reads_within(t(15), &config(), &busy, true, 90)), (false, false), "a due rebuild first");
    assert_eq!(sweeps(plan_reads_within(t(60), &config(), &busy, true, 90)), (true, true), "every fourth turn anyway");
    let small = plan_reads_within(t(0), &config(), &busy[..100], true, 90);
    assert_eq!(sweeps(small), (true, false), "a small fleet's sweep fits");
    // The listing is its own last stage: after every other call of the tick.
    let plan = plan_reads_within(t(60), &config(), &busy, true, 90);
    assert_eq!(Stage::ALL.last(), Some(&Stage::Sweep));
    assert!(Stage::ALL.iter().filter(|s| plan.for_stage(**s, &busy).sweep).eq([&Stage::Sweep]));
    // 10,000 desks: a listing of 401 calls, at most 90 * 15 / 8 = 168 calls a sweep
    // period, so one sweep tick in three lists the fleet.
    let fleet: Vec<Record> = (0..10_000).map(|n| record(n, |id| Phase::Active { workspace_id: id })).collect();
    let sweeps = (0..9).filter(|k| plan_reads_within(t(15 * k), &config(), &fleet, true, 90).sweep).count();
    assert_eq!(sweeps, 3);
}

#[test]
fn a_terminate_is_confirmed_early_only_with_what_the_budget_leaves() {
    // Termination takes about five minutes: in a rush, describing WorkSpaces a minute
    // after their terminate would spend the calls due desks are waiting for.
    let c = config();
    let terminating = |n, requested| {
        record(n, move |id| Phase::Terminating {
            workspace_id: id,
            disconnected_at: t(-30),
            started_at: t(requested),
            requested_at: t(requested),
            attempts: 1,
        })
    };
    let recent: Vec<Record> = (0..50).map(|n| terminating(n, -1)).collect();
    let mut rush = recent.clone();
    rush.extend((50..3050).map(|n| record(n, |id| Phase::Disconnected { workspace_id: id, at: t(-20) })));
    let ids = |records: &[Record]| -> BTreeSet<WorkspaceId> {
        records.iter().filter_map(|r| r.workspace_id().cloned()).collect()
    };
    let recent_ids = ids(&recent);
    // A quiet tick confirms them at once; a budget-bound one spends its calls on due desks.
    let quiet = plan_reads_within(t(0), &c, &recent, false, 90);
    assert_eq!(quiet.describe.len(), 50);
    assert!(!quiet.budget_bound, "optional reads do not make a tick budget-bound");
    let busy = plan_reads_within(t(0), &c, &rush, false, 90);
    assert!(busy.describe.iter().all(|id| !recent_ids.contains(id)), "early confirmations in a budget-bound tick");
    assert!(!busy.tags.is_empty() && busy.budget_bound);
    // Once they have had time to show they come before any new work.
    let retry = c.terminate_retry_after.as_secs() as i64 / 60;
    let later = plan_reads_within(t(retry), &c, &rush, false, 90);
    assert!(recent_ids.iter().all(|id| later.describe.contains(id)));
    // No connection re-check and no resend are reserved in advance: four calls admit 50
    // (two describes, two creates), where a re-check and a resend each would admit 25.
    for plan in [quiet, later] {
        assert!(plan.connections.iter().all(|id| !recent_ids.contains(id)));
    }
    let small = plan_reads_within(t(retry), &c, &recent, false, 4);
    assert_eq!(small.describe.len(), 50);
}
