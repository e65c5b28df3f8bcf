"""Why clocks are corrected: a span 40 days old is deleted by otel_traces' 30-day TTL
as soon as ClickHouse merges. Through ingest (real clock) the skewed browser's span is
shifted and survives the TTL in chDB; the same span stored as sent does not."""

from __future__ import annotations

import dataclasses
import json
import time

import ingest_samples as sample
from ingest_testkit import API_KEY, AppClient, decoded, drain

from exos_common.bus import Bus
from exos_common.messages import SpanRecord
from exos_common.store import Store
from exos_common.table_payload import encode_payload, insert_payload
from exos_common.topics import Topic

DAY_NS = 86_400 * 1_000_000_000


async def test_a_skewed_browser_span_survives_the_ttl_the_raw_one_does_not(
    make_client: AppClient, memory_bus: Bus, migrated_store: Store
) -> None:
    now = time.time_ns()
    sent_at = now - 40 * DAY_NS  # the visitor's clock runs 40 days behind
    span = {
        "traceId": "0102030405060708090a0b0c0d0e0f10",
        "spanId": "0102030405060708",
        "name": "click",
        "startTimeUnixNano": str(sent_at),
        "endTimeUnixNano": str(sent_at + 1000),
    }
    resource = {"attributes": [sample.s("service.name", "web"), sample.s("rum.sessionId", "late")]}
    body = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}
    client = await make_client(now_ns=now)
    response = await client.post(
        "/v1/traces",
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": API_KEY},
    )
    assert response.status_code == 200 and "partialSuccess" not in response.json()
    (shifted,) = decoded(await drain(memory_bus, Topic.SPANS_RAW))
    assert isinstance(shifted, SpanRecord)
    # The only record is its session's median end time: it is moved to the receive time.
    assert shifted.timestamp_ns == now - 1000

    as_sent = dataclasses.replace(shifted, span_id="ffffffffffffffff", timestamp_ns=sent_at)
    insert_payload(migrated_store, encode_payload("otel_traces", [shifted, as_sent]))
    migrated_store.command("OPTIMIZE TABLE otel_traces FINAL")
    kept = migrated_store.query_rows("SELECT SpanId FROM otel_traces ORDER BY SpanId")
    assert kept == [("0102030405060708",)]
