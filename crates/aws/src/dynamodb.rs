//! The journal in DynamoDB: [`DynamoJournal`].
//!
//! One item per desk. The record itself is stored as JSON in one attribute, so the
//! table's schema does not change when the record gains a field; only what DynamoDB must
//! see is lifted out of it: the key, the version the conditions test, and the current
//! WorkSpace ID the index is built on. Every write is conditional, so two functions racing
//! on one desk cannot both act: the loser gets `ErrorKind::Conflict` and re-reads.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableStatus,
};
use aws_sdk_dynamodb::Client;
use blankslate_core::ids::{DeskKey, WorkspaceId};
use blankslate_core::journal::Record;
use blankslate_core::pacing::Pacing;
use blankslate_core::reconcile::Write;
use blankslate_handlers::ports::{ErrorKind, Journal, PortError, PortResult};

use crate::error::{build_error, port_error, rejected};

/// The table's layout, shared with the CloudFormation template and the tests.
///
/// The index projects keys only: a hit is confirmed with a consistent GetItem anyway
/// (the index is eventually consistent, and a stale hit could name the WorkSpace a desk
/// had before its rebuild), so projecting the whole record would double every write's
/// size for nothing.
pub mod journal_schema {
    use blankslate_core::ids::DeskKey;

    /// Partition key (S): `<directory>/<user>`, see [`desk_key`].
    pub const KEY: &str = "desk";
    /// The global secondary index on [`WORKSPACE_ATTRIBUTE`], projection `KEYS_ONLY`.
    pub const INDEX: &str = "by-workspace";
    /// The current WorkSpace ID (S), present only while the desk has one, so the index
    /// holds exactly the desks that have a WorkSpace.
    pub const WORKSPACE_ATTRIBUTE: &str = "workspace_id";
    /// The record's version (N), the value every conditional write tests.
    pub const VERSION_ATTRIBUTE: &str = "version";
    /// The whole record (S), serde_json of `blankslate_core::journal::Record`.
    pub const RECORD_ATTRIBUTE: &str = "record";
    /// The index's projection type.
    pub const INDEX_PROJECTION: &str = "KEYS_ONLY";
    /// The key of the one item that is not a desk: the reconciler's learned API rate
    /// (`blankslate_core::pacing::Pacing`). No desk key starts with `#` (a directory ID
    /// starts with `d-`), and the item has no WorkSpace ID, so the index never holds it.
    pub const PACING_KEY: &str = "#pacing";
    /// The learned rate (S), serde_json of `Pacing`, in the [`PACING_KEY`] item.
    pub const PACING_ATTRIBUTE: &str = "pacing";

    /// The partition key of `desk`. Directory IDs contain no `/`, so the first `/`
    /// separates the two parts whatever the user name holds.
    pub fn desk_key(desk: &DeskKey) -> String {
        blankslate_core::journal::stored::desk_key(desk)
    }
}

use journal_schema::{
    desk_key, INDEX, KEY, PACING_ATTRIBUTE, PACING_KEY, RECORD_ATTRIBUTE, VERSION_ATTRIBUTE, WORKSPACE_ATTRIBUTE,
};

type Item = HashMap<String, AttributeValue>;

fn is_pacing(item: &Item) -> bool {
    matches!(item.get(KEY), Some(AttributeValue::S(key)) if key == PACING_KEY)
}

/// How long [`DynamoJournal::create_table`] waits for the table to become ACTIVE.
const CREATE_TIMEOUT: Duration = Duration::from_secs(300);

/// [`Journal`] over a DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoJournal {
    client: Client,
    table: String,
    page_size: Option<i32>,
}

impl DynamoJournal {
    /// A journal in `table`, reached with `config`.
    pub fn new(config: &SdkConfig, table: String) -> Self {
        Self { client: Client::new(config), table, page_size: None }
    }

    /// Reads at most `items` per Scan page instead of DynamoDB's 1 MB pages. More pages
    /// cost more calls, so this exists for tests that prove every page is read.
    pub fn with_page_size(mut self, items: i32) -> Self {
        self.page_size = Some(items.max(1));
        self
    }

