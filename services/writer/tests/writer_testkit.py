"""In-memory stand-ins for the callables the writer's steps are given."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from exos_common.bus import BusRecord, TopicPartition
from exos_common.store import StoreDataError, StoreUnavailable
from exos_common.table_payload import TablePayload


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeCommits:
    """What the group's commits would hold, with every call kept in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[TopicPartition, int], dict[TopicPartition, str]]] = []
        self.offsets: dict[TopicPartition, int] = {}
        self.metadata: dict[TopicPartition, str] = {}

    async def commit(
        self,
        offsets: Mapping[TopicPartition, int],
        metadata: Mapping[TopicPartition, str] | None = None,
    ) -> None:
        self.calls.append((dict(offsets), dict(metadata or {})))
        for tp, offset in offsets.items():
            self.offsets[tp] = offset
            self.metadata[tp] = (metadata or {}).get(tp, "")

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.offsets.get(tp)

    async def committed_metadata(self, tp: TopicPartition) -> str:
        return self.metadata.get(tp, "")


class FakeTable:
    """ClickHouse as the writer sees it: refuses any insert holding a row whose first
    value is in `refused` (as it would a value out of its column's range), drops an
    insert whose token it has seen, and can be down for the next `outages` inserts or
    die (`kill_after` successful inserts)."""

    def __init__(self, refused: set[Any] | None = None) -> None:
        self.refused = refused or set()
        self.rows: dict[str, list[list[Any]]] = {}
        self.tokens: list[str] = []
        self.attempts: list[str] = []
        self.outages = 0
        self.kill_after: int | None = None

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        column_names: Sequence[str],
        *,
        dedup_token: str | None = None,
    ) -> int:
        self.attempts.append(str(dedup_token))
        if self.outages > 0:
            self.outages -= 1
            raise StoreUnavailable(0, "connection refused")
        if any(row[0] in self.refused for row in rows):
            raise StoreDataError(0, "Unable to create native array for column `X`: error")
        if dedup_token in self.tokens:
            return 0
        self.tokens.append(str(dedup_token))
        self.rows.setdefault(table, []).extend(list(row) for row in rows)
        if self.kill_after is not None and len(self.tokens) >= self.kill_after:
            raise Killed
        return len(rows)

    def insert_raw(
        self,
        table: str,
        column_names: Sequence[str],
        body: bytes,
        fmt: str,
        *,
        dedup_token: str | None = None,
    ) -> int:
        """A raw insert: ClickHouse parses the JSONCompactEachRow lines itself."""
        assert fmt == "JSONCompactEachRow" and body.endswith(b"\n")
        rows = [orjson.loads(line) for line in body.splitlines()]
        return self.insert(table, rows, column_names, dedup_token=dedup_token)


def payload_of(*first_values: Any) -> TablePayload:
    """A payload whose rows begin with these values (what FakeTable looks at)."""
    return TablePayload(
        "otel_traces",
        len(first_values),
        b"".join(orjson.dumps([v], option=orjson.OPT_APPEND_NEWLINE) for v in first_values),
    )


class Killed(BaseException):
    """The writer process dying mid-flush."""


class DeadLetters:
    def __init__(self) -> None:
        self.sent: list[tuple[BusRecord, Exception]] = []

    async def send(self, record: BusRecord, error: Exception) -> None:
        self.sent.append((record, error))


def bus_record(topic: str, offset: int, value: bytes = b"v", partition: int = 0) -> BusRecord:
    return BusRecord(topic, partition, offset, b"k", value, [], 1_700_000_000_000)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """A metric's current value as /metrics shows it (0 when never set)."""
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value
