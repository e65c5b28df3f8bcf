"""Kafka adapter of the bus port.

Built on aiokafka, the client FastStream wraps, used directly: the port needs binary
headers, commits of explicit offsets per partition, batches accumulated across polls,
pause/resume and a revoke hook, which FastStream's publish (str headers) and
subscribers (acks commit the whole position) do not give
(docs/adr/0003-own-stream-loop-on-aiokafka.md).
The producer is idempotent with acks=all, so `publish` returns only once every
in-sync replica has the record.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    MessageSizeTooLargeError,
)
from aiokafka.structs import OffsetAndMetadata

from exos_common.bus.errors import (
    BusError,
    BusUnavailable,
    CommitFailed,
    MembershipLost,
    RecordTooLarge,
)
from exos_common.bus.membership import confirm_membership
from exos_common.bus.port import (
    BusRecord,
    Delivery,
    OutgoingRecord,
    PartitionsCallback,
    SingleRecordPublish,
    TopicPartition,
)
from exos_common.bus.stable_offsets import fetch_stable_offsets
from exos_common.logs import get_logger
from exos_common.settings import KafkaSettings
from exos_common.topics import TopicSpec

log = get_logger("exos.bus")

_TOPIC_ALREADY_EXISTS = 36
_JOIN_TIMEOUT_S = 30.0
_CONSUMER_METADATA_MAX_AGE_MS = 15_000


def connection_options(settings: KafkaSettings) -> dict[str, Any]:
    """Options every aiokafka client of EXOS shares (bootstrap, security)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol.startswith("SASL"):
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": (
                settings.kafka_sasl_password.get_secret_value()
                if settings.kafka_sasl_password
                else None
            ),
        }
    if settings.kafka_security_protocol.endswith("SSL"):
        from aiokafka.helpers import create_ssl_context

        options["ssl_context"] = create_ssl_context()
    return options


def producer_options(settings: KafkaSettings, options: dict[str, Any]) -> dict[str, Any]:
    """Idempotent, acks=all, compressed (lz4 unless `kafka_compression` says otherwise):
    a publish is acknowledged once every in-sync replica has it, and a retried send is
    never stored twice."""
    return {
        "client_id": f"{settings.kafka_client_id}-producer",
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": (
            None if settings.kafka_compression == "none" else settings.kafka_compression
        ),
        "linger_ms": 5,
        "max_request_size": settings.kafka_max_message_bytes,
        "request_timeout_ms": int(settings.kafka_publish_timeout_s * 1000),
        **options,
    }


