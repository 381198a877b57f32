#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "embedded")]
pub mod embedded;
mod function;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use switchyard_contracts::events::{CustomerUpdatedV1, ErpOrderSyncedV1};
use switchyard_contracts::{Envelope, event_set};
use switchyard_triggers::{Context, Handled, Handler, HandlerError};

pub use function::{SETTINGS, build, function, open_audit_store};

/// The function's name: its idempotency key prefix and log field.
pub const FUNCTION_NAME: &str = "audit-log";

event_set! {
    /// What audit-log records.
    #[derive(Debug, Clone, PartialEq)]
    pub enum AuditedEvent {
        /// `erp.order-synced`.
        ErpOrderSynced(ErpOrderSyncedV1),
        /// `customer.updated`.
        CustomerUpdated(CustomerUpdatedV1),
    }
}

/// One audit record per event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The event id (the table's partition key).
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// The event's source.
    pub source: String,
    /// Its correlation id.
    pub correlation_id: String,
    /// Its causation id, if any.
    pub causation_id: Option<String>,
    /// When the event happened; `None` for an event received without `time`
    /// (optional in CloudEvents), never invented.
    pub time: Option<DateTime<Utc>>,
    /// SHA-256 (hex) of the event's `data` as JSON.
    pub data_digest: String,
}

impl AuditRecord {
    /// The record of an event.
    pub fn of<E: serde::Serialize>(event: &Envelope<E>) -> Result<Self, serde_json::Error> {
        let data = serde_json::to_vec(&event.data)?;
        let digest = Sha256::digest(&data);
        Ok(AuditRecord {
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            source: event.source.clone(),
            correlation_id: event.correlationid.clone(),
            causation_id: event.causationid.clone(),
            time: event.time,
            data_digest: digest.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Recorded {
    /// A new record was written.
    Written,
    /// A record for this event already existed; nothing was written.
    AlreadyPresent,
}

/// The audit store could not be written; worth retrying.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit store unavailable: {0}")]
pub struct AuditStoreError(pub String);

/// Where audit records go. Writing the same event twice writes once.
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Writes the record unless one exists for its event id.
    async fn record(&self, record: &AuditRecord) -> Result<Recorded, AuditStoreError>;
}

/// The business handler: one audit record per `erp.order-synced` and
/// `customer.updated` event.
pub struct AuditLog {
    store: Arc<dyn AuditStore>,
}

impl AuditLog {
    /// A handler writing to `store`.
    pub fn new(store: Arc<dyn AuditStore>) -> Self {
        AuditLog { store }
    }
}

#[async_trait::async_trait]
impl Handler for AuditLog {
    type Event = AuditedEvent;
    type Output = Recorded;

    async fn handle(
        &self,
        event: Envelope<AuditedEvent>,
        _ctx: Context,
    ) -> Result<Handled<Recorded>, HandlerError> {
        let record = AuditRecord::of(&event)
            .map_err(|e| HandlerError::permanent("encode", e.to_string()))?;
        let recorded = self
            .store
            .record(&record)
            .await
            .map_err(|e| HandlerError::transient(e.to_string()))?;
        tracing::info!(?recorded, "AuditRecordWritten");
        Ok(recorded.into())
    }
}
