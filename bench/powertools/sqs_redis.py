"""Scenario 1, the Powertools side (bench/README.md): SQS batches of 10
`order.placed` v2 envelopes through Powertools' BatchProcessor with Redis
idempotency and a trivial record handler, called as Lambda calls a handler.

    python sqs_redis.py --redis redis://127.0.0.1:PORT [--batches N] [--warmup W] [--first-id K]

The idiomatic Powertools shape, from its batch and idempotency docs:
`BatchProcessor(event_type=EventType.SQS, model=...)` with a pydantic model
whose `body` is `Json[Envelope]`, `process_partial_response`, and
`@idempotent_function(data_keyword_argument="record")` on the record
handler with the Redis persistence layer. The idempotency key is the
envelope id (`event_key_jmespath="body.id"`, as Switchyard keys on the
envelope id) and the payload validation hash covers the envelope's `data`
(`payload_validation_jmespath="body.data"`, as Switchyard's default
whole-payload validation). The events are built before the clock starts;
prints one JSON line like the Rust side.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

with warnings.catch_warnings():
    # 3.x marks the Redis class deprecated in favour of its alias
    # CachePersistenceLayer (the same class); the warning is noise here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from aws_lambda_powertools.utilities.idempotency.persistence.redis import RedisCachePersistenceLayer

from models import BATCH, FakeLambdaContext, OrderPlacedSqsRecord, sqs_events


def build(redis_url: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        persistence = RedisCachePersistenceLayer(url=redis_url)
    config = IdempotencyConfig(event_key_jmespath="body.id", payload_validation_jmespath="body.data")
    processor = BatchProcessor(event_type=EventType.SQS, model=OrderPlacedSqsRecord)

    @idempotent_function(data_keyword_argument="record", config=config, persistence_store=persistence)
    def record_handler(record: OrderPlacedSqsRecord) -> int:
        return 1

    def lambda_handler(event: dict, context) -> dict:
        config.register_lambda_context(context)
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return lambda_handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", required=True)
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--first-id", type=int, default=0)
    args = parser.parse_args()

    lambda_handler = build(args.redis)
    warmup = sqs_events(args.first_id, args.warmup)
    measured = sqs_events(args.first_id + args.warmup * BATCH, args.batches)

    for event in warmup:
        response = lambda_handler(event, FakeLambdaContext())
        if response["batchItemFailures"]:
            print(f"warm-up batch failed: {response}", file=sys.stderr)
            return 1
    failures = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for event in measured:
        failures += len(lambda_handler(event, FakeLambdaContext())["batchItemFailures"])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if failures:
        print(f"{failures} messages failed", file=sys.stderr)
        return 1

    messages = args.batches * BATCH
    print(
        json.dumps(
            {
                "side": "powertools",
                "per_message_us": round(elapsed * 1e6 / messages, 3),
                "cpu_per_message_us": round(cpu * 1e6 / messages, 3),
                "messages": messages,
                "batches": args.batches,
                "total_batches": args.batches + args.warmup,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
