"""Enrich reads batched raw messages (one session's spans in one message) and gives the
same enriched records, in the same order, as from one message per span."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from test_enrich_service import SESSION, clicks, enriched, settings, span, until

from exos_common.bus import OutgoingRecord
from exos_common.bus.memory import InProcessBus
from exos_common.codec import encode_batch
from exos_common.messages import SpanRecord
from exos_common.topics import Topic, pipeline_topic_specs
from exos_enrich.app import create_app
from exos_enrich.frustration.signals import SIGNAL_SCOPE


def as_one_batch(singles: list[OutgoingRecord]) -> OutgoingRecord:
    value, headers = encode_batch(SpanRecord, [record.value for record in singles])
    return OutgoingRecord(str(Topic.SPANS_RAW), value, SESSION.encode(), headers)


async def new_bus() -> InProcessBus:
    bus = InProcessBus()
    await bus.ensure_topics(pipeline_topic_specs(2, 1, 8 * 1024 * 1024))
    return bus


@pytest.fixture
async def buses() -> AsyncIterator[tuple[InProcessBus, InProcessBus]]:
    singles, batched = await new_bus(), await new_bus()
    yield singles, batched
    await singles.stop()
    await batched.stop()


def comparable(spans: list[SpanRecord]) -> list[tuple[str, str, dict[str, str]]]:
    # Signal spans get a random span id; everything else must match exactly.
    return [
        (s.name, s.span_id if s.scope_name != SIGNAL_SCOPE else "", s.attributes) for s in spans
    ]


async def test_a_batch_enriches_like_the_same_spans_one_per_message(
    buses: tuple[InProcessBus, InProcessBus],
) -> None:
    singles_bus, batched_bus = buses
    # Four physical clicks 300 ms apart (each sent twice) and a later span.
    records = [*clicks(1000, 4, 10), span("visibility", 9000, 99)]
    await singles_bus.publish_many(records)
    await batched_bus.publish_many([as_one_batch(records)])
    outputs = []
    for bus in (singles_bus, batched_bus):
        app = create_app(settings(), bus=bus)
        async with app.router.lifespan_context(app):
            await until(lambda bus=bus: any(s.name == "visibility" for s in enriched(bus)))
        outputs.append(enriched(bus))
    singles_out, batched_out = outputs
    assert [s.name for s in batched_out] == ["click"] * 8 + ["visibility"]
    assert comparable(batched_out) == comparable(singles_out)
