//! The store trait and the types it speaks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::clock::{Clock, SystemClock};
use crate::error::StoreError;
use crate::position::{PositionClaim, PositionOutcome};

/// The serialised JSON of a handler's output, stored with a completed record.
pub type StoredResponse = String;

/// A request to claim one key before running the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    /// The idempotency key (see [`crate::IdempotencyConfig::key_for`]).
    pub key: String,
    /// The payload hash (see [`crate::IdempotencyConfig::hash_payload`]); `None`
    /// turns payload validation off for this claim.
    pub payload_hash: Option<String>,
    /// The invocation deadline: if this claim is never completed or released,
    /// the key becomes claimable again once this time has passed, not before.
    pub in_progress_until: SystemTime,
}

impl ClaimRequest {
    /// A claim for `key` held at most until `in_progress_until`, without payload validation.
    pub fn new(key: impl Into<String>, in_progress_until: SystemTime) -> Self {
        Self {
            key: key.into(),
            payload_hash: None,
            in_progress_until,
        }
    }

    /// The same claim with a payload hash to validate duplicates against.
    #[must_use]
    pub fn with_payload_hash(mut self, hash: impl Into<String>) -> Self {
        self.payload_hash = Some(hash.into());
        self
    }
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The key was free (new, expired, released or abandoned): run the handler,
    /// then complete or release.
    Claimed,
    /// The key was already processed: return this response, do not run the handler.
    Completed {
        /// The stored handler response.
        response: StoredResponse,
    },
    /// Another invocation holds the key until `until`: retry later.
    InProgress {
        /// When the other invocation's claim runs out.
        until: SystemTime,
    },
    /// The key was seen with a different payload hash: the same id was reused
    /// for a different message.
    PayloadMismatch,
}

/// A claim's outcome with what the backend knows about the record's lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimDetail {
    /// The outcome.
    pub outcome: ClaimOutcome,
    /// For [`ClaimOutcome::Completed`]: the time from which the key may be
    /// processed again. `None` when unknown or not completed.
    pub completed_until: Option<SystemTime>,
}

impl ClaimDetail {
    /// An outcome without lifetime information.
    pub fn new(outcome: ClaimOutcome) -> Self {
        Self {
            outcome,
            completed_until: None,
        }
    }
}

/// A handler's result to store against a claimed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The claimed key.
    pub key: String,
    /// The serialised handler output.
    pub response: StoredResponse,
    /// The payload hash the claim was made with, when the caller still has
    /// it (`Some("")`: the claim had none): a backend that rewrites the
    /// whole record (Redis) then writes it without reading the record
    /// first. `None`: not known here, so the stored one is kept.
    pub payload_hash: Option<String>,
}

impl Completion {
    /// A completion of `key` with `response`.
    pub fn new(key: impl Into<String>, response: impl Into<StoredResponse>) -> Self {
        Self {
            key: key.into(),
            response: response.into(),
            payload_hash: None,
        }
    }

    /// Passes along the payload hash the claim was made with
    /// ([`ClaimRequest::payload_hash`], `None` when it had none).
    #[must_use]
    pub fn with_claimed_hash(mut self, hash: Option<String>) -> Self {
        self.payload_hash = Some(hash.unwrap_or_default());
        self
    }
}

/// Options shared by every backend.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a completed record is kept (and an in-progress one at least);
    /// after it the key may be processed again. Default 3600 s.
    pub expiry: Duration,
    /// The time source. Default [`SystemClock`].
    pub clock: Arc<dyn Clock>,
}

/// The default record lifetime: one hour, as in Powertools.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(3600);

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            expiry: DEFAULT_EXPIRY,
            clock: Arc::new(SystemClock),
        }
    }
}

impl StoreOptions {
    /// The same options with another record lifetime.
    #[must_use]
    pub fn with_expiry(mut self, expiry: Duration) -> Self {
        self.expiry = expiry;
        self
    }

    /// The same options with another clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// A store of idempotency records. All backends have the same semantics; see
/// the crate documentation.
///
/// Every method fails closed: an unreachable or failing backend gives `Err`,
/// never [`ClaimOutcome::Claimed`].
#[async_trait::async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims every key, in one round trip where the backend allows it. The
    /// outcomes are in the order of `requests`. When a key appears more than
    /// once, the first occurrence is decided by the backend and later ones get
    /// [`ClaimOutcome::InProgress`] if it was claimed (or
    /// [`ClaimOutcome::PayloadMismatch`] if their hash differs from the first's),
    /// otherwise the first occurrence's outcome.
    async fn claim_many(&self, requests: &[ClaimRequest]) -> Result<Vec<ClaimOutcome>, StoreError>;

    /// [`IdempotencyStore::claim_many`], also telling how long completed
    /// records stay completed (used by [`crate::CachedStore`]). Every backend
    /// of this crate knows; the default reports `None`.
    async fn claim_many_detailed(
        &self,
        requests: &[ClaimRequest],
    ) -> Result<Vec<ClaimDetail>, StoreError> {
        Ok(self
            .claim_many(requests)
            .await?
            .into_iter()
            .map(ClaimDetail::new)
            .collect())
    }

