"""Object-centric process mining routes (`/api/ocpm/...`): the eight categories, their
interaction graph, cross-category handoffs, lifecycles, vendor contention, and the
event log as OCEL 2.0 JSON or XES (streamed downloads)."""

from collections.abc import Generator
from contextlib import closing
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from exos_common.service.readstore import StoreProvider
from exos_common.store import Store
from exos_query_api.ocpm import export, views
from exos_query_api.ocpm.models import (
    CategoriesResponse,
    HandoffsResponse,
    InteractionsResponse,
    LifecycleResponse,
    VendorsResponse,
)
from exos_query_api.process.eventlog import ProcessFiltersParam
from exos_query_api.process.views import Scope
from exos_query_api.runner import QueryRunner, Traced, traced
from exos_query_api.streaming import ClosingStreamingResponse
from exos_query_api.timerange import TimeRangeParam

Limit = Annotated[int, Query(ge=1, le=100, description="Rows to return (1-100).")]
Samples = Annotated[
    int, Query(ge=1, le=10, description="Sample sessions per row (1-10), to open the replay.")
]
Explain = Annotated[
    bool, Query(description="Return the SQL the export runs (as JSON) instead of the file.")
]


def build_router(provider: StoreProvider) -> APIRouter:
    router = APIRouter(prefix="/api/ocpm", tags=["object-centric process mining"])
    StoreDep = Annotated[Store, Depends(provider.get)]

    def scope(
        store: Store, window: TimeRangeParam, filters: ProcessFiltersParam
    ) -> views.OcpmScope:
        return views.OcpmScope(QueryRunner(store), window, filters)

    @router.get(
        "/categories",
        summary="The eight object categories",
        description="Domain events by the eight object categories (SpanName prefix: email. "
        "Communication, page. Portal, action. System Action, order. Order Lifecycle, "
        "review. Quality Control, report. Document, inspection. Field Work, appraisal. "
        "Valuation): events, orders, operators, sessions, activities; and what fits none.",
    )
    def categories(
        store: StoreDep, window: TimeRangeParam, filters: ProcessFiltersParam
    ) -> CategoriesResponse:
        s = scope(store, window, filters)
        return traced(views.categories(s), s.runner)

    @router.get(
        "/interactions",
        summary="Object interaction graph",
        description="Categories as nodes; an edge for each pair of categories that occur "
        "in the same order, weighted by the number of such orders (an arrayJoin "
        "co-occurrence query, with the pairs built explicitly).",
    )
    def interactions(
        store: StoreDep, window: TimeRangeParam, filters: ProcessFiltersParam
    ) -> InteractionsResponse:
        s = scope(store, window, filters)
        return traced(views.interactions(s), s.runner)

    @router.get(
        "/handoffs",
        summary="Cross-category handoff timing",
        description="Time lost when an order's work moves from one category to another "
        "(consecutive categorised events, lagInFrame): count, avg/p50/p95, slowest "
        "handoffs with the sessions on both sides.",
    )
    def handoffs(
        store: StoreDep,
        window: TimeRangeParam,
        filters: ProcessFiltersParam,
        limit: Limit = 20,
        samples: Samples = 3,
    ) -> HandoffsResponse:
        s = scope(store, window, filters)
        return traced(views.handoffs(s, limit, samples), s.runner)

    @router.get(
        "/lifecycle",
        summary="Lifecycle P50/P95 per category",
        description="Per order, the time from its first to its last event of each category "
        "(and of the whole order): objects, avg, P50, P95, max seconds.",
    )
    def lifecycle(
        store: StoreDep, window: TimeRangeParam, filters: ProcessFiltersParam
    ) -> LifecycleResponse:
        s = scope(store, window, filters)
        return traced(views.lifecycles(s), s.runner)

    @router.get(
        "/vendors",
        summary="Vendor contention",
        description="Orders competing for the same vendor: each order waits on its vendor "
        "from `wait_from` to the first `wait_to` after it (default inspection.scheduled "
        "-> inspection.completed; still open: until the end of the range). Per vendor: "
        "orders, rework rate, waits, P50/P95 wait, the most orders waiting at once and "
        "when, and the longest waits (session at the wait's start).",
    )
    def vendors(
        store: StoreDep,
        window: TimeRangeParam,
        filters: ProcessFiltersParam,
        wait_from: Annotated[
            str | None, Query(max_length=200, description="Default inspection.scheduled.")
        ] = None,
        wait_to: Annotated[
            str | None, Query(max_length=200, description="Default inspection.completed.")
        ] = None,
        limit: Limit = 20,
        samples: Samples = 3,
    ) -> VendorsResponse:
        s = scope(store, window, filters)
        given = [step for step in (wait_from, wait_to) if step is not None]
        if given:
            Scope(s.runner, window, "orders", filters).check(given, "wait_from/wait_to")
        wait_from = wait_from or "inspection.scheduled"
        wait_to = wait_to or "inspection.completed"
        return traced(views.vendors(s, wait_from, wait_to, limit, samples), s.runner)

    def download(
        chunks: Generator[bytes, None, None],
        runner: QueryRunner,
        explain: bool,
        media: str,
        name: str,
    ) -> StreamingResponse | Traced:
        if explain:
            with closing(chunks):
                for _ in chunks:
                    pass
            return Traced(queries=runner.ran)
        return ClosingStreamingResponse(
            export.buffered(chunks),
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @router.get(
        "/export/ocel",
        summary="Event log as OCEL 2.0 JSON",
        description="Streamed OCEL 2.0 JSON: object types order (lob, client), vendor "
        "(name), operator (name, role, team); every domain event in the range with its "
        "category, session and own attributes, related to its order, vendor and "
        "operator. Reads in PM4Py (`pm4py.read_ocel2_json`). `explain=1`: the SQL only.",
        response_model=None,
        responses={200: {"content": {"application/json": {}}}},
    )
    def export_ocel(
        store: StoreDep,
        window: TimeRangeParam,
        filters: ProcessFiltersParam,
        explain: Explain = False,
    ) -> StreamingResponse | Traced:
        runner = QueryRunner(store)
        chunks = export.ocel_json(export.EventLogExport(runner, window, filters))
        return download(chunks, runner, explain, "application/json", "exos-orders.jsonocel")

    @router.get(
        "/export/xes",
        summary="Event log as XES",
        description="Streamed XES (IEEE 1849) for case-centric tools: one trace per order "
        "(lob, client), one event per domain event (concept:name, time:timestamp, "
        "org:resource = operator, session_id, category). `explain=1`: the SQL only.",
        response_model=None,
        responses={200: {"content": {"application/xml": {}}}},
    )
    def export_xes(
        store: StoreDep,
        window: TimeRangeParam,
        filters: ProcessFiltersParam,
        explain: Explain = False,
    ) -> StreamingResponse | Traced:
        runner = QueryRunner(store)
        chunks = export.xes(export.EventLogExport(runner, window, filters))
        return download(chunks, runner, explain, "application/xml", "exos-orders.xes")

    return router
