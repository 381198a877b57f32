//! The audit table of the local stack: what the DynamoDB audit table is in
//! the cloud, as a redb file under the state directory.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use switchyard_audit_log::{AuditRecord, AuditStore, AuditStoreError, Recorded};

const AUDIT: TableDefinition<&str, &[u8]> = TableDefinition::new("audit");

/// [`AuditStore`] over a local redb file; a second write of an event id
/// writes nothing, like the conditional put on DynamoDB.
#[derive(Clone)]
pub struct LocalAuditStore {
    db: Arc<Database>,
}

impl LocalAuditStore {
    /// Opens (or creates) the file.
    pub fn open(path: &Path) -> Result<Self, String> {
        let db = Database::create(path).map_err(|e| e.to_string())?;
        let tx = db.begin_write().map_err(|e| e.to_string())?;
        tx.open_table(AUDIT).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        Ok(LocalAuditStore { db: Arc::new(db) })
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
impl AuditStore for LocalAuditStore {
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
