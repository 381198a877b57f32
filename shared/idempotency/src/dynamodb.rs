//! DynamoDB backend.
//!
//! Table shape: partition key `pk` (S), no sort key, TTL on `expiration`.
//! Item attributes: `status` (S, `INPROGRESS` | `COMPLETED`), `expiration`
//! (N, epoch seconds), `in_progress_expiry` (N, epoch ms), `validation` (S,
//! payload hash, optional), `data` (S, stored response, once completed).
//!
//! A claim is one conditional `PutItem` with
//! `ReturnValuesOnConditionCheckFailure = ALL_OLD`, so a duplicate also costs
//! one call: the existing record comes back in the
//! `ConditionalCheckFailedException`. The puts of a batch are issued
//! concurrently (one round trip of latency). A completion is one `UpdateItem`
//! per key, also concurrent; a release one conditional `DeleteItem`.
//! `TransactWriteItems` is all-or-nothing and so cannot report per-key
//! outcomes; PartiQL batch statements cannot carry the condition.
//! Expiry is decided from the item's own timestamps; TTL deletion is only cleanup.
//! The ordering guard's position items live in the same table (module
//! `position`).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use futures_util::future::join_all;

use crate::error::{BoxError, StoreError};
use crate::position::{PositionClaim, PositionOutcome};
use crate::record::{
    COMPLETED, IN_PROGRESS, Now, Record, Status, completed_expiration, epoch_ms,
    in_progress_expiration,
};
use crate::store::{
    ClaimDetail, ClaimOutcome, ClaimRequest, Completion, Deduped, IdempotencyStore, StoreOptions,
    outcomes,
};

mod position;

const BACKEND: &str = "dynamodb";

/// The partition key attribute.
pub const PARTITION_KEY: &str = "pk";
/// The TTL attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expiration";

const CLAIM_CONDITION: &str = "attribute_not_exists(pk) OR #expiration < :now \
     OR (#status = :inprogress AND #in_progress_expiry < :now_ms)";

/// An idempotency store in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
    options: StoreOptions,
}

fn classify<E, R>(operation: &'static str, error: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match error {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable {
                backend: BACKEND,
                source: Box::new(error) as BoxError,
            }
        }
        other => StoreError::Backend {
            backend: BACKEND,
            operation,
            source: Box::new(other) as BoxError,
        },
    }
}

fn corrupt(key: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        backend: BACKEND,
        key: key.to_owned(),
        reason: reason.into(),
    }
}

fn number(
    item: &HashMap<String, AttributeValue>,
    key: &str,
    name: &str,
) -> Result<i64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(text)) => text
            .parse()
            .map_err(|_| corrupt(key, format!("{name} {text:?} is not an integer"))),
        Some(_) => Err(corrupt(key, format!("{name} is not a number"))),
        None => Ok(0),
    }
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Some(text.clone()),
        _ => None,
    }
}

