//! `blankslate doctor` as an admin runs it: the real binary against a stack deployed
//! into ministack (the real template, with the conditions rewrite of
//! `common::ministack_template`) and our WorkSpaces emulator in-process. First a healthy
//! stack (a logging trail, one enrolled WorkSpace with its alarm), which must pass; then
//! the test breaks it the ways the checks exist for, and each break must FAIL with its fix.
//!
//! The zip holds this CLI as `bootstrap`, so an invoked function fails: that is how a
//! real `AWS/Lambda` `Errors` datapoint is made (ministack publishes the metric for each
//! invocation). The reconcile schedule is hourly, so no function runs on its own.
//!
//! Needs ministack: `bash scripts/emulators start && source .emulators/env`.

mod common;

use std::process::Output;
use std::time::Duration;

use blankslate_aws::{AwsWorkspaces, CloudWatchAlarms, DynamoJournal};
use blankslate_core::alarm::{Owner, StackName};
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::Record;
use blankslate_core::reconcile::Write;
use blankslate_core::spec::{Tags, WorkspaceSpec};
use blankslate_core::Timestamp;
use blankslate_handlers::ports::{Alarms, Journal, Workspaces};
use common::{ministack, text};

/// A Region no other test uses: alarms are per Region, and doctor lists them all.
const REGION: &str = "ap-northeast-3";

