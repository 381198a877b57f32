//! The conformance suite against redis-server (`REDIS_URL`), plus fail-closed behaviour.

mod common;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{Fixture, conformance_suite, manual_options};
use switchyard_idempotency::{
    ClaimOutcome, ClaimRequest, Completion, IdempotencyStore as _, RedisOptions, RedisStore,
    StoreError, StoreOptions,
};

async fn setup() -> Fixture {
    let (options, clock) = manual_options();
    let redis = RedisOptions {
        namespace: format!("{}:", switchyard_testkit::unique_name("idem-test")),
        ..RedisOptions::default()
    };
    let store = RedisStore::open(&switchyard_testkit::redis_url(), options, redis).expect("open");
    Fixture {
        store: Arc::new(store),
        clock,
        prefix: "redis".to_owned(),
        guard: None,
    }
}

async fn teardown(_: Fixture) {}

conformance_suite!(setup, teardown);

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn open_needs_no_runtime() {
    let store = RedisStore::open(
        "redis://127.0.0.1:1",
        StoreOptions::default(),
        RedisOptions::default(),
    );
    assert!(store.is_ok(), "{store:?}");
}

#[tokio::test]
async fn unreachable_redis_fails_closed() {
    let url = format!("redis://127.0.0.1:{}", closed_port());
    let redis = RedisOptions {
        connection_timeout: Duration::from_millis(500),
        reconnect_retries: 0,
        ..RedisOptions::default()
    };
    let store = RedisStore::open(&url, StoreOptions::default(), redis).expect("open is lazy");
    let until = SystemTime::now() + Duration::from_secs(30);
    let claim = store.claim(ClaimRequest::new("k", until)).await;
    assert!(
        matches!(claim, Err(StoreError::Unavailable { .. })),
        "{claim:?}"
    );
    let batch = store
        .claim_many(&[ClaimRequest::new("a", until), ClaimRequest::new("b", until)])
        .await;
    assert!(batch.is_err(), "{batch:?}");
    assert!(store.complete(Completion::new("k", "1")).await.is_err());
    assert!(store.release("k").await.is_err());
}

#[tokio::test]
async fn claims_work_after_the_server_forgot_the_script() {
    let url = switchyard_testkit::redis_url();
    let client = redis::Client::open(url.as_str()).expect("redis url");
    let mut counter = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect counter");
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut counter)
        .await
        .expect("SCRIPT FLUSH");
    let redis = RedisOptions {
        namespace: format!("{}:", switchyard_testkit::unique_name("idem-noscript")),
        ..RedisOptions::default()
    };
    let store = RedisStore::open(&url, StoreOptions::default(), redis).expect("open");
    let until = SystemTime::now() + Duration::from_secs(60);
    // The claim must work after a script flush (EVALSHA -> NOSCRIPT -> EVAL).
    assert_eq!(
        store
            .claim(ClaimRequest::new("k", until))
            .await
            .expect("claim"),
        ClaimOutcome::Claimed
    );
    assert!(matches!(
        store
            .claim(ClaimRequest::new("k", until))
            .await
            .expect("claim"),
        ClaimOutcome::InProgress { .. }
    ));
}

/// The suite through the local cache, which relies on the expiry the Lua script reports.
mod cached {
    use super::*;
    use switchyard_idempotency::{CacheOptions, CachedStore};

    async fn setup() -> Fixture {
        let (options, clock) = manual_options();
        let redis = RedisOptions {
            namespace: format!("{}:", switchyard_testkit::unique_name("idem-cached")),
            ..RedisOptions::default()
        };
        let store = RedisStore::open(&switchyard_testkit::redis_url(), options.clone(), redis)
            .expect("open");
        Fixture {
            store: Arc::new(CachedStore::new(store, CacheOptions::default(), options)),
            clock,
            prefix: "redis-cached".to_owned(),
            guard: None,
        }
    }

    async fn teardown(_: Fixture) {}

    conformance_suite!(setup, teardown);
}

/// Records written as hashes by earlier versions are read as before:
/// a completed one answers its response, an in-progress one is in progress
/// (and can be released), and completing one replaces it with a string.
#[tokio::test]
async fn records_written_as_hashes_by_earlier_versions_are_still_read() {
    let url = switchyard_testkit::redis_url();
    let client = redis::Client::open(url.as_str()).expect("redis url");
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let namespace = format!("{}:", switchyard_testkit::unique_name("idem-old"));
    let store = RedisStore::open(
        &url,
        StoreOptions::default(),
        RedisOptions {
            namespace: namespace.clone(),
            ..RedisOptions::default()
        },
    )
    .expect("open");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    let (expiration, in_progress) = (now.as_secs() + 3600, now.as_millis() as u64 + 60_000);
    let hset = |key: &str, status: &str, data: &str| {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(format!("{namespace}{key}"))
            .arg("status")
            .arg(status)
            .arg("expiration")
            .arg(expiration)
            .arg("in_progress_expiry")
            .arg(in_progress)
            .arg("validation")
            .arg("h1")
            .arg("data")
            .arg(data);
        cmd
    };
    let _: () = hset("done", "COMPLETED", "{\"n\":1}")
        .query_async(&mut raw)
        .await
        .expect("HSET");
    let _: () = hset("busy", "INPROGRESS", "")
        .query_async(&mut raw)
        .await
        .expect("HSET");
    let _: () = hset("open", "INPROGRESS", "")
        .query_async(&mut raw)
        .await
        .expect("HSET");
    let until = SystemTime::now() + Duration::from_secs(30);
    let claim = |key: &str, hash: &str| ClaimRequest::new(key, until).with_payload_hash(hash);
    let outcomes = store
        .claim_many(&[
            claim("done", "h1"),
            claim("busy", "h1"),
            claim("done", "h2"),
        ])
        .await
        .expect("claim");
    assert_eq!(
        outcomes[0],
        ClaimOutcome::Completed {
            response: "{\"n\":1}".into()
        }
    );
    assert!(
        matches!(outcomes[1], ClaimOutcome::InProgress { .. }),
        "{outcomes:?}"
    );
    // the batch's second claim of "done" is its duplicate
    assert_eq!(outcomes.len(), 3);
    // the validation of an old record still guards it
    assert_eq!(
        store.claim(claim("done", "h2")).await.expect("claim"),
        ClaimOutcome::PayloadMismatch
    );

    // completing an old in-progress record keeps its validation
    store
        .complete(Completion::new("busy", "{\"n\":2}"))
        .await
        .expect("complete");
    assert_eq!(
        store.claim(claim("busy", "h1")).await.expect("claim"),
        ClaimOutcome::Completed {
            response: "{\"n\":2}".into()
        }
    );
    assert_eq!(
        store.claim(claim("busy", "h9")).await.expect("claim"),
        ClaimOutcome::PayloadMismatch
    );
    // releasing an old in-progress record lets it be claimed again
    store.release("open").await.expect("release");
    assert_eq!(
        store.claim(claim("open", "h1")).await.expect("claim"),
        ClaimOutcome::Claimed
    );
}
