"""Embedded ClickHouse server: the ClickHouse HTTP interface over an in-process chDB engine,
so several processes share one embedded database through clickhouse-connect.

Run it with `exos clickhouse serve` or `python -m exos_common.chserver --data DIR --port N`.
The engine (chDB) loads on first use of these names, so importing a light module of this
package (e.g. `credentials` from the test plugin) does not load it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Engine": "exos_common.chserver.engine",
    "EngineError": "exos_common.chserver.engine",
    "create_app": "exos_common.chserver.app",
    "serve": "exos_common.chserver.server",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(name)
    return getattr(import_module(_EXPORTS[name]), name)
