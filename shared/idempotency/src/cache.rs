//! An optional in-process LRU cache of completed records, in front of any backend.
//!
//! Only completed records are cached (an in-progress one changes under our
//! feet). A cached entry lives until the backend record expires, and at most
//! `max_age` (so a record deleted by hand is seen again soon); a claim whose
//! payload hash conflicts with the cached one goes to the backend, so the
//! cache never hides a payload mismatch. Off by default.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::error::StoreError;
use crate::position::{PositionClaim, PositionOutcome};
use crate::record::{Now, claimable_from, completed_expiration, epoch_ms, mismatched};
use crate::store::{
    ClaimDetail, ClaimOutcome, ClaimRequest, Completion, IdempotencyStore, StoreOptions,
    StoredResponse, outcomes,
};

/// Size and age limits of the local cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheOptions {
    /// Most completed records kept. Default 256.
    pub capacity: usize,
    /// Longest a cached record is trusted without asking the backend again.
    /// A cached record never outlives the backend record's expiry. Default 300 s.
    pub max_age: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            capacity: 256,
            max_age: Duration::from_secs(300),
        }
    }
}

#[derive(Debug)]
struct Entry {
    response: StoredResponse,
    validation: Option<String>,
    expires_ms: i64,
    used: u64,
}

#[derive(Debug, Default)]
struct Lru {
    entries: HashMap<String, Entry>,
    /// Payload hashes of keys claimed through this cache, awaiting completion.
    claimed: HashMap<String, Option<String>>,
    tick: u64,
}

impl Lru {
    fn get(&mut self, request: &ClaimRequest, now: Now) -> Option<ClaimDetail> {
        self.tick += 1;
        let tick = self.tick;
        let entry = self.entries.get_mut(&request.key)?;
        if entry.expires_ms <= now.ms {
            self.entries.remove(&request.key);
            return None;
        }
        if mismatched(entry.validation.as_deref(), request.payload_hash.as_deref()) {
            return None;
        }
        entry.used = tick;
        Some(ClaimDetail {
            outcome: ClaimOutcome::Completed {
                response: entry.response.clone(),
            },
            completed_until: Some(crate::record::from_epoch_ms(entry.expires_ms)),
        })
    }

    fn put(&mut self, key: String, entry: Entry, capacity: usize) {
        if capacity == 0 {
            return;
        }
        if !self.entries.contains_key(&key) && self.entries.len() >= capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.used)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(key, entry);
    }
}

/// Any store with a small in-process LRU cache of completed records in front.
///
/// A duplicate of a message this instance has seen completed is answered
/// without a backend round trip.
#[derive(Debug)]
pub struct CachedStore<S> {
    inner: S,
    cache: CacheOptions,
    options: StoreOptions,
    lru: Mutex<Lru>,
}

impl<S: IdempotencyStore> CachedStore<S> {
    /// Wraps `inner`; `options` must be the ones the backend was built with.
    pub fn new(inner: S, cache: CacheOptions, options: StoreOptions) -> Self {
        Self {
            inner,
            cache,
            options,
            lru: Mutex::new(Lru::default()),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn lru(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now(&self) -> Now {
        Now::at(self.options.clock.now())
    }

    /// When an entry for a record completed until `completed_until` expires.
    fn entry_expiry_ms(&self, now: Now, completed_until: std::time::SystemTime) -> i64 {
        let max_age = i64::try_from(self.cache.max_age.as_millis()).unwrap_or(i64::MAX / 2);
        epoch_ms(completed_until).min(now.ms.saturating_add(max_age))
    }
}

#[async_trait::async_trait]
impl<S: IdempotencyStore> IdempotencyStore for CachedStore<S> {
    async fn claim_many(&self, requests: &[ClaimRequest]) -> Result<Vec<ClaimOutcome>, StoreError> {
        self.claim_many_detailed(requests).await.map(outcomes)
    }

    async fn claim_many_detailed(
        &self,
        requests: &[ClaimRequest],
    ) -> Result<Vec<ClaimDetail>, StoreError> {
        let now = self.now();
        let mut outcomes: Vec<Option<ClaimDetail>> = {
            let mut lru = self.lru();
            requests
                .iter()
                .map(|request| lru.get(request, now))
                .collect()
        };
        let misses: Vec<ClaimRequest> = requests
            .iter()
            .zip(&outcomes)
            .filter(|(_, outcome)| outcome.is_none())
            .map(|(request, _)| request.clone())
            .collect();
        if !misses.is_empty() {
            let fetched = self.inner.claim_many_detailed(&misses).await?;
            if fetched.len() != misses.len() {
                return Err(StoreError::ResultCount {
                    backend: "cache",
                    expected: misses.len(),
                    got: fetched.len(),
                });
            }
            let mut lru = self.lru();
            let mut fetched = misses.into_iter().zip(fetched);
            for slot in outcomes.iter_mut().filter(|slot| slot.is_none()) {
                let Some((request, outcome)) = fetched.next() else {
                    break;
                };
                match (&outcome.outcome, outcome.completed_until) {
                    // Without a known expiry the record is not cached.
                    (ClaimOutcome::Completed { response }, Some(until)) => {
                        let entry = Entry {
                            response: response.clone(),
                            validation: request.payload_hash.clone(),
                            expires_ms: self.entry_expiry_ms(now, until),
                            used: lru.tick,
                        };
                        lru.put(request.key, entry, self.cache.capacity);
                    }
                    (ClaimOutcome::Claimed, _) => {
                        if lru.claimed.len() >= self.cache.capacity.max(1) * 4 {
                            lru.claimed.clear();
                        }
                        lru.claimed.insert(request.key, request.payload_hash);
                    }
                    _ => {}
                }
                *slot = Some(outcome);
            }
        }
        outcomes
            .into_iter()
            .map(|outcome| {
                outcome.ok_or(StoreError::ResultCount {
                    backend: "cache",
                    expected: requests.len(),
                    got: 0,
                })
            })
            .collect()
    }

    async fn complete_many(&self, completions: &[Completion]) -> Result<(), StoreError> {
        let now = self.now();
        self.inner.complete_many(completions).await?;
        let until = claimable_from(completed_expiration(now, self.options.expiry));
        let expires_ms = self.entry_expiry_ms(now, until);
        let mut lru = self.lru();
        for completion in completions {
            // Only cache when the claim went through this cache, so the
            // payload hash is known and a mismatch cannot be hidden.
            if let Some(validation) = lru.claimed.remove(&completion.key) {
                let entry = Entry {
                    response: completion.response.clone(),
                    validation,
                    expires_ms,
                    used: lru.tick,
                };
                lru.put(completion.key.clone(), entry, self.cache.capacity);
            }
        }
        Ok(())
    }

    async fn admit_positions(
        &self,
        claims: &[PositionClaim],
    ) -> Result<Vec<PositionOutcome>, StoreError> {
        // Positions move forward; a local copy could only be stale.
        self.inner.admit_positions(claims).await
    }

    async fn release_many(&self, keys: &[String]) -> Result<(), StoreError> {
        self.inner.release_many(keys).await?;
        let mut lru = self.lru();
        for key in keys {
            lru.claimed.remove(key);
        }
        Ok(())
    }
}