/// The line of check `name` (its verdict and what was found) and the fix line after it.
fn check<'a>(stdout: &'a str, name: &str) -> (&'a str, &'a str) {
    let lines: Vec<&str> = stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.get(6..).is_some_and(|rest| rest.starts_with(name)))
        .unwrap_or_else(|| panic!("no check {name:?} in:\n{stdout}"));
    let fix = lines.get(i + 1).filter(|l| l.trim_start().starts_with("fix:")).copied().unwrap_or("");
    (lines[i], fix)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_a_healthy_stack_and_names_each_break_with_its_fix() {
    let endpoint = ministack();
    let dir = common::scratch("ops-doctor");
    let stack = format!("bs-doctor-{}", std::process::id());
    let emulator = blankslate_emulator::start(blankslate_emulator::Options::default()).await.expect("emulator");
    let url = emulator.url();
    let env = common::cli_env(&endpoint, &url);
    let aws = common::sdk(&endpoint, REGION).await;
    // Alarms left in this Region by an earlier failed run would read as orphans.
    common::delete_disconnect_alarms(&aws).await;
    let _teardown = common::Teardown::new(&dir, &stack, REGION, &env);
    common::deploy_without_functions(&dir, &stack, REGION, &env);
    let doctor = |output: &str| -> Output {
        common::blankslate(&dir, &["doctor", "--stack-name", &stack, "--region", REGION, "--output", output], &env, "")
    };

    // A trail logging this Region's management events (into the deploy's artifacts bucket).
    let cloudtrail = aws_sdk_cloudtrail::Client::new(&aws);
    let trail = format!("{stack}-trail");
    cloudtrail
        .create_trail()
        .name(&trail)
        .s3_bucket_name(format!("blankslate-artifacts-000000000000-{REGION}"))
        .send()
        .await
        .expect("CreateTrail");
    cloudtrail.start_logging().name(&trail).send().await.expect("StartLogging");

    // One managed WorkSpace, enrolled and armed as the functions would have done it.
    let ws = AwsWorkspaces::new(&common::sdk(&url, REGION).await);
    let mut spec = WorkspaceSpec::new(
        DirectoryId::new("d-90670e0201").expect("directory"),
        UserName::new("alice").expect("user"),
        BundleId::new("wsb-clj85qzj1").expect("bundle"),
    );
    spec.tags = Tags::from_pairs([("blankslate", "on")]).expect("tags");
    let created = ws.create(std::slice::from_ref(&spec)).await.expect("CreateWorkspaces");
    let alice = created.pending[0].1.clone();
    for _ in 0..50 {
        if !ws.describe(std::slice::from_ref(&alice)).await.expect("describe").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let journal = DynamoJournal::new(&aws, format!("{stack}-Workspace_Journal"));
    let now = Timestamp::from_millis(1_700_000_000_000);
    journal.write(&Write::Insert(Record::enrol(spec, alice.clone(), now))).await.expect("journal record");
    let topic = format!("arn:aws:sns:{REGION}:000000000000:{stack}-Workspace_Disconnected_Topic");
    // The stack's functions name their alarms after it (BLANKSLATE_STACK_NAME).
    let owner = Owner::Stack(StackName::new(stack.as_str()).expect("stack name"));
    let alarms = CloudWatchAlarms::new(&aws, topic).owned_by(owner);
    alarms.put_disconnect_alarm(&alice).await.expect("alarm");

    // Healthy: exit 0, and every check ministack can answer passes.
    let out = doctor("table");
    let (stdout, stderr) = text(&out);
    println!("healthy:\n{stdout}");
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
    for name in [
        "cloudtrail",
        "rule Workspace_Create",
        "rule Workspace_Term",
        "rule Workspace_Access",
        "rule Workspace_Reconcile",
        "alarms: every managed WorkSpace has one",
        "alarms: none orphaned",
        "errors Workspace_Alarm_Create",
        "errors Workspace_Reconciler",
        "dead-letter queue",
        "permissions Workspace_Alarm_Create",
        "permissions Workspace_Alarm_Del",
        "permissions Workspace_Term_Rebuild",
        "permissions Workspace_Reconciler",
    ] {
        let (line, _) = check(&stdout, name);
        assert!(line.starts_with("PASS"), "{name}: {line}\n{stdout}");
    }
    assert!(check(&stdout, "cloudtrail").0.contains(&format!("trail {trail} (this Region) is logging")));
    assert!(check(&stdout, "alarms: every managed WorkSpace has one").0.contains("1 managed WorkSpace(s)"));
    assert!(check(&stdout, "permissions Workspace_Reconciler").0.contains("all 14 actions its code calls are allowed"));

    // Break it: the schedule disabled, the trail stopped, alice's alarm deleted, an alarm
    // for a WorkSpace that does not exist, a failed invocation of Workspace_Alarm_Create.
    let events = aws_sdk_eventbridge::Client::new(&aws);
    let schedule = format!("{stack}-Workspace_Reconcile");
    events.disable_rule().name(&schedule).send().await.expect("DisableRule");
    cloudtrail.stop_logging().name(&trail).send().await.expect("StopLogging");
    alarms.delete_disconnect_alarms(std::slice::from_ref(&alice)).await.expect("alarm deleted");
    let gone = WorkspaceId::new("ws-d0c70r0001").expect("id");
    alarms.put_disconnect_alarm(&gone).await.expect("orphan alarm");
    let lambda = aws_sdk_lambda::Client::new(&aws);
    let function = format!("{stack}-Workspace_Alarm_Create");
    let invoked =
        lambda.invoke().function_name(&function).payload(aws_sdk_lambda::primitives::Blob::new("{}")).send().await;
    println!("invoke {function}: {invoked:?}");

    let out = doctor("table");
    let (stdout, stderr) = text(&out);
    println!("broken:\n{stdout}");
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    for (name, found, fix) in [
        (
            "rule Workspace_Reconcile",
            format!("{schedule} is DISABLED"),
            format!("aws events enable-rule --name {schedule} --region {REGION}"),
        ),
        ("cloudtrail", format!("trail {trail} is not logging"), format!("aws cloudtrail start-logging --name {trail}")),
        (
            "alarms: every managed WorkSpace has one",
            "1 managed WorkSpace(s) without a disconnect alarm".to_owned(),
            "aws lambda invoke --function-name".to_owned(),
        ),
        (
            "alarms: none orphaned",
            "gone (1) or not managed (0)".to_owned(),
            format!(
                "aws cloudwatch delete-alarms --region {REGION} --alarm-names Workspace_Disconnected_{stack}_id_{gone}"
            ),
        ),
        (
            "errors Workspace_Alarm_Create",
            format!("{function} failed"),
            format!("aws logs tail /aws/lambda/{function}"),
        ),
    ] {
        let (line, fix_line) = check(&stdout, name);
        assert!(line.starts_with("FAIL") && line.contains(&found), "{name}: {line}\n{stdout}");
        assert!(fix_line.contains(&fix), "{name}: fix {fix_line:?} lacks {fix:?}\n{stdout}");
    }
    assert!(check(&stdout, "alarms: every managed WorkSpace has one").0.contains(alice.as_str()));
    assert!(check(&stdout, "rule Workspace_Create").0.starts_with("PASS"), "{stdout}");

    // JSON for scripts: the same checks, machine-readable.
    let out = doctor("json");
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON output");
    let checks = json["checks"].as_array().expect("checks");
    let reconcile = checks.iter().find(|c| c["name"] == "rule Workspace_Reconcile").expect("the schedule's check");
    assert_eq!(reconcile["verdict"], "FAIL");
    assert!(reconcile["fix"].as_str().expect("fix").contains("enable-rule"));
    assert_eq!(json["region"], REGION);
}
