//! `AwsWorkspaces` against our WorkSpaces emulator (the simulator's model served over
//! the real JSON 1.1 protocol) over HTTP on loopback: what moto cannot show — states
//! that take time, connection status, one WorkSpace per desk, pagination.

mod common;

use std::time::Duration;

use blankslate_aws::AwsWorkspaces;
use blankslate_core::ids::{BundleId, DeskKey, DirectoryId, UserName, WorkspaceId};
use blankslate_core::observe::{ConnectionState, WorkspaceState};
use blankslate_core::reconcile::RESOURCE_EXISTS;
use blankslate_core::spec::{ComputeType, Protocol, RunningMode, Tags, VolumeEncryption, WorkspaceSpec};
use blankslate_handlers::ports::Workspaces;

fn spec(user: &str) -> WorkspaceSpec {
    let mut spec = WorkspaceSpec::new(
        DirectoryId::new("d-9067083b4b").unwrap(),
        UserName::new(user).unwrap(),
        BundleId::new("wsb-clj85qzj1").unwrap(),
    );
    spec.encryption = VolumeEncryption::from_request_fields(Some("alias/workspaces"), true, true).unwrap();
    spec.properties.running_mode = Some(RunningMode::from_api("AUTO_STOP", Some(120)).unwrap());
    spec.properties.compute_type = Some(ComputeType::new("PERFORMANCE").unwrap());
    spec.properties.root_volume_size_gib = Some(80);
    spec.properties.user_volume_size_gib = Some(50);
    spec.properties.protocols = vec![Protocol::Wsp];
    spec.tags = Tags::from_pairs([("blankslate", "on"), ("team", user)]).unwrap();
    spec
}

