"""`GET /api/stats`: an overview of the three tables (and the query-api rollups): rows,
time span, sessions and size on disk, in the time range, and what the writer quarantined."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from exos_query_api.runner import QueryRunner, Traced
from exos_query_api.timerange import TimeRange

RANGE = "Timestamp >= {start:DateTime64(9)} AND Timestamp < {end:DateTime64(9)}"

# Sessions: otel_traces via session_summary (one row per session, no Map read).
TRACES = f"""
SELECT count() AS rows, min(Timestamp) AS first, max(Timestamp) AS last,
       countIf(StatusCode = 'Error') AS errors
FROM otel_traces WHERE {RANGE}
"""
TRACE_SESSIONS = """
SELECT count() AS sessions FROM (
    SELECT SessionId, min(Started) AS Started FROM session_summary GROUP BY SessionId
) WHERE Started >= {start:DateTime64(9)} AND Started < {end:DateTime64(9)}
"""
LOGS = f"""
SELECT count() AS rows, min(Timestamp) AS first, max(Timestamp) AS last,
       countIf(SeverityText IN ('error', 'fatal')) AS errors,
       uniqExact(`__hdx_materialized_rum.sessionId`) AS sessions
FROM otel_logs WHERE {RANGE}
"""
REPLAY = f"""
SELECT count() AS rows, min(Timestamp) AS first, max(Timestamp) AS last,
       uniqExact(ResourceAttributes['rum.sessionId']) AS sessions
FROM hyperdx_sessions WHERE {RANGE}
"""
# What the writer set aside: records ClickHouse refused, isolated by bisecting their batch.
QUARANTINE = """
SELECT target_table, error_class, error_name, count() AS records,
       max(quarantined_at) AS last_at, any(error_text) AS example
FROM exos_quarantine
WHERE quarantined_at >= {start:DateTime64(9)} AND quarantined_at < {end:DateTime64(9)}
GROUP BY target_table, error_class, error_name
ORDER BY records DESC, target_table, error_name
LIMIT 50
"""
# Size on disk of every table of this database (all time: parts are not per range).
DISK = """
SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes_on_disk,
       sum(data_uncompressed_bytes) AS uncompressed_bytes
FROM system.parts
WHERE database = currentDatabase() AND active
  AND table IN ('otel_traces', 'otel_logs', 'hyperdx_sessions', 'span_facts', 'session_summary',
                'span_hourly')
GROUP BY table
"""


class TableStats(BaseModel):
    table: str
    rows: int | None = Field(description="Rows in the time range (rollups: none).")
    first: datetime | None
    last: datetime | None
    sessions: int | None = Field(description="Distinct sessions in the range (rollups: none).")
    errors: int | None = None
    total_rows: int = Field(description="All rows, any time (active parts).")
    bytes_on_disk: int
    uncompressed_bytes: int


class QuarantineGroup(BaseModel):
    target_table: str = Field(description="The table the records were meant for.")
    error_class: str = Field(description="How the writer classified the refusal.")
    error_name: str = Field(description="ClickHouse's error name (or the encoder's).")
    records: int
    last_at: datetime
    example: str = Field(description="One refusal's text, as ClickHouse gave it.")


class Stats(Traced):
    tables: list[TableStats]
    quarantine: list[QuarantineGroup] = Field(
        description=(
            "Records the writer could not store, by table and reason, quarantined in the "
            "time range (their raw bytes are in `exos_quarantine` and on the dead-letter "
            "topic). Empty when everything landed."
        )
    )


def stats(runner: QueryRunner, window: TimeRange) -> Stats:
    params = window.parameters()
    traces = runner.rows(TRACES, params)[0]
    traces["sessions"] = runner.rows(TRACE_SESSIONS, params)[0]["sessions"]
    logs = runner.rows(LOGS, params)[0]
    replay = runner.rows(REPLAY, params)[0]
    disk = {r["table"]: r for r in runner.rows(DISK)}
    out = []
    for table, row in (("otel_traces", traces), ("otel_logs", logs), ("hyperdx_sessions", replay)):
        rows = int(row["rows"])
        on_disk = disk.get(table, {})
        out.append(
            TableStats(
                table=table,
                rows=rows,
                first=row["first"] if rows else None,
                last=row["last"] if rows else None,
                sessions=int(row["sessions"]),
                errors=int(row["errors"]) if "errors" in row else None,
                total_rows=int(on_disk.get("rows", 0)),
                bytes_on_disk=int(on_disk.get("bytes_on_disk", 0)),
                uncompressed_bytes=int(on_disk.get("uncompressed_bytes", 0)),
            )
        )
    for table in ("span_facts", "session_summary", "span_hourly"):
        on_disk = disk.get(table, {})
        out.append(
            TableStats(
                table=table,
                rows=None,
                first=None,
                last=None,
                sessions=None,
                total_rows=int(on_disk.get("rows", 0)),
                bytes_on_disk=int(on_disk.get("bytes_on_disk", 0)),
                uncompressed_bytes=int(on_disk.get("uncompressed_bytes", 0)),
            )
        )
    quarantine = [QuarantineGroup(**row) for row in runner.rows(QUARANTINE, params)]
    return Stats(tables=out, quarantine=quarantine, queries=runner.ran)
