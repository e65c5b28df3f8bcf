"""`POST /api/insights/sql`: the SQL console. The same guard as Ask AI: one read-only
SELECT on allow-listed tables, run read-only within the server's limits, as the
console's own read-only user where there is one."""

# No `from __future__ import annotations`: the routes' Depends(provider.get) is local
# to the router factory, and FastAPI must evaluate it.

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from exos_common.store import Store, StoreError
from exos_insights.api import errors
from exos_insights.chart import choose_chart
from exos_insights.guard import InvalidSql, Refused, SqlGuard
from exos_insights.llm import ChartSuggestion
from exos_insights.metrics import InsightsMetrics
from exos_insights.reader import ReaderProvider
from exos_insights.settings import InsightsSettings


class SqlRequest(BaseModel):
    sql: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="One SELECT (or WITH ... SELECT)."
    )


class SqlResult(BaseModel):
    sql: str = Field(description="The statement as it ran: ClickHouse's canonical text.")
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated: bool = Field(
        description="The result was cut: more rows than EXOS_INSIGHTS_MAX_RESULT_ROWS, or "
        "more bytes (of the rows' JSON) than EXOS_INSIGHTS_MAX_RESULT_BYTES."
    )
    tables: list[str] = Field(description="Tables the statement reads.")
    chart: ChartSuggestion
    elapsed_ms: float


def run_console(store: Store, settings: InsightsSettings, sql: str) -> SqlResult:
    guard = SqlGuard(store, settings.guard_policy(store.database), settings.guard_limits())
    checked = guard.check(sql)
    guard.resolve(checked)
    result = guard.run(checked)
    return SqlResult(
        sql=result.sql,
        columns=result.columns,
        types=result.types,
        rows=result.rows,
        truncated=result.truncated,
        tables=checked.tables,
        chart=choose_chart(None, result.columns, result.types, result.rows),
        elapsed_ms=result.elapsed_ms,
    )


def build_router(
    reader: ReaderProvider, settings: InsightsSettings, metrics: InsightsMetrics
) -> APIRouter:
    router = APIRouter(prefix="/api/insights", tags=["insights"])

    @router.post(
        "/sql",
        response_model=SqlResult,
        responses={400: {}, 403: {}, 422: {}, 503: {}},
        summary="Run one read-only SELECT (the SQL console)",
    )
    async def sql_console(
        body: SqlRequest, store: Annotated[Store, Depends(reader.get)]
    ) -> SqlResult | JSONResponse:
        try:
            result = await asyncio.to_thread(run_console, store, settings, body.sql)
        except Refused as exc:
            metrics.statement("console", "refused", exc.rule)
            return errors.refused(exc)
        except InvalidSql as exc:
            metrics.statement("console", "invalid")
            return errors.invalid(exc)
        except StoreError as exc:
            metrics.statement("console", "failed")
            return errors.failed(exc)
        metrics.statement("console", "ran")
        return result

    return router