class KafkaBus(SingleRecordPublish):
    log_epoch = ""  # the broker keeps offsets across restarts

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._options = connection_options(settings)
        # aiokafka clients bind to the running event loop, so they are made in start().
        self._producer_or_none: AIOKafkaProducer | None = None

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._producer_or_none is None:
            raise BusError("the Kafka bus is not started")
        return self._producer_or_none

    async def start(self) -> None:
        self._producer_or_none = AIOKafkaProducer(**producer_options(self._settings, self._options))
        try:
            await self._producer.start()
        except KafkaError as exc:
            raise BusUnavailable(f"cannot reach Kafka at {self._settings.kafka_bootstrap}") from exc

    async def stop(self) -> None:
        if self._producer_or_none is not None:
            await self._producer_or_none.stop()

    async def ping(self) -> bool:
        if self._producer_or_none is None:
            return False
        try:
            async with asyncio.timeout(5.0):
                await self._producer.client.fetch_all_metadata()
        except (TimeoutError, KafkaError):
            return False
        return True

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> None:
        admin = AIOKafkaAdminClient(client_id=self._settings.kafka_client_id, **self._options)
        await admin.start()
        try:
            response = await admin.create_topics(
                [
                    NewTopic(s.name, s.partitions, s.replication_factor, topic_configs=s.configs)
                    for s in specs
                ]
            )
            for name, code, *rest in response.topic_errors:
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise KafkaError(f"creating topic {name} failed with error {code}: {rest}")
        finally:
            await admin.close()

    async def publish_many(self, records: Sequence[OutgoingRecord]) -> list[Delivery]:
        try:
            async with asyncio.timeout(self._settings.kafka_publish_timeout_s):
                # Queue every record first (the producer batches them), then wait for
                # all acknowledgements together.
                futures = [
                    await self._producer.send(r.topic, r.value, key=r.key, headers=r.headers)
                    for r in records
                ]
                metadata = await asyncio.gather(*futures)
        except MessageSizeTooLargeError as exc:
            raise RecordTooLarge(str(exc)) from exc
        except (TimeoutError, KafkaError) as exc:
            raise BusUnavailable(f"Kafka did not acknowledge: {exc!r}") from exc
        return [Delivery(m.topic, m.partition, m.offset) for m in metadata]

    async def read_partition(self, topic: str, partition: int) -> AsyncIterator[list[BusRecord]]:
        reader = AIOKafkaConsumer(
            client_id=f"{self._settings.kafka_client_id}-reader",
            enable_auto_commit=False,
            isolation_level="read_committed",
            max_partition_fetch_bytes=self._settings.kafka_max_message_bytes,
            **self._options,
        )
        await reader.start()
        try:
            tp = KafkaTopicPartition(topic, partition)
            reader.assign([tp])
            await reader.seek_to_beginning(tp)
            # The last stable offset: with read_committed, the end a reader can reach.
            end = (await reader.end_offsets([tp]))[tp]
            while await reader.position(tp) < end:
                fetched = await reader.getmany(tp, timeout_ms=1000, max_records=1000)
                batch = [_bus_record(r) for r in fetched.get(tp, []) if r.offset < end]
                if batch:
                    yield batch
        finally:
            await reader.stop()

    async def consumer(
        self,
        topics: Sequence[str],
        group_id: str,
        *,
        on_assign: PartitionsCallback | None = None,
        on_revoke: PartitionsCallback | None = None,
        transactional_id: str | None = None,
    ) -> KafkaConsumer:
        consumer = KafkaConsumer(
            self._settings, self._options, group_id, on_assign, on_revoke, transactional_id
        )
        await consumer.start(topics)
        return consumer


def _bus_record(r: Any) -> BusRecord:
    return BusRecord(
        topic=r.topic,
        partition=r.partition,
        offset=r.offset,
        key=r.key,
        value=r.value,
        headers=list(r.headers),
        timestamp_ms=r.timestamp,
    )


def _to_kafka(tp: TopicPartition) -> KafkaTopicPartition:
    return KafkaTopicPartition(tp.topic, tp.partition)


def _from_kafka(tp: KafkaTopicPartition) -> TopicPartition:
    return TopicPartition(tp.topic, tp.partition)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: KafkaConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._owner.handle_revoke({_from_kafka(tp) for tp in revoked})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._owner.handle_assign({_from_kafka(tp) for tp in assigned})


