//! The chaos suite: the packaged erp-sync (`bootstrap` of the Lambda zip
//! `switchyard package` wrote) behind a Runtime API served by the test
//! (`switchyard_testkit::lambda_driver`), fed by an event source mapping
//! poller over a moto SQS queue whose RedrivePolicy leads to a DLQ, with
//! the idempotency store on a redis-server of the test's own — under
//! faults:
//!
//! - orders and customer updates, 10% resent duplicates, 1% poison
//!   (undecodable or invalid), customer updates shuffled out of order;
//! - 20% of the ERP ids answered 503 / 429 / 500 once or twice, 1% answered
//!   late (applied, then answered beyond `ERP_TIMEOUT_MS`);
//! - erp-sync SIGKILLed mid-batch: while an ERP call is held before the ERP
//!   applied it, while one is held after the ERP applied it (before the
//!   answer, so before the claim is completed), while a PutEvents of the
//!   batch's `erp.order-synced` is held after the bus took it (before its
//!   answer, so before the claims are completed), and at random moments
//!   while an invocation runs; restarted each time;
//! - redis-server SIGKILLed for 10 s mid-run, then restarted (its
//!   append-only file keeps what it acknowledged).
//!
//! It asserts no message lost, no double effect, no stale customer update
//! applied, a DLQ holding exactly the poison with its park reasons, and
//! every `erp.order-synced` republished after a kill under its first id,
//! and prints the figures. `SWITCHYARD_CHAOS_MESSAGES` sets the number of
//! messages (default 1,000; 10,000 for the full profile),
//! `SWITCHYARD_CHAOS_SEED` the random seed (printed by every run).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::SqsBatchResponse;
use aws_sdk_sqs::types::{
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use serde_json::{Value, json};
use switchyard_local::erp::{ErpCall, ErpStub, Hold, HoldPoint};
use switchyard_testkit::esm::{EventSourceMapping, queue_depth};
use switchyard_testkit::lambda_driver::{FunctionConfig, FunctionProcess, InvokeError};
use switchyard_testkit::package::lambda_bootstrap;
use switchyard_testkit::redis_server::RedisServer;
use switchyard_testkit::throttle_proxy::{Hold as PutEventsHold, ThrottleProxy, Throttling};
use switchyard_triggers::park::attributes;

/// The two scenarios run one after the other: each has the machine.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const DEFAULT_MESSAGES: usize = 1_000;
/// Updates sent per customer (shuffled with everything else).
const UPDATES_PER_CUSTOMER: usize = 4;
/// The function timeout: each invocation's deadline.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(5);
/// The queue's visibility timeout (above the function timeout, as Lambda
/// requires).
const VISIBILITY_TIMEOUT_SECS: u32 = 6;
/// Receives before the queue's RedrivePolicy moves a message to the DLQ.
const MAX_RECEIVE_COUNT: u32 = 16;
const ERP_TIMEOUT_MS: u64 = 500;
const LATE_ANSWER: Duration = Duration::from_millis(900);
const REDIS_OUTAGE: Duration = Duration::from_secs(10);
/// Messages kept on the queue at most while the rest waits to be sent.
const BACKLOG: usize = 500;
/// When (in % of the effects) erp-sync is killed with a PutEvents held:
/// before the Redis outage (at 50%) and after it.
const PUBLISH_KILLS: [usize; 2] = [15, 70];

fn env_number(var: &str, default: u64) -> u64 {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var}={v} is not a number")),
        _ => default,
    }
}

fn order(i: usize) -> Value {
    json!({
        "specversion": "1.0",
        "id": format!("evt-order-{i:05}"),
        "source": "switchyard/chaos",
        "type": "order.placed",
        "time": "2026-11-20T09:00:00Z",
        "subject": format!("O-{i:05}"),
        "datacontenttype": "application/json",
        "dataschema": "urn:switchyard:schema:order.placed:v2",
        "dataversion": 2,
        "correlationid": format!("corr-order-{i:05}"),
        "data": {
            "orderId": format!("O-{i:05}"),
            "customerId": format!("C-{:04}", i % 97),
            "currency": "EUR",
            "lines": [{ "sku": "SKU-1", "quantity": "2", "unitPrice": "5.00", "lineTotal": "10.00" }],
            "total": "10.00",
            "placedAt": "2026-11-20T08:59:00Z"
        }
    })
}

/// Update `version` (0-based; a later version is newer) of customer `c`.
fn customer_update(c: usize, version: usize) -> Value {
    json!({
        "specversion": "1.0",
        "id": format!("evt-C-{c:04}-v{version}"),
        "source": "switchyard/chaos",
        "type": "customer.updated",
        "time": "2026-11-20T11:00:00Z",
        "subject": format!("C-{c:04}"),
        "datacontenttype": "application/json",
        "dataschema": "urn:switchyard:schema:customer.updated:v1",
        "dataversion": 1,
        "correlationid": format!("corr-C-{c:04}-v{version}"),
        "data": {
            "customerId": format!("C-{c:04}"),
            "displayName": format!("C-{c:04} version {version}"),
            "changedFields": ["displayName"],
            "updatedAt": updated_at(version)
        }
    })
}

