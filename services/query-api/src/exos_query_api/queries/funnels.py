"""Funnels over pages or events (`windowFunnel`), with the sessions that dropped off at
each step and the API calls made on the way from one step to the next.

A funnel is counted per session. `windowFunnel(window)` gives each session's level (the
steps it completed in order within the window); a greedy walk over the session's
matching spans (`arrayFold`) gives the moment it reached each step, which is where a
drop-off sample opens the replay and what assigns an API call to a step: a call belongs
to the last step the session had reached when it was made.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, Field

from exos_query_api.filters import SPAN_TIME, Filters, bound, where
from exos_query_api.queries.common import (
    FAILED_CALL,
    HTTP_SPANS,
    PAGE_VIEW_SPANS,
    moments,
    ms,
    ratio,
    samples_of,
)
from exos_query_api.runner import QueryRunner, SessionMoment, Traced
from exos_query_api.timerange import TimeRange

MAX_STEPS = 10


class StepKind(StrEnum):
    page = "page"
    event = "event"


# The condition of step i (the step itself is always a bound parameter).
STEP_CONDITION = {
    StepKind.page: "(IsPageView = 1 AND Page = {{step_{i}:String}})",
    StepKind.event: "(SpanName = {{step_{i}:String}})",
}
# Spans that can match some step (prunes by the table's ServiceName, SpanName order).
STEP_SPANS = {
    StepKind.page: f"SpanName IN {PAGE_VIEW_SPANS} AND Page IN {{steps:Array(String)}}",
    StepKind.event: "SpanName IN {steps:Array(String)}",
}
KNOWN_STEPS = """
SELECT DISTINCT {column} AS step FROM span_facts
WHERE {spans} AND Timestamp >= {{start:DateTime64(9)}} AND Timestamp < {{end:DateTime64(9)}}
"""

FUNNEL_SESSIONS = """
SELECT SessionId,
       windowFunnel({{window_ms:UInt64}})(ts, {conditions}) AS level,
       arrayFold(
           (acc, e) -> if(length(acc) < {{step_count:UInt8}}
                          AND bitTest(e.2, length(acc))
                          AND (length(acc) = 0 OR e.1 - acc[1] <= {{window_ms:UInt64}}),
                          arrayPushBack(acc, e.1), acc),
           arraySort(x -> x.1, groupArray((ts, {step_bits}))),
           CAST([], 'Array(UInt64)')) AS reached
FROM (
    SELECT SessionId, toUInt64(toUnixTimestamp64Milli(Timestamp)) AS ts, IsPageView, Page, SpanName
    FROM span_facts
    {where}
)
GROUP BY SessionId
"""

FUNNEL = f"""
SELECT level, count() AS sessions, {samples_of("SessionId", "at")} AS samples
FROM (
    SELECT SessionId, level,
           fromUnixTimestamp64Milli(
               toInt64(if(length(reached) >= level, reached[level], reached[-1]))) AS at
    FROM ({{sessions}})
    WHERE level > 0
)
GROUP BY level
ORDER BY level
"""

FUNNEL_NETWORK = f"""
SELECT step,
       count() AS calls,
       countIf(is_failed) AS failed,
       countIf(is_slow) AS slow,
       quantileExactInclusive(0.95)(DurationNs) AS p95_ns,
       topKIf(3)(Endpoint, is_failed) AS failing_endpoints,
       {samples_of("SessionId", "Timestamp", "is_failed OR is_slow")} AS samples
