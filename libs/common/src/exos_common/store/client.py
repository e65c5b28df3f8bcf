"""The store port: clickhouse-connect is the one ClickHouse client, over HTTP to a
ClickHouse server or in-process to chDB; the same SQL runs on the same engine either way.

`Store` is deliberately thin: a client from settings, inserts with a deduplication
token, parameterised queries (`{name:Type}` placeholders, never string formatting of
values), and ClickHouse errors surfaced with their code and message.

On chDB every call borrows a connection handle of its own from a pool (see
`handles.py`): clickhouse-connect serialises the calls on one chDB handle, and a result
stream holds its handle until it is closed, so one shared handle would make every insert
wait behind the longest read and any open stream. Over HTTP one client is thread-safe
and already pools its connections.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import (
    ClickHouseError,
    DatabaseError,
    DataError,
    OperationalError,
)

from exos_common.settings import ClickHouseSettings
from exos_common.store.handles import HandlePool, PoolClosed

CHDB_SCHEME = "chdb://"
_ERROR = re.compile(
    r"Code: (?P<code>\d+)\. DB::Exception: (?P<message>.*?)(?: \((?P<name>[A-Z][A-Z0-9_]+)\))?"
    r"(?: \(version [^)]*\))?(?: \(for url [^)]*\))?\s*$",
    re.DOTALL,
)


class StoreError(RuntimeError):
    """An error ClickHouse reported, with its numeric code and name (e.g. 60,
    UNKNOWN_TABLE) and its message."""

    def __init__(self, code: int, message: str, name: str = "") -> None:
        super().__init__(f"ClickHouse error {code} {name}: {message}".replace("  ", " "))
        self.code = code
        self.name = name
        self.message = message


class StoreUnavailable(StoreError):
    """ClickHouse could not be reached: retry later, the data is not the problem."""


class StoreDataError(StoreError):
    """The client could not encode the rows for their columns (a value outside its
    column type, e.g. 300 for a UInt8): nothing was sent, and a retry cannot fix it."""


def parse_error(text: str, fallback_code: int = 0) -> StoreError:
    match = _ERROR.search(text)
    if match is None:
        return StoreError(fallback_code, text.strip())
    return StoreError(int(match["code"]), match["message"].strip(), match["name"] or "")


@contextmanager
def clickhouse_errors() -> Iterator[None]:
    """Turn clickhouse-connect exceptions into StoreError / StoreUnavailable."""
    try:
        yield
    except PoolClosed as exc:
        raise StoreUnavailable(0, str(exc)) from exc
    except OperationalError as exc:
        raise StoreUnavailable(0, str(exc)) from exc
    except DataError as exc:
        # clickhouse-connect raises it while encoding rows, before anything is sent.
        raise StoreDataError(0, str(exc)) from exc
    except DatabaseError as exc:
        raise parse_error(str(exc), getattr(exc, "code", 0) or 0) from exc
    except ClickHouseError as exc:
        raise StoreError(0, str(exc)) from exc


@dataclass(frozen=True, slots=True)
class Target:
    """Where EXOS_CLICKHOUSE_URL points: an embedded chDB folder or a server URL."""

    chdb_path: Path | None = None
    http_url: str | None = None

    @classmethod
    def parse(cls, url: str) -> Target:
        if url.startswith(CHDB_SCHEME):
            # chdb:///abs/path is absolute; chdb://rel/path is relative to the working folder.
            return cls(chdb_path=Path(url[len(CHDB_SCHEME) :]).resolve())
        return cls(http_url=url)


def create_client(settings: ClickHouseSettings, database: str | None = None) -> Client:
    """A clickhouse-connect client for the configured target and database."""
    target = Target.parse(settings.clickhouse_url)
    with clickhouse_errors():
        if target.chdb_path is not None:
            target.chdb_path.mkdir(parents=True, exist_ok=True)
            return clickhouse_connect.get_client(
                interface="chdb", path=str(target.chdb_path), database=database
            )
        return clickhouse_connect.get_client(
            dsn=target.http_url,
            username=settings.clickhouse_user,
            password=(
                settings.clickhouse_password.get_secret_value()
                if settings.clickhouse_password
                else ""
            ),
            database=database,
            connect_timeout=settings.clickhouse_connect_timeout_s,
            send_receive_timeout=settings.clickhouse_query_timeout_s,
            autogenerate_session_id=False,
        )


class Store:
    """`client` is the store's own client, for callers that need clickhouse-connect
    directly; the methods here borrow a handle each when `more_clients` can make them
    (chDB), so they never queue behind a call on `client` or behind each other."""

    def __init__(self, client: Client, more_clients: Callable[[], Client] | None = None) -> None:
        self.client = client
        self._handles = HandlePool(more_clients) if more_clients is not None else None

    @classmethod
    def from_settings(cls, settings: ClickHouseSettings) -> Store:
        database = settings.clickhouse_database
        client = create_client(settings, database)
        if Target.parse(settings.clickhouse_url).chdb_path is None:
            return cls(client)
        return cls(client, lambda: create_client(settings, database))

    @contextmanager
    def _borrowed(self) -> Iterator[Client]:
        if self._handles is None:
            yield self.client
            return
        with clickhouse_errors(), self._handles.borrow() as client:
            yield client

    @property
    def database(self) -> str:
        return str(self.client.database or "default")

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        column_names: Sequence[str],
        *,
        dedup_token: str | None = None,
    ) -> int:
        """Insert rows in one request. With `dedup_token`, ClickHouse drops a retry of the
        same batch (same token) within the table's deduplication window."""
        settings: dict[str, Any] = {}
        if dedup_token is not None:
            settings = {"insert_deduplicate": 1, "insert_deduplication_token": dedup_token}
        with self._borrowed() as client, clickhouse_errors():
            summary = client.insert(table, rows, column_names=list(column_names), settings=settings)
        return int(summary.written_rows)

    def insert_raw(
        self,
        table: str,
        column_names: Sequence[str],
        body: bytes,
        fmt: str,
        *,
        dedup_token: str | None = None,
    ) -> int:
        """Insert rows already in ClickHouse input format `fmt`, as they are: no row is
        touched in Python. With `dedup_token`, as `insert`."""
        settings: dict[str, Any] = {}
        if dedup_token is not None:
            settings = {"insert_deduplicate": 1, "insert_deduplication_token": dedup_token}
        with self._borrowed() as client, clickhouse_errors():
            summary = client.raw_insert(table, list(column_names), body, settings=settings, fmt=fmt)
        return int(summary.written_rows)

    def query(
        self,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name."""
        with self._borrowed() as client, clickhouse_errors():
            result = client.query(
                sql, parameters=dict(parameters or {}), settings=dict(settings or {})
            )
        return list(result.named_results())

    def query_rows(
        self, sql: str, parameters: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        with self._borrowed() as client, clickhouse_errors():
            result = client.query(sql, parameters=dict(parameters or {}))
        return [tuple(row) for row in result.result_rows]

    @contextmanager
    def row_blocks(
        self, sql: str, parameters: Mapping[str, Any] | None = None
    ) -> Iterator[Iterator[Sequence[Sequence[Any]]]]:
        """The result as a stream of row blocks, never whole in memory. The stream (and
        on chDB its own handle) is held until the `with` block exits, however it exits:
        consume it in a `with`, and close a generator that holds one."""
        with (
            self._borrowed() as client,
            clickhouse_errors(),
            client.query_row_block_stream(sql, parameters=dict(parameters or {})) as blocks,
        ):
            yield blocks

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        with self._borrowed() as client, clickhouse_errors():
            client.command(sql, parameters=dict(parameters or {}))

    def ping(self) -> bool:
        try:
            with self._borrowed() as client:
                return bool(client.ping())
        except Exception:  # readiness: any failure means "not ready"
            return False

    def close(self) -> None:
        if self._handles is not None:
            self._handles.close()
        self.client.close()
