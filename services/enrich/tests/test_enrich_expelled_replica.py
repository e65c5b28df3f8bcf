"""Two enrich replicas on a real Kafka broker; one is starved (its event loop blocked,
as a busy CPU does) after enriching a batch and before committing it, long enough for
the group to expel it and give its partitions to the other replica. When it wakes up
its stale transaction must be refused, it must rejoin and go on, and a read_committed
reader must see every input span on `spans.enriched` exactly once."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from exos_common.bus import (
    Bus,
    Consumer,
    OutgoingRecord,
    TopicPartition,
    create_bus,
    ensure_pipeline_topics,
)
from exos_common.codec import encode
from exos_common.messages import SpanRecord
from exos_common.settings import KafkaSettings
from exos_common.stream.loop import ConsumerLoop, LoopConfig
from exos_common.stream.metrics import ConsumerMetrics
from exos_common.table_payload import spans_in_message
from exos_common.testing.kafka import KafkaBroker
from exos_common.topics import Topic
from exos_enrich.enricher import SessionEnricher
from exos_enrich.geo import NoGeo
from exos_enrich.pipeline import ENRICH_INPUTS, EnrichHandler
from exos_enrich.settings import EnrichSettings
from exos_enrich.useragent import UserAgentParser

pytestmark = pytest.mark.kafka

SESSIONS = 8
SPANS_PER_SESSION = 5
STARVED_UNTIL_TAKEOVER_S = 90.0
START_NS = time.time_ns() - 60_000_000_000


def spans(run: str, round_no: int) -> list[OutgoingRecord]:
    out = []
    for s in range(SESSIONS):
        session = f"{run}{s:02d}".ljust(32, "0")
        for i in range(SPANS_PER_SESSION):
            record = SpanRecord(
                session_id=session,
                timestamp_ns=START_NS + (round_no * 100 + i) * 1_000_000,
                trace_id=f"{run}{round_no:02d}{s:02d}".ljust(32, "0"),
                span_id=f"{i:016x}",
                name="resourceFetch",
                service_name="portal",
                resource_attributes={"rum.sessionId": session},
                attributes={"location.href": "https://portal.example.test/orders"},
            )
            value, headers = encode(record)
            out.append(OutgoingRecord(str(Topic.SPANS_RAW), value, session.encode(), headers))
    return out


class StarvedOnce:
    """A consumer whose first transaction blocks its event loop until released: no
    heartbeat goes out meanwhile, exactly as when the CPU is too busy to run it."""

    def __init__(self, consumer: Consumer, starving: threading.Event, release: threading.Event):
        self._consumer = consumer
        self._starving = starving
        self._release = release

    async def publish_and_commit(
        self, records: Sequence[OutgoingRecord], offsets: Mapping[TopicPartition, int]
    ) -> None:
        if offsets and not self._starving.is_set():
            self._starving.set()
            self._release.wait(STARVED_UNTIL_TAKEOVER_S + 30)
        await self._consumer.publish_and_commit(records, offsets)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._consumer, name)


class Replica:
    """One enrich replica's consumer loop, in its own thread and event loop."""

    def __init__(self, kafka: KafkaSettings, name: str, starve_first_commit: bool) -> None:
        self.settings = EnrichSettings(
            kafka_bootstrap=kafka.kafka_bootstrap, enrich_group=kafka.kafka_client_id
        )
        self.name = name
        self.starve = starve_first_commit
        self.starving = threading.Event()
        self.release = threading.Event()
        self.stop = threading.Event()
        self.metrics = ConsumerMetrics(CollectorRegistry())
        self.loop: ConsumerLoop | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), name=name)

    def _handler_factory(self, bus: Bus) -> Any:
        enricher = SessionEnricher(self.settings, NoGeo(), UserAgentParser())

        def factory(consumer: Consumer) -> EnrichHandler:
            if self.starve:
                consumer = StarvedOnce(consumer, self.starving, self.release)  # type: ignore[assignment]
            return EnrichHandler(consumer, bus, enricher, self.metrics)

        return factory

    async def _run(self) -> None:
        bus = create_bus("kafka", self.settings)
        await bus.start()
        config = LoopConfig(
            topics=ENRICH_INPUTS,
            group_id=self.settings.enrich_group,
            transactional_id=f"{self.settings.enrich_group}-{self.name}",
            accepts_batches=True,
        )
        self.loop = ConsumerLoop(bus, config, self._handler_factory(bus), self.metrics)
        await self.loop.start()
        try:
            await asyncio.to_thread(self.stop.wait)
        finally:
            await self.loop.stop(grace_s=20)
            await bus.stop()


async def enriched_span_ids(kafka: KafkaSettings, run: str) -> Counter[tuple[str, str]]:
    """Spans of this run on `spans.enriched`, as a read_committed reader sees them."""
    bus = create_bus("kafka", kafka)
    await bus.start()
    seen: Counter[tuple[str, str]] = Counter()
    try:
        for partition in range(kafka.kafka_topic_partitions):
            async for batch in bus.read_partition(str(Topic.SPANS_ENRICHED), partition):
                for record in batch:
                    # Other tests on this broker publish per-span records there too.
                    for message in spans_in_message(record.value, record.headers):
                        if message.trace_id.startswith(run):
                            seen[(message.trace_id, message.span_id)] += 1
    finally:
        await bus.stop()
    return seen


async def wait_for_spans(kafka: KafkaSettings, run: str, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while len(await enriched_span_ids(kafka, run)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} spans enriched in time"
        await asyncio.sleep(0.5)


async def test_an_expelled_replica_cannot_commit_its_stale_batch_and_rejoins(
    kafka_broker: KafkaBroker,
) -> None:
    run = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(kafka_bootstrap=kafka_broker.bootstrap, kafka_client_id=f"enrich-{run}")
    bus = create_bus("kafka", kafka)
    await bus.start()
    await ensure_pipeline_topics(bus, kafka)
    await bus.publish_many(spans(run, 0))
    per_round = SESSIONS * SPANS_PER_SESSION

    starved = Replica(kafka, "starved", starve_first_commit=True)
    healthy = Replica(kafka, "healthy", starve_first_commit=False)
    starved.thread.start()
    try:
        assert await asyncio.to_thread(starved.starving.wait, 60.0), "nothing was fetched"
        healthy.thread.start()
        # The healthy replica gets every partition once the starved one is expelled.
        await wait_for_spans(kafka, run, per_round, STARVED_UNTIL_TAKEOVER_S)
        starved.release.set()
        # The starved replica must rejoin and take partitions again: new spans of every
        # session get enriched by one replica or the other.
        await asyncio.sleep(15)
        await bus.publish_many(spans(run, 1))
        await wait_for_spans(kafka, run, 2 * per_round, 60.0)
        await asyncio.sleep(3)  # room for a late duplicate to show up
        seen = await enriched_span_ids(kafka, run)
        assert starved.loop is not None
        starved_went_on = starved.loop.running and starved.loop.failure is None
    finally:
        starved.release.set()
        for replica in (starved, healthy):
            replica.stop.set()
        for replica in (starved, healthy):
            await asyncio.to_thread(replica.thread.join, 60.0)
        await bus.stop()

    assert {k: n for k, n in seen.items() if n > 1} == {}
    assert len(seen) == 2 * per_round
    assert starved.metrics.membership_lost._value.get() >= 1
    assert starved_went_on