async fn wait_for(ws: &AwsWorkspaces, id: &WorkspaceId, what: &str, done: impl Fn(Option<WorkspaceState>) -> bool) {
    for _ in 0..100 {
        let found = ws.describe(std::slice::from_ref(id)).await.expect("describe");
        if done(found.first().map(|d| d.state)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{id} never became {what}");
}

#[tokio::test]
async fn a_rebuild_cycle_through_the_adapter() {
    let emulator = blankslate_emulator::start(blankslate_emulator::Options::default()).await.expect("emulator");
    let ws = AwsWorkspaces::new(&common::sdk_config(&emulator.url()).await);

    // Create three in one batch; the desk of each comes back with its new ID.
    let specs: Vec<WorkspaceSpec> = ["alice", "bob", "carol"].map(spec).into();
    let answer = ws.create(&specs).await.expect("create");
    assert!(answer.failed.is_empty(), "{answer:?}");
    assert_eq!(answer.pending.len(), 3);
    let alice = answer.pending.iter().find(|(d, _)| d.user_name.as_str() == "alice").unwrap().1.clone();

    // Described with the full spec (tags come from DescribeTags).
    let described = ws.describe(&answer.pending.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>()).await.unwrap();
    assert_eq!(described.len(), 3);
    for desc in &described {
        let original = specs.iter().find(|s| s.desk() == desc.spec.desk()).unwrap();
        let mut with_tags = desc.spec.clone();
        with_tags.tags = ws.tags(&desc.id).await.expect("tags");
        assert_eq!(&with_tags, original, "{}", desc.id);
    }
    assert_eq!(ws.describe_all().await.unwrap().len(), 3);
    let desk =
        DeskKey { directory_id: DirectoryId::new("d-9067083b4b").unwrap(), user_name: UserName::new("bob").unwrap() };
    assert_eq!(ws.describe_desk(&desk).await.unwrap().map(|d| d.spec.user_name.to_string()), Some("bob".into()));

    // A second WorkSpace for a desk is refused per item.
    let again = ws.create(&specs[..1]).await.expect("create again");
    assert_eq!(again.failed.first().map(|f| f.code.as_str()), Some(RESOURCE_EXISTS), "{again:?}");

    // PENDING → AVAILABLE on the wall clock, then a session.
    wait_for(&ws, &alice, "AVAILABLE", |s| s == Some(WorkspaceState::Available)).await;
    emulator.with_world(|w| w.connect(&alice)).expect("connect");
    let conn = ws.connection_status(std::slice::from_ref(&alice)).await.unwrap();
    assert_eq!(conn[0].state, ConnectionState::Connected);
    let connected_at = conn[0].last_user_connection.expect("last connection");
    emulator.with_world(|w| w.disconnect(&alice)).expect("disconnect");
    let conn = ws.connection_status(std::slice::from_ref(&alice)).await.unwrap();
    assert_eq!((conn[0].state, conn[0].last_user_connection), (ConnectionState::Disconnected, Some(connected_at)));

    // Terminate: TERMINATING, then gone; then the desk can be re-created.
    assert!(ws.terminate(std::slice::from_ref(&alice)).await.unwrap().is_empty());
    wait_for(&ws, &alice, "gone", |s| s.is_none()).await;
    let rebuilt = ws.create(&specs[..1]).await.expect("re-create");
    assert_eq!(rebuilt.pending.len(), 1, "{rebuilt:?}");
    assert_ne!(rebuilt.pending[0].1, alice);

    // An unknown ID is a failed item, not an error.
    let ghost = WorkspaceId::new("ws-000000000").unwrap();
    let failed = ws.terminate(std::slice::from_ref(&ghost)).await.unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");

    emulator.shutdown().await;
}

#[tokio::test]
async fn describe_all_reads_every_page() {
    let emulator = blankslate_emulator::start(blankslate_emulator::Options::default()).await.expect("emulator");
    let ws = AwsWorkspaces::new(&common::sdk_config(&emulator.url()).await);
    let users: Vec<String> = (0..60).map(|n| format!("user{n:02}")).collect();
    for chunk in users.chunks(25) {
        let specs: Vec<WorkspaceSpec> = chunk.iter().map(|u| spec(u)).collect();
        assert_eq!(ws.create(&specs).await.unwrap().pending.len(), chunk.len());
    }
    let all = ws.describe_all().await.unwrap();
    assert_eq!(all.len(), 60, "three pages of 25, 25 and 10");
    let ids: Vec<WorkspaceId> = all.iter().take(25).map(|d| d.id.clone()).collect();
    assert_eq!(ws.connection_status(&ids).await.unwrap().len(), 25);
    emulator.shutdown().await;
}

/// `set_tag` and `remove_tag` (CreateTags, DeleteTags) as `blankslate enrol` and
/// `release` use them: a new key is added, an existing key's value replaced, a removed key
/// gone and removing it again no error; both name the WorkSpace when it does not exist.
#[tokio::test]
async fn tags_are_set_replaced_and_removed() {
    use blankslate_core::spec::{TagKey, TagValue};
    let emulator = blankslate_emulator::start(blankslate_emulator::Options::default()).await.expect("emulator");
    let ws = AwsWorkspaces::new(&common::sdk_config(&emulator.url()).await);
    let mut plain = spec("tagged");
    plain.tags = Tags::from_pairs([("team", "lab")]).unwrap();
    let answer = ws.create(&[plain.clone()]).await.expect("create");
    let id = answer.pending[0].1.clone();
    wait_for(&ws, &id, "visible", |s| s.is_some()).await;

    let key = TagKey::new("blankslate").unwrap();
    ws.set_tag(&id, &key, &TagValue::new("on").unwrap()).await.expect("CreateTags");
    assert_eq!(ws.tags(&id).await.unwrap(), Tags::from_pairs([("team", "lab"), ("blankslate", "on")]).unwrap());
    ws.set_tag(&id, &key, &TagValue::new("").unwrap()).await.expect("CreateTags replaces the value");
    assert_eq!(ws.tags(&id).await.unwrap(), Tags::from_pairs([("team", "lab"), ("blankslate", "")]).unwrap());
    ws.remove_tag(&id, &key).await.expect("DeleteTags");
    assert_eq!(ws.tags(&id).await.unwrap(), Tags::from_pairs([("team", "lab")]).unwrap());
    ws.remove_tag(&id, &key).await.expect("DeleteTags of an absent key is no error");

    let directory = ws.describe_directory(&plain.directory_id, Some(&plain.user_name)).await.expect("by user");
    assert_eq!(directory.iter().map(|d| &d.id).collect::<Vec<_>>(), [&id]);

    let missing = WorkspaceId::new("ws-00000000z").unwrap();
    let err = ws.set_tag(&missing, &key, &TagValue::new("on").unwrap()).await.unwrap_err();
    assert!(err.to_string().contains("ResourceNotFound") && err.to_string().contains(missing.as_str()), "{err}");
    let err = ws.remove_tag(&missing, &key).await.unwrap_err();
    assert!(err.to_string().contains("ResourceNotFound"), "{err}");
}
