//! `blankslate status`, `history` and `rebuild` against a deployed stack: the real binary,
//! the real template deployed into ministack (rewritten for it as in `e2e.rs`), the real
//! bootstrap as the stack's functions, and our WorkSpaces emulator in-process.
//!
//! One stack serves every step (a deploy costs tens of seconds). The emulator delivers
//! CloudTrail-shaped events to the deployed functions (so new WorkSpaces are enrolled by
//! Workspace_Alarm_Create) but puts no session datapoints: ministack's alarms ignore
//! dimensions, so one disconnect would fire every alarm. The stack is deployed alarm-free
//! instead (`--alarm-mode off`): the reconciler, invoked by the test, finds disconnects
//! by reading connection states. The grace period is 10 minutes, so nothing is rebuilt
//! here but what `blankslate rebuild` asks for.
//!
//! Needs ministack (`source .emulators/env`) and the debug bootstrap
//! (`cargo build -p blankslate-lambda --bin bootstrap`).

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use blankslate_aws::{AwsWorkspaces, DynamoJournal};
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::spec::{Tags, WorkspaceSpec};
use blankslate_handlers::ports::{Journal, Workspaces};
use common::{blankslate, control, ministack, scratch, session, text, wait_for};
use serde_json::{json, Value};

/// A Region no other test uses.
const REGION: &str = "ap-southeast-2";
const DIRECTORY: &str = "d-906700b5a1";
const BUNDLE: &str = "wsb-clj85qzj1";

fn spec(user: &str, tags: &[(&str, &str)]) -> WorkspaceSpec {
    let mut spec = WorkspaceSpec::new(
        DirectoryId::new(DIRECTORY).expect("directory"),
        UserName::new(user).expect("user"),
        BundleId::new(BUNDLE).expect("bundle"),
    );
    spec.tags = Tags::from_pairs(tags.iter().copied()).expect("tags");
    spec
}

/// Runs the binary off the async runtime's threads.
async fn run(dir: &Path, args: Vec<String>, env: Vec<(String, String)>) -> Output {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        blankslate(&dir, &args, &env, "")
    })
    .await
    .expect("the binary ran")
}

fn json_of(out: &Output) -> Value {
    let (stdout, stderr) = text(out);
    assert!(out.status.success(), "exit {:?}\n{stdout}\n{stderr}", out.status);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}\n{stderr}"))
}

