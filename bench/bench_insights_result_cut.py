"""Memory of reading a ~400 MB console result: the process's peak resident growth.

Run: `uv run python bench/bench_insights_result_cut.py [--rows 400] [--row-bytes 1000000]`

An embedded ClickHouse server runs in its own process (as ClickHouse does for a
distributed insights pod); this process asks it for `--rows` rows of `--row-bytes`
bytes each, three ways, and reports the peak growth of its resident memory (the
kernel's high-water mark, reset before each run) and what came back:

- baseline: the statement read whole through clickhouse-connect (what the console did);
- guard: `SqlGuard.run`, the stream cut at EXOS_INSIGHTS_MAX_RESULT_BYTES;
- console: the whole `POST /api/insights/sql` (rows, the JSON answer, the test client).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from exos_common.schema import migrate
from exos_common.settings import StoreSettings
from exos_common.store import open_store
from exos_common.testing.clickhouse import EmbeddedClickHouseServer
from exos_insights.app import create_app
from exos_insights.guard import SqlGuard
from exos_insights.settings import InsightsSettings


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def peak_growth_mib(run: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    before = rss_kib("VmRSS")
    out = run()
    return (rss_kib("VmHWM") - before) / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--row-bytes", type=int, default=1_000_000)
    args = parser.parse_args()
    sql = f"SELECT repeat('x', {int(args.row_bytes)}) AS s FROM numbers({int(args.rows)})"
    settings = InsightsSettings()
    limit_mib = settings.insights_max_result_bytes / 1024**2
    print(f"result: {args.rows * args.row_bytes / 1e6:.0f} MB; limit {limit_mib:.0f} MiB")
    with (
        tempfile.TemporaryDirectory() as folder,
        EmbeddedClickHouseServer(Path(folder) / "ch") as server,
    ):
        store_settings = StoreSettings(clickhouse_url=server.url)
        store = open_store(store_settings)
        migrate(store, store_settings, dedup_window=100)
        guard = SqlGuard(store, settings.guard_policy(store.database), settings.guard_limits())
        checked = guard.check(sql)

        def whole() -> int:
            return len(store.client.query(checked.sql).result_rows)

        def cut() -> str:
            result = guard.run(checked)
            return f"{len(result.rows)} rows, truncated={result.truncated}"

        def console() -> str:
            with TestClient(create_app(settings, store=store)) as client:
                body = client.post("/api/insights/sql", json={"sql": sql}).json()
            return f"{len(body['rows'])} rows, truncated={body['truncated']}"

        for name, run in (("baseline", whole), ("guard", cut), ("console", console)):
            growth, out = peak_growth_mib(run)
            print(f"{name:9s} peak RSS growth {growth:7.1f} MiB  ({out})")
        store.close()


if __name__ == "__main__":
    main()
