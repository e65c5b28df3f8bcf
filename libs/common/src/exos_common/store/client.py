"""The store port: clickhouse-connect is the one ClickHouse client, over HTTP to a
ClickHouse server or in-process to chDB; the same SQL runs on the same engine either way.

`Store` is deliberately thin: a client from settings, inserts with a deduplication
token, parameterised queries (`{name:Type}` placeholders, never string formatting of
values), and ClickHouse errors surfaced with their code and message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
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
    def __init__(self, client: Client) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings: ClickHouseSettings) -> Store:
        return cls(create_client(settings, settings.clickhouse_database))

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
        with clickhouse_errors():
            summary = self.client.insert(
                table, rows, column_names=list(column_names), settings=settings
            )
        return int(summary.written_rows)

    def query(
        self,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name."""
        with clickhouse_errors():
            result = self.client.query(
                sql, parameters=dict(parameters or {}), settings=dict(settings or {})
            )
        return list(result.named_results())

    def query_rows(
        self, sql: str, parameters: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        with clickhouse_errors():
            result = self.client.query(sql, parameters=dict(parameters or {}))
        return [tuple(row) for row in result.result_rows]

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        with clickhouse_errors():
            self.client.command(sql, parameters=dict(parameters or {}))

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:  # readiness: any failure means "not ready"
            return False

    def close(self) -> None:
        self.client.close()