    /// Stores the responses of claimed keys, marking them completed.
    async fn complete_many(&self, completions: &[Completion]) -> Result<(), StoreError>;

    /// Releases in-progress claims (the handler failed), so a retry can run.
    /// Completed records and unknown keys are left alone.
    async fn release_many(&self, keys: &[String]) -> Result<(), StoreError>;

    /// The ordering guard: admits each event at its entity's position, or
    /// reports it stale (older than one already admitted), advancing the
    /// entity's record with a conditional write — one round trip for the
    /// batch. Claims of one key in one call are decided in order.
    async fn admit_positions(
        &self,
        claims: &[PositionClaim],
    ) -> Result<Vec<PositionOutcome>, StoreError>;

    /// Claims one key.
    async fn claim(&self, request: ClaimRequest) -> Result<ClaimOutcome, StoreError> {
        let mut outcomes = self.claim_many(std::slice::from_ref(&request)).await?;
        match outcomes.pop() {
            Some(outcome) if outcomes.is_empty() => Ok(outcome),
            _ => Err(StoreError::ResultCount {
                backend: "store",
                expected: 1,
                got: outcomes.len() + 1,
            }),
        }
    }

    /// Completes one key.
    async fn complete(&self, completion: Completion) -> Result<(), StoreError> {
        self.complete_many(std::slice::from_ref(&completion)).await
    }

    /// Releases one key.
    async fn release(&self, key: &str) -> Result<(), StoreError> {
        self.release_many(&[key.to_owned()]).await
    }
}

#[async_trait::async_trait]
impl<S: IdempotencyStore + ?Sized> IdempotencyStore for Arc<S> {
    async fn claim_many(&self, requests: &[ClaimRequest]) -> Result<Vec<ClaimOutcome>, StoreError> {
        (**self).claim_many(requests).await
    }
    async fn claim_many_detailed(
        &self,
        requests: &[ClaimRequest],
    ) -> Result<Vec<ClaimDetail>, StoreError> {
        (**self).claim_many_detailed(requests).await
    }
    async fn complete_many(&self, completions: &[Completion]) -> Result<(), StoreError> {
        (**self).complete_many(completions).await
    }
    async fn release_many(&self, keys: &[String]) -> Result<(), StoreError> {
        (**self).release_many(keys).await
    }
    async fn admit_positions(
        &self,
        claims: &[PositionClaim],
    ) -> Result<Vec<PositionOutcome>, StoreError> {
        (**self).admit_positions(claims).await
    }
}

/// A batch with in-batch duplicate keys removed: the backend sees `unique`,
/// and [`Deduped::expand`] maps its outcomes back to every request.
pub(crate) struct Deduped<'a> {
    requests: &'a [ClaimRequest],
    /// The first occurrence of every key, in order.
    pub(crate) unique: Vec<&'a ClaimRequest>,
    /// For each request, the index in `unique` of its key's first occurrence.
    slot: Vec<usize>,
}

impl<'a> Deduped<'a> {
    pub(crate) fn new(requests: &'a [ClaimRequest]) -> Self {
        let mut first: HashMap<&str, usize> = HashMap::with_capacity(requests.len());
        let mut unique = Vec::with_capacity(requests.len());
        let slot = requests
            .iter()
            .map(|request| {
                *first.entry(request.key.as_str()).or_insert_with(|| {
                    unique.push(request);
                    unique.len() - 1
                })
            })
            .collect();
        Self {
            requests,
            unique,
            slot,
        }
    }

    /// Maps the backend's outcomes for `unique` to one outcome per request.
    pub(crate) fn expand(
        self,
        backend: &'static str,
        outcomes: Vec<ClaimDetail>,
    ) -> Result<Vec<ClaimDetail>, StoreError> {
        if outcomes.len() != self.unique.len() {
            return Err(StoreError::ResultCount {
                backend,
                expected: self.unique.len(),
                got: outcomes.len(),
            });
        }
        let mut seen = vec![false; outcomes.len()];
        Ok(self
            .requests
            .iter()
            .zip(self.slot)
            .map(|(request, slot)| {
                let first = self.unique[slot];
                let outcome = &outcomes[slot];
                if !std::mem::replace(&mut seen[slot], true) {
                    return outcome.clone();
                }
                match outcome.outcome {
                    ClaimOutcome::Claimed => {
                        ClaimDetail::new(match (&first.payload_hash, &request.payload_hash) {
                            (Some(a), Some(b)) if a != b => ClaimOutcome::PayloadMismatch,
                            _ => ClaimOutcome::InProgress {
                                until: first.in_progress_until,
                            },
                        })
                    }
                    _ => outcome.clone(),
                }
            })
            .collect())
    }
}

/// The bare outcomes of detailed ones.
pub(crate) fn outcomes(details: Vec<ClaimDetail>) -> Vec<ClaimOutcome> {
    details.into_iter().map(|detail| detail.outcome).collect()
}