fn updated_at(version: usize) -> String {
    format!(
        "2026-11-20T{:02}:{:02}:00Z",
        10 + version / 60,
        version % 60
    )
}

/// What is sent and what is expected of it.
struct Plan {
    /// Every body, shuffled (duplicates and poison included).
    bodies: Vec<String>,
    orders: usize,
    customers: usize,
    duplicates: usize,
    /// Poison body → its expected park kind.
    poison: BTreeMap<String, &'static str>,
}

fn plan(messages: usize, rng: &mut fastrand::Rng) -> Plan {
    let poison_count = (messages / 100).max(3);
    let duplicates = messages / 10;
    let good = messages - poison_count - duplicates;
    let customers = (good / 3 / UPDATES_PER_CUSTOMER).max(1);
    let orders = good - customers * UPDATES_PER_CUSTOMER;
    let mut unique: Vec<String> = (0..orders).map(|i| order(i).to_string()).collect();
    for c in 0..customers {
        for v in 0..UPDATES_PER_CUSTOMER {
            unique.push(customer_update(c, v).to_string());
        }
    }
    let mut bodies = unique.clone();
    for _ in 0..duplicates {
        bodies.push(unique[rng.usize(..unique.len())].clone());
    }
    let mut poison = BTreeMap::new();
    for p in 0..poison_count {
        let (body, kind) = match p % 3 {
            0 => (format!("not json {p}"), "invalid_envelope"),
            1 => {
                let mut e = order(90_000 + p);
                e["data"]["currency"] = json!("EURO");
                (e.to_string(), "invalid_payload")
            }
            _ => {
                let e = order(90_000 + p).to_string();
                (e[..e.len() / 2].to_owned(), "invalid_envelope")
            }
        };
        poison.insert(body.clone(), kind);
        bodies.push(body);
    }
    rng.shuffle(&mut bodies);
    Plan {
        bodies,
        orders,
        customers,
        duplicates,
        poison,
    }
}

async fn send_all(sqs: &aws_sdk_sqs::Client, queue_url: &str, bodies: &[String]) {
    let mut tasks = tokio::task::JoinSet::new();
    for (n, chunk) in bodies.chunks(10).enumerate() {
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, b)| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("m{n}-{i}"))
                    .message_body(b)
                    .build()
                    .expect("an entry")
            })
            .collect();
        let (sqs, url) = (sqs.clone(), queue_url.to_owned());
        tasks.spawn(async move {
            let out = sqs
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .expect("SendMessageBatch");
            assert!(out.failed.is_empty(), "{:?}", out.failed);
        });
        while tasks.len() >= 8 {
            tasks.join_next().await.expect("a task").expect("send");
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("send");
    }
}

