//! Publishes a backlog of 1,000 small events through `EventBridgePublisher`
//! over the recording `PutEvents` double: how many entries each call carries
//! (goal ≥ 9.5 of 10) and how long 1,000 events take (packing, serialization,
//! outcome bookkeeping — no network).
//!
//! `cargo bench -p switchyard-publish --bench putevents`

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use switchyard_publish::eventbridge::{InMemoryPutEvents, MAX_ENTRIES, MAX_ENTRY_BYTES};
use switchyard_publish::{EventBridgeConfig, EventBridgePublisher, OutgoingEvent, Publisher};

const BACKLOG: usize = 1_000;

fn event(i: usize, pad: usize) -> OutgoingEvent {
    serde_json::from_value(serde_json::json!({
        "specversion": "1.0",
        "id": format!("0190f5a2-7c1e-7d3a-9b1e-{i:012}"),
        "source": "switchyard/crm-webhook/dynamics/contoso",
        "type": "order.placed",
        "time": "2024-05-01T10:00:00Z",
        "subject": format!("order-{i}"),
        "dataschema": "urn:switchyard:schema:order.placed:v2",
        "dataversion": 2,
        "correlationid": format!("corr-{i}"),
        "data": { "order_id": format!("order-{i}"), "total": {"amount": "12.50", "currency": "EUR"}, "pad": "x".repeat(pad) }
    }))
    .expect("a valid envelope")
}

fn publisher() -> EventBridgePublisher<InMemoryPutEvents> {
    EventBridgePublisher::with_client(
        InMemoryPutEvents::new(),
        EventBridgeConfig::new("switchyard"),
    )
}

/// Publishes `events` once and prints the entries per call, next to the
/// fewest calls any packing could make (by count: n / 10; by bytes: total / 256 KB).
fn report(rt: &tokio::runtime::Runtime, label: &str, events: Vec<OutgoingEvent>) {
    let p = publisher();
    let n = events.len();
    let bytes: usize = events
        .iter()
        .map(|e| {
            EventBridgePublisher::<InMemoryPutEvents>::entry(e)
                .expect("an entry")
                .size()
        })
        .sum();
    let fewest = n.div_ceil(MAX_ENTRIES).max(bytes.div_ceil(MAX_ENTRY_BYTES));
    let outcomes = rt.block_on(p.publish(events)).expect("publish");
    assert!(outcomes.iter().all(|o| o.is_published()));
    let calls = p.client().call_sizes();
    let per_call = n as f64 / calls.len() as f64;
    println!(
        "{label}: {n} events, {} B per entry on average: {} PutEvents calls (fewest possible {fewest}) = {per_call:.2} entries per call",
        bytes / n.max(1),
        calls.len()
    );
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let small: Vec<OutgoingEvent> = (0..BACKLOG).map(|i| event(i, 0)).collect();
    report(&rt, "small events", small.clone());
    // Sizes cycling 1 KB .. 60 KB: bytes, not the count, close most calls.
    let mixed: Vec<OutgoingEvent> = (0..BACKLOG)
        .map(|i| event(i, 1_000 + (i * 7_919) % 59_000))
        .collect();
    report(&rt, "mixed events (1-60 KB)", mixed);

    let p = publisher();
    c.bench_function(
        "publish 1000 small events (EventBridge, in-memory client)",
        |b| {
            b.to_async(&rt).iter_batched(
                || {
                    p.client().clear();
                    small.clone()
                },
                |events| async { black_box(p.publish(events).await.expect("publish")) },
                BatchSize::SmallInput,
            );
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
