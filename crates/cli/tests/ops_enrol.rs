//! `blankslate enrol` and `blankslate release` as an admin runs them: the real binary
//! against a stack deployed into ministack (the real template, with the conditions
//! rewrite of `common::ministack_template`) and our WorkSpaces emulator in-process,
//! which answers DescribeWorkspaces, DescribeTags, CreateTags and DeleteTags.
//!
//! The functions are never run here: the zip holds this CLI as `bootstrap`, and the
//! reconcile schedule is hourly, so nothing but the commands under test touches the tags.
//!
//! Needs ministack: `bash scripts/emulators start && source .emulators/env`.

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use blankslate_aws::{AwsWorkspaces, DynamoJournal};
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::{Phase, Record};
use blankslate_core::reconcile::Write;
use blankslate_core::spec::{Tags, WorkspaceSpec};
use blankslate_core::Timestamp;
use blankslate_handlers::ports::{Journal, Workspaces};
use common::{ministack, text};

/// A Region no other test uses.
const REGION: &str = "eu-north-1";
const DIRECTORY: &str = "d-90670e0101";
const OTHER_DIRECTORY: &str = "d-90670e0102";
const BATCH_DIRECTORY: &str = "d-90670e0103";

fn scratch() -> PathBuf {
    common::scratch("ops-enrol")
}

fn spec(directory: &str, user: &str, tags: &[(&str, &str)]) -> WorkspaceSpec {
    let mut spec = WorkspaceSpec::new(
        DirectoryId::new(directory).expect("directory"),
        UserName::new(user).expect("user"),
        BundleId::new("wsb-clj85qzj1").expect("bundle"),
    );
    spec.tags = Tags::from_pairs(tags.iter().copied()).expect("tags");
    spec
}

async fn tags(ws: &AwsWorkspaces, id: &WorkspaceId) -> Tags {
    ws.tags(id).await.expect("DescribeTags")
}

