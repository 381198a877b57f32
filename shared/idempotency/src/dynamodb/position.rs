//! The ordering guard on DynamoDB: one conditional `UpdateItem` per entity
//! (`attribute_not_exists(pk) OR expiration < :now OR position < :position`),
//! the entities of a batch concurrently (one round trip of latency), the
//! claims of one entity in order. A refused update returns the stored item
//! (`ALL_OLD`): an equal position is admitted, a newer one makes it stale.
//! Item: `pk`, `position` (N), `event_id` (S), `expiration` (N, the TTL).

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use futures_util::future::join_all;

use super::{DynamoDbStore, PARTITION_KEY, classify, corrupt, n, text};
use crate::error::StoreError;
use crate::position::{PositionClaim, PositionOutcome, StoredPosition};
use crate::record::Now;

const ADMIT_CONDITION: &str =
    "attribute_not_exists(pk) OR #expiration < :now OR #position < :position";

impl DynamoDbStore {
    async fn admit_one(
        &self,
        claim: &PositionClaim,
        now: Now,
    ) -> Result<PositionOutcome, StoreError> {
        let record = StoredPosition::for_claim(claim);
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(claim.key.clone()))
            .update_expression(
                "SET #position = :position, #event = :event, #expiration = :expiration",
            )
            .condition_expression(ADMIT_CONDITION)
            .expression_attribute_names("#position", "position")
            .expression_attribute_names("#event", "event_id")
            .expression_attribute_names("#expiration", "expiration")
            .expression_attribute_values(":position", AttributeValue::N(claim.position.to_string()))
            .expression_attribute_values(":event", AttributeValue::S(record.event_id))
            .expression_attribute_values(":expiration", n(record.expiration))
            .expression_attribute_values(":now", n(now.secs))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match update.send().await {
            Ok(_) => Ok(PositionOutcome::Admitted),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    let item = match failed.item() {
                        Some(item) => item.clone(),
                        // A service that does not return ALL_OLD: read it (one more call).
                        None => self.read_position(&claim.key).await?,
                    };
                    stored_outcome(&claim.key, claim.position, &item)
                }
                _ => Err(classify("admit position", error)),
            },
        }
    }

    async fn read_position(
        &self,
        key: &str,
    ) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| classify("read position", error))?;
        read.item
            .ok_or_else(|| corrupt(key, "position condition failed but the item is gone; retry"))
    }

    pub(super) async fn admit(
        &self,
        claims: &[PositionClaim],
    ) -> Result<Vec<PositionOutcome>, StoreError> {
        let now = Now::at(self.options.clock.now());
        // One sequence per entity, in the order given; entities concurrently.
        let mut order: Vec<&str> = Vec::new();
        let mut per_key: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, claim) in claims.iter().enumerate() {
            per_key
                .entry(claim.key.as_str())
                .or_insert_with(|| {
                    order.push(claim.key.as_str());
                    Vec::new()
                })
                .push(i);
        }
        let runs = join_all(order.iter().map(|key| {
            let indices = per_key.get(key).cloned().unwrap_or_default();
            async move {
                let mut decided = Vec::with_capacity(indices.len());
                for i in indices {
                    decided.push((i, self.admit_one(&claims[i], now).await?));
                }
                Ok::<_, StoreError>(decided)
            }
        }))
        .await;
        let mut outcomes: Vec<Option<PositionOutcome>> = vec![None; claims.len()];
        for run in runs {
            for (i, outcome) in run? {
                outcomes[i] = Some(outcome);
            }
        }
        outcomes
            .into_iter()
            .map(|o| {
                o.ok_or(StoreError::ResultCount {
                    backend: super::BACKEND,
                    expected: claims.len(),
                    got: 0,
                })
            })
            .collect()
    }
}

fn stored_outcome(
    key: &str,
    position: u64,
    item: &HashMap<String, AttributeValue>,
) -> Result<PositionOutcome, StoreError> {
    let stored = match item.get("position") {
        Some(AttributeValue::N(text)) => text
            .parse::<u64>()
            .map_err(|_| corrupt(key, format!("position {text:?} is not a u64")))?,
        _ => return Err(corrupt(key, "not a position record")),
    };
    if stored == position {
        return Ok(PositionOutcome::Admitted);
    }
    Ok(PositionOutcome::Stale {
        newest: stored,
        newest_event: text(item, "event_id").unwrap_or_default(),
    })
}
