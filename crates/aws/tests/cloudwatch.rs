//! `CloudWatchAlarms` against ministack's CloudWatch, over HTTP on loopback.

mod common;

use aws_sdk_cloudwatch::types::{ComparisonOperator, MetricAlarm, Statistic};
use blankslate_aws::CloudWatchAlarms;
use blankslate_core::alarm::{alarm_name, Listed, Owner, StackName};
use blankslate_core::ids::WorkspaceId;
use blankslate_handlers::ports::Alarms;

/// A WorkSpace ID no other test uses.
fn workspace() -> WorkspaceId {
    WorkspaceId::new(common::unique("ws-")).expect("unique() makes valid IDs")
}

async fn set_up() -> (CloudWatchAlarms, aws_sdk_cloudwatch::Client, String) {
    let config = common::sdk_config(&common::ministack()).await;
    let topic = format!("arn:aws:sns:us-east-1:000000000000:{}", common::unique("Workspace_Disconnected_Topic_"));
    (CloudWatchAlarms::new(&config, topic.clone()), aws_sdk_cloudwatch::Client::new(&config), topic)
}

/// The alarm as CloudWatch describes it, read with the plain SDK client.
async fn read_back(client: &aws_sdk_cloudwatch::Client, id: &WorkspaceId) -> Option<MetricAlarm> {
    let answer =
        client.describe_alarms().alarm_names(alarm_name(&Owner::Legacy, id)).send().await.expect("DescribeAlarms");
    let mut alarms = answer.metric_alarms().to_vec();
    assert!(alarms.len() <= 1, "one name, at most one alarm: {alarms:?}");
    alarms.pop()
}

#[tokio::test]
async fn put_creates_the_seed_alarm_with_our_settings_and_is_idempotent() {
    let (alarms, client, topic) = set_up().await;
    let id = workspace();
    alarms.put_disconnect_alarm(&id).await.expect("first put");
    alarms.put_disconnect_alarm(&id).await.expect("second put is idempotent");

    let alarm = read_back(&client, &id).await.expect("the alarm exists");
    assert_eq!(alarm.alarm_name(), Some(format!("Workspace_Disconnected_id_{id}").as_str()));
    assert_eq!(alarm.namespace(), Some("AWS/WorkSpaces"));
    assert_eq!(alarm.metric_name(), Some("SessionDisconnect"));
    let dimensions: Vec<(Option<&str>, Option<&str>)> =
        alarm.dimensions().iter().map(|d| (d.name(), d.value())).collect();
    assert_eq!(dimensions, [(Some("WorkspaceId"), Some(id.as_str()))]);
    assert_eq!(alarm.statistic(), Some(&Statistic::Sum));
    assert_eq!(alarm.period(), Some(60));
    assert_eq!(alarm.evaluation_periods(), Some(1));
    assert_eq!(alarm.datapoints_to_alarm(), Some(1));
    assert_eq!(alarm.threshold(), Some(1.0));
    assert_eq!(alarm.comparison_operator(), Some(&ComparisonOperator::GreaterThanOrEqualToThreshold));
    assert_eq!(alarm.treat_missing_data(), Some("notBreaching"));
    assert_eq!(alarm.actions_enabled(), Some(true));
    assert_eq!(alarm.alarm_actions(), [topic]);
    assert!(alarm.ok_actions().is_empty() && alarm.insufficient_data_actions().is_empty());
    let description = alarm.alarm_description().unwrap_or_default();
    assert!(description.contains("blankslate") && description.contains(id.as_str()), "{description}");

    let listed = alarms.list_disconnect_alarms().await.expect("list");
    assert_eq!(listed.iter().filter(|l| **l == id).count(), 1, "listed once: {listed:?}");
    alarms.delete_disconnect_alarms(&[id]).await.expect("clean up");
}

#[tokio::test]
async fn delete_removes_alarms_and_missing_ones_are_fine() {
    let (alarms, client, _) = set_up().await;
    let (kept, deleted, never_existed) = (workspace(), workspace(), workspace());
    alarms.put_disconnect_alarm(&kept).await.expect("put kept");
    alarms.put_disconnect_alarm(&deleted).await.expect("put deleted");

    alarms.delete_disconnect_alarms(&[deleted.clone(), never_existed.clone()]).await.expect("delete");
    assert!(read_back(&client, &deleted).await.is_none(), "deleted alarm is gone");
    assert!(read_back(&client, &kept).await.is_some(), "an alarm not named stays");
    alarms.delete_disconnect_alarms(std::slice::from_ref(&deleted)).await.expect("deleting it again is fine");
    alarms.delete_disconnect_alarms(&[]).await.expect("deleting nothing is fine");

    let listed = alarms.list_disconnect_alarms().await.expect("list");
    assert!(listed.contains(&kept) && !listed.contains(&deleted) && !listed.contains(&never_existed));
    alarms.delete_disconnect_alarms(&[kept]).await.expect("clean up");
}

