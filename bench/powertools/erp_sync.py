"""Scenario 2, the Powertools side (bench/README.md): erp-sync's job for
`order.placed` written the Powertools way, run by the official runtime
interface client against a Lambda Runtime API:

    python -m awslambdaric erp_sync.handler

Per SQS batch: BatchProcessor (pydantic model, body = the envelope) with
Redis idempotency on the record handler (key: the envelope id; validation:
the envelope's `data`, as scenario 1), and per order an HTTP PUT to the ERP
(`PUT /orders/{orderId}` with `Idempotency-Key` = the envelope id and
`X-Correlation-Id`, as functions/erp-sync does) and one EventBridge
`PutEvents` with one `erp.order-synced` entry (as erp-sync publishes today).

Reads the same environment as the erp-sync binary: ERP_BASE_URL,
ERP_TIMEOUT_MS (default 5000), EVENT_BUS_NAME, SWITCHYARD_IDEMPOTENCY
(`redis://...`), and the standard AWS_* variables (AWS_ENDPOINT_URL for
moto). The ERP client is urllib3 (already installed with botocore; pooled
keep-alive connections, as reqwest on the Rust side).
"""

from __future__ import annotations

import json
import os
import uuid
import warnings
from datetime import datetime, timezone
from urllib.parse import quote

import boto3
import urllib3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

from models import OrderPlacedSqsRecord

with warnings.catch_warnings():
    # 3.x marks the Redis class deprecated in favour of its alias
    # CachePersistenceLayer (the same class).
    warnings.simplefilter("ignore", DeprecationWarning)
    from aws_lambda_powertools.utilities.idempotency.persistence.redis import RedisCachePersistenceLayer

    _store = os.environ["SWITCHYARD_IDEMPOTENCY"]
    if not _store.startswith(("redis://", "rediss://")):
        raise RuntimeError(f"SWITCHYARD_IDEMPOTENCY={_store!r}: this benchmark handler needs redis://")
    persistence = RedisCachePersistenceLayer(url=_store)

SOURCE = "switchyard/erp-sync"
ERP_BASE_URL = os.environ["ERP_BASE_URL"].rstrip("/")
_timeout_s = int(os.environ.get("ERP_TIMEOUT_MS", "5000")) / 1000
EVENT_BUS_NAME = os.environ["EVENT_BUS_NAME"]

http = urllib3.PoolManager(
    timeout=urllib3.Timeout(connect=min(_timeout_s, 3.0), read=_timeout_s), retries=False
)
events = boto3.client("events")

config = IdempotencyConfig(event_key_jmespath="body.id", payload_validation_jmespath="body.data")
processor = BatchProcessor(event_type=EventType.SQS, model=OrderPlacedSqsRecord)


class ErpError(Exception):
    pass


class PublishError(Exception):
    pass


@idempotent_function(data_keyword_argument="record", config=config, persistence_store=persistence)
def record_handler(record: OrderPlacedSqsRecord) -> dict:
    envelope = record.body
    order = envelope.data
    response = http.request(
        "PUT",
        f"{ERP_BASE_URL}/orders/{quote(order.orderId, safe='')}",
        body=order.model_dump_json().encode(),
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": envelope.id,
            "X-Correlation-Id": envelope.correlationid,
        },
    )
    if not 200 <= response.status < 300:
        raise ErpError(f"ERP answered {response.status}: {response.data[:200]!r}")
    accepted = json.loads(response.data)

    synced_id = str(uuid.uuid4())
    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    synced = {
        "specversion": "1.0",
        "id": synced_id,
        "source": SOURCE,
        "type": "erp.order-synced",
        "time": now,
        "subject": order.orderId,
        "datacontenttype": "application/json",
        "dataschema": "urn:switchyard:schema:erp.order-synced:v1",
        "dataversion": 1,
        "correlationid": envelope.correlationid,
        "causationid": envelope.id,
        "data": {
            "orderId": order.orderId,
            "erpOrderNumber": accepted["erpOrderNumber"],
            "outcome": accepted["outcome"],
            "syncedAt": now,
        },
    }
    result = events.put_events(
        Entries=[
            {
                "Source": SOURCE,
                "DetailType": "erp.order-synced",
                "Detail": json.dumps(synced),
                "EventBusName": EVENT_BUS_NAME,
            }
        ]
    )
    if result.get("FailedEntryCount"):
        raise PublishError(f"could not publish erp.order-synced: {result['Entries']}")
    return {
        "synced": "order",
        "erpOrderNumber": accepted["erpOrderNumber"],
        "publishedEventId": synced_id,
    }


def handler(event: dict, context) -> dict:
    config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
