"""Embedded ClickHouse server: the ClickHouse HTTP interface over an in-process chDB engine,
so several processes share one embedded database through clickhouse-connect.

Run it with `exos clickhouse serve` or `python -m exos_common.chserver --data DIR --port N`.
"""

from __future__ import annotations

from exos_common.chserver.app import create_app
from exos_common.chserver.engine import Engine, EngineError
from exos_common.chserver.server import serve

__all__ = ["Engine", "EngineError", "create_app", "serve"]
