//! Backend-independent cases: every backend must pass all of them.

use std::sync::Arc;
use std::time::Duration;

use switchyard_idempotency::{ClaimOutcome, ClaimRequest, Completion};

use super::Fixture;

const DEADLINE: Duration = Duration::from_secs(30);

fn request(f: &Fixture, name: &str) -> ClaimRequest {
    ClaimRequest::new(f.key(name), f.deadline(DEADLINE))
}

async fn claim(f: &Fixture, request: ClaimRequest) -> ClaimOutcome {
    f.store.claim(request).await.expect("claim")
}

pub(crate) async fn new_key_is_claimed(f: &Fixture) {
    assert_eq!(claim(f, request(f, "new")).await, ClaimOutcome::Claimed);
    assert_eq!(f.store.claim_many(&[]).await.expect("empty batch"), vec![]);
}

pub(crate) async fn completed_duplicate_returns_stored_response(f: &Fixture) {
    assert_eq!(claim(f, request(f, "done")).await, ClaimOutcome::Claimed);
    let response = r#"{"ok":true,"n":1}"#;
    f.store
        .complete(Completion::new(f.key("done"), response))
        .await
        .expect("complete");
    assert_eq!(
        claim(f, request(f, "done")).await,
        ClaimOutcome::Completed {
            response: response.to_owned()
        }
    );
}

pub(crate) async fn in_progress_duplicate_is_reported(f: &Fixture) {
    let first = request(f, "busy");
    let until = first.in_progress_until;
    assert_eq!(claim(f, first).await, ClaimOutcome::Claimed);
    match claim(f, request(f, "busy")).await {
        ClaimOutcome::InProgress { until: reported } => {
            let diff = reported
                .duration_since(until)
                .unwrap_or_else(|e| e.duration());
            assert!(
                diff < Duration::from_millis(1),
                "until {reported:?} vs {until:?}"
            );
        }
        other => panic!("expected InProgress, got {other:?}"),
    }
}

pub(crate) async fn abandoned_claim_is_claimable_after_deadline_not_before(f: &Fixture) {
    assert_eq!(claim(f, request(f, "crash")).await, ClaimOutcome::Claimed);
    // Just before the deadline the claim still holds.
    f.clock.advance(DEADLINE - Duration::from_millis(5));
    assert!(matches!(
        claim(f, request(f, "crash")).await,
        ClaimOutcome::InProgress { .. }
    ));
    // Once the deadline has passed, a retry may take over.
    f.clock.advance(Duration::from_millis(10));
    assert_eq!(claim(f, request(f, "crash")).await, ClaimOutcome::Claimed);
    // ... and now holds it in turn.
    assert!(matches!(
        claim(f, request(f, "crash")).await,
        ClaimOutcome::InProgress { .. }
    ));
}

pub(crate) async fn completed_record_expires_after_expiry(f: &Fixture) {
    assert_eq!(claim(f, request(f, "ttl")).await, ClaimOutcome::Claimed);
    f.store
        .complete(Completion::new(f.key("ttl"), "\"r\""))
        .await
        .expect("complete");
    // The default expiry is one hour.
    f.clock.advance(Duration::from_secs(3599));
    assert_eq!(
        claim(f, request(f, "ttl")).await,
        ClaimOutcome::Completed {
            response: "\"r\"".to_owned()
        }
    );
    f.clock.advance(Duration::from_secs(2));
    assert_eq!(claim(f, request(f, "ttl")).await, ClaimOutcome::Claimed);
}

pub(crate) async fn payload_mismatch_is_reported(f: &Fixture) {
    let a = request(f, "hash").with_payload_hash("aaaa");
    assert_eq!(claim(f, a.clone()).await, ClaimOutcome::Claimed);
    // In progress, other payload.
    assert_eq!(
        claim(f, request(f, "hash").with_payload_hash("bbbb")).await,
        ClaimOutcome::PayloadMismatch
    );
    // Same payload: a plain duplicate.
    assert!(matches!(
        claim(f, a.clone()).await,
        ClaimOutcome::InProgress { .. }
    ));
    // No hash given: no validation.
    assert!(matches!(
        claim(f, request(f, "hash")).await,
        ClaimOutcome::InProgress { .. }
    ));
    // Completed: the stored hash is kept.
    f.store
        .complete(Completion::new(f.key("hash"), "1"))
        .await
        .expect("complete");
    assert_eq!(
        claim(f, request(f, "hash").with_payload_hash("bbbb")).await,
        ClaimOutcome::PayloadMismatch
    );
    assert_eq!(
        claim(f, a).await,
        ClaimOutcome::Completed {
            response: "1".to_owned()
        }
    );
}

