//! Embedded, file-backed backend: the local stack's default, no server needed.
//!
//! Records live in a single [`redb`] file and survive restarts. Each batch is
//! one write transaction, run on tokio's blocking pool. redb serialises write
//! transactions, so a claim is atomic across tasks of one process; the file
//! is locked against a second process opening it.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableTable as _, TableDefinition};

use crate::error::{BoxError, StoreError};
use crate::position::{PositionClaim, PositionOutcome, StoredPosition};
use crate::record::{Now, Record, Status};
use crate::store::{
    ClaimDetail, ClaimOutcome, ClaimRequest, Completion, Deduped, IdempotencyStore, StoreOptions,
    outcomes,
};

const BACKEND: &str = "embedded";

/// Key → JSON-encoded record.
const RECORDS: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("idempotency_records");

/// Entity key → encoded position record (the ordering guard's).
const POSITIONS: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("positions");

/// An idempotency store in a local redb file.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    options: StoreOptions,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn backend_error(operation: &'static str) -> impl FnOnce(redb::Error) -> StoreError {
    move |error| StoreError::Backend {
        backend: BACKEND,
        operation,
        source: Box::new(error) as BoxError,
    }
}

fn redb_error<E: Into<redb::Error>>(operation: &'static str) -> impl FnOnce(E) -> StoreError {
    move |error| backend_error(operation)(error.into())
}

impl EmbeddedStore {
    /// Opens the store file at `path`, creating it (and its table) if missing.
    ///
    /// Blocking: call it at startup or inside `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<Self, StoreError> {
        let db = Database::create(path.as_ref()).map_err(|error| StoreError::Unavailable {
            backend: BACKEND,
            source: Box::new(error),
        })?;
        let txn = db.begin_write().map_err(redb_error("open"))?;
        txn.open_table(RECORDS).map_err(redb_error("open"))?;
        txn.open_table(POSITIONS).map_err(redb_error("open"))?;
        txn.commit().map_err(redb_error("open"))?;
        Ok(Self {
            db: Arc::new(db),
            options,
        })
    }

    /// Runs `work` in one write transaction on the blocking pool.
    async fn write<T, F>(&self, operation: &'static str, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut redb::Table<'_, &'static str, &'static [u8]>, Now) -> Result<T, StoreError>
            + Send
            + 'static,
    {
        self.write_in(RECORDS, operation, work).await
    }

    /// Runs `work` over `table` in one write transaction on the blocking pool.
    async fn write_in<T, F>(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        operation: &'static str,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut redb::Table<'_, &'static str, &'static [u8]>, Now) -> Result<T, StoreError>
            + Send
            + 'static,
    {
        let db = Arc::clone(&self.db);
        let now = Now::at(self.options.clock.now());
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_write().map_err(redb_error(operation))?;
            let result = {
                let mut table = txn.open_table(table).map_err(redb_error(operation))?;
                work(&mut table, now)?
            };
            txn.commit().map_err(redb_error(operation))?;
            Ok(result)
        })
        .await
        .map_err(StoreError::Task)?
    }
}

fn read(
    table: &redb::Table<'_, &'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<Record>, StoreError> {
    let Some(bytes) = table.get(key).map_err(redb_error("read"))? else {
        return Ok(None);
    };
    serde_json::from_slice(bytes.value())
        .map(Some)
        .map_err(|error| StoreError::Corrupt {
            backend: BACKEND,
            key: key.to_owned(),
            reason: error.to_string(),
        })
}

fn write(
    table: &mut redb::Table<'_, &'static str, &'static [u8]>,
    key: &str,
    record: &Record,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(record).map_err(|error| StoreError::Corrupt {
        backend: BACKEND,
        key: key.to_owned(),
        reason: error.to_string(),
    })?;
    table
        .insert(key, bytes.as_slice())
        .map_err(redb_error("write"))?;
    Ok(())
}

#[async_trait::async_trait]
impl IdempotencyStore for EmbeddedStore {
    async fn claim_many(&self, requests: &[ClaimRequest]) -> Result<Vec<ClaimOutcome>, StoreError> {
        self.claim_many_detailed(requests).await.map(outcomes)
    }

    async fn claim_many_detailed(
        &self,
        requests: &[ClaimRequest],
    ) -> Result<Vec<ClaimDetail>, StoreError> {
        let batch = Deduped::new(requests);
        let unique: Vec<ClaimRequest> = batch.unique.iter().map(|r| (*r).clone()).collect();
        let expiry = self.options.expiry;
        let outcomes = self
            .write("claim", move |table, now| {
                unique
                    .iter()
                    .map(|request| {
                        let existing = read(table, &request.key)?;
                        let (outcome, record) =
                            Record::decide(existing.as_ref(), request, now, expiry);
                        if let Some(record) = record {
                            write(table, &request.key, &record)?;
                        }
                        Ok(outcome)
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .await?;
        batch.expand(BACKEND, outcomes)
    }

    async fn complete_many(&self, completions: &[Completion]) -> Result<(), StoreError> {
        let completions = completions.to_vec();
        let expiry = self.options.expiry;
        self.write("complete", move |table, now| {
            for completion in &completions {
                let existing = read(table, &completion.key)?;
                let record =
                    Record::completed(existing.as_ref(), &completion.response, now, expiry);
                write(table, &completion.key, &record)?;
            }
            Ok(())
        })
        .await
    }

    async fn release_many(&self, keys: &[String]) -> Result<(), StoreError> {
        let keys = keys.to_vec();
        self.write("release", move |table, _now| {
            for key in &keys {
                if read(table, key)?.is_some_and(|record| record.status == Status::InProgress) {
                    table.remove(key.as_str()).map_err(redb_error("release"))?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn admit_positions(
        &self,
        claims: &[PositionClaim],
    ) -> Result<Vec<PositionOutcome>, StoreError> {
        let claims = claims.to_vec();
        self.write_in(POSITIONS, "admit positions", move |table, now| {
            claims
                .iter()
                .map(|claim| {
                    let stored = match table.get(claim.key.as_str()).map_err(redb_error("read"))? {
                        Some(bytes) => Some(
                            std::str::from_utf8(bytes.value())
                                .ok()
                                .and_then(StoredPosition::decode)
                                .ok_or_else(|| StoreError::Corrupt {
                                    backend: BACKEND,
                                    key: claim.key.clone(),
                                    reason: "not a position record".to_owned(),
                                })?,
                        ),
                        None => None,
                    };
                    let (outcome, record) = StoredPosition::decide(stored.as_ref(), claim, now);
                    if let Some(record) = record {
                        table
                            .insert(claim.key.as_str(), record.encode().as_bytes())
                            .map_err(redb_error("write"))?;
                    }
                    Ok(outcome)
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
        .await
    }
}
