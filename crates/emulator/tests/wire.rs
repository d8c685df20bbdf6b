//! The emulator through the real WorkSpaces client (aws-sdk-workspaces) over HTTP: every
//! operation blankslate's adapters call, the batch limits, the wall-clock lifecycle, the
//! one-WorkSpace-per-desk rule, connection states, pagination and the error shapes.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_workspaces::error::ProvideErrorMetadata;
use aws_sdk_workspaces::types::{
    Compute, ConnectionState, OperatingSystemName, Protocol, RunningMode, TerminateRequest, WorkspaceProperties,
    WorkspaceRequest, WorkspaceState,
};
use blankslate_core::ids::{BundleId, DirectoryId, UserName};
use blankslate_core::spec::{
    AutoStopTimeout, ComputeType, OperatingSystemName as CoreOs, Protocol as CoreProtocol, RunningMode as CoreMode,
    Tags, VolumeEncryption, WorkspaceName, WorkspaceSpec,
};
use blankslate_emulator::{start, Options};
use common::*;
use serde_json::json;

const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn full_request(user: &str) -> WorkspaceRequest {
    WorkspaceRequest::builder()
        .directory_id(DIRECTORY)
        .user_name(user)
        .bundle_id(BUNDLE)
        .volume_encryption_key(KEY)
        .root_volume_encryption_enabled(true)
        .user_volume_encryption_enabled(true)
        .workspace_properties(
            WorkspaceProperties::builder()
                .running_mode(RunningMode::AutoStop)
                .running_mode_auto_stop_timeout_in_minutes(120)
                .root_volume_size_gib(175)
                .user_volume_size_gib(100)
                .compute_type_name(Compute::Powerpro)
                .protocols(Protocol::Wsp)
                .operating_system_name(OperatingSystemName::Windows11)
                .build(),
        )
        .tags(tag("blankslate", "managed"))
        .tags(tag("cost-centre", "lab-7"))
        .workspace_name("lab-desk-7")
        .build()
        .unwrap()
}

/// The spec `full_request` asks for, in the model's terms.
fn full_spec(user: &str) -> WorkspaceSpec {
    let mut spec = WorkspaceSpec::new(
        DirectoryId::new(DIRECTORY).unwrap(),
        UserName::new(user).unwrap(),
        BundleId::new(BUNDLE).unwrap(),
    );
    spec.encryption = VolumeEncryption::from_request_fields(Some(KEY), true, true).unwrap();
    spec.properties.running_mode = Some(CoreMode::AutoStop { timeout: Some(AutoStopTimeout::new(120).unwrap()) });
    spec.properties.root_volume_size_gib = Some(175);
    spec.properties.user_volume_size_gib = Some(100);
    spec.properties.compute_type = Some(ComputeType::new("POWERPRO").unwrap());
    spec.properties.protocols = vec![CoreProtocol::Wsp];
    spec.properties.operating_system_name = Some(CoreOs::new("WINDOWS_11").unwrap());
    spec.tags = Tags::from_pairs([("blankslate", "managed"), ("cost-centre", "lab-7")]).unwrap();
    spec.workspace_name = Some(WorkspaceName::new("lab-desk-7").unwrap());
    spec
}

fn assert_full_description(w: &aws_sdk_workspaces::types::Workspace, user: &str) {
    assert_eq!(w.directory_id(), Some(DIRECTORY));
    assert_eq!(w.user_name(), Some(user));
    assert_eq!(w.bundle_id(), Some(BUNDLE));
    assert_eq!(w.volume_encryption_key(), Some(KEY));
    assert_eq!(w.root_volume_encryption_enabled(), Some(true));
    assert_eq!(w.user_volume_encryption_enabled(), Some(true));
    assert_eq!(w.workspace_name(), Some("lab-desk-7"));
    let p = w.workspace_properties().expect("WorkspaceProperties");
    assert_eq!(p.running_mode(), Some(&RunningMode::AutoStop));
    assert_eq!(p.running_mode_auto_stop_timeout_in_minutes(), Some(120));
    assert_eq!(p.root_volume_size_gib(), Some(175));
    assert_eq!(p.user_volume_size_gib(), Some(100));
    assert_eq!(p.compute_type_name(), Some(&Compute::Powerpro));
    assert_eq!(p.protocols(), [Protocol::Wsp]);
    assert_eq!(p.operating_system_name(), Some(&OperatingSystemName::Windows11));
}

