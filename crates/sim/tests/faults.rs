//! Events delivered twice, out of order, late or never; functions that die between
//! steps; bad events. The invariants hold and every rebuild still ends (L1).

use std::time::Duration;

use blankslate_core::events::{self, EmitContext};
use blankslate_core::journal::Phase;
use blankslate_core::reconcile::Write;
use blankslate_handlers::ports::Journal;
use blankslate_sim::{run_inline, scenarios, Function, HeldEvent, Outcome, Policy, Simulation};

const STEP: Duration = Duration::from_secs(60);

/// Runs a 150-desk office day, handing every minute's events to `meddle`, which returns
/// what is actually delivered (and in which order).
fn with_meddling(seed: u64, mut meddle: impl FnMut(u64, Vec<HeldEvent>) -> Vec<HeldEvent>) -> Outcome {
    let scenario = scenarios::office_day(150, seed).expect("scenario builds");
    let end = scenario.start + scenario.duration + scenario.settle;
    let mut sim = Simulation::new(scenario, Policy::Blankslate, seed);
    sim.hold_events = true;
    let mut minute = 0;
    while sim.now() < end {
        minute += 1;
        sim.run_until(sim.now() + STEP);
        for held in meddle(minute, sim.take_held()) {
            sim.deliver(held.function, &held.event);
        }
    }
    sim.finish()
}

fn assert_clean(o: &Outcome, what: &str) {
    assert!(o.violations.is_empty(), "{what}: {:#?}", o.violations);
    assert_eq!(o.metrics.lost_desktops, 0, "{what}");
    assert!(o.metrics.rebuilds > 100, "{what}: only {} rebuilds", o.metrics.rebuilds);
}

#[test]
fn every_event_delivered_twice() {
    let o = with_meddling(11, |_, held| held.iter().chain(held.iter()).cloned().collect());
    assert_clean(&o, "duplicated");
}

#[test]
fn events_delivered_in_reverse_order() {
    let o = with_meddling(12, |_, mut held| {
        held.reverse();
        held
    });
    assert_clean(&o, "reversed");
}

#[test]
fn events_delivered_ten_minutes_late() {
    let mut queue: Vec<(u64, HeldEvent)> = Vec::new();
    let o = with_meddling(13, |minute, held| {
        queue.extend(held.into_iter().map(|h| (minute + 10, h)));
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut queue).into_iter().partition(|(at, _)| *at <= minute);
        queue = later;
        due.into_iter().map(|(_, h)| h).collect()
    });
    assert_clean(&o, "late");
}

#[test]
fn no_event_ever_arrives() {
    // No CloudTrail, no alarm notification, no login event: the reconciler's sweeps
    // enrol the fleet and catch every disconnect on their own.
    let o = with_meddling(14, |_, _| Vec::new());
    assert_clean(&o, "dropped");
}

#[test]
fn only_the_disconnect_alarms_are_lost() {
    let o = with_meddling(15, |_, held| held.into_iter().filter(|h| h.function != Function::TermRebuild).collect());
    assert_clean(&o, "alarms lost");
}

#[test]
fn a_batch_create_event_enrols_every_workspace_in_it() {
    // Three managed desks created before the deploy; one CloudTrail event naming all
    // three (plus an unmanaged one) must enrol exactly the managed three.
    let mut scenario = scenarios::demo().expect("demo builds");
    for desk in &mut scenario.desks {
        desk.created_at = None;
    }
    let mut sim = Simulation::new(scenario, Policy::Blankslate, 1);
    sim.hold_events = true;
    let users = ["alice", "bob", "carol", "erin"];
    let (ids, event) = {
        let world = sim.aws().world();
        let pending: Vec<_> = users
            .iter()
            .filter_map(|u| world.workspace_of(u))
            .map(|(id, _, spec)| {
                (id.clone(), spec.directory_id.clone(), spec.user_name.to_string(), spec.bundle_id.to_string())
            })
            .collect();
        let ctx = EmitContext { account: "123456789012".into(), region: "us-east-1".into(), event_id: "e-1".into() };
        let ids: Vec<_> = pending.iter().map(|p| p.0.clone()).collect();
        (ids, events::cloudtrail_create_workspaces(&ctx, world.now, &pending, &[]))
    };
    assert_eq!(ids.len(), 4);
    sim.deliver(Function::AlarmCreate, &event);
    let world = sim.aws().world();
    let enrolled: Vec<String> = world.journal_records().map(|r| r.desk.user_name.to_string()).collect();
    assert_eq!(enrolled.len(), 3, "{enrolled:?}");
    for user in ["alice", "bob", "carol"] {
        assert!(enrolled.contains(&user.to_string()), "{user} not enrolled: {enrolled:?}");
    }
    let alarmed: Vec<_> = world.alarmed().cloned().collect();
    assert_eq!(alarmed.len(), 3);
    assert!(!alarmed.contains(&ids[3]), "erin (unmanaged) got an alarm");
}

