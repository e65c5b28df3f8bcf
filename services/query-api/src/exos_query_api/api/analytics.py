"""Product analytics routes (`/api/analytics/*`): sessions, pages, breakdowns, journeys,
funnels, retention and the API calls behind them. Thin: the SQL and shaping live in
`exos_query_api.queries`."""

# No `from __future__ import annotations`: the routes' `Runner` alias is local to the
# factory, and FastAPI must see it evaluated.
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from exos_common.service.readstore import StoreProvider
from exos_query_api.api.deps import Limit, runner_dependency
from exos_query_api.filters import FiltersParam
from exos_query_api.queries import funnels, network, pages, sessions
from exos_query_api.runner import QueryRunner
from exos_query_api.timerange import TimeRangeParam

Steps = Annotated[
    list[str],
    Query(
        description="The funnel's steps in order, repeated (`steps=a&steps=b`): page paths "
        "(`/orders/:id`) or SpanNames (`email.sent`), 2 to 10, each present in the range.",
    ),
]
Kind = Annotated[
    funnels.StepKind,
    Query(description="`page`: steps are page views of these pages; `event`: SpanNames."),
]
WindowSeconds = Annotated[
    int,
    Query(ge=1, le=30 * 86400, description="Longest time from step 1 to the last step (s)."),
]
SlowMs = Annotated[
    int, Query(ge=1, le=600_000, description="A call taking at least this long is slow (ms).")
]


def build_router(provider: StoreProvider) -> APIRouter:
    router = APIRouter(prefix="/api/analytics", tags=["product analytics"])
    Runner = Annotated[QueryRunner, Depends(runner_dependency(provider))]

    @router.get(
        "/overview",
        response_model=sessions.Overview,
        summary="Sessions, visitors, page views, bounce rate, duration",
        description="Over the sessions that started in the range and match the filters (with "
        "`page`: the sessions that viewed it).",
    )
    def overview(window: TimeRangeParam, chosen: FiltersParam, runner: Runner) -> sessions.Overview:
        return sessions.overview(runner, window, chosen)

    @router.get(
        "/pages",
        response_model=pages.TopPages,
        summary="Top pages by page views",
        description="Page views (documentLoad + routeChange), sessions and visitors per page.",
    )
    def top_pages(
        window: TimeRangeParam, chosen: FiltersParam, runner: Runner, limit: Limit = 20
    ) -> pages.TopPages:
        return pages.top_pages(runner, window, chosen, limit)

    @router.get(
        "/breakdown",
        response_model=sessions.Breakdown,
        summary="Sessions by browser, OS, device type, country, city or service",
        description="The `visitor.*` attributes enrich sets, one row per value.",
    )
    def breakdown(
        window: TimeRangeParam,
        chosen: FiltersParam,
        runner: Runner,
        dimension: Annotated[sessions.Dimension, Query(description="What to group by.")],
        limit: Limit = 20,
    ) -> sessions.Breakdown:
        return sessions.breakdown(runner, window, chosen, dimension, limit)

    @router.get(
        "/journeys",
        response_model=pages.Journeys,
        summary="User journeys: the paths sessions took from or to a page",
        description="Per session, the pages after (`from`) or before (`to`) its first view of "
        "`anchor` (a reload of the same page collapsed), grouped; samples open the replay at "
        "the anchor page view.",
    )
    def journeys(
        window: TimeRangeParam,
        chosen: FiltersParam,
        runner: Runner,
        anchor: Annotated[
            str, Query(min_length=1, max_length=300, description="The page (`/orders/:id`).")
        ],
        direction: Annotated[pages.Direction, Query(description="`from` or `to` the anchor.")] = (
            pages.Direction.from_
        ),
        depth: Annotated[int, Query(ge=1, le=10, description="Pages after/before it.")] = 3,
        limit: Limit = 20,
    ) -> pages.Journeys:
        return pages.journeys(
            runner, window, chosen, anchor=anchor, direction=direction, depth=depth, limit=limit
        )

    @router.get(
        "/funnel",
        response_model=funnels.Funnel,
        summary="Funnel over pages or events (windowFunnel)",
        description="Sessions reaching each step in order within `window_s`, conversion, and "
        "for every drop-off sample sessions at the moment they reached the step they stopped "
        "at. Unknown or empty steps: 422.",
    )
    def funnel(
        window: TimeRangeParam,
        chosen: FiltersParam,
        runner: Runner,
        steps: Steps,
        kind: Kind = funnels.StepKind.page,
        window_s: WindowSeconds = 3600,
    ) -> funnels.Funnel:
        return funnels.funnel(runner, window, chosen, kind=kind, steps=steps, window_s=window_s)

    @router.get(
        "/funnel/network",
        response_model=funnels.FunnelNetwork,
        summary="Failed and slow API calls by funnel step",
        description="The calls a session made after reaching each step and before the next "
        "(the last step: until the session ended), with samples of the failed or slow ones.",
    )
    def funnel_network(
        window: TimeRangeParam,
        chosen: FiltersParam,
        runner: Runner,
        steps: Steps,
        kind: Kind = funnels.StepKind.page,
        window_s: WindowSeconds = 3600,
        slow_ms: SlowMs = 1000,
    ) -> funnels.FunnelNetwork:
        return funnels.funnel_network(
            runner, window, chosen, kind=kind, steps=steps, window_s=window_s, slow_ms=slow_ms
        )

    @router.get(
        "/network",
        response_model=network.CallsByPage,
        summary="Failed and slow API calls by page",
        description="Pages whose API calls failed (HTTP >= 400 or network error) or took at "
        "least `slow_ms`, worst first.",
    )
    def calls_by_page(
        window: TimeRangeParam,
        chosen: FiltersParam,
        runner: Runner,
        slow_ms: SlowMs = 1000,
        limit: Limit = 20,
    ) -> network.CallsByPage:
        return network.calls_by_page(runner, window, chosen, slow_ms=slow_ms, limit=limit)

    @router.get(
        "/retention",
        response_model=sessions.Retention,
        summary="Weekly retention by cohort",
        description="Visitors grouped by the week (Monday) of their first session in the "
        "range; for each later week, how many came back.",
    )
    def retention(
        window: TimeRangeParam,
        chosen: FiltersParam,
        runner: Runner,
        weeks: Annotated[int, Query(ge=1, le=52, description="Weeks after the cohort's.")] = 8,
    ) -> sessions.Retention:
        return sessions.retention(runner, window, chosen, weeks)

    return router
