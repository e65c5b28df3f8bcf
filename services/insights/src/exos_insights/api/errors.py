"""Guard and store failures as the EXOS error envelope. Routes return these themselves
(not through app exception handlers): in the all-in-one process the portal mounts the
routes on its own app, where this service's handlers are not installed."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from exos_common.service.errors import error_response
from exos_common.store import StoreError, StoreUnavailable
from exos_insights.guard import InvalidSql, Refused


def refused(exc: Refused) -> JSONResponse:
    """403: the statement breaks a guard rule (it would run otherwise)."""
    return error_response(403, "sql_refused", f"refused ({exc.rule}): {exc.reason}")


def invalid(exc: InvalidSql) -> JSONResponse:
    return error_response(400, "sql_invalid", f"ClickHouse could not {_stage(exc)}: {exc.message}")


def failed(exc: StoreError) -> JSONResponse:
    if isinstance(exc, StoreUnavailable):
        return error_response(503, "clickhouse_unavailable", exc.message, {"Retry-After": "5"})
    return error_response(422, "sql_failed", f"the statement failed: {exc.message}")


def _stage(exc: InvalidSql) -> str:
    return "parse the statement" if exc.stage == "parse" else "resolve its tables and columns"