#[tokio::test]
async fn list_reads_every_page_and_ignores_foreign_alarms() {
    let (alarms, client, _) = set_up().await;
    let ids: Vec<WorkspaceId> = (0..7).map(|_| workspace()).collect();
    for id in &ids {
        alarms.put_disconnect_alarm(id).await.expect("put");
    }
    // Same prefix but no WorkSpace ID after it: not ours, never listed.
    const FOREIGN: &str = "Workspace_Disconnected_id_not-a-workspace";
    client
        .put_metric_alarm()
        .alarm_name(FOREIGN)
        .namespace("AWS/WorkSpaces")
        .metric_name("SessionDisconnect")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .send()
        .await
        .expect("put a foreign alarm");

    // Two per page: this run's seven alone take four pages, other tests' alarms more.
    let listed = alarms.clone().with_page_size(2).list_disconnect_alarms().await.expect("list");
    for id in &ids {
        assert!(listed.contains(id), "{id} missing from {} listed", listed.len());
    }
    // The emulator really pages: a first page of two carries a token.
    let first = client.describe_alarms().alarm_name_prefix("Workspace_Disconnected_id_").max_records(2).send().await;
    let first = first.expect("DescribeAlarms");
    assert_eq!(first.metric_alarms().len(), 2);
    assert!(first.next_token().is_some(), "ministack should page with MaxRecords");

    alarms.delete_disconnect_alarms(&ids).await.expect("clean up");
    client.delete_alarms().alarm_names(FOREIGN).send().await.expect("clean up the foreign alarm");
}

#[tokio::test]
async fn more_than_one_hundred_alarms_are_deleted_in_chunks() {
    let (alarms, client, _) = set_up().await;
    let ids: Vec<WorkspaceId> = (0..105).map(|_| workspace()).collect();
    for id in &ids {
        alarms.put_disconnect_alarm(id).await.expect("put");
    }
    let listed = alarms.list_disconnect_alarms().await.expect("list at the default page size");
    assert!(ids.iter().all(|id| listed.contains(id)), "all 105 listed");

    alarms.delete_disconnect_alarms(&ids).await.expect("delete 105");
    for id in [&ids[0], &ids[99], &ids[100], &ids[104]] {
        assert!(read_back(&client, id).await.is_none(), "{id} deleted");
    }
}

#[tokio::test]
async fn stacks_in_one_region_keep_to_their_own_alarms_and_adopt_the_seeds_naming() {
    let (legacy, client, _) = set_up().await;
    let owner = |name: &str| Owner::Stack(StackName::new(common::unique(name)).expect("valid stack name"));
    let (lab_owner, exam_owner) = (owner("lab-"), owner("exam-"));
    let lab = legacy.clone().owned_by(lab_owner.clone());
    let exam = legacy.clone().owned_by(exam_owner.clone());
    let (shared, lab_only, old) = (workspace(), workspace(), workspace());
    lab.put_disconnect_alarm(&shared).await.expect("lab's alarm");
    lab.put_disconnect_alarm(&lab_only).await.expect("lab's alarm");
    exam.put_disconnect_alarm(&shared).await.expect("exam's alarm on the same WorkSpace");
    legacy.put_disconnect_alarm(&old).await.expect("an alarm of the seed's naming");
    let exists = |owner: Owner, id: WorkspaceId| {
        let client = client.clone();
        async move {
            let name = alarm_name(&owner, &id);
            let answer = client.describe_alarms().alarm_names(&name).send().await.expect("DescribeAlarms");
            !answer.metric_alarms().is_empty()
        }
    };
    assert!(exists(lab_owner.clone(), shared.clone()).await && exists(exam_owner.clone(), shared.clone()).await);

    // Each stack lists its own; the family listing shows every owner.
    let mut own = lab.list_disconnect_alarms().await.expect("lab lists");
    own.sort();
    let mut expected = vec![shared.clone(), lab_only.clone()];
    expected.sort();
    assert_eq!(own, expected);
    assert_eq!(exam.list_disconnect_alarms().await.expect("exam lists"), std::slice::from_ref(&shared));
    let family = lab.list_alarm_family().await.expect("family");
    for listed in [
        Listed { workspace: shared.clone(), owner: lab_owner.clone() },
        Listed { workspace: shared.clone(), owner: exam_owner.clone() },
        Listed { workspace: old.clone(), owner: Owner::Legacy },
    ] {
        assert!(family.contains(&listed), "{listed:?} missing from the family listing");
    }

    // Deleting lab's alarm of the shared WorkSpace leaves exam's; the seed's naming of a
    // WorkSpace goes with lab's own alarm of it, and alone when adopted.
    lab.delete_disconnect_alarms(std::slice::from_ref(&shared)).await.expect("lab deletes its own");
    assert!(!exists(lab_owner.clone(), shared.clone()).await);
    assert!(exists(exam_owner.clone(), shared.clone()).await, "exam's alarm is exam's");
    lab.put_disconnect_alarm(&old).await.expect("lab adopts");
    lab.delete_legacy_alarms(std::slice::from_ref(&old)).await.expect("the old name goes");
    assert!(!exists(Owner::Legacy, old.clone()).await && exists(lab_owner.clone(), old.clone()).await);

    lab.delete_disconnect_alarms(&[lab_only, old]).await.expect("clean up");
    exam.delete_disconnect_alarms(&[shared]).await.expect("clean up");
}
