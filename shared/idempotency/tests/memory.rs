//! The conformance suite against the in-memory backend.

mod common;

use std::sync::Arc;

use common::{Fixture, conformance_suite, manual_options};
use switchyard_idempotency::MemoryStore;

async fn setup() -> Fixture {
    let (options, clock) = manual_options();
    Fixture {
        store: Arc::new(MemoryStore::new(options)),
        clock,
        prefix: "memory".to_owned(),
        guard: None,
    }
}

async fn teardown(_: Fixture) {}

conformance_suite!(setup, teardown);

/// The same suite through the local cache: it must not change any outcome.
mod cached {
    use super::*;
    use switchyard_idempotency::{CacheOptions, CachedStore};

    async fn setup() -> Fixture {
        let (options, clock) = manual_options();
        let store = CachedStore::new(
            MemoryStore::new(options.clone()),
            CacheOptions::default(),
            options,
        );
        Fixture {
            store: Arc::new(store),
            clock,
            prefix: "cached".to_owned(),
            guard: None,
        }
    }

    async fn teardown(_: Fixture) {}

    conformance_suite!(setup, teardown);
}

mod cache_hits {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use switchyard_idempotency::{
        CacheOptions, CachedStore, ClaimOutcome, ClaimRequest, Clock as _, Completion,
        IdempotencyStore, PositionClaim, PositionOutcome, StoreError,
    };

    /// Counts the claims that reach the backend.
    struct Counted {
        inner: MemoryStore,
        claims: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl IdempotencyStore for Counted {
        async fn claim_many(
            &self,
            requests: &[ClaimRequest],
        ) -> Result<Vec<ClaimOutcome>, StoreError> {
            self.claims.fetch_add(requests.len(), Ordering::SeqCst);
            self.inner.claim_many(requests).await
        }
        async fn complete_many(&self, completions: &[Completion]) -> Result<(), StoreError> {
            self.inner.complete_many(completions).await
        }
        async fn release_many(&self, keys: &[String]) -> Result<(), StoreError> {
            self.inner.release_many(keys).await
        }
        async fn admit_positions(
            &self,
            claims: &[PositionClaim],
        ) -> Result<Vec<PositionOutcome>, StoreError> {
            self.inner.admit_positions(claims).await
        }
    }

    #[tokio::test]
    async fn completed_duplicates_are_answered_locally_until_max_age() {
        let (options, clock) = manual_options();
        let counted = Counted {
            inner: MemoryStore::new(options.clone()),
            claims: AtomicUsize::new(0),
        };
        let cache = CacheOptions {
            capacity: 2,
            max_age: Duration::from_secs(60),
        };
        let store = CachedStore::new(counted, cache, options);
        let until = clock.now() + Duration::from_secs(30);
        let request = ClaimRequest::new("k", until).with_payload_hash("h");
        assert_eq!(
            store.claim(request.clone()).await.expect("claim"),
            ClaimOutcome::Claimed
        );
        store
            .complete(Completion::new("k", "\"r\""))
            .await
            .expect("complete");
        let completed = ClaimOutcome::Completed {
            response: "\"r\"".to_owned(),
        };
        for _ in 0..3 {
            assert_eq!(
                store.claim(request.clone()).await.expect("claim"),
                completed
            );
        }
        assert_eq!(
            store.inner().claims.load(Ordering::SeqCst),
            1,
            "duplicates hit the backend"
        );
        // A different payload is never answered from the cache.
        let other = ClaimRequest::new("k", until).with_payload_hash("other");
        assert_eq!(
            store.claim(other).await.expect("claim"),
            ClaimOutcome::PayloadMismatch
        );
        assert_eq!(store.inner().claims.load(Ordering::SeqCst), 2);
        // After max_age the backend is asked again.
        clock.advance(Duration::from_secs(61));
        assert_eq!(store.claim(request).await.expect("claim"), completed);
        assert_eq!(store.inner().claims.load(Ordering::SeqCst), 3);
    }
}
