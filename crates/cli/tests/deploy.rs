//! `blankslate deploy` and `blankslate destroy` as a user runs them: the real binary,
//! against ministack (CloudFormation, S3, STS, CloudWatch) on loopback, with test
//! credentials and the EC2 metadata service disabled.
//!
//! The ministack tests need `bash scripts/emulators start && source .emulators/env` (or
//! run the whole suite with `bash scripts/test`); without it they fail and say so.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
use blankslate_aws::CloudWatchAlarms;
use blankslate_core::alarm::{Owner, StackName};
use blankslate_core::ids::WorkspaceId;
use blankslate_handlers::ports::Alarms;
use common::{ministack, ministack_template, text};

/// A Region of ministack's that no other test uses: CloudWatch alarms are per Region
/// there as in AWS, and destroy deletes the stack's own `Workspace_Disconnected_<stack>_id_*` alarms in its
/// Region. Not us-east-1 also makes the bucket creation send a LocationConstraint.
const REGION: &str = "ap-southeast-2";

fn scratch() -> PathBuf {
    common::scratch("deploy")
}

fn blankslate(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    common::blankslate(&scratch(), args, env, stdin)
}

#[test]
fn without_credentials_the_error_names_the_chain_and_profile() {
    let out = blankslate(&["deploy", "--selector", "tag:blankslate", "--region", "eu-west-1"], &[], "");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    for expected in ["no AWS credentials", "credential chain", "AWS_ACCESS_KEY_ID", "--profile", "aws configure"] {
        assert!(stderr.contains(expected), "missing {expected:?} in: {stderr}");
    }
    let out = blankslate(&["destroy", "--yes", "--region", "eu-west-1"], &[], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("credential chain"));
}

#[test]
fn without_a_region_the_error_says_to_pass_one() {
    let keys = [("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")];
    let out = blankslate(&["deploy", "--selector", "all"], &keys, "");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no AWS Region") && stderr.contains("--region"), "{stderr}");
}

#[test]
fn bad_flags_are_usage_errors_before_any_call() {
    for (args, named) in [
        (&["deploy", "--selector", "everything"][..], "everything"),
        (&["deploy", "--selector", "all", "--stack-name", "my_stack"][..], "my_stack"),
        (&["deploy", "--selector", "all", "--log-retention-days", "42"][..], "42"),
        (&["deploy", "--selector", "all", "--arm64", "--architecture", "x86_64"][..], "--arm64"),
        (&["deploy"][..], "--selector"),
    ] {
        let out = blankslate(args, &[], "");
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}

#[test]
fn directory_flags_are_checked_before_any_call_naming_what_is_missing() {
    let dir = scratch();
    let pem = dir.join("not-a-ca.pem");
    std::fs::write(&pem, "hello\n").expect("file written");
    let pem = pem.to_str().expect("utf-8");
    let complete = [
        "--directory-base-dn",
        "OU=WorkSpaces,DC=corp,DC=example",
        "--ldap-url",
        "ldaps://dc1.corp.example",
        "--directory-subnet",
        "subnet-0123456789abcdef0",
        "--directory-security-group",
        "sg-0123456789abcdef0",
        "--directory-secret-arn",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:blankslate/ldap-AbC12f",
    ];
    let with = |replace: &str, value: &str| -> Vec<String> {
        let mut args: Vec<String> = complete.iter().map(|s| s.to_string()).collect();
        let at = args.iter().position(|a| a == replace).expect("a flag of the set");
        args[at + 1] = value.to_owned();
        args
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--ldap-url".into(), "ldaps://dc1".into()], "--directory-base-dn DN"),
        (
            vec!["--directory-base-dn".into(), "OU=WorkSpaces,DC=corp,DC=example".into()],
            "--ldap-url URL, --directory-subnet SUBNET, --directory-security-group SG, --directory-secret-arn ARN",
        ),
        (with("--ldap-url", "ldap://dc1.corp.example"), "--allow-plain-ldap"),
        (with("--ldap-url", "https://dc1.corp.example"), "starts with ldaps://"),
        (with("--directory-subnet", "subnet-nothex00"), "--directory-subnet"),
        (with("--directory-secret-arn", "blankslate/ldap"), "--directory-secret-arn"),
        (with("--directory-base-dn", ""), "--no-directory-cleanup"),
        (
            [&complete[..], &["--directory-ca-bundle", pem]].concat().iter().map(|s| s.to_string()).collect(),
            "no certificate",
        ),
        (
            [&complete[..], &["--create-secrets-endpoint", "true"]].concat().iter().map(|s| s.to_string()).collect(),
            "--directory-vpc",
        ),
        (vec!["--no-directory-cleanup".into(), "--ldap-url".into(), "ldaps://dc1".into()], "--no-directory-cleanup"),
    ];
    for (directory, named) in cases {
        let mut args = vec!["deploy", "--selector", "all", "--region", "eu-west-1"];
        args.extend(directory.iter().map(String::as_str));
        let out = blankslate(&args, &[], "");
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{directory:?}: {stderr}");
        assert!(stderr.contains(named), "{directory:?}: expected {named:?} in: {stderr}");
        assert!(!stderr.contains("credential"), "{directory:?}: the SDK was loaded first: {stderr}");
    }
    // The complete set passes the checks and goes on to the credentials.
    let mut args = vec!["deploy", "--selector", "all", "--region", "eu-west-1"];
    args.extend(complete);
    let out = blankslate(&args, &[], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("no AWS credentials"), "{}", text(&out).1);
}

/// A zip with a real Linux executable as `bootstrap` (this CLI: the deploy does not run
/// the functions, and it passes the same glibc check the debug bootstrap does).
fn bootstrap_zip(dir: &Path) -> PathBuf {
    common::zip_bootstrap(dir, &std::fs::read(env!("CARGO_BIN_EXE_blankslate")).expect("the binary"))
}

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    common::sdk(endpoint, REGION).await
}