fn on() -> Tags {
    Tags::from_pairs([("blankslate", "on")]).expect("tags")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrol_and_release_against_a_deployed_stack() {
    let endpoint = ministack();
    let dir = scratch();
    let stack = format!("bs-enrol-{}", std::process::id());
    let emulator = blankslate_emulator::start(blankslate_emulator::Options::default()).await.expect("emulator");
    let url = emulator.url();
    let env = common::cli_env(&endpoint, &url);
    let _teardown = common::Teardown::new(&dir, &stack, REGION, &env);
    common::deploy_without_functions(&dir, &stack, REGION, &env);
    let run = |args: &[&str], stdin: &str| -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--stack-name", &stack, "--region", REGION]);
        common::blankslate(&dir, &all, &env, stdin)
    };

    // alice: not opted in; bob: opted in; carol: another directory, not opted in.
    let ws = AwsWorkspaces::new(&common::sdk(&url, REGION).await);
    let created = ws
        .create(&[
            spec(DIRECTORY, "alice", &[("team", "lab")]),
            spec(DIRECTORY, "bob", &[("blankslate", "on")]),
            spec(OTHER_DIRECTORY, "carol", &[]),
        ])
        .await
        .expect("CreateWorkspaces");
    let id =
        |user: &str| created.pending.iter().find(|(d, _)| d.user_name.as_str() == user).expect("created").1.clone();
    let (alice, bob, carol) = (id("alice"), id("bob"), id("carol"));
    for _ in 0..50 {
        if ws.describe(&[alice.clone(), bob.clone(), carol.clone()]).await.expect("describe").len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // --dry-run: every chosen WorkSpace with its tag before and after; nothing changes.
    let out = run(&["enrol", "--directory", DIRECTORY, "--dry-run"], "");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for expected in [
        format!("selector tag:blankslate: enrol sets blankslate=on; directory {DIRECTORY} matched 2:"),
        "WORKSPACE".to_owned(),
        format!("{alice}"),
        "(none) -> blankslate=on".to_owned(),
        "unchanged: already has blankslate=on".to_owned(),
        "dry run: nothing changed (1 WorkSpace(s) would change)".to_owned(),
    ] {
        assert!(stdout.contains(&expected), "missing {expected:?} in:\n{stdout}");
    }
    assert!(stdout.lines().any(|l| l.contains(alice.as_str()) && l.contains("alice") && l.contains(DIRECTORY)));
    assert_eq!(tags(&ws, &alice).await, Tags::from_pairs([("team", "lab")]).expect("tags"), "a dry run changed tags");

    // Without --yes and without a terminal to ask on: refused, nothing changed.
    let out = run(&["enrol", "--directory", DIRECTORY], "y\n");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("stdin is not a terminal") && stderr.contains("--yes"), "{stderr}");
    assert_eq!(tags(&ws, &alice).await.get(&blankslate_core::spec::TagKey::new("blankslate").expect("key")), None);

    // --yes: alice gets the tag, bob keeps his.
    let out = run(&["enrol", "--directory", DIRECTORY, "--yes"], "");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("enrol: 1 of 1 WorkSpace(s) changed"), "{stdout}");
    assert!(stdout.contains("next sweep (at most 60 min)"), "{stdout}");
    assert_eq!(tags(&ws, &alice).await, Tags::from_pairs([("team", "lab"), ("blankslate", "on")]).expect("tags"));
    assert_eq!(tags(&ws, &bob).await, on());
    assert_eq!(tags(&ws, &carol).await, Tags::default(), "carol is in another directory");

    // By user alone (any directory), then by ID: carol.
    let out = run(&["enrol", "--user", "carol", "--yes"], "");
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(tags(&ws, &carol).await, on());

    // Release by ID, JSON for scripts: both planned and applied; the tags are gone.
    let out = run(
        &["release", "--workspace-id", alice.as_str(), "--workspace-id", bob.as_str(), "--yes", "--output", "json"],
        "",
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON output");
    assert_eq!(json["direction"], "release");
    let plan = json["plan"].as_array().expect("plan");
    assert_eq!(plan.len(), 2);
    assert!(plan.iter().all(|p| p["outcome"] == "change" && p["before"] == "on" && p["after"].is_null()), "{json}");
    assert_eq!(json["applied"].as_array().expect("applied").len(), 2);
    assert!(json["next"].as_str().expect("next").contains("releases each desk"), "{json}");
    assert_eq!(tags(&ws, &alice).await, Tags::from_pairs([("team", "lab")]).expect("tags"));
    assert_eq!(tags(&ws, &bob).await, Tags::default());

    // A desk mid-rebuild is refused (its re-create would copy the tag back); exit 3.
    let aws = common::sdk(&endpoint, REGION).await;
    let journal = DynamoJournal::new(&aws, format!("{stack}-Workspace_Journal"));
    let t = Timestamp::from_millis(1_700_000_000_000);
    let record = Record::enrol(spec(OTHER_DIRECTORY, "carol", &[("blankslate", "on")]), carol.clone(), t);
    let terminating = Phase::Terminating {
        workspace_id: carol.clone(),
        disconnected_at: t,
        started_at: t,
        requested_at: t,
        attempts: 1,
    };
    journal.write(&Write::Insert(record.with_phase(terminating, t))).await.expect("journal record written");
    let out = run(&["release", "--workspace-id", carol.as_str(), "--yes"], "");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "refused: {stdout}\n{stderr}");
    assert!(stdout.contains("terminating") && stdout.contains("REFUSED: its desk is being rebuilt"), "{stdout}");
    assert!(stdout.contains("nothing to change"), "{stdout}");
    assert_eq!(tags(&ws, &carol).await, on(), "a refused release changed the tag");

    // More IDs than one DescribeWorkspaces call takes (25): read in batches, all planned.
    let many: Vec<WorkspaceSpec> = (0..30).map(|i| spec(BATCH_DIRECTORY, &format!("pupil{i:02}"), &[])).collect();
    let mut ids = Vec::new();
    for chunk in many.chunks(25) {
        let answer = ws.create(chunk).await.expect("CreateWorkspaces");
        ids.extend(answer.pending.into_iter().map(|(_, id)| id));
    }
    assert_eq!(ids.len(), 30);
    let mut args: Vec<&str> = vec!["enrol", "--dry-run"];
    for id in &ids {
        args.extend(["--workspace-id", id.as_str()]);
    }
    let out = run(&args, "");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("matched 30:") && stdout.contains("(30 WorkSpace(s) would change)"), "{stdout}");
    assert!(ids.iter().all(|id| stdout.contains(id.as_str())), "{stdout}");

    // Choices that match nothing are errors that say what was asked.
    let out = run(&["enrol", "--workspace-id", "ws-0000000000", "--yes"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains(&format!("no WorkSpace ws-0000000000 in {REGION}")), "{:?}", text(&out));
    let out = run(&["release", "--user", "nobody", "--directory", DIRECTORY, "--yes"], "");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out).1;
    assert!(
        stderr.contains(&format!("no WorkSpace in {REGION} matches directory {DIRECTORY} and user nobody")),
        "{stderr}"
    );
    // No choice at all, or a malformed ID: usage errors before any call.
    for args in [&["enrol"][..], &["release", "--workspace-id", "i-123"][..]] {
        let out = run(args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {:?}", text(&out));
    }
    // The wrong stack: not found, with what to do.
    let out = common::blankslate(&dir, &["enrol", "--user", "x", "--stack-name", "nope", "--region", REGION], &env, "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains(&format!("stack nope not found in {REGION}")), "{:?}", text(&out));
}
