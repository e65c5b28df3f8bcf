"""`GET /api/insights`: the service documents itself: its endpoints, the ClickHouse
primitives behind process mining (a table: function, purpose, Celonis
equivalent, a runnable example), whether a model is configured. `GET /api/insights/cookbook`: the
query cookbook. `GET /api/insights/schema`: what the model is told about the data."""

# No `from __future__ import annotations`: the routes' Depends(provider.get) is local
# to the router factory, and FastAPI must evaluate it.

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from exos_common.service.readstore import StoreProvider
from exos_common.store import Store
from exos_insights.cookbook import COOKBOOK, PRIMITIVES
from exos_insights.grounding import GroundingCache
from exos_insights.settings import InsightsSettings

RUN = {"method": "POST", "path": "/api/insights/sql", "body": {"sql": "<example>"}}


def build_router(
    provider: StoreProvider, settings: InsightsSettings, grounding: GroundingCache
) -> APIRouter:
    router = APIRouter(prefix="/api/insights", tags=["insights"])

    @router.get("", summary="What insights offers: endpoints and ClickHouse primitives")
    async def index() -> dict[str, Any]:
        return {
            "service": "insights",
            "model": {"configured": settings.model_configured, "name": settings.openai_model},
            "endpoints": {
                "POST /api/insights/ask": (
                    "question (+ conversation_id) -> SQL, rows, chart, narrative"
                ),
                "POST /api/insights/sql": "one read-only SELECT -> rows (the SQL console)",
                "GET /api/insights/cookbook": "runnable example queries",
                "GET /api/insights/schema": "tables, SpanName taxonomy, attribute keys",
                "GET /api/insights/conversations/{id}": "the turns of a conversation",
                "GET /ask": "the Ask AI page",
            },
            "run_an_example": RUN,
            "primitives": [p.as_dict() for p in PRIMITIVES],
            "limits": {
                "max_execution_time_s": settings.insights_max_execution_time_s,
                "max_result_rows": settings.insights_max_result_rows,
                "max_result_bytes": settings.insights_max_result_bytes,
                "max_memory_usage": settings.insights_max_memory_usage,
                "tables": sorted(settings.allowed_tables),
                "system_tables": sorted(settings.allowed_system_tables),
                "table_functions": sorted(settings.allowed_table_functions),
            },
        }

    @router.get("/cookbook", summary="The query cookbook: questions and runnable SQL")
    async def cookbook() -> dict[str, Any]:
        return {"run_an_example": RUN, "recipes": [r.as_dict() for r in COOKBOOK]}

    @router.get("/schema", summary="What Ask AI tells the model about the data")
    async def schema(store: Annotated[Store, Depends(provider.get)]) -> dict[str, Any]:
        sampled = await asyncio.to_thread(grounding.get, store)
        return sampled.as_dict()

    return router