fn desk<'a>(status: &'a Value, user: &str) -> &'a Value {
    status["desks"].as_array().expect("desks").iter().find(|d| d["user"] == user).unwrap_or_else(|| {
        panic!("no desk for {user} in {status:#}");
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_history_and_rebuild_against_a_deployed_stack() {
    let endpoint = ministack();
    let dir = scratch("ops");
    let stack = format!("bs-ops-{}", std::process::id());
    let emulator = blankslate_emulator::start(blankslate_emulator::Options {
        create: Duration::from_secs(2),
        terminate: Duration::from_secs(2),
        terminated_visible: Duration::from_secs(1),
        region: REGION.into(),
        lambda_endpoint: Some(endpoint.clone()),
        functions: blankslate_emulator::FunctionNames::of_stack(&stack),
        ..blankslate_emulator::Options::default()
    })
    .await
    .expect("emulator starts");
    let url = emulator.url();

    let zip = common::debug_bootstrap_zip(&dir);
    let template = common::wired_template(&dir, &endpoint, &url);
    let env: Vec<(String, String)> =
        common::cli_env(&endpoint, &url).iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let ops = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend(["--stack-name".to_owned(), stack.clone(), "--region".to_owned(), REGION.to_owned()]);
        all
    };

    // No credentials, no Region: each says what to do; exit 1.
    let bare = vec![("AWS_ENDPOINT_URL".to_owned(), endpoint.clone())];
    let out = run(&dir, ops(&["status"]), bare.clone()).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no AWS credentials") && stderr.contains("--profile"), "{stderr}");
    let out = run(&dir, vec!["history".into()], env.clone()).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no AWS Region") && stderr.contains("--region"), "{stderr}");

    // Stack not found: says which stack, where, and what to do; exit 1.
    let out = run(&dir, ops(&["status"]), env.clone()).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("stack {stack} not found in {REGION}")) && stderr.contains("blankslate deploy"),
        "{stderr}"
    );

    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let _teardown = common::Teardown::new(&dir, &stack, REGION, &pairs);
    let deploy = ops(&[
        "deploy",
        "--selector",
        "tag:blankslate",
        "--grace-minutes",
        "10",
        "--alarm-mode",
        "off",
        "--zip",
        zip.to_str().expect("utf-8"),
        "--template",
        template.to_str().expect("utf-8"),
    ]);
    let out = run(&dir, deploy, env.clone()).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "deploy: {:?}\n{stdout}\n{stderr}", out.status);

    let aws = common::sdk(&endpoint, REGION).await;
    let journal = DynamoJournal::new(&aws, format!("{stack}-Workspace_Journal"));
    let workspaces = AwsWorkspaces::new(&common::sdk(&url, REGION).await);
    let created = workspaces
        .create(&[
            spec("alice", &[("blankslate", "")]),
            spec("bob", &[("blankslate", "")]),
            spec("carol", &[("blankslate", "")]),
            spec("erin", &[("team", "library")]),
        ])
        .await
        .expect("CreateWorkspaces");
    let id = |user: &str| -> WorkspaceId {
        created.pending.iter().find(|(d, _)| d.user_name.as_str() == user).map(|(_, id)| id.clone()).expect("created")
    };
    let (alice, bob, carol, erin) = (id("alice"), id("bob"), id("carol"), id("erin"));
    wait_for(Duration::from_secs(90), "Workspace_Alarm_Create enrols alice, bob and carol", || async {
        let records = journal.list().await.map_err(|e| e.to_string())?;
        if records.len() == 3 {
            Ok(())
        } else {
            Err(format!("{records:?}"))
        }
    })
    .await;
    wait_for(Duration::from_secs(30), "the WorkSpaces become AVAILABLE", || async {
        let d = workspaces.describe_all().await.map_err(|e| e.to_string())?;
        if d.len() == 4 && d.iter().all(|d| d.state.as_api_str() == "AVAILABLE") {
            Ok(())
        } else {
            Err(format!("{d:?}"))
        }
    })
    .await;
    // Bob stays connected; alice and carol came and left.
    for who in [&alice, &bob, &carol] {
        session(&url, "connect", who).await;
    }
    // Sessions longer than the alarm lag allowance (5 s here), so leaving is not taken
    // for a return the alarm hid (which would restart the grace period).
    tokio::time::sleep(Duration::from_secs(7)).await;
    for who in [&alice, &carol] {
        session(&url, "disconnect", who).await;
    }
    // Alarm-free mode: a reconciler run finds the disconnects and starts their grace.
    let lambda = aws_sdk_lambda::Client::new(&aws);
    let run_reconciler = || async {
        let answer = lambda
            .invoke()
            .function_name(format!("{stack}-Workspace_Reconciler"))
            .payload(aws_sdk_lambda::primitives::Blob::new("{}"))
            .send()
            .await
            .expect("Invoke the reconciler");
        assert!(answer.function_error().is_none(), "reconciler failed: {answer:?}");
    };
    wait_for(Duration::from_secs(60), "the reconciler records alice's and carol's disconnects", || async {
        run_reconciler().await;
        let records = journal.list().await.map_err(|e| e.to_string())?;
        let phases: Vec<(String, &str)> =
            records.iter().map(|r| (r.desk.user_name.as_str().to_owned(), r.phase.name())).collect();
        let disconnected = phases.iter().filter(|(_, p)| *p == "disconnected").count();
        if disconnected == 2 {
            Ok(())
        } else {
            Err(format!("{phases:?}"))
        }
    })
    .await;

    // status, JSON: three managed desks with their state, connection and next action;
    // erin counted as unmanaged.
    let status = json_of(&run(&dir, ops(&["status", "--output", "json"]), env.clone()).await);
    assert_eq!((status["managed"].as_u64(), status["unmanaged"].as_u64()), (Some(3), Some(1)), "{status:#}");
    assert_eq!(status["config_source"], "reconciler", "the functions' own settings (alarm lag 5 s)");
    let bob_row = desk(&status, "bob");
    assert_eq!(bob_row["workspace_id"], bob.as_str());
    assert_eq!((bob_row["state"].as_str(), bob_row["connection"].as_str()), (Some("AVAILABLE"), Some("CONNECTED")));
    assert_eq!(
        (bob_row["phase"].as_str(), bob_row["next"]["kind"].as_str()),
        (Some("active"), Some("await_disconnect"))
    );
    let alice_row = desk(&status, "alice");
    assert_eq!(
        (alice_row["connection"].as_str(), alice_row["phase"].as_str()),
        (Some("DISCONNECTED"), Some("disconnected"))
    );
    assert_eq!(alice_row["next"]["kind"], "terminate", "{alice_row:#}");
    let due = alice_row["next"]["in_seconds"].as_i64().unwrap_or_default();
    assert!((500..=600).contains(&due), "grace ends in about 10 minutes: {alice_row:#}");
    assert!(alice_row["next"]["text"].as_str().unwrap_or_default().contains("unless the user reconnects"));
    // Filters.
    let only_bob = json_of(&run(&dir, ops(&["status", "--output", "json", "--user", "bob"]), env.clone()).await);
    assert_eq!(only_bob["desks"].as_array().map(Vec::len), Some(1), "{only_bob:#}");
    let other_dir =
        json_of(&run(&dir, ops(&["status", "--output", "json", "--directory", "d-1111111111"]), env.clone()).await);
    assert_eq!(other_dir["desks"].as_array().map(Vec::len), Some(0));
    // Table.
    let out = run(&dir, ops(&["status"]), env.clone()).await;
    let (table, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(table.contains("WORKSPACE") && table.contains("NEXT") && table.contains(bob.as_str()), "{table}");
    assert!(table.contains("3 managed") && table.contains("1 unmanaged"), "{table}");
    eprintln!("status table:\n{table}");

    // rebuild: refused for a connected user (exit 3) and for an unmanaged WorkSpace.
    let out = run(&dir, ops(&["rebuild", bob.as_str()]), env.clone()).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("refused") && stdout.contains("connected") && stdout.contains("--force"), "{stdout}");
    let out = run(&dir, ops(&["rebuild", erin.as_str()]), env.clone()).await;
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("not managed"), "{stdout}");

    // rebuild of a disconnected user: through the journal and the reconciler, waited for.
    let out = run(&dir, ops(&["rebuild", alice.as_str(), "--wait-minutes", "3"]), env.clone()).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "rebuild alice: {:?}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("rebuild requested") && stdout.contains("rebuilt as ws-"), "{stdout}");
    let new_alice = journal.get(&spec("alice", &[]).desk()).await.expect("journal").expect("alice's record");
    assert_ne!(new_alice.workspace_id(), Some(&alice), "{new_alice:?}");

    // A desk mid-rebuild shows in status: carol, requested without waiting, whose
    // termination the emulator makes last 30 s.
    control(&url, "termination", json!({ "workspace_id": carol.as_str(), "seconds": 30 })).await;
    let out = run(&dir, ops(&["rebuild", carol.as_str(), "--no-wait"]), env.clone()).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "rebuild carol: {stdout}\n{stderr}");
    let mid = wait_for(Duration::from_secs(60), "status shows carol mid-rebuild", || {
        let (dir, args, env) = (dir.clone(), ops(&["status", "--output", "json", "--user", "carol"]), env.clone());
        async move {
            let status = json_of(&run(&dir, args, env).await);
            let row = desk(&status, "carol").clone();
            // The intent is written first and the call follows it, spaced at the learned
            // rate: mid-rebuild is both, the phase and the WorkSpace's state.
            match (row["phase"].as_str(), row["state"].as_str()) {
                (Some("terminating"), Some("TERMINATING")) => Ok(row),
                _ => Err(format!("{row:#}")),
            }
        }
    })
    .await;
    let out = run(&dir, ops(&["status"]), env.clone()).await;
    eprintln!("status table, carol mid-rebuild:\n{}", text(&out).0);
    assert_eq!(
        (mid["state"].as_str(), mid["next"]["kind"].as_str()),
        (Some("TERMINATING"), Some("confirm_terminated")),
        "{mid:#}"
    );
    let summary = json_of(&run(&dir, ops(&["status", "--output", "json"]), env.clone()).await);
    assert_eq!((summary["in_flight"].as_u64(), summary["managed"].as_u64()), (Some(1), Some(3)), "{summary:#}");
    let terminating =
        json_of(&run(&dir, ops(&["status", "--output", "json", "--phase", "terminating"]), env.clone()).await);
    let users: Vec<&str> =
        terminating["desks"].as_array().expect("desks").iter().filter_map(|d| d["user"].as_str()).collect();
    assert_eq!(users, ["carol"], "{terminating:#}");

    // --force rebuilds a connected user, and says so.
    let out = run(&dir, ops(&["rebuild", bob.as_str(), "--force", "--wait-minutes", "3"]), env.clone()).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "rebuild --force bob: {stdout}\n{stderr}");
    assert!(stdout.contains("--force") && stdout.contains("rebuilt as ws-"), "{stdout}");

    // history: both waited-for rebuilds completed, with their reasons and durations.
    let history = json_of(&run(&dir, ops(&["history", "--output", "json", "--since", "1h"]), env.clone()).await);
    let entries = history.as_array().expect("a list");
    let of = |user: &str| entries.iter().find(|e| e["user"] == user).unwrap_or_else(|| panic!("{user}: {history:#}"));
    assert_eq!(
        (of("alice")["outcome"].as_str(), of("alice")["reason"]["kind"].as_str()),
        (Some("completed"), Some("admin"))
    );
    assert_eq!(of("alice")["old_workspace_id"], alice.as_str());
    assert_eq!(
        (of("bob")["reason"]["kind"].as_str(), of("bob")["reason"]["force"].as_bool()),
        (Some("admin"), Some(true))
    );
    // An admin's rebuild is timed from the request, not from a disconnect.
    assert!(of("alice")["total_seconds"].as_u64().is_some_and(|s| s < 120), "{history:#}");
    assert!(of("bob")["rebuild_seconds"].as_u64().is_some(), "{history:#}");
    let out = run(&dir, ops(&["history"]), env.clone()).await;
    let (table, _) = text(&out);
    assert!(table.contains("admin --force") && table.contains("completed"), "{table}");
    eprintln!("history table:\n{table}");
    // Carol's termination takes 30 s: under way (or just done) when history runs.
    let carol_outcome = of("carol")["outcome"].as_str().unwrap_or_default().to_owned();
    assert!(["in_progress", "completed"].contains(&carol_outcome.as_str()), "{history:#}");
    let none = json_of(
        &run(&dir, ops(&["history", "--output", "json", "--since", "2999-01-01T00:00:00Z"]), env.clone()).await,
    );
    assert_eq!(none, json!([]));

    emulator.shutdown().await;
}
