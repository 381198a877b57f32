//! The DynamoDB audit table: partition key `pk` (S) = the event id; one
//! conditional `PutItem` (`attribute_not_exists(pk)`) per event, so a
//! duplicate writes nothing even without the idempotency layer.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::{AuditRecord, AuditStore, AuditStoreError, Recorded};

/// [`AuditStore`] over a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbAuditStore {
    client: Client,
    table: String,
}

impl DynamoDbAuditStore {
    /// Writes into `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoDbAuditStore {
            client,
            table: table.into(),
        }
    }
}

#[async_trait::async_trait]
impl AuditStore for DynamoDbAuditStore {
    async fn record(&self, r: &AuditRecord) -> Result<Recorded, AuditStoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&r.event_id))
            .item("event_type", s(&r.event_type))
            .item("source", s(&r.source))
            .item("correlation_id", s(&r.correlation_id))
            .item("data_digest", s(&r.data_digest))
            .item("recorded_at", s(&chrono::Utc::now().to_rfc3339()))
            .condition_expression("attribute_not_exists(pk)");
        if let Some(c) = &r.causation_id {
            req = req.item("causation_id", s(c));
        }
        if let Some(t) = &r.time {
            req = req.item("time", s(&t.to_rfc3339()));
        }
        match req.send().await {
            Ok(_) => Ok(Recorded::Written),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(Recorded::AlreadyPresent)
            }
            Err(e) => Err(AuditStoreError(DisplayErrorContext(&e).to_string())),
        }
    }
}
