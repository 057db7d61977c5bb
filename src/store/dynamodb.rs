//! The store for the AWS deployment: one DynamoDB table.
//!
//! | attribute | type | what |
//! |---|---|---|
//! | `id` | S | partition key: the change ID |
//! | `record` | S | the whole record, as JSON |
//! | `version` | N | bumped by every write; every write is conditional on it |
//! | `caller`, `status` | S | for people reading the table |
//! | `due` | S | `"due"` while the change needs a visit, absent after |
//! | `next_poll_at` | N | epoch milliseconds of the next visit, with `due` |
//! | `expires_at` | N | epoch seconds, the table's TTL: set once nothing is left to do |
//!
//! Beside the changes, an item `operation#{operationId}` with an `owner` (a change ID) claims
//! each Graph operation for the one change that started or adopted it.
//!
//! The global secondary index `due-index` (partition `due`, sort `next_poll_at`) is sparse:
//! an item is in it only while it has `due`, so the sweeper's query reads the due records and
//! nothing else, however many finished changes the table holds.
//!
//! One partition value (`"due"`) is enough for change-management volumes: thousands of
//! changes a day, far under the 1,000 writes a second one partition of an index takes. Past
//! that, [`DueShards`] spreads the due records over `"due"`, `"due#1"`, … `"due#{N-1}"`, by a
//! hash of the change ID, and a pass queries every shard at once: one query per shard, plus
//! the writes of the records it visits. The first shard's value is the unsharded one, so a
//! table keeps working when sharding is turned on.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use time::OffsetDateTime;

use super::due_index::{DUE, DUE_INDEX, DueShards};
use super::{Store, StoreError, backend, due_ms, unix_ms};
use crate::change::{ChangeId, ChangeRecord, KeyedDelivery, OperationId, Pacing};

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    retention: Duration,
    due_shards: DueShards,
}

/// Keys of operation claims: apart from change IDs, which are UUIDs.
const OPERATION_PREFIX: &str = "operation#";
/// Items that keep a delivery under its caller's key: `delivery#{slot}`.
const DELIVERY_PREFIX: &str = "delivery#";

fn is_condition_failure<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

/// The string attribute `name` of `item`.
fn string_attribute(item: Option<&HashMap<String, AttributeValue>>, name: &str) -> Option<String> {
    item?.get(name)?.as_s().ok().cloned()
}