pub(crate) async fn release_lets_a_retry_run(f: &Fixture) {
    assert_eq!(claim(f, request(f, "fail")).await, ClaimOutcome::Claimed);
    f.store.release(&f.key("fail")).await.expect("release");
    assert_eq!(claim(f, request(f, "fail")).await, ClaimOutcome::Claimed);
    // Releasing a completed key (or an unknown one) changes nothing.
    f.store
        .complete(Completion::new(f.key("fail"), "2"))
        .await
        .expect("complete");
    f.store
        .release_many(&[f.key("fail"), f.key("unknown")])
        .await
        .expect("release");
    assert_eq!(
        claim(f, request(f, "fail")).await,
        ClaimOutcome::Completed {
            response: "2".to_owned()
        }
    );
}

pub(crate) async fn batch_mixes_new_in_progress_and_completed(f: &Fixture) {
    assert_eq!(claim(f, request(f, "b-busy")).await, ClaimOutcome::Claimed);
    assert_eq!(claim(f, request(f, "b-done")).await, ClaimOutcome::Claimed);
    f.store
        .complete(Completion::new(f.key("b-done"), "\"stored\""))
        .await
        .expect("complete");
    let batch = [
        request(f, "b-new-1"),
        request(f, "b-busy"),
        request(f, "b-done"),
        request(f, "b-new-2"),
    ];
    let outcomes = f.store.claim_many(&batch).await.expect("claim_many");
    assert_eq!(outcomes.len(), 4);
    assert_eq!(outcomes[0], ClaimOutcome::Claimed);
    assert!(
        matches!(outcomes[1], ClaimOutcome::InProgress { .. }),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes[2],
        ClaimOutcome::Completed {
            response: "\"stored\"".to_owned()
        }
    );
    assert_eq!(outcomes[3], ClaimOutcome::Claimed);
    let completions = [
        Completion::new(f.key("b-new-1"), "1"),
        Completion::new(f.key("b-new-2"), "2"),
    ];
    f.store
        .complete_many(&completions)
        .await
        .expect("complete_many");
    let again = f.store.claim_many(&batch).await.expect("claim_many");
    assert_eq!(
        again[0],
        ClaimOutcome::Completed {
            response: "1".into()
        }
    );
    assert_eq!(
        again[3],
        ClaimOutcome::Completed {
            response: "2".into()
        }
    );
}

pub(crate) async fn duplicate_keys_in_one_batch_first_wins(f: &Fixture) {
    let first = request(f, "dup").with_payload_hash("h1");
    let batch = [
        first.clone(),
        request(f, "other"),
        first.clone(),
        request(f, "dup").with_payload_hash("h2"),
    ];
    let outcomes = f.store.claim_many(&batch).await.expect("claim_many");
    assert_eq!(outcomes[0], ClaimOutcome::Claimed);
    assert_eq!(outcomes[1], ClaimOutcome::Claimed);
    assert_eq!(
        outcomes[2],
        ClaimOutcome::InProgress {
            until: first.in_progress_until
        }
    );
    assert_eq!(outcomes[3], ClaimOutcome::PayloadMismatch);
}

pub(crate) async fn concurrent_claims_have_exactly_one_winner(f: &Fixture) {
    let key = f.key("race");
    let until = f.deadline(DEADLINE);
    let start = Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let store = Arc::clone(&f.store);
            let start = Arc::clone(&start);
            let request = ClaimRequest::new(key.clone(), until);
            tokio::spawn(async move {
                start.wait().await;
                store.claim(request).await
            })
        })
        .collect();
    let mut claimed = 0;
    let mut in_progress = 0;
    for task in tasks {
        match task.await.expect("task").expect("claim") {
            ClaimOutcome::Claimed => claimed += 1,
            ClaimOutcome::InProgress { .. } => in_progress += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((claimed, in_progress), (1, 31));
}