class KafkaConsumer:
    def __init__(
        self,
        settings: KafkaSettings,
        options: dict[str, Any],
        group_id: str,
        on_assign: PartitionsCallback | None,
        on_revoke: PartitionsCallback | None,
        transactional_id: str | None = None,
    ) -> None:
        self._group_id = group_id
        self._settings = settings
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self._joined = asyncio.Event()
        self._closing = False
        # Set when a transaction or a commit found this member fenced out of its group:
        # nothing is fetched or committed until the group has given partitions again.
        self._rejoin_pending = False
        # False from a revoke until the next assignment's positions are the group's
        # stable commits: what a fetch returns meanwhile belongs to no assignment.
        self._positioned = False
        self._consumer = AIOKafkaConsumer(
            group_id=group_id,
            client_id=f"{settings.kafka_client_id}-{group_id}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # A topic deleted and recreated is seen (its partitions revoked, then assigned
            # anew) only at a metadata refresh: every 15 s instead of aiokafka's 5 minutes.
            metadata_max_age_ms=_CONSUMER_METADATA_MAX_AGE_MS,
            isolation_level="read_committed",
            max_partition_fetch_bytes=settings.kafka_max_message_bytes,
            fetch_max_bytes=max(52_428_800, settings.kafka_max_message_bytes),
            # Range assignment keeps equal-sized topics co-partitioned (see the port).
            partition_assignment_strategy=(RangePartitionAssignor,),
            **options,
        )
        self._transactions: AIOKafkaProducer | None = None
        if transactional_id is not None:
            self._transactions = AIOKafkaProducer(
                **producer_options(settings, options)
                | {
                    "transactional_id": transactional_id,
                    # A replica killed mid-transaction blocks read_committed readers of
                    # its partitions until the broker aborts it: keep that short.
                    "transaction_timeout_ms": 10_000,
                }
            )

    async def start(self, topics: Sequence[str]) -> None:
        if self._transactions is not None:
            await self._transactions.start()
        self._consumer.subscribe(list(topics), listener=_Listener(self))
        await self._consumer.start()
        # aiokafka joins the group in a background task; a consumer is only useful once
        # the group has given it its partitions.
        try:
            async with asyncio.timeout(_JOIN_TIMEOUT_S):
                await self._joined.wait()
        except TimeoutError as exc:
            await self._consumer.stop()
            raise BusUnavailable(f"could not join consumer group in {_JOIN_TIMEOUT_S}s") from exc

    async def handle_revoke(self, partitions: set[TopicPartition]) -> None:
        self._positioned = False
        if partitions and self._on_revoke is not None and not self._closing:
            await self._on_revoke(partitions)

    async def handle_assign(self, partitions: set[TopicPartition]) -> None:
        # A fresh assignment: positions restart from the committed offsets, once those
        # are stable (no transaction of a previous owner still settling them).
        self._rejoin_pending = False
        self._positioned = False
        try:
            await self._seek_to_stable_commits(partitions)
        except Exception as exc:  # aiokafka would swallow it and start from any offset
            # Starting from an offset a pending transaction is about to move would
            # process its records twice: rejoin and ask again instead.
            log.warning("stable_offsets_unknown", group=self._group_id, error=repr(exc))
            self._rejoin_pending = True
            self._consumer._coordinator.request_rejoin()
        self._positioned = True
        self._joined.set()
        if partitions and self._on_assign is not None:
            await self._on_assign(partitions)

    async def _seek_to_stable_commits(self, partitions: set[TopicPartition]) -> None:
        if not partitions:
            return
        started = asyncio.get_running_loop().time()
        commits = await fetch_stable_offsets(
            self._consumer._coordinator, [_to_kafka(tp) for tp in partitions]
        )
        for tp, commit in commits.items():
            if commit is not None and tp in self._consumer.assignment():
                self._consumer.seek(tp, commit.offset)
        waited = asyncio.get_running_loop().time() - started
        if waited > 1.0:
            log.info("stable_offsets_waited", group=self._group_id, seconds=round(waited, 1))

    async def fetch(self, max_records: int, timeout_s: float) -> list[BusRecord]:
        by_partition = await self._consumer.getmany(
            timeout_ms=int(timeout_s * 1000), max_records=max_records
        )
        if self._rejoin_pending or not self._positioned:
            # Records read for an assignment this member lost (or before the new one's
            # positions are set); they come again from the committed offsets, to
            # whoever owns them then. Still polling keeps aiokafka from treating the
            # member as idle.
            return []
        return [_bus_record(r) for records in by_partition.values() for r in records]

    async def commit(
        self,
        offsets: Mapping[TopicPartition, int],
        metadata: Mapping[TopicPartition, str] | None = None,
    ) -> None:
        if not offsets:
            return
        if self._rejoin_pending:
            raise MembershipLost(f"waiting to rejoin group {self._group_id}")
        metadata = metadata or {}
        request = {
            _to_kafka(tp): OffsetAndMetadata(offset, metadata.get(tp, ""))
            for tp, offset in offsets.items()
        }
        try:
            await self._consumer.commit(request)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group moved on (expelled, rebalancing, partition no longer ours): what
            # this member holds may already be another's. Rejoin; the next assignment
            # starts again from the group's commits.
            self._rejoin_pending = True
            self._consumer._coordinator.request_rejoin()
            raise MembershipLost(f"commit refused in group {self._group_id}: {exc!r}") from exc
        except KafkaError as exc:
            raise CommitFailed(str(exc)) from exc

    async def committed(self, partition: TopicPartition) -> int | None:
        entry = await self._fetch_committed(partition)
        return None if entry is None or entry.offset < 0 else int(entry.offset)

    async def committed_metadata(self, partition: TopicPartition) -> str:
        entry = await self._fetch_committed(partition)
        return str(entry.metadata) if entry is not None and entry.metadata else ""

    async def _fetch_committed(self, partition: TopicPartition) -> OffsetAndMetadata | None:
        # Ask the group coordinator: aiokafka's public committed() answers from a cache
        # that a transactional offset commit does not update, and drops the metadata.
        tp = _to_kafka(partition)
        try:
            # As aiokafka's own fetch, wait as long as the coordinator needs.
            found = await fetch_stable_offsets(
                self._consumer._coordinator, [tp], patience_s=math.inf
            )
        except KafkaError as exc:
            raise BusUnavailable(f"committed offset of {partition} unknown: {exc!r}") from exc
        return found.get(tp)

    async def publish_and_commit(
        self, records: Sequence[OutgoingRecord], offsets: Mapping[TopicPartition, int]
    ) -> None:
        if self._transactions is None:
            raise BusError("publish_and_commit needs a consumer with a transactional_id")
        if self._rejoin_pending:
            raise MembershipLost(f"waiting to rejoin group {self._group_id}")
        producer = self._transactions
        try:
            async with asyncio.timeout(self._settings.kafka_publish_timeout_s):
                async with producer.transaction():
                    for r in records:
                        await producer.send(r.topic, r.value, key=r.key, headers=r.headers)
                    if offsets:
                        await producer.send_offsets_to_transaction(
                            {_to_kafka(tp): off for tp, off in offsets.items()}, self._group_id
                        )
                    # The last step before the commit: raising here aborts it.
                    await self._confirm_membership()
        except MessageSizeTooLargeError as exc:
            raise RecordTooLarge(str(exc)) from exc
        except (TimeoutError, KafkaError) as exc:
            raise BusUnavailable(f"transaction not committed: {exc!r}") from exc

    async def _confirm_membership(self) -> None:
        try:
            await confirm_membership(self._consumer._coordinator)
        except MembershipLost:
            self._rejoin_pending = True
            raise

    def assignment(self) -> set[TopicPartition]:
        return {_from_kafka(tp) for tp in self._consumer.assignment()}

    def pause(self, partitions: Collection[TopicPartition]) -> None:
        owned = self._consumer.assignment()
        self._consumer.pause(*[tp for tp in map(_to_kafka, partitions) if tp in owned])

    def resume(self, partitions: Collection[TopicPartition]) -> None:
        self._consumer.resume(*map(_to_kafka, partitions))

    def paused(self) -> set[TopicPartition]:
        return {_from_kafka(tp) for tp in self._consumer.paused()}

    async def lag(self) -> dict[TopicPartition, int]:
        assigned = list(self._consumer.assignment())
        if not assigned:
            return {}
        ends = await self._consumer.end_offsets(assigned)
        lags = {}
        for tp in assigned:
            committed = await self._consumer.committed(tp)
            lags[_from_kafka(tp)] = ends[tp] - (committed or 0)
        return lags

    async def close(self) -> None:
        if self._closing:
            return
        if self._on_revoke is not None and self.assignment():
            await self._on_revoke(self.assignment())
        self._closing = True
        await self._consumer.stop()
        if self._transactions is not None:
            await self._transactions.stop()
