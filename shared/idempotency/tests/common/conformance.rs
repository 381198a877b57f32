//! Backend-independent cases: every backend must pass all of them.

use std::sync::Arc;
use std::time::Duration;

use switchyard_idempotency::{
    ClaimOutcome, ClaimRequest, Completion, PositionClaim, PositionOutcome,
};

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

/// Positions around a real epoch-nanosecond timestamp, so every backend
/// handles 19-digit values exactly.
const T0: u64 = 1_764_583_200_000_000_000;

fn position(f: &Fixture, entity: &str, at: u64, event: &str) -> PositionClaim {
    PositionClaim {
        key: f.key(&format!("position#{entity}")),
        position: at,
        event_id: event.to_owned(),
        keep_until: f.deadline(Duration::from_secs(3_600)),
    }
}

async fn admit(f: &Fixture, claims: &[PositionClaim]) -> Vec<PositionOutcome> {
    f.store
        .admit_positions(claims)
        .await
        .expect("admit positions")
}

fn stale(newest: u64, event: &str) -> PositionOutcome {
    PositionOutcome::Stale {
        newest,
        newest_event: event.to_owned(),
    }
}

pub(crate) async fn positions_admit_newer_and_equal_and_refuse_older(f: &Fixture) {
    use PositionOutcome::Admitted;
    assert_eq!(admit(f, &[]).await, vec![]);
    assert_eq!(
        admit(f, &[position(f, "c1", T0 + 5, "e5")]).await,
        vec![Admitted]
    );
    // one nanosecond older: stale, naming the newest
    assert_eq!(
        admit(f, &[position(f, "c1", T0 + 4, "e4")]).await,
        vec![stale(T0 + 5, "e5")]
    );
    // equal (a retry of e5, or another event of the same instant): admitted
    assert_eq!(
        admit(f, &[position(f, "c1", T0 + 5, "e5")]).await,
        vec![Admitted]
    );
    assert_eq!(
        admit(f, &[position(f, "c1", T0 + 5, "e5b")]).await,
        vec![Admitted]
    );
    assert_eq!(
        admit(f, &[position(f, "c1", T0 + 9, "e9")]).await,
        vec![Admitted]
    );
    assert_eq!(
        admit(f, &[position(f, "c1", T0 + 5, "e5")]).await,
        vec![stale(T0 + 9, "e9")]
    );
    // other entities are independent; u64::MAX is exact
    assert_eq!(
        admit(
            f,
            &[
                position(f, "c2", 1, "x1"),
                position(f, "c3", u64::MAX, "x2")
            ]
        )
        .await,
        vec![Admitted, Admitted]
    );
    assert_eq!(
        admit(f, &[position(f, "c3", u64::MAX - 1, "x3")]).await,
        vec![stale(u64::MAX, "x2")]
    );
}

pub(crate) async fn position_records_expire_with_their_claims(f: &Fixture) {
    assert_eq!(
        admit(f, &[position(f, "exp", T0 + 10, "new")]).await,
        vec![PositionOutcome::Admitted]
    );
    f.clock.advance(Duration::from_secs(3_602));
    assert_eq!(
        admit(f, &[position(f, "exp", T0, "old")]).await,
        vec![PositionOutcome::Admitted],
        "an expired position no longer makes anything stale"
    );
}

pub(crate) async fn positions_of_one_entity_in_one_call_are_decided_in_order(f: &Fixture) {
    use PositionOutcome::Admitted;
    let outcomes = admit(
        f,
        &[
            position(f, "batch", T0 + 2, "b2"),
            position(f, "other", T0, "o"),
            position(f, "batch", T0 + 1, "b1"),
            position(f, "batch", T0 + 3, "b3"),
        ],
    )
    .await;
    assert_eq!(
        outcomes,
        vec![Admitted, Admitted, stale(T0 + 2, "b2"), Admitted]
    );
    assert_eq!(
        admit(f, &[position(f, "batch", T0 + 2, "b2")]).await,
        vec![stale(T0 + 3, "b3")]
    );
}

pub(crate) async fn concurrent_positions_keep_the_newest(f: &Fixture) {
    let start = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16u64)
        .map(|i| {
            let store = Arc::clone(&f.store);
            let start = Arc::clone(&start);
            let claim = position(f, "race", T0 + i, &format!("r{i}"));
            tokio::spawn(async move {
                start.wait().await;
                store.admit_positions(&[claim]).await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("admit");
    }
    // Whatever the interleaving, the record ends at the newest position.
    assert_eq!(
        admit(f, &[position(f, "race", T0 + 14, "late")]).await,
        vec![stale(T0 + 15, "r15")]
    );
}
