"""The event log a process view mines, as a `log` CTE with the columns
`case_id, activity, ts, session_id`:

`segment` is what variants break down by (topK): the order's LOB, or the service.

- `orders` (default): the domain events of `process_events` (migration 0010); a case is
  an order, an activity a SpanName such as `review.started`. The filters (service,
  operator, team, LOB, vendor) choose cases: an order is in when any of its events in the
  time range matches, and then all its events in the range are, so traces stay whole.
- `pages`: the page views (`documentLoad`, `routeChange`) of `span_facts`; a case is a
  browser session (`rum.sessionId`), an activity a page path with id-like segments as
  `:id` (`/orders/ORD-1042/documents` -> `/orders/:id/documents`), a reload of the same
  page not repeated. Only the service filter applies.

The SQL varies only between the fixed fragments below, chosen by which filters are set;
every value is a bound `{name:Type}` parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Query

from exos_query_api.categories import CATEGORIES, category_sql
from exos_query_api.timerange import TimeRange

Over = Literal["orders", "pages"]

RANGE = "Timestamp >= {start:DateTime64(9)} AND Timestamp < {end:DateTime64(9)}"

# Column of process_events for each filter.
FILTER_COLUMNS = {
    "service": "ServiceName",
    "operator": "OperatorId",
    "team": "OperatorTeam",
    "lob": "Lob",
    "vendor": "VendorId",
}

_ORDERS_LOG = f"""log AS (
    SELECT OrderId AS case_id, Activity AS activity, Timestamp AS ts, SessionId AS session_id,
        Lob AS segment
    FROM process_events
    WHERE OrderId != '' AND {RANGE}/*CATEGORIES*//*CASES*/
)"""

# Page views from span_facts (migration 0015, the analytics rollup: Page is the path
# with ids as :id), so page flows never read the Map columns of otel_traces.
_PAGES_LOG = f"""log AS (
    SELECT case_id, activity, ts, session_id, segment
    FROM (
        SELECT SessionId AS case_id,
            Page AS activity,
            Timestamp AS ts,
            SessionId AS session_id,
            ServiceName AS segment,
            lagInFrame(activity, 1, '') OVER (
                PARTITION BY case_id ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW
            ) AS previous
        FROM span_facts
        WHERE SpanName IN ('documentLoad', 'routeChange') AND {RANGE}
            AND SessionId != ''/*SERVICE*/
    )
    WHERE activity != previous
)"""

_TEXT = {"max_length": 200}


@dataclass(frozen=True, slots=True)
class ProcessFilters:
    service: str | None = None
    operator: str | None = None
    team: str | None = None
    lob: str | None = None
    vendor: str | None = None
    categories: tuple[str, ...] | None = None

    def chosen(self) -> dict[str, str]:
        return {
            name: value for name in FILTER_COLUMNS if (value := getattr(self, name)) is not None
        }

    def clauses(self) -> list[str]:
        """`Column = {name:String}` of process_events for each filter set."""
        return [f"{FILTER_COLUMNS[name]} = {{{name}:String}}" for name in self.chosen()]


def process_filters(
    service: Annotated[str | None, Query(description="`service.name` of the app.", **_TEXT)] = None,
    operator: Annotated[
        str | None, Query(description="`operator.id` (orders the operator worked on).", **_TEXT)
    ] = None,
    team: Annotated[str | None, Query(description="`operator.team`.", **_TEXT)] = None,
    lob: Annotated[
        str | None, Query(description="`order.lob` (line of business).", **_TEXT)
    ] = None,
    vendor: Annotated[str | None, Query(description="`vendor.id`.", **_TEXT)] = None,
    categories: Annotated[
        list[str] | None,
        Query(
            description="Keep only these activity categories (orders), e.g. "
            "`Order Lifecycle,Valuation,Field Work,Quality Control,Document,Other`; "
            "comma-separated or repeated. `Other`: activities of no category.",
            max_length=9,
        ),
    ] = None,
) -> ProcessFilters:
    chosen = None
    if categories:
        chosen = tuple(p.strip() for c in categories for p in c.split(",") if p.strip())
        known = [*CATEGORIES.values(), "Other"]
        unknown = [c for c in chosen if c not in known]
        if unknown:
            raise HTTPException(
                422, f"unknown categories: {', '.join(unknown)}; known: {', '.join(known)}"
            )
    return ProcessFilters(service, operator, team, lob, vendor, chosen)


ProcessFiltersParam = Annotated[ProcessFilters, Depends(process_filters)]
OverParam = Annotated[
    Over,
    Query(
        description="`orders`: cases are orders, activities their domain events; "
        "`pages`: cases are browser sessions, activities the pages they viewed."
    ),
]


def event_log(over: Over, filters: ProcessFilters) -> str:
    """The `log` CTE (without `WITH`) for `over` and the filters set."""
    if over == "pages":
        extra = set(filters.chosen()) - {"service"}
        if filters.categories:
            extra.add("categories")
        if extra:
            raise HTTPException(
                422, f"filter(s) {', '.join(sorted(extra))} apply to over=orders only"
            )
        service = " AND ServiceName = {service:String}" if filters.service is not None else ""
        return _PAGES_LOG.replace("/*SERVICE*/", service)
    cases = case_filter(filters)
    kept = ""
    if filters.categories:
        kept = (
            f" AND if({category_sql('Activity')} = '', 'Other', {category_sql('Activity')})"
            " IN {categories:Array(String)}"
        )
    return _ORDERS_LOG.replace("/*CASES*/", cases).replace("/*CATEGORIES*/", kept)


def without_categories(filters: ProcessFilters) -> ProcessFilters:
    """For views over every category (OCPM, exports): refuse the categories filter."""
    if filters.categories:
        raise HTTPException(422, "the categories filter applies to /api/process views only")
    return filters


def case_filter(filters: ProcessFilters) -> str:
    """` AND OrderId IN (...)`: the orders with an event in the range that matches every
    filter set ('' when none is)."""
    clauses = filters.clauses()
    if not clauses:
        return ""
    return (
        f"\n        AND OrderId IN (SELECT OrderId FROM process_events WHERE OrderId != '' "
        f"AND {RANGE} AND {' AND '.join(clauses)})"
    )


def event_filter(filters: ProcessFilters) -> str:
    """` AND ...` conditions on process_events rows themselves (for per-event views such
    as the operator leaderboard and anomaly series)."""
    return "".join(f" AND {clause}" for clause in filters.clauses())


def bound(window: TimeRange, filters: ProcessFilters, **extra: Any) -> dict[str, Any]:
    kept = {"categories": list(filters.categories)} if filters.categories else {}
    return {**window.parameters(), **filters.chosen(), **kept, **extra}


def with_log(over: Over, filters: ProcessFilters, body: str, *more_ctes: str) -> str:
    """`WITH log AS (...), <more ctes> <body>`."""
    ctes = ",\n".join((event_log(over, filters), *more_ctes))
    return f"WITH {ctes}\n{body.strip()}"


def conditions(array_parameter: str, count: int) -> str:
    """`activity = {steps:Array(String)}[1], ...`: one condition per step of a bound
    array (the SQL varies only with the number of steps)."""
    return ", ".join(
        f"activity = {{{array_parameter}:Array(String)}}[{i}]" for i in range(1, count + 1)
    )


def pattern(count: int) -> str:
    """`(?1)(?2)...`: the steps in order, for sequenceMatch / sequenceCount."""
    return "".join(f"(?{i})" for i in range(1, count + 1))


# Milliseconds since the epoch: sequence functions order events by an unsigned integer,
# and domain events of one task are often less than a second apart.
MS = "toUInt64(toUnixTimestamp64Milli(ts))"
