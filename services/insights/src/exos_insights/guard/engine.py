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
5. The statement runs with readonly = 1 and the time, memory, row and byte limits,
   and its result is read as a stream and cut at the row and byte limits
   (`exos_insights.guard.stream`): the server's own result limits cut at block
   boundaries only, and one block can be far bigger than the whole budget.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.exceptions import StreamFailureError

from exos_common.store import Store, StoreError, parse_error
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
from exos_insights.guard.stream import read_rows
from exos_insights.guard.tree import Node, parse_indented

# The format the guard's EXPLAINs are read in; a user FORMAT clause shows up next to it.
OUR_FORMAT = "TabSeparatedRaw"
# The format results stream in: one object per row, which chDB streams block by block
# too (formats with a header are read whole there).
RESULT_FORMAT = "JSONEachRow"
SYNTAX_ERROR = 62


class InvalidSql(ValueError):
    """ClickHouse could not parse or resolve the statement: a mistake, not a refusal."""

    def __init__(self, message: str, stage: str) -> None:
        super().__init__(message)
        self.message = message
        self.stage = stage


# The server may stop a result at a block boundary once past its own limits; it stops
# well past ours, so a cut we make is still seen as one (our bytes are the rows' JSON
# text, the server's the columns' in-memory size).
SERVER_BYTES_FACTOR = 4
# How results are read: one JSON object per row, 64-bit integers as numbers, time in
# ISO 8601 (UTC), the same on a ClickHouse server and on chDB.
OUTPUT_SETTINGS: dict[str, Any] = {
    "output_format_json_quote_64bit_integers": 0,
    "output_format_json_quote_decimals": 0,
    "date_time_output_format": "iso",
}


@dataclass(frozen=True, slots=True)
class Limits:
    max_execution_time_s: int
    max_result_rows: int
    max_result_bytes: int
    max_memory_usage: int
    max_rows_to_read: int = 0  # 0: no limit

    def settings(self) -> dict[str, Any]:
        """The settings every user or model statement runs with. `readonly = 1`: nothing
        is written, created or dropped, no table function reaches a file or a URL, and
        no setting can be changed afterwards; these are given in the same request, and
        the guard refuses any SETTINGS clause of the statement itself."""
        return {
            "readonly": 1,
            "max_execution_time": self.max_execution_time_s,
            "timeout_overflow_mode": "throw",
            "max_memory_usage": self.max_memory_usage,
            "max_rows_to_read": self.max_rows_to_read,
            "read_overflow_mode": "throw",
            # One row past the limit, so a result that has more is seen to have more.
            "max_result_rows": self.max_result_rows + 1,
            "max_result_bytes": self.max_result_bytes * SERVER_BYTES_FACTOR,
            "result_overflow_mode": "break",
        }

    def settings_clause(self) -> str:
        """The settings as the statement's own SETTINGS clause: on chDB, settings given
        beside a streamed statement are applied to the shared session with SET, and
        `readonly = 1` cannot be taken back there."""
        values = {**self.settings(), **OUTPUT_SETTINGS}
        return "SETTINGS " + ", ".join(f"{k} = {_literal(v)}" for k, v in values.items())


def _literal(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


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
        """Run the statement and read its rows while they stream, up to the row and byte
        limits; closing the stream early cancels the rest on the server."""
        began = time.perf_counter()
        columns = self.store.query(f"DESCRIBE ({checked.sql})", settings=self.limits.settings())
        sql = f"{checked.sql}\n{self.limits.settings_clause()}"
        with clickhouse_errors():
            stream = self.store.client.raw_stream(sql, fmt=RESULT_FORMAT)
            if not isinstance(stream, io.IOBase):  # the async client's kind; ours is sync
                raise TypeError(f"expected a byte stream, got {type(stream).__name__}")
            try:
                cut = read_rows(stream, self.limits.max_result_rows, self.limits.max_result_bytes)
            except StreamFailureError as exc:
                # The statement failed after its rows had started (a limit, a bad
                # value): the statement's error, not an unreachable server.
                raise parse_error(str(exc)) from exc
            finally:
                stream.close()
        return Result(
            sql=checked.sql,
            columns=[str(c["name"]) for c in columns],
            types=[str(c["type"]) for c in columns],
            rows=cut.rows,
            truncated=cut.truncated,
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
