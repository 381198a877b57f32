//! The conformance suite against the embedded (redb) backend, plus restart survival.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Fixture, conformance_suite, manual_options};
use switchyard_idempotency::{
    ClaimOutcome, ClaimRequest, Clock as _, Completion, EmbeddedStore, IdempotencyStore as _,
};

async fn setup() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let (options, clock) = manual_options();
    let store = EmbeddedStore::open(dir.path().join("idempotency.redb"), options).expect("open");
    Fixture {
        store: Arc::new(store),
        clock,
        prefix: "embedded".to_owned(),
        guard: Some(Box::new(dir)),
    }
}

async fn teardown(_: Fixture) {}

conformance_suite!(setup, teardown);

#[tokio::test]
async fn records_survive_reopening_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("idempotency.redb");
    let (options, clock) = manual_options();
    let until = clock.now() + Duration::from_secs(30);
    {
        let store = EmbeddedStore::open(&path, options.clone()).expect("open");
        let outcomes = store
            .claim_many(&[
                ClaimRequest::new("done", until),
                ClaimRequest::new("busy", until),
            ])
            .await
            .expect("claim");
        assert_eq!(outcomes, vec![ClaimOutcome::Claimed, ClaimOutcome::Claimed]);
        store
            .complete(Completion::new("done", "\"kept\""))
            .await
            .expect("complete");
    }
    let reopened = EmbeddedStore::open(&path, options).expect("reopen");
    let outcomes = reopened
        .claim_many(&[
            ClaimRequest::new("done", until),
            ClaimRequest::new("busy", until),
        ])
        .await
        .expect("claim");
    assert_eq!(
        outcomes[0],
        ClaimOutcome::Completed {
            response: "\"kept\"".to_owned()
        }
    );
    assert!(
        matches!(outcomes[1], ClaimOutcome::InProgress { .. }),
        "{outcomes:?}"
    );
}
