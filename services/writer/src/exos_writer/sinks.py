"""Which table each topic lands in, with its columns and row function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exos_common.codec import PipelineRecord
from exos_common.messages import LogRecord, SpanRecord
from exos_common.topics import Topic
from exos_writer.rows import (
    LOG_COLUMNS,
    REPLAY_COLUMNS,
    TRACE_COLUMNS,
    log_row,
    replay_row,
    trace_row,
)


@dataclass(frozen=True, slots=True)
class TableSink:
    table: str
    columns: tuple[str, ...]
    message_type: type
    to_row: Callable[[Any], list[Any]]

    def row(self, message: PipelineRecord) -> list[Any]:
        if not isinstance(message, self.message_type):
            raise TypeError(f"{self.table} takes {self.message_type.__name__} messages")
        return self.to_row(message)

    def rows(self, message: PipelineRecord) -> list[list[Any]]:
        """The rows one bus record becomes (one today; a record carrying a batch of one
        session's spans will give several, and the writer bisects within it)."""
        return [self.row(message)]


SINKS: dict[str, TableSink] = {
    str(Topic.SPANS_ENRICHED): TableSink("otel_traces", TRACE_COLUMNS, SpanRecord, trace_row),
    str(Topic.LOGS_ENRICHED): TableSink("otel_logs", LOG_COLUMNS, LogRecord, log_row),
    str(Topic.REPLAY_RAW): TableSink("hyperdx_sessions", REPLAY_COLUMNS, LogRecord, replay_row),
}
