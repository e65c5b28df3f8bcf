"""Committed offsets that wait for pending transactions (OffsetFetch v7, require_stable).

A transactional consumer commits its input offsets inside its transaction. When the
transaction commits, the coordinator answers once the commit is decided, and writes the
markers that make those offsets visible afterwards. aiokafka 0.14 fetches committed
offsets with OffsetFetch v1-v3, which answers with the last *visible* offset: a member
that takes a partition over in that gap starts from the offset before the previous
owner's last transaction and processes its records a second time.

OffsetFetch v7 (Kafka 2.5+) has `require_stable`: the coordinator answers
UNSTABLE_OFFSET_COMMIT (88) for a partition with a pending transactional offset commit,
and the caller asks again until the transaction is settled either way (committed, or
aborted at its timeout). aiokafka has the flexible-version primitives (compact strings
and arrays, tagged fields) but not this request, so it is declared here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from typing import Any, TypeAlias

import aiokafka.errors as kafka_errors
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    Boolean,
    CompactArray,
    CompactString,
    Int16,
    Int32,
    Int64,
    Schema,
    TaggedFields,
)
from aiokafka.structs import OffsetAndMetadata, TopicPartition

UNSTABLE_OFFSET_COMMIT = 88
_NO_OFFSET = -1
_COORDINATOR_MOVED = (
    kafka_errors.NotCoordinatorForGroupError,
    kafka_errors.GroupCoordinatorNotAvailableError,
)


class OffsetFetchResponse_v7(Response):  # type: ignore[misc]
    API_KEY = 9
    API_VERSION = 7
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")),
                (
                    "partitions",
                    CompactArray(
                        ("partition_index", Int32),
                        ("committed_offset", Int64),
                        ("committed_leader_epoch", Int32),
                        ("metadata", CompactString("utf-8")),
                        ("error_code", Int16),
                        ("tags", TaggedFields),
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("error_code", Int16),
        ("tags", TaggedFields),
    )


class OffsetFetchRequest_v7(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 9
    API_VERSION = 7
    RESPONSE_TYPE = OffsetFetchResponse_v7
    SCHEMA = Schema(
        ("group_id", CompactString("utf-8")),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("partition_indexes", CompactArray(Int32)),
                ("tags", TaggedFields),
            ),
        ),
        ("require_stable", Boolean),
        ("tags", TaggedFields),
    )


StableOffsetFetchStruct: TypeAlias = OffsetFetchRequest_v7


class StableOffsetFetchRequest(Request[StableOffsetFetchStruct]):  # type: ignore[misc]
    API_KEY = 9

    def __init__(self, group_id: str, partitions: Collection[TopicPartition]) -> None:
        by_topic: dict[str, list[int]] = {}
        for tp in partitions:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        self._group_id = group_id
        self._topics: list[tuple[str, list[int], dict[int, bytes]]] = [
            (topic, sorted(ps), {}) for topic, ps in sorted(by_topic.items())
        ]

    def build(self, request_struct_class: type[StableOffsetFetchStruct]) -> StableOffsetFetchStruct:
        return request_struct_class(self._group_id, self._topics, True, {})


class UnstableOffsets(kafka_errors.KafkaError):  # type: ignore[misc]
    """Offsets still pending in a transaction after the caller's patience ran out."""


async def fetch_stable_offsets(
    coordinator: Any,
    partitions: Collection[TopicPartition],
    *,
    patience_s: float = 60.0,
    retry_s: float = 0.1,
) -> dict[TopicPartition, OffsetAndMetadata | None]:
    """The group's committed offset (None when it has none) of each partition, once no
    transaction that commits offsets for it is pending. `coordinator` is aiokafka's
    group coordinator of the consumer (`AIOKafkaConsumer._coordinator`)."""
    found: dict[TopicPartition, OffsetAndMetadata | None] = {}
    waiting = set(partitions)
    deadline = time.monotonic() + patience_s
    while waiting:
        await coordinator.ensure_coordinator_known()
        try:
            response = await coordinator._send_req(
                StableOffsetFetchRequest(coordinator.group_id, waiting)
            )
            unstable = set(_settled(response, found))
        except kafka_errors.KafkaError as exc:
            if not exc.retriable:
                raise
            if isinstance(exc, _COORDINATOR_MOVED):
                coordinator.coordinator_dead()
            unstable = waiting
        waiting = set(unstable)
        if waiting:
            if time.monotonic() > deadline:
                raise UnstableOffsets(f"offsets of {sorted(waiting)} still pending")
            await asyncio.sleep(retry_s)
    return found


def _settled(
    response: Any, found: dict[TopicPartition, OffsetAndMetadata | None]
) -> list[TopicPartition]:
    """Record the settled partitions of `response` in `found`; the unstable ones."""
    group_error = kafka_errors.for_code(response.error_code)
    if group_error is not kafka_errors.NoError:
        raise group_error()
    unstable = []
    for topic, topic_partitions, _topic_tags in response.topics:
        for partition, offset, _epoch, metadata, error_code, _tags in topic_partitions:
            tp = TopicPartition(topic, partition)
            if error_code == UNSTABLE_OFFSET_COMMIT:
                unstable.append(tp)
            elif error_code == kafka_errors.UnknownTopicOrPartitionError.errno:
                found[tp] = None
            elif error_code != 0:
                raise kafka_errors.for_code(error_code)()
            else:
                found[tp] = None if offset == _NO_OFFSET else OffsetAndMetadata(offset, metadata)
    return unstable
