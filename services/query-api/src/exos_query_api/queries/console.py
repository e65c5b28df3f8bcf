"""Console errors grouped by fingerprint (site health): `otel_logs` rows of severity
error/fatal (ingest turns the SDK's `console.error`, `onerror`, `unhandledrejection`
spans into them). The fingerprint is a hash of the message with numbers and long hex
runs masked, so "Request failed: POST /api/orders/ORD-2/schedule" and ".../ORD-3/..." are
one group."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from exos_query_api.filters import Filters, bound, where
from exos_query_api.queries.common import moments, samples_of
from exos_query_api.runner import QueryRunner, SessionMoment, Traced
from exos_query_api.timerange import TimeRange

PATTERN = (
    "replaceRegexpAll(replaceRegexpAll(Body, '0x[0-9a-fA-F]+|[0-9a-f]{{8,}}', 'H'), '[0-9]+', 'N')"
)

CONSOLE_ERRORS = f"""
SELECT fingerprint,
       any(pattern) AS pattern,
       argMin(session_example, session_first) AS example,
       sum(session_occurrences) AS occurrences,
       count() AS sessions,
       min(session_first) AS first_seen,
       max(session_last) AS last_seen,
       {samples_of("SessionId", "session_first")} AS samples
FROM (
    SELECT fingerprint, SessionId,
           any(pattern) AS pattern,
           argMin(Body, Timestamp) AS session_example,
           count() AS session_occurrences,
           min(Timestamp) AS session_first,
           max(Timestamp) AS session_last
    FROM (
        SELECT Timestamp, Body, ServiceName,
               `__hdx_materialized_rum.sessionId` AS SessionId,
               replaceRegexpAll(path(LogAttributes['location.href']), '/[^/]*[0-9][^/]*', '/:id')
                   AS Page,
               {PATTERN} AS pattern,
               hex(cityHash64(pattern)) AS fingerprint
        FROM otel_logs
        WHERE SeverityText IN ('error', 'fatal')
          AND Timestamp >= {{{{start:DateTime64(9)}}}} AND Timestamp < {{{{end:DateTime64(9)}}}}
    )
    {{where}}
    GROUP BY fingerprint, SessionId
)
GROUP BY fingerprint
ORDER BY occurrences DESC, fingerprint
LIMIT {{{{limit:UInt32}}}}
"""


class ErrorGroup(BaseModel):
    fingerprint: str
    pattern: str = Field(description="The message with numbers as N and hex runs as H.")
    example: str = Field(description="The first message of the group.")
    occurrences: int
    sessions: int = Field(description="Sessions affected.")
    first_seen: datetime
    last_seen: datetime
    samples: list[SessionMoment] = Field(
        description="Sessions at their first occurrence, earliest first."
    )


class ConsoleErrors(Traced):
    groups: list[ErrorGroup]


def console_errors(
    runner: QueryRunner, window: TimeRange, chosen: Filters, limit: int
) -> ConsoleErrors:
    sql = CONSOLE_ERRORS.format(where=where(*chosen.log_clauses()))
    rows = runner.rows(sql, bound(window, chosen, limit=limit))
    return ConsoleErrors(
        groups=[
            ErrorGroup(
                fingerprint=r["fingerprint"],
                pattern=r["pattern"],
                example=r["example"],
                occurrences=int(r["occurrences"]),
                sessions=int(r["sessions"]),
                first_seen=r["first_seen"],
                last_seen=r["last_seen"],
                samples=moments(r["samples"]),
            )
            for r in rows
        ],
        queries=runner.ran,
    )