fn tag_pairs(tags: &[aws_sdk_workspaces::types::Tag]) -> Vec<(String, String)> {
    tags.iter().map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned())).collect()
}

#[tokio::test]
async fn every_operation_round_trips_the_full_spec() {
    let emulator = start(Options::default()).await.unwrap();
    let client = workspaces(&emulator.url());

    // CreateWorkspaces: everything a faithful re-create carries.
    let out = client.create_workspaces().workspaces(full_request("alice")).send().await.unwrap();
    assert!(out.failed_requests().is_empty(), "{:?}", out.failed_requests());
    let pending = &out.pending_requests()[0];
    assert_eq!(pending.state(), Some(&WorkspaceState::Pending));
    assert_full_description(pending, "alice");
    let id = pending.workspace_id().unwrap().to_owned();

    // The model holds exactly the spec that was asked for (S3 over the wire).
    let held = emulator.with_world(|world| world.views(None).map(|v| v.spec.clone()).collect::<Vec<_>>());
    assert_eq!(held, vec![full_spec("alice")]);

    // DescribeWorkspaces by ID, by directory + user, by bundle: the same description, no tags.
    let by_id = client.describe_workspaces().workspace_ids(&id).send().await.unwrap();
    assert_full_description(&by_id.workspaces()[0], "alice");
    let by_desk = client.describe_workspaces().directory_id(DIRECTORY).user_name("alice").send().await.unwrap();
    assert_eq!(by_desk.workspaces().len(), 1);
    assert_eq!(by_desk.workspaces()[0].workspace_id(), Some(id.as_str()));
    let nobody = client.describe_workspaces().directory_id(DIRECTORY).user_name("nobody").send().await.unwrap();
    assert!(nobody.workspaces().is_empty());
    let by_bundle = client.describe_workspaces().bundle_id(BUNDLE).send().await.unwrap();
    assert_eq!(by_bundle.workspaces().len(), 1);
    assert_eq!(by_bundle.next_token(), None);

    // Tags: DescribeTags, CreateTags (adds and overwrites), DeleteTags.
    let tags = client.describe_tags().resource_id(&id).send().await.unwrap();
    assert_eq!(
        tag_pairs(tags.tag_list()),
        [("blankslate".into(), "managed".into()), ("cost-centre".into(), "lab-7".into())]
    );
    client
        .create_tags()
        .resource_id(&id)
        .tags(tag("owner", "it"))
        .tags(tag("cost-centre", "lab-8"))
        .send()
        .await
        .unwrap();
    client.delete_tags().resource_id(&id).tag_keys("blankslate").tag_keys("absent").send().await.unwrap();
    let tags = client.describe_tags().resource_id(&id).send().await.unwrap();
    assert_eq!(tag_pairs(tags.tag_list()), [("cost-centre".into(), "lab-8".into()), ("owner".into(), "it".into())]);

    // Connection status while PENDING: UNKNOWN, checked now, nobody ever connected.
    let status = client.describe_workspaces_connection_status().workspace_ids(&id).send().await.unwrap();
    let s = &status.workspaces_connection_status()[0];
    assert_eq!(s.workspace_id(), Some(id.as_str()));
    assert_eq!(s.connection_state(), Some(&ConnectionState::UnknownValue));
    assert!(s.connection_state_check_timestamp().is_some());
    assert_eq!(s.last_known_user_connection_timestamp(), None);

    // TerminateWorkspaces: accepted; an unknown ID comes back in FailedRequests.
    let missing = "ws-000000000";
    let out = client
        .terminate_workspaces()
        .terminate_workspace_requests(TerminateRequest::builder().workspace_id(&id).build().unwrap())
        .terminate_workspace_requests(TerminateRequest::builder().workspace_id(missing).build().unwrap())
        .send()
        .await
        .unwrap();
    let failed = out.failed_requests();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].workspace_id(), Some(missing));
    assert_eq!(failed[0].error_code(), Some("ResourceNotFound"));
    assert_eq!(state(&client, &id).await.as_deref(), Some("TERMINATING"));

    // Tags on a WorkSpace that does not exist.
    let err = client.describe_tags().resource_id(missing).send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()), "{err:?}");
    let err = client.create_tags().resource_id(missing).tags(tag("a", "b")).send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()), "{err:?}");
    let err = client.delete_tags().resource_id("d-9067083b4b").tag_keys("a").send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()), "{err:?}");

    // Per-item refusals of CreateWorkspaces come back with the request that failed.
    let always_on_with_timeout = WorkspaceRequest::builder()
        .directory_id(DIRECTORY)
        .user_name("bob")
        .bundle_id(BUNDLE)
        .workspace_properties(
            WorkspaceProperties::builder()
                .running_mode(RunningMode::AlwaysOn)
                .running_mode_auto_stop_timeout_in_minutes(60)
                .build(),
        )
        .build()
        .unwrap();
    let flag_without_key = WorkspaceRequest::builder()
        .directory_id(DIRECTORY)
        .user_name("carol")
        .bundle_id(BUNDLE)
        .user_volume_encryption_enabled(true)
        .build()
        .unwrap();
    let reserved_tag = WorkspaceRequest::builder()
        .directory_id(DIRECTORY)
        .user_name("dave")
        .bundle_id(BUNDLE)
        .tags(tag("aws:owner", "x"))
        .build()
        .unwrap();
    let out = client
        .create_workspaces()
        .workspaces(always_on_with_timeout)
        .workspaces(flag_without_key)
        .workspaces(request("erin"))
        .workspaces(reserved_tag)
        .send()
        .await
        .unwrap();
    let codes: Vec<(&str, &str)> = out
        .failed_requests()
        .iter()
        .map(|f| (f.workspace_request().map_or("", |r| r.user_name()), f.error_code().unwrap_or("")))
        .collect();
    assert_eq!(
        codes,
        [
            ("bob", "AutoStopTimeoutIsNotApplicableForAnAlwaysOnWorkspace"),
            ("carol", "InvalidParameterValuesException"),
            ("dave", "InvalidParameterValuesException"),
        ]
    );
    assert_eq!(out.pending_requests().len(), 1);
    assert_eq!(out.pending_requests()[0].user_name(), Some("erin"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn batch_limits_and_filters_answer_the_real_errors() {
    let emulator = start(Options::default()).await.unwrap();
    let client = workspaces(&emulator.url());
    let ids: Vec<String> = (0..26).map(|i| format!("ws-{i:09}")).collect();
    let code = |e: &dyn ProvideErrorMetadata| e.code().map(str::to_owned);

    let err = client.describe_workspaces().set_workspace_ids(Some(ids.clone())).send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("ValidationException"), "{err:?}");
    assert!(err.message().unwrap_or_default().contains("less than or equal to 25"), "{err:?}");

    let err =
        client.describe_workspaces_connection_status().set_workspace_ids(Some(ids.clone())).send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("ValidationException"), "{err:?}");

    let requests: Vec<TerminateRequest> =
        ids.iter().map(|id| TerminateRequest::builder().workspace_id(id).build().unwrap()).collect();
    let err = client.terminate_workspaces().set_terminate_workspace_requests(Some(requests)).send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("ValidationException"), "{err:?}");
    assert!(err.message().unwrap_or_default().contains("terminateWorkspaceRequests"), "{err:?}");

    let requests: Vec<WorkspaceRequest> = (0..26).map(|i| request(&format!("user{i}"))).collect();
    let err = client.create_workspaces().set_workspaces(Some(requests)).send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("ValidationException"), "{err:?}");
    // Nothing of a refused batch was created.
    assert_eq!(emulator.with_world(|w| w.views(None).count()), 0);

    let err = client.describe_workspaces().limit(26).send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("ValidationException"), "{err:?}");
    let err = client.describe_workspaces().set_workspace_ids(Some(vec![])).send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("ValidationException"), "{err:?}");
    let err = client.describe_workspaces().workspace_ids("i-123").send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("ValidationException"), "{err:?}");

    let err = client.describe_workspaces().directory_id(DIRECTORY).bundle_id(BUNDLE).send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_invalid_parameter_values_exception()), "{err:?}");
    let err = client.describe_workspaces().user_name("alice").send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_invalid_parameter_values_exception()), "{err:?}");
    let err = client.describe_workspaces().next_token("not-a-token").send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_invalid_parameter_values_exception()), "{err:?}");

    // Exactly 25 is fine.
    let out = client.describe_workspaces().set_workspace_ids(Some(ids[..25].to_vec())).send().await.unwrap();
    assert!(out.workspaces().is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn workspaces_move_through_their_states_on_the_wall_clock() {
    let options = Options {
        create: Duration::from_millis(1500),
        terminate: Duration::from_millis(1000),
        terminated_visible: Duration::from_millis(1000),
        ..Options::default()
    };
    let emulator = start(options).await.unwrap();
    let client = workspaces(&emulator.url());
    let created = Instant::now();
    let ids = create(&client, &["alice", "bob"]).await;
    let (alice, bob) = (&ids[0], &ids[1]);
    assert_eq!(state(&client, alice).await.as_deref(), Some("PENDING"));

    wait_for(Duration::from_secs(5), "AVAILABLE", || async {
        (state(&client, alice).await.as_deref() == Some("AVAILABLE")).then_some(())
    })
    .await;
    let took = created.elapsed();
    assert!(took >= Duration::from_millis(1400), "AVAILABLE after {took:?}, configured 1.5 s");
    assert_eq!(state(&client, bob).await.as_deref(), Some("AVAILABLE"));

    // Bob's termination is slow (set through the control endpoint); alice's is the fleet's.
    let (status, body) =
        control(&emulator.url(), "/_control/termination", json!({"workspace_id": bob, "seconds": 4})).await;
    assert_eq!(status, 200, "{body}");
    let terminated = Instant::now();
    let requests = [alice, bob].map(|id| TerminateRequest::builder().workspace_id(id).build().unwrap());
    let out = client.terminate_workspaces().set_terminate_workspace_requests(Some(requests.to_vec())).send().await;
    assert!(out.unwrap().failed_requests().is_empty());
    assert_eq!(state(&client, alice).await.as_deref(), Some("TERMINATING"));

    wait_for(Duration::from_secs(5), "TERMINATED", || async {
        (state(&client, alice).await.as_deref() == Some("TERMINATED")).then_some(())
    })
    .await;
    assert!(terminated.elapsed() >= Duration::from_millis(900), "TERMINATED after {:?}", terminated.elapsed());
    assert_eq!(state(&client, bob).await.as_deref(), Some("TERMINATING"), "bob's slow termination");

    wait_for(Duration::from_secs(5), "alice gone", || async { state(&client, alice).await.is_none().then_some(()) })
        .await;
    assert!(terminated.elapsed() >= Duration::from_millis(1900), "gone after {:?}", terminated.elapsed());
    assert_eq!(state(&client, bob).await.as_deref(), Some("TERMINATING"), "bob's slow termination");
    wait_for(Duration::from_secs(8), "bob gone", || async { state(&client, bob).await.is_none().then_some(()) }).await;
    assert!(terminated.elapsed() >= Duration::from_millis(4900), "bob gone after {:?}", terminated.elapsed());

    // A new WorkSpace is invisible for the visibility lag (eventual consistency).
    emulator.shutdown().await;
    let lagging = start(Options { visibility_lag: Duration::from_millis(800), ..Options::default() }).await.unwrap();
    let client = workspaces(&lagging.url());
    let id = create(&client, &["carol"]).await.remove(0);
    assert_eq!(state(&client, &id).await, None, "visible at once despite the lag");
    let err = client.describe_tags().resource_id(&id).send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()), "{err:?}");
    wait_for(Duration::from_secs(5), "visible", || async { state(&client, &id).await.map(|_| ()) }).await;
    lagging.shutdown().await;
}

