//! The model's open face (the one the WorkSpaces emulator serves): a fleet that grows with
//! creates, a clock moved from outside, users steered by hand, and what leaves the model.

use std::time::Duration;

use blankslate_core::ids::{BundleId, DirectoryId, UserName};
use blankslate_core::observe::{ConnectionState, WorkspaceState};
use blankslate_core::reconcile::RESOURCE_EXISTS;
use blankslate_core::spec::WorkspaceSpec;
use blankslate_core::Timestamp;
use blankslate_sim::scenario::{DurationDist, Timings};
use blankslate_sim::{Function, Metric, Output, SessionError, World};

fn spec(user: &str) -> WorkspaceSpec {
    WorkspaceSpec::new(
        DirectoryId::new("d-9067083b4b").unwrap(),
        UserName::new(user).unwrap(),
        BundleId::new("wsb-clj85qzj1").unwrap(),
    )
}

fn timings() -> Timings {
    let secs = |s| DurationDist::Fixed(Duration::from_secs(s));
    Timings {
        create: secs(20),
        terminate: secs(5),
        terminated_visible: Duration::from_secs(2),
        visibility_lag: secs(1),
        cloudtrail_delay: secs(3),
        metric_delay: Duration::ZERO,
        login_event_delay: secs(1),
    }
}

fn state_of(world: &World, id: &blankslate_core::ids::WorkspaceId) -> Option<(WorkspaceState, bool)> {
    world.views(None).find(|v| v.id == id).map(|v| (v.state, v.visible))
}

#[test]
fn an_open_world_runs_a_workspace_through_its_life_on_a_borrowed_clock() {
    let t0 = Timestamp::from_millis(1_700_000_000_000);
    let at = |s: u64| t0 + Duration::from_secs(s);
    let mut world = World::open(t0, timings(), 1);

    // A user the model never heard of gets a desk; the second create for it is refused.
    let answer = world.create_workspaces(&[spec("alice"), spec("alice")]).unwrap();
    assert_eq!(answer.pending.len(), 1);
    assert_eq!(answer.failed[0].code, RESOURCE_EXISTS);
    let id = answer.pending[0].1.clone();
    assert_eq!(state_of(&world, &id), Some((WorkspaceState::Pending, false)), "hidden for the visibility lag");
    assert!(world.take_outputs().is_empty(), "the CloudTrail event waits for its delay");

    world.advance_to(at(3));
    assert_eq!(state_of(&world, &id), Some((WorkspaceState::Pending, true)));
    match world.take_outputs().as_slice() {
        [Output::Deliver { function: Function::AlarmCreate, event, at: when }] => {
            assert_eq!(event["detail"]["eventName"], "CreateWorkspaces");
            assert_eq!(*when, at(3));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(world.connect(&id), Err(SessionError::NotAvailable(WorkspaceState::Pending)));

    world.advance_to(at(20));
    assert_eq!(state_of(&world, &id), Some((WorkspaceState::Available, true)));
    assert_eq!(world.connect(&id), Ok(true));
    assert_eq!(world.connect(&id), Ok(false), "already connected");
    assert_eq!(world.connection(&id).unwrap().state, ConnectionState::Connected);
    world.advance_to(at(21));
    let outputs = world.take_outputs();
    assert!(
        matches!(&outputs[0], Output::Datapoint { metric: Metric::ConnectionSuccess, at: when, .. } if *when == at(20))
    );
    assert!(
        matches!(&outputs[1], Output::Deliver { function: Function::TermRebuild, event, .. } if event["detail-type"] == "WorkSpaces Access")
    );

    world.disconnect(&id).unwrap();
    assert_eq!(world.disconnect(&id), Err(SessionError::NotConnected));
    let connection = world.connection(&id).unwrap();
    assert_eq!(connection.state, ConnectionState::Disconnected);
    assert_eq!(connection.last_user_connection, Some(at(20)));
    assert!(matches!(world.take_outputs().as_slice(), [Output::Datapoint { metric: Metric::SessionDisconnect, .. }]));

    // A slow termination for this WorkSpace only; the session of a connected user ends with it.
    assert!(world.set_terminate_after(&id, Some(Duration::from_secs(60))));
    world.connect(&id).unwrap();
    assert!(world.terminate_workspaces(std::slice::from_ref(&id)).unwrap().is_empty());
    assert_eq!(world.connection(&id).unwrap().state, ConnectionState::Disconnected);
    world.advance_to(at(21 + 59));
    assert_eq!(state_of(&world, &id).map(|s| s.0), Some(WorkspaceState::Terminating));
    world.advance_to(at(21 + 60));
    assert_eq!(state_of(&world, &id).map(|s| s.0), Some(WorkspaceState::Terminated));
    world.advance_to(at(21 + 62));
    assert_eq!(state_of(&world, &id), None, "gone");
    assert!(world.desk_workspace(&spec("alice").desk()).is_none());
    let delivered: Vec<Function> = world
        .take_outputs()
        .into_iter()
        .filter_map(|o| match o {
            Output::Deliver { function, .. } => Some(function),
            Output::Datapoint { .. } => None,
        })
        .collect();
    assert_eq!(delivered, [Function::TermRebuild, Function::AlarmDelete]);

    // The desk is free again.
    assert_eq!(world.create_workspaces(&[spec("alice")]).unwrap().pending.len(), 1);
}
