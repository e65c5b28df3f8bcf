"""The object-centric views: run `ocpm.sql` over the `ocel` CTE, shape the rows."""

from __future__ import annotations

from typing import Any

from exos_query_api.categories import CATEGORIES
from exos_query_api.ocpm import sql
from exos_query_api.ocpm.models import (
    CategoriesResponse,
    Category,
    Handoff,
    HandoffsResponse,
    Interaction,
    InteractionsResponse,
    Lifecycle,
    LifecycleResponse,
    VendorContention,
    VendorsResponse,
    VendorWaitSample,
)
from exos_query_api.process.eventlog import ProcessFilters, bound, case_filter, without_categories
from exos_query_api.process.logic import finite, pct
from exos_query_api.process.views import (
    from_ns,
    sampled_moments,
    sessions_at,
    transition_samples,
)
from exos_query_api.runner import QueryRunner
from exos_query_api.timerange import TimeRange

PREFIXES = {category: prefix for prefix, category in CATEGORIES.items()}


class OcpmScope:
    def __init__(self, runner: QueryRunner, window: TimeRange, filters: ProcessFilters) -> None:
        self.runner = runner
        self.window = window
        self.filters = without_categories(filters)

    def rows(self, body: str, **parameters: Any) -> list[dict[str, Any]]:
        statement = "WITH " + sql.OCEL_CTE.replace("/*CASES*/", case_filter(self.filters)) + body
        return self.runner.rows(statement, bound(self.window, self.filters, **parameters))


def _round(value: float | None) -> float | None:
    number = finite(value)
    return None if number is None else round(number, 3)


def _category(r: dict[str, Any]) -> Category:
    return Category(
        category=r["category"],
        prefix=PREFIXES[r["category"]] + "*",
        events=r["events"],
        orders=r["orders"],
        operators=r["operators"],
        sessions=r["sessions"],
        activities=list(r["activities"]),
    )


def categories(scope: OcpmScope) -> CategoriesResponse:
    rows = scope.rows(sql.CATEGORIES)
    other = [r for r in rows if not r["category"]]
    return CategoriesResponse(
        categories=[_category(r) for r in rows if r["category"]],
        uncategorized_events=sum(int(r["events"]) for r in other),
        uncategorized_activities=[a for r in other for a in r["activities"]],
    )


def interactions(scope: OcpmScope) -> InteractionsResponse:
    nodes = [_category(r) for r in scope.rows(sql.CATEGORIES) if r["category"]]
    edges = scope.rows(sql.INTERACTIONS)
    # Orders with two categories or more: each has at least one pair; count them once.
    multi = scope.rows(sql.MULTI_CATEGORY_ORDERS)
    total = int(multi[0]["orders"]) if multi else 0
    return InteractionsResponse(
        nodes=nodes,
        edges=[
            Interaction(
                category_a=e["category_a"],
                category_b=e["category_b"],
                orders=e["orders"],
                share_pct=pct(e["orders"], total),
            )
            for e in edges
        ],
    )


def handoffs(scope: OcpmScope, limit: int, samples: int) -> HandoffsResponse:
    rows = scope.rows(sql.HANDOFFS, limit=limit, samples=samples)
    sessions = sessions_at(scope.runner, sampled_moments(rows))
    return HandoffsResponse(
        handoffs=[
            Handoff(
                from_category=r["from_category"],
                to_category=r["to_category"],
                handoffs=r["handoffs"],
                orders=r["orders"],
                avg_s=round(r["avg_s"], 3),
                p50_s=round(r["p50_s"], 3),
                p95_s=round(r["p95_s"], 3),
                samples=transition_samples(r["samples"], sessions),
            )
            for r in rows
        ]
    )


def lifecycles(scope: OcpmScope) -> LifecycleResponse:
    return LifecycleResponse(
        lifecycles=[
            Lifecycle(
                name=r["name"],
                objects=r["objects"],
                avg_s=round(r["avg_s"], 3),
                p50_s=round(r["p50_s"], 3),
                p95_s=round(r["p95_s"], 3),
                max_s=round(r["max_s"], 3),
            )
            for r in scope.rows(sql.LIFECYCLES)
        ]
    )


def vendors(
    scope: OcpmScope, wait_from: str, wait_to: str, limit: int, samples: int
) -> VendorsResponse:
    rows = scope.rows(
        sql.VENDOR_CONTENTION,
        wait_from=wait_from,
        wait_to=wait_to,
        limit=limit,
        samples=samples,
    )
    starts = {(s[2], s[1]) for r in rows for s in (r["samples"] or [])}
    sessions = sessions_at(scope.runner, starts)
    out = []
    for r in rows:
        waits = int(r["waits"] or 0)
        out.append(
            VendorContention(
                vendor_id=r["vendor_id"],
                vendor_name=r["vendor_name"],
                orders=r["orders"],
                rework_rate_pct=pct(r["reworked"], r["orders"]),
                waits=waits,
                open_waits=int(r["open_waits"] or 0),
                avg_wait_s=_round(r["avg_wait_s"]),
                p50_wait_s=_round(r["p50_wait_s"]),
                p95_wait_s=_round(r["p95_wait_s"]),
                peak_concurrent=int(r["peak"] or 0),
                peak_at=r["peak_at"] if waits else None,
                samples=[
                    VendorWaitSample(
                        wait_s=round(-s[0], 3),
                        at=from_ns(s[1]),
                        session_id=sessions.get((s[2], s[1]), ""),
                        case_id=s[2],
                    )
                    for s in (r["samples"] or [])
                ],
            )
        )
    return VendorsResponse(wait_from=wait_from, wait_to=wait_to, vendors=out)
