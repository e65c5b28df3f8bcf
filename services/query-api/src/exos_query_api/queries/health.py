"""Site health: error rate over time (on `span_hourly`), Core Web Vitals at p75 by page
with Google's good / needs-improvement / poor bands, and long tasks by page (on
`span_facts`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from exos_query_api.filters import SPAN_TIME, Filters, bound, where
from exos_query_api.queries.common import moments, ms, ratio, samples_of
from exos_query_api.runner import QueryRunner, SessionMoment, Traced
from exos_query_api.timerange import TimeRange


class Bucket(StrEnum):
    hour = "hour"
    day = "day"


BUCKET_START = {Bucket.hour: "Hour", Bucket.day: "toStartOfDay(Hour)"}

# span_hourly (migration 0017): whole hours, so a range counts every hour it overlaps.
HOURS = "Hour >= toStartOfHour({start:DateTime64(9)}) AND Hour < {end:DateTime64(9)}"

ERROR_RATE = """
SELECT {bucket} AS bucket,
       sum(Spans) AS spans,
       sum(Errors) AS errors,
       uniqMerge(Sessions) AS sessions,
       uniqMerge(ErrorSessions) AS error_sessions
FROM span_hourly
{where}
GROUP BY bucket
ORDER BY bucket
"""

TOTAL_ERRORS = """
SELECT sum(Errors) AS errors, uniqMerge(Sessions) AS sessions,
       uniqMerge(ErrorSessions) AS error_sessions
FROM span_hourly
{where}
"""


class ErrorPoint(BaseModel):
    bucket: datetime
    spans: int
    errors: int = Field(description="Spans with status Error (uncaught errors, console.error).")
    sessions: int
    error_sessions: int
    error_rate: float = Field(description="Share of the bucket's sessions with an error.")


class ErrorRate(Traced):
    bucket: Bucket
    errors: int
    sessions: int = Field(
        description="Distinct sessions (exact up to 65,536 per bucket, then within ~1%)."
    )
    error_sessions: int
    error_rate: float
    series: list[ErrorPoint] = Field(
        description="Whole hours or days: the edges of the range count whole hours."
    )


def error_rate(
    runner: QueryRunner, window: TimeRange, chosen: Filters, bucket: Bucket
) -> ErrorRate:
    condition = where(HOURS, *chosen.span_clauses())
    total = runner.rows(TOTAL_ERRORS.format(where=condition), bound(window, chosen))[0]
    rows = runner.rows(
        ERROR_RATE.format(bucket=BUCKET_START[bucket], where=condition), bound(window, chosen)
    )
    return ErrorRate(
        bucket=bucket,
        errors=int(total["errors"]),
        sessions=int(total["sessions"]),
        error_sessions=int(total["error_sessions"]),
        error_rate=ratio(int(total["error_sessions"]), int(total["sessions"])),
        series=[
            ErrorPoint(
                bucket=r["bucket"],
                spans=int(r["spans"]),
                errors=int(r["errors"]),
                sessions=int(r["sessions"]),
                error_sessions=int(r["error_sessions"]),
                error_rate=ratio(int(r["error_sessions"]), int(r["sessions"])),
            )
            for r in rows
        ],
        queries=runner.ran,
    )


# Google's thresholds (web.dev/articles/vitals): good <= first, poor > second.
# Times in ms, CLS unitless.
THRESHOLDS: dict[str, tuple[float, float]] = {
    "lcp": (2500, 4000),
    "inp": (200, 500),
    "fid": (100, 300),
    "cls": (0.1, 0.25),
    "ttfb": (800, 1800),
    "fcp": (1800, 3000),
}


def _threshold(index: int) -> str:
    arms = ", ".join(f"Vital = '{m}', {t[index]}" for m, t in THRESHOLDS.items())
    return f"multiIf({arms}, 0)"


# The SDK sends one metric per `webvitals` span; migration 0015 keeps its name (Vital)
# and value (VitalValue).
WEB_VITALS = f"""
SELECT Page AS page, Vital AS metric,
       count() AS samples,
       quantileExactInclusive(0.75)(VitalValue) AS p75,
       countIf(VitalValue <= {_threshold(0)}) AS good,
       countIf(VitalValue > {_threshold(1)}) AS poor,
       {samples_of("SessionId", "Timestamp", "VitalValue > " + _threshold(1))}
           AS poor_samples
