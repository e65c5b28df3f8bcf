"""`exos up --demo` as a user runs it: interrupted with Ctrl-C in the middle of the demo
load, started again; afterwards the three tables hold exactly the demo (no duplicate, no
gap) and the reference example SQL returns rows."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx

from exos.demo.loader import load_demo
from exos.demo.seed_queries import SEED_QUERIES

from .test_up import Up

SCALE = "0.15"
# Verbatim reference SQL that cannot return rows on SDK-shaped data (see seed_queries.py) or
# needs a City database: their fixed versions run instead.
NOT_ON_DEMO = {"WEB_VITALS_BY_PAGE", "OBJECT_INTERACTION", "RETURNING_CHICAGO_SESSIONS"}


def expected_summary(anchor: object) -> object:
    """What the loader sends for this seed/scale/anchor, counted without a server."""
    silent = httpx.MockTransport(
        lambda request: httpx.Response(
            200, content=b"", headers={"content-type": "application/x-protobuf"}
        )
    )
    return asyncio.run(
        load_demo(
            "http://demo",
            scale=float(SCALE),
            seed=7,
            anchor=anchor,  # type: ignore[arg-type]
            transport=silent,
            progress=False,
            traces_encoding="protobuf",
        )
    )


def test_demo_load_interrupted_and_resumed_holds_exactly_the_demo(tmp_path: Path) -> None:
    os.environ["EXOS_DEMO_SCALE"] = SCALE
    try:
        up = Up(tmp_path / "data", demo=True)
        up.start()
        client = up.clickhouse_client()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            loaded = (
                client.query(
                    "SELECT count() FROM system.tables WHERE name = 'exos_demo_sessions'"
                ).result_rows[0][0]
                and client.query("SELECT count() FROM exos_demo_sessions").result_rows[0][0]
            )
            if loaded and loaded >= 5:
                break
            time.sleep(0.2)
        assert up.interrupt() == 0  # Ctrl-C in the middle of the load
        assert "demo loaded" not in up.log.read_text()

        up.start()
        client = up.clickhouse_client()
        deadline = time.monotonic() + 180
        while "demo loaded" not in up.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "resuming the demo load" in up.log.read_text()
        anchor = client.query("SELECT any(anchor) FROM exos_demo_sessions").result_rows[0][0]
        summary = expected_summary(anchor)

        def stored() -> tuple[int, int, int]:
            row = client.query(
                "SELECT (SELECT count() FROM otel_traces WHERE ScopeName != 'exos-enrich'),"
                " (SELECT count() FROM otel_logs), (SELECT count() FROM hyperdx_sessions)"
            ).result_rows[0]
            return int(row[0]), int(row[1]), int(row[2])

        want = (summary.spans, summary.log_records, summary.replay_chunks)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 60
        while stored() != want and time.monotonic() < deadline:
            time.sleep(0.5)
        assert stored() == want
        duplicates = client.query(
            "SELECT count() - uniqExact(SpanId) FROM otel_traces WHERE ScopeName != 'exos-enrich'"
        ).result_rows[0][0]
        assert duplicates == 0
        for name, (_, _, sql) in SEED_QUERIES.items():
            if name not in NOT_ON_DEMO:
                assert client.query(sql).result_rows, f"reference query {name} returned nothing"
    finally:
        os.environ.pop("EXOS_DEMO_SCALE", None)
        up.interrupt()
