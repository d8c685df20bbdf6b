//! `DynamoJournal` against ministack's DynamoDB, over HTTP on loopback.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use blankslate_aws::{journal_schema, DynamoJournal};
use blankslate_core::ids::{BundleId, DeskKey, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::{Phase, Record};
use blankslate_core::reconcile::Write;
use blankslate_core::spec::{Tags, VolumeEncryption, WorkspaceSpec};
use blankslate_core::Timestamp;
use blankslate_handlers::ports::{ErrorKind, Journal};

/// A journal in a fresh table of its own, so tests can run in parallel.
async fn fresh_journal() -> (DynamoJournal, aws_sdk_dynamodb::Client, String) {
    let config = common::sdk_config(&common::ministack()).await;
    let table = common::unique("blankslate-journal-");
    let journal = DynamoJournal::new(&config, table.clone());
    journal.create_table().await.expect("create_table");
    (journal, aws_sdk_dynamodb::Client::new(&config), table)
}

fn workspace() -> WorkspaceId {
    WorkspaceId::new(common::unique("ws-")).expect("unique() makes valid IDs")
}

fn record(user: &str) -> Record {
    let mut spec = WorkspaceSpec::new(
        DirectoryId::new("d-9067083b4b").expect("valid"),
        UserName::new(user).expect("valid"),
        BundleId::new("wsb-vw0mb86zg").expect("valid"),
    );
    spec.encryption = VolumeEncryption::from_request_fields(Some("alias/ws"), true, true).expect("valid");
    spec.tags = Tags::from_pairs([("blankslate", "managed")]).expect("valid");
    Record::enrol(spec, workspace(), Timestamp::from_millis(1_700_000_000_000))
}

fn conflict(result: Result<Option<Record>, blankslate_handlers::ports::PortError>, what: &str) {
    match result {
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::Conflict, "{what}: {e}");
            assert!(e.message.contains("ConditionalCheckFailed"), "{what}: the AWS code is kept: {e}");
        }
        Ok(stored) => panic!("{what}: expected a Conflict, the write was stored: {stored:?}"),
    }
}

#[tokio::test]
async fn create_table_is_idempotent_and_builds_the_documented_schema() {
    let (journal, client, table) = fresh_journal().await;
    journal.create_table().await.expect("creating an existing table is fine");
    let described = client.describe_table().table_name(&table).send().await.expect("DescribeTable");
    let table = described.table().expect("a description");
    let key: Vec<&str> = table.key_schema().iter().map(|k| k.attribute_name()).collect();
    assert_eq!(key, [journal_schema::KEY]);
    let index = table
        .global_secondary_indexes()
        .iter()
        .find(|i| i.index_name() == Some(journal_schema::INDEX))
        .expect("the by-workspace index");
    let index_key: Vec<&str> = index.key_schema().iter().map(|k| k.attribute_name()).collect();
    assert_eq!(index_key, [journal_schema::WORKSPACE_ATTRIBUTE]);
    let projection = index.projection().and_then(|p| p.projection_type()).map(|p| p.as_str());
    assert_eq!(projection, Some(journal_schema::INDEX_PROJECTION));
}

#[tokio::test]
async fn conditional_writes_hold_and_races_are_conflicts() {
    let (journal, client, table) = fresh_journal().await;
    let new = record("jane.doe@school.example");
    let desk = new.desk.clone();

    let stored = journal.write(&Write::Insert(new.clone())).await.expect("insert").expect("a record");
    assert_eq!(stored, Record { version: 1, ..new.clone() });
    assert_eq!(journal.get(&desk).await.expect("get"), Some(stored.clone()));
    conflict(journal.write(&Write::Insert(new.clone())).await, "insert over an existing record");

    let disconnected = stored.with_phase(
        Phase::Disconnected {
            workspace_id: stored.workspace_id().expect("active").clone(),
            at: Timestamp::from_millis(1_700_000_060_000),
        },
        Timestamp::from_millis(1_700_000_060_000),
    );
    let updated = journal.write(&Write::Update(disconnected.clone())).await.expect("update").expect("a record");
    assert_eq!(updated, Record { version: 2, ..disconnected.clone() }, "stored at version + 1");
    assert_eq!(journal.get(&desk).await.expect("get"), Some(updated.clone()));
    conflict(journal.write(&Write::Update(disconnected.clone())).await, "update from a stale version");

    // The item is laid out as the CloudFormation template and other tools expect.
    let item = client
        .get_item()
        .table_name(&table)
        .key(journal_schema::KEY, AttributeValue::S(journal_schema::desk_key(&desk)))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem");
    let item = item.item().expect("the item");
    assert_eq!(item.get(journal_schema::KEY), Some(&AttributeValue::S(format!("d-9067083b4b/{}", desk.user_name))));
    assert_eq!(item.get(journal_schema::VERSION_ATTRIBUTE), Some(&AttributeValue::N("2".into())));
    let ws = updated.workspace_id().expect("still has one").as_str().to_owned();
    assert_eq!(item.get(journal_schema::WORKSPACE_ATTRIBUTE), Some(&AttributeValue::S(ws)));

    conflict(journal.write(&Write::Delete(stored.clone())).await, "delete from a stale version");
    assert!(journal.get(&desk).await.expect("get").is_some(), "a stale delete removes nothing");
    assert_eq!(journal.write(&Write::Delete(updated)).await.expect("delete"), None);
    assert_eq!(journal.get(&desk).await.expect("get"), None);
    conflict(journal.write(&Write::Update(disconnected)).await, "update of a deleted record");
}

