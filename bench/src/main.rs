//! `sqs-redis`: scenario 1 of the project benchmark (bench/README.md), the
//! Switchyard side and its floor.
//!
//! ```text
//! sqs-redis <switchyard|floor> --redis redis://127.0.0.1:PORT [--batches N] [--warmup W] [--first-id K]
//! ```
//!
//! Both modes take the same input: batches of 10 SQS records whose bodies
//! are `order.placed` v2 envelopes (the body of
//! `shared/triggers/benches/sqs_batch.rs`), fresh ids per message, built
//! before the clock starts. `switchyard` runs them through
//! `SqsAdapter::handle` with the Redis idempotency store and a trivial
//! handler; `floor` decodes every body into `Envelope<OrderPlacedV2>` and
//! makes two pipelined round trips per batch (10 `SET NX PX` claims, then
//! 10 `SET XX PX` completions). After `W` warm-up batches, the wall time
//! of the `N` measured batches is printed as one JSON line:
//! `{"side":..,"per_message_us":..,"cpu_per_message_us":..,"messages":..,"batches":..,"total_batches":..}`
//! (`cpu_per_message_us`: the CPU time of the client's one thread over the
//! same loop; `total_batches` counts the warm-up too: the Redis calls the
//! script reads cover both).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use switchyard_contracts::Envelope;
use switchyard_contracts::events::OrderPlacedV2;
use switchyard_idempotency::{IdempotencyConfig, StoreOptions, StoreSpec};
use switchyard_triggers::sqs::{SqsAdapter, SqsAdapterConfig};
use switchyard_triggers::{Context, Handled, Handler, HandlerError, Idempotency};

type BoxError = Box<dyn std::error::Error>;

/// Messages per SQS batch, as Lambda's default batch size.
const BATCH: u64 = 10;
/// TTL of the floor's keys (one hour, as the idempotency default).
const FLOOR_TTL_MS: u64 = 3_600_000;

/// The trivial handler of the benchmark: no work, one small output.
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

/// The body of `shared/triggers/benches/sqs_batch.rs`, verbatim.
fn body(id: u64) -> String {
    format!(
        r#"{{"specversion":"1.0","id":"evt-{id}","source":"bench","type":"order.placed","time":"2026-11-20T09:00:00Z","subject":"O-{id}","datacontenttype":"application/json","dataschema":"urn:switchyard:schema:order.placed:v2","dataversion":2,"correlationid":"corr-{id}","data":{{"orderId":"O-{id}","customerId":"C-1","currency":"EUR","lines":[{{"sku":"SKU-1","quantity":"2","unitPrice":"5.00","lineTotal":"10.00"}}],"total":"10.00","placedAt":"2026-11-20T08:59:00Z"}}}}"#
    )
}

/// One batch of [`BATCH`] records with ids `first..first + BATCH`, shaped as
/// Lambda delivers them (the same records as `bench/powertools/models.py`).
fn batch(first: u64) -> SqsEvent {
    let mut event = SqsEvent::default();
    for id in first..first + BATCH {
        let mut m = SqsMessage::default();
        m.message_id = Some(format!("m-{id}"));
        m.receipt_handle = Some(format!("rh-{id}"));
        m.body = Some(body(id));
        m.md5_of_body = Some("00000000000000000000000000000000".to_owned());
        m.event_source = Some("aws:sqs".to_owned());
        m.event_source_arn = Some("arn:aws:sqs:us-east-1:123456789012:bench".to_owned());
        m.aws_region = Some("us-east-1".to_owned());
        // the attributes Lambda sends (and Powertools' SqsRecordModel requires)
        for (name, value) in [
            ("ApproximateReceiveCount", "1"),
            ("SentTimestamp", "1795165140000"),
            ("SenderId", "AIDAEXAMPLE"),
            ("ApproximateFirstReceiveTimestamp", "1795165140001"),
        ] {
            m.attributes.insert(name.to_owned(), value.to_owned());
        }
        event.records.push(m);
    }
    event
}

fn batches(first_id: u64, count: u64) -> Vec<SqsEvent> {
    (0..count).map(|b| batch(first_id + b * BATCH)).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Switchyard,
    Floor,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Switchyard => "switchyard",
            Side::Floor => "floor",
        }
    }
}

#[derive(Debug)]
struct Args {
    side: Side,
    redis: String,
    batches: u64,
    warmup: u64,
    first_id: u64,
}

const USAGE: &str = "usage: sqs-redis <switchyard|floor> --redis redis://HOST:PORT [--batches N] [--warmup W] [--first-id K]";

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let side = match args.next().as_deref() {
        Some("switchyard") => Side::Switchyard,
        Some("floor") => Side::Floor,
        other => return Err(format!("unknown mode {other:?}; {USAGE}")),
    };
    let mut parsed = Args {
        side,
        redis: String::new(),
        batches: 2_000,
        warmup: 200,
        first_id: 0,
    };
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag} {value:?} is not a number"))
        };
        match flag.as_str() {
            "--redis" => parsed.redis = value.clone(),
            "--batches" => parsed.batches = number()?,
            "--warmup" => parsed.warmup = number()?,
            "--first-id" => parsed.first_id = number()?,
            _ => return Err(format!("unknown option {flag}; {USAGE}")),
        }
    }
    if parsed.redis.is_empty() {
        return Err(format!("--redis is required; {USAGE}"));
    }
    if parsed.batches == 0 {
        return Err("--batches must be at least 1".to_owned());
    }
    Ok(parsed)
}

