//! Round trips per batch on Redis, counted by the server itself (`INFO
//! commandstats` deltas). Its own test binary, so no other test talks to
//! Redis while it counts.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use redis::AsyncCommands as _;
use switchyard_idempotency::{
    ClaimOutcome, ClaimRequest, Completion, IdempotencyStore, PositionClaim, PositionOutcome,
    RedisOptions, RedisStore, StoreOptions,
};

/// Calls per command since server start, from `INFO commandstats`.
async fn command_calls(connection: &mut redis::aio::MultiplexedConnection) -> HashMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(connection)
        .await
        .expect("INFO commandstats");
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats
                .split(',')
                .find_map(|field| field.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// Read events the server processed since start (`INFO stats`
/// `total_reads_processed`): one per request that arrives in one piece,
/// so a pipeline or a script call of a batch is one.
async fn reads_processed(connection: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(connection)
        .await
        .expect("INFO stats");
    info.lines()
        .find_map(|line| line.strip_prefix("total_reads_processed:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("total_reads_processed in INFO stats")
}

/// Commands the store sent while `work` ran (the counter's own INFO
/// excluded), and its requests (round trips) as the server read them.
async fn commands_during<F: Future<Output = ()>>(
    connection: &mut redis::aio::MultiplexedConnection,
    work: F,
) -> (HashMap<String, u64>, u64) {
    let reads_before = reads_processed(connection).await;
    let before = command_calls(connection).await;
    work.await;
    let after = command_calls(connection).await;
    // the counter's own reads: two INFO commandstats and the INFO stats below
    let requests = reads_processed(connection).await - reads_before - 3;
    let calls = after
        .into_iter()
        .filter(|(name, _)| name != "info")
        .filter_map(|(name, calls)| {
            let delta = calls - before.get(&name).copied().unwrap_or(0);
            (delta > 0).then_some((name, delta))
        })
        .collect();
    (calls, requests)
}

fn stats(pairs: &[(&str, u64)]) -> HashMap<String, u64> {
    pairs
        .iter()
        .map(|(name, calls)| ((*name).to_owned(), *calls))
        .collect()
}

#[tokio::test]
async fn a_batch_of_ten_costs_two_round_trips_first_and_duplicate() {
    let url = switchyard_testkit::redis_url();
    let client = redis::Client::open(url.as_str()).expect("redis url");
    let mut counter = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect counter");
    let _: () = counter.ping().await.expect("ping");
    let redis = RedisOptions {
        namespace: format!("{}:", switchyard_testkit::unique_name("idem-rt")),
        ..RedisOptions::default()
    };
    let store = RedisStore::open(&url, StoreOptions::default(), redis).expect("open");
    let until = SystemTime::now() + Duration::from_secs(60);

    // Warm up: connect and have the server cache all three scripts.
    store
        .claim(ClaimRequest::new("warm", until))
        .await
        .expect("warm claim");
    store
        .complete(Completion::new("warm", "0"))
        .await
        .expect("warm complete");
    store.release("warm").await.expect("warm release");

    let batch: Vec<ClaimRequest> = (0..10)
        .map(|i| ClaimRequest::new(format!("msg-{i}"), until).with_payload_hash(format!("h{i}")))
        .collect();
    // as the pipeline completes: with the hash each claim was made with
    let completions: Vec<Completion> = (0..10)
        .map(|i| {
            Completion::new(format!("msg-{i}"), format!("{{\"n\":{i}}}"))
                .with_claimed_hash(Some(format!("h{i}")))
        })
        .collect();

    // First delivery: one pipeline of 10 SET NX PX, one of 10 SET PX.
    let (first, requests) = commands_during(&mut counter, async {
        let outcomes = store.claim_many(&batch).await.expect("claim_many");
        assert!(
            outcomes.iter().all(|o| *o == ClaimOutcome::Claimed),
            "{outcomes:?}"
        );
        store
            .complete_many(&completions)
            .await
            .expect("complete_many");
    })
    .await;
    assert_eq!(requests, 2, "first delivery sent {first:?}");
    assert_eq!(first, stats(&[("set", 20)]));

    // Redelivery of the whole batch: the SET NX pipeline finds every key
    // taken, one script reads them all (the refused SET NX it repeats
    // first, and a GET each).
    let (duplicate, requests) = commands_during(&mut counter, async {
        let outcomes = store.claim_many(&batch).await.expect("claim_many");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, ClaimOutcome::Completed { .. })),
            "{outcomes:?}"
        );
    })
    .await;
    assert_eq!(requests, 2, "duplicate delivery sent {duplicate:?}");
    assert_eq!(
        duplicate,
        stats(&[("set", 20), ("evalsha", 1), ("get", 10)])
    );

    // A completion without the claim's hash keeps the stored one: one
    // script, a GET and a SET per key.
    let (kept, requests) = commands_during(&mut counter, async {
        let plain: Vec<Completion> = (0..10)
            .map(|i| Completion::new(format!("msg-{i}"), "2"))
            .collect();
        store.complete_many(&plain).await.expect("complete_many");
    })
    .await;
    assert_eq!(requests, 1, "{kept:?}");
    assert_eq!(kept, stats(&[("evalsha", 1), ("get", 10), ("set", 10)]));
    let mismatch = ClaimRequest::new("msg-0", until).with_payload_hash("other");
    assert_eq!(
        store.claim(mismatch).await.expect("claim"),
        ClaimOutcome::PayloadMismatch
    );

    // For comparison, the per-message API: one call per claim and per completion.
    let per_message: Vec<ClaimRequest> = (0..10)
        .map(|i| ClaimRequest::new(format!("single-{i}"), until))
        .collect();
    let (_, requests) = commands_during(&mut counter, async {
        for request in &per_message {
            assert_eq!(
                store.claim(request.clone()).await.expect("claim"),
                ClaimOutcome::Claimed
            );
            store
                .complete(Completion::new(request.key.clone(), "1").with_claimed_hash(None))
                .await
                .expect("complete");
        }
    })
    .await;
    assert_eq!(requests, 20, "the per-message API");

    // The ordering guard: a batch of 10 entities' positions is one script
    // call, first time and again (5 newer, 5 stale).
    // round 0: every entity at +10; round 1: even ones at +20 (newer), odd
    // ones at +0 (older, stale)
    let positions = |round: u64| -> Vec<PositionClaim> {
        (0..10u64)
            .map(|i| PositionClaim {
                key: format!("position#c{i}"),
                position: 1_764_583_200_000_000_000
                    + match (round, i % 2) {
                        (0, _) => 10,
                        (_, 0) => 20,
                        _ => 0,
                    },
                event_id: format!("e{i}-{round}"),
                keep_until: until,
            })
            .collect()
    };
    store
        .admit_positions(&positions(0)[..1])
        .await
        .expect("warm the script");
    for (round, stale) in [(0, 0), (1, 5)] {
        let claims = positions(round);
        let (calls, requests) = commands_during(&mut counter, async {
            let outcomes = store.admit_positions(&claims).await.expect("admit");
            let refused = outcomes
                .iter()
                .filter(|o| matches!(o, PositionOutcome::Stale { .. }))
                .count();
            assert_eq!(refused, stale, "{outcomes:?}");
        })
        .await;
        assert_eq!(requests, 1, "positions, round {round}: {calls:?}");
        assert_eq!(calls.get("evalsha"), Some(&1), "{calls:?}");
    }
}