#[tokio::test]
async fn find_by_workspace_follows_the_current_workspace() {
    let (journal, _, _) = fresh_journal().await;
    let stored = journal.write(&Write::Insert(record("tester2"))).await.expect("insert").expect("a record");
    let old = stored.workspace_id().expect("active").clone();
    assert_eq!(journal.find_by_workspace(&old).await.expect("find"), Some(stored.clone()));

    // A rebuild: Creating has no WorkSpace, then Active with a new one.
    let creating = stored.with_phase(
        Phase::Creating {
            replaces: old.clone(),
            disconnected_at: Timestamp::from_millis(1),
            started_at: Timestamp::from_millis(2),
            attempts: 0,
            retry_at: Timestamp::from_millis(3),
            maybe_created: false,
        },
        Timestamp::from_millis(4),
    );
    let creating = journal.write(&Write::Update(creating)).await.expect("update").expect("a record");
    assert_eq!(journal.find_by_workspace(&old).await.expect("find"), None, "no WorkSpace while creating");

    let new = workspace();
    let active = creating.with_phase(Phase::Active { workspace_id: new.clone() }, Timestamp::from_millis(5));
    let active = journal.write(&Write::Update(active)).await.expect("update").expect("a record");
    assert_eq!(journal.find_by_workspace(&old).await.expect("find"), None, "the old ID finds nothing");
    assert_eq!(journal.find_by_workspace(&new).await.expect("find"), Some(active));
    assert_eq!(journal.find_by_workspace(&workspace()).await.expect("find"), None);
}

#[tokio::test]
async fn list_returns_every_record_across_pages() {
    let (journal, client, table) = fresh_journal().await;
    let mut desks: Vec<DeskKey> = Vec::new();
    for i in 0..150 {
        let stored = journal.write(&Write::Insert(record(&format!("user{i:03}")))).await.expect("insert");
        desks.push(stored.expect("a record").desk);
    }
    for journal in [journal.clone(), journal.with_page_size(40)] {
        let mut listed: Vec<DeskKey> = journal.list().await.expect("list").into_iter().map(|r| r.desk).collect();
        listed.sort();
        desks.sort();
        assert_eq!(listed, desks);
    }
    // The emulator really pages: a first page of 40 carries a continuation key.
    let first = client.scan().table_name(&table).limit(40).send().await.expect("Scan");
    assert_eq!(first.items().len(), 40);
    assert!(first.last_evaluated_key().is_some(), "ministack should page with Limit");
}

#[tokio::test]
async fn a_damaged_record_is_an_error_naming_the_desk() {
    let (journal, client, table) = fresh_journal().await;
    let stored = journal.write(&Write::Insert(record("tester3"))).await.expect("insert").expect("a record");
    let key = journal_schema::desk_key(&stored.desk);
    client
        .update_item()
        .table_name(&table)
        .key(journal_schema::KEY, AttributeValue::S(key.clone()))
        .update_expression("SET #r = :r")
        .expression_attribute_names("#r", journal_schema::RECORD_ATTRIBUTE)
        .expression_attribute_values(":r", AttributeValue::S("{\"desk\": 42}".into()))
        .send()
        .await
        .expect("damage the record");
    for result in [journal.get(&stored.desk).await, journal.list().await.map(|mut l| l.pop())] {
        let err = result.expect_err("a damaged record is refused");
        assert_eq!(err.kind, ErrorKind::Rejected);
        assert!(err.message.contains(&key), "{err}");
    }
}

#[tokio::test]
async fn the_learned_rate_is_one_item_beside_the_desks_and_never_read_as_a_desk() {
    use blankslate_core::pacing::Pacing;
    let (journal, client, table) = fresh_journal().await;
    assert_eq!(journal.pacing().await.expect("read"), None, "nothing stored yet");
    let record = record("alice");
    journal.write(&Write::Insert(record.clone())).await.expect("insert");
    let pacing = Pacing {
        throttled_ticks: 2,
        cut_from: Some(1.8),
        since_cut: 3,
        ..Pacing::at(1.25, Timestamp::from_millis(1_700_000_000_000))
    };
    journal.store_pacing(&pacing).await.expect("store");
    journal.store_pacing(&Pacing { per_second: 0.875, ..pacing }).await.expect("store again");
    assert_eq!(journal.pacing().await.expect("read"), Some(Pacing { per_second: 0.875, ..pacing }));
    // The scan that lists the desks passes over it, and no index query finds it.
    let listed = journal.list().await.expect("list");
    assert_eq!(listed.iter().map(|r| r.desk.clone()).collect::<Vec<_>>(), vec![record.desk.clone()]);
    // A damaged item is an error naming it, never a silent reset of the rate.
    client
        .put_item()
        .table_name(&table)
        .item(journal_schema::KEY, AttributeValue::S(journal_schema::PACING_KEY.into()))
        .item(journal_schema::PACING_ATTRIBUTE, AttributeValue::S("{\"per_second\":".into()))
        .send()
        .await
        .expect("damage it");
    let err = journal.pacing().await.expect_err("damaged");
    assert_eq!(err.kind, ErrorKind::Rejected);
    assert!(err.message.contains("#pacing"), "{err}");
}
