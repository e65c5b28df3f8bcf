"""Session-level product analytics on `session_summary` (migration 0016): overview,
breakdowns by a visitor attribute, and weekly retention cohorts. A session belongs to the
time range when it started in it."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from exos_query_api.filters import Filters, bound, where
from exos_query_api.queries.common import SESSION_TIME, SESSIONS, ratio
from exos_query_api.runner import QueryRunner, Traced
from exos_query_api.timerange import TimeRange

OVERVIEW = """
SELECT count() AS sessions,
       uniqExact(Visitor) AS visitors,
       sum(PageViews) AS pageviews,
       countIf(PageViews >= 1) AS sessions_with_pageviews,
       countIf(PageViews = 1) AS bounces,
       avg(duration_s) AS avg_duration_s,
       quantileExactInclusive(0.5)(duration_s) AS median_duration_s
FROM (
    SELECT *, dateDiff('millisecond', Started, Ended) / 1000 AS duration_s
    FROM ({sessions})
)
{where}
"""


class Overview(Traced):
    sessions: int
    visitors: int = Field(description="Distinct `visitor.id` (a session without one counts once).")
    pageviews: int = Field(description="documentLoad + routeChange spans of those sessions.")
    pageviews_per_session: float
    bounce_rate: float = Field(
        description="Share of sessions with page views that had exactly one."
    )
    avg_duration_s: float = Field(description="First to last span of a session, averaged.")
    median_duration_s: float


def overview(runner: QueryRunner, window: TimeRange, chosen: Filters) -> Overview:
    sql = OVERVIEW.format(sessions=SESSIONS, where=where(SESSION_TIME, *chosen.session_clauses()))
    row = runner.rows(sql, bound(window, chosen))[0]
    sessions = int(row["sessions"])
    return Overview(
        sessions=sessions,
        visitors=int(row["visitors"]),
        pageviews=int(row["pageviews"]),
        pageviews_per_session=round(ratio(int(row["pageviews"]), sessions), 3),
        bounce_rate=ratio(int(row["bounces"]), int(row["sessions_with_pageviews"])),
        avg_duration_s=round(float(row["avg_duration_s"] or 0), 3) if sessions else 0.0,
        median_duration_s=round(float(row["median_duration_s"] or 0), 3) if sessions else 0.0,
        queries=runner.ran,
    )


class Dimension(StrEnum):
    browser = "browser"
    os = "os"
    device = "device"
    country = "country"
    city = "city"
    service = "service"


DIMENSION_COLUMNS = {
    Dimension.browser: "Browser",
    Dimension.os: "Os",
    Dimension.device: "DeviceType",
    Dimension.country: "Country",
    Dimension.city: "City",
    Dimension.service: "ServiceName",
}

BREAKDOWN = """
SELECT {column} AS value,
       count() AS sessions,
       uniqExact(Visitor) AS visitors,
       sum(PageViews) AS pageviews,
       countIf(PageViews = 1) AS bounces,
       countIf(PageViews >= 1) AS sessions_with_pageviews
FROM ({sessions})
{where}
GROUP BY value
ORDER BY sessions DESC, value
LIMIT {{limit:UInt32}}
"""


class BreakdownRow(BaseModel):
    value: str = Field(description="The attribute's value ('' when enrich did not know it).")
    sessions: int
    visitors: int
    pageviews: int
    share: float = Field(description="Share of all sessions in the range.")
    bounce_rate: float


class Breakdown(Traced):
    dimension: Dimension
    rows: list[BreakdownRow]


def breakdown(
    runner: QueryRunner, window: TimeRange, chosen: Filters, dimension: Dimension, limit: int
) -> Breakdown:
    sql = BREAKDOWN.format(
        column=DIMENSION_COLUMNS[dimension],
        sessions=SESSIONS,
        where=where(SESSION_TIME, *chosen.session_clauses()),
    )
    rows = runner.rows(sql, bound(window, chosen, limit=limit))
    total = sum(int(r["sessions"]) for r in rows)
    return Breakdown(
        dimension=dimension,
        rows=[
            BreakdownRow(
                value=str(r["value"]),
                sessions=int(r["sessions"]),
                visitors=int(r["visitors"]),
                pageviews=int(r["pageviews"]),
                share=ratio(int(r["sessions"]), total),
                bounce_rate=ratio(int(r["bounces"]), int(r["sessions_with_pageviews"])),
            )
            for r in rows
        ],
        queries=runner.ran,
    )


RETENTION = """
SELECT cohort, intDiv(dateDiff('day', cohort, week), 7) AS week_offset,
       uniqExact(Visitor) AS visitors
FROM (
    SELECT Visitor, week, min(week) OVER (PARTITION BY Visitor) AS cohort
    FROM (SELECT Visitor, toMonday(Started) AS week FROM ({sessions}) {where})
)
WHERE week_offset < {{weeks:UInt8}}
GROUP BY cohort, week_offset
ORDER BY cohort, week_offset
"""


class Cohort(BaseModel):
    cohort_week: date = Field(description="Monday of the week of the visitors' first session.")
    visitors: int
    retained: list[int] = Field(
        description="Visitors of the cohort active in week 0, 1, 2, ... after it."
    )
    rates: list[float]


class Retention(Traced):
    weeks: int
    cohorts: list[Cohort]


def retention(runner: QueryRunner, window: TimeRange, chosen: Filters, weeks: int) -> Retention:
    """Cohorts by the week of a visitor's first session in the time range."""
    sql = RETENTION.format(sessions=SESSIONS, where=where(SESSION_TIME, *chosen.session_clauses()))
    rows = runner.rows(sql, bound(window, chosen, weeks=weeks))
    return Retention(weeks=weeks, cohorts=cohorts_of(rows, weeks), queries=runner.ran)


def cohorts_of(rows: list[dict[str, Any]], weeks: int) -> list[Cohort]:
    by_cohort: dict[date, list[int]] = {}
    for row in rows:
        counts = by_cohort.setdefault(row["cohort"], [0] * weeks)
        counts[int(row["week_offset"])] = int(row["visitors"])
    out = []
    for cohort, counts in sorted(by_cohort.items()):
        size = counts[0]
        out.append(
            Cohort(
                cohort_week=cohort,
                visitors=size,
                retained=counts,
                rates=[ratio(c, size) for c in counts],
            )
        )
    return out