/// Reads a stored item back into a record.
fn parse_item(key: &str, item: &HashMap<String, AttributeValue>) -> Result<Record, StoreError> {
    let status_text = text(item, "status").ok_or_else(|| corrupt(key, "no status"))?;
    let status = Status::parse(&status_text)
        .ok_or_else(|| corrupt(key, format!("unknown status {status_text:?}")))?;
    Ok(Record {
        status,
        expiration: number(item, key, "expiration")?,
        in_progress_expiry: number(item, key, "in_progress_expiry")?,
        validation: text(item, "validation"),
        data: text(item, "data"),
    })
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl DynamoDbStore {
    /// A store over `table`, which must exist with the shape in the module docs.
    pub fn new(client: Client, table: impl Into<String>, options: StoreOptions) -> Self {
        Self {
            client,
            table: table.into(),
            options,
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table (on-demand, `pk` hash key, TTL on `expiration`) if it
    /// does not exist and waits until it is active. For tests and local
    /// stacks; deployed tables come from the template.
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(DescribeTableError::ResourceNotFoundException(_))
                ) => {}
            Err(error) => return Err(classify("describe table", error)),
        }
        let key = KeySchemaElement::builder()
            .attribute_name(PARTITION_KEY)
            .key_type(KeyType::Hash)
            .build()
            .map_err(|error| StoreError::Backend {
                backend: BACKEND,
                operation: "create table",
                source: Box::new(error),
            })?;
        let attribute = AttributeDefinition::builder()
            .attribute_name(PARTITION_KEY)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|error| StoreError::Backend {
                backend: BACKEND,
                operation: "create table",
                source: Box::new(error),
            })?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .key_schema(key)
            .attribute_definitions(attribute)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(CreateTableError::ResourceInUseException(_))
                ) => {}
            Err(error) => return Err(classify("create table", error)),
        }
        for _ in 0..120 {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|error| classify("describe table", error))?;
            if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTRIBUTE)
            .enabled(true)
            .build()
            .map_err(|error| StoreError::Backend {
                backend: BACKEND,
                operation: "enable ttl",
                source: Box::new(error),
            })?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|error| classify("enable ttl", error))?;
        Ok(())
    }

    async fn claim_one(&self, request: &ClaimRequest, now: Now) -> Result<ClaimDetail, StoreError> {
        let until_ms = epoch_ms(request.in_progress_until);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PARTITION_KEY, AttributeValue::S(request.key.clone()))
            .item("status", AttributeValue::S(IN_PROGRESS.to_owned()))
            .item(
                "expiration",
                n(in_progress_expiration(now, self.options.expiry, until_ms)),
            )
            .item("in_progress_expiry", n(until_ms))
            .condition_expression(CLAIM_CONDITION)
            .expression_attribute_names("#expiration", "expiration")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#in_progress_expiry", "in_progress_expiry")
            .expression_attribute_values(":now", n(now.secs))
            .expression_attribute_values(":now_ms", n(now.ms))
            .expression_attribute_values(":inprogress", AttributeValue::S(IN_PROGRESS.to_owned()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(hash) = &request.payload_hash {
            put = put.item("validation", AttributeValue::S(hash.clone()));
        }
        match put.send().await {
            Ok(_) => Ok(ClaimDetail::new(ClaimOutcome::Claimed)),
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    match failed.item() {
                        Some(item) => Ok(parse_item(&request.key, item)?.outcome_for(request)),
                        // A service that does not return ALL_OLD: read it (one more call).
                        None => self.read_outcome(request).await,
                    }
                }
                _ => Err(classify("claim", error)),
            },
        }
    }

    async fn read_outcome(&self, request: &ClaimRequest) -> Result<ClaimDetail, StoreError> {
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(request.key.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| classify("read after failed claim", error))?;
        match read.item() {
            Some(item) => Ok(parse_item(&request.key, item)?.outcome_for(request)),
            None => Err(corrupt(
                &request.key,
                "claim condition failed but the record is gone; retry",
            )),
        }
    }

    async fn complete_one(
        &self,
        completion: &Completion,
        expiration: i64,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(completion.key.clone()))
            .update_expression("SET #status = :completed, #data = :data, #expiration = :expiration")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#data", "data")
            .expression_attribute_names("#expiration", "expiration")
            .expression_attribute_values(":completed", AttributeValue::S(COMPLETED.to_owned()))
            .expression_attribute_values(":data", AttributeValue::S(completion.response.clone()))
            .expression_attribute_values(":expiration", n(expiration))
            .send()
            .await
            .map(drop)
            .map_err(|error| classify("complete", error))
    }

    async fn release_one(&self, key: &str) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(key.to_owned()))
            .condition_expression("#status = :inprogress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":inprogress", AttributeValue::S(IN_PROGRESS.to_owned()))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(DeleteItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(classify("release", error)),
        }
    }
}

/// The first error of a batch, if any.
fn first_error(results: Vec<Result<(), StoreError>>) -> Result<(), StoreError> {
    results.into_iter().collect()
}

#[async_trait::async_trait]
impl IdempotencyStore for DynamoDbStore {
    async fn claim_many(&self, requests: &[ClaimRequest]) -> Result<Vec<ClaimOutcome>, StoreError> {
        self.claim_many_detailed(requests).await.map(outcomes)
    }

    async fn claim_many_detailed(
        &self,
        requests: &[ClaimRequest],
    ) -> Result<Vec<ClaimDetail>, StoreError> {
        let batch = Deduped::new(requests);
        let now = Now::at(self.options.clock.now());
        let results = join_all(
            batch
                .unique
                .iter()
                .map(|request| self.claim_one(request, now)),
        )
        .await;
        if results.iter().any(Result::is_err) {
            // Fail closed for the whole batch, and give back what this call
            // did claim so the retry is not blocked until the deadline.
            let claimed: Vec<String> = batch
                .unique
                .iter()
                .zip(&results)
                .filter(|(_, result)| {
                    matches!(result, Ok(detail) if detail.outcome == ClaimOutcome::Claimed)
                })
                .map(|(request, _)| request.key.clone())
                .collect();
            if let Err(error) = self.release_many(&claimed).await {
                tracing::warn!(%error, "could not release the claims of a failed batch");
            }
        }
        let outcomes = results.into_iter().collect::<Result<Vec<_>, _>>()?;
        batch.expand(BACKEND, outcomes)
    }

    async fn complete_many(&self, completions: &[Completion]) -> Result<(), StoreError> {
        let now = Now::at(self.options.clock.now());
        let expiration = completed_expiration(now, self.options.expiry);
        first_error(join_all(completions.iter().map(|c| self.complete_one(c, expiration))).await)
    }

    async fn release_many(&self, keys: &[String]) -> Result<(), StoreError> {
        first_error(join_all(keys.iter().map(|key| self.release_one(key))).await)
    }

    async fn admit_positions(
        &self,
        claims: &[PositionClaim],
    ) -> Result<Vec<PositionOutcome>, StoreError> {
        self.admit(claims).await
    }
}
