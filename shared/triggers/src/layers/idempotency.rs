//! The idempotency layer: one `claim_many` for the whole batch before any
//! handler runs, one `complete_many` and at most one `release_many` after.

use std::sync::Arc;
use std::time::SystemTime;

use switchyard_contracts::Envelope;
use switchyard_idempotency::{
    ClaimOutcome, ClaimRequest, Completion, IdempotencyConfig, IdempotencyStore,
};

/// Idempotency for one function: the key/hash configuration and the store.
#[derive(Clone)]
pub struct Idempotency {
    /// How keys and payload hashes are derived.
    pub config: IdempotencyConfig,
    /// Where records live.
    pub store: Arc<dyn IdempotencyStore>,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What the layer decided for one message before the handler runs.
#[derive(Debug, Clone)]
pub(crate) enum Claim {
    /// No idempotency configured: just run.
    Unguarded,
    /// This invocation owns the key: run, then complete or release.
    Owned(OwnedKey),
    /// Already done (the stored response stays in the store).
    Completed,
    /// Another invocation is running it: retry later.
    InProgress,
    /// Same key, different payload: park.
    Mismatch,
    /// The key could not be derived: park.
    BadKey(String),
    /// The store failed: retry (fail closed).
    StoreDown(String),
}

/// A claimed key, with the payload hash it was claimed with (passed on to
/// the completion, so the store need not read it back).
#[derive(Debug, Clone)]
pub(crate) struct OwnedKey {
    pub(crate) key: String,
    pub(crate) hash: Option<String>,
}

/// Claims keys for every decoded event in one call.
pub(crate) async fn claim_batch<E: serde::Serialize>(
    idem: Option<&Idempotency>,
    events: &[Option<&Envelope<E>>],
    deadline: SystemTime,
) -> Vec<Claim> {
    let Some(idem) = idem else {
        return events.iter().map(|_| Claim::Unguarded).collect();
    };
    let mut claims: Vec<Claim> = Vec::with_capacity(events.len());
    let mut requests = Vec::new();
    let mut slots = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let Some(event) = event else {
            claims.push(Claim::Unguarded);
            continue;
        };
        // The payload as a `Value` only when the key reads it; the hash is
        // computed from the typed payload (the same hash, fewer allocations).
        let keyed = if idem.config.key_reads_payload() {
            serde_json::to_value(&event.data).map(|data| {
                (
                    idem.config.key_for(&event.id, &data),
                    idem.config.hash_payload(&data),
                )
            })
        } else {
            idem.config.hash_serialized(&event.data).map(|hash| {
                (
                    idem.config.key_for(&event.id, &serde_json::Value::Null),
                    hash,
                )
            })
        };
        let (key, hash) = match keyed {
            Ok(pair) => pair,
            Err(e) => {
                claims.push(Claim::BadKey(format!("cannot serialise payload: {e}")));
                continue;
            }
        };
        match key {
            Ok(key) => {
                requests.push(ClaimRequest {
                    key: key.clone(),
                    payload_hash: hash.clone(),
                    in_progress_until: deadline,
                });
                slots.push(i);
                claims.push(Claim::Owned(OwnedKey { key, hash }));
            }
            Err(e) => claims.push(Claim::BadKey(e.to_string())),
        }
    }
    if requests.is_empty() {
        return claims;
    }
    match idem.store.claim_many(&requests).await {
        Ok(outcomes) if outcomes.len() == requests.len() => {
            for (slot, outcome) in slots.into_iter().zip(outcomes) {
                claims[slot] = match outcome {
                    ClaimOutcome::Claimed => continue,
                    ClaimOutcome::Completed { .. } => Claim::Completed,
                    ClaimOutcome::InProgress { .. } => Claim::InProgress,
                    ClaimOutcome::PayloadMismatch => Claim::Mismatch,
                };
            }
        }
        Ok(outcomes) => {
            let reason = format!(
                "idempotency store answered {} outcomes for {} claims",
                outcomes.len(),
                requests.len()
            );
            for slot in slots {
                claims[slot] = Claim::StoreDown(reason.clone());
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "idempotency store unavailable; failing the batch's claims closed");
            for slot in slots {
                claims[slot] = Claim::StoreDown(e.to_string());
            }
        }
    }
    claims
}

/// Completions and releases gathered while a batch runs, settled in one
/// call each.
#[derive(Debug, Default)]
pub(crate) struct Settlement {
    pub(crate) completions: Vec<Completion>,
    pub(crate) releases: Vec<String>,
}

impl Settlement {
    /// Writes completions and releases. A failed completion does not fail
    /// the message — the effect already happened, and redelivering it would
    /// run it again — it is logged; the record stays in progress until the
    /// invocation deadline and then becomes claimable.
    pub(crate) async fn settle(self, idem: Option<&Idempotency>) {
        let Some(idem) = idem else { return };
        if !self.completions.is_empty() {
            if let Err(e) = idem.store.complete_many(&self.completions).await {
                tracing::error!(error = %e, count = self.completions.len(), "IdempotencyCompleteError: could not record completions");
            }
        }
        if !self.releases.is_empty() {
            if let Err(e) = idem.store.release_many(&self.releases).await {
                tracing::warn!(error = %e, count = self.releases.len(), "IdempotencyReleaseError: claims stay until the invocation deadline");
            }
        }
    }
}
