"""API calls (the fetch instrumentation's `HTTP <METHOD>` spans) for analytics and site
health: failed/slow calls by the page they were made on, and HTTP monitoring (status
classes, latency percentiles by endpoint). Percentiles are exact (linear interpolation
between the closest ranks, like numpy's default)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from exos_query_api.filters import SPAN_TIME, Filters, bound, where
from exos_query_api.queries.common import FAILED_CALL, HTTP_SPANS, moments, ms, ratio
from exos_query_api.runner import QueryRunner, SessionMoment, Traced
from exos_query_api.timerange import TimeRange

CALLS_BY_PAGE = f"""
SELECT Page AS page,
       count() AS calls,
       countIf(is_failed) AS failed,
       countIf(is_slow) AS slow,
       quantileExactInclusive(0.95)(DurationNs) AS p95_ns,
       topKIf(3)(Endpoint, is_failed OR is_slow) AS worst_endpoints
FROM (
    SELECT Page, Endpoint, DurationNs, {FAILED_CALL} AS is_failed,
           DurationNs >= {{{{slow_ns:UInt64}}}} AS is_slow
    FROM span_facts
    {{where}}
)
GROUP BY page
HAVING failed + slow > 0
ORDER BY failed + slow DESC, page
LIMIT {{{{limit:UInt32}}}}
"""


# Samples in a query of their own: only the failed or slow calls' session ids are read
# (a sample column in the aggregate above would read every call's).
SAMPLES_BY_PAGE = """
SELECT Page AS key, SessionId, Timestamp
FROM span_facts
{where}
ORDER BY Timestamp, SessionId
LIMIT 5 BY key
"""
SLOW_CALL = "DurationNs >= {slow_ns:UInt64}"


def _samples(rows: list[dict[str, Any]]) -> dict[Any, list[SessionMoment]]:
    out: dict[Any, list[SessionMoment]] = {}
    for r in rows:
        out.setdefault(r["key"], []).extend(moments([(r["SessionId"], r["Timestamp"])]))
    return out


class PageCalls(BaseModel):
    page: str = Field(description="The page the calls were made from.")
    calls: int
    failed: int = Field(description="HTTP status >= 400, or no status and an error span.")
    slow: int = Field(description="Calls that took at least `slow_ms`.")
    p95_ms: float
    worst_endpoints: list[str]
    samples: list[SessionMoment] = Field(description="Failed or slow calls, earliest first.")


class CallsByPage(Traced):
    slow_ms: int
    pages: list[PageCalls]


def calls_by_page(
    runner: QueryRunner, window: TimeRange, chosen: Filters, *, slow_ms: int, limit: int
) -> CallsByPage:
    clauses = (HTTP_SPANS, SPAN_TIME, *chosen.span_clauses())
    params = bound(window, chosen, slow_ns=slow_ms * 1_000_000, limit=limit)
    rows = runner.rows(CALLS_BY_PAGE.format(where=where(*clauses)), params)
    samples = _samples(
        runner.rows(
            SAMPLES_BY_PAGE.format(where=where(*clauses, f"({FAILED_CALL} OR {SLOW_CALL})")),
            params,
        )
    )
    return CallsByPage(
        slow_ms=slow_ms,
        pages=[
            PageCalls(
                page=r["page"],
                calls=int(r["calls"]),
                failed=int(r["failed"]),
                slow=int(r["slow"]),
                p95_ms=ms(r["p95_ns"]),
                worst_endpoints=list(r["worst_endpoints"]),
                samples=samples.get(r["page"], []),
            )
            for r in rows
        ],
        queries=runner.ran,
    )


HTTP_ENDPOINTS = f"""
SELECT HttpMethod AS method, Endpoint AS endpoint,
       count() AS calls,
       countIf({FAILED_CALL}) AS failed,
       countIf(HttpStatus >= 200 AND HttpStatus < 300) AS s2xx,
       countIf(HttpStatus >= 300 AND HttpStatus < 400) AS s3xx,
       countIf(HttpStatus >= 400 AND HttpStatus < 500) AS s4xx,
       countIf(HttpStatus >= 500) AS s5xx,
       countIf(HttpStatus < 100) AS no_status,
       quantilesExactInclusive(0.5, 0.95, 0.99)(DurationNs) AS latency_ns
FROM span_facts
{{where}}
GROUP BY method, endpoint
ORDER BY calls DESC, method, endpoint
LIMIT {{{{limit:UInt32}}}}
"""


FAILURE_SAMPLES = """
SELECT (HttpMethod, Endpoint) AS key, SessionId, Timestamp
FROM span_facts
{where}
ORDER BY Timestamp, SessionId
LIMIT 5 BY key
"""

HTTP_TOTALS = f"""
SELECT count() AS calls,
       countIf({FAILED_CALL}) AS failed,
       countIf(HttpStatus >= 200 AND HttpStatus < 300) AS s2xx,
       countIf(HttpStatus >= 300 AND HttpStatus < 400) AS s3xx,
       countIf(HttpStatus >= 400 AND HttpStatus < 500) AS s4xx,
       countIf(HttpStatus >= 500) AS s5xx,
       countIf(HttpStatus < 100) AS no_status
FROM span_facts
{{where}}
"""


class StatusClasses(BaseModel):
    s2xx: int = Field(serialization_alias="2xx", validation_alias="s2xx")
    s3xx: int = Field(serialization_alias="3xx", validation_alias="s3xx")
    s4xx: int = Field(serialization_alias="4xx", validation_alias="s4xx")
    s5xx: int = Field(serialization_alias="5xx", validation_alias="s5xx")
    no_status: int = Field(description="No HTTP status (network error, aborted, opaque).")


class EndpointHealth(BaseModel):
    method: str
    endpoint: str = Field(description="URL path, id-like segments as `:id`.")
    calls: int
    failed: int
    error_rate: float
    status: StatusClasses
    p50_ms: float
    p95_ms: float
    p99_ms: float
    failure_samples: list[SessionMoment]


class HttpHealth(Traced):
    calls: int
    failed: int
    error_rate: float
    status: StatusClasses
    endpoints: list[EndpointHealth]


def http_health(runner: QueryRunner, window: TimeRange, chosen: Filters, limit: int) -> HttpHealth:
    condition = where(HTTP_SPANS, SPAN_TIME, *chosen.span_clauses())
    totals = runner.rows(HTTP_TOTALS.format(where=condition), bound(window, chosen))[0]
    rows = runner.rows(HTTP_ENDPOINTS.format(where=condition), bound(window, chosen, limit=limit))
    failing = where(HTTP_SPANS, SPAN_TIME, *chosen.span_clauses(), FAILED_CALL)
    samples = _samples(runner.rows(FAILURE_SAMPLES.format(where=failing), bound(window, chosen)))
    endpoints = []
    for r in rows:
        p50, p95, p99 = (ms(v) for v in r["latency_ns"])
        endpoints.append(
            EndpointHealth(
                method=r["method"],
                endpoint=r["endpoint"],
                calls=int(r["calls"]),
                failed=int(r["failed"]),
                error_rate=ratio(int(r["failed"]), int(r["calls"])),
                status=StatusClasses.model_validate(r),
                p50_ms=p50,
                p95_ms=p95,
                p99_ms=p99,
                failure_samples=samples.get((r["method"], r["endpoint"]), []),
            )
        )
    calls, failed = int(totals["calls"]), int(totals["failed"])
    return HttpHealth(
        calls=calls,
        failed=failed,
        error_rate=ratio(failed, calls),
        status=StatusClasses.model_validate(totals),
        endpoints=endpoints,
        queries=runner.ran,
    )