#[tokio::test]
async fn one_workspace_per_user_per_directory() {
    let options = Options {
        terminate: Duration::from_millis(200),
        terminated_visible: Duration::from_millis(200),
        ..Options::default()
    };
    let emulator = start(options).await.unwrap();
    let client = workspaces(&emulator.url());

    // Twice in one batch: the second is refused per item.
    let out =
        client.create_workspaces().workspaces(request("alice")).workspaces(request("alice")).send().await.unwrap();
    assert_eq!(out.pending_requests().len(), 1);
    let failed = out.failed_requests();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].error_code(), Some("ResourceExists.WorkSpace"));
    assert_eq!(failed[0].workspace_request().map(|r| r.user_name()), Some("alice"));
    let first = out.pending_requests()[0].workspace_id().unwrap().to_owned();

    // Again in a later call; the same user in another directory is another desk.
    let other_directory =
        WorkspaceRequest::builder().directory_id("d-1234567890").user_name("alice").bundle_id(BUNDLE).build().unwrap();
    let out = client.create_workspaces().workspaces(request("alice")).workspaces(other_directory).send().await.unwrap();
    assert_eq!(out.failed_requests().len(), 1);
    assert_eq!(out.failed_requests()[0].error_code(), Some("ResourceExists.WorkSpace"));
    assert_eq!(out.pending_requests().len(), 1);
    assert_eq!(out.pending_requests()[0].directory_id(), Some("d-1234567890"));

    // While the old one is TERMINATING or TERMINATED the desk is still taken; once gone, it is free.
    client
        .terminate_workspaces()
        .terminate_workspace_requests(TerminateRequest::builder().workspace_id(&first).build().unwrap())
        .send()
        .await
        .unwrap();
    let out = client.create_workspaces().workspaces(request("alice")).send().await.unwrap();
    assert_eq!(out.failed_requests()[0].error_code(), Some("ResourceExists.WorkSpace"));
    wait_for(Duration::from_secs(5), "gone", || async { state(&client, &first).await.is_none().then_some(()) }).await;
    let again = create(&client, &["alice"]).await.remove(0);
    assert_ne!(again, first, "a re-created WorkSpace has a new ID");
    emulator.shutdown().await;
}

