//! The audit table as an embedded redb file (`AUDIT_STORE=file:<path>`):
//! the local stack's table, and a single-instance Function App's.

use std::path::Path;
use std::sync::Arc;

use crate::{AuditRecord, AuditStore, AuditStoreError, Recorded};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

const AUDIT: TableDefinition<&str, &[u8]> = TableDefinition::new("audit");

/// [`AuditStore`] over a redb file; a second write of an event id
/// writes nothing, like the conditional put on DynamoDB.
#[derive(Clone)]
pub struct EmbeddedAuditStore {
    db: Arc<Database>,
}

impl EmbeddedAuditStore {
    /// Opens (or creates) the file.
    ///
    /// # Errors
    /// The file cannot be created or opened (e.g. another process holds it).
    pub fn open(path: &Path) -> Result<Self, String> {
        let db = Database::create(path).map_err(|e| e.to_string())?;
        let tx = db.begin_write().map_err(|e| e.to_string())?;
        tx.open_table(AUDIT).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        Ok(EmbeddedAuditStore { db: Arc::new(db) })
    }

    /// Number of records.
    pub fn len(&self) -> u64 {
        self.db
            .begin_read()
            .ok()
            .and_then(|tx| tx.open_table(AUDIT).ok())
            .and_then(|t| t.len().ok())
            .unwrap_or(0)
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait::async_trait]
impl AuditStore for EmbeddedAuditStore {
    async fn record(&self, record: &AuditRecord) -> Result<Recorded, AuditStoreError> {
        let err = |e: &dyn std::fmt::Display| AuditStoreError(e.to_string());
        let bytes = serde_json::to_vec(record).map_err(|e| err(&e))?;
        let tx = self.db.begin_write().map_err(|e| err(&e))?;
        let recorded = {
            let mut table = tx.open_table(AUDIT).map_err(|e| err(&e))?;
            if table
                .get(record.event_id.as_str())
                .map_err(|e| err(&e))?
                .is_some()
            {
                Recorded::AlreadyPresent
            } else {
                table
                    .insert(record.event_id.as_str(), bytes.as_slice())
                    .map_err(|e| err(&e))?;
                Recorded::Written
            }
        };
        tx.commit().map_err(|e| err(&e))?;
        Ok(recorded)
    }
}
