"""Page-level product analytics on `span_facts` (migration 0015): top pages and user
journeys (the paths sessions took from or to a page). A page view is a `documentLoad`
(full load) or `routeChange` (single-page navigation) span; its page is the path of
`location.href` with id-like segments as `:id`."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from exos_query_api.filters import SPAN_TIME, Filters, bound, where
from exos_query_api.queries.common import PAGE_VIEW_SPANS, moments, samples_of
from exos_query_api.runner import QueryRunner, SessionMoment, Traced
from exos_query_api.timerange import TimeRange

VISITOR = "if(VisitorId != '', VisitorId, SessionId)"

TOP_PAGES = f"""
SELECT Page AS page,
       count() AS pageviews,
       uniq(SessionId) AS sessions,
       uniq({VISITOR}) AS visitors
FROM span_facts
{{where}}
GROUP BY page
ORDER BY pageviews DESC, page
LIMIT {{{{limit:UInt32}}}}
"""


class PageRow(BaseModel):
    page: str
    pageviews: int
    sessions: int = Field(description="Distinct sessions (exact up to 65,536, then within ~1%).")
    visitors: int = Field(description="Distinct visitors (exact up to 65,536, then within ~1%).")


class TopPages(Traced):
    pages: list[PageRow]


def top_pages(runner: QueryRunner, window: TimeRange, chosen: Filters, limit: int) -> TopPages:
    sql = TOP_PAGES.format(
        where=where(f"SpanName IN {PAGE_VIEW_SPANS}", SPAN_TIME, *chosen.span_clauses())
    )
    rows = runner.rows(sql, bound(window, chosen, limit=limit))
    return TopPages(pages=[PageRow(**r) for r in rows], queries=runner.ran)


class Direction(StrEnum):
    from_ = "from"
    to = "to"


# Each session's page views in time order, a reload of the same page collapsed; the
# first view of the anchor page; the `depth` pages after (from) or before (to) it.
JOURNEYS = f"""
SELECT path, count() AS sessions, {samples_of("SessionId", "at")} AS samples
FROM (
    SELECT SessionId,
           arraySort(x -> x.1, groupArray((Timestamp, Page))) AS ordered,
           arrayFilter((v, i) -> i = 1 OR v.2 != ordered[i - 1].2,
                       ordered, arrayEnumerate(ordered)) AS views,
           indexOf(arrayMap(v -> v.2, views), {{{{anchor:String}}}}) AS idx,
           greatest(1, toInt64(idx) - {{{{depth:UInt8}}}}) AS first,
           if({{{{direction:String}}}} = 'from',
              arraySlice(views, idx, {{{{depth:UInt8}}}} + 1),
              arraySlice(views, first, toInt64(idx) - first + 1)) AS slice,
           arrayMap(v -> v.2, slice) AS path,
           views[idx].1 AS at
    FROM span_facts
    {{where}}
    GROUP BY SessionId
    HAVING idx > 0
)
GROUP BY path
ORDER BY sessions DESC, path
LIMIT {{{{limit:UInt32}}}}
"""


class Journey(BaseModel):
    path: list[str] = Field(
        description="Pages in order; the anchor page first (from) or last (to)."
    )
    sessions: int
    samples: list[SessionMoment] = Field(description="Sessions at the anchor page view.")


class Journeys(Traced):
    anchor: str
    direction: Direction
    depth: int
    journeys: list[Journey]


def journeys(
    runner: QueryRunner,
    window: TimeRange,
    chosen: Filters,
    *,
    anchor: str,
    direction: Direction,
    depth: int,
    limit: int,
) -> Journeys:
    sql = JOURNEYS.format(
        where=where(f"SpanName IN {PAGE_VIEW_SPANS}", SPAN_TIME, *chosen.session_clauses())
    )
    rows = runner.rows(
        sql,
        bound(window, chosen, anchor=anchor, direction=direction.value, depth=depth, limit=limit),
    )
    return Journeys(
        anchor=anchor,
        direction=direction,
        depth=depth,
        journeys=[
            Journey(
                path=list(r["path"]), sessions=int(r["sessions"]), samples=moments(r["samples"])
            )
            for r in rows
        ],
        queries=runner.ran,
    )
