//! Claim + complete of a batch of 10 messages: one call per message against
//! `claim_many`/`complete_many`, on memory, embedded (redb) and Redis.
//!
//! `cargo bench -p switchyard-idempotency` (Redis needs `REDIS_URL`, as
//! exported by `bash scripts/test.sh`; without it the Redis group fails).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use switchyard_idempotency::{
    ClaimOutcome, ClaimRequest, Completion, EmbeddedStore, IdempotencyStore, MemoryStore,
    RedisOptions, RedisStore, StoreOptions,
};

const BATCH: u64 = 10;

fn keys(next: &AtomicU64) -> Vec<String> {
    let first = next.fetch_add(BATCH, Ordering::Relaxed);
    (first..first + BATCH)
        .map(|i| format!("bench#{i}"))
        .collect()
}

async fn per_message(store: &dyn IdempotencyStore, keys: Vec<String>) {
    let until = SystemTime::now() + Duration::from_secs(60);
    for key in keys {
        let outcome = store
            .claim(ClaimRequest::new(key.clone(), until).with_payload_hash("h"))
            .await
            .expect("claim");
        assert_eq!(outcome, ClaimOutcome::Claimed);
        store
            .complete(Completion::new(key, "{\"ok\":true}"))
            .await
            .expect("complete");
    }
}

async fn batched(store: &dyn IdempotencyStore, keys: Vec<String>) {
    let until = SystemTime::now() + Duration::from_secs(60);
    let requests: Vec<ClaimRequest> = keys
        .iter()
        .map(|key| ClaimRequest::new(key.clone(), until).with_payload_hash("h"))
        .collect();
    let outcomes = store.claim_many(&requests).await.expect("claim_many");
    assert!(outcomes.iter().all(|o| *o == ClaimOutcome::Claimed));
    let completions: Vec<Completion> = keys
        .into_iter()
        .map(|key| Completion::new(key, "{\"ok\":true}"))
        .collect();
    store
        .complete_many(&completions)
        .await
        .expect("complete_many");
}

fn group(c: &mut Criterion, name: &str, store: Arc<dyn IdempotencyStore>) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let next = Arc::new(AtomicU64::new(0));
    let mut group = c.benchmark_group(format!("{name}/batch_of_10"));
    group.bench_function("per_message", |b| {
        b.to_async(&runtime)
            .iter(|| per_message(store.as_ref(), keys(&next)));
    });
    group.bench_function("claim_many+complete_many", |b| {
        b.to_async(&runtime)
            .iter(|| batched(store.as_ref(), keys(&next)));
    });
    group.finish();
}

fn memory(c: &mut Criterion) {
    group(
        c,
        "memory",
        Arc::new(MemoryStore::new(StoreOptions::default())),
    );
}

fn embedded(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        EmbeddedStore::open(dir.path().join("bench.redb"), StoreOptions::default()).expect("open");
    group(c, "embedded", Arc::new(store));
}

fn redis(c: &mut Criterion) {
    // Panics with the testkit's message when REDIS_URL is unset: no silent skip.
    let url = switchyard_testkit::redis_url();
    let options = RedisOptions {
        namespace: format!("{}:", switchyard_testkit::unique_name("idem-bench")),
        ..RedisOptions::default()
    };
    let store = RedisStore::open(&url, StoreOptions::default(), options).expect("open");
    group(c, "redis", Arc::new(store));
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = memory, embedded, redis
}
criterion_main!(benches);
