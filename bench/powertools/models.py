"""What both Powertools scripts share: the pydantic v2 models of the
`order.placed` v2 envelope (mirroring switchyard-contracts' `Envelope` and
`OrderPlacedV2`), the SQS record model the BatchProcessor parses into, the
benchmark's message bodies and SQS events, and a fake Lambda context.

The body is the one of `shared/triggers/benches/sqs_batch.rs` (and of the
Rust side, `bench/src/main.rs`), byte for byte.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Optional

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, ConfigDict, Field, Json, StringConstraints

# switchyard-contracts: an amount is a decimal string, a currency an ISO 4217 code
Amount = Annotated[Decimal, Field(allow_inf_nan=False)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class OrderLine(BaseModel):
    sku: str
    quantity: Amount
    unitPrice: Amount
    lineTotal: Amount


class OrderPlacedV2(BaseModel):
    orderId: str
    customerId: str
    currency: Currency
    lines: list[OrderLine]
    total: Amount
    placedAt: datetime


class OrderPlacedEnvelope(BaseModel):
    """The CloudEvents 1.0 envelope with Switchyard's extensions."""

    model_config = ConfigDict(populate_by_name=True)

    specversion: Literal["1.0"]
    id: str
    source: str
    type: Literal["order.placed"]
    time: datetime
    subject: Optional[str] = None
    datacontenttype: str = "application/json"
    dataschema: str
    dataversion: Literal[2]
    correlationid: str
    causationid: Optional[str] = None
    traceparent: Optional[str] = None
    data: OrderPlacedV2


class OrderPlacedSqsRecord(SqsRecordModel):
    """An SQS record whose body is an `order.placed` v2 envelope (JSON string)."""

    body: Json[OrderPlacedEnvelope]  # type: ignore[assignment]


ARN = "arn:aws:sqs:us-east-1:123456789012:bench"
BATCH = 10


def body(i: int) -> str:
    return (
        '{"specversion":"1.0","id":"evt-%d","source":"bench","type":"order.placed",'
        '"time":"2026-11-20T09:00:00Z","subject":"O-%d","datacontenttype":"application/json",'
        '"dataschema":"urn:switchyard:schema:order.placed:v2","dataversion":2,'
        '"correlationid":"corr-%d","data":{"orderId":"O-%d","customerId":"C-1","currency":"EUR",'
        '"lines":[{"sku":"SKU-1","quantity":"2","unitPrice":"5.00","lineTotal":"10.00"}],'
        '"total":"10.00","placedAt":"2026-11-20T08:59:00Z"}}'
    ) % (i, i, i, i)


def record(i: int) -> dict:
    """One SQS record as Lambda delivers it (the fields SqsRecordModel requires)."""
    return {
        "messageId": f"m-{i}",
        "receiptHandle": f"rh-{i}",
        "body": body(i),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795165140000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1795165140001",
        },
        "messageAttributes": {},
        "md5OfBody": "00000000000000000000000000000000",
        "eventSource": "aws:sqs",
        "eventSourceARN": ARN,
        "awsRegion": "us-east-1",
    }


def sqs_event(first: int) -> dict:
    """A batch of BATCH records with ids first..first+BATCH."""
    return {"Records": [record(i) for i in range(first, first + BATCH)]}


def sqs_events(first_id: int, count: int) -> list[dict]:
    return [sqs_event(first_id + b * BATCH) for b in range(count)]


class FakeLambdaContext:
    """What Powertools reads from the Lambda context (awslambdaric's
    LambdaContext has the same attributes)."""

    def __init__(self, timeout_ms: int = 60_000, function_name: str = "bench") -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 128
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"
        self._deadline_ms = int(time.time() * 1000) + timeout_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)