FROM (
    SELECT f.SessionId AS SessionId, f.Timestamp AS Timestamp, f.DurationNs AS DurationNs,
           f.Endpoint AS Endpoint,
           {FAILED_CALL} AS is_failed,
           f.DurationNs >= {{{{slow_ns:UInt64}}}} AS is_slow,
           arrayCount(t -> t <= toUInt64(toUnixTimestamp64Milli(f.Timestamp)), r.reached) AS step
    FROM span_facts AS f
    INNER JOIN ({{sessions}}) AS r ON f.SessionId = r.SessionId
    WHERE f.{HTTP_SPANS}
      AND f.Timestamp >= {{{{start:DateTime64(9)}}}} AND f.Timestamp < {{{{end:DateTime64(9)}}}}
)
WHERE step > 0
GROUP BY step
ORDER BY step
"""


def validate_steps(
    runner: QueryRunner, window: TimeRange, kind: StepKind, steps: list[str]
) -> None:
    """422 unless 2..10 non-empty steps that all occur in the time range."""
    if len(steps) < 2 or len(steps) > MAX_STEPS:
        raise HTTPException(422, f"a funnel needs 2 to {MAX_STEPS} steps, got {len(steps)}")
    if any(not s.strip() for s in steps):
        raise HTTPException(422, "a funnel step is empty")
    column = "Page" if kind is StepKind.page else "SpanName"
    sql = KNOWN_STEPS.format(column=column, spans=STEP_SPANS[kind])
    known = {r["step"] for r in runner.rows(sql, {**window.parameters(), "steps": steps})}
    unknown = [s for s in steps if s not in known]
    if unknown:
        noun = "page" if kind is StepKind.page else "event (SpanName)"
        raise HTTPException(
            422, f"unknown funnel step(s) {unknown}: no such {noun} in the time range"
        )


def _sessions_sql(kind: StepKind, steps: list[str], chosen: Filters) -> str:
    conditions = [STEP_CONDITION[kind].format(i=i) for i in range(len(steps))]
    # Which steps a span matches, as bits of one integer (bit i: step i + 1): cheaper
    # than an array per span.
    step_bits = " + ".join(f"bitShiftLeft(toUInt16{c}, {i})" for i, c in enumerate(conditions))
    return FUNNEL_SESSIONS.format(
        conditions=", ".join(conditions),
        step_bits=step_bits,
        where=where(STEP_SPANS[kind], SPAN_TIME, *chosen.session_clauses()),
    )


def _parameters(
    window: TimeRange, chosen: Filters, steps: list[str], window_s: int, **extra: object
) -> dict[str, object]:
    return bound(
        window,
        chosen,
        steps=steps,
        step_count=len(steps),
        window_ms=window_s * 1000,
        **{f"step_{i}": step for i, step in enumerate(steps)},
        **extra,
    )


class FunnelStep(BaseModel):
    step: str
    sessions: int = Field(description="Sessions that reached this step (in order, in the window).")
    conversion_from_previous: float
    conversion_from_first: float
    dropped: int = Field(description="Sessions that reached this step and not the next one.")
    drop_off_samples: list[SessionMoment] = Field(
        description="Sessions that stopped here, at the moment they reached this step."
    )


class Funnel(Traced):
    kind: StepKind
    window_s: int
    steps: list[FunnelStep]


def funnel(
    runner: QueryRunner,
    window: TimeRange,
    chosen: Filters,
    *,
    kind: StepKind,
    steps: list[str],
    window_s: int,
) -> Funnel:
    validate_steps(runner, window, kind, steps)
    sql = FUNNEL.format(sessions=_sessions_sql(kind, steps, chosen))
    rows = runner.rows(sql, _parameters(window, chosen, steps, window_s))
    at_level = {int(r["level"]): r for r in rows}
    return Funnel(
        kind=kind, window_s=window_s, steps=funnel_steps(steps, at_level), queries=runner.ran
    )


def funnel_steps(steps: list[str], at_level: dict[int, dict[str, Any]]) -> list[FunnelStep]:
    """Per-level session counts -> per-step reached / dropped / conversion."""
    n = len(steps)
    reached = [
        sum(int(r["sessions"]) for lvl, r in at_level.items() if lvl >= k) for k in range(1, n + 1)
    ]
    out = []
    for k, step in enumerate(steps, start=1):
        stopped = at_level.get(k) if k < n else None
        out.append(
            FunnelStep(
                step=step,
                sessions=reached[k - 1],
                conversion_from_previous=ratio(reached[k - 1], reached[k - 2]) if k > 1 else 1.0,
                conversion_from_first=ratio(reached[k - 1], reached[0]),
                dropped=int(stopped["sessions"]) if stopped else 0,
                drop_off_samples=moments(stopped["samples"]) if stopped else [],
            )
        )
    return out


class StepCalls(BaseModel):
    step: str
    calls: int = Field(description="API calls made after reaching this step, before the next.")
    failed: int
    slow: int
    p95_ms: float
    failing_endpoints: list[str]
    samples: list[SessionMoment] = Field(description="Failed or slow calls, earliest first.")


class FunnelNetwork(Traced):
    kind: StepKind
    slow_ms: int
    steps: list[StepCalls]


def funnel_network(
    runner: QueryRunner,
    window: TimeRange,
    chosen: Filters,
    *,
    kind: StepKind,
    steps: list[str],
    window_s: int,
    slow_ms: int,
) -> FunnelNetwork:
    validate_steps(runner, window, kind, steps)
    sql = FUNNEL_NETWORK.format(sessions=_sessions_sql(kind, steps, chosen))
    rows = runner.rows(
        sql, _parameters(window, chosen, steps, window_s, slow_ns=slow_ms * 1_000_000)
    )
    by_step = {int(r["step"]): r for r in rows}
    out = []
    for k, step in enumerate(steps, start=1):
        r = by_step.get(k)
        out.append(
            StepCalls(
                step=step,
                calls=int(r["calls"]) if r else 0,
                failed=int(r["failed"]) if r else 0,
                slow=int(r["slow"]) if r else 0,
                p95_ms=ms(r["p95_ns"]) if r else 0.0,
                failing_endpoints=list(r["failing_endpoints"]) if r else [],
                samples=moments(r["samples"]) if r else [],
            )
        )
    return FunnelNetwork(kind=kind, slow_ms=slow_ms, steps=out, queries=runner.ran)