#[tokio::test]
async fn connection_status_follows_control_connect_and_disconnect() {
    let options = Options { create: Duration::from_millis(300), ..Options::default() };
    let emulator = start(options).await.unwrap();
    let url = emulator.url();
    let client = workspaces(&url);
    let id = create(&client, &["alice"]).await.remove(0);
    let status = |id: String| {
        let client = client.clone();
        async move {
            let out = client.describe_workspaces_connection_status().workspace_ids(id).send().await.unwrap();
            out.workspaces_connection_status()[0].clone()
        }
    };

    // Nobody can log in to a PENDING WorkSpace.
    let (code, body) = control(&url, "/_control/connect", json!({"workspace_id": id})).await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"], "conflict");
    wait_for(Duration::from_secs(5), "AVAILABLE", || async {
        (state(&client, &id).await.as_deref() == Some("AVAILABLE")).then_some(())
    })
    .await;
    let s = status(id.clone()).await;
    assert_eq!(s.connection_state(), Some(&ConnectionState::Disconnected));
    assert_eq!(s.last_known_user_connection_timestamp(), None);

    // Connect by ID.
    let before = std::time::SystemTime::now();
    let (code, body) = control(&url, "/_control/connect", json!({"workspace_id": id})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["changed"], true);
    let s = status(id.clone()).await;
    assert_eq!(s.connection_state(), Some(&ConnectionState::Connected));
    let last = s.last_known_user_connection_timestamp().copied().expect("LastKnownUserConnectionTimestamp");
    let before_secs = before.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let last_secs = last.as_secs_f64();
    assert!((last_secs - before_secs).abs() < 2.0, "last connection {last_secs} vs {before_secs}");
    let checked = s.connection_state_check_timestamp().unwrap().as_secs_f64();
    assert!(checked >= last_secs, "checked {checked} before the connection {last_secs}");
    // Connecting again changes nothing.
    let (code, body) = control(&url, "/_control/connect", json!({"workspace_id": id})).await;
    assert_eq!((code, body["changed"].clone()), (200, json!(false)), "{body}");

    // Disconnect by directory + user: DISCONNECTED, the last connection time stays.
    let (code, body) =
        control(&url, "/_control/disconnect", json!({"directory_id": DIRECTORY, "user_name": "alice"})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["workspace_id"], id.as_str());
    let s = status(id.clone()).await;
    assert_eq!(s.connection_state(), Some(&ConnectionState::Disconnected));
    assert_eq!(s.last_known_user_connection_timestamp().map(|t| t.as_secs_f64()), Some(last_secs));

    // The control listing agrees.
    let listing = control_get(&url, "/_control/workspaces").await;
    let entry = &listing["workspaces"][0];
    assert_eq!(entry["workspace_id"], id.as_str());
    assert_eq!(entry["state"], "AVAILABLE");
    assert_eq!(entry["connection_state"], "DISCONNECTED");
    assert_eq!(entry["last_known_user_connection"].as_f64(), Some(last_secs));

    // Refusals: not connected, unknown WorkSpace, unknown desk, a malformed target.
    let (code, _) = control(&url, "/_control/disconnect", json!({"workspace_id": id})).await;
    assert_eq!(code, 409);
    let (code, _) = control(&url, "/_control/connect", json!({"workspace_id": "ws-000000000"})).await;
    assert_eq!(code, 404);
    let (code, _) = control(&url, "/_control/connect", json!({"directory_id": DIRECTORY, "user_name": "zed"})).await;
    assert_eq!(code, 404);
    let (code, body) = control(&url, "/_control/connect", json!({"workspace_id": "nope"})).await;
    assert_eq!((code, body["error"].clone()), (400, json!("bad_request")), "{body}");
    let (code, _) = control(&url, "/_control/connect", json!({"user_name": "alice"})).await;
    assert_eq!(code, 400);

    // Terminating a WorkSpace ends its user's session.
    control(&url, "/_control/connect", json!({"workspace_id": id})).await;
    client
        .terminate_workspaces()
        .terminate_workspace_requests(TerminateRequest::builder().workspace_id(&id).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(status(id.clone()).await.connection_state(), Some(&ConnectionState::Disconnected));

    // Reset: an empty account.
    let (code, _) = control(&url, "/_control/reset", json!({})).await;
    assert_eq!(code, 200);
    assert_eq!(control_get(&url, "/_control/workspaces").await["workspaces"], json!([]));
    assert_eq!(state(&client, &id).await, None);
    emulator.shutdown().await;
}

#[tokio::test]
async fn describe_calls_paginate() {
    let emulator = start(Options::default()).await.unwrap();
    let client = workspaces(&emulator.url());
    let users: Vec<String> = (0..30).map(|i| format!("user{i:02}")).collect();
    let mut created = BTreeSet::new();
    for chunk in users.chunks(25) {
        let names: Vec<&str> = chunk.iter().map(String::as_str).collect();
        created.extend(create(&client, &names).await);
    }
    assert_eq!(created.len(), 30);

    // DescribeWorkspaces with Limit 7: pages of 7, 7, 7, 7, 2, each ID once.
    let mut seen = BTreeSet::new();
    let mut sizes = Vec::new();
    let mut token = None;
    loop {
        let out = client.describe_workspaces().limit(7).set_next_token(token).send().await.unwrap();
        sizes.push(out.workspaces().len());
        for w in out.workspaces() {
            assert!(seen.insert(w.workspace_id().unwrap().to_owned()), "returned twice");
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(sizes, [7, 7, 7, 7, 2]);
    assert_eq!(seen, created);

    // Filtered by directory, 25 a page by default; the SDK's paginator follows the tokens.
    let pages: Vec<usize> = client
        .describe_workspaces()
        .directory_id(DIRECTORY)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|page| page.unwrap().workspaces().len())
        .collect();
    assert_eq!(pages, [25, 5]);

    // DescribeWorkspacesConnectionStatus without IDs pages through the whole fleet, 25 a page.
    let mut statuses = Vec::new();
    let mut sizes = Vec::new();
    let mut token = None;
    loop {
        let out = client.describe_workspaces_connection_status().set_next_token(token).send().await.unwrap();
        sizes.push(out.workspaces_connection_status().len());
        statuses.extend(out.workspaces_connection_status().iter().map(|s| s.workspace_id().unwrap().to_owned()));
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(sizes, [25, 5]);
    assert_eq!(statuses.iter().cloned().collect::<BTreeSet<_>>(), created);
    assert_eq!(statuses.len(), 30);
    emulator.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_get_the_aws_error_shape() {
    let emulator = start(Options::default()).await.unwrap();
    let url = emulator.url();
    let describe = Some("WorkspacesService.DescribeWorkspaces");

    let (status, body, head) = aws_raw(&url, describe, "{\"WorkspaceIds\": [").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "com.amazon.coral.service#SerializationException", "{body}");
    assert!(body["message"].is_string());
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/x-amz-json-1.1"), "{head}");
    assert!(head.contains("x-amzn-requestid: "), "{head}");

    let (status, body, _) = aws_raw(&url, describe, "[1, 2]").await;
    assert_eq!((status, body["__type"].as_str()), (400, Some("com.amazon.coral.service#SerializationException")));
    let (status, body, _) = aws_raw(&url, describe, "{\"WorkspaceIds\": \"ws-abcd12345\"}").await;
    assert_eq!((status, body["__type"].as_str()), (400, Some("com.amazon.coral.service#SerializationException")));
    let (status, body, _) = aws_raw(&url, describe, "{\"Limit\": \"ten\"}").await;
    assert_eq!((status, body["__type"].as_str()), (400, Some("com.amazon.coral.service#SerializationException")));

    for target in [Some("WorkspacesService.LaunchRocket"), Some("DynamoDB_20120810.ListTables"), None] {
        let (status, body, _) = aws_raw(&url, target, "{}").await;
        assert_eq!(status, 400, "{target:?}");
        assert_eq!(body["__type"], "com.amazon.coral.service#UnknownOperationException", "{target:?}: {body}");
    }
    let (status, body, _) = aws_raw(&url, Some("WorkspacesService.RebootWorkspaces"), "{}").await;
    assert_eq!((status, body["__type"].as_str()), (400, Some("OperationNotSupportedException")), "{body}");

    // A missing required member, in the framework's words.
    let (status, body, _) = aws_raw(&url, Some("WorkspacesService.TerminateWorkspaces"), "{}").await;
    assert_eq!((status, body["__type"].as_str()), (400, Some("ValidationException")));
    assert_eq!(
        body["message"],
        "1 validation error detected: Value null at 'terminateWorkspaceRequests' failed to satisfy constraint: \
         Member must not be null"
    );
    let (status, body, _) =
        aws_raw(&url, Some("WorkspacesService.CreateWorkspaces"), r#"{"Workspaces": [{"UserName": "a"}]}"#).await;
    assert_eq!((status, body["__type"].as_str()), (400, Some("ValidationException")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("workspaces.1.member.directoryId"), "{body}");
    let (status, body, _) = aws_raw(&url, Some("WorkspacesService.DescribeTags"), "{}").await;
    assert_eq!((status, body["__type"].as_str()), (400, Some("ValidationException")), "{body}");
    let (status, body, _) = aws_raw(
        &url,
        Some("WorkspacesService.CreateWorkspaces"),
        &json!({"Workspaces": [{"DirectoryId": DIRECTORY, "UserName": "a", "BundleId": BUNDLE,
            "WorkspaceProperties": {"RunningMode": "SOMETIMES"}}]})
        .to_string(),
    )
    .await;
    assert_eq!((status, body["__type"].as_str()), (400, Some("ValidationException")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("enum value set"), "{body}");

    // An empty body is an empty input, as the SDKs send it; unknown members are ignored.
    let (status, body, _) = aws_raw(&url, describe, "").await;
    assert_eq!((status, body.clone()), (200, json!({"Workspaces": []})), "{body}");
    let (status, _, _) = aws_raw(&url, describe, r#"{"SomethingNew": 1}"#).await;
    assert_eq!(status, 200);

    // The server survived all of it.
    let client = workspaces(&url);
    assert!(client.describe_workspaces().send().await.unwrap().workspaces().is_empty());
    emulator.shutdown().await;
}
