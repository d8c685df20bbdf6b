//! The demo's eight desks, one case each, checked on the timeline.

use blankslate_sim::timeline::{Actor, Entry, EntryKind};
use blankslate_sim::{run, scenarios, Outcome, Policy};

fn demo(policy: Policy) -> Outcome {
    run(scenarios::demo().expect("demo scenario builds"), policy, 1)
}

fn of<'a>(o: &'a Outcome, user: &str) -> Vec<&'a EntryKind> {
    o.timeline.iter().filter(|e: &&Entry| e.user == user).map(|e| &e.kind).collect()
}

fn count(kinds: &[&EntryKind], wanted: impl Fn(&EntryKind) -> bool) -> usize {
    kinds.iter().filter(|k| wanted(k)).count()
}

fn terminated_by_us(k: &EntryKind) -> bool {
    matches!(k, EntryKind::TerminateCalled { by: Actor::Blankslate })
}

#[test]
fn blankslate_handles_every_case_of_the_demo() {
    let o = demo(Policy::Blankslate);
    assert!(o.violations.is_empty(), "{:#?}", o.violations);

    // alice: two sessions, two rebuilds, each with the identical (encrypted, tagged) spec.
    let alice = of(&o, "alice");
    assert_eq!(count(&alice, |k| matches!(k, EntryKind::Created { by: Actor::Blankslate, same_spec: Some(true) })), 2);
    assert_eq!(count(&alice, |k| matches!(k, EntryKind::Connected { fresh: true })), 2);

    // bob: back 5 minutes after leaving: kept, then rebuilt only after his last session.
    let bob = of(&o, "bob");
    assert!(bob.contains(&&EntryKind::Kept), "{bob:?}");
    assert_eq!(count(&bob, |k| matches!(k, EntryKind::Connected { fresh: false })), 1);
    assert_eq!(count(&bob, terminated_by_us), 2);

    // dave: 30-minute terminations still end in a fresh desktop.
    let dave = of(&o, "dave");
    assert_eq!(count(&dave, |k| matches!(k, EntryKind::Rebuilt { .. })), 2);

    // erin is not opted in: never terminated, alarmed or enrolled.
    let erin = of(&o, "erin");
    assert_eq!(
        count(&erin, |k| matches!(k, EntryKind::TerminateCalled { .. } | EntryKind::AlarmArmed | EntryKind::Enrolled)),
        0
    );

    // frank predates the deploy, grace's create event was lost: the sweep enrols both.
    for user in ["frank", "grace"] {
        let kinds = of(&o, user);
        assert!(kinds.contains(&&EntryKind::Enrolled), "{user}: {kinds:?}");
        assert!(count(&kinds, terminated_by_us) >= 1, "{user} never rebuilt");
    }

    // heidi never logs in: enrolled, never rebuilt.
    let heidi = of(&o, "heidi");
    assert!(heidi.contains(&&EntryKind::Enrolled));
    assert_eq!(count(&heidi, terminated_by_us), 0);

    assert_eq!(o.metrics.sessions_missed, 0);
    assert_eq!(o.metrics.lost_desktops, 0);
}

#[test]
fn the_seed_baseline_shows_its_known_faults_on_the_same_day() {
    let o = demo(Policy::Seed);
    let broken = |invariant: &str, user: &str| {
        o.violations.iter().any(|v| v.invariant == invariant && v.detail.starts_with(&format!("{user}:")))
    };
    // Re-created from bundle, user and directory only: encryption and tags are lost.
    let s3 = o.violations.iter().find(|v| v.invariant == "S3").expect("the seed re-creates alice without her spec");
    assert!(s3.detail.contains("volume encryption") && s3.detail.contains("tags"), "{}", s3.detail);
    // A 30-minute termination: the re-create 4 minutes later fails and is never retried.
    assert!(broken("L1", "dave"), "{:#?}", o.violations);
    // It acts on every WorkSpace in the Region, opted in or not.
    assert!(broken("S2", "erin"), "{:#?}", o.violations);
    // It never alarms WorkSpaces that predate it or whose event was lost.
    assert_eq!(count(&of(&o, "frank"), |k| matches!(k, EntryKind::TerminateCalled { .. })), 0);
    assert!(o.metrics.lost_desktops >= 3);
}

#[test]
fn blankslate_costs_a_fraction_of_the_seeds_lambda_time() {
    let ours = demo(Policy::Blankslate);
    let seed = demo(Policy::Seed);
    let per_rebuild = |o: &Outcome| o.metrics.lambda_gb_seconds / o.metrics.rebuilds.max(1) as f64;
    assert!(
        per_rebuild(&seed) > 50.0 * per_rebuild(&ours),
        "seed {:.2} GB-s/rebuild vs ours {:.2}",
        per_rebuild(&seed),
        per_rebuild(&ours)
    );
}
