//! Requests per batch on DynamoDB (moto), counted by an SDK interceptor, and
//! proof that a batch's requests are in flight together. Its own test binary,
//! so timings are not disturbed by other tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use switchyard_idempotency::{
    ClaimOutcome, ClaimRequest, Completion, DynamoDbStore, IdempotencyStore, StoreOptions,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Counts requests per operation and the most in flight at once.
#[derive(Debug, Default)]
struct Counter {
    by_operation: Mutex<HashMap<String, usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Counter {
    fn take(&self) -> (HashMap<String, usize>, usize) {
        let counts = std::mem::take(&mut *self.by_operation.lock().expect("lock"));
        (counts, self.max_in_flight.swap(0, Ordering::SeqCst))
    }
}

#[derive(Debug, Clone)]
struct Counting(Arc<Counter>);

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "Counting"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?")
            .rsplit('.')
            .next()
            .unwrap_or("?")
            .to_owned();
        *self
            .0
            .by_operation
            .lock()
            .expect("lock")
            .entry(target)
            .or_default() += 1;
        let now = self.0.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        _: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_ten_is_ten_concurrent_puts_and_ten_concurrent_updates() {
    let counter = Arc::new(Counter::default());
    let config = aws_sdk_dynamodb::config::Builder::from(&switchyard_testkit::aws_config().await)
        .interceptor(Counting(Arc::clone(&counter)))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let table = switchyard_testkit::unique_name("idempotency-rt");
    let store = DynamoDbStore::new(client.clone(), table.clone(), StoreOptions::default());
    store.create_table_if_missing().await.expect("create table");
    let until = SystemTime::now() + Duration::from_secs(60);
    let batch = |round: usize| -> Vec<ClaimRequest> {
        (0..10)
            .map(|i| ClaimRequest::new(format!("r{round}-m{i}"), until).with_payload_hash("h"))
            .collect()
    };
    let completions = |round: usize| -> Vec<Completion> {
        (0..10)
            .map(|i| Completion::new(format!("r{round}-m{i}"), "{\"ok\":true}"))
            .collect()
    };
    counter.take();

    // First delivery: 10 PutItem (claim) + 10 UpdateItem (complete), each set concurrent.
    let outcomes = store.claim_many(&batch(0)).await.expect("claim_many");
    assert!(
        outcomes.iter().all(|o| *o == ClaimOutcome::Claimed),
        "{outcomes:?}"
    );
    let (claims, claim_concurrency) = counter.take();
    store
        .complete_many(&completions(0))
        .await
        .expect("complete_many");
    let (completes, complete_concurrency) = counter.take();
    assert_eq!(claims, HashMap::from([("PutItem".to_owned(), 10)]));
    assert_eq!(completes, HashMap::from([("UpdateItem".to_owned(), 10)]));

    // Redelivery: the failed conditional puts carry the old item (ALL_OLD), no GetItem.
    let outcomes = store.claim_many(&batch(0)).await.expect("claim_many");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, ClaimOutcome::Completed { .. })),
        "{outcomes:?}"
    );
    let (duplicates, _) = counter.take();
    assert_eq!(duplicates, HashMap::from([("PutItem".to_owned(), 10)]));

    // Concurrency: the requests of one batch are in flight together ...
    println!("max in flight: claim_many {claim_concurrency}, complete_many {complete_concurrency}");
    assert!(claim_concurrency > 1, "claim_many puts were sequential");
    assert!(
        complete_concurrency > 1,
        "complete_many updates were sequential"
    );

    // ... and the wall time of a batch of 10 against one request. moto handles
    // requests one at a time, so here the batch costs about 10x one request
    // and only the numbers are printed (see the README); the latency claim is
    // asserted against a server with fixed latency below.
    let mut single = Vec::new();
    let mut ten = Vec::new();
    for round in 1..=7 {
        let one = [ClaimRequest::new(format!("single-{round}"), until)];
        let started = Instant::now();
        store.claim_many(&one).await.expect("claim one");
        single.push(started.elapsed());
        let requests = batch(round);
        let started = Instant::now();
        store.claim_many(&requests).await.expect("claim ten");
        ten.push(started.elapsed());
    }
    let (single, ten) = (median(single), median(ten));
    let ratio = ten.as_secs_f64() / single.as_secs_f64();
    println!("moto: one PutItem {single:?}, claim_many of 10 {ten:?}, ratio {ratio:.2}");

    client
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .expect("delete table");
}

/// A loopback HTTP server answering every DynamoDB call with `{}` after a
/// fixed delay, handling connections in parallel like the real service.
async fn slow_dynamodb(delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut socket = BufReader::new(socket);
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match socket.read_line(&mut line).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if socket.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(delay).await;
                    let response = "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 2\r\n\r\n{}";
                    if socket
                        .get_mut()
                        .write_all(response.as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_costs_one_round_trip_of_latency() {
    let delay = Duration::from_millis(100);
    let config = aws_sdk_dynamodb::config::Builder::from(&switchyard_testkit::aws_config().await)
        .endpoint_url(slow_dynamodb(delay).await)
        .build();
    let store = DynamoDbStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        "any",
        StoreOptions::default(),
    );
    let until = SystemTime::now() + Duration::from_secs(60);
    let mut single = Vec::new();
    let mut ten = Vec::new();
    for round in 0..3 {
        let one = [ClaimRequest::new(format!("one-{round}"), until)];
        let started = Instant::now();
        assert_eq!(
            store.claim_many(&one).await.expect("claim"),
            vec![ClaimOutcome::Claimed]
        );
        single.push(started.elapsed());
        let requests: Vec<ClaimRequest> = (0..10)
            .map(|i| ClaimRequest::new(format!("ten-{round}-{i}"), until))
            .collect();
        let started = Instant::now();
        store.claim_many(&requests).await.expect("claim ten");
        ten.push(started.elapsed());
        let completions: Vec<Completion> = (0..10)
            .map(|i| Completion::new(format!("ten-{round}-{i}"), "1"))
            .collect();
        store
            .complete_many(&completions)
            .await
            .expect("complete ten");
    }
    let (single, ten) = (median(single), median(ten));
    let ratio = ten.as_secs_f64() / single.as_secs_f64();
    println!(
        "{delay:?} server latency: one PutItem {single:?}, claim_many of 10 {ten:?}, ratio {ratio:.2}"
    );
    assert!(
        ratio < 3.0,
        "a batch of 10 took {ratio:.2}x one request: not concurrent"
    );
}
