"""Runs an endpoint's SQL and keeps what it ran, so every response can show the portal
the exact statements and bound parameters (a user can see and re-run every number)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from exos_common.store import Store


class RanQuery(BaseModel):
    sql: str = Field(description="The statement as sent, with `{name:Type}` placeholders.")
    parameters: dict[str, Any] = Field(description="The bound values of the placeholders.")
    elapsed_ms: float
    rows: int


class Traced(BaseModel):
    """Base of every query-api response: the SQL that produced it."""

    queries: list[RanQuery] = Field(default_factory=list)


class SessionMoment(BaseModel):
    """A session behind a number, and the moment in it that matters (opens the replay
    there: the replay service turns `at` into the player's offset)."""

    session_id: str
    at: datetime


TracedT = TypeVar("TracedT", bound=Traced)


def traced(result: TracedT, runner: QueryRunner) -> TracedT:
    """`result` with the statements `runner` ran attached."""
    result.queries = runner.ran
    return result


class QueryRunner:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.ran: list[RanQuery] = []

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        began = time.perf_counter()
        result = self.store.query(sql, parameters)
        self.ran.append(
            RanQuery(
                sql=sql.strip(),
                parameters=dict(parameters or {}),
                elapsed_ms=round((time.perf_counter() - began) * 1000, 3),
                rows=len(result),
            )
        )
        return result