FROM span_facts
{{where}}
GROUP BY page, metric
ORDER BY page, metric
LIMIT {{{{limit:UInt32}}}}
"""


class Band(StrEnum):
    good = "good"
    needs_improvement = "needs-improvement"
    poor = "poor"


def band_of(metric: str, value: float) -> Band:
    good, poor = THRESHOLDS[metric]
    if value <= good:
        return Band.good
    return Band.poor if value > poor else Band.needs_improvement


class VitalRow(BaseModel):
    page: str
    metric: str = Field(description="lcp, inp, fid, cls, ttfb or fcp (ms; cls unitless).")
    samples: int
    p75: float
    band: Band = Field(description="Band of the p75 by Google's thresholds.")
    good_share: float
    needs_improvement_share: float
    poor_share: float
    poor_samples: list[SessionMoment]


class WebVitals(Traced):
    thresholds: dict[str, tuple[float, float]] = Field(
        description="Per metric: good up to the first value, poor above the second."
    )
    vitals: list[VitalRow]


def web_vitals(runner: QueryRunner, window: TimeRange, chosen: Filters, limit: int) -> WebVitals:
    sql = WEB_VITALS.format(
        where=where("SpanName = 'webvitals'", "Vital != ''", SPAN_TIME, *chosen.span_clauses())
    )
    rows = runner.rows(sql, bound(window, chosen, limit=limit))
    vitals = []
    for r in rows:
        n, good, poor = int(r["samples"]), int(r["good"]), int(r["poor"])
        p75 = round(float(r["p75"]), 4)
        vitals.append(
            VitalRow(
                page=r["page"],
                metric=r["metric"],
                samples=n,
                p75=p75,
                band=band_of(r["metric"], p75),
                good_share=ratio(good, n),
                needs_improvement_share=ratio(n - good - poor, n),
                poor_share=ratio(poor, n),
                poor_samples=moments(r["poor_samples"]),
            )
        )
    return WebVitals(thresholds=THRESHOLDS, vitals=vitals, queries=runner.ran)


LONG_TASKS = """
SELECT Page AS page,
       count() AS tasks,
       uniq(SessionId) AS sessions,
       sum(DurationNs) AS total_ns,
       sum(DurationNs - least(DurationNs, 50000000)) AS blocking_ns,
       quantileExactInclusive(0.75)(DurationNs) AS p75_ns,
       max(DurationNs) AS max_ns,
       argMax((SessionId, Timestamp), DurationNs) AS worst
FROM span_facts
{where}
GROUP BY page
ORDER BY total_ns DESC, page
LIMIT {{limit:UInt32}}
"""


class LongTaskRow(BaseModel):
    page: str
    tasks: int
    sessions: int
    total_ms: float
    blocking_ms: float = Field(description="Sum of the time past 50 ms of each task (TBT).")
    p75_ms: float
    max_ms: float
    worst: SessionMoment = Field(description="The longest task: its session and start.")


class LongTasks(Traced):
    pages: list[LongTaskRow]


def long_tasks(runner: QueryRunner, window: TimeRange, chosen: Filters, limit: int) -> LongTasks:
    sql = LONG_TASKS.format(where=where("SpanName = 'longtask'", SPAN_TIME, *chosen.span_clauses()))
    rows = runner.rows(sql, bound(window, chosen, limit=limit))
    return LongTasks(
        pages=[
            LongTaskRow(
                page=r["page"],
                tasks=int(r["tasks"]),
                sessions=int(r["sessions"]),
                total_ms=ms(r["total_ns"]),
                blocking_ms=ms(r["blocking_ns"]),
                p75_ms=ms(r["p75_ns"]),
                max_ms=ms(r["max_ns"]),
                worst=moments([r["worst"]])[0],
            )
            for r in rows
        ],
        queries=runner.ran,
    )