impl DynamoStore {
    /// Sends a conditional `put` that keeps an item at `key` unless another holds it: `None`
    /// when it wrote, else the holder's string attribute `name`. The write that loses brings
    /// the holder back (`ReturnValuesOnConditionCheckFailure`), so a race lost costs one
    /// request; from a DynamoDB-compatible server that sends nothing back, it is read.
    async fn put_unless_held(
        &self,
        put: PutItemFluentBuilder,
        key: AttributeValue,
        name: &str,
        missing: &'static str,
    ) -> Result<Option<String>, StoreError> {
        let result = put
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let sent_back = match result {
            Ok(_) => return Ok(None),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                PutItemError::ConditionalCheckFailedException(held) => {
                    string_attribute(held.item(), name)
                }
                other => return Err(backend(other)),
            },
            Err(e) => return Err(backend(e)),
        };
        if sent_back.is_some() {
            return Ok(sent_back);
        }
        let held = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", key)
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        string_attribute(held.item(), name)
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(serde::de::Error::custom(missing)))
    }

    /// Creates `table` as `template.yaml` declares it (keys, the sparse due index, billed
    /// per request), for a DynamoDB-compatible server the template does not deploy to: the
    /// tests' and the benchmark's moto. A deployment's table comes from the template.
    pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
            Projection, ProjectionType, ScalarAttributeType,
        };
        let attribute = |name: &str, kind| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(kind)
                .build()
                .map_err(backend)
        };
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(backend)
        };
        let due_index = GlobalSecondaryIndex::builder()
            .index_name(DUE_INDEX)
            .key_schema(key(DUE, KeyType::Hash)?)
            .key_schema(key("next_poll_at", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(backend)?;
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute("id", ScalarAttributeType::S)?)
            .attribute_definitions(attribute(DUE, ScalarAttributeType::S)?)
            .attribute_definitions(attribute("next_poll_at", ScalarAttributeType::N)?)
            .key_schema(key("id", KeyType::Hash)?)
            .global_secondary_indexes(due_index)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// A store on `table`. Finished records expire `retention` after their last change.
    pub fn new(client: Client, table: impl Into<String>, retention: Duration) -> Self {
        Self {
            client,
            table: table.into(),
            retention,
            due_shards: DueShards::default(),
        }
    }

    /// The same store, its due records spread over `shards`.
    pub fn with_due_shards(self, shards: DueShards) -> Self {
        Self {
            due_shards: shards,
            ..self
        }
    }

    fn item(&self, record: &ChangeRecord) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::from([
            ("id".to_owned(), AttributeValue::S(record.id().to_string())),
            ("record".to_owned(), AttributeValue::S(record.to_json())),
            (
                "version".to_owned(),
                AttributeValue::N(record.version().to_string()),
            ),
            (
                "caller".to_owned(),
                AttributeValue::S(record.caller().to_owned()),
            ),
            (
                "status".to_owned(),
                AttributeValue::S(record.status().as_str().to_owned()),
            ),
        ]);
        match due_ms(record) {
            Some(at) => {
                item.insert(
                    DUE.to_owned(),
                    AttributeValue::S(self.due_shards.of(record.id())),
                );
                item.insert("next_poll_at".to_owned(), AttributeValue::N(at.to_string()));
            }
            None => {
                let expires = record.updated_at() + self.retention;
                item.insert(
                    "expires_at".to_owned(),
                    AttributeValue::N(expires.unix_timestamp().to_string()),
                );
            }
        }
        item
    }

    /// Up to `limit` records due at `now` in one shard of the due index, earliest first.
    async fn due_in(
        &self,
        shard: String,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<ChangeRecord>, StoreError> {
        let mut records = Vec::new();
        let mut start = None;
        while records.len() < limit {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(DUE_INDEX)
                .key_condition_expression("#due = :due AND #at <= :now")
                .expression_attribute_names("#due", DUE)
                .expression_attribute_names("#at", "next_poll_at")
                .expression_attribute_values(":due", AttributeValue::S(shard.clone()))
                .expression_attribute_values(":now", AttributeValue::N(unix_ms(now).to_string()))
                .limit(i32::try_from(limit - records.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend)?;
            for item in page.items() {
                match record(item) {
                    Ok(record) => records.push(record),
                    Err(e) => self.quarantine(item, &e).await?,
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        Ok(records)
    }

    /// Takes an item that does not parse out of the due index, so bad items cannot crowd
    /// out good ones; it stays in the table for a person to look at.
    async fn quarantine(
        &self,
        item: &HashMap<String, AttributeValue>,
        error: &StoreError,
    ) -> Result<(), StoreError> {
        let Some(id) = item.get("id").cloned() else {
            return Ok(());
        };
        tracing::error!(change_id = ?id.as_s().ok(), error = %crate::telemetry::error_chain(error), "a stored change does not parse; no longer sweeping it");
        self.client
            .update_item()
            .table_name(&self.table)
            .key("id", id)
            .update_expression("REMOVE #due, #at")
            .expression_attribute_names("#due", DUE)
            .expression_attribute_names("#at", "next_poll_at")
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// A write of the item that keeps `delivery`, expiring with it; unconditional until the
    /// caller adds a condition.
    fn put_delivery(&self, delivery: &KeyedDelivery) -> Result<PutItemFluentBuilder, StoreError> {
        let json = serde_json::to_string(delivery).map_err(StoreError::Corrupt)?;
        Ok(self
            .client
            .put_item()
            .table_name(&self.table)
            .item("id", delivery_key(delivery))
            .item("delivery", AttributeValue::S(json))
            .item(
                "expires_at",
                AttributeValue::N(delivery.expires_at.unix_timestamp().to_string()),
            ))
    }

    async fn exists(&self, id: &ChangeId) -> Result<bool, StoreError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_string()))
            .projection_expression("id")
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        Ok(found.item().is_some())
    }
}

/// The key of the item that keeps `delivery`.
fn delivery_key(delivery: &KeyedDelivery) -> AttributeValue {
    AttributeValue::S(format!("{DELIVERY_PREFIX}{}", delivery.slot()))
}

fn record(item: &HashMap<String, AttributeValue>) -> Result<ChangeRecord, StoreError> {
    let json = item
        .get("record")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| {
            StoreError::Corrupt(serde::de::Error::custom("an item has no record attribute"))
        })?;
    ChangeRecord::from_json(json).map_err(StoreError::Corrupt)
}

#[async_trait]
impl Store for DynamoStore {
    async fn insert(&self, record: &ChangeRecord) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.item(record)))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::Duplicate(record.id().clone())),
            Err(e) => Err(backend(e)),
        }
    }

    async fn get(&self, id: &ChangeId) -> Result<Option<ChangeRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        output.item().map(record).transpose()
    }

    async fn update(&self, record: &ChangeRecord) -> Result<ChangeRecord, StoreError> {
        let stored = record.next_version();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.item(&stored)))
            .condition_expression("#version = :read")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":read", AttributeValue::N(record.version().to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(stored),
            Err(e) if is_condition_failure(&e) => Err(if self.exists(record.id()).await? {
                StoreError::Conflict {
                    id: record.id().clone(),
                    expected: record.version(),
                }
            } else {
                StoreError::NotFound(record.id().clone())
            }),
            Err(e) => Err(backend(e)),
        }
    }

    async fn due(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<ChangeRecord>, StoreError> {
        let shards = self
            .due_shards
            .values()
            .map(|shard| self.due_in(shard, now, limit));
        let mut records: Vec<ChangeRecord> = futures::future::try_join_all(shards)
            .await?
            .into_iter()
            .flatten()
            .collect();
        // The earliest of all shards, as one partition would hand them out.
        records.sort_by_key(due_ms);
        records.truncate(limit);
        Ok(records)
    }

    async fn own_operation(
        &self,
        operation: &OperationId,
        change: &ChangeRecord,
    ) -> Result<ChangeId, StoreError> {
        let key = AttributeValue::S(format!("{OPERATION_PREFIX}{operation}"));
        // Outlives the change: its longest run (the largest operation timeout) and retention.
        let expires = change.created_at() + Pacing::MAX_OPERATION_TIMEOUT + self.retention;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("id", key.clone())
            .item("owner", AttributeValue::S(change.id().to_string()))
            .item(
                "expires_at",
                AttributeValue::N(expires.unix_timestamp().to_string()),
            )
            .condition_expression("attribute_not_exists(id) OR #owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", AttributeValue::S(change.id().to_string()));
        match self
            .put_unless_held(put, key, "owner", "an operation claim has no owner")
            .await?
        {
            None => Ok(change.id().clone()),
            Some(owner) => ChangeId::parse(owner).map_err(backend),
        }
    }

    async fn keep_delivery(
        &self,
        delivery: &KeyedDelivery,
        now: OffsetDateTime,
    ) -> Result<Option<KeyedDelivery>, StoreError> {
        let put = self
            .put_delivery(delivery)?
            // TTL deletes expired items late, so an expired one is taken over here.
            .condition_expression("attribute_not_exists(id) OR expires_at <= :now")
            .expression_attribute_values(
                ":now",
                AttributeValue::N(now.unix_timestamp().to_string()),
            );
        self.put_unless_held(
            put,
            delivery_key(delivery),
            "delivery",
            "a kept delivery has no body",
        )
        .await?
        .map(|json| serde_json::from_str(&json).map_err(StoreError::Corrupt))
        .transpose()
    }

    async fn kept_delivery(
        &self,
        delivery: &KeyedDelivery,
    ) -> Result<Option<KeyedDelivery>, StoreError> {
        let held = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", delivery_key(delivery))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        string_attribute(held.item(), "delivery")
            .map(|json| serde_json::from_str(&json).map_err(StoreError::Corrupt))
            .transpose()
    }

    async fn answer_delivery(&self, delivery: &KeyedDelivery) -> Result<(), StoreError> {
        self.put_delivery(delivery)?
            .send()
            .await
            .map(drop)
            .map_err(backend)
    }

    async fn forget_delivery(&self, delivery: &KeyedDelivery) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("id", delivery_key(delivery))
            .send()
            .await
            .map(drop)
            .map_err(backend)
    }
}