/// CPU time this thread has run, from the scheduler (Linux): the runtime
/// is current-thread, so this is all the client's work. `None` elsewhere.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// What a measured loop took: wall time, and this thread's CPU time.
struct Measured {
    wall: Duration,
    cpu: Option<Duration>,
}

impl Measured {
    fn start() -> (Instant, Option<Duration>) {
        (Instant::now(), thread_cpu())
    }

    fn since((started, cpu): (Instant, Option<Duration>)) -> Self {
        Measured {
            wall: started.elapsed(),
            cpu: cpu.zip(thread_cpu()).map(|(before, after)| after - before),
        }
    }
}

fn deadline() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

/// The adapter with the Redis store, opened as the runtime opens
/// `SWITCHYARD_IDEMPOTENCY=redis://...`.
async fn run_switchyard(
    url: &str,
    warmup: Vec<SqsEvent>,
    measured: Vec<SqsEvent>,
) -> Result<Measured, BoxError> {
    let spec: StoreSpec = url.parse()?;
    let store = spec.open(StoreOptions::default())?;
    let adapter = SqsAdapter::new(Trivial, "bench", SqsAdapterConfig::default(), None)
        .with_idempotency(Idempotency {
            config: IdempotencyConfig::for_function("bench"),
            store: Arc::clone(&store),
        });
    let check = |failures: usize| -> Result<(), BoxError> {
        if failures == 0 {
            Ok(())
        } else {
            Err(format!("{failures} messages of a batch failed (is Redis at {url} up?)").into())
        }
    };
    for event in warmup {
        check(
            adapter
                .handle(event, deadline())
                .await
                .batch_item_failures
                .len(),
        )?;
    }
    let mut failures = 0;
    let started = Measured::start();
    for event in measured {
        failures += adapter
            .handle(event, deadline())
            .await
            .batch_item_failures
            .len();
    }
    let elapsed = Measured::since(started);
    check(failures)?;
    Ok(elapsed)
}

/// What the adapter cannot do with less: decode every body, claim the
/// batch's keys in one pipelined round trip, complete them in another.
async fn floor_batch(
    connection: &mut redis::aio::MultiplexedConnection,
    event: SqsEvent,
) -> Result<(), BoxError> {
    let mut keys = Vec::with_capacity(event.records.len());
    for record in &event.records {
        let envelope: Envelope<OrderPlacedV2> =
            serde_json::from_str(record.body.as_deref().unwrap_or_default())?;
        keys.push(format!("floor#{}", envelope.id));
    }
    let mut claims = redis::pipe();
    for key in &keys {
        claims
            .cmd("SET")
            .arg(key)
            .arg("INPROGRESS")
            .arg("NX")
            .arg("PX")
            .arg(FLOOR_TTL_MS);
    }
    let claimed: Vec<Option<String>> = claims.query_async(connection).await?;
    if claimed.iter().any(Option::is_none) {
        return Err("a floor key was already claimed: ids collided".into());
    }
    let mut completions = redis::pipe();
    for key in &keys {
        completions
            .cmd("SET")
            .arg(key)
            .arg("1")
            .arg("XX")
            .arg("PX")
            .arg(FLOOR_TTL_MS);
    }
    let completed: Vec<Option<String>> = completions.query_async(connection).await?;
    if completed.iter().any(Option::is_none) {
        return Err("a floor key vanished between claim and completion".into());
    }
    Ok(())
}

async fn run_floor(
    url: &str,
    warmup: Vec<SqsEvent>,
    measured: Vec<SqsEvent>,
) -> Result<Measured, BoxError> {
    let client = redis::Client::open(url)?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    for event in warmup {
        floor_batch(&mut connection, event).await?;
    }
    let started = Measured::start();
    for event in measured {
        floor_batch(&mut connection, event).await?;
    }
    Ok(Measured::since(started))
}

fn run(args: &Args) -> Result<String, BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // warm-up ids first, measured ids after them: no id is delivered twice
    let warmup = batches(args.first_id, args.warmup);
    let measured = batches(args.first_id + args.warmup * BATCH, args.batches);
    let elapsed = runtime.block_on(async {
        match args.side {
            Side::Switchyard => run_switchyard(&args.redis, warmup, measured).await,
            Side::Floor => run_floor(&args.redis, warmup, measured).await,
        }
    })?;
    let messages = args.batches * BATCH;
    let per_message_us = |d: Duration| (d.as_secs_f64() * 1e9 / messages as f64).round() / 1000.0;
    Ok(serde_json::json!({
        "side": args.side.name(),
        "per_message_us": per_message_us(elapsed.wall),
        "cpu_per_message_us": elapsed.cpu.map(per_message_us),
        "messages": messages,
        "batches": args.batches,
        "total_batches": args.batches + args.warmup,
    })
    .to_string())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sqs-redis {}: {e}", args.side.name());
            ExitCode::FAILURE
        }
    }
}
