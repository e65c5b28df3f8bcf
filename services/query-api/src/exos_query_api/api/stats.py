"""`GET /api/stats`: the three tables at a glance."""

# No `from __future__ import annotations`: the routes' `Runner` alias is local to the
# factory, and FastAPI must see it evaluated.
from typing import Annotated

from fastapi import APIRouter, Depends

from exos_common.service.readstore import StoreProvider
from exos_query_api.api.deps import runner_dependency
from exos_query_api.queries import stats as queries
from exos_query_api.runner import QueryRunner
from exos_query_api.timerange import TimeRangeParam


def build_router(provider: StoreProvider) -> APIRouter:
    router = APIRouter(tags=["stats"])
    Runner = Annotated[QueryRunner, Depends(runner_dependency(provider))]

    @router.get(
        "/api/stats",
        response_model=queries.Stats,
        summary="Overview of otel_traces, otel_logs and hyperdx_sessions",
        description=(
            "Per table: rows, first and last timestamp, distinct sessions and errors in the "
            "time range; rows and bytes on disk (compressed and not) over all time. The "
            "query-api rollups (span_facts, session_summary, span_hourly) are listed with "
            "their size. `quarantine` counts the records the writer could not store, by "
            "table and reason."
        ),
    )
    def stats(window: TimeRangeParam, runner: Runner) -> queries.Stats:
        return queries.stats(runner, window)

    return router