#[test]
fn a_malformed_event_is_a_named_error_not_a_panic() {
    let mut sim = Simulation::new(scenarios::demo().expect("demo builds"), Policy::Blankslate, 1);
    let garbage = [
        serde_json::json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.workspaces", "detail": {"eventName": "CreateWorkspaces", "eventSource": "workspaces.amazonaws.com", "eventTime": "2026-11-23T08:00:00Z", "responseElements": {"pendingRequests": [{"workspaceId": 42}]}}}),
        serde_json::json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "not json"}}]}),
        serde_json::json!([1, 2, 3]),
    ];
    for (function, event) in
        [Function::AlarmCreate, Function::TermRebuild, Function::AlarmDelete].into_iter().zip(&garbage)
    {
        sim.deliver(function, event);
    }
    let o = sim.finish();
    let errors: Vec<_> = o.violations.iter().filter(|v| v.invariant == "handler").map(|v| v.detail.as_str()).collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].contains("workspaceId"), "{}", errors[0]);
    // The SNS garbage went to the alarm queue; Term_Rebuild failed it at every receive
    // until the redrive policy moved it to the dead-letter queue.
    assert!(errors.iter().any(|e| e.contains("dead-letter queue: not JSON: Records[0].body")), "{errors:?}");
    // Nothing else went wrong because of them.
    assert_eq!(o.violations.len(), 3, "{:#?}", o.violations);
}

/// Runs the demo to `hh:mm`, lets `crash` rewrite bob's journal record as a function
/// that died mid-rebuild would have left it, then runs to the end.
fn crash_demo(hh: u64, mm: u64, crash: impl FnOnce(&Simulation)) -> Outcome {
    let scenario = scenarios::demo().expect("demo builds");
    let at = scenario.start + Duration::from_secs(hh * 3600 + mm * 60) - Duration::from_secs(7 * 3600 + 30 * 60);
    let mut sim = Simulation::new(scenario, Policy::Blankslate, 1);
    sim.run_until(at);
    crash(&sim);
    sim.finish()
}

fn bob_record(sim: &Simulation) -> blankslate_core::journal::Record {
    sim.aws().world().journal_records().find(|r| r.desk.user_name.as_str() == "bob").cloned().expect("bob is enrolled")
}

#[test]
fn a_function_that_died_after_writing_its_terminate_intent_is_finished_by_the_next() {
    // 11:05: bob left at 11:00. Pretend a reconciler wrote "Terminating" and died before
    // calling TerminateWorkspaces: the WorkSpace is untouched, the journal says otherwise.
    let o = crash_demo(11, 5, |sim| {
        let record = bob_record(sim);
        let Phase::Disconnected { workspace_id, at } = record.phase.clone() else { panic!("bob: {:?}", record.phase) };
        let now = sim.now();
        let phase =
            Phase::Terminating { workspace_id, disconnected_at: at, started_at: now, requested_at: now, attempts: 1 };
        let written = run_inline(sim.aws().write(&Write::Update(record.with_phase(phase, now))));
        assert!(matches!(written, Some(Ok(Some(_)))), "{written:?}");
    });
    assert!(o.violations.is_empty(), "{:#?}", o.violations);
    assert_eq!(o.metrics.lost_desktops, 0);
    let bob_rebuilds = o
        .timeline
        .iter()
        .filter(|e| e.user == "bob" && matches!(e.kind, blankslate_sim::timeline::EntryKind::Rebuilt { .. }))
        .count();
    assert_eq!(bob_rebuilds, 2, "bob's rebuilds");
}

#[test]
fn a_function_that_died_after_creating_adopts_instead_of_creating_twice() {
    // 11:30: bob's new WorkSpace exists. Pretend the create's answer was never recorded:
    // the journal still says "Creating, maybe created". The next tick must look the desk
    // up and adopt it; a second create would be an S4 violation in the simulator.
    let o = crash_demo(11, 30, |sim| {
        let record = bob_record(sim);
        let Phase::Active { workspace_id } = record.phase.clone() else { panic!("bob: {:?}", record.phase) };
        let now = sim.now();
        let phase = Phase::Creating {
            replaces: workspace_id,
            disconnected_at: now,
            started_at: now,
            attempts: 1,
            retry_at: now,
            maybe_created: true,
        };
        let written = run_inline(sim.aws().write(&Write::Update(record.with_phase(phase, now))));
        assert!(matches!(written, Some(Ok(Some(_)))), "{written:?}");
    });
    assert!(o.violations.is_empty(), "{:#?}", o.violations);
}
