//! Per-message cost of the SQS adapter for a batch of 10 (in-memory
//! idempotency, a trivial handler), next to a floor that only decodes the
//! same envelopes with serde. `cargo bench -p switchyard-triggers`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use switchyard_contracts::Envelope;
use switchyard_contracts::events::OrderPlacedV2;
use switchyard_idempotency::{IdempotencyConfig, MemoryStore, StoreOptions};
use switchyard_triggers::sqs::{SqsAdapter, SqsAdapterConfig};
use switchyard_triggers::{Context, Handled, Handler, HandlerError, Idempotency};

struct Trivial;

#[async_trait::async_trait]
impl Handler for Trivial {
    type Event = OrderPlacedV2;
    type Output = u32;

    async fn handle(
        &self,
        _event: Envelope<OrderPlacedV2>,
        _ctx: Context,
    ) -> Result<Handled<u32>, HandlerError> {
        Ok(1.into())
    }
}

fn body(id: u64) -> String {
    format!(
        r#"{{"specversion":"1.0","id":"evt-{id}","source":"bench","type":"order.placed","time":"2026-11-20T09:00:00Z","subject":"O-{id}","datacontenttype":"application/json","dataschema":"urn:switchyard:schema:order.placed:v2","dataversion":2,"correlationid":"corr-{id}","data":{{"orderId":"O-{id}","customerId":"C-1","currency":"EUR","lines":[{{"sku":"SKU-1","quantity":"2","unitPrice":"5.00","lineTotal":"10.00"}}],"total":"10.00","placedAt":"2026-11-20T08:59:00Z"}}}}"#
    )
}

fn batch(next: &AtomicU64) -> SqsEvent {
    let mut event = SqsEvent::default();
    for _ in 0..10 {
        let id = next.fetch_add(1, Ordering::Relaxed);
        let mut m = SqsMessage::default();
        m.message_id = Some(format!("m-{id}"));
        m.receipt_handle = Some(format!("rh-{id}"));
        m.body = Some(body(id));
        m.event_source_arn = Some("arn:aws:sqs:us-east-1:123456789012:bench".to_owned());
        m.attributes
            .insert("ApproximateReceiveCount".to_owned(), "1".to_owned());
        event.records.push(m);
    }
    event
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("sqs_batch_of_10");
    group.throughput(Throughput::Elements(10));

    let bodies: Vec<String> = (0..10).map(body).collect();
    group.bench_function("floor_serde_decode", |b| {
        b.iter(|| {
            for body in &bodies {
                let e: Envelope<OrderPlacedV2> = serde_json::from_str(black_box(body)).unwrap();
                black_box(e);
            }
        })
    });

    let adapter = SqsAdapter::new(Trivial, "bench", SqsAdapterConfig::default(), None)
        .with_idempotency(Idempotency {
            config: IdempotencyConfig::for_function("bench"),
            store: Arc::new(MemoryStore::new(StoreOptions::default())),
        });
    let next = AtomicU64::new(0);
    group.bench_function("sqs_adapter_memory_idempotency", |b| {
        b.iter_batched(
            || batch(&next),
            |event| {
                let deadline = SystemTime::now() + Duration::from_secs(60);
                let response = rt.block_on(adapter.handle(event, deadline));
                assert!(response.batch_item_failures.is_empty());
                response
            },
            BatchSize::SmallInput,
        )
    });

    let plain = SqsAdapter::new(Trivial, "bench", SqsAdapterConfig::default(), None);
    group.bench_function("sqs_adapter_no_idempotency", |b| {
        b.iter_batched(
            || batch(&next),
            |event| rt.block_on(plain.handle(event, SystemTime::now() + Duration::from_secs(60))),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
