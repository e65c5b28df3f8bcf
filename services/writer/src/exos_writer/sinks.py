"""Which table each topic lands in, with its columns, and how a decoded message becomes
that table's payload."""

from __future__ import annotations

from dataclasses import dataclass

from exos_common.codec import PipelineRecord
from exos_common.table_payload import TABLE_COLUMNS, TablePayload, encode_payload
from exos_common.topics import Topic


@dataclass(frozen=True, slots=True)
class TableSink:
    table: str
    columns: tuple[str, ...]

    def payload(self, message: PipelineRecord | TablePayload) -> TablePayload:
        """The rows a bus record carries. A `rows/1` payload is taken as it is; a record
        of the per-event schemas (replay chunks, and enriched records written before
        payloads) is encoded here. TypeError for a message of another table."""
        if isinstance(message, TablePayload):
            if message.table != self.table:
                raise TypeError(f"a payload for {message.table} on the topic of {self.table}")
            return message
        return encode_payload(self.table, [message])


SINKS: dict[str, TableSink] = {
    str(topic): TableSink(table, TABLE_COLUMNS[table])
    for topic, table in (
        (Topic.SPANS_ENRICHED, "otel_traces"),
        (Topic.LOGS_ENRICHED, "otel_logs"),
        (Topic.REPLAY_RAW, "hyperdx_sessions"),
    )
}