    /// Creates the table (PAY_PER_REQUEST, key + GSI) if missing, waits until ACTIVE. For
    /// tests and local set-ups; the CloudFormation template defines the same table.
    ///
    /// An existing table is accepted only if its key and index are ours: writing records
    /// into a table of another shape would fail later and less clearly.
    pub async fn create_table(&self) -> Result<(), PortError> {
        const OP: &str = "CreateTable";
        let string = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()
        };
        let hash = |name: &str| KeySchemaElement::builder().attribute_name(name).key_type(KeyType::Hash).build();
        let index = GlobalSecondaryIndex::builder()
            .index_name(INDEX)
            .key_schema(hash(WORKSPACE_ATTRIBUTE).map_err(|e| build_error(OP, e))?)
            .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
            .build()
            .map_err(|e| build_error(OP, e))?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string(KEY).map_err(|e| build_error(OP, e))?)
            .attribute_definitions(string(WORKSPACE_ATTRIBUTE).map_err(|e| build_error(OP, e))?)
            .key_schema(hash(KEY).map_err(|e| build_error(OP, e))?)
            .global_secondary_indexes(index)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => {}
            Err(e) => return Err(port_error(OP, e)),
        }
        self.wait_until_active().await
    }

    async fn wait_until_active(&self) -> Result<(), PortError> {
        const OP: &str = "DescribeTable";
        let deadline = Instant::now() + CREATE_TIMEOUT;
        loop {
            let answer =
                self.client.describe_table().table_name(&self.table).send().await.map_err(|e| port_error(OP, e))?;
            let Some(table) = answer.table() else {
                return Err(PortError::new(ErrorKind::Unavailable, OP, format!("no description of {}", self.table)));
            };
            let key_ok =
                matches!(table.key_schema(), [k] if k.attribute_name() == KEY && *k.key_type() == KeyType::Hash);
            let index = table.global_secondary_indexes().iter().find(|i| i.index_name() == Some(INDEX));
            let index_ok = index.is_some_and(|i| {
                matches!(i.key_schema(), [k] if k.attribute_name() == WORKSPACE_ATTRIBUTE && *k.key_type() == KeyType::Hash)
            });
            if !key_ok || (index.is_some() && !index_ok) {
                return Err(rejected(
                    OP,
                    format!(
                        "table {} exists with another key schema than {KEY} / {INDEX}({WORKSPACE_ATTRIBUTE})",
                        self.table
                    ),
                ));
            }
            let table_active = table.table_status() == Some(&TableStatus::Active);
            if table_active && index.is_none() {
                return Err(rejected(OP, format!("table {} exists without the {INDEX} index", self.table)));
            }
            if table_active && index.and_then(|i| i.index_status()) == Some(&IndexStatus::Active) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(PortError::new(
                    ErrorKind::Unavailable,
                    OP,
                    format!("table {} not ACTIVE after {} s", self.table, CREATE_TIMEOUT.as_secs()),
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// GetItem by raw key, consistent.
    async fn get_by_key(&self, key: &str) -> PortResult<Option<Record>> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error("GetItem", e))?;
        answer.item().map(|item| decode("GetItem", item)).transpose()
    }

    async fn put(&self, record: &Record, condition: Condition) -> PortResult<Record> {
        const OP: &str = "PutItem";
        let stored = Record {
            version: record.version.checked_add(1).ok_or_else(|| {
                rejected(OP, format!("desk {}: version {} cannot be incremented", record.desk, record.version))
            })?,
            ..record.clone()
        };
        let request = self.client.put_item().table_name(&self.table).set_item(Some(encode(OP, &stored)?));
        let request = match condition {
            Condition::Absent => {
                request.condition_expression("attribute_not_exists(#key)").expression_attribute_names("#key", KEY)
            }
            Condition::Version(expected) => request
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", VERSION_ATTRIBUTE)
                .expression_attribute_values(":expected", number(expected)),
        };
        request.send().await.map_err(|e| about_desk(port_error(OP, e), &record.desk))?;
        Ok(stored)
    }
}

/// What a conditional write requires of the stored item.
enum Condition {
    /// No item for the desk.
    Absent,
    /// The item at this version.
    Version(u64),
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn about_desk(mut error: PortError, desk: &DeskKey) -> PortError {
    error.message = format!("desk {desk}: {}", error.message);
    error
}

fn encode(operation: &'static str, record: &Record) -> PortResult<Item> {
    let json = blankslate_core::journal::stored::encode(record)
        .map_err(|e| rejected(operation, format!("desk {}: record not encodable: {e}", record.desk)))?;
    let mut item = Item::from([
        (KEY.to_owned(), AttributeValue::S(desk_key(&record.desk))),
        (VERSION_ATTRIBUTE.to_owned(), number(record.version)),
        (RECORD_ATTRIBUTE.to_owned(), AttributeValue::S(json)),
    ]);
    if let Some(id) = record.workspace_id() {
        item.insert(WORKSPACE_ATTRIBUTE.to_owned(), AttributeValue::S(id.as_str().to_owned()));
    }
    Ok(item)
}

/// The record in `item`. The `version` attribute, which the conditions test, wins over
/// the copy inside the JSON. Anything amiss is a `Rejected` error naming the desk: a
/// damaged record must be seen and repaired, never guessed at.
fn decode(operation: &'static str, item: &Item) -> PortResult<Record> {
    let key = match item.get(KEY) {
        Some(AttributeValue::S(key)) => key.as_str(),
        _ => return Err(rejected(operation, format!("a journal item has no string {KEY:?} attribute"))),
    };
    let bad = |why: String| rejected(operation, format!("journal record of desk {key}: {why}"));
    let version = match item.get(VERSION_ATTRIBUTE) {
        Some(AttributeValue::N(n)) => n,
        _ => return Err(bad(format!("no numeric {VERSION_ATTRIBUTE:?} attribute"))),
    };
    let json = match item.get(RECORD_ATTRIBUTE) {
        Some(AttributeValue::S(json)) => json,
        _ => return Err(bad(format!("no string {RECORD_ATTRIBUTE:?} attribute"))),
    };
    // The decoding itself is pure and lives in core, where it is fuzzed.
    blankslate_core::journal::stored::decode(key, version, json).map_err(|e| bad(e.to_string()))
}

impl Journal for DynamoJournal {
    async fn list(&self) -> PortResult<Vec<Record>> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .set_limit(self.page_size)
            .into_paginator()
            .send();
        let mut records = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("Scan", e))?;
            for item in page.items().iter().filter(|item| !is_pacing(item)) {
                records.push(decode("Scan", item)?);
            }
        }
        Ok(records)
    }

    async fn get(&self, desk: &DeskKey) -> PortResult<Option<Record>> {
        self.get_by_key(&desk_key(desk)).await
    }

    async fn find_by_workspace(&self, id: &WorkspaceId) -> PortResult<Option<Record>> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX)
            .key_condition_expression("#ws = :ws")
            .expression_attribute_names("#ws", WORKSPACE_ATTRIBUTE)
            .expression_attribute_values(":ws", AttributeValue::S(id.as_str().to_owned()))
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("Query", e))?;
            keys.extend(page.items().iter().filter_map(|item| match item.get(KEY) {
                Some(AttributeValue::S(key)) => Some(key.clone()),
                _ => None,
            }));
        }
        // The index may lag: confirm each hit on the item itself, read consistently.
        for key in keys {
            if let Some(record) = self.get_by_key(&key).await? {
                if record.workspace_id() == Some(id) {
                    return Ok(Some(record));
                }
            }
        }
        Ok(None)
    }

    async fn pacing(&self) -> PortResult<Option<Pacing>> {
        const OP: &str = "GetItem";
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(PACING_KEY.to_owned()))
            .send()
            .await
            .map_err(|e| port_error(OP, e))?;
        let Some(item) = answer.item() else { return Ok(None) };
        match item.get(PACING_ATTRIBUTE) {
            Some(AttributeValue::S(json)) => serde_json::from_str(json)
                .map(Some)
                .map_err(|e| rejected(OP, format!("the learned API rate item {PACING_KEY:?} is undecodable: {e}"))),
            _ => Err(rejected(OP, format!("the item {PACING_KEY:?} has no string {PACING_ATTRIBUTE:?} attribute"))),
        }
    }

    async fn store_pacing(&self, pacing: &Pacing) -> PortResult<()> {
        const OP: &str = "PutItem";
        let json = serde_json::to_string(pacing).map_err(|e| rejected(OP, e.to_string()))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(PACING_KEY.to_owned()))
            .item(PACING_ATTRIBUTE, AttributeValue::S(json))
            .send()
            .await
            .map_err(|e| port_error(OP, e))?;
        Ok(())
    }

    async fn write(&self, write: &Write) -> PortResult<Option<Record>> {
        match write {
            Write::Insert(record) => self.put(record, Condition::Absent).await.map(Some),
            Write::Update(record) => self.put(record, Condition::Version(record.version)).await.map(Some),
            Write::Delete(record) => {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .key(KEY, AttributeValue::S(desk_key(&record.desk)))
                    .condition_expression("#version = :expected")
                    .expression_attribute_names("#version", VERSION_ATTRIBUTE)
                    .expression_attribute_values(":expected", number(record.version))
                    .send()
                    .await
                    .map_err(|e| about_desk(port_error("DeleteItem", e), &record.desk))?;
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use blankslate_core::ids::{BundleId, DirectoryId, UserName};
    use blankslate_core::journal::Phase;
    use blankslate_core::spec::WorkspaceSpec;
    use blankslate_core::Timestamp;

    use super::*;

    fn record() -> Record {
        let spec = WorkspaceSpec::new(
            DirectoryId::new("d-9067083b4b").unwrap(),
            UserName::new("jane/doe").unwrap(),
            BundleId::new("wsb-vw0mb86zg").unwrap(),
        );
        Record::enrol(spec, WorkspaceId::new("ws-abcdef123").unwrap(), Timestamp::from_millis(1_000))
    }

    #[test]
    fn a_record_round_trips_and_its_workspace_is_indexed() {
        let record = Record { version: 7, ..record() };
        let item = encode("PutItem", &record).unwrap();
        assert_eq!(item.get(KEY), Some(&AttributeValue::S("d-9067083b4b/jane/doe".into())));
        assert_eq!(item.get(WORKSPACE_ATTRIBUTE), Some(&AttributeValue::S("ws-abcdef123".into())));
        assert_eq!(item.get(VERSION_ATTRIBUTE), Some(&AttributeValue::N("7".into())));
        assert_eq!(decode("GetItem", &item).unwrap(), record);

        let creating = record.with_phase(
            Phase::Creating {
                replaces: WorkspaceId::new("ws-abcdef123").unwrap(),
                disconnected_at: Timestamp::from_millis(1),
                started_at: Timestamp::from_millis(2),
                attempts: 0,
                retry_at: Timestamp::from_millis(3),
                maybe_created: false,
            },
            Timestamp::from_millis(4),
        );
        assert!(!encode("PutItem", &creating).unwrap().contains_key(WORKSPACE_ATTRIBUTE));
    }

    #[test]
    fn damaged_items_are_rejected_naming_the_desk() {
        let good = encode("PutItem", &record()).unwrap();
        let damage: Vec<(&str, AttributeValue, &str)> = vec![
            (RECORD_ATTRIBUTE, AttributeValue::S("{\"desk\":".into()), "undecodable"),
            (VERSION_ATTRIBUTE, AttributeValue::N("-1".into()), "version"),
            (VERSION_ATTRIBUTE, AttributeValue::S("1".into()), "version"),
            (KEY, AttributeValue::S("d-9067083b4b/someone-else".into()), "names desk"),
        ];
        for (attribute, value, expected) in damage {
            let mut item = good.clone();
            item.insert(attribute.to_owned(), value);
            let err = decode("Scan", &item).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Rejected);
            assert!(err.message.contains(expected) && err.message.contains("d-9067083b4b/"), "{err}");
        }
        let mut no_key = good;
        no_key.remove(KEY);
        assert_eq!(decode("Scan", &no_key).unwrap_err().kind, ErrorKind::Rejected);
    }
}