/// Distinct effects the ERP accepted so far (order ids and customer update keys).
fn effects(calls: &[ErpCall]) -> usize {
    calls
        .iter()
        .filter(|c| c.status < 300)
        .filter_map(|c| c.idempotency_key.as_deref())
        .collect::<BTreeSet<_>>()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erp_sync_under_chaos_loses_nothing_and_applies_nothing_twice() {
    let _one_suite_at_a_time = SERIAL.lock().await;
    let messages = env_number("SWITCHYARD_CHAOS_MESSAGES", DEFAULT_MESSAGES as u64) as usize;
    assert!(
        messages >= 100,
        "SWITCHYARD_CHAOS_MESSAGES must be at least 100"
    );
    let seed = env_number("SWITCHYARD_CHAOS_SEED", fastrand::u64(..));
    println!("chaos: {messages} messages, seed {seed} (rerun with SWITCHYARD_CHAOS_SEED={seed})");
    let mut rng = fastrand::Rng::with_seed(seed);

    let dir = tempfile::tempdir().expect("a temp dir");
    let binary = lambda_bootstrap("erp-sync", dir.path());
    let aws = switchyard_testkit::aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let eb = aws_sdk_eventbridge::Client::new(&aws);
    let dlq = switchyard_testkit::moto::create_queue(&sqs, "chaos-dlq", &[]).await;
    let redrive =
        json!({ "deadLetterTargetArn": dlq.arn, "maxReceiveCount": MAX_RECEIVE_COUNT.to_string() });
    let queue = switchyard_testkit::moto::create_queue(
        &sqs,
        "chaos",
        &[
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
            (
                QueueAttributeName::VisibilityTimeout,
                VISIBILITY_TIMEOUT_SECS.to_string(),
            ),
        ],
    )
    .await;
    let bus = switchyard_testkit::unique_name("chaos-bus");
    eb.create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("CreateEventBus");

    let redis_dir = dir.path().join("redis");
    std::fs::create_dir_all(&redis_dir).expect("the redis dir");
    let redis = RedisServer::start(&redis_dir);

    // ---------------------------------------------------------- the plan
    let plan = plan(messages, &mut rng);
    let erp = ErpStub::start().await;
    let order_id = |i: usize| format!("O-{i:05}");
    let customer_id = |c: usize| format!("C-{c:04}");
    let mut scripted: BTreeSet<String> = BTreeSet::new();
    let mut scripted_failures = 0u32;
    let mut late_answers = 0;
    for i in 0..plan.orders {
        let roll = rng.f64();
        if roll < 0.20 {
            let status = [503, 429, 500][rng.usize(..3)];
            let times = rng.u32(1..=2);
            erp.fail_times(&order_id(i), status, times);
            scripted_failures += times;
            scripted.insert(order_id(i));
        } else if roll < 0.21 {
            erp.delay_times(&order_id(i), LATE_ANSWER, 1);
            late_answers += 1;
            scripted.insert(order_id(i));
        }
    }
    for c in 0..plan.customers {
        if rng.f64() < 0.20 {
            erp.fail_times(&customer_id(c), 429, 1);
            scripted_failures += 1;
            scripted.insert(customer_id(c));
        }
    }
    // holds: where erp-sync is killed
    let mut holds: Vec<(String, HoldPoint, Hold)> = Vec::new();
    let mut free_orders = (0..plan.orders)
        .map(order_id)
        .filter(|id| !scripted.contains(id));
    for point in [HoldPoint::BeforeEffect, HoldPoint::AfterEffect] {
        for _ in 0..3 {
            let id = free_orders.next().expect("enough orders");
            holds.push((id.clone(), point, erp.hold_next(&id, point)));
        }
    }
    if let Some(c) = (0..plan.customers)
        .map(customer_id)
        .find(|id| !scripted.contains(id))
    {
        let point = HoldPoint::AfterEffect;
        holds.push((c.clone(), point, erp.hold_next(&c, point)));
    }

    // a backlog first, the rest as the queue goes down (moto's receive
    // time grows with the queue's length)
    let first = plan.bodies.len().min(BACKLOG);
    send_all(&sqs, &queue.url, &plan.bodies[..first]).await;
    println!(
        "chaos: sending {} messages ({first} now, the rest while the queue holds less than {BACKLOG}): {} orders, {} customers x {UPDATES_PER_CUSTOMER} updates (shuffled), {} duplicates, {} poison; {} ERP ids scripted to fail or answer late ({late_answers} late), {} kill points held",
        plan.bodies.len(),
        plan.orders,
        plan.customers,
        plan.duplicates,
        plan.poison.len(),
        scripted.len(),
        holds.len()
    );

    // ---------------------------------------------------------- erp-sync
    // erp-sync's AWS calls go through the proxy (no throttling here): it
    // holds a PutEvents' answer when told and records every PutEvents
    let proxy = Arc::new(
        ThrottleProxy::start(
            &switchyard_testkit::aws_endpoint(),
            "AWSEvents.PutEvents",
            seed,
        )
        .await,
    );
    let env: Vec<(String, String)> = [
        ("ERP_BASE_URL", erp.base_url()),
        ("ERP_TIMEOUT_MS", ERP_TIMEOUT_MS.to_string()),
        ("SWITCHYARD_IDEMPOTENCY", redis.url()),
        ("EVENT_BUS_NAME", bus.clone()),
        ("SWITCHYARD_PARK_QUEUE_URL", dlq.url.clone()),
        ("SWITCHYARD_BACKOFF_BASE_SECS", "1".to_owned()),
        ("SWITCHYARD_BACKOFF_FACTOR", "2".to_owned()),
        ("SWITCHYARD_BACKOFF_CAP_SECS", "4".to_owned()),
        ("SWITCHYARD_DEADLINE_MARGIN_MS", "500".to_owned()),
        ("AWS_ENDPOINT_URL", proxy.url()),
        ("RUST_LOG", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    // outside the temp dir, so that it outlives a failure
    let log = std::env::temp_dir().join(format!("switchyard-chaos-{seed}.log"));
    let function = Arc::new(
        FunctionProcess::start(FunctionConfig {
            binary,
            env,
            timeout: FUNCTION_TIMEOUT,
            log: Some(log.clone()),
        })
        .await,
    );

    // ---------------------------------------------------------- the faults
    let kill_lock = Arc::new(tokio::sync::Mutex::new(()));
    let mut faults = tokio::task::JoinSet::new();
    for (id, point, hold) in holds.clone() {
        let (function, kill_lock) = (function.clone(), kill_lock.clone());
        faults.spawn(async move {
            hold.arrived().await;
            let _one_at_a_time = kill_lock.lock().await;
            let what = if function.busy() {
                function.kill();
                format!("killed while the ERP call for {id} was held ({point:?})")
            } else {
                format!("the ERP call for {id} was held ({point:?}), its process already killed")
            };
            hold.release();
            what
        });
    }
    let expected_effects = plan.orders + plan.customers * UPDATES_PER_CUSTOMER;
    let stop = Arc::new(AtomicBool::new(false));
    const PERCENT: [usize; 2] = [25, 45];
    for k in 1..=2u64 {
        let (function, kill_lock, erp, stop) = (
            function.clone(),
            kill_lock.clone(),
            erp.state().clone(),
            stop.clone(),
        );
        let jitter = Duration::from_millis(rng.u64(0..10));
        faults.spawn(async move {
            // at 25% and 45% of the effects, before the Redis outage (at
            // 50%), while invocations do full work
            let goal = expected_effects * PERCENT[k as usize - 1] / 100;
            while effects(&erp.calls()) < goal && !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // mid-invocation: wait for one to run, let it get going, and
            // kill only if it still runs
            let _one_at_a_time = loop {
                while !function.busy() && !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                tokio::time::sleep(jitter).await;
                let guard = kill_lock.lock().await;
                if stop.load(Ordering::Relaxed) {
                    return format!("random kill {k}: not done, the queue drained first");
                }
                if function.busy() {
                    break guard;
                }
            };
            function.kill();
            format!(
                "killed at a random moment of an invocation ({}% of the effects)",
                PERCENT[k as usize - 1]
            )
        });
    }
    // between the publish and the claims completing: the next PutEvents
    // reaches the bus, its answer is held, erp-sync is killed
    let publish_holds: Arc<std::sync::Mutex<Vec<PutEventsHold>>> = Arc::default();
    for percent in PUBLISH_KILLS {
        let (function, kill_lock, erp, stop, proxy, publish_holds) = (
            function.clone(),
            kill_lock.clone(),
            erp.state().clone(),
            stop.clone(),
            proxy.clone(),
            publish_holds.clone(),
        );
        faults.spawn(async move {
            let goal = expected_effects * percent / 100;
            while effects(&erp.calls()) < goal && !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let hold = proxy.hold_next();
            while !hold.has_arrived() && !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if !hold.has_arrived() {
                hold.release();
                return format!(
                    "PutEvents kill at {percent}%: not done, the queue drained first"
                );
            }
            let pid = function.pid();
            let events = hold.body()["Entries"].as_array().map_or(0, Vec::len);
            let what = {
                let _one_at_a_time = kill_lock.lock().await;
                if function.busy() && function.pid() == pid {
                    function.kill();
                    format!(
                        "killed while a PutEvents ({events} erp.order-synced) was held after the bus took it ({percent}% of the effects)"
                    )
                } else {
                    format!(
                        "a PutEvents ({events} erp.order-synced) was held at {percent}% of the effects, its process already killed"
                    )
                }
            };
            publish_holds.lock().expect("the holds").push(hold.clone());
            hold.release();
            what
        });
    }
    let outage = {
        let (erp, stop) = (erp.state().clone(), stop.clone());
        let goal = expected_effects / 2;
        tokio::spawn(async move {
            let mut redis = redis;
            while effects(&erp.calls()) < goal && !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let pid = redis.pid();
            redis.stop();
            let stopped = Instant::now();
            tokio::time::sleep(REDIS_OUTAGE).await;
            let redis = tokio::task::spawn_blocking(move || {
                redis.start_again();
                redis
            })
            .await
            .expect("restart redis-server");
            println!(
                "chaos: redis-server (pid {pid:?}) stopped for {:.1} s at {goal} effects, restarted as pid {:?}",
                stopped.elapsed().as_secs_f64(),
                redis.pid()
            );
            redis
        })
    };

    let feeder = {
        let (sqs, url, rest) = (
            sqs.clone(),
            queue.url.clone(),
            plan.bodies[first..].to_vec(),
        );
        tokio::spawn(async move {
            for wave in rest.chunks(100) {
                while queue_depth(&sqs, &url).await >= BACKLOG {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                send_all(&sqs, &url, wave).await;
            }
        })
    };

    // ---------------------------------------------------------- the poller
    let esm = EventSourceMapping::new(sqs.clone(), &queue.url).await;
    let limit = Duration::from_secs(env_number(
        "SWITCHYARD_CHAOS_LIMIT_SECS",
        150 + messages as u64 / 10,
    ));
    let started = Instant::now();
    let (mut invocations, mut failed_invocations, mut received, mut redelivered) = (0, 0, 0, 0);
    let mut reported_failures = 0;
    // messages of the invocations killed (or timed out): all redelivered
    let mut in_killed_invocations = 0;
    let mut in_poll = Duration::ZERO;
    let in_function = Arc::new(std::sync::Mutex::new(Duration::ZERO));
    let mut progress_at = Duration::from_secs(15);
    loop {
        let (function, in_function) = (function.clone(), in_function.clone());
        let polled = Instant::now();
        let poll = esm
            .poll_once_fallible(|event| async move {
                let payload = serde_json::to_value(&event).expect("an SQS event as JSON");
                let invoked = Instant::now();
                let answer = function.invoke(payload).await;
                *in_function.lock().expect("a duration") += invoked.elapsed();
                let answer = answer?;
                serde_json::from_value::<SqsBatchResponse>(answer.clone())
                    .map_err(|_| InvokeError::Function(answer))
            })
            .await;
        if started.elapsed() >= progress_at {
            println!(
                "chaos:   {:>4.0} s: {} effects at the ERP, {invocations} invocations",
                started.elapsed().as_secs_f64(),
                effects(&erp.calls())
            );
            progress_at += Duration::from_secs(15);
        }
        if poll.received > 0 {
            in_poll += polled.elapsed();
            invocations += 1;
            received += poll.received;
            redelivered += poll.redelivered;
            if poll.invocation_failed {
                failed_invocations += 1;
                in_killed_invocations += poll.received;
            } else {
                reported_failures += poll.failed;
            }
        } else if feeder.is_finished()
            && outage.is_finished()
            && queue_depth(&sqs, &queue.url).await == 0
        {
            break;
        }
        assert!(
            started.elapsed() < limit,
            "not drained within {limit:?}: {} messages left (erp-sync log: {})",
            queue_depth(&sqs, &queue.url).await,
            log.display()
        );
    }
    let drained = started.elapsed();
    feeder.await.expect("the feeder");
    stop.store(true, Ordering::Relaxed);
    let mut kills = Vec::new();
    while let Some(done) = tokio::time::timeout(Duration::from_secs(10), faults.join_next())
        .await
        .ok()
        .flatten()
    {
        kills.push(done.expect("a fault task"));
    }
    let _redis = outage.await.expect("the redis outage");
    let stats = function.stats();

    // ---------------------------------------------------------- the checks
    let calls = erp.calls();
    let mut failures = Vec::new();
    // orders: every one applied, once, always under its event id
    let mut created: BTreeMap<&str, usize> = BTreeMap::new();
    let mut order_calls: BTreeMap<&str, Vec<&ErpCall>> = BTreeMap::new();
    for c in calls.iter().filter(|c| c.resource == "orders") {
        order_calls.entry(c.id.as_str()).or_default().push(c);
        if c.status == 201 {
            *created
                .entry(c.idempotency_key.as_deref().unwrap_or(""))
                .or_default() += 1;
        }
    }
    let mut lost = 0;
    for i in 0..plan.orders {
        let id = order_id(i);
        let key = format!("evt-order-{i:05}");
        let calls = order_calls.get(id.as_str()).cloned().unwrap_or_default();
        if !calls.iter().any(|c| c.status < 300) {
            lost += 1;
            failures.push(format!("order {id} never accepted by the ERP"));
        }
        if let Some(c) = calls
            .iter()
            .find(|c| c.idempotency_key.as_deref() != Some(key.as_str()))
        {
            failures.push(format!(
                "order {id} sent with Idempotency-Key {:?}, not {key}",
                c.idempotency_key
            ));
        }
    }
    let double_effects: usize = created.values().map(|n| n.saturating_sub(1)).sum();
    if double_effects > 0 {
        failures.push(format!("{double_effects} orders created twice"));
    }
    let strays: Vec<&str> = order_calls
        .keys()
        .copied()
        .filter(|id| {
            id.strip_prefix("O-")
                .and_then(|n| n.parse::<usize>().ok())
                .is_none_or(|n| n >= plan.orders)
        })
        .collect();
    if !strays.is_empty() {
        failures.push(format!("the ERP got poison orders: {strays:?}"));
    }
    // customers: applied in order, never an older state after a newer one,
    // ending with the newest; a repeat only with the same key
    let (mut stale_applied, mut replays, mut customers_lost) = (0, 0, 0);
    let mut applied_updates = 0;
    for c in 0..plan.customers {
        let id = customer_id(c);
        let applied: Vec<&ErpCall> = calls
            .iter()
            .filter(|x| x.resource == "customers" && x.id == id && x.status < 300)
            .collect();
        let mut newest: Option<(String, Option<String>)> = None;
        for call in &applied {
            let at = call.body["updatedAt"].as_str().unwrap_or("").to_owned();
            match &newest {
                Some((prev, _)) if at < *prev => {
                    stale_applied += 1;
                    failures.push(format!("{id}: update of {at} applied after {prev}"));
                }
                Some((prev, key_prev)) if at == *prev => {
                    if *key_prev != call.idempotency_key {
                        failures.push(format!("{id}: {at} applied under two keys"));
                    }
                    replays += 1;
                }
                _ => {
                    applied_updates += 1;
                    newest = Some((at, call.idempotency_key.clone()));
                }
            }
        }
        let expected = updated_at(UPDATES_PER_CUSTOMER - 1);
        if newest.as_ref().map(|(at, _)| at) != Some(&expected) {
            customers_lost += 1;
            failures.push(format!(
                "{id}: the newest update ({expected}) was not applied"
            ));
        }
    }
    // the DLQ: exactly the poison, each with its reason
    let mut parked = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&dlq.url)
            .max_number_of_messages(10)
            .visibility_timeout(120)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("ReceiveMessage on the DLQ");
        let batch = out.messages.unwrap_or_default();
        if batch.is_empty() {
            break;
        }
        parked.extend(batch);
    }
    let mut parked_poison = BTreeMap::new();
    let mut parked_again = 0;
    for m in &parked {
        let body = m.body.clone().unwrap_or_default();
        let attrs = m.message_attributes.clone().unwrap_or_default();
        let attr = |name: &str| {
            attrs
                .get(name)
                .and_then(|a| a.string_value.clone())
                .unwrap_or_default()
        };
        match plan.poison.get(&body) {
            None => failures.push(format!(
                "a good message in the DLQ (kind {:?}): {}",
                attr(attributes::KIND),
                body.chars().take(120).collect::<String>()
            )),
            Some(kind) => {
                if attr(attributes::KIND) != *kind || attr(attributes::REASON).is_empty() {
                    failures.push(format!(
                        "poison parked as {:?} / {:?}, expected {kind}",
                        attr(attributes::KIND),
                        attr(attributes::REASON)
                    ));
                }
                // parked, then killed before the batch answered: the
                // redelivery parks the same SQS message again
                let original = attr(attributes::ORIGINAL_MESSAGE_ID);
                match parked_poison.insert(body, original.clone()) {
                    Some(first) if first != original => failures.push(format!(
                        "two deliveries of one poison body parked ({first}, {original})"
                    )),
                    Some(_) => parked_again += 1,
                    None => {}
                }
            }
        }
    }
    if parked_poison.len() != plan.poison.len() {
        failures.push(format!(
            "{} of {} poison messages in the DLQ",
            parked_poison.len(),
            plan.poison.len()
        ));
    }
    // erp.order-synced: one id per order, whatever the publish it came in;
    // the events of a PutEvents held while erp-sync was killed published
    // again (the redelivery), under the same ids
    let entry_event = |entry: &Value| -> Value {
        entry["Detail"]
            .as_str()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(Value::Null)
    };
    let put_calls = proxy.calls();
    let mut published: BTreeMap<String, Vec<(usize, Value)>> = BTreeMap::new();
    let mut published_entries = 0;
    for (n, call) in put_calls.iter().enumerate() {
        for entry in call.body["Entries"].as_array().into_iter().flatten() {
            let event = entry_event(entry);
            published_entries += 1;
            let order = event["data"]["orderId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            published.entry(order).or_default().push((n, event));
        }
    }
    let mut published_again = 0;
    for (order, events) in &published {
        let first = &events[0].1;
        if events.len() > 1 {
            published_again += 1;
        }
        for (_, e) in &events[1..] {
            for field in ["id", "type", "source", "subject"] {
                if e[field] != first[field] {
                    failures.push(format!(
                        "erp.order-synced of {order} republished with {field} {} (first {})",
                        e[field], first[field]
                    ));
                }
            }
            if e["data"]["erpOrderNumber"] != first["data"]["erpOrderNumber"] {
                failures.push(format!(
                    "erp.order-synced of {order} republished with ERP number {} (first {})",
                    e["data"]["erpOrderNumber"], first["data"]["erpOrderNumber"]
                ));
            }
        }
    }
    let held_calls: Vec<usize> = put_calls
        .iter()
        .enumerate()
        .filter(|(_, c)| c.held)
        .map(|(n, _)| n)
        .collect();
    let mut held_events = 0;
    let mut held_republished = 0;
    for &n in &held_calls {
        for entry in put_calls[n].body["Entries"]
            .as_array()
            .into_iter()
            .flatten()
        {
            held_events += 1;
            let event = entry_event(entry);
            let order = event["data"]["orderId"].as_str().unwrap_or_default();
            let again = published
                .get(order)
                .into_iter()
                .flatten()
                .filter(|(m, _)| *m > n)
                .count();
            if again == 0 {
                failures.push(format!(
                    "erp.order-synced {} of {order} (held PutEvents, erp-sync killed) never published again",
                    event["id"]
                ));
            } else {
                held_republished += 1;
            }
        }
    }
    let killed_at_publish = publish_holds.lock().expect("the holds").len();
    if killed_at_publish < PUBLISH_KILLS.len() {
        failures.push(format!(
            "{killed_at_publish} of {} PutEvents holds arrived",
            PUBLISH_KILLS.len()
        ));
    }
    let left = queue_depth(&sqs, &queue.url).await;
    if left != 0 {
        failures.push(format!("{left} messages left on the queue"));
    }
    if stats.crashed < 5 {
        failures.push(format!(
            "only {} invocations killed mid-run ({} kills)",
            stats.crashed, stats.kills
        ));
    }

    // ---------------------------------------------------------- the figures
    let erp_errors = calls.iter().filter(|c| c.status >= 300).count();
    let order_repeats = calls
        .iter()
        .filter(|c| c.resource == "orders" && c.status == 200)
        .count();
    println!("chaos: faults: {} kills of erp-sync:", stats.kills);
    for k in &kills {
        println!("chaos:   {k}");
    }
    println!(
        "chaos: drained {} messages in {:.1} s: {:.0} messages/s",
        plan.bodies.len(),
        drained.as_secs_f64(),
        plan.bodies.len() as f64 / drained.as_secs_f64()
    );
    println!(
        "chaos: {invocations} invocations ({failed_invocations} failed as a whole: crashed {}, timed out {}), {} process starts; {received} messages received, {redelivered} of them redeliveries ({in_killed_invocations} messages of killed invocations redelivered); {reported_failures} reported as batch item failures; {:.1} s in polls with messages, {:.1} s of them in erp-sync",
        stats.crashed,
        stats.timed_out,
        stats.starts,
        in_poll.as_secs_f64(),
        in_function.lock().expect("a duration").as_secs_f64()
    );
    println!(
        "chaos: ERP: {} calls, {erp_errors} answered with an error ({scripted_failures} scripted), {order_repeats} repeated order upserts answered `unchanged` (same Idempotency-Key), {} orders created, {applied_updates} customer states applied, {replays} customer updates replayed with the same key",
        calls.len(),
        created.values().sum::<usize>()
    );
    println!(
        "chaos: lost {lost} orders and {customers_lost} customers' newest state, {double_effects} double effects, {stale_applied} stale customer updates applied, DLQ {} messages: {} distinct poison ({} expected), {parked_again} parked again after a kill",
        parked.len(),
        parked_poison.len(),
        plan.poison.len()
    );
    println!(
        "chaos: bus: {} PutEvents, {published_entries} erp.order-synced for {} orders, {published_again} orders' event published again (same id); {} PutEvents held and erp-sync killed: {held_events} events in them, {held_republished} republished after the kill under the same id",
        put_calls.len(),
        published.len(),
        held_calls.len()
    );

    for url in [&queue.url, &dlq.url] {
        let _ = sqs.delete_queue().queue_url(url).send().await;
    }
    let _ = eb.delete_event_bus().name(&bus).send().await;
    if failures.is_empty() {
        let _ = std::fs::remove_file(&log);
    }
    assert!(
        failures.is_empty(),
        "{} failures (seed {seed}; erp-sync log {}):\n{}",
        failures.len(),
        log.display(),
        failures.join("\n")
    );
}

/// A Function URL request (payload format 2.0) of a Standard Webhooks
/// delivery `id`, signed with `key` now.
fn webhook_request(key: &[u8], id: &str, body: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    let signature = switchyard_webhooks::standard::sign(key, id, now, body.as_bytes());
    json!({
        "version": "2.0", "routeKey": "$default",
        "rawPath": "/webhooks/standard", "rawQueryString": "",
        "headers": {
            "content-type": "application/json", "host": "abc.lambda-url.us-east-1.on.aws",
            "webhook-id": id, "webhook-timestamp": now.to_string(),
            "webhook-signature": signature
        },
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc",
            "domainName": "abc.lambda-url.us-east-1.on.aws", "domainPrefix": "abc",
            "http": {"method": "POST", "path": "/webhooks/standard", "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "switchyard-chaos"},
            "requestId": id, "routeKey": "$default", "stage": "$default",
            "time": "01/Dec/2026:10:00:00 +0000", "timeEpoch": now * 1000
        },
        "body": body, "isBase64Encoded": false
    })
}

/// What one sender saw.
#[derive(Default)]
struct Sent {
    attempts: usize,
    unavailable: usize,
    resent_after_success: usize,
    /// delivery id → the event ids its accepting answer named
    event_ids: BTreeMap<String, Vec<String>>,
    failures: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_webhook_burst_with_retries_while_the_bus_is_throttled() {
    let _one_suite_at_a_time = SERIAL.lock().await;
    let deliveries = env_number("SWITCHYARD_CHAOS_WEBHOOKS", 500) as usize;
    let seed = env_number("SWITCHYARD_CHAOS_SEED", fastrand::u64(..));
    println!("webhooks: {deliveries} deliveries, seed {seed}");
    let dir = tempfile::tempdir().expect("a temp dir");
    let binary = lambda_bootstrap("crm-webhook", dir.path());
    let aws = switchyard_testkit::aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let eb = aws_sdk_eventbridge::Client::new(&aws);
    let route = switchyard_testkit::moto::BusToQueue::create(
        &eb,
        &sqs,
        r#"{"detail-type":["order.placed"]}"#,
    )
    .await;
    let proxy = ThrottleProxy::start(
        &switchyard_testkit::aws_endpoint(),
        "AWSEvents.PutEvents",
        seed,
    )
    .await;
    proxy.set(Throttling {
        throttled: 0.50,
        lost_answers: 0.05,
    });
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let key = switchyard_webhooks::standard::StandardAuth::parse(secret).expect("the secret");
    let key = key.keys.iter().next().expect("a key").expose().to_vec();
    let log = std::env::temp_dir().join(format!("switchyard-chaos-webhooks-{seed}.log"));
    // two execution environments, as Lambda scales out for a burst, sharing
    // the dedupe store (a redis-server of the test's own)
    let redis_dir = dir.path().join("redis");
    std::fs::create_dir_all(&redis_dir).expect("the redis dir");
    let redis = RedisServer::start(&redis_dir);
    let mut functions = Vec::new();
    for _ in 0..2 {
        functions.push(Arc::new(
            FunctionProcess::start(FunctionConfig {
                binary: binary.clone(),
                env: [
                    ("SWITCHYARD_STANDARD_WEBHOOK_SECRET", secret.to_owned()),
                    ("SWITCHYARD_IDEMPOTENCY", redis.url()),
                    ("EVENT_BUS_NAME", route.bus.clone()),
                    ("AWS_ENDPOINT_URL", proxy.url()),
                    // no SDK retries under the publisher's two attempts: a
                    // throttled bus is answered 503 fast and the sender retries
                    ("AWS_MAX_ATTEMPTS", "1".to_owned()),
                    ("PUBLISH_MAX_ATTEMPTS", "2".to_owned()),
                    ("RUST_LOG", "warn".to_owned()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
                timeout: Duration::from_secs(15),
                log: Some(log.clone()),
            })
            .await,
        ));
    }

    // four senders at once, each retrying a delivery until it is accepted
    // (a Standard Webhooks sender re-signs each attempt) and resending 10%
    // of the accepted ones, as a sender that lost the answer does
    let started = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for s in 0..4 {
        let (function, key) = (functions[s as usize % 2].clone(), key.clone());
        let mut rng = fastrand::Rng::with_seed(seed ^ s);
        senders.spawn(async move {
            let mut sent = Sent::default();
            for d in (s as usize..deliveries).step_by(4) {
                let id = format!("msg_chaos_{d:05}");
                let body = json!({
                    "type": "order.placed", "timestamp": "2026-11-23T09:00:00Z",
                    "data": {"orderId": format!("O-W{d:05}"), "customerId": "C-1", "currency": "EUR",
                             "lines": [], "total": "10.00", "placedAt": "2026-11-23T08:59:00Z"}
                })
                .to_string();
                let resend = rng.f64() < 0.10;
                let mut accepted = false;
                for attempt in 0..12 {
                    sent.attempts += 1;
                    let answer = function.invoke(webhook_request(&key, &id, &body)).await;
                    let Ok(answer) = answer else {
                        sent.failures.push(format!("{id}: {answer:?}"));
                        break;
                    };
                    let status = answer["statusCode"].as_u64().unwrap_or(0);
                    let reply: Value = answer["body"]
                        .as_str()
                        .and_then(|b| serde_json::from_str(b).ok())
                        .unwrap_or(Value::Null);
                    let ids: Vec<String> = reply["eventIds"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default();
                    match status {
                        202 | 200 if !accepted => {
                            sent.event_ids.insert(id.clone(), ids);
                            accepted = true;
                            if !resend {
                                break;
                            }
                            sent.resent_after_success += 1;
                        }
                        200 if accepted => {
                            if sent.event_ids.get(&id) != Some(&ids) || reply["status"] != "duplicate" {
                                sent.failures.push(format!("{id}: the resend answered {reply}"));
                            }
                            break;
                        }
                        503 | 500 | 502 | 504 | 429 => {
                            sent.unavailable += 1;
                            tokio::time::sleep(Duration::from_millis(20 * (attempt + 1))).await;
                        }
                        _ => {
                            sent.failures.push(format!("{id}: answered {status} {reply}"));
                            break;
                        }
                    }
                }
                if !accepted && sent.failures.iter().all(|f| !f.starts_with(&id)) {
                    sent.failures.push(format!("{id}: never accepted in 12 attempts"));
                }
            }
            sent
        });
    }
    let mut sent = Sent::default();
    while let Some(done) = senders.join_next().await {
        let s = done.expect("a sender");
        sent.attempts += s.attempts;
        sent.unavailable += s.unavailable;
        sent.resent_after_success += s.resent_after_success;
        sent.event_ids.extend(s.event_ids);
        sent.failures.extend(s.failures);
    }
    let answered = started.elapsed();

    // what reached the bus (its rule's queue): every accepted event, a
    // lost answer's retry possibly twice under the same id
    let expected: BTreeSet<String> = sent.event_ids.values().flatten().cloned().collect();
    let messages = switchyard_testkit::moto::receive(
        &sqs,
        &route.queue.url,
        expected.len(),
        Duration::from_secs(3),
        Duration::from_secs(60),
    )
    .await;
    let mut on_bus: BTreeMap<String, usize> = BTreeMap::new();
    for m in &messages {
        let event: Value =
            serde_json::from_str(m.body().unwrap_or_default()).unwrap_or(Value::Null);
        let detail = match &event["detail"] {
            Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
            d => d.clone(),
        };
        let id = detail["id"].as_str().unwrap_or_default().to_owned();
        *on_bus.entry(id).or_default() += 1;
    }
    let mut failures = sent.failures;
    if sent.event_ids.len() != deliveries {
        failures.push(format!(
            "{} of {deliveries} deliveries accepted",
            sent.event_ids.len()
        ));
    }
    if expected.len() != deliveries {
        failures.push(format!(
            "{} distinct event ids for {deliveries} deliveries",
            expected.len()
        ));
    }
    let missing: Vec<&String> = expected
        .iter()
        .filter(|id| !on_bus.contains_key(*id))
        .collect();
    if !missing.is_empty() {
        failures.push(format!(
            "{} accepted events never reached the bus: {missing:?}",
            missing.len()
        ));
    }
    let unexpected: Vec<&String> = on_bus.keys().filter(|id| !expected.contains(*id)).collect();
    if !unexpected.is_empty() {
        failures.push(format!("events on the bus no answer named: {unexpected:?}"));
    }
    let repeated: usize = on_bus.values().map(|n| n.saturating_sub(1)).sum();
    let stats = proxy.stats();
    println!(
        "webhooks: {deliveries} deliveries answered in {:.1} s ({:.0} deliveries/s): {} attempts, {} answered unavailable (retried), {} resent after success (answered duplicate)",
        answered.as_secs_f64(),
        deliveries as f64 / answered.as_secs_f64(),
        sent.attempts,
        sent.unavailable,
        sent.resent_after_success
    );
    println!(
        "webhooks: PutEvents: {} calls, {} throttled, {} answers lost after the put; bus: {} events, {} distinct, {repeated} repeated under the same id",
        stats.calls,
        stats.throttled,
        stats.lost_answers,
        messages.len(),
        on_bus.len()
    );
    route.delete(&eb, &sqs).await;
    if failures.is_empty() {
        let _ = std::fs::remove_file(&log);
    }
    assert!(
        failures.is_empty(),
        "{} failures (seed {seed}; crm-webhook log {}):\n{}",
        failures.len(),
        log.display(),
        failures.join("\n")
    );
}
