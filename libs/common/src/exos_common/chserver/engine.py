"""The chDB engine behind the server: one engine per process and data folder, one
connection per request.

Why a connection per request: chdb runs queries on *different* connections in parallel
(measured: 4 threads x 0.5 s query = 0.58 s wall) but serialises calls on one connection,
and `SET`/`USE` state is per connection. Once the engine is up, `chdb.connect(path)` costs
~0.2 ms, so a fresh connection gives every request its own settings and database without
any set-and-restore dance, and concurrent clients do not queue behind each other. The root
connection opened at start keeps the engine alive between requests (the first connect
boots the engine, ~0.5 s) and is closed last, after in-flight work drained.

Every statement passes `statement_policy` on its own connection before it runs, and a
read-only request (HTTP GET) runs with `readonly=1`, as ClickHouse does.

All methods block: the ASGI layer calls them from worker threads.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chdb

from exos_common.chserver import statement_policy as policy
from exos_common.chserver.protocol import (
    MAX_INSERT_HEAD,
    clean_error,
    clickhouse_error_text,
    error_code,
    quote_identifier,
    set_statement,
    split_inline_insert,
)

SHUTTING_DOWN = 1000  # no ClickHouse code fits "server stopping"; clients see the text


class EngineError(Exception):
    """An engine failure carrying ClickHouse's own code and message text."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @classmethod
    def wrap(cls, ex: Exception) -> EngineError:
        text = str(ex)
        return cls(error_code(text), clean_error(text))

    @classmethod
    def refused(cls, ex: policy.StatementRefused) -> EngineError:
        return cls(ex.code, clickhouse_error_text(ex.code, str(ex)))


@dataclass(frozen=True)
class Outcome:
    body: bytes = b""
    read_rows: int = 0
    read_bytes: int = 0
    written_rows: int = 0
    written_bytes: int = 0
    elapsed_s: float = 0.0


class InsertStream:
    """One streaming INSERT: data chunks pushed as they arrive, committed by finish().
    Nothing is written unless finish() succeeds; cancel() aborts."""

    def __init__(self, engine: Engine, conn: Any, inserter: Any) -> None:
        self._engine = engine
        self._conn = conn
        self._inserter = inserter
        self._done = False

    def append(self, data: bytes) -> None:
        try:
            self._inserter.append(data)
        except Exception as ex:
            self.cancel()
            raise EngineError.wrap(ex) from ex

    def finish(self) -> Outcome:
        try:
            result = self._inserter.finish()
        except Exception as ex:
            raise EngineError.wrap(ex) from ex
        finally:
            self._release()
        return Outcome(
            written_rows=result.rows_written,
            written_bytes=result.bytes_written,
            elapsed_s=result.elapsed,
        )

    def cancel(self) -> None:
        try:
            self._inserter.cancel()
        except Exception:  # already failed or finished: nothing left to abort
            pass
        finally:
            self._release()

    def _release(self) -> None:
        if not self._done:
            self._done = True
            self._conn.close()
            self._engine._leave()


