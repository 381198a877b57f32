//! In-memory backend, for unit tests and single-process tools.
//!
//! One mutex over a map: every batch is decided atomically, zero round trips.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::StoreError;
use crate::position::{PositionClaim, PositionOutcome, StoredPosition};
use crate::record::{Now, Record, Status};
use crate::store::{
    ClaimDetail, ClaimOutcome, ClaimRequest, Completion, Deduped, IdempotencyStore, StoreOptions,
    outcomes,
};

/// An idempotency store in process memory. Records live as long as the store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    options: StoreOptions,
    records: Mutex<HashMap<String, Record>>,
    positions: Mutex<HashMap<String, StoredPosition>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new(options: StoreOptions) -> Self {
        Self {
            options,
            records: Mutex::new(HashMap::new()),
            positions: Mutex::new(HashMap::new()),
        }
    }

    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        // A panic while holding the lock cannot leave a half-written record:
        // every write is a single insert or remove.
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now(&self) -> Now {
        Now::at(self.options.clock.now())
    }
}

#[async_trait::async_trait]
impl IdempotencyStore for MemoryStore {
    async fn claim_many(&self, requests: &[ClaimRequest]) -> Result<Vec<ClaimOutcome>, StoreError> {
        self.claim_many_detailed(requests).await.map(outcomes)
    }

    async fn claim_many_detailed(
        &self,
        requests: &[ClaimRequest],
    ) -> Result<Vec<ClaimDetail>, StoreError> {
        let batch = Deduped::new(requests);
        let now = self.now();
        let mut records = self.records();
        let outcomes = batch
            .unique
            .iter()
            .map(|request| {
                let (outcome, write) =
                    Record::decide(records.get(&request.key), request, now, self.options.expiry);
                if let Some(record) = write {
                    records.insert(request.key.clone(), record);
                }
                outcome
            })
            .collect();
        drop(records);
        batch.expand("memory", outcomes)
    }

    async fn complete_many(&self, completions: &[Completion]) -> Result<(), StoreError> {
        let now = self.now();
        let mut records = self.records();
        for completion in completions {
            let record = Record::completed(
                records.get(&completion.key),
                &completion.response,
                now,
                self.options.expiry,
            );
            records.insert(completion.key.clone(), record);
        }
        Ok(())
    }

    async fn release_many(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut records = self.records();
        for key in keys {
            if records
                .get(key)
                .is_some_and(|record| record.status == Status::InProgress)
            {
                records.remove(key);
            }
        }
        Ok(())
    }

    async fn admit_positions(
        &self,
        claims: &[PositionClaim],
    ) -> Result<Vec<PositionOutcome>, StoreError> {
        let now = self.now();
        let mut positions = self
            .positions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(claims
            .iter()
            .map(|claim| {
                let (outcome, write) =
                    StoredPosition::decide(positions.get(&claim.key), claim, now);
                if let Some(record) = write {
                    positions.insert(claim.key.clone(), record);
                }
                outcome
            })
            .collect())
    }
}
