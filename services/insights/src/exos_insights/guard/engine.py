"""The guard against the engine: ClickHouse parses, the rules (pure) judge, and only
then does anything run, read-only and within limits.

1. `formatQuery({sql:String})`: the user's text goes in as a bound parameter, never
   spliced into SQL, and comes back as ClickHouse's canonical text of exactly one
   statement (comments gone; several statements are a syntax error there). Everything
   after works on this canonical text, and it is what finally runs.
2. Its first keyword must be SELECT or WITH; its quoted names carry no escapes.
3. `EXPLAIN AST` and `EXPLAIN QUERY TREE run_passes = 0` (parse only) -> `rules`.
4. `EXPLAIN PLAN` under the limits: the tables and columns resolve (errors here are the
   model's to repair, not refusals).
5. The statement runs with readonly = 2 and the time, row, byte and memory limits.
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exos_common.store import Store, StoreError
from exos_common.store.client import clickhouse_errors
from exos_insights.guard.rules import (
    Policy,
    Refused,
    check_ast,
    check_query_tree,
    check_quoted_names,
    check_statement_kind,
    check_text,
)
from exos_insights.guard.tree import Node, parse_indented

# The format the guard's EXPLAINs are read in; a user FORMAT clause shows up next to it.
OUR_FORMAT = "TabSeparatedRaw"
SYNTAX_ERROR = 62


class InvalidSql(ValueError):
    """ClickHouse could not parse or resolve the statement: a mistake, not a refusal."""

    def __init__(self, message: str, stage: str) -> None:
        super().__init__(message)
        self.message = message
        self.stage = stage


@dataclass(frozen=True, slots=True)
class Limits:
    max_execution_time_s: int
    max_result_rows: int
    max_result_bytes: int
    max_memory_usage: int

    def settings(self) -> dict[str, Any]:
        """The settings every user or model statement runs with. `readonly = 2`: nothing
        is written, created or dropped; settings may be given by the server (these),
        and the guard refuses any SETTINGS clause of the statement itself."""
        return {
            "readonly": 2,
            "max_execution_time": self.max_execution_time_s,
            "timeout_overflow_mode": "throw",
            "max_result_rows": self.max_result_rows,
            "max_result_bytes": self.max_result_bytes,
            "result_overflow_mode": "break",
            "max_memory_usage": self.max_memory_usage,
        }


@dataclass(frozen=True, slots=True)
class Checked:
    sql: str  # the canonical text that passed, and that runs
    tables: list[str]


@dataclass(frozen=True, slots=True)
class Result:
    sql: str
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated: bool
    elapsed_ms: float


class SqlGuard:
    def __init__(self, store: Store, policy: Policy, limits: Limits) -> None:
        self.store = store
        self.policy = policy
        self.limits = limits

    def check(self, sql: str) -> Checked:
        """Refused (rules), InvalidSql (does not parse), or the canonical statement."""
        check_text(sql, self.policy.max_chars)
        canonical = self._canonical(sql)
        check_statement_kind(canonical)
        check_quoted_names(canonical)
        check_ast(self._explain("EXPLAIN AST", canonical), OUR_FORMAT)
        tables = check_query_tree(
            self._explain("EXPLAIN QUERY TREE run_passes = 0", canonical), self.policy
        )
        return Checked(canonical, tables)

    def resolve(self, checked: Checked) -> None:
        """`EXPLAIN PLAN` under the limits: unknown tables, columns or types fail here,
        before anything runs."""
        try:
            # Through `query`, not `raw_query`: with settings, chDB's raw path applies
            # them with SET on the shared session and cannot take readonly back.
            self.store.query(f"EXPLAIN PLAN {checked.sql}", settings=self.limits.settings())
        except StoreError as exc:
            raise InvalidSql(exc.message, "explain") from exc

    def run(self, checked: Checked) -> Result:
        began = time.perf_counter()
        with clickhouse_errors():
            result = self.store.client.query(checked.sql, settings=self.limits.settings())
        rows = [[json_value(v) for v in row] for row in result.result_rows]
        limit = self.limits.max_result_rows
        return Result(
            sql=checked.sql,
            columns=list(result.column_names),
            types=[t.name for t in result.column_types],
            rows=rows[:limit],
            truncated=len(rows) > limit,
            elapsed_ms=round((time.perf_counter() - began) * 1000, 2),
        )

    def _canonical(self, sql: str) -> str:
        try:
            rows = self.store.query_rows("SELECT formatQuery({sql:String})", {"sql": sql})
        except StoreError as exc:
            if "Multi-statements" in exc.message:
                raise Refused(
                    "multiple_statements", "exactly one statement may run, this has several"
                ) from exc
            raise InvalidSql(exc.message, "parse") from exc
        return str(rows[0][0])

    def _explain(self, explain: str, canonical: str) -> Node:
        try:
            with clickhouse_errors():
                raw = self.store.client.raw_query(f"{explain} {canonical}", fmt=OUR_FORMAT)
        except StoreError as exc:
            if exc.code == SYNTAX_ERROR:
                # It parsed alone; with our FORMAT appended it does not: its own FORMAT
                # or INTO OUTFILE clause is in the way.
                raise Refused("format", "FORMAT and INTO OUTFILE clauses are not allowed") from exc
            raise InvalidSql(exc.message, "parse") from exc
        try:
            return parse_indented(raw.decode().split("\n"))
        except ValueError as exc:
            raise Refused(
                "malformed", "the statement's parse tree is not one the guard can read"
            ) from exc


def json_value(value: Any) -> Any:
    """A ClickHouse value as JSON can carry it (the API answers JSON)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID | ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_value(v) for v in value]
    return str(value)