async fn stack_parameter(cfn: &aws_sdk_cloudformation::Client, stack: &str, key: &str) -> Option<String> {
    let out = cfn.describe_stacks().stack_name(stack).send().await.ok()?;
    let found = out.stacks().first()?.parameters().iter().find(|p| p.parameter_key() == Some(key))?;
    found.parameter_value().map(str::to_owned)
}

async fn stack_exists(cfn: &aws_sdk_cloudformation::Client, stack: &str) -> bool {
    match cfn.describe_stacks().stack_name(stack).send().await {
        Ok(out) => out.stacks().iter().any(|s| s.stack_status().is_some_and(|st| st.as_str() != "DELETE_COMPLETE")),
        Err(_) => false,
    }
}

#[tokio::test]
async fn deploy_update_dry_run_and_destroy_against_ministack() {
    let endpoint = ministack();
    let dir = scratch();
    let zip = bootstrap_zip(&dir);
    let template = ministack_template(&dir, &[]);
    let stack = format!("bs-deploy-{}", std::process::id());
    let env =
        [("AWS_ENDPOINT_URL", endpoint.as_str()), ("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")];
    let (zip, template) = (zip.to_str().expect("utf-8 path"), template.to_str().expect("utf-8 path"));
    let common = [
        "--stack-name",
        &stack,
        "--region",
        REGION,
        "--selector",
        "tag:blankslate",
        "--zip",
        zip,
        "--template",
        template,
    ];
    let deploy = |more: &[&str]| {
        let args: Vec<&str> = ["deploy"].iter().chain(common.iter()).chain(more).copied().collect();
        let out = blankslate(&args, &env, "");
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "deploy {more:?}: exit {:?}\n{stdout}\n{stderr}", out.status);
        stdout
    };
    let aws = sdk(&endpoint).await;
    let cfn = aws_sdk_cloudformation::Client::new(&aws);

    // --dry-run on a new stack: the change set as a table, then nothing left behind. (The
    // bucket is created on the first run against a fresh ministack, reused after.)
    let shown = deploy(&["--dry-run"]);
    for expected in [
        "package: bootstrap for x86_64, needs glibc",
        "upload: s3://blankslate-artifacts-000000000000-ap-southeast-2/blankslate/bootstrap-",
        "creating it with change set",
        "ACTION",
        "Add     JournalTable",
        "AWS::DynamoDB::Table",
        "dry run: nothing executed",
    ] {
        assert!(shown.contains(expected), "missing {expected:?} in:\n{shown}");
    }
    assert!(!stack_exists(&cfn, &stack).await, "a dry run left stack {stack} behind");

    // The real create: events as they come, then the outputs.
    let created = deploy(&[]);
    for expected in [
        "already there".to_owned(), // the dry run uploaded the same content under the same keys
        "CREATE_COMPLETE       AWS::DynamoDB::Table".to_owned(),
        format!("stack {stack}: CREATE_COMPLETE"),
        "outputs:".to_owned(),
        format!("JournalTableName         {stack}-Workspace_Journal"),
        format!("{stack}-Workspace_Disconnected_Topic"),
        "ReconcilerFunctionName".to_owned(),
        "DisconnectQueueUrl".to_owned(),
        "CREATE_COMPLETE AWS::Lambda::EventSourceMapping DisconnectQueueMapping".to_owned(),
    ] {
        // Column widths follow the longest name: compare with single spaces.
        let squeeze = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(squeeze(&created).contains(&squeeze(&expected)), "missing {expected:?} in:\n{created}");
    }

    // The same deploy again: nothing to change.
    assert!(deploy(&[]).contains("already up to date"));

    // A changed parameter under --dry-run: shown as modifications, not applied.
    let shown = deploy(&["--grace-minutes", "20", "--dry-run"]);
    assert!(shown.contains("updating it with change set") && shown.contains("Modify"), "{shown}");
    assert!(shown.contains("dry run: nothing executed"), "{shown}");
    assert_ne!(stack_parameter(&cfn, &stack, "GraceMinutes").await.as_deref(), Some("20"), "the dry run executed");

    // Applied for real: an update.
    let updated = deploy(&["--grace-minutes", "20"]);
    assert!(updated.contains("UPDATE_COMPLETE") && updated.contains("outputs:"), "{updated}");
    assert_eq!(stack_parameter(&cfn, &stack, "GraceMinutes").await.as_deref(), Some("20"));
    // A deploy without the flag keeps the value set before: nothing to change.
    assert!(deploy(&[]).contains("already up to date"), "leaving out --grace-minutes reset it");

    // Run-time alarms the functions would have made (named after the stack), another
    // stack's, one of the seed's naming for a WorkSpace this stack never managed, and
    // someone else's alarm.
    let topic = format!("arn:aws:sns:{REGION}:000000000000:{stack}-Workspace_Disconnected_Topic");
    let stack_owner = |name: &str| Owner::Stack(StackName::new(name).expect("stack name"));
    let alarms = CloudWatchAlarms::new(&aws, topic.clone()).owned_by(stack_owner(&stack));
    let other_stack = format!("{stack}-other");
    let others = CloudWatchAlarms::new(&aws, topic.clone()).owned_by(stack_owner(&other_stack));
    let seeds = CloudWatchAlarms::new(&aws, topic);
    let ours = [WorkspaceId::new("ws-deploy0001").expect("id"), WorkspaceId::new("ws-deploy0002").expect("id")];
    for id in &ours {
        alarms.put_disconnect_alarm(id).await.expect("alarm created");
        others.put_disconnect_alarm(id).await.expect("the other stack's alarm");
    }
    let unmanaged = WorkspaceId::new("ws-deploy0003").expect("id");
    seeds.put_disconnect_alarm(&unmanaged).await.expect("an alarm of the seed's naming");
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&aws);
    let foreign = format!("team-cpu-high-{}", std::process::id());
    cloudwatch
        .put_metric_alarm()
        .alarm_name(&foreign)
        .namespace("AWS/EC2")
        .metric_name("CPUUtilization")
        .statistic(Statistic::Average)
        .period(300)
        .evaluation_periods(1)
        .threshold(90.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("foreign alarm");

    // Destroy asks for the stack name; a wrong answer deletes nothing.
    let args = ["destroy", "--stack-name", &stack, "--region", REGION];
    let out = blankslate(&args, &env, "yes\n");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains(&format!("Type the stack name ({stack})")) && stderr.contains("not confirmed"), "{stderr}");
    assert!(stack_exists(&cfn, &stack).await, "deleted without confirmation");

    // Typing the name: the stack and our alarms go, the foreign alarm stays.
    let out = blankslate(&args, &env, &format!("{stack}\n"));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "destroy: exit {:?}\n{stdout}\n{stderr}", out.status);
    for expected in [
        "DELETE_COMPLETE       AWS::CloudFormation::Stack".to_owned(),
        format!("deleted 2 alarm(s) of this stack (Workspace_Disconnected_{stack}_id_*"),
        "other stacks' alarms and every WorkSpace untouched".to_owned(),
        "DeletionPolicy Retain".to_owned(),
        format!("aws dynamodb delete-table --table-name {stack}-Workspace_Journal"),
    ] {
        assert!(stdout.contains(&expected), "missing {expected:?} in:\n{stdout}");
    }
    assert!(!stack_exists(&cfn, &stack).await, "the stack is still there");
    assert_eq!(alarms.list_disconnect_alarms().await.expect("alarms listed"), Vec::<WorkspaceId>::new());
    let mut kept = others.list_disconnect_alarms().await.expect("the other stack's alarms");
    kept.sort();
    assert_eq!(kept, ours, "destroy deleted another stack's alarms");
    assert!(seeds.list_disconnect_alarms().await.expect("listed").contains(&unmanaged), "not this stack's to delete");
    others.delete_disconnect_alarms(&ours).await.expect("clean up");
    seeds.delete_disconnect_alarms(&[unmanaged]).await.expect("clean up");
    let left = cloudwatch.describe_alarms().alarm_names(&foreign).send().await.expect("describe alarms");
    assert_eq!(left.metric_alarms().len(), 1, "destroy deleted an alarm that was not ours");
    cloudwatch.delete_alarms().alarm_names(&foreign).send().await.expect("clean up");

    // Gone: a second destroy says where it looked.
    let out = blankslate(&["destroy", "--yes", "--stack-name", &stack, "--region", REGION], &env, "");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(&format!("stack {stack} not found in {REGION}")) && stderr.contains("--region"),
        "{stderr}"
    );
}