class ResultStream:
    """One query's answer read block by block (chDB's streaming query), so memory does not
    grow with the result and close() stops the query when the client leaves. Holds its
    connection, and counts as in-flight work, until close()."""

    def __init__(self, engine: Engine, conn: Any, result: Any) -> None:
        self._engine = engine
        self._conn = conn
        self._result = result
        self._closed = False
        self._lock = threading.Lock()

    def next_chunk(self) -> bytes | None:
        """The next block's bytes; None at the end (the stream is then closed)."""
        try:
            chunk = self._result.fetch()
        except Exception as ex:
            self.close()
            raise EngineError.wrap(ex) from ex
        if chunk is None:
            self.close()
            return None
        return chunk.bytes() or b""

    def close(self) -> None:
        """Stop the query if it still runs and release the connection; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._result.cancel()
        except Exception:  # already finished or failed: nothing left to stop
            pass
        finally:
            self._conn.close()
            self._engine._leave()


class Engine:
    """Owns the chDB engine for `data_dir` inside this process."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.version = ""
        self.timezone = "UTC"
        self.http_compression = False  # the engine's enable_http_compression default
        self._root: Any = None
        self._denied: frozenset[str] = frozenset()
        self._in_flight = 0
        self._closing = False
        self._cond = threading.Condition()

    @property
    def path(self) -> str:
        return str(self.data_dir)

    def open(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._root = chdb.connect(self.path)  # type: ignore[no-untyped-call,unused-ignore]
        sql = "SELECT version(), timezone(), getSetting('enable_http_compression')"
        row = self._root.query(sql, "TabSeparated").bytes().decode().strip().split("\t")
        self.version, self.timezone = row[0], row[1]
        self.http_compression = row[2] in ("1", "true")
        self._denied = policy.denied_names(
            self._names("SELECT name FROM system.table_functions"),
            self._names("SELECT name FROM system.table_engines"),
        )

    def _names(self, sql: str) -> list[str]:
        return list(self._root.query(sql, "TabSeparatedRaw").bytes().decode().split())

    def query(
        self,
        sql: str | bytes,
        fmt: str,
        *,
        params: Mapping[str, str] | None = None,
        settings: Mapping[str, str] | None = None,
        database: str | None = None,
        readonly: bool = False,
    ) -> Outcome:
        """Run one statement (inline insert data included) and return its whole output."""
        raw = sql.encode("utf-8") if isinstance(sql, str) else sql
        literal_insert = policy.literal_values_insert(raw)
        self._enter()
        try:
            conn = self._connect(settings, database, readonly, pin=not literal_insert)
            try:
                self._check(conn, statement_text(raw), params)
                started = time.perf_counter()
                result = conn.query(sql, fmt, params=dict(params or {}))
            except EngineError:
                raise
            except Exception as ex:
                raise EngineError.wrap(ex) from ex
            finally:
                conn.close()
            return Outcome(
                body=result.bytes() or b"",
                read_rows=result.rows_read(),
                read_bytes=result.bytes_read(),
                written_rows=result.rows_written(),
                written_bytes=result.bytes_written(),
                elapsed_s=time.perf_counter() - started,
            )
        finally:
            self._leave()

    def stream_query(
        self,
        sql: str | bytes,
        fmt: str,
        *,
        params: Mapping[str, str] | None = None,
        settings: Mapping[str, str] | None = None,
        database: str | None = None,
        readonly: bool = False,
    ) -> ResultStream:
        """Start one statement whose answer is read with ResultStream.next_chunk()."""
        self._enter()
        try:
            conn = self._connect(settings, database, readonly)
        except BaseException:
            self._leave()
            raise
        try:
            self._check(conn, statement_text(sql), params)
            result = conn.send_query(sql, fmt, params=dict(params or {}))
        except BaseException as ex:
            conn.close()
            self._leave()
            if isinstance(ex, EngineError) or not isinstance(ex, Exception):
                raise
            raise EngineError.wrap(ex) from ex
        return ResultStream(self, conn, result)

    def begin_insert(
        self,
        statement: str,
        fmt: str,
        *,
        settings: Mapping[str, str] | None = None,
        database: str | None = None,
        readonly: bool = False,
    ) -> InsertStream:
        """Start `statement` (an INSERT without FORMAT) reading `fmt` data from appends."""
        self._enter()
        try:
            conn = self._connect(settings, database, readonly)
        except BaseException:
            self._leave()
            raise
        try:
            self._check(conn, f"{statement} FORMAT {fmt}", None)
        except BaseException:
            conn.close()
            self._leave()
            raise
        try:
            inserter = conn.send_insert(statement, fmt)
        except Exception as ex:
            conn.close()
            self._leave()
            raise EngineError.wrap(ex) from ex
        return InsertStream(self, conn, inserter)

    def close(self, timeout: float = 30.0) -> bool:
        """Refuse new work, wait for in-flight work, then stop the engine so it flushes.
        Returns False when work was still running at the deadline."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closing = True
            while self._in_flight and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            drained = self._in_flight == 0
        if self._root is not None:
            self._root.close()
            self._root = None
        return drained

    def _connect(
        self,
        settings: Mapping[str, str] | None,
        database: str | None,
        readonly: bool,
        pin: bool = True,
    ) -> Any:
        forbidden = policy.forbidden_setting(settings or {})
        if forbidden is not None:
            refusal = policy.StatementRefused(f"Setting {forbidden} cannot be changed over HTTP")
            raise EngineError.refused(refusal)
        conn = chdb.connect(self.path)  # type: ignore[no-untyped-call,unused-ignore]
        try:
            if database:
                conn.query(f"USE {quote_identifier(database)}", "TabSeparated")
            statement = set_statement(policy.pinned_settings(settings or {}, pin))
            if statement:
                conn.query(statement, "TabSeparated")
            if readonly:  # last: nothing the request sends can lift it
                conn.query("SET readonly = 1", "TabSeparated")
        except Exception as ex:
            conn.close()
            raise EngineError.wrap(ex) from ex
        return conn

    def _check(self, conn: Any, statement: str, params: Mapping[str, str] | None) -> None:
        """The statement policy, with the engine's own parser (see statement_policy)."""
        try:
            normalized = conn.query(
                "SELECT formatQuerySingleLine({statement:String})",
                "TabSeparatedRaw",
                params={"statement": _escaped(statement)},
            )
            text = normalized.bytes().decode("utf-8", "replace")
            policy.check_normalized(text)
            if policy.parse_only(text):
                return
            explain = "EXPLAIN AST " + statement
            ast = conn.query(explain, "TabSeparatedRaw", params=dict(params or {}))
            policy.check_ast(ast.bytes().decode("utf-8", "replace"), self._denied)
        except policy.StatementRefused as ex:
            raise EngineError.refused(ex) from ex
        except Exception as ex:
            raise EngineError.wrap(ex) from ex

    def _enter(self) -> None:
        with self._cond:
            if self._closing or self._root is None:
                raise EngineError(SHUTTING_DOWN, "The embedded ClickHouse server is shutting down")
            self._in_flight += 1

    def _leave(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()


CHECK_WHOLE_BYTES = 256 << 10  # ClickHouse's max_query_size: longer texts are insert data


def statement_text(sql: str | bytes) -> str:
    """The statement part of a request's text: an insert's inline data is cut off (it is
    data, parsed by its format, and may be any size or binary)."""
    raw = sql.encode("utf-8") if isinstance(sql, str) else sql
    found = split_inline_insert(raw[:MAX_INSERT_HEAD], at_end=True)
    if isinstance(found, tuple):
        return f"{found[0]} FORMAT {found[1]}"
    if len(raw) > CHECK_WHOLE_BYTES:
        values = _VALUES.search(raw, 0, MAX_INSERT_HEAD)
        if values is not None:
            raw = raw[: values.end()]
    return raw.decode("utf-8", "replace")


_VALUES = re.compile(rb"\bVALUES\b", re.IGNORECASE)


def _escaped(text: str) -> str:
    """A query parameter value: chdb reads it in TabSeparated escaping."""
    return (
        text.replace("\\", "\\\\")
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
        .replace("\0", "\\0")
    )
