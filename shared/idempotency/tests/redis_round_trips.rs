//! Round trips per batch on Redis, counted by the server itself (`INFO
//! commandstats` deltas). Its own test binary, so no other test talks to
//! Redis while it counts.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use redis::AsyncCommands as _;
use switchyard_idempotency::{
    ClaimOutcome, ClaimRequest, Completion, IdempotencyStore, RedisOptions, RedisStore,
    StoreOptions,
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

/// Commands the store sent while `work` ran (the counter's own INFO excluded).
async fn commands_during<F: Future<Output = ()>>(
    connection: &mut redis::aio::MultiplexedConnection,
    work: F,
) -> HashMap<String, u64> {
    let before = command_calls(connection).await;
    work.await;
    let after = command_calls(connection).await;
    after
        .into_iter()
        .filter(|(name, _)| name != "info")
        .filter_map(|(name, calls)| {
            let delta = calls - before.get(&name).copied().unwrap_or(0);
            (delta > 0).then_some((name, delta))
        })
        .collect()
}

/// Commands the store's Lua scripts run inside Redis. `commandstats` counts
/// them too, so they are excluded from round trips; the exact per-command
/// deltas are asserted as well, so a direct (non-script) command would show.
/// The store sends nothing but scripts: every data command runs inside one.
const INSIDE_SCRIPTS: [&str; 7] = ["set", "get", "hmget", "hset", "del", "pexpire", "hget"];

/// Requests that came over the network: every command not run by a script.
fn round_trips(calls: &HashMap<String, u64>) -> u64 {
    calls
        .iter()
        .filter(|(name, _)| !INSIDE_SCRIPTS.contains(&name.as_str()))
        .map(|(_, calls)| calls)
        .sum()
}

fn stats(pairs: &[(&str, u64)]) -> HashMap<String, u64> {
    pairs
        .iter()
        .map(|(name, calls)| ((*name).to_owned(), *calls))
        .collect()
}

#[tokio::test]
async fn a_batch_of_ten_costs_two_round_trips_and_duplicates_one() {
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
    let completions: Vec<Completion> = (0..10)
        .map(|i| Completion::new(format!("msg-{i}"), format!("{{\"n\":{i}}}")))
        .collect();

    // First delivery: one claim_many, one complete_many.
    let first = commands_during(&mut counter, async {
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
    assert_eq!(round_trips(&first), 2, "first delivery sent {first:?}");
    assert_eq!(
        first,
        // a claim is one SET NX PX, a completion one GET and one SET PX
        stats(&[("evalsha", 2), ("set", 20), ("get", 10)])
    );

    // Redelivery of the whole batch: one claim_many answers every message.
    let duplicate = commands_during(&mut counter, async {
        let outcomes = store.claim_many(&batch).await.expect("claim_many");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, ClaimOutcome::Completed { .. })),
            "{outcomes:?}"
        );
    })
    .await;
    assert_eq!(
        round_trips(&duplicate),
        1,
        "duplicate delivery sent {duplicate:?}"
    );
    // each duplicate: the refused SET NX and the GET of the record
    assert_eq!(
        duplicate,
        stats(&[("evalsha", 1), ("set", 10), ("get", 10)])
    );

    // For comparison, the per-message API: one call per claim and per completion.
    let per_message: Vec<ClaimRequest> = (0..10)
        .map(|i| ClaimRequest::new(format!("single-{i}"), until))
        .collect();
    let single = commands_during(&mut counter, async {
        for request in &per_message {
            assert_eq!(
                store.claim(request.clone()).await.expect("claim"),
                ClaimOutcome::Claimed
            );
            store
                .complete(Completion::new(request.key.clone(), "1"))
                .await
                .expect("complete");
        }
    })
    .await;
    assert_eq!(round_trips(&single), 20, "per-message API sent {single:?}");
}
