"""Process mining routes (`/api/process/...`): operator leaderboard, variants,
bottlenecks, process map, funnels, conformance, rework and anomalies. Case-centric views
take `over=orders` (domain events of orders, the default) or `over=pages` (page flows
of browser sessions)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from exos_common.service.readstore import StoreProvider
from exos_common.store import Store
from exos_query_api.process import series, views
from exos_query_api.process.eventlog import OverParam, ProcessFiltersParam
from exos_query_api.process.logic import parse_steps
from exos_query_api.process.models import (
    AnomaliesResponse,
    BottlenecksResponse,
    ConformanceResponse,
    FunnelResponse,
    OperatorsResponse,
    ProcessMapResponse,
    ReworkResponse,
    VariantsResponse,
)
from exos_query_api.runner import QueryRunner, traced
from exos_query_api.timerange import TimeRangeParam

Limit = Annotated[int, Query(ge=1, le=100, description="Rows to return (1-100).")]
Samples = Annotated[
    int, Query(ge=1, le=10, description="Sample sessions per row (1-10), to open the replay.")
]
StepList = Annotated[
    list[str] | None,
    Query(description="Activities (or pages), comma-separated or repeated.", max_length=32),
]


def build_router(provider: StoreProvider) -> APIRouter:
    router = APIRouter(prefix="/api/process", tags=["process mining"])
    StoreDep = Annotated[Store, Depends(provider.get)]

    def scope(
        store: Store, window: TimeRangeParam, over: str, filters: ProcessFiltersParam
    ) -> views.Scope:
        return views.Scope(QueryRunner(store), window, over, filters)  # type: ignore[arg-type]

    @router.get(
        "/operators",
        summary="Operator patterns leaderboard",
        description="Operators ranked by activity volume (domain events), with the orders "
        "and sessions they worked, their task distribution over the eight categories, "
        "their top activities, and the automation opportunity: the share of their "
        "events that are routine (system actions, e-mails). Filters apply to events.",
    )
    def operators(
        store: StoreDep,
        window: TimeRangeParam,
        filters: ProcessFiltersParam,
        limit: Limit = 20,
    ) -> OperatorsResponse:
        runner = QueryRunner(store)
        return traced(series.operators(runner, window, filters, limit), runner)

    @router.get(
        "/variants",
        summary="Process variants with a narrative",
        description="Each case's activities in time order (groupArray), hashed "
        "(cityHash64) into variants, most frequent first, with duration, the "
        "most common LOBs or services (topK), sample cases at their first event and a "
        "short generated narrative.",
    )
    def variants(
        store: StoreDep,
        window: TimeRangeParam,
        filters: ProcessFiltersParam,
        over: OverParam = "orders",
        limit: Limit = 10,
        samples: Samples = 3,
    ) -> VariantsResponse:
        s = scope(store, window, over, filters)
        return traced(views.variants(s, limit, samples), s.runner)

    @router.get(
        "/bottlenecks",
        summary="Transition bottlenecks",
        description="Time between consecutive activities of a case (lagInFrame): "
        "avg/p50/p95/max seconds per transition, slowest p95 first, each with its "
        "slowest instances (the session and moment the wait ended, and where it began).",
    )
    def bottlenecks(
        store: StoreDep,
        window: TimeRangeParam,
        filters: ProcessFiltersParam,
        over: OverParam = "orders",
        limit: Limit = 10,
        samples: Samples = 3,
        min_transitions: Annotated[
            int, Query(ge=1, le=1_000_000, description="Ignore rarer transitions.")
        ] = 1,
    ) -> BottlenecksResponse:
        s = scope(store, window, over, filters)
        return traced(views.bottlenecks(s, limit, samples, min_transitions), s.runner)

    @router.get(
        "/map",
        summary="Process map (directly-follows graph)",
        description="Nodes (activities: events, cases, cases starting and ending there) "
        "and edges (directly-follows transitions: frequency, cases, median and p95 time).",
    )
    def process_map(
        store: StoreDep,
        window: TimeRangeParam,
        filters: ProcessFiltersParam,
        over: OverParam = "orders",
        limit: Annotated[int, Query(ge=1, le=500, description="Most frequent edges.")] = 100,
        min_frequency: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    ) -> ProcessMapResponse:
        s = scope(store, window, over, filters)
        return traced(views.process_map(s, limit, min_frequency), s.runner)

    @router.get(
        "/funnel",
        summary="Funnel over chosen steps",
        description="How many cases reach each step in order within the window "
        "(windowFunnel), with conversion and the cases that stopped at each step "
        "(sample sessions at that step). Default steps: the happy path (orders) or the "
        "most common page flow's first five pages (pages). Unknown step: 422.",
    )
    def funnel(
        store: StoreDep,
        window: TimeRangeParam,
        filters: ProcessFiltersParam,
        over: OverParam = "orders",
        steps: StepList = None,
        window_s: Annotated[
            int, Query(ge=1, le=400 * 86400, description="Funnel window in seconds.")
        ] = 30 * 86400,
        samples: Samples = 3,
    ) -> FunnelResponse:
        s = scope(store, window, over, filters)
        return traced(views.funnel(s, parse_steps(steps, "steps"), window_s, samples), s.runner)

    @router.get(
        "/conformance",
        summary="Conformance to a happy path",
        description="Share of cases that run the path's steps in order with no other "
        "path step in between (sequenceMatch); non-conforming cases grouped by the first "
        "step they missed, with sample sessions at the deviating event. Default path: "
        "the demo's happy path (orders) or the most common page flow (pages).",
    )
    def conformance(
        store: StoreDep,
        window: TimeRangeParam,
        filters: ProcessFiltersParam,
        over: OverParam = "orders",
        path: StepList = None,
        samples: Samples = 3,
    ) -> ConformanceResponse:
        s = scope(store, window, over, filters)
        return traced(views.conformance(s, parse_steps(path, "path"), samples), s.runner)

    @router.get(
        "/rework",
        summary="Rework loops",
        description="How often each case runs the loop's steps in order (sequenceCount; "
        "default review.started -> revision.requested for orders); without a loop over "
        "pages, returns to a page the session saw before. Distribution, top cases and "
        "sample sessions at each loop.",
    )
    def rework(
        store: StoreDep,
        window: TimeRangeParam,
        filters: ProcessFiltersParam,
        over: OverParam = "orders",
        loop: StepList = None,
        limit: Limit = 20,
        samples: Samples = 3,
    ) -> ReworkResponse:
        s = scope(store, window, over, filters)
        return traced(views.rework(s, parse_steps(loop, "loop"), limit, samples), s.runner)

    @router.get(
        "/anomalies",
        summary="Anomalies (rolling z-score)",
        description="A series counted per bucket, each bucket scored against the mean and "
        "standard deviation of the `window` buckets before it; |z| >= threshold is an "
        "anomaly, with the sessions behind it. Series: orders (order.created), events, "
        "activity (needs `activity`), http_errors, rage_clicks, errors.",
    )
    def anomalies(
        store: StoreDep,
        window: TimeRangeParam,
        filters: ProcessFiltersParam,
        series_name: Annotated[
            Literal["orders", "events", "activity", "http_errors", "rage_clicks", "errors"],
            Query(alias="series"),
        ] = "orders",
        activity: Annotated[str | None, Query(max_length=200)] = None,
        bucket: Literal["hour", "day"] = "hour",
        baseline: Annotated[
            int | None,
            Query(
                alias="window",
                ge=2,
                le=500,
                description="Buckets in the baseline (default 24 hours / 7 days).",
            ),
        ] = None,
        threshold: Annotated[float, Query(gt=0, le=100)] = 3.0,
        samples: Samples = 3,
    ) -> AnomaliesResponse:
        runner = QueryRunner(store)
        return traced(
            series.anomalies(
                runner,
                window,
                filters,
                series.AnomalyQuery(series_name, activity, bucket, baseline, threshold, samples),
            ),
            runner,
        )

    return router
