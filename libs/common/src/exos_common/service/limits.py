"""Per-query limits of the read services (query-api, replay): time, memory and rows read.

Every statement a read service runs carries `max_execution_time`, `max_memory_usage`
and `max_rows_to_read` (EXOS_QUERY_* settings), so one heavy request (a wide window, a
huge session) fails on its own instead of holding ClickHouse or the all-in-one process.
A statement stopped by a limit answers with its reason: 503 for time and memory (the
server may have more to give later), 422 for rows read (the request asks for too much:
narrow it). The answer is made in the store dependency, around the route, because the
all-in-one process mounts the services' routes on the gateway's app, where a service
app's exception handlers do not run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from clickhouse_connect.driver.client import Client
from fastapi import HTTPException
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from exos_common.service.readstore import StoreProvider
from exos_common.store import Store, StoreError
from exos_common.store.client import clickhouse_errors


class QueryLimitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXOS_", extra="ignore", env_ignore_empty=True)

    query_max_execution_time_s: float = Field(
        60.0,
        gt=0,
        description="`max_execution_time` of every query-api and replay statement; over "
        "it the request answers 503.",
    )
    query_max_memory_usage: int = Field(
        4 * 1024**3,
        ge=1024**2,
        description="`max_memory_usage` in bytes of every query-api and replay statement; "
        "over it the request answers 503.",
    )
    query_max_rows_to_read: int = Field(
        1_000_000_000,
        ge=0,
        description="`max_rows_to_read` of every query-api and replay statement (0: no "
        "limit); over it the request answers 422 (narrow the window or the filters).",
    )

    def query_settings(self) -> dict[str, Any]:
        return {
            "max_execution_time": self.query_max_execution_time_s,
            "timeout_overflow_mode": "throw",
            "max_memory_usage": self.query_max_memory_usage,
            "max_rows_to_read": self.query_max_rows_to_read,
            "read_overflow_mode": "throw",
        }


# ClickHouse error code -> (status, which limit).
LIMIT_ERRORS = {
    159: (503, "time (EXOS_QUERY_MAX_EXECUTION_TIME_S)"),  # TIMEOUT_EXCEEDED
    241: (503, "memory (EXOS_QUERY_MAX_MEMORY_USAGE)"),  # MEMORY_LIMIT_EXCEEDED
    158: (422, "rows read (EXOS_QUERY_MAX_ROWS_TO_READ)"),  # TOO_MANY_ROWS
}


class LimitedStore(Store):
    """A store's clients with the limits on every read. It borrows the store's handles
    and owns nothing: closing it closes nothing."""

    def __init__(self, store: Store, settings: Mapping[str, Any]) -> None:
        # Not Store.__init__: no client of its own.
        self.client = store.client
        self._store = store
        self._limits = dict(settings)

    @contextmanager
    def _borrowed(self) -> Iterator[Client]:
        with self._store._borrowed() as client:
            yield client

    def query(
        self,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        return super().query(sql, parameters, {**self._limits, **(settings or {})})

    def query_rows(
        self, sql: str, parameters: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        with self._borrowed() as client, clickhouse_errors():
            result = client.query(sql, parameters=dict(parameters or {}), settings=self._limits)
        return [tuple(row) for row in result.result_rows]

    @contextmanager
    def row_blocks(
        self, sql: str, parameters: Mapping[str, Any] | None = None
    ) -> Iterator[Iterator[Sequence[Sequence[Any]]]]:
        with (
            self._borrowed() as client,
            clickhouse_errors(),
            client.query_row_block_stream(
                sql, parameters=dict(parameters or {}), settings=self._limits
            ) as blocks,
        ):
            yield blocks

    def close(self) -> None:
        """The store it borrows from is closed by its owner."""


class LimitedStoreProvider(StoreProvider):
    """`get` hands out the store with the limits on, and turns a statement a limit
    stopped into its answer."""

    def __init__(self, settings: Any, store: Store | None, limits: QueryLimitSettings) -> None:
        super().__init__(settings, store)
        self._limit_settings = limits.query_settings()

    def get(self) -> Iterator[Store]:  # type: ignore[override]
        store = LimitedStore(super().get(), self._limit_settings)
        try:
            yield store
        except StoreError as exc:
            limited = limit_exceeded(exc)
            if limited is None:
                raise
            raise limited from exc


def limit_exceeded(exc: StoreError) -> HTTPException | None:
    """The answer to a statement a limit stopped, or None for any other error."""
    if exc.code not in LIMIT_ERRORS:
        return None
    status, which = LIMIT_ERRORS[exc.code]
    headers = {"Retry-After": "30"} if status == 503 else None
    return HTTPException(status, f"query limit exceeded: {which}: {exc.message}", headers)
