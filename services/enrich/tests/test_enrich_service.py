"""The enrich service on the in-process bus: exactly-once outputs, and session state that
survives the move of its partition to another replica (restored from `enrich.state`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from exos_common.bus import OutgoingRecord
from exos_common.bus.memory import InProcessBus
from exos_common.codec import encode
from exos_common.messages import SpanRecord
from exos_common.table_payload import decode_payload, read_spans
from exos_common.topics import Topic, pipeline_topic_specs
from exos_enrich.app import create_app
from exos_enrich.settings import EnrichSettings

SESSION = "f" * 32
XPATH = '//*[@id="refresh"]'
START_NS = time.time_ns() - 60_000_000_000


def span(name: str, at_ms: int, span_no: int, **attributes: str) -> OutgoingRecord:
    record = SpanRecord(
        session_id=SESSION,
        timestamp_ns=START_NS + at_ms * 1_000_000,
        trace_id=f"{span_no:032x}",
        span_id=f"{span_no:016x}",
        name=name,
        service_name="portal",
        resource_attributes={"rum.sessionId": SESSION},
        attributes={"location.href": "https://portal.example.test/orders", **attributes},
    )
    value, headers = encode(record)
    return OutgoingRecord(str(Topic.SPANS_RAW), value, SESSION.encode(), headers)


def clicks(first_ms: int, count: int, first_no: int) -> list[OutgoingRecord]:
    """Physical clicks 300 ms apart, each sent twice as the SDK does."""
    out = []
    for i in range(count):
        for copy in range(2):
            out.append(
                span(
                    "click",
                    first_ms + 300 * i,
                    first_no + 2 * i + copy,
                    target_xpath=XPATH,
                    target_element="BUTTON",
                )
            )
    return out


@pytest.fixture
async def bus() -> AsyncIterator[InProcessBus]:
    instance = InProcessBus()
    await instance.ensure_topics(pipeline_topic_specs(2, 1, 8 * 1024 * 1024))
    yield instance
    await instance.stop()


def settings() -> EnrichSettings:
    return EnrichSettings(enrich_group="enrich-test", frustration_client_grace_ms=0)


def enriched(bus: InProcessBus) -> list[SpanRecord]:
    topic = bus._topics[str(Topic.SPANS_ENRICHED)]
    found = []
    for partition in topic.partitions:
        for record in partition.records:
            found += read_spans(decode_payload(record.value, record.headers).body)
    return found


async def until(condition: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_rage_burst_split_across_two_replicas_is_one_rage_click(
    bus: InProcessBus,
) -> None:
    identity = span("documentLoad", 0, 1, **{"user.email": "ann@example.test"})
    await bus.publish_many([identity, *clicks(1000, 3, 10)])
    first = create_app(settings(), bus=bus)
    async with first.router.lifespan_context(first):
        await until(lambda: len(enriched(bus)) == 7)
    # The first replica is gone (its partitions were revoked); a new one takes over.
    await bus.publish_many([*clicks(1900, 3, 20), span("visibility", 9000, 99)])
    second = create_app(settings(), bus=bus)
    async with second.router.lifespan_context(second):
        await until(lambda: any(s.name == "visibility" for s in enriched(bus)))
        await until(lambda: any(s.name == "rage_click" for s in enriched(bus)))
        await asyncio.sleep(0.5)

    spans = enriched(bus)
    assert len([s for s in spans if s.name == "click"]) == 12  # each input exactly once
    [rage] = [s for s in spans if s.name == "rage_click"]
    assert rage.attributes["frustration.count"] == "6"
    assert rage.timestamp_ns == START_NS + 1000 * 1_000_000
    later = next(s for s in spans if s.name == "visibility")
    assert later.attributes["user.email"] == "ann@example.test"  # identity survived too
