//! The simulated directory (issue 14): blankslate leaves no stale computer object, the
//! seed leaves one per rebuild, and the S5 checker catches a delete of an object that is
//! not the computer object of a WorkSpace the policy terminated.

use std::time::Duration;

use blankslate_core::directory::{CleanupItem, Outcome};
use blankslate_handlers::ports::Directory;
use blankslate_sim::{run, run_inline, scenarios, Policy, Simulation};

#[test]
fn blankslate_cleans_every_rebuild_up_and_the_seed_cleans_none() {
    let scenario = scenarios::office_day(200, 3).unwrap();
    let ours = run(scenario.clone(), Policy::Blankslate, 3);
    assert!(ours.violations.is_empty(), "{:#?}", ours.violations);
    assert!(ours.metrics.rebuilds > 100);
    assert_eq!(ours.metrics.stale_computer_objects, 0);
    assert_eq!(ours.metrics.computer_objects_deleted, ours.metrics.rebuilds, "one object per rebuild");
    let seed = run(scenario, Policy::Seed, 3);
    assert_eq!(seed.metrics.computer_objects_deleted, 0);
    assert!(seed.metrics.stale_computer_objects >= seed.metrics.rebuilds, "{:?}", seed.metrics.stale_computer_objects);
    assert!(seed.metrics.stale_computer_objects > 0);
}

#[test]
fn deleting_a_live_workspaces_object_is_an_s5_violation() {
    let scenario = scenarios::office_day(20, 1).unwrap();
    let mut sim = Simulation::new(scenario, Policy::Blankslate, 1);
    sim.run_until(sim.now() + Duration::from_secs(3600));
    let (desk, id) = {
        let world = sim.aws().world();
        let record = world.journal_records().next().expect("an enrolled desk").clone();
        (record.desk.clone(), record.workspace_id().cloned().expect("a current WorkSpace"))
    };
    let name = blankslate_sim::directory::computer_name_of(&id).unwrap();
    let item =
        CleanupItem { desk, workspace_id: id, computer_name: name, terminated_at: sim.now() + Duration::from_secs(60) };
    let outcomes = run_inline(sim.aws().delete_computers(&[item])).unwrap();
    assert!(matches!(outcomes[..], [Outcome::Deleted { .. }]), "{outcomes:?}");
    let o = sim.finish();
    assert!(o.violations.iter().any(|v| v.invariant == "S5"), "{:#?}", o.violations);
}
