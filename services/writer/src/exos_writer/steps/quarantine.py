"""Quarantine: a record (or one row of a record) ClickHouse refuses goes to the
`exos_quarantine` table and to the dead-letter topic, so its partition goes on.

The quarantine row holds only values that always encode (the raw message in base64,
text sanitised to UTF-8), so the table cannot refuse it for its data; if it still does,
the dead letter is the record's only copy and the partition goes on anyway. A transient
failure is raised to the insert step, which retries the whole flush (its tokens make
that idempotent).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from exos_common.bus import BusError, BusRecord
from exos_common.logs import get_logger
from exos_writer.errors import ErrorClass, classify, error_code, error_name
from exos_writer.metrics import WriterMetrics
from exos_writer.tokens import quarantine_token

log = get_logger("exos.writer.quarantine")

QUARANTINE_TABLE = "exos_quarantine"
QUARANTINE_COLUMNS = (
    "quarantined_at",
    "target_table",
    "topic",
    "partition",
    "offset",
    "row_index",
    "error_class",
    "error_code",
    "error_name",
    "error_text",
    "message_key",
    "raw_message",
)
ERROR_TEXT_LIMIT = 2_000
WHOLE_RECORD = -1

InsertRows = Callable[..., int]
InsertPayload = Callable[..., int]  # (table, columns, body, format, *, dedup_token)
DeadLetter = Callable[[BusRecord, Exception], Awaitable[None]]


class RefusedByClickHouse(Exception):
    """Why a record was quarantined (the reason its dead letter carries)."""


class RetryLater(Exception):
    """The flush failed in a way a later attempt can fix: back off and retry it."""


@dataclass(frozen=True, slots=True)
class Offender:
    table: str
    batch_token: str
    record: BusRecord
    row_index: int  # WHOLE_RECORD when the record's only row, or all of it, was refused
    error: BaseException


class Quarantine:
    def __init__(
        self,
        insert: InsertRows,
        dead_letter: DeadLetter,
        metrics: WriterMetrics,
        *,
        timeout_s: float,
    ) -> None:
        self._insert = insert
        self._dead_letter = dead_letter
        self._metrics = metrics
        self._timeout_s = timeout_s

    async def put(self, offender: Offender) -> None:
        reason = describe(offender)
        record = offender.record
        token = quarantine_token(offender.batch_token, record.offset, offender.row_index)
        try:
            await asyncio.wait_for(
                asyncio.to_thread(
                    self._insert,
                    QUARANTINE_TABLE,
                    [quarantine_row(offender, reason)],
                    QUARANTINE_COLUMNS,
                    dedup_token=token,
                ),
                self._timeout_s,
            )
        except Exception as exc:
            if classify(exc) is ErrorClass.TRANSIENT:
                raise RetryLater(f"quarantine insert: {exc}") from exc
            # Never loop on the quarantine itself: the dead letter below keeps the record.
            self._metrics.quarantine_failures.inc()
            log.error("quarantine_insert_refused", error=str(exc)[:300], offset=record.offset)
        try:
            await self._dead_letter(record, RefusedByClickHouse(reason))
        except BusError as exc:  # Kafka down: the quarantine row is in, retry the rest
            raise RetryLater(f"dead letter: {exc}") from exc
        self._metrics.quarantined.labels(offender.table, error_name(offender.error)).inc()
        log.warning(
            "record_quarantined",
            table=offender.table,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            row_index=offender.row_index,
            reason=reason[:300],
        )


def describe(offender: Offender) -> str:
    where = "" if offender.row_index == WHOLE_RECORD else f" row {offender.row_index}:"
    return f"{offender.table} refused{where} {error_name(offender.error)}: {offender.error}"


def quarantine_row(offender: Offender, reason: str) -> list[Any]:
    record = offender.record
    return [
        datetime.now(UTC),
        offender.table,
        record.topic,
        record.partition,
        record.offset,
        offender.row_index,
        str(classify(offender.error)),
        error_code(offender.error),
        error_name(offender.error),
        _text(reason),
        base64.b64encode(record.key or b"").decode("ascii"),
        base64.b64encode(record.value).decode("ascii"),
    ]


def _text(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")[:ERROR_TEXT_LIMIT]
